/* cursor: HMAC-SHA256 vectors, round trips, and everything a cursor must refuse. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tessera/cursor.h"

static void hex(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

Test(api_cursor, hmac_sha256_rfc4231_vectors)
{
    unsigned char key[131], mac[32];
    char text[65];
    memset(key, 0x0b, 20);
    cursor_hmac_sha256(key, 20, "Hi There", 8, mac);
    hex(mac, 32, text);
    cr_expect_str_eq(text, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    cursor_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
    hex(mac, 32, text);
    cr_expect_str_eq(text, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    memset(key, 0xaa, 131); /* test case 6: a key longer than the block is hashed first */
    const char *msg = "Test Using Larger Than Block-Size Key - Hash Key First";
    cursor_hmac_sha256(key, 131, msg, strlen(msg), mac);
    hex(mac, 32, text);
    cr_expect_str_eq(text, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static struct cursor_position sample(void)
{
    struct cursor_position p = {.micros = 1795000000123456LL};
    cr_assert(cursor_uuid_parse("123E4567-e89b-12d3-a456-426614174000", p.id));
    return p;
}

Test(api_cursor, round_trip)
{
    struct cursor_key key;
    cursor_key_derive(&key, "secret");
    struct cursor_position p = sample(), q;
    char text[CURSOR_TEXT_MAX];
    cursor_encode(&key, "conversations:archived=false", &p, text);
    cr_expect_eq(strlen(text), 55);
    cr_expect_eq(strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 55);
    cr_assert(cursor_decode(&key, "conversations:archived=false", text, &q));
    cr_expect_eq(q.micros, p.micros);
    cr_expect_eq(memcmp(q.id, p.id, 16), 0);
    /* Negative timestamps (before 1970) survive too. */
    p.micros = -5;
    cursor_encode(&key, "s", &p, text);
    cr_assert(cursor_decode(&key, "s", text, &q));
    cr_expect_eq(q.micros, -5);
}

Test(api_cursor, refuses_tampered_foreign_and_malformed)
{
    struct cursor_key key, other;
    cursor_key_derive(&key, "secret");
    cursor_key_derive(&other, "another secret");
    struct cursor_position p = sample(), q;
    char text[CURSOR_TEXT_MAX];
    cursor_encode(&key, "messages:x", &p, text);
    cr_expect_not(cursor_decode(&key, "messages:y", text, &q), "bound to its list");
    cr_expect_not(cursor_decode(&other, "messages:x", text, &q), "bound to its key");
    for (size_t i = 0; i < strlen(text); i++) {
        char copy[CURSOR_TEXT_MAX];
        strcpy(copy, text);
        copy[i] = copy[i] == 'A' ? 'B' : 'A';
        cr_expect_not(cursor_decode(&key, "messages:x", copy, &q), "flipped char %zu accepted", i);
    }
    char shorter[CURSOR_TEXT_MAX];
    strcpy(shorter, text);
    shorter[54] = '\0';
    cr_expect_not(cursor_decode(&key, "messages:x", shorter, &q));
    char longer[CURSOR_TEXT_MAX + 2];
    snprintf(longer, sizeof longer, "%sA", text);
    cr_expect_not(cursor_decode(&key, "messages:x", longer, &q));
    cr_expect_not(cursor_decode(&key, "messages:x", "", &q));
    cr_expect_not(cursor_decode(&key, "messages:x", NULL, &q));
    char padded[CURSOR_TEXT_MAX];
    strcpy(padded, text);
    padded[10] = '=';
    cr_expect_not(cursor_decode(&key, "messages:x", padded, &q));
}

Test(api_cursor, uuid_parse_and_format)
{
    unsigned char id[16];
    char out[37];
    cr_assert(cursor_uuid_parse("00000000-0000-4000-8000-00000000000F", id));
    cursor_uuid_format(id, out);
    cr_expect_str_eq(out, "00000000-0000-4000-8000-00000000000f");
    const char *bad[] = {"", "00000000-0000-4000-8000-00000000000", "00000000-0000-4000-8000-0000000000000",
                         "000000000000-4000-8000-000000000000f", "00000000-0000-4000-8000-00000000000g",
                         "{00000000-0000-4000-8000-000000000000}", "00000000_0000_4000_8000_000000000000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_not(cursor_uuid_parse(bad[i], id), "%s", bad[i]);
}
