/* The upstream proxy against a small HTTP server run by the test on 127.0.0.1, and the
 * database-unavailable answers. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
                             "Content-Type: text/plain", NULL};
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
    cr_expect(strstr(r.body, "\r\nX-Forwarded-For: 10.0.0.1, 127.0.0.1\r\n"), "%s", r.body);
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
    cr_expect_eq(atomic_load(&upstream_requests), before);
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
