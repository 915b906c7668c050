/* negotiate — placeholder until the compression work lands: identity only. */
#include "tessera/negotiate.h"

enum encoding negotiate_encoding(const char *accept_encoding, unsigned available,
                                 const enum encoding *order, int n_order)
{
    (void)accept_encoding; (void)available; (void)order; (void)n_order;
    return ENCODING_IDENTITY;
}

const char *encoding_name(enum encoding e)
{
    return e == ENCODING_BR ? "br" : e == ENCODING_GZIP ? "gzip" : "identity";
}
