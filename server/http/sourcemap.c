/* sourcemap — placeholder until the source-map policy lands. */
#include "tessera/sourcemap.h"

bool sourcemap_is_map_path(const char *path) { (void)path; return false; }
size_t sourcemap_strip_trailer(const char *body, size_t len) { (void)body; return len; }
