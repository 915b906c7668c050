/* /_image over real HTTP: every response is decoded with the codec libraries to check its
 * format, size, orientation and alpha; hostile files; single-flight; the cache's eviction,
 * corruption recovery and unusable directory; `tessera images build` warming the cache. */
#include <avif/avif.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <jpeglib.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <webp/decode.h>

#include "harness.h"

/* ------------------------------------------------------------------ a private site */

struct site {
    char dir[64];       /* temp: www/ and cache/ */
    char www[96];
    char cache[96];
    struct test_server ts;
};

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void *read_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *data = malloc((size_t)n + 1);
    cr_assert_eq(fread(data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return data;
}

static void copy_fixtures(const char *www)
{
    char src_dir[512];
    test_source_path("tests/fixtures/images", src_dir, sizeof src_dir);
    DIR *d = opendir(src_dir);
    cr_assert_not_null(d, "%s", src_dir);
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.' || strstr(e->d_name, ".c")) continue;
        char from[1024], to[1024];
        snprintf(from, sizeof from, "%s/%s", src_dir, e->d_name);
        snprintf(to, sizeof to, "%s/%s", www, e->d_name);
        size_t n;
        void *data = read_bytes(from, &n);
        write_bytes(to, data, n);
        free(data);
    }
    closedir(d);
}

static void site_prepare(struct site *s)
{
    snprintf(s->dir, sizeof s->dir, "/tmp/tessera-img-XXXXXX");
    cr_assert_not_null(mkdtemp(s->dir));
    snprintf(s->www, sizeof s->www, "%s/www", s->dir);
    snprintf(s->cache, sizeof s->cache, "%s/cache", s->dir);
    cr_assert_eq(mkdir(s->www, 0755), 0);
    copy_fixtures(s->www);
}

static char *site_ini(const struct site *s, const char *extra)
{
    char *ini = malloc(4096);
    snprintf(ini, 4096,
             "[static]\nroot = %s\n[images]\ncache_dir = %s\nwidths = 16,32,64,128,640,1080\n"
             "qualities = 75,90\navif_speed = 10\n%s\n[log]\nlevel = info\n",
             s->www, s->cache, extra ? extra : "");
    return ini;
}

static void site_start(struct site *s, const char *extra_images_ini)
{
    char *ini = site_ini(s, extra_images_ini);
    cr_assert_eq(test_server_start(&s->ts, ini, NULL), 0);
    free(ini);
}

static void site_finish(struct site *s)
{
    cr_assert_eq(test_server_stop(&s->ts), 0, "clean exit (and, under ASan, no leaks)");
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    cr_assert_eq(system(cmd), 0);
}

static void get_image(struct site *s, const char *query, const char *accept, struct http_result *r)
{
    char url[4200], hdr[128];
    snprintf(url, sizeof url, "%s/_image?%s", s->ts.base_url, query);
    snprintf(hdr, sizeof hdr, "Accept: %s", accept);
    const char *headers[] = {hdr, NULL};
    cr_assert_eq(http_get(url, headers, r), 0, "%s", url);
}

static const char *header(const struct http_result *r, const char *name)
{
    static __thread char buf[512];
    return http_header_value(r, name, buf, sizeof buf);
}

/* One WebP request for query, answered from the cache or not as x_cache says. */
static void expect_x_cache(struct site *s, const char *query, const char *x_cache)
{
    struct http_result r;
    get_image(s, query, "image/webp", &r);
    cr_assert_str_eq(header(&r, "X-Cache"), x_cache, "%s", query);
    http_result_free(&r);
}

static unsigned long long metric(struct site *s, const char *name)
{
    char url[128];
    snprintf(url, sizeof url, "%s/metrics", s->ts.base_url);
    struct http_result r;
    cr_assert_eq(http_get(url, NULL, &r), 0);
    char line_start[160];
    snprintf(line_start, sizeof line_start, "\n%s ", name); /* not the "# TYPE" line */
    const char *p = strstr(r.body, line_start);
    unsigned long long v = p ? strtoull(p + strlen(line_start), NULL, 10) : 0;
    http_result_free(&r);
    return v;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* ------------------------------------------------------------------ decoding responses */

struct pixels { int w, h; unsigned char *rgba; const char *format; };

static void decode_jpeg(const void *data, size_t len, struct pixels *px)
{
    struct jpeg_decompress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_decompress(&c);
    jpeg_mem_src(&c, data, (unsigned long)len);
    cr_assert_eq(jpeg_read_header(&c, TRUE), JPEG_HEADER_OK);
    c.out_color_space = JCS_EXT_RGBA;
    jpeg_start_decompress(&c);
    px->w = (int)c.output_width;
    px->h = (int)c.output_height;
    px->rgba = malloc((size_t)px->w * px->h * 4);
    while (c.output_scanline < c.output_height) {
        JSAMPROW row = px->rgba + (size_t)c.output_scanline * px->w * 4;
        jpeg_read_scanlines(&c, &row, 1);
    }
    jpeg_finish_decompress(&c);
    jpeg_destroy_decompress(&c);
}

static void decode_png(const void *data, size_t len, struct pixels *px)
{
    png_image img = {.version = PNG_IMAGE_VERSION};
    cr_assert(png_image_begin_read_from_memory(&img, data, len), "%s", img.message);
    img.format = PNG_FORMAT_RGBA;
    px->w = (int)img.width;
    px->h = (int)img.height;
    px->rgba = malloc(PNG_IMAGE_SIZE(img));
    cr_assert(png_image_finish_read(&img, NULL, px->rgba, 0, NULL));
}

static void decode_avif(const void *data, size_t len, struct pixels *px)
{
    avifDecoder *d = avifDecoderCreate();
    avifImage *img = avifImageCreateEmpty();
    cr_assert_eq(avifDecoderReadMemory(d, img, data, len), AVIF_RESULT_OK);
    avifRGBImage rgb;
    avifRGBImageSetDefaults(&rgb, img);
    rgb.format = AVIF_RGB_FORMAT_RGBA;
    rgb.depth = 8;
    avifRGBImageAllocatePixels(&rgb);
    cr_assert_eq(avifImageYUVToRGB(img, &rgb), AVIF_RESULT_OK);
    px->w = (int)img->width;
    px->h = (int)img->height;
    px->rgba = malloc((size_t)px->w * px->h * 4);
    for (int y = 0; y < px->h; y++) memcpy(px->rgba + (size_t)y * px->w * 4, rgb.pixels + (size_t)y * rgb.rowBytes, (size_t)px->w * 4);
    avifRGBImageFreePixels(&rgb);
    avifImageDestroy(img);
    avifDecoderDestroy(d);
}

/* Decodes by Content-Type, and checks the bytes really are that format. */
static void decode_response(const struct http_result *r, struct pixels *px)
{
    const char *ct = header(r, "Content-Type");
    cr_assert_not_null(ct);
    memset(px, 0, sizeof *px);
    if (strcmp(ct, "image/webp") == 0) {
        px->format = "webp";
        px->rgba = WebPDecodeRGBA((const uint8_t *)r->body, r->body_len, &px->w, &px->h);
        cr_assert_not_null(px->rgba, "undecodable WebP");
    } else if (strcmp(ct, "image/avif") == 0) {
        px->format = "avif";
        decode_avif(r->body, r->body_len, px);
    } else if (strcmp(ct, "image/jpeg") == 0) {
        px->format = "jpeg";
        decode_jpeg(r->body, r->body_len, px);
    } else if (strcmp(ct, "image/png") == 0) {
        px->format = "png";
        decode_png(r->body, r->body_len, px);
    } else {
        cr_assert_fail("unexpected Content-Type %s", ct);
    }
}

static void pixels_free(struct pixels *px)
{
    if (px->format && strcmp(px->format, "webp") == 0) WebPFree(px->rgba);
    else free(px->rgba);
}

static const unsigned char *at(const struct pixels *px, int x, int y) { return px->rgba + ((size_t)y * px->w + x) * 4; }

/* Red, green, blue or white, with codec slack. */
static char colour_at(const struct pixels *px, int x, int y)
{
    const unsigned char *p = at(px, x, y);
    if (p[0] > 150 && p[1] < 90 && p[2] < 90) return 'r';
    if (p[1] > 130 && p[0] < 90 && p[2] < 90) return 'g';
    if (p[2] > 150 && p[0] < 90 && p[1] < 90) return 'b';
    if (p[0] > 200 && p[1] > 200 && p[2] > 200) return 'w';
    return '?';
}

/* ------------------------------------------------------------------ the tests */

Test(images, format_follows_accept_with_all_headers_and_304)
{
    struct site s;
    site_prepare(&s);
    site_start(&s, NULL);
    struct { const char *accept, *ct, *ext; } cases[] = {
        {"image/avif,image/webp,*/*", "image/avif", "avif"},
        {"image/webp,*/*", "image/webp", "webp"},
        {"*/*", "image/jpeg", "jpg"},
        {"image/*", "image/jpeg", "jpg"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_result r;
        get_image(&s, "url=/orient-1.jpg&w=32&q=75", cases[i].accept, &r);
        cr_assert_eq(r.status, 200, "%s: %s", cases[i].accept, r.body);
        cr_assert_str_eq(header(&r, "Content-Type"), cases[i].ct);
        cr_assert_str_eq(header(&r, "Vary"), "Accept");
        cr_assert_str_eq(header(&r, "Cache-Control"), "public, max-age=86400");
        cr_assert_str_eq(header(&r, "X-Cache"), i < 3 ? "MISS" : "HIT");
        char disp[128];
        snprintf(disp, sizeof disp, "inline; filename=\"orient-1.%s\"", cases[i].ext);
        cr_assert_str_eq(header(&r, "Content-Disposition"), disp);
        cr_assert_eq(strtoul(header(&r, "Content-Length"), NULL, 10), r.body_len);
        struct pixels px;
        decode_response(&r, &px);
        cr_assert_eq(px.w, 32);
        cr_assert_eq(px.h, 21);
        pixels_free(&px);
        char etag[128];
        snprintf(etag, sizeof etag, "If-None-Match: %s", header(&r, "ETag"));
        cr_assert_eq(header(&r, "ETag")[0], '"', "strong ETag");
        char accept[128], url[256];
        snprintf(accept, sizeof accept, "Accept: %s", cases[i].accept);
        snprintf(url, sizeof url, "%s/_image?url=/orient-1.jpg&w=32&q=75", s.ts.base_url);
        const char *hdrs[] = {accept, etag, NULL};
        struct http_result again;
        cr_assert_eq(http_get(url, hdrs, &again), 0);
        cr_assert_eq(again.status, 304);
        cr_assert_eq(again.body_len, 0);
        http_result_free(&again);
        http_result_free(&r);
    }
    site_finish(&s);
}

Test(images, exif_orientations_1_to_8_come_out_upright_and_never_enlarged)
{
    struct site s;
    site_prepare(&s);
    site_start(&s, NULL);
    for (int o = 1; o <= 8; o++) {
        for (int big = 0; big < 2; big++) {
            char q[128];
            snprintf(q, sizeof q, "url=/orient-%d.jpg&w=%d&q=90", o, big ? 1080 : 32);
            struct http_result r;
            get_image(&s, q, big ? "image/webp" : "*/*", &r);
            cr_assert_eq(r.status, 200, "%s: %s", q, r.body);
            struct pixels px;
            decode_response(&r, &px);
            cr_assert_eq(px.w, big ? 48 : 32, "orientation %d width %d", o, px.w);
            cr_assert_eq(px.h, big ? 32 : 21, "orientation %d height %d", o, px.h);
            int w = px.w, h = px.h;
            cr_assert_eq(colour_at(&px, 3, 3), 'r', "orientation %d: top-left", o);
            cr_assert_eq(colour_at(&px, w - 4, 3), 'g', "orientation %d: top-right", o);
            cr_assert_eq(colour_at(&px, 3, h - 4), 'b', "orientation %d: bottom-left", o);
            cr_assert_eq(colour_at(&px, w - 4, h - 4), 'w', "orientation %d: bottom-right", o);
            pixels_free(&px);
            http_result_free(&r);
        }
    }
    site_finish(&s);
}

Test(images, png_variants_and_other_sources_decode_and_keep_alpha)
{
    struct site s;
    site_prepare(&s);
    site_start(&s, NULL);
    const char *files[] = {"rgb16.png", "gray-alpha.png", "palette.png", "interlaced.png", "alpha.png",
                           "progressive.jpg", "cmyk.jpg", "photo.webp", "photo.avif"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        for (int fmt = 0; fmt < 3; fmt++) {
            const char *accept = fmt == 0 ? "image/avif" : fmt == 1 ? "image/webp" : "text/html";
            char q[128];
            snprintf(q, sizeof q, "url=/%s&w=32&q=75", files[i]);
            struct http_result r;
            get_image(&s, q, accept, &r);
            cr_assert_eq(r.status, 200, "%s %s: %s", files[i], accept, r.body);
            struct pixels px;
            decode_response(&r, &px);
            cr_assert_eq(px.w, 32, "%s", files[i]);
            cr_assert_eq(px.h, 21, "%s", files[i]);
            bool alpha_source = strstr(files[i], "alpha") || strstr(files[i], "interlaced") || strstr(files[i], "palette");
            if (alpha_source) /* alpha rises left to right (palette: index 0 transparent) */
                cr_assert_lt(at(&px, 0, 0)[3], 60, "%s as %s keeps transparency", files[i], px.format);
            else if (strcmp(files[i], "rgb16.png") != 0 && strstr(files[i], ".png") == NULL)
                cr_assert_eq(colour_at(&px, 3, 3), 'r', "%s as %s: colours", files[i], px.format);
            if (!alpha_source) cr_assert_eq(at(&px, 16, 10)[3], 255, "%s opaque", files[i]);
            if (strcmp(files[i], "rgb16.png") == 0) cr_assert_eq(colour_at(&px, 3, 3), 'r', "16-bit colours");
            pixels_free(&px);
            http_result_free(&r);
        }
    }
    site_finish(&s);
}

Test(images, svg_gif_and_animations_pass_through_unchanged)
{
    struct site s;
    site_prepare(&s);
    site_start(&s, NULL);
    struct { const char *file, *ct; } cases[] = {
        {"image.svg", "image/svg+xml"}, {"animated.gif", "image/gif"},
        {"animated.png", "image/png"}, {"animated.webp", "image/webp"},
    };
    for (size_t i = 0; i < 4; i++) {
        char q[128], path[256];
        snprintf(q, sizeof q, "url=/%s&w=16&q=75", cases[i].file);
        struct http_result r;
        get_image(&s, q, "image/avif,image/webp", &r);
        cr_assert_eq(r.status, 200, "%s: %s", cases[i].file, r.body);
        cr_assert_str_eq(header(&r, "Content-Type"), cases[i].ct);
        snprintf(path, sizeof path, "%s/%s", s.www, cases[i].file);
        size_t n;
        void *orig = read_bytes(path, &n);
        cr_assert_eq(r.body_len, n, "%s unchanged", cases[i].file);
        cr_assert_eq(memcmp(r.body, orig, n), 0);
        free(orig);
        const char *csp = header(&r, "Content-Security-Policy");
        if (i == 0) cr_assert_str_eq(csp, "script-src 'none'; frame-src 'none'; sandbox;");
        http_result_free(&r);
    }
    site_finish(&s);
}

Test(images, hostile_sources_get_a_clear_4xx_or_a_correct_image)
{
    struct site s;
    site_prepare(&s);
    site_start(&s, NULL);
    struct { const char *file; long status; const char *needle; } cases[] = {
        {"zero.png", 422, "empty"},
        {"text.png", 415, "not a supported image"},
        {"huge-header.png", 422, "max_source_pixels"},
        {"truncated.jpg", 0, NULL}, /* libjpeg pads a truncated scan: an image or a 422 */
    };
    for (size_t i = 0; i < 4; i++) {
        char q[128];
        snprintf(q, sizeof q, "url=/%s&w=32&q=75", cases[i].file);
        struct http_result r;
        get_image(&s, q, "image/webp", &r);
        if (cases[i].status) {
            cr_assert_eq(r.status, cases[i].status, "%s: %ld %s", cases[i].file, r.status, r.body);
            cr_assert(strstr(r.body, cases[i].needle), "%s: %s", cases[i].file, r.body);
            cr_assert_str_eq(header(&r, "Content-Type"), "text/plain; charset=utf-8");
        } else if (r.status == 200) {
            struct pixels px;
            decode_response(&r, &px);
            cr_assert_eq(px.w, 32);
            pixels_free(&px);
        } else {
            cr_assert_eq(r.status, 422, "%s: %ld", cases[i].file, r.status);
        }
        http_result_free(&r);
    }
    /* The server is still there and well. */
    struct http_result r;
    get_image(&s, "url=/orient-1.jpg&w=16&q=75", "image/webp", &r);
    cr_assert_eq(r.status, 200);
    http_result_free(&r);
    site_finish(&s);
}

Test(images, bad_parameters_and_paths_are_400_with_one_line)
{
    struct site s;
    site_prepare(&s);
    char outside[160], link[200], sub[200];
    snprintf(outside, sizeof outside, "%s/outside.jpg", s.dir);
    snprintf(link, sizeof link, "%s/link.jpg", s.www);
    snprintf(sub, sizeof sub, "%s/folder.jpg", s.www);
    size_t n;
    char fixture[512];
    void *jpg = read_bytes(test_source_path("tests/fixtures/images/orient-1.jpg", fixture, sizeof fixture), &n);
    write_bytes(outside, jpg, n);
    free(jpg);
    cr_assert_eq(symlink(outside, link), 0);
    cr_assert_eq(mkdir(sub, 0755), 0);
    site_start(&s, NULL);
    struct { const char *q, *needle; } cases[] = {
        {"w=32&q=75", "required"},
        {"url=//example.com/a.jpg&w=32&q=75", "protocol-relative"},
        {"url=http://example.com/a.jpg&w=32&q=75", "not allowed"},
        {"url=/_next/image&w=32&q=75", "recursive"},
        {"url=/../outside.jpg&w=32&q=75", "outside the root"},
        {"url=/link.jpg&w=32&q=75", "outside the root"},
        {"url=/folder.jpg&w=32&q=75", "not name a file"},
        {"url=/missing.jpg&w=32&q=75", "not name a file"},
        {"url=/orient-1.jpg&w=33&q=75", "images.widths"},
        {"url=/orient-1.jpg&w=32&q=80", "images.qualities"},
        {"url=/orient-1.jpg&w=32&q=abc", "between 1 and 100"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_result r;
        get_image(&s, cases[i].q, "image/webp", &r);
        cr_assert_eq(r.status, 400, "%s -> %ld %s", cases[i].q, r.status, r.body);
        cr_assert(strstr(r.body, cases[i].needle), "%s -> %s", cases[i].q, r.body);
        cr_assert_eq(strchr(r.body, '\n'), r.body + r.body_len - 1, "one line");
        http_result_free(&r);
    }
    char url[256];
    snprintf(url, sizeof url, "%s/_next/image?url=/orient-1.jpg&w=32&q=75&unknown=1", s.ts.base_url);
    struct http_result r;
    cr_assert_eq(http_get(url, (const char *[]){"Accept: image/webp", NULL}, &r), 0);
    cr_assert_eq(r.status, 200, "/_next/image answers too, unknown params ignored");
    http_result_free(&r);
    site_finish(&s);
}

/* A photo-like noise picture, big enough that a transcode takes a moment. */
static void write_noise_jpeg(const char *path, int w, int h, int quality, int noise_bits)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    unsigned char *row = malloc((size_t)w * 3);
    unsigned seed = 42;
    while (c.next_scanline < c.image_height) {
        for (int x = 0; x < w * 3; x++) {
            seed = seed * 1103515245u + 12345u;
            row[x] = (unsigned char)((x / 3 + c.next_scanline) / 40 * 16 + (seed >> (32 - noise_bits)));
        }
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
    free(row);
}

struct parallel_get { struct site *s; const char *query; struct http_result r; };

static void *parallel_main(void *arg)
{
    struct parallel_get *g = arg;
    char url[512];
    snprintf(url, sizeof url, "%s/_image?%s", g->s->ts.base_url, g->query);
    http_get(url, (const char *[]){"Accept: image/avif", NULL}, &g->r);
    return NULL;
}

Test(images, parallel_requests_for_one_variant_transcode_once)
{
    struct site s;
    site_prepare(&s);
    char path[200];
    snprintf(path, sizeof path, "%s/noise.jpg", s.www);
    write_noise_jpeg(path, 1600, 1200, 90, 4);
    site_start(&s, "avif_speed = 6");
    cr_assert_eq(metric(&s, "tessera_image_transcodes_total"), 0); /* also warms libcurl */
    enum { N = 8 };
    struct parallel_get g[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        g[i] = (struct parallel_get){.s = &s, .query = "url=/noise.jpg&w=1080&q=75"};
        cr_assert_eq(pthread_create(&t[i], NULL, parallel_main, &g[i]), 0);
    }
    for (int i = 0; i < N; i++) pthread_join(t[i], NULL);
    size_t len0 = g[0].r.body_len;
    for (int i = 0; i < N; i++) {
        cr_assert_eq(g[i].r.status, 200, "%ld %s", g[i].r.status, g[i].r.body);
        cr_assert_eq(g[i].r.body_len, len0, "%d: %zu vs %zu", i, g[i].r.body_len, len0);
        cr_assert_str_eq(header(&g[i].r, "Content-Type"), "image/avif");
        http_result_free(&g[i].r);
    }
    cr_assert_eq(metric(&s, "tessera_image_transcodes_total"), 1, "one transcode for %d requests", N);
    site_finish(&s);
}

Test(images, a_10000px_source_is_shrunk_on_load_and_limits_apply)
{
    struct site s;
    site_prepare(&s);
    char path[200];
    snprintf(path, sizeof path, "%s/huge.jpg", s.www);
    write_noise_jpeg(path, 10000, 10000, 30, 4);
    site_start(&s, "max_source_pixels = 150000000");
    struct http_result r;
    get_image(&s, "url=/huge.jpg&w=640&q=75", "image/webp", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    struct pixels px;
    decode_response(&r, &px);
    cr_assert_eq(px.w, 640);
    cr_assert_eq(px.h, 640);
    pixels_free(&px);
    http_result_free(&r);
    cr_assert_eq(test_server_stop(&s.ts), 0);
    site_start(&s, NULL); /* the default limit: 50 MP; a width not cached yet */
    get_image(&s, "url=/huge.jpg&w=1080&q=75", "image/webp", &r);
    cr_assert_eq(r.status, 422, "100 MP over a 50 MP limit: %s", r.body);
    cr_assert(strstr(r.body, "max_source_pixels"));
    http_result_free(&r);
    site_finish(&s);
}

static int count_entries(const char *cache, char *first, size_t size)
{
    int count = 0;
    DIR *top = opendir(cache);
    for (struct dirent *d; top && (d = readdir(top));) {
        if (strlen(d->d_name) != 2) continue;
        char sub[512];
        snprintf(sub, sizeof sub, "%s/%s", cache, d->d_name);
        DIR *dir = opendir(sub);
        for (struct dirent *e; dir && (e = readdir(dir));)
            if (strlen(e->d_name) == 32) {
                if (count++ == 0 && first) snprintf(first, size, "%s/%s", sub, e->d_name);
            }
        if (dir) closedir(dir);
    }
    if (top) closedir(top);
    return count;
}

Test(images, a_truncated_cache_entry_is_regenerated_never_served)
{
    struct site s;
    site_prepare(&s);
    site_start(&s, NULL);
    struct http_result r;
    get_image(&s, "url=/orient-3.jpg&w=32&q=75", "image/webp", &r);
    cr_assert_str_eq(header(&r, "X-Cache"), "MISS");
    size_t good_len = r.body_len;
    http_result_free(&r);
    cr_assert_eq(test_server_stop(&s.ts), 0); /* a new process: nothing in its memory tier */
    char entry[600];
    cr_assert_eq(count_entries(s.cache, entry, sizeof entry), 1);
    struct stat st;
    cr_assert_eq(stat(entry, &st), 0);
    cr_assert_eq(truncate(entry, st.st_size / 2), 0, "as if killed mid-write");
    site_start(&s, NULL);
    get_image(&s, "url=/orient-3.jpg&w=32&q=75", "image/webp", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(header(&r, "X-Cache"), "MISS", "regenerated");
    cr_assert_eq(r.body_len, good_len);
    struct pixels px;
    decode_response(&r, &px);
    pixels_free(&px);
    http_result_free(&r);
    cr_assert_eq(metric(&s, "tessera_image_cache_corrupt_total"), 1);
    cr_assert_eq(stat(entry, &st), 0);
    cr_assert_gt(st.st_size, 0);
    expect_x_cache(&s, "url=/orient-3.jpg&w=32&q=75", "HIT");
    site_finish(&s);
}

Test(images, cache_is_capped_by_lru_eviction)
{
    struct site s;
    site_prepare(&s);
    for (int i = 0; i < 4; i++) {
        char path[200];
        snprintf(path, sizeof path, "%s/noise%d.jpg", s.www, i);
        write_noise_jpeg(path, 640, 640, 95, 8);
    }
    site_start(&s, "cache_max_bytes = 1M");
    for (int i = 0; i < 4; i++) { /* PNG output of noise: ~0.5 MB per entry */
        char q[128];
        snprintf(q, sizeof q, "url=/noise%d.jpg&w=640&q=90", i);
        struct http_result r;
        get_image(&s, q, "text/html", &r);
        cr_assert_eq(r.status, 200);
        http_result_free(&r);
        get_image(&s, q, "image/webp", &r);
        cr_assert_eq(r.status, 200);
        http_result_free(&r);
        sleep_ms(20); /* distinct mtimes, so "least recently used" is well defined */
    }
    unsigned long long evicted = 0;
    for (int tries = 0; tries < 200 && (evicted = metric(&s, "tessera_image_cache_evictions_total")) == 0; tries++)
        sleep_ms(50);
    cr_assert_gt(evicted, 0, "the evictor ran (disk bytes %llu, %d entries)", metric(&s, "tessera_image_cache_disk_bytes"),
                 count_entries(s.cache, NULL, 0));
    cr_assert_leq(metric(&s, "tessera_image_cache_disk_bytes"), 1u << 20);
    cr_assert_lt(count_entries(s.cache, NULL, 0), 8);
    site_finish(&s);
}

Test(images, unusable_cache_dir_still_serves_and_reports_it)
{
    struct site s;
    site_prepare(&s);
    char ini_extra[200];
    char blocker[160];
    snprintf(blocker, sizeof blocker, "%s/not-a-dir", s.dir);
    write_bytes(blocker, "x", 1);
    snprintf(ini_extra, sizeof ini_extra, "cache_dir = %s/sub", blocker); /* a file in the way */
    char *ini = site_ini(&s, ini_extra);
    cr_assert_eq(test_server_start(&s.ts, ini, NULL), 0);
    free(ini);
    for (int i = 0; i < 2; i++) {
        struct http_result r;
        get_image(&s, "url=/orient-1.jpg&w=32&q=75", "image/webp", &r);
        cr_assert_eq(r.status, 200);
        http_result_free(&r);
    }
    cr_assert_eq(metric(&s, "tessera_image_cache_ok"), 0);
    cr_assert_gt(metric(&s, "tessera_image_cache_write_errors_total"), 0);
    char *err = test_server_stderr(&s.ts);
    char *first = strstr(err, "image cache");
    cr_assert_not_null(first, "logged: %s", err);
    cr_assert_null(strstr(first + 1, "image cache"), "logged once: %s", err);
    free(err);
    site_finish(&s);
}

Test(images, a_full_slot_queue_answers_503_with_retry_after)
{
    struct site s;
    site_prepare(&s);
    char path[200];
    snprintf(path, sizeof path, "%s/noise.jpg", s.www);
    write_noise_jpeg(path, 2000, 1500, 95, 4);
    site_start(&s, "max_concurrent = 1\nqueue_timeout = 1ms\navif_speed = 4");
    metric(&s, "tessera_image_busy_total");
    const char *queries[] = {"url=/noise.jpg&w=1080&q=75", "url=/noise.jpg&w=640&q=75",
                             "url=/noise.jpg&w=1080&q=90", "url=/noise.jpg&w=640&q=90"};
    struct parallel_get g[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        g[i] = (struct parallel_get){.s = &s, .query = queries[i]};
        pthread_create(&t[i], NULL, parallel_main, &g[i]);
    }
    int busy = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_assert(g[i].r.status == 200 || g[i].r.status == 503, "%ld", g[i].r.status);
        if (g[i].r.status == 503) {
            busy++;
            cr_assert_not_null(header(&g[i].r, "Retry-After"));
        }
        http_result_free(&g[i].r);
    }
    cr_assert_gt(busy, 0, "one slot, four slow transcodes, 1 ms of patience");
    site_finish(&s);
}

Test(images, avif_first_miss_webp_answers_webp_then_avif)
{
    struct site s;
    site_prepare(&s);
    site_start(&s, "avif_first_miss = webp");
    struct http_result r;
    get_image(&s, "url=/orient-1.jpg&w=32&q=75", "image/avif,image/webp", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(header(&r, "Content-Type"), "image/webp");
    cr_assert_str_eq(header(&r, "Cache-Control"), "public, max-age=60");
    http_result_free(&r);
    for (int tries = 0; tries < 200 && metric(&s, "tessera_image_transcodes_total") < 2; tries++) sleep_ms(25);
    get_image(&s, "url=/orient-1.jpg&w=32&q=75", "image/avif,image/webp", &r);
    cr_assert_str_eq(header(&r, "Content-Type"), "image/avif");
    cr_assert_str_eq(header(&r, "X-Cache"), "HIT");
    struct pixels px;
    decode_response(&r, &px);
    cr_assert_eq(px.w, 32);
    pixels_free(&px);
    http_result_free(&r);
    site_finish(&s);
}

/* The WebP stand-in is only for a client that takes WebP: one that names AVIF alone, or
 * refuses WebP with q=0, waits for the AVIF instead. */
Test(images, avif_first_miss_never_sends_webp_to_a_client_without_it)
{
    struct site s;
    site_prepare(&s);
    site_start(&s, "avif_first_miss = webp");
    const char *accepts[] = {"image/avif", "image/avif,image/webp;q=0"};
    const char *queries[] = {"url=/orient-1.jpg&w=32&q=75", "url=/orient-2.jpg&w=32&q=75"};
    for (int i = 0; i < 2; i++) {
        struct http_result r;
        get_image(&s, queries[i], accepts[i], &r);
        cr_assert_eq(r.status, 200, "%s", r.body);
        cr_assert_str_eq(header(&r, "Content-Type"), "image/avif", "Accept: %s", accepts[i]);
        cr_assert_str_eq(header(&r, "Cache-Control"), "public, max-age=86400");
        http_result_free(&r);
    }
    site_finish(&s);
}

Test(images, images_build_warms_the_cache_for_later_hits)
{
    struct site s;
    site_prepare(&s);
    char only[80], ini_path[200];
    snprintf(only, sizeof only, "%s/build", s.dir);
    cr_assert_eq(mkdir(only, 0755), 0);
    char sub[300];
    snprintf(sub, sizeof sub, "%s/photos", only);
    cr_assert_eq(mkdir(sub, 0755), 0);
    const char *files[] = {"orient-6.jpg", "alpha.png"};
    for (int i = 0; i < 2; i++) {
        char from[300], to[400];
        snprintf(from, sizeof from, "%s/%s", s.www, files[i]);
        snprintf(to, sizeof to, "%s/%s", sub, files[i]);
        size_t n;
        void *d = read_bytes(from, &n);
        write_bytes(to, d, n);
        free(d);
    }
    snprintf(s.www, sizeof s.www, "%s", only); /* the built folder is the document root */
    char *ini = site_ini(&s, NULL);
    snprintf(ini_path, sizeof ini_path, "%s/build.ini", s.dir);
    write_bytes(ini_path, ini, strlen(ini));
    free(ini);
    char *out = NULL, *err = NULL;
    int rc = test_run_tessera((const char *[]){"images", "build", only, "--widths", "32,1080", "--formats", "avif,webp",
                                               "--config", ini_path, NULL}, NULL, &out, &err);
    cr_assert_eq(rc, 0, "stdout: %s\nstderr: %s", out, err);
    cr_assert(strstr(out, "2 files"), "%s", out);
    cr_assert(strstr(out, "bytes saved"), "%s", out);
    free(out);
    free(err);
    site_start(&s, NULL);
    const char *accepts[] = {"image/avif", "image/webp"};
    for (int i = 0; i < 2; i++)
        for (int a = 0; a < 2; a++)
            for (int w = 0; w < 2; w++) {
                char q[160];
                snprintf(q, sizeof q, "url=/photos/%s&w=%d&q=%d", files[i], w ? 1080 : 32, 75);
                struct http_result r;
                get_image(&s, q, accepts[a], &r);
                cr_assert_eq(r.status, 200, "%s", r.body);
                cr_assert_str_eq(header(&r, "X-Cache"), "HIT", "%s %s", q, accepts[a]);
                http_result_free(&r);
            }
    cr_assert_eq(metric(&s, "tessera_image_transcodes_total"), 0);
    site_finish(&s);
}

Test(images, hashed_names_are_immutable_and_head_has_no_body)
{
    struct site s;
    site_prepare(&s);
    char from[200], to[200];
    snprintf(from, sizeof from, "%s/orient-1.jpg", s.www);
    snprintf(to, sizeof to, "%s/hero.3f9a2b1c.jpg", s.www);
    cr_assert_eq(link(from, to), 0);
    site_start(&s, "ttl = 1h");
    struct http_result r;
    get_image(&s, "url=/hero.3f9a2b1c.jpg&w=32&q=75", "image/webp", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(header(&r, "Cache-Control"), "public, max-age=3600, immutable");
    cr_assert_str_eq(header(&r, "Content-Disposition"), "inline; filename=\"hero.3f9a2b1c.webp\"");
    size_t len = r.body_len;
    http_result_free(&r);
    char url[256];
    snprintf(url, sizeof url, "%s/_image?url=/hero.3f9a2b1c.jpg&w=32&q=75", s.ts.base_url);
    cr_assert_eq(http_do("HEAD", url, (const char *[]){"Accept: image/webp", NULL}, NULL, 0, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, 0);
    cr_assert_eq(strtoul(header(&r, "Content-Length"), NULL, 10), len);
    cr_assert_str_eq(header(&r, "X-Cache"), "HIT");
    http_result_free(&r);
    site_finish(&s);
}

Test(images, a_source_edit_invalidates_and_max_source_bytes_applies)
{
    struct site s;
    site_prepare(&s);
    char path[200];
    snprintf(path, sizeof path, "%s/noise.jpg", s.www);
    write_noise_jpeg(path, 64, 40, 90, 4); /* well over 1 KB */
    site_start(&s, NULL);
    struct http_result r;
    expect_x_cache(&s, "url=/noise.jpg&w=1080&q=75", "MISS");
    write_noise_jpeg(path, 80, 40, 90, 4); /* an edit: new size and mtime */
    get_image(&s, "url=/noise.jpg&w=1080&q=75", "image/webp", &r);
    cr_assert_str_eq(header(&r, "X-Cache"), "MISS", "the old variant is not served for the new source");
    struct pixels px;
    decode_response(&r, &px);
    cr_assert_eq(px.w, 80);
    pixels_free(&px);
    http_result_free(&r);
    cr_assert_eq(test_server_stop(&s.ts), 0);
    site_start(&s, "max_source_bytes = 1K");
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_gt(st.st_size, 1024);
    get_image(&s, "url=/noise.jpg&w=32&q=75", "image/webp", &r); /* not cached yet */
    cr_assert_eq(r.status, 422, "%s", r.body);
    cr_assert(strstr(r.body, "max_source_bytes"), "%s", r.body);
    http_result_free(&r);
    site_finish(&s);
}

/* A FIFO in the root must not hold a worker forever: open() of a FIFO blocks until a writer
 * comes, so a few such requests would take every worker thread. */
Test(images, a_fifo_in_the_root_is_refused_without_blocking)
{
    struct site s;
    site_prepare(&s);
    char fifo[200];
    snprintf(fifo, sizeof fifo, "%s/pipe.jpg", s.www);
    cr_assert_eq(mkfifo(fifo, 0644), 0);
    site_start(&s, NULL);
    struct http_result r;
    get_image(&s, "url=/pipe.jpg&w=32&q=75", "image/webp", &r);
    int unblock = open(fifo, O_WRONLY | O_NONBLOCK); /* frees a stuck worker so the server can stop */
    if (unblock >= 0) close(unblock);
    cr_assert_eq(r.status, 400, "%ld %s", r.status, r.body);
    cr_assert(strstr(r.body, "does not name a file"), "%s", r.body);
    http_result_free(&r);
    site_finish(&s);
}

/* Illustrator writes an XML prolog, a comment and a DOCTYPE with eight entities before the
 * <svg> element; licence headers can be as long. Such files are SVG all the same. */
Test(images, an_svg_with_a_long_prolog_passes_through)
{
    struct site s;
    site_prepare(&s);
    char svg[4096], path[200];
    int n = snprintf(svg, sizeof svg, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                     "<!-- Generator: Adobe Illustrator 15.0.0, SVG Export Plug-In . SVG Version: 6.00 Build 0)  -->\n"
                     "<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\" [\n");
    const char *names[] = {"extend", "ai", "graphs", "vars", "imrep", "sfw", "custom", "adobe_xpath"};
    for (int i = 0; i < 8; i++)
        n += snprintf(svg + n, sizeof svg - (size_t)n, "\t<!ENTITY ns_%s \"http://ns.adobe.com/%s/1.0/\">\n", names[i], names[i]);
    n += snprintf(svg + n, sizeof svg - (size_t)n,
                  "]>\n<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\">"
                  "<rect width=\"10\" height=\"10\" fill=\"red\"/></svg>\n");
    cr_assert_gt(strstr(svg, "<svg") - svg, 512);
    snprintf(path, sizeof path, "%s/illustrator.svg", s.www);
    write_bytes(path, svg, (size_t)n);
    site_start(&s, NULL);
    struct http_result r;
    get_image(&s, "url=/illustrator.svg&w=32&q=75", "image/avif,image/webp", &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_assert_str_eq(header(&r, "Content-Type"), "image/svg+xml");
    cr_assert_str_eq(header(&r, "Content-Security-Policy"), "script-src 'none'; frame-src 'none'; sandbox;");
    cr_assert_eq(r.body_len, (size_t)n);
    cr_assert_eq(memcmp(r.body, svg, (size_t)n), 0);
    http_result_free(&r);
    site_finish(&s);
}

/* Production hides source maps (404 from the static files); /_image must not be a way round
 * that, not even as an oracle: a map answers as a missing file does. */
Test(images, production_mode_treats_source_maps_as_missing)
{
    struct site s;
    site_prepare(&s);
    char path[200];
    snprintf(path, sizeof path, "%s/app.js.map", s.www);
    write_bytes(path, "{\"version\":3,\"sources\":[\"secret.ts\"]}", 38);
    char from[200], to[200];
    snprintf(from, sizeof from, "%s/orient-1.jpg", s.www);
    snprintf(to, sizeof to, "%s/photo.jpg.map", s.www);
    cr_assert_eq(link(from, to), 0);
    char *ini = site_ini(&s, NULL);
    cr_assert_eq(test_server_start(&s.ts, ini, (const char *[]){"--mode", "production", NULL}), 0);
    free(ini);
    struct http_result missing;
    get_image(&s, "url=/nothing-here.js.map&w=32&q=75", "image/webp", &missing);
    cr_assert_eq(missing.status, 400);
    const char *maps[] = {"url=/app.js.map&w=32&q=75", "url=/photo.jpg.map&w=32&q=75", "url=/photo.jpg.MAP&w=32&q=75"};
    for (size_t i = 0; i < 3; i++) {
        struct http_result r;
        get_image(&s, maps[i], "image/webp", &r);
        cr_assert_eq(r.status, missing.status, "%s -> %ld %s", maps[i], r.status, r.body);
        cr_assert_str_eq(r.body, missing.body, "%s", maps[i]);
        http_result_free(&r);
    }
    http_result_free(&missing);
    site_finish(&s);
}

/* The hit ratio on a dashboard is hits / (hits + misses): one cold request is one miss,
 * however many times the service looks again (single flight, AVIF first miss). */
Test(images, one_cold_request_counts_one_cache_miss)
{
    struct site s;
    site_prepare(&s);
    site_start(&s, NULL);
    expect_x_cache(&s, "url=/orient-2.jpg&w=32&q=75", "MISS");
    cr_assert_eq(metric(&s, "tessera_image_cache_misses_total"), 1);
    expect_x_cache(&s, "url=/orient-2.jpg&w=32&q=75", "HIT");
    cr_assert_eq(metric(&s, "tessera_image_cache_misses_total"), 1);
    site_finish(&s);
}

/* "rm -rf var/cache/images" is how an operator clears the cache: the next variant makes the
 * directory again, and the ok gauge tells the truth once writes succeed. */
Test(images, a_removed_cache_dir_is_made_again)
{
    struct site s;
    site_prepare(&s);
    site_start(&s, NULL);
    struct http_result r;
    expect_x_cache(&s, "url=/orient-1.jpg&w=32&q=75", "MISS");
    cr_assert_eq(count_entries(s.cache, NULL, 0), 1);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s.cache);
    cr_assert_eq(system(cmd), 0);
    get_image(&s, "url=/orient-2.jpg&w=32&q=75", "image/webp", &r);
    cr_assert_eq(r.status, 200);
    http_result_free(&r);
    get_image(&s, "url=/orient-3.jpg&w=32&q=75", "image/webp", &r);
    cr_assert_eq(r.status, 200);
    http_result_free(&r);
    cr_assert_eq(count_entries(s.cache, NULL, 0), 2, "both new variants are on disk again");
    cr_assert_eq(metric(&s, "tessera_image_cache_ok"), 1);
    site_finish(&s);
}

/* WebP holds at most 16383 px a side: a long screenshot (1080 x 20000 at w=1080) asked for
 * as WebP gets its own format back, not a 500. */
Test(images, a_source_too_tall_for_webp_comes_in_its_own_format)
{
    struct site s;
    site_prepare(&s);
    char path[200];
    snprintf(path, sizeof path, "%s/long.jpg", s.www);
    write_noise_jpeg(path, 40, 17000, 80, 2);
    site_start(&s, NULL);
    struct http_result r;
    get_image(&s, "url=/long.jpg&w=64&q=75", "image/webp", &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_assert_str_eq(header(&r, "Content-Type"), "image/jpeg");
    cr_assert_str_eq(header(&r, "Content-Disposition"), "inline; filename=\"long.jpg\"");
    struct pixels px;
    decode_response(&r, &px);
    cr_assert_eq(px.w, 40);
    cr_assert_eq(px.h, 17000);
    pixels_free(&px);
    http_result_free(&r);
    get_image(&s, "url=/long.jpg&w=64&q=75", "image/webp", &r);
    cr_assert_str_eq(header(&r, "X-Cache"), "HIT");
    cr_assert_str_eq(header(&r, "Content-Type"), "image/jpeg");
    cr_assert_str_eq(header(&r, "Content-Disposition"), "inline; filename=\"long.jpg\"");
    http_result_free(&r);
    /* `images build` takes the same way out rather than failing the deployment. */
    char only[160], ini_path[200];
    snprintf(only, sizeof only, "%s/build", s.dir);
    cr_assert_eq(mkdir(only, 0755), 0);
    snprintf(path, sizeof path, "%s/long.jpg", only);
    write_noise_jpeg(path, 40, 17000, 80, 2);
    char *ini = site_ini(&s, NULL);
    snprintf(ini_path, sizeof ini_path, "%s/build.ini", s.dir);
    write_bytes(ini_path, ini, strlen(ini));
    free(ini);
    char *out = NULL, *err = NULL;
    int rc = test_run_tessera((const char *[]){"images", "build", only, "--widths", "64", "--formats", "webp",
                                               "--config", ini_path, NULL}, NULL, &out, &err);
    cr_assert_eq(rc, 0, "stdout: %s\nstderr: %s", out, err);
    cr_assert(strstr(out, "0 failed"), "%s", out);
    free(out);
    free(err);
    site_finish(&s);
}

/* ------------------------------------------------------------------ pass-through memory */

static long server_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
    fclose(f);
    return kb;
}

/* An animated GIF or an SVG goes out as it is. Held whole in memory for each request, six
 * slow clients of a 40 MB GIF cost 240 MB; streamed, a chunk each. The clients read the
 * first bytes of the body (the server is then mid-send for each) and stop reading. */
Test(images, a_large_pass_through_is_streamed_not_held_whole_per_request)
{
    struct site s;
    site_prepare(&s);
    enum { SIZE = 40 << 20, CLIENTS = 6 };
    char path[200];
    snprintf(path, sizeof path, "%s/big.gif", s.www);
    char *gif = malloc(SIZE);
    memset(gif, 0x5a, SIZE);
    memcpy(gif, "GIF89a", 6);
    write_bytes(path, gif, SIZE);
    site_start(&s, NULL);
    long before = server_rss_kb(s.ts.pid);
    int fds[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        fds[i] = test_connect(s.ts.port, 10);
        const char *req = "GET /_image?url=/big.gif&w=64&q=75 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Accept: image/webp\r\n\r\n";
        cr_assert_eq(write(fds[i], req, strlen(req)), (ssize_t)strlen(req));
        char buf[8192];
        size_t got = 0; /* headers and the first bytes of the body */
        while (got < sizeof buf) {
            ssize_t n = read(fds[i], buf + got, sizeof buf - got);
            cr_assert_gt(n, 0, "client %d: the response started", i);
            got += (size_t)n;
        }
        cr_assert(strstr(buf, "200 OK") && strstr(buf, "image/gif"), "client %d: %.200s", i, buf);
        cr_assert(memmem(buf, got, "GIF89a", 6), "the body is the file");
    }
    long during = server_rss_kb(s.ts.pid);
    for (int i = 0; i < CLIENTS; i++) close(fds[i]);
    cr_expect_lt(during - before, 64 * 1024, "RSS grew by %ld kB for %d clients of a 40 MB file",
                 during - before, CLIENTS);
    /* A whole read still gets every byte. */
    struct http_result r;
    get_image(&s, "url=/big.gif&w=64&q=75", "image/webp", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, (size_t)SIZE);
    cr_assert_eq(memcmp(r.body, gif, SIZE), 0);
    http_result_free(&r);
    free(gif);
    site_finish(&s);
}

/* An animated PNG or WebP is sent unchanged, so it must not wait for a transcode slot behind
 * real transcodes: its first bytes (APNG's acTL chunk, WebP's VP8X animation flag) say so. */
Test(images, animations_pass_through_without_waiting_for_a_busy_slot)
{
    struct site s;
    site_prepare(&s);
    char path[200];
    snprintf(path, sizeof path, "%s/noise.jpg", s.www);
    write_noise_jpeg(path, 2000, 1500, 95, 4);
    site_start(&s, "max_concurrent = 1\nqueue_timeout = 1ms\navif_speed = 4");
    struct parallel_get slow = {.s = &s, .query = "url=/noise.jpg&w=1080&q=90"};
    pthread_t t;
    pthread_create(&t, NULL, parallel_main, &slow);
    unsigned long long running = 0;
    for (int i = 0; i < 500 && running == 0; i++) {
        running = metric(&s, "tessera_image_transcodes_running");
        if (running == 0) sleep_ms(10);
    }
    cr_assert_eq(running, 1, "the slow transcode holds the only slot");
    const char *files[] = {"animated.png", "animated.webp"};
    for (size_t i = 0; i < 2; i++) {
        char q[128];
        snprintf(q, sizeof q, "url=/%s&w=64&q=75", files[i]);
        struct http_result r;
        get_image(&s, q, "image/avif,image/webp", &r);
        cr_expect_eq(r.status, 200, "%s: %ld %s", files[i], r.status, r.body);
        http_result_free(&r);
    }
    cr_expect_eq(metric(&s, "tessera_image_transcodes_running"), 1, "still held: the answers did not wait for it");
    pthread_join(t, NULL);
    cr_assert_eq(slow.r.status, 200);
    http_result_free(&slow.r);
    cr_assert_eq(metric(&s, "tessera_image_transcodes_running"), 0);
    site_finish(&s);
}
