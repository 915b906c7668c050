/* SHA-256 against the FIPS 180-2 appendix examples and a block-boundary split. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tessera/sha256.h"

static void check(const char *msg, size_t len, const char *expect)
{
    char hex[65];
    sha256_hex(msg, len, hex);
    cr_assert_str_eq(hex, expect, "message of %zu bytes", len);
}

Test(sha256, fips_180_2_vectors)
{
    check("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check(two, strlen(two), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    check("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

Test(sha256, one_million_a_fed_in_odd_pieces)
{
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    char chunk[997];
    memset(chunk, 'a', sizeof chunk);
    size_t left = 1000000;
    while (left) {
        size_t n = left < sizeof chunk ? left : sizeof chunk;
        sha256_update(&ctx, chunk, n);
        left -= n;
    }
    unsigned char d[32];
    sha256_final(&ctx, d);
    char hex[65];
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", d[i]);
    cr_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
