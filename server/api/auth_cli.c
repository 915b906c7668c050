/* auth_cli — placeholder until auth lands. */
#include "tessera/cli.h"

#include <stdio.h>

int user_cli_main(const struct config *cfg, int argc, char **argv)
{
    (void)cfg; (void)argc; (void)argv;
    fprintf(stderr, "tessera user: not built yet\n");
    return 1;
}
int session_cli_main(const struct config *cfg, int argc, char **argv)
{
    (void)cfg; (void)argc; (void)argv;
    fprintf(stderr, "tessera session: not built yet\n");
    return 1;
}
