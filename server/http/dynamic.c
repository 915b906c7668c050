/* dynamic — generated bodies. Placeholder until on-the-fly compression lands: identity. */
#include "tessera/http.h"

int reply_send_dynamic(struct http_exchange *ex, struct http_reply *r, const char *content_type,
                       const void *body, size_t len)
{
    reply_header(r, "Content-Type", content_type);
    return reply_send(ex, r, body, len);
}
