/* Token responses and Entra ID errors (dfw_auth_handle_response, dfw_auth_explain_error): any
 * HTTP status and body, with the tenant's client secret echoed somewhere in the body (a hostile
 * or broken token endpoint), into error buffers of every size.
 * Invariants: no message holds the secret, and a short buffer holds a prefix of the long
 * message (the mask is applied before the cut, so no start of a secret survives at the end);
 * messages are one line of text with no control character, '"' or '\\' (they go into
 * msg="..." of log lines); the result is one of the documented codes; an accepted 200 caches
 * exactly the access_token of the body. */
#include "fuzz.h"

#include <json-c/json.h>
#include <stdlib.h>

#include "dfw/auth.h"
#include "dfw/utf8.h"

#define SECRET   "Qx98Q~fuzz-Secret.Value_0123456789abcdefXYZ"
#define RESOURCE "https://api.security.microsoft.com"

static struct dfw_auth *provider(void)
{
    static struct dfw_auth *a;
    if (a == NULL) {
        setenv("DFW_FUZZ_CLIENT_SECRET", SECRET, 1);
        struct dfw_tenant_conf t;
        memset(&t, 0, sizeof(t));
        t.name = "contoso";
        t.tenant_id = "a839b112-1253-6432-9bf6-94542403f21c";
        t.client_id = "5d1574f2-16b9-4790-a6a8-b9dd6c8eccdd";
        t.auth = DFW_AUTH_SECRET;
        t.client_secret.env = "DFW_FUZZ_CLIENT_SECRET";
        char err[256];
        a = dfw_auth_new(&t, "https://login.microsoftonline.com", err, sizeof(err));
        FUZZ_CHECK(a != NULL, "dfw_auth_new: %s", err);
    }
    return a;
}

static void check_text(const char *msg)
{
    size_t n = strlen(msg);
    FUZZ_CHECK(strstr(msg, SECRET) == NULL, "the secret in '%s'", msg);
    FUZZ_CHECK(dfw_utf8_valid(msg, n) && fuzz_no_controls(msg, n) && strchr(msg, '"') == NULL &&
                   strchr(msg, '\\') == NULL,
               "not quotable: '%s'", msg);
}

static int known_rc(dfw_err rc)
{
    return rc == DFW_OK || rc == DFW_ERR_AUTH || rc == DFW_ERR_RETRY || rc == DFW_ERR_THROTTLED ||
           rc == DFW_ERR_NOMEM;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[] = {200, 400, 401, 403, 429, 500, 503, 302};
    struct fuzz_in in = {data, size};
    long status = statuses[fuzz_byte(&in) % 8];
    size_t small = fuzz_byte(&in) % 240 + 1;
    size_t pos = fuzz_byte(&in) << 8;
    pos |= fuzz_byte(&in);
    /* the body with the secret put in at pos */
    size_t sl = strlen(SECRET);
    pos = in.n ? pos % (in.n + 1) : 0;
    size_t len = in.n + sl;
    char *body = malloc(len + 1);
    if (in.n > 0) {
        memcpy(body, in.p, pos);
        memcpy(body + pos + sl, in.p + pos, in.n - pos);
    }
    memcpy(body + pos, SECRET, sl);
    body[len] = '\0';
    struct dfw_auth *a = provider();
    char full[4096], cut[256];
    dfw_err rc = dfw_auth_handle_response(a, RESOURCE, status, body, len, 1714550000000LL, full,
                                          sizeof(full));
    FUZZ_CHECK(known_rc(rc), "rc %d", rc);
    if (rc == DFW_OK) {
        const struct dfw_token *t = dfw_auth_token(a, RESOURCE, 1714550000000LL);
        struct json_object *o = json_tokener_parse(body), *at;
        FUZZ_CHECK(o != NULL && json_object_object_get_ex(o, "access_token", &at) &&
                       (t == NULL || strcmp(t->access_token, json_object_get_string(at)) == 0),
                   "cached token is not the body's");
        json_object_put(o);
        dfw_auth_invalidate(a, RESOURCE);
    }
    else {
        check_text(full);
        FUZZ_CHECK(dfw_auth_handle_response(a, RESOURCE, status, body, len, 1714550000000LL, cut,
                                            small) == rc,
                   "rc depends on the buffer size");
        FUZZ_CHECK(strncmp(cut, full, strlen(cut)) == 0 &&
                       strlen(cut) == (strlen(full) < small ? strlen(full) : small - 1),
                   "'%s' is not the start of '%s'", cut, full);
    }
    /* the error explainer alone (the `token` command) */
    if (status != 200) {
        rc =
            dfw_auth_explain_error("contoso", status, (const char *)in.p, in.n, full, sizeof(full));
        FUZZ_CHECK(known_rc(rc) && rc != DFW_OK, "explain rc %d", rc);
        size_t n = strlen(full);
        FUZZ_CHECK(dfw_utf8_valid(full, n) && fuzz_no_controls(full, n) &&
                       strchr(full, '"') == NULL && strchr(full, '\\') == NULL,
                   "not quotable: '%s'", full);
    }
    free(body);
    return 0;
}
