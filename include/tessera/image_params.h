/* image_params — the pure half of the image endpoint: query parsing and validation (as the
 * Next.js optimizer does it), output format choice from Accept, and name helpers.
 * Nothing here touches a file or a socket, so all of it is unit-tested and fuzzable. */
#ifndef TESSERA_IMAGE_PARAMS_H
#define TESSERA_IMAGE_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

#include "tessera/config.h"

enum image_format {
    IMAGE_FORMAT_NONE = 0,
    IMAGE_FORMAT_JPEG,
    IMAGE_FORMAT_PNG,
    IMAGE_FORMAT_WEBP,
    IMAGE_FORMAT_AVIF,
    IMAGE_FORMAT_GIF,
    IMAGE_FORMAT_SVG,
};

#define IMAGE_URL_MAX 3072

struct image_params {
    char path[IMAGE_URL_MAX + 1]; /* decoded, validated path under the root, starts with '/' */
    int width;
    int quality;
};

/* Parses `url`, `w` and `q` from a raw query string. Returns NULL on success, else a
 * one-line reason for a 400. Unknown parameters are ignored. */
const char *image_params_parse(const char *query, const struct config_int_list *widths,
                               const struct config_int_list *qualities, struct image_params *out);

/* Validates and percent-decodes a url path: must start with '/', no `.`/`..` or dot
 * segments, no empty segments, no backslash, NUL, control bytes or encoded '/' '\\'.
 * Returns NULL or a reason. */
const char *image_path_validate(const char *url, char *out, size_t size);

/* "avif,webp" -> a bit set of (1u << IMAGE_FORMAT_x). Unknown words are skipped. */
unsigned image_formats_parse(const char *list);

/* AVIF when offered and Accept names image/avif, else WebP when offered and named, else
 * the source format. Wildcards do not count; a q=0 entry is a refusal. */
enum image_format image_format_choose(const char *accept, unsigned offered, enum image_format source);

const char *image_format_mime(enum image_format f);
/* The format image_format_mime names that way, or IMAGE_FORMAT_NONE. */
enum image_format image_format_from_mime(const char *mime);
const char *image_format_ext(enum image_format f);   /* "jpg", "png", ... */
const char *image_format_name(enum image_format f);  /* "jpeg", "png", ... for logs and keys */

/* True when the file name carries a content hash (name.3f9a2b1c.jpg, name-Ab3dE5fG.png),
 * so the variant can be cached as immutable. */
bool image_name_is_hashed(const char *path);

/* The last path segment without its extension, reduced to [A-Za-z0-9._-], plus `.ext`. */
void image_safe_filename(const char *path, enum image_format f, char *out, size_t size);

/* True when If-None-Match (a list, or "*") matches the strong etag (quoted). */
bool image_etag_matches(const char *if_none_match, const char *etag);
#endif
