/* api_request — bounded body reading and strict JSON checking for /api routes. */
#include "tessera/api_request.h"

#include <civetweb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tessera/percent.h"
#include "tessera/request_body.h"
#include "tessera/strbuf.h"

static bool is_json_content_type(const char *value)
{
    if (!value)
        return false;
    size_t n = strlen("application/json");
    return strncasecmp(value, "application/json", n) == 0 && (value[n] == '\0' || value[n] == ';' || value[n] == ' ');
}

static const char *type_name(enum api_field_type t)
{
    return t == API_FIELD_STRING ? "a string" : t == API_FIELD_BOOL ? "a boolean" : "a JSON value";
}

static bool field_fits(const struct api_field *f, json_t *value)
{
    if (f->type == API_FIELD_STRING) {
        if (!json_is_string(value))
            return false;
        return f->max_bytes == 0 || json_string_length(value) <= f->max_bytes;
    }
    if (f->type == API_FIELD_BOOL)
        return json_is_boolean(value);
    if (f->max_bytes) {
        char *dump = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
        size_t len = dump ? strlen(dump) : (size_t)-1;
        free(dump);
        return len <= f->max_bytes;
    }
    return true;
}

/* Fills *problem; returns NULL so that every refusal below is one statement. */
static json_t *refuse(struct api_body_problem *problem, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static json_t *refuse(struct api_body_problem *problem, const char *code, const char *field, const char *fmt, ...)
{
    problem->code = code;
    problem->field = field ? strdup(field) : NULL; /* without memory the reply just names no field */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problem->message, sizeof problem->message, fmt, ap);
    va_end(ap);
    return NULL;
}

static const struct api_field *field_named(const struct api_field *fields, size_t n_fields, const char *name)
{
    for (size_t i = 0; i < n_fields; i++)
        if (strcmp(fields[i].name, name) == 0)
            return &fields[i];
    return NULL;
}

json_t *api_parse_json_object(const char *body, size_t len, const struct api_field *fields, size_t n_fields,
                              struct api_body_problem *problem)
{
    *problem = (struct api_body_problem){0};
    json_error_t err;
    json_t *root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &err);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return refuse(problem, "invalid_json", NULL, "malformed JSON: %s", root ? "expected an object" : err.text);
    }
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value) {
        const struct api_field *f = field_named(fields, n_fields, key);
        if (!f) {
            refuse(problem, "unknown_field", key, "unknown field \"%.64s\"", key); /* copies key before root goes */
            json_decref(root);
            return NULL;
        }
        if (!field_fits(f, value)) {
            json_decref(root);
            if (f->max_bytes)
                return refuse(problem, "invalid_field", f->name, "%s must be %s of at most %zu bytes", f->name,
                              type_name(f->type), f->max_bytes);
            return refuse(problem, "invalid_field", f->name, "%s must be %s", f->name, type_name(f->type));
        }
    }
    for (size_t i = 0; i < n_fields; i++) {
        if (fields[i].required && !json_object_get(root, fields[i].name)) {
            json_decref(root);
            return refuse(problem, "missing_field", fields[i].name, "%s is required", fields[i].name);
        }
    }
    return root;
}

void api_body_problem_clear(struct api_body_problem *problem)
{
    free(problem->field);
    problem->field = NULL;
}

json_t *api_read_json_object(struct http_exchange *ex, size_t max_body, const struct api_field *fields, size_t n_fields)
{
    if (!is_json_content_type(http_header(ex, "Content-Type"))) {
        reply_json_error(ex, 415, "unsupported_media_type", "the body must be application/json", NULL);
        return NULL;
    }
    struct strbuf body;
    strbuf_init(&body);
    int status = request_body_read(ex, max_body, &body);
    if (status) {
        strbuf_free(&body);
        if (status == 413)
            reply_json_error(ex, 413, "body_too_large", "the request body is too large", NULL);
        else
            reply_json_error(ex, status, "bad_request", "the request body could not be read", NULL);
        return NULL;
    }
    struct api_body_problem problem;
    json_t *root = api_parse_json_object(body.data, body.len, fields, n_fields, &problem);
    strbuf_free(&body);
    if (!root) {
        reply_json_error(ex, 400, problem.code, problem.message, problem.field);
        api_body_problem_clear(&problem);
    }
    return root;
}

bool api_same_origin(const struct http_exchange *ex)
{
    const char *site = http_header(ex, "Sec-Fetch-Site");
    if (site && strcasecmp(site, "same-origin") == 0)
        return true;
    const char *origin = http_header(ex, "Origin");
    const char *host = http_header(ex, "Host");
    if (!origin || !host)
        return false;
    const char *after_scheme = strstr(origin, "://");
    return after_scheme && strcasecmp(after_scheme + 3, host) == 0;
}

/* Percent-decodes a path segment or query value; '+' stays '+'. */
static bool percent_decode_exact(const char *s, size_t len, char *out, size_t size)
{
    return percent_decode(s, len, 0, out, size) >= 0;
}

bool api_path_segment(const char *path, const char *prefix, char *out, size_t size, const char **rest)
{
    size_t plen = strlen(prefix);
    if (strncmp(path, prefix, plen) != 0)
        return false;
    const char *seg = path + plen;
    size_t len = strcspn(seg, "/");
    if (len == 0)
        return false;
    if (rest)
        *rest = seg + len;
    return percent_decode_exact(seg, len, out, size);
}

int api_query_lookup(const char *query, const char *name, char *out, size_t size)
{
    size_t name_len = strlen(name);
    for (const char *p = query; p && *p;) {
        size_t len = strcspn(p, "&");
        if (len > name_len && p[name_len] == '=' && strncmp(p, name, name_len) == 0)
            return percent_decode_exact(p + name_len + 1, len - name_len - 1, out, size) ? 1 : -1;
        if (len == name_len && strncmp(p, name, name_len) == 0) {
            if (size) out[0] = '\0';
            return 1;
        }
        p += len;
        if (*p == '&') p++;
    }
    return 0;
}

bool api_query_param(const char *query, const char *name, char *out, size_t size)
{
    return api_query_lookup(query, name, out, size) == 1;
}

bool api_key_valid(const char *key)
{
    if (!key || !(key[0] >= 'a' && key[0] <= 'z'))
        return false;
    size_t n = 1;
    for (; key[n]; n++) {
        char c = key[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        if (!ok || n >= 64)
            return false;
    }
    return true;
}
