/* image_transcode — one variant from one source: decode (shrinking on load where the codec
 * can) -> resize -> turn upright -> encode. Shared by the endpoint and `tessera images build`. */
#ifndef TESSERA_IMAGE_TRANSCODE_H
#define TESSERA_IMAGE_TRANSCODE_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/image_decode.h"

struct image_transcode_opts {
    int width;                  /* requested width; never enlarged */
    int quality;
    enum image_format format;   /* output */
    int avif_speed;
    int webp_method;
    int threads;
    struct image_limits limits;
};

struct image_variant {
    uint8_t *data;              /* malloc'd, owned by the caller after success */
    size_t len;
    int width, height;
    enum image_format format;   /* as asked, except WebP too large for WebP (see below) */
};

/* info comes from image_probe on the same bytes. Returns 0 or an HTTP status + reason.
 * WebP holds at most 16383 px a side: such an output comes in the source's own format
 * (PNG for WebP and AVIF sources), as a client without WebP would get it. */
int image_transcode(const uint8_t *src, size_t len, const struct image_info *info,
                    const struct image_transcode_opts *o, struct image_variant *out, char *reason, size_t rsize);

/* The upright output size image_transcode will produce for that info and width. */
void image_transcode_size(const struct image_info *info, int width, int *out_w, int *out_h);
#endif
