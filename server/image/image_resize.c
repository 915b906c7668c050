/* image_resize — libswscale's Lanczos-3 (SIMD, accurate rounding) on the ARGB picture.
 * Measured against libwebp's area-averaging rescaler (WebPPictureRescale) on a 2560 px
 * photograph shrunk to 1080 px and scored by PSNR against ImageMagick's Lanczos: before
 * encoding, 39.2 dB vs 34.7 dB; after WebP q75, 32.3 dB vs 30.7 dB at similar size and
 * time (docs/PERFORMANCE.md, "## Images"). libyuv's box filter is the same family as the
 * area rescaler and ships without pkg-config metadata in Debian 12.
 * Transparent pictures are premultiplied around the scale so edges do not darken. */
#include "tessera/image_resize.h"

#include <stdbool.h>

#include <libavutil/pixfmt.h>
#include <libswscale/swscale.h>

void image_resize_target(int src_w, int src_h, int want_w, int *out_w, int *out_h)
{
    if (want_w <= 0 || want_w >= src_w) {
        *out_w = src_w;
        *out_h = src_h;
        return;
    }
    *out_w = want_w;
    long long h = ((long long)src_h * want_w + src_w / 2) / src_w;
    *out_h = h < 1 ? 1 : (int)h;
}

static void premultiply(WebPPicture *pic)
{
    for (int y = 0; y < pic->height; y++) {
        uint32_t *row = pic->argb + (size_t)y * (size_t)pic->argb_stride;
        for (int x = 0; x < pic->width; x++) {
            uint32_t p = row[x], a = p >> 24;
            if (a == 255) continue;
            uint32_t r = ((p >> 16) & 0xff) * a / 255, g = ((p >> 8) & 0xff) * a / 255, b = (p & 0xff) * a / 255;
            row[x] = a << 24 | r << 16 | g << 8 | b;
        }
    }
}

static void unpremultiply(WebPPicture *pic)
{
    for (int y = 0; y < pic->height; y++) {
        uint32_t *row = pic->argb + (size_t)y * (size_t)pic->argb_stride;
        for (int x = 0; x < pic->width; x++) {
            uint32_t p = row[x], a = p >> 24;
            if (a == 255) continue;
            if (a == 0) { row[x] = 0; continue; }
            uint32_t r = ((p >> 16) & 0xff) * 255 / a, g = ((p >> 8) & 0xff) * 255 / a, b = (p & 0xff) * 255 / a;
            row[x] = a << 24 | (r > 255 ? 255 : r) << 16 | (g > 255 ? 255 : g) << 8 | (b > 255 ? 255 : b);
        }
    }
}

int image_resize(WebPPicture *pic, int w, int h)
{
    if (w == pic->width && h == pic->height) return 0;
    if (w <= 0 || h <= 0 || w > pic->width || h > pic->height) return -1;
    /* BGRA bytes are the little-endian ARGB words the picture holds. */
    struct SwsContext *ctx = sws_getContext(pic->width, pic->height, AV_PIX_FMT_BGRA, w, h, AV_PIX_FMT_BGRA,
                                            SWS_LANCZOS | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, NULL, NULL, NULL);
    WebPPicture out;
    if (!ctx || !WebPPictureInit(&out)) {
        sws_freeContext(ctx);
        return -1;
    }
    out.use_argb = 1;
    out.width = w;
    out.height = h;
    if (!WebPPictureAlloc(&out)) {
        sws_freeContext(ctx);
        return -1;
    }
    bool alpha = WebPPictureHasTransparency(pic);
    if (alpha) premultiply(pic);
    const uint8_t *src[4] = {(const uint8_t *)pic->argb, NULL, NULL, NULL};
    const int src_stride[4] = {pic->argb_stride * 4, 0, 0, 0};
    uint8_t *dst[4] = {(uint8_t *)out.argb, NULL, NULL, NULL};
    const int dst_stride[4] = {out.argb_stride * 4, 0, 0, 0};
    sws_scale(ctx, src, src_stride, 0, pic->height, dst, dst_stride);
    sws_freeContext(ctx);
    if (alpha) unpremultiply(&out);
    WebPPictureFree(pic);
    *pic = out;
    return 0;
}
