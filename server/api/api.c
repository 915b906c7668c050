/* api — the /api dispatcher: auth routes, then tessera's own routes, then the upstream.
 *
 * Cursor key: cursors must survive a page request landing on another instance, and instances
 * share nothing but PostgreSQL, so a random per-process key is out. The key comes from
 * api.cursor_secret when set, otherwise from database.url, which every instance of one
 * deployment shares. Cursors are integrity checks, not authorization (every list statement
 * filters by the session's user), so a predictable derived key costs no confidentiality. */
#include "tessera/api.h"

#include <civetweb.h>
#include <ctype.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tessera/api_route.h"
#include "tessera/auth.h"
#include "tessera/conversations.h"
#include "tessera/db_pool.h"
#include "tessera/percent.h"
#include "tessera/preferences.h"
#include "tessera/proxy.h"

struct api {
    struct api_context ctx;
    struct proxy *proxy;            /* NULL without api.upstream */
    struct auth_gate *auth_gate;    /* bounds concurrent password verifications */
    atomic_uint_fast64_t health_down;
};

static const struct db_statement HEALTH = {"api_health", "SELECT 1", 0};

struct api *api_create(const struct config *cfg, struct db_pool *pool)
{
    struct api *api = calloc(1, sizeof *api);
    if (!api)
        return NULL;
    api->ctx.cfg = cfg;
    api->ctx.pool = pool;
    const char *secret = cfg->api.cursor_secret[0] ? cfg->api.cursor_secret : cfg->database.url;
    cursor_key_derive(&api->ctx.cursor_key, secret);
    api->auth_gate = auth_gate_create(0);
    if (!api->auth_gate) {
        free(api);
        return NULL;
    }
    if (cfg->api.upstream[0]) {
        api->proxy = proxy_create(cfg->api.upstream, cfg->api.upstream_timeout_ms, cfg->api.max_body);
        if (!api->proxy) {
            auth_gate_free(api->auth_gate);
            free(api);
            return NULL;
        }
    }
    return api;
}

void api_free(struct api *api)
{
    if (!api)
        return;
    if (api->proxy)
        proxy_free(api->proxy);
    auth_gate_free(api->auth_gate);
    free(api);
}

/* No session needed: load balancers and monitors call it. */
static int handle_health(struct api *api, struct http_exchange *ex)
{
    if (!api_method_is_read(ex->method))
        return api_reply_method_not_allowed(ex, "GET, HEAD");
    PGresult *res = NULL;
    enum db_status st = api->ctx.pool ? db_query(api->ctx.pool, &HEALTH, NULL, &res) : DB_UNAVAILABLE;
    bool up = st == DB_OK && res && PQresultStatus(res) == PGRES_TUPLES_OK;
    PQclear(res);
    if (up) {
        static const char ok[] = "{\"status\":\"ok\",\"database\":\"ok\"}";
        return reply_json(ex, 200, ok, sizeof ok - 1);
    }
    atomic_fetch_add(&api->health_down, 1);
    static const char down[] = "{\"status\":\"error\",\"database\":\"down\"}";
    return reply_json(ex, 503, down, sizeof down - 1);
}

/* The start of the path as upstreams commonly route it: percent-decoded, lower case, '\\'
 * read as '/', repeated slashes merged, ";params" dropped (Tomcat). Enough of it to compare
 * with the owned prefixes. */
static void path_routing_form(const char *path, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = path; *p && n + 1 < size;) {
        int width;
        int c = percent_char_at(p, &width);
        p += width;
        if (c == ';') {
            p += strcspn(p, "/");
            continue;
        }
        if (c == '\\')
            c = '/';
        if (c == '/' && n > 0 && out[n - 1] == '/')
            continue;
        out[n++] = (char)tolower(c);
    }
    out[n] = '\0';
}

/* Prefixes tessera answers itself even when a path below them is unknown. Compared in the
 * routing form, so that "/api/%63onversations" or "/api/Conversations" cannot reach an
 * upstream's own version of a route tessera owns (and skip tessera's checks). A '.' ends the
 * prefix too: Rails routes "/api/conversations.json" to conversations#index (a format),
 * Spring's suffix matching and IIS (a trailing dot) likewise. */
static bool path_is_owned(const char *path)
{
    static const char *const owned[] = {"/api/auth", "/api/me", "/api/preferences", "/api/conversations",
                                        "/api/health"};
    char form[32];
    path_routing_form(path, form, sizeof form);
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) {
        size_t n = strlen(owned[i]);
        if (strncmp(form, owned[i], n) == 0 && (form[n] == '\0' || form[n] == '/' || form[n] == '.'))
            return true;
    }
    return false;
}

void api_expect_continue(struct http_exchange *ex, int64_t max_body)
{
    const char *expect = http_header(ex, "Expect");
    const char *version = ex->req->http_version;
    long long length = ex->req->content_length;
    bool has_body = (length > 0 && length <= max_body) || (length < 0 && http_header(ex, "Transfer-Encoding"));
    if (has_body && expect && strcasecmp(expect, "100-continue") == 0 && version && strcmp(version, "1.1") == 0)
        mg_write(ex->conn, "HTTP/1.1 100 Continue\r\n\r\n", 25);
}

int api_handle(struct api *api, struct http_exchange *ex)
{
    int status = auth_routes_handle(api->ctx.pool, api->ctx.cfg, api->auth_gate, ex);
    if (status)
        return status;
    if ((status = preferences_handle(&api->ctx, ex)))
        return status;
    if ((status = conversations_handle(&api->ctx, ex)))
        return status;
    if (strcmp(ex->path, "/api/health") == 0)
        return handle_health(api, ex);
    if (api->proxy && !path_is_owned(ex->path))
        return proxy_forward(api->proxy, ex);
    return reply_json_error(ex, 404, "not_found", "no such API route", NULL);
}

void api_metrics(struct api *api, struct strbuf *out)
{
    strbuf_printf(out, "# TYPE tessera_api_health_down_total counter\ntessera_api_health_down_total %llu\n",
                  (unsigned long long)atomic_load(&api->health_down));
    if (api->proxy)
        proxy_metrics(api->proxy, out);
}
