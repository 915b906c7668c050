/* preferences — per-user settings over preference_defaults, one statement per request.
 *
 * A default with mutable = false always wins: GET shows the default, PUT and DELETE answer
 * 403. A user's own row with mutable = false (set by an operator) is locked the same way. */
#include "tessera/preferences.h"

#include <stdlib.h>
#include <string.h>

#include "tessera/api_request.h"

/* Defaults FULL JOIN the user's rows: keys only the user has are kept too. */
static const struct db_statement PREF_LIST = {
    "api_pref_list",
    API_SESSION_CTE
    " SELECT CASE WHEN EXISTS (SELECT 1 FROM s) THEN 200 ELSE 401 END,"
    " (SELECT coalesce(json_object_agg(coalesce(d.key, p.key),"
    "          CASE WHEN d.mutable = false THEN d.value ELSE coalesce(p.value, d.value) END"
    "          ORDER BY coalesce(d.key, p.key)), '{}')::text"
    "  FROM preference_defaults d"
    "  FULL JOIN (SELECT key, value FROM preferences WHERE user_id = (SELECT user_id FROM s)) p ON p.key = d.key"
    "  WHERE EXISTS (SELECT 1 FROM s))",
    1,
};

/* The upsert runs only when the default is not locked; DO UPDATE ... WHERE p.mutable skips a
 * locked user row. No returned row with a valid session therefore means 403. */
const struct db_statement PREFERENCES_PUT_STATEMENT = {
    "api_pref_put",
    API_SESSION_CTE
    ", locked AS (SELECT 1 FROM preference_defaults WHERE key = $2 AND NOT mutable)"
    ", up AS (INSERT INTO preferences AS p (user_id, key, value)"
    "   SELECT user_id, $2, $3::jsonb FROM s WHERE NOT EXISTS (SELECT 1 FROM locked)"
    "   ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value, updated_at = now() WHERE p.mutable"
    "   RETURNING p.key, p.value)"
    " SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM s) THEN 401"
    "             WHEN NOT EXISTS (SELECT 1 FROM up) THEN 403 ELSE 200 END,"
    " (SELECT json_build_object('key', key, 'value', value)::text FROM up)",
    3,
};

/* The main SELECT sees the table as it was before the DELETE (one snapshot). */
static const struct db_statement PREF_DELETE = {
    "api_pref_delete",
    API_SESSION_CTE
    ", locked AS (SELECT 1 FROM preference_defaults WHERE key = $2 AND NOT mutable"
    "   UNION ALL SELECT 1 FROM preferences p, s WHERE p.user_id = s.user_id AND p.key = $2 AND NOT p.mutable)"
    ", del AS (DELETE FROM preferences p USING s"
    "   WHERE p.user_id = s.user_id AND p.key = $2 AND NOT EXISTS (SELECT 1 FROM locked) RETURNING 1)"
    " SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM s) THEN 401"
    "             WHEN EXISTS (SELECT 1 FROM locked) THEN 403 ELSE 204 END,"
    " (SELECT count(*) FROM del)::text",
    2,
};

static int handle_list(const struct api_context *ctx, struct http_exchange *ex)
{
    struct api_call call;
    if (!api_call_begin(&call, ctx, ex))
        return ex->status;
    const char *values[] = {call.token_hash};
    PGresult *res = api_call_query(&call, &PREF_LIST, values, NULL);
    if (!res)
        return ex->status;
    int status = api_reply_result(ex, res);
    PQclear(res);
    return status;
}

static bool holds_real(json_t *value)
{
    size_t i;
    const char *key;
    json_t *member;
    if (json_is_real(value))
        return true;
    if (json_is_array(value)) {
        json_array_foreach(value, i, member) {
            if (holds_real(member))
                return true;
        }
    } else if (json_is_object(value)) {
        json_object_foreach(value, key, member) {
            if (holds_real(member))
                return true;
        }
    }
    return false;
}

/* jansson writes reals with 17 digits, so 0.1 would be stored and read back as
 * 0.10000000000000001. The fewest digits that give back the same doubles are used instead;
 * a value without reals (most: "dark", true, 3) is written once, without the round trips. */
static char *dump_shortest(json_t *value)
{
    bool reals = holds_real(value);
    for (int digits = 15; reals && digits < 17; digits++) {
        char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(digits));
        json_t *back = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
        bool same = back && json_equal(back, value);
        json_decref(back);
        if (same)
            return text;
        free(text);
    }
    return json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
}

char *preferences_read_value(struct http_exchange *ex, size_t max_body)
{
    static const struct api_field fields[] = {{"value", API_FIELD_ANY, true, PREFERENCES_VALUE_MAX}};
    json_t *body = api_read_json_object(ex, max_body, fields, 1);
    if (!body)
        return NULL;
    char *value = dump_shortest(json_object_get(body, "value"));
    json_decref(body);
    if (!value)
        reply_json_error(ex, 500, "internal", "out of memory", NULL);
    return value;
}

static int handle_put(struct api_call *call, const char *key)
{
    struct http_exchange *ex = call->ex;
    char *value = preferences_read_value(ex, (size_t)call->ctx->cfg->api.max_body);
    if (!value)
        return ex->status;
    const char *values[] = {call->token_hash, key, value};
    PGresult *res = api_call_query(call, &PREFERENCES_PUT_STATEMENT, values, "preference");
    free(value);
    if (!res)
        return ex->status;
    int status = api_reply_result(ex, res);
    PQclear(res);
    return status;
}

static int handle_key(const struct api_context *ctx, struct http_exchange *ex)
{
    char key[80];
    const char *rest = NULL;
    bool is_put = strcmp(ex->method, "PUT") == 0, is_delete = strcmp(ex->method, "DELETE") == 0;
    if (!is_put && !is_delete)
        return api_reply_method_not_allowed(ex, "PUT, DELETE");
    struct api_call call;
    if (!api_call_begin(&call, ctx, ex))
        return ex->status;
    bool parsed = api_path_segment(ex->path, "/api/preferences/", key, sizeof key, &rest);
    if (!parsed || *rest || !api_key_valid(key))
        return reply_json_error(ex, 400, "invalid_key", "a key is 1-64 of a-z 0-9 _ . - starting with a letter", "key");
    if (is_put)
        return handle_put(&call, key);
    const char *values[] = {call.token_hash, key};
    PGresult *res = api_call_query(&call, &PREF_DELETE, values, "preference");
    if (!res)
        return ex->status;
    int status = api_reply_result(ex, res);
    PQclear(res);
    return status;
}

int preferences_handle(const struct api_context *ctx, struct http_exchange *ex)
{
    if (strcmp(ex->path, "/api/preferences") == 0) {
        if (!api_method_is_read(ex->method))
            return api_reply_method_not_allowed(ex, "GET, HEAD");
        return handle_list(ctx, ex);
    }
    if (strncmp(ex->path, "/api/preferences/", strlen("/api/preferences/")) == 0)
        return handle_key(ctx, ex);
    return 0;
}
