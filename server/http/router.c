/* router — maps a request to its module by prefix, then writes the access line. */
#include "tessera/router.h"

#include <civetweb.h>
#include <string.h>
#include <strings.h>

#include "tessera/api.h"
#include "tessera/clock.h"
#include "tessera/db_pool.h"
#include "tessera/http.h"
#include "tessera/image.h"
#include "tessera/log.h"
#include "tessera/proxy.h"
#include "tessera/server.h"
#include "tessera/session_gc.h"
#include "tessera/static_files.h"

static bool has_prefix_segment(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

enum route router_match(const char *path)
{
    if (has_prefix_segment(path, "/api"))
        return ROUTE_API;
    if (strcmp(path, "/_image") == 0 || strcmp(path, "/_next/image") == 0)
        return ROUTE_IMAGE;
    if (strcmp(path, "/healthz") == 0)
        return ROUTE_HEALTHZ;
    if (strcmp(path, "/readyz") == 0)
        return ROUTE_READYZ;
    if (strcmp(path, "/metrics") == 0)
        return ROUTE_METRICS;
    return ROUTE_STATIC;
}

static int handle_metrics(struct http_exchange *ex)
{
    struct tessera_server *srv = ex->srv;
    struct strbuf out;
    strbuf_init(&out);
    strbuf_printf(&out, "# TYPE tessera_requests_total counter\ntessera_requests_total %llu\n",
                  (unsigned long long)atomic_load(&srv->counters.requests));
    strbuf_puts(&out, "# TYPE tessera_responses_total counter\n");
    for (int c = 1; c <= 5; c++)
        strbuf_printf(&out, "tessera_responses_total{class=\"%dxx\"} %llu\n", c,
                      (unsigned long long)atomic_load(&srv->counters.by_class[c]));
    strbuf_printf(&out, "# TYPE tessera_response_bytes_total counter\ntessera_response_bytes_total %llu\n",
                  (unsigned long long)atomic_load(&srv->counters.bytes_sent));
    if (srv->static_files) static_files_metrics(srv->static_files, &out);
    if (srv->images) image_service_metrics(srv->images, &out);
    if (srv->pool) db_pool_metrics(srv->pool, &out);
    if (srv->api) api_metrics(srv->api, &out);
    if (srv->gc) session_gc_metrics(srv->gc, &out);
    struct http_reply r;
    reply_start(&r, ex, 200);
    reply_header(&r, "Cache-Control", "no-store");
    reply_send_dynamic(ex, &r, "text/plain; version=0.0.4; charset=utf-8", out.data ? out.data : "", out.len);
    strbuf_free(&out);
    return 200;
}

/* Every route outside /api takes GET and HEAD only. */
static bool is_get_or_head(const struct http_exchange *ex) { return ex->head || strcmp(ex->method, "GET") == 0; }

static int dispatch(struct http_exchange *ex)
{
    struct tessera_server *srv = ex->srv;
    enum route route = router_match(ex->path);
    if ((route == ROUTE_HEALTHZ || route == ROUTE_READYZ || route == ROUTE_METRICS) && !is_get_or_head(ex))
        return reply_method_not_allowed(ex, "GET, HEAD"); /* a POST /healthz was a 200, as if it had done something */
    switch (route) {
    case ROUTE_API:
        return api_handle(srv->api, ex);
    case ROUTE_IMAGE:
        return image_service_handle(srv->images, ex);
    case ROUTE_HEALTHZ:
        return reply_text(ex, 200, "ok");
    case ROUTE_READYZ:
        return atomic_load(&srv->stopping) ? reply_text(ex, 503, "stopping") : reply_text(ex, 200, "ready");
    case ROUTE_METRICS:
        return handle_metrics(ex);
    case ROUTE_STATIC:
    default:
        return static_files_handle(srv->static_files, ex);
    }
}

/* Whether the connection ends after this response. CivetWeb closes when a Connection header
 * lacks "keep-alive" ("Connection: TE") and HTTP/1.0 without it, but keeps "keep-alive, close"
 * open; RFC 9112 9.6 has "close" end it and the response say so. tessera decides, puts
 * "Connection: close" in the head (reply_start), and holds CivetWeb to it. */
static bool wants_close(const struct mg_request_info *req, const char *connection)
{
    if (connection)
        return http_list_has_token(connection, "close") || !http_list_has_token(connection, "keep-alive");
    return req->http_version && strcmp(req->http_version, "1.0") == 0;
}

/* ------------------------------------------------------------------ request framing */

/* CivetWeb parses the head in place and is lenient where RFC 9112 requires a 400: a front
 * proxy reading the same bytes differently would see another request boundary (smuggling).
 * The checks read what its in-place parse (libcivetweb 1.15) leaves: a header name ends in
 * the NUL that replaced its ':', with any spaces before the ':' also NULs; a line ends in
 * NULs where its CR and LF were (and where trailing whitespace was), so the NULs between one
 * line's text and the next line's name tell CRLF (two or more) from a bare LF (one). Bare LF
 * is refused wherever it shows (RFC 9112 2.2 lets a recipient refuse it): a head that mixes
 * the two can be split differently by a proxy in front. One pass over the headers, with a
 * first-letter filter before the name comparisons: this runs for every request. */

struct head_facts {
    int lengths, codings, hosts;
    const char *length, *host;
};

/* 1*DIGIT, then optional trailing whitespace: CivetWeb's strtoll would also take "+5" or "5, 5". */
static bool is_length(const char *value)
{
    size_t digits = strspn(value, "0123456789");
    return digits > 0 && value[digits + strspn(value + digits, " ")] == '\0';
}

/* The first byte of the line after the last header CivetWeb parsed: '\r' or '\0' where the
 * head ends. CivetWeb stops, silently dropping every later header (Content-Length too), at a
 * line starting with SP, HTAB, ':' or a byte >= 0x80, and after MG_MAX_HEADERS lines. After
 * the last line's NUL comes its LF (a NUL) and the next line; after a bare LF, the next line
 * at once. What it cannot tell: a last line alone ending in bare LF right before the head's
 * end, where end[2] is the byte after the head, one past CivetWeb's 16 KiB buffer only when
 * the head fills it exactly (a read, inside the allocation's slack with glibc). */
static char line_after(const struct mg_request_info *req)
{
    const struct mg_header *last = &req->http_headers[req->num_headers - 1];
    const char *end = last->value + strlen(last->value);
    return end[1] != '\0' ? end[1] : end[2];
}

/* 0 when the head's framing is unambiguous, else the status to refuse it with and *why. */
static int framing_problem(const struct mg_request_info *req, struct head_facts *f, const char **why)
{
    memset(f, 0, sizeof *f);
    const char *line_end = req->http_version + strlen(req->http_version);
    for (int i = 0; i < req->num_headers; i++) {
        const struct mg_header *h = &req->http_headers[i];
        ptrdiff_t gap = h->name - line_end;
        if (gap == 1) return *why = "a line ending in LF without CR", 400;
        /* Past the request line, CivetWeb's parse turns whitespace after the version into NULs
         * too, then takes a line starting with SP as a header (RFC 9112 2.2: reject it). */
        if (i == 0 && gap > 2) return *why = "whitespace before the first header", 400;
        size_t name_len = strlen(h->name);
        if (h->name + name_len + 1 < h->value && h->name[name_len + 1] == '\0')
            return *why = "whitespace before a header's colon", 400;
        switch (h->name[0] | 0x20) {
        case 'c':
            if (strcasecmp(h->name, "Content-Length") == 0) f->lengths++, f->length = h->value;
            break;
        case 't':
            if (strcasecmp(h->name, "Transfer-Encoding") == 0) f->codings++;
            break;
        case 'h':
            if (strcasecmp(h->name, "Host") == 0) f->hosts++, f->host = h->value;
            break;
        default:
            break;
        }
        line_end = h->value + strlen(h->value);
    }
    char next = req->num_headers > 0 ? line_after(req) : '\0';
    if (next != '\0' && next != '\r')
        return *why = req->num_headers == MG_MAX_HEADERS ? "too many header lines" : "a folded or unreadable header line",
               req->num_headers == MG_MAX_HEADERS ? 431 : 400;
    if (f->lengths > 1 || f->codings > 1) return *why = "repeated Content-Length or Transfer-Encoding", 400;
    if (f->lengths && f->codings) return *why = "both Content-Length and Transfer-Encoding", 400;
    if (f->codings && strcmp(req->http_version, "1.0") == 0) return *why = "Transfer-Encoding in HTTP/1.0", 400;
    if (f->length && !is_length(f->length)) return *why = "invalid Content-Length", 400;
    return 0;
}

/* RFC 9112 3.2: an HTTP/1.1 request has exactly one Host, host[:port]. */
static bool host_is_valid(const struct mg_request_info *req, const struct head_facts *f)
{
    if (f->hosts > 1) return false;
    if (f->hosts == 0) return strcmp(req->http_version, "1.0") == 0;
    return f->host[0] == '\0' || proxy_host_is_valid(f->host);
}

/* Refuses an ambiguous head with a 400 (431) that ends the connection; true when it did. */
static bool refuse_ambiguous_head(struct http_exchange *ex)
{
    const char *why = NULL;
    struct head_facts facts;
    int status = framing_problem(ex->req, &facts, &why);
    bool bad_host = !status && !host_is_valid(ex->req, &facts);
    if (!status && !bad_host) return false;
    ex->close = true;
    mg_disable_connection_keep_alive(ex->conn);
    if (bad_host && router_match(ex->path) == ROUTE_API) /* the API's error shape, as its proxy had it */
        reply_json_error(ex, 400, "invalid_host", "the Host header must be one host[:port]", NULL);
    else
        reply_text(ex, bad_host ? 400 : status, bad_host ? "the Host header must be one host[:port]" : why);
    return true;
}

/* The access line and the counters, once the answer is sent. */
static void record(struct http_exchange *ex, int64_t start)
{
    struct tessera_server *srv = ex->srv;
    if (ex->status == 0) /* a handler that sent nothing: the client went away mid-way */
        ex->status = 499;
    atomic_fetch_add(&srv->counters.requests, 1);
    int cls = ex->status / 100;
    if (cls >= 1 && cls <= 5)
        atomic_fetch_add(&srv->counters.by_class[cls], 1);
    atomic_fetch_add(&srv->counters.bytes_sent, (uint_fast64_t)ex->bytes);
    log_access(srv->cfg.log.access, ex->method, ex->path, ex->status, ex->bytes, clock_monotonic_us() - start);
}

int router_begin_request(struct mg_connection *conn)
{
    const struct mg_request_info *req = mg_get_request_info(conn);
    struct tessera_server *srv = req->user_data;
    int64_t start = clock_monotonic_us();
    struct http_exchange ex = {
        .conn = conn,
        .req = req,
        .srv = srv,
        .method = req->request_method,
        .path = req->local_uri_raw ? req->local_uri_raw : (req->request_uri ? req->request_uri : ""),
        .query = req->query_string,
        .head = strcmp(req->request_method, "HEAD") == 0,
        .http10 = strcmp(req->http_version, "1.0") == 0,
        .status = 0,
        .bytes = 0,
    };
    ex.close = atomic_load(&srv->stopping) || wants_close(req, mg_get_header(conn, "Connection"));
    if (ex.close)
        mg_disable_connection_keep_alive(conn);
    if (refuse_ambiguous_head(&ex)) {
        /* answered */
    } else if (ex.path[0] != '/') {
        reply_text(&ex, 400, "bad request target");
    } else {
        dispatch(&ex);
    }
    record(&ex, start);
    return ex.status;
}

/* The visible characters at the start of s, or "-": after a failed parse CivetWeb's strings
 * may run on over CR and LF to the end of the head, which must not reach the access log. */
static void copy_token(const char *s, char *out, size_t size)
{
    size_t n = 0;
    while (s && n + 1 < size && s[n] > ' ' && s[n] < 0x7f) n++;
    memcpy(out, s ? s : "", n);
    out[n] = '\0';
    if (n == 0) snprintf(out, size, "-");
}

/* The path of a request target in origin- or absolute-form, without its query. */
static void target_path(const char *target, char *out, size_t size)
{
    const char *scheme_end = strstr(target, "://");
    if (target[0] != '/' && scheme_end) {
        const char *slash = strchr(scheme_end + 3, '/');
        target = slash ? slash : "/";
    }
    copy_token(target, out, size);
    out[strcspn(out, "?")] = '\0';
}

int router_http_error(struct mg_connection *conn, int status, const char *message)
{
    /* CivetWeb calls this only for what it refuses before begin_request (tessera answers
     * everything else): a request line or head it cannot parse, a target that is not a path,
     * an HTTP version other than 1.0/1.1. Nothing has been sent; the connection closes after. */
    const struct mg_request_info *req = mg_get_request_info(conn);
    char method[32], path[1024] = "-";
    copy_token(req->request_method, method, sizeof method);
    if (req->request_uri) target_path(req->request_uri, path, sizeof path);
    struct http_exchange ex = {
        .conn = conn,
        .req = req,
        .srv = mg_get_user_data(mg_get_context(conn)),
        .method = method,
        .path = path,
        .head = strcmp(method, "HEAD") == 0,
        .close = true,
    };
    int64_t start = clock_monotonic_us();
    /* CivetWeb has no TRACE in its method table: it would be a bare 400 "Bad request". */
    bool trace = status == 400 && req->request_uri && strcmp(ex.method, "TRACE") == 0;
    if (trace && router_match(path) == ROUTE_API) /* its methods depend on the route; TRACE is on none */
        reply_text(&ex, 501, "TRACE is not implemented");
    else if (trace)
        reply_method_not_allowed(&ex, "GET, HEAD");
    else
        reply_text(&ex, status, message);
    record(&ex, start);
    return 0;
}
