/* image_params: the /_image query rules (as Next.js applies them), Accept-based format
 * choice, hashed-name detection, safe file names and If-None-Match matching. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tessera/image_params.h"

static const struct config_int_list widths = {.count = 3, .values = {64, 640, 1080}};
static const struct config_int_list qualities = {.count = 2, .values = {75, 90}};

static const char *parse(const char *query, struct image_params *p)
{
    return image_params_parse(query, &widths, &qualities, p);
}

static void expect_reason(const char *query, const char *needle)
{
    struct image_params p;
    const char *r = parse(query, &p);
    cr_assert(r != NULL, "accepted: %s", query);
    cr_assert(strstr(r, needle), "%s -> %s (wanted %s)", query, r, needle);
    cr_assert(strchr(r, '\n') == NULL, "one line");
}

Test(image_params, accepts_a_valid_query_and_ignores_unknown_params)
{
    struct image_params p;
    cr_assert_null(parse("url=%2Fphotos%2Fcat.jpg&w=640&q=75&foo=bar", &p));
    cr_assert_str_eq(p.path, "/photos/cat.jpg");
    cr_assert_eq(p.width, 640);
    cr_assert_eq(p.quality, 75);
    cr_assert_null(parse("q=90&foo&w=64&url=/a%20b.png", &p));
    cr_assert_str_eq(p.path, "/a b.png");
    cr_assert_null(parse("url=/a.jpg%3Fv%3D3&w=64&q=75", &p), "a local query does not select the file");
    cr_assert_str_eq(p.path, "/a.jpg");
}

Test(image_params, url_rules)
{
    expect_reason("w=640&q=75", "required");
    expect_reason("url=&w=640&q=75", "required");
    expect_reason("url=/a.jpg&url=/b.jpg&w=640&q=75", "array");
    expect_reason("url=//evil.example/a.jpg&w=640&q=75", "protocol-relative");
    expect_reason("url=https://evil.example/a.jpg&w=640&q=75", "not allowed");
    expect_reason("url=a.jpg&w=640&q=75", "not allowed");
    expect_reason("url=/_next/image%3Furl%3D/a.jpg&w=640&q=75", "recursive");
    expect_reason("url=/_image&w=640&q=75", "recursive");
    expect_reason("url=/../etc/passwd&w=640&q=75", "outside the root");
    expect_reason("url=/a/./b.jpg&w=640&q=75", "outside the root");
    expect_reason("url=/.env&w=640&q=75", "outside the root");
    expect_reason("url=/a/..&w=640&q=75", "outside the root");
    expect_reason("url=/a%252Fb.jpg&w=640&q=75", "encoded separator");
    expect_reason("url=/a%255Cb.jpg&w=640&q=75", "backslash");
    expect_reason("url=/a%5Cb.jpg&w=640&q=75", "backslash");
    expect_reason("url=/a%2500.jpg&w=640&q=75", "control");
    expect_reason("url=/a%00.jpg&w=640&q=75", "control");
    expect_reason("url=/%252E%252E/b.jpg&w=640&q=75", "outside the root");
    expect_reason("url=/a//b.jpg&w=640&q=75", "empty path segment");
    expect_reason("url=/dir/&w=640&q=75", "does not name a file");
    expect_reason("url=/a%2&w=640&q=75", "percent");
}

Test(image_params, url_length_limit_is_3072)
{
    char query[8000];
    char url[3100];
    memset(url, 'a', sizeof url);
    url[0] = '/';
    url[3072] = '\0';
    snprintf(query, sizeof query, "url=%s&w=640&q=75", url);
    struct image_params p;
    cr_assert_null(parse(query, &p), "exactly 3072 is allowed");
    url[3072] = 'a';
    url[3073] = '\0';
    snprintf(query, sizeof query, "url=%s&w=640&q=75", url);
    expect_reason(query, "too long");
}

Test(image_params, width_and_quality_rules)
{
    expect_reason("url=/a.jpg&q=75", "\"w\" parameter (width) is required");
    expect_reason("url=/a.jpg&w=641&q=75", "images.widths");
    expect_reason("url=/a.jpg&w=-640&q=75", "greater than 0");
    expect_reason("url=/a.jpg&w=64x&q=75", "greater than 0");
    expect_reason("url=/a.jpg&w=640&w=64&q=75", "array");
    expect_reason("url=/a.jpg&w=640", "\"q\" parameter (quality) is required");
    expect_reason("url=/a.jpg&w=640&q=0", "between 1 and 100");
    expect_reason("url=/a.jpg&w=640&q=101", "between 1 and 100");
    expect_reason("url=/a.jpg&w=640&q=7.5", "between 1 and 100");
    expect_reason("url=/a.jpg&w=640&q=+75", "between 1 and 100");
    expect_reason("url=/a.jpg&w=640&q=50", "images.qualities");
}

Test(image_params, format_choice_follows_accept_and_ignores_wildcards)
{
    unsigned both = image_formats_parse("avif,webp");
    unsigned webp_only = image_formats_parse("webp");
    cr_assert_eq(image_format_choose("image/avif,image/webp,*/*", both, IMAGE_FORMAT_JPEG), IMAGE_FORMAT_AVIF);
    cr_assert_eq(image_format_choose("image/webp,*/*", both, IMAGE_FORMAT_JPEG), IMAGE_FORMAT_WEBP);
    cr_assert_eq(image_format_choose("image/avif,image/webp", webp_only, IMAGE_FORMAT_JPEG), IMAGE_FORMAT_WEBP);
    cr_assert_eq(image_format_choose("*/*", both, IMAGE_FORMAT_JPEG), IMAGE_FORMAT_JPEG);
    cr_assert_eq(image_format_choose("image/*", both, IMAGE_FORMAT_PNG), IMAGE_FORMAT_PNG);
    cr_assert_eq(image_format_choose(NULL, both, IMAGE_FORMAT_PNG), IMAGE_FORMAT_PNG);
    cr_assert_eq(image_format_choose("IMAGE/AVIF ; q=0.8", both, IMAGE_FORMAT_PNG), IMAGE_FORMAT_AVIF);
    cr_assert_eq(image_format_choose("image/avif;q=0, image/webp", both, IMAGE_FORMAT_PNG), IMAGE_FORMAT_WEBP);
    cr_assert_eq(image_format_choose("image/avif;q=0.000", both, IMAGE_FORMAT_JPEG), IMAGE_FORMAT_JPEG);
    cr_assert_eq(image_format_choose("image/avifx", both, IMAGE_FORMAT_JPEG), IMAGE_FORMAT_JPEG);
    cr_assert_eq(image_format_choose("text/html", both, IMAGE_FORMAT_WEBP), IMAGE_FORMAT_PNG,
                 "a WebP source for a client without WebP becomes PNG");
    cr_assert_eq(image_formats_parse(""), 0u);
}

Test(image_params, mime_names_map_back_to_formats)
{
    for (enum image_format f = IMAGE_FORMAT_JPEG; f <= IMAGE_FORMAT_SVG; f++)
        cr_assert_eq(image_format_from_mime(image_format_mime(f)), f, "%s", image_format_mime(f));
    cr_assert_eq(image_format_from_mime("application/octet-stream"), IMAGE_FORMAT_NONE);
    cr_assert_eq(image_format_from_mime(""), IMAGE_FORMAT_NONE);
}

Test(image_params, hashed_names_safe_filenames_and_etags)
{
    cr_assert(image_name_is_hashed("/assets/hero.3f9a2b1c.jpg"));
    cr_assert(image_name_is_hashed("/assets/hero-B1x9_kQ2.png"));
    cr_assert_not(image_name_is_hashed("/photos/holiday.jpg"));
    cr_assert_not(image_name_is_hashed("/photos/sunset-panorama.jpg"), "a word is not a hash");
    cr_assert_not(image_name_is_hashed("/photos/20240101.jpg"), "no separator before it");
    char name[64];
    image_safe_filename("/a/My \"cat\"; x.jpg", IMAGE_FORMAT_WEBP, name, sizeof name);
    cr_assert_str_eq(name, "My__cat___x.webp");
    image_safe_filename("/a/.jpg", IMAGE_FORMAT_AVIF, name, sizeof name);
    cr_assert_str_eq(name, "_jpg.avif");
    cr_assert(image_etag_matches("\"abc\"", "\"abc\""));
    cr_assert(image_etag_matches("\"x\", W/\"abc\"", "\"abc\""));
    cr_assert(image_etag_matches("*", "\"abc\""));
    cr_assert_not(image_etag_matches("\"abcd\"", "\"abc\""));
    cr_assert_not(image_etag_matches(NULL, "\"abc\""));
}
