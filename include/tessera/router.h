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

/* CivetWeb's http_error callback, for what it refuses before begin_request: answered like
 * any tessera response (headers, access line, metrics), TRACE with 405 and Allow (501 under
 * /api). Returns 0: the response is sent. */
int router_http_error(struct mg_connection *conn, int status, const char *message);
#endif
