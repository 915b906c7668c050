/* image_encode — ARGB picture to AVIF (libavif), WebP (libwebp), JPEG (libjpeg-turbo) or
 * PNG (libpng). Encoder choices are measured (docs/PERFORMANCE.md, "## Images"). */
#ifndef TESSERA_IMAGE_ENCODE_H
#define TESSERA_IMAGE_ENCODE_H

#include <stddef.h>
#include <stdint.h>
#include <webp/encode.h>

#include "tessera/image_params.h"

struct image_encode_opts {
    enum image_format format;
    int quality;          /* 1..100 as requested; AVIF maps it like Next.js (q - 20) */
    int avif_speed;       /* 0..10 */
    int webp_method;      /* 0..6 */
    int threads;          /* encoder threads for AVIF */
    int64_t deadline_us;  /* honoured by the WebP encoder's progress hook; 0 = none */
};

/* Encodes pic. On success returns 0 and *out (malloc'd, caller frees) / *out_len.
 * Otherwise an HTTP status (503 deadline, 500) with a reason. JPEG output flattens
 * transparency on white. */
int image_encode(const WebPPicture *pic, const struct image_encode_opts *o, uint8_t **out, size_t *out_len,
                 char *reason, size_t rsize);

/* A short string naming encoder library versions and fixed settings, part of every cache
 * key so an upgrade or a tuning change never serves stale variants. */
void image_encode_fingerprint(char *out, size_t size);
#endif
