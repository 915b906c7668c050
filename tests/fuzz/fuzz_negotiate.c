/* libFuzzer target for negotiate_encoding: any header, any offer, any server order.
 * Checks the invariants, not just the absence of crashes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tessera/negotiate.h"

static int is_compressed(enum encoding e) { return e == ENCODING_BR || e == ENCODING_GZIP; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* first byte: which codings are on offer (bits 0-1) and the server order (bits 2-3) */
    unsigned available = (data[0] & 1 ? ENCODING_SET(ENCODING_BR) : 0) | (data[0] & 2 ? ENCODING_SET(ENCODING_GZIP) : 0);
    static const enum encoding orders[4][2] = {{ENCODING_BR, ENCODING_GZIP}, {ENCODING_GZIP, ENCODING_BR},
                                               {ENCODING_BR, ENCODING_BR}, {ENCODING_GZIP, ENCODING_GZIP}};
    const enum encoding *order = orders[(data[0] >> 2) & 3];
    char *header = malloc(size);
    if (!header)
        return 0;
    memcpy(header, data + 1, size - 1);
    header[size - 1] = '\0';

    enum encoding got = negotiate_encoding(header, available, order, 2);
    if (is_compressed(got) && !((available & ENCODING_SET(got)) && (order[0] == got || order[1] == got)))
        abort(); /* offered something not on offer */
    if (got == ENCODING_NONE && !strcasestr(header, "identity") && !strchr(header, '*'))
        abort(); /* 406 without the header forbidding identity */
    if (got != ENCODING_IDENTITY && got != ENCODING_NONE && !is_compressed(got))
        abort();
    /* the server order only breaks ties between codings */
    static const enum encoding reversed[2] = {ENCODING_GZIP, ENCODING_BR};
    static const enum encoding forward[2] = {ENCODING_BR, ENCODING_GZIP};
    enum encoding a = negotiate_encoding(header, available, forward, 2);
    enum encoding b = negotiate_encoding(header, available, reversed, 2);
    if (a != b && !(is_compressed(a) && is_compressed(b)))
        abort();
    free(header);
    return 0;
}
