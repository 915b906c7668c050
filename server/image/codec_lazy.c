/* codec_lazy — wrappers with the names of libavif, libswscale and libavutil (the few
 * functions libswscale's frame API needs) that dlopen them on first use (see lazy_lib.h).
 * A function of theirs that tessera starts calling needs its line here, or the link fails.
 * libwebp, libjpeg, libpng and libexif stay linked: they are small and pull in nothing. */
#include "tessera/codec_lazy.h"

#include <avif/avif.h>
#include <libavutil/buffer.h>
#include <libavutil/frame.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include "tessera/lazy_lib.h"

#ifndef LIBAVIF_SONAME
#define LIBAVIF_SONAME "libavif.so.15"
#endif
#ifndef LIBSWSCALE_SONAME
#define LIBSWSCALE_SONAME "libswscale.so.6"
#endif
#ifndef LIBAVUTIL_SONAME
#define LIBAVUTIL_SONAME "libavutil.so.57"
#endif

static struct lazy_lib libavif = LAZY_LIB_INIT(LIBAVIF_SONAME);
static struct lazy_lib libswscale = LAZY_LIB_INIT(LIBSWSCALE_SONAME);
static struct lazy_lib libavutil = LAZY_LIB_INIT(LIBAVUTIL_SONAME);

bool codec_libs_available(const char **why)
{
    struct lazy_lib *const libs[] = {&libavif, &libswscale, &libavutil};
    return lazy_lib_open_all(libs, sizeof libs / sizeof libs[0], why);
}

/* libavif: versions and errors */
LAZY_FUNCTION(libavif, const char *, avifVersion, (void), ())
LAZY_FUNCTION(libavif, const char *, avifCodecName, (avifCodecChoice choice, avifCodecFlags requiredFlags),
              (choice, requiredFlags))
LAZY_FUNCTION(libavif, const char *, avifResultToString, (avifResult result), (result))

/* libavif: images and pixels */
LAZY_FUNCTION(libavif, avifImage *, avifImageCreate,
              (uint32_t width, uint32_t height, uint32_t depth, avifPixelFormat yuvFormat),
              (width, height, depth, yuvFormat))
LAZY_FUNCTION(libavif, avifImage *, avifImageCreateEmpty, (void), ())
LAZY_VOID_FUNCTION(libavif, avifImageDestroy, (avifImage *image), (image))
LAZY_FUNCTION(libavif, avifResult, avifImageRGBToYUV, (avifImage *image, const avifRGBImage *rgb), (image, rgb))
LAZY_FUNCTION(libavif, avifResult, avifImageYUVToRGB, (const avifImage *image, avifRGBImage *rgb), (image, rgb))
LAZY_VOID_FUNCTION(libavif, avifRGBImageSetDefaults, (avifRGBImage *rgb, const avifImage *image), (rgb, image))
LAZY_VOID_FUNCTION(libavif, avifRGBImageAllocatePixels, (avifRGBImage *rgb), (rgb))
LAZY_VOID_FUNCTION(libavif, avifRGBImageFreePixels, (avifRGBImage *rgb), (rgb))
LAZY_VOID_FUNCTION(libavif, avifRWDataFree, (avifRWData *raw), (raw))

/* libavif: decoding (avifDecoderReadMemory and friends: the integration tests decode with them) */
LAZY_FUNCTION(libavif, avifDecoder *, avifDecoderCreate, (void), ())
LAZY_VOID_FUNCTION(libavif, avifDecoderDestroy, (avifDecoder *decoder), (decoder))
LAZY_FUNCTION(libavif, avifResult, avifDecoderSetIOMemory, (avifDecoder *decoder, const uint8_t *data, size_t size),
              (decoder, data, size))
LAZY_FUNCTION(libavif, avifResult, avifDecoderParse, (avifDecoder *decoder), (decoder))
LAZY_FUNCTION(libavif, avifResult, avifDecoderNextImage, (avifDecoder *decoder), (decoder))
LAZY_FUNCTION(libavif, avifResult, avifDecoderReadMemory,
              (avifDecoder *decoder, avifImage *image, const uint8_t *data, size_t size), (decoder, image, data, size))

/* libavif: encoding */
LAZY_FUNCTION(libavif, avifEncoder *, avifEncoderCreate, (void), ())
LAZY_VOID_FUNCTION(libavif, avifEncoderDestroy, (avifEncoder *encoder), (encoder))
LAZY_FUNCTION(libavif, avifResult, avifEncoderWrite, (avifEncoder *encoder, const avifImage *image, avifRWData *output),
              (encoder, image, output))

/* libswscale */
LAZY_VOID_FUNCTION(libswscale, sws_freeContext, (struct SwsContext *swsContext), (swsContext))
LAZY_FUNCTION(libswscale, struct SwsContext *, sws_alloc_context, (void), ())
LAZY_FUNCTION(libswscale, int, sws_init_context, (struct SwsContext *c, SwsFilter *srcFilter, SwsFilter *dstFilter),
              (c, srcFilter, dstFilter))
LAZY_FUNCTION(libswscale, int, sws_scale_frame, (struct SwsContext *c, AVFrame *dst, const AVFrame *src), (c, dst, src))

/* libavutil */
LAZY_FUNCTION(libavutil, AVFrame *, av_frame_alloc, (void), ())
LAZY_VOID_FUNCTION(libavutil, av_frame_free, (AVFrame **frame), (frame))
LAZY_FUNCTION(libavutil, AVBufferRef *, av_buffer_create,
              (uint8_t *data, size_t size, void (*free_fn)(void *opaque, uint8_t *data), void *opaque, int flags),
              (data, size, free_fn, opaque, flags))
LAZY_FUNCTION(libavutil, int, av_opt_set_int, (void *obj, const char *name, int64_t val, int search_flags),
              (obj, name, val, search_flags))
