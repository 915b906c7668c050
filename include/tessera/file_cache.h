/* file_cache — a bounded in-memory cache of small hot files. Each entry holds every
 * representation of one file (identity, gzip, br) side by side with its response header
 * block prepared once, so a hit costs a lookup and one write (and a stat once per
 * static.revalidate).
 *
 * Entries are reference-counted: a reader keeps its entry alive while it sends, even if the
 * entry is replaced or evicted meanwhile. Two byte budgets: file bytes (identity and
 * precompressed siblings) and bytes compressed in memory; eviction is CLOCK (second chance). */
#ifndef TESSERA_FILE_CACHE_H
#define TESSERA_FILE_CACHE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Indexed by enum encoding: 0 identity, 1 gzip, 2 br. */
#define FC_REPS 3

enum fc_state {
    FC_ABSENT = 0,   /* not on offer */
    FC_PENDING,      /* may be compressed in memory on first request */
    FC_BUSY,         /* one thread is compressing it; others wait */
    FC_READY,
};

struct fc_rep {
    char *body;
    size_t len;
    char *headers;         /* "Content-Type: ..\r\n...": every header but Date and Content-Length */
    size_t headers_len;
    char *headers_304;     /* what a 304 repeats: ETag, Cache-Control, Vary, Last-Modified */
    size_t headers_304_len;
    char etag[80];
    bool compressed_here;  /* counted against the compressed budget */
};

struct fc_stamp {          /* what revalidation compares with a fresh stat() */
    dev_t dev;
    ino_t ino;
    int64_t size;
    int64_t mtime_ns;      /* 0 with size -1: the file did not exist */
};

struct fc_entry {
    char *key;                     /* path relative to the root */
    uint64_t id;                   /* never reused: names this version in per-thread copies */
    struct fc_stamp stamp;
    struct fc_stamp sibling[FC_REPS]; /* .gz and .br as seen when the entry was built */
    int64_t mtime_s;
    const char *content_type;
    bool vary;                     /* Vary: Accept-Encoding on every response */
    struct fc_rep rep[FC_REPS];
    atomic_int state[FC_REPS];
    pthread_mutex_t lock;          /* guards the FC_PENDING -> FC_BUSY -> FC_READY walk */
    pthread_cond_t done;
    atomic_int_fast64_t siblings_checked_us;
    atomic_int_fast64_t checked_us; /* last stat() that found the file unchanged */
    bool watch_siblings;           /* siblings were considered: recheck them */

    /* owned by the cache */
    atomic_int refs;
    atomic_bool recent;
    bool cached;
    size_t file_bytes;
    size_t compressed_bytes;
    struct fc_entry *chain, *prev, *next;
    uint64_t hash;
};

struct file_cache;

struct file_cache *file_cache_create(size_t file_budget, size_t compressed_budget);
void file_cache_free(struct file_cache *fc);

/* A new, uncached entry with one reference (the caller's); NULL when out of memory. */
struct fc_entry *fc_entry_new(const char *key);

/* The entry for key with a reference taken, or NULL. */
struct fc_entry *file_cache_get(struct file_cache *fc, const char *key);
/* Publishes e (with its file bytes counted), replacing an older entry of the same key and
 * evicting others to stay within budget. Returns the entry the caller should use, holding
 * the caller's reference: e itself, or the entry with the same key and stamp that another
 * thread published first (e is then released, so concurrent misses share one entry and
 * compress once). *cached is false when e was too large for the budget and stays private. */
struct fc_entry *file_cache_put(struct file_cache *fc, struct fc_entry *e, bool *cached);
/* Drops e from the table if it is still there (stale). */
void file_cache_remove(struct file_cache *fc, struct fc_entry *e);
/* Drops a reference; the last one frees the entry. */
void file_cache_release(struct file_cache *fc, struct fc_entry *e);
/* Counts bytes compressed in memory for e, evicting other entries to fit. False when
 * they cannot fit at all (the caller then discards the variant). */
bool file_cache_charge(struct file_cache *fc, struct fc_entry *e, size_t bytes);

struct file_cache_stats {
    uint64_t entries, file_bytes, compressed_bytes, evictions;
};
void file_cache_stats(struct file_cache *fc, struct file_cache_stats *out);
#endif
