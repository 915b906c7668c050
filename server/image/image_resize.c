/* image_resize — WebPPictureRescale is an area-averaging (box) downscaler with SSE2/NEON
 * paths, and it premultiplies alpha around the scaling; it works on the ARGB picture the
 * decoders fill, so no conversion pass is needed. libyuv's ARGBScale (box filter) would be
 * the alternative, but it ships without pkg-config metadata in Debian 12. */
#include "tessera/image_resize.h"

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

int image_resize(WebPPicture *pic, int w, int h)
{
    if (w == pic->width && h == pic->height) return 0;
    if (w <= 0 || h <= 0 || w > pic->width || h > pic->height) return -1;
    return WebPPictureRescale(pic, w, h) ? 0 : -1;
}
