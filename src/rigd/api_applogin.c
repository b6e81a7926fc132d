/* GET /api/auth/app-login?app=NAME&next=PATH: where the app router sends a browser that has no
 * credential for a private or privileged app. Signed in (rigs_session cookie), the browser goes
 * back to the app with a one-time code that the router exchanges for an app cookie (the session
 * itself never leaves the API's origin); not signed in, it gets a sign-in form that posts to
 * POST /api/auth/login and comes back here. */
#include "rigd/api.h"

#include "base/url.h"
#include "core/apps.h"
#include "router/router.h"

#include <stdio.h>

static const char login_page[] =
    "<!doctype html><html><head><meta charset=utf-8><title>Sign in - Rigs</title>"
    "<meta name=viewport content='width=device-width'></head>"
    "<body style='font-family:sans-serif;max-width:22em;margin:4em auto'>"
    "<h1>Sign in</h1><p>Sign in to Rigs to open this app.</p>"
    "<form id=f><p><label>Email<br><input name=email type=email required autofocus></label></p>"
    "<p><label>Password<br><input name=password type=password required></label></p>"
    "<p><button>Sign in</button></p><p id=e style='color:#b00'></p></form>"
    "<script>document.getElementById('f').onsubmit=async function(ev){ev.preventDefault();"
    "var r=await fetch('/api/auth/login',{method:'POST',credentials:'same-origin',"
    "headers:{'Content-Type':'application/json'},body:JSON.stringify({email:this.email.value,"
    "password:this.password.value})});if(r.ok){location.reload();}else{"
    "document.getElementById('e').textContent='Wrong email or password.';}};</script>"
    "</body></html>\n";

void api_login_page(struct reqctx *c)
{
        char app[80], next[1024] = "/";
        if (query_get(c, "app", app, sizeof(app)) <= 0 || !name_valid(app) || !c->d->router) {
                reply_error(c, 404, "not_found",
                            "no app named here: open the app's URL to be sent to sign-in");
                return;
        }
        if (query_get(c, "next", next, sizeof(next)) <= 0 || next[0] != '/')
                snprintf(next, sizeof(next), "/");
        struct app_route ar;
        memset(&ar, 0, sizeof(ar));
        int r = store_app_route(c->st, app, &ar);
        app_free_fields(&ar.app);
        if (r < 0) {
                reply_errno(c, r, "app");
                return;
        }
        if (rigd_authenticate(c) < 0 || c->p.kind != PK_USER || c->p.method != AUTH_SESSION) {
                memset(&c->p, 0, sizeof(c->p));
                char *page = xstrdup(login_page);
                reply_text(c, 200, "text/html; charset=utf-8", page, strlen(page));
                return;
        }
        char code[ROUTER_CODE_LEN + 1], url[512], enc[3200], loc[4096];
        router_code_mint(c->d->router, app, c->p.id, c->p.email, code);
        router_app_url(c->d, app, url, sizeof(url));
        url_encode(next, enc, sizeof(enc));
        int n = snprintf(loc, sizeof(loc), "%s/.rigs/callback?code=%s&next=%s", url, code, enc);
        h2o_add_header(&c->req->pool, &c->req->res.headers, H2O_TOKEN_LOCATION, NULL,
                       h2o_strdup(&c->req->pool, loc, (size_t)n).base, (size_t)n);
        char *body = xstrdup("Signed in: back to the app.\n");
        reply_text(c, 302, "text/plain; charset=utf-8", body, strlen(body));
}
