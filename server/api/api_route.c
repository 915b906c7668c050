/* api_route — the shared steps of a database-backed /api route. */
#include "tessera/api_route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/api.h"
#include "tessera/api_request.h"
#include "tessera/auth.h"
#include "tessera/log.h"

bool api_method_is_read(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

bool api_call_begin(struct api_call *call, const struct api_context *ctx, struct http_exchange *ex)
{
    call->ctx = ctx;
    call->ex = ex;
    call->by_cookie = false;
    if (!auth_request_token_hash(ex, call->token_hash, &call->by_cookie)) {
        reply_json_error(ex, 401, "unauthorized", "sign in first", NULL);
        return false;
    }
    /* A cookie rides along on cross-site requests; a bearer token never does. */
    if (call->by_cookie && !api_method_is_read(ex->method) && !api_same_origin(ex)) {
        reply_json_error(ex, 403, "cross_origin", "state-changing requests must come from this origin", NULL);
        return false;
    }
    api_expect_continue(ex, ctx->cfg->api.max_body);
    return true;
}

static void reply_status_error(struct http_exchange *ex, int status, const char *not_found)
{
    char message[128];
    switch (status) {
    case 401:
        reply_json_error(ex, 401, "unauthorized", "the session is missing or expired", NULL);
        break;
    case 403:
        reply_json_error(ex, 403, "immutable", "this preference cannot be changed", NULL);
        break;
    case 404:
        snprintf(message, sizeof message, "no such %s", not_found ? not_found : "resource");
        reply_json_error(ex, 404, "not_found", message, NULL);
        break;
    default:
        reply_json_error(ex, 500, "internal", "unexpected statement status", NULL);
        break;
    }
}

PGresult *api_call_query(struct api_call *call, const struct db_statement *stmt, const char *const *values,
                         const char *not_found)
{
    struct http_exchange *ex = call->ex;
    if (!call->ctx->pool) {
        reply_json_error(ex, 503, "db_unavailable", "no database is configured", NULL);
        return NULL;
    }
    PGresult *res = NULL;
    enum db_status st = db_query(call->ctx->pool, stmt, values, &res);
    if (st == DB_BUSY || st == DB_UNAVAILABLE) {
        PQclear(res);
        reply_json_error(ex, 503, st == DB_BUSY ? "db_busy" : "db_unavailable",
                         st == DB_BUSY ? "the database is busy, retry shortly" : "the database is unavailable", NULL);
        return NULL;
    }
    if (st != DB_OK || !res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) < 2) {
        log_error("api: statement %s failed: %s", stmt->name, res ? PQresultErrorMessage(res) : "no result");
        PQclear(res);
        reply_json_error(ex, 500, "internal", "the request could not be completed", NULL);
        return NULL;
    }
    int status = atoi(PQgetvalue(res, 0, 0));
    if (status < 200 || status > 299) {
        PQclear(res);
        reply_status_error(ex, status, not_found);
        return NULL;
    }
    return res;
}

int api_reply_no_content(struct http_exchange *ex)
{
    struct http_reply r;
    reply_start(&r, ex, 204);
    reply_header(&r, "Cache-Control", "no-store");
    reply_send(ex, &r, NULL, 0);
    return 204;
}

int api_reply_result(struct http_exchange *ex, PGresult *res)
{
    int status = atoi(PQgetvalue(res, 0, 0));
    if (status == 204)
        return api_reply_no_content(ex);
    return reply_json(ex, status, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1));
}

/* Columns 2..4: more rows after this page, and the last row's (micros, id). */
static bool page_next_cursor(struct api_call *call, PGresult *res, const char *scope, char out[CURSOR_TEXT_MAX])
{
    if (PQnfields(res) < 5 || strcmp(PQgetvalue(res, 0, 2), "t") != 0 || PQgetisnull(res, 0, 3))
        return false;
    struct cursor_position pos;
    pos.micros = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    if (!cursor_uuid_parse(PQgetvalue(res, 0, 4), pos.id))
        return false;
    cursor_encode(&call->ctx->cursor_key, scope, &pos, out);
    return true;
}

int api_reply_page(struct api_call *call, PGresult *res, const char *scope)
{
    char next[CURSOR_TEXT_MAX];
    bool more = page_next_cursor(call, res, scope, next);
    struct strbuf body;
    strbuf_init(&body);
    strbuf_puts(&body, "{\"items\":");
    strbuf_append(&body, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1));
    if (more) /* base64url needs no JSON escaping */
        strbuf_printf(&body, ",\"next\":\"%s\"}", next);
    else
        strbuf_puts(&body, ",\"next\":null}");
    int status;
    if (body.failed)
        status = reply_json_error(call->ex, 500, "internal", "out of memory", NULL);
    else
        status = reply_json(call->ex, 200, body.data, body.len);
    strbuf_free(&body);
    return status;
}

bool api_read_cursor(struct api_call *call, const char *scope, char micros[24], char id[37],
                     const char **micros_value, const char **id_value)
{
    *micros_value = NULL;
    *id_value = NULL;
    char text[CURSOR_TEXT_MAX + 8];
    int found = api_query_lookup(call->ex->query, "cursor", text, sizeof text);
    if (found == 0 || (found == 1 && text[0] == '\0'))
        return true; /* absent or empty: the first page */
    struct cursor_position pos;
    if (found == 1 && cursor_decode(&call->ctx->cursor_key, scope, text, &pos)) {
        snprintf(micros, 24, "%lld", (long long)pos.micros);
        cursor_uuid_format(pos.id, id);
        *micros_value = micros;
        *id_value = id;
        return true;
    }
    reply_json_error(call->ex, 400, "invalid_cursor", "the cursor is not valid for this list", "cursor");
    return false;
}

bool api_read_limit(struct http_exchange *ex, long max, char out[16])
{
    char text[16];
    long value = max;
    int found = api_query_lookup(ex->query, "limit", text, sizeof text);
    if (found != 0) {
        char *end = NULL;
        value = found == 1 && text[0] >= '0' && text[0] <= '9' ? strtol(text, &end, 10) : -1;
        if (!end || *end || value < 1 || value > max) {
            char message[64];
            snprintf(message, sizeof message, "limit must be a whole number from 1 to %ld", max);
            reply_json_error(ex, 400, "invalid_parameter", message, "limit");
            return false;
        }
    }
    snprintf(out, 16, "%ld", value);
    return true;
}

int api_reply_method_not_allowed(struct http_exchange *ex, const char *allow)
{
    static const char body[] = "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"method not allowed\"}}";
    struct http_reply r;
    reply_start(&r, ex, 405);
    reply_header(&r, "Allow", allow);
    reply_header(&r, "Cache-Control", "no-store");
    reply_header(&r, "Content-Type", "application/json; charset=utf-8");
    reply_send(ex, &r, body, sizeof body - 1);
    return 405;
}
