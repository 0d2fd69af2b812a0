/* Rendering an onboard report (dfw/onboard.h): the table with its details and consent URLs, and
 * the JSON document for automation. */
#include "dfw/onboard.h"
#include "dfw/cloud.h"
#include "dfw/consent.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static const char *const token_words[] = {
    [DFW_OB_TOKEN_OK] = "ok",
    [DFW_OB_TOKEN_NO_CONSENT] = "no_consent",
    [DFW_OB_TOKEN_AUTHORIZE] = "authorize",
    [DFW_OB_TOKEN_WRONG_TENANT] = "wrong_tenant",
    [DFW_OB_TOKEN_CREDENTIAL] = "credential",
    [DFW_OB_TOKEN_ERROR] = "error",
};

static const char *const token_cells[] = {
    [DFW_OB_TOKEN_OK] = "ok",
    [DFW_OB_TOKEN_NO_CONSENT] = "no consent",
    [DFW_OB_TOKEN_AUTHORIZE] = "run authorize",
    [DFW_OB_TOKEN_WRONG_TENANT] = "wrong tenant",
    [DFW_OB_TOKEN_CREDENTIAL] = "bad credential",
    [DFW_OB_TOKEN_ERROR] = "error",
};

static const char *const verdict_words[] = {
    [DFW_OB_OK] = "ok",
    [DFW_OB_NOT_CONFIGURED] = "not_configured",
    [DFW_OB_MISSING_PERMISSION] = "missing_permission",
    [DFW_OB_NO_CONSENT] = "no_consent",
    [DFW_OB_NOT_ALLOWED] = "app_not_allowed",
    [DFW_OB_API_ERROR] = "api_error",
    [DFW_OB_TOKEN_FAILED] = "no_token",
};

static const char *const auth_words[] = {"secret", "certificate", "refresh_token"};

static const char *auth_word(const struct dfw_tenant_conf *c)
{
    return (unsigned)c->auth < 3 ? auth_words[c->auth] : "?";
}

static void token_cell(const struct dfw_onboard_tenant *t, char *out, size_t n)
{
    if (t->token == DFW_OB_TOKEN_OK && t->have_kind) {
        snprintf(out, n, "%s", dfw_token_kind_name(t->kind));
    }
    else {
        snprintf(out, n, "%s", token_cells[t->token]);
    }
}

static void stream_cell(const struct dfw_onboard_stream *s, char *out, size_t n)
{
    switch (s->verdict) {
    case DFW_OB_OK:
        snprintf(out, n, "OK");
        break;
    case DFW_OB_NOT_CONFIGURED:
        snprintf(out, n, "-");
        break;
    case DFW_OB_MISSING_PERMISSION:
        snprintf(out, n, "missing %s", s->permission);
        break;
    case DFW_OB_NO_CONSENT:
        snprintf(out, n, "no consent");
        break;
    case DFW_OB_NOT_ALLOWED:
        snprintf(out, n, "app not allowed");
        break;
    case DFW_OB_API_ERROR:
        if (s->http_status > 0) {
            snprintf(out, n, "API error %ld", s->http_status);
        }
        else {
            snprintf(out, n, "API error");
        }
        break;
    case DFW_OB_TOKEN_FAILED:
        snprintf(out, n, "no token");
        break;
    }
}

/* Which streams get a column: those some tenant reads. */
static void used_streams(const struct dfw_onboard_report *r, int *used, size_t n)
{
    memset(used, 0, n * sizeof(*used));
    for (size_t i = 0; i < r->ntenants; i++) {
        for (size_t s = 0; s < r->tenants[i].nstreams && s < n; s++) {
            used[s] |= r->tenants[i].streams[s].verdict != DFW_OB_NOT_CONFIGURED;
        }
    }
}

static void print_details(const struct dfw_onboard_tenant *t, FILE *out)
{
    const struct dfw_tenant_conf *c = t->conf;
    fprintf(out, "%s (%s):\n", c->name, c->tenant_id);
    if (t->token != DFW_OB_TOKEN_OK) {
        fprintf(out, "  token: %s\n", t->detail);
    }
    const struct dfw_cloud *cloud = dfw_cloud_find(c->cloud ? c->cloud : "global");
    for (size_t s = 0; s < t->nstreams; s++) {
        const struct dfw_onboard_stream *o = &t->streams[s];
        switch (o->verdict) {
        case DFW_OB_MISSING_PERMISSION:
            fprintf(out,
                    "  %s: the %s token lacks the permission %s: add it to the app "
                    "registration and grant admin consent\n",
                    o->def->name, t->have_kind ? dfw_token_kind_name(t->kind) : "access",
                    o->permission);
            break;
        case DFW_OB_NOT_ALLOWED:
            fprintf(out,
                    "  %s: HTTP 403 although the token holds the permission%s%s: allow application "
                    "%s in the tenant's Defender portal: %s/?tid=%s > Settings > Endpoints > APIs "
                    "> SIEM > MSSP\n",
                    o->def->name, o->detail[0] ? ": " : "", o->detail, c->client_id,
                    cloud ? cloud->portal_url : "https://security.microsoft.com", c->tenant_id);
            break;
        case DFW_OB_API_ERROR:
            fprintf(out, "  %s: %s %ld%s%s\n", o->def->name, o->http_status ? "HTTP" : "no answer",
                    o->http_status, o->detail[0] ? ": " : "", o->detail);
            break;
        default:
            break;
        }
    }
    if (t->token == DFW_OB_TOKEN_NO_CONSENT) {
        char *v1 = NULL, *v2 = NULL;
        if (dfw_consent_urls(c, NULL, &v1, &v2) == DFW_OK) {
            fprintf(out, "  consent URL (v1): %s\n  consent URL (v2): %s\n", v1, v2);
        }
        free(v1);
        free(v2);
    }
}

void dfw_onboard_print_table(const struct dfw_onboard_report *r, FILE *out)
{
    int used[8];
    used_streams(r, used, 8);
    size_t wt = strlen("TENANT"), wa = strlen("AUTH"), wk = strlen("TOKEN"), ws[8] = {0};
    size_t nstreams = r->ntenants > 0 ? r->tenants[0].nstreams : 0;
    char cell[128];
    for (size_t i = 0; i < r->ntenants; i++) {
        const struct dfw_onboard_tenant *t = &r->tenants[i];
        wt = strlen(t->conf->name) > wt ? strlen(t->conf->name) : wt;
        wa = strlen(auth_word(t->conf)) > wa ? strlen(auth_word(t->conf)) : wa;
        token_cell(t, cell, sizeof(cell));
        wk = strlen(cell) > wk ? strlen(cell) : wk;
        for (size_t s = 0; s < t->nstreams && s < 8; s++) {
            stream_cell(&t->streams[s], cell, sizeof(cell));
            size_t head = strlen(t->streams[s].def->name);
            ws[s] = head > ws[s] ? head : ws[s];
            ws[s] = strlen(cell) > ws[s] ? strlen(cell) : ws[s];
        }
    }
    size_t last = 0; /* the last column is not padded */
    for (size_t s = 0; s < nstreams && s < 8; s++) {
        last = used[s] ? s : last;
    }
    fprintf(out, "%-*s  %-*s  %-*s", (int)wt, "TENANT", (int)wa, "AUTH", (int)wk, "TOKEN");
    for (size_t s = 0; s < nstreams && s < 8; s++) {
        if (used[s]) {
            fprintf(out, "  %-*s", s == last ? 0 : (int)ws[s], r->tenants[0].streams[s].def->name);
        }
    }
    fputc('\n', out);
    for (size_t i = 0; i < r->ntenants; i++) {
        const struct dfw_onboard_tenant *t = &r->tenants[i];
        token_cell(t, cell, sizeof(cell));
        fprintf(out, "%-*s  %-*s  %-*s", (int)wt, t->conf->name, (int)wa, auth_word(t->conf),
                (int)wk, cell);
        for (size_t s = 0; s < t->nstreams && s < 8; s++) {
            if (used[s]) {
                stream_cell(&t->streams[s], cell, sizeof(cell));
                fprintf(out, "  %-*s", s == last ? 0 : (int)ws[s], cell);
            }
        }
        fputc('\n', out);
    }
    fprintf(out, "\n%zu of %zu tenants ready (%.1f s).\n", r->ready, r->ntenants,
            (double)r->elapsed_ms / 1000.0);
    for (size_t i = 0; i < r->ntenants; i++) {
        if (!r->tenants[i].ready) {
            print_details(&r->tenants[i], out);
        }
    }
}

static json_object *tenant_json(const struct dfw_onboard_tenant *t)
{
    const struct dfw_tenant_conf *c = t->conf;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "tenant", json_object_new_string(c->name));
    json_object_object_add(o, "tenant_id", json_object_new_string(c->tenant_id));
    json_object_object_add(o, "auth", json_object_new_string(auth_word(c)));
    json_object_object_add(o, "ready", json_object_new_boolean(t->ready));
    json_object *tok = json_object_new_object();
    json_object_object_add(tok, "status", json_object_new_string(token_words[t->token]));
    json_object_object_add(
        tok, "kind", t->have_kind ? json_object_new_string(dfw_token_kind_name(t->kind)) : NULL);
    json_object_object_add(tok, "tid", t->tid[0] ? json_object_new_string(t->tid) : NULL);
    json_object_object_add(tok, "detail", t->detail[0] ? json_object_new_string(t->detail) : NULL);
    json_object_object_add(o, "token", tok);
    json_object *streams = json_object_new_object();
    for (size_t s = 0; s < t->nstreams; s++) {
        const struct dfw_onboard_stream *st = &t->streams[s];
        json_object *v = json_object_new_object();
        json_object_object_add(v, "verdict", json_object_new_string(verdict_words[st->verdict]));
        if (st->permission != NULL && st->verdict == DFW_OB_MISSING_PERMISSION) {
            json_object_object_add(v, "permission", json_object_new_string(st->permission));
        }
        if (st->http_status > 0) {
            json_object_object_add(v, "http_status", json_object_new_int64(st->http_status));
        }
        if (st->detail[0] && st->verdict != DFW_OB_OK) {
            json_object_object_add(v, "detail", json_object_new_string(st->detail));
        }
        json_object_object_add(streams, st->def->name, v);
    }
    json_object_object_add(o, "streams", streams);
    if (t->token == DFW_OB_TOKEN_NO_CONSENT) {
        char *v1 = NULL, *v2 = NULL;
        if (dfw_consent_urls(c, NULL, &v1, &v2) == DFW_OK) {
            json_object *u = json_object_new_object();
            json_object_object_add(u, "v1", json_object_new_string(v1));
            json_object_object_add(u, "v2", json_object_new_string(v2));
            json_object_object_add(o, "consent_urls", u);
        }
        free(v1);
        free(v2);
    }
    return o;
}

dfw_err dfw_onboard_print_json(const struct dfw_onboard_report *r, FILE *out)
{
    json_object *root = json_object_new_object();
    json_object *arr = json_object_new_array();
    if (root == NULL || arr == NULL) {
        json_object_put(root);
        json_object_put(arr);
        return DFW_ERR_NOMEM;
    }
    for (size_t i = 0; i < r->ntenants; i++) {
        json_object_array_add(arr, tenant_json(&r->tenants[i]));
    }
    json_object_object_add(root, "tenants", arr);
    json_object_object_add(root, "ready", json_object_new_int64((int64_t)r->ready));
    json_object_object_add(root, "total", json_object_new_int64((int64_t)r->ntenants));
    json_object_object_add(root, "elapsed_ms", json_object_new_int64(r->elapsed_ms));
    const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
    dfw_err rc = text != NULL ? DFW_OK : DFW_ERR_NOMEM;
    if (text != NULL) {
        fprintf(out, "%s\n", text);
    }
    json_object_put(root);
    return rc;
}
