/* dynamic — generated bodies (API JSON, /metrics, error pages), compressed on the fly.
 * The body is already whole in memory, so it is compressed in one call with the fast
 * settings (compression.brotli_quality, compression.gzip_level) and sent in one write. */
#include "tessera/compress.h"
#include "tessera/http.h"
#include "tessera/mime.h"
#include "tessera/negotiate.h"
#include "tessera/server.h"

#include <string.h>

/* Brotli's window need not exceed the body: a smaller window is less encoder memory per
 * request and the same output. */
static int brotli_window_for(size_t len)
{
    int bits = 10;
    while (bits < 22 && ((size_t)1 << bits) < len)
        bits++;
    return bits;
}

/* A head that already carries Content-Encoding holds bytes coded by someone else (for
 * example a proxied upstream): never code them twice. */
static bool head_has_encoding(const struct http_reply *r)
{
    return r->head.data && strcasestr(r->head.data, "\r\nContent-Encoding:") != NULL;
}

/* Whether this response can vary by Accept-Encoding at all. */
static bool dynamic_compressible(const struct config *cfg, const struct http_reply *r, const char *content_type)
{
    return cfg->compression.enabled && cfg->compression.dynamic && r->status != 204 && r->status != 304 &&
           !head_has_encoding(r) && mime_type_in_list(content_type, cfg->compression.types);
}

/* The coding to use for this request, or ENCODING_IDENTITY. A header that forbids every
 * coding we have still gets identity: replacing an API answer by a 406 would hide it. */
static enum encoding dynamic_choose(const struct http_exchange *ex, const struct config *cfg, size_t len)
{
    if ((int64_t)len < cfg->compression.min_length || len == 0)
        return ENCODING_IDENTITY;
    enum encoding order[2];
    int n = negotiate_parse_order(cfg->compression.encodings, order, 2);
    unsigned available = ENCODING_SET(ENCODING_BR) | ENCODING_SET(ENCODING_GZIP);
    enum encoding e = negotiate_encoding(http_header(ex, "Accept-Encoding"), available, order, n);
    return e == ENCODING_NONE ? ENCODING_IDENTITY : e;
}

int reply_send_dynamic(struct http_exchange *ex, struct http_reply *r, const char *content_type,
                       const void *body, size_t len)
{
    const struct config *cfg = &ex->srv->cfg;
    reply_header(r, "Content-Type", content_type);
    if (!dynamic_compressible(cfg, r, content_type))
        return reply_send(ex, r, body, len);
    /* Vary on identity answers too: a cache must not hand this one to a br client later. */
    reply_vary_accept_encoding(r);
    enum encoding enc = dynamic_choose(ex, cfg, len);
    if (enc == ENCODING_IDENTITY)
        return reply_send(ex, r, body, len);

    struct strbuf coded;
    strbuf_init(&coded);
    int level = enc == ENCODING_BR ? (int)cfg->compression.brotli_quality : (int)cfg->compression.gzip_level;
    int window = enc == ENCODING_BR ? brotli_window_for(len) : 0;
    int rc;
    if (compress_buffer(enc, level, window, body, len, &coded) == 0 && coded.len < len) {
        reply_header(r, "Content-Encoding", encoding_name(enc));
        rc = reply_send(ex, r, coded.data, coded.len);
    } else { /* failed or not smaller: the identity body is the better answer */
        rc = reply_send(ex, r, body, len);
    }
    strbuf_free(&coded);
    return rc;
}
