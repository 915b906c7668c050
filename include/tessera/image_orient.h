/* image_orient — EXIF orientation (read with libexif) and turning pixels upright. */
#ifndef TESSERA_IMAGE_ORIENT_H
#define TESSERA_IMAGE_ORIENT_H

#include <stddef.h>
#include <stdint.h>
#include <webp/encode.h>

/* Orientation 1..8 from an Exif payload (a JPEG APP1 body "Exif\0\0II*...", a PNG eXIf or
 * WebP EXIF chunk that starts at the TIFF header). 1 when absent or unreadable. */
int image_orient_from_exif(const uint8_t *data, size_t len);

/* The EXIF orientation equivalent to AVIF's irot (angle 0..3, counter-clockwise, or -1)
 * followed by imir (mode 0 top/bottom, 1 left/right, or -1). */
int image_orient_from_avif(int irot_angle, int imir_mode);

/* True when the orientation swaps width and height (5..8). */
int image_orient_swaps_axes(int orientation);

/* Turns an ARGB picture upright. Returns 0, or -1 when out of memory (pic unchanged). */
int image_orient_apply(WebPPicture *pic, int orientation);
#endif
