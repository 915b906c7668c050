/* proxy — a small HTTP/1.1 client that relays unknown /api routes to the upstream.
 *
 * One upstream connection per request with "Connection: close": no idle-connection pool to
 * keep healthy, and the upstream's own keep-alive rules cannot leave a half-read response on
 * a reused socket. Plain blocking-free sockets with poll() deadlines, so a stuck upstream
 * costs at most api.upstream_timeout of one worker thread. */
#include "tessera/proxy.h"

#include <civetweb.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tessera/api.h"
#include "tessera/clock.h"
#include "tessera/log.h"
#include "tessera/percent.h"
#include "tessera/request_body.h"

enum { IO_ERROR = -1, IO_TIMEOUT = -2, HEAD_MAX = 16384 };

struct proxy {
    char host[256];
    char port[8];
    int64_t timeout_ms;
    int64_t max_body;
    atomic_uint_fast64_t forwarded, unavailable, timeouts, bad_responses;
};

/* ------------------------------------------------------------------ pure helpers */

bool proxy_parse_upstream(const char *url, char *host, size_t host_size, char *port, size_t port_size)
{
    if (!url || strncmp(url, "http://", 7) != 0)
        return false;
    const char *h = url + 7, *end;
    size_t host_len;
    if (*h == '[') { /* [v6]:port */
        end = strchr(h, ']');
        if (!end || end[1] != ':')
            return false;
        host_len = (size_t)(end - h - 1);
        h++;
        end++;
    } else {
        end = strrchr(h, ':');
        if (!end)
            return false;
        host_len = (size_t)(end - h);
    }
    const char *p = end + 1;
    size_t port_len = strlen(p);
    if (host_len == 0 || host_len >= host_size || port_len == 0 || port_len >= port_size || port_len > 5)
        return false;
    for (size_t i = 0; i < port_len; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    if (atoi(p) < 1 || atoi(p) > 65535)
        return false;
    memcpy(host, h, host_len);
    host[host_len] = '\0';
    memcpy(port, p, port_len + 1);
    return true;
}

bool proxy_header_is_hop_by_hop(const char *name, const char *connection)
{
    static const char *const hop[] = {"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
                                      "Proxy-Authorization", "TE", "Trailer", "Transfer-Encoding", "Upgrade"};
    for (size_t i = 0; i < sizeof hop / sizeof hop[0]; i++)
        if (strcasecmp(name, hop[i]) == 0)
            return true;
    return http_list_has_token(connection, name);
}

int proxy_parse_status_line(const char *head, size_t len)
{
    if (len < 12 || strncmp(head, "HTTP/1.", 7) != 0 || (head[7] != '0' && head[7] != '1') || head[8] != ' ')
        return -1;
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (head[i] < '0' || head[i] > '9')
            return -1;
        status = status * 10 + (head[i] - '0');
    }
    if (len > 12 && head[12] != ' ' && head[12] != '\r')
        return -1;
    return status >= 100 ? status : -1;
}

bool proxy_path_is_safe(const char *path)
{
    int dots = 0;           /* in the current segment, while it holds nothing else */
    bool only_dots = true;
    bool params = false;    /* after a ';': Tomcat reads "..;x" as ".." */
    for (const char *p = path;;) {
        int width = 0;
        int c = *p ? percent_char_at(p, &width) : '/';
        if (c == '/' || c == '\\') {
            if (only_dots && (dots == 1 || dots == 2))
                return false;
            if (!*p)
                return true;
            dots = 0;
            only_dots = true;
            params = false;
        } else if (c == ';') {
            params = true;
        } else if (!params) {
            if (c == '.')
                dots++;
            else
                only_dots = false;
        }
        p += width;
    }
}

bool proxy_host_is_valid(const char *value)
{
    const char *p = value;
    if (*p == '[') { /* IPv6 literal */
        p++;
        p += strspn(p, "0123456789abcdefABCDEF:.");
        if (*p++ != ']' || p == value + 2)
            return false;
    } else {
        size_t len = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._");
        if (len == 0)
            return false;
        p += len;
    }
    if (*p == ':') {
        size_t digits = strspn(++p, "0123456789");
        if (digits == 0 || digits > 5)
            return false;
        p += digits;
    }
    return *p == '\0';
}

/* ------------------------------------------------------------------ sockets */

static int wait_fd(int fd, short events, int64_t deadline_us)
{
    for (;;) {
        int64_t left = (deadline_us - clock_monotonic_us()) / 1000;
        if (left <= 0)
            return IO_TIMEOUT;
        struct pollfd pfd = {fd, events, 0};
        int n = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return IO_ERROR;
    }
}

/* Returns the connected socket, IO_ERROR (refused, unreachable) or IO_TIMEOUT. */
static int upstream_connect(const struct proxy *p, int64_t deadline_us)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *list = NULL;
    if (getaddrinfo(p->host, p->port, &hints, &list) != 0)
        return IO_ERROR;
    int result = IO_ERROR;
    for (struct addrinfo *ai = list; ai && result == IO_ERROR; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc < 0 && errno == EINPROGRESS) {
            rc = wait_fd(fd, POLLOUT, deadline_us);
            int err = 0;
            socklen_t len = sizeof err;
            if (rc == 0 && (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0))
                rc = IO_ERROR;
        }
        if (rc == 0) {
            result = fd;
        } else {
            close(fd);
            if (rc == IO_TIMEOUT)
                result = IO_TIMEOUT;
        }
    }
    freeaddrinfo(list);
    return result;
}

static int send_all(int fd, const void *data, size_t len, int64_t deadline_us)
{
    const char *at = data;
    while (len > 0) {
        ssize_t n = send(fd, at, len, MSG_NOSIGNAL);
        if (n > 0) {
            at += n;
            len -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            int rc = wait_fd(fd, POLLOUT, deadline_us);
            if (rc < 0)
                return rc;
        } else {
            return IO_ERROR;
        }
    }
    return 0;
}

/* Buffered reads from the upstream. */
struct upstream {
    int fd;
    char buf[HEAD_MAX];
    size_t start, end;
    int64_t idle_ms;
};

/* More bytes into buf (compacting first). >0 read, 0 EOF, IO_ERROR, IO_TIMEOUT. */
static int upstream_fill(struct upstream *u, int64_t deadline_us)
{
    if (u->start > 0) {
        memmove(u->buf, u->buf + u->start, u->end - u->start);
        u->end -= u->start;
        u->start = 0;
    }
    if (u->end == sizeof u->buf)
        return IO_ERROR;
    for (;;) {
        ssize_t n = recv(u->fd, u->buf + u->end, sizeof u->buf - u->end, 0);
        if (n >= 0) {
            u->end += (size_t)n;
            return (int)n;
        }
        if (errno != EAGAIN && errno != EINTR)
            return IO_ERROR;
        int rc = wait_fd(u->fd, POLLIN, deadline_us);
        if (rc < 0)
            return rc;
    }
}

static int64_t idle_deadline(const struct upstream *u) { return clock_monotonic_us() + u->idle_ms * 1000; }

/* Each wait on the upstream gets the whole timeout from when it starts: time spent reading
 * a slow client's body is not the upstream's. */
static int64_t deadline_from_now(const struct proxy *p) { return clock_monotonic_us() + p->timeout_ms * 1000; }

/* ------------------------------------------------------------------ request */

/* Set by tessera itself, or by proxies only, so never copied from the client. Forwarded
 * (RFC 7239) is replaced by one element of tessera's own (the peer, Host, scheme), not
 * extended: a client's element (for=, proto=https, host=) would be read as a proxy's by an
 * upstream that takes the first one. X-Forwarded-For differs on purpose: it keeps what the
 * client sent, then the peer, as proxies do, so an upstream must read it from the right. The others are what common upstreams trust from the proxy in
 * front of them (Rails: X-Forwarded-Ssl and -Scheme; Werkzeug: X-Forwarded-Port and -Prefix;
 * nginx setups: X-Real-IP) or route by (IIS, Symfony: X-Original-URL, X-Rewrite-URL, which
 * would reach an owned route past the path checks); tessera sets none of them. */
static bool request_header_is_ours(const char *name)
{
    static const char *const ours[] = {
        "Content-Length", "Expect", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded",
        "X-Real-IP", "X-Forwarded-Ssl", "X-Forwarded-Scheme", "X-Forwarded-Port", "X-Forwarded-Prefix",
        "X-Forwarded-Server", "Front-End-Https", "X-Url-Scheme", "X-Original-URL", "X-Rewrite-URL",
    };
    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
        if (strcasecmp(name, ours[i]) == 0)
            return true;
    return false;
}

/* One element: the peer (an IPv6 address quoted and bracketed, RFC 7239 section 6), the Host
 * (quoted: a port's ':' is not a token character; proxy_host_is_valid allows no '"' or '\')
 * and the scheme, the same facts as X-Forwarded-For's last entry, -Host and -Proto. */
static void add_forwarded(struct strbuf *out, const char *peer, const char *host, const char *proto)
{
    if (strchr(peer, ':'))
        strbuf_printf(out, "Forwarded: for=\"[%s]\"", peer);
    else
        strbuf_printf(out, "Forwarded: for=%s", peer);
    if (host)
        strbuf_printf(out, ";host=\"%s\"", host);
    strbuf_printf(out, ";proto=%s\r\n", proto);
}

static void build_request_head(const struct proxy *p, struct http_exchange *ex, long long body_len,
                               struct strbuf *out)
{
    const struct mg_request_info *req = ex->req;
    const char *connection = http_header(ex, "Connection");
    strbuf_printf(out, "%s %s%s%s HTTP/1.1\r\n", ex->method, ex->path, ex->query ? "?" : "",
                  ex->query ? ex->query : "");
    for (int i = 0; i < req->num_headers; i++) {
        const char *name = req->http_headers[i].name, *value = req->http_headers[i].value;
        if (proxy_header_is_hop_by_hop(name, connection) || request_header_is_ours(name))
            continue;
        strbuf_printf(out, "%s: %s\r\n", name, value ? value : "");
    }
    const char *host = http_header(ex, "Host");
    if (!host)
        strbuf_printf(out, "Host: %s:%s\r\n", p->host, p->port);
    /* Every X-Forwarded-For line, in order: several lines are one comma-separated list. */
    strbuf_puts(out, "X-Forwarded-For: ");
    for (int i = 0; i < req->num_headers; i++)
        if (strcasecmp(req->http_headers[i].name, "X-Forwarded-For") == 0)
            strbuf_printf(out, "%s, ", req->http_headers[i].value);
    strbuf_printf(out, "%s\r\n", req->remote_addr);
    const char *proto = req->is_ssl ? "https" : "http";
    strbuf_printf(out, "X-Forwarded-Proto: %s\r\n", proto);
    if (host)
        strbuf_printf(out, "X-Forwarded-Host: %s\r\n", host);
    add_forwarded(out, req->remote_addr, host, proto);
    if (body_len >= 0)
        strbuf_printf(out, "Content-Length: %lld\r\n", body_len);
    strbuf_puts(out, "Connection: close\r\n\r\n");
}

/* Streams a Content-Length body from the client to the upstream. */
static int send_length_body(const struct proxy *p, int fd, struct http_exchange *ex, long long len)
{
    char chunk[16384];
    while (len > 0) {
        int n = mg_read(ex->conn, chunk, (size_t)(len < (long long)sizeof chunk ? len : (long long)sizeof chunk));
        if (n <= 0)
            return 400; /* the client broke off: not the upstream's fault */
        int rc = send_all(fd, chunk, (size_t)n, deadline_from_now(p));
        if (rc < 0)
            return rc;
        len -= n;
    }
    return 0;
}

/* Sends head and body. A chunked request body has no length up front: it is read whole
 * (at most max_body) and sent with a Content-Length, which every upstream understands. Returns 0, IO_ERROR, IO_TIMEOUT, or an HTTP status for a bad body. */
static int send_request(const struct proxy *p, struct http_exchange *ex, int fd)
{
    long long length = ex->req->content_length;
    const char *te = http_header(ex, "Transfer-Encoding");
    struct strbuf head, body;
    strbuf_init(&head);
    strbuf_init(&body);
    int rc = 0;
    bool chunked = length < 0 && te && http_list_has_token(te, "chunked");
    api_expect_continue(ex, INT64_MAX); /* only now: a client of a down upstream keeps its upload */
    if (chunked) {
        rc = request_body_read(ex, (size_t)p->max_body, &body);
        length = (long long)body.len;
    }
    if (rc == 0) {
        build_request_head(p, ex, length, &head);
        rc = head.failed ? 500 : send_all(fd, head.data, head.len, deadline_from_now(p));
    }
    if (rc == 0 && body.len)
        rc = send_all(fd, body.data, body.len, deadline_from_now(p));
    else if (rc == 0 && length > 0 && !body.data)
        rc = send_length_body(p, fd, ex, length);
    strbuf_free(&head);
    strbuf_free(&body);
    return rc;
}

/* ------------------------------------------------------------------ response */

/* Waits for a whole line in the buffer; returns its length without CRLF, or an IO code. */
static long upstream_line(struct upstream *u, int64_t deadline_us)
{
    for (;;) {
        char *at = memmem(u->buf + u->start, u->end - u->start, "\r\n", 2);
        if (at)
            return (long)(at - (u->buf + u->start));
        int rc = upstream_fill(u, deadline_us);
        if (rc <= 0)
            return rc == 0 ? IO_ERROR : rc;
    }
}

/* Reads one response head into u->buf[0..*head_len); skips interim 1xx heads. Returns the
 * status, IO_ERROR (garbage or EOF: 502) or IO_TIMEOUT (504). */
static int read_response_head(struct upstream *u, int64_t deadline_us, size_t *head_len)
{
    for (;;) {
        char *end = memmem(u->buf + u->start, u->end - u->start, "\r\n\r\n", 4);
        if (!end) {
            int rc = upstream_fill(u, deadline_us);
            if (rc <= 0)
                return rc == 0 ? IO_ERROR : rc;
            continue;
        }
        size_t len = (size_t)(end + 4 - (u->buf + u->start));
        int status = proxy_parse_status_line(u->buf + u->start, len);
        if (status < 0)
            return IO_ERROR;
        if (status >= 200 || status == 101) {
            *head_len = len;
            return status;
        }
        u->start += len; /* 100 Continue and friends: the final head follows */
    }
}

/* Headers tessera writes itself (reply_start, framing, no-store) are not copied. */
static bool response_header_is_ours(const char *name)
{
    static const char *const ours[] = {"Content-Length", "Date", "Cache-Control", "X-Content-Type-Options",
                                       "Referrer-Policy", "Content-Security-Policy", "Strict-Transport-Security"};
    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
        if (strcasecmp(name, ours[i]) == 0)
            return true;
    return false;
}

struct response_framing {
    long long length;   /* -1: not given */
    bool chunked;
};

/* Copies the upstream's end-to-end headers into r and finds the body framing. head is the
 * NUL-terminated head ending in CRLF CRLF; it is cut into pieces in place. */
static bool copy_response_headers(char *head, struct http_reply *r, struct response_framing *f)
{
    enum { MAX_HEADERS = 100 };
    char *names[MAX_HEADERS], *values[MAX_HEADERS];
    int count = 0;
    const char *connection = NULL;
    for (char *line = strstr(head, "\r\n") + 2; strncmp(line, "\r\n", 2) != 0;) {
        char *eol = strstr(line, "\r\n");
        char *colon = strchr(line, ':');
        if (!eol || !colon || colon == line || colon > eol || count == MAX_HEADERS)
            return false;
        *eol = '\0';
        *colon = '\0';
        names[count] = line;
        values[count] = colon + 1 + strspn(colon + 1, " \t");
        if (strcasecmp(line, "Connection") == 0)
            connection = values[count];
        count++;
        line = eol + 2;
    }
    f->length = -1;
    f->chunked = false;
    for (int i = 0; i < count; i++) {
        if (strcasecmp(names[i], "Content-Length") == 0) {
            /* Digits only, and repeated lines must agree: anything else frames no body. */
            const char *v = values[i];
            size_t digits = strspn(v, "0123456789");
            long long length = digits && digits <= 18 ? strtoll(v, NULL, 10) : -1;
            if (length < 0 || v[digits + strspn(v + digits, " \t")] != '\0' || (f->length >= 0 && f->length != length))
                return false;
            f->length = length;
        } else if (strcasecmp(names[i], "Transfer-Encoding") == 0) {
            f->chunked = http_list_has_token(values[i], "chunked");
        }
        if (!proxy_header_is_hop_by_hop(names[i], connection) && !response_header_is_ours(names[i]))
            reply_header(r, names[i], values[i]);
    }
    return true;
}

/* ------------------------------------------------------------------ body relay */

/* Exactly len bytes; what is already buffered goes first. */
static int relay_length(struct http_exchange *ex, struct upstream *u, long long len)
{
    while (len > 0) {
        if (u->start == u->end && upstream_fill(u, idle_deadline(u)) <= 0)
            return IO_ERROR;
        size_t n = u->end - u->start;
        if ((long long)n > len)
            n = (size_t)len;
        if (http_write(ex, u->buf + u->start, n) < 0)
            return IO_ERROR;
        u->start += n;
        len -= (long long)n;
    }
    return 0;
}

static int write_piece(struct http_exchange *ex, const char *data, size_t len, bool rechunk)
{
    if (!rechunk)
        return http_write(ex, data, len);
    char size[24];
    int n = snprintf(size, sizeof size, "%zx\r\n", len);
    if (http_write(ex, size, (size_t)n) < 0 || http_write(ex, data, len) < 0 || http_write(ex, "\r\n", 2) < 0)
        return IO_ERROR;
    return 0;
}

/* Skips one CRLF-terminated line; returns its length or IO_ERROR. */
static long skip_line(struct upstream *u)
{
    long len = upstream_line(u, idle_deadline(u));
    if (len < 0)
        return IO_ERROR;
    u->start += (size_t)len + 2;
    return len;
}

/* De-chunks the upstream body and re-chunks it in our own sizes; extensions and trailers
 * are dropped. */
static int relay_chunked(struct http_exchange *ex, struct upstream *u, bool rechunk)
{
    for (;;) {
        long line = upstream_line(u, idle_deadline(u));
        if (line < 0)
            return IO_ERROR;
        char *digits = u->buf + u->start, *end = NULL;
        unsigned long long size = strtoull(digits, &end, 16); /* stops at the CR at the latest */
        if (end == digits || *digits == '-' || *digits == '+' || *digits == ' ')
            return IO_ERROR;
        u->start += (size_t)line + 2;
        if (size == 0) {
            long trailer;
            while ((trailer = skip_line(u)) > 0)
                ;
            if (trailer < 0)
                return IO_ERROR;
            return rechunk ? http_write(ex, "0\r\n\r\n", 5) : 0;
        }
        while (size > 0) {
            if (u->start == u->end && upstream_fill(u, idle_deadline(u)) <= 0)
                return IO_ERROR;
            size_t n = u->end - u->start;
            if ((unsigned long long)n > size)
                n = (size_t)size;
            if (write_piece(ex, u->buf + u->start, n, rechunk) < 0)
                return IO_ERROR;
            u->start += n;
            size -= n;
        }
        if (skip_line(u) != 0)
            return IO_ERROR;
    }
}

/* No length and not chunked: the body ends when the upstream closes. */
static int relay_until_eof(struct http_exchange *ex, struct upstream *u, bool rechunk)
{
    for (;;) {
        if (u->end > u->start) {
            if (write_piece(ex, u->buf + u->start, u->end - u->start, rechunk) < 0)
                return IO_ERROR;
            u->start = u->end;
        }
        int rc = upstream_fill(u, idle_deadline(u));
        if (rc == 0)
            return rechunk ? http_write(ex, "0\r\n\r\n", 5) : 0;
        if (rc < 0)
            return IO_ERROR;
    }
}

/* ------------------------------------------------------------------ forward */

static int reply_failure(struct proxy *p, struct http_exchange *ex, int rc, bool connected)
{
    if (rc == IO_TIMEOUT) {
        atomic_fetch_add(&p->timeouts, 1);
        return reply_json_error(ex, 504, "upstream_timeout", "the upstream did not answer in time", NULL);
    }
    if (!connected) {
        atomic_fetch_add(&p->unavailable, 1);
        return reply_json_error(ex, 502, "upstream_unavailable", "the upstream could not be reached", NULL);
    }
    atomic_fetch_add(&p->bad_responses, 1);
    return reply_json_error(ex, 502, "bad_gateway", "the upstream answered with an invalid response", NULL);
}

/* Sends the upstream's head and body to the client. Returns the status sent. */
static int relay_response(struct proxy *p, struct http_exchange *ex, struct upstream *u, int status, size_t head_len)
{
    char *head = strndup(u->buf + u->start, head_len);
    if (!head)
        return reply_json_error(ex, 500, "internal", "out of memory", NULL);
    u->start += head_len;
    struct http_reply r;
    reply_start(&r, ex, status);
    struct response_framing f;
    bool ok = status != 101 && copy_response_headers(head, &r, &f);
    free(head);
    if (!ok) {
        strbuf_free(&r.head);
        return reply_failure(p, ex, IO_ERROR, true);
    }
    reply_header(&r, "Cache-Control", "no-store");
    atomic_fetch_add(&p->forwarded, 1);
    if (ex->head || status == 204 || status == 304) {
        reply_send_head(ex, &r, f.length);
        return status;
    }
    int rc = 0;
    if (!f.chunked && f.length >= 0) {
        rc = reply_send_head(ex, &r, f.length);
        if (rc == 0)
            rc = relay_length(ex, u, f.length);
    } else {
        /* HTTP/1.1 clients that keep the connection get chunks; the others (HTTP/1.0 has no
         * chunks) get a body that ends when the connection does. */
        const char *version = ex->req->http_version;
        bool rechunk = !ex->close && version && strcmp(version, "1.1") == 0;
        if (rechunk) {
            reply_header(&r, "Transfer-Encoding", "chunked");
        } else if (!ex->close) {
            ex->close = true; /* the body ends with the connection */
            reply_header(&r, "Connection", "close");
            mg_disable_connection_keep_alive(ex->conn);
        }
        rc = reply_send_head(ex, &r, -1);
        if (rc == 0)
            rc = f.chunked ? relay_chunked(ex, u, rechunk) : relay_until_eof(ex, u, rechunk);
    }
    /* The head promised a body that did not arrive whole. Only closing the connection tells
     * the client; kept open, the next response would be read as the rest of this one. */
    if (rc < 0)
        mg_disable_connection_keep_alive(ex->conn);
    return status;
}

/* The upstream must see the request tessera routed: no path an upstream would normalise
 * elsewhere, and no Host other than the one relayed as X-Forwarded-Host. 0 when fine. */
static int refuse_ambiguous_request(struct http_exchange *ex)
{
    if (!proxy_path_is_safe(ex->path))
        return reply_json_error(ex, 400, "invalid_path", "the path may not contain . or .. segments", NULL);
    int hosts = 0;
    bool valid = true;
    for (int i = 0; i < ex->req->num_headers; i++) {
        if (strcasecmp(ex->req->http_headers[i].name, "Host") == 0) {
            hosts++;
            valid = valid && proxy_host_is_valid(ex->req->http_headers[i].value);
        }
    }
    if (hosts > 1 || !valid)
        return reply_json_error(ex, 400, "invalid_host", "the Host header must be one host[:port]", NULL);
    return 0;
}

int proxy_forward(struct proxy *p, struct http_exchange *ex)
{
    int refused = refuse_ambiguous_request(ex);
    if (refused)
        return refused;
    int fd = upstream_connect(p, deadline_from_now(p));
    if (fd < 0)
        return reply_failure(p, ex, fd, false);
    int rc = send_request(p, ex, fd);
    if (rc > 0 || rc == IO_TIMEOUT) {
        close(fd);
        if (rc == 413)
            return reply_json_error(ex, 413, "body_too_large", "the request body is too large", NULL);
        if (rc > 0)
            return reply_json_error(ex, rc, "bad_request", "the request body could not be read", NULL);
        return reply_failure(p, ex, rc, true);
    }
    struct upstream *u = malloc(sizeof *u);
    if (!u) {
        close(fd);
        return reply_json_error(ex, 500, "internal", "out of memory", NULL);
    }
    u->fd = fd;
    u->start = u->end = 0;
    u->idle_ms = p->timeout_ms;
    size_t head_len = 0;
    int status = read_response_head(u, deadline_from_now(p), &head_len);
    if (status >= 0 && rc == IO_ERROR) {
        /* The upstream answered before taking the whole body (413, 401) and stopped
         * reading: that answer is the one to relay, not a 502. The rest of the client's
         * body stays unread, so the client connection ends with it. */
        ex->close = true;
        mg_disable_connection_keep_alive(ex->conn);
    }
    status = status < 0 ? reply_failure(p, ex, status, true) : relay_response(p, ex, u, status, head_len);
    close(fd);
    free(u);
    return status;
}

struct proxy *proxy_create(const char *upstream, int64_t timeout_ms, int64_t max_body)
{
    struct proxy *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    if (!proxy_parse_upstream(upstream, p->host, sizeof p->host, p->port, sizeof p->port)) {
        log_error("api.upstream: cannot parse %s (expected http://HOST:PORT)", upstream);
        free(p);
        return NULL;
    }
    p->timeout_ms = timeout_ms;
    p->max_body = max_body;
    return p;
}

void proxy_free(struct proxy *p) { free(p); }

void proxy_metrics(struct proxy *p, struct strbuf *out)
{
    strbuf_printf(out,
                  "# TYPE tessera_api_proxy_forwarded_total counter\ntessera_api_proxy_forwarded_total %llu\n"
                  "# TYPE tessera_api_proxy_failures_total counter\n"
                  "tessera_api_proxy_failures_total{reason=\"unavailable\"} %llu\n"
                  "tessera_api_proxy_failures_total{reason=\"timeout\"} %llu\n"
                  "tessera_api_proxy_failures_total{reason=\"bad_response\"} %llu\n",
                  (unsigned long long)atomic_load(&p->forwarded), (unsigned long long)atomic_load(&p->unavailable),
                  (unsigned long long)atomic_load(&p->timeouts), (unsigned long long)atomic_load(&p->bad_responses));
}
