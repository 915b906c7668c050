/* strbuf — a growable byte buffer. An allocation failure sets `failed` and later appends
 * do nothing, so callers check once at the end instead of after every append. */
#ifndef TESSERA_STRBUF_H
#define TESSERA_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
    char *data;   /* always NUL-terminated when not NULL */
    size_t len;
    size_t cap;
    bool failed;
};

void strbuf_init(struct strbuf *sb);
void strbuf_free(struct strbuf *sb);
void strbuf_reset(struct strbuf *sb);
bool strbuf_reserve(struct strbuf *sb, size_t extra);
void strbuf_append(struct strbuf *sb, const void *data, size_t len);
void strbuf_puts(struct strbuf *sb, const char *s);
void strbuf_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the bytes to the caller (who frees them) and leaves sb empty. */
char *strbuf_steal(struct strbuf *sb, size_t *len);
#endif
