/* tessera — command-line entry: serve | check-config | migrate | precompress | images | user | session */
#include <civetweb.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tessera/cli.h"
#include "tessera/config.h"
#include "tessera/image.h"
#include "tessera/log.h"
#include "tessera/server.h"

#define EXIT_USAGE 2

static const char usage_text[] =
    "usage: tessera <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve [--config FILE] [--root DIR] [--listen ADDR:PORT] [--mode production|development]\n"
    "  check-config [--config FILE]        validate configuration and exit\n"
    "  migrate [--config FILE] [--status]  apply pending database migrations\n"
    "  precompress DIR [--production]      write .br/.gz siblings of compressible files\n"
    "  images build DIR [--widths LIST] [--formats avif,webp]  pre-build the image cache\n"
    "  user add EMAIL [--name NAME]        create a user (password on stdin)\n"
    "  session new EMAIL [--ttl 7d]        print a new session token\n"
    "  --help, --version\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "tessera: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage_text);
    return EXIT_USAGE;
}

/* Common flags: --config/--root/--listen/--mode, in "--flag value" or "--flag=value" form.
 * Everything else is left in argv (compacted) for the sub-command. */
struct common_flags {
    const char *config;
    struct config_overrides ov;
};

static int take_common_flags(int *argc, char **argv, struct common_flags *flags, int allow_serve_flags)
{
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *arg = argv[i];
        const char *names[] = {"--config", "--root", "--listen", "--mode"};
        const char **slots[] = {&flags->config, &flags->ov.root, &flags->ov.listen, &flags->ov.mode};
        int matched = 0;
        for (int k = 0; k < 4; k++) {
            if (k > 0 && !allow_serve_flags)
                break;
            size_t n = strlen(names[k]);
            if (strncmp(arg, names[k], n) != 0)
                continue;
            if (arg[n] == '=') {
                *slots[k] = arg + n + 1;
            } else if (arg[n] == '\0') {
                if (i + 1 >= *argc)
                    return usage_error("%s needs a value", names[k]);
                *slots[k] = argv[++i];
            } else {
                continue;
            }
            matched = 1;
            break;
        }
        if (!matched)
            argv[out++] = argv[i];
    }
    *argc = out;
    argv[out] = NULL;
    return 0;
}

static int load_config(struct config *cfg, const struct common_flags *flags)
{
    const char *path = flags->config;
    if (!path && access("config/tessera.ini", R_OK) == 0)
        path = "config/tessera.ini";
    if (config_load(cfg, path, &flags->ov, stderr) < 0) {
        config_free(cfg);
        return -1;
    }
    log_set_level(cfg->log.level);
    return 0;
}

static volatile sig_atomic_t stop_requested, hangup_seen;

/* A second SIGTERM/SIGINT while the first is honoured means now: whoever sent it has chosen
 * not to wait out the grace period (Ctrl-C twice). */
static void on_stop_signal(int sig)
{
    if (stop_requested)
        _exit(128 + sig);
    stop_requested = 1;
}

/* tessera has no reload; SIGHUP's default action would end it at once, without the grace
 * period, for an operator's reload habit or a closed terminal. */
static void on_hangup(int sig) { (void)sig; hangup_seen = 1; }

/* The stop signals are blocked before any thread starts, so every thread inherits the mask
 * and they can only be taken by the main thread, in sigsuspend: no signal is handled on a
 * worker while main sleeps on, and none slips in between testing the flag and sleeping. */
static void signals_install(sigset_t *waiting_mask)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hangup;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, waiting_mask);
}

static void signals_wait_for_stop(const sigset_t *waiting_mask)
{
    while (!stop_requested) {
        sigsuspend(waiting_mask);
        if (hangup_seen) {
            hangup_seen = 0;
            log_warn("SIGHUP ignored: tessera does not reload; restart it to apply configuration changes");
        }
    }
    /* Unblocked again so that a second stop signal can cut the grace period short. */
    sigprocmask(SIG_SETMASK, waiting_mask, NULL);
}

static int cmd_serve(int argc, char **argv)
{
    struct common_flags flags = {0};
    if (take_common_flags(&argc, argv, &flags, 1) != 0)
        return EXIT_USAGE;
    if (argc > 1)
        return usage_error("serve: unknown argument %s", argv[1]);
    struct tessera_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return 1;
    if (load_config(&srv->cfg, &flags) < 0) {
        free(srv);
        return EXIT_USAGE;
    }
    sigset_t waiting_mask;
    signals_install(&waiting_mask);
    mg_init_library(0);
    if (server_start(srv) < 0) {
        config_free(&srv->cfg);
        free(srv);
        mg_exit_library();
        return 1;
    }
    char host[64];
    snprintf(host, sizeof host, "%s", srv->cfg.server.listen);
    char *colon = strrchr(host, ':');
    if (colon) *colon = '\0'; else snprintf(host, sizeof host, "0.0.0.0");
    /* Tests and scripts read this line to learn the port (port 0 picks a free one). */
    printf("tessera %s listening on http://%s:%d (%s mode, root %s)\n", TESSERA_VERSION, host, srv->port,
           config_mode_name(srv->cfg.server.mode), srv->cfg.static_files.root);
    fflush(stdout);
    signals_wait_for_stop(&waiting_mask);
    log_info("stopping: finishing in-flight requests (grace %lld ms)", (long long)srv->cfg.server.grace_ms);
    server_stop(srv);
    fflush(stdout);
    config_free(&srv->cfg);
    free(srv);
    mg_exit_library();
    return 0;
}

static int cmd_check_config(int argc, char **argv)
{
    struct common_flags flags = {0};
    if (take_common_flags(&argc, argv, &flags, 1) != 0)
        return EXIT_USAGE;
    if (argc > 1)
        return usage_error("check-config: unknown argument %s", argv[1]);
    struct config cfg;
    if (load_config(&cfg, &flags) < 0)
        return EXIT_USAGE;
    printf("configuration ok (%s mode)\n", config_mode_name(cfg.server.mode));
    config_free(&cfg);
    return 0;
}

typedef int (*module_command)(const struct config *cfg, int argc, char **argv);

static int run_module_command(module_command fn, int argc, char **argv)
{
    struct common_flags flags = {0};
    if (take_common_flags(&argc, argv, &flags, 0) != 0)
        return EXIT_USAGE;
    struct config cfg;
    if (load_config(&cfg, &flags) < 0)
        return EXIT_USAGE;
    int rc = fn(&cfg, argc, argv);
    config_free(&cfg);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("tessera %s (civetweb %s)\n", TESSERA_VERSION, mg_version());
        return 0;
    }
    static const struct { const char *name; module_command fn; } modules[] = {
        {"migrate", migrate_cli_main},   {"precompress", precompress_cli_main},
        {"images", images_cli_main},     {"user", user_cli_main},
        {"session", session_cli_main},
    };
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "check-config") == 0)
        return cmd_check_config(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof modules / sizeof modules[0]; i++)
        if (strcmp(cmd, modules[i].name) == 0)
            return run_module_command(modules[i].fn, argc - 1, argv + 1);
    return usage_error("unknown command %s", cmd);
}
