/* harness — real processes, real sockets, real PostgreSQL; nothing mocked. */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tessera/db_pool.h"

static const char *tessera_bin(void)
{
    const char *bin = getenv("TESSERA_BIN");
    return bin ? bin : "build/tessera";
}

/* argv for execv: the binary, then args (NULL-terminated), at most 62 of them. */
static void tessera_argv(const char *const args[], const char *argv[64])
{
    int argc = 0;
    argv[argc++] = tessera_bin();
    for (int i = 0; args && args[i] && argc < 63; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
}

const char *test_source_path(const char *relative, char *buf, size_t size)
{
    const char *top = getenv("TESSERA_SOURCE_DIR");
    snprintf(buf, size, "%s/%s", top ? top : ".", relative);
    return buf;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)n + 1);
    if (data) {
        size_t got = fread(data, 1, (size_t)n, f);
        data[got] = '\0';
    }
    fclose(f);
    return data;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int test_server_start(struct test_server *ts, const char *ini_text, const char *const extra_args[])
{
    memset(ts, 0, sizeof *ts);
    snprintf(ts->dir, sizeof ts->dir, "/tmp/tessera-it-XXXXXX");
    if (!mkdtemp(ts->dir))
        return -1;
    char config_path[300];
    snprintf(config_path, sizeof config_path, "%s/test.ini", ts->dir);
    FILE *f = fopen(config_path, "w");
    if (!f)
        return -1;
    fputs(ini_text ? ini_text : "", f);
    fclose(f);
    snprintf(ts->stdout_path, sizeof ts->stdout_path, "%s/stdout", ts->dir);
    snprintf(ts->stderr_path, sizeof ts->stderr_path, "%s/stderr", ts->dir);

    const char *argv[64] = {tessera_bin(), "serve", "--config", config_path, "--listen", "127.0.0.1:0"};
    int argc = 6;
    for (int i = 0; extra_args && extra_args[i] && argc < 62; i++)
        argv[argc++] = extra_args[i];
    argv[argc] = NULL;

    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int out = open(ts->stdout_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = open(ts->stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(out, 1);
        dup2(err, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    ts->pid = pid;
    for (int waited = 0; waited < 15000; waited += 10) {
        char *text = read_file(ts->stdout_path);
        const char *at = text ? strstr(text, "listening on http://127.0.0.1:") : NULL;
        if (at) {
            ts->port = atoi(at + strlen("listening on http://127.0.0.1:"));
            free(text);
            snprintf(ts->base_url, sizeof ts->base_url, "http://127.0.0.1:%d", ts->port);
            return 0;
        }
        free(text);
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            ts->pid = 0;
            char *err = read_file(ts->stderr_path);
            fprintf(stderr, "tessera exited before listening: %s\n", err ? err : "");
            free(err);
            return -1;
        }
        sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    ts->pid = 0;
    return -1;
}

char *test_server_stderr(const struct test_server *ts) { return read_file(ts->stderr_path); }

int test_server_stop(struct test_server *ts)
{
    int code = -1;
    if (ts->pid > 0) {
        kill(ts->pid, SIGTERM);
        int status = 0;
        for (int waited = 0; waited < 20000; waited += 10) {
            pid_t r = waitpid(ts->pid, &status, WNOHANG);
            if (r == ts->pid) {
                code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                break;
            }
            sleep_ms(10);
        }
        if (code == -1) {
            kill(ts->pid, SIGKILL);
            waitpid(ts->pid, NULL, 0);
        }
        ts->pid = 0;
    }
    if (ts->dir[0]) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", ts->dir);
        if (system(cmd) != 0) { /* a leftover temp dir is not a test failure */ }
        ts->dir[0] = '\0';
    }
    return code;
}

int test_run_tessera(const char *const args[], const char *stdin_text, char **out, char **err)
{
    char dir[] = "/tmp/tessera-run-XXXXXX";
    if (!mkdtemp(dir))
        return -1;
    char in_path[64], out_path[64], err_path[64];
    snprintf(in_path, sizeof in_path, "%s/in", dir);
    snprintf(out_path, sizeof out_path, "%s/out", dir);
    snprintf(err_path, sizeof err_path, "%s/err", dir);
    FILE *f = fopen(in_path, "w");
    if (!f)
        return -1;
    if (stdin_text)
        fputs(stdin_text, f);
    fclose(f);
    const char *argv[64];
    tessera_argv(args, argv);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int in = open(in_path, O_RDONLY);
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(in, 0);
        dup2(o, 1);
        dup2(e, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    char *o = read_file(out_path), *e = read_file(err_path);
    if (out) *out = o; else free(o);
    if (err) *err = e; else free(e);
    unlink(in_path);
    unlink(out_path);
    unlink(err_path);
    rmdir(dir);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

pid_t test_spawn_tessera(const char *const args[], const char *stderr_path)
{
    const char *argv[64];
    tessera_argv(args, argv);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int err = open(stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(err, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* ------------------------------------------------------------------ HTTP client */

struct growing {
    char *data;
    size_t len, cap;
};

/* Doubles its buffer: growing by each 16 KiB chunk made a 40 MB body quadratic, and under
 * ASan (which copies on every realloc) the large-body image test ran out of time. */
static size_t collect(char *ptr, size_t size, size_t nmemb, void *user)
{
    struct growing *g = user;
    size_t n = size * nmemb;
    if (g->len + n + 1 > g->cap) {
        size_t cap = g->cap ? g->cap : 4096;
        while (cap < g->len + n + 1)
            cap *= 2;
        char *data = realloc(g->data, cap);
        if (!data)
            return 0;
        g->data = data;
        g->cap = cap;
    }
    memcpy(g->data + g->len, ptr, n);
    g->len += n;
    g->data[g->len] = '\0';
    return n;
}

/* Keeps only the last response's header block (after 100-continue and the like). */
static size_t collect_header(char *ptr, size_t size, size_t nmemb, void *user)
{
    struct growing *g = user;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0)
        g->len = 0;
    return collect(ptr, size, nmemb, user);
}

int http_do(const char *method, const char *url, const char *const headers[], const void *body,
            size_t body_len, struct http_result *out)
{
    memset(out, 0, sizeof *out);
    CURL *curl = curl_easy_init();
    if (!curl)
        return -1;
    struct growing hdr = {0}, content = {0};
    struct curl_slist *list = NULL;
    for (int i = 0; headers && headers[i]; i++)
        list = curl_slist_append(list, headers[i]);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L); /* send ../ and %2e as written */
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &content);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &hdr);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    }
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    out->headers = hdr.data ? hdr.data : strdup("");
    out->body = content.data ? content.data : strdup("");
    out->body_len = content.len;
    return rc == CURLE_OK ? 0 : -1;
}

int http_get(const char *url, const char *const headers[], struct http_result *out)
{
    return http_do("GET", url, headers, NULL, 0, out);
}

const char *http_header_value(const struct http_result *r, const char *name, char *buf, size_t size)
{
    size_t name_len = strlen(name);
    for (const char *line = r->headers; line && *line;) {
        const char *end = strstr(line, "\r\n");
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > name_len && line[name_len] == ':' && strncasecmp(line, name, name_len) == 0) {
            const char *v = line + name_len + 1;
            while (*v == ' ') v++;
            size_t vlen = len - (size_t)(v - line);
            if (vlen >= size) vlen = size - 1;
            memcpy(buf, v, vlen);
            buf[vlen] = '\0';
            return buf;
        }
        if (!end) break;
        line = end + 2;
    }
    return NULL;
}

void http_result_free(struct http_result *r)
{
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------------ databases */

const char *test_pg_url(void) { return getenv("TESSERA_TEST_PG_URL"); }

char *test_db_create(void)
{
    const char *admin = test_pg_url();
    if (!admin)
        return NULL;
    PGconn *conn = PQconnectdb(admin);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "test_db_create: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    static unsigned counter;
    char name[64];
    snprintf(name, sizeof name, "t_%d_%u_%ld", (int)getpid(), counter++, (long)time(NULL) % 100000);
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    PGresult *res = PQexec(conn, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "test_db_create: %s", PQerrorMessage(conn));
    PQclear(res);
    PQfinish(conn);
    if (!ok)
        return NULL;
    /* Same cluster and socket, other database name. */
    const char *q = strchr(admin, '?');
    const char *slash = strstr(admin, ":///");
    if (!slash)
        return NULL;
    size_t prefix = (size_t)(slash - admin) + 4;
    char *url = malloc(strlen(admin) + 80);
    snprintf(url, strlen(admin) + 80, "%.*s%s%s", (int)prefix, admin, name, q ? q : "");
    return url;
}

char *test_db_scalar(const char *url, const char *sql)
{
    PGconn *pg = PQconnectdb(url);
    cr_assert_eq(PQstatus(pg), CONNECTION_OK, "%s", PQerrorMessage(pg));
    PGresult *r = PQexec(pg, sql);
    cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql,
              PQerrorMessage(pg));
    char *v = strdup(PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(pg);
    return v;
}

/* Only a local postgres process may be signalled: anything else skips the current test. */
static void skip_unless_local_postgres(pid_t pid, bool local)
{
    char path[64], comm[32] = "";
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    FILE *f = local ? fopen(path, "r") : NULL;
    if (f) {
        if (!fgets(comm, sizeof comm, f))
            comm[0] = '\0';
        fclose(f);
    }
    if (!local || strncmp(comm, "postgres", 8) != 0)
        cr_skip_test("not a local PostgreSQL reached over a Unix socket: its backend cannot be frozen");
}

pid_t test_db_freezable_backend(struct db_pool *pool)
{
    static const struct db_statement stmt = {"test_backend", "SELECT pg_backend_pid(), inet_client_addr() IS NULL",
                                             0};
    PGresult *res;
    cr_assert_eq(db_query(pool, &stmt, NULL, &res), DB_OK);
    pid_t pid = (pid_t)atoi(PQgetvalue(res, 0, 0));
    bool local = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    PQclear(res);
    skip_unless_local_postgres(pid, local);
    return pid;
}

pid_t test_db_lock_waiter(const char *url)
{
    for (int waited = 0; waited < 10000; waited += 20) {
        char *pid = test_db_scalar(url, "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                                        " AND application_name = 'tessera' AND wait_event_type = 'Lock'"
                                        " AND client_addr IS NULL");
        pid_t p = (pid_t)atoi(pid);
        free(pid);
        if (p > 0) {
            skip_unless_local_postgres(p, true);
            return p;
        }
        usleep(20000);
    }
    cr_assert_fail("no tessera connection waited on a lock in this database within 10 s");
    return 0;
}

double test_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* ------------------------------------------------------------------ PgBouncer */

static void write_whole(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

void test_bouncer_start(struct test_bouncer *b, const char *db_url, const char *extra_ini)
{
    if (access("/usr/sbin/pgbouncer", X_OK) != 0)
        cr_skip_test("pgbouncer is not installed");
    char name[128], sock[256];
    cr_assert_eq(sscanf(db_url, "postgresql:///%127[^?]?host=%255[^&]", name, sock), 2, "%s", db_url);
    memset(b, 0, sizeof *b);
    snprintf(b->dir, sizeof b->dir, "/tmp/tessera-bnc-XXXXXX");
    cr_assert(mkdtemp(b->dir));
    char path[256], ini[2048];
    snprintf(path, sizeof path, "%s/users.txt", b->dir);
    write_whole(path, "\"tessera\" \"\"\n");
    snprintf(ini, sizeof ini,
             "[databases]\n* = host=%s user=tessera\n"
             "[pgbouncer]\nlisten_addr =\nlisten_port = 6432\nunix_socket_dir = %s\n"
             "auth_type = trust\nauth_file = %s/users.txt\npool_mode = transaction\n"
             "logfile = %s/pgbouncer.log\npidfile = %s/pgbouncer.pid\n%s",
             sock, b->dir, b->dir, b->dir, b->dir, extra_ini ? extra_ini : "");
    snprintf(path, sizeof path, "%s/pgbouncer.ini", b->dir);
    write_whole(path, ini);
    struct passwd *pw = getuid() == 0 ? getpwnam("postgres") : NULL;
    if (pw) {
        char cmd[200];
        snprintf(cmd, sizeof cmd, "chown -R postgres:postgres '%s'", b->dir);
        cr_assert_eq(system(cmd), 0);
    }
    b->pid = fork();
    cr_assert(b->pid >= 0);
    if (b->pid == 0) {
        if (pw && (setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0))
            _exit(126);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execl("/usr/sbin/pgbouncer", "pgbouncer", "-q", path, (char *)NULL);
        _exit(127);
    }
    char socket_path[128];
    snprintf(socket_path, sizeof socket_path, "%s/.s.PGSQL.6432", b->dir);
    struct stat st;
    for (int waited = 0; stat(socket_path, &st) != 0; waited += 10) {
        cr_assert(waited < 10000, "pgbouncer did not open %s", socket_path);
        cr_assert_eq(waitpid(b->pid, NULL, WNOHANG), 0, "pgbouncer exited at start (%s/pgbouncer.log)", b->dir);
        usleep(10000);
    }
    snprintf(b->url, sizeof b->url, "postgresql:///%s?host=%s&port=6432&user=tessera", name, b->dir);
}

void test_bouncer_stop(struct test_bouncer *b)
{
    if (b->pid > 0) {
        kill(b->pid, SIGTERM);
        waitpid(b->pid, NULL, 0);
        b->pid = 0;
    }
    if (b->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", b->dir);
        if (system(cmd) != 0) { /* a leftover temp dir is not a failure */ }
        b->dir[0] = '\0';
    }
}

/* ------------------------------------------------------------------ raw sockets */

int test_connect(int port, int timeout_s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = timeout_s};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "connect to 127.0.0.1:%d", port);
    return fd;
}

size_t test_read_all(int fd, char *buf, size_t size)
{
    size_t len = 0;
    ssize_t n;
    while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    return len;
}
