/* Session token parsing and hashing: pure functions, no database. */
#include <criterion/criterion.h>
#include <string.h>

#include "tessera/auth.h"
#include "tessera/sha256.h"

#define TOKEN "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

Test(auth_token, from_cookie_among_others)
{
    char tok[65];
    bool by_cookie;
    cr_assert(auth_token_parse("a=1; tessera_session=" TOKEN "; b=2", NULL, tok, &by_cookie));
    cr_assert(by_cookie);
    cr_assert_str_eq(tok, TOKEN);
    cr_assert(auth_token_parse("tessera_session=\"" TOKEN "\"", NULL, tok, &by_cookie), "quoted value");
}

Test(auth_token, bearer_wins_and_is_not_a_cookie)
{
    char tok[65];
    bool by_cookie = true;
    cr_assert(auth_token_parse("tessera_session=" TOKEN, "Bearer " TOKEN, tok, &by_cookie));
    cr_assert_not(by_cookie);
    cr_assert(auth_token_parse(NULL, "bearer  " TOKEN " ", tok, &by_cookie), "scheme is case-insensitive");
}

Test(auth_token, malformed_is_refused)
{
    char tok[65];
    bool by_cookie;
    cr_assert_not(auth_token_parse(NULL, NULL, tok, &by_cookie));
    cr_assert_not(auth_token_parse("tessera_session=abc", NULL, tok, &by_cookie), "too short");
    cr_assert_not(auth_token_parse("tessera_session=" TOKEN "00", NULL, tok, &by_cookie), "too long");
    cr_assert_not(auth_token_parse("xtessera_session=" TOKEN, NULL, tok, &by_cookie), "other cookie name");
    cr_assert_not(auth_token_parse(NULL, "Basic " TOKEN, tok, &by_cookie));
    char bad[] = "Bearer " TOKEN;
    bad[10] = 'g';
    cr_assert_not(auth_token_parse(NULL, bad, tok, &by_cookie), "non-hex");
}

Test(auth_token, hash_is_sha256_of_the_bytes_not_the_hex)
{
    unsigned char bytes[32];
    for (int i = 0; i < 32; i++)
        bytes[i] = (unsigned char)((i % 16) * 0x11);
    char expect[65], got[65];
    sha256_hex(bytes, 32, expect);
    cr_assert(auth_token_hash(TOKEN, got));
    cr_assert_str_eq(got, expect);
    char upper[65];
    strcpy(upper, TOKEN);
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 32);
    cr_assert(auth_token_hash(upper, got));
    cr_assert_str_eq(got, expect, "case does not change the token");
}

Test(auth_token, new_tokens_differ_and_hash_matches)
{
    char t1[65], h1[65], t2[65], h2[65], check[65];
    cr_assert_eq(auth_token_new(t1, h1), 0);
    cr_assert_eq(auth_token_new(t2, h2), 0);
    cr_assert_eq(strlen(t1), 64);
    cr_assert_str_neq(t1, t2);
    cr_assert(auth_token_hash(t1, check));
    cr_assert_str_eq(check, h1);
    cr_assert_str_neq(t1, h1);
}

Test(auth_password, hash_then_verify)
{
    char enc[AUTH_PASSWORD_HASH_MAX];
    cr_assert_eq(auth_password_hash("correct horse", enc, sizeof enc), 0);
    cr_assert(strncmp(enc, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0, "%s", enc);
    cr_assert(auth_password_verify(enc, "correct horse"));
    cr_assert_not(auth_password_verify(enc, "correct horsf"));
    cr_assert_not(auth_password_verify(NULL, "correct horse"), "unknown user never passes");
    cr_assert_not(auth_password_verify("plain-text", "plain-text"), "only argon2id hashes count");
}

Test(auth_email, trimmed_and_lowercased)
{
    char out[64];
    auth_email_normalize("  Alice@Example.COM \t", out, sizeof out);
    cr_assert_str_eq(out, "alice@example.com");
    auth_email_normalize("averyveryverylongaddress@example.com", out, 8);
    cr_assert_str_eq(out, "averyve", "bounded by the buffer");
}

Test(auth_gate, bounds_concurrent_holders)
{
    struct auth_gate *gate = auth_gate_create(2);
    cr_assert_not_null(gate);
    cr_assert(auth_gate_enter(gate, 10));
    cr_assert(auth_gate_enter(gate, 10));
    cr_assert_not(auth_gate_enter(gate, 10), "a third holder must not get in while two hold slots");
    auth_gate_leave(gate);
    cr_assert(auth_gate_enter(gate, 10), "a released slot is free again");
    auth_gate_leave(gate);
    auth_gate_leave(gate);
    auth_gate_free(gate);
}
