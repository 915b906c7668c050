/* static_files — tessera's own file sender (CivetWeb's gets conditionals, ranges and Vary
 * wrong). Request flow: safe path -> policy (methods, source maps) -> cached entry
 * (revalidated by stat at most once per static.revalidate) -> representation
 * (br/gzip/identity) -> conditional/range -> one write. Files larger than
 * static.cache_file_max are streamed from disk instead. */
#include "tessera/static_files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tessera/clock.h"
#include "tessera/compress.h"
#include "tessera/conditional.h"
#include "tessera/file_cache.h"
#include "tessera/file_stream.h"
#include "tessera/log.h"
#include "tessera/mime.h"
#include "tessera/negotiate.h"
#include "tessera/path.h"
#include "tessera/router.h"
#include "tessera/server.h"
#include "tessera/sourcemap.h"

#define SIBLING_RECHECK_US 1000000 /* a new `precompress` run is noticed within a second */
#define VARIANT_WAIT_S 10          /* bounded wait for another thread's compression */
#define INLINE_BODY_MAX (32 * 1024)   /* larger cached bodies are written without a copy */
#define PRIVATE_ENTRY_MAX (64LL * 1024 * 1024) /* production JS/CSS above cache_file_max */
#define LARGE_VARIANT_MAX (16LL * 1024 * 1024) /* larger files: siblings or identity only */
#define STALE_MEMORY 256                        /* stale siblings remembered as already logged */

struct static_files {
    const struct config *cfg;
    char real_root[PATH_MAX];
    struct path_options popt;
    struct file_cache *cache;
    enum encoding order[2];
    int n_order;
    bool production;
    atomic_uint_fast64_t hits, misses, streamed, compressed, stale_siblings;
    pthread_mutex_t stale_lock;    /* guards the stale-sibling log memory below */
    uint64_t stale_seen[STALE_MEMORY];
    unsigned stale_next;
    atomic_uint_fast64_t last_entry_id;
    pthread_key_t copy_key;        /* each worker thread's struct sent_copy */
};

/* A worker thread's last full 200 response (head and body in one buffer, as written). A
 * keep-alive client asking again for the same representation within the same second of Date
 * gets these bytes again: no head to format, no body to copy, no allocation. Bounded by
 * INLINE_BODY_MAX per thread; freed when the thread ends. */
struct sent_copy {
    uint64_t entry_id;             /* 0: holds nothing */
    enum encoding enc;
    bool http10;                   /* it says Connection: keep-alive */
    char date[32];                 /* the Date it carries */
    struct strbuf bytes;
    size_t body_len;
};

/* A request's file, once the path is safe. */
struct target {
    char full[PATH_MAX];
    size_t root_len;
    struct stat st;
    bool has_extension;
    bool trailing_slash;
    struct fc_entry *fresh; /* a cached entry used without a stat (fresh_entry) */
};

static const char *target_rel(const struct target *t) { return t->full + t->root_len + 1; }

/* ------------------------------------------------------------------ setup */

static void sent_copy_free(void *p)
{
    struct sent_copy *c = p;
    strbuf_free(&c->bytes);
    free(c);
}

struct static_files *static_files_create(const struct config *cfg)
{
    struct static_files *sf = calloc(1, sizeof *sf);
    if (!sf) return NULL;
    sf->cfg = cfg;
    if (!realpath(cfg->static_files.root, sf->real_root)) {
        /* Not fatal: a server without its dashboard still answers /api and /healthz. */
        log_warn("static.root %s: %s; static files will be 404", cfg->static_files.root, strerror(errno));
        snprintf(sf->real_root, sizeof sf->real_root, "%s", cfg->static_files.root);
    }
    sf->popt.well_known = cfg->static_files.well_known;
    sf->production = cfg->server.mode == CONFIG_MODE_PRODUCTION;
    if (cfg->compression.enabled) sf->n_order = negotiate_parse_order(cfg->compression.encodings, sf->order, 2);
    sf->cache = file_cache_create((size_t)cfg->static_files.cache_bytes, (size_t)cfg->compression.cache_bytes);
    if (!sf->cache) { free(sf); return NULL; }
    if (pthread_key_create(&sf->copy_key, sent_copy_free) != 0) {
        file_cache_free(sf->cache);
        free(sf);
        return NULL;
    }
    pthread_mutex_init(&sf->stale_lock, NULL);
    return sf;
}

/* Worker threads have ended (mg_stop joins them) and freed their copies by now. */
void static_files_free(struct static_files *sf)
{
    if (!sf) return;
    pthread_key_delete(sf->copy_key);
    pthread_mutex_destroy(&sf->stale_lock);
    file_cache_free(sf->cache);
    free(sf);
}

/* ------------------------------------------------------------------ policy (pure) */

static bool is_hash_token(const char *s, size_t n)
{
    if (n < 8) return false;
    bool hex = true, digit = false, alpha = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool d = c >= '0' && c <= '9', lo = c >= 'a' && c <= 'z', up = c >= 'A' && c <= 'Z';
        if (!d && !lo && !up && c != '_') return false;
        digit |= d;
        alpha |= lo || up;
        hex &= d || (c >= 'a' && c <= 'f');
    }
    return hex || (digit && alpha);
}

/* The token just before `end` (a '.') is a hash with a name before it. */
static bool hash_before(const char *base, const char *end)
{
    const char *p = end;
    while (p > base && p[-1] != '.' && p[-1] != '-') p--;
    if (p == base || p - 1 == base) return false; /* the hash needs a name before it */
    return is_hash_token(p, (size_t)(end - p));
}

/* "app.3f2a9c1d.js", "index-BxK3aZ9q.js", and their maps "app.3f2a9c1d.js.map": the name
 * changes when the content does. */
static bool is_hashed_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base) return false;
    if (hash_before(base, dot)) return true;
    if (strcasecmp(dot, ".map") != 0) return false;
    const char *prev = dot;
    while (prev > base && prev[-1] != '.') prev--;
    return prev - 1 > base && hash_before(base, prev - 1);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

void static_files_cache_control(const char *rel, int64_t max_age_s, char *out, size_t size)
{
    if (is_hashed_name(rel))
        snprintf(out, size, "public, max-age=31536000, immutable");
    else if (ends_with(rel, ".html") || ends_with(rel, ".htm") || rel[0] == '\0')
        snprintf(out, size, "no-cache");
    else
        snprintf(out, size, "public, max-age=%lld", (long long)max_age_s);
}

static void cache_control_for(const struct static_files *sf, const char *rel, char *out, size_t size)
{
    static_files_cache_control(rel, sf->cfg->static_files.max_age_s, out, size);
}

/* JS and CSS lose their sourceMappingURL trailer in production. */
static bool strips_trailer(const struct static_files *sf, const char *content_type)
{
    return sf->production && (strncmp(content_type, "text/javascript", 15) == 0 ||
                              strncmp(content_type, "text/css", 8) == 0);
}

/* "app.js.br" asked for by name: its bytes may still carry the trailer production hides. */
static bool is_js_css_sibling(const struct static_files *sf, const char *rel)
{
    size_t n = strlen(rel);
    if (n < 4 || n >= PATH_MAX || (!ends_with(rel, ".br") && !ends_with(rel, ".gz"))) return false;
    char stem[PATH_MAX];
    memcpy(stem, rel, n - 3);
    stem[n - 3] = '\0';
    return strips_trailer(sf, mime_type_for(stem));
}

static bool is_compressible(const struct static_files *sf, const char *content_type)
{
    return sf->n_order > 0 && mime_type_in_list(content_type, sf->cfg->compression.types);
}

static bool offered(const struct static_files *sf, enum encoding enc)
{
    for (int i = 0; i < sf->n_order; i++)
        if (sf->order[i] == enc) return true;
    return false;
}

static const char *sibling_suffix(enum encoding enc) { return enc == ENCODING_BR ? ".br" : ".gz"; }

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

static struct fc_stamp stamp_of(const struct stat *st)
{
    return (struct fc_stamp){st->st_dev, st->st_ino, (int64_t)st->st_size, mtime_ns(st)};
}

static bool stamp_equal(const struct fc_stamp *a, const struct fc_stamp *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

static const struct fc_stamp no_file = {0, 0, -1, 0};

/* ------------------------------------------------------------------ error pages */

static int send_page(struct http_exchange *ex, int status, const char *title, const char *allow, bool vary)
{
    char body[256];
    int n = snprintf(body, sizeof body,
                     "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>%d %s</title></head>"
                     "<body><h1>%d %s</h1></body></html>\n", status, title, status, title);
    struct http_reply r;
    reply_start(&r, ex, status);
    if (allow) reply_header(&r, "Allow", allow);
    if (vary) reply_vary_accept_encoding(&r);
    reply_header(&r, "Cache-Control", "no-cache");
    reply_send_dynamic(ex, &r, "text/html; charset=utf-8", body, (size_t)n);
    return status;
}

static int send_not_found(struct http_exchange *ex) { return send_page(ex, 404, "Not Found", NULL, false); }

/* ------------------------------------------------------------------ target resolution */

static void percent_encode_path(const char *in, struct strbuf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~/!$&'()*+,;=:@", c))
            strbuf_append(out, p, 1);
        else
            strbuf_printf(out, "%%%c%c", hex[c >> 4], hex[c & 15]);
    }
}

/* "/docs" names a folder: send the browser to "/docs/" so relative links resolve. The query
 * goes along (as in nginx): "/docs?tab=2" is still the page the link meant. */
static int send_directory_redirect(struct http_exchange *ex, const char *rel)
{
    struct strbuf loc;
    strbuf_init(&loc);
    strbuf_puts(&loc, "/");
    percent_encode_path(rel, &loc);
    strbuf_puts(&loc, "/");
    if (ex->query && ex->query[0]) strbuf_printf(&loc, "?%s", ex->query);
    struct http_reply r;
    reply_start(&r, ex, 301);
    reply_header(&r, "Location", loc.data ? loc.data : "/");
    reply_header(&r, "Cache-Control", "no-cache");
    reply_send_dynamic(ex, &r, "text/html; charset=utf-8", "", 0);
    strbuf_free(&loc);
    return 301;
}

static bool set_target_file(struct target *t, const char *name)
{
    size_t n = strlen(t->full);
    if (n + 1 + strlen(name) + 1 > sizeof t->full) return false;
    if (n > 0 && t->full[n - 1] != '/') t->full[n++] = '/';
    strcpy(t->full + n, name);
    return stat(t->full, &t->st) == 0 && S_ISREG(t->st.st_mode);
}

/* The cached entry for t when its file was found unchanged less than static.revalidate ago
 * and no sibling check is due: a hit then costs no stat(), whose path walk was measured at
 * 7-8 % of a hit's CPU time. Large entries, whose identity is streamed, always stat. */
static struct fc_entry *fresh_entry(struct static_files *sf, const struct target *t)
{
    int64_t interval_us = sf->cfg->static_files.revalidate_ms * 1000;
    if (interval_us <= 0) return NULL;
    struct fc_entry *e = file_cache_get(sf->cache, target_rel(t));
    if (!e) return NULL;
    int64_t now = clock_monotonic_us();
    if (e->rep[ENCODING_IDENTITY].body &&
        now - atomic_load_explicit(&e->checked_us, memory_order_relaxed) < interval_us &&
        (!e->watch_siblings ||
         now - atomic_load_explicit(&e->siblings_checked_us, memory_order_relaxed) < SIBLING_RECHECK_US)) {
        atomic_fetch_add_explicit(&sf->hits, 1, memory_order_relaxed);
        return e;
    }
    file_cache_release(sf->cache, e);
    return NULL;
}

/* The router matched the raw path; "//api/me" or "/%61pi/me" reach here and, once decoded,
 * name another module's route. Such a request is a client's mistake, not a page of the app,
 * and a fetch expecting JSON must not be given the HTML shell with a 200. */
static bool is_client_route(const struct target *t)
{
    char path[PATH_MAX + 1];
    snprintf(path, sizeof path, "/%s", target_rel(t));
    return router_match(path) == ROUTE_STATIC;
}

/* Fills t with a regular file to send, or sends the answer itself (redirect, 400, 404)
 * and returns its status. */
static int resolve_target(struct static_files *sf, struct http_exchange *ex, struct target *t)
{
    struct path_resolved res;
    enum path_status ps = path_resolve(sf->real_root, ex->path, &sf->popt, t->full, sizeof t->full, &res);
    if (ps == PATH_BAD_REQUEST) return send_page(ex, 400, "Bad Request", NULL, false);
    /* RFC 9112 3: a target too long to name a file under the root is a 414, not a 400. */
    if (ps == PATH_TOO_LONG) return send_page(ex, 414, "URI Too Long", NULL, false);
    if (ps != PATH_OK) return send_not_found(ex);
    t->root_len = res.root_len;
    t->has_extension = res.has_extension;
    t->trailing_slash = res.trailing_slash;
    if (sf->production && (sourcemap_is_map_path(target_rel(t)) || is_js_css_sibling(sf, target_rel(t))))
        return send_not_found(ex);
    t->fresh = res.trailing_slash ? NULL : fresh_entry(sf, t);
    if (t->fresh) return 0;
    if (stat(t->full, &t->st) == 0) {
        if (S_ISREG(t->st.st_mode)) return res.trailing_slash ? send_not_found(ex) : 0; /* "/a.js/" */
        if (!S_ISDIR(t->st.st_mode) || !path_check_inside(sf->real_root, t->full)) return send_not_found(ex);
        if (!res.trailing_slash && target_rel(t)[0]) return send_directory_redirect(ex, target_rel(t));
        return set_target_file(t, "index.html") ? 0 : send_not_found(ex);
    }
    if (!sf->cfg->static_files.spa_fallback || res.has_extension || !is_client_route(t))
        return send_not_found(ex);
    /* A client-side route ("/settings/profile"): the app's shell answers it. */
    t->full[t->root_len + 1] = '\0';
    return set_target_file(t, "index.html") ? 0 : send_not_found(ex);
}

/* ------------------------------------------------------------------ building entries */

/* Reads exactly size bytes of fd from offset 0; -1 on a short read (the file changed). */
static int read_whole(int fd, char *buf, size_t size)
{
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, buf + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        got += (size_t)n;
    }
    return 0;
}

/* Opens a regular file and reads it whole; the stat comes from the open descriptor so the
 * bytes and the stamp describe the same file. */
static char *load_file(const char *path, size_t max, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    char *buf = NULL;
    if (fstat(fd, st) == 0 && S_ISREG(st->st_mode) && (size_t)st->st_size <= max) {
        buf = malloc((size_t)st->st_size + 1);
        if (buf && read_whole(fd, buf, (size_t)st->st_size) < 0) { free(buf); buf = NULL; }
    }
    close(fd);
    return buf;
}

static void append_common_headers(struct strbuf *h, const struct fc_entry *e, const struct fc_rep *rep,
                                  const char *cache_control)
{
    char date[32];
    http_date_format(e->mtime_s, date);
    strbuf_printf(h, "ETag: %s\r\nLast-Modified: %s\r\nCache-Control: %s\r\n", rep->etag, date, cache_control);
    if (e->vary) strbuf_puts(h, "Vary: Accept-Encoding\r\n");
}

/* Strong and distinct per representation: mtime and identity length (stripped in
 * production, so the tag changes with the bytes), plus the coded length and a coding suffix. */
static void format_etag(char *out, size_t size, int64_t mtime_ns, size_t identity_len, enum encoding enc,
                        size_t len)
{
    if (enc == ENCODING_IDENTITY)
        snprintf(out, size, "\"%llx-%zx\"", (unsigned long long)mtime_ns, identity_len);
    else
        snprintf(out, size, "\"%llx-%zx-%zx-%s\"", (unsigned long long)mtime_ns, identity_len, len,
                 enc == ENCODING_BR ? "br" : "gz");
}

/* The header blocks of one representation, prepared once per entry. */
static bool rep_prepare(struct fc_entry *e, enum encoding enc, const char *cache_control)
{
    struct fc_rep *rep = &e->rep[enc];
    format_etag(rep->etag, sizeof rep->etag, e->stamp.mtime_ns, e->rep[ENCODING_IDENTITY].len, enc, rep->len);
    struct strbuf h, h304;
    strbuf_init(&h);
    strbuf_init(&h304);
    strbuf_printf(&h, "Content-Type: %s\r\n", e->content_type);
    append_common_headers(&h, e, rep, cache_control);
    if (enc == ENCODING_IDENTITY) strbuf_puts(&h, "Accept-Ranges: bytes\r\n");
    else strbuf_printf(&h, "Content-Encoding: %s\r\n", encoding_name(enc));
    append_common_headers(&h304, e, rep, cache_control);
    bool ok = !h.failed && !h304.failed;
    rep->headers = strbuf_steal(&h, &rep->headers_len);
    rep->headers_304 = strbuf_steal(&h304, &rep->headers_304_len);
    return ok && rep->headers && rep->headers_304;
}

/* Logs a stale sibling once per (sibling, file) version, however often entries are rebuilt
 * or evicted; the memory is a small ring, so a flood of stale files costs a bounded log. */
static void note_stale_sibling(struct static_files *sf, const char *rel, const struct stat *st,
                               const struct fc_entry *e)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = rel; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h ^= (uint64_t)mtime_ns(st) * 31 + (uint64_t)e->stamp.mtime_ns;
    bool seen = false;
    pthread_mutex_lock(&sf->stale_lock);
    for (unsigned i = 0; i < STALE_MEMORY && !seen; i++) seen = sf->stale_seen[i] == h;
    if (!seen) sf->stale_seen[sf->stale_next++ % STALE_MEMORY] = h;
    pthread_mutex_unlock(&sf->stale_lock);
    if (seen) return;
    atomic_fetch_add(&sf->stale_siblings, 1);
    log_warn("static: ignoring stale %s (older than %s)", rel, e->key);
}

/* A precompressed sibling, when it is fresh, inside the root, smaller, and (in production,
 * for JS/CSS) decodes to exactly the stripped identity bytes. Records what it saw. */
static bool load_sibling(struct static_files *sf, struct fc_entry *e, const struct target *t, enum encoding enc)
{
    char path[PATH_MAX + 4];
    snprintf(path, sizeof path, "%s%s", t->full, sibling_suffix(enc));
    struct stat st;
    e->sibling[enc] = no_file;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return false;
    e->sibling[enc] = stamp_of(&st);
    if (mtime_ns(&st) < e->stamp.mtime_ns) {
        note_stale_sibling(sf, path + t->root_len + 1, &st, e);
        return false;
    }
    const struct fc_rep *id = &e->rep[ENCODING_IDENTITY];
    if ((size_t)st.st_size >= id->len || !path_check_inside(sf->real_root, path)) return false;
    char *body = load_file(path, id->len, &st);
    if (!body) return false;
    if (strips_trailer(sf, e->content_type)) {
        struct strbuf plain;
        strbuf_init(&plain);
        bool same = decompress_buffer_bounded(enc, body, (size_t)st.st_size, id->len, &plain) == 0 && plain.len == id->len &&
                    memcmp(plain.data, id->body, id->len) == 0;
        strbuf_free(&plain);
        if (!same) { free(body); return false; } /* not written by `precompress --production` */
    }
    e->rep[enc].body = body;
    e->rep[enc].len = (size_t)st.st_size;
    e->file_bytes += (size_t)st.st_size;
    return true;
}

static void plan_variants(struct static_files *sf, struct fc_entry *e, const struct target *t, const char *cc)
{
    const struct config *cfg = sf->cfg;
    bool worth = e->vary && e->rep[ENCODING_IDENTITY].len >= (size_t)cfg->compression.min_length;
    e->watch_siblings = worth && cfg->compression.precompressed;
    for (enum encoding enc = ENCODING_GZIP; enc <= ENCODING_BR; enc++) {
        int state = FC_ABSENT;
        e->sibling[enc] = no_file;
        if (worth && offered(sf, enc)) {
            if (cfg->compression.precompressed && load_sibling(sf, e, t, enc) && rep_prepare(e, enc, cc))
                state = FC_READY;
            else if (cfg->compression.dynamic)
                state = FC_PENDING;
        }
        atomic_init(&e->state[enc], state);
    }
}

/* The part every entry shares once its identity is known: the prepared identity header
 * block, the plan for its compressed variants, its version id. Releases e and returns NULL
 * on failure. */
static struct fc_entry *entry_finish(struct static_files *sf, struct fc_entry *e, const struct target *t,
                                     const char *rel)
{
    char cc[64];
    cache_control_for(sf, rel, cc, sizeof cc);
    if (!rep_prepare(e, ENCODING_IDENTITY, cc)) { file_cache_release(sf->cache, e); return NULL; }
    atomic_init(&e->state[ENCODING_IDENTITY], FC_READY);
    plan_variants(sf, e, t, cc);
    e->id = atomic_fetch_add(&sf->last_entry_id, 1) + 1;
    int64_t now = clock_monotonic_us();
    atomic_init(&e->siblings_checked_us, now);
    atomic_init(&e->checked_us, now);
    return e;
}

static struct fc_entry *entry_build(struct static_files *sf, const struct target *t, int64_t max_bytes)
{
    const char *rel = target_rel(t);
    struct fc_entry *e = fc_entry_new(rel);
    if (!e) return NULL;
    struct stat st;
    struct fc_rep *id = &e->rep[ENCODING_IDENTITY];
    id->body = load_file(t->full, (size_t)max_bytes, &st);
    if (!id->body) { file_cache_release(sf->cache, e); return NULL; }
    e->stamp = stamp_of(&st);
    e->mtime_s = (int64_t)st.st_mtim.tv_sec;
    e->content_type = mime_type_for(rel);
    e->vary = is_compressible(sf, e->content_type);
    id->len = (size_t)st.st_size;
    if (strips_trailer(sf, e->content_type)) id->len = sourcemap_strip_trailer(id->body, id->len);
    e->file_bytes = (size_t)st.st_size;
    return entry_finish(sf, e, t, rel);
}

/* A compressible file over static.cache_file_max: its identity stays on disk (streamed), only
 * its compressed variants (siblings, or compressed here on first use) live in memory. */
static struct fc_entry *entry_build_large(struct static_files *sf, const struct target *t)
{
    const char *rel = target_rel(t);
    struct fc_entry *e = fc_entry_new(rel);
    if (!e) return NULL;
    e->stamp = stamp_of(&t->st);
    e->mtime_s = (int64_t)t->st.st_mtim.tv_sec;
    e->content_type = mime_type_for(rel);
    e->vary = true;
    e->rep[ENCODING_IDENTITY].len = (size_t)t->st.st_size;
    return entry_finish(sf, e, t, rel);
}

/* True when the siblings seen at build time still look the same (checked once a second). */
static bool siblings_unchanged(struct static_files *sf, struct fc_entry *e, const struct target *t)
{
    if (!e->watch_siblings) return true;
    int64_t now = clock_monotonic_us();
    int_fast64_t last = atomic_load(&e->siblings_checked_us);
    if (now - last < SIBLING_RECHECK_US || !atomic_compare_exchange_strong(&e->siblings_checked_us, &last, now))
        return true;
    for (enum encoding enc = ENCODING_GZIP; enc <= ENCODING_BR; enc++) {
        if (!offered(sf, enc)) continue;
        char path[PATH_MAX + 4];
        snprintf(path, sizeof path, "%s%s", t->full, sibling_suffix(enc));
        struct stat st;
        struct fc_stamp now_seen = stat(path, &st) == 0 && S_ISREG(st.st_mode) ? stamp_of(&st) : no_file;
        if (!stamp_equal(&now_seen, &e->sibling[enc])) return false;
    }
    return true;
}

/* An entry the cache would not take lives for one request: compressing it on the fly would
 * repeat the work on every request, so it offers only what siblings gave it. */
static void entry_keep_private(struct fc_entry *e)
{
    for (enum encoding enc = ENCODING_GZIP; enc <= ENCODING_BR; enc++)
        if (atomic_load(&e->state[enc]) == FC_PENDING) atomic_store(&e->state[enc], FC_ABSENT);
}

/* The cached entry for t, rebuilt when the file (or a sibling) changed. NULL when the file
 * is too large for the cache or cannot be read (the caller streams it), or when its real
 * path leaves the root (*outside set). */
static struct fc_entry *entry_for(struct static_files *sf, const struct target *t, bool *outside)
{
    if (t->fresh) return t->fresh;
    struct fc_entry *e = file_cache_get(sf->cache, target_rel(t));
    struct fc_stamp now = stamp_of(&t->st);
    if (e && stamp_equal(&e->stamp, &now) && siblings_unchanged(sf, e, t)) {
        atomic_store_explicit(&e->checked_us, clock_monotonic_us(), memory_order_relaxed);
        atomic_fetch_add_explicit(&sf->hits, 1, memory_order_relaxed);
        return e;
    }
    if (e) {
        file_cache_remove(sf->cache, e);
        file_cache_release(sf->cache, e);
    }
    atomic_fetch_add_explicit(&sf->misses, 1, memory_order_relaxed);
    *outside = !path_check_inside(sf->real_root, t->full);
    if (*outside) return NULL;
    if (t->st.st_size <= sf->cfg->static_files.cache_file_max) {
        e = entry_build(sf, t, sf->cfg->static_files.cache_file_max);
        if (!e) return NULL;
        bool cached;
        e = file_cache_put(sf->cache, e, &cached);
        if (!cached) entry_keep_private(e);
        return e;
    }
    const char *type = mime_type_for(target_rel(t));
    if (strips_trailer(sf, type)) {
        /* A large JS/CSS file in production: its trailer can only be found in memory. */
        if (t->st.st_size > PRIVATE_ENTRY_MAX) return NULL;
        e = entry_build(sf, t, PRIVATE_ENTRY_MAX);
        if (e) entry_keep_private(e);
        return e;
    }
    if (!is_compressible(sf, type) || t->st.st_size > LARGE_VARIANT_MAX) return NULL;
    e = entry_build_large(sf, t);
    if (!e) return NULL;
    bool cached;
    e = file_cache_put(sf->cache, e, &cached);
    if (!cached) entry_keep_private(e);
    return e;
}

/* ------------------------------------------------------------------ representations */

/* The identity bytes to compress: in the entry, or (large files, whose identity is streamed)
 * read back from disk once, provided the file is still the version the entry describes. */
static char *identity_bytes(struct static_files *sf, const struct fc_entry *e, bool *owned)
{
    *owned = false;
    if (e->rep[ENCODING_IDENTITY].body) return e->rep[ENCODING_IDENTITY].body;
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%s", sf->real_root, e->key);
    struct stat st;
    char *body = load_file(path, (size_t)LARGE_VARIANT_MAX, &st);
    struct fc_stamp now = body ? stamp_of(&st) : no_file;
    if (!body || !stamp_equal(&now, &e->stamp)) { free(body); return NULL; }
    *owned = true;
    return body;
}

/* Compresses e's identity bytes for enc with the on-the-fly settings; false when that
 * fails, is not smaller, or does not fit compression.cache_bytes. */
static bool compress_variant(struct static_files *sf, struct fc_entry *e, enum encoding enc)
{
    const struct config *cfg = sf->cfg;
    size_t len = e->rep[ENCODING_IDENTITY].len;
    bool owned;
    char *plain = identity_bytes(sf, e, &owned);
    if (!plain) return false;
    int level = enc == ENCODING_BR ? (int)cfg->compression.brotli_quality : (int)cfg->compression.gzip_level;
    struct strbuf out;
    strbuf_init(&out);
    bool ok = compress_buffer(enc, level, 0, plain, len, &out) == 0 && !out.failed && out.len < len &&
              file_cache_charge(sf->cache, e, out.len);
    if (owned) free(plain);
    if (ok) {
        char cc[64];
        cache_control_for(sf, e->key, cc, sizeof cc);
        e->rep[enc].body = strbuf_steal(&out, &e->rep[enc].len);
        e->rep[enc].compressed_here = true;
        ok = rep_prepare(e, enc, cc);
        atomic_fetch_add(&sf->compressed, 1);
    }
    strbuf_free(&out);
    return ok;
}

/* Exactly one thread compresses a variant; the others wait (bounded) for its result instead
 * of compressing the same bytes again. */
static bool variant_ready(struct static_files *sf, struct fc_entry *e, enum encoding enc)
{
    int state = atomic_load(&e->state[enc]);
    if (state == FC_READY) return true;
    if (state == FC_ABSENT) return false;
    pthread_mutex_lock(&e->lock);
    if (atomic_load(&e->state[enc]) == FC_PENDING) {
        atomic_store(&e->state[enc], FC_BUSY);
        pthread_mutex_unlock(&e->lock);
        bool ok = compress_variant(sf, e, enc);
        pthread_mutex_lock(&e->lock);
        atomic_store(&e->state[enc], ok ? FC_READY : FC_ABSENT);
        pthread_cond_broadcast(&e->done);
    } else {
        struct timespec deadline = clock_deadline_after_us(CLOCK_MONOTONIC, VARIANT_WAIT_S * 1000000LL);
        while (atomic_load(&e->state[enc]) == FC_BUSY)
            if (pthread_cond_timedwait(&e->done, &e->lock, &deadline) != 0) break;
    }
    bool ready = atomic_load(&e->state[enc]) == FC_READY;
    pthread_mutex_unlock(&e->lock);
    return ready;
}

static unsigned entry_available(const struct fc_entry *e)
{
    unsigned set = 0;
    for (enum encoding enc = ENCODING_GZIP; enc <= ENCODING_BR; enc++)
        if (atomic_load(&e->state[enc]) != FC_ABSENT) set |= ENCODING_SET(enc);
    return set;
}

/* Highest-q acceptable representation that actually exists; identity for Range requests,
 * which are never answered with a slice of compressed bytes. */
static enum encoding choose_encoding(struct static_files *sf, struct http_exchange *ex, struct fc_entry *e)
{
    const char *accept = http_header(ex, "Accept-Encoding");
    unsigned available = http_header(ex, "Range") ? 0 : entry_available(e);
    for (;;) {
        enum encoding enc = negotiate_encoding(accept, available, sf->order, sf->n_order);
        if (enc == ENCODING_IDENTITY || enc == ENCODING_NONE) return enc;
        if (variant_ready(sf, e, enc)) return enc;
        available &= ~ENCODING_SET(enc);
    }
}

/* ------------------------------------------------------------------ sending */

static struct cond_request cond_request_of(struct http_exchange *ex)
{
    return (struct cond_request){
        .if_match = http_header(ex, "If-Match"),
        .if_unmodified_since = http_header(ex, "If-Unmodified-Since"),
        .if_none_match = http_header(ex, "If-None-Match"),
        .if_modified_since = http_header(ex, "If-Modified-Since"),
        .range = http_header(ex, "Range"),
        .if_range = http_header(ex, "If-Range"),
    };
}

static int send_unsatisfiable(struct http_exchange *ex, int64_t size, bool vary)
{
    struct http_reply r;
    reply_start(&r, ex, 416);
    reply_headerf(&r, "Content-Range", "bytes */%lld", (long long)size);
    if (vary) reply_vary_accept_encoding(&r);
    reply_send(ex, &r, "", 0);
    return 416;
}

/* Small bodies ride in the same write as the head (measured: twice the rate of two writes);
 * large ones go straight from the cache, since copying 100 KiB costs more than one send(). */
static int send_body(struct http_exchange *ex, struct http_reply *r, const char *body, size_t len)
{
    if (len <= INLINE_BODY_MAX || ex->head) {
        strbuf_reserve(&r->head, len + 64);
        return reply_send(ex, r, body, len);
    }
    if (reply_send_head(ex, r, (int64_t)len) < 0) return -1;
    return http_write(ex, body, len);
}

static struct sent_copy *thread_copy(struct static_files *sf)
{
    struct sent_copy *c = pthread_getspecific(sf->copy_key);
    if (c) return c;
    c = calloc(1, sizeof *c);
    if (c && pthread_setspecific(sf->copy_key, c) != 0) { free(c); c = NULL; }
    return c;
}

/* A whole 200 GET answer, from this thread's copy when it holds the same representation with
 * the current Date and HTTP version; otherwise built into a new copy. Every other header of a
 * 200 is fixed per server (reply_start), except Connection: a closing answer never uses a
 * copy, an HTTP/1.0 one (keep-alive) only a copy made for HTTP/1.0. */
static int send_full(struct static_files *sf, struct http_exchange *ex, const struct fc_entry *e,
                     enum encoding enc)
{
    const struct fc_rep *rep = &e->rep[enc];
    struct sent_copy *c = ex->head || ex->close || rep->len > INLINE_BODY_MAX ? NULL : thread_copy(sf);
    const char *date = http_date_now(); /* read first: a second passing mid-build only costs a rebuild */
    if (c && c->entry_id == e->id && c->enc == enc && c->http10 == ex->http10 && strcmp(c->date, date) == 0)
        return reply_send_sealed(ex, 200, c->bytes.data, c->bytes.len, c->body_len);
    struct http_reply r;
    reply_start(&r, ex, 200);
    strbuf_append(&r.head, rep->headers, rep->headers_len);
    if (!c) return send_body(ex, &r, rep->body, rep->len);
    c->entry_id = 0;
    strbuf_reserve(&r.head, rep->len + 64);
    c->body_len = reply_seal(ex, &r, rep->body, rep->len);
    if (r.head.failed) {
        strbuf_free(&r.head);
        return -1;
    }
    strbuf_free(&c->bytes);
    c->bytes = r.head;
    c->entry_id = e->id;
    c->enc = enc;
    c->http10 = ex->http10;
    snprintf(c->date, sizeof c->date, "%s", date);
    return reply_send_sealed(ex, 200, c->bytes.data, c->bytes.len, c->body_len);
}

/* The status line and Date from reply_start, the prepared block, the body. */
static int send_entry(struct static_files *sf, struct http_exchange *ex, const struct fc_entry *e,
                      enum encoding enc)
{
    const struct fc_rep *rep = &e->rep[enc];
    struct cond_entity ent = {rep->etag, e->mtime_s, (int64_t)rep->len, enc == ENCODING_IDENTITY};
    struct cond_request req = cond_request_of(ex);
    struct cond_outcome out = cond_evaluate(&req, &ent);
    struct http_reply r;
    switch (out.status) {
    case 304:
        reply_start(&r, ex, 304);
        strbuf_append(&r.head, rep->headers_304, rep->headers_304_len);
        reply_send(ex, &r, NULL, 0);
        return 304;
    case 412:
        return send_page(ex, 412, "Precondition Failed", NULL, e->vary);
    case 416:
        return send_unsatisfiable(ex, (int64_t)rep->len, e->vary);
    case 206:
        reply_start(&r, ex, 206);
        strbuf_append(&r.head, rep->headers, rep->headers_len);
        reply_headerf(&r, "Content-Range", "bytes %lld-%lld/%zu", (long long)out.start,
                      (long long)(out.start + out.length - 1), rep->len);
        send_body(ex, &r, rep->body + out.start, (size_t)out.length);
        return 206;
    default:
        send_full(sf, ex, e, enc);
        return 200;
    }
}

/* ------------------------------------------------------------------ large files */

/* A sibling usable for a streamed file: fresh, regular, smaller, inside the root. */
static bool sibling_usable(struct static_files *sf, const struct target *t, enum encoding enc)
{
    char path[PATH_MAX + 4];
    snprintf(path, sizeof path, "%s%s", t->full, sibling_suffix(enc));
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && mtime_ns(&st) >= mtime_ns(&t->st) &&
           st.st_size < t->st.st_size && path_check_inside(sf->real_root, path);
}

static enum encoding stream_encoding(struct static_files *sf, struct http_exchange *ex, const struct target *t,
                                     bool vary, bool identity_only)
{
    unsigned available = 0;
    if (vary && !identity_only && sf->cfg->compression.precompressed && !http_header(ex, "Range") &&
        t->st.st_size >= sf->cfg->compression.min_length)
        for (enum encoding enc = ENCODING_GZIP; enc <= ENCODING_BR; enc++)
            if (offered(sf, enc) && sibling_usable(sf, t, enc)) available |= ENCODING_SET(enc);
    return negotiate_encoding(http_header(ex, "Accept-Encoding"), available, sf->order, sf->n_order);
}

/* Head (and body) of a streamed representation; e and rep carry what the prepared blocks
 * of a cached entry would. */
static int stream_reply(struct static_files *sf, struct http_exchange *ex, const struct fc_entry *e,
                        const struct fc_rep *rep, enum encoding enc, int fd)
{
    struct cond_entity ent = {rep->etag, e->mtime_s, (int64_t)rep->len, enc == ENCODING_IDENTITY};
    struct cond_request req = cond_request_of(ex);
    struct cond_outcome out = cond_evaluate(&req, &ent);
    if (out.status == 412) return send_page(ex, 412, "Precondition Failed", NULL, e->vary);
    if (out.status == 416) return send_unsatisfiable(ex, (int64_t)rep->len, e->vary);
    char cc[64];
    cache_control_for(sf, e->key, cc, sizeof cc);
    struct http_reply r;
    reply_start(&r, ex, out.status);
    struct strbuf *h = &r.head;
    bool full = out.status != 304;
    if (full) strbuf_printf(h, "Content-Type: %s\r\n", e->content_type);
    append_common_headers(h, e, rep, cc);
    if (full && enc == ENCODING_IDENTITY) strbuf_puts(h, "Accept-Ranges: bytes\r\n");
    if (full && enc != ENCODING_IDENTITY) strbuf_printf(h, "Content-Encoding: %s\r\n", encoding_name(enc));
    if (out.status == 206)
        strbuf_printf(h, "Content-Range: bytes %lld-%lld/%zu\r\n", (long long)out.start,
                      (long long)(out.start + out.length - 1), rep->len);
    if (reply_send_head(ex, &r, full ? out.length : -1) == 0 && full && !ex->head)
        file_stream_range(ex, fd, out.start, out.length); /* closes the connection if cut short */
    return out.status;
}

/* Files over static.cache_file_max: headers built per request, body read in chunks.
 * identity_only: the representation was already chosen from a large entry. */
static int send_stream(struct static_files *sf, struct http_exchange *ex, const struct target *t,
                       bool identity_only)
{
    atomic_fetch_add_explicit(&sf->streamed, 1, memory_order_relaxed);
    struct fc_entry e = {.key = (char *)target_rel(t)};
    e.content_type = mime_type_for(e.key);
    e.vary = is_compressible(sf, e.content_type);
    enum encoding enc = stream_encoding(sf, ex, t, e.vary, identity_only);
    if (enc == ENCODING_NONE) return send_page(ex, 406, "Not Acceptable", NULL, e.vary);
    char path[PATH_MAX + 4];
    snprintf(path, sizeof path, "%s%s", t->full, enc == ENCODING_IDENTITY ? "" : sibling_suffix(enc));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) close(fd);
        return send_not_found(ex);
    }
    /* The validators of the identity come from the descriptor its bytes are read from: a file
     * replaced since the stat (a deploy's rename) must not go out under the old ETag. */
    const struct stat *id = enc == ENCODING_IDENTITY ? &st : &t->st;
    e.mtime_s = (int64_t)id->st_mtim.tv_sec;
    struct fc_rep rep = {.len = (size_t)st.st_size};
    format_etag(rep.etag, sizeof rep.etag, mtime_ns(id), (size_t)id->st_size, enc, rep.len);
    int status = stream_reply(sf, ex, &e, &rep, enc, fd);
    close(fd);
    return status;
}

/* ------------------------------------------------------------------ entry points */

int static_files_handle(struct static_files *sf, struct http_exchange *ex)
{
    if (strcmp(ex->method, "GET") != 0 && !ex->head)
        return send_page(ex, 405, "Method Not Allowed", "GET, HEAD", false);
    struct target t;
    int status = resolve_target(sf, ex, &t);
    if (status) return status;
    bool outside = false;
    struct fc_entry *e = entry_for(sf, &t, &outside);
    if (outside) return send_not_found(ex);
    if (!e) return send_stream(sf, ex, &t, false);
    enum encoding enc = choose_encoding(sf, ex, e);
    if (enc == ENCODING_NONE) status = send_page(ex, 406, "Not Acceptable", NULL, e->vary);
    else if (!e->rep[enc].body) status = send_stream(sf, ex, &t, true); /* a large file's identity */
    else status = send_entry(sf, ex, e, enc);
    file_cache_release(sf->cache, e);
    return status;
}

void static_files_metrics(struct static_files *sf, struct strbuf *out)
{
    struct file_cache_stats st;
    file_cache_stats(sf->cache, &st);
    strbuf_printf(out,
                  "# TYPE tessera_static_cache_hits_total counter\ntessera_static_cache_hits_total %llu\n"
                  "# TYPE tessera_static_cache_misses_total counter\ntessera_static_cache_misses_total %llu\n"
                  "# TYPE tessera_static_streamed_total counter\ntessera_static_streamed_total %llu\n"
                  "# TYPE tessera_static_compressed_total counter\ntessera_static_compressed_total %llu\n"
                  "# TYPE tessera_static_stale_siblings_total counter\ntessera_static_stale_siblings_total %llu\n"
                  "# TYPE tessera_static_cache_entries gauge\ntessera_static_cache_entries %llu\n"
                  "# TYPE tessera_static_cache_bytes gauge\ntessera_static_cache_bytes{kind=\"file\"} %llu\n"
                  "tessera_static_cache_bytes{kind=\"compressed\"} %llu\n"
                  "# TYPE tessera_static_cache_evictions_total counter\ntessera_static_cache_evictions_total %llu\n",
                  (unsigned long long)atomic_load(&sf->hits), (unsigned long long)atomic_load(&sf->misses),
                  (unsigned long long)atomic_load(&sf->streamed), (unsigned long long)atomic_load(&sf->compressed),
                  (unsigned long long)atomic_load(&sf->stale_siblings), (unsigned long long)st.entries,
                  (unsigned long long)st.file_bytes, (unsigned long long)st.compressed_bytes,
                  (unsigned long long)st.evictions);
}
