/* log — plain stderr lines for errors, stdout lines for access; each written with one
 * fwrite so lines from concurrent workers never interleave. */
#include "tessera/log.h"
#include "tessera/config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int current_level = LOG_LEVEL_INFO; /* set once in main before threads start */

void log_set_level(int level) { current_level = level; }
int log_level(void) { return current_level; }

static void timestamp(char *buf, size_t size)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void log_line(int level, const char *tag, const char *fmt, va_list ap)
{
    if (level > current_level)
        return;
    char line[2048], when[40];
    timestamp(when, sizeof when);
    int n = snprintf(line, sizeof line, "%s %s ", when, tag);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}

#define DEFINE_LOG(fn, level, tag)              \
    void fn(const char *fmt, ...)               \
    {                                           \
        va_list ap;                             \
        va_start(ap, fmt);                      \
        log_line(level, tag, fmt, ap);          \
        va_end(ap);                             \
    }
DEFINE_LOG(log_error, LOG_LEVEL_ERROR, "error")
DEFINE_LOG(log_warn, LOG_LEVEL_WARN, "warn")
DEFINE_LOG(log_info, LOG_LEVEL_INFO, "info")
DEFINE_LOG(log_debug, LOG_LEVEL_DEBUG, "debug")

/* JSON string body without quotes; control characters and quotes escaped. */
static size_t json_escape(char *out, size_t size, const char *s)
{
    size_t n = 0;
    for (; *s && n + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') { out[n++] = '\\'; out[n++] = (char)c; }
        else if (c < 0x20) n += (size_t)snprintf(out + n, size - n, "\\u%04x", c);
        else out[n++] = (char)c;
    }
    out[n] = '\0';
    return n;
}

void log_access(int format, const char *method, const char *path, int status, int64_t bytes, int64_t micros)
{
    if (format == ACCESS_LOG_OFF)
        return;
    char line[2400], when[40];
    timestamp(when, sizeof when);
    int n;
    if (format == ACCESS_LOG_JSON) {
        char esc_path[1100], esc_method[40];
        json_escape(esc_path, sizeof esc_path, path);
        json_escape(esc_method, sizeof esc_method, method);
        n = snprintf(line, sizeof line,
                     "{\"time\":\"%s\",\"method\":\"%s\",\"path\":\"%s\",\"status\":%d,\"bytes\":%lld,\"us\":%lld}\n",
                     when, esc_method, esc_path, status, (long long)bytes, (long long)micros);
    } else {
        n = snprintf(line, sizeof line, "%s %s %.1024s %d %lld %lldus\n", when, method, path, status,
                     (long long)bytes, (long long)micros);
    }
    if (n > 0)
        fwrite(line, 1, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1, stdout);
}
