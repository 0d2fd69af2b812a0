/* [tenant NAME] sections: opening one, its keys (secret references, URLs, streams) and the checks
 * at its end, when all its keys are known. */
#include "config_internal.h"
#include "dfw/cloud.h"
#include "dfw/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const tkey_names[TK_COUNT] = {
    "tenant_id",
    "client_id",
    "auth",
    "token_endpoint",
    "client_secret_file",
    "client_secret_credential",
    "client_secret_env",
    "certificate_file",
    "private_key_file",
    "private_key_credential",
    "private_key_env",
    "assertion_alg",
    "refresh_token_file",
    "cloud",
    "login_url",
    "defender_url",
    "graph_url",
    "streams",
    "settle_delay",
    "overlap",
    "expand_alerts",
};

/* The names of fetch/stream.c's streams (config sits below fetch and cannot read its table). */
static const char *const stream_names[] = {"graph-incidents", "graph-alerts", "m365d-incidents",
                                           "mde-alerts"};
#define STREAM_LIST   "graph-incidents, graph-alerts, m365d-incidents, mde-alerts"
#define NSTREAM_NAMES (sizeof(stream_names) / sizeof(stream_names[0]))

/* The section a message is about: "[tenant x] ", "[output y] ", "[forwarder] " or "". */
static const char *sect_label(const struct frame *f, char *out, size_t outlen)
{
    const struct dfw_config *cfg = f->ld->cfg;
    switch (f->kind) {
    case SECT_TENANT:
        snprintf(out, outlen, "[tenant %s] ", cfg->tenants[f->idx].name);
        break;
    case SECT_OUTPUT:
        snprintf(out, outlen, "[output %s] ", cfg->outputs[f->idx].name);
        break;
    case SECT_FORWARDER:
        snprintf(out, outlen, "[forwarder] ");
        break;
    case SECT_NONE:
        out[0] = '\0';
        break;
    }
    return out;
}

int dfw__conf_tenant_open(struct frame *f, const char *name, int line)
{
    struct loader *ld = f->ld;
    struct dfw_config *cfg = ld->cfg;
    struct dfw_tenant_conf *ts =
        dfw__conf_grow(cfg->tenants, cfg->ntenants, &ld->tenant_cap, sizeof(*ts));
    if (ts == NULL) {
        return dfw__conf_nomem(f);
    }
    cfg->tenants = ts;
    struct dfw_tenant_conf *t = &ts[cfg->ntenants];
    t->name = strdup(name);
    t->file = strdup(f->path);
    t->cloud = strdup("global");
    cfg->ntenants++; /* counted now so dfw_config_free sees it even when half-built */
    if (t->name == NULL || t->file == NULL || t->cloud == NULL) {
        return dfw__conf_nomem(f);
    }
    t->line = line;
    t->settle_delay_ms = -1;
    t->overlap_ms = -1;
    t->expand_alerts = 1;
    size_t prev;
    int r = dfw__conf_nameset_add(&ld->tenant_names, t->name, cfg->ntenants - 1, &prev);
    if (r < 0) {
        return dfw__conf_nomem(f);
    }
    if (r > 0) {
        return dfw__conf_fail(f, "[tenant %s] duplicate tenant name (first defined at %s:%d)", name,
                              ts[prev].file, ts[prev].line);
    }
    f->kind = SECT_TENANT;
    f->idx = cfg->ntenants - 1;
    memset(f->tkey_line, 0, sizeof(f->tkey_line));
    return 1;
}

static struct dfw_secret_ref *tkey_ref(struct dfw_tenant_conf *t, enum tkey k)
{
    return k <= TK_CS_ENV ? &t->client_secret : &t->private_key;
}

static char **ref_field(struct dfw_secret_ref *ref, int which)
{
    return which == 0 ? &ref->file : which == 1 ? &ref->credential : &ref->env;
}

static void free_streams(struct dfw_tenant_conf *t)
{
    for (size_t i = 0; i < t->nstreams; i++) {
        free(t->streams[i]);
    }
    free(t->streams);
    t->streams = NULL;
    t->nstreams = 0;
}

/* "a, b c" -> streams[]; each must be a known stream, listed once. */
static int
parse_streams(struct frame *f, struct dfw_tenant_conf *t, const char *v, const char *label)
{
    const char *p = v;
    free_streams(t);
    t->streams = calloc(NSTREAM_NAMES, sizeof(char *));
    if (t->streams == NULL) {
        return dfw__conf_nomem(f);
    }
    for (;;) {
        p += strspn(p, ", \t");
        if (*p == '\0') {
            break;
        }
        size_t len = strcspn(p, ", \t");
        size_t s;
        for (s = 0; s < NSTREAM_NAMES; s++) {
            if (strlen(stream_names[s]) == len && strncmp(stream_names[s], p, len) == 0) {
                break;
            }
        }
        if (s == NSTREAM_NAMES) {
            return dfw__conf_fail(f, "%sstreams: unknown stream '%.*s' (expected " STREAM_LIST ")",
                                  label, (int)len, p);
        }
        for (size_t j = 0; j < t->nstreams; j++) {
            if (strcmp(t->streams[j], stream_names[s]) == 0) {
                return dfw__conf_fail(f, "%sstreams: '%s' is listed twice", label, stream_names[s]);
            }
        }
        t->streams[t->nstreams] = strdup(stream_names[s]);
        if (t->streams[t->nstreams] == NULL) {
            return dfw__conf_nomem(f);
        }
        t->nstreams++;
        p += len;
    }
    if (t->nstreams == 0) {
        return dfw__conf_fail(f, "%sstreams: no stream listed", label);
    }
    return 1;
}

/* https://host[:port][/path]: no blanks, query or fragment; trailing '/' removed. */
static int set_url(struct frame *f, char **slot, const char *key, const char *v, const char *label)
{
    if (strncasecmp(v, "https://", 8) != 0 || v[8] == '\0' || v[8] == '/') {
        return dfw__conf_fail(f, "%s%s: must start with https:// and name a host", label, key);
    }
    for (const char *p = v; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == '?' || *p == '#' || *p == 0x7f) {
            return dfw__conf_fail(f, "%s%s: a base URL must not contain blanks, '?' or '#'", label,
                                  key);
        }
    }
    if (!dfw__conf_set_str(f, slot, v)) {
        return 0;
    }
    size_t n = strlen(*slot);
    while (n > 8 && (*slot)[n - 1] == '/') {
        (*slot)[--n] = '\0';
    }
    return 1;
}

int dfw__conf_tenant_key(struct frame *f, const char *key, const char *v)
{
    struct dfw_tenant_conf *t = &f->ld->cfg->tenants[f->idx];
    char label[NAME_MAX_LEN + 16];
    sect_label(f, label, sizeof(label));
    int k;
    for (k = 0; k < TK_COUNT && strcmp(tkey_names[k], key) != 0; k++) {
    }
    if (k == TK_COUNT) {
        /* Never echo the value: it may be the secret itself. */
        if (strcmp(key, "client_secret") == 0 || strcmp(key, "private_key") == 0) {
            return dfw__conf_fail(
                f,
                "%s%s: secrets are not allowed in the configuration file; use %s_file, "
                "%s_credential or %s_env",
                label, key, key, key, key);
        }
        if (strcmp(key, "refresh_token") == 0) {
            return dfw__conf_fail(
                f,
                "%srefresh_token: secrets are not allowed in the configuration file; use "
                "refresh_token_file",
                label);
        }
        return dfw__conf_fail(f, "%sunknown key '%s'", label, key);
    }
    if (f->tkey_line[k] != 0) {
        return dfw__conf_fail(f, "%s%s: duplicate key (first set at line %d)", label, key,
                              f->tkey_line[k]);
    }
    f->tkey_line[k] = f->lineno;
    if (*v == '\0') {
        return dfw__conf_fail(f, "%s%s: empty value", label, key);
    }
    switch ((enum tkey)k) {
    case TK_TENANT_ID:
        if (!dfw__conf_is_guid(v) && !dfw__conf_is_domain(v)) {
            return dfw__conf_fail(
                f,
                "%stenant_id: '%s' is neither a directory GUID nor a domain such as "
                "contoso.onmicrosoft.com%s",
                label, v,
                (strcasecmp(v, "common") == 0 || strcasecmp(v, "organizations") == 0 ||
                 strcasecmp(v, "consumers") == 0)
                    ? " (common, organizations and consumers do not name a tenant)"
                    : "");
        }
        return dfw__conf_set_str(f, &t->tenant_id, v);
    case TK_CLIENT_ID:
        if (!dfw__conf_is_guid(v)) {
            return dfw__conf_fail(f, "%sclient_id: '%s' is not an application (client) id GUID",
                                  label, v);
        }
        return dfw__conf_set_str(f, &t->client_id, v);
    case TK_AUTH:
        if (strcmp(v, "secret") == 0) {
            t->auth = DFW_AUTH_SECRET;
        }
        else if (strcmp(v, "certificate") == 0) {
            t->auth = DFW_AUTH_CERTIFICATE;
        }
        else if (strcmp(v, "refresh_token") == 0) {
            t->auth = DFW_AUTH_REFRESH_TOKEN;
        }
        else {
            return dfw__conf_fail(
                f, "%sauth: '%s' is not one of secret, certificate, refresh_token", label, v);
        }
        return 1;
    case TK_TOKEN_ENDPOINT:
        if (strcmp(v, "v2") != 0 && strcmp(v, "v1") != 0) {
            return dfw__conf_fail(f, "%stoken_endpoint: '%s' is not one of v2, v1", label, v);
        }
        t->token_endpoint = strcmp(v, "v1") == 0 ? DFW_TOKEN_V1 : DFW_TOKEN_V2;
        return 1;
    case TK_CS_FILE:
    case TK_CS_CREDENTIAL:
    case TK_CS_ENV:
    case TK_PK_FILE:
    case TK_PK_CREDENTIAL:
    case TK_PK_ENV: {
        int first = k <= TK_CS_ENV ? TK_CS_FILE : TK_PK_FILE;
        int which = k - first;
        for (int o = first; o < first + 3; o++) {
            if (o != k && f->tkey_line[o] != 0) {
                return dfw__conf_fail(f,
                                      "%s%s: only one of %s, %s, %s may be set (%s is at line %d)",
                                      label, key, tkey_names[first], tkey_names[first + 1],
                                      tkey_names[first + 2], tkey_names[o], f->tkey_line[o]);
            }
        }
        if (which == 1 && !dfw__conf_valid_credential_name(v)) {
            return dfw__conf_fail(f, "%s%s: '%s' is not a credential name (no '/')", label, key, v);
        }
        if (which == 2 && !dfw__conf_valid_env_name(v)) {
            return dfw__conf_fail(f, "%s%s: '%s' is not an environment variable name", label, key,
                                  v);
        }
        return dfw__conf_set_str(f, ref_field(tkey_ref(t, (enum tkey)k), which), v);
    }
    case TK_CERTIFICATE_FILE:
        return dfw__conf_set_str(f, &t->certificate_file, v);
    case TK_ASSERTION_ALG:
        if (strcasecmp(v, "PS256") == 0) {
            t->assertion_alg = DFW_ALG_PS256;
        }
        else if (strcasecmp(v, "RS256") == 0) {
            t->assertion_alg = DFW_ALG_RS256;
        }
        else {
            return dfw__conf_fail(f, "%sassertion_alg: '%s' is not one of PS256, RS256", label, v);
        }
        return 1;
    case TK_REFRESH_TOKEN_FILE:
        return dfw__conf_set_str(f, &t->refresh_token_file, v);
    case TK_CLOUD: {
        const struct dfw_cloud *c = dfw_cloud_find(v);
        if (c == NULL) {
            return dfw__conf_fail(f, "%scloud: '%s' is not one of %s", label, v, dfw_cloud_names());
        }
        return dfw__conf_set_str(f, &t->cloud, c->name);
    }
    case TK_LOGIN_URL:
        return set_url(f, &t->login_url, key, v, label);
    case TK_DEFENDER_URL:
        return set_url(f, &t->defender_url, key, v, label);
    case TK_GRAPH_URL:
        return set_url(f, &t->graph_url, key, v, label);
    case TK_STREAMS:
        return parse_streams(f, t, v, label);
    case TK_SETTLE_DELAY:
    case TK_OVERLAP: {
        int64_t ms;
        if (dfw_duration_parse(v, &ms) != DFW_OK || ms < 0 || ms > DAY_MS) {
            return dfw__conf_fail(f, "%s%s: '%s' is not a duration from 0s to 1d", label, key, v);
        }
        *(k == TK_SETTLE_DELAY ? &t->settle_delay_ms : &t->overlap_ms) = ms;
        return 1;
    }
    case TK_EXPAND_ALERTS:
        if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "on") == 0 || strcasecmp(v, "true") == 0) {
            t->expand_alerts = 1;
        }
        else if (strcasecmp(v, "no") == 0 || strcasecmp(v, "off") == 0 ||
                 strcasecmp(v, "false") == 0) {
            t->expand_alerts = 0;
        }
        else {
            return dfw__conf_fail(f, "%sexpand_alerts: '%s' is not yes or no", label, v);
        }
        return 1;
    case TK_COUNT:
        break;
    }
    return 0;
}

/* A key that does not apply to the tenant's auth method is an error at its own line. */
static int reject_key(struct frame *f, const char *label, int k, const char *auth)
{
    if (f->tkey_line[k] == 0) {
        return 1;
    }
    return dfw__conf_fail_at(f, f->tkey_line[k], "%s%s: not used with auth = %s", label,
                             tkey_names[k], auth);
}

static int has_ref(const struct frame *f, int first)
{
    return f->tkey_line[first] || f->tkey_line[first + 1] || f->tkey_line[first + 2];
}

/* End of a [tenant]: required keys, keys that belong together, defaults that need allocation. */
int dfw__conf_tenant_close(struct frame *f)
{
    struct dfw_tenant_conf *t = &f->ld->cfg->tenants[f->idx];
    char label[NAME_MAX_LEN + 16];
    sect_label(f, label, sizeof(label));
    int at = f->tkey_line[TK_AUTH] ? f->tkey_line[TK_AUTH] : t->line;
    static const char *const auth_names[] = {"secret", "certificate", "refresh_token"};
    const char *auth = auth_names[t->auth];

    if (t->tenant_id == NULL) {
        return dfw__conf_fail_at(f, t->line, "%stenant_id is required", label);
    }
    if (t->client_id == NULL) {
        return dfw__conf_fail_at(f, t->line, "%sclient_id is required", label);
    }
    if (t->auth != DFW_AUTH_CERTIFICATE) {
        static const int cert_keys[] = {TK_CERTIFICATE_FILE, TK_PK_FILE, TK_PK_CREDENTIAL,
                                        TK_PK_ENV, TK_ASSERTION_ALG};
        for (size_t i = 0; i < sizeof(cert_keys) / sizeof(cert_keys[0]); i++) {
            if (!reject_key(f, label, cert_keys[i], auth)) {
                return 0;
            }
        }
    }
    if (t->auth != DFW_AUTH_REFRESH_TOKEN && !reject_key(f, label, TK_REFRESH_TOKEN_FILE, auth)) {
        return 0;
    }
    if (t->auth == DFW_AUTH_CERTIFICATE) {
        for (int k = TK_CS_FILE; k <= TK_CS_ENV; k++) {
            if (!reject_key(f, label, k, auth)) {
                return 0;
            }
        }
        if (t->certificate_file == NULL) {
            return dfw__conf_fail_at(f, at, "%sauth = certificate needs certificate_file", label);
        }
        if (!has_ref(f, TK_PK_FILE)) {
            return dfw__conf_fail_at(f, at,
                                     "%sauth = certificate needs one of private_key_file, "
                                     "private_key_credential, private_key_env",
                                     label);
        }
    }
    if (t->auth == DFW_AUTH_REFRESH_TOKEN && t->refresh_token_file == NULL) {
        return dfw__conf_fail_at(f, at,
                                 "%sauth = refresh_token needs refresh_token_file (written by "
                                 "'defender-forwarder authorize %s')",
                                 label, t->name);
    }
    /* The authorization-code client of auth = refresh_token also authenticates with a secret. */
    if (t->auth != DFW_AUTH_CERTIFICATE && !has_ref(f, TK_CS_FILE)) {
        return dfw__conf_fail_at(
            f, at,
            "%sauth = %s needs one of client_secret_file, client_secret_credential, "
            "client_secret_env",
            label, auth);
    }
    if (t->nstreams == 0) {
        /* the Graph streams: the legacy APIs stop working after 1 Feb 2027 (MC1220762) */
        return parse_streams(f, t, "graph-incidents, graph-alerts", label);
    }
    return 1;
}

static void free_ref(struct dfw_secret_ref *ref)
{
    free(ref->file);
    free(ref->credential);
    free(ref->env);
}

void dfw__conf_tenant_free(struct dfw_tenant_conf *t)
{
    free(t->name);
    free(t->tenant_id);
    free(t->client_id);
    free_ref(&t->client_secret);
    free(t->certificate_file);
    free_ref(&t->private_key);
    free(t->refresh_token_file);
    free(t->cloud);
    free(t->login_url);
    free(t->defender_url);
    free(t->graph_url);
    free_streams(t);
    free(t->canon);
    free(t->file);
}
