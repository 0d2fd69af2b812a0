/* The configuration loader. libinih splits "key = value" lines, strips comments and whitespace
 * and reports syntax errors; everything else is ours. Our own line reader sits in front of inih:
 * it counts physical lines (the Debian build of inih has no INI_HANDLER_LINENO), handles section
 * headers itself (inih truncates section names at 49 bytes, ours may be 64 + "tenant ") and
 * strips leading blanks (so an indented line is never an inih multi-line continuation). inih
 * calls the handler for a line before it asks for the next one, so the reader's line count is the
 * handler's line number. */
#include "dfw/config.h"
#include "dfw/cloud.h"
#include "dfw/log.h"
#include "dfw/timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_INCLUDE_DEPTH 8 /* nested include levels below the main file */
#define NAME_MAX_LEN      64

enum sect_kind { SECT_NONE, SECT_FORWARDER, SECT_TENANT, SECT_OUTPUT };

/* Tenant keys, in the order of struct dfw_tenant_conf. */
enum tkey {
    TK_TENANT_ID,
    TK_CLIENT_ID,
    TK_AUTH,
    TK_TOKEN_ENDPOINT,
    TK_CS_FILE,
    TK_CS_CREDENTIAL,
    TK_CS_ENV,
    TK_CERTIFICATE_FILE,
    TK_PK_FILE,
    TK_PK_CREDENTIAL,
    TK_PK_ENV,
    TK_ASSERTION_ALG,
    TK_REFRESH_TOKEN_FILE,
    TK_CLOUD,
    TK_LOGIN_URL,
    TK_DEFENDER_URL,
    TK_GRAPH_URL,
    TK_STREAMS,
    TK_COUNT
};

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
};

static const char *const stream_names[] = {"m365d-incidents", "mde-alerts", "graph-alerts"};
#define NSTREAM_NAMES (sizeof(stream_names) / sizeof(stream_names[0]))

/* [forwarder] keys: one declarative table drives parsing, range checks and duplicate checks. */
enum ftype { F_STRING, F_DURATION, F_INT, F_LOGLEVEL };

struct fkey {
    const char *name;
    enum ftype type;
    size_t offset; /* into struct dfw_config */
    int64_t min, max;
};

#define DAY_MS (86400LL * 1000)
static const struct fkey fkeys[] = {
    {"state_dir", F_STRING, offsetof(struct dfw_config, state_dir), 0, 0},
    {"poll_interval", F_DURATION, offsetof(struct dfw_config, poll_interval_ms), 1000, DAY_MS},
    {"overlap", F_DURATION, offsetof(struct dfw_config, overlap_ms), 0, DAY_MS},
    {"initial_lookback", F_DURATION, offsetof(struct dfw_config, initial_lookback_ms), 0,
     180 * DAY_MS},
    {"http_timeout", F_DURATION, offsetof(struct dfw_config, http_timeout_ms), 1000, 3600000},
    {"connect_timeout", F_DURATION, offsetof(struct dfw_config, connect_timeout_ms), 1000, 600000},
    {"max_retries", F_INT, offsetof(struct dfw_config, max_retries), 0, 100},
    {"page_size", F_INT, offsetof(struct dfw_config, page_size), 0, 10000},
    {"max_connections", F_INT, offsetof(struct dfw_config, max_connections), 1, 4096},
    {"ca_file", F_STRING, offsetof(struct dfw_config, ca_file), 0, 0},
    {"log_level", F_LOGLEVEL, offsetof(struct dfw_config, log_level), 0, 0},
    {"metrics_file", F_STRING, offsetof(struct dfw_config, metrics_file), 0, 0},
};
#define NFKEYS (sizeof(fkeys) / sizeof(fkeys[0]))

/* Open-addressing set of names -> array index, so 10,000 sections load in linear time. */
struct name_slot {
    const char *name; /* borrowed from the tenant/output; NULL = empty slot */
    size_t idx;
};

struct name_set {
    struct name_slot *slots;
    size_t cap; /* power of two */
    size_t n;
};

struct loader;

/* One file being read; frames form a stack through include. */
struct frame {
    struct frame *parent;
    struct loader *ld;
    const char *path; /* as shown in messages */
    char *dir;        /* base for relative include globs */
    dev_t dev;        /* identity for include-cycle detection */
    ino_t ino;
    FILE *fp;
    char *buf; /* getline buffer */
    size_t bufcap;
    int lineno;
    int stop_line; /* line being read when the first error happened (0: none) */
    enum sect_kind kind;
    size_t idx;    /* current tenant or output */
    int type_line; /* [output]: line of type = */
    int tkey_line[TK_COUNT];
};

struct loader {
    struct dfw_config *cfg;
    size_t tenant_cap, output_cap;
    struct name_set tenant_names, output_names;
    char *errbuf;
    size_t errlen;
    int failed;
    int depth;
    int fkey_line[NFKEYS];
    char *fkey_file[NFKEYS];
};

/* Record the first error as "path:line: message" and remember, in every open file, which line
 * was being read. Returns 0 for the handler's "error" convention. */
__attribute__((format(printf, 3, 4))) static int
fail_at(struct frame *f, int line, const char *fmt, ...)
{
    struct loader *ld = f->ld;
    if (ld->failed) {
        return 0;
    }
    ld->failed = 1;
    for (struct frame *p = f; p != NULL; p = p->parent) {
        if (p->stop_line == 0) {
            p->stop_line = p->lineno;
        }
    }
    if (ld->errbuf == NULL || ld->errlen == 0) {
        return 0;
    }
    int n = line > 0 ? snprintf(ld->errbuf, ld->errlen, "%s:%d: ", f->path, line)
                     : snprintf(ld->errbuf, ld->errlen, "%s: ", f->path);
    if (n > 0 && (size_t)n < ld->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ld->errbuf + n, ld->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return 0;
}

#define fail(f, ...) fail_at((f), (f)->lineno, __VA_ARGS__)

static int nomem(struct frame *f)
{
    return fail(f, "out of memory");
}

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

/* ---- name set ---- */

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static void nameset_free(struct name_set *s)
{
    free(s->slots);
    s->slots = NULL;
    s->cap = s->n = 0;
}

static struct name_slot *nameset_slot(struct name_slot *slots, size_t cap, const char *name)
{
    size_t i = (size_t)hash_name(name) & (cap - 1);
    while (slots[i].name != NULL && strcmp(slots[i].name, name) != 0) {
        i = (i + 1) & (cap - 1);
    }
    return &slots[i];
}

/* Add name -> idx. Returns 0 when added, 1 when present (*existing set), -1 out of memory. */
static int nameset_add(struct name_set *s, const char *name, size_t idx, size_t *existing)
{
    if ((s->n + 1) * 2 > s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        struct name_slot *ns = calloc(ncap, sizeof(*ns));
        if (ns == NULL) {
            return -1;
        }
        for (size_t i = 0; i < s->cap; i++) {
            if (s->slots[i].name != NULL) {
                *nameset_slot(ns, ncap, s->slots[i].name) = s->slots[i];
            }
        }
        free(s->slots);
        s->slots = ns;
        s->cap = ncap;
    }
    struct name_slot *slot = nameset_slot(s->slots, s->cap, name);
    if (slot->name != NULL) {
        *existing = slot->idx;
        return 1;
    }
    slot->name = name;
    slot->idx = idx;
    s->n++;
    return 0;
}

/* ---- value checks ---- */

/* Names become file names and command arguments: no leading '.' ("..") or '-'. */
static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN || s[0] == '.' || s[0] == '-') {
        return 0;
    }
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* 8-4-4-4-12 hex digits. */
static int is_guid(const char *s)
{
    if (strlen(s) != 36) {
        return 0;
    }
    for (int i = 0; i < 36; i++) {
        int dash = (i == 8 || i == 13 || i == 18 || i == 23);
        if (dash ? s[i] != '-' : !is_hex(s[i])) {
            return 0;
        }
    }
    return 1;
}

/* A DNS name with at least two labels, e.g. contoso.onmicrosoft.com. */
static int is_domain(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253 || strchr(s, '.') == NULL) {
        return 0;
    }
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-') {
                return 0;
            }
            label = 0;
        }
        else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 (c == '-' && label > 0)) {
            if (++label > 63) {
                return 0;
            }
        }
        else {
            return 0;
        }
    }
    return label > 0 && s[n - 1] != '-';
}

static int valid_env_name(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_')) {
        return 0;
    }
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
           strlen(s);
}

static int valid_credential_name(const char *s)
{
    return *s != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* Strict decimal integer in [min, max]. */
static int parse_int_range(const char *v, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    if (*v == '\0') {
        return -1;
    }
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0' || n < min || n > max) {
        return -1;
    }
    *out = n;
    return 0;
}

/* Replace *slot with a copy of v. */
static int set_str(struct frame *f, char **slot, const char *v)
{
    char *copy = strdup(v);
    if (copy == NULL) {
        return nomem(f);
    }
    free(*slot);
    *slot = copy;
    return 1;
}

/* ---- [forwarder] ---- */

static int forwarder_key(struct frame *f, const char *key, const char *v)
{
    struct loader *ld = f->ld;
    size_t i;
    for (i = 0; i < NFKEYS && strcmp(fkeys[i].name, key) != 0; i++) {
    }
    if (i == NFKEYS) {
        return fail(f, "[forwarder] unknown key '%s'", key);
    }
    const struct fkey *k = &fkeys[i];
    if (ld->fkey_line[i] != 0) {
        return fail(f, "[forwarder] %s: duplicate key (first set at %s:%d)", key, ld->fkey_file[i],
                    ld->fkey_line[i]);
    }
    ld->fkey_file[i] = strdup(f->path);
    if (ld->fkey_file[i] == NULL) {
        return nomem(f);
    }
    ld->fkey_line[i] = f->lineno;
    if (*v == '\0') {
        return fail(f, "[forwarder] %s: empty value", key);
    }
    char *field = (char *)ld->cfg + k->offset;
    int64_t n;
    switch (k->type) {
    case F_STRING:
        return set_str(f, (char **)(void *)field, v);
    case F_LOGLEVEL: {
        enum dfw_log_level level;
        if (dfw_log_level_parse(v, &level) != 0) {
            return fail(f, "[forwarder] log_level: '%s' is not one of error, warn, info, debug", v);
        }
        return set_str(f, (char **)(void *)field, v);
    }
    case F_DURATION:
        if (dfw_duration_parse(v, &n) != DFW_OK) {
            return fail(f, "[forwarder] %s: '%s' is not a duration (e.g. 500ms, 30s, 5m, 2h, 1d)",
                        key, v);
        }
        if (n < k->min || n > k->max) {
            return fail(f, "[forwarder] %s: %s is out of range (%lldms to %lldms)", key, v,
                        (long long)k->min, (long long)k->max);
        }
        *(int64_t *)(void *)field = n;
        return 1;
    case F_INT:
        if (parse_int_range(v, k->min, k->max, &n) != 0) {
            return fail(f, "[forwarder] %s: '%s' is not an integer from %lld to %lld", key, v,
                        (long long)k->min, (long long)k->max);
        }
        *(int *)(void *)field = (int)n;
        return 1;
    }
    return 0;
}

/* ---- [tenant NAME] ---- */

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
        return nomem(f);
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
            return fail(f,
                        "%sstreams: unknown stream '%.*s' (expected m365d-incidents, "
                        "mde-alerts, graph-alerts)",
                        label, (int)len, p);
        }
        for (size_t j = 0; j < t->nstreams; j++) {
            if (strcmp(t->streams[j], stream_names[s]) == 0) {
                return fail(f, "%sstreams: '%s' is listed twice", label, stream_names[s]);
            }
        }
        t->streams[t->nstreams] = strdup(stream_names[s]);
        if (t->streams[t->nstreams] == NULL) {
            return nomem(f);
        }
        t->nstreams++;
        p += len;
    }
    if (t->nstreams == 0) {
        return fail(f, "%sstreams: no stream listed", label);
    }
    return 1;
}

/* https://host[:port][/path]: no blanks, query or fragment; trailing '/' removed. */
static int set_url(struct frame *f, char **slot, const char *key, const char *v, const char *label)
{
    if (strncasecmp(v, "https://", 8) != 0 || v[8] == '\0' || v[8] == '/') {
        return fail(f, "%s%s: must start with https:// and name a host", label, key);
    }
    for (const char *p = v; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == '?' || *p == '#' || *p == 0x7f) {
            return fail(f, "%s%s: a base URL must not contain blanks, '?' or '#'", label, key);
        }
    }
    if (!set_str(f, slot, v)) {
        return 0;
    }
    size_t n = strlen(*slot);
    while (n > 8 && (*slot)[n - 1] == '/') {
        (*slot)[--n] = '\0';
    }
    return 1;
}

static int tenant_key(struct frame *f, const char *key, const char *v)
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
            return fail(f,
                        "%s%s: secrets are not allowed in the configuration file; use %s_file, "
                        "%s_credential or %s_env",
                        label, key, key, key, key);
        }
        if (strcmp(key, "refresh_token") == 0) {
            return fail(f,
                        "%srefresh_token: secrets are not allowed in the configuration file; use "
                        "refresh_token_file",
                        label);
        }
        return fail(f, "%sunknown key '%s'", label, key);
    }
    if (f->tkey_line[k] != 0) {
        return fail(f, "%s%s: duplicate key (first set at line %d)", label, key, f->tkey_line[k]);
    }
    f->tkey_line[k] = f->lineno;
    if (*v == '\0') {
        return fail(f, "%s%s: empty value", label, key);
    }
    switch ((enum tkey)k) {
    case TK_TENANT_ID:
        if (!is_guid(v) && !is_domain(v)) {
            return fail(f,
                        "%stenant_id: '%s' is neither a directory GUID nor a domain such as "
                        "contoso.onmicrosoft.com%s",
                        label, v,
                        (strcasecmp(v, "common") == 0 || strcasecmp(v, "organizations") == 0 ||
                         strcasecmp(v, "consumers") == 0)
                            ? " (common, organizations and consumers do not name a tenant)"
                            : "");
        }
        return set_str(f, &t->tenant_id, v);
    case TK_CLIENT_ID:
        if (!is_guid(v)) {
            return fail(f, "%sclient_id: '%s' is not an application (client) id GUID", label, v);
        }
        return set_str(f, &t->client_id, v);
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
            return fail(f, "%sauth: '%s' is not one of secret, certificate, refresh_token", label,
                        v);
        }
        return 1;
    case TK_TOKEN_ENDPOINT:
        if (strcmp(v, "v2") != 0 && strcmp(v, "v1") != 0) {
            return fail(f, "%stoken_endpoint: '%s' is not one of v2, v1", label, v);
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
                return fail(f, "%s%s: only one of %s, %s, %s may be set (%s is at line %d)", label,
                            key, tkey_names[first], tkey_names[first + 1], tkey_names[first + 2],
                            tkey_names[o], f->tkey_line[o]);
            }
        }
        if (which == 1 && !valid_credential_name(v)) {
            return fail(f, "%s%s: '%s' is not a credential name (no '/')", label, key, v);
        }
        if (which == 2 && !valid_env_name(v)) {
            return fail(f, "%s%s: '%s' is not an environment variable name", label, key, v);
        }
        return set_str(f, ref_field(tkey_ref(t, (enum tkey)k), which), v);
    }
    case TK_CERTIFICATE_FILE:
        return set_str(f, &t->certificate_file, v);
    case TK_ASSERTION_ALG:
        if (strcasecmp(v, "PS256") == 0) {
            t->assertion_alg = DFW_ALG_PS256;
        }
        else if (strcasecmp(v, "RS256") == 0) {
            t->assertion_alg = DFW_ALG_RS256;
        }
        else {
            return fail(f, "%sassertion_alg: '%s' is not one of PS256, RS256", label, v);
        }
        return 1;
    case TK_REFRESH_TOKEN_FILE:
        return set_str(f, &t->refresh_token_file, v);
    case TK_CLOUD: {
        const struct dfw_cloud *c = dfw_cloud_find(v);
        if (c == NULL) {
            return fail(f, "%scloud: '%s' is not one of %s", label, v, dfw_cloud_names());
        }
        return set_str(f, &t->cloud, c->name);
    }
    case TK_LOGIN_URL:
        return set_url(f, &t->login_url, key, v, label);
    case TK_DEFENDER_URL:
        return set_url(f, &t->defender_url, key, v, label);
    case TK_GRAPH_URL:
        return set_url(f, &t->graph_url, key, v, label);
    case TK_STREAMS:
        return parse_streams(f, t, v, label);
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
    return fail_at(f, f->tkey_line[k], "%s%s: not used with auth = %s", label, tkey_names[k], auth);
}

static int has_ref(const struct frame *f, int first)
{
    return f->tkey_line[first] || f->tkey_line[first + 1] || f->tkey_line[first + 2];
}

/* End of a [tenant]: required keys, keys that belong together, defaults that need allocation. */
static int tenant_close(struct frame *f)
{
    struct dfw_tenant_conf *t = &f->ld->cfg->tenants[f->idx];
    char label[NAME_MAX_LEN + 16];
    sect_label(f, label, sizeof(label));
    int at = f->tkey_line[TK_AUTH] ? f->tkey_line[TK_AUTH] : t->line;
    static const char *const auth_names[] = {"secret", "certificate", "refresh_token"};
    const char *auth = auth_names[t->auth];

    if (t->tenant_id == NULL) {
        return fail_at(f, t->line, "%stenant_id is required", label);
    }
    if (t->client_id == NULL) {
        return fail_at(f, t->line, "%sclient_id is required", label);
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
            return fail_at(f, at, "%sauth = certificate needs certificate_file", label);
        }
        if (!has_ref(f, TK_PK_FILE)) {
            return fail_at(f, at,
                           "%sauth = certificate needs one of private_key_file, "
                           "private_key_credential, private_key_env",
                           label);
        }
    }
    if (t->auth == DFW_AUTH_REFRESH_TOKEN && t->refresh_token_file == NULL) {
        return fail_at(f, at,
                       "%sauth = refresh_token needs refresh_token_file (written by "
                       "'defender-forwarder authorize %s')",
                       label, t->name);
    }
    /* The authorization-code client of auth = refresh_token also authenticates with a secret. */
    if (t->auth != DFW_AUTH_CERTIFICATE && !has_ref(f, TK_CS_FILE)) {
        return fail_at(f, at,
                       "%sauth = %s needs one of client_secret_file, client_secret_credential, "
                       "client_secret_env",
                       label, auth);
    }
    if (t->nstreams == 0) {
        return parse_streams(f, t, "m365d-incidents, mde-alerts", label);
    }
    return 1;
}

/* ---- [output NAME] ---- */

static int output_key(struct frame *f, const char *key, const char *v)
{
    struct dfw_output_conf *o = &f->ld->cfg->outputs[f->idx];
    if (strcmp(key, "type") == 0) {
        if (f->type_line != 0) {
            return fail(f, "[output %s] type: duplicate key (first set at line %d)", o->name,
                        f->type_line);
        }
        f->type_line = f->lineno;
        if (!valid_name(v)) {
            return fail(f, "[output %s] type: '%s' is not an output type name", o->name, v);
        }
        return set_str(f, &o->type, v);
    }
    /* Outputs have few keys: a linear duplicate check is fine here. */
    for (size_t i = 0; i < o->nkvs; i++) {
        if (strcmp(o->kvs[i].key, key) == 0) {
            return fail(f, "[output %s] %s: duplicate key (first set at line %d)", o->name, key,
                        o->kvs[i].line);
        }
    }
    if (o->nkvs % 8 == 0) {
        struct dfw_config_kv *kvs = realloc(o->kvs, (o->nkvs + 8) * sizeof(*kvs));
        if (kvs == NULL) {
            return nomem(f);
        }
        o->kvs = kvs;
    }
    struct dfw_config_kv *kv = &o->kvs[o->nkvs];
    kv->key = strdup(key);
    kv->value = strdup(v);
    kv->file = strdup(f->path);
    kv->line = f->lineno;
    o->nkvs++;
    if (kv->key == NULL || kv->value == NULL || kv->file == NULL) {
        return nomem(f);
    }
    return 1;
}

static int output_close(struct frame *f)
{
    const struct dfw_output_conf *o = &f->ld->cfg->outputs[f->idx];
    if (o->type == NULL) {
        return fail_at(f, o->line, "[output %s] type is required", o->name);
    }
    return 1;
}

/* ---- sections ---- */

static int section_close(struct frame *f)
{
    enum sect_kind kind = f->kind;
    if (f->ld->failed) {
        return 0;
    }
    if (kind == SECT_TENANT && !tenant_close(f)) {
        return 0;
    }
    if (kind == SECT_OUTPUT && !output_close(f)) {
        return 0;
    }
    f->kind = SECT_NONE;
    return 1;
}

/* Grow an array of elements to hold one more; zero the new element. */
static void *grow(void *arr, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap) {
        memset((char *)arr + n * elem, 0, elem);
        return arr;
    }
    size_t ncap = *cap ? *cap * 2 : 16;
    char *na = realloc(arr, ncap * elem);
    if (na == NULL) {
        return NULL;
    }
    memset(na + n * elem, 0, elem);
    *cap = ncap;
    return na;
}

static int tenant_open(struct frame *f, const char *name, int line)
{
    struct loader *ld = f->ld;
    struct dfw_config *cfg = ld->cfg;
    struct dfw_tenant_conf *ts = grow(cfg->tenants, cfg->ntenants, &ld->tenant_cap, sizeof(*ts));
    if (ts == NULL) {
        return nomem(f);
    }
    cfg->tenants = ts;
    struct dfw_tenant_conf *t = &ts[cfg->ntenants];
    t->name = strdup(name);
    t->file = strdup(f->path);
    t->cloud = strdup("global");
    cfg->ntenants++; /* counted now so dfw_config_free sees it even when half-built */
    if (t->name == NULL || t->file == NULL || t->cloud == NULL) {
        return nomem(f);
    }
    t->line = line;
    size_t prev;
    int r = nameset_add(&ld->tenant_names, t->name, cfg->ntenants - 1, &prev);
    if (r < 0) {
        return nomem(f);
    }
    if (r > 0) {
        return fail(f, "[tenant %s] duplicate tenant name (first defined at %s:%d)", name,
                    ts[prev].file, ts[prev].line);
    }
    f->kind = SECT_TENANT;
    f->idx = cfg->ntenants - 1;
    memset(f->tkey_line, 0, sizeof(f->tkey_line));
    return 1;
}

static int output_open(struct frame *f, const char *name, int line)
{
    struct loader *ld = f->ld;
    struct dfw_config *cfg = ld->cfg;
    struct dfw_output_conf *os = grow(cfg->outputs, cfg->noutputs, &ld->output_cap, sizeof(*os));
    if (os == NULL) {
        return nomem(f);
    }
    cfg->outputs = os;
    struct dfw_output_conf *o = &os[cfg->noutputs];
    o->name = strdup(name);
    o->file = strdup(f->path);
    cfg->noutputs++;
    if (o->name == NULL || o->file == NULL) {
        return nomem(f);
    }
    o->line = line;
    size_t prev;
    int r = nameset_add(&ld->output_names, o->name, cfg->noutputs - 1, &prev);
    if (r < 0) {
        return nomem(f);
    }
    if (r > 0) {
        return fail(f, "[output %s] duplicate output name (first defined at %s:%d)", name,
                    os[prev].file, os[prev].line);
    }
    f->kind = SECT_OUTPUT;
    f->idx = cfg->noutputs - 1;
    f->type_line = 0;
    return 1;
}

/* s points at '[' (leading blanks already skipped). Close the current section, open the new. */
static int section_header(struct frame *f, char *s)
{
    char *end = strchr(s, ']');
    if (end == NULL) {
        return fail(f, "section header without closing ']'");
    }
    char *rest = end + 1;
    rest += strspn(rest, " \t");
    if (*rest != '\0' && *rest != ';' && *rest != '#') {
        return fail(f, "unexpected text after ']'");
    }
    *end = '\0';
    char *type = s + 1;
    type += strspn(type, " \t");
    size_t tlen = strcspn(type, " \t");
    char *name = type + tlen;
    name += strspn(name, " \t");
    size_t nlen = strlen(name);
    while (nlen > 0 && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t')) {
        name[--nlen] = '\0';
    }
    type[tlen] = '\0';

    if (!section_close(f)) {
        return 0;
    }
    if (strcmp(type, "forwarder") == 0) {
        if (*name != '\0') {
            return fail(f, "[forwarder] takes no name");
        }
        f->kind = SECT_FORWARDER;
        return 1;
    }
    if (strcmp(type, "tenant") != 0 && strcmp(type, "output") != 0) {
        return fail(f,
                    "unknown section type '%s' (expected [forwarder], [tenant NAME] or "
                    "[output NAME])",
                    type);
    }
    if (*name == '\0') {
        return fail(f, "[%s] needs a name: [%s NAME]", type, type);
    }
    if (!valid_name(name)) {
        return fail(f,
                    "[%s %s] the name must be 1 to %d characters of A-Z a-z 0-9 _ . - and not "
                    "start with '.' or '-'",
                    type, name, NAME_MAX_LEN);
    }
    return type[0] == 't' ? tenant_open(f, name, f->lineno) : output_open(f, name, f->lineno);
}

/* ---- reading files ---- */

/* inih's fgets-style reader: one physical line per call, pre-processed as described at the top of
 * this file. Section headers and comments reach inih as empty lines. */
static char *read_line(char *str, int num, void *stream)
{
    struct frame *f = stream;
    if (f->ld->failed) {
        return NULL;
    }
    errno = 0;
    ssize_t n = getline(&f->buf, &f->bufcap, f->fp);
    if (n < 0) {
        if (ferror(f->fp)) {
            fail_at(f, 0, "read error: %s", strerror(errno ? errno : EIO));
        }
        return NULL;
    }
    f->lineno++;
    char *s = f->buf;
    if (memchr(s, '\0', (size_t)n) != NULL) {
        fail(f, "NUL byte in line (not a text file?)");
        return NULL;
    }
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r')) {
        s[--n] = '\0';
    }
    if (f->lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0) {
        s += 3; /* UTF-8 byte order mark */
    }
    s += strspn(s, " \t");
    if (*s == '[') {
        if (!section_header(f, s)) {
            return NULL;
        }
        s += strlen(s); /* inih sees an empty line */
    }
    else if (*s == ';' || *s == '#') {
        s += strlen(s);
    }
    size_t len = strlen(s);
    if (num <= 0 || len + 1 > (size_t)num) {
        fail(f, "line too long (the limit is %d characters)", num > 0 ? num - 1 : 0);
        return NULL;
    }
    memcpy(str, s, len + 1);
    return str;
}

static int parse_file(struct loader *ld, struct frame *parent, const char *path);

/* True when s has glob(3) wildcards. */
static int has_magic(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

/* The directory glob(3) could not read (and why); glob's error callback takes no user pointer. */
static _Thread_local int glob_errno;
static _Thread_local char glob_errpath[256];

/* A directory that does not exist matches nothing, like an empty one; anything else stops. */
static int glob_error(const char *epath, int eerrno)
{
    if (eerrno == ENOENT || eerrno == ENOTDIR) {
        return 0;
    }
    glob_errno = eerrno;
    snprintf(glob_errpath, sizeof(glob_errpath), "%s", epath);
    return 1;
}

/* "include = GLOB": matches in sorted order, relative to the including file's directory. */
static int do_include(struct frame *f, const char *value)
{
    if (*value == '\0') {
        return fail(f, "include: empty value");
    }
    char *pattern;
    if (value[0] == '/') {
        pattern = strdup(value);
    }
    else {
        /* Escape wildcards in the directory part: only the configured value is a pattern. */
        size_t cap = strlen(f->dir) * 2 + strlen(value) + 2;
        pattern = malloc(cap);
        if (pattern != NULL) {
            size_t n = 0;
            for (const char *d = f->dir; *d; d++) {
                if (strchr("*?[]\\", *d) != NULL) {
                    pattern[n++] = '\\';
                }
                pattern[n++] = *d;
            }
            snprintf(pattern + n, cap - n, "/%s", value);
        }
    }
    if (pattern == NULL) {
        return nomem(f);
    }
    glob_t g;
    memset(&g, 0, sizeof(g));
    glob_errno = 0;
    glob_errpath[0] = '\0';
    int r = glob(pattern, 0, glob_error, &g);
    free(pattern);
    int ok = 1;
    if (r == GLOB_NOMATCH) {
        if (!has_magic(value)) {
            ok = fail(f, "include: %s: no such file", value);
        }
    }
    else if (r == GLOB_NOSPACE) {
        ok = nomem(f);
    }
    else if (r != 0) {
        ok = fail(f, "include: %s: cannot read %s: %s", value, glob_errpath,
                  strerror(glob_errno ? glob_errno : EIO));
    }
    else {
        for (size_t i = 0; i < g.gl_pathc && ok; i++) {
            ok = parse_file(f->ld, f, g.gl_pathv[i]) == 0;
        }
    }
    globfree(&g);
    return ok;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct frame *f = user;
    (void)section; /* sections are tracked by read_line */
    if (f->ld->failed) {
        return 0;
    }
    if (*name == '\0') {
        return fail(f, "missing key name before '='");
    }
    if (strcmp(name, "include") == 0) {
        if (f->kind != SECT_NONE && f->kind != SECT_FORWARDER) {
            return fail(f, "include is only allowed in [forwarder] or before the first section");
        }
        return do_include(f, value);
    }
    switch (f->kind) {
    case SECT_NONE:
        return fail(f, "key '%s' outside any section (put it under [forwarder])", name);
    case SECT_FORWARDER:
        return forwarder_key(f, name, value);
    case SECT_TENANT:
        return tenant_key(f, name, value);
    case SECT_OUTPUT:
        return output_key(f, name, value);
    }
    return 0;
}

/* Opening the main file fails as "path: why"; an included one at the include line. */
static int open_fail(struct frame *fr, const char *why)
{
    if (fr->parent == NULL) {
        return fail_at(fr, 0, "cannot open: %s", why);
    }
    return fail(fr->parent, "include: %s: %s", fr->path, why);
}

/* Open fr->path as a regular file for reading. */
static FILE *open_conf(struct frame *fr, struct stat *st)
{
    int fd = open(fr->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        open_fail(fr, strerror(errno));
        return NULL;
    }
    const char *why = NULL;
    if (fstat(fd, st) != 0) {
        why = strerror(errno);
    }
    else if (!S_ISREG(st->st_mode)) {
        why = "not a regular file";
    }
    FILE *fp = why ? NULL : fdopen(fd, "r");
    if (fp == NULL) {
        open_fail(fr, why ? why : strerror(errno));
        close(fd);
    }
    return fp;
}

/* Read one file (and, through include, the files it names). Returns 0 or -1 (ld->failed). */
static int parse_file(struct loader *ld, struct frame *parent, const char *path)
{
    struct frame fr;
    memset(&fr, 0, sizeof(fr));
    fr.parent = parent;
    fr.ld = ld;
    fr.path = path;
    if (parent != NULL && ld->depth > MAX_INCLUDE_DEPTH) {
        fail(parent, "include: %s: includes nested deeper than %d levels", path, MAX_INCLUDE_DEPTH);
        return -1;
    }
    struct stat st;
    fr.fp = open_conf(&fr, &st);
    if (fr.fp == NULL) {
        return -1;
    }
    for (struct frame *p = parent; p != NULL; p = p->parent) {
        if (p->dev == st.st_dev && p->ino == st.st_ino) {
            fclose(fr.fp);
            fail(parent, "include: %s: include cycle (%s is already being read)", path, p->path);
            return -1;
        }
    }
    fr.dev = st.st_dev;
    fr.ino = st.st_ino;
    const char *slash = strrchr(path, '/');
    fr.dir = slash == NULL   ? strdup(".")
             : slash == path ? strdup("")
                             : strndup(path, (size_t)(slash - path));
    if (fr.dir == NULL) {
        fclose(fr.fp);
        nomem(parent ? parent : &fr);
        return -1;
    }

    ld->depth++;
    int r = ini_parse_stream(read_line, &fr, handler, &fr);
    ld->depth--;
    if (!ld->failed && !ferror(fr.fp)) {
        section_close(&fr);
    }
    /* inih returns the first line it could not parse (or where the handler failed). A syntax
     * error before the line that stopped us is the first error of this file: report it. */
    if (r > 0 && (!ld->failed || r < fr.stop_line)) {
        ld->failed = 0;
        fr.stop_line = 0;
        fail_at(&fr, r, "syntax error: expected 'key = value', '[section]' or a comment");
    }
    else if (r == -2 && !ld->failed) {
        nomem(&fr);
    }
    free(fr.buf);
    free(fr.dir);
    fclose(fr.fp);
    return ld->failed ? -1 : 0;
}

/* ---- public ---- */

static void free_ref(struct dfw_secret_ref *ref)
{
    free(ref->file);
    free(ref->credential);
    free(ref->env);
}

void dfw_config_free(struct dfw_config *cfg)
{
    if (cfg == NULL) {
        return;
    }
    for (size_t i = 0; i < cfg->ntenants; i++) {
        struct dfw_tenant_conf *t = &cfg->tenants[i];
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
        free(t->file);
    }
    free(cfg->tenants);
    for (size_t i = 0; i < cfg->noutputs; i++) {
        struct dfw_output_conf *o = &cfg->outputs[i];
        for (size_t j = 0; j < o->nkvs; j++) {
            free(o->kvs[j].key);
            free(o->kvs[j].value);
            free(o->kvs[j].file);
        }
        free(o->kvs);
        free(o->name);
        free(o->type);
        free(o->file);
    }
    free(cfg->outputs);
    free(cfg->state_dir);
    free(cfg->ca_file);
    free(cfg->log_level);
    free(cfg->metrics_file);
    free(cfg);
}

struct dfw_config *dfw_config_load(const char *path, char *errbuf, size_t errlen)
{
    struct loader ld;
    memset(&ld, 0, sizeof(ld));
    ld.errbuf = errbuf;
    ld.errlen = errlen;
    if (errbuf != NULL && errlen > 0) {
        errbuf[0] = '\0';
    }
    struct frame top;
    memset(&top, 0, sizeof(top));
    top.ld = &ld;
    top.path = path ? path : "(null)";

    ld.cfg = calloc(1, sizeof(*ld.cfg));
    if (ld.cfg == NULL) {
        nomem(&top);
        return NULL;
    }
    struct dfw_config *cfg = ld.cfg;
    cfg->state_dir = strdup("/var/lib/defender-forwarder");
    cfg->log_level = strdup("info");
    cfg->poll_interval_ms = 60 * 1000;
    cfg->overlap_ms = 5 * 60 * 1000;
    cfg->initial_lookback_ms = DAY_MS;
    cfg->http_timeout_ms = 60 * 1000;
    cfg->connect_timeout_ms = 10 * 1000;
    cfg->max_retries = 6;
    cfg->page_size = 0;
    cfg->max_connections = 64;
    if (cfg->state_dir == NULL || cfg->log_level == NULL) {
        nomem(&top);
    }
    else if (path == NULL || *path == '\0') {
        fail_at(&top, 0, "no configuration file given");
    }
    else if (parse_file(&ld, NULL, path) == 0) {
        if (cfg->ntenants == 0) {
            fail_at(&top, 0, "no [tenant NAME] section: at least one tenant is required");
        }
        else if (cfg->noutputs == 0) {
            fail_at(&top, 0, "no [output NAME] section: at least one output is required");
        }
    }
    nameset_free(&ld.tenant_names);
    nameset_free(&ld.output_names);
    for (size_t i = 0; i < NFKEYS; i++) {
        free(ld.fkey_file[i]);
    }
    if (ld.failed) {
        dfw_config_free(cfg);
        return NULL;
    }
    return cfg;
}

const struct dfw_tenant_conf *dfw_config_tenant(const struct dfw_config *cfg, const char *name)
{
    if (cfg == NULL || name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < cfg->ntenants; i++) {
        if (strcmp(cfg->tenants[i].name, name) == 0) {
            return &cfg->tenants[i];
        }
    }
    return NULL;
}
