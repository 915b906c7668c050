/* db_pool — placeholder until the pool lands: always unavailable. */
#include "tessera/db_pool.h"

#include <stdlib.h>

struct db_pool { int unused; };

struct db_pool *db_pool_create(const struct config *cfg)
{
    (void)cfg;
    return calloc(1, sizeof(struct db_pool));
}
void db_pool_free(struct db_pool *pool) { free(pool); }
void db_pool_metrics(struct db_pool *pool, struct strbuf *out) { (void)pool; (void)out; }
enum db_status db_query(struct db_pool *pool, const struct db_statement *stmt, const char *const *values,
                        PGresult **result)
{
    (void)pool; (void)stmt; (void)values;
    *result = NULL;
    return DB_UNAVAILABLE;
}
enum db_status db_pool_acquire(struct db_pool *pool, struct db_conn **conn)
{
    (void)pool;
    *conn = NULL;
    return DB_UNAVAILABLE;
}
PGconn *db_conn_pg(struct db_conn *conn) { (void)conn; return NULL; }
void db_pool_release(struct db_pool *pool, struct db_conn *conn) { (void)pool; (void)conn; }
unsigned long long db_pool_statements_sent(struct db_pool *pool) { (void)pool; return 0; }
