/* migrate — placeholder until migrations land. */
#include "tessera/cli.h"

#include <stdio.h>

int migrate_cli_main(const struct config *cfg, int argc, char **argv)
{
    (void)cfg; (void)argc; (void)argv;
    fprintf(stderr, "tessera migrate: not built yet\n");
    return 1;
}
