/* session_gc — deletes expired sessions in batches on a background thread. */
#ifndef TESSERA_SESSION_GC_H
#define TESSERA_SESSION_GC_H

#include "tessera/config.h"
#include "tessera/strbuf.h"

struct session_gc;
struct db_pool;

/* Starts the thread and returns at once; start-up never waits for a pass. */
struct session_gc *session_gc_start(const struct config *cfg, struct db_pool *pool);
void session_gc_stop(struct session_gc *gc);
void session_gc_metrics(struct session_gc *gc, struct strbuf *out);
#endif
