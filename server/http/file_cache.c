/* file_cache — one mutex guards the table and the clock; it is held only for pointer work,
 * never while reading files or compressing. Hits set a flag instead of moving list nodes,
 * so the critical section of a hit is a hash walk and a reference increment. */
#include "tessera/file_cache.h"

#include <stdlib.h>
#include <string.h>

#include "tessera/clock.h"

#define FC_BUCKETS 4096u

struct file_cache {
    pthread_mutex_t lock;
    struct fc_entry *buckets[FC_BUCKETS];
    struct fc_entry *head, *tail;   /* clock order: new entries at head, hand at tail */
    size_t file_budget, compressed_budget;
    size_t file_bytes, compressed_bytes;
    uint64_t entries, evictions;
};

static uint64_t key_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

struct file_cache *file_cache_create(size_t file_budget, size_t compressed_budget)
{
    struct file_cache *fc = calloc(1, sizeof *fc);
    if (!fc) return NULL;
    pthread_mutex_init(&fc->lock, NULL);
    fc->file_budget = file_budget;
    fc->compressed_budget = compressed_budget;
    return fc;
}

struct fc_entry *fc_entry_new(const char *key)
{
    struct fc_entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->key = strdup(key);
    if (!e->key) { free(e); return NULL; }
    e->hash = key_hash(key);
    pthread_mutex_init(&e->lock, NULL);
    cond_init_monotonic(&e->done);
    atomic_init(&e->refs, 1);
    return e;
}

static void entry_free(struct fc_entry *e)
{
    for (int i = 0; i < FC_REPS; i++) {
        free(e->rep[i].body);
        free(e->rep[i].headers);
        free(e->rep[i].headers_304);
    }
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->done);
    free(e->key);
    free(e);
}

static void unref(struct fc_entry *e)
{
    if (atomic_fetch_sub(&e->refs, 1) == 1) entry_free(e);
}

void file_cache_release(struct file_cache *fc, struct fc_entry *e)
{
    (void)fc;
    if (e) unref(e);
}

/* Unlinks e from table and clock; the table's reference is dropped by the caller. */
static void unlink_locked(struct file_cache *fc, struct fc_entry *e)
{
    struct fc_entry **pp = &fc->buckets[e->hash % FC_BUCKETS];
    while (*pp && *pp != e) pp = &(*pp)->chain;
    if (*pp) *pp = e->chain;
    if (e->prev) e->prev->next = e->next; else fc->head = e->next;
    if (e->next) e->next->prev = e->prev; else fc->tail = e->prev;
    e->prev = e->next = e->chain = NULL;
    e->cached = false;
    fc->file_bytes -= e->file_bytes;
    fc->compressed_bytes -= e->compressed_bytes;
    fc->entries--;
}

void file_cache_free(struct file_cache *fc)
{
    if (!fc) return;
    while (fc->head) {
        struct fc_entry *e = fc->head;
        unlink_locked(fc, e);
        unref(e);
    }
    pthread_mutex_destroy(&fc->lock);
    free(fc);
}

struct fc_entry *file_cache_get(struct file_cache *fc, const char *key)
{
    uint64_t h = key_hash(key);
    pthread_mutex_lock(&fc->lock);
    struct fc_entry *e = fc->buckets[h % FC_BUCKETS];
    while (e && !(e->hash == h && strcmp(e->key, key) == 0)) e = e->chain;
    if (e) {
        atomic_fetch_add(&e->refs, 1);
        atomic_store_explicit(&e->recent, true, memory_order_relaxed);
    }
    pthread_mutex_unlock(&fc->lock);
    return e;
}

static bool over_budget(const struct file_cache *fc)
{
    return fc->file_bytes > fc->file_budget || fc->compressed_bytes > fc->compressed_budget;
}

/* Second chance: a recently used entry at the hand goes back to the head once. */
static void evict_locked(struct file_cache *fc, const struct fc_entry *keep)
{
    int spins = 0;
    while (over_budget(fc) && fc->tail && spins < 1 << 20) {
        struct fc_entry *e = fc->tail;
        spins++;
        if (e == keep || atomic_exchange(&e->recent, false)) {
            if (e == fc->head) { if (e == keep) break; else continue; }
            e->prev->next = NULL;
            fc->tail = e->prev;
            e->prev = NULL;
            e->next = fc->head;
            fc->head->prev = e;
            fc->head = e;
            continue;
        }
        unlink_locked(fc, e);
        fc->evictions++;
        unref(e);
    }
}

static bool same_stamp(const struct fc_stamp *a, const struct fc_stamp *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

struct fc_entry *file_cache_put(struct file_cache *fc, struct fc_entry *e, bool *cached)
{
    *cached = false;
    if (e->file_bytes > fc->file_budget || e->compressed_bytes > fc->compressed_budget)
        return e;
    *cached = true;
    pthread_mutex_lock(&fc->lock);
    struct fc_entry *old = fc->buckets[e->hash % FC_BUCKETS];
    while (old && !(old->hash == e->hash && strcmp(old->key, e->key) == 0)) old = old->chain;
    if (old && same_stamp(&old->stamp, &e->stamp)) {
        atomic_fetch_add(&old->refs, 1);
        pthread_mutex_unlock(&fc->lock);
        unref(e);
        return old;
    }
    if (old) {
        unlink_locked(fc, old);
        unref(old);
    }
    atomic_fetch_add(&e->refs, 1); /* the table's reference */
    e->cached = true;
    e->chain = fc->buckets[e->hash % FC_BUCKETS];
    fc->buckets[e->hash % FC_BUCKETS] = e;
    e->next = fc->head;
    if (fc->head) fc->head->prev = e; else fc->tail = e;
    fc->head = e;
    fc->entries++;
    fc->file_bytes += e->file_bytes;
    fc->compressed_bytes += e->compressed_bytes;
    evict_locked(fc, e);
    pthread_mutex_unlock(&fc->lock);
    return e;
}

void file_cache_remove(struct file_cache *fc, struct fc_entry *e)
{
    pthread_mutex_lock(&fc->lock);
    bool was = e->cached;
    if (was) unlink_locked(fc, e);
    pthread_mutex_unlock(&fc->lock);
    if (was) unref(e);
}

bool file_cache_charge(struct file_cache *fc, struct fc_entry *e, size_t bytes)
{
    if (bytes > fc->compressed_budget) return false;
    pthread_mutex_lock(&fc->lock);
    e->compressed_bytes += bytes;
    if (e->cached) {
        fc->compressed_bytes += bytes;
        evict_locked(fc, e);
    }
    pthread_mutex_unlock(&fc->lock);
    return true;
}

void file_cache_stats(struct file_cache *fc, struct file_cache_stats *out)
{
    pthread_mutex_lock(&fc->lock);
    out->entries = fc->entries;
    out->file_bytes = fc->file_bytes;
    out->compressed_bytes = fc->compressed_bytes;
    out->evictions = fc->evictions;
    pthread_mutex_unlock(&fc->lock);
}
