/* path: hostile request paths are refused (400 or 404) and never name a file outside the
 * root; ordinary paths resolve to the file they name. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tessera/path.h"

struct hostile {
    const char *url;
    enum path_status want;
};

static const struct hostile hostile_paths[] = {
    {"/../etc/passwd", PATH_BAD_REQUEST},
    {"/..", PATH_BAD_REQUEST},
    {"/a/../../etc/passwd", PATH_BAD_REQUEST},
    {"/a/..", PATH_BAD_REQUEST},
    {"/a/../b", PATH_BAD_REQUEST},
    {"/%2e%2e/etc/passwd", PATH_BAD_REQUEST},
    {"/%2E%2E/etc/passwd", PATH_BAD_REQUEST},
    {"/%2E./etc/passwd", PATH_BAD_REQUEST},
    {"/.%2e/etc/passwd", PATH_BAD_REQUEST},
    {"/a/%2e%2e", PATH_BAD_REQUEST},
    {"/.", PATH_BAD_REQUEST},
    {"/a/./b", PATH_BAD_REQUEST},
    {"/%2e/a", PATH_BAD_REQUEST},
    {"/a%2fb", PATH_BAD_REQUEST},
    {"/a%2Fb", PATH_BAD_REQUEST},
    {"/..%2fetc%2fpasswd", PATH_BAD_REQUEST},
    {"/a%5cb", PATH_BAD_REQUEST},
    {"/a%5C..%5Cb", PATH_BAD_REQUEST},
    {"/..\\etc\\passwd", PATH_BAD_REQUEST},
    {"/a\\b", PATH_BAD_REQUEST},
    {"/index.html%00.png", PATH_BAD_REQUEST},
    {"/%00", PATH_BAD_REQUEST},
    {"/a%0d%0aSet-Cookie:x", PATH_BAD_REQUEST},
    {"/a%7f", PATH_BAD_REQUEST},
    {"/a%", PATH_BAD_REQUEST},
    {"/a%2", PATH_BAD_REQUEST},
    {"/a%zz", PATH_BAD_REQUEST},
    {"/a%g1", PATH_BAD_REQUEST},
    {"/%%32%65", PATH_BAD_REQUEST},
    {"/%c0%ae%c0%ae/etc/passwd", PATH_BAD_REQUEST}, /* overlong "." */
    {"/%c0%af", PATH_BAD_REQUEST},                  /* overlong "/" */
    {"/%e0%80%af", PATH_BAD_REQUEST},               /* 3-byte overlong "/" */
    {"/%f0%80%80%af", PATH_BAD_REQUEST},            /* 4-byte overlong "/" */
    {"/%c1%9c", PATH_BAD_REQUEST},                  /* overlong "\" */
    {"/%ed%a0%80", PATH_BAD_REQUEST},               /* surrogate */
    {"/%f4%90%80%80", PATH_BAD_REQUEST},            /* above U+10FFFF */
    {"/%ff", PATH_BAD_REQUEST},
    {"/%80", PATH_BAD_REQUEST},                     /* lone continuation byte */
    {"/%c3", PATH_BAD_REQUEST},                     /* truncated sequence */
    {"/%e2%82", PATH_BAD_REQUEST},
    {"/.env", PATH_NOT_FOUND},
    {"/.git/config", PATH_NOT_FOUND},
    {"/.git/", PATH_NOT_FOUND},
    {"/a/.htaccess", PATH_NOT_FOUND},
    {"/%2eenv", PATH_NOT_FOUND},
    {"/%2egit/HEAD", PATH_NOT_FOUND},
    {"/.well-known/security.txt", PATH_NOT_FOUND},  /* not allowed by default */
    {"/...", PATH_NOT_FOUND},
    {"/a/.../b", PATH_NOT_FOUND},
    {"relative/path", PATH_BAD_REQUEST},
    {"", PATH_BAD_REQUEST},
    {"http://example.com/", PATH_BAD_REQUEST},
};

Test(path, refuses_hostile_paths)
{
    size_t n = sizeof hostile_paths / sizeof hostile_paths[0];
    cr_assert_geq(n, 40);
    for (size_t i = 0; i < n; i++) {
        char out[PATH_MAX];
        struct path_resolved res;
        enum path_status st = path_resolve("/srv/www", hostile_paths[i].url, NULL, out, sizeof out, &res);
        cr_expect_eq(st, hostile_paths[i].want, "%s: got %d, want %d", hostile_paths[i].url, st,
                     hostile_paths[i].want);
    }
}

Test(path, refuses_overlong_paths)
{
    char *url = malloc(PATH_MAX + 16);
    url[0] = '/';
    memset(url + 1, 'a', PATH_MAX + 10);
    url[PATH_MAX + 11] = '\0';
    char out[PATH_MAX];
    struct path_resolved res;
    cr_expect_eq(path_resolve("/srv/www", url, NULL, out, sizeof out, &res), PATH_TOO_LONG);
    /* a single segment longer than NAME_MAX names no file, but it is a well-formed URL: a
     * client-side route with a long token ("/invite/<jwt>") must still reach the SPA fallback */
    memset(url + 1, 'b', NAME_MAX + 5);
    url[NAME_MAX + 6] = '\0';
    cr_expect_eq(path_resolve("/srv/www", url, NULL, out, sizeof out, &res), PATH_OK);
    cr_expect_not(res.has_extension);
    /* many short segments adding up past PATH_MAX */
    for (int i = 0; i < PATH_MAX + 8; i += 2) { url[i] = '/'; url[i + 1] = 'c'; }
    url[PATH_MAX + 8] = '\0';
    cr_expect_eq(path_resolve("/srv/www", url, NULL, out, sizeof out, &res), PATH_TOO_LONG);
    free(url);
}

Test(path, refuses_when_output_too_small)
{
    char out[16];
    struct path_resolved res;
    cr_expect_eq(path_resolve("/srv/www", "/a-rather-long-name.html", NULL, out, sizeof out, &res),
                 PATH_TOO_LONG);
}

struct good {
    const char *url;
    const char *full;
    bool slash;
    bool ext;
};

static const struct good good_paths[] = {
    {"/", "/srv/www/", true, false},
    {"/index.html", "/srv/www/index.html", false, true},
    {"/assets/app.3f2a9c1d.js", "/srv/www/assets/app.3f2a9c1d.js", false, true},
    {"/docs/", "/srv/www/docs", true, false},
    {"/docs", "/srv/www/docs", false, false},
    {"//double//slash", "/srv/www/double/slash", false, false},
    {"/hello%20world.txt", "/srv/www/hello world.txt", false, true},
    {"/caf%C3%A9.html", "/srv/www/caf\xc3\xa9.html", false, true},
    {"/\xe6\x97\xa5\xe6\x9c\xac.txt", "/srv/www/\xe6\x97\xa5\xe6\x9c\xac.txt", false, true},
    {"/page?x=../../etc", "/srv/www/page", false, false},
    {"/a+b.txt", "/srv/www/a+b.txt", false, true},
    {"/settings/profile", "/srv/www/settings/profile", false, false},
    {"/v1.2/notes", "/srv/www/v1.2/notes", false, false},
    {"/file..txt", "/srv/www/file..txt", false, true},
};

Test(path, resolves_ordinary_paths)
{
    for (size_t i = 0; i < sizeof good_paths / sizeof good_paths[0]; i++) {
        char out[PATH_MAX];
        struct path_resolved res;
        enum path_status st = path_resolve("/srv/www/", good_paths[i].url, NULL, out, sizeof out, &res);
        cr_assert_eq(st, PATH_OK, "%s: %d", good_paths[i].url, st);
        cr_expect_str_eq(out, good_paths[i].full, "%s", good_paths[i].url);
        cr_expect_eq(res.trailing_slash, good_paths[i].slash, "%s slash", good_paths[i].url);
        cr_expect_eq(res.has_extension, good_paths[i].ext, "%s ext", good_paths[i].url);
        cr_expect_eq(res.root_len, strlen("/srv/www"));
    }
}

Test(path, well_known_only_when_allowed)
{
    struct path_options opt = {.well_known = true};
    char out[PATH_MAX];
    struct path_resolved res;
    cr_expect_eq(path_resolve("/srv/www", "/.well-known/security.txt", &opt, out, sizeof out, &res), PATH_OK);
    cr_expect_str_eq(out, "/srv/www/.well-known/security.txt");
    cr_expect_eq(path_resolve("/srv/www", "/.well-known/.secret", &opt, out, sizeof out, &res), PATH_NOT_FOUND);
    cr_expect_eq(path_resolve("/srv/www", "/a/.well-known/x", &opt, out, sizeof out, &res), PATH_NOT_FOUND);
    cr_expect_eq(path_resolve("/srv/www", "/.well-known/../.env", &opt, out, sizeof out, &res), PATH_BAD_REQUEST);
}

Test(path, symlinks_leaving_the_root_are_detected)
{
    char dir[] = "/tmp/tessera-path-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char root[PATH_MAX], real_root[PATH_MAX], p[PATH_MAX + 64];
    snprintf(root, sizeof root, "%s/www", dir);
    cr_assert_eq(mkdir(root, 0700), 0);
    cr_assert_not_null(realpath(root, real_root));
    snprintf(p, sizeof p, "%s/inside.txt", root);
    FILE *f = fopen(p, "w");
    fputs("x", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/outside.txt", dir);
    f = fopen(p, "w");
    fputs("secret", f);
    fclose(f);
    char link[PATH_MAX + 64];
    snprintf(link, sizeof link, "%s/escape", root);
    cr_assert_eq(symlink("/etc", link), 0);
    snprintf(link, sizeof link, "%s/sneaky.txt", root);
    cr_assert_eq(symlink("../outside.txt", link), 0);
    snprintf(link, sizeof link, "%s/alias.txt", root);
    cr_assert_eq(symlink("inside.txt", link), 0);

    snprintf(p, sizeof p, "%s/inside.txt", root);
    cr_expect(path_check_inside(real_root, p));
    snprintf(p, sizeof p, "%s/alias.txt", root);
    cr_expect(path_check_inside(real_root, p), "a link within the root is fine");
    snprintf(p, sizeof p, "%s/escape/passwd", root);
    cr_expect_not(path_check_inside(real_root, p));
    snprintf(p, sizeof p, "%s/sneaky.txt", root);
    cr_expect_not(path_check_inside(real_root, p));
    snprintf(p, sizeof p, "%s/missing.txt", root);
    cr_expect_not(path_check_inside(real_root, p));
    /* a sibling folder whose name starts with the root's name is not inside it */
    snprintf(p, sizeof p, "%s/www2", dir);
    cr_assert_eq(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/www2", dir);
    cr_expect_not(path_check_inside(real_root, p));

    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}
