/* compress: gzip and brotli round trips, levels, empty input, bounds, corrupt input. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "tessera/compress.h"

/* Text that compresses like minified JS: repetitive but not trivial. */
static char *sample_text(size_t n)
{
    static const char *const words[] = {"function", "return", "this.", "var ", "=>", "{", "}", "(", ")",
                                        "document", "querySelector", ";", "0x1f", "length", "push"};
    char *s = malloc(n + 1);
    unsigned seed = 12345;
    size_t i = 0;
    while (i < n) {
        seed = seed * 1103515245u + 12345u;
        const char *w = words[(seed >> 16) % 15];
        for (; *w && i < n; w++)
            s[i++] = *w;
    }
    s[n] = '\0';
    return s;
}

static void round_trip(enum encoding enc, int level, int window, const void *data, size_t len)
{
    struct strbuf packed, back;
    strbuf_init(&packed);
    strbuf_init(&back);
    cr_assert_eq(compress_buffer(enc, level, window, data, len, &packed), 0, "%s level %d", encoding_name(enc), level);
    cr_assert_eq(decompress_buffer(enc, packed.data, packed.len, &back), 0);
    cr_assert_eq(back.len, len, "%s level %d: %zu bytes back, want %zu", encoding_name(enc), level, back.len, len);
    if (len)
        cr_assert(memcmp(back.data, data, len) == 0);
    strbuf_free(&packed);
    strbuf_free(&back);
}

Test(compress, gzip_round_trips_every_level)
{
    char *text = sample_text(200000);
    for (int level = 1; level <= 9; level++)
        round_trip(ENCODING_GZIP, level, 0, text, strlen(text));
    free(text);
}

Test(compress, brotli_round_trips_qualities_and_windows)
{
    char *text = sample_text(100000);
    for (int q = 0; q <= 11; q += (q < 5 ? 1 : 3))
        round_trip(ENCODING_BR, q, 0, text, strlen(text));
    round_trip(ENCODING_BR, 11, 24, text, strlen(text));
    round_trip(ENCODING_BR, 5, 10, text, strlen(text));
    free(text);
}

Test(compress, empty_and_binary_input)
{
    round_trip(ENCODING_GZIP, 9, 0, "", 0);
    round_trip(ENCODING_BR, 11, 0, "", 0);
    round_trip(ENCODING_GZIP, 6, 0, NULL, 0);
    round_trip(ENCODING_IDENTITY, 0, 0, "abc", 3);
    unsigned char bin[4096];
    unsigned seed = 7;
    for (size_t i = 0; i < sizeof bin; i++) {
        seed = seed * 1664525u + 1013904223u;
        bin[i] = (unsigned char)(seed >> 24);
    }
    round_trip(ENCODING_GZIP, 9, 0, bin, sizeof bin);
    round_trip(ENCODING_BR, 11, 0, bin, sizeof bin);
}

Test(compress, higher_levels_are_not_larger_on_text)
{
    char *text = sample_text(100000);
    size_t len = strlen(text);
    struct strbuf g1, g9, b5, b11;
    strbuf_init(&g1); strbuf_init(&g9); strbuf_init(&b5); strbuf_init(&b11);
    cr_assert_eq(compress_buffer(ENCODING_GZIP, 1, 0, text, len, &g1), 0);
    cr_assert_eq(compress_buffer(ENCODING_GZIP, 9, 0, text, len, &g9), 0);
    cr_assert_eq(compress_buffer(ENCODING_BR, 5, 0, text, len, &b5), 0);
    cr_assert_eq(compress_buffer(ENCODING_BR, 11, 24, text, len, &b11), 0);
    cr_assert_lt(g9.len, len / 3);
    cr_assert_leq(g9.len, g1.len);
    cr_assert_leq(b11.len, b5.len);
    cr_assert_lt(b11.len, g9.len, "br-11 beats gzip-9 on text");
    strbuf_free(&g1); strbuf_free(&g9); strbuf_free(&b5); strbuf_free(&b11);
    free(text);
}

Test(compress, output_is_a_real_gzip_member)
{
    /* "gzip" in Content-Encoding means the gzip wrapper (RFC 1952), magic 1f 8b */
    struct strbuf out;
    strbuf_init(&out);
    cr_assert_eq(compress_buffer(ENCODING_GZIP, 6, 0, "hello hello hello", 17, &out), 0);
    cr_assert_geq(out.len, 18);
    cr_assert_eq((unsigned char)out.data[0], 0x1f);
    cr_assert_eq((unsigned char)out.data[1], 0x8b);
    /* and zlib's own gzip reader agrees */
    unsigned char plain[64];
    z_stream zs = {0};
    cr_assert_eq(inflateInit2(&zs, 16 + 15), Z_OK);
    zs.next_in = (Bytef *)out.data;
    zs.avail_in = (uInt)out.len;
    zs.next_out = plain;
    zs.avail_out = sizeof plain;
    cr_assert_eq(inflate(&zs, Z_FINISH), Z_STREAM_END);
    cr_assert_eq(zs.total_out, 17);
    inflateEnd(&zs);
    strbuf_free(&out);
}

Test(compress, appends_and_leaves_output_alone_on_failure)
{
    struct strbuf out;
    strbuf_init(&out);
    strbuf_puts(&out, "prefix");
    cr_assert_eq(compress_buffer(ENCODING_BR, 5, 0, "abcabcabc", 9, &out), 0);
    cr_assert(memcmp(out.data, "prefix", 6) == 0);
    size_t before = out.len;
    cr_assert_eq(compress_buffer(ENCODING_BR, 5, 30, "abc", 3, &out), -1, "window out of range");
    cr_assert_eq(compress_buffer(ENCODING_NONE, 5, 0, "abc", 3, &out), -1);
    cr_assert_eq(decompress_buffer(ENCODING_GZIP, "not gzip at all", 15, &out), -1);
    cr_assert_eq(out.len, before);
    strbuf_free(&out);
}

Test(compress, corrupt_and_truncated_input_fail)
{
    char *text = sample_text(50000);
    size_t len = strlen(text);
    for (int e = 0; e < 2; e++) {
        enum encoding enc = e ? ENCODING_BR : ENCODING_GZIP;
        struct strbuf packed, back;
        strbuf_init(&packed);
        strbuf_init(&back);
        cr_assert_eq(compress_buffer(enc, 6, 0, text, len, &packed), 0);
        cr_assert_eq(decompress_buffer(enc, packed.data, packed.len / 2, &back), -1, "%s truncated", encoding_name(enc));
        strbuf_append(&packed, "junk", 4);
        cr_assert_eq(decompress_buffer(enc, packed.data, packed.len, &back), -1, "%s trailing junk", encoding_name(enc));
        packed.len -= 4;
        packed.data[packed.len / 2] ^= 0x55;
        packed.data[packed.len / 2 + 1] ^= 0xaa;
        cr_assert_eq(decompress_buffer(enc, packed.data, packed.len, &back), -1, "%s corrupted", encoding_name(enc));
        strbuf_free(&packed);
        strbuf_free(&back);
    }
    free(text);
}

Test(compress, decoded_size_is_bounded)
{
    /* 8 MiB of zeros packs into a few KiB: a bomb for a small limit */
    size_t len = 8u << 20;
    char *zeros = calloc(1, len);
    for (int e = 0; e < 2; e++) {
        enum encoding enc = e ? ENCODING_BR : ENCODING_GZIP;
        struct strbuf packed, back;
        strbuf_init(&packed);
        strbuf_init(&back);
        cr_assert_eq(compress_buffer(enc, 6, 0, zeros, len, &packed), 0);
        cr_assert_lt(packed.len, 64 * 1024);
        cr_assert_eq(decompress_buffer_bounded(enc, packed.data, packed.len, 1 << 20, &back), -1);
        cr_assert_eq(back.len, 0);
        cr_assert_eq(decompress_buffer_bounded(enc, packed.data, packed.len, len, &back), 0, "exactly the limit is fine");
        cr_assert_eq(back.len, len);
        strbuf_free(&packed);
        strbuf_free(&back);
    }
    free(zeros);
}
