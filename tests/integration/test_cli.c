/* The command line and process life cycle, against the real binary. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
