/* `tessera precompress`: the real binary over a temp folder. Every sibling must decode to
 * the exact bytes the server would send identity; a second run writes nothing. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "tessera/compress.h"

struct tree {
    char dir[64];
    char config[128];
};

static void tree_path(const struct tree *t, const char *rel, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", t->dir, rel);
}

static void put(const struct tree *t, const char *rel, const char *data, size_t len)
{
    char path[256];
    tree_path(t, rel, path, sizeof path);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    char cmd[300];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
    cr_assert_eq(system(cmd), 0);
    *slash = '/';
    FILE *f = fopen(path, "wb");
    cr_assert(f, "cannot write %s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static bool slurp(const struct tree *t, const char *rel, struct strbuf *out)
{
    char path[256];
    tree_path(t, rel, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        strbuf_append(out, chunk, n);
    fclose(f);
    return true;
}

static bool exists(const struct tree *t, const char *rel)
{
    char path[256];
    struct stat st;
    tree_path(t, rel, path, sizeof path);
    return lstat(path, &st) == 0;
}

static struct stat stat_of(const struct tree *t, const char *rel)
{
    char path[256];
    struct stat st;
    tree_path(t, rel, path, sizeof path);
    cr_assert_eq(stat(path, &st), 0, "%s missing", path);
    return st;
}

/* Minified-JS-like text of about n bytes. */
static char *js_text(size_t n, unsigned seed)
{
    static const char *const w[] = {"function ", "return ", "this.", "var ", "=>", "{", "}", "(", ")", ",",
                                    "document.querySelector", ";", "0x1f", ".length", ".push(", "e", "t", "n"};
    char *s = malloc(n + 1);
    size_t i = 0;
    while (i < n) {
        seed = seed * 1103515245u + 12345u;
        for (const char *p = w[(seed >> 16) % 18]; *p && i < n; p++)
            s[i++] = *p;
    }
    s[n] = '\0';
    return s;
}

static void tree_init(struct tree *t, const char *ini)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/tessera-pc-XXXXXX");
    cr_assert(mkdtemp(t->dir));
    snprintf(t->config, sizeof t->config, "%s.ini", t->dir);
    FILE *f = fopen(t->config, "w");
    cr_assert(f);
    fputs(ini, f);
    fclose(f);
}

static void tree_remove(struct tree *t)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", t->dir, t->config);
    if (system(cmd) != 0) { /* leftovers in /tmp are not a failure */ }
}

static int run_precompress(const struct tree *t, const char *flag, char **out)
{
    char *err = NULL;
    const char *args[] = {"precompress", "--config", t->config, t->dir, flag, NULL};
    int rc = test_run_tessera(args, NULL, out, &err);
    if (rc != 0)
        fprintf(stderr, "precompress exited %d: %s\n", rc, err ? err : "");
    free(err);
    return rc;
}

/* The sibling rel+suffix decodes to exactly want, and is not older than its source. */
static void assert_variant(const struct tree *t, const char *rel, const char *suffix, const char *want, size_t want_len)
{
    char sib[256];
    snprintf(sib, sizeof sib, "%s%s", rel, suffix);
    struct strbuf packed, plain;
    strbuf_init(&packed);
    strbuf_init(&plain);
    cr_assert(slurp(t, sib, &packed), "%s was not written", sib);
    enum encoding enc = strcmp(suffix, ".br") == 0 ? ENCODING_BR : ENCODING_GZIP;
    cr_assert_eq(decompress_buffer(enc, packed.data, packed.len, &plain), 0, "%s does not decode", sib);
    cr_assert_eq(plain.len, want_len, "%s decodes to %zu bytes, want %zu", sib, plain.len, want_len);
    cr_assert(memcmp(plain.data, want, want_len) == 0, "%s decodes to other bytes", sib);
    cr_assert_lt(packed.len, want_len, "%s is not smaller", sib);
    struct stat src = stat_of(t, rel), var = stat_of(t, sib);
    cr_assert(var.st_mtim.tv_sec > src.st_mtim.tv_sec ||
              (var.st_mtim.tv_sec == src.st_mtim.tv_sec && var.st_mtim.tv_nsec >= src.st_mtim.tv_nsec),
              "%s is older than its source", sib);
    cr_assert_eq(var.st_mode & 0777, src.st_mode & 0666, "%s keeps the source's read permissions", sib);
    strbuf_free(&packed);
    strbuf_free(&plain);
}

static void assert_both(const struct tree *t, const char *rel, const char *want, size_t len)
{
    assert_variant(t, rel, ".br", want, len);
    assert_variant(t, rel, ".gz", want, len);
}

static const char dev_ini[] = "[server]\nmode = development\n[compression]\nmin_length = 1024\n";
static const char trailer[] = "\n//# sourceMappingURL=app.js.map\n";

Test(precompress, writes_decodable_siblings_of_compressible_files_only)
{
    struct tree t;
    tree_init(&t, dev_ini);
    char *js = js_text(30000, 1), *css = js_text(8000, 2), *small = js_text(500, 3);
    put(&t, "app.js", js, strlen(js));
    put(&t, "assets/app.3f2a9c1d.css", css, strlen(css));
    put(&t, "deep/er/page.html", css, strlen(css));
    put(&t, "data.json", js, strlen(js));
    put(&t, "app.js.map", css, strlen(css));            /* development: maps get siblings */
    put(&t, "tiny.txt", small, strlen(small));          /* under min_length */
    put(&t, "photo.png", js, strlen(js));               /* not a compressible type */
    put(&t, ".secret.js", js, strlen(js));              /* dotfile */
    put(&t, ".git/config.txt", js, strlen(js));         /* dot-folder */
    put(&t, "already.txt.br", js, strlen(js));          /* never compressed again */
    put(&t, "bundle.gz", js, strlen(js));
    char *out = NULL;
    cr_assert_eq(run_precompress(&t, NULL, &out), 0);
    cr_assert(strstr(out, "5 written"), "summary: %s", out);
    cr_assert(strstr(out, "bytes:") && strstr(out, "time:"), "summary: %s", out);
    free(out);
    assert_both(&t, "app.js", js, strlen(js));
    assert_both(&t, "assets/app.3f2a9c1d.css", css, strlen(css));
    assert_both(&t, "deep/er/page.html", css, strlen(css));
    assert_both(&t, "data.json", js, strlen(js));
    assert_both(&t, "app.js.map", css, strlen(css));
    const char *never[] = {"tiny.txt.br", "tiny.txt.gz", "photo.png.br", "photo.png.gz", ".secret.js.br",
                           ".git/config.txt.gz", "already.txt.br.br", "already.txt.br.gz", "bundle.gz.gz",
                           "bundle.gz.br", "app.js.br.br", "app.js.gz.gz"};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        cr_expect_not(exists(&t, never[i]), "%s should not exist", never[i]);
    free(js); free(css); free(small);
    tree_remove(&t);
}

Test(precompress, second_run_writes_nothing)
{
    struct tree t;
    tree_init(&t, dev_ini);
    char *js = js_text(20000, 4);
    put(&t, "a.js", js, strlen(js));
    put(&t, "b/c.svg", js, strlen(js));
    cr_assert_eq(run_precompress(&t, NULL, NULL), 0);
    struct stat before = stat_of(&t, "a.js.br"), before_gz = stat_of(&t, "b/c.svg.gz");
    char *out = NULL;
    cr_assert_eq(run_precompress(&t, NULL, &out), 0);
    cr_assert(strstr(out, "0 written") && strstr(out, "2 up to date"), "second run: %s", out);
    free(out);
    struct stat after = stat_of(&t, "a.js.br"), after_gz = stat_of(&t, "b/c.svg.gz");
    cr_assert_eq(after.st_ino, before.st_ino, "a.js.br was rewritten");
    cr_assert_eq(after_gz.st_ino, before_gz.st_ino, "c.svg.gz was rewritten");
    cr_assert_eq(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
    free(js);
    tree_remove(&t);
}

Test(precompress, stale_sibling_is_regenerated)
{
    struct tree t;
    tree_init(&t, dev_ini);
    char *v1 = js_text(20000, 5), *v2 = js_text(21000, 6);
    put(&t, "app.js", v1, strlen(v1));
    cr_assert_eq(run_precompress(&t, NULL, NULL), 0);
    /* an edit makes the siblings older than the source: date the source a minute ahead,
     * so the test does not depend on the file system's timestamp granularity */
    put(&t, "app.js", v2, strlen(v2));
    char path[256];
    tree_path(&t, "app.js", path, sizeof path);
    struct timespec times[2] = {{time(NULL) + 60, 0}, {time(NULL) + 60, 0}};
    cr_assert_eq(utimensat(AT_FDCWD, path, times, 0), 0);
    char *out = NULL;
    cr_assert_eq(run_precompress(&t, NULL, &out), 0);
    cr_assert(strstr(out, "1 written"), "%s", out);
    free(out);
    assert_both(&t, "app.js", v2, strlen(v2)); /* also checks sibling mtime >= future source mtime */
    free(v1); free(v2);
    tree_remove(&t);
}

Test(precompress, production_strips_trailer_and_skips_maps)
{
    struct tree t;
    tree_init(&t, dev_ini);
    char *code = js_text(20000, 7);
    size_t code_len = strlen(code);
    struct strbuf full;
    strbuf_init(&full);
    strbuf_append(&full, code, code_len);
    strbuf_puts(&full, trailer);
    put(&t, "app.js", full.data, full.len);
    put(&t, "app.css", full.data, full.len);
    put(&t, "app.js.map", code, code_len);
    /* a development run first: its siblings keep the trailer... */
    cr_assert_eq(run_precompress(&t, NULL, NULL), 0);
    assert_both(&t, "app.js", full.data, full.len);
    cr_assert(exists(&t, "app.js.map.br"));
    /* ...and a production run must not take them as up to date by their mtime alone */
    char *out = NULL;
    cr_assert_eq(run_precompress(&t, "--production", &out), 0);
    cr_assert(strstr(out, "production"), "%s", out);
    free(out);
    /* the stripped body keeps the newline that ended the code */
    assert_both(&t, "app.js", full.data, code_len + 1);
    assert_both(&t, "app.css", full.data, code_len + 1);
    struct strbuf source;
    strbuf_init(&source);
    cr_assert(slurp(&t, "app.js", &source));
    cr_assert_eq(source.len, full.len, "the source file itself is never changed");
    /* idempotent in production too */
    cr_assert_eq(run_precompress(&t, "--production", &out), 0);
    cr_assert(strstr(out, "0 written"), "%s", out);
    free(out);
    strbuf_free(&source);
    strbuf_free(&full);
    free(code);
    tree_remove(&t);
}

Test(precompress, production_writes_no_map_variants)
{
    struct tree t;
    tree_init(&t, dev_ini);
    char *code = js_text(20000, 8);
    put(&t, "app.js.map", code, strlen(code));
    put(&t, "app.js", code, strlen(code));
    cr_assert_eq(run_precompress(&t, "--production", NULL), 0);
    cr_assert_not(exists(&t, "app.js.map.br"));
    cr_assert_not(exists(&t, "app.js.map.gz"));
    assert_both(&t, "app.js", code, strlen(code)); /* no trailer: nothing to strip */
    free(code);
    tree_remove(&t);
}

Test(precompress, usage_errors_exit_2)
{
    char *err = NULL;
    cr_assert_eq(test_run_tessera((const char *[]){"precompress", NULL}, NULL, NULL, &err), 2);
    cr_assert(strstr(err, "usage"), "%s", err);
    free(err);
    cr_assert_eq(test_run_tessera((const char *[]){"precompress", "/tmp", "--bogus", NULL}, NULL, NULL, &err), 2);
    free(err);
    cr_assert_eq(test_run_tessera((const char *[]){"precompress", "/tmp", "/var", NULL}, NULL, NULL, &err), 2);
    free(err);
    cr_assert_eq(test_run_tessera((const char *[]){"precompress", "/nonexistent/tessera-x", NULL}, NULL, NULL, &err), 1);
    cr_assert(strstr(err, "/nonexistent/tessera-x"), "%s", err);
    free(err);
}
