/* image_cache — transcoded variants on disk (one file per variant, written to a temp file
 * then renamed), a bounded in-memory tier of hot small entries, LRU eviction by file mtime
 * done by a background thread, and reference-counted blobs that senders hold. */
#ifndef TESSERA_IMAGE_CACHE_H
#define TESSERA_IMAGE_CACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tessera/image_params.h"
#include "tessera/strbuf.h"

/* One variant's bytes and the headers derived from them; shared, immutable once made. */
struct image_blob {
    atomic_int refs;
    size_t len;
    char content_type[24];
    char etag[48];              /* quoted strong ETag */
    uint8_t *data;              /* points into the same allocation */
};

/* Copies data; computes the ETag from a CRC-32 of the bytes, their length and key hex. */
struct image_blob *image_blob_create(const uint8_t *data, size_t len, const char *content_type, const char *key_hex);
struct image_blob *image_blob_ref(struct image_blob *b);
void image_blob_unref(struct image_blob *b);

#define IMAGE_KEY_TEXT_MAX (IMAGE_URL_MAX + 256)

/* The identity of a variant: the full text (stored in the entry and compared on read, so a
 * hash collision can only ever cause a miss) and a 128-bit hash of it naming the file. */
struct image_cache_key {
    char hex[33];
    char text[IMAGE_KEY_TEXT_MAX];
};

void image_cache_key_make(struct image_cache_key *k, const char *path, int64_t size, int64_t mtime_ns,
                          int width, int quality, enum image_format format, const char *fingerprint);

struct image_cache;

/* Never fails for a bad directory: the cache then only lives in memory and says so once in
 * the log and in metrics. max_bytes caps the directory; mem_bytes the memory tier. */
struct image_cache *image_cache_open(const char *dir, int64_t max_bytes, int64_t mem_bytes);
void image_cache_close(struct image_cache *c);

/* A verified entry (memory first, then disk) with a reference for the caller, or NULL. */
struct image_blob *image_cache_get(struct image_cache *c, const struct image_cache_key *k);
/* The same lookup for a request that already counted its miss (a second look after joining
 * a single flight, or a background fill): a hit is counted, a miss is not again. */
struct image_blob *image_cache_recheck(struct image_cache *c, const struct image_cache_key *k);
/* Stores b under k on disk and in memory. Failures are counted, logged once, not returned. */
void image_cache_put(struct image_cache *c, const struct image_cache_key *k, struct image_blob *b);
void image_cache_metrics(struct image_cache *c, struct strbuf *out);
/* Runs one eviction pass now (tests and the CLI); returns the bytes on disk after it. */
int64_t image_cache_evict_now(struct image_cache *c);

/* ---- the entry format, pure (unit-tested) ---- */
#define IMAGE_CACHE_HEADER_SIZE 88

/* Writes the fixed header for a body into hdr[IMAGE_CACHE_HEADER_SIZE]. */
void image_cache_entry_header(uint8_t *hdr, const char *key_text, const struct image_blob *b);
/* Checks a whole entry file against key_text: magic, lengths, key and body CRC-32.
 * On success fills body offset/length, content type and etag; returns 0, else -1. */
int image_cache_entry_check(const uint8_t *file, size_t len, const char *key_text, size_t *body_off,
                            size_t *body_len, char content_type[24], char etag[48]);
#endif
