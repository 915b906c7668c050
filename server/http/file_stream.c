/* file_stream — see include/tessera/file_stream.h. */
#include "tessera/file_stream.h"

#include <civetweb.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "tessera/http.h"

int file_stream_range(struct http_exchange *ex, int fd, int64_t start, int64_t len)
{
    char *buf = malloc(FILE_STREAM_CHUNK);
    int rc = buf ? 0 : -1;
    while (len > 0 && rc == 0) {
        size_t want = len < FILE_STREAM_CHUNK ? (size_t)len : FILE_STREAM_CHUNK;
        ssize_t n = pread(fd, buf, want, (off_t)start);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || http_write(ex, buf, (size_t)n) < 0) rc = -1;
        else { start += n; len -= n; }
    }
    free(buf);
    if (rc < 0) { /* the Content-Length sent cannot be kept: end the connection with it */
        ex->close = true;
        mg_disable_connection_keep_alive(ex->conn);
    }
    return rc;
}
