/* api_request — reading and checking /api request bodies; shared by every API module. */
#ifndef TESSERA_API_REQUEST_H
#define TESSERA_API_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "tessera/http.h"

/* Deepest nesting of objects and arrays a body may have, the body object being level 1 (so
 * a field's value may nest API_JSON_DEPTH_MAX - 1 levels). jansson, and the walks over its
 * values, recurse once per level on a worker thread's small stack. */
#define API_JSON_DEPTH_MAX 32

/* One field a route accepts. */
enum api_field_type { API_FIELD_STRING, API_FIELD_BOOL, API_FIELD_ANY };
struct api_field {
    const char *name;
    enum api_field_type type;
    bool required;
    size_t max_bytes;   /* strings: UTF-8 bytes; ANY: serialized size; 0 = no limit */
};

/* Reads the body (at most max_body bytes) and parses it as a JSON object holding only
 * `fields` (n_fields entries), of their types. On any problem sends the 4xx JSON error
 * itself — 415 wrong Content-Type, 413 too large, 400 malformed / wrong type / missing /
 * unknown field (naming it) — and returns NULL. The caller json_decref()s the result.
 * A leading UTF-8 byte order mark is ignored; a string holding U+0000 (PostgreSQL cannot
 * store it), a number beyond 64-bit integers or doubles, and a value nested deeper than
 * API_JSON_DEPTH_MAX allows are invalid_field, named. */
json_t *api_read_json_object(struct http_exchange *ex, size_t max_body, const struct api_field *fields,
                             size_t n_fields);

/* Why a body was refused: the error code and message of its 400 reply, and the field that
 * reply names (NULL for none). api_body_problem_clear() frees field. */
struct api_body_problem {
    const char *code;
    char message[256];
    char *field;
};

/* The pure half of api_read_json_object, for tests and fuzzing: body[0..len) as a JSON
 * object holding only `fields`, of their types. Returns the object (the caller
 * json_decref()s it), or NULL with *problem filled. */
json_t *api_parse_json_object(const char *body, size_t len, const struct api_field *fields, size_t n_fields,
                              struct api_body_problem *problem);
void api_body_problem_clear(struct api_body_problem *problem);

/* CSRF: a state-changing request authenticated by cookie must come from our own origin
 * (Sec-Fetch-Site: same-origin, or Origin matching Host when Sec-Fetch-Site does not say
 * same-site or cross-site). Bearer-token requests pass. */
bool api_same_origin(const struct http_exchange *ex);

/* Percent-decoded path segment after a prefix: "/api/conversations/ID/messages" with
 * prefix "/api/conversations/" gives "ID" in out. Returns false if malformed or too long. */
bool api_path_segment(const char *path, const char *prefix, char *out, size_t size, const char **rest);

/* A query parameter's raw (percent-decoded) value, or false when absent. */
bool api_query_param(const char *query, const char *name, char *out, size_t size);
/* The same, telling absent (0) from present (1) and malformed or too long (-1). */
int api_query_lookup(const char *query, const char *name, char *out, size_t size);

/* Pure: text is empty or only what JavaScript's String.prototype.trim() removes (ASCII
 * spaces and controls \t-\r, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F,
 * U+3000, U+FEFF): what the dashboard shows as "Untitled". Invalid UTF-8 is not blank. */
bool api_text_is_blank(const char *text);

/* A preference key: ^[a-z][a-z0-9_.-]{0,63}$. Pure; checked before any query. */
bool api_key_valid(const char *key);
#endif
