/* mime: the types the issue lists, charset on text, and the compressible-type list. */
#include <criterion/criterion.h>

#include "tessera/mime.h"

Test(mime, known_types)
{
    const char *table[][2] = {
        {"/a.html", "text/html; charset=utf-8"},
        {"/a.css", "text/css; charset=utf-8"},
        {"/a.js", "text/javascript; charset=utf-8"},
        {"/a.mjs", "text/javascript; charset=utf-8"},
        {"/a.json", "application/json; charset=utf-8"},
        {"/a.js.map", "application/json; charset=utf-8"},
        {"/a.svg", "image/svg+xml; charset=utf-8"},
        {"/a.png", "image/png"},
        {"/a.jpg", "image/jpeg"},
        {"/a.jpeg", "image/jpeg"},
        {"/a.gif", "image/gif"},
        {"/a.webp", "image/webp"},
        {"/a.avif", "image/avif"},
        {"/favicon.ico", "image/x-icon"},
        {"/f.woff", "font/woff"},
        {"/f.woff2", "font/woff2"},
        {"/f.ttf", "font/ttf"},
        {"/m.wasm", "application/wasm"},
        {"/site.webmanifest", "application/manifest+json; charset=utf-8"},
        {"/robots.txt", "text/plain; charset=utf-8"},
        {"/feed.xml", "application/xml; charset=utf-8"},
        {"/doc.pdf", "application/pdf"},
        {"/UPPER.HTML", "text/html; charset=utf-8"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        cr_expect_str_eq(mime_type_for(table[i][0]), table[i][1], "%s", table[i][0]);
}

Test(mime, unknown_is_octet_stream)
{
    cr_expect_str_eq(mime_type_for("/noext"), "application/octet-stream");
    cr_expect_str_eq(mime_type_for("/a.unknownext"), "application/octet-stream");
    cr_expect_str_eq(mime_type_for("/dir.d/noext"), "application/octet-stream");
    cr_expect_str_eq(mime_type_for("/.hidden"), "application/octet-stream");
}

Test(mime, compressible_list)
{
    const char *list = "text/html, text/css,application/json,image/svg+xml,font/*";
    cr_expect(mime_type_in_list("text/html; charset=utf-8", list));
    cr_expect(mime_type_in_list("text/css; charset=utf-8", list));
    cr_expect(mime_type_in_list("image/svg+xml; charset=utf-8", list));
    cr_expect(mime_type_in_list("font/ttf", list));
    cr_expect_not(mime_type_in_list("image/png", list));
    cr_expect_not(mime_type_in_list("text/htm", list));
    cr_expect_not(mime_type_in_list("text/javascript; charset=utf-8", list));
    cr_expect_not(mime_type_in_list("application/jsonx", list));
    cr_expect_not(mime_type_in_list("text/html", ""));
}
