/* Several tessera_session cookies in one Cookie header (one per matching path or domain):
 * every well-formed one is a candidate, in order. Pure, no database. */
#include <criterion/criterion.h>
#include <string.h>

#include "tessera/auth.h"

#define T1 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define T2 "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

Test(auth_cookies, every_well_formed_value_in_order)
{
    char tokens[4][65];
    cr_assert_eq(auth_cookie_tokens("tessera_session=" T1 "; a=b; tessera_session=" T2, tokens, 4), 2);
    cr_expect_str_eq(tokens[0], T1);
    cr_expect_str_eq(tokens[1], T2);
}

Test(auth_cookies, malformed_and_repeated_values_are_skipped)
{
    char tokens[4][65];
    cr_assert_eq(auth_cookie_tokens("tessera_session=old; tessera_session=\"" T2 "\"; tessera_session=" T2
                                    "; tessera_session=" T1 "00",
                                    tokens, 4),
                 1);
    cr_expect_str_eq(tokens[0], T2);
    cr_expect_eq(auth_cookie_tokens("tessera_session=; xtessera_session=" T1, tokens, 4), 0);
    cr_expect_eq(auth_cookie_tokens(NULL, tokens, 4), 0);
}

Test(auth_cookies, at_most_max)
{
    char tokens[1][65];
    cr_expect_eq(auth_cookie_tokens("tessera_session=" T1 "; tessera_session=" T2, tokens, 1), 1);
    cr_expect_str_eq(tokens[0], T1);
}

/* auth_token_parse keeps its one-token answer: the first well-formed cookie. */
Test(auth_cookies, single_token_parse_skips_a_malformed_first)
{
    char tok[65];
    bool by_cookie;
    cr_assert(auth_token_parse("tessera_session=old; tessera_session=" T2, NULL, tok, &by_cookie));
    cr_expect_str_eq(tok, T2);
    cr_expect(by_cookie);
}
