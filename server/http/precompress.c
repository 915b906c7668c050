/* precompress — `tessera precompress DIR [--production]`: writes f.br (quality 11, window 24)
 * and f.gz (level 9) beside every compressible file, so the server only ever sends bytes it
 * compressed at deploy time. Atomic (temp file + rename in the same directory, so a reader
 * sees the old sibling or the new one), idempotent (a sibling not older than its source is
 * kept), parallel (one worker per CPU pulling paths from a shared index). */
#include "tessera/cli.h"
#include "tessera/clock.h"
#include "tessera/compress.h"
#include "tessera/cpu.h"
#include "tessera/sourcemap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXIT_USAGE 2
#define PC_MAX_DEPTH 64
#define PC_MAX_THREADS 64
#define BROTLI_DEPLOY_QUALITY 11
#define BROTLI_DEPLOY_WINDOW 24
#define GZIP_DEPLOY_LEVEL 9

struct pc_options {
    const char *dir;
    bool production;
    bool verbose;
    int64_t min_length;
};

struct pc_totals {
    size_t files, written, up_to_date, skipped, maps_skipped, failed;
    unsigned long long bytes_in, bytes_br, bytes_gz; /* what a client of each coding gets */
};

struct pc_item {
    char *path;
    off_t size;
};

struct pc_list {
    struct pc_item *items;
    size_t n, cap;
};

struct pc_run {
    const struct pc_options *opt;
    struct pc_list list;
    atomic_size_t next;
    pthread_mutex_t lock;
    struct pc_totals totals;
};

/* One coding's deploy settings and sibling suffix. */
struct pc_coding {
    enum encoding enc;
    int level, window;
    const char *suffix;
};

static const struct pc_coding pc_codings[] = {
    {ENCODING_BR, BROTLI_DEPLOY_QUALITY, BROTLI_DEPLOY_WINDOW, ".br"},
    {ENCODING_GZIP, GZIP_DEPLOY_LEVEL, 0, ".gz"},
};

/* ------------------------------------------------------------------ which files */

static const char *path_extension(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    return dot && dot != base ? dot + 1 : "";
}

static bool ext_in(const char *ext, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcasecmp(ext, list[i]) == 0)
            return true;
    return false;
}

/* By extension, like the server's MIME table: text-like formats that shrink. Images
 * other than SVG, woff2 and archives are already compressed and are never listed. */
static bool pc_is_compressible(const char *path)
{
    static const char *const exts[] = {"html", "css", "js", "mjs", "json", "svg", "txt", "xml", "map",
                                       "wasm", "webmanifest", "ttf", "ico", NULL};
    return ext_in(path_extension(path), exts);
}

/* The files whose trailing sourceMappingURL annotation production removes. */
static bool pc_has_annotation_syntax(const char *path)
{
    static const char *const exts[] = {"js", "mjs", "css", NULL};
    return ext_in(path_extension(path), exts);
}

static int list_push(struct pc_list *l, const char *dir, const char *name, off_t size)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct pc_item *items = realloc(l->items, cap * sizeof *items);
        if (!items)
            return -1;
        l->items = items;
        l->cap = cap;
    }
    size_t len = strlen(dir) + strlen(name) + 2;
    char *p = malloc(len);
    if (!p)
        return -1;
    snprintf(p, len, "%s/%s", dir, name);
    l->items[l->n++] = (struct pc_item){p, size};
    return 0;
}

/* Largest first: brotli-11 time grows with size, so starting the big files early keeps
 * one worker from finishing a 200 KB file alone at the end. */
static int item_larger_first(const void *a, const void *b)
{
    off_t x = ((const struct pc_item *)a)->size, y = ((const struct pc_item *)b)->size;
    return (x < y) - (x > y);
}

static void list_sort(struct pc_list *l)
{
    if (l->n > 1)
        qsort(l->items, l->n, sizeof *l->items, item_larger_first);
}

static void list_free(struct pc_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i].path);
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* Collects compressible regular files under dir. Dotfiles and dot-folders are skipped
 * (the server never serves them); symlinks are not followed, so nothing outside DIR is
 * read or written. */
static int pc_collect(const char *dir, int depth, struct pc_list *out)
{
    if (depth > PC_MAX_DEPTH)
        return 0;
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "tessera precompress: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        struct stat st;
        if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            size_t len = strlen(dir) + strlen(de->d_name) + 2;
            char *sub = malloc(len);
            if (!sub) { rc = -1; break; }
            snprintf(sub, len, "%s/%s", dir, de->d_name);
            rc = pc_collect(sub, depth + 1, out);
            free(sub);
        } else if (S_ISREG(st.st_mode) && pc_is_compressible(de->d_name)) {
            rc = list_push(out, dir, de->d_name, st.st_size);
        }
    }
    closedir(d);
    return rc;
}

/* ------------------------------------------------------------------ one file */

static int read_whole(int fd, size_t size, struct strbuf *out)
{
    if (!strbuf_reserve(out, size))
        return -1;
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, out->data + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1; /* shrank while reading: treated as a failure, the next run redoes it */
        got += (size_t)n;
    }
    out->len = size;
    out->data[size] = '\0';
    return 0;
}

static bool mtime_before(const struct stat *a, const struct stat *b)
{
    return a->st_mtim.tv_sec < b->st_mtim.tv_sec ||
           (a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec < b->st_mtim.tv_nsec);
}

static bool same_file_state(const struct stat *a, const struct stat *b)
{
    return a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Does the existing sibling decode to exactly want? Used only for files that carry a
 * source-map annotation, where a development run and a production run write different
 * bytes for the same source mtime. */
static bool sibling_content_is(const char *sibling, enum encoding enc, const struct strbuf *want)
{
    int fd = open(sibling, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st;
    struct strbuf raw, decoded;
    strbuf_init(&raw);
    strbuf_init(&decoded);
    bool same = fstat(fd, &st) == 0 && read_whole(fd, (size_t)st.st_size, &raw) == 0 &&
                decompress_buffer_bounded(enc, raw.data, raw.len, want->len, &decoded) == 0 &&
                decoded.len == want->len && memcmp(decoded.data, want->data, want->len) == 0;
    close(fd);
    strbuf_free(&raw);
    strbuf_free(&decoded);
    return same;
}

/* Writes bytes to path through a temp file in the same directory and rename(2). The new
 * sibling's mtime is never older than the source's (a source dated in the future, e.g.
 * unpacked from an archive, would otherwise make the fresh sibling look stale). */
static int write_atomic(const char *path, const struct strbuf *bytes, const struct stat *src)
{
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path) : 1;
    const char *dir = slash ? path : ".";
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%.*s/.%s.tmp-XXXXXX", dir_len, dir, slash ? slash + 1 : path) >= (int)sizeof tmp)
        return -1;
    int fd = mkstemp(tmp);
    if (fd < 0)
        return -1;
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < bytes->len;) {
        ssize_t n = write(fd, bytes->data + off, bytes->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = -1;
        else
            off += (size_t)n;
    }
    struct stat st;
    if (rc == 0 && (fchmod(fd, src->st_mode & 0666) != 0 || fstat(fd, &st) != 0))
        rc = -1;
    if (rc == 0 && mtime_before(&st, src)) {
        struct timespec times[2] = {src->st_atim, src->st_mtim};
        rc = futimens(fd, times);
    }
    if (close(fd) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc != 0)
        unlink(tmp);
    return rc;
}

/* What happened to one coding of one file. */
enum pc_outcome { PC_WRITTEN, PC_UP_TO_DATE, PC_NOT_WORTH, PC_FAILED };

struct pc_file {
    const char *path;
    struct stat st;
    struct strbuf content;   /* the bytes every representation must decode to */
    bool annotated;          /* the source has a sourceMappingURL trailer */
};

static enum pc_outcome pc_make_variant(const struct pc_file *f, const struct pc_coding *c, size_t *variant_len)
{
    char sibling[4096];
    if (snprintf(sibling, sizeof sibling, "%s%s", f->path, c->suffix) >= (int)sizeof sibling)
        return PC_FAILED;
    struct stat st;
    bool exists = lstat(sibling, &st) == 0 && S_ISREG(st.st_mode);
    if (exists && !mtime_before(&st, &f->st) && (!f->annotated || sibling_content_is(sibling, c->enc, &f->content))) {
        *variant_len = (size_t)st.st_size;
        return PC_UP_TO_DATE;
    }
    struct strbuf coded;
    strbuf_init(&coded);
    enum pc_outcome out = PC_FAILED;
    if (compress_buffer(c->enc, c->level, c->window, f->content.data, f->content.len, &coded) == 0) {
        if (coded.len >= f->content.len) {
            out = PC_NOT_WORTH;
            if (exists) /* an old sibling would be served (or logged stale) for nothing */
                unlink(sibling);
        } else if (write_atomic(sibling, &coded, &f->st) == 0) {
            out = PC_WRITTEN;
            *variant_len = coded.len;
        }
    }
    strbuf_free(&coded);
    return out;
}

/* Reads the source and decides the bytes its variants must hold. Returns 0, 1 when the
 * file is skipped (a map in production), -1 on error. */
static int pc_load(struct pc_file *f, const struct pc_options *opt)
{
    if (opt->production && sourcemap_is_map_path(f->path))
        return 1;
    int fd = open(f->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fstat(fd, &f->st) == 0 && S_ISREG(f->st.st_mode) ? read_whole(fd, (size_t)f->st.st_size, &f->content) : -1;
    close(fd);
    if (rc == 0 && pc_has_annotation_syntax(f->path)) {
        size_t stripped = sourcemap_strip_trailer(f->content.data, f->content.len);
        f->annotated = stripped != f->content.len;
        if (opt->production) {
            f->content.len = stripped;
            f->content.data[stripped] = '\0';
        }
    }
    return rc;
}

/* If the source changed while we read and compressed it, the siblings we just wrote
 * carry a newer mtime than the old bytes deserve: remove them; the next run redoes it. */
static bool pc_source_unchanged(const struct pc_file *f)
{
    struct stat now;
    return stat(f->path, &now) == 0 && same_file_state(&now, &f->st);
}

static void pc_drop_written(const struct pc_file *f, const enum pc_outcome *outcomes)
{
    for (size_t i = 0; i < sizeof pc_codings / sizeof pc_codings[0]; i++) {
        char sibling[4096];
        if (outcomes[i] == PC_WRITTEN && snprintf(sibling, sizeof sibling, "%s%s", f->path, pc_codings[i].suffix) < (int)sizeof sibling)
            unlink(sibling);
    }
}

static void pc_account(struct pc_totals *t, const struct pc_file *f, const enum pc_outcome *o, const size_t *lens,
                       bool verbose)
{
    t->files++;
    t->bytes_in += f->content.len;
    unsigned long long got[2];
    bool any_written = false, all_current = true, failed = false;
    for (int i = 0; i < 2; i++) {
        got[i] = o[i] == PC_WRITTEN || o[i] == PC_UP_TO_DATE ? lens[i] : f->content.len;
        any_written |= o[i] == PC_WRITTEN;
        all_current &= o[i] == PC_UP_TO_DATE;
        failed |= o[i] == PC_FAILED;
    }
    t->bytes_br += got[0];
    t->bytes_gz += got[1];
    if (failed)
        t->failed++;
    else if (any_written)
        t->written++;
    else if (all_current)
        t->up_to_date++;
    else
        t->skipped++;
    if (verbose)
        printf("%s: %zu -> br %llu, gzip %llu%s\n", f->path, f->content.len, got[0], got[1],
               failed ? " (failed)" : any_written ? "" : " (unchanged)");
}

static void pc_process(struct pc_run *run, const char *path, struct pc_totals *t)
{
    struct pc_file f = {.path = path};
    strbuf_init(&f.content);
    int loaded = pc_load(&f, run->opt);
    if (loaded != 0) {
        if (loaded > 0)
            t->maps_skipped++;
        else
            fprintf(stderr, "tessera precompress: %s: cannot read: %s\n", path, strerror(errno));
        t->failed += loaded < 0;
        strbuf_free(&f.content);
        return;
    }
    enum pc_outcome o[2] = {PC_NOT_WORTH, PC_NOT_WORTH};
    size_t lens[2] = {0, 0};
    if ((int64_t)f.content.len >= run->opt->min_length) {
        for (int i = 0; i < 2; i++)
            o[i] = pc_make_variant(&f, &pc_codings[i], &lens[i]);
        if (!pc_source_unchanged(&f)) {
            fprintf(stderr, "tessera precompress: %s changed while being compressed; run again\n", path);
            pc_drop_written(&f, o);
            o[0] = o[1] = PC_FAILED;
        }
    }
    for (int i = 0; i < 2; i++)
        if (o[i] == PC_FAILED)
            fprintf(stderr, "tessera precompress: %s%s: not written\n", path, pc_codings[i].suffix);
    pc_account(t, &f, o, lens, run->opt->verbose);
    strbuf_free(&f.content);
}

/* ------------------------------------------------------------------ workers and CLI */

static void *pc_worker(void *arg)
{
    struct pc_run *run = arg;
    struct pc_totals mine = {0};
    for (;;) {
        size_t i = atomic_fetch_add(&run->next, 1);
        if (i >= run->list.n)
            break;
        pc_process(run, run->list.items[i].path, &mine);
    }
    pthread_mutex_lock(&run->lock);
    struct pc_totals *t = &run->totals;
    t->files += mine.files;
    t->written += mine.written;
    t->up_to_date += mine.up_to_date;
    t->skipped += mine.skipped;
    t->maps_skipped += mine.maps_skipped;
    t->failed += mine.failed;
    t->bytes_in += mine.bytes_in;
    t->bytes_br += mine.bytes_br;
    t->bytes_gz += mine.bytes_gz;
    pthread_mutex_unlock(&run->lock);
    return NULL;
}

static int pc_thread_count(size_t files)
{
    long n = cpu_count_usable();
    if (n > PC_MAX_THREADS)
        n = PC_MAX_THREADS;
    if ((size_t)n > files)
        n = files > 0 ? (long)files : 1;
    return (int)n;
}

/* Runs the workers; the calling thread is one of them, so a failed pthread_create only
 * costs parallelism. */
static void pc_run_workers(struct pc_run *run, int threads)
{
    pthread_t ids[PC_MAX_THREADS];
    int started = 0;
    for (int i = 1; i < threads; i++)
        if (pthread_create(&ids[started], NULL, pc_worker, run) == 0)
            started++;
    pc_worker(run);
    for (int i = 0; i < started; i++)
        pthread_join(ids[i], NULL);
}

static double percent(unsigned long long part, unsigned long long whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 100.0;
}

static void pc_report(const struct pc_options *opt, const struct pc_totals *t, double seconds, int threads)
{
    printf("precompress %s%s: %zu files: %zu written, %zu up to date, %zu left identity (small or not smaller)",
           opt->dir, opt->production ? " (production: sourceMappingURL trailers stripped)" : "", t->files, t->written,
           t->up_to_date, t->skipped);
    if (t->maps_skipped)
        printf(", %zu source maps skipped", t->maps_skipped);
    if (t->failed)
        printf(", %zu failed", t->failed);
    printf("\nbytes: %llu identity, %llu br (%.1f%%), %llu gzip (%.1f%%)\n", t->bytes_in, t->bytes_br,
           percent(t->bytes_br, t->bytes_in), t->bytes_gz, percent(t->bytes_gz, t->bytes_in));
    printf("time: %.3f s on %d thread%s\n", seconds, threads, threads == 1 ? "" : "s");
}

static const char pc_usage[] = "usage: tessera precompress DIR [--production] [--verbose]\n";

static int pc_parse_args(int argc, char **argv, struct pc_options *opt)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--production") == 0)
            opt->production = true;
        else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0)
            opt->verbose = true;
        else if (a[0] == '-' || opt->dir) {
            fprintf(stderr, "tessera precompress: unexpected argument %s\n%s", a, pc_usage);
            return -1;
        } else
            opt->dir = a;
    }
    if (!opt->dir) {
        fprintf(stderr, "tessera precompress: DIR is missing\n%s", pc_usage);
        return -1;
    }
    return 0;
}

int precompress_cli_main(const struct config *cfg, int argc, char **argv)
{
    struct pc_options opt = {.min_length = cfg->compression.min_length,
                             .production = cfg->server.mode == CONFIG_MODE_PRODUCTION};
    if (pc_parse_args(argc, argv, &opt) != 0)
        return EXIT_USAGE;
    int64_t start_us = clock_monotonic_us();
    struct pc_run run = {.opt = &opt};
    pthread_mutex_init(&run.lock, NULL);
    atomic_init(&run.next, 0);
    int rc = pc_collect(opt.dir, 0, &run.list) == 0 ? 0 : 1;
    list_sort(&run.list);
    int threads = pc_thread_count(run.list.n);
    if (rc == 0)
        pc_run_workers(&run, threads);
    if (rc == 0)
        pc_report(&opt, &run.totals, (double)(clock_monotonic_us() - start_us) / 1e6, threads);
    if (run.totals.failed)
        rc = 1;
    list_free(&run.list);
    pthread_mutex_destroy(&run.lock);
    return rc;
}
