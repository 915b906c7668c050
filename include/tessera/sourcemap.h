/* sourcemap — production policy for source maps. Pure. */
#ifndef TESSERA_SOURCEMAP_H
#define TESSERA_SOURCEMAP_H

#include <stdbool.h>
#include <stddef.h>

/* True for *.map and *.map.br / *.map.gz paths. */
bool sourcemap_is_map_path(const char *path);
/* Length of body once a trailing "//# sourceMappingURL=..." or "/\*# sourceMappingURL=... *\/"
 * line (and trailing whitespace after it) is removed; len when there is none. When several
 * such lines end the body, all of them go. The kept part ends with the code's own newline. */
size_t sourcemap_strip_trailer(const char *body, size_t len);
#endif
