/* static_compression: every fixture under a matrix of Accept-Encoding headers, each body
 * decoded with zlib/brotli and compared byte for byte; sibling sources, staleness, the
 * in-memory path, per-representation ETags, Range, HEAD, 406, each config switch, and the
 * production source-map policy (decoded, never a trailer). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "static_fixture.h"

static struct static_site site;

static void fini(void) { static_site_destroy(&site); }

/* Fresh .br/.gz siblings for lib.js (mtime later than the file) and stale ones for
 * stale.js whose content is NOT stale.js, so serving them would be visible. */
static void add_siblings(void)
{
    size_t len;
    char *lib = site_read(&site, "assets/lib.js", &len);
    time_t t = site_mtime(&site, "assets/lib.js");
    cr_assert_eq(site_write_sibling(&site, "assets/lib.js", "br", lib, len, t + 10), 0);
    cr_assert_eq(site_write_sibling(&site, "assets/lib.js", "gzip", lib, len, t + 10), 0);
    free(lib);
    const char *wrong = "/* STALE SIBLING: must never be served */\n";
    char *stale = site_read(&site, "assets/stale.js", &len);
    time_t ts = site_mtime(&site, "assets/stale.js");
    cr_assert_eq(site_write_sibling(&site, "assets/stale.js", "br", wrong, strlen(wrong), ts - 100), 0);
    cr_assert_eq(site_write_sibling(&site, "assets/stale.js", "gzip", wrong, strlen(wrong), ts - 100), 0);
    free(stale);
}

static void start_with(const char *ini, const char *const args[])
{
    cr_assert_eq(static_site_create(&site), 0);
    add_siblings();
    cr_assert_eq(static_site_start(&site, ini, args), 0);
}

static void init_dev(void) { start_with(NULL, NULL); }

static const char *hdr(const struct http_result *r, const char *name)
{
    static char buf[8][512];
    static int next;
    char *b = buf[next++ % 8];
    return http_header_value(r, name, b, 512);
}

static long fetch(const char *path, const char *ae, struct http_result *r)
{
    char url[512], h[256];
    const char *headers[] = {NULL, NULL};
    if (ae) { snprintf(h, sizeof h, "Accept-Encoding: %s", ae); headers[0] = h; }
    cr_assert_eq(http_get(site_url(&site, path, url, sizeof url), headers, r), 0);
    return r->status;
}

/* The decoded body equals want; Content-Length equals the bytes on the wire. Returns the
 * Content-Encoding ("" for identity) in enc. */
static void expect_body(const struct http_result *r, const char *want, size_t want_len, const char *what,
                        char *enc, size_t enc_size)
{
    const char *ce = hdr(r, "Content-Encoding");
    snprintf(enc, enc_size, "%s", ce ? ce : "");
    size_t n = 0;
    char *plain = body_decode(enc, r->body, r->body_len, &n);
    cr_assert_not_null(plain, "%s: undecodable %s body", what, enc);
    cr_expect_eq(n, want_len, "%s (%s): %zu bytes, want %zu", what, enc, n, want_len);
    cr_expect(n == want_len && memcmp(plain, want, n) == 0, "%s (%s): content differs", what, enc);
    char cl[32];
    snprintf(cl, sizeof cl, "%zu", r->body_len);
    cr_expect_str_eq(hdr(r, "Content-Length"), cl, "%s", what);
    free(plain);
}

struct fixture_file {
    const char *path;
    bool compressible;  /* type in compression.types and over min_length */
    bool vary;          /* type in compression.types */
};

static const struct fixture_file files[] = {
    {"/index.html", true, true},
    {"/assets/app.3f2a9c1d.js", true, true},
    {"/assets/style.css", true, true},
    {"/assets/lib.js", true, true},
    {"/assets/stale.js", true, true},
    {"/data.json", true, true},
    {"/logo.svg", true, true},
    {"/small.txt", false, true},
    {"/image.png", false, false},
    {"/font.woff2", false, false},
    {"/big.txt", true, true},     /* over cache_file_max: identity streamed, variants in memory */
};

static const char *encodings[] = {
    NULL, "", "gzip", "br", "gzip, deflate, br", "br;q=0.5, gzip", "gzip;q=0.5, br;q=0.9", "identity", "*",
    "x-gzip", "deflate", "gzip;q=0, br;q=0", "BR", "br;q=0, gzip;q=0.001", "*;q=0.1, identity",
};

TestSuite(static_compression, .fini = fini);

Test(static_compression, matrix_decodes_to_the_file, .init = init_dev)
{
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        size_t len;
        char *want = site_read(&site, files[f].path + 1, &len);
        for (size_t e = 0; e < sizeof encodings / sizeof encodings[0]; e++) {
            struct http_result r;
            char what[256], enc[32];
            snprintf(what, sizeof what, "%s with Accept-Encoding %s", files[f].path, encodings[e] ? encodings[e] : "(none)");
            cr_assert_eq(fetch(files[f].path, encodings[e], &r), 200, "%s", what);
            expect_body(&r, want, len, what, enc, sizeof enc);
            if (!files[f].compressible) cr_expect_str_eq(enc, "", "%s", what);
            const char *vary = hdr(&r, "Vary");
            if (files[f].vary) cr_expect(vary && strstr(vary, "Accept-Encoding"), "%s: Vary", what);
            else cr_expect_null(vary, "%s: no Vary on a type that never varies", what);
            http_result_free(&r);
        }
        free(want);
    }
}

Test(static_compression, best_representation_is_chosen, .init = init_dev)
{
    struct { const char *ae; const char *want; } cases[] = {
        {"gzip, deflate, br", "br"}, {"br", "br"}, {"gzip", "gzip"}, {"x-gzip", "gzip"},
        {"br;q=0.5, gzip", "gzip"}, {NULL, ""}, {"identity", ""}, {"*", "br"}, {"deflate", ""},
    };
    const char *paths[] = {"/assets/lib.js", "/data.json"}; /* sibling and in-memory sources */
    for (size_t p = 0; p < 2; p++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            struct http_result r;
            cr_assert_eq(fetch(paths[p], cases[i].ae, &r), 200);
            const char *ce = hdr(&r, "Content-Encoding");
            cr_expect_str_eq(ce ? ce : "", cases[i].want, "%s with %s", paths[p], cases[i].ae ? cases[i].ae : "(none)");
            http_result_free(&r);
        }
}

Test(static_compression, fresh_sibling_bytes_are_sent, .init = init_dev)
{
    const char *enc[] = {"br", "gzip"};
    const char *ext[] = {"assets/lib.js.br", "assets/lib.js.gz"};
    for (int i = 0; i < 2; i++) {
        size_t len;
        char *sibling = site_read(&site, ext[i], &len);
        struct http_result r;
        cr_assert_eq(fetch("/assets/lib.js", enc[i], &r), 200);
        cr_expect_eq(r.body_len, len, "%s: the sibling itself is sent", enc[i]);
        cr_expect(r.body_len == len && memcmp(r.body, sibling, len) == 0);
        http_result_free(&r);
        free(sibling);
    }
}

Test(static_compression, stale_sibling_is_ignored_and_logged, .init = init_dev)
{
    size_t len;
    char *want = site_read(&site, "assets/stale.js", &len);
    const char *enc[] = {"br", "gzip"};
    for (int i = 0; i < 2; i++) {
        struct http_result r;
        char e[32];
        cr_assert_eq(fetch("/assets/stale.js", enc[i], &r), 200);
        expect_body(&r, want, len, "stale.js", e, sizeof e);
        cr_expect_null(memmem(r.body, r.body_len, "STALE SIBLING", 13));
        http_result_free(&r);
    }
    char *err = test_server_stderr(&site.server);
    cr_expect(err && strstr(err, "stale"), "a stale sibling is logged");
    free(err);
    free(want);
}

Test(static_compression, etag_per_representation_and_304, .init = init_dev)
{
    const char *paths[] = {"/assets/lib.js", "/data.json"};
    for (int p = 0; p < 2; p++) {
        char tags[3][128];
        const char *aes[3] = {"identity", "gzip", "br"};
        for (int i = 0; i < 3; i++) {
            struct http_result r;
            cr_assert_eq(fetch(paths[p], aes[i], &r), 200);
            snprintf(tags[i], sizeof tags[i], "%s", hdr(&r, "ETag"));
            cr_expect_eq(tags[i][0], '"', "strong");
            http_result_free(&r);
        }
        cr_expect_str_neq(tags[0], tags[1]);
        cr_expect_str_neq(tags[0], tags[2]);
        cr_expect_str_neq(tags[1], tags[2]);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                char url[512], ae[64], inm[160];
                snprintf(ae, sizeof ae, "Accept-Encoding: %s", aes[j]);
                snprintf(inm, sizeof inm, "If-None-Match: %s", tags[i]);
                const char *h[] = {ae, inm, NULL};
                struct http_result r;
                cr_assert_eq(http_get(site_url(&site, paths[p], url, sizeof url), h, &r), 0);
                cr_expect_eq(r.status, i == j ? 304 : 200, "%s tag of %s asked as %s", paths[p], aes[i], aes[j]);
                if (r.status == 304) {
                    cr_expect_str_eq(hdr(&r, "ETag"), tags[j]);
                    cr_expect_str_eq(hdr(&r, "Vary"), "Accept-Encoding");
                    cr_expect_not_null(hdr(&r, "Cache-Control"));
                }
                http_result_free(&r);
            }
    }
}

Test(static_compression, range_gets_identity, .init = init_dev)
{
    size_t len;
    char *want = site_read(&site, "assets/lib.js", &len);
    char url[512];
    const char *h[] = {"Accept-Encoding: gzip, br", "Range: bytes=10-29", NULL};
    struct http_result r;
    cr_assert_eq(http_get(site_url(&site, "/assets/lib.js", url, sizeof url), h, &r), 0);
    cr_expect_eq(r.status, 206);
    cr_expect_null(hdr(&r, "Content-Encoding"));
    cr_expect_eq(r.body_len, 20);
    cr_expect_eq(memcmp(r.body, want + 10, 20), 0);
    cr_expect_str_eq(hdr(&r, "Vary"), "Accept-Encoding");
    http_result_free(&r);
    free(want);
}

Test(static_compression, head_matches_get_per_encoding, .init = init_dev)
{
    const char *aes[] = {"br", "gzip", "identity"};
    for (int i = 0; i < 3; i++) {
        char url[512], ae[64];
        snprintf(ae, sizeof ae, "Accept-Encoding: %s", aes[i]);
        const char *h[] = {ae, NULL};
        struct http_result g, hd;
        site_url(&site, "/data.json", url, sizeof url);
        cr_assert_eq(http_get(url, h, &g), 0);
        cr_assert_eq(http_do("HEAD", url, h, NULL, 0, &hd), 0);
        const char *names[] = {"Content-Length", "Content-Encoding", "ETag", "Vary", "Content-Type"};
        for (int k = 0; k < 5; k++) {
            const char *a = hdr(&g, names[k]), *b = hdr(&hd, names[k]);
            cr_expect((a == NULL) == (b == NULL), "%s %s", aes[i], names[k]);
            if (a && b) cr_expect_str_eq(a, b, "%s %s", aes[i], names[k]);
        }
        http_result_free(&g);
        http_result_free(&hd);
    }
}

Test(static_compression, not_acceptable_only_when_identity_is_forbidden, .init = init_dev)
{
    struct http_result r;
    cr_expect_eq(fetch("/small.txt", "identity;q=0", &r), 406);
    http_result_free(&r);
    cr_expect_eq(fetch("/image.png", "*;q=0", &r), 406);
    http_result_free(&r);
    cr_expect_eq(fetch("/assets/lib.js", "br, identity;q=0", &r), 200);
    cr_expect_str_eq(hdr(&r, "Content-Encoding"), "br");
    http_result_free(&r);
    cr_expect_eq(fetch("/small.txt", "br;q=0", &r), 200, "identity stays acceptable");
    http_result_free(&r);
    cr_expect_eq(fetch("/small.txt", "identity;q=0", &r), 406);
    const char *vary = strstr(r.headers, "\nVary:");
    cr_expect(vary && !strstr(vary + 1, "\nVary:"), "one Vary on a 406: %s", r.headers);
    http_result_free(&r);
}

/* Compressed once even when many requests arrive together. */
struct hammer { char url[512]; int ok; };

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;
    const char *hd[] = {"Accept-Encoding: br", NULL};
    struct http_result r;
    if (http_get(h->url, hd, &r) == 0 && r.status == 200) {
        const char *ce = http_header_value(&r, "Content-Encoding", (char[32]){0}, 32);
        h->ok = ce && strcmp(ce, "br") == 0;
    }
    http_result_free(&r);
    return NULL;
}

static long metric(const char *name)
{
    char url[512];
    struct http_result r;
    cr_assert_eq(http_get(site_url(&site, "/metrics", url, sizeof url), NULL, &r), 0);
    char line[128];
    snprintf(line, sizeof line, "\n%s ", name); /* the sample line, not the # TYPE comment */
    const char *at = strstr(r.body, line);
    long v = at ? atol(at + strlen(line)) : -1;
    http_result_free(&r);
    return v;
}

Test(static_compression, in_memory_variant_is_compressed_once, .init = init_dev)
{
    long before = metric("tessera_static_compressed_total");
    cr_assert_geq(before, 0);
    struct hammer h[16];
    pthread_t t[16];
    for (int i = 0; i < 16; i++) {
        h[i].ok = 0;
        site_url(&site, "/data.json", h[i].url, sizeof h[i].url);
        pthread_create(&t[i], NULL, hammer_run, &h[i]);
    }
    for (int i = 0; i < 16; i++) {
        pthread_join(t[i], NULL);
        cr_expect(h[i].ok, "request %d got br", i);
    }
    cr_expect_eq(metric("tessera_static_compressed_total") - before, 1);
}

static void init_revalidate_0(void) { start_with("revalidate = 0\n", NULL); }

Test(static_compression, edited_file_is_recompressed, .init = init_revalidate_0)
{
    struct http_result r;
    cr_assert_eq(fetch("/data.json", "br", &r), 200);
    http_result_free(&r);
    char edited[4096];
    memset(edited, 0, sizeof edited);
    for (int i = 0; i < 100; i++) strcat(edited, "{\"edited\": true, \"pad\": \"...........\"}\n");
    cr_assert_eq(site_write(&site, "data.json", edited, strlen(edited)), 0);
    const char *aes[] = {"br", "gzip", NULL};
    for (int i = 0; i < 3; i++) {
        char e[32];
        cr_assert_eq(fetch("/data.json", aes[i], &r), 200);
        expect_body(&r, edited, strlen(edited), "edited data.json", e, sizeof e);
        http_result_free(&r);
    }
}

/* ---------------------------------------------------------------- config switches */

static void expect_identity_everywhere(bool vary)
{
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        size_t len;
        char *want = site_read(&site, files[f].path + 1, &len);
        struct http_result r;
        char e[32];
        cr_assert_eq(fetch(files[f].path, "gzip, deflate, br", &r), 200);
        expect_body(&r, want, len, files[f].path, e, sizeof e);
        cr_expect_str_eq(e, "", "%s", files[f].path);
        if (!vary) cr_expect_null(hdr(&r, "Vary"), "%s", files[f].path);
        http_result_free(&r);
        free(want);
    }
}

Test(static_compression, enabled_off_serves_identity)
{
    start_with("[compression]\nenabled = off\n", NULL);
    expect_identity_everywhere(false);
}

Test(static_compression, huge_min_length_serves_identity)
{
    start_with("[compression]\nmin_length = 10M\n", NULL);
    expect_identity_everywhere(true);
}

Test(static_compression, precompressed_off_uses_memory)
{
    start_with("[compression]\nprecompressed = off\n", NULL);
    size_t len, slen;
    char *want = site_read(&site, "assets/lib.js", &len);
    char *sibling = site_read(&site, "assets/lib.js.br", &slen);
    struct http_result r;
    char e[32];
    cr_assert_eq(fetch("/assets/lib.js", "br", &r), 200);
    expect_body(&r, want, len, "lib.js", e, sizeof e);
    cr_expect_str_eq(e, "br");
    cr_expect(r.body_len != slen || memcmp(r.body, sibling, slen) != 0, "the sibling is not used");
    http_result_free(&r);
    free(want);
    free(sibling);
}

Test(static_compression, dynamic_off_uses_only_siblings)
{
    start_with("[compression]\ndynamic = off\n", NULL);
    struct http_result r;
    cr_assert_eq(fetch("/data.json", "br, gzip", &r), 200);
    cr_expect_null(hdr(&r, "Content-Encoding"), "no sibling, no on-the-fly compression");
    cr_expect_str_eq(hdr(&r, "Vary"), "Accept-Encoding");
    http_result_free(&r);
    cr_assert_eq(fetch("/assets/lib.js", "br, gzip", &r), 200);
    cr_expect_str_eq(hdr(&r, "Content-Encoding"), "br");
    http_result_free(&r);
}

Test(static_compression, encodings_order_breaks_ties)
{
    start_with("[compression]\nencodings = gzip,br\n", NULL);
    struct http_result r;
    cr_assert_eq(fetch("/assets/lib.js", "br, gzip", &r), 200);
    cr_expect_str_eq(hdr(&r, "Content-Encoding"), "gzip");
    http_result_free(&r);
    cr_assert_eq(fetch("/assets/lib.js", "br", &r), 200);
    cr_expect_str_eq(hdr(&r, "Content-Encoding"), "br");
    http_result_free(&r);
}

Test(static_compression, tiny_caches_stay_correct)
{
    start_with("[static]\ncache_bytes = 0\ncache_file_max = 1K\n[compression]\ncache_bytes = 0\n", NULL);
    /* the [static] section repeats: root was set above it */
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        size_t len;
        char *want = site_read(&site, files[f].path + 1, &len);
        for (size_t e = 0; e < sizeof encodings / sizeof encodings[0]; e++) {
            struct http_result r;
            char enc[32];
            if (fetch(files[f].path, encodings[e], &r) == 200) expect_body(&r, want, len, files[f].path, enc, sizeof enc);
            else cr_expect_eq(r.status, 406);
            http_result_free(&r);
        }
        free(want);
    }
}

/* ---------------------------------------------------------------- production */

static const char *const production[] = {"--mode", "production", NULL};

static void expect_stripped(const char *path)
{
    size_t len;
    char *content = site_read(&site, path + 1, &len);
    size_t want = expected_stripped_len(content, len);
    cr_assert_lt(want, len, "%s has a trailer to strip", path);
    for (size_t e = 0; e < sizeof encodings / sizeof encodings[0]; e++) {
        struct http_result r;
        char enc[32], what[200];
        snprintf(what, sizeof what, "%s with %s", path, encodings[e] ? encodings[e] : "(none)");
        long st = fetch(path, encodings[e], &r);
        if (st == 406) { http_result_free(&r); continue; }
        cr_assert_eq(st, 200, "%s", what);
        expect_body(&r, content, want, what, enc, sizeof enc);
        cr_expect_null(hdr(&r, "SourceMap"));
        cr_expect_null(hdr(&r, "X-SourceMap"));
        http_result_free(&r);
    }
    /* HEAD and 206 agree with the stripped length */
    struct http_result r;
    char url[512], cl[32];
    cr_assert_eq(http_do("HEAD", site_url(&site, path, url, sizeof url), NULL, NULL, 0, &r), 0);
    snprintf(cl, sizeof cl, "%zu", want);
    cr_expect_str_eq(hdr(&r, "Content-Length"), cl);
    http_result_free(&r);
    const char *range[] = {"Range: bytes=-30", NULL};
    cr_assert_eq(http_get(url, range, &r), 0);
    cr_expect_eq(r.status, 206);
    cr_expect(r.body_len == 30 && memcmp(r.body, content + want - 30, 30) == 0);
    http_result_free(&r);
    free(content);
}

static void expect_maps_hidden(void)
{
    const char *maps[] = {"/assets/app.3f2a9c1d.js.map", "/assets/style.css.map", "/assets/app.3f2a9c1d.js.map.br",
                          "/assets/app.3f2a9c1d.js.map.gz", "/assets/app.3f2a9c1d.js.br", "/assets/style.css.gz"};
    for (int i = 0; i < 6; i++) {
        struct http_result r;
        cr_expect_eq(fetch(maps[i], "br", &r), 404, "%s", maps[i]);
        cr_expect_null(strstr(r.body, "mappings"));
        http_result_free(&r);
    }
}

static void add_map_siblings(void)
{
    size_t len;
    char *map = site_read(&site, "assets/app.3f2a9c1d.js.map", &len);
    time_t t = site_mtime(&site, "assets/app.3f2a9c1d.js.map");
    cr_assert_eq(site_write_sibling(&site, "assets/app.3f2a9c1d.js.map", "br", map, len, t + 10), 0);
    cr_assert_eq(site_write_sibling(&site, "assets/app.3f2a9c1d.js.map", "gzip", map, len, t + 10), 0);
    free(map);
}

/* Siblings made from the unstripped files (a plain `precompress`): they still hold the
 * trailer, so production must not send them as they are. */
static void add_unstripped_siblings(void)
{
    const char *names[] = {"assets/app.3f2a9c1d.js", "assets/style.css"};
    for (int i = 0; i < 2; i++) {
        size_t len;
        char *content = site_read(&site, names[i], &len);
        time_t t = site_mtime(&site, names[i]);
        cr_assert_eq(site_write_sibling(&site, names[i], "br", content, len, t + 10), 0);
        cr_assert_eq(site_write_sibling(&site, names[i], "gzip", content, len, t + 10), 0);
        free(content);
    }
}

Test(static_compression, production_strips_trailers_and_hides_maps)
{
    cr_assert_eq(static_site_create(&site), 0);
    add_siblings();
    add_map_siblings();
    add_unstripped_siblings();
    cr_assert_eq(static_site_start(&site, NULL, production), 0);
    expect_maps_hidden();
    expect_stripped("/assets/app.3f2a9c1d.js");
    expect_stripped("/assets/style.css");
}

Test(static_compression, production_hides_maps_in_any_case)
{
    cr_assert_eq(static_site_create(&site), 0);
    size_t len;
    char *map = site_read(&site, "assets/app.3f2a9c1d.js.map", &len);
    cr_assert_eq(site_write(&site, "assets/UPPER.JS.MAP", map, len), 0);
    cr_assert_eq(site_write(&site, "assets/mixed.css.Map.Gz", map, len), 0);
    free(map);
    cr_assert_eq(static_site_start(&site, NULL, production), 0);
    const char *paths[] = {"/assets/UPPER.JS.MAP", "/assets/UPPER.JS.%4dAP", "/assets/mixed.css.Map.Gz"};
    for (int i = 0; i < 3; i++) {
        struct http_result r;
        cr_expect_eq(fetch(paths[i], NULL, &r), 404, "%s", paths[i]);
        cr_expect_null(strstr(r.body, "mappings"));
        http_result_free(&r);
    }
}

Test(static_compression, production_strips_without_any_cache)
{
    cr_assert_eq(static_site_create(&site), 0);
    add_unstripped_siblings();
    cr_assert_eq(static_site_start(&site, "cache_bytes = 0\ncache_file_max = 1K\n", production), 0);
    expect_maps_hidden();
    expect_stripped("/assets/app.3f2a9c1d.js");
    expect_stripped("/assets/style.css");
}

Test(static_compression, production_uses_siblings_from_precompress_production)
{
    cr_assert_eq(static_site_create(&site), 0);
    const char *args[] = {"precompress", site.root, "--production", NULL};
    char *out = NULL, *err = NULL;
    int rc = test_run_tessera(args, NULL, &out, &err);
    cr_assert_eq(rc, 0, "precompress --production: %s", err ? err : "");
    free(out);
    free(err);
    cr_assert_eq(static_site_start(&site, NULL, production), 0);
    expect_stripped("/assets/app.3f2a9c1d.js");
    size_t slen;
    char *sibling = site_read(&site, "assets/app.3f2a9c1d.js.br", &slen);
    cr_assert_not_null(sibling);
    struct http_result r;
    cr_assert_eq(fetch("/assets/app.3f2a9c1d.js", "br", &r), 200);
    cr_expect(r.body_len == slen && memcmp(r.body, sibling, slen) == 0, "the stripped sibling is sent as is");
    http_result_free(&r);
    free(sibling);
}

Test(static_compression, development_serves_maps_and_trailers, .init = init_dev)
{
    struct http_result r;
    cr_expect_eq(fetch("/assets/app.3f2a9c1d.js.map", NULL, &r), 200);
    cr_expect_not_null(strstr(r.body, "mappings"));
    http_result_free(&r);
    size_t len;
    char *want = site_read(&site, "assets/app.3f2a9c1d.js", &len);
    char e[32];
    cr_assert_eq(fetch("/assets/app.3f2a9c1d.js", "br", &r), 200);
    expect_body(&r, want, len, "app.js in development", e, sizeof e);
    http_result_free(&r);
    free(want);
}

Test(static_compression, types_limit_what_is_compressed)
{
    start_with("[compression]\ntypes = application/json\n", NULL);
    struct http_result r;
    cr_assert_eq(fetch("/assets/lib.js", "br, gzip", &r), 200);
    cr_expect_null(hdr(&r, "Content-Encoding"), "JS is not in the list: its siblings are not used either");
    cr_expect_null(hdr(&r, "Vary"));
    http_result_free(&r);
    cr_assert_eq(fetch("/data.json", "gzip", &r), 200);
    cr_expect_str_eq(hdr(&r, "Content-Encoding"), "gzip");
    cr_expect_str_eq(hdr(&r, "Vary"), "Accept-Encoding");
    http_result_free(&r);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay ? strstr(hay, needle) : NULL; p; p = strstr(p + 1, needle)) n++;
    return n;
}

Test(static_compression, stale_sibling_is_logged_once)
{
    /* A cache too small for two files: stale.js is evicted and rebuilt between requests. */
    start_with("cache_bytes = 6K\n", NULL);
    const char *paths[] = {"/assets/stale.js", "/data.json", "/assets/stale.js", "/data.json", "/assets/stale.js"};
    for (int i = 0; i < 5; i++) {
        struct http_result r;
        cr_assert_eq(fetch(paths[i], "br", &r), 200);
        http_result_free(&r);
    }
    long rebuilt = metric("tessera_static_cache_misses_total");
    cr_expect_geq(rebuilt, 5, "every request rebuilt its entry");
    char *err = test_server_stderr(&site.server);
    cr_expect_eq(count(err, "ignoring stale assets/stale.js.br"), 1, "%s", err ? err : "");
    free(err);
}

Test(static_compression, large_file_variants_from_memory, .init = init_dev)
{
    size_t len;
    char *want = site_read(&site, "big.txt", &len);
    const char *aes[] = {"br", "gzip", "identity"};
    char tags[3][128];
    for (int i = 0; i < 3; i++) {
        struct http_result r;
        char e[32];
        cr_assert_eq(fetch("/big.txt", aes[i], &r), 200);
        expect_body(&r, want, len, "big.txt", e, sizeof e);
        cr_expect_str_eq(e, i == 2 ? "" : aes[i]);
        snprintf(tags[i], sizeof tags[i], "%s", hdr(&r, "ETag"));
        http_result_free(&r);
    }
    cr_expect_str_neq(tags[0], tags[2]);
    cr_expect_str_neq(tags[1], tags[2]);
    for (int i = 0; i < 3; i++) {
        char url[512], ae[64], inm[200];
        snprintf(ae, sizeof ae, "Accept-Encoding: %s", aes[i]);
        snprintf(inm, sizeof inm, "If-None-Match: %.127s", tags[i]);
        const char *h[] = {ae, inm, NULL};
        struct http_result r;
        cr_assert_eq(http_get(site_url(&site, "/big.txt", url, sizeof url), h, &r), 0);
        cr_expect_eq(r.status, 304, "%s", aes[i]);
        http_result_free(&r);
    }
    char url[512];
    const char *range[] = {"Accept-Encoding: br", "Range: bytes=500000-500009", NULL};
    struct http_result r;
    cr_assert_eq(http_get(site_url(&site, "/big.txt", url, sizeof url), range, &r), 0);
    cr_expect_eq(r.status, 206);
    cr_expect_null(hdr(&r, "Content-Encoding"));
    cr_expect(r.body_len == 10 && memcmp(r.body, want + 500000, 10) == 0);
    http_result_free(&r);
    free(want);
}
