/* http — one request as handlers see it, and the response builder that sends the status
 * line, headers and body in ONE mg_write (measured: twice the rate of header-then-body). */
#ifndef TESSERA_HTTP_H
#define TESSERA_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tessera/strbuf.h"

struct mg_connection;
struct mg_request_info;
struct tessera_server;

struct http_exchange {
    struct mg_connection *conn;
    const struct mg_request_info *req;
    struct tessera_server *srv;
    const char *method;
    const char *path;      /* raw, still percent-encoded, without the query */
    const char *query;     /* raw query string or NULL */
    bool head;             /* HEAD: the same headers as GET, no body */
    bool close;            /* the connection ends after this response */
    bool http10;           /* an HTTP/1.0 request: a kept connection says keep-alive */
    int status;            /* set by the reply functions, for the access log and metrics */
    int64_t bytes;         /* body bytes sent */
};

/* A request header, or NULL. */
const char *http_header(const struct http_exchange *ex, const char *name);
/* Is token one of the comma- or space-separated tokens of list (Connection, Transfer-Encoding),
 * case-insensitively? list may be NULL. */
bool http_list_has_token(const char *list, const char *token);

struct http_reply {
    struct strbuf head;
    int status;
    bool varies_by_encoding;  /* "Vary: Accept-Encoding" is in head */
};

/* Starts the status line, Date, and the headers every response carries
 * (nosniff, Referrer-Policy, and CSP/HSTS when configured). */
void reply_start(struct http_reply *r, struct http_exchange *ex, int status);
void reply_header(struct http_reply *r, const char *name, const char *value);
/* Adds "Vary: Accept-Encoding" unless the head has it already: a static page and the
 * dynamic compression below it may both ask for it. */
void reply_vary_accept_encoding(struct http_reply *r);
void reply_headerf(struct http_reply *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adds Content-Length and sends head + body (no body for HEAD or 304) in one write.
 * Frees r. Returns 0, or -1 when the client went away. */
int reply_send(struct http_exchange *ex, struct http_reply *r, const void *body, size_t len);
/* reply_send in two steps, for a response kept and sent again: reply_seal completes r->head
 * into the whole response (Content-Length, blank line, body unless HEAD/204/304) and returns
 * the body bytes it holds; reply_send_sealed writes such bytes. 0, or -1 on a lost client. */
size_t reply_seal(struct http_exchange *ex, struct http_reply *r, const void *body, size_t len);
int reply_send_sealed(struct http_exchange *ex, int status, const char *data, size_t len, size_t body_len);
/* Sends only the header block with the given Content-Length; the caller streams the body
 * (http_write) itself. Frees r. */
int reply_send_head(struct http_exchange *ex, struct http_reply *r, int64_t content_length);
int http_write(struct http_exchange *ex, const void *data, size_t len);

/* A generated body (API JSON, error pages): compressed on the fly when the client accepts
 * it and the body is over compression.min_length; adds Vary and Content-Encoding. */
int reply_send_dynamic(struct http_exchange *ex, struct http_reply *r, const char *content_type,
                       const void *body, size_t len);

/* Short forms. */
/* 405 with Allow (RFC 9110 15.5.6 says which methods) and a plain one-line body. */
int reply_method_not_allowed(struct http_exchange *ex, const char *allow);
int reply_text(struct http_exchange *ex, int status, const char *text);   /* text/plain line */
int reply_json(struct http_exchange *ex, int status, const char *json, size_t len); /* no-store */
/* {"error":{"code":..,"message":..,"field":..}}; field may be NULL. Adds Cache-Control: no-store. */
int reply_json_error(struct http_exchange *ex, int status, const char *code, const char *message,
                     const char *field);

/* The current Date header value, formatted once per second per thread. */
const char *http_date_now(void);
void http_date_format(int64_t unix_seconds, char out[32]);
/* Parses an IMF-fixdate; returns -1 when malformed. */
int64_t http_date_parse(const char *s);
#endif
