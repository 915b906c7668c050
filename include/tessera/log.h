/* log — error lines to stderr, access lines to stdout.
 * The level is process-wide and set once at start, before any worker thread exists. */
#ifndef TESSERA_LOG_H
#define TESSERA_LOG_H

#include <stdint.h>

void log_set_level(int level); /* enum config_log_level */
int log_level(void);
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One access line: format is enum config_access_log (off writes nothing). */
void log_access(int format, const char *method, const char *path, int status,
                int64_t bytes, int64_t micros);
#endif
