/* harness — starts a real `tessera serve` on an ephemeral loopback port, talks HTTP to it
 * with libcurl, and hands out fresh databases on the private test PostgreSQL. */
#ifndef TESSERA_TEST_HARNESS_H
#define TESSERA_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct test_server {
    pid_t pid;
    int port;
    char base_url[64];   /* "http://127.0.0.1:PORT" */
    char dir[256];       /* private temp directory: config, logs */
    char stdout_path[300];
    char stderr_path[300];
};

/* Writes ini_text (may be NULL) to a temp config and runs
 * `tessera serve --config it --listen 127.0.0.1:0 [extra_args...]`. extra_args ends with NULL
 * (may itself be NULL). Waits until the port is announced. Returns 0 or -1. */
int test_server_start(struct test_server *ts, const char *ini_text, const char *const extra_args[]);
/* SIGTERM, then waits; returns the exit status (or -1). Removes the temp directory. */
int test_server_stop(struct test_server *ts);
/* The server's stderr so far (malloc'd), for assertions on log lines. */
char *test_server_stderr(const struct test_server *ts);

/* Runs the tessera binary with args (NULL-terminated) and optional stdin text.
 * Captures stdout and stderr (malloc'd, may be NULL). Returns the exit status, -1 on error. */
int test_run_tessera(const char *const args[], const char *stdin_text, char **out, char **err);

/* Starts the tessera binary with args (NULL-terminated) in the background: stdin and stdout
 * on /dev/null, stderr into stderr_path. The caller waits for the pid. */
pid_t test_spawn_tessera(const char *const args[], const char *stderr_path);

/* A TCP connection to 127.0.0.1:port whose reads give up after timeout_s (0: never). */
int test_connect(int port, int timeout_s);
/* Reads until the peer closes, the read times out or buf is full; NUL-terminates; the length. */
size_t test_read_all(int fd, char *buf, size_t size);

struct http_result {
    long status;
    char *headers;      /* raw header block of the final response */
    char *body;
    size_t body_len;
};

/* headers: NULL-terminated list of "Name: value" strings, may be NULL. */
int http_do(const char *method, const char *url, const char *const headers[], const void *body,
            size_t body_len, struct http_result *out);
int http_get(const char *url, const char *const headers[], struct http_result *out);
/* The value of a response header (case-insensitive name) copied into buf; NULL if absent. */
const char *http_header_value(const struct http_result *r, const char *name, char *buf, size_t size);
void http_result_free(struct http_result *r);

/* Path of a file under the source tree (TESSERA_SOURCE_DIR or "."): static buffer per call. */
const char *test_source_path(const char *relative, char *buf, size_t size);

/* A fresh, empty database on the test PostgreSQL; returns its libpq URL (malloc'd). */
char *test_db_create(void);
/* The first column of the first row of sql run on url ("" when no row), malloc'd.
 * Fails the current test when the connection or the statement fails. */
char *test_db_scalar(const char *url, const char *sql);

struct db_pool;
/* The pid of the backend behind the pool's only connection (pool_max 1), for tests that
 * freeze it with SIGSTOP in place of a server that stopped answering. Only a local process
 * may be signalled: the current test is skipped unless the connection came over a Unix socket
 * and the pid is a postgres process. */
pid_t test_db_freezable_backend(struct db_pool *pool);
/* The backend of the tessera connection (application_name 'tessera') waiting on a lock in the
 * database at url, awaited for up to 10 s; the same skip as test_db_freezable_backend. */
pid_t test_db_lock_waiter(const char *url);

/* CLOCK_MONOTONIC in milliseconds, for tests that bound how long something took. */
double test_now_ms(void);

/* Debian's PgBouncer in transaction mode in front of the database at db_url (a
 * postgresql:///NAME?host=SOCKET URL), on a Unix socket in a temp directory of its own; as
 * root it runs as postgres (it refuses root). extra_ini: more lines for its [pgbouncer]
 * section (pool sizes, ignore_startup_parameters, server_login_retry), may be NULL. Skips the
 * test when pgbouncer is not installed. url is the same database through it. */
struct test_bouncer {
    pid_t pid;
    char dir[64];
    char url[512];
};
void test_bouncer_start(struct test_bouncer *b, const char *db_url, const char *extra_ini);
void test_bouncer_stop(struct test_bouncer *b);

/* The admin URL of the test cluster (TESSERA_TEST_PG_URL), or NULL. */
const char *test_pg_url(void);
#endif
