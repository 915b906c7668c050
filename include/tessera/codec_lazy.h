/* codec_lazy — libavif (with its AV1 encoders and decoder, libyuv and libstdc++) and
 * libswscale (with libavutil's X11/VA-API/VDPAU dependencies) loaded on first use; see
 * lazy_lib.h. The image modules call those libraries' functions as usual. */
#ifndef TESSERA_CODEC_LAZY_H
#define TESSERA_CODEC_LAZY_H

#include <stdbool.h>

/* Loads the lazily opened codec libraries now. False, with *why set to a one-line reason,
 * when one cannot be loaded: the image service answers 503 instead of aborting. */
bool codec_libs_available(const char **why);
#endif
