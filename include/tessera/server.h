/* server — the one context a running tessera owns. No module keeps mutable global state;
 * everything lives here and is reached through http_exchange.srv. */
#ifndef TESSERA_SERVER_H
#define TESSERA_SERVER_H

#include <stdatomic.h>
#include <stdint.h>

#include "tessera/config.h"

struct mg_context;
struct static_files;
struct image_service;
struct db_pool;
struct api;
struct session_gc;

struct server_counters {
    atomic_uint_fast64_t requests;
    atomic_uint_fast64_t by_class[6]; /* 1xx..5xx at 1..5 */
    atomic_uint_fast64_t bytes_sent;
};

struct tessera_server {
    struct config cfg;
    struct mg_context *mg;
    int port;                      /* the bound port, also when 0 was asked for */
    atomic_int stopping;
    struct server_counters counters;
    struct static_files *static_files;
    struct image_service *images;
    struct db_pool *pool;          /* NULL when database.url is empty */
    struct api *api;
    struct session_gc *gc;
};

/* Builds every module from srv->cfg and starts listening. Returns 0 or -1 (logged). */
int server_start(struct tessera_server *srv);
/* Stops accepting, lets in-flight requests finish within cfg.server.grace_ms, frees modules. */
void server_stop(struct tessera_server *srv);
#endif
