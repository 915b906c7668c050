/* libFuzzer target for the compression wrappers: arbitrary bytes as gzip and brotli input
 * (bounded, so a bomb is an error and not an OOM), and round trips of the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/compress.h"

static void round_trip(enum encoding enc, int level, const uint8_t *data, size_t size)
{
    struct strbuf packed, back;
    strbuf_init(&packed);
    strbuf_init(&back);
    if (compress_buffer(enc, level, 0, data, size, &packed) != 0)
        abort();
    if (decompress_buffer(enc, packed.data, packed.len, &back) != 0 || back.len != size ||
        (size && memcmp(back.data, data, size) != 0))
        abort();
    strbuf_free(&packed);
    strbuf_free(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct strbuf out;
    strbuf_init(&out);
    decompress_buffer_bounded(ENCODING_GZIP, data, size, 1 << 20, &out);
    if (out.len > (1 << 20))
        abort();
    strbuf_reset(&out);
    decompress_buffer_bounded(ENCODING_BR, data, size, 1 << 20, &out);
    if (out.len > (1 << 20))
        abort();
    strbuf_free(&out);
    round_trip(ENCODING_GZIP, 1 + (int)(size % 9), data, size);
    round_trip(ENCODING_BR, (int)(size % 6), data, size);
    return 0;
}
