/* precompress — placeholder until compression lands. */
#include "tessera/cli.h"

#include <stdio.h>

int precompress_cli_main(const struct config *cfg, int argc, char **argv)
{
    (void)cfg; (void)argc; (void)argv;
    fprintf(stderr, "tessera precompress: not built yet\n");
    return 1;
}
