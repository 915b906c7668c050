/* api — the /api routes. */
#ifndef TESSERA_API_H
#define TESSERA_API_H

#include "tessera/config.h"
#include "tessera/http.h"

struct api;
struct db_pool;

struct api *api_create(const struct config *cfg, struct db_pool *pool);
void api_free(struct api *api);
/* Every request under /api; unknown routes go to the upstream or are 404. */
int api_handle(struct api *api, struct http_exchange *ex);
void api_metrics(struct api *api, struct strbuf *out);
/* Sends "100 Continue" when an HTTP/1.1 request with a body asks for it: CivetWeb does not,
 * and curl or PHP then hold the body back (curl for 1 s). Call once the request is accepted
 * (authenticated, same origin), just before reading the body: a client answered without it
 * keeps its upload. Not sent for a declared length over max_body (that is a 413 unread). */
void api_expect_continue(struct http_exchange *ex, int64_t max_body);
#endif
