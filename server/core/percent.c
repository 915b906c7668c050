/* percent — percent-decoding shared by the API and image parameter parsers. */
#include "tessera/percent.h"

int percent_hex_value(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int percent_char_at(const char *s, int *width)
{
    if (s[0] == '%' && percent_hex_value((unsigned char)s[1]) >= 0 && percent_hex_value((unsigned char)s[2]) >= 0) {
        *width = 3;
        return percent_hex_value((unsigned char)s[1]) << 4 | percent_hex_value((unsigned char)s[2]);
    }
    *width = 1;
    return (unsigned char)s[0];
}

int percent_decode(const char *s, size_t len, unsigned flags, char *out, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '+' && (flags & PERCENT_PLUS_IS_SPACE)) {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int hi = percent_hex_value((unsigned char)s[i + 1]), lo = percent_hex_value((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = hi * 16 + lo;
            if (c == 0 && !(flags & PERCENT_ALLOW_NUL))
                return -1;
            i += 2;
        }
        if (n + 1 >= size)
            return -1;
        out[n++] = (char)c;
    }
    if (size == 0)
        return -1;
    out[n] = '\0';
    return (int)n;
}
