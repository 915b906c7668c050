/* image_service — placeholder until the image pipeline lands. */
#include "tessera/image.h"

#include <stdio.h>
#include <stdlib.h>

struct image_service { int unused; };

struct image_service *image_service_create(const struct config *cfg)
{
    (void)cfg;
    return calloc(1, sizeof(struct image_service));
}
void image_service_free(struct image_service *svc) { free(svc); }
int image_service_handle(struct image_service *svc, struct http_exchange *ex)
{
    (void)svc;
    return reply_text(ex, 501, "image optimizer not built yet");
}
void image_service_metrics(struct image_service *svc, struct strbuf *out) { (void)svc; (void)out; }
int images_cli_main(const struct config *cfg, int argc, char **argv)
{
    (void)cfg; (void)argc; (void)argv;
    fprintf(stderr, "tessera images: not built yet\n");
    return 1;
}
