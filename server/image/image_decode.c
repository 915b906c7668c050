/* image_decode — every pixel comes from a Debian codec library; this file only sets the
 * libraries' own limits, picks shrink-on-load factors and routes errors to a status.
 * Pixels land in an ARGB WebPPicture (BGRA bytes on little-endian), the layout the
 * rescaler and both encoders take without another copy. */
#include "tessera/image_decode.h"

#include <avif/avif.h>
#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <webp/decode.h>
#include <webp/demux.h>

#include "tessera/clock.h"
#include "tessera/image_orient.h"
#include "tessera/log.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "image_decode assumes ARGB words are BGRA bytes (little-endian)"
#endif

/* libjpeg-turbo's progressive decoder keeps every coefficient in memory; this bounds it. */
#define JPEG_MAX_MEMORY (512L << 20)
/* Progressive files with thousands of tiny scans are a known CPU bomb. */
#define JPEG_MAX_SCANS 500

static int fail(char *reason, size_t rsize, int status, const char *text)
{
    snprintf(reason, rsize, "%s", text);
    return status;
}

static bool deadline_passed(const struct image_limits *l)
{
    return l->deadline_us > 0 && clock_monotonic_us() > l->deadline_us;
}

enum image_format image_sniff(const uint8_t *d, size_t n)
{
    if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return IMAGE_FORMAT_JPEG;
    if (n >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) return IMAGE_FORMAT_PNG;
    if (n >= 6 && (memcmp(d, "GIF87a", 6) == 0 || memcmp(d, "GIF89a", 6) == 0)) return IMAGE_FORMAT_GIF;
    if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0) return IMAGE_FORMAT_WEBP;
    if (n >= 16 && memcmp(d + 4, "ftyp", 4) == 0) {
        size_t box = (size_t)d[0] << 24 | (size_t)d[1] << 16 | (size_t)d[2] << 8 | d[3];
        if (box > n) box = n;
        for (size_t off = 8; off + 4 <= box; off += 4)
            if (memcmp(d + off, "avif", 4) == 0 || memcmp(d + off, "avis", 4) == 0) return IMAGE_FORMAT_AVIF;
        return IMAGE_FORMAT_NONE;
    }
    size_t i = 0;
    if (n >= 3 && memcmp(d, "\xEF\xBB\xBF", 3) == 0) i = 3;
    while (i < n && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n')) i++;
    if (n - i >= 4 && (memcmp(d + i, "<svg", 4) == 0 || memcmp(d + i, "<?xm", 4) == 0 || memcmp(d + i, "<!--", 4) == 0 ||
                       memcmp(d + i, "<!DO", 4) == 0) && memmem(d + i, n - i, "<svg", 4))
        return IMAGE_FORMAT_SVG;
    return IMAGE_FORMAT_NONE;
}

/* ---------------------------------------------------------------- JPEG */

struct jpeg_guard {
    struct jpeg_error_mgr pub;
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    const struct image_limits *limits;
    bool timed_out;
    char message[JMSG_LENGTH_MAX];
};

static void jpeg_guard_exit(j_common_ptr cinfo)
{
    struct jpeg_guard *g = (struct jpeg_guard *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, g->message);
    longjmp(g->jump, 1);
}

static void jpeg_guard_silence(j_common_ptr cinfo, int level) { (void)cinfo; (void)level; }

static void jpeg_guard_progress(j_common_ptr cinfo)
{
    struct jpeg_guard *g = (struct jpeg_guard *)cinfo->err;
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (deadline_passed(g->limits) || (d->progressive_mode && d->input_scan_number > JPEG_MAX_SCANS)) {
        g->timed_out = deadline_passed(g->limits);
        snprintf(g->message, sizeof g->message, "too many progressive scans");
        longjmp(g->jump, 1);
    }
}

static void jpeg_guard_init(struct jpeg_decompress_struct *cinfo, struct jpeg_guard *g, const struct image_limits *l)
{
    memset(g, 0, sizeof *g);
    cinfo->err = jpeg_std_error(&g->pub);
    g->pub.error_exit = jpeg_guard_exit;
    g->pub.emit_message = jpeg_guard_silence;
    g->limits = l;
    g->progress.progress_monitor = jpeg_guard_progress;
}

static int jpeg_orientation(struct jpeg_decompress_struct *cinfo)
{
    for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 1 && m->data_length > 6 && memcmp(m->data, "Exif\0\0", 6) == 0)
            return image_orient_from_exif(m->data, m->data_length);
    return 1;
}

static int probe_jpeg(const uint8_t *data, size_t len, struct image_info *info, char *reason, size_t rsize)
{
    struct jpeg_decompress_struct cinfo;
    struct jpeg_guard g;
    struct image_limits none = {0};
    jpeg_guard_init(&cinfo, &g, &none);
    if (setjmp(g.jump)) {
        jpeg_destroy_decompress(&cinfo);
        snprintf(reason, rsize, "cannot read JPEG header: %s", g.message);
        return IMAGE_BAD;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&cinfo, TRUE);
    info->width = (int)cinfo.image_width;
    info->height = (int)cinfo.image_height;
    info->orientation = jpeg_orientation(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return IMAGE_OK;
}

/* Adobe writes CMYK inverted (APP14); plain CMYK is not. Both go to RGB without a profile. */
static void cmyk_row_to_bgra(const uint8_t *src, uint32_t *dst, int width, bool inverted)
{
    for (int x = 0; x < width; x++, src += 4) {
        unsigned c = src[0], m = src[1], y = src[2], k = src[3];
        if (!inverted) { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k; }
        unsigned r = c * k / 255, g = m * k / 255, b = y * k / 255;
        dst[x] = 0xFF000000u | r << 16 | g << 8 | b;
    }
}

/* The largest DCT scale that still leaves twice the target for the Lanczos step: scaling
 * all the way in the IDCT is faster but measurably softer (about 0.5-1 dB PSNR on the bench
 * photographs); libvips makes the same choice for sharp. */
static int jpeg_pick_denominator(int w, int h, int min_w, int min_h)
{
    if (min_w <= 0 && min_h <= 0) return 1;
    static const int denoms[] = {8, 4, 2};
    for (size_t i = 0; i < 3; i++) {
        int d = denoms[i];
        if ((w + d - 1) / d >= 2 * min_w && (h + d - 1) / d >= 2 * min_h) return d;
    }
    return 1;
}

static bool picture_alloc(WebPPicture *pic, int w, int h)
{
    if (!WebPPictureInit(pic)) return false;
    pic->use_argb = 1;
    pic->width = w;
    pic->height = h;
    return WebPPictureAlloc(pic) != 0;
}

static int decode_jpeg(const uint8_t *data, size_t len, const struct image_limits *l, int min_w, int min_h,
                       WebPPicture *pic, char *reason, size_t rsize)
{
    struct jpeg_decompress_struct cinfo;
    struct jpeg_guard g;
    uint8_t *volatile row = NULL;
    jpeg_guard_init(&cinfo, &g, l);
    if (setjmp(g.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(row);
        WebPPictureFree(pic);
        if (g.timed_out) return fail(reason, rsize, IMAGE_TIMEOUT, "transcode took longer than images.transcode_timeout");
        snprintf(reason, rsize, "cannot decode JPEG: %s", g.message);
        return IMAGE_BAD;
    }
    jpeg_create_decompress(&cinfo);
    cinfo.mem->max_memory_to_use = JPEG_MAX_MEMORY;
    cinfo.progress = &g.progress;
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 14, 32);
    jpeg_read_header(&cinfo, TRUE);
    bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_EXT_BGRA;
    cinfo.scale_num = 1;
    cinfo.scale_denom = (unsigned)jpeg_pick_denominator((int)cinfo.image_width, (int)cinfo.image_height, min_w, min_h);
    cinfo.dct_method = JDCT_ISLOW;
    jpeg_start_decompress(&cinfo);
    if (!picture_alloc(pic, (int)cinfo.output_width, (int)cinfo.output_height)) {
        snprintf(g.message, sizeof g.message, "out of memory");
        longjmp(g.jump, 1);
    }
    if (cmyk && !(row = malloc((size_t)cinfo.output_width * 4))) {
        snprintf(g.message, sizeof g.message, "out of memory");
        longjmp(g.jump, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        uint32_t *dst = pic->argb + (size_t)cinfo.output_scanline * (size_t)pic->argb_stride;
        JSAMPROW rows[1] = {cmyk ? (JSAMPROW)row : (JSAMPROW)dst};
        jpeg_read_scanlines(&cinfo, rows, 1);
        if (cmyk) cmyk_row_to_bgra(row, dst, (int)cinfo.output_width, cinfo.saw_Adobe_marker);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    return IMAGE_OK;
}

/* ---------------------------------------------------------------- PNG */

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* Walks chunk headers up to the first IDAT for what libpng would only report after setting
 * up a full read: animation (acTL), transparency (tRNS) and eXIf. */
static int probe_png(const uint8_t *d, size_t n, struct image_info *info, char *reason, size_t rsize)
{
    if (n < 33 || memcmp(d + 12, "IHDR", 4) != 0 || be32(d + 8) != 13)
        return fail(reason, rsize, IMAGE_BAD, "PNG has no valid IHDR");
    info->width = (int)(be32(d + 16) & 0x7fffffff);
    info->height = (int)(be32(d + 20) & 0x7fffffff);
    int color = d[25];
    info->alpha = color == 4 || color == 6;
    for (size_t off = 8; off + 8 <= n;) {
        uint32_t clen = be32(d + off);
        const uint8_t *type = d + off + 4;
        if (memcmp(type, "IDAT", 4) == 0 || memcmp(type, "IEND", 4) == 0) break;
        if (clen > n - off - 8) break;
        if (memcmp(type, "acTL", 4) == 0) info->animated = true;
        else if (memcmp(type, "tRNS", 4) == 0) info->alpha = true;
        else if (memcmp(type, "eXIf", 4) == 0) info->orientation = image_orient_from_exif(d + off + 8, clen);
        if ((size_t)clen + 12 > n - off) break;
        off += (size_t)clen + 12;
    }
    if (info->width <= 0 || info->height <= 0) return fail(reason, rsize, IMAGE_BAD, "PNG has a zero dimension");
    return IMAGE_OK;
}

/* libpng's simplified API applies every transform (16-bit, palette, gray, tRNS, Adam7) and
 * converts to 8-bit sRGB for us; the header has already been checked against the limits. */
static int decode_png(const uint8_t *data, size_t len, WebPPicture *pic, char *reason, size_t rsize)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, data, len)) {
        snprintf(reason, rsize, "cannot decode PNG: %s", img.message);
        return IMAGE_BAD;
    }
    img.format = PNG_FORMAT_BGRA;
    if (!picture_alloc(pic, (int)img.width, (int)img.height)) {
        png_image_free(&img);
        return fail(reason, rsize, IMAGE_NOMEM, "out of memory");
    }
    if (!png_image_finish_read(&img, NULL, pic->argb, pic->argb_stride * 4, NULL)) {
        snprintf(reason, rsize, "cannot decode PNG: %s", img.message);
        png_image_free(&img);
        WebPPictureFree(pic);
        return IMAGE_BAD;
    }
    png_image_free(&img);
    return IMAGE_OK;
}

/* ---------------------------------------------------------------- WebP */

static int probe_webp(const uint8_t *data, size_t len, struct image_info *info, char *reason, size_t rsize)
{
    WebPBitstreamFeatures f;
    if (WebPGetFeatures(data, len, &f) != VP8_STATUS_OK)
        return fail(reason, rsize, IMAGE_BAD, "cannot read WebP header");
    info->width = f.width;
    info->height = f.height;
    info->alpha = f.has_alpha;
    info->animated = f.has_animation;
    WebPData wd = {data, len};
    WebPDemuxer *dmux = WebPDemux(&wd);
    if (dmux) {
        WebPChunkIterator it;
        if (WebPDemuxGetChunk(dmux, "EXIF", 1, &it)) {
            info->orientation = image_orient_from_exif(it.chunk.bytes, it.chunk.size);
            WebPDemuxReleaseChunkIterator(&it);
        }
        WebPDemuxDelete(dmux);
    }
    return IMAGE_OK;
}

static int decode_webp(const uint8_t *data, size_t len, const struct image_info *info, int min_w, int min_h,
                       WebPPicture *pic, char *reason, size_t rsize)
{
    WebPDecoderConfig config;
    if (!WebPInitDecoderConfig(&config)) return fail(reason, rsize, IMAGE_NOMEM, "libwebp version mismatch");
    int w = info->width, h = info->height;
    if (min_w > 0 && min_h > 0 && min_w < w && min_h < h) {
        /* libwebp's decoder rescales while decoding: the full-size frame never exists. */
        config.options.use_scaling = 1;
        config.options.scaled_width = w = min_w;
        config.options.scaled_height = h = min_h;
    }
    if (!picture_alloc(pic, w, h)) return fail(reason, rsize, IMAGE_NOMEM, "out of memory");
    config.output.colorspace = MODE_BGRA;
    config.output.is_external_memory = 1;
    config.output.u.RGBA.rgba = (uint8_t *)pic->argb;
    config.output.u.RGBA.stride = pic->argb_stride * 4;
    config.output.u.RGBA.size = (size_t)pic->argb_stride * 4 * (size_t)h;
    VP8StatusCode st = WebPDecode(data, len, &config);
    WebPFreeDecBuffer(&config.output);
    if (st != VP8_STATUS_OK) {
        WebPPictureFree(pic);
        snprintf(reason, rsize, "cannot decode WebP (status %d)", (int)st);
        return IMAGE_BAD;
    }
    return IMAGE_OK;
}

/* ---------------------------------------------------------------- AVIF */

static avifDecoder *avif_open(const uint8_t *data, size_t len, const struct image_limits *l, avifResult *res)
{
    avifDecoder *dec = avifDecoderCreate();
    if (!dec) { *res = AVIF_RESULT_OUT_OF_MEMORY; return NULL; }
    dec->maxThreads = 2;
    dec->ignoreXMP = AVIF_TRUE;
    if (l->max_pixels > 0 && l->max_pixels < (int64_t)dec->imageSizeLimit)
        dec->imageSizeLimit = (uint32_t)l->max_pixels;
    *res = avifDecoderSetIOMemory(dec, data, len);
    if (*res == AVIF_RESULT_OK) *res = avifDecoderParse(dec);
    if (*res != AVIF_RESULT_OK) { avifDecoderDestroy(dec); return NULL; }
    return dec;
}

static int probe_avif(const uint8_t *data, size_t len, const struct image_limits *l, struct image_info *info,
                      char *reason, size_t rsize)
{
    avifResult res;
    avifDecoder *dec = avif_open(data, len, l, &res);
    if (!dec) {
        snprintf(reason, rsize, "cannot read AVIF header: %s", avifResultToString(res));
        return IMAGE_BAD;
    }
    info->width = (int)dec->image->width;
    info->height = (int)dec->image->height;
    info->alpha = dec->alphaPresent;
    info->animated = dec->imageCount > 1;
    avifTransformFlags t = dec->image->transformFlags;
    info->orientation = image_orient_from_avif(t & AVIF_TRANSFORM_IROT ? dec->image->irot.angle : -1,
                                               t & AVIF_TRANSFORM_IMIR ? dec->image->imir.mode : -1);
    avifDecoderDestroy(dec);
    return IMAGE_OK;
}

static int decode_avif(const uint8_t *data, size_t len, const struct image_limits *l, WebPPicture *pic,
                       char *reason, size_t rsize)
{
    avifResult res;
    avifDecoder *dec = avif_open(data, len, l, &res);
    if (dec && (res = avifDecoderNextImage(dec)) != AVIF_RESULT_OK) {
        avifDecoderDestroy(dec);
        dec = NULL;
    }
    if (!dec) {
        snprintf(reason, rsize, "cannot decode AVIF: %s", avifResultToString(res));
        return IMAGE_BAD;
    }
    if (!picture_alloc(pic, (int)dec->image->width, (int)dec->image->height)) {
        avifDecoderDestroy(dec);
        return fail(reason, rsize, IMAGE_NOMEM, "out of memory");
    }
    avifRGBImage rgb;
    avifRGBImageSetDefaults(&rgb, dec->image);
    rgb.format = AVIF_RGB_FORMAT_BGRA;
    rgb.depth = 8;
    rgb.pixels = (uint8_t *)pic->argb;
    rgb.rowBytes = (uint32_t)pic->argb_stride * 4;
    res = avifImageYUVToRGB(dec->image, &rgb);
    avifDecoderDestroy(dec);
    if (res != AVIF_RESULT_OK) {
        WebPPictureFree(pic);
        snprintf(reason, rsize, "cannot convert AVIF: %s", avifResultToString(res));
        return IMAGE_BAD;
    }
    return IMAGE_OK;
}

/* ---------------------------------------------------------------- entry points */

int image_probe(const uint8_t *data, size_t len, const struct image_limits *limits, struct image_info *info,
                char *reason, size_t rsize)
{
    memset(info, 0, sizeof *info);
    info->orientation = 1;
    info->format = image_sniff(data, len);
    int st;
    switch (info->format) {
    case IMAGE_FORMAT_JPEG: st = probe_jpeg(data, len, info, reason, rsize); break;
    case IMAGE_FORMAT_PNG: st = probe_png(data, len, info, reason, rsize); break;
    case IMAGE_FORMAT_WEBP: st = probe_webp(data, len, info, reason, rsize); break;
    case IMAGE_FORMAT_AVIF: st = probe_avif(data, len, limits, info, reason, rsize); break;
    case IMAGE_FORMAT_GIF: info->animated = true; return IMAGE_OK; /* passed through, never decoded */
    case IMAGE_FORMAT_SVG: return IMAGE_OK;
    default:
        return fail(reason, rsize, len == 0 ? IMAGE_BAD : IMAGE_UNSUPPORTED,
                    len == 0 ? "source image is empty" : "source is not a supported image (JPEG, PNG, WebP, AVIF, GIF, SVG)");
    }
    if (st != IMAGE_OK) return st;
    if (info->width <= 0 || info->height <= 0) return fail(reason, rsize, IMAGE_BAD, "source image has no pixels");
    if (limits->max_pixels > 0 && (int64_t)info->width * info->height > limits->max_pixels) {
        snprintf(reason, rsize, "source image is %dx%d, more than images.max_source_pixels", info->width, info->height);
        return IMAGE_BAD;
    }
    return IMAGE_OK;
}

int image_decode(const uint8_t *data, size_t len, const struct image_info *info, const struct image_limits *limits,
                 int min_width, int min_height, WebPPicture *pic, char *reason, size_t rsize)
{
    memset(pic, 0, sizeof *pic);
    if (deadline_passed(limits)) return fail(reason, rsize, IMAGE_TIMEOUT, "transcode took longer than images.transcode_timeout");
    switch (info->format) {
    case IMAGE_FORMAT_JPEG: return decode_jpeg(data, len, limits, min_width, min_height, pic, reason, rsize);
    case IMAGE_FORMAT_PNG: return decode_png(data, len, pic, reason, rsize);
    case IMAGE_FORMAT_WEBP: return decode_webp(data, len, info, min_width, min_height, pic, reason, rsize);
    case IMAGE_FORMAT_AVIF: return decode_avif(data, len, limits, pic, reason, rsize);
    default: return fail(reason, rsize, IMAGE_UNSUPPORTED, "source format cannot be resized");
    }
}
