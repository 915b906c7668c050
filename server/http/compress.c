/* compress — gzip (zlib) and brotli (libbrotli) on whole buffers. Whole buffers, because
 * every caller has the full body in memory and sends it in one write; the output is sized
 * up front from the libraries' bounds so compression is a single call. */
#include "tessera/compress.h"

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <limits.h>
#include <zlib.h>

/* windowBits 15 + 16: a gzip wrapper (header and CRC-32), which is what "gzip" means in
 * Content-Encoding; a raw zlib stream would be "deflate". */
#define GZIP_WINDOW_BITS (15 + 16)
#define DECOMPRESS_DEFAULT_MAX ((size_t)256 << 20)

static int gzip_compress(int level, const unsigned char *in, size_t len, struct strbuf *out)
{
    z_stream zs = {0};
    if (level < 1 || level > 9)
        level = Z_DEFAULT_COMPRESSION;
    if (deflateInit2(&zs, level, Z_DEFLATED, GZIP_WINDOW_BITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    int rc = Z_OK;
    size_t done = 0;
    while (rc == Z_OK) {
        /* zlib counts in uInt: feed and drain in pieces so any size works */
        size_t chunk_in = len - done < UINT_MAX ? len - done : UINT_MAX;
        size_t room = deflateBound(&zs, (uLong)chunk_in) + 64;
        if (room > UINT_MAX)
            room = UINT_MAX;
        if (!strbuf_reserve(out, room)) {
            rc = Z_MEM_ERROR;
            break;
        }
        zs.next_in = (Bytef *)(in + done);
        zs.avail_in = (uInt)chunk_in;
        zs.next_out = (Bytef *)(out->data + out->len);
        zs.avail_out = (uInt)room;
        rc = deflate(&zs, done + chunk_in == len ? Z_FINISH : Z_NO_FLUSH);
        done += chunk_in - zs.avail_in;
        out->len += room - zs.avail_out;
        out->data[out->len] = '\0';
        if (rc == Z_BUF_ERROR) /* no progress possible with this room: grow and retry */
            rc = Z_OK;
    }
    deflateEnd(&zs);
    return rc == Z_STREAM_END ? 0 : -1;
}

static int brotli_compress(int quality, int window, const unsigned char *in, size_t len, struct strbuf *out)
{
    if (quality < BROTLI_MIN_QUALITY || quality > BROTLI_MAX_QUALITY)
        quality = BROTLI_DEFAULT_QUALITY;
    if (window == 0)
        window = BROTLI_DEFAULT_WINDOW;
    if (window < BROTLI_MIN_WINDOW_BITS || window > BROTLI_MAX_WINDOW_BITS)
        return -1;
    size_t room = BrotliEncoderMaxCompressedSize(len);
    if (room == 0 || !strbuf_reserve(out, room))
        return -1;
    size_t produced = room;
    if (!BrotliEncoderCompress(quality, window, BROTLI_MODE_GENERIC, len, in, &produced,
                               (uint8_t *)out->data + out->len))
        return -1;
    out->len += produced;
    out->data[out->len] = '\0';
    return 0;
}

/* A failed call leaves out as it was (its length; a grown capacity is harmless). */
static void restore_on_failure(struct strbuf *out, size_t start, int rc)
{
    if (rc < 0 && !out->failed && out->data) {
        out->len = start;
        out->data[start] = '\0';
    }
}

int compress_buffer(enum encoding enc, int level, int window, const void *in, size_t len, struct strbuf *out)
{
    if (!in && len > 0)
        return -1;
    static const unsigned char empty[1];
    const unsigned char *bytes = in ? in : empty;
    size_t start = out->len;
    int rc = -1;
    switch (enc) {
    case ENCODING_GZIP:
        rc = gzip_compress(level, bytes, len, out);
        break;
    case ENCODING_BR:
        rc = brotli_compress(level, window, bytes, len, out);
        break;
    case ENCODING_IDENTITY:
        strbuf_append(out, bytes, len);
        rc = out->failed ? -1 : 0;
        break;
    default:
        break;
    }
    restore_on_failure(out, start, rc);
    return rc;
}

/* Room to add before the next decoding step: doubles the buffer, capped by the limit. */
static size_t next_room(const struct strbuf *out, size_t start, size_t max_out)
{
    size_t have = out->len - start;
    size_t room = have < 4096 ? 4096 : have;
    if (room > max_out - have)
        room = max_out - have;
    return room > UINT_MAX ? UINT_MAX : room;
}

static int gzip_decompress(const unsigned char *in, size_t len, size_t max_out, struct strbuf *out)
{
    z_stream zs = {0};
    if (inflateInit2(&zs, GZIP_WINDOW_BITS) != Z_OK)
        return -1;
    size_t start = out->len, done = 0;
    int rc = Z_OK;
    while (rc == Z_OK) {
        size_t room = next_room(out, start, max_out);
        size_t chunk_in = len - done < UINT_MAX ? len - done : UINT_MAX;
        if (room == 0 || !strbuf_reserve(out, room))
            break; /* over the bound (a bomb?) or out of memory */
        zs.next_in = (Bytef *)(in + done);
        zs.avail_in = (uInt)chunk_in;
        zs.next_out = (Bytef *)(out->data + out->len);
        zs.avail_out = (uInt)room;
        rc = inflate(&zs, Z_NO_FLUSH);
        done += chunk_in - zs.avail_in;
        out->len += room - zs.avail_out;
        out->data[out->len] = '\0';
        if (rc == Z_BUF_ERROR && zs.avail_out == 0)
            rc = Z_OK; /* output full: grow and continue */
    }
    inflateEnd(&zs);
    /* trailing bytes after the gzip member are not accepted: a variant is one member */
    return rc == Z_STREAM_END && done == len ? 0 : -1;
}

static int brotli_decompress(const unsigned char *in, size_t len, size_t max_out, struct strbuf *out)
{
    BrotliDecoderState *st = BrotliDecoderCreateInstance(NULL, NULL, NULL);
    if (!st)
        return -1;
    size_t start = out->len, avail_in = len;
    const uint8_t *next_in = in;
    BrotliDecoderResult res = BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT;
    while (res == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) {
        size_t room = next_room(out, start, max_out);
        if (room == 0 || !strbuf_reserve(out, room))
            break;
        size_t avail_out = room;
        uint8_t *next_out = (uint8_t *)out->data + out->len;
        res = BrotliDecoderDecompressStream(st, &avail_in, &next_in, &avail_out, &next_out, NULL);
        out->len += room - avail_out;
        out->data[out->len] = '\0';
    }
    BrotliDecoderDestroyInstance(st);
    return res == BROTLI_DECODER_RESULT_SUCCESS && avail_in == 0 ? 0 : -1;
}

int decompress_buffer_bounded(enum encoding enc, const void *in, size_t len, size_t max_out, struct strbuf *out)
{
    if (!in && len > 0)
        return -1;
    static const unsigned char empty[1];
    const unsigned char *bytes = in ? in : empty;
    size_t start = out->len;
    int rc;
    switch (enc) {
    case ENCODING_GZIP:
        rc = gzip_decompress(bytes, len, max_out, out);
        break;
    case ENCODING_BR:
        rc = brotli_decompress(bytes, len, max_out, out);
        break;
    case ENCODING_IDENTITY:
        if (len > max_out)
            return -1;
        strbuf_append(out, bytes, len);
        rc = out->failed ? -1 : 0;
        break;
    default:
        return -1;
    }
    restore_on_failure(out, start, rc);
    return rc;
}

int decompress_buffer(enum encoding enc, const void *in, size_t len, struct strbuf *out)
{
    return decompress_buffer_bounded(enc, in, len, DECOMPRESS_DEFAULT_MAX, out);
}
