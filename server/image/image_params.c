/* image_params — query validation and format choice for /_image, pure functions only.
 * The reasons mirror the Next.js optimizer's messages so a front end sees familiar errors. */
#include "tessera/image_params.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tessera/percent.h"

/* Form-decodes one query value ('+' is a space); -1 on a bad escape or when it does not fit.
 * An encoded NUL is kept so that it is reported as a control character below. */
static int percent_decode_form(const char *s, size_t n, char *out, size_t size)
{
    return percent_decode(s, n, PERCENT_PLUS_IS_SPACE | PERCENT_ALLOW_NUL, out, size);
}

struct raw_param { const char *value; size_t len; int count; };

static void query_scan(const char *query, struct raw_param *url, struct raw_param *w, struct raw_param *q)
{
    const char *p = query ? query : "";
    while (*p) {
        const char *end = strchr(p, '&');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        size_t name_len = eq ? (size_t)(eq - p) : n;
        struct raw_param *dst = NULL;
        if (name_len == 3 && memcmp(p, "url", 3) == 0) dst = url;
        else if (name_len == 1 && p[0] == 'w') dst = w;
        else if (name_len == 1 && p[0] == 'q') dst = q;
        if (dst) {
            if (dst->count++ == 0) {
                dst->value = eq ? eq + 1 : p + n;
                dst->len = eq ? n - name_len - 1 : 0;
            }
        }
        p += n;
        if (*p == '&') p++;
    }
}

static bool list_contains(const struct config_int_list *list, long v)
{
    for (int i = 0; i < list->count; i++)
        if (list->values[i] == v) return true;
    return false;
}

/* Whole decimal number, 1..6 digits, no sign or spaces; -1 otherwise. */
static long parse_small_int(const struct raw_param *p)
{
    if (p->len == 0 || p->len > 6) return -1;
    long v = 0;
    for (size_t i = 0; i < p->len; i++) {
        if (p->value[i] < '0' || p->value[i] > '9') return -1;
        v = v * 10 + (p->value[i] - '0');
    }
    return v;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool is_endpoint(const char *path)
{
    static const char *const endpoints[] = {"/_image", "/_next/image"};
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(endpoints[i]);
        if (strncmp(path, endpoints[i], n) == 0 && (path[n] == '\0' || path[n] == '/' || path[n] == '?'))
            return true;
    }
    return false;
}

const char *image_path_validate(const char *url, char *out, size_t size)
{
    if (url[0] != '/') return "\"url\" parameter is not a local path";
    size_t o = 0, seg_start = 0;
    for (size_t i = 0;; i++) {
        int c = (unsigned char)url[i];
        bool encoded = false;
        if (c == '%') {
            int hi = percent_hex_value((unsigned char)url[i + 1]), lo = hi < 0 ? -1 : percent_hex_value((unsigned char)url[i + 2]);
            if (hi < 0 || lo < 0) return "\"url\" parameter has a bad percent escape";
            c = hi * 16 + lo;
            encoded = true;
            i += 2;
        }
        if (c == '\0' && !encoded) {
            out[o] = '\0';
            break;
        }
        if (c == '\0' || c < 0x20 || c == 0x7f) return "\"url\" parameter contains a control character";
        if (c == '\\') return "\"url\" parameter contains a backslash";
        if (c == '/' && encoded) return "\"url\" parameter contains an encoded separator";
        if (c == '/' && o > 0) {
            if (o == seg_start) return "\"url\" parameter has an empty path segment";
        }
        if (o + 1 >= size) return "\"url\" parameter is too long";
        out[o++] = (char)c;
        if (c == '/') seg_start = o;
        else if (o == seg_start + 1 && c == '.')
            return "\"url\" parameter is outside the root (dot segment)";
    }
    if (o == seg_start) return "\"url\" parameter does not name a file";
    return NULL;
}

static const char *url_check(const struct raw_param *raw, struct image_params *out)
{
    if (raw->count == 0 || raw->len == 0) return "\"url\" parameter is required";
    if (raw->count > 1) return "\"url\" parameter cannot be an array";
    if (raw->len > IMAGE_URL_MAX * 3) return "\"url\" parameter is too long";
    char decoded[IMAGE_URL_MAX + 2];
    int n = percent_decode_form(raw->value, raw->len, decoded, sizeof decoded);
    if (n < 0 && raw->len > IMAGE_URL_MAX) return "\"url\" parameter is too long";
    if (n < 0) return "\"url\" parameter has a bad percent escape";
    if (n > IMAGE_URL_MAX) return "\"url\" parameter is too long";
    if (memchr(decoded, '\0', (size_t)n)) return "\"url\" parameter contains a control character";
    if (starts_with(decoded, "//")) return "\"url\" parameter cannot be a protocol-relative URL (//)";
    if (decoded[0] != '/') return "\"url\" parameter is not allowed (only local paths)";
    if (is_endpoint(decoded)) return "\"url\" parameter cannot be recursive";
    /* The query and fragment of a local url do not select a file. */
    decoded[strcspn(decoded, "?#")] = '\0';
    return image_path_validate(decoded, out->path, sizeof out->path);
}

const char *image_params_parse(const char *query, const struct config_int_list *widths,
                               const struct config_int_list *qualities, struct image_params *out)
{
    struct raw_param url = {0}, w = {0}, q = {0};
    query_scan(query, &url, &w, &q);
    const char *reason = url_check(&url, out);
    if (reason) return reason;
    if (w.count == 0) return "\"w\" parameter (width) is required";
    if (w.count > 1) return "\"w\" parameter (width) cannot be an array";
    long wv = parse_small_int(&w);
    if (wv <= 0) return "\"w\" parameter (width) must be an integer greater than 0";
    if (!list_contains(widths, wv)) return "\"w\" parameter (width) is not one of images.widths";
    if (q.count == 0) return "\"q\" parameter (quality) is required";
    if (q.count > 1) return "\"q\" parameter (quality) cannot be an array";
    long qv = parse_small_int(&q);
    if (qv < 1 || qv > 100) return "\"q\" parameter (quality) must be an integer between 1 and 100";
    if (!list_contains(qualities, qv)) return "\"q\" parameter (quality) is not one of images.qualities";
    out->width = (int)wv;
    out->quality = (int)qv;
    return NULL;
}

unsigned image_formats_parse(const char *list)
{
    unsigned set = 0;
    const char *p = list ? list : "";
    while (*p) {
        while (*p == ',' || *p == ' ') p++;
        size_t n = strcspn(p, ", ");
        if (n == 4 && strncasecmp(p, "avif", 4) == 0) set |= 1u << IMAGE_FORMAT_AVIF;
        else if (n == 4 && strncasecmp(p, "webp", 4) == 0) set |= 1u << IMAGE_FORMAT_WEBP;
        else if ((n == 4 && strncasecmp(p, "jpeg", 4) == 0) || (n == 3 && strncasecmp(p, "jpg", 3) == 0))
            set |= 1u << IMAGE_FORMAT_JPEG;
        else if (n == 3 && strncasecmp(p, "png", 3) == 0) set |= 1u << IMAGE_FORMAT_PNG;
        p += n;
    }
    return set;
}

/* True when a q parameter in [params, end) says q=0 (0, 0.0, 0.00, 0.000). */
static bool accept_refused(const char *params, const char *end)
{
    const char *p = params;
    while (p < end) {
        while (p < end && (*p == ';' || *p == ' ' || *p == '\t')) p++;
        if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            p += 2;
            if (p >= end || *p != '0') return false;
            p++;
            if (p < end && *p == '.') p++;
            while (p < end && *p == '0') p++;
            return p >= end || *p == ';' || *p == ' ';
        }
        while (p < end && *p != ';') p++;
    }
    return false;
}

static bool accept_names(const char *accept, const char *type)
{
    size_t tn = strlen(type);
    const char *p = accept;
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        size_t n = strcspn(p, ";, \t");
        if (n > (size_t)(end - p)) n = (size_t)(end - p);
        if (n == tn && strncasecmp(p, type, tn) == 0 && !accept_refused(p + n, end))
            return true;
        p = end;
    }
    return false;
}

enum image_format image_format_choose(const char *accept, unsigned offered, enum image_format source)
{
    if (accept) {
        if ((offered & (1u << IMAGE_FORMAT_AVIF)) && accept_names(accept, "image/avif")) return IMAGE_FORMAT_AVIF;
        if ((offered & (1u << IMAGE_FORMAT_WEBP)) && accept_names(accept, "image/webp")) return IMAGE_FORMAT_WEBP;
    }
    /* Sources the browser may not decode (WebP, AVIF) fall back to the universal formats. */
    if (source == IMAGE_FORMAT_WEBP || source == IMAGE_FORMAT_AVIF) return IMAGE_FORMAT_PNG;
    return source;
}

const char *image_format_mime(enum image_format f)
{
    switch (f) {
    case IMAGE_FORMAT_JPEG: return "image/jpeg";
    case IMAGE_FORMAT_PNG: return "image/png";
    case IMAGE_FORMAT_WEBP: return "image/webp";
    case IMAGE_FORMAT_AVIF: return "image/avif";
    case IMAGE_FORMAT_GIF: return "image/gif";
    case IMAGE_FORMAT_SVG: return "image/svg+xml";
    default: return "application/octet-stream";
    }
}

enum image_format image_format_from_mime(const char *mime)
{
    for (enum image_format f = IMAGE_FORMAT_JPEG; f <= IMAGE_FORMAT_SVG; f++)
        if (strcmp(mime, image_format_mime(f)) == 0) return f;
    return IMAGE_FORMAT_NONE;
}

const char *image_format_ext(enum image_format f)
{
    switch (f) {
    case IMAGE_FORMAT_JPEG: return "jpg";
    case IMAGE_FORMAT_PNG: return "png";
    case IMAGE_FORMAT_WEBP: return "webp";
    case IMAGE_FORMAT_AVIF: return "avif";
    case IMAGE_FORMAT_GIF: return "gif";
    case IMAGE_FORMAT_SVG: return "svg";
    default: return "bin";
    }
}

const char *image_format_name(enum image_format f)
{
    return f == IMAGE_FORMAT_JPEG ? "jpeg" : image_format_ext(f);
}

static const char *last_segment(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* A run of at least 8 hash characters between a '.' or '-' and the extension: hex digits,
 * or base64url with both a digit and a letter (bundlers emit both styles). */
bool image_name_is_hashed(const char *path)
{
    const char *name = last_segment(path);
    const char *ext = strrchr(name, '.');
    if (!ext || ext == name) return false;
    const char *start = ext;
    while (start > name && (isalnum((unsigned char)start[-1]) || start[-1] == '_')) start--;
    size_t n = (size_t)(ext - start);
    if (start == name || (start[-1] != '.' && start[-1] != '-') || n < 8) return false;
    bool hex = true, digit = false, alpha = false;
    for (const char *p = start; p < ext; p++) {
        if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p)) hex = false;
        if (isdigit((unsigned char)*p)) digit = true;
        else alpha = true;
    }
    return hex || (digit && alpha);
}

void image_safe_filename(const char *path, enum image_format f, char *out, size_t size)
{
    const char *name = last_segment(path);
    const char *dot = strrchr(name, '.');
    size_t n = dot && dot != name ? (size_t)(dot - name) : strlen(name);
    const char *ext = image_format_ext(f);
    size_t room = size > strlen(ext) + 2 ? size - strlen(ext) - 2 : 0;
    size_t o = 0;
    for (size_t i = 0; i < n && o < room && o < 100; i++) {
        unsigned char c = (unsigned char)name[i];
        bool keep = isalnum(c) || c == '-' || c == '_' || (c == '.' && o > 0); /* no hidden names */
        out[o++] = keep ? (char)c : '_';
    }
    if (o == 0 && room > 5) { memcpy(out, "image", 5); o = 5; }
    if (size > 0) {
        out[o] = '\0';
        if (o + strlen(ext) + 2 <= size) {
            out[o++] = '.';
            strcpy(out + o, ext);
        }
    }
}

bool image_etag_matches(const char *if_none_match, const char *etag)
{
    if (!if_none_match) return false;
    size_t en = strlen(etag);
    const char *p = if_none_match;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        if (*p == '*') return true;
        if (strncmp(p, "W/", 2) == 0) p += 2; /* weak comparison is what If-None-Match uses */
        size_t n = strcspn(p, ", \t");
        if (n == en && memcmp(p, etag, en) == 0) return true;
        p += n;
    }
    return false;
}
