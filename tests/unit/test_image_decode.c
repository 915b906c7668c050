/* image_decode, image_orient, image_resize, image_encode: sniffing, header-only probing of
 * the fixtures, refusals before decoding, orientation maths, never-enlarge sizes, and JPEG
 * output of a transparent picture flattened on white, and the same resized pixels on any
 * number of threads. */
#include <criterion/criterion.h>
#include <stdio.h>

#include <jpeglib.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/image_decode.h"
#include "tessera/image_encode.h"
#include "tessera/image_orient.h"
#include "tessera/image_resize.h"
#include "tessera/image_transcode.h"

static uint8_t *fixture(const char *name, size_t *len)
{
    const char *top = getenv("TESSERA_SOURCE_DIR");
    char path[512];
    snprintf(path, sizeof path, "%s/tests/fixtures/images/%s", top ? top : ".", name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc((size_t)n + 1);
    cr_assert_eq(fread(data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return data;
}

static const struct image_limits limits = {.max_pixels = 50000000};

static int probe(const char *name, struct image_info *info, char *reason)
{
    size_t n;
    uint8_t *d = fixture(name, &n);
    int st = image_probe(d, n, &limits, info, reason, 200);
    free(d);
    return st;
}

static enum image_format sniff(const char *text) { return image_sniff((const uint8_t *)text, strlen(text)); }

Test(image_decode, sniffing_by_content_not_name)
{
    cr_assert_eq(sniff(""), IMAGE_FORMAT_NONE);
    cr_assert_eq(sniff("this is plain text"), IMAGE_FORMAT_NONE);
    cr_assert_eq(sniff("\xEF\xBB\xBF <svg xmlns=''/>"), IMAGE_FORMAT_SVG);
    cr_assert_eq(sniff("<?xml version='1.0'?><svg/>"), IMAGE_FORMAT_SVG);
    cr_assert_eq(sniff("<?xml version='1.0'?><html/>"), IMAGE_FORMAT_NONE);
    cr_assert_eq(sniff("GIF89a...."), IMAGE_FORMAT_GIF);
    cr_assert_eq(sniff("\xFF\xD8\xFF\xE0"), IMAGE_FORMAT_JPEG);
}

Test(image_decode, probe_reads_size_alpha_animation_and_orientation_from_headers)
{
    struct image_info info;
    char reason[200];
    cr_assert_eq(probe("orient-6.jpg", &info, reason), 0, "%s", reason);
    cr_assert_eq(info.format, IMAGE_FORMAT_JPEG);
    cr_assert_eq(info.width, 32);
    cr_assert_eq(info.height, 48);
    cr_assert_eq(info.orientation, 6);
    cr_assert_eq(probe("gray-alpha.png", &info, reason), 0);
    cr_assert(info.alpha);
    cr_assert_not(info.animated);
    cr_assert_eq(probe("palette.png", &info, reason), 0);
    cr_assert(info.alpha, "tRNS counts as alpha");
    cr_assert_eq(probe("rgb16.png", &info, reason), 0);
    cr_assert_not(info.alpha);
    cr_assert_eq(probe("animated.png", &info, reason), 0);
    cr_assert(info.animated, "acTL before IDAT");
    cr_assert_eq(probe("animated.webp", &info, reason), 0);
    cr_assert(info.animated);
    cr_assert_eq(probe("photo.avif", &info, reason), 0, "%s", reason);
    cr_assert_eq(info.format, IMAGE_FORMAT_AVIF);
    cr_assert_eq(info.width, 48);
    cr_assert_eq(probe("animated.gif", &info, reason), 0);
    cr_assert(info.animated);
}

Test(image_decode, hostile_inputs_are_refused_with_a_reason)
{
    struct image_info info;
    char reason[200];
    cr_assert_eq(probe("huge-header.png", &info, reason), IMAGE_BAD);
    cr_assert(strstr(reason, "max_source_pixels"), "%s", reason);
    cr_assert_eq(probe("zero.png", &info, reason), IMAGE_BAD);
    cr_assert_eq(probe("text.png", &info, reason), IMAGE_UNSUPPORTED);
    size_t n;
    uint8_t *d = fixture("truncated.jpg", &n);
    int st = image_probe(d, n, &limits, &info, reason, sizeof reason);
    if (st == 0) { /* header intact: the decoder must still not crash, and give an image or 422 */
        WebPPicture pic;
        st = image_decode(d, n, &info, &limits, 0, 0, &pic, reason, sizeof reason);
        cr_assert(st == 0 || st == IMAGE_BAD, "%d %s", st, reason);
        if (st == 0) WebPPictureFree(&pic);
    }
    for (size_t cut = 1; cut < n; cut += 7) { /* every prefix: no crash, no leak */
        if (image_probe(d, cut, &limits, &info, reason, sizeof reason) != 0) continue;
        WebPPicture pic;
        if (image_decode(d, cut, &info, &limits, 16, 10, &pic, reason, sizeof reason) == 0) WebPPictureFree(&pic);
    }
    free(d);
}

Test(image_decode, orientation_maths)
{
    cr_assert_eq(image_orient_from_avif(-1, -1), 1);
    cr_assert_eq(image_orient_from_avif(1, -1), 8, "90 degrees anti-clockwise");
    cr_assert_eq(image_orient_from_avif(3, -1), 6);
    cr_assert_eq(image_orient_from_avif(-1, 0), 4, "top-bottom mirror");
    cr_assert_eq(image_orient_from_avif(-1, 1), 2, "left-right mirror");
    cr_assert_eq(image_orient_from_exif((const uint8_t *)"junk junk junk", 14), 1);
    /* A 3x2 picture 0 1 2 / 3 4 5 turned by orientation 6 (90 clockwise) reads 3 0 / 4 1 / 5 2. */
    WebPPicture pic;
    WebPPictureInit(&pic);
    pic.use_argb = 1;
    pic.width = 3;
    pic.height = 2;
    cr_assert(WebPPictureAlloc(&pic));
    for (int i = 0; i < 6; i++) pic.argb[(i / 3) * pic.argb_stride + i % 3] = (uint32_t)i;
    cr_assert_eq(image_orient_apply(&pic, 6), 0);
    cr_assert_eq(pic.width, 2);
    cr_assert_eq(pic.height, 3);
    uint32_t want[6] = {3, 0, 4, 1, 5, 2};
    for (int i = 0; i < 6; i++) cr_assert_eq(pic.argb[(i / 2) * pic.argb_stride + i % 2], want[i], "cell %d", i);
    WebPPictureFree(&pic);
}

Test(image_decode, sizes_never_enlarge_and_follow_orientation)
{
    int w, h;
    image_resize_target(4000, 3000, 640, &w, &h);
    cr_assert_eq(w, 640);
    cr_assert_eq(h, 480);
    image_resize_target(48, 32, 1080, &w, &h);
    cr_assert_eq(w, 48);
    cr_assert_eq(h, 32);
    image_resize_target(3000, 1, 640, &w, &h);
    cr_assert_eq(h, 1, "at least one row");
    struct image_info info = {.width = 32, .height = 48, .orientation = 6};
    image_transcode_size(&info, 32, &w, &h);
    cr_assert_eq(w, 32);
    cr_assert_eq(h, 21, "the upright picture is 48x32");
}

Test(image_decode, jpeg_output_flattens_transparency_on_white)
{
    WebPPicture pic;
    WebPPictureInit(&pic);
    pic.use_argb = 1;
    pic.width = 16;
    pic.height = 16;
    cr_assert(WebPPictureAlloc(&pic));
    for (int i = 0; i < 16 * 16; i++) pic.argb[i] = 0x00000000; /* fully transparent black */
    struct image_encode_opts o = {.format = IMAGE_FORMAT_JPEG, .quality = 90};
    uint8_t *out;
    size_t len;
    char reason[200];
    cr_assert_eq(image_encode(&pic, &o, &out, &len, reason, sizeof reason), 0, "%s", reason);
    WebPPictureFree(&pic);
    struct jpeg_decompress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_decompress(&c);
    jpeg_mem_src(&c, out, (unsigned long)len);
    jpeg_read_header(&c, TRUE);
    c.out_color_space = JCS_RGB;
    jpeg_start_decompress(&c);
    unsigned char row[16 * 3];
    JSAMPROW r = row;
    jpeg_read_scanlines(&c, &r, 1);
    cr_assert_gt(row[0], 245, "white, not black: %d", row[0]);
    cr_assert_gt(row[1], 245);
    cr_assert_gt(row[2], 245);
    jpeg_abort_decompress(&c);
    jpeg_destroy_decompress(&c);
    free(out);
}

/* A picture with detail in every channel and a soft alpha ramp, so a slicing error between
 * libswscale's threads would show up as differing pixels. */
static void pattern(WebPPicture *pic, int w, int h)
{
    cr_assert(WebPPictureInit(pic));
    pic->use_argb = 1;
    pic->width = w;
    pic->height = h;
    cr_assert(WebPPictureAlloc(pic));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint32_t a = (uint32_t)(x * 255 / (w - 1)), r = (uint32_t)((x * 7 + y * 3) & 0xff);
            uint32_t g = (uint32_t)((x ^ y) & 0xff), b = (uint32_t)((y * 5) & 0xff);
            pic->argb[y * pic->argb_stride + x] = a << 24 | r << 16 | g << 8 | b;
        }
}

Test(image_decode, resize_gives_the_same_pixels_on_one_or_several_threads)
{
    WebPPicture one, two;
    pattern(&one, 997, 613);
    pattern(&two, 997, 613);
    cr_assert_eq(image_resize(&one, 301, 185, 1), 0);
    cr_assert_eq(image_resize(&two, 301, 185, 2), 0);
    cr_assert_eq(one.width, 301);
    cr_assert_eq(two.height, 185);
    for (int y = 0; y < 185; y++)
        cr_assert_arr_eq(one.argb + y * one.argb_stride, two.argb + y * two.argb_stride, 301 * 4, "row %d", y);
    cr_assert_eq(image_resize(&one, 400, 185, 2), -1, "never enlarges");
    WebPPictureFree(&one);
    WebPPictureFree(&two);
}
