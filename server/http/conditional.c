/* conditional — the order of RFC 9110 §13.2.2: If-Match, else If-Unmodified-Since;
 * If-None-Match, else If-Modified-Since; then Range, gated by If-Range. CivetWeb's own
 * version gets each of these wrong. */
#include "tessera/conditional.h"

#include <ctype.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "tessera/http.h"

static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t') p++;
    return p;
}

/* The opaque part of a tag (between the quotes), ignoring a W/ prefix. */
static bool tag_opaque(const char *tag, size_t len, const char **opaque, size_t *olen)
{
    if (len >= 2 && tag[0] == 'W' && tag[1] == '/') { tag += 2; len -= 2; }
    if (len < 2 || tag[0] != '"' || tag[len - 1] != '"') return false;
    *opaque = tag + 1;
    *olen = len - 2;
    return true;
}

/* Whether the list in header holds etag: "*" always does; weak: W/ prefixes are ignored on
 * both sides, otherwise a W/ member never matches. */
static bool tag_list_matches(const char *header, const char *etag, bool weak)
{
    if (!header || !etag) return false;
    const char *want;
    size_t want_len;
    if (!tag_opaque(etag, strlen(etag), &want, &want_len)) return false;
    const char *p = header;
    while (*p) {
        p = skip_space(p);
        if (*p == ',') { p++; continue; }
        if (*p == '*') return true;
        const char *start = p;
        if (p[0] == 'W' && p[1] == '/') p += 2;
        if (*p != '"') { /* malformed member: skip to the next comma */
            while (*p && *p != ',') p++;
            continue;
        }
        const char *close = strchr(p + 1, '"');
        if (!close) return false;
        p = close + 1;
        const char *opaque;
        size_t olen;
        if ((weak || start[0] == '"') && tag_opaque(start, (size_t)(p - start), &opaque, &olen) &&
            olen == want_len && memcmp(opaque, want, olen) == 0)
            return true;
    }
    return false;
}

bool cond_if_none_match(const char *header, const char *etag) { return tag_list_matches(header, etag, true); }

bool cond_if_match(const char *header, const char *etag) { return tag_list_matches(header, etag, false); }

/* Reads a non-negative decimal; -1 when absent. Values past INT64_MAX saturate: they are
 * past the end of any file, and a client asking for bytes=0-<huge> means "to the end". */
static int64_t parse_offset(const char **pp)
{
    const char *p = *pp;
    if (!isdigit((unsigned char)*p)) return -1;
    int64_t v = 0;
    while (isdigit((unsigned char)*p)) {
        int d = *p++ - '0';
        v = v > (INT64_MAX - d) / 10 ? INT64_MAX : v * 10 + d;
    }
    *pp = p;
    return v;
}

int cond_parse_range(const char *header, int64_t size, int64_t *start, int64_t *length)
{
    if (!header) return 0;
    const char *p = skip_space(header);
    if (strncasecmp(p, "bytes", 5) != 0) return 0; /* units are case-insensitive (RFC 9110 14.1) */
    p = skip_space(p + 5);
    if (*p++ != '=') return 0;
    p = skip_space(p);
    int64_t first = -1, last = -1;
    if (*p == '-') { /* suffix: the last N bytes */
        p++;
        int64_t n = parse_offset(&p);
        if (n < 0) return 0;
        p = skip_space(p);
        if (*p) return 0;
        if (n == 0 || size == 0) return -1;
        *start = n >= size ? 0 : size - n;
        *length = size - *start;
        return 1;
    }
    first = parse_offset(&p);
    if (first < 0 || *p++ != '-') return 0;
    if (isdigit((unsigned char)*p)) {
        last = parse_offset(&p);
        if (last < 0 || last < first) return 0;
    }
    p = skip_space(p);
    if (*p) return 0; /* several ranges or trailing junk: answer with the whole file */
    if (first >= size) return -1;
    if (last < 0 || last >= size) last = size - 1;
    *start = first;
    *length = last - first + 1;
    return 1;
}

/* If-Range: a strong ETag equal to ours, or exactly our Last-Modified date. */
static bool if_range_holds(const char *if_range, const struct cond_entity *ent)
{
    if (!if_range) return true;
    const char *p = skip_space(if_range);
    if (*p == '"') return ent->etag && strcmp(p, ent->etag) == 0;
    if (p[0] == 'W' && p[1] == '/') return false; /* weak tags never qualify */
    int64_t t = http_date_parse(p);
    return t >= 0 && t == ent->mtime;
}

/* RFC 9110 13.2.2 steps 1-2. A date that does not parse is ignored (13.1.4). */
static bool preconditions_hold(const struct cond_request *req, const struct cond_entity *ent)
{
    if (req->if_match) return cond_if_match(req->if_match, ent->etag);
    if (req->if_unmodified_since) {
        int64_t since = http_date_parse(req->if_unmodified_since);
        return since < 0 || ent->mtime <= since;
    }
    return true;
}

struct cond_outcome cond_evaluate(const struct cond_request *req, const struct cond_entity *ent)
{
    struct cond_outcome out = {.status = 200, .start = 0, .length = ent->size};
    if (!preconditions_hold(req, ent)) { out.status = 412; out.length = 0; return out; }
    if (req->if_none_match) {
        if (cond_if_none_match(req->if_none_match, ent->etag)) { out.status = 304; return out; }
    } else if (req->if_modified_since) {
        int64_t since = http_date_parse(req->if_modified_since);
        if (since >= 0 && ent->mtime <= since) { out.status = 304; return out; }
    }
    if (!req->range || !ent->ranges || !if_range_holds(req->if_range, ent))
        return out;
    int64_t start, length;
    int r = cond_parse_range(req->range, ent->size, &start, &length);
    if (r == 1) { out.status = 206; out.start = start; out.length = length; }
    else if (r < 0) { out.status = 416; out.length = 0; }
    return out;
}
