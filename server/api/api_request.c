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
#include "tessera/utf8.h"

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

/* PostgreSQL text and jsonb cannot hold U+0000; jansson decodes it when asked (so that the
 * reply can name the field) and it is refused here. */
static bool holds_nul(json_t *value)
{
    size_t i;
    const char *key;
    json_t *member;
    if (json_is_string(value))
        return strlen(json_string_value(value)) != json_string_length(value);
    if (json_is_array(value)) {
        json_array_foreach(value, i, member) {
            if (holds_nul(member))
                return true;
        }
    } else if (json_is_object(value)) {
        json_object_foreach(value, key, member) {
            if (holds_nul(member))
                return true;
        }
    }
    return false;
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

/* The length of s's longest prefix of at most max bytes that ends between characters: a key
 * quoted in a message and cut inside a character would make the error body invalid UTF-8. */
static int utf8_cut(const char *s, size_t len, size_t max)
{
    size_t n = 0;
    while (n < len) {
        size_t step = utf8_sequence_length((const unsigned char *)s + n, len - n);
        if (step == 0 || n + step > max)
            break;
        n += step;
    }
    return (int)n;
}

static const struct api_field *field_named(const struct api_field *fields, size_t n_fields, const char *name)
{
    for (size_t i = 0; i < n_fields; i++)
        if (strcmp(fields[i].name, name) == 0)
            return &fields[i];
    return NULL;
}

/* The top-level member whose value holds body[offset] (jansson reports a number out of range
 * just after it), into key; false when offset is not inside a member of an object. Keys are
 * copied raw: the field names routes accept need no escapes. */
static bool member_at(const char *body, size_t len, size_t offset, char *key, size_t size)
{
    int depth = 0;
    bool in_string = false, expect_key = false, have_key = false;
    size_t key_start = 0;
    for (size_t i = 0; i < len && i < offset; i++) {
        char c = body[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"') {
                in_string = false;
                if (depth == 1 && expect_key) {
                    size_t n = (size_t)utf8_cut(body + key_start, i - key_start, size - 1);
                    memcpy(key, body + key_start, n);
                    key[n] = '\0';
                    have_key = true;
                    expect_key = false;
                }
            }
        } else if (c == '"') {
            in_string = true;
            key_start = i + 1;
        } else if (c == '{' || c == '[') {
            expect_key = ++depth == 1 && c == '{';
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == ',' && depth == 1) {
            expect_key = true;
        }
    }
    return have_key && depth >= 1 && !in_string;
}

/* Where body first nests deeper than max (objects and arrays, outside strings), or -1. A
 * linear scan, so that nothing recursive (jansson's parser, dump, equal and free, our own
 * walks) ever sees a deep value: on a worker thread's small stack a value nested 500 deep
 * crashed the server in json_dumps. */
static long too_deep_at(const char *body, size_t len, int max)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = body[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                return (long)i;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return -1;
}

static json_t *refuse_too_deep(struct api_body_problem *problem, const char *body, size_t len, size_t offset,
                               const struct api_field *fields, size_t n_fields)
{
    char key[72];
    if (!member_at(body, len, offset, key, sizeof key))
        return refuse(problem, "invalid_json", NULL, "malformed JSON: nested deeper than %d levels",
                      API_JSON_DEPTH_MAX);
    if (!field_named(fields, n_fields, key))
        return refuse(problem, "unknown_field", key, "unknown field \"%.*s\"", utf8_cut(key, strlen(key), 64), key);
    return refuse(problem, "invalid_field", key, "%s is nested deeper than %d levels", key, API_JSON_DEPTH_MAX - 1);
}

/* jansson keeps integers in 64 bits and reals in doubles, and refuses the rest: say which
 * field held it rather than calling the body malformed. */
static json_t *refuse_unparsed(struct api_body_problem *problem, const char *body, size_t len,
                               const json_error_t *err, const struct api_field *fields, size_t n_fields)
{
    static const char *const range[] = {"too big integer", "too big negative integer", "real number overflow"};
    char key[72];
    for (size_t i = 0; i < sizeof range / sizeof range[0]; i++) {
        if (strncmp(err->text, range[i], strlen(range[i])) != 0 || err->position < 0 ||
            !member_at(body, len, (size_t)err->position, key, sizeof key))
            continue;
        if (!field_named(fields, n_fields, key))
            return refuse(problem, "unknown_field", key, "unknown field \"%.*s\"", utf8_cut(key, strlen(key), 64), key);
        return refuse(problem, "invalid_field", key,
                      "%s holds a number out of range (integers must fit in 64 bits, others in a double)", key);
    }
    return refuse(problem, "invalid_json", NULL, "malformed JSON: %s", err->text);
}

json_t *api_parse_json_object(const char *body, size_t len, const struct api_field *fields, size_t n_fields,
                              struct api_body_problem *problem)
{
    *problem = (struct api_body_problem){0};
    if (!body)
        body = "";
    /* RFC 8259 section 8.1: a parser may ignore a byte order mark, and Windows tools send one. */
    if (len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0) {
        body += 3;
        len -= 3;
    }
    long deep = too_deep_at(body, len, API_JSON_DEPTH_MAX);
    if (deep >= 0)
        return refuse_too_deep(problem, body, len, (size_t)deep, fields, n_fields);
    json_error_t err;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (!root)
        return refuse_unparsed(problem, body, len, &err, fields, n_fields);
    if (!json_is_object(root)) {
        json_decref(root);
        return refuse(problem, "invalid_json", NULL, "malformed JSON: expected an object");
    }
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value) {
        const struct api_field *f = field_named(fields, n_fields, key);
        if (!f) {
            /* refuse() copies key before root goes */
            refuse(problem, "unknown_field", key, "unknown field \"%.*s\"", utf8_cut(key, strlen(key), 64), key);
            json_decref(root);
            return NULL;
        }
        if (holds_nul(value)) {
            json_decref(root);
            return refuse(problem, "invalid_field", f->name, "%s may not contain \\u0000", f->name);
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
    /* The browser's verdict wins over Origin: a page of http://host (injectable on the
     * network) posting to https://host sends Origin http://host, which matches Host "any
     * scheme", and is same-site or cross-site to the browser. Older browsers send no
     * Sec-Fetch-Site and are judged by Origin alone. */
    if (site && (strcasecmp(site, "same-site") == 0 || strcasecmp(site, "cross-site") == 0))
        return false;
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

/* ECMAScript WhiteSpace and LineTerminator: what the dashboard's trim() removes. */
static bool is_js_space(unsigned long c)
{
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
           c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000 || c == 0xfeff;
}

bool api_text_is_blank(const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t left = strlen(text);
    while (left) {
        size_t len = utf8_sequence_length(s, left);
        if (len == 0)
            return false;
        unsigned long c = len == 1 ? s[0] : s[0] & (0xff >> (len + 1));
        for (size_t i = 1; i < len; i++)
            c = c << 6 | (s[i] & 0x3f);
        if (!is_js_space(c))
            return false;
        s += len;
        left -= len;
    }
    return true;
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
