/* The command line and process life cycle, against the real binary. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

Test(cli, help_and_version_exit_zero)
{
    char *out = NULL;
    cr_assert_eq(test_run_tessera((const char *[]){"--help", NULL}, NULL, &out, NULL), 0);
    cr_assert(strstr(out, "usage: tessera"));
    free(out);
    cr_assert_eq(test_run_tessera((const char *[]){"--version", NULL}, NULL, &out, NULL), 0);
    cr_assert(strstr(out, "tessera "));
    free(out);
}

Test(cli, unknown_command_or_flag_is_usage_error)
{
    char *err = NULL;
    cr_assert_eq(test_run_tessera((const char *[]){"frobnicate", NULL}, NULL, NULL, &err), 2);
    cr_assert(strstr(err, "usage:"), "stderr: %s", err);
    free(err);
    cr_assert_eq(test_run_tessera((const char *[]){"serve", "--bogus", NULL}, NULL, NULL, &err), 2);
    cr_assert(strstr(err, "usage:"));
    free(err);
}

Test(cli, bad_config_reports_file_line_and_exits_2)
{
    char path[] = "/tmp/tessera-badcfg-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    const char text[] = "[server]\nlisten = 127.0.0.1:0\n\n[static]\nmax_age = soon\n";
    cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    char *err = NULL;
    cr_assert_eq(test_run_tessera((const char *[]){"serve", "--config", path, NULL}, NULL, NULL, &err), 2);
    char expect[128];
    snprintf(expect, sizeof expect, "%s:5: max_age:", path);
    cr_assert(strstr(err, expect), "stderr: %s", err);
    free(err);
    cr_assert_eq(test_run_tessera((const char *[]){"check-config", "--config", path, NULL}, NULL, NULL, &err), 2);
    free(err);
    unlink(path);
}

Test(cli, serve_on_port_zero_answers_healthz_and_stops_on_sigterm)
{
    struct test_server ts;
    cr_assert_eq(test_server_start(&ts, "[log]\naccess = json\n", NULL), 0);
    cr_assert_gt(ts.port, 0);
    char url[128];
    snprintf(url, sizeof url, "%s/healthz", ts.base_url);
    struct http_result r;
    cr_assert_eq(http_get(url, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "ok\n");
    char buf[128];
    cr_assert_str_eq(http_header_value(&r, "X-Content-Type-Options", buf, sizeof buf), "nosniff");
    cr_assert_str_eq(http_header_value(&r, "Referrer-Policy", buf, sizeof buf), "strict-origin-when-cross-origin");
    http_result_free(&r);
    char stdout_path[300];
    snprintf(stdout_path, sizeof stdout_path, "%s", ts.stdout_path);
    cr_assert_eq(test_server_stop(&ts), 0);
}

/* An address longer than the 320 characters tessera keeps must be refused: cut to fit, it
 * named another account (the one created was not the one asked for). */
Test(cli, user_add_and_session_new_refuse_an_over_long_email)
{
    char *url = test_db_create();
    cr_assert(url);
    setenv("TESSERA_DATABASE_URL", url, 1);
    cr_assert_eq(test_run_tessera((const char *[]){"migrate", "--config", "/dev/null", NULL}, NULL, NULL, NULL), 0);
    char email[400];
    memset(email, 'b', 300);
    snprintf(email + 300, sizeof email - 300, "@%040d", 0);
    char *out = NULL, *err = NULL;
    const char *add[] = {"user", "add", email, "--config", "/dev/null", NULL};
    cr_assert_eq(test_run_tessera(add, "password123\n", &out, &err), 2, "stdout: %s stderr: %s", out, err);
    cr_assert(strstr(err, "not an email address"), "%s", err);
    free(out);
    free(err);
    char *users = test_db_scalar(url, "SELECT count(*) FROM users");
    cr_assert_str_eq(users, "0");
    free(users);
    const char *session[] = {"session", "new", email, "--config", "/dev/null", NULL};
    cr_assert_eq(test_run_tessera(session, NULL, &out, &err), 2, "stdout: %s", out);
    free(out);
    free(err);
    unsetenv("TESSERA_DATABASE_URL");
    free(url);
}

/* tessera has no reload, but operators (and closing terminals) send SIGHUP: it must not take
 * the site down without the grace period, as the default action did (exit by signal 1). */
Test(cli, sighup_is_logged_and_the_server_keeps_serving)
{
    struct test_server ts;
    cr_assert_eq(test_server_start(&ts, "", NULL), 0);
    cr_assert_eq(kill(ts.pid, SIGHUP), 0);
    usleep(200000);
    char url[128];
    snprintf(url, sizeof url, "%s/healthz", ts.base_url);
    struct http_result r;
    cr_assert_eq(http_get(url, NULL, &r), 0, "the server is gone after SIGHUP");
    cr_assert_eq(r.status, 200);
    http_result_free(&r);
    char *err = test_server_stderr(&ts);
    cr_assert(err && strstr(err, "SIGHUP"), "stderr: %s", err ? err : "");
    free(err);
    cr_assert_eq(test_server_stop(&ts), 0);
}

/* ------------------------------------------------------------------ a database that stops answering */

/* `tessera user add` / `session new` in a deploy script against a database host that stops
 * answering (a backend frozen with SIGSTOP stands in for it) waited for as long as TCP
 * would; they must give up after statement_timeout + connect_timeout, exit 1 and say why. */
Test(cli, session_new_gives_up_on_a_frozen_database, .timeout = 60)
{
    char *url = test_db_create();
    cr_assert(url);
    setenv("TESSERA_DATABASE_URL", url, 1);
    cr_assert_eq(test_run_tessera((const char *[]){"migrate", "--config", "/dev/null", NULL}, NULL, NULL, NULL), 0);
    cr_assert_eq(test_run_tessera((const char *[]){"user", "add", "f@example.com", "--config", "/dev/null", NULL},
                                  "frozen password\n", NULL, NULL), 0);
    PGconn *holder = PQconnectdb(url);
    cr_assert_eq(PQstatus(holder), CONNECTION_OK);
    PGresult *res = PQexec(holder, "BEGIN; LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE");
    cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "%s", PQerrorMessage(holder));
    PQclear(res);
    char dir[] = "/tmp/tessera-h3-cli-XXXXXX";
    cr_assert(mkdtemp(dir));
    char err_path[128];
    snprintf(err_path, sizeof err_path, "%s/stderr", dir);
    setenv("TESSERA_DATABASE_STATEMENT_TIMEOUT", "2s", 1);
    setenv("TESSERA_DATABASE_CONNECT_TIMEOUT", "1s", 1);
    double t0 = test_now_ms();
    pid_t pid = test_spawn_tessera((const char *[]){"session", "new", "f@example.com", "--config", "/dev/null", NULL},
                                   err_path);
    unsetenv("TESSERA_DATABASE_STATEMENT_TIMEOUT");
    unsetenv("TESSERA_DATABASE_CONNECT_TIMEOUT");
    unsetenv("TESSERA_DATABASE_URL");
    pid_t backend = test_db_lock_waiter(url);
    cr_assert_eq(kill(backend, SIGSTOP), 0);
    double t_frozen = test_now_ms();
    PQclear(PQexec(holder, "ROLLBACK"));
    int status = -1;
    while (test_now_ms() - t0 < 15000) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            break;
        }
        usleep(20000);
    }
    double took = test_now_ms() - t_frozen;
    if (status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    kill(backend, SIGCONT);
    PQfinish(holder);
    FILE *f = fopen(err_path, "r");
    char err[2048] = "";
    if (f) {
        size_t n = fread(err, 1, sizeof err - 1, f);
        err[n] = '\0';
        fclose(f);
    }
    unlink(err_path);
    rmdir(dir);
    cr_assert_eq(status, 1, "session new must exit 1, got %d after %.0f ms; stderr: %s", status, took, err);
    cr_assert_lt(took, 6000, "statement_timeout + connect_timeout + 3 s exceeded: %.0f ms", took);
    cr_assert(strstr(err, "no answer"), "stderr says why: %s", err);
    free(url);
}

/* The environment names deployers already use: a bad value stops every command with the name,
 * the key and the reason, exit 2, before anything starts. */
Test(cli, bad_db_environment_values_are_refused_with_their_names)
{
    static const struct { const char *name, *value, *expect; } cases[] = {
        {"DB_POOL_MAX", "abc", "DB_POOL_MAX:0: pool_max:"},
        {"DB_POOL_MAX", "0", "DB_POOL_MAX:0: pool_max: must be between 1 and 1000"},
        {"DB_POOL_MAX", "", "DB_POOL_MAX:0: pool_max:"},
        {"DB_IDLE_TIMEOUT", "-1", "DB_IDLE_TIMEOUT:0: idle_timeout:"},
        {"DB_CONNECT_TIMEOUT", "5x", "DB_CONNECT_TIMEOUT:0: connect_timeout:"},
        {"DB_CONNECT_TIMEOUT", "0", "DB_CONNECT_TIMEOUT:0: connect_timeout: must be between"},
        {"DATABASE_URL", "foo=bar", "DATABASE_URL:0: url:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv(cases[i].name, cases[i].value, 1);
        const char *commands[][6] = {{"check-config", "--config", "/dev/null", NULL},
                                     {"serve", "--config", "/dev/null", "--listen", "127.0.0.1:0", NULL},
                                     {"migrate", "--config", "/dev/null", NULL}};
        for (size_t c = 0; c < 3; c++) {
            char *err = NULL;
            int rc = test_run_tessera(commands[c], NULL, NULL, &err);
            cr_expect_eq(rc, 2, "%s=%s %s: exit %d, stderr: %s", cases[i].name, cases[i].value, commands[c][0], rc,
                         err);
            cr_expect(err && strstr(err, cases[i].expect), "%s=%s %s: %s", cases[i].name, cases[i].value,
                      commands[c][0], err);
            free(err);
        }
        unsetenv(cases[i].name);
    }
}
