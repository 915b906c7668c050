/* path — the document root is a wall: refusal over guessing. Everything a decoder could
 * turn into a separator, a parent step or a hidden name is refused before any file is named. */
#include "tessera/path.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/percent.h"
#include "tessera/utf8.h"

/* Percent-decodes the path part of raw into dec. Decoded separators, NUL and control
 * characters are refused here because after decoding they can no longer be told apart. */
static enum path_status decode_path(const char *raw, char *dec, size_t cap, size_t *len)
{
    size_t n = 0;
    for (const char *p = raw; *p && *p != '?' && *p != '#'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '%') {
            int hi = percent_hex_value((unsigned char)p[1]);
            int lo = hi < 0 ? -1 : percent_hex_value((unsigned char)p[2]);
            if (lo < 0) return PATH_BAD_REQUEST;
            c = (unsigned char)(hi * 16 + lo);
            if (c == '/' || c == '\\') return PATH_BAD_REQUEST;
            p += 2;
        }
        if (c == '\\' || c < 0x20 || c == 0x7F) return PATH_BAD_REQUEST;
        if (n + 1 >= cap) return PATH_TOO_LONG;
        dec[n++] = (char)c;
    }
    dec[n] = '\0';
    *len = n;
    return PATH_OK;
}

/* One segment's verdict: "." and ".." are malformed, other dot-names are hidden. A segment
 * longer than NAME_MAX is left to stat() (ENAMETOOLONG: not found), as nginx does: it is a
 * well-formed URL, and may be a client-side route carrying a long token. */
static enum path_status check_segment(const char *seg, size_t len, bool first, const struct path_options *opt)
{
    if (seg[0] != '.') return PATH_OK;
    if (len == 1 || (len == 2 && seg[1] == '.')) return PATH_BAD_REQUEST;
    if (first && opt && opt->well_known && len == 11 && memcmp(seg, ".well-known", 11) == 0)
        return PATH_OK;
    return PATH_NOT_FOUND;
}

enum path_status path_resolve(const char *root, const char *raw_url, const struct path_options *opt,
                              char *out, size_t out_size, struct path_resolved *res)
{
    if (!root || !raw_url || raw_url[0] != '/' || !out || out_size < 2 || !res)
        return PATH_BAD_REQUEST;
    char dec[PATH_MAX];
    size_t n;
    enum path_status st = decode_path(raw_url, dec, sizeof dec, &n);
    if (st != PATH_OK) return st;
    if (!utf8_valid((const unsigned char *)dec, n)) return PATH_BAD_REQUEST;

    size_t root_len = strlen(root);
    while (root_len > 1 && root[root_len - 1] == '/') root_len--;
    if (root_len == 1 && root[0] == '/') root_len = 0;
    size_t cap = out_size < PATH_MAX ? out_size : PATH_MAX;
    if (root_len + 2 > cap) return PATH_BAD_REQUEST;
    memcpy(out, root, root_len);
    size_t o = root_len;
    out[o++] = '/';

    bool first = true;
    const char *last_seg = NULL;
    size_t last_len = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && dec[i] == '/') i++; /* "//" collapses, as in nginx */
        size_t start = i;
        while (i < n && dec[i] != '/') i++;
        size_t len = i - start;
        if (len == 0) break;
        st = check_segment(dec + start, len, first, opt);
        if (st != PATH_OK) return st;
        if (!first) out[o++] = '/';
        if (o + len + 2 > cap) return PATH_TOO_LONG;
        memcpy(out + o, dec + start, len);
        o += len;
        last_seg = out + o - len;
        last_len = len;
        first = false;
    }
    out[o] = '\0';
    res->root_len = root_len;
    res->full_len = o;
    res->trailing_slash = n == 0 || dec[n - 1] == '/';
    res->has_extension = last_seg && memchr(last_seg + 1, '.', last_len - 1) != NULL;
    return PATH_OK;
}

bool path_check_inside(const char *real_root, const char *full)
{
    char real[PATH_MAX];
    if (!realpath(full, real)) return false;
    size_t n = strlen(real_root);
    if (n == 1 && real_root[0] == '/') return true;
    return strncmp(real, real_root, n) == 0 && (real[n] == '\0' || real[n] == '/');
}
