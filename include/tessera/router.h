/* router — CivetWeb's begin_request callback: one prefix match, one handler, one log line. */
#ifndef TESSERA_ROUTER_H
#define TESSERA_ROUTER_H

#include <stdbool.h>

struct mg_connection;

enum route {
    ROUTE_STATIC = 0,
    ROUTE_API,
    ROUTE_IMAGE,
    ROUTE_HEALTHZ,
    ROUTE_READYZ,
    ROUTE_METRICS,
};

/* Pure: which handler owns a raw request path. */
enum route router_match(const char *path);

/* The begin_request callback; returns the status code sent. */
int router_begin_request(struct mg_connection *conn);

/* CivetWeb's http_error callback: answers what CivetWeb refused before begin_request when
 * tessera has a better answer (TRACE: 405 with Allow, 501 under /api); returns 0 when it
 * sent the response, 1 to leave it to CivetWeb. */
int router_http_error(struct mg_connection *conn, int status, const char *message);
#endif
