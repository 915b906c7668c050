/* image_cache — disk entries are self-describing and self-checking (key text, lengths,
 * CRC-32 of the body), so a torn write, a truncated file or a hash collision is detected
 * on read and regenerated instead of served. The file name is a 128-bit FNV-1a hash of the
 * key: the hash is not a security boundary (the full key is compared), so a fast
 * non-cryptographic hash is enough and no crypto library is pulled in.
 *
 * LRU without reading entries at start: a hit bumps the file's mtime; a background thread
 * totals sizes with stat() only, and when the total passes the cap it deletes the oldest
 * files down to 90 %. No fsync: rename makes the entry appear whole or not at all, and the
 * CRC catches what a power loss could leave behind. */
#include "tessera/image_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "tessera/clock.h"
#include "tessera/log.h"

#define MEM_BUCKETS 4096
#define MEM_ENTRY_MAX (1 << 20)       /* larger variants are read from disk each time */
#define TOUCH_INTERVAL_S 600          /* how stale an mtime may get before a hit bumps it */
#define STALE_TEMP_S 600              /* temp files older than this are crash leftovers */
#define ENTRY_MAX_BYTES (256L << 20)
static const char entry_magic[8] = {'T', 'S', 'I', 'M', 'G', 'v', '1', '\n'};

/* ---------------------------------------------------------------- blobs */

struct image_blob *image_blob_create(const uint8_t *data, size_t len, const char *content_type, const char *key_hex)
{
    struct image_blob *b = malloc(sizeof *b + len + 1);
    if (!b) return NULL;
    atomic_init(&b->refs, 1);
    b->len = len;
    b->data = (uint8_t *)(b + 1);
    memcpy(b->data, data, len);
    snprintf(b->content_type, sizeof b->content_type, "%s", content_type);
    uLong crc = crc32(0L, data, (uInt)len);
    snprintf(b->etag, sizeof b->etag, "\"%08lx%06zx%.12s\"", (unsigned long)crc, len & 0xffffff, key_hex);
    return b;
}

struct image_blob *image_blob_ref(struct image_blob *b)
{
    if (b) atomic_fetch_add(&b->refs, 1);
    return b;
}

void image_blob_unref(struct image_blob *b)
{
    if (b && atomic_fetch_sub(&b->refs, 1) == 1) free(b);
}

/* ---------------------------------------------------------------- keys and entries */

static uint64_t fnv1a64(const char *s, uint64_t h)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

void image_cache_key_make(struct image_cache_key *k, const char *path, int64_t size, int64_t mtime_ns, int width,
                          int quality, enum image_format format, const char *fingerprint)
{
    snprintf(k->text, sizeof k->text, "%s\n%lld\n%lld\nw=%d q=%d f=%s\n%s", path, (long long)size, (long long)mtime_ns,
             width, quality, image_format_name(format), fingerprint);
    uint64_t a = fnv1a64(k->text, 0xcbf29ce484222325ULL);
    uint64_t b = fnv1a64(k->text, 0x84222325cbf29ce4ULL ^ a);
    snprintf(k->hex, sizeof k->hex, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

void image_cache_entry_header(uint8_t *hdr, const char *key_text, const struct image_blob *b)
{
    memset(hdr, 0, IMAGE_CACHE_HEADER_SIZE);
    memcpy(hdr, entry_magic, 8);
    put32(hdr + 8, (uint32_t)strlen(key_text));
    put32(hdr + 12, (uint32_t)crc32(0L, b->data, (uInt)b->len));
    put64(hdr + 16, (uint64_t)b->len);
    memcpy(hdr + 24, b->content_type, strnlen(b->content_type, 23));
    memcpy(hdr + 48, b->etag, strnlen(b->etag, 39));
}

int image_cache_entry_check(const uint8_t *file, size_t len, const char *key_text, size_t *body_off,
                            size_t *body_len, char content_type[24], char etag[48])
{
    if (len < IMAGE_CACHE_HEADER_SIZE || memcmp(file, entry_magic, 8) != 0) return -1;
    size_t key_len = get32(file + 8);
    uint64_t blen = get64(file + 16);
    if (key_len != strlen(key_text) || blen > ENTRY_MAX_BYTES || IMAGE_CACHE_HEADER_SIZE + key_len + blen != len)
        return -1;
    if (memcmp(file + IMAGE_CACHE_HEADER_SIZE, key_text, key_len) != 0) return -1;
    const uint8_t *body = file + IMAGE_CACHE_HEADER_SIZE + key_len;
    if ((uint32_t)crc32(0L, body, (uInt)blen) != get32(file + 12)) return -1;
    if (file[24 + 23] != 0 || file[48 + 39] != 0 || file[24] == 0 || file[48] != '"') return -1;
    memcpy(content_type, file + 24, 24);
    memcpy(etag, file + 48, 40);
    memset(etag + 40, 0, 8);
    *body_off = IMAGE_CACHE_HEADER_SIZE + key_len;
    *body_len = (size_t)blen;
    return 0;
}

/* ---------------------------------------------------------------- the cache */

struct mem_node {
    struct image_blob *blob;
    char hex[33];
    int64_t touched_s;
    struct mem_node *hnext, *prev, *next;   /* bucket chain; LRU list, newest first */
};

struct image_cache {
    char *dir;
    int64_t max_bytes, mem_max;
    pthread_mutex_t lock;                   /* the memory tier */
    struct mem_node *buckets[MEM_BUCKETS];
    struct mem_node *newest, *oldest;
    int64_t mem_bytes;
    atomic_llong disk_bytes;                /* -1 until the first scan finished */
    atomic_bool disk_ok;
    atomic_flag warned;
    atomic_ullong hits_mem, hits_disk, misses, corrupt, evicted, write_errors, temp_seq;
    pthread_mutex_t evict_lock;
    pthread_cond_t evict_wake;
    bool stop, evict_wanted;
    pthread_t evictor;
    bool evictor_started;
};

static void warn_once(struct image_cache *c, const char *what, int err)
{
    atomic_store(&c->disk_ok, false);
    atomic_fetch_add(&c->write_errors, 1);
    if (!atomic_flag_test_and_set(&c->warned))
        log_warn("image cache %s: %s: %s (serving without the disk cache; see tessera_image_cache_ok)", c->dir, what,
                 strerror(err));
}

static unsigned bucket_of(const char *hex)
{
    return (unsigned)strtoul((char[]){hex[0], hex[1], hex[2], hex[3], 0}, NULL, 16) % MEM_BUCKETS;
}

static void entry_path(const struct image_cache *c, const char *hex, char *out, size_t size)
{
    snprintf(out, size, "%s/%.2s/%s", c->dir, hex, hex);
}

static int64_t now_s(void) { return (int64_t)time(NULL); }

static void lru_unlink(struct image_cache *c, struct mem_node *n)
{
    if (n->prev) n->prev->next = n->next; else c->newest = n->next;
    if (n->next) n->next->prev = n->prev; else c->oldest = n->prev;
    n->prev = n->next = NULL;
}

static void lru_push(struct image_cache *c, struct mem_node *n)
{
    n->next = c->newest;
    n->prev = NULL;
    if (c->newest) c->newest->prev = n;
    c->newest = n;
    if (!c->oldest) c->oldest = n;
}

static void mem_remove(struct image_cache *c, struct mem_node *n)
{
    struct mem_node **pp = &c->buckets[bucket_of(n->hex)];
    while (*pp && *pp != n) pp = &(*pp)->hnext;
    if (*pp) *pp = n->hnext;
    lru_unlink(c, n);
    c->mem_bytes -= (int64_t)n->blob->len;
    image_blob_unref(n->blob);
    free(n);
}

static struct mem_node *mem_find(struct image_cache *c, const char *hex)
{
    for (struct mem_node *n = c->buckets[bucket_of(hex)]; n; n = n->hnext)
        if (memcmp(n->hex, hex, 32) == 0) return n;
    return NULL;
}

static void mem_insert(struct image_cache *c, const char *hex, struct image_blob *b)
{
    if ((int64_t)b->len > MEM_ENTRY_MAX || (int64_t)b->len > c->mem_max) return;
    struct mem_node *n = calloc(1, sizeof *n);
    if (!n) return;
    n->blob = image_blob_ref(b);
    memcpy(n->hex, hex, 33);
    n->touched_s = now_s();
    pthread_mutex_lock(&c->lock);
    struct mem_node *old = mem_find(c, hex);
    if (old) mem_remove(c, old);
    unsigned bk = bucket_of(hex);
    n->hnext = c->buckets[bk];
    c->buckets[bk] = n;
    lru_push(c, n);
    c->mem_bytes += (int64_t)b->len;
    while (c->mem_bytes > c->mem_max && c->oldest && c->oldest != n) mem_remove(c, c->oldest);
    pthread_mutex_unlock(&c->lock);
}

/* A memory hit; bumps the disk entry's mtime now and then so disk LRU sees it is hot. */
static struct image_blob *mem_get(struct image_cache *c, const char *hex)
{
    struct image_blob *b = NULL;
    bool touch = false;
    pthread_mutex_lock(&c->lock);
    struct mem_node *n = mem_find(c, hex);
    if (n) {
        b = image_blob_ref(n->blob);
        lru_unlink(c, n);
        lru_push(c, n);
        int64_t now = now_s();
        if (now - n->touched_s > TOUCH_INTERVAL_S) { n->touched_s = now; touch = true; }
    }
    pthread_mutex_unlock(&c->lock);
    if (touch) {
        char path[4200];
        entry_path(c, hex, path, sizeof path);
        utimensat(AT_FDCWD, path, NULL, 0);
    }
    return b;
}

static struct image_blob *disk_get(struct image_cache *c, const struct image_cache_key *k)
{
    char path[4200];
    entry_path(c, k->hex, path, sizeof path);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    struct image_blob *b = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 && st.st_size < ENTRY_MAX_BYTES + 8192) {
        size_t size = (size_t)st.st_size;
        b = malloc(sizeof *b + size + 1);
        ssize_t got = b ? pread(fd, b + 1, size, 0) : -1;
        size_t off, blen;
        if (b && got == (ssize_t)size &&
            image_cache_entry_check((uint8_t *)(b + 1), size, k->text, &off, &blen, b->content_type, b->etag) == 0) {
            atomic_init(&b->refs, 1);
            b->data = (uint8_t *)(b + 1);
            memmove(b->data, b->data + off, blen);
            b->len = blen;
            futimens(fd, NULL); /* LRU: this entry was just used */
        } else if (b) {
            free(b);
            b = NULL;
            atomic_fetch_add(&c->corrupt, 1);
            unlink(path);
            log_warn("image cache: dropped a corrupt entry %s", path);
        }
    }
    close(fd);
    return b;
}

static struct image_blob *cache_lookup(struct image_cache *c, const struct image_cache_key *k, bool count_miss)
{
    struct image_blob *b = mem_get(c, k->hex);
    if (b) {
        atomic_fetch_add(&c->hits_mem, 1);
        return b;
    }
    b = disk_get(c, k);
    if (b) {
        atomic_fetch_add(&c->hits_disk, 1);
        mem_insert(c, k->hex, b);
        return b;
    }
    if (count_miss) atomic_fetch_add(&c->misses, 1);
    return NULL;
}

struct image_blob *image_cache_get(struct image_cache *c, const struct image_cache_key *k)
{
    return cache_lookup(c, k, true);
}

struct image_blob *image_cache_recheck(struct image_cache *c, const struct image_cache_key *k)
{
    return cache_lookup(c, k, false);
}

static int write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void wake_evictor(struct image_cache *c)
{
    pthread_mutex_lock(&c->evict_lock);
    c->evict_wanted = true;
    pthread_cond_signal(&c->evict_wake);
    pthread_mutex_unlock(&c->evict_lock);
}

static int mkdir_parents(const char *dir);

static int disk_put(struct image_cache *c, const struct image_cache_key *k, const struct image_blob *b)
{
    char path[4200], tmp[4300], sub[4200];
    snprintf(sub, sizeof sub, "%s/%.2s", c->dir, k->hex);
    int made = mkdir(sub, 0755);
    /* The directory itself is gone ("rm -rf" to clear the cache): make it again. */
    if (made < 0 && errno == ENOENT && mkdir_parents(c->dir) == 0) made = mkdir(sub, 0755);
    if (made < 0 && errno != EEXIST) return -1;
    entry_path(c, k->hex, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s/.%s.%d.%llu.tmp", sub, k->hex, (int)getpid(),
             (unsigned long long)atomic_fetch_add(&c->temp_seq, 1));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    uint8_t hdr[IMAGE_CACHE_HEADER_SIZE];
    image_cache_entry_header(hdr, k->text, b);
    int rc = write_all(fd, hdr, sizeof hdr);
    if (rc == 0) rc = write_all(fd, k->text, strlen(k->text));
    if (rc == 0) rc = write_all(fd, b->data, b->len);
    int saved = errno;
    if (close(fd) < 0 && rc == 0) { rc = -1; saved = errno; }
    struct stat old;
    int64_t replaced = stat(path, &old) == 0 ? (int64_t)old.st_size : 0;
    if (rc == 0 && rename(tmp, path) < 0) { rc = -1; saved = errno; }
    if (rc < 0) {
        unlink(tmp);
        errno = saved;
        return -1;
    }
    int64_t size = IMAGE_CACHE_HEADER_SIZE + (int64_t)strlen(k->text) + (int64_t)b->len;
    if (atomic_load(&c->disk_bytes) >= 0 &&
        atomic_fetch_add(&c->disk_bytes, size - replaced) + size - replaced > c->max_bytes)
        wake_evictor(c);
    return 0;
}

void image_cache_put(struct image_cache *c, const struct image_cache_key *k, struct image_blob *b)
{
    mem_insert(c, k->hex, b);
    if (disk_put(c, k, b) < 0)
        warn_once(c, "cannot write an entry", errno);
    else
        atomic_store(&c->disk_ok, true); /* the gauge follows the latest write: a fixed disk reads 1 again */
}

/* ---------------------------------------------------------------- eviction */

struct disk_entry { int64_t mtime_ns; int64_t size; char name[40]; };

static int by_mtime(const void *a, const void *b)
{
    int64_t x = ((const struct disk_entry *)a)->mtime_ns, y = ((const struct disk_entry *)b)->mtime_ns;
    return x < y ? -1 : x > y;
}

/* stat()s every file (never reads one): drops stale temps, totals sizes, and when over the
 * cap deletes the least recently used down to 90 % of it. */
int64_t image_cache_evict_now(struct image_cache *c)
{
    struct disk_entry *list = NULL;
    size_t count = 0, cap = 0;
    int64_t total = 0, now = now_s();
    DIR *top = opendir(c->dir);
    for (struct dirent *d; top && (d = readdir(top));) {
        if (strlen(d->d_name) != 2) continue;
        char sub[4200];
        snprintf(sub, sizeof sub, "%s/%s", c->dir, d->d_name);
        DIR *dir = opendir(sub);
        for (struct dirent *e; dir && (e = readdir(dir));) {
            struct stat st;
            if (e->d_name[0] == '.' && e->d_name[1] != '\0' && e->d_name[1] != '.' &&
                fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && now - st.st_mtime > STALE_TEMP_S) {
                unlinkat(dirfd(dir), e->d_name, 0);
                continue;
            }
            if (strlen(e->d_name) != 32 || fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
            if (count == cap) {
                size_t ncap = cap ? cap * 2 : 1024;
                struct disk_entry *grown = realloc(list, ncap * sizeof *list);
                if (!grown) break;
                list = grown;
                cap = ncap;
            }
            struct disk_entry *de = &list[count++];
            de->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
            de->size = (int64_t)st.st_size;
            memcpy(de->name, d->d_name, 2); /* both lengths were checked above: "ab/" + 32 */
            de->name[2] = '/';
            memcpy(de->name + 3, e->d_name, 33);
            total += de->size;
        }
        if (dir) closedir(dir);
    }
    if (top) closedir(top);
    if (total > c->max_bytes && count > 0) {
        qsort(list, count, sizeof *list, by_mtime);
        int64_t goal = c->max_bytes / 10 * 9;
        for (size_t i = 0; i < count && total > goal; i++) {
            char path[4300];
            snprintf(path, sizeof path, "%s/%s", c->dir, list[i].name);
            if (unlink(path) == 0) {
                total -= list[i].size;
                atomic_fetch_add(&c->evicted, 1);
            }
        }
    }
    free(list);
    atomic_store(&c->disk_bytes, total);
    return total;
}

static void *evictor_main(void *arg)
{
    struct image_cache *c = arg;
    image_cache_evict_now(c); /* the initial total, in the background: start-up stays O(1) */
    pthread_mutex_lock(&c->evict_lock);
    while (!c->stop) {
        if (!c->evict_wanted) {
            struct timespec until = clock_deadline_after_us(CLOCK_MONOTONIC, 300 * 1000000LL);
            pthread_cond_timedwait(&c->evict_wake, &c->evict_lock, &until);
        }
        if (c->stop) break;
        bool wanted = c->evict_wanted;
        c->evict_wanted = false;
        pthread_mutex_unlock(&c->evict_lock);
        if (wanted || atomic_load(&c->disk_bytes) > c->max_bytes) image_cache_evict_now(c);
        pthread_mutex_lock(&c->evict_lock);
    }
    pthread_mutex_unlock(&c->evict_lock);
    return NULL;
}

static int mkdir_parents(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(path, 0755) < 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(path, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

struct image_cache *image_cache_open(const char *dir, int64_t max_bytes, int64_t mem_bytes)
{
    struct image_cache *c = calloc(1, sizeof *c);
    if (!c || !(c->dir = strdup(dir && dir[0] ? dir : "."))) {
        free(c);
        return NULL;
    }
    c->max_bytes = max_bytes;
    c->mem_max = mem_bytes;
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->evict_lock, NULL);
    cond_init_monotonic(&c->evict_wake);
    atomic_init(&c->disk_bytes, -1);
    atomic_init(&c->disk_ok, true);
    atomic_flag_clear(&c->warned);
    if (mkdir_parents(c->dir) < 0 || access(c->dir, W_OK) < 0)
        warn_once(c, "cannot use the directory", errno);
    c->evictor_started = pthread_create(&c->evictor, NULL, evictor_main, c) == 0;
    return c;
}

void image_cache_close(struct image_cache *c)
{
    if (!c) return;
    pthread_mutex_lock(&c->evict_lock);
    c->stop = true;
    pthread_cond_signal(&c->evict_wake);
    pthread_mutex_unlock(&c->evict_lock);
    if (c->evictor_started) pthread_join(c->evictor, NULL);
    while (c->oldest) mem_remove(c, c->oldest);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->evict_lock);
    pthread_cond_destroy(&c->evict_wake);
    free(c->dir);
    free(c);
}

void image_cache_metrics(struct image_cache *c, struct strbuf *out)
{
    strbuf_printf(out,
                  "# TYPE tessera_image_cache_hits_total counter\n"
                  "tessera_image_cache_hits_total{tier=\"memory\"} %llu\n"
                  "tessera_image_cache_hits_total{tier=\"disk\"} %llu\n"
                  "# TYPE tessera_image_cache_misses_total counter\ntessera_image_cache_misses_total %llu\n"
                  "# TYPE tessera_image_cache_corrupt_total counter\ntessera_image_cache_corrupt_total %llu\n"
                  "# TYPE tessera_image_cache_evictions_total counter\ntessera_image_cache_evictions_total %llu\n"
                  "# TYPE tessera_image_cache_write_errors_total counter\ntessera_image_cache_write_errors_total %llu\n"
                  "# TYPE tessera_image_cache_ok gauge\ntessera_image_cache_ok %d\n"
                  "# TYPE tessera_image_cache_disk_bytes gauge\ntessera_image_cache_disk_bytes %lld\n",
                  (unsigned long long)atomic_load(&c->hits_mem), (unsigned long long)atomic_load(&c->hits_disk),
                  (unsigned long long)atomic_load(&c->misses), (unsigned long long)atomic_load(&c->corrupt),
                  (unsigned long long)atomic_load(&c->evicted), (unsigned long long)atomic_load(&c->write_errors),
                  atomic_load(&c->disk_ok) ? 1 : 0, (long long)atomic_load(&c->disk_bytes));
    pthread_mutex_lock(&c->lock);
    strbuf_printf(out, "# TYPE tessera_image_cache_memory_bytes gauge\ntessera_image_cache_memory_bytes %lld\n",
                  (long long)c->mem_bytes);
    pthread_mutex_unlock(&c->lock);
}
