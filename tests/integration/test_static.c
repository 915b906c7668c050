/* static: the file sender over real HTTP — methods, MIME, validators, ranges, directories,
 * SPA fallback, Cache-Control policy, and paths that must never leave the root. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "static_fixture.h"

static struct static_site site;

static void start_default(void)
{
    cr_assert_eq(static_site_create(&site), 0);
    cr_assert_eq(static_site_start(&site, "max_age = 1m\n", NULL), 0);
}

static void stop(void) { static_site_destroy(&site); }

static long get(const char *path, const char *const headers[], struct http_result *r)
{
    char url[512];
    cr_assert_eq(http_get(site_url(&site, path, url, sizeof url), headers, r), 0, "GET %s", path);
    return r->status;
}

static const char *hdr(const struct http_result *r, const char *name)
{
    static char buf[8][512];
    static int next;
    char *b = buf[next++ % 8];
    return http_header_value(r, name, b, 512);
}

TestSuite(static, .init = start_default, .fini = stop);

Test(static, file_body_and_headers)
{
    struct http_result r;
    cr_assert_eq(get("/index.html", NULL, &r), 200);
    size_t len;
    char *want = site_read(&site, "index.html", &len);
    cr_assert_eq(r.body_len, len);
    cr_assert_eq(memcmp(r.body, want, len), 0);
    cr_expect_str_eq(hdr(&r, "Content-Type"), "text/html; charset=utf-8");
    cr_expect_not_null(hdr(&r, "ETag"));
    cr_expect_eq(hdr(&r, "ETag")[0], '"', "strong ETag");
    cr_expect_not_null(hdr(&r, "Last-Modified"));
    cr_expect_str_eq(hdr(&r, "Cache-Control"), "no-cache");
    cr_expect_str_eq(hdr(&r, "X-Content-Type-Options"), "nosniff");
    cr_expect_str_eq(hdr(&r, "Referrer-Policy"), "strict-origin-when-cross-origin");
    cr_expect_null(hdr(&r, "Access-Control-Allow-Origin"));
    free(want);
    http_result_free(&r);
}

Test(static, head_has_the_headers_of_get)
{
    const char *paths[] = {"/index.html", "/assets/app.3f2a9c1d.js", "/image.png", "/big.txt", "/missing.js"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct http_result g, h;
        char url[512];
        site_url(&site, paths[i], url, sizeof url);
        const char *ae[] = {"Accept-Encoding: gzip, br", NULL};
        cr_assert_eq(http_get(url, ae, &g), 0);
        cr_assert_eq(http_do("HEAD", url, ae, NULL, 0, &h), 0);
        cr_expect_eq(h.status, g.status, "%s", paths[i]);
        cr_expect_eq(h.body_len, 0);
        const char *names[] = {"Content-Type", "Content-Length", "ETag", "Last-Modified", "Cache-Control",
                               "Vary", "Content-Encoding", "Accept-Ranges"};
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
            const char *a = hdr(&g, names[k]), *b = hdr(&h, names[k]);
            cr_expect((a == NULL) == (b == NULL), "%s %s presence", paths[i], names[k]);
            if (a && b) cr_expect_str_eq(a, b, "%s %s", paths[i], names[k]);
        }
        http_result_free(&g);
        http_result_free(&h);
    }
}

Test(static, other_methods_are_405_with_allow)
{
    const char *methods[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        struct http_result r;
        char url[512];
        cr_assert_eq(http_do(methods[i], site_url(&site, "/index.html", url, sizeof url), NULL, "x", 1, &r), 0);
        cr_expect_eq(r.status, 405, "%s", methods[i]);
        cr_expect_str_eq(hdr(&r, "Allow"), "GET, HEAD");
        cr_expect_null(strstr(r.body, "fixture index"));
        http_result_free(&r);
    }
}

Test(static, mime_types)
{
    const char *table[][2] = {
        {"/assets/style.css", "text/css; charset=utf-8"},
        {"/assets/lib.js", "text/javascript; charset=utf-8"},
        {"/assets/app.3f2a9c1d.js.map", "application/json; charset=utf-8"},
        {"/data.json", "application/json; charset=utf-8"},
        {"/logo.svg", "image/svg+xml; charset=utf-8"},
        {"/image.png", "image/png"},
        {"/font.woff2", "font/woff2"},
        {"/robots.txt", "text/plain; charset=utf-8"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        struct http_result r;
        cr_expect_eq(get(table[i][0], NULL, &r), 200, "%s", table[i][0]);
        cr_expect_str_eq(hdr(&r, "Content-Type"), table[i][1], "%s", table[i][0]);
        http_result_free(&r);
    }
}

Test(static, cache_control_policy)
{
    const char *table[][2] = {
        {"/assets/app.3f2a9c1d.js", "public, max-age=31536000, immutable"},
        {"/assets/index-BxK3aZ9q.js", "public, max-age=31536000, immutable"},
        {"/assets/lib.js", "public, max-age=60"},
        {"/index.html", "no-cache"},
        {"/", "no-cache"},
        {"/docs/", "no-cache"},
        {"/robots.txt", "public, max-age=60"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        struct http_result r;
        cr_expect_eq(get(table[i][0], NULL, &r), 200, "%s", table[i][0]);
        cr_expect_str_eq(hdr(&r, "Cache-Control"), table[i][1], "%s", table[i][0]);
        http_result_free(&r);
    }
}

static void expect_304(const char *path, const char *inm, const char *ims)
{
    char h1[300], h2[300];
    const char *headers[3] = {NULL, NULL, NULL};
    int n = 0;
    if (inm) { snprintf(h1, sizeof h1, "If-None-Match: %s", inm); headers[n++] = h1; }
    if (ims) { snprintf(h2, sizeof h2, "If-Modified-Since: %s", ims); headers[n++] = h2; }
    struct http_result r;
    cr_expect_eq(get(path, headers, &r), 304, "%s INM=%s IMS=%s", path, inm ? inm : "-", ims ? ims : "-");
    cr_expect_not_null(hdr(&r, "ETag"), "304 carries ETag");
    cr_expect_not_null(hdr(&r, "Cache-Control"), "304 carries Cache-Control");
    cr_expect_str_eq(hdr(&r, "Vary"), "Accept-Encoding", "304 carries Vary");
    cr_expect_eq(r.body_len, 0);
    http_result_free(&r);
}

Test(static, if_none_match_per_rfc_9110)
{
    struct http_result r;
    cr_assert_eq(get("/assets/lib.js", NULL, &r), 200);
    char etag[200], lm[100], list[300], weak[210];
    snprintf(etag, sizeof etag, "%s", hdr(&r, "ETag"));
    snprintf(lm, sizeof lm, "%s", hdr(&r, "Last-Modified"));
    http_result_free(&r);
    expect_304("/assets/lib.js", etag, NULL);
    snprintf(list, sizeof list, "\"nope\", %s, \"other\"", etag);
    expect_304("/assets/lib.js", list, NULL);
    snprintf(weak, sizeof weak, "W/%s", etag);
    expect_304("/assets/lib.js", weak, NULL);
    expect_304("/assets/lib.js", "*", NULL);
    expect_304("/assets/lib.js", NULL, lm);
    /* A mismatching If-None-Match wins over a matching If-Modified-Since. */
    const char *both[] = {"If-None-Match: \"nope\"", NULL, NULL};
    char ims[150];
    snprintf(ims, sizeof ims, "If-Modified-Since: %s", lm);
    both[1] = ims;
    cr_expect_eq(get("/assets/lib.js", both, &r), 200);
    http_result_free(&r);
    const char *old[] = {"If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT", NULL};
    cr_expect_eq(get("/assets/lib.js", old, &r), 200);
    http_result_free(&r);
}

Test(static, ranges)
{
    size_t len;
    char *want = site_read(&site, "robots.txt", &len);
    struct http_result r;
    const char *first[] = {"Range: bytes=0-9", NULL};
    cr_assert_eq(get("/robots.txt", first, &r), 206);
    cr_expect_eq(r.body_len, 10);
    cr_expect_eq(memcmp(r.body, want, 10), 0);
    char cr[64];
    snprintf(cr, sizeof cr, "bytes 0-9/%zu", len);
    cr_expect_str_eq(hdr(&r, "Content-Range"), cr);
    http_result_free(&r);

    const char *suffix[] = {"Range: bytes=-5", NULL};
    cr_assert_eq(get("/robots.txt", suffix, &r), 206);
    cr_expect_eq(r.body_len, 5);
    cr_expect_eq(memcmp(r.body, want + len - 5, 5), 0);
    http_result_free(&r);

    const char *beyond[] = {"Range: bytes=5000-", NULL};
    cr_assert_eq(get("/robots.txt", beyond, &r), 416);
    snprintf(cr, sizeof cr, "bytes */%zu", len);
    cr_expect_str_eq(hdr(&r, "Content-Range"), cr);
    http_result_free(&r);

    const char *multi[] = {"Range: bytes=0-1,4-5", NULL};
    cr_assert_eq(get("/robots.txt", multi, &r), 200);
    cr_expect_eq(r.body_len, len);
    http_result_free(&r);

    const char *stale_if_range[] = {"Range: bytes=0-1", "If-Range: \"old\"", NULL};
    cr_assert_eq(get("/robots.txt", stale_if_range, &r), 200);
    char etag[200], if_range[220];
    snprintf(etag, sizeof etag, "%s", hdr(&r, "ETag"));
    http_result_free(&r);
    snprintf(if_range, sizeof if_range, "If-Range: %s", etag);
    const char *good_if_range[] = {"Range: bytes=0-1", if_range, NULL};
    cr_assert_eq(get("/robots.txt", good_if_range, &r), 206);
    cr_expect_eq(r.body_len, 2);
    http_result_free(&r);

    /* A last byte past INT64_MAX still means "to the end", as in nginx. */
    const char *huge_last[] = {"Range: bytes=3-99999999999999999999", NULL};
    cr_assert_eq(get("/robots.txt", huge_last, &r), 206);
    cr_expect_eq(r.body_len, len - 3);
    http_result_free(&r);
    const char *upper_unit[] = {"Range: Bytes=0-0", NULL};
    cr_expect_eq(get("/robots.txt", upper_unit, &r), 206, "range units are case-insensitive");
    http_result_free(&r);
    free(want);
}

/* RFC 9110 13.1.1-13.1.4, as nginx does: a download resumed with If-Match must never get a
 * slice of a newer version; a failed precondition is 412 on the cached and streamed paths. */
Test(static, if_match_and_if_unmodified_since)
{
    const char *paths[] = {"/robots.txt", "/big.txt"};
    for (int i = 0; i < 2; i++) {
        struct http_result r;
        cr_assert_eq(get(paths[i], NULL, &r), 200);
        char etag[200], lm[100], im[220], ius[130];
        snprintf(etag, sizeof etag, "%s", hdr(&r, "ETag"));
        snprintf(lm, sizeof lm, "%s", hdr(&r, "Last-Modified"));
        http_result_free(&r);
        const char *bad[] = {"If-Match: \"nope\"", NULL};
        cr_expect_eq(get(paths[i], bad, &r), 412, "%s", paths[i]);
        http_result_free(&r);
        const char *bad_range[] = {"If-Match: \"nope\"", "Range: bytes=0-1", NULL};
        cr_expect_eq(get(paths[i], bad_range, &r), 412, "%s", paths[i]);
        cr_expect_eq(r.body_len == 2 && r.status == 206, 0);
        http_result_free(&r);
        snprintf(im, sizeof im, "If-Match: %s", etag);
        const char *good_range[] = {im, "Range: bytes=0-1", NULL};
        cr_expect_eq(get(paths[i], good_range, &r), 206, "%s", paths[i]);
        http_result_free(&r);
        const char *old[] = {"If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT", NULL};
        cr_expect_eq(get(paths[i], old, &r), 412, "%s", paths[i]);
        http_result_free(&r);
        snprintf(ius, sizeof ius, "If-Unmodified-Since: %s", lm);
        const char *same[] = {ius, NULL};
        cr_expect_eq(get(paths[i], same, &r), 200, "%s", paths[i]);
        http_result_free(&r);
    }
}

Test(static, directories_and_spa_fallback)
{
    struct http_result r;
    cr_assert_eq(get("/", NULL, &r), 200);
    cr_expect_not_null(strstr(r.body, "fixture index"));
    http_result_free(&r);
    cr_assert_eq(get("/docs/", NULL, &r), 200);
    cr_expect_not_null(strstr(r.body, "docs index"));
    http_result_free(&r);
    cr_assert_eq(get("/docs", NULL, &r), 301);
    cr_expect_str_eq(hdr(&r, "Location"), "/docs/");
    http_result_free(&r);
    cr_assert_eq(get("/settings/profile", NULL, &r), 200, "a client-side route gets the app shell");
    cr_expect_not_null(strstr(r.body, "fixture index"));
    cr_expect_str_eq(hdr(&r, "Cache-Control"), "no-cache");
    http_result_free(&r);
    cr_assert_eq(get("/missing.js", NULL, &r), 404, "a missing file with an extension is 404");
    cr_expect_not_null(strstr(hdr(&r, "Content-Type"), "text/html"));
    cr_expect_not_null(strstr(r.body, "404"));
    http_result_free(&r);
    cr_assert_eq(get("/docs?tab=2", NULL, &r), 301);
    cr_expect_str_eq(hdr(&r, "Location"), "/docs/?tab=2", "the query survives the redirect, as in nginx");
    http_result_free(&r);
    /* Spellings of an /api (or image) path that the router did not take are not client-side
     * routes: a fetch of "//api/me" must not get the HTML shell with a 200. */
    const char *not_routes[] = {"//api/me", "/%61pi/me", "/api%2Fme", "//_image"};
    for (size_t i = 0; i < sizeof not_routes / sizeof not_routes[0]; i++) {
        long st = get(not_routes[i], NULL, &r);
        cr_expect(st == 404 || st == 400, "%s: %ld", not_routes[i], st);
        cr_expect_null(strstr(r.body, "fixture index"), "%s", not_routes[i]);
        http_result_free(&r);
    }
    /* A segment longer than any file name (a JWT in an invite link) is still a route, as with
     * nginx's try_files; with an extension it is a missing file. */
    char long_route[400] = "/invite/", long_file[400] = "/x/";
    memset(long_route + 8, 'k', 300);
    long_route[308] = '\0';
    memset(long_file + 3, 'k', 300);
    strcpy(long_file + 303, ".js");
    cr_expect_eq(get(long_route, NULL, &r), 200);
    cr_expect_not_null(strstr(r.body, "fixture index"));
    http_result_free(&r);
    cr_expect_eq(get(long_file, NULL, &r), 404);
    http_result_free(&r);
    cr_assert_eq(get("/index.html/", NULL, &r), 404, "a file is not a folder");
    http_result_free(&r);
    cr_assert_eq(get("/hello%20world.txt", NULL, &r), 200);
    cr_expect_str_eq(r.body, "space in name\n");
    http_result_free(&r);
}

/* Tests that need their own configuration: a suite without the default server. */
TestSuite(static_config, .fini = stop);

Test(static_config, spa_fallback_can_be_turned_off)
{
    cr_assert_eq(static_site_create(&site), 0);
    cr_assert_eq(static_site_start(&site, "spa_fallback = off\n", NULL), 0);
    struct http_result r;
    cr_expect_eq(get("/settings/profile", NULL, &r), 404);
    http_result_free(&r);
}

Test(static, never_outside_the_root)
{
    const char *paths[] = {
        "/../outside.txt", "/..%2foutside.txt", "/%2e%2e/outside.txt", "/%2E./outside.txt",
        "/.%2e/outside.txt", "/assets/../../outside.txt", "/assets%2f..%2f..%2foutside.txt",
        "/assets%5c..%5c..%5coutside.txt", "/..\\outside.txt", "/index.html%00.png", "/%c0%ae%c0%ae/outside.txt",
        "/%ff", "/a%zz", "/.env", "/.git/config", "/%2egit/config", "/.well-known/security.txt",
        "/escape/passwd", "/escape/hostname", "/sneaky.txt", "/escape", "/escape/",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct http_result r;
        long st = get(paths[i], NULL, &r);
        cr_expect(st == 400 || st == 404, "%s: %ld", paths[i], st);
        cr_expect_null(strstr(r.body, "do-not-serve"), "%s", paths[i]);
        cr_expect_null(strstr(r.body, "root:"), "%s", paths[i]);
        http_result_free(&r);
    }
    struct http_result r;
    cr_expect_eq(get("/alias.txt", NULL, &r), 200, "a link that stays inside the root is served");
    http_result_free(&r);
}

Test(static_config, well_known_when_configured)
{
    cr_assert_eq(static_site_create(&site), 0);
    cr_assert_eq(static_site_start(&site, "well_known = on\n", NULL), 0);
    struct http_result r;
    cr_expect_eq(get("/.well-known/security.txt", NULL, &r), 200);
    cr_expect_not_null(strstr(r.body, "Contact:"));
    http_result_free(&r);
    cr_expect_eq(get("/.env", NULL, &r), 404);
    http_result_free(&r);
}

Test(static, large_file_is_streamed_correctly)
{
    size_t len;
    char *want = site_read(&site, "big.txt", &len);
    struct http_result r;
    cr_assert_eq(get("/big.txt", NULL, &r), 200);
    cr_assert_eq(r.body_len, len);
    cr_expect_eq(memcmp(r.body, want, len), 0);
    char etag[200], inm[220];
    snprintf(etag, sizeof etag, "%s", hdr(&r, "ETag"));
    http_result_free(&r);
    const char *range[] = {"Range: bytes=300000-300099", NULL};
    cr_assert_eq(get("/big.txt", range, &r), 206);
    cr_expect_eq(r.body_len, 100);
    cr_expect_eq(memcmp(r.body, want + 300000, 100), 0);
    http_result_free(&r);
    const char *beyond[] = {"Range: bytes=900000-", NULL};
    cr_expect_eq(get("/big.txt", beyond, &r), 416);
    http_result_free(&r);
    snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
    const char *cond[] = {inm, NULL};
    cr_expect_eq(get("/big.txt", cond, &r), 304);
    cr_expect_str_eq(hdr(&r, "ETag"), etag);
    http_result_free(&r);
    free(want);
}

/* Edits robots.txt after one GET; true when a GET within wait_ms returns the new bytes and a
 * new ETag. */
static bool edit_is_seen(int wait_ms)
{
    struct http_result r;
    cr_assert_eq(get("/robots.txt", NULL, &r), 200);
    char etag[200];
    snprintf(etag, sizeof etag, "%s", hdr(&r, "ETag"));
    http_result_free(&r);
    const char *edited = "User-agent: *\nDisallow: /private\n";
    cr_assert_eq(site_write(&site, "robots.txt", edited, strlen(edited)), 0);
    for (int waited = 0;; waited += 50) {
        cr_assert_eq(get("/robots.txt", NULL, &r), 200);
        bool fresh = strcmp(r.body, edited) == 0 && strcmp(hdr(&r, "ETag"), etag) != 0;
        http_result_free(&r);
        if (fresh) return true;
        if (waited >= wait_ms) return false;
        usleep(50 * 1000);
    }
}

/* static.revalidate (1s by default): a cached file is stat'ed again at most that long after
 * the last check, so an edit shows within it. */
Test(static, an_edited_file_is_served_fresh)
{
    cr_expect(edit_is_seen(3000), "the edit is served within static.revalidate");
}

Test(static_config, revalidate_0_sees_an_edit_at_once)
{
    cr_assert_eq(static_site_create(&site), 0);
    cr_assert_eq(static_site_start(&site, "revalidate = 0\n", NULL), 0);
    cr_expect(edit_is_seen(0), "the edit is served on the next request");
}

/* Workers keep their last whole response for reuse; it must not outlive its Date second. */
Test(static, date_is_current_on_repeated_responses)
{
    struct http_result r;
    const char *ae[] = {"Accept-Encoding: br", NULL};
    char first[64];
    cr_assert_eq(get("/assets/app.3f2a9c1d.js", ae, &r), 200);
    snprintf(first, sizeof first, "%s", hdr(&r, "Date"));
    http_result_free(&r);
    usleep(1100 * 1000);
    cr_assert_eq(get("/assets/app.3f2a9c1d.js", ae, &r), 200);
    cr_expect_str_neq(hdr(&r, "Date"), first);
    http_result_free(&r);
}

Test(static, medium_cached_file_is_sent_whole)
{
    size_t len;
    char *want = site_read(&site, "medium.txt", &len);
    for (int round = 0; round < 2; round++) { /* a miss, then a hit */
        struct http_result r;
        cr_assert_eq(get("/medium.txt", NULL, &r), 200);
        cr_assert_eq(r.body_len, len);
        cr_expect_eq(memcmp(r.body, want, len), 0);
        http_result_free(&r);
    }
    struct http_result r;
    const char *range[] = {"Range: bytes=1000-60999", NULL};
    cr_assert_eq(get("/medium.txt", range, &r), 206);
    cr_assert_eq(r.body_len, 60000);
    cr_expect_eq(memcmp(r.body, want + 1000, 60000), 0);
    http_result_free(&r);
    char url[512];
    cr_assert_eq(http_do("HEAD", site_url(&site, "/medium.txt", url, sizeof url), NULL, NULL, 0, &r), 0);
    char cl[32];
    snprintf(cl, sizeof cl, "%zu", len);
    cr_expect_str_eq(hdr(&r, "Content-Length"), cl);
    cr_expect_eq(r.body_len, 0);
    http_result_free(&r);
    free(want);
}

/* RFC 9112 3: a request-target longer than the server will parse is a 414, so the client
 * learns the length, not a malformation, was the problem. A path that cannot fit the file
 * system's PATH_MAX was answered 400. */
Test(static, overlong_path_is_414)
{
    static char path[6000];
    path[0] = '/';
    memset(path + 1, 'a', sizeof path - 2);
    path[sizeof path - 1] = '\0';
    struct http_result r;
    static char url[6100];
    cr_assert_eq(http_get(site_url(&site, path, url, sizeof url), NULL, &r), 0);
    cr_assert_eq(r.status, 414);
    cr_expect_str_eq(hdr(&r, "Cache-Control"), "no-cache");
    http_result_free(&r);
    memset(path + 1, 'a', 200);
    memcpy(path + 201, ".txt", 5);
    cr_expect_eq(get(path, NULL, &r), 404, "a long name that fits is only missing");
    http_result_free(&r);
    /* The length that counts is the decoded one: 4,207 bytes of escapes that name 1,407. */
    size_t n = 0;
    for (int seg = 0; seg < 7; seg++) {
        path[n++] = '/';
        for (int i = 0; i < 200; i++, n += 3) memcpy(path + n, "%61", 3);
    }
    memcpy(path + n, ".txt", 5);
    cr_assert_eq(http_get(site_url(&site, path, url, sizeof url), NULL, &r), 0);
    cr_expect_eq(r.status, 404, "an encoded name that fits once decoded is only missing: %ld", r.status);
    http_result_free(&r);
}

/* ------------------------------------------------------------------ a file replaced while served */

static atomic_bool flipping;

/* Deploys two versions of race.bin in turn, by rename as a deploy does (each an inode of its
 * own, with its own mtime). */
static void *flip_versions(void *arg)
{
    (void)arg;
    char a[300], b[300], tmp[300], target[300];
    snprintf(a, sizeof a, "%s/version-a", site.root);
    snprintf(b, sizeof b, "%s/version-b", site.root);
    snprintf(tmp, sizeof tmp, "%s/race.tmp", site.root);
    snprintf(target, sizeof target, "%s/race.bin", site.root);
    for (unsigned i = 1; atomic_load(&flipping); i++) {
        if (link(i % 2 ? b : a, tmp) == 0) rename(tmp, target);
        unlink(tmp); /* left when target was already that inode: rename does nothing then */
    }
    return NULL;
}

/* A streamed file (over static.cache_file_max) replaced between the stat that named its
 * version and the open that read its bytes went out with the old version's ETag and
 * Last-Modified on the new version's bytes: a download resumed with If-Range could then be
 * stitched from two versions. The validators must describe the bytes sent. */
Test(static, streamed_validators_describe_the_bytes_sent)
{
    const size_t size = 400 * 1024;
    char *bytes = malloc(size);
    memset(bytes, 'A', size);
    cr_assert_eq(site_write(&site, "version-a", bytes, size), 0);
    memset(bytes, 'B', size);
    cr_assert_eq(site_write(&site, "version-b", bytes, size), 0);
    free(bytes);
    cr_assert_eq(site_set_mtime(&site, "version-a", 1000000000), 0);
    cr_assert_eq(site_set_mtime(&site, "version-b", 1000000100), 0);
    char a[300], target[300];
    snprintf(a, sizeof a, "%s/version-a", site.root);
    snprintf(target, sizeof target, "%s/race.bin", site.root);
    cr_assert_eq(link(a, target), 0);
    atomic_store(&flipping, true);
    pthread_t flipper;
    cr_assert_eq(pthread_create(&flipper, NULL, flip_versions, NULL), 0);
    char etag_of[2][200] = {"", ""}; /* the ETag seen with 'A' bytes and with 'B' bytes */
    int mixed = 0, answered = 0, other = 0;
    long other_status = 0;
    const char *range[] = {"Range: bytes=0-0", NULL};
    for (int i = 0; i < 1500 && mixed == 0; i++) {
        struct http_result r;
        if (get("/race.bin", range, &r) == 206 && r.body_len == 1) {
            int v = r.body[0] == 'B';
            const char *etag = hdr(&r, "ETag");
            answered++;
            if (etag && !etag_of[v][0]) snprintf(etag_of[v], sizeof etag_of[v], "%s", etag);
            if (etag && (strcmp(etag, etag_of[v]) != 0 || strcmp(etag, etag_of[!v]) == 0)) mixed++;
        } else {
            other++;
            other_status = r.status;
        }
        http_result_free(&r);
    }
    atomic_store(&flipping, false);
    pthread_join(flipper, NULL);
    cr_expect_gt(answered, 100, "%d other answers, the last %ld", other, other_status);
    cr_expect(etag_of[0][0] && etag_of[1][0], "one version only was served: the test saw no replacement");
    cr_expect_eq(mixed, 0, "an ETag came with the other version's bytes (%s / %s)", etag_of[0], etag_of[1]);
}
