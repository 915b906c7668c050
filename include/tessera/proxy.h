/* proxy — forwards the /api routes tessera does not own to [api] upstream = http://HOST:PORT.
 *
 * Method, raw path and query, headers minus hop-by-hop ones, and the body go upstream with
 * X-Forwarded-For (appended), X-Forwarded-Proto and X-Forwarded-Host (set). The response is
 * streamed back: with its Content-Length when it has one, otherwise re-chunked. Connecting,
 * each write of the request, and the response head once the request is sent must each come
 * within api.upstream_timeout (else 504), so a slow client's upload is not counted against
 * the upstream; each later read of the body may wait that long again. Upstream refusing or answering
 * garbage: 502. Every answer carries Cache-Control: no-store, like all of /api. */
#ifndef TESSERA_PROXY_H
#define TESSERA_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tessera/http.h"
#include "tessera/strbuf.h"

struct proxy;

/* upstream: "http://HOST:PORT" (validated by config). NULL on error (logged). */
struct proxy *proxy_create(const char *upstream, int64_t timeout_ms, int64_t max_body);
void proxy_free(struct proxy *proxy);
/* Answers the request; returns the status sent. */
int proxy_forward(struct proxy *proxy, struct http_exchange *ex);
void proxy_metrics(struct proxy *proxy, struct strbuf *out);

/* Pure helpers, unit-tested. */
/* "http://host:port" -> host (without brackets) and port; false when malformed. */
bool proxy_parse_upstream(const char *url, char *host, size_t host_size, char *port, size_t port_size);
/* Hop-by-hop request/response headers (RFC 9110 7.6.1), plus any named in `connection`. */
bool proxy_header_is_hop_by_hop(const char *name, const char *connection);
/* Parses "HTTP/1.x NNN reason" at the start of a response head; returns NNN or -1. */
int proxy_parse_status_line(const char *head, size_t len);
/* False when the raw path has a "." or ".." segment, percent-encoded or not, split by an
 * encoded slash or a backslash, or followed by ";params" (Tomcat): an upstream that normalises it would route elsewhere than
 * tessera did, out of /api or onto a route tessera owns. */
bool proxy_path_is_safe(const char *raw_path);
/* A Host value that is host[:port] (a DNS name, IPv4, or [IPv6]) and nothing more. */
bool proxy_host_is_valid(const char *value);
#endif
