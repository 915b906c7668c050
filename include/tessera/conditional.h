/* conditional — RFC 9110 conditional and range requests as pure functions: given the
 * request's validator headers and the representation's ETag, mtime and size, decide
 * between 200, 304, 206, 412 and 416. No I/O. */
#ifndef TESSERA_CONDITIONAL_H
#define TESSERA_CONDITIONAL_H

#include <stdbool.h>
#include <stdint.h>

struct cond_request {
    const char *if_match;           /* each may be NULL (absent) */
    const char *if_unmodified_since;
    const char *if_none_match;
    const char *if_modified_since;
    const char *range;
    const char *if_range;
};

struct cond_entity {
    const char *etag;               /* strong, with quotes: "\"abc\"" */
    int64_t mtime;                  /* Last-Modified, unix seconds */
    int64_t size;                   /* of this representation */
    bool ranges;                    /* false: Range is ignored (compressed representations) */
};

struct cond_outcome {
    int status;                     /* 200, 304, 206, 412 or 416 */
    int64_t start;                  /* 206: first byte */
    int64_t length;                 /* 206: bytes from start */
};

/* True when the If-None-Match value matches etag: "*", or any listed tag equal under weak
 * comparison (W/ prefixes ignored, opaque parts compared byte for byte). */
bool cond_if_none_match(const char *header, const char *etag);

/* True when the If-Match value matches etag: "*", or any listed tag equal under strong
 * comparison (a W/ tag never matches). */
bool cond_if_match(const char *header, const char *etag);

/* Parses one "bytes=" range against size. Returns 1 with start and length set for a satisfiable
 * single range, 0 when the header is to be ignored (malformed, other unit, several ranges),
 * -1 when unsatisfiable (416). */
int cond_parse_range(const char *header, int64_t size, int64_t *start, int64_t *length);

/* The whole decision for a GET/HEAD. */
struct cond_outcome cond_evaluate(const struct cond_request *req, const struct cond_entity *ent);
#endif
