/* The upstream proxy against a small HTTP server run by the test on 127.0.0.1, and the
 * database-unavailable answers. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "harness.h"

/* ------------------------------------------------------------------ the upstream */

static atomic_int upstream_requests;

static void send_text(int fd, const char *text) { (void)!write(fd, text, strlen(text)); }

static void answer(int fd, const char *head, const char *body)
{
    char *path_end = strchr(strchr(head, ' ') + 1, ' ');
    const char *path = strchr(head, ' ') + 1;
    size_t path_len = (size_t)(path_end - path);
    if (strncmp(path, "/api/slow", 9) == 0) {
        sleep(3); /* past the 300 ms upstream_timeout of the test server */
    } else if (strncmp(path, "/api/chunked", 12) == 0) {
        send_text(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n");
    } else if (strncmp(path, "/api/close", 10) == 0) {
        send_text(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Upstream: close\r\n\r\nclose-delimited body");
    } else if (strncmp(path, "/api/truncated-chunked", 22) == 0) {
        send_text(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
    } else if (strncmp(path, "/api/truncated", 14) == 0) {
        send_text(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
    } else if (strncmp(path, "/api/conflicting-length", 23) == 0) {
        send_text(fd, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nhello");
    } else if (strncmp(path, "/api/junk-length", 16) == 0) {
        send_text(fd, "HTTP/1.1 200 OK\r\nContent-Length: 3abc\r\n\r\nhello");
    } else if (strncmp(path, "/api/garbage", 12) == 0) {
        send_text(fd, "SPDY/9 nonsense\r\n\r\n");
    } else {
        char *text = malloc(strlen(head) + strlen(body) + 64);
        int n = sprintf(text, "%s---\n%s", head, body);
        char reply[512];
        snprintf(reply, sizeof reply,
                 "HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nX-Upstream: yes\r\nConnection: close, X-Hop\r\n"
                 "X-Hop: secret\r\nKeep-Alive: timeout=5\r\nCache-Control: public, max-age=60\r\n"
                 "X-Path: %.*s\r\nContent-Length: %d\r\n\r\n",
                 (int)path_len, path, n);
        send_text(fd, reply);
        (void)!write(fd, text, (size_t)n);
        free(text);
    }
}

static void *serve_connection(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[65536];
    size_t len = 0;
    char *end = NULL;
    while (!end && len < sizeof buf - 1) {
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (end) {
        atomic_fetch_add(&upstream_requests, 1);
        size_t head_len = (size_t)(end + 4 - buf);
        if (strncmp(buf, "POST /api/early-413 ", 20) == 0) { /* refuses the body unread */
            send_text(fd, "HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big!");
            close(fd);
            return NULL;
        }
        const char *cl = strcasestr(buf, "\r\nContent-Length:");
        size_t want = cl && cl < end ? (size_t)atol(cl + 17) : 0;
        while (len - head_len < want && len < sizeof buf - 1) {
            ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
            if (n <= 0)
                break;
            len += (size_t)n;
        }
        buf[len] = '\0';
        char head[16384];
        snprintf(head, sizeof head, "%.*s", (int)head_len, buf);
        answer(fd, head, buf + head_len);
    }
    close(fd);
    return NULL;
}

static void *accept_loop(void *arg)
{
    int listener = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0)
            return NULL;
        pthread_t t;
        pthread_create(&t, NULL, serve_connection, (void *)(intptr_t)fd);
        pthread_detach(t);
    }
}

/* A loopback listener; its port. When serve is false the socket is closed again, leaving a
 * port where nothing listens. */
static int upstream_start(bool serve)
{
    signal(SIGPIPE, SIG_IGN); /* tessera may have closed (504) before the upstream answers */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    cr_assert_eq(listen(fd, 64), 0);
    socklen_t alen = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &alen);
    if (!serve) {
        close(fd);
        return ntohs(addr.sin_port);
    }
    pthread_t t;
    pthread_create(&t, NULL, accept_loop, (void *)(intptr_t)fd);
    pthread_detach(t);
    return ntohs(addr.sin_port);
}

static struct test_server server;
static void stop_server(void)
{
    if (server.pid > 0) {
        int code = test_server_stop(&server);
        cr_expect_eq(code, 0, "tessera exited with %d (a sanitizer report or a crash)", code);
    }
}

static void start_with_upstream(int port)
{
    char ini[256];
    snprintf(ini, sizeof ini, "[api]\nupstream = http://127.0.0.1:%d\nupstream_timeout = 300ms\n[log]\naccess = off\n",
             port);
    cr_assert_eq(test_server_start(&server, ini, NULL), 0);
}

static void request(const char *method, const char *path, const char *const headers[], const char *body,
                    struct http_result *r)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", server.base_url, path);
    cr_assert_eq(http_do(method, url, headers, body, body ? strlen(body) : 0, r), 0);
}

static void expect_header(const struct http_result *r, const char *name, const char *value)
{
    char buf[256];
    const char *got = http_header_value(r, name, buf, sizeof buf);
    if (value)
        cr_expect(got && strcmp(got, value) == 0, "%s: %s (want %s)", name, got ? got : "(absent)", value);
    else
        cr_expect_null(got, "%s must not be relayed", name);
}

/* ------------------------------------------------------------------ tests */

Test(api_proxy, forwards_request_and_streams_response, .fini = stop_server)
{
    start_with_upstream(upstream_start(true));
    const char *headers[] = {"X-Custom: 1", "Connection: X-Drop", "X-Drop: 2", "X-Forwarded-For: 10.0.0.1",
                             "X-Forwarded-For: 10.0.0.2", "Content-Type: text/plain", NULL};
    struct http_result r;
    request("POST", "/api/echo/a%2Fb?x=%20y&z=1", headers, "payload", &r);
    cr_assert_eq(r.status, 201, "%.300s", r.body);
    expect_header(&r, "X-Upstream", "yes");
    expect_header(&r, "X-Path", "/api/echo/a%2Fb?x=%20y&z=1");
    expect_header(&r, "X-Hop", NULL);
    expect_header(&r, "Keep-Alive", NULL);
    expect_header(&r, "Cache-Control", "no-store");
    cr_expect(strstr(r.body, "POST /api/echo/a%2Fb?x=%20y&z=1 HTTP/1.1\r\n"), "%s", r.body);
    cr_expect(strstr(r.body, "\r\nX-Custom: 1\r\n"));
    cr_expect_null(strstr(r.body, "X-Drop"), "hop-by-hop header forwarded: %s", r.body);
    cr_expect(strstr(r.body, "\r\nX-Forwarded-For: 10.0.0.1, 10.0.0.2, 127.0.0.1\r\n"), "%s", r.body);
    cr_expect(strstr(r.body, "\r\nX-Forwarded-Proto: http\r\n"));
    char host[64];
    snprintf(host, sizeof host, "\r\nX-Forwarded-Host: 127.0.0.1:%d\r\n", server.port);
    cr_expect(strstr(r.body, host), "%s", r.body);
    cr_expect(strstr(r.body, "\r\nContent-Length: 7\r\n"));
    cr_expect(strstr(r.body, "---\npayload"));
    http_result_free(&r);

    request("GET", "/api/chunked", NULL, NULL, &r);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body, "hello, world");
    http_result_free(&r);
    request("GET", "/api/close", NULL, NULL, &r);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body, "close-delimited body");
    expect_header(&r, "X-Upstream", "close");
    http_result_free(&r);
    /* The upstream keeps working after re-chunked and close-delimited bodies. */
    request("GET", "/api/echo", NULL, NULL, &r);
    cr_expect_eq(r.status, 201);
    http_result_free(&r);
}

Test(api_proxy, owned_routes_are_never_forwarded, .fini = stop_server)
{
    start_with_upstream(upstream_start(true));
    int before = atomic_load(&upstream_requests);
    struct http_result r;
    request("GET", "/api/conversations/123e4567-e89b-12d3-a456-426614174000/other", NULL, NULL, &r);
    cr_expect_eq(r.status, 404);
    http_result_free(&r);
    request("GET", "/api/preferences", NULL, NULL, &r);
    cr_expect_eq(r.status, 401);
    http_result_free(&r);
    request("GET", "/api/health", NULL, NULL, &r);
    cr_expect_eq(r.status, 503);
    http_result_free(&r);
    /* Spellings an upstream would route to the same place: percent-encoded, another case,
     * doubled slashes, a ";param" (Tomcat), a backslash (IIS). */
    const char *aliases[] = {"/api/%63onversations", "/api/Conversations", "/api//preferences/theme",
                             "/api/conversations;jsessionid=1", "/api/me;x", "/api/AUTH/sign-in",
                             "/api/%5cpreferences", "/api/%68ealth"};
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        request("GET", aliases[i], NULL, NULL, &r);
        cr_expect_eq(r.status, 404, "%s: %ld %s", aliases[i], r.status, r.body);
        http_result_free(&r);
    }
    /* A format suffix: Rails routes /api/conversations.json to conversations#index, Spring's
     * suffix matching and IIS (a trailing dot) do the like. */
    const char *suffixed[] = {"/api/conversations.json", "/api/me.json", "/api/preferences.xml", "/api/me.",
                              "/api/health%2ephp"};
    for (size_t i = 0; i < sizeof suffixed / sizeof suffixed[0]; i++) {
        request("GET", suffixed[i], NULL, NULL, &r);
        cr_expect_eq(r.status, 404, "%s: %ld %s", suffixed[i], r.status, r.body);
        http_result_free(&r);
    }
    cr_expect_eq(atomic_load(&upstream_requests), before);
    /* Routes that only start with the same letters are the upstream's. */
    const char *theirs[] = {"/api/healthz", "/api/authors", "/api/meetings", "/api/preferences2"};
    for (size_t i = 0; i < sizeof theirs / sizeof theirs[0]; i++) {
        request("GET", theirs[i], NULL, NULL, &r);
        cr_expect_eq(r.status, 201, "%s: %ld %s", theirs[i], r.status, r.body);
        http_result_free(&r);
    }
}

Test(api_proxy, upstream_down_is_502_and_garbage_is_502, .fini = stop_server)
{
    start_with_upstream(upstream_start(false));
    struct http_result r;
    request("GET", "/api/anything", NULL, NULL, &r);
    cr_expect_eq(r.status, 502);
    cr_expect(strstr(r.body, "\"upstream_unavailable\""), "%s", r.body);
    expect_header(&r, "Cache-Control", "no-store");
    http_result_free(&r);
    stop_server();
    start_with_upstream(upstream_start(true));
    request("GET", "/api/garbage", NULL, NULL, &r);
    cr_expect_eq(r.status, 502);
    cr_expect(strstr(r.body, "\"bad_gateway\""), "%s", r.body);
    http_result_free(&r);
}

Test(api_proxy, slow_upstream_is_504, .fini = stop_server)
{
    start_with_upstream(upstream_start(true));
    struct http_result r;
    request("GET", "/api/slow", NULL, NULL, &r);
    cr_expect_eq(r.status, 504);
    cr_expect(strstr(r.body, "\"upstream_timeout\""), "%s", r.body);
    http_result_free(&r);
}

/* ------------------------------------------------------------------ no database */

Test(api_nodb, without_database_routes_are_503, .fini = stop_server)
{
    cr_assert_eq(test_server_start(&server, "[log]\naccess = off\n", NULL), 0);
    const char *auth[] = {"Authorization: Bearer 00000000000000000000000000000000000000000000000000000000000000aa", NULL};
    struct http_result r;
    request("GET", "/api/preferences", auth, NULL, &r);
    cr_expect_eq(r.status, 503);
    cr_expect(strstr(r.body, "\"db_unavailable\""), "%s", r.body);
    expect_header(&r, "Retry-After", "1");
    http_result_free(&r);
    request("GET", "/api/health", NULL, NULL, &r);
    cr_expect_eq(r.status, 503);
    cr_expect(strstr(r.body, "\"database\":\"down\""), "%s", r.body);
    http_result_free(&r);
    request("GET", "/api/unknown", NULL, NULL, &r);
    cr_expect_eq(r.status, 404, "no upstream: unknown routes are 404");
    http_result_free(&r);
}

Test(api_nodb, unreachable_database_is_503, .fini = stop_server)
{
    char ini[512];
    snprintf(ini, sizeof ini,
             "[database]\nurl = postgresql:///nothing?host=/tmp/tessera-no-such-socket-dir\nmigrate_on_start = off\n"
             "connect_timeout = 500ms\n[log]\naccess = off\n");
    cr_assert_eq(test_server_start(&server, ini, NULL), 0);
    const char *auth[] = {"Authorization: Bearer 00000000000000000000000000000000000000000000000000000000000000aa", NULL};
    struct http_result r;
    request("GET", "/api/conversations", auth, NULL, &r);
    cr_expect_eq(r.status, 503);
    cr_expect(strstr(r.body, "\"db_unavailable\""), "%s", r.body);
    http_result_free(&r);
    request("GET", "/api/health", NULL, NULL, &r);
    cr_expect_eq(r.status, 503);
    http_result_free(&r);
}

/* Two requests on one keep-alive connection: the re-chunked body must end exactly where the
 * chunked framing says, or the second response would be garbled. */
Test(api_proxy, rechunked_body_keeps_the_connection_usable, .fini = stop_server)
{
    start_with_upstream(upstream_start(true));
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)server.port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    const char *requests = "GET /api/chunked HTTP/1.1\r\nHost: t\r\n\r\n"
                           "GET /api/close HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    cr_assert_eq(write(fd, requests, strlen(requests)), (ssize_t)strlen(requests));
    char buf[16384];
    size_t len = 0;
    for (ssize_t n; len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0;)
        len += (size_t)n;
    buf[len] = '\0';
    close(fd);
    const char *first_body = strstr(buf, "\r\n\r\n");
    cr_assert(first_body, "%s", buf);
    cr_expect(strstr(buf, "Transfer-Encoding: chunked\r\n"), "%s", buf);
    const char *expected = "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\nHTTP/1.1 200";
    cr_expect_eq(strncmp(first_body + 4, expected, strlen(expected)), 0, "framing: %s", first_body + 4);
    cr_expect(strstr(buf, "\r\n\r\nclose-delimited body"), "%s", buf);
}

/* ------------------------------------------------------------------ raw exchanges */

/* Writes request bytes on a fresh connection and reads until the server closes or 3 s pass.
 * Returns true when the server closed the connection. */
static bool raw_exchange(const char *request, char *buf, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)server.port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    struct timeval tv = {.tv_sec = 3};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    cr_assert_eq(write(fd, request, strlen(request)), (ssize_t)strlen(request));
    size_t len = 0;
    ssize_t n = 0;
    while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    close(fd);
    return n == 0;
}

/* A body the upstream cut short cannot be completed, so the client connection must end with
 * it: kept open, the next response would be read as the rest of this body. */
Test(api_proxy, truncated_upstream_body_ends_the_client_connection, .fini = stop_server)
{
    start_with_upstream(upstream_start(true));
    const char *paths[] = {"/api/truncated", "/api/truncated-chunked"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char request[512], buf[16384];
        snprintf(request, sizeof request,
                 "GET %s HTTP/1.1\r\nHost: t\r\n\r\nGET /api/echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                 paths[i]);
        bool closed = raw_exchange(request, buf, sizeof buf);
        cr_expect(closed, "%s: the connection stayed open", paths[i]);
        cr_expect(strstr(buf, "HTTP/1.1 200 OK\r\n"), "%s: %s", paths[i], buf);
        cr_expect_null(strstr(buf, "X-Upstream: yes"), "%s: the next response was spliced in: %s", paths[i], buf);
    }
}

/* An upstream that normalises the path would route "/api/../admin" outside /api, and
 * "/api/x/../preferences" to a route tessera owns: dot segments are refused, encoded too. */
Test(api_proxy, dot_segments_never_reach_the_upstream, .fini = stop_server)
{
    start_with_upstream(upstream_start(true));
    const char *paths[] = {"/api/../admin", "/api/x/../../admin", "/api/%2e%2e/admin", "/api/.%2E/admin",
                           "/api/x/..%2fadmin", "/api/x/%2E%2E%5cadmin", "/api/./x", "/api/x/..", "/api/x/%2e",
                           "/api/x/../preferences?q=1", "/api/..;/admin", "/api/x/%2e%2e;jsessionid=1/admin"};
    int before = atomic_load(&upstream_requests);
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char request[512], buf[16384];
        snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", paths[i]);
        raw_exchange(request, buf, sizeof buf);
        cr_expect_eq(strncmp(buf, "HTTP/1.1 400 ", 13), 0, "%s: %.200s", paths[i], buf);
        cr_expect(strstr(buf, "\"invalid_path\""), "%s: %s", paths[i], buf);
    }
    cr_expect_eq(atomic_load(&upstream_requests), before, "a dot segment reached the upstream");
    /* Dots inside a segment, and encoded slashes without dot segments, are ordinary paths. */
    char buf[16384];
    raw_exchange("GET /api/echo/..x/.hidden/a%2Fb/x.. HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", buf,
                 sizeof buf);
    cr_expect(strstr(buf, "X-Path: /api/echo/..x/.hidden/a%2Fb/x..\r\n"), "%s", buf);
}

/* RFC 7239 Forwarded carries the same facts as X-Forwarded-*: an upstream that reads it must
 * get tessera's view, not elements a client wrote itself (for=, proto=https, host=). */
Test(api_proxy, forwarded_header_is_tesseras_own, .fini = stop_server)
{
    start_with_upstream(upstream_start(true));
    const char *headers[] = {"Forwarded: for=10.9.9.9;proto=https;host=evil.example",
                             "forwarded: for=\"[2001:db8::1]\"", "X-Forwarded-For: 10.0.0.1", NULL};
    struct http_result r;
    request("GET", "/api/echo", headers, NULL, &r);
    cr_assert_eq(r.status, 201, "%.300s", r.body);
    char want[128];
    snprintf(want, sizeof want, "\r\nForwarded: for=127.0.0.1;host=\"127.0.0.1:%d\";proto=http\r\n", server.port);
    cr_expect(strstr(r.body, want), "want %s in %s", want, r.body);
    cr_expect_null(strstr(r.body, "evil.example"), "%s", r.body);
    cr_expect_null(strstr(r.body, "10.9.9.9"), "%s", r.body);
    cr_expect_null(strcasestr(strstr(r.body, "Forwarded: for=127") + 1, "\nForwarded:"), "one line: %s", r.body);
    cr_expect_null(strstr(r.body, "2001:db8"), "%s", r.body);
    cr_expect(strstr(r.body, "\r\nX-Forwarded-For: 10.0.0.1, 127.0.0.1\r\n"), "%s", r.body);
    http_result_free(&r);
}

/* Other headers only a proxy sets, which common upstreams trust like X-Forwarded-Proto
 * (Rails: X-Forwarded-Ssl, X-Forwarded-Scheme; Werkzeug: X-Forwarded-Port, -Prefix; nginx
 * setups: X-Real-IP; IIS and Symfony route by X-Original-URL / X-Rewrite-URL, which would
 * reach an owned route past tessera's path checks): a client's are not relayed. */
Test(api_proxy, proxy_only_headers_from_the_client_are_dropped, .fini = stop_server)
{
    start_with_upstream(upstream_start(true));
    const char *headers[] = {"X-Real-IP: 10.6.6.6", "X-Forwarded-Ssl: on", "X-Forwarded-Scheme: https",
                             "X-Forwarded-Port: 443", "X-Forwarded-Prefix: /admin", "X-Forwarded-Server: evil",
                             "Front-End-Https: on", "X-Url-Scheme: https", "X-Original-URL: /api/conversations",
                             "X-Rewrite-URL: /api/preferences", "X-Kept: yes", NULL};
    struct http_result r;
    request("GET", "/api/echo", headers, NULL, &r);
    cr_assert_eq(r.status, 201, "%.300s", r.body);
    const char *dropped[] = {"X-Real-IP", "X-Forwarded-Ssl", "X-Forwarded-Scheme", "X-Forwarded-Port",
                             "X-Forwarded-Prefix", "X-Forwarded-Server", "Front-End-Https", "X-Url-Scheme",
                             "X-Original-URL", "X-Rewrite-URL"};
    for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, "\r\n%s:", dropped[i]);
        cr_expect_null(strcasestr(r.body, line), "%s relayed: %s", dropped[i], r.body);
    }
    cr_expect(strstr(r.body, "\r\nX-Kept: yes\r\n"), "%s", r.body);
    http_result_free(&r);
}

/* Host is relayed as Host and X-Forwarded-Host: a second Host line or a value that is not
 * host[:port] would let the upstream see another host than the one tessera reports. */
Test(api_proxy, host_header_must_be_one_plain_host, .fini = stop_server)
{
    start_with_upstream(upstream_start(true));
    const char *heads[] = {"Host: good.example\r\nHost: evil.example", "Host: good.example, evil.example",
                           "Host: good.example/x", "Host: user@good.example"};
    int before = atomic_load(&upstream_requests);
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        char request[512], buf[16384];
        snprintf(request, sizeof request, "GET /api/echo HTTP/1.1\r\n%s\r\nConnection: close\r\n\r\n", heads[i]);
        raw_exchange(request, buf, sizeof buf);
        cr_expect_eq(strncmp(buf, "HTTP/1.1 400 ", 13), 0, "%s: %.200s", heads[i], buf);
        cr_expect(strstr(buf, "\"invalid_host\""), "%s: %s", heads[i], buf);
    }
    cr_expect_eq(atomic_load(&upstream_requests), before);
    char buf[16384];
    raw_exchange("GET /api/echo HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\n\r\n", buf, sizeof buf);
    cr_expect(strstr(buf, "\r\nX-Forwarded-Host: [::1]:8080\r\n"), "%s", buf);
}

/* curl and PHP send large bodies with Expect: 100-continue and wait (curl: 1 s) for the
 * interim answer before sending the body. */
Test(api_proxy, expect_100_continue_is_answered, .fini = stop_server)
{
    start_with_upstream(upstream_start(true));
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)server.port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const char *head = "POST /api/echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 7\r\n"
                       "Connection: close\r\n\r\n";
    cr_assert_eq(write(fd, head, strlen(head)), (ssize_t)strlen(head));
    char buf[16384];
    ssize_t n = read(fd, buf, 25);
    buf[n > 0 ? n : 0] = '\0';
    cr_expect_str_eq(buf, "HTTP/1.1 100 Continue\r\n\r\n");
    cr_assert_eq(send(fd, "payload", 7, MSG_NOSIGNAL), 7);
    size_t len = 0;
    while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    close(fd);
    cr_expect(strstr(buf, "HTTP/1.1 201 Created\r\n"), "%s", buf);
    cr_expect(strstr(buf, "---\npayload"), "%s", buf);
    cr_expect_null(strstr(buf, "Expect:"), "Expect forwarded: %s", buf);
}

/* HTTP/1.0 has no chunked encoding: a keep-alive HTTP/1.0 client gets a close-delimited body. */
Test(api_proxy, http10_client_gets_no_chunks, .fini = stop_server)
{
    start_with_upstream(upstream_start(true));
    char buf[16384];
    bool closed = raw_exchange("GET /api/chunked HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", buf, sizeof buf);
    cr_expect(closed, "the connection stayed open: %s", buf);
    cr_expect_null(strstr(buf, "Transfer-Encoding"), "%s", buf);
    const char *body = strstr(buf, "\r\n\r\n");
    cr_assert(body, "%s", buf);
    cr_expect_str_eq(body + 4, "hello, world");
}

/* A Content-Length that is not one plain number cannot frame the body: 502, not a guess. */
Test(api_proxy, ambiguous_upstream_length_is_502, .fini = stop_server)
{
    start_with_upstream(upstream_start(true));
    const char *paths[] = {"/api/conflicting-length", "/api/junk-length"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct http_result r;
        request("GET", paths[i], NULL, NULL, &r);
        cr_expect_eq(r.status, 502, "%s: %ld %s", paths[i], r.status, r.body);
        cr_expect(strstr(r.body, "\"bad_gateway\""), "%s: %s", paths[i], r.body);
        http_result_free(&r);
    }
}

/* The client's upload is not the upstream's time: a body that takes longer than
 * upstream_timeout (300 ms here) to arrive must still get the upstream's prompt answer,
 * not a 504 for a request the upstream has already handled. */
Test(api_proxy, slow_upload_is_not_an_upstream_timeout, .fini = stop_server)
{
    start_with_upstream(upstream_start(true));
    int fd = test_connect(server.port, 3);
    const char *head = "POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 7\r\nConnection: close\r\n\r\n";
    cr_assert_eq(write(fd, head, strlen(head)), (ssize_t)strlen(head));
    const char *pieces[] = {"pa", "yl", "oa", "d"};
    for (size_t i = 0; i < 4; i++) {
        usleep(200 * 1000);
        cr_assert_eq(send(fd, pieces[i], strlen(pieces[i]), MSG_NOSIGNAL), (ssize_t)strlen(pieces[i]));
    }
    char buf[16384];
    test_read_all(fd, buf, sizeof buf);
    close(fd);
    cr_expect(strstr(buf, "HTTP/1.1 201 Created\r\n"), "%s", buf);
    cr_expect(strstr(buf, "---\npayload"), "%s", buf);
}

/* An upstream that refuses a body early (413, 401) and closes without reading it: its
 * answer is the one the client gets, not 502. */
Test(api_proxy, early_upstream_answer_is_relayed, .fini = stop_server)
{
    start_with_upstream(upstream_start(true));
    size_t size = 4 << 20;
    char *body = malloc(size);
    memset(body, 'x', size);
    char url[512];
    snprintf(url, sizeof url, "%s/api/early-413", server.base_url);
    const char *headers[] = {"Content-Type: application/octet-stream", NULL};
    struct http_result r;
    http_do("POST", url, headers, body, size, &r);
    free(body);
    cr_expect_eq(r.status, 413, "%ld %s", r.status, r.body ? r.body : "");
    cr_expect(r.body && strcmp(r.body, "too big!") == 0, "%s", r.body ? r.body : "");
    http_result_free(&r);
}
