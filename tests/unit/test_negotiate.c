/* negotiate: Accept-Encoding per RFC 9110 12.5.3, on the headers browsers, curl, proxies
 * and attackers actually send. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/negotiate.h"

#define BR ENCODING_BR
#define GZ ENCODING_GZIP
#define ID ENCODING_IDENTITY
#define NONE ENCODING_NONE
#define ALL (ENCODING_SET(ENCODING_BR) | ENCODING_SET(ENCODING_GZIP))
#define ONLY_GZ ENCODING_SET(ENCODING_GZIP)
#define ONLY_BR ENCODING_SET(ENCODING_BR)

struct case_ {
    const char *header; /* NULL = absent */
    unsigned available;
    enum encoding want;
};

static const enum encoding br_first[] = {ENCODING_BR, ENCODING_GZIP};

static const struct case_ cases[] = {
    /* absent and empty */
    {NULL, ALL, ID},
    {"", ALL, ID},
    {"   ", ALL, ID},
    /* what clients send */
    {"gzip, deflate, br, zstd", ALL, BR},                 /* Chrome 123+ */
    {"gzip, deflate, br", ALL, BR},                       /* Firefox, Safari 17 */
    {"gzip, deflate", ALL, GZ},                           /* Safari < 17, old Chrome on HTTP */
    {"br;q=1.0, gzip;q=0.8, *;q=0.1", ALL, BR},           /* Firefox-era explicit weights */
    {"gzip", ALL, GZ},                                    /* curl --compressed (no brotli build) */
    {"deflate, gzip, br, zstd", ALL, BR},                 /* curl 8 --compressed */
    {"identity", ALL, ID},                                /* wget, Range-fetching media players */
    {"gzip,deflate", ALL, GZ},                            /* Go net/http, Python requests */
    {"gzip, deflate, br", ONLY_GZ, GZ},                   /* no .br sibling */
    {"gzip, deflate, br", 0, ID},                         /* nothing compressed on offer */
    {"br", ONLY_GZ, ID},
    /* old proxies and odd but valid forms */
    {"x-gzip", ALL, GZ},
    {"X-GZIP;q=0.5", ALL, GZ},
    {"GZIP", ALL, GZ},
    {"Br, GZip", ALL, BR},
    {"gzip;q=1.0, identity; q=0.5, *;q=0", ALL, GZ},      /* RFC 9110 example */
    {"compress, gzip", ALL, GZ},                          /* RFC 9110 example */
    {"*", ALL, BR},
    {"*", ONLY_GZ, GZ},
    {"*", 0, ID},
    {"*;q=0", ALL, NONE},
    {"*;q=0", 0, NONE},
    {"*;q=0, identity", ALL, ID},
    {"*;q=0, gzip", ALL, GZ},
    {"*;q=0.5, br;q=0", ALL, GZ},                         /* * covers only unnamed codings */
    {"identity;q=0", ALL, NONE},                          /* nothing else named: 406 */
    {"identity;q=0", ONLY_GZ, NONE},
    {"identity;q=0, gzip", ALL, GZ},
    {"identity;q=0, *", ONLY_BR, BR},
    {"identity;q=0, *;q=0", ALL, NONE},
    {"deflate", ALL, ID},                                 /* unknown to us: identity */
    {"zstd;q=1, gzip;q=0.1", ALL, GZ},
    /* weights */
    {"gzip;q=0.8, br;q=0.9", ALL, BR},
    {"gzip;q=0.9, br;q=0.8", ALL, GZ},                    /* highest q beats server order */
    {"gzip;q=0.5, br;q=0.5", ALL, BR},                    /* tie: server order */
    {"gzip, br;q=0", ALL, GZ},
    {"br;q=0, gzip;q=0", ALL, ID},
    {"br;q=0.001", ALL, BR},                              /* tiny but positive */
    {"br;q=0.000", ALL, ID},
    {"br;q=1.000", ALL, BR},
    {"br;q=1.", ALL, BR},
    {"br;q=0.5, identity", ALL, ID},                      /* explicit identity ranks by q */
    {"br, identity", ALL, BR},                            /* tie: identity last */
    {"gzip;q=0.2", ALL, GZ},                              /* unnamed identity ranks last */
    {"br;Q=0.7, gzip;q=0.6", ALL, BR},                    /* parameter names are case-insensitive */
    {"br ; q=0.7 , gzip ;q=0.6", ALL, BR},                /* OWS around ';' and ',' */
    {"br;q=0.5;level=3, gzip;q=0.4", ALL, BR},            /* extension parameter skipped */
    {"gzip;q=0, gzip", ALL, ID},                          /* duplicate: the refusal holds */
    /* malformed parts are ignored */
    {";;;", ALL, ID},
    {",,,", ALL, ID},
    {"br;q=1.5", ALL, ID},
    {"br;q=1.5, gzip", ALL, GZ},
    {"br;q=abc", ALL, ID},
    {"br;q=0.0001", ALL, ID},                             /* four decimals: not a qvalue */
    {"br;q=.5, gzip;q=0.1", ALL, GZ},
    {"br;q=-1, gzip", ALL, GZ},
    {"br;q=", ALL, ID},
    {"br;q", ALL, ID},
    {"br q=0.5", ALL, ID},
    {"br;q=0.5x", ALL, ID},
    {"identity;q=zero", ALL, ID},                         /* malformed refusal is no refusal */
    {"*;q=nope, gzip", ALL, GZ},
    {"b r, gzip", ALL, GZ},
    {"br;foo=\"a,b\", gzip;q=0", ALL, BR},                /* a quoted comma stays inside */
    {"\"br\", gzip", ALL, GZ},
    {"br;x=\"unclosed, gzip", ALL, ID},                  /* the quote swallows the rest */
    {"br;x=a b, gzip", ALL, GZ},
    {"gzip\t;\tq=0.3", ALL, GZ},
    {"gzip;;q=0.3", ALL, GZ},
    {"\xff\xfe, br", ALL, BR},
};

Test(negotiate, header_table)
{
    size_t n = sizeof cases / sizeof cases[0];
    cr_assert_geq(n, 40);
    for (size_t i = 0; i < n; i++) {
        const struct case_ *c = &cases[i];
        enum encoding got = negotiate_encoding(c->header, c->available, br_first, 2);
        cr_expect_eq(got, c->want, "Accept-Encoding: %s (available %u): got %s (%d), want %s (%d)",
                     c->header ? c->header : "(absent)", c->available, encoding_name(got), got,
                     encoding_name(c->want), c->want);
    }
}

Test(negotiate, server_order_breaks_ties)
{
    static const enum encoding gzip_first[] = {ENCODING_GZIP, ENCODING_BR};
    cr_assert_eq(negotiate_encoding("br, gzip", ALL, gzip_first, 2), GZ);
    cr_assert_eq(negotiate_encoding("br;q=1, gzip;q=0.9", ALL, gzip_first, 2), BR);
    cr_assert_eq(negotiate_encoding("*", ALL, gzip_first, 2), GZ);
}

Test(negotiate, only_configured_codings_are_offered)
{
    static const enum encoding only_gzip[] = {ENCODING_GZIP};
    cr_assert_eq(negotiate_encoding("br", ALL, only_gzip, 1), ID);
    cr_assert_eq(negotiate_encoding("br, gzip", ALL, only_gzip, 1), GZ);
    cr_assert_eq(negotiate_encoding("gzip, br", ALL, NULL, 0), BR, "NULL order = default br, gzip");
    static const enum encoding none[1] = {ENCODING_BR};
    cr_assert_eq(negotiate_encoding("br, gzip", ALL, none, 0), ID, "empty order = compression off");
}

Test(negotiate, parses_configured_order)
{
    enum encoding order[4];
    cr_assert_eq(negotiate_parse_order("br,gzip", order, 4), 2);
    cr_assert_eq(order[0], BR);
    cr_assert_eq(order[1], GZ);
    cr_assert_eq(negotiate_parse_order(" gzip , br ,gzip", order, 4), 2);
    cr_assert_eq(order[0], GZ);
    cr_assert_eq(order[1], BR);
    cr_assert_eq(negotiate_parse_order("", order, 4), 0);
    cr_assert_eq(negotiate_parse_order(NULL, order, 4), 0);
    cr_assert_eq(negotiate_parse_order("zstd,br", order, 1), 1);
    cr_assert_eq(order[0], BR);
}

Test(negotiate, very_long_headers)
{
    size_t n = 1 << 20;
    char *h = malloc(n + 1);
    cr_assert(h);
    /* a megabyte of unknown codings, then the one we know */
    for (size_t i = 0; i < n; i++)
        h[i] = "zz, "[i % 4];
    memcpy(h + n - 4, "gzip", 4);
    h[n] = '\0';
    cr_assert_eq(negotiate_encoding(h, ALL, br_first, 2), GZ);
    /* one endless token, one endless quoted string, endless separators */
    memset(h, 'a', n);
    cr_assert_eq(negotiate_encoding(h, ALL, br_first, 2), ID);
    h[0] = 'b'; h[1] = 'r'; h[2] = ';'; h[3] = 'x'; h[4] = '=';
    h[5] = '"';
    cr_assert_eq(negotiate_encoding(h, ALL, br_first, 2), ID, "an unclosed quote spoils the element");
    memset(h, ';', n);
    cr_assert_eq(negotiate_encoding(h, ALL, br_first, 2), ID);
    memset(h, ',', n);
    cr_assert_eq(negotiate_encoding(h, ALL, br_first, 2), ID);
    free(h);
}

Test(negotiate, names)
{
    cr_assert_str_eq(encoding_name(BR), "br");
    cr_assert_str_eq(encoding_name(GZ), "gzip");
    cr_assert_str_eq(encoding_name(ID), "identity");
}
