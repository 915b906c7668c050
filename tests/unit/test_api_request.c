/* api_request and proxy pure helpers: preference keys, query parameters, upstream URLs,
 * hop-by-hop headers, status lines. */
#include <criterion/criterion.h>
#include <string.h>

#include "tessera/api_request.h"
#include "tessera/proxy.h"
#include "tessera/utf8.h"

Test(api_request, preference_keys)
{
    const char *good[] = {"theme", "a", "ui.sidebar-width_2", "x0", "a.b.c"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_expect(api_key_valid(good[i]), "%s", good[i]);
    char longest[65];
    memset(longest, 'k', 64);
    longest[64] = '\0';
    cr_expect(api_key_valid(longest), "64 characters are allowed");
    char too_long[66];
    memset(too_long, 'k', 65);
    too_long[65] = '\0';
    cr_expect_not(api_key_valid(too_long));
    const char *bad[] = {"", "Theme", "1theme", "_x", ".x", "-x", "a b", "a/b", "caf\xc3\xa9", "a\n", "a%20"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_not(api_key_valid(bad[i]), "%s", bad[i]);
    cr_expect_not(api_key_valid(NULL));
}

Test(api_request, query_lookup)
{
    char out[32];
    cr_expect_eq(api_query_lookup("limit=5&cursor=abc", "cursor", out, sizeof out), 1);
    cr_expect_str_eq(out, "abc");
    cr_expect_eq(api_query_lookup("xlimit=5", "limit", out, sizeof out), 0);
    cr_expect_eq(api_query_lookup(NULL, "limit", out, sizeof out), 0);
    cr_expect_eq(api_query_lookup("limit", "limit", out, sizeof out), 1);
    cr_expect_str_eq(out, "");
    cr_expect_eq(api_query_lookup("limit=%zz", "limit", out, sizeof out), -1);
    cr_expect_eq(api_query_lookup("limit=%00", "limit", out, sizeof out), -1);
    cr_expect_eq(api_query_lookup("limit=123456789", "limit", out, 4), -1);
    cr_expect_eq(api_query_lookup("a=1&archived=tr%75e", "archived", out, sizeof out), 1);
    cr_expect_str_eq(out, "true");
    cr_expect(api_query_param("a=1", "a", out, sizeof out));
}

static json_t *parse(const char *body, struct api_body_problem *problem)
{
    static const struct api_field fields[] = {
        {"title", API_FIELD_STRING, true, 8},
        {"archived", API_FIELD_BOOL, false, 0},
        {"value", API_FIELD_ANY, false, 16},
    };
    return api_parse_json_object(body, strlen(body), fields, 3, problem);
}

Test(api_request, json_bodies)
{
    struct api_body_problem problem;
    json_t *root = parse("{\"title\":\"trip\",\"archived\":false,\"value\":[1,2]}", &problem);
    cr_assert_not_null(root);
    cr_expect_str_eq(json_string_value(json_object_get(root, "title")), "trip");
    json_decref(root);
    const struct {
        const char *body, *code, *field;
    } refused[] = {
        {"", "invalid_json", NULL},
        {"[1]", "invalid_json", NULL},
        {"{\"title\":\"a\",\"title\":\"b\"}", "invalid_json", NULL},
        {"{\"title\":\"a\",\"colour\":1}", "unknown_field", "colour"},
        {"{\"title\":1}", "invalid_field", "title"},
        {"{\"title\":\"nine char\"}", "invalid_field", "title"},
        {"{\"title\":\"a\",\"archived\":\"yes\"}", "invalid_field", "archived"},
        {"{\"title\":\"a\",\"value\":\"seventeen bytes\"}", "invalid_field", "value"},
        {"{\"archived\":true}", "missing_field", "title"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        cr_expect_null(parse(refused[i].body, &problem), "%s", refused[i].body);
        cr_expect_str_eq(problem.code, refused[i].code, "%s", refused[i].body);
        if (refused[i].field)
            cr_expect_str_eq(problem.field, refused[i].field, "%s", refused[i].body);
        else
            cr_expect_null(problem.field, "%s", refused[i].body);
        cr_expect_neq(problem.message[0], '\0');
        api_body_problem_clear(&problem);
    }
}

/* Bodies that were refused without naming the field at fault, or refused at all, although
 * nothing was wrong with them. */
Test(api_request, json_bodies_name_the_field)
{
    struct api_body_problem problem;
    const struct {
        const char *body, *code, *field;
    } refused[] = {
        {"{\"title\":\"a\\u0000b\"}", "invalid_field", "title"},
        {"{\"title\":\"a\",\"value\":{\"k\":[\"\\u0000\"]}}", "invalid_field", "value"},
        {"{\"title\":\"a\",\"value\":123456789012345678901234567890}", "invalid_field", "value"},
        {"{\"title\":\"a\",\"value\":[-123456789012345678901234567890]}", "invalid_field", "value"},
        {"{\"title\":\"a\",\"value\":{\"x\":1e400}}", "invalid_field", "value"},
        {"{\"title\":1e400}", "invalid_field", "title"},
        {"{\"title\":\"a\",\"huge\":99999999999999999999}", "unknown_field", "huge"},
        {"{\"title\":\"a\",\"value\":\"\\\"{\",\"x\":1e999}", "unknown_field", "x"},
        {"99999999999999999999", "invalid_json", NULL},
        {"{\"a\\u0000\":1}", "invalid_json", NULL},
        {"{\"title\":\"\\ud800\"}", "invalid_json", NULL},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        cr_expect_null(parse(refused[i].body, &problem), "%s", refused[i].body);
        cr_expect_str_eq(problem.code, refused[i].code, "%s: %s", refused[i].body, problem.message);
        if (refused[i].field)
            cr_expect(problem.field && strcmp(problem.field, refused[i].field) == 0, "%s: %s", refused[i].body,
                      problem.field ? problem.field : "(none)");
        else
            cr_expect_null(problem.field, "%s", refused[i].body);
        cr_expect_null(strstr(problem.message, "JSON_ALLOW_NUL"), "%s", problem.message);
        api_body_problem_clear(&problem);
    }
    /* RFC 8259 lets a parser ignore a byte order mark; Windows tools write one. */
    json_t *root = parse("\xef\xbb\xbf{\"title\":\"bom\"}", &problem);
    cr_assert_not_null(root, "%s", problem.message);
    json_decref(root);
}

/* A worker thread's stack is small (CivetWeb's, about 100 KiB): jansson's recursive dump of a
 * value nested 500 deep overran it and the whole server died. Bodies nested deeper than
 * API_JSON_DEPTH_MAX are refused before jansson sees them. */
Test(api_request, deep_nesting_is_refused_before_parsing)
{
    struct api_body_problem problem;
    static char body[16384]; /* the deepest case below takes about 12 KiB */
    const struct {
        int depth;
        const char *open, *close, *prefix, *code, *field;
    } cases[] = {
        {API_JSON_DEPTH_MAX, "[", "]", "{\"title\":\"a\",\"value\":", NULL, NULL},
        {API_JSON_DEPTH_MAX + 1, "[", "]", "{\"title\":\"a\",\"value\":", "invalid_field", "value"},
        {2000, "{\"k\":", "}", "{\"title\":\"a\",\"value\":", "invalid_field", "value"},
        {1000, "[", "]", "{\"title\":\"]]]]\",\"zz\":", "unknown_field", "zz"},
        {1000, "[", "]", "", "invalid_json", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = (size_t)snprintf(body, sizeof body, "%s", cases[i].prefix);
        for (int d = 1; d < cases[i].depth; d++) /* the body object is one level */
            n += (size_t)snprintf(body + n, sizeof body - n, "%s", cases[i].open);
        for (int d = 1; d < cases[i].depth; d++)
            n += (size_t)snprintf(body + n, sizeof body - n, "%s", cases[i].close);
        snprintf(body + n, sizeof body - n, "%s", cases[i].prefix[0] ? "}" : "");
        if (cases[i].depth == 1000 && !cases[i].prefix[0]) { /* a bare array, no object */
            memset(body, '[', 1000);
            body[1000] = '\0';
        }
        json_t *root = api_parse_json_object(body, strlen(body),
                                             (const struct api_field[]){{"title", API_FIELD_STRING, true, 0},
                                                                        {"value", API_FIELD_ANY, false, 0}},
                                             2, &problem);
        if (!cases[i].code) {
            cr_expect_not_null(root, "depth %d: %s", cases[i].depth, problem.message);
            json_decref(root);
            continue;
        }
        cr_expect_null(root, "depth %d", cases[i].depth);
        cr_expect_str_eq(problem.code, cases[i].code, "depth %d: %s", cases[i].depth, problem.message);
        if (cases[i].field)
            cr_expect(problem.field && strcmp(problem.field, cases[i].field) == 0, "depth %d: %s", cases[i].depth,
                      problem.field ? problem.field : "(none)");
        api_body_problem_clear(&problem);
    }
}

/* The message quotes at most 64 bytes of an unknown key: cut inside a character, the error
 * body was not UTF-8 and clients failed to parse it. */
Test(api_request, quoted_keys_stay_utf8)
{
    char key[128] = "", body[256];
    for (int i = 0; i < 30; i++)
        strcat(key, "\xe2\x82\xac"); /* 30 euro signs, 90 bytes */
    const char *formats[] = {"{\"title\":\"a\",\"%s\":1}", "{\"title\":\"a\",\"%s\":1e999}", "{\"title\":\"a\",\"%s\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"};
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        snprintf(body, sizeof body, formats[i], key);
        struct api_body_problem problem;
        cr_assert_null(parse(body, &problem));
        cr_expect_str_eq(problem.code, "unknown_field", "%s", body);
        cr_expect(utf8_valid((const unsigned char *)problem.message, strlen(problem.message)), "%zu: %s", i,
                  problem.message);
        cr_expect(problem.field && utf8_valid((const unsigned char *)problem.field, strlen(problem.field)), "%zu", i);
        cr_expect(problem.field && strncmp(problem.field, key, strlen(problem.field)) == 0, "%zu", i);
        api_body_problem_clear(&problem);
    }
}

Test(api_request, blank_text)
{
    const char *blank[] = {"", " ", "\t\r\n\v\f", "\xc2\xa0", "\xe3\x80\x80", "\xef\xbb\xbf", "\xe2\x80\xa8",
                           "\xe2\x80\x83 \xe2\x80\xaf", "\xe1\x9a\x80"};
    for (size_t i = 0; i < sizeof blank / sizeof blank[0]; i++)
        cr_expect(api_text_is_blank(blank[i]), "%zu", i);
    /* Not whitespace to JavaScript's trim(): zero-width space, a letter, U+0085. */
    const char *text[] = {"x", " x ", "\xe2\x80\x8b", "\xc2\x85", "\xc2\xa0.", "\xf0\x9f\x98\x80"};
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
        cr_expect_not(api_text_is_blank(text[i]), "%zu", i);
}

Test(api_proxy_parse, upstream_urls)
{
    char host[64], port[8];
    cr_assert(proxy_parse_upstream("http://127.0.0.1:8081", host, sizeof host, port, sizeof port));
    cr_expect_str_eq(host, "127.0.0.1");
    cr_expect_str_eq(port, "8081");
    cr_assert(proxy_parse_upstream("http://[::1]:9", host, sizeof host, port, sizeof port));
    cr_expect_str_eq(host, "::1");
    cr_assert(proxy_parse_upstream("http://backend.internal:80", host, sizeof host, port, sizeof port));
    const char *bad[] = {"https://a:1", "http://a", "http://:80", "http://a:", "http://a:0", "http://a:65536",
                         "http://a:8x", "http://[::1]9", "ftp://a:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_not(proxy_parse_upstream(bad[i], host, sizeof host, port, sizeof port), "%s", bad[i]);
}

Test(api_proxy_parse, hop_by_hop_headers)
{
    cr_expect(proxy_header_is_hop_by_hop("connection", NULL));
    cr_expect(proxy_header_is_hop_by_hop("Transfer-Encoding", NULL));
    cr_expect(proxy_header_is_hop_by_hop("Keep-Alive", NULL));
    cr_expect(proxy_header_is_hop_by_hop("Upgrade", NULL));
    cr_expect_not(proxy_header_is_hop_by_hop("Content-Type", NULL));
    cr_expect(proxy_header_is_hop_by_hop("X-Drop", "keep-alive, x-drop"));
    cr_expect_not(proxy_header_is_hop_by_hop("X-Dropped", "x-drop"));
}

Test(api_proxy_parse, status_lines)
{
    cr_expect_eq(proxy_parse_status_line("HTTP/1.1 200 OK\r\n", 17), 200);
    cr_expect_eq(proxy_parse_status_line("HTTP/1.0 404\r\n", 14), 404);
    cr_expect_eq(proxy_parse_status_line("HTTP/1.1 100 Continue\r\n", 23), 100);
    cr_expect_eq(proxy_parse_status_line("HTTP/2 200 OK\r\n", 15), -1);
    cr_expect_eq(proxy_parse_status_line("HTTP/1.1 20x OK\r\n", 17), -1);
    cr_expect_eq(proxy_parse_status_line("HTTP/1.1 2000 OK\r\n", 18), -1);
    cr_expect_eq(proxy_parse_status_line("SPDY/9 nonsense\r\n", 17), -1);
    cr_expect_eq(proxy_parse_status_line("HTTP/1.1 099 x\r\n", 16), -1);
}

Test(api_proxy_parse, paths_an_upstream_would_normalise_elsewhere)
{
    static const char *safe[] = {"/api/x", "/api/x/", "/api/...", "/api/a.b/c", "/api/.well",
                                 "/api/x;..", "/api/%2e%2e%2ex"};
    for (size_t i = 0; i < sizeof safe / sizeof safe[0]; i++)
        cr_expect(proxy_path_is_safe(safe[i]), "%s", safe[i]);
    static const char *unsafe[] = {"/api/../admin", "/api/./x", "/api/x/..", "/api/%2e%2e/admin",
                                   "/api/.%2E/admin", "/api/x%2f..%2fadmin", "/api/x\\..\\admin",
                                   "/api/x%5c..", "/api/..;jsessionid=1/admin", "/api/.;x/y"};
    for (size_t i = 0; i < sizeof unsafe / sizeof unsafe[0]; i++)
        cr_expect_not(proxy_path_is_safe(unsafe[i]), "%s", unsafe[i]);
}

Test(api_proxy_parse, host_values)
{
    static const char *good[] = {"example.com", "example.com:8080", "127.0.0.1", "[::1]", "[::1]:443",
                                 "a-b_c.example"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_expect(proxy_host_is_valid(good[i]), "%s", good[i]);
    static const char *bad[] = {"", "a, evil", "a/x", "a b", "[]", "[::1", "a:", "a:123456", "a:80x",
                                "evil@a", "a\r\nX: y"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_not(proxy_host_is_valid(bad[i]), "%s", bad[i]);
}
