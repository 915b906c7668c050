/* file_stream — a byte range of an open file written as a response body one chunk at a time,
 * so a large file costs each request one chunk of memory, not the file's size. */
#ifndef TESSERA_FILE_STREAM_H
#define TESSERA_FILE_STREAM_H

#include <stdint.h>

struct http_exchange;

#define FILE_STREAM_CHUNK (64 * 1024)

/* Writes len bytes of fd from offset start, after a head that promised them. A file that ends
 * early (truncated while it is sent) cannot keep that promise: the connection is then closed,
 * so the client sees a short body at once instead of waiting for bytes that never come.
 * Returns 0, or -1 when the file ended early or failed, or the client went away. */
int file_stream_range(struct http_exchange *ex, int fd, int64_t start, int64_t len);

#endif
