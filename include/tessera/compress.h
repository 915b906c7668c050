/* compress — whole-buffer gzip and brotli. Generated bodies are whole buffers too: they are
 * compressed in one call and sent in one write. */
#ifndef TESSERA_COMPRESS_H
#define TESSERA_COMPRESS_H

#include <stddef.h>

#include "tessera/negotiate.h"
#include "tessera/strbuf.h"

/* Compresses in into out (appended). level: gzip 1..9, brotli quality 0..11;
 * window (brotli lgwin 10..24, 0 = default). Returns 0, or -1 with out left as it was. */
int compress_buffer(enum encoding enc, int level, int window, const void *in, size_t len, struct strbuf *out);
/* Decompresses (used by tests and the precompress self-check). Returns 0 or -1. */
int decompress_buffer(enum encoding enc, const void *in, size_t len, struct strbuf *out);
/* The same with a limit on the decoded size (decompress_buffer uses 256 MiB): -1 when the
 * data would decode to more than max_out bytes. On failure out is left as it was. */
int decompress_buffer_bounded(enum encoding enc, const void *in, size_t len, size_t max_out,
                              struct strbuf *out);
#endif
