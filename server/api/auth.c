/* auth — placeholder until session auth lands. */
#include "tessera/auth.h"

bool auth_request_token_hash(const struct http_exchange *ex, char hash_hex[65], bool *by_cookie)
{
    (void)ex;
    hash_hex[0] = '\0';
    *by_cookie = false;
    return false;
}

int auth_routes_handle(struct db_pool *pool, const struct config *cfg, struct http_exchange *ex)
{
    (void)pool; (void)cfg; (void)ex;
    return 0;
}
