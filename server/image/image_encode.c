/* image_encode — one function per output format, each a thin setup of its library.
 * AVIF: libaom through libavif (measured with avifenc at one quantizer on a 1080 px photo:
 * rav1e at speed 10 was as fast as aom at 9 but 33 % larger; SVT-AV1 failed to encode), 4:4:4,
 * quantizer from Next.js's quality mapping (q - 20, then the quality-to-quantizer formula of
 * libavif 1.x and libheif, which 0.11 lacks). Speed is images.avif_speed (default 6, what
 * Next.js asks of sharp): at speed 6 the output matches sharp's within 2 % of bytes and
 * 0.08 dB PSNR; speed 8 is 2x faster but 0.3-1.0 dB worse at up to 1.45x the bytes.
 * Measurements: docs/PERFORMANCE.md, "## Images". */
#include "tessera/image_encode.h"

#include <avif/avif.h>
#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/clock.h"
#include "tessera/log.h"

#define AVIF_CODEC AVIF_CODEC_CHOICE_AOM
/* Bumped whenever a fixed encoder setting below changes. */
#define ENCODER_SETTINGS_REV 5

static int fail(char *reason, size_t rsize, int status, const char *text)
{
    snprintf(reason, rsize, "%s", text);
    return status;
}

void image_encode_fingerprint(char *out, size_t size)
{
    snprintf(out, size, "rev%d avif%s/%s webp%x jpeg%d png%s", ENCODER_SETTINGS_REV, avifVersion(),
             avifCodecName(AVIF_CODEC, AVIF_CODEC_FLAG_CAN_ENCODE) ? avifCodecName(AVIF_CODEC, AVIF_CODEC_FLAG_CAN_ENCODE) : "-",
             (unsigned)WebPGetEncoderVersion(), JPEG_LIB_VERSION, PNG_LIBPNG_VER_STRING);
}

/* Next.js asks sharp for AVIF quality q - 20 (AVIF's scale runs lower than JPEG's); libheif
 * under sharp turns that quality into this quantizer (as libavif 1.x does), so at the same
 * speed both sides code the same picture at the same quantizer. */
static int avif_quantizer(int quality)
{
    int q = quality - 20 < 1 ? 1 : quality - 20;
    return ((100 - q) * 63 + 50) / 100;
}

static int encode_avif(const WebPPicture *pic, const struct image_encode_opts *o, bool alpha, uint8_t **out,
                       size_t *out_len, char *reason, size_t rsize)
{
    /* 4:4:4 like sharp: at equal bytes it scored up to 1.4 dB PSNR above 4:2:0 on colourful
     * photographs, and no worse on the others (docs/PERFORMANCE.md). */
    avifImage *img = avifImageCreate((uint32_t)pic->width, (uint32_t)pic->height, 8, AVIF_PIXEL_FORMAT_YUV444);
    avifEncoder *enc = avifEncoderCreate();
    avifRWData output = AVIF_DATA_EMPTY;
    int status = 500;
    if (!img || !enc) goto done;
    img->yuvRange = AVIF_RANGE_FULL;
    img->matrixCoefficients = AVIF_MATRIX_COEFFICIENTS_BT601;
    img->colorPrimaries = AVIF_COLOR_PRIMARIES_BT709;
    img->transferCharacteristics = AVIF_TRANSFER_CHARACTERISTICS_SRGB;
    avifRGBImage rgb;
    avifRGBImageSetDefaults(&rgb, img);
    rgb.format = AVIF_RGB_FORMAT_BGRA;
    rgb.depth = 8;
    rgb.ignoreAlpha = alpha ? AVIF_FALSE : AVIF_TRUE;
    rgb.pixels = (uint8_t *)pic->argb;
    rgb.rowBytes = (uint32_t)pic->argb_stride * 4;
    if (avifImageRGBToYUV(img, &rgb) != AVIF_RESULT_OK) goto done;
    enc->codecChoice = AVIF_CODEC;
    enc->speed = o->avif_speed;
    enc->maxThreads = o->threads > 0 ? o->threads : 1;
    enc->minQuantizer = enc->maxQuantizer = avif_quantizer(o->quality);
    enc->minQuantizerAlpha = enc->maxQuantizerAlpha = avif_quantizer(o->quality);
    enc->autoTiling = AVIF_FALSE;
    avifResult res = avifEncoderWrite(enc, img, &output);
    if (res != AVIF_RESULT_OK) {
        snprintf(reason, rsize, "AVIF encoder failed: %s", avifResultToString(res));
        goto done;
    }
    *out = malloc(output.size);
    if (*out) {
        memcpy(*out, output.data, output.size);
        *out_len = output.size;
        status = 0;
    }
done:
    if (status == 500 && !reason[0]) snprintf(reason, rsize, "AVIF encoder failed");
    avifRWDataFree(&output);
    if (enc) avifEncoderDestroy(enc);
    if (img) avifImageDestroy(img);
    return status;
}

static int webp_progress(int percent, const WebPPicture *pic)
{
    (void)percent;
    const int64_t *deadline = pic->user_data;
    return !(deadline && *deadline > 0 && clock_monotonic_us() > *deadline);
}

static int encode_webp(const WebPPicture *src, const struct image_encode_opts *o, uint8_t **out, size_t *out_len,
                       char *reason, size_t rsize)
{
    WebPConfig config;
    if (!WebPConfigInit(&config)) return fail(reason, rsize, 500, "libwebp version mismatch");
    config.quality = (float)o->quality;
    config.method = o->webp_method;
    config.thread_level = o->threads > 1; /* libwebp overlaps analysis and filtering on 2 threads */
    /* The encoder converts ARGB to YUV itself; a shallow copy keeps src const. */
    WebPPicture pic = *src;
    WebPMemoryWriter writer;
    WebPMemoryWriterInit(&writer);
    pic.writer = WebPMemoryWrite;
    pic.custom_ptr = &writer;
    int64_t deadline = o->deadline_us;
    pic.user_data = &deadline;
    pic.progress_hook = webp_progress;
    int ok = WebPEncode(&config, &pic);
    /* WebPEncode may add YUV planes to the copy; free only what it allocated. */
    if (pic.memory_ != src->memory_) free(pic.memory_);
    if (!ok) {
        WebPMemoryWriterClear(&writer);
        if (pic.error_code == VP8_ENC_ERROR_USER_ABORT)
            return fail(reason, rsize, 503, "transcode took longer than images.transcode_timeout");
        snprintf(reason, rsize, "WebP encoder failed (%d)", (int)pic.error_code);
        return 500;
    }
    *out = writer.mem;
    *out_len = writer.size;
    return 0;
}

/* Alpha over white, as browsers show a transparent image on a white page. */
static void flatten_row(const uint32_t *src, uint8_t *dst, int width)
{
    for (int x = 0; x < width; x++) {
        uint32_t p = src[x];
        unsigned a = p >> 24, inv = 255 - a;
        unsigned r = (p >> 16) & 0xff, g = (p >> 8) & 0xff, b = p & 0xff;
        dst[3 * x + 0] = (uint8_t)((r * a + 255 * inv + 127) / 255);
        dst[3 * x + 1] = (uint8_t)((g * a + 255 * inv + 127) / 255);
        dst[3 * x + 2] = (uint8_t)((b * a + 255 * inv + 127) / 255);
    }
}

struct jpeg_out_guard { struct jpeg_error_mgr pub; jmp_buf jump; };

static void jpeg_out_exit(j_common_ptr cinfo) { longjmp(((struct jpeg_out_guard *)cinfo->err)->jump, 1); }

static int encode_jpeg(const WebPPicture *pic, int quality, uint8_t **out, size_t *out_len, char *reason, size_t rsize)
{
    struct jpeg_compress_struct cinfo;
    struct jpeg_out_guard g;
    unsigned char *volatile mem = NULL;
    unsigned long mem_len = 0;
    uint8_t *volatile row = malloc((size_t)pic->width * 3);
    if (!row) return fail(reason, rsize, 500, "out of memory");
    cinfo.err = jpeg_std_error(&g.pub);
    g.pub.error_exit = jpeg_out_exit;
    if (setjmp(g.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(row);
        free(mem);
        return fail(reason, rsize, 500, "JPEG encoder failed");
    }
    jpeg_create_compress(&cinfo);
    unsigned char *buf = NULL;
    jpeg_mem_dest(&cinfo, &buf, &mem_len);
    cinfo.image_width = (JDIMENSION)pic->width;
    cinfo.image_height = (JDIMENSION)pic->height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    cinfo.optimize_coding = TRUE;
    jpeg_simple_progression(&cinfo);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        flatten_row(pic->argb + (size_t)cinfo.next_scanline * (size_t)pic->argb_stride, row, pic->width);
        JSAMPROW rows[1] = {row};
        jpeg_write_scanlines(&cinfo, rows, 1);
    }
    jpeg_finish_compress(&cinfo);
    mem = buf;
    jpeg_destroy_compress(&cinfo);
    free(row);
    *out = mem;
    *out_len = mem_len;
    return 0;
}

static int encode_png(const WebPPicture *pic, bool alpha, uint8_t **out, size_t *out_len, char *reason, size_t rsize)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)pic->width;
    img.height = (png_uint_32)pic->height;
    img.format = PNG_FORMAT_BGRA;
    const void *pixels = pic->argb;
    png_int_32 stride = pic->argb_stride * 4;
    uint8_t *packed = NULL;
    if (!alpha) { /* an opaque image: three channels, a quarter fewer bytes to deflate */
        packed = malloc((size_t)pic->width * 3 * (size_t)pic->height);
        if (!packed) return fail(reason, rsize, 500, "out of memory");
        for (int y = 0; y < pic->height; y++) {
            const uint32_t *s = pic->argb + (size_t)y * (size_t)pic->argb_stride;
            uint8_t *d = packed + (size_t)y * (size_t)pic->width * 3;
            for (int x = 0; x < pic->width; x++) {
                d[3 * x] = (uint8_t)s[x];
                d[3 * x + 1] = (uint8_t)(s[x] >> 8);
                d[3 * x + 2] = (uint8_t)(s[x] >> 16);
            }
        }
        img.format = PNG_FORMAT_BGR;
        pixels = packed;
        stride = pic->width * 3;
    }
    /* One deflate pass into a buffer that fits even incompressible rows; asking libpng for
     * the size first would compress the image twice. */
    size_t raw = (size_t)pic->height * ((size_t)(stride < 0 ? -stride : stride) + 1);
    png_alloc_size_t size = raw + raw / 100 + 4096;
    uint8_t *mem = malloc(size);
    int ok = mem && png_image_write_to_memory(&img, mem, &size, 0, pixels, stride, NULL);
    if (mem && !ok && img.warning_or_error == 0) { /* did not fit after all: measure, then write */
        free(mem);
        ok = png_image_write_get_memory_size(img, size, 0, pixels, stride, NULL);
        mem = ok ? malloc(size) : NULL;
        if (mem) ok = png_image_write_to_memory(&img, mem, &size, 0, pixels, stride, NULL);
    }
    free(packed);
    if (!ok || !mem) {
        free(mem);
        png_image_free(&img);
        return fail(reason, rsize, 500, "PNG encoder failed");
    }
    *out = mem;
    *out_len = size;
    return 0;
}

int image_encode(const WebPPicture *pic, const struct image_encode_opts *o, uint8_t **out, size_t *out_len,
                 char *reason, size_t rsize)
{
    *out = NULL;
    *out_len = 0;
    if (rsize) reason[0] = '\0';
    bool alpha = WebPPictureHasTransparency(pic);
    switch (o->format) {
    case IMAGE_FORMAT_AVIF: return encode_avif(pic, o, alpha, out, out_len, reason, rsize);
    case IMAGE_FORMAT_WEBP: return encode_webp(pic, o, out, out_len, reason, rsize);
    case IMAGE_FORMAT_JPEG: return encode_jpeg(pic, o->quality, out, out_len, reason, rsize);
    case IMAGE_FORMAT_PNG: return encode_png(pic, alpha, out, out_len, reason, rsize);
    default: return fail(reason, rsize, 500, "no encoder for that format");
    }
}
