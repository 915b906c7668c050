/* static policy: which names count as content-hashed, and the Cache-Control each gets. */
#include <criterion/criterion.h>

#include "tessera/static_files.h"

static const char *cc(const char *rel)
{
    static char out[64];
    static_files_cache_control(rel, 3600, out, sizeof out);
    return out;
}

#define IMMUTABLE "public, max-age=31536000, immutable"

Test(static_policy, hashed_names_are_immutable)
{
    const char *hashed[] = {
        "app.3f2a9c1d.js", "assets/app.3f2a9c1d.js", "app.7985fbb7de.css", "index-BxK3aZ9q.js",
        "chunk-2F4ZQ7LM.js", "font.0123456789abcdef.woff2", "deadbeef.deadbeef.js", "a.ABCDEFGH2.svg",
        "app.3f2a9c1d.js.map",
    };
    for (size_t i = 0; i < sizeof hashed / sizeof hashed[0]; i++)
        cr_expect_str_eq(cc(hashed[i]), IMMUTABLE, "%s", hashed[i]);
}

Test(static_policy, ordinary_names_get_max_age)
{
    const char *plain[] = {
        "app.js", "jquery-datepicker.js", "vendor.bundle.js", "robots.txt", "app.3f2a9c.js", /* 6: too short */
        "3f2a9c1d.js",                 /* the hash needs a name before it */
        "lib-v12.js", "logo.svg", "noextension", "bootstrap-4.min.css", "my_component.js",
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        cr_expect_str_eq(cc(plain[i]), "public, max-age=3600", "%s", plain[i]);
}

Test(static_policy, html_is_revalidated)
{
    cr_expect_str_eq(cc("index.html"), "no-cache");
    cr_expect_str_eq(cc("docs/guide.htm"), "no-cache");
    cr_expect_str_eq(cc("PAGE.HTML"), "no-cache");
    cr_expect_str_eq(cc(""), "no-cache");
    char out[64];
    static_files_cache_control("robots.txt", 0, out, sizeof out);
    cr_expect_str_eq(out, "public, max-age=0");
}
