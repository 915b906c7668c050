/* libFuzzer target for the source-map trailer policy: never reads past the body, only
 * ever removes a tail that holds the annotation. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/sourcemap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a private copy with no terminator, so ASan sees any read past the end */
    char *body = malloc(size ? size : 1);
    if (!body)
        return 0;
    memcpy(body, data, size);
    size_t kept = sourcemap_strip_trailer(body, size);
    if (kept > size)
        abort();
    if (kept < size && !memmem(body + kept, size - kept, "sourceMappingURL=", 17))
        abort();
    if (kept < size && kept > 0 && body[kept - 1] != '\n')
        abort(); /* cuts only at a line start */
    free(body);
    return 0;
}
