/* api — placeholder until the API lands. */
#include "tessera/api.h"

#include <stdlib.h>

struct api { int unused; };

struct api *api_create(const struct config *cfg, struct db_pool *pool)
{
    (void)cfg; (void)pool;
    return calloc(1, sizeof(struct api));
}
void api_free(struct api *api) { free(api); }
int api_handle(struct api *api, struct http_exchange *ex)
{
    (void)api;
    return reply_json_error(ex, 404, "not_found", "no such API route", NULL);
}
void api_metrics(struct api *api, struct strbuf *out) { (void)api; (void)out; }
