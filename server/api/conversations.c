/* conversations — conversation and message routes; each request is one statement in which
 * the session CTE, the ownership check and the work happen together, and PostgreSQL builds
 * the JSON. The first column is the HTTP status (see api_route.h). */
#include "tessera/conversations.h"

#include <stdio.h>
#include <string.h>

#include "tessera/api_request.h"

/* A conversation's JSON is its item_json column, written by a trigger on every insert and
 * update (migration 0005) so that a page of 200 concatenates stored text; the column list is
 * the trigger's. A message's JSON is built on read from exactly its public columns. */
#define MESSAGE_COLUMNS "id, conversation_id, role, content, created_at"
#define ROW_JSON(columns, from) "(SELECT row_to_json(j)::text FROM (SELECT " columns " FROM " from ") j)"

/* Pages come from conversation_page() and message_page() (migration 0005), which pin the
 * ordered index range scan whoever the user is and return (items, more, last micros, last id),
 * the columns api_reply_page() reads. The user and the conversation are found from the session
 * in the same statement, so the planner could not know how many rows they own; see the
 * migration for what that cost. The function is called with NULL for a missing session or a
 * foreign conversation and then reads nothing. */
static const struct db_statement CONV_LIST = {
    "api_conv_list",
    API_SESSION_CTE
    " SELECT CASE WHEN u.user_id IS NULL THEN 401 ELSE 200 END, p.items, p.more, p.last_micros, p.last_id"
    " FROM (SELECT (SELECT user_id FROM s) AS user_id) u"
    " CROSS JOIN LATERAL conversation_page(u.user_id, $2::boolean, $3::bigint, $4::uuid, $5::int) p",
    5,
};

static const struct db_statement CONV_CREATE = {
    "api_conv_create",
    API_SESSION_CTE
    ", ins AS (INSERT INTO conversations (user_id, title) SELECT user_id, $2 FROM s RETURNING item_json)"
    " SELECT CASE WHEN EXISTS (SELECT 1 FROM ins) THEN 201 ELSE 401 END,"
    " (SELECT item_json FROM ins)",
    2,
};

static const struct db_statement CONV_GET = {
    "api_conv_get",
    API_SESSION_CTE
    ", mine AS (SELECT c.item_json FROM conversations c, s WHERE c.id = $2::uuid AND c.user_id = s.user_id)"
    " SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM s) THEN 401"
    "             WHEN NOT EXISTS (SELECT 1 FROM mine) THEN 404 ELSE 200 END,"
    " (SELECT item_json FROM mine)",
    2,
};

static const struct db_statement CONV_PATCH = {
    "api_conv_patch",
    API_SESSION_CTE
    ", up AS (UPDATE conversations c SET title = coalesce($3::text, c.title),"
    "   archived = coalesce($4::boolean, c.archived), updated_at = now()"
    "   FROM s WHERE c.id = $2::uuid AND c.user_id = s.user_id RETURNING c.item_json)"
    " SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM s) THEN 401"
    "             WHEN NOT EXISTS (SELECT 1 FROM up) THEN 404 ELSE 200 END,"
    " (SELECT item_json FROM up)",
    4,
};

/* messages go with it: ON DELETE CASCADE. */
static const struct db_statement CONV_DELETE = {
    "api_conv_delete",
    API_SESSION_CTE
    ", del AS (DELETE FROM conversations c USING s WHERE c.id = $2::uuid AND c.user_id = s.user_id RETURNING 1)"
    " SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM s) THEN 401"
    "             WHEN NOT EXISTS (SELECT 1 FROM del) THEN 404 ELSE 204 END, NULL::text",
    2,
};

static const struct db_statement MSG_LIST = {
    "api_msg_list",
    API_SESSION_CTE
    ", mine AS (SELECT c.id FROM conversations c, s WHERE c.id = $2::uuid AND c.user_id = s.user_id)"
    " SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM s) THEN 401 WHEN m.id IS NULL THEN 404 ELSE 200 END,"
    "        p.items, p.more, p.last_micros, p.last_id"
    " FROM (SELECT (SELECT id FROM mine) AS id) m"
    " CROSS JOIN LATERAL message_page(m.id, $3::bigint, $4::uuid, $5::int) p",
    5,
};

/* The conversation's updated_at moves in the same statement that adds the message. */
static const struct db_statement MSG_CREATE = {
    "api_msg_create",
    API_SESSION_CTE
    ", bump AS (UPDATE conversations c SET updated_at = now() FROM s"
    "   WHERE c.id = $2::uuid AND c.user_id = s.user_id RETURNING c.id)"
    ", ins AS (INSERT INTO messages (conversation_id, role, content) SELECT id, $3, $4 FROM bump RETURNING *)"
    " SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM s) THEN 401"
    "             WHEN NOT EXISTS (SELECT 1 FROM ins) THEN 404 ELSE 201 END,"
    " " ROW_JSON(MESSAGE_COLUMNS, "ins"),
    4,
};

static int run(struct api_call *call, const struct db_statement *stmt, const char *const *values)
{
    PGresult *res = api_call_query(call, stmt, values, "conversation");
    if (!res)
        return call->ex->status;
    int status = api_reply_result(call->ex, res);
    PQclear(res);
    return status;
}

static int run_page(struct api_call *call, const struct db_statement *stmt, const char *const *values,
                    const char *scope)
{
    PGresult *res = api_call_query(call, stmt, values, "conversation");
    if (!res)
        return call->ex->status;
    int status = api_reply_page(call, res, scope);
    PQclear(res);
    return status;
}

static int list_conversations(struct api_call *call)
{
    struct http_exchange *ex = call->ex;
    char archived[8] = "false", limit[16], micros[24], id[37], scope[48];
    int found = api_query_lookup(ex->query, "archived", archived, sizeof archived);
    if (found == 0)
        strcpy(archived, "false");
    else if (found < 0 || (strcmp(archived, "true") != 0 && strcmp(archived, "false") != 0))
        return reply_json_error(ex, 400, "invalid_parameter", "archived must be true or false", "archived");
    if (!api_read_limit(ex, CONVERSATIONS_LIMIT_MAX, limit))
        return ex->status;
    snprintf(scope, sizeof scope, "conversations:archived=%s", archived);
    const char *micros_value, *id_value;
    if (!api_read_cursor(call, scope, micros, id, &micros_value, &id_value))
        return ex->status;
    const char *values[] = {call->token_hash, archived, micros_value, id_value, limit};
    return run_page(call, &CONV_LIST, values, scope);
}

/* A title that is empty or only spaces names nothing: the dashboard (which never sends one)
 * would list it as "Untitled". Answers 400 and returns true for one; false when fine. */
/* 400 invalid_title for a title of nothing but spaces (what JavaScript's trim() removes, as
 * the dashboard does); 0 when the title may be stored or is absent. */
static int refuse_blank_title(struct api_call *call, json_t *title)
{
    if (!title || !api_text_is_blank(json_string_value(title)))
        return 0;
    return reply_json_error(call->ex, 400, "invalid_title", "title must contain something other than spaces", "title");
}

static int create_conversation(struct api_call *call)
{
    static const struct api_field fields[] = {{"title", API_FIELD_STRING, true, CONVERSATIONS_TITLE_MAX}};
    json_t *body = api_read_json_object(call->ex, (size_t)call->ctx->cfg->api.max_body, fields, 1);
    if (!body)
        return call->ex->status;
    json_t *title = json_object_get(body, "title");
    int status = refuse_blank_title(call, title);
    if (!status) {
        const char *values[] = {call->token_hash, json_string_value(title)};
        status = run(call, &CONV_CREATE, values);
    }
    json_decref(body);
    return status;
}

static int patch_conversation(struct api_call *call, const char *id)
{
    static const struct api_field fields[] = {
        {"title", API_FIELD_STRING, false, CONVERSATIONS_TITLE_MAX},
        {"archived", API_FIELD_BOOL, false, 0},
    };
    json_t *body = api_read_json_object(call->ex, (size_t)call->ctx->cfg->api.max_body, fields, 2);
    if (!body)
        return call->ex->status;
    json_t *title = json_object_get(body, "title"), *archived = json_object_get(body, "archived");
    int status;
    if (!title && !archived) {
        status = reply_json_error(call->ex, 400, "missing_field", "give title, archived or both", "title");
    } else if (!(status = refuse_blank_title(call, title))) {
        const char *values[] = {call->token_hash, id, title ? json_string_value(title) : NULL,
                                archived ? (json_is_true(archived) ? "true" : "false") : NULL};
        status = run(call, &CONV_PATCH, values);
    }
    json_decref(body);
    return status;
}

static int list_messages(struct api_call *call, const char *conversation_id)
{
    char limit[16], micros[24], id[37], scope[64];
    if (!api_read_limit(call->ex, MESSAGES_LIMIT_MAX, limit))
        return call->ex->status;
    snprintf(scope, sizeof scope, "messages:%s", conversation_id);
    const char *micros_value, *id_value;
    if (!api_read_cursor(call, scope, micros, id, &micros_value, &id_value))
        return call->ex->status;
    const char *values[] = {call->token_hash, conversation_id, micros_value, id_value, limit};
    return run_page(call, &MSG_LIST, values, scope);
}

static int create_message(struct api_call *call, const char *conversation_id)
{
    static const struct api_field fields[] = {
        {"role", API_FIELD_STRING, true, 16},
        {"content", API_FIELD_STRING, true, MESSAGES_CONTENT_MAX},
    };
    json_t *body = api_read_json_object(call->ex, (size_t)call->ctx->cfg->api.max_body, fields, 2);
    if (!body)
        return call->ex->status;
    const char *role = json_string_value(json_object_get(body, "role"));
    int status;
    if (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0 && strcmp(role, "system") != 0) {
        status = reply_json_error(call->ex, 400, "invalid_field", "role must be user, assistant or system", "role");
    } else {
        const char *values[] = {call->token_hash, conversation_id, role,
                                json_string_value(json_object_get(body, "content"))};
        status = run(call, &MSG_CREATE, values);
    }
    json_decref(body);
    return status;
}

static int handle_collection(const struct api_context *ctx, struct http_exchange *ex)
{
    bool read = api_method_is_read(ex->method), post = strcmp(ex->method, "POST") == 0;
    if (!read && !post)
        return api_reply_method_not_allowed(ex, "GET, HEAD, POST");
    struct api_call call;
    if (!api_call_begin(&call, ctx, ex))
        return ex->status;
    return read ? list_conversations(&call) : create_conversation(&call);
}

/* /api/conversations/{id} and /api/conversations/{id}/messages. */
static int handle_item(const struct api_context *ctx, struct http_exchange *ex)
{
    char raw[64], id[37];
    unsigned char bytes[16];
    const char *rest = NULL;
    bool parsed = api_path_segment(ex->path, "/api/conversations/", raw, sizeof raw, &rest);
    bool messages = parsed && strcmp(rest, "/messages") == 0;
    if (!parsed || (*rest && !messages))
        return reply_json_error(ex, 404, "not_found", "no such API route", NULL);
    const char *m = ex->method;
    bool read = api_method_is_read(m);
    if (messages ? !(read || strcmp(m, "POST") == 0)
                 : !(read || strcmp(m, "PATCH") == 0 || strcmp(m, "DELETE") == 0))
        return api_reply_method_not_allowed(ex, messages ? "GET, HEAD, POST" : "GET, HEAD, PATCH, DELETE");
    struct api_call call;
    if (!api_call_begin(&call, ctx, ex))
        return ex->status;
    if (!cursor_uuid_parse(raw, bytes)) /* never reaches the database */
        return reply_json_error(ex, 404, "not_found", "no such conversation", NULL);
    cursor_uuid_format(bytes, id);
    if (messages)
        return read ? list_messages(&call, id) : create_message(&call, id);
    const char *values[] = {call.token_hash, id};
    if (read)
        return run(&call, &CONV_GET, values);
    if (strcmp(m, "DELETE") == 0)
        return run(&call, &CONV_DELETE, values);
    return patch_conversation(&call, id);
}

int conversations_handle(const struct api_context *ctx, struct http_exchange *ex)
{
    if (strcmp(ex->path, "/api/conversations") == 0)
        return handle_collection(ctx, ex);
    if (strncmp(ex->path, "/api/conversations/", strlen("/api/conversations/")) == 0)
        return handle_item(ctx, ex);
    return 0;
}
