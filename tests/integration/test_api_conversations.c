/* /api/conversations and messages against real PostgreSQL (and through PgBouncer): CRUD,
 * strict input, another user's data is 404 everywhere, keyset pages across ties, one
 * statement per request, CSRF for cookie sessions. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "api_fixture.h"

static json_t *call_json(struct api_fixture *f, const char *method, const char *path, const char *token,
                         const char *body, long status)
{
    struct http_result r;
    api_call(f, method, path, token, body, NULL, &r);
    cr_assert_eq(r.status, status, "%s %s: %ld %.300s", method, path, r.status, r.body);
    json_t *v = r.body_len ? api_json(&r) : NULL;
    http_result_free(&r);
    return v;
}

static char *create_conversation(struct api_fixture *f, const char *token, const char *title)
{
    char body[256];
    snprintf(body, sizeof body, "{\"title\":\"%s\"}", title);
    json_t *c = call_json(f, "POST", "/api/conversations", token, body, 201);
    cr_expect_str_eq(json_string_value(json_object_get(c, "title")), title);
    cr_expect(json_is_false(json_object_get(c, "archived")));
    char *id = strdup(json_string_value(json_object_get(c, "id")));
    json_decref(c);
    return id;
}

API_TEST(api, conversations_crud_and_messages)
{
    char a[65];
    api_fixture_user(f, "a@example.test", a);
    char *id = create_conversation(f, a, "first");
    char path[256];
    snprintf(path, sizeof path, "/api/conversations/%s", id);

    json_t *c = call_json(f, "GET", path, a, NULL, 200);
    cr_expect_str_eq(json_string_value(json_object_get(c, "id")), id);
    char created[64];
    snprintf(created, sizeof created, "%s", json_string_value(json_object_get(c, "updated_at")));
    json_decref(c);

    c = call_json(f, "PATCH", path, a, "{\"title\":\"renamed\"}", 200);
    cr_expect_str_eq(json_string_value(json_object_get(c, "title")), "renamed");
    json_decref(c);

    char messages[300];
    snprintf(messages, sizeof messages, "%s/messages", path);
    json_t *m = call_json(f, "POST", messages, a, "{\"role\":\"user\",\"content\":\"hello \\u00e9\"}", 201);
    cr_expect_str_eq(json_string_value(json_object_get(m, "content")), "hello \xc3\xa9");
    cr_expect_str_eq(json_string_value(json_object_get(m, "conversation_id")), id);
    json_decref(m);
    m = call_json(f, "POST", messages, a, "{\"role\":\"assistant\",\"content\":\"hi\"}", 201);
    json_decref(m);

    /* Adding a message moved the conversation's updated_at, in the same statement. */
    cr_expect_eq(api_sql_int(f, "SELECT count(*) FROM conversations c WHERE updated_at >= "
                                "(SELECT max(created_at) FROM messages) - interval '1 second'"
                                " AND updated_at > created_at"), 1);
    json_t *list = call_json(f, "GET", messages, a, NULL, 200);
    json_t *items = json_object_get(list, "items");
    cr_expect_eq(json_array_size(items), 2);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(items, 0), "role")), "user");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(items, 1), "role")), "assistant");
    cr_expect(json_is_null(json_object_get(list, "next")));
    json_decref(list);

    /* Archive: it leaves the default list and appears in the archived one. */
    c = call_json(f, "PATCH", path, a, "{\"archived\":true}", 200);
    cr_expect(json_is_true(json_object_get(c, "archived")));
    cr_expect_str_eq(json_string_value(json_object_get(c, "title")), "renamed");
    json_decref(c);
    list = call_json(f, "GET", "/api/conversations", a, NULL, 200);
    cr_expect_eq(json_array_size(json_object_get(list, "items")), 0);
    json_decref(list);
    list = call_json(f, "GET", "/api/conversations?archived=true", a, NULL, 200);
    cr_expect_eq(json_array_size(json_object_get(list, "items")), 1);
    json_decref(list);

    /* Delete: the messages go with it. */
    call_json(f, "DELETE", path, a, NULL, 204);
    cr_expect_eq(api_sql_int(f, "SELECT count(*) FROM messages"), 0);
    api_expect_error(f, "GET", path, a, NULL, 404, "not_found", NULL);
    api_expect_error(f, "DELETE", path, a, NULL, 404, "not_found", NULL);
    api_expect_error(f, "POST", messages, a, "{\"role\":\"user\",\"content\":\"x\"}", 404, "not_found", NULL);
    free(id);
}

API_TEST(api, conversations_strict_input)
{
    char a[65];
    api_fixture_user(f, "a@example.test", a);
    char *id = create_conversation(f, a, "x");
    char path[256], messages[300];
    snprintf(path, sizeof path, "/api/conversations/%s", id);
    snprintf(messages, sizeof messages, "%s/messages", path);
    unsigned long long before = api_statements(f);

    api_expect_error(f, "POST", "/api/conversations", a, "{}", 400, "missing_field", "title");
    api_expect_error(f, "POST", "/api/conversations", a, "{\"title\":5}", 400, "invalid_field", "title");
    api_expect_error(f, "POST", "/api/conversations", a, "{\"title\":\"x\",\"pinned\":true}", 400, "unknown_field", "pinned");
    api_expect_error(f, "POST", "/api/conversations", a, "{\"title\":\"x\"", 400, "invalid_json", NULL);
    char *long_title = malloc(1100 + 32);
    snprintf(long_title, 1100 + 32, "{\"title\":\"%0*d\"}", 1025, 0);
    api_expect_error(f, "POST", "/api/conversations", a, long_title, 400, "invalid_field", "title");
    free(long_title);
    api_expect_error(f, "PATCH", path, a, "{}", 400, "missing_field", NULL);
    api_expect_error(f, "PATCH", path, a, "{\"archived\":\"yes\"}", 400, "invalid_field", "archived");
    api_expect_error(f, "POST", messages, a, "{\"role\":\"robot\",\"content\":\"x\"}", 400, "invalid_field", "role");
    api_expect_error(f, "POST", messages, a, "{\"role\":\"user\"}", 400, "missing_field", "content");
    char *big = malloc(70 * 1024);
    snprintf(big, 70 * 1024, "{\"role\":\"user\",\"content\":\"%0*d\"}", 65537, 0);
    api_expect_error(f, "POST", messages, a, big, 400, "invalid_field", "content");
    free(big);
    /* Malformed ids are 404 before any query. */
    api_expect_error(f, "GET", "/api/conversations/not-a-uuid", a, NULL, 404, "not_found", NULL);
    api_expect_error(f, "DELETE", "/api/conversations/123e4567-e89b-12d3-a456-42661417400", a, NULL, 404, "not_found", NULL);
    api_expect_error(f, "GET", "/api/conversations/123e4567-e89b-12d3-a456-4266141740000/messages", a, NULL, 404,
                 "not_found", NULL);
    api_expect_error(f, "GET", "/api/conversations/%27%3B--/messages", a, NULL, 404, "not_found", NULL);
    api_expect_error(f, "GET", "/api/conversations/123e4567-e89b-12d3-a456-426614174000/other", a, NULL, 404,
                 "not_found", NULL);
    /* Query parameters. */
    api_expect_error(f, "GET", "/api/conversations?limit=0", a, NULL, 400, "invalid_parameter", "limit");
    api_expect_error(f, "GET", "/api/conversations?limit=201", a, NULL, 400, "invalid_parameter", "limit");
    api_expect_error(f, "GET", "/api/conversations?limit=2x", a, NULL, 400, "invalid_parameter", "limit");
    const char *limits[] = {"-1", "1e2", "+5", "", "%205", "5.0", "99999999999999999999"};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        char q[64];
        snprintf(q, sizeof q, "/api/conversations?limit=%s", limits[i]);
        api_expect_error(f, "GET", q, a, NULL, 400, "invalid_parameter", "limit");
    }
    api_expect_error(f, "GET", "/api/conversations?archived=TRUE", a, NULL, 400, "invalid_parameter", "archived");
    api_expect_error(f, "GET", "/api/conversations?archived=maybe", a, NULL, 400, "invalid_parameter", "archived");
    api_expect_error(f, "GET", "/api/conversations?cursor=abc", a, NULL, 400, "invalid_cursor", "cursor");
    char url[400];
    snprintf(url, sizeof url, "%s?limit=501", messages);
    api_expect_error(f, "GET", url, a, NULL, 400, "invalid_parameter", "limit");
    struct http_result r;
    api_call(f, "PUT", "/api/conversations", a, "{}", NULL, &r);
    cr_expect_eq(r.status, 405);
    http_result_free(&r);
    api_expect_error(f, "GET", "/api/conversations", NULL, NULL, 401, "unauthorized", NULL);
    cr_expect_eq(api_statements(f), before, "rejected requests must not query");

    /* A cursor is tamper-checked and bound to its list. */
    for (int i = 0; i < 3; i++)
        free(create_conversation(f, a, "more"));
    json_t *page = call_json(f, "GET", "/api/conversations?limit=2", a, NULL, 200);
    const char *next = json_string_value(json_object_get(page, "next"));
    cr_assert(next && strlen(next) > 10);
    char tampered[128];
    snprintf(tampered, sizeof tampered, "%s", next);
    tampered[5] = tampered[5] == 'A' ? 'B' : 'A';
    snprintf(url, sizeof url, "/api/conversations?limit=2&cursor=%s", tampered);
    api_expect_error(f, "GET", url, a, NULL, 400, "invalid_cursor", "cursor");
    snprintf(url, sizeof url, "/api/conversations?archived=true&cursor=%s", next);
    api_expect_error(f, "GET", url, a, NULL, 400, "invalid_cursor", "cursor");
    snprintf(url, sizeof url, "%s?cursor=%s", messages, next);
    api_expect_error(f, "GET", url, a, NULL, 400, "invalid_cursor", "cursor");
    json_decref(page);
    free(id);
}

/* A title the dashboard would show as "Untitled" (blank after JavaScript's trim()) is
 * refused on create and rename; text PostgreSQL cannot store (NUL) or that is not Unicode
 * (a lone surrogate) is a 400, never a 500. None of them reaches the database. */
API_TEST(api, blank_and_unstorable_titles_are_400)
{
    char a[65];
    api_fixture_user(f, "a@example.test", a);
    char *id = create_conversation(f, a, "x");
    char path[256], messages[300];
    snprintf(path, sizeof path, "/api/conversations/%s", id);
    snprintf(messages, sizeof messages, "%s/messages", path);
    unsigned long long before = api_statements(f);
    const char *blank[] = {"{\"title\":\"\"}", "{\"title\":\"   \"}", "{\"title\":\"\\t\\r\\n\"}",
                           "{\"title\":\"\\u00a0\\u3000\\ufeff\\u2028\"}", "{\"title\":\" \u2003 \"}"};
    for (size_t i = 0; i < sizeof blank / sizeof blank[0]; i++) {
        api_expect_error(f, "POST", "/api/conversations", a, blank[i], 400, "invalid_title", "title");
        api_expect_error(f, "PATCH", path, a, blank[i], 400, "invalid_title", "title");
    }
    api_expect_error(f, "POST", "/api/conversations", a, "{\"title\":\"a\\u0000b\"}", 400, "invalid_field", "title");
    api_expect_error(f, "PATCH", path, a, "{\"title\":\"\\u0000\"}", 400, "invalid_field", "title");
    api_expect_error(f, "POST", messages, a, "{\"role\":\"user\",\"content\":\"a\\u0000\"}", 400, "invalid_field",
                     "content");
    api_expect_error(f, "POST", "/api/conversations", a, "{\"title\":\"\\ud800\"}", 400, "invalid_json", NULL);
    api_expect_error(f, "POST", "/api/conversations", a, "{\"title\":\"\\udc00x\"}", 400, "invalid_json", NULL);
    api_expect_error(f, "POST", "/api/conversations", a, "{\"title\":\"\xed\xa0\x80\"}", 400, "invalid_json", NULL);
    api_expect_error(f, "POST", "/api/conversations", a, "{\"title\":\"\xff\"}", 400, "invalid_json", NULL);
    api_expect_error(f, "PUT", "/api/preferences/theme", a, "{\"value\":[\"a\\u0000\"]}", 400, "invalid_field",
                     "value");
    cr_expect_eq(api_statements(f), before, "rejected requests must not query");
    /* One answer per request: a refusal that did not say it had answered let the route table
     * write a second one (a 404) behind it, which a keep-alive client reads as its next. */
    for (int patch = 0; patch < 2; patch++) {
        int fd = test_connect(f->srv.port, 3);
        char req[512];
        snprintf(req, sizeof req,
                 "%s %s HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
                 "Content-Length: 14\r\nConnection: close\r\n\r\n{\"title\":\"  \"}",
                 patch ? "PATCH" : "POST", patch ? path : "/api/conversations", a);
        cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
        char buf[4096];
        test_read_all(fd, buf, sizeof buf);
        close(fd);
        const char *second = strstr(buf, "HTTP/1.1 ");
        second = second ? strstr(second + 1, "HTTP/1.1 ") : NULL;
        cr_expect(strncmp(buf, "HTTP/1.1 400 ", 13) == 0 && !second, "%s: %s", patch ? "PATCH" : "POST", buf);
    }

    /* Titles with text around the spaces, a surrogate pair, and 1024 bytes exactly are fine. */
    json_decref(call_json(f, "POST", "/api/conversations", a, "{\"title\":\" x \"}", 201));
    json_t *c = call_json(f, "PATCH", path, a, "{\"title\":\"\\ud83d\\ude00\"}", 200);
    cr_expect_str_eq(json_string_value(json_object_get(c, "title")), "\xf0\x9f\x98\x80");
    json_decref(c);
    char body[1100];
    snprintf(body, sizeof body, "{\"title\":\"%0*d\"}", 1024, 0);
    json_decref(call_json(f, "POST", "/api/conversations", a, body, 201));
    free(id);
}

/* Every route another user could aim at a conversation answers exactly like a missing one. */
API_TEST(api, another_users_conversation_is_404)
{
    char a[65], b[65];
    api_fixture_user(f, "a@example.test", a);
    api_fixture_user(f, "b@example.test", b);
    char *id = create_conversation(f, a, "private");
    char path[256], messages[300];
    snprintf(path, sizeof path, "/api/conversations/%s", id);
    snprintf(messages, sizeof messages, "%s/messages", path);
    json_decref(call_json(f, "POST", messages, a, "{\"role\":\"user\",\"content\":\"secret\"}", 201));

    struct {
        const char *method, *path, *body;
    } attempts[] = {
        {"GET", path, NULL},
        {"PATCH", path, "{\"title\":\"mine now\"}"},
        {"PATCH", path, "{\"archived\":true}"},
        {"DELETE", path, NULL},
        {"GET", messages, NULL},
        {"POST", messages, "{\"role\":\"user\",\"content\":\"intrusion\"}"},
    };
    for (size_t i = 0; i < sizeof attempts / sizeof attempts[0]; i++) {
        struct http_result theirs, missing;
        api_call(f, attempts[i].method, attempts[i].path, b, attempts[i].body, NULL, &theirs);
        char other[300];
        snprintf(other, sizeof other, "/api/conversations/00000000-0000-4000-8000-000000000000%s",
                 strstr(attempts[i].path, "/messages") ? "/messages" : "");
        api_call(f, attempts[i].method, other, b, attempts[i].body, NULL, &missing);
        cr_expect_eq(theirs.status, 404, "%s %s by another user: %ld", attempts[i].method, attempts[i].path,
                     theirs.status);
        cr_expect_str_eq(theirs.body, missing.body, "another user's conversation must look missing");
        http_result_free(&theirs);
        http_result_free(&missing);
    }
    json_t *list = call_json(f, "GET", "/api/conversations", b, NULL, 200);
    cr_expect_eq(json_array_size(json_object_get(list, "items")), 0);
    json_decref(list);
    /* Nothing changed for the owner. */
    json_t *c = call_json(f, "GET", path, a, NULL, 200);
    cr_expect_str_eq(json_string_value(json_object_get(c, "title")), "private");
    cr_expect(json_is_false(json_object_get(c, "archived")));
    json_decref(c);
    cr_expect_eq(api_sql_int(f, "SELECT count(*) FROM messages"), 1);
    free(id);
}

/* Walks all pages and checks them against the order PostgreSQL gives for the same rows. */
static void walk_pages(struct api_fixture *f, const char *token, const char *base, const char *order_sql,
                       int expected_total, int page_size)
{
    PGresult *res = PQexec(f->pg, order_sql);
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(f->pg));
    cr_assert_eq(PQntuples(res), expected_total);
    char url[512], cursor[128] = "";
    int seen = 0, pages = 0;
    for (;;) {
        snprintf(url, sizeof url, "%s%climit=%d%s%s", base, strchr(base, '?') ? '&' : '?', page_size,
                 cursor[0] ? "&cursor=" : "", cursor);
        json_t *page = call_json(f, "GET", url, token, NULL, 200);
        json_t *items = json_object_get(page, "items");
        pages++;
        for (size_t i = 0; i < json_array_size(items); i++, seen++) {
            cr_assert(seen < expected_total, "more rows than exist");
            cr_assert_str_eq(json_string_value(json_object_get(json_array_get(items, i), "id")),
                             PQgetvalue(res, seen, 0), "row %d out of order", seen);
        }
        json_t *next = json_object_get(page, "next");
        if (json_is_null(next)) {
            json_decref(page);
            break;
        }
        cr_assert_eq(json_array_size(items), (size_t)page_size, "a page with a next is full");
        snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
        json_decref(page);
    }
    cr_expect_eq(seen, expected_total);
    /* A last page that is exactly full still says next; the following page is empty. */
    int full = expected_total / page_size, rest = expected_total % page_size;
    cr_expect(pages == (rest ? full + 1 : full) || pages == full + 1, "%d pages", pages);
    PQclear(res);
}

API_TEST(api, conversation_pages_across_ties)
{
    char a[65], b[65];
    api_fixture_user(f, "a@example.test", a);
    api_fixture_user(f, "b@example.test", b);
    /* 450 active conversations whose updated_at comes in groups of 7 equal values, 30
     * archived ones, and rows of another user mixed in at the same times. */
    api_sql_int(f, "INSERT INTO conversations (user_id, title, updated_at, archived)"
                   " SELECT u.id, 'c' || g, timestamptz '2026-01-01' + (g / 7) * interval '1 second', g > 450"
                   " FROM users u, generate_series(1, 480) g WHERE u.email = 'a@example.test'");
    api_sql_int(f, "INSERT INTO conversations (user_id, title, updated_at)"
                   " SELECT u.id, 'other', timestamptz '2026-01-01' + (g / 7) * interval '1 second'"
                   " FROM users u, generate_series(1, 100) g WHERE u.email = 'b@example.test'");
    const char *order = "SELECT c.id FROM conversations c JOIN users u ON u.id = c.user_id"
                        " WHERE u.email = 'a@example.test' AND NOT archived ORDER BY c.updated_at DESC, c.id DESC";
    walk_pages(f, a, "/api/conversations", order, 450, 200);
    walk_pages(f, a, "/api/conversations?archived=false", order, 450, 7);
    walk_pages(f, a, "/api/conversations", order, 450, 45);
    const char *archived = "SELECT c.id FROM conversations c JOIN users u ON u.id = c.user_id"
                           " WHERE u.email = 'a@example.test' AND archived ORDER BY c.updated_at DESC, c.id DESC";
    walk_pages(f, a, "/api/conversations?archived=true", archived, 30, 200);
    /* The default page is the 200 newest. */
    json_t *page = call_json(f, "GET", "/api/conversations", a, NULL, 200);
    cr_expect_eq(json_array_size(json_object_get(page, "items")), 200);
    json_decref(page);
}

API_TEST(api, message_pages_across_ties)
{
    char a[65];
    api_fixture_user(f, "a@example.test", a);
    char *id = create_conversation(f, a, "long");
    char sql[512], base[300];
    snprintf(sql, sizeof sql,
             "INSERT INTO messages (conversation_id, role, content, created_at)"
             " SELECT '%s', 'user', 'm' || g, timestamptz '2026-01-01' + (g / 5) * interval '1 millisecond'"
             " FROM generate_series(1, 1234) g",
             id);
    api_sql_int(f, sql);
    snprintf(sql, sizeof sql, "SELECT id FROM messages WHERE conversation_id = '%s' ORDER BY created_at, id", id);
    snprintf(base, sizeof base, "/api/conversations/%s/messages", id);
    walk_pages(f, a, base, sql, 1234, 500);
    walk_pages(f, a, base, sql, 1234, 5);
    json_t *page = call_json(f, "GET", base, a, NULL, 200);
    cr_expect_eq(json_array_size(json_object_get(page, "items")), 500);
    /* Oldest first: the first item is from the earliest timestamp group (m1..m4). */
    const char *first = json_string_value(json_object_get(json_array_get(json_object_get(page, "items"), 0), "content"));
    cr_expect(first && first[0] == 'm' && first[1] >= '1' && first[1] <= '4' && first[2] == '\0', "first: %s", first);
    json_decref(page);
    free(id);
}

/* N API requests send N statements: the session check rides in the same statement. */
API_TEST(api, one_statement_per_request)
{
    char a[65];
    api_fixture_user(f, "a@example.test", a);
    char *id = create_conversation(f, a, "counted");
    char path[256], messages[300];
    snprintf(path, sizeof path, "/api/conversations/%s", id);
    snprintf(messages, sizeof messages, "%s/messages", path);
    unsigned long long before = api_statements(f);
    json_decref(call_json(f, "GET", "/api/preferences", a, NULL, 200));
    json_decref(call_json(f, "PUT", "/api/preferences/theme", a, "{\"value\":\"dark\"}", 200));
    call_json(f, "DELETE", "/api/preferences/theme", a, NULL, 204);
    json_decref(call_json(f, "PUT", "/api/preferences/plan", a, "{\"value\":\"x\"}", 403));
    json_decref(call_json(f, "GET", "/api/conversations", a, NULL, 200));
    free(create_conversation(f, a, "another"));
    json_decref(call_json(f, "GET", path, a, NULL, 200));
    json_decref(call_json(f, "PATCH", path, a, "{\"title\":\"t\",\"archived\":false}", 200));
    json_decref(call_json(f, "POST", messages, a, "{\"role\":\"system\",\"content\":\"c\"}", 201));
    json_decref(call_json(f, "GET", messages, a, NULL, 200));
    json_decref(call_json(f, "GET", "/api/conversations/00000000-0000-4000-8000-000000000000", a, NULL, 404));
    call_json(f, "DELETE", path, a, NULL, 204);
    json_decref(call_json(f, "GET", "/api/health", NULL, NULL, 200));
    cr_expect_eq(api_statements(f) - before, 13, "13 requests, %llu statements", api_statements(f) - before);
    free(id);
}

/* A cookie session must prove same origin for writes; a bearer token need not. */
API_TEST(api, cookie_writes_need_same_origin)
{
    char a[65];
    api_fixture_user(f, "a@example.test", a);
    char cookie[128], host[64], origin[96];
    snprintf(cookie, sizeof cookie, "Cookie: tessera_session=%s", a);
    snprintf(host, sizeof host, "127.0.0.1:%d", f->srv.port);
    snprintf(origin, sizeof origin, "Origin: http://%s", host);
    const char *plain[] = {cookie, NULL};
    const char *cross[] = {cookie, "Origin: https://evil.example", NULL};
    /* Sandboxed frames, data: URLs and some redirects say "null": never same origin. */
    const char *null_origin[] = {cookie, "Origin: null", NULL};
    const char *fetch_cross[] = {cookie, "Sec-Fetch-Site: cross-site", NULL};
    const char *same[] = {cookie, origin, NULL};
    const char *fetch_site[] = {cookie, "Sec-Fetch-Site: same-origin", NULL};
    struct http_result r;
    api_call(f, "GET", "/api/conversations", NULL, NULL, plain, &r);
    cr_expect_eq(r.status, 200, "a cookie read needs no origin: %.200s", r.body);
    http_result_free(&r);
    api_call(f, "POST", "/api/conversations", NULL, "{\"title\":\"x\"}", plain, &r);
    cr_expect_eq(r.status, 403);
    http_result_free(&r);
    api_call(f, "PUT", "/api/preferences/theme", NULL, "{\"value\":\"x\"}", cross, &r);
    cr_expect_eq(r.status, 403);
    http_result_free(&r);
    api_call(f, "POST", "/api/conversations", NULL, "{\"title\":\"x\"}", null_origin, &r);
    cr_expect_eq(r.status, 403);
    cr_expect(r.body && strstr(r.body, "\"cross_origin\""), "%.200s", r.body);
    http_result_free(&r);
    api_call(f, "DELETE", "/api/preferences/theme", NULL, NULL, fetch_cross, &r);
    cr_expect_eq(r.status, 403);
    http_result_free(&r);
    /* The browser's own verdict wins over an Origin of the same host: a page of http://host
     * (injectable on the network) posting to https://host sends Origin http://host, and the
     * browser calls that same-site or cross-site, never same-origin. */
    const char *verdicts[] = {"Sec-Fetch-Site: cross-site", "Sec-Fetch-Site: same-site"};
    for (size_t i = 0; i < 2; i++) {
        const char *h[] = {cookie, origin, verdicts[i], NULL};
        api_call(f, "POST", "/api/conversations", NULL, "{\"title\":\"x\"}", h, &r);
        cr_expect_eq(r.status, 403, "%s: %ld", verdicts[i], r.status);
        http_result_free(&r);
    }
    api_call(f, "POST", "/api/conversations", NULL, "{\"title\":\"x\"}", same, &r);
    cr_expect_eq(r.status, 201, "%.200s", r.body);
    http_result_free(&r);
    api_call(f, "DELETE", "/api/preferences/theme", NULL, NULL, fetch_site, &r);
    cr_expect_eq(r.status, 204);
    http_result_free(&r);
    cr_expect_eq(api_sql_int(f, "SELECT count(*) FROM conversations"), 1);
}

/* Browsers send every cookie that matches: a stale tessera_session from another path or
 * domain can come first. The first one that names a valid session decides, in the same one
 * statement; a malformed or stale one before it must not make a signed-in user 401. */
API_TEST(api, stale_session_cookie_before_a_valid_one)
{
    char a[65], b[65];
    api_fixture_user(f, "a@example.test", a);
    api_fixture_user(f, "b@example.test", b);
    free(create_conversation(f, b, "b's"));
    const char *stale = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char stale_first[256], junk_first[256], a_then_b[256], host[64], origin[96];
    snprintf(stale_first, sizeof stale_first, "Cookie: tessera_session=%s; theme=x; tessera_session=%s", stale, b);
    snprintf(junk_first, sizeof junk_first, "Cookie: tessera_session=old-format; tessera_session=%s", b);
    snprintf(a_then_b, sizeof a_then_b, "Cookie: tessera_session=%s; tessera_session=%s", a, b);
    snprintf(host, sizeof host, "127.0.0.1:%d", f->srv.port);
    snprintf(origin, sizeof origin, "Origin: http://%s", host);
    unsigned long long before = api_statements(f);
    struct http_result r;
    const char *cookies[] = {stale_first, junk_first};
    for (size_t i = 0; i < 2; i++) {
        const char *h[] = {cookies[i], NULL};
        api_call(f, "GET", "/api/conversations", NULL, NULL, h, &r);
        cr_expect_eq(r.status, 200, "%s: %ld %.200s", cookies[i], r.status, r.body);
        cr_expect(r.body && strstr(r.body, "b's"), "%.200s", r.body);
        http_result_free(&r);
        api_call(f, "GET", "/api/me", NULL, NULL, h, &r);
        cr_expect_eq(r.status, 200, "%s: %ld %.200s", cookies[i], r.status, r.body);
        cr_expect(r.body && strstr(r.body, "b@example.test"), "%.200s", r.body);
        http_result_free(&r);
        const char *w[] = {cookies[i], origin, NULL};
        api_call(f, "PUT", "/api/preferences/theme", NULL, "{\"value\":\"light\"}", w, &r);
        cr_expect_eq(r.status, 200, "%s: %ld %.200s", cookies[i], r.status, r.body);
        http_result_free(&r);
    }
    cr_expect_eq(api_statements(f) - before, 6, "6 requests, %llu statements", api_statements(f) - before);

    /* Two valid sessions: the first listed (the browser puts the most specific path first)
     * is the one acting, never both. */
    const char *h[] = {a_then_b, NULL};
    api_call(f, "GET", "/api/conversations", NULL, NULL, h, &r);
    cr_expect_eq(r.status, 200);
    cr_expect(r.body && !strstr(r.body, "b's"), "%.200s", r.body);
    http_result_free(&r);
    api_call(f, "GET", "/api/me", NULL, NULL, h, &r);
    cr_expect(r.body && strstr(r.body, "a@example.test"), "%.200s", r.body);
    http_result_free(&r);
    const char *w[] = {a_then_b, origin, NULL};
    api_call(f, "POST", "/api/conversations", NULL, "{\"title\":\"mine\"}", w, &r);
    cr_expect_eq(r.status, 201, "%.200s", r.body);
    http_result_free(&r);
    cr_expect_eq(api_sql_int(f, "SELECT count(*) FROM conversations WHERE title = 'mine'"), 1);
    cr_expect_eq(api_sql_int(f, "SELECT count(*) FROM conversations c JOIN users u ON u.id = c.user_id"
                                " WHERE c.title = 'mine' AND u.email = 'a@example.test'"), 1);

    /* Only stale or malformed ones: still 401. */
    char only_stale[256];
    snprintf(only_stale, sizeof only_stale, "Cookie: tessera_session=%s; tessera_session=zz", stale);
    const char *s[] = {only_stale, NULL};
    api_call(f, "GET", "/api/conversations", NULL, NULL, s, &r);
    cr_expect_eq(r.status, 401);
    http_result_free(&r);

    /* Signing out ends every session the browser sent: none of them keeps it signed in. */
    api_call(f, "POST", "/api/auth/sign-out", NULL, NULL, w, &r);
    cr_expect_eq(r.status, 204, "%.200s", r.body);
    http_result_free(&r);
    api_expect_error(f, "GET", "/api/me", a, NULL, 401, "unauthorized", NULL);
    api_expect_error(f, "GET", "/api/me", b, NULL, 401, "unauthorized", NULL);
}

API_TEST(api, health_and_unknown_routes)
{
    json_t *h = call_json(f, "GET", "/api/health", NULL, NULL, 200);
    cr_expect_str_eq(json_string_value(json_object_get(h, "status")), "ok");
    cr_expect_str_eq(json_string_value(json_object_get(h, "database")), "ok");
    json_decref(h);
    struct http_result r;
    api_call(f, "GET", "/api/nothing-here", NULL, NULL, NULL, &r);
    cr_expect_eq(r.status, 404);
    char cc[32];
    cr_expect(http_header_value(&r, "Cache-Control", cc, sizeof cc) && strcmp(cc, "no-store") == 0);
    http_result_free(&r);
}

/* curl and PHP hold a body back until "100 Continue" (curl: for 1 s, then send anyway); the
 * route must say it before it reads. */
API_TEST(api, expect_100_continue_is_answered)
{
    char a[65];
    api_fixture_user(f, "a@example.test", a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->srv.port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const char *body = "{\"title\":\"expect\"}";
    char head[512];
    snprintf(head, sizeof head,
             "POST /api/conversations HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
             "Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n",
             a, strlen(body));
    cr_assert_eq(write(fd, head, strlen(head)), (ssize_t)strlen(head));
    char buf[4096];
    ssize_t n = read(fd, buf, 25);
    buf[n > 0 ? n : 0] = '\0';
    cr_expect_str_eq(buf, "HTTP/1.1 100 Continue\r\n\r\n");
    cr_assert_eq(send(fd, body, strlen(body), MSG_NOSIGNAL), (ssize_t)strlen(body));
    test_read_all(fd, buf, sizeof buf);
    close(fd);
    cr_expect(strstr(buf, "HTTP/1.1 201 Created\r\n"), "%s", buf);
    cr_expect_null(strstr(buf, "100 Continue"), "a second interim answer: %s", buf);

    /* Refused without the body (no token; over api.max_body): no invitation to upload it. */
    char bearer[128];
    snprintf(bearer, sizeof bearer, "Authorization: Bearer %s", a);
    const char *auth[] = {"X-No-Token: 1", bearer};
    const char *lengths[] = {"18", "999999999"};
    const char *answers[] = {"HTTP/1.1 401 ", "HTTP/1.1 413 "};
    for (size_t i = 0; i < 2; i++) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        cr_assert_eq(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        snprintf(head, sizeof head,
                 "POST /api/conversations HTTP/1.1\r\nHost: t\r\n%s\r\n"
                 "Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: %s\r\n"
                 "Connection: close\r\n\r\n",
                 auth[i], lengths[i]);
        cr_assert_eq(write(fd, head, strlen(head)), (ssize_t)strlen(head));
        n = read(fd, buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = '\0';
        close(fd);
        cr_expect_eq(strncmp(buf, answers[i], 13), 0, "%s: %s", answers[i], buf);
    }
}
