/* image_transcode — resizing happens before the orientation turn, so the turn touches only
 * the small output; the decoder is asked for a size in the source's own (unturned) axes. */
#include "tessera/image_transcode.h"

#include <stdio.h>
#include <string.h>

#include "tessera/image_encode.h"
#include "tessera/image_orient.h"
#include "tessera/image_resize.h"

void image_transcode_size(const struct image_info *info, int width, int *out_w, int *out_h)
{
    bool swap = image_orient_swaps_axes(info->orientation);
    image_resize_target(swap ? info->height : info->width, swap ? info->width : info->height, width, out_w, out_h);
}

int image_transcode(const uint8_t *src, size_t len, const struct image_info *info,
                    const struct image_transcode_opts *o, struct image_variant *out, char *reason, size_t rsize)
{
    memset(out, 0, sizeof *out);
    int tw, th;
    image_transcode_size(info, o->width, &tw, &th);
    bool swap = image_orient_swaps_axes(info->orientation);
    int sw = swap ? th : tw, sh = swap ? tw : th;
    bool shrinking = sw < info->width;
    WebPPicture pic;
    int st = image_decode(src, len, info, &o->limits, shrinking ? sw : 0, shrinking ? sh : 0, &pic, reason, rsize);
    if (st != 0) return st;
    if (image_resize(&pic, sw, sh, o->threads) != 0 || image_orient_apply(&pic, info->orientation) != 0) {
        WebPPictureFree(&pic);
        snprintf(reason, rsize, "cannot resize (out of memory)");
        return 500;
    }
    /* A long screenshot at w=1080 is over WebP's limit; a 500 would help nobody. */
    out->format = o->format;
    if (o->format == IMAGE_FORMAT_WEBP && (tw > WEBP_MAX_DIMENSION || th > WEBP_MAX_DIMENSION))
        out->format = image_format_choose(NULL, 0, info->format);
    struct image_encode_opts eo = {
        .format = out->format, .quality = o->quality, .avif_speed = o->avif_speed,
        .webp_method = o->webp_method, .threads = o->threads, .deadline_us = o->limits.deadline_us,
    };
    st = image_encode(&pic, &eo, &out->data, &out->len, reason, rsize);
    out->width = pic.width;
    out->height = pic.height;
    WebPPictureFree(&pic);
    return st;
}
