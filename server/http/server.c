/* server — module construction and CivetWeb's options. tessera sends every response
 * itself (router_begin_request), so CivetWeb's file serving, listing and CORS are off. */
#include "tessera/server.h"

#include <civetweb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tessera/api.h"
#include "tessera/clock.h"
#include "tessera/db_pool.h"
#include "tessera/image.h"
#include "tessera/log.h"
#include "tessera/migrate.h"
#include "tessera/router.h"
#include "tessera/session_gc.h"
#include "tessera/static_files.h"

static int log_civetweb_message(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    log_warn("civetweb: %s", message);
    return 1;
}

static int build_modules(struct tessera_server *srv)
{
    const struct config *cfg = &srv->cfg;
    srv->static_files = static_files_create(cfg);
    if (!srv->static_files)
        return -1;
    srv->images = image_service_create(cfg);
    if (!srv->images)
        return -1;
    if (cfg->database.url[0]) {
        /* A changed or failing migration stops the start (migrate.h); with migrate_on_start
         * off, so does a schema from a newer tessera or a changed file (read-only check). */
        if (cfg->database.migrate_on_start ? migrate_on_start(cfg) < 0 : migrate_check_on_start(cfg) < 0)
            return -1;
        srv->pool = db_pool_create(cfg);
        if (!srv->pool)
            return -1;
    }
    srv->api = api_create(cfg, srv->pool);
    if (!srv->api)
        return -1;
    return 0;
}

static void free_modules(struct tessera_server *srv)
{
    if (srv->gc) session_gc_stop(srv->gc);
    if (srv->api) api_free(srv->api);
    if (srv->pool) db_pool_free(srv->pool);
    if (srv->images) image_service_free(srv->images);
    if (srv->static_files) static_files_free(srv->static_files);
    srv->gc = NULL;
    srv->api = NULL;
    srv->pool = NULL;
    srv->images = NULL;
    srv->static_files = NULL;
}

int server_start(struct tessera_server *srv)
{
    const struct config *cfg = &srv->cfg;
    if (build_modules(srv) < 0) {
        free_modules(srv);
        return -1;
    }
    char threads[16], request_timeout[24];
    snprintf(threads, sizeof threads, "%lld", (long long)cfg->server.threads);
    snprintf(request_timeout, sizeof request_timeout, "%lld", (long long)cfg->server.request_timeout_ms);
    const char *options[] = {
        "listening_ports", cfg->server.listen,
        "num_threads", threads,
        "request_timeout_ms", request_timeout,
        "keep_alive_timeout_ms", "15000",
        "enable_keep_alive", "yes",
        /* Without TCP_NODELAY every keep-alive response waits for the peer's delayed ACK:
         * measured 1,457 req/s against 17,600 with it. */
        "tcp_nodelay", "1",
        /* Paths are decoded by tessera's own path_resolve, which refuses what decoding hides. */
        "decode_url", "no",
        "enable_directory_listing", "no",
        /* RFC 9112 3.2.2: a server MUST accept the absolute-form ("GET http://host:port/x").
         * CivetWeb takes it only when this check of the host against its digest-auth domain
         * ("mydomain.com") is off; on, it closed the connection without an answer. tessera
         * has no digest auth. The port must still be the one listened on (CivetWeb's rule). */
        "enable_auth_domain_check", "no",
        "access_control_allow_origin", "",
        "listen_backlog", "1024",
        NULL,
    };
    struct mg_callbacks callbacks;
    memset(&callbacks, 0, sizeof callbacks);
    callbacks.begin_request = router_begin_request;
    callbacks.http_error = router_http_error;
    callbacks.log_message = log_civetweb_message;
    srv->mg = mg_start(&callbacks, srv, options);
    if (!srv->mg) {
        log_error("cannot listen on %s", cfg->server.listen);
        free_modules(srv);
        return -1;
    }
    struct mg_server_port ports[4];
    int n = mg_get_server_ports(srv->mg, 4, ports);
    srv->port = n > 0 ? ports[0].port : 0;
    /* The GC starts after the listener: start-up never waits for it. */
    if (srv->pool)
        srv->gc = session_gc_start(cfg, srv->pool);
    return 0;
}

struct stopper {
    struct mg_context *mg;
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    int done;
};

static void *stop_civetweb(void *arg)
{
    struct stopper *st = arg;
    mg_stop(st->mg); /* closes the listener, then waits for in-flight requests */
    pthread_mutex_lock(&st->lock);
    st->done = 1;
    pthread_cond_signal(&st->done_cond);
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

void server_stop(struct tessera_server *srv)
{
    atomic_store(&srv->stopping, 1);
    if (srv->mg) {
        struct stopper *st = calloc(1, sizeof *st);
        if (!st) { /* cannot wait politely; stop directly */
            mg_stop(srv->mg);
        } else {
            st->mg = srv->mg;
            pthread_mutex_init(&st->lock, NULL);
            cond_init_monotonic(&st->done_cond);
            pthread_t thread;
            if (pthread_create(&thread, NULL, stop_civetweb, st) != 0) {
                mg_stop(srv->mg);
                free(st);
            } else {
                struct timespec deadline = clock_deadline_after_us(CLOCK_MONOTONIC, srv->cfg.server.grace_ms * 1000);
                pthread_mutex_lock(&st->lock);
                while (!st->done && pthread_cond_timedwait(&st->done_cond, &st->lock, &deadline) == 0)
                    ;
                int finished = st->done;
                pthread_mutex_unlock(&st->lock);
                if (!finished) {
                    /* CivetWeb's stop (in-flight requests, then its own threads) outlived the
                     * grace period: leave now, as promised. With grace_period = 0 this is
                     * every stop, busy or not, so the line does not claim requests ran. */
                    log_warn("grace period over before the server had stopped; exiting");
                    fflush(stdout);
                    _exit(0);
                }
                pthread_join(thread, NULL);
                free(st);
            }
        }
        srv->mg = NULL;
    }
    free_modules(srv);
}
