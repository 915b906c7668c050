/* utf8: the boundaries RFC 3629 draws. */
#include <criterion/criterion.h>
#include <string.h>

#include "tessera/utf8.h"

static bool valid(const char *s) { return utf8_valid((const unsigned char *)s, strlen(s)); }

Test(utf8, accepts_every_length_at_its_edges)
{
    cr_expect(valid("plain ascii"));
    cr_expect(valid("\xc2\x80 \xdf\xbf"));                 /* U+0080, U+07FF */
    cr_expect(valid("\xe0\xa0\x80 \xed\x9f\xbf \xef\xbf\xbf")); /* U+0800, U+D7FF, U+FFFF */
    cr_expect(valid("\xf0\x90\x80\x80 \xf4\x8f\xbf\xbf"));     /* U+10000, U+10FFFF */
    cr_expect_eq(utf8_sequence_length((const unsigned char *)"\xe2\x82\xac", 3), 3);
}

Test(utf8, refuses_overlong_surrogates_and_cut_sequences)
{
    cr_expect_not(valid("\xc0\xaf"));         /* overlong '/' */
    cr_expect_not(valid("\xe0\x80\xaf"));     /* overlong '/' */
    cr_expect_not(valid("\xed\xa0\x80"));     /* U+D800 */
    cr_expect_not(valid("\xf4\x90\x80\x80")); /* past U+10FFFF */
    cr_expect_not(valid("\xe9"));             /* Latin-1 'é' */
    cr_expect_not(valid("\xe2\x82"));         /* cut through a character */
    cr_expect_eq(utf8_sequence_length((const unsigned char *)"\xe2\x82\xac", 2), 0);
}
