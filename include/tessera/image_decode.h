/* image_decode — sniffing, header-only probing and decoding of JPEG (libjpeg-turbo), PNG
 * (libpng), WebP (libwebp) and AVIF (libavif + dav1d) into an ARGB WebPPicture. */
#ifndef TESSERA_IMAGE_DECODE_H
#define TESSERA_IMAGE_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <webp/encode.h>

#include "tessera/image_params.h"

struct image_info {
    enum image_format format;
    int width, height;          /* as stored, before orientation */
    int orientation;            /* EXIF 1..8 */
    bool alpha;
    bool animated;              /* GIF, APNG, animated WebP, AVIF sequence: passed through */
};

struct image_limits {
    int64_t max_pixels;         /* refused from the header, before any pixel is decoded */
    int64_t deadline_us;        /* clock_monotonic_us() bound; 0 = none */
};

/* Status codes returned by probe and decode: 0, or the HTTP status to answer with. */
enum { IMAGE_OK = 0, IMAGE_UNSUPPORTED = 415, IMAGE_BAD = 422, IMAGE_TIMEOUT = 503, IMAGE_NOMEM = 500 };

/* The format from the first bytes (SVG by a leading "<svg" or "<?xml ... <svg"). */
enum image_format image_sniff(const uint8_t *data, size_t len);

/* Reads only headers: size, alpha, animation, orientation. Refuses more than
 * limits->max_pixels. Returns IMAGE_OK or a status with a one-line reason. */
int image_probe(const uint8_t *data, size_t len, const struct image_limits *limits,
                struct image_info *info, char *reason, size_t rsize);

/* Decodes to an ARGB picture (pic initialised by the callee; free with WebPPictureFree).
 * `min_width`/`min_height` let JPEG (DCT scaling) and WebP (scaled decode) shrink on load
 * while keeping at least that size; 0 means full size. info comes from image_probe. */
int image_decode(const uint8_t *data, size_t len, const struct image_info *info,
                 const struct image_limits *limits, int min_width, int min_height,
                 WebPPicture *pic, char *reason, size_t rsize);
#endif
