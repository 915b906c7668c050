/* http_edges: what a client sees at the edges of HTTP/1.1 framing and request targets, over
 * raw sockets (libcurl would normalise these requests): a streamed body cut short by a file
 * truncated mid-transfer, the absolute-form, and target forms tessera cannot route. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "static_fixture.h"

static struct static_site site;

static void start_default(void)
{
    cr_assert_eq(static_site_create(&site), 0);
    cr_assert_eq(static_site_start(&site, NULL, NULL), 0);
}

static void stop(void) { static_site_destroy(&site); }

TestSuite(http_edges, .init = start_default, .fini = stop);

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A loopback connection to the site's server; rcvbuf > 0 shrinks the receive window so the
 * server cannot run far ahead of what the test has read. */
static int connect_site(int rcvbuf)
{
    signal(SIGPIPE, SIG_IGN);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)site.server.port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    return fd;
}

static void send_all(int fd, const char *text)
{
    size_t len = strlen(text);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
}

/* Reads into buf until the peer closes, `size - 1` bytes are in, or deadline_ms passes with
 * nothing arriving. Returns the byte count; *closed says whether the peer ended the stream. */
static size_t read_until_close(int fd, char *buf, size_t size, int deadline_ms, bool *closed)
{
    size_t len = 0;
    *closed = false;
    int64_t end = now_ms() + deadline_ms;
    while (len < size - 1) {
        int64_t left = end - now_ms();
        if (left <= 0) break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0) break;
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n <= 0) { *closed = true; break; }
        len += (size_t)n;
    }
    buf[len] = '\0';
    return len;
}

/* One request on a fresh connection that the request itself asks to close. */
static size_t exchange(const char *request, char *buf, size_t size)
{
    int fd = connect_site(0);
    send_all(fd, request);
    bool closed;
    size_t len = read_until_close(fd, buf, size, 3000, &closed);
    close(fd);
    return len;
}

/* ------------------------------------------------------------------ a body cut short */

/* A streamed file (larger than the cache) truncated while it is being sent: the head promised
 * its old length, so the only honest signal left is the end of the connection. Kept open, the
 * client waits for bytes that never come (until the keep-alive timeout, 15 s), and a
 * pipelining client would read the next response as the rest of this body. */
Test(http_edges, truncated_streamed_file_closes_the_connection)
{
    const size_t size = 64u * 1024 * 1024; /* far more than socket buffers hold; sparse on disk */
    char path[512];
    snprintf(path, sizeof path, "%s/huge.bin", site.root);
    cr_assert_eq(site_write(&site, "huge.bin", "", 0), 0);
    cr_assert_eq(truncate(path, (off_t)size), 0);

    int fd = connect_site(16 * 1024);
    send_all(fd, "GET /huge.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    char head[4096] = "";
    size_t got = 0;
    while (!strstr(head, "\r\n\r\n") && got < sizeof head - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        cr_assert_gt(poll(&p, 1, 3000), 0, "no response head");
        ssize_t n = read(fd, head + got, sizeof head - 1 - got);
        cr_assert_gt(n, 0);
        got += (size_t)n;
        head[got] = '\0';
    }
    cr_assert_eq(strncmp(head, "HTTP/1.1 200", 12), 0, "%s", head);
    char want[64];
    snprintf(want, sizeof want, "Content-Length: %zu\r\n", size);
    cr_assert(strstr(head, want), "%s", head);

    cr_assert_eq(truncate(path, 0), 0);
    int64_t cut_at = now_ms();
    size_t body = got - (size_t)(strstr(head, "\r\n\r\n") + 4 - head);
    static char buf[1 << 20];
    bool closed = false;
    for (;;) { /* drain what the buffers held; then the server must end the connection */
        size_t n = read_until_close(fd, buf, sizeof buf, 5000, &closed);
        body += n;
        if (closed || n == 0 || now_ms() - cut_at > 5000) break;
    }
    close(fd);
    cr_expect_lt(body, size, "the whole body arrived: the truncation came too late to test");
    cr_expect(closed, "after %zu of %zu body bytes the connection stayed open for 5 s", body, size);
}

/* ------------------------------------------------------------------ request targets */

/* RFC 9112 3.2.2: a server MUST accept the absolute-form. CivetWeb takes it only when its
 * authentication-domain check is off; with it on, the connection closed without a word. */
Test(http_edges, absolute_form_is_served)
{
    size_t len;
    char *want = site_read(&site, "robots.txt", &len);
    const char *forms[] = {"http://127.0.0.1:%d/robots.txt", "HTTP://localhost:%d/robots.txt?x=1"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        char target[128], req[512], buf[16384];
        snprintf(target, sizeof target, forms[i], site.server.port);
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", target,
                 site.server.port);
        size_t n = exchange(req, buf, sizeof buf);
        cr_expect_eq(strncmp(buf, "HTTP/1.1 200", 12), 0, "%s: %s", target, buf);
        const char *body = strstr(buf, "\r\n\r\n");
        cr_expect(body && (size_t)(buf + n - (body + 4)) == len && memcmp(body + 4, want, len) == 0, "%s body", target);
    }
    free(want);
}

/* TRACE would echo the request's headers (cookies included) into a page: cross-site tracing.
 * It must never come back as a 200 with the request in it. */
Test(http_edges, trace_is_never_echoed)
{
    char buf[16384];
    const char *targets[] = {"/index.html", "*", "/api/me"};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        char req[512];
        snprintf(req, sizeof req, "TRACE %s HTTP/1.1\r\nHost: t\r\nCookie: secret=hunter2\r\nConnection: close\r\n\r\n",
                 targets[i]);
        exchange(req, buf, sizeof buf);
        cr_expect_null(strstr(buf, "hunter2"), "TRACE %s echoed: %s", targets[i], buf);
        cr_expect(strncmp(buf, "HTTP/1.1 4", 10) == 0 || strncmp(buf, "HTTP/1.1 5", 10) == 0, "TRACE %s: %s",
                  targets[i], buf);
    }
}

/* The header value of name in a raw response (up to the blank line), or NULL. */
static const char *raw_header(const char *response, const char *name, char *out, size_t size)
{
    const char *end = strstr(response, "\r\n\r\n");
    size_t n = strlen(name);
    for (const char *p = strstr(response, "\r\n"); p && (!end || p < end); p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
            const char *v = p + 3 + n;
            while (*v == ' ') v++;
            size_t len = strcspn(v, "\r\n");
            if (len >= size) len = size - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return out;
        }
    }
    return NULL;
}

/* RFC 9110 9.3.8 leaves TRACE to the server; tessera does not implement it. Outside /api every
 * resource takes GET and HEAD only, so the refusal is a 405 that says so (15.5.6: Allow is
 * required), with tessera's own headers, not CivetWeb's bare 400 "Bad request". */
Test(http_edges, trace_is_405_with_allow)
{
    const char *targets[] = {"/index.html", "/no/such/page", "/healthz", "/_image?url=/image.png&w=10"};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        char req[512], buf[16384], allow[64];
        snprintf(req, sizeof req, "TRACE %s HTTP/1.1\r\nHost: t\r\n\r\n", targets[i]);
        exchange(req, buf, sizeof buf);
        cr_expect_eq(strncmp(buf, "HTTP/1.1 405 ", 13), 0, "TRACE %s: %s", targets[i], buf);
        cr_expect_str_eq(raw_header(buf, "Allow", allow, sizeof allow) ? allow : "(none)", "GET, HEAD", "%s", targets[i]);
        cr_expect_not_null(raw_header(buf, "X-Content-Type-Options", allow, sizeof allow), "%s", targets[i]);
    }
}

/* /healthz, /readyz and /metrics are read-only: a POST or DELETE is a client's mistake, and
 * must not look like a success. */
Test(http_edges, fixed_routes_refuse_other_methods)
{
    const char *paths[] = {"/healthz", "/readyz", "/metrics"};
    const char *methods[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        for (size_t k = 0; k < sizeof methods / sizeof methods[0]; k++) {
            struct http_result r;
            char url[512], allow[64];
            cr_assert_eq(http_do(methods[k], site_url(&site, paths[i], url, sizeof url), NULL, "", 0, &r), 0);
            cr_expect_eq(r.status, 405, "%s %s", methods[k], paths[i]);
            cr_expect_str_eq(http_header_value(&r, "Allow", allow, sizeof allow) ? allow : "(none)", "GET, HEAD",
                             "%s %s", methods[k], paths[i]);
            http_result_free(&r);
        }
        struct http_result r;
        char url[512];
        cr_assert_eq(http_do("HEAD", site_url(&site, paths[i], url, sizeof url), NULL, NULL, 0, &r), 0);
        cr_expect_eq(r.status, 200, "HEAD %s", paths[i]);
        cr_expect_eq(r.body_len, 0);
        http_result_free(&r);
    }
}

/* ------------------------------------------------------------------ connection options */

/* Whether the server ends the connection after one response, and whether it said so. */
static void expect_close_announced(const char *connection, bool should_close)
{
    int fd = connect_site(0);
    char req[256];
    snprintf(req, sizeof req, "GET /robots.txt HTTP/1.1\r\nHost: t\r\n%s%s%s\r\n", connection ? "Connection: " : "",
             connection ? connection : "", connection ? "\r\n" : "");
    send_all(fd, req);
    char buf[8192], value[64];
    bool closed;
    read_until_close(fd, buf, sizeof buf, 1500, &closed);
    close(fd);
    const char *said = raw_header(buf, "Connection", value, sizeof value);
    bool announced = said && strcasecmp(said, "close") == 0;
    cr_expect_eq(strncmp(buf, "HTTP/1.1 200", 12), 0, "Connection: %s: %s", connection, buf);
    cr_expect_eq(closed, should_close, "Connection: %s: closed=%d", connection, closed);
    cr_expect_eq(announced, closed, "Connection: %s: closed=%d but the head said %s", connection, closed,
                 said ? said : "nothing");
}

/* RFC 9112 9.6: a "close" option anywhere in the list ends the connection, and a server that
 * closes says so in the response. CivetWeb closes whenever a Connection header lacks
 * "keep-alive" ("Connection: TE"); the head must announce that, or the client sends its next
 * request into a closed socket. */
Test(http_edges, connection_close_is_announced_and_kept)
{
    expect_close_announced(NULL, false);
    expect_close_announced("keep-alive", false);
    expect_close_announced("close", true);
    expect_close_announced("TE, close", true);
    expect_close_announced("TE", true);
    expect_close_announced("keep-alive, close", true);
}

/* ------------------------------------------------------------------ request framing */

static int count_responses(const char *buf)
{
    int n = 0;
    for (const char *p = buf; (p = strstr(p, "HTTP/1.")) != NULL; p++)
        if (p == buf || p[-1] == '\n') n++;
    return n;
}

/* RFC 9112 3.2, 5.1, 5.2 and 6.1-6.3: requests whose framing or Host a front proxy may read
 * differently from CivetWeb. CivetWeb took each of these: it drops every header after a
 * folded line (so a Content-Length there was ignored and the body ran as a second request),
 * and after its 64th header line, takes "Name :" as Name, and keeps a connection open after
 * Content-Length with Transfer-Encoding. Each must be one 400, then the end of the connection; nothing after it
 * may be answered. */
Test(http_edges, ambiguous_requests_are_400_and_close)
{
    static const char smuggled[] = "GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n";
    char tail[128];
    snprintf(tail, sizeof tail, "Content-Length: %zu\r\n\r\n%s", strlen(smuggled), smuggled);
    const char *heads[] = {
        "GET /robots.txt HTTP/1.1\r\n",                                    /* no Host */
        "GET /robots.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n",              /* two */
        "GET /robots.txt HTTP/1.1\r\nHost: a b\r\n",                        /* not host[:port] */
        "GET /robots.txt HTTP/1.1\r\nHost: good.example/x\r\n",
        "GET /robots.txt HTTP/1.1\r\nHost : t\r\n",                         /* space before colon */
        "GET /robots.txt HTTP/1.1\r\nHost: t\r\nX-A : 1\r\n",
        "GET /robots.txt HTTP/1.1\r\nHost: t\r\nX-Folded: a\r\n b\r\n",     /* obs-fold */
        "GET /robots.txt HTTP/1.1\r\nHost: t\r\n\tX-Folded: b\r\n",
        "GET /robots.txt HTTP/1.1\r\n X-After-Start-Line: 1\r\nHost: t\r\n",   /* RFC 9112 2.2 */
        "GET /robots.txt HTTP/1.1\r\nHost: t\r\nContent-Length: +38\r\n",   /* not 1*DIGIT */
        "GET /robots.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n",     /* two lengths */
        "GET /robots.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n", /* both */
        "GET /robots.txt HTTP/1.1\r\nHost: t\nX-A: 1\r\n b\r\n",        /* bare LF, then a fold */
        "GET /robots.txt HTTP/1.1\nHost: t\r\n",                          /* bare LF after the request line */
        "GET /robots.txt HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n:x\r\n",      /* a line CivetWeb stops at */
        "GET /robots.txt HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n\xc3\xa9: x\r\n",
    };
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        char req[512], buf[16384];
        snprintf(req, sizeof req, "%s%s", heads[i], tail);
        int fd = connect_site(0);
        send_all(fd, req);
        bool closed;
        read_until_close(fd, buf, sizeof buf, 2000, &closed);
        close(fd);
        cr_expect(strncmp(buf, "HTTP/1.", 7) == 0 && strncmp(buf + 8, " 400 ", 5) == 0, "case %zu: %.300s", i, buf);
        cr_expect_eq(count_responses(buf), 1, "case %zu: %d responses", i, count_responses(buf));
        cr_expect(closed, "case %zu: the connection stayed open", i);
    }
    /* Past CivetWeb's 64 header lines the rest were dropped, Content-Length included. */
    char many[4096] = "GET /robots.txt HTTP/1.1\r\nHost: t\r\n";
    for (int i = 0; i < 70; i++) snprintf(many + strlen(many), sizeof many - strlen(many), "X-%d: a\r\n", i);
    snprintf(many + strlen(many), sizeof many - strlen(many), "%s", tail);
    int fd = connect_site(0);
    send_all(fd, many);
    char buf[16384];
    bool closed;
    read_until_close(fd, buf, sizeof buf, 2000, &closed);
    close(fd);
    cr_expect_eq(strncmp(buf, "HTTP/1.1 431 ", 13), 0, "70 headers: %.300s", buf);
    cr_expect_eq(count_responses(buf), 1, "70 headers: %d responses", count_responses(buf));
    cr_expect(closed, "70 headers: the connection stayed open");

    /* What stays accepted: HTTP/1.0 without Host, a bracketed IPv6 Host, spaces around values,
     * an empty value. (CivetWeb itself refuses a tab in a header line.) Bare LF line ends are
     * refused, since one that closes the head cannot be told from CRLF in CivetWeb's parse. */
    const char *fine[] = {
        "GET /robots.txt HTTP/1.0\r\n\r\n",
        "GET /robots.txt HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\n\r\n",
        "GET /robots.txt HTTP/1.1\r\nHost:t\r\nX-A:  1 \r\nContent-Length: 0 \r\nConnection: close\r\n\r\n",
        "GET /robots.txt HTTP/1.1\r\nHost: t\r\nX-Empty:\r\nConnection: close\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
        char buf[16384];
        exchange(fine[i], buf, sizeof buf);
        cr_expect_eq(strncmp(buf, "HTTP/1.1 200 ", 13), 0, "fine %zu: %.300s", i, buf);
    }
}

/* ------------------------------------------------------------------ CivetWeb's refusals */

static long responses_4xx(void)
{
    struct http_result r;
    char url[512];
    cr_assert_eq(http_get(site_url(&site, "/metrics", url, sizeof url), NULL, &r), 0);
    const char *line = strstr(r.body, "tessera_responses_total{class=\"4xx\"} ");
    long n = line ? atol(line + strlen("tessera_responses_total{class=\"4xx\"} ")) : -1;
    http_result_free(&r);
    return n;
}

/* What CivetWeb refuses before begin_request (a request line it cannot parse, a target that is
 * not a path, a head over its 16 KiB buffer) was answered with CivetWeb's own page: an
 * "HTTP/1.0" status line for the last, none of tessera's headers, no access line, no count
 * in /metrics. An operator looking for probes saw nothing. */
Test(http_edges, refusals_before_routing_are_tessera_answers_and_counted)
{
    char big[20000];
    snprintf(big, sizeof big, "GET /robots.txt?%0*d HTTP/1.1\r\nHost: t\r\n\r\n", 18000, 0);
    const char *requests[] = {"GET abc HTTP/1.1\r\nHost: t\r\n\r\n", "NONSENSE\r\n\r\n", big};
    char buf[16384];
    exchange("GET / HTTP/2.0\r\nHost: t\r\n\r\n", buf, sizeof buf);
    cr_expect_eq(strncmp(buf, "HTTP/1.1 505 HTTP Version Not Supported\r\n", 41), 0, "%.200s", buf);
    long before = responses_4xx();
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) {
        char value[64];
        exchange(requests[i], buf, sizeof buf);
        cr_expect_eq(strncmp(buf, "HTTP/1.1 4", 10), 0, "request %zu: %.200s", i, buf);
        cr_expect_not_null(raw_header(buf, "X-Content-Type-Options", value, sizeof value), "request %zu: %.300s", i, buf);
        const char *conn = raw_header(buf, "Connection", value, sizeof value);
        cr_expect(conn && strcasecmp(conn, "close") == 0, "request %zu: %.300s", i, buf);
    }
    cr_expect_eq(responses_4xx(), before + 3);
}

/* An HTTP/1.0 client keeps a connection only when the response says "Connection: keep-alive"
 * (RFC 2068 19.7.1); otherwise it reads until the server closes. CivetWeb kept such a
 * connection open without the header being sent, so `ab -k` and the like waited out the
 * 15 s keep-alive timeout on every request. Each answer on the kept connection says so,
 * the repeated one too (a worker's copy of its last response is built for HTTP/1.1). */
Test(http_edges, http10_keep_alive_is_announced)
{
    int fd = connect_site(0);
    const char *paths[] = {"/robots.txt", "/robots.txt", "/medium.txt", "/big.txt", "/missing.txt"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char req[256], buf[1 << 17], value[64];
        snprintf(req, sizeof req, "%s %s HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", i == 3 ? "HEAD" : "GET", paths[i]);
        send_all(fd, req);
        size_t len = 0;
        int64_t end = now_ms() + 3000;
        const char *body = NULL;
        long want = -1;
        while (now_ms() < end && (!body || (long)(len - (size_t)(body - buf)) < want)) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, 200) <= 0) continue;
            ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
            if (n <= 0) break;
            len += (size_t)n;
            buf[len] = '\0';
            if (!body && (body = strstr(buf, "\r\n\r\n"))) {
                body += 4;
                const char *length = raw_header(buf, "Content-Length", value, sizeof value);
                want = i == 3 || !length ? 0 : atol(length);
            }
        }
        cr_assert(body, "%s: no response: %s", paths[i], buf);
        const char *conn = raw_header(buf, "Connection", value, sizeof value);
        cr_expect(conn && strcasecmp(conn, "keep-alive") == 0, "%s (%zu): Connection: %s", paths[i], i, conn ? conn : "(none)");
    }
    close(fd);
}

/* The fold and header-count checks read past the last header CivetWeb parsed. In a head whose
 * request line ends in CRLF and whose header lines end in bare LF, the byte after the last
 * line's NUL is the head's own end, and the one after it is whatever the worker's buffer held
 * before: with one worker, the previous request's letters. That was answered 431. */
static void start_one_worker(void)
{
    cr_assert_eq(static_site_create(&site), 0);
    cr_assert_eq(static_site_start(&site, "[server]\nthreads = 1\n", NULL), 0);
}

/* Bare LF line ends are refused where they show (RFC 9112 2.2 allows it; a head mixing them
 * with CRLF is what a proxy in front may split elsewhere): a deterministic 400, never a 431
 * read from the bytes a previous, longer request left in the worker's buffer. */
Test(http_edges_one_worker, mixed_line_ends_are_not_read_past_the_head, .init = start_one_worker, .fini = stop)
{
    const char *mixed[] = {
        "GET /robots.txt HTTP/1.1\r\nHost: t\nConnection: close\n\n",
        "GET /robots.txt HTTP/1.1\r\nHost: t\nX-A: 1\nConnection: close\n\n",
    };
    for (size_t i = 0; i < sizeof mixed / sizeof mixed[0]; i++) {
        char buf[16384];
        exchange("GET /robots.txt HTTP/1.1\r\nHost: t\r\nX-Filler: abcdefghijklmnopqrstuvwxyzabcdefghijklmnop\r\n"
                 "X-More-Filler: abcdefghijklmnopqrstuvwxyz\r\nConnection: close\r\n\r\n", buf, sizeof buf);
        exchange(mixed[i], buf, sizeof buf);
        cr_expect_eq(strncmp(buf, "HTTP/1.1 400 ", 13), 0, "mixed %zu: %.200s", i, buf);
    }
}

/* A request line CivetWeb could not parse leaves its method unterminated: it runs to the end
 * of the head, CR and LF included. Logged as it was, "NONSENSE\r\n<anything>" wrote a line of
 * the client's choosing into the text access log. */
static void start_with_access_log(void)
{
    cr_assert_eq(static_site_create(&site), 0);
    cr_assert_eq(static_site_start(&site, "[log]\naccess = text\n", NULL), 0);
}

Test(http_edges_logged, refused_requests_cannot_write_log_lines, .init = start_with_access_log, .fini = stop)
{
    char buf[16384];
    exchange("NONSENSE\r\n2026-01-01T00:00:00.000Z GET /forged 200 1 1us\r\n\r\n", buf, sizeof buf);
    exchange("GET /a\r\nforged HTTP/1.1\r\nHost: t\r\n\r\n", buf, sizeof buf);
    /* The log reaches the file when tessera exits. */
    kill(site.server.pid, SIGTERM);
    int status = 0;
    waitpid(site.server.pid, &status, 0);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "tessera exited with status %#x", status);
    site.server.pid = 0;
    site.started = false; /* stopped here; test_server_stop below only removes its directory */
    FILE *f = fopen(site.server.stdout_path, "r");
    cr_assert(f);
    char line[4096];
    int lines = 0;
    while (fgets(line, sizeof line, f)) {
        cr_expect(strncmp(line, "tessera ", 8) == 0 || (line[0] == '2' && line[4] == '-' && line[10] == 'T'),
                  "a line that is no log line: %s", line);
        cr_expect_null(strstr(line, "/forged 200"), "a forged line: %s", line);
        lines++;
    }
    fclose(f);
    test_server_stop(&site.server);
    cr_expect_geq(lines, 3, "the banner and two access lines");
}
