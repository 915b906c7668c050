/* fuzz_image_params — any query string and Accept header: parsing never crashes, and an
 * accepted url path is always rooted, with no dot segment, backslash or NUL. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/image_params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    static const struct config_int_list widths = {.count = 2, .values = {64, 640}};
    static const struct config_int_list qualities = {.count = 1, .values = {75}};
    struct image_params p;
    if (image_params_parse(text, &widths, &qualities, &p) == NULL) {
        if (p.path[0] != '/' || strstr(p.path, "/.") || strchr(p.path, '\\') || strstr(p.path, "//"))
            abort();
    }
    image_format_choose(text, image_formats_parse("avif,webp"), IMAGE_FORMAT_JPEG);
    image_etag_matches(text, "\"abc\"");
    char name[64];
    image_safe_filename(text, IMAGE_FORMAT_WEBP, name, sizeof name);
    free(text);
    return 0;
}
