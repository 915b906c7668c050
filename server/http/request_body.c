/* request_body — bounded body reading for /api and the upstream proxy. */
#include "tessera/request_body.h"

#include <civetweb.h>

int request_body_read(struct http_exchange *ex, size_t max_body, struct strbuf *out)
{
    long long declared = ex->req->content_length;
    if (declared > (long long)max_body)
        return 413;
    char chunk[8192];
    size_t start = out->len;
    for (;;) {
        int n = mg_read(ex->conn, chunk, sizeof chunk);
        if (n < 0)
            return 400;
        if (n == 0)
            break;
        strbuf_append(out, chunk, (size_t)n);
        if (out->len - start > max_body)
            return 413;
    }
    return out->failed ? 500 : 0;
}
