/* compress — whole-buffer gzip and brotli, and a streaming form for generated bodies. */
#ifndef TESSERA_COMPRESS_H
#define TESSERA_COMPRESS_H

#include <stddef.h>

#include "tessera/negotiate.h"
#include "tessera/strbuf.h"

/* Compresses in into out (appended). level: gzip 1..9, brotli quality 0..11;
 * window (brotli lgwin 10..24, 0 = default). Returns 0 or -1. */
int compress_buffer(enum encoding enc, int level, int window, const void *in, size_t len, struct strbuf *out);
/* Decompresses (used by tests and the precompress self-check). Returns 0 or -1. */
int decompress_buffer(enum encoding enc, const void *in, size_t len, struct strbuf *out);
#endif
