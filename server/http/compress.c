/* compress — placeholder until the compression work lands. */
#include "tessera/compress.h"

int compress_buffer(enum encoding enc, int level, int window, const void *in, size_t len, struct strbuf *out)
{
    (void)enc; (void)level; (void)window; (void)in; (void)len; (void)out;
    return -1;
}
int decompress_buffer(enum encoding enc, const void *in, size_t len, struct strbuf *out)
{
    (void)enc; (void)in; (void)len; (void)out;
    return -1;
}
