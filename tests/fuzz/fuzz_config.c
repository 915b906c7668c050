/* fuzz_config — operator input, two ways. The bytes as the value of every key in the table
 * (durations, sizes, booleans, enums, number and word lists, listen, upstream, database url):
 * config_set either stores a value within the key's bounds or says "origin:line: key: why".
 * The bytes as a whole INI file (a memfd, no disk): config_load never crashes or leaks, and
 * fails exactly when it printed something, every line being "file:line: ..." with a line
 * that exists in the file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tessera/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A few fields whose bounds the table fixes, checked after every accepted value. */
static void check_bounds(const struct config *cfg)
{
    const struct config_int_list *lists[] = {&cfg->images.widths, &cfg->images.qualities};
    const int64_t list_max[] = {16384, 100};
    for (int l = 0; l < 2; l++) {
        if (lists[l]->count < 1 || lists[l]->count > CONFIG_LIST_MAX)
            abort();
        for (int i = 0; i < lists[l]->count; i++)
            if (lists[l]->values[i] < 1 || lists[l]->values[i] > list_max[l])
                abort();
    }
    if (cfg->server.threads < 1 || cfg->server.threads > 1024 || cfg->static_files.max_age_s < 0 ||
        cfg->static_files.max_age_s > 365 * 86400 || cfg->api.max_body < 1024 || cfg->api.max_body > 64 << 20 ||
        cfg->server.request_timeout_ms < 100 || cfg->log.level < LOG_LEVEL_ERROR || cfg->log.level > LOG_LEVEL_DEBUG)
        abort();
    if (strspn(cfg->compression.encodings, "brgzip, ") != strlen(cfg->compression.encodings))
        abort();
}

/* 0 when out holds only lines "<origin>:<line>: ..." with 1 <= line <= max_line (0 allowed
 * for origins that have no lines, such as the environment), -1 otherwise. */
static int check_error_lines(const char *out, const char *origin, long max_line)
{
    size_t origin_len = strlen(origin);
    for (const char *line = out; *line;) {
        const char *end = strchr(line, '\n');
        if (!end)
            return -1;
        if (strncmp(line, "env ", 4) != 0) {
            if (strncmp(line, origin, origin_len) != 0 || line[origin_len] != ':')
                return -1;
            char *after;
            long n = strtol(line + origin_len + 1, &after, 10);
            if (after == line + origin_len + 1 || *after != ':' || n < 1 || n > max_line)
                return -1;
        }
        line = end + 1;
    }
    return 0;
}

static void check_values(const char *value)
{
    struct config cfg;
    if (config_load(&cfg, NULL, NULL, NULL) != 0)
        abort();
    char *out = NULL;
    size_t out_len = 0, before = 0;
    FILE *err = open_memstream(&out, &out_len);
    if (!err)
        abort();
    const char *name;
    for (size_t i = 0; (name = config_key_name(i, NULL)); i++) {
        char section[64];
        const char *dot = strchr(name, '.');
        snprintf(section, sizeof section, "%.*s", (int)(dot - name), name);
        int rc = config_set(&cfg, section, dot + 1, value, "fuzz", 7, err);
        fflush(err);
        /* Accepted in silence, or refused with one "origin:line: key: ..." line. */
        if ((rc == 0) != (out_len == before) || (rc != 0 && strncmp(out + before, "fuzz:7: ", 8) != 0) ||
            (rc != 0 && out[out_len - 1] != '\n'))
            abort();
        before = out_len;
    }
    fclose(err);
    free(out);
    check_bounds(&cfg);
    config_free(&cfg);
}

static void check_file(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz.ini", 0);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size)
        abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    long lines = 1;
    for (size_t i = 0; i + 1 < size; i++)
        lines += data[i] == '\n';
    char *out = NULL;
    size_t out_len = 0;
    FILE *err = open_memstream(&out, &out_len);
    if (!err)
        abort();
    struct config cfg;
    int rc = config_load(&cfg, path, NULL, err);
    fclose(err);
    if ((rc == 0) != (out_len == 0) || check_error_lines(out, path, lines) != 0)
        abort();
    if (rc == 0)
        check_bounds(&cfg);
    free(out);
    config_free(&cfg);
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *value = malloc(size + 1);
    if (!value)
        abort();
    memcpy(value, data, size);
    value[size] = '\0';
    check_values(value);
    free(value);
    check_file(data, size);
    return 0;
}
