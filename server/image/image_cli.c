/* image_cli — `tessera images build DIR [--widths LIST] [--formats avif,webp]`: fills the
 * server's cache with every variant so a deployment starts warm. DIR plays the document
 * root: the key of /photos/a.jpg is made exactly as the endpoint makes it, so a later
 * request is a HIT. Files are spread over one worker per CPU, each encoding single-threaded
 * (more throughput than threads inside one encode). Widths at or above an image's own width
 * produce the same bytes, so they are encoded once and stored under each key. */
#include "tessera/image.h"

#include <fts.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tessera/clock.h"
#include "tessera/codec_lazy.h"
#include "tessera/cpu.h"
#include "tessera/image_cache.h"
#include "tessera/image_encode.h"
#include "tessera/image_transcode.h"
#include "tessera/log.h"

struct build {
    const struct config *cfg;
    char *root;
    size_t root_len;
    char **files;                       /* absolute paths, owned */
    size_t count, cap;
    struct config_int_list widths;
    unsigned formats;
    char fingerprint[160];
    struct image_cache *cache;
    atomic_size_t next;
    atomic_ullong built, cached, failed, skipped, source_bytes, variant_bytes;
};

static bool has_image_extension(const char *path)
{
    const char *dot = strrchr(path, '.');
    static const char *const exts[] = {".jpg", ".jpeg", ".png", ".webp", ".avif"};
    for (size_t i = 0; dot && i < sizeof exts / sizeof exts[0]; i++)
        if (strcasecmp(dot, exts[i]) == 0) return true;
    return false;
}

static int files_add(struct build *b, const char *path)
{
    if (b->count == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        char **grown = realloc(b->files, cap * sizeof *grown);
        if (!grown) return -1;
        b->files = grown;
        b->cap = cap;
    }
    if (!(b->files[b->count] = strdup(path))) return -1;
    b->count++;
    return 0;
}

/* fts rather than nftw: no callback, so no global to carry the list. Dot names are skipped
 * as the endpoint refuses them. */
static int walk_root(struct build *b)
{
    char *roots[] = {b->root, NULL};
    FTS *fts = fts_open(roots, FTS_PHYSICAL | FTS_NOCHDIR, NULL);
    if (!fts) return -1;
    int rc = 0;
    for (FTSENT *e; rc == 0 && (e = fts_read(fts));) {
        if (e->fts_level > 0 && e->fts_name[0] == '.') {
            if (e->fts_info == FTS_D) fts_set(fts, e, FTS_SKIP);
            continue;
        }
        if (e->fts_info == FTS_F && has_image_extension(e->fts_path)) rc = files_add(b, e->fts_path);
    }
    fts_close(fts);
    return rc;
}

static void key_for(struct build *b, const char *url, const struct stat *st, int w, int q, enum image_format f,
                    struct image_cache_key *k)
{
    int64_t mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    image_cache_key_make(k, url, (int64_t)st->st_size, mtime_ns, w, q, f, b->fingerprint);
}

static uint8_t *read_whole(const char *path, struct stat *st, int64_t max)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *data = NULL;
    if (fstat(fileno(f), st) == 0 && st->st_size > 0 && st->st_size <= max && (data = malloc((size_t)st->st_size)))
        if (fread(data, 1, (size_t)st->st_size, f) != (size_t)st->st_size) { free(data); data = NULL; }
    fclose(f);
    return data;
}

/* Every width for one (format, quality); consecutive widths with one output size share bytes. */
static void build_widths(struct build *b, const char *url, const struct stat *st, const uint8_t *data,
                         const struct image_info *info, enum image_format f, int q)
{
    struct image_blob *prev = NULL;
    int prev_w = -1, prev_h = -1;
    for (int i = 0; i < b->widths.count; i++) {
        int w = (int)b->widths.values[i], ow, oh;
        image_transcode_size(info, w, &ow, &oh);
        struct image_cache_key k;
        key_for(b, url, st, w, q, f, &k);
        struct image_blob *blob = image_cache_get(b->cache, &k);
        if (blob) {
            atomic_fetch_add(&b->cached, 1);
        } else if (prev && ow == prev_w && oh == prev_h) {
            blob = image_blob_create(prev->data, prev->len, prev->content_type, k.hex);
            if (blob) image_cache_put(b->cache, &k, blob);
            atomic_fetch_add(&b->built, 1);
        } else {
            char reason[200];
            struct image_variant v;
            struct image_transcode_opts o = {
                .width = w, .quality = q, .format = f, .avif_speed = (int)b->cfg->images.avif_speed,
                .webp_method = (int)b->cfg->images.webp_method, .threads = 1,
                .limits = {.max_pixels = b->cfg->images.max_source_pixels},
            };
            if (image_transcode(data, (size_t)st->st_size, info, &o, &v, reason, sizeof reason) != 0) {
                fprintf(stderr, "images: %s (w=%d %s): %s\n", url, w, image_format_name(f), reason);
                atomic_fetch_add(&b->failed, 1);
                continue;
            }
            blob = image_blob_create(v.data, v.len, image_format_mime(v.format), k.hex);
            free(v.data);
            if (blob) image_cache_put(b->cache, &k, blob);
            atomic_fetch_add(&b->built, 1);
        }
        if (!blob) continue;
        atomic_fetch_add(&b->source_bytes, (unsigned long long)st->st_size);
        atomic_fetch_add(&b->variant_bytes, blob->len);
        image_blob_unref(prev);
        prev = blob;
        prev_w = ow;
        prev_h = oh;
    }
    image_blob_unref(prev);
}

static void build_file(struct build *b, const char *path)
{
    const char *url = path + b->root_len; /* "/sub/name.jpg", as the endpoint sees it */
    char checked[IMAGE_URL_MAX + 1];
    struct stat st;
    uint8_t *data = image_path_validate(url, checked, sizeof checked) ? NULL
                    : read_whole(path, &st, b->cfg->images.max_source_bytes);
    struct image_info info;
    char reason[200] = "unreadable, empty, or larger than images.max_source_bytes";
    struct image_limits limits = {.max_pixels = b->cfg->images.max_source_pixels};
    if (!data || image_probe(data, (size_t)st.st_size, &limits, &info, reason, sizeof reason) != 0) {
        if (data || image_path_validate(url, checked, sizeof checked) == NULL) {
            fprintf(stderr, "images: %s: %s\n", url, reason);
            atomic_fetch_add(&b->failed, 1);
        } else {
            atomic_fetch_add(&b->skipped, 1); /* a name the endpoint would refuse anyway */
        }
    } else if (info.animated || info.format == IMAGE_FORMAT_SVG) {
        atomic_fetch_add(&b->skipped, 1);     /* passed through unchanged, nothing to build */
    } else {
        static const enum image_format order[] = {IMAGE_FORMAT_AVIF, IMAGE_FORMAT_WEBP, IMAGE_FORMAT_JPEG, IMAGE_FORMAT_PNG};
        for (size_t fi = 0; fi < 4; fi++)
            if (b->formats & (1u << order[fi]))
                for (int qi = 0; qi < b->cfg->images.qualities.count; qi++)
                    build_widths(b, url, &st, data, &info, order[fi], (int)b->cfg->images.qualities.values[qi]);
    }
    free(data);
}

static void *worker_main(void *arg)
{
    struct build *b = arg;
    for (size_t i; (i = atomic_fetch_add(&b->next, 1)) < b->count;)
        build_file(b, b->files[i]);
    return NULL;
}

static int usage(const char *msg)
{
    fprintf(stderr, "tessera images: %s\nusage: tessera images build DIR [--widths LIST] [--formats avif,webp]\n", msg);
    return 2;
}

static int parse_widths(const char *text, const struct config *cfg, struct config_int_list *out)
{
    out->count = 0;
    for (const char *p = text; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v <= 0 || out->count == CONFIG_LIST_MAX) return -1;
        bool allowed = false;
        for (int i = 0; i < cfg->images.widths.count; i++) allowed |= cfg->images.widths.values[i] == v;
        if (!allowed) return -1;
        out->values[out->count++] = v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return -1;
    }
    return out->count > 0 ? 0 : -1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int parse_args(struct build *b, int argc, char **argv, const char **dir)
{
    if (argc < 3 || strcmp(argv[1], "build") != 0) return usage("expected: build DIR");
    *dir = argv[2];
    b->widths = b->cfg->images.widths;
    b->formats = image_formats_parse(b->cfg->images.formats);
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--widths") == 0 && i + 1 < argc) {
            if (parse_widths(argv[++i], b->cfg, &b->widths) < 0) return usage("--widths: each must be one of images.widths");
        } else if (strcmp(argv[i], "--formats") == 0 && i + 1 < argc) {
            if (!(b->formats = image_formats_parse(argv[++i]))) return usage("--formats: avif, webp, jpeg or png");
        } else {
            return usage("unknown argument");
        }
    }
    qsort(b->widths.values, (size_t)b->widths.count, sizeof b->widths.values[0], cmp_i64);
    return 0;
}

static int run_build(struct build *b)
{
    int n = cpu_count_usable();
    pthread_t threads[256];
    if (n > 256) n = 256;
    int started = 0;
    for (; started < n; started++)
        if (pthread_create(&threads[started], NULL, worker_main, b) != 0) break;
    if (started == 0) worker_main(b);
    for (int i = 0; i < started; i++) pthread_join(threads[i], NULL);
    return started;
}

int images_cli_main(const struct config *cfg, int argc, char **argv)
{
    struct build b = {.cfg = cfg};
    const char *dir;
    int rc = parse_args(&b, argc, argv, &dir);
    if (rc) return rc;
    if (!(b.root = realpath(dir, NULL))) return usage("DIR does not exist");
    const char *why;
    if (!codec_libs_available(&why)) { /* before the walk: nothing to build without them */
        fprintf(stderr, "tessera images: %s\n", why);
        free(b.root);
        return 1;
    }
    b.root_len = strlen(b.root);
    int walked = walk_root(&b);
    image_encode_fingerprint(b.fingerprint, sizeof b.fingerprint);
    b.cache = image_cache_open(cfg->images.cache_dir, cfg->images.cache_max_bytes, 0);
    int64_t start = clock_monotonic_us();
    int workers = walked == 0 && b.cache ? run_build(&b) : 0;
    double secs = (double)(clock_monotonic_us() - start) / 1e6;
    unsigned long long src = atomic_load(&b.source_bytes), var = atomic_load(&b.variant_bytes);
    printf("images: %zu files, %llu variants built, %llu already cached, %llu failed, %llu skipped (pass-through) "
           "in %.1f s on %d threads\n", b.count, atomic_load(&b.built), atomic_load(&b.cached), atomic_load(&b.failed),
           atomic_load(&b.skipped), secs, workers);
    printf("images: variants total %llu bytes vs %llu bytes of their sources: %llu bytes saved (%.1f%%)\n", var, src,
           src > var ? src - var : 0, src ? 100.0 * (double)(src > var ? src - var : 0) / (double)src : 0.0);
    image_cache_close(b.cache);
    for (size_t i = 0; i < b.count; i++) free(b.files[i]);
    free(b.files);
    free(b.root);
    if (walked != 0 || !b.cache) return 1;
    return atomic_load(&b.failed) ? 1 : 0;
}
