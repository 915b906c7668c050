/* cli — the sub-commands other than serve/check-config, each owned by its module.
 * argv[0] is the sub-command's name; each returns the process exit code
 * (0 ok, 1 failure, 2 usage or configuration error). */
#ifndef TESSERA_CLI_H
#define TESSERA_CLI_H

#include "tessera/config.h"

int migrate_cli_main(const struct config *cfg, int argc, char **argv);    /* db/migrate.c */
int user_cli_main(const struct config *cfg, int argc, char **argv);       /* api/auth_cli.c */
int session_cli_main(const struct config *cfg, int argc, char **argv);    /* api/auth_cli.c */
int precompress_cli_main(const struct config *cfg, int argc, char **argv); /* http/precompress.c */
/* images_cli_main is in tessera/image.h */
#endif
