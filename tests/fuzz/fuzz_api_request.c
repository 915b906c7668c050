/* fuzz_api_request — any request body through the strict JSON reader with the field tables of
 * every /api route that takes a body (conversation create and patch, message create,
 * preference value), and the same bytes as a query string and a path for the other /api
 * parsers. A body is either refused with one of the documented 400 codes, or it is an object
 * holding only known fields of the right type and size, with every required one present. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/api_request.h"
#include "tessera/conversations.h"
#include "tessera/preferences.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct route_fields {
    const struct api_field *fields;
    size_t count;
};

static const struct api_field CONVERSATION_CREATE[] = {{"title", API_FIELD_STRING, true, CONVERSATIONS_TITLE_MAX}};
static const struct api_field CONVERSATION_PATCH[] = {
    {"title", API_FIELD_STRING, false, CONVERSATIONS_TITLE_MAX},
    {"archived", API_FIELD_BOOL, false, 0},
};
static const struct api_field MESSAGE_CREATE[] = {
    {"role", API_FIELD_STRING, true, 16},
    {"content", API_FIELD_STRING, true, MESSAGES_CONTENT_MAX},
};
static const struct api_field PREFERENCE_VALUE[] = {{"value", API_FIELD_ANY, true, PREFERENCES_VALUE_MAX}};

static bool value_fits(const struct api_field *f, json_t *value)
{
    if (f->type == API_FIELD_BOOL)
        return json_is_boolean(value);
    if (f->type == API_FIELD_STRING)
        return json_is_string(value) && json_string_length(value) <= f->max_bytes;
    char *dump = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    bool fits = dump && strlen(dump) <= f->max_bytes;
    free(dump);
    return fits;
}

static void check_accepted(json_t *root, const struct route_fields *route)
{
    if (!json_is_object(root))
        abort();
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value) {
        const struct api_field *f = NULL;
        for (size_t i = 0; i < route->count; i++)
            if (strcmp(route->fields[i].name, key) == 0)
                f = &route->fields[i];
        if (!f || !value_fits(f, value))
            abort();
    }
    for (size_t i = 0; i < route->count; i++)
        if (route->fields[i].required && !json_object_get(root, route->fields[i].name))
            abort();
}

static void check_refused(const struct api_body_problem *problem, const struct route_fields *route)
{
    static const char *codes[] = {"invalid_json", "unknown_field", "invalid_field", "missing_field"};
    size_t code = 0;
    while (code < 4 && !(problem->code && strcmp(problem->code, codes[code]) == 0))
        code++;
    if (code == 4 || strnlen(problem->message, sizeof problem->message) == sizeof problem->message ||
        !problem->message[0])
        abort();
    if (code >= 2) { /* it names one of the route's own fields */
        bool named = false;
        for (size_t i = 0; problem->field && i < route->count; i++)
            named |= strcmp(route->fields[i].name, problem->field) == 0;
        if (!named)
            abort();
    }
}

static void check_body(const char *body, size_t len)
{
    const struct route_fields routes[] = {
        {CONVERSATION_CREATE, 1}, {CONVERSATION_PATCH, 2}, {MESSAGE_CREATE, 2}, {PREFERENCE_VALUE, 1}};
    for (size_t r = 0; r < sizeof routes / sizeof routes[0]; r++) {
        struct api_body_problem problem;
        json_t *root = api_parse_json_object(body, len, routes[r].fields, routes[r].count, &problem);
        if (root)
            check_accepted(root, &routes[r]);
        else
            check_refused(&problem, &routes[r]);
        json_decref(root);
        api_body_problem_clear(&problem);
    }
}

static void check_query_and_path(const char *text)
{
    char out[64];
    const char *names[] = {"cursor", "limit", "archived"};
    for (size_t i = 0; i < 3; i++) {
        int found = api_query_lookup(text, names[i], out, sizeof out);
        if (found < -1 || found > 1 || (found == 1 && strlen(out) >= sizeof out))
            abort();
    }
    const char *rest = NULL;
    if (api_path_segment(text, "/api/conversations/", out, sizeof out, &rest) &&
        (strlen(out) >= sizeof out || !rest || (*rest && *rest != '/')))
        abort();
    if (api_key_valid(text) && (strlen(text) > 64 || strspn(text, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != strlen(text)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exactly the input bytes: the body reader is given a length, not a NUL. */
    char *body = malloc(size ? size : 1);
    char *text = malloc(size + 1);
    if (!body || !text)
        abort();
    memcpy(body, data, size);
    memcpy(text, data, size);
    text[size] = '\0';
    check_body(body, size);
    check_query_and_path(text);
    free(body);
    free(text);
    return 0;
}
