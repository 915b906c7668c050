/* image — the /_image (and /_next/image) optimizer endpoint and its disk cache. */
#ifndef TESSERA_IMAGE_H
#define TESSERA_IMAGE_H

#include "tessera/config.h"
#include "tessera/http.h"

struct image_service;

struct image_service *image_service_create(const struct config *cfg);
void image_service_free(struct image_service *svc);
int image_service_handle(struct image_service *svc, struct http_exchange *ex);
void image_service_metrics(struct image_service *svc, struct strbuf *out);

/* `tessera images build DIR [...]`; argv[0] is "images". Returns the exit code. */
int images_cli_main(const struct config *cfg, int argc, char **argv);
#endif
