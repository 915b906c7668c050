/* fuzz_percent — percent_decode on any bytes, with every flag combination and a too-small
 * output as well as a roomy one: it never writes past `size`, and it agrees byte for byte with
 * the plain reference decoder below (which favours clarity over speed). Whatever it decodes
 * comes back unchanged through a full %XX re-encoding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/percent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hex(int c)
{
    const char *digits = "0123456789abcdef0123456789ABCDEF";
    const char *at = c ? strchr(digits, c) : NULL;
    return at ? (int)((at - digits) % 16) : -1;
}

/* The specification as a second implementation: -1 for a short or non-hex escape, an encoded
 * NUL not allowed, or no room for the bytes and the terminating NUL. */
static int reference_decode(const char *s, size_t len, unsigned flags, char *out, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (len - i < 3 || hex((unsigned char)s[i + 1]) < 0 || hex((unsigned char)s[i + 2]) < 0)
                return -1;
            c = hex((unsigned char)s[i + 1]) * 16 + hex((unsigned char)s[i + 2]);
            if (c == 0 && !(flags & PERCENT_ALLOW_NUL))
                return -1;
            i += 2;
        } else if (c == '+' && (flags & PERCENT_PLUS_IS_SPACE)) {
            c = ' ';
        }
        if (n >= size)
            return -1;
        out[n++] = (char)c;
    }
    if (n >= size)
        return -1;
    out[n] = '\0';
    return (int)n;
}

static void check_re_encoding(const char *decoded, size_t n)
{
    static const char digits[] = "0123456789ABCDEF";
    char *encoded = malloc(3 * n + 1), *again = malloc(n + 1);
    if (!encoded || !again)
        abort();
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)decoded[i];
        encoded[3 * i] = '%';
        encoded[3 * i + 1] = digits[c >> 4];
        encoded[3 * i + 2] = digits[c & 15];
    }
    if (percent_decode(encoded, 3 * n, PERCENT_ALLOW_NUL, again, n + 1) != (int)n || memcmp(again, decoded, n) != 0)
        abort();
    free(encoded);
    free(again);
}

static void check_one(const char *s, size_t len, unsigned flags, size_t size)
{
    /* Exactly `size` bytes each, so ASan catches a write past the end. */
    char *out = malloc(size ? size : 1), *expect = malloc(size ? size : 1);
    if (!out || !expect)
        abort();
    int got = percent_decode(s, len, flags, out, size);
    int want = reference_decode(s, len, flags, expect, size);
    if (got != want || (got >= 0 && memcmp(out, expect, (size_t)got + 1) != 0))
        abort();
    /* Without PERCENT_ALLOW_NUL the result is a C string of the returned length. A raw NUL in
     * the input is outside that promise: every caller passes text cut from a C string. */
    if (got >= 0 && !(flags & PERCENT_ALLOW_NUL) && !memchr(s, '\0', len) && strlen(out) != (size_t)got)
        abort();
    if (got >= 0)
        check_re_encoding(out, (size_t)got);
    free(out);
    free(expect);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    /* The first byte chooses the small output size; the rest is the text, not NUL-terminated. */
    size_t small = data[0] % 16;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    for (unsigned flags = 0; flags < 4; flags++) {
        check_one(text, len, flags, len + 1);
        check_one(text, len, flags, small);
    }
    return 0;
}
