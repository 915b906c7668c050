/* mime — Content-Type by file extension, and whether a type is worth compressing. Pure. */
#ifndef TESSERA_MIME_H
#define TESSERA_MIME_H

#include <stdbool.h>

/* The Content-Type for a path's extension (case-insensitive), with "; charset=utf-8" on
 * text types; "application/octet-stream" when unknown. Never NULL. */
const char *mime_type_for(const char *path);

/* True when content_type's media type (before any ';') is one of the comma-separated
 * types in list (e.g. compression.types); an entry whose subtype is a star covers the
 * whole top-level type. */
bool mime_type_in_list(const char *content_type, const char *list);
#endif
