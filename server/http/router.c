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

/* Every route outside /api takes GET and HEAD only (RFC 9110 15.5.6: a 405 says which). */
static int reply_get_head_only(struct http_exchange *ex)
{
    struct http_reply r;
    reply_start(&r, ex, 405);
    reply_header(&r, "Allow", "GET, HEAD");
    reply_header(&r, "Content-Type", "text/plain; charset=utf-8");
    reply_header(&r, "Cache-Control", "no-store");
    reply_send(ex, &r, "method not allowed\n", 19);
    return 405;
}

static bool is_get_or_head(const struct http_exchange *ex) { return ex->head || strcmp(ex->method, "GET") == 0; }

static int dispatch(struct http_exchange *ex)
{
    struct tessera_server *srv = ex->srv;
    enum route route = router_match(ex->path);
    if ((route == ROUTE_HEALTHZ || route == ROUTE_READYZ || route == ROUTE_METRICS) && !is_get_or_head(ex))
        return reply_get_head_only(ex); /* a POST /healthz was a 200, as if it had done something */
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

/* Whether the comma-separated Connection value holds option (case-insensitive). */
static bool has_connection_option(const char *value, const char *option)
{
    size_t n = strlen(option);
    for (const char *p = value; p && *p;) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, ",");
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
        if (len == n && strncasecmp(p, option, n) == 0) return true;
        p = strchr(p, ',');
    }
    return false;
}

/* Whether the connection ends after this response. CivetWeb closes when a Connection header
 * lacks "keep-alive" ("Connection: TE") and HTTP/1.0 without it, but keeps "keep-alive, close"
 * open; RFC 9112 9.6 has "close" end it and the response say so. tessera decides, puts
 * "Connection: close" in the head (reply_start), and holds CivetWeb to it. */
static bool wants_close(const struct mg_request_info *req, const char *connection)
{
    if (connection)
        return has_connection_option(connection, "close") || !has_connection_option(connection, "keep-alive");
    return req->http_version && strcmp(req->http_version, "1.0") == 0;
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
        .status = 0,
        .bytes = 0,
    };
    ex.close = atomic_load(&srv->stopping) || wants_close(req, mg_get_header(conn, "Connection"));
    if (ex.close)
        mg_disable_connection_keep_alive(conn);
    if (ex.path[0] != '/') {
        reply_text(&ex, 400, "bad request target");
    } else {
        dispatch(&ex);
    }
    record(&ex, start);
    return ex.status;
}

/* The path of a request target in origin- or absolute-form, without its query. */
static void target_path(const char *target, char *out, size_t size)
{
    const char *scheme_end = strstr(target, "://");
    if (target[0] != '/' && scheme_end) {
        const char *slash = strchr(scheme_end + 3, '/');
        target = slash ? slash : "/";
    }
    size_t n = strcspn(target, "?");
    if (n >= size) n = size - 1;
    memcpy(out, target, n);
    out[n] = '\0';
}

int router_http_error(struct mg_connection *conn, int status, const char *message)
{
    (void)message;
    const struct mg_request_info *req = mg_get_request_info(conn);
    /* CivetWeb refuses a method missing from its own table while it parses the request line,
     * before begin_request: for TRACE it sent a bare 400 "Bad request". The request line is
     * all that was parsed (no headers), and the connection closes after this answer. */
    if (status != 400 || !req || !req->request_method || !req->request_uri || strcmp(req->request_method, "TRACE") != 0)
        return 1; /* CivetWeb's own answer */
    char path[1024];
    target_path(req->request_uri, path, sizeof path);
    struct http_exchange ex = {
        .conn = conn,
        .req = req,
        .srv = mg_get_user_data(mg_get_context(conn)),
        .method = req->request_method,
        .path = path,
        .close = true,
    };
    int64_t start = clock_monotonic_us();
    if (router_match(path) == ROUTE_API) /* its methods depend on the route; TRACE is on none */
        reply_text(&ex, 501, "TRACE is not implemented");
    else
        reply_get_head_only(&ex);
    record(&ex, start);
    return 0;
}
