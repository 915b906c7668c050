/* image_service — the /_image endpoint: params -> safe open under the root -> Accept ->
 * cache hit? send : single-flight transcode under a bounded semaphore -> cache -> send.
 *
 * Every wait is bounded (images.queue_timeout for a slot or for another request's
 * transcode) and ends in 503 + Retry-After. The source is opened with openat2
 * RESOLVE_BENEATH against a descriptor of the root, so neither `..` nor a symlink can leave
 * it; where openat2 is missing, realpath() + prefix check does the same job. */
#include "tessera/image.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "tessera/clock.h"
#include "tessera/codec_lazy.h"
#include "tessera/cpu.h"
#include "tessera/file_stream.h"
#include "tessera/image_cache.h"
#include "tessera/image_decode.h"
#include "tessera/image_encode.h"
#include "tessera/image_params.h"
#include "tessera/image_transcode.h"
#include "tessera/log.h"
#include "tessera/server.h"
#include "tessera/sourcemap.h"

#define REASON_MAX 200
#define MEM_TIER_BYTES (64L << 20)     /* hot variants kept in memory: a hit is one write */
#define FIRST_MISS_MAX_AGE 60          /* a WebP stand-in for AVIF is re-asked for soon */
#define STATUS_PASS 1                  /* a flight result: the source must be sent unchanged */
/* Enough to reach the <svg> element past an XML prolog: Illustrator's DOCTYPE with its
 * entity list alone is ~700 bytes, and licence comments run to a few hundred more. */
#define SNIFF_BYTES 4096

struct flight {
    char hex[33];
    int refs;                          /* the leader + waiters; the last one frees */
    bool done;
    int status;
    char reason[REASON_MAX];
    struct image_blob *blob;
    struct flight *next;
};

struct image_service {
    const struct config *cfg;
    int root_fd;
    char *root_real;
    unsigned offered;                  /* bit set of image_format */
    int cpus, slots_max;
    char fingerprint[160];             /* set once, with fingerprint_ready, by codecs_ready() */
    atomic_bool fingerprint_ready;
    atomic_flag codec_error_logged;
    struct image_cache *cache;
    pthread_mutex_t lock;              /* slots, flights, background jobs */
    pthread_cond_t changed;            /* CLOCK_MONOTONIC; broadcast on any of them */
    int slots_free;
    struct flight *flights;
    int bg_running;
    atomic_ullong transcodes, transcode_errors, passthrough, flight_waits, queue_timeouts, rejected;
    atomic_ullong transcode_us;
};

/* ---------------------------------------------------------------- bounded waits */

/* A wait of ms on svc->changed (a CLOCK_MONOTONIC condition variable). */
static struct timespec deadline_after_ms(int64_t ms) { return clock_deadline_after_us(CLOCK_MONOTONIC, ms * 1000); }

static bool slot_acquire(struct image_service *svc)
{
    struct timespec until = deadline_after_ms(svc->cfg->images.queue_timeout_ms);
    pthread_mutex_lock(&svc->lock);
    int rc = 0;
    while (svc->slots_free == 0 && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&svc->changed, &svc->lock, &until);
    bool got = svc->slots_free > 0;
    if (got) svc->slots_free--;
    pthread_mutex_unlock(&svc->lock);
    return got;
}

static void slot_release(struct image_service *svc)
{
    pthread_mutex_lock(&svc->lock);
    svc->slots_free++;
    pthread_cond_broadcast(&svc->changed);
    pthread_mutex_unlock(&svc->lock);
}

/* Joins the flight for hex, creating it (and becoming its leader) when there is none. */
static struct flight *flight_join(struct image_service *svc, const char *hex, bool *leader)
{
    pthread_mutex_lock(&svc->lock);
    struct flight *f = svc->flights;
    while (f && strcmp(f->hex, hex) != 0) f = f->next;
    *leader = f == NULL;
    if (!f && (f = calloc(1, sizeof *f))) {
        memcpy(f->hex, hex, 33);
        f->next = svc->flights;
        svc->flights = f;
    }
    if (f) f->refs++;
    pthread_mutex_unlock(&svc->lock);
    return f;
}

static void flight_leave_locked(struct flight *f)
{
    if (--f->refs == 0) {
        image_blob_unref(f->blob);
        free(f);
    }
}

static void flight_finish(struct image_service *svc, struct flight *f, int status, const char *reason,
                          struct image_blob *blob)
{
    pthread_mutex_lock(&svc->lock);
    for (struct flight **pp = &svc->flights; *pp; pp = &(*pp)->next)
        if (*pp == f) { *pp = f->next; break; }
    f->done = true;
    f->status = status;
    snprintf(f->reason, sizeof f->reason, "%s", reason ? reason : "");
    f->blob = image_blob_ref(blob);
    pthread_cond_broadcast(&svc->changed);
    flight_leave_locked(f);
    pthread_mutex_unlock(&svc->lock);
}

/* Waits for the leader's result within queue_timeout + transcode_timeout. */
static int flight_wait(struct image_service *svc, struct flight *f, struct image_blob **blob, char *reason)
{
    atomic_fetch_add(&svc->flight_waits, 1);
    struct timespec until = deadline_after_ms(svc->cfg->images.queue_timeout_ms + svc->cfg->images.transcode_timeout_ms);
    pthread_mutex_lock(&svc->lock);
    int rc = 0;
    while (!f->done && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&svc->changed, &svc->lock, &until);
    int status = 503;
    snprintf(reason, REASON_MAX, "timed out waiting for the same image's transcode");
    if (f->done) {
        status = f->status;
        snprintf(reason, REASON_MAX, "%s", f->reason);
        *blob = image_blob_ref(f->blob);
    }
    flight_leave_locked(f);
    pthread_mutex_unlock(&svc->lock);
    return status;
}

/* ---------------------------------------------------------------- sources */

struct source {
    int fd;
    struct stat st;
    uint8_t *bytes;                    /* read on a miss only */
    size_t len;
};

static int source_open(struct image_service *svc, const char *path, struct source *src, const char **reason)
{
    memset(src, 0, sizeof *src);
    /* O_NONBLOCK: opening a FIFO would otherwise wait for a writer, holding the worker
     * forever; regular files ignore the flag, and the fstat below refuses anything else. */
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    src->fd = (int)syscall(SYS_openat2, svc->root_fd, path + 1, &how, sizeof how);
    if (src->fd < 0 && errno == ENOSYS) {
        char full[IMAGE_URL_MAX + 4200];
        snprintf(full, sizeof full, "%s%s", svc->root_real ? svc->root_real : "/nonexistent", path);
        char *real = realpath(full, NULL);
        size_t rn = svc->root_real ? strlen(svc->root_real) : 0;
        if (real && rn && strncmp(real, svc->root_real, rn) == 0 && real[rn] == '/')
            src->fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
        else errno = EXDEV;
        free(real);
    }
    if (src->fd < 0) {
        *reason = errno == EXDEV ? "\"url\" parameter is outside the root" : "\"url\" parameter does not name a file";
        return 400;
    }
    if (fstat(src->fd, &src->st) < 0 || !S_ISREG(src->st.st_mode)) {
        *reason = "\"url\" parameter does not name a file";
        return 400;
    }
    if (src->st.st_size > svc->cfg->images.max_source_bytes) {
        *reason = "source image is larger than images.max_source_bytes";
        return 422;
    }
    return 0;
}

static int source_read(struct source *src)
{
    if (src->bytes) return 0;
    size_t n = (size_t)src->st.st_size;
    src->bytes = malloc(n ? n : 1);
    if (!src->bytes) return -1;
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(src->fd, src->bytes + got, n - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    src->len = got; /* a file that shrank meanwhile is decoded as what we got */
    return 0;
}

static void source_close(struct source *src)
{
    if (src->fd >= 0) close(src->fd);
    free(src->bytes);
    src->fd = -1;
    src->bytes = NULL;
}

/* ---------------------------------------------------------------- replies */

static int reply_reason(struct image_service *svc, struct http_exchange *ex, int status, const char *reason)
{
    if (status >= 400 && status < 500) atomic_fetch_add(&svc->rejected, 1);
    if (status != 503) return reply_text(ex, status, reason);
    atomic_fetch_add(&svc->queue_timeouts, 1);
    struct http_reply r;
    reply_start(&r, ex, 503);
    reply_header(&r, "Content-Type", "text/plain; charset=utf-8");
    reply_header(&r, "Cache-Control", "no-store");
    reply_header(&r, "Retry-After", "2");
    char line[REASON_MAX + 2];
    int n = snprintf(line, sizeof line, "%s\n", reason);
    reply_send(ex, &r, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    return 503;
}

struct send_opts {
    const char *path;
    enum image_format format;
    const char *x_cache;               /* NULL: no X-Cache (pass-through) */
    int64_t max_age;
    bool svg;
};

/* The head every image answer has; returns whether the client's copy is fresh (a 304). */
static bool image_head(struct image_service *svc, struct http_exchange *ex, const struct send_opts *o,
                       const char *content_type, const char *etag, struct http_reply *r)
{
    bool immutable = o->max_age == svc->cfg->images.ttl_s && image_name_is_hashed(o->path);
    bool fresh = image_etag_matches(http_header(ex, "If-None-Match"), etag);
    reply_start(r, ex, fresh ? 304 : 200);
    if (!fresh) reply_header(r, "Content-Type", content_type);
    reply_header(r, "Vary", "Accept");
    reply_header(r, "ETag", etag);
    reply_headerf(r, "Cache-Control", "public, max-age=%lld%s", (long long)o->max_age, immutable ? ", immutable" : "");
    if (o->x_cache) reply_header(r, "X-Cache", o->x_cache);
    if (o->svg) reply_header(r, "Content-Security-Policy", "script-src 'none'; frame-src 'none'; sandbox;");
    char name[160];
    image_safe_filename(o->path, o->format, name, sizeof name);
    reply_headerf(r, "Content-Disposition", "inline; filename=\"%s\"", name);
    return fresh;
}

static int reply_bytes(struct image_service *svc, struct http_exchange *ex, const struct send_opts *o,
                       const char *content_type, const char *etag, const void *body, size_t len)
{
    struct http_reply r;
    bool fresh = image_head(svc, ex, o, content_type, etag, &r);
    reply_send(ex, &r, body, fresh ? 0 : len);
    return fresh ? 304 : 200;
}

static int reply_blob(struct image_service *svc, struct http_exchange *ex, const struct send_opts *o,
                      struct image_blob *b)
{
    /* The file name's extension follows the bytes, not the asked format (WebP too large for WebP). */
    struct send_opts named = *o;
    enum image_format held = image_format_from_mime(b->content_type);
    if (held != IMAGE_FORMAT_NONE) named.format = held;
    int st = reply_bytes(svc, ex, &named, b->content_type, b->etag, b->data, b->len);
    image_blob_unref(b);
    return st;
}

/* SVG, GIF and animated images go out as they are: re-encoding would lose the animation,
 * and rasterising SVG is out of scope. The ETag comes from size and mtime. The file is
 * streamed from the descriptor the checks were made on: read whole, each slow client of a
 * large GIF held a copy of it (up to images.max_source_bytes a request). */
static int reply_passthrough(struct image_service *svc, struct http_exchange *ex, struct source *src,
                             enum image_format format, const char *path)
{
    atomic_fetch_add(&svc->passthrough, 1);
    char etag[64];
    snprintf(etag, sizeof etag, "\"p%llx-%llx\"", (unsigned long long)src->st.st_size,
             (unsigned long long)src->st.st_mtim.tv_sec * 1000000000ULL + (unsigned long long)src->st.st_mtim.tv_nsec);
    struct send_opts o = {.path = path, .format = format, .max_age = svc->cfg->images.ttl_s,
                          .svg = format == IMAGE_FORMAT_SVG};
    struct http_reply r;
    bool fresh = image_head(svc, ex, &o, image_format_mime(format), etag, &r);
    if (reply_send_head(ex, &r, src->st.st_size) == 0 && !fresh && !ex->head)
        file_stream_range(ex, src->fd, 0, src->st.st_size);
    return fresh ? 304 : 200;
}

/* ---------------------------------------------------------------- transcoding */

static void key_for(struct image_service *svc, const char *path, const struct source *src, int w, int q,
                    enum image_format f, struct image_cache_key *k)
{
    int64_t mtime_ns = (int64_t)src->st.st_mtim.tv_sec * 1000000000 + src->st.st_mtim.tv_nsec;
    image_cache_key_make(k, path, (int64_t)src->st.st_size, mtime_ns, w, q, f, svc->fingerprint);
}

/* A transcode runs on its own thread: CivetWeb workers have ~100 KB stacks (too small
 * for libaom), and a thread lets the request stop waiting at the deadline even inside an
 * encoder that cannot be interrupted (libavif 0.11). An abandoned job still finishes, fills
 * the cache and frees the slot; the leader and the thread each hold a reference. */
struct transcode_job {
    struct image_service *svc;
    uint8_t *bytes;
    size_t len;
    char path[IMAGE_URL_MAX + 1];
    int width, quality;
    enum image_format format;
    struct image_cache_key key;
    int status;
    char reason[REASON_MAX];
    struct image_blob *blob;
    atomic_int refs;
};

static void job_unref(struct transcode_job *job)
{
    if (atomic_fetch_sub(&job->refs, 1) != 1) return;
    image_blob_unref(job->blob);
    free(job->bytes);
    free(job);
}

static int transcode_run(struct transcode_job *job)
{
    struct image_service *svc = job->svc;
    int64_t start = clock_monotonic_us();
    struct image_transcode_opts o = {
        .width = job->width, .quality = job->quality, .format = job->format,
        .avif_speed = (int)svc->cfg->images.avif_speed, .webp_method = (int)svc->cfg->images.webp_method,
        .threads = svc->cpus,
        .limits = {.max_pixels = svc->cfg->images.max_source_pixels,
                   .deadline_us = start + svc->cfg->images.transcode_timeout_ms * 1000},
    };
    struct image_info info;
    int st = image_probe(job->bytes, job->len, &o.limits, &info, job->reason, REASON_MAX);
    if (st == 0 && (info.animated || info.format == IMAGE_FORMAT_SVG)) return STATUS_PASS;
    struct image_variant v = {0};
    if (st == 0) st = image_transcode(job->bytes, job->len, &info, &o, &v, job->reason, REASON_MAX);
    int64_t took = clock_monotonic_us() - start;
    atomic_fetch_add(&svc->transcode_us, (unsigned long long)took);
    if (st != 0) {
        atomic_fetch_add(&svc->transcode_errors, 1);
        return st;
    }
    atomic_fetch_add(&svc->transcodes, 1);
    log_info("image: transcoded %s w=%d q=%d -> %s %dx%d %zu bytes in %lld ms", job->path, job->width, job->quality,
             image_format_name(v.format), v.width, v.height, v.len, (long long)(took / 1000));
    job->blob = image_blob_create(v.data, v.len, image_format_mime(v.format), job->key.hex);
    free(v.data);
    if (!job->blob) return snprintf(job->reason, REASON_MAX, "out of memory"), 500;
    image_cache_put(svc->cache, &job->key, job->blob);
    return 0;
}

/* A thread that image_service_free must wait for has ended (or never started). */
static void background_finished(struct image_service *svc)
{
    pthread_mutex_lock(&svc->lock);
    svc->bg_running--;
    pthread_cond_broadcast(&svc->changed);
    pthread_mutex_unlock(&svc->lock);
}

static void *transcode_main(void *arg)
{
    struct transcode_job *job = arg;
    struct image_service *svc = job->svc;
    job->status = transcode_run(job);
    slot_release(svc);
    job_unref(job);
    background_finished(svc);
    return NULL;
}

/* Inside a slot (released by the job's thread). Returns 0 with *blob, STATUS_PASS, or a status. */
static int transcode_locked(struct image_service *svc, struct source *src, const struct image_params *p,
                            enum image_format f, const struct image_cache_key *k, struct image_blob **blob,
                            char *reason)
{
    struct transcode_job *job = calloc(1, sizeof *job);
    if (!job || source_read(src) < 0) {
        free(job);
        slot_release(svc);
        return snprintf(reason, REASON_MAX, "out of memory"), 500;
    }
    job->svc = svc;
    job->bytes = src->bytes; /* moved: the job owns the source bytes now */
    job->len = src->len;
    src->bytes = NULL;
    snprintf(job->path, sizeof job->path, "%s", p->path);
    job->width = p->width;
    job->quality = p->quality;
    job->format = f;
    job->key = *k;
    atomic_init(&job->refs, 2);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 16u << 20);
    pthread_mutex_lock(&svc->lock);
    svc->bg_running++;
    pthread_mutex_unlock(&svc->lock);
    pthread_t t;
    if (pthread_create(&t, &attr, transcode_main, job) != 0) {
        pthread_attr_destroy(&attr);
        atomic_store(&job->refs, 1);
        job_unref(job);
        slot_release(svc);
        background_finished(svc);
        return snprintf(reason, REASON_MAX, "cannot start a transcode thread"), 503;
    }
    pthread_attr_destroy(&attr);
    struct timespec until = clock_deadline_after_us(CLOCK_REALTIME, (svc->cfg->images.transcode_timeout_ms + 250) * 1000);
    int st;
    if (pthread_timedjoin_np(t, NULL, &until) == 0) {
        st = job->status;
        snprintf(reason, REASON_MAX, "%s", job->reason);
        *blob = image_blob_ref(job->blob);
    } else {
        pthread_detach(t);
        st = 503;
        snprintf(reason, REASON_MAX, "transcode took longer than images.transcode_timeout");
    }
    job_unref(job);
    return st;
}

/* Single flight, then a slot, for a key the caller has just missed in the cache. */
static int variant_get(struct image_service *svc, struct source *src, const struct image_params *p,
                       enum image_format f, const struct image_cache_key *k, struct image_blob **blob, bool *hit,
                       char *reason)
{
    *blob = NULL;
    *hit = false;
    bool leader;
    struct flight *fl = flight_join(svc, k->hex, &leader);
    if (!fl) return snprintf(reason, REASON_MAX, "out of memory"), 500;
    if (!leader) return flight_wait(svc, fl, blob, reason);
    /* A flight that finished just before we joined left its result in the cache. */
    int st = 0;
    if ((*blob = image_cache_recheck(svc->cache, k))) {
        *hit = true;
    } else if (!slot_acquire(svc)) {
        st = 503;
        snprintf(reason, REASON_MAX, "all image transcode slots are busy");
    } else {
        st = transcode_locked(svc, src, p, f, k, blob, reason);
    }
    flight_finish(svc, fl, st, reason, *blob);
    return st;
}

/* ---------------------------------------------------------------- AVIF first miss */

struct bg_job {
    struct image_service *svc;
    struct image_params params;
};

static void *bg_avif_main(void *arg)
{
    struct bg_job *job = arg;
    struct image_service *svc = job->svc;
    struct source src;
    const char *why;
    char reason[REASON_MAX];
    if (source_open(svc, job->params.path, &src, &why) == 0) {
        const struct image_params *p = &job->params;
        struct image_cache_key k;
        key_for(svc, p->path, &src, p->width, p->quality, IMAGE_FORMAT_AVIF, &k);
        struct image_blob *b = image_cache_recheck(svc->cache, &k);
        bool hit;
        if (!b) variant_get(svc, &src, p, IMAGE_FORMAT_AVIF, &k, &b, &hit, reason);
        image_blob_unref(b);
    }
    source_close(&src);
    free(job);
    background_finished(svc);
    return NULL;
}

static void bg_avif_start(struct image_service *svc, const struct image_params *p)
{
    struct bg_job *job = malloc(sizeof *job);
    if (!job) return;
    job->svc = svc;
    job->params = *p;
    pthread_mutex_lock(&svc->lock);
    bool room = svc->bg_running < svc->slots_max * 4;
    if (room) svc->bg_running++;
    pthread_mutex_unlock(&svc->lock);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (!room || pthread_create(&t, &attr, bg_avif_main, job) != 0) {
        free(job);
        if (room) background_finished(svc);
    }
    pthread_attr_destroy(&attr);
}

/* ---------------------------------------------------------------- the endpoint */

/* The codec libraries are opened by the first request that needs them (codec_lazy.h), not
 * at start-up, and the cache-key fingerprint names their versions, so it waits for that
 * moment too. False when a library cannot be loaded. */
static bool codecs_ready(struct image_service *svc)
{
    if (atomic_load_explicit(&svc->fingerprint_ready, memory_order_acquire)) return true;
    const char *why;
    if (!codec_libs_available(&why)) {
        if (!atomic_flag_test_and_set(&svc->codec_error_logged)) log_error("images: %s", why);
        return false;
    }
    pthread_mutex_lock(&svc->lock);
    if (!atomic_load_explicit(&svc->fingerprint_ready, memory_order_relaxed)) {
        image_encode_fingerprint(svc->fingerprint, sizeof svc->fingerprint);
        atomic_store_explicit(&svc->fingerprint_ready, true, memory_order_release);
    }
    pthread_mutex_unlock(&svc->lock);
    return true;
}

/* APNG puts its acTL chunk before the first IDAT and animated WebP sets a flag in its VP8X
 * header, so the first bytes usually already say "sent unchanged". Such a request then needs
 * no slot: it neither waits behind real transcodes nor reads the whole file. When the head
 * does not tell (a large chunk before acTL), the full probe in the slot still decides. Asked
 * only after a cache miss: a hit (nearly every request) needs no probe. */
static bool head_says_animated(struct image_service *svc, enum image_format sf, const uint8_t *head, ssize_t n)
{
    if ((sf != IMAGE_FORMAT_PNG && sf != IMAGE_FORMAT_WEBP) || n <= 0) return false;
    struct image_limits limits = {.max_pixels = svc->cfg->images.max_source_pixels};
    struct image_info info;
    char reason[REASON_MAX];
    return image_probe(head, (size_t)n, &limits, &info, reason, sizeof reason) == 0 && info.animated;
}

static int serve_variant(struct image_service *svc, struct http_exchange *ex, struct source *src,
                         const struct image_params *p, enum image_format source_format, const uint8_t *head,
                         ssize_t head_len)
{
    if (!codecs_ready(svc)) return reply_reason(svc, ex, 503, "image codecs are not available on this server");
    const char *accept = http_header(ex, "Accept");
    enum image_format f = image_format_choose(accept, svc->offered, source_format);
    struct send_opts o = {.path = p->path, .format = f, .max_age = svc->cfg->images.ttl_s};
    struct image_cache_key k;
    key_for(svc, p->path, src, p->width, p->quality, f, &k);
    struct image_blob *b = image_cache_get(svc->cache, &k);
    if (!b && head_says_animated(svc, source_format, head, head_len))
        return reply_passthrough(svc, ex, src, source_format, p->path);
    /* The stand-in is what this client would get without AVIF: only WebP qualifies. */
    if (!b && f == IMAGE_FORMAT_AVIF && svc->cfg->images.avif_first_miss == AVIF_FIRST_MISS_WEBP &&
        image_format_choose(accept, svc->offered & ~(1u << IMAGE_FORMAT_AVIF), source_format) == IMAGE_FORMAT_WEBP) {
        bg_avif_start(svc, p);
        f = o.format = IMAGE_FORMAT_WEBP;
        o.max_age = FIRST_MISS_MAX_AGE;
        key_for(svc, p->path, src, p->width, p->quality, f, &k);
        b = image_cache_recheck(svc->cache, &k);
    }
    if (b) return o.x_cache = "HIT", reply_blob(svc, ex, &o, b);
    char reason[REASON_MAX] = "";
    bool hit;
    int st = variant_get(svc, src, p, f, &k, &b, &hit, reason);
    if (st == STATUS_PASS) return reply_passthrough(svc, ex, src, source_format, p->path);
    if (st != 0 || !b) return reply_reason(svc, ex, st ? st : 500, reason[0] ? reason : "transcode failed");
    o.x_cache = hit ? "HIT" : "MISS";
    return reply_blob(svc, ex, &o, b);
}

int image_service_handle(struct image_service *svc, struct http_exchange *ex)
{
    if (!svc->cfg->images.enabled) return reply_text(ex, 404, "image optimizer is disabled");
    if (strcmp(ex->method, "GET") != 0 && !ex->head) return reply_method_not_allowed(ex, "GET, HEAD");
    struct image_params p;
    const char *why = image_params_parse(ex->query, &svc->cfg->images.widths, &svc->cfg->images.qualities, &p);
    if (why) return reply_reason(svc, ex, 400, why);
    /* Production hides source maps from the static files (404); here a map answers as a
     * missing file does, so /_image is neither a way round that nor an oracle for it. */
    if (svc->cfg->server.mode == CONFIG_MODE_PRODUCTION && sourcemap_is_map_path(p.path))
        return reply_reason(svc, ex, 400, "\"url\" parameter does not name a file");
    struct source src;
    int st = source_open(svc, p.path, &src, &why);
    if (st != 0) {
        source_close(&src);
        return reply_reason(svc, ex, st, why);
    }
    uint8_t head[SNIFF_BYTES];
    ssize_t n = pread(src.fd, head, sizeof head, 0);
    enum image_format sf = image_sniff(head, n > 0 ? (size_t)n : 0);
    if (sf == IMAGE_FORMAT_SVG || sf == IMAGE_FORMAT_GIF) st = reply_passthrough(svc, ex, &src, sf, p.path);
    else if (n <= 0) st = reply_reason(svc, ex, 422, "source image is empty");
    else if (sf == IMAGE_FORMAT_NONE) st = reply_reason(svc, ex, 415, "source is not a supported image (JPEG, PNG, WebP, AVIF, GIF, SVG)");
    else st = serve_variant(svc, ex, &src, &p, sf, head, n);
    source_close(&src);
    return st;
}

/* ---------------------------------------------------------------- life cycle */

struct image_service *image_service_create(const struct config *cfg)
{
    struct image_service *svc = calloc(1, sizeof *svc);
    if (!svc) return NULL;
    svc->cfg = cfg;
    svc->root_fd = open(cfg->static_files.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    svc->root_real = realpath(cfg->static_files.root, NULL);
    if (svc->root_fd < 0 || !svc->root_real)
        log_warn("images: root %s is not usable (%s); /_image will answer 400", cfg->static_files.root, strerror(errno));
    svc->offered = image_formats_parse(cfg->images.formats);
    svc->cpus = cpu_count_usable();
    svc->slots_max = svc->slots_free = cfg->images.max_concurrent > 0 ? (int)cfg->images.max_concurrent : svc->cpus;
    pthread_mutex_init(&svc->lock, NULL);
    cond_init_monotonic(&svc->changed);
    svc->cache = cfg->images.enabled ? image_cache_open(cfg->images.cache_dir, cfg->images.cache_max_bytes, MEM_TIER_BYTES)
                                     : NULL;
    if (cfg->images.enabled && !svc->cache) {
        image_service_free(svc);
        return NULL;
    }
    return svc;
}

void image_service_free(struct image_service *svc)
{
    if (!svc) return;
    pthread_mutex_lock(&svc->lock);
    while (svc->bg_running > 0) pthread_cond_wait(&svc->changed, &svc->lock);
    pthread_mutex_unlock(&svc->lock);
    image_cache_close(svc->cache);
    if (svc->root_fd >= 0) close(svc->root_fd);
    free(svc->root_real);
    pthread_mutex_destroy(&svc->lock);
    pthread_cond_destroy(&svc->changed);
    free(svc);
}

void image_service_metrics(struct image_service *svc, struct strbuf *out)
{
    if (!svc->cache) return;
    pthread_mutex_lock(&svc->lock);
    int running = svc->slots_max - svc->slots_free;
    pthread_mutex_unlock(&svc->lock);
    strbuf_printf(out,
                  "# TYPE tessera_image_transcodes_total counter\ntessera_image_transcodes_total %llu\n"
                  "# TYPE tessera_image_transcode_errors_total counter\ntessera_image_transcode_errors_total %llu\n"
                  "# TYPE tessera_image_transcode_seconds_total counter\ntessera_image_transcode_seconds_total %.3f\n"
                  "# TYPE tessera_image_passthrough_total counter\ntessera_image_passthrough_total %llu\n"
                  "# TYPE tessera_image_singleflight_waits_total counter\ntessera_image_singleflight_waits_total %llu\n"
                  "# TYPE tessera_image_transcodes_running gauge\ntessera_image_transcodes_running %d\n"
                  "# TYPE tessera_image_busy_total counter\ntessera_image_busy_total %llu\n"
                  "# TYPE tessera_image_rejected_total counter\ntessera_image_rejected_total %llu\n",
                  (unsigned long long)atomic_load(&svc->transcodes), (unsigned long long)atomic_load(&svc->transcode_errors),
                  (double)atomic_load(&svc->transcode_us) / 1e6, (unsigned long long)atomic_load(&svc->passthrough),
                  (unsigned long long)atomic_load(&svc->flight_waits), running,
                  (unsigned long long)atomic_load(&svc->queue_timeouts),
                  (unsigned long long)atomic_load(&svc->rejected));
    image_cache_metrics(svc->cache, out);
}
