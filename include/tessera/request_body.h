/* request_body — reading a request body with a hard size bound. */
#ifndef TESSERA_REQUEST_BODY_H
#define TESSERA_REQUEST_BODY_H

#include <stddef.h>

#include "tessera/http.h"
#include "tessera/strbuf.h"

/* Appends the whole body (CivetWeb undoes chunked framing) to out. Returns 0, 413 when it
 * is (or declares itself) larger than max_body — detected without reading it all —, 400 when
 * the client broke off, 500 when memory ran out. */
int request_body_read(struct http_exchange *ex, size_t max_body, struct strbuf *out);
#endif
