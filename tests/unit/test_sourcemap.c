/* sourcemap: map paths and the trailing annotation that production does not send. */
#include <criterion/criterion.h>
#include <string.h>

#include "tessera/sourcemap.h"

Test(sourcemap, map_paths)
{
    cr_assert(sourcemap_is_map_path("/app.js.map"));
    cr_assert(sourcemap_is_map_path("assets/app.3f2a9c1d.css.map"));
    cr_assert(sourcemap_is_map_path("/app.js.map.br"));
    cr_assert(sourcemap_is_map_path("/app.js.map.gz"));
    cr_assert(sourcemap_is_map_path(".map"));
    /* a file system that ignores case (or a file named so) must not let a map through */
    cr_assert(sourcemap_is_map_path("/APP.JS.MAP"));
    cr_assert(sourcemap_is_map_path("/app.js.Map.Gz"));
    cr_assert(sourcemap_is_map_path("/app.js.MAP.br"));
    cr_assert_not(sourcemap_is_map_path("/app.js"));
    cr_assert_not(sourcemap_is_map_path("/map"));
    cr_assert_not(sourcemap_is_map_path("/sitemap.xml"));
    cr_assert_not(sourcemap_is_map_path("/app.map.js"));
    cr_assert_not(sourcemap_is_map_path("/app.js.map.zst"));
    cr_assert_not(sourcemap_is_map_path("/app.js.mapx"));
    cr_assert_not(sourcemap_is_map_path(""));
    cr_assert_not(sourcemap_is_map_path(NULL));
}

struct strip_case {
    const char *body;
    const char *kept; /* what remains; NULL = unchanged */
};

static const struct strip_case strip_cases[] = {
    {"a();\n//# sourceMappingURL=app.js.map\n", "a();\n"},
    {"a();\n//# sourceMappingURL=app.js.map", "a();\n"},
    {"a();\n//# sourceMappingURL=app.js.map\n\n  \n", "a();\n"},
    {"a();\r\n//# sourceMappingURL=app.js.map\r\n", "a();\r\n"},
    {"a();\n//@ sourceMappingURL=app.js.map\n", "a();\n"},
    {"a();\n  //# sourceMappingURL=app.js.map  \n", "a();\n"},
    {"a();\n//#sourceMappingURL=app.js.map\n", "a();\n"},
    {"a();\n//# sourceMappingURL=data:application/json;base64,eyJ2ZXJzaW9uIjozfQ==\n", "a();\n"},
    {".a{color:red}\n/*# sourceMappingURL=app.css.map */\n", ".a{color:red}\n"},
    {".a{color:red}\n/*# sourceMappingURL=app.css.map */", ".a{color:red}\n"},
    {".a{color:red}\n/*@ sourceMappingURL=app.css.map*/\n", ".a{color:red}\n"},
    {"//# sourceMappingURL=only.map\n", ""},
    {"a();\n//# sourceMappingURL=a.js.map\n//# sourceMappingURL=a.min.js.map", "a();\n"}, /* Debian's bootstrap */
    {"a();\n/*# sourceMappingURL=a.map */\n\n//# sourceMappingURL=b.map\n", "a();\n"},
    /* left alone */
    {"a();\n", NULL},
    {"", NULL},
    {"\n\n", NULL},
    {"a();//# sourceMappingURL=app.js.map\n", NULL},          /* not its own line */
    {"//# sourceMappingURL=app.js.map\na();\n", NULL},        /* not the last line */
    {"var s = '//# sourceMappingURL=x';\nb();\n", NULL},      /* a mention inside code */
    {"a();\n// sourceMappingURL=app.js.map\n", NULL},         /* no # or @ */
    {"a();\n//# sourceURL=app.js\n", NULL},                   /* a different annotation */
    {"a();\n/*# sourceMappingURL=app.css.map */ b();\n", NULL}, /* code after the comment */
    {"a();\n/*# sourceMappingURL=x */ b(); /* c */\n", NULL},
    {"a();\n/*# sourceMappingURL=app.css.map\n", NULL},       /* unclosed comment */
    {"a();\n//# sourceMappingURL=x\rb();\n", NULL},           /* CR ends a JS line: code follows */
    {"a();\n//# sourceMappingURL=x\xe2\x80\xa8" "b();\n", NULL}, /* so does U+2028 */
    {"a();\n# sourceMappingURL=x\n", NULL},
};

Test(sourcemap, strip_trailer_table)
{
    for (size_t i = 0; i < sizeof strip_cases / sizeof strip_cases[0]; i++) {
        const struct strip_case *c = &strip_cases[i];
        size_t len = strlen(c->body);
        size_t want = c->kept ? strlen(c->kept) : len;
        size_t got = sourcemap_strip_trailer(c->body, len);
        cr_expect_eq(got, want, "case %zu %s: kept %zu bytes, want %zu", i, c->body, got, want);
        if (c->kept)
            cr_expect(memcmp(c->body, c->kept, want) == 0, "case %zu keeps a prefix", i);
    }
}

Test(sourcemap, strip_is_idempotent_and_bounded)
{
    const char body[] = "x();\n//# sourceMappingURL=a.map\n";
    size_t once = sourcemap_strip_trailer(body, sizeof body - 1);
    cr_assert_eq(once, 5);
    cr_assert_eq(sourcemap_strip_trailer(body, once), once);
    cr_assert_eq(sourcemap_strip_trailer(NULL, 0), 0);
    /* only the bytes given are looked at */
    cr_assert_eq(sourcemap_strip_trailer(body, 3), 3);
}
