/* image_resize — downscaling with libswscale's Lanczos-3 (alpha premultiplied while
 * scaling, so transparent edges do not turn dark). Never enlarges. */
#ifndef TESSERA_IMAGE_RESIZE_H
#define TESSERA_IMAGE_RESIZE_H

#include <webp/encode.h>

/* The output size for a `want_w` request on a src_w x src_h (already upright) image:
 * width min(want_w, src_w), height by aspect ratio (rounded, at least 1). */
void image_resize_target(int src_w, int src_h, int want_w, int *out_w, int *out_h);

/* Shrinks pic to w x h on `threads` threads (same pixels for any count). No-op when already
 * that size; refuses to enlarge. 0 or -1. */
int image_resize(WebPPicture *pic, int w, int h, int threads);
#endif
