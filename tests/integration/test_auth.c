/* Session auth end to end: the CLI makes users and sessions, a real server signs in and out. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "tessera/auth.h"

struct fixture {
    char *url;
    struct test_server ts;
};

static int cli(const char *url, const char *const args[], const char *in, char **out, char **err)
{
    setenv("TESSERA_DATABASE_URL", url, 1);
    return test_run_tessera(args, in, out, err);
}

static void start(struct fixture *f, const char *api_extra)
{
    f->url = test_db_create();
    cr_assert(f->url);
    char ini[1024];
    snprintf(ini, sizeof ini, "[database]\nurl = %s\n[api]\n%s", f->url, api_extra ? api_extra : "");
    cr_assert_eq(test_server_start(&f->ts, ini, NULL), 0);
    char *err = NULL;
    cr_assert_eq(cli(f->url, (const char *[]){"user", "add", "Alice@Example.com", "--name", "Alice", "--config",
                                              "/dev/null", NULL},
                     "correct horse battery\n", NULL, &err),
                 0, "%s", err);
    free(err);
}

/* Run as .fini, so a failed assertion does not leave a server behind. */
static struct fixture f;
static void stop(void)
{
    if (f.ts.pid > 0)
        test_server_stop(&f.ts);
    free(f.url);
    f.url = NULL;
}

static long sign_in(struct fixture *f, const char *email, const char *password, const char *extra_header,
                    struct http_result *r)
{
    char url[128], body[256];
    snprintf(url, sizeof url, "%s/api/auth/sign-in", f->ts.base_url);
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", email, password);
    const char *headers[] = {"Content-Type: application/json", extra_header, NULL};
    cr_assert_eq(http_do("POST", url, headers, body, strlen(body), r), 0);
    return r->status;
}

/* The token from Set-Cookie, or "" */
static void cookie_token(const struct http_result *r, char token[65], char *cookie, size_t size)
{
    const char *v = http_header_value(r, "Set-Cookie", cookie, size);
    token[0] = '\0';
    if (v && strncmp(v, "tessera_session=", 16) == 0 && strlen(v) >= 16 + 64) {
        memcpy(token, v + 16, 64);
        token[64] = '\0';
    }
}

static long get_me(struct fixture *f, const char *header, struct http_result *r)
{
    char url[128];
    snprintf(url, sizeof url, "%s/api/me", f->ts.base_url);
    const char *headers[] = {header, NULL};
    cr_assert_eq(http_do("GET", url, header ? headers : NULL, NULL, 0, r), 0);
    return r->status;
}

Test(auth, sign_in_sets_a_safe_cookie_and_me_answers, .fini = stop)
{
    start(&f, NULL);
    struct http_result r;
    cr_assert_eq(sign_in(&f, "alice@example.com", "correct horse battery", NULL, &r), 200, "%s", r.body);
    cr_assert(strstr(r.body, "\"email\" : \"alice@example.com\"") || strstr(r.body, "\"email\":\"alice@example.com\""),
              "%s", r.body);
    char cookie[256], token[65];
    cookie_token(&r, token, cookie, sizeof cookie);
    cr_assert_eq(strlen(token), 64, "Set-Cookie: %s", cookie);
    cr_assert(strstr(cookie, "; HttpOnly"), "%s", cookie);
    cr_assert(strstr(cookie, "; SameSite=Lax"), "%s", cookie);
    cr_assert(strstr(cookie, "; Path=/"), "%s", cookie);
    cr_assert(strstr(cookie, "; Max-Age=604800"), "%s", cookie);
    cr_assert_null(strstr(cookie, "Secure"), "plain HTTP, secure_cookie = auto: %s", cookie);
    char cc[128];
    cr_assert_str_eq(http_header_value(&r, "Cache-Control", cc, sizeof cc), "no-store");
    http_result_free(&r);

    char hdr[128];
    snprintf(hdr, sizeof hdr, "Cookie: theme=x; tessera_session=%s", token);
    cr_assert_eq(get_me(&f, hdr, &r), 200);
    cr_assert(strstr(r.body, "Alice"), "%s", r.body);
    http_result_free(&r);
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", token);
    cr_assert_eq(get_me(&f, hdr, &r), 200);
    http_result_free(&r);
    cr_assert_eq(get_me(&f, NULL, &r), 401);
    http_result_free(&r);

    /* Behind a TLS-terminating proxy the cookie is Secure. */
    cr_assert_eq(sign_in(&f, "alice@example.com", "correct horse battery", "X-Forwarded-Proto: https", &r), 200);
    cookie_token(&r, token, cookie, sizeof cookie);
    cr_assert(strstr(cookie, "; Secure"), "%s", cookie);
    http_result_free(&r);
}

Test(auth, wrong_password_and_unknown_email_look_the_same, .fini = stop)
{
    start(&f, NULL);
    struct http_result wrong, unknown;
    cr_assert_eq(sign_in(&f, "alice@example.com", "not the password", NULL, &wrong), 401);
    cr_assert_eq(sign_in(&f, "nobody@example.com", "not the password", NULL, &unknown), 401);
    cr_assert_str_eq(wrong.body, unknown.body);
    char buf[64];
    cr_assert_null(http_header_value(&wrong, "Set-Cookie", buf, sizeof buf));
    http_result_free(&wrong);
    http_result_free(&unknown);
    char *n = test_db_scalar(f.url, "SELECT count(*) FROM sessions");
    cr_assert_str_eq(n, "0");
    free(n);
}

Test(auth, token_is_stored_only_as_its_sha256, .fini = stop)
{
    start(&f, NULL);
    struct http_result r;
    cr_assert_eq(sign_in(&f, "alice@example.com", "correct horse battery", NULL, &r), 200);
    char cookie[256], token[65];
    cookie_token(&r, token, cookie, sizeof cookie);
    http_result_free(&r);
    char expect[65];
    cr_assert(auth_token_hash(token, expect));
    char *stored = test_db_scalar(f.url, "SELECT encode(token_hash, 'hex') FROM sessions");
    cr_assert_str_eq(stored, expect);
    free(stored);
    /* The clear token appears in no column of the table. */
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM sessions s WHERE position('%s' in s::text) > 0"
                              " OR position(decode('%s', 'hex') in token_hash) > 0", token, token);
    char *found = test_db_scalar(f.url, sql);
    cr_assert_str_eq(found, "0");
    free(found);
}

Test(auth, expired_session_is_401, .fini = stop)
{
    start(&f, NULL);
    char *out = NULL, *err = NULL;
    cr_assert_eq(cli(f.url, (const char *[]){"session", "new", "alice@example.com", "--ttl", "1h", "--config",
                                             "/dev/null", NULL},
                     NULL, &out, &err),
                 0, "%s", err);
    out[strcspn(out, "\n")] = '\0';
    cr_assert_eq(strlen(out), 64, "%s", out);
    char hdr[128];
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", out);
    struct http_result r;
    cr_assert_eq(get_me(&f, hdr, &r), 200);
    http_result_free(&r);
    free(test_db_scalar(f.url, "UPDATE sessions SET expires_at = now() - interval '1 second'"));
    cr_assert_eq(get_me(&f, hdr, &r), 401);
    http_result_free(&r);
    free(out);
    free(err);
}

Test(auth, sign_out_needs_same_origin_and_deletes_the_row, .fini = stop)
{
    start(&f, NULL);
    struct http_result r;
    cr_assert_eq(sign_in(&f, "alice@example.com", "correct horse battery", NULL, &r), 200);
    char cookie[256], token[65];
    cookie_token(&r, token, cookie, sizeof cookie);
    http_result_free(&r);
    char url[128], c_hdr[128], origin[128], host[128];
    snprintf(url, sizeof url, "%s/api/auth/sign-out", f.ts.base_url);
    snprintf(c_hdr, sizeof c_hdr, "Cookie: tessera_session=%s", token);
    snprintf(origin, sizeof origin, "Origin: %s", f.ts.base_url);
    snprintf(host, sizeof host, "Host: 127.0.0.1:%d", f.ts.port);
    const char *cross[] = {c_hdr, "Origin: https://evil.example", NULL};
    cr_assert_eq(http_do("POST", url, cross, NULL, 0, &r), 0);
    cr_assert_eq(r.status, 403);
    /* The documented code of every cookie write without same-origin proof (docs/API.md). */
    cr_expect(strstr(r.body, "\"code\":\"cross_origin\""), "%s", r.body);
    http_result_free(&r);
    cr_assert_eq(sign_in(&f, "alice@example.com", "correct horse battery", "Origin: https://evil.example", &r), 403);
    cr_expect(strstr(r.body, "\"code\":\"cross_origin\""), "%s", r.body);
    http_result_free(&r);
    const char *same[] = {c_hdr, origin, host, NULL};
    cr_assert_eq(http_do("POST", url, same, NULL, 0, &r), 0);
    cr_assert_eq(r.status, 204);
    cr_assert(strstr(http_header_value(&r, "Set-Cookie", cookie, sizeof cookie), "Max-Age=0"), "cookie cleared");
    http_result_free(&r);
    char *n = test_db_scalar(f.url, "SELECT count(*) FROM sessions");
    cr_assert_str_eq(n, "0");
    free(n);
    cr_assert_eq(get_me(&f, c_hdr, &r), 401);
    http_result_free(&r);
}

Test(auth, cli_user_add_twice_is_an_error_unless_updating, .fini = stop)
{
    start(&f, NULL);
    char *out = NULL, *err = NULL;
    const char *add[] = {"user", "add", "alice@example.com", "--config", "/dev/null", NULL};
    cr_assert_eq(cli(f.url, add, "another password\n", &out, &err), 1);
    cr_assert(strstr(err, "already exists"), "%s", err);
    free(out);
    free(err);
    const char *update[] = {"user", "add", "alice@example.com", "--update-password", "--config", "/dev/null", NULL};
    cr_assert_eq(cli(f.url, update, "another password\n", &out, &err), 0, "%s", err);
    free(out);
    free(err);
    struct http_result r;
    cr_assert_eq(sign_in(&f, "alice@example.com", "correct horse battery", NULL, &r), 401);
    http_result_free(&r);
    cr_assert_eq(sign_in(&f, "alice@example.com", "another password", NULL, &r), 200);
    http_result_free(&r);
    const char *short_pw[] = {"user", "add", "bob@example.com", "--config", "/dev/null", NULL};
    cr_assert_eq(cli(f.url, short_pw, "short\n", &out, &err), 1, "passwords under 8 characters are refused");
    free(out);
    free(err);
    char *hash = test_db_scalar(f.url, "SELECT password FROM accounts");
    cr_assert(strncmp(hash, "$argon2id$", 10) == 0, "%s", hash);
    free(hash);
}

Test(auth, no_database_means_503_for_auth_routes)
{
    struct test_server ts;
    cr_assert_eq(test_server_start(&ts, NULL, NULL), 0);
    char url[128];
    snprintf(url, sizeof url, "%s/api/me", ts.base_url);
    struct http_result r;
    const char *h[] = {"Authorization: Bearer 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", NULL};
    cr_assert_eq(http_do("GET", url, h, NULL, 0, &r), 0);
    cr_assert_eq(r.status, 503);
    cr_assert(strstr(r.body, "db_unavailable"), "%s", r.body);
    http_result_free(&r);
    test_server_stop(&ts);
}

/* A database that accepts TCP and never answers: 503 db_unavailable within connect_timeout
 * + 1 s, and the rest of the server keeps answering. */
Test(auth, silent_database_is_503_within_connect_timeout, .timeout = 30)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, 64), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    char ini[512];
    snprintf(ini, sizeof ini,
             "[database]\nurl = postgresql://tessera@127.0.0.1:%d/x?sslmode=disable\nconnect_timeout = 1s\n"
             "migrate_on_start = off\n",
             ntohs(a.sin_port));
    struct test_server ts;
    cr_assert_eq(test_server_start(&ts, ini, NULL), 0);
    char url[128];
    snprintf(url, sizeof url, "%s/api/me", ts.base_url);
    const char *h[] = {"Authorization: Bearer 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", NULL};
    struct http_result r;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_assert_eq(http_do("GET", url, h, NULL, 0, &r), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_assert_eq(r.status, 503);
    cr_assert(strstr(r.body, "db_unavailable"), "%s", r.body);
    char ra[16];
    cr_assert(http_header_value(&r, "Retry-After", ra, sizeof ra));
    cr_assert_lt(took, 2.0, "took %.2f s", took);
    http_result_free(&r);
    snprintf(url, sizeof url, "%s/healthz", ts.base_url);
    cr_assert_eq(http_get(url, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    http_result_free(&r);
    test_server_stop(&ts);
    close(fd);
}

/* sessions.user_agent is text in a UTF-8 database: a Latin-1 User-Agent, or a long one cut
 * through a character, must not fail the sign-in; what is stored is valid UTF-8. */
Test(auth, odd_user_agents_do_not_break_sign_in, .fini = stop)
{
    start(&f, NULL);
    char long_ua[700];
    int n = snprintf(long_ua, sizeof long_ua, "User-Agent: ");
    for (int i = 0; i < 510; i++)
        long_ua[n++] = 'a';
    for (int i = 0; i < 10; i++) {
        long_ua[n++] = (char)0xc3; /* é */
        long_ua[n++] = (char)0xa9;
    }
    long_ua[n] = '\0';
    const char *agents[] = {"User-Agent: caf\xe9 (Latin-1)", long_ua, "User-Agent: \xed\xa0\x80 surrogate"};
    for (size_t i = 0; i < sizeof agents / sizeof agents[0]; i++) {
        struct http_result r;
        cr_expect_eq(sign_in(&f, "alice@example.com", "correct horse battery", agents[i], &r), 200, "%zu: %s", i,
                     r.body);
        http_result_free(&r);
    }
    char *stored = test_db_scalar(f.url, "SELECT user_agent FROM sessions WHERE user_agent LIKE 'caf%'");
    cr_expect_str_eq(stored, "caf? (Latin-1)");
    free(stored);
    stored = test_db_scalar(f.url, "SELECT octet_length(user_agent) FROM sessions WHERE user_agent LIKE 'aaa%'");
    cr_expect_str_eq(stored, "510", "cut before the character that does not fit whole");
    free(stored);
}

/* Password checks are bounded to a few at once (a slot each, CPUs many). A client that sends
 * the sign-in head and then trickles its body must not hold a slot meanwhile: a handful of
 * such connections would keep every user from signing in. Eight stalled bodies, then a real
 * sign-in: it must get through, not wait for a slot and be told 503 busy. */
Test(auth, stalled_sign_in_bodies_do_not_hold_the_verification_slots, .fini = stop, .timeout = 60)
{
    start(&f, NULL);
    enum { STALLED = 8 };
    int fds[STALLED];
    for (int i = 0; i < STALLED; i++) {
        fds[i] = test_connect(f.ts.port, 0);
        const char *head = "POST /api/auth/sign-in HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                           "Content-Length: 200\r\n\r\n{\"email\":";
        cr_assert_eq(write(fds[i], head, strlen(head)), (ssize_t)strlen(head));
    }
    struct timespec pause = {.tv_nsec = 300 * 1000000L}; /* the stalled requests reach their handlers */
    nanosleep(&pause, NULL);
    struct http_result r;
    long status = sign_in(&f, "alice@example.com", "correct horse battery", NULL, &r);
    cr_expect_eq(status, 200, "%ld %s", status, r.body);
    http_result_free(&r);
    for (int i = 0; i < STALLED; i++) close(fds[i]);
}
