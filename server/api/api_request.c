/* api_request — bounded body reading and strict JSON checking for /api routes. */
#include "tessera/api_request.h"

#include <civetweb.h>
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
    json_error_t err;
    json_t *root = json_loadb(body.data ? body.data : "", body.len, JSON_REJECT_DUPLICATES, &err);
    strbuf_free(&body);
    if (!root || !json_is_object(root)) {
        char message[256];
        snprintf(message, sizeof message, "malformed JSON: %s", root ? "expected an object" : err.text);
        json_decref(root);
        reply_json_error(ex, 400, "invalid_json", message, NULL);
        return NULL;
    }
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value) {
        const struct api_field *f = NULL;
        for (size_t i = 0; i < n_fields; i++)
            if (strcmp(fields[i].name, key) == 0) f = &fields[i];
        char message[160];
        if (!f) {
            snprintf(message, sizeof message, "unknown field \"%.64s\"", key);
            reply_json_error(ex, 400, "unknown_field", message, key); /* key lives in root */
            json_decref(root);
            return NULL;
        }
        if (!field_fits(f, value)) {
            if (f->max_bytes)
                snprintf(message, sizeof message, "%s must be %s of at most %zu bytes", f->name, type_name(f->type), f->max_bytes);
            else
                snprintf(message, sizeof message, "%s must be %s", f->name, type_name(f->type));
            json_decref(root);
            reply_json_error(ex, 400, "invalid_field", message, f->name);
            return NULL;
        }
    }
    for (size_t i = 0; i < n_fields; i++) {
        if (fields[i].required && !json_object_get(root, fields[i].name)) {
            char message[160];
            snprintf(message, sizeof message, "%s is required", fields[i].name);
            json_decref(root);
            reply_json_error(ex, 400, "missing_field", message, fields[i].name);
            return NULL;
        }
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
