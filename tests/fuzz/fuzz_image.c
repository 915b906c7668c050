/* fuzz_image — bytes -> probe -> decode -> resize -> orient -> encode, with small limits so
 * each input stays cheap. The first byte picks the output format and width. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "tessera/image_transcode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const enum image_format formats[] = {IMAGE_FORMAT_WEBP, IMAGE_FORMAT_JPEG, IMAGE_FORMAT_PNG, IMAGE_FORMAT_AVIF};
    uint8_t pick = data[0];
    data++;
    size--;
    struct image_limits limits = {.max_pixels = 1 << 20};
    struct image_info info;
    char reason[200];
    if (image_probe(data, size, &limits, &info, reason, sizeof reason) != 0 || info.animated ||
        info.format == IMAGE_FORMAT_SVG)
        return 0;
    struct image_transcode_opts o = {
        .width = 8 + (pick >> 2) % 64, .quality = 50, .format = formats[pick & 3],
        .avif_speed = 10, .webp_method = 0, .threads = 1, .limits = limits,
    };
    struct image_variant v;
    if (image_transcode(data, size, &info, &o, &v, reason, sizeof reason) == 0) free(v.data);
    return 0;
}
