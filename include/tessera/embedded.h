/* embedded — files compiled into the binary (the SQL migrations). */
#ifndef TESSERA_EMBEDDED_H
#define TESSERA_EMBEDDED_H

#include <stddef.h>

struct embedded_file {
    const char *name;            /* base name, e.g. "0000_init.sql" */
    const unsigned char *data;   /* NUL-terminated for convenience; size excludes it */
    size_t size;
};

extern const struct embedded_file migrations_embedded[];
extern const size_t migrations_embedded_count;
#endif
