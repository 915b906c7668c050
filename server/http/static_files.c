/* static_files — placeholder until the static sender lands: 404 for everything. */
#include "tessera/static_files.h"

#include <stdlib.h>

struct static_files { int unused; };

struct static_files *static_files_create(const struct config *cfg)
{
    (void)cfg;
    return calloc(1, sizeof(struct static_files));
}
void static_files_free(struct static_files *sf) { free(sf); }
int static_files_handle(struct static_files *sf, struct http_exchange *ex)
{
    (void)sf;
    return reply_text(ex, 404, "not found");
}
void static_files_metrics(struct static_files *sf, struct strbuf *out) { (void)sf; (void)out; }
