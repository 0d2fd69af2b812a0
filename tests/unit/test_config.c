/* Configuration loading: every key, include globs, every error class with its file:line, and a
 * 10,000-tenant file. Files are written to a fresh mkdtemp directory per test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dfw/config.h"

#define G1 "8f3c2a10-1b2c-4d5e-8f90-a1b2c3d4e5f6"
#define G2 "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define TENANT_OK                                                                                  \
    "[tenant t]\ntenant_id = " G1 "\nclient_id = " G2 "\nclient_secret_env = SECRET_T\n"
#define OUTPUT_OK "[output o]\ntype = file\npath = -\n"
#define OUTPUT_HEC                                                                                 \
    "[output h]\ntype = splunk_hec\nurl = https://127.0.0.1:8088\ntoken_env = HEC_TOKEN\n"

#define MAX_PATHS 64

struct fixture {
    char dir[64];
    char *files[MAX_PATHS]; /* created files and directories, removed in reverse order */
    int nfiles;
    char err[1024];
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/dfw-config-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    for (int i = fx->nfiles - 1; i >= 0; i--) {
        if (unlink(fx->files[i]) != 0) {
            rmdir(fx->files[i]);
        }
        free(fx->files[i]);
    }
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static char *fx_path(struct fixture *fx, const char *rel)
{
    size_t n = strlen(fx->dir) + strlen(rel) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", fx->dir, rel);
    return p;
}

static void track(struct fixture *fx, char *path)
{
    for (int i = 0; i < fx->nfiles; i++) {
        if (strcmp(fx->files[i], path) == 0) {
            free(path);
            return;
        }
    }
    assert_true(fx->nfiles < MAX_PATHS);
    fx->files[fx->nfiles++] = path;
}

static void mkdir_rel(struct fixture *fx, const char *rel)
{
    char *p = fx_path(fx, rel);
    assert_int_equal(mkdir(p, 0700), 0);
    track(fx, p);
}

/* Write rel (in an existing directory) with len bytes of content. */
static void put_n(struct fixture *fx, const char *rel, const char *content, size_t len)
{
    char *p = fx_path(fx, rel);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(content, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    track(fx, p);
}

static void put(struct fixture *fx, const char *rel, const char *content)
{
    put_n(fx, rel, content, strlen(content));
}

static struct dfw_config *load(struct fixture *fx, const char *rel)
{
    char *p = fx_path(fx, rel);
    fx->err[0] = '\0';
    struct dfw_config *cfg = dfw_config_load(p, fx->err, sizeof(fx->err));
    free(p);
    return cfg;
}

/* Loading must fail with "<dir>/<rel>:<line>: ...<part>..." (line 0: "<dir>/<rel>: ..."). */
static void expect_error_in(
    struct fixture *fx, const char *main_rel, const char *err_rel, int line, const char *part)
{
    struct dfw_config *cfg = load(fx, main_rel);
    if (cfg != NULL) {
        dfw_config_free(cfg);
        fail_msg("loaded, expected an error at %s:%d containing \"%s\"", err_rel, line, part);
    }
    char prefix[512];
    if (line > 0) {
        snprintf(prefix, sizeof(prefix), "%s/%s:%d: ", fx->dir, err_rel, line);
    }
    else {
        snprintf(prefix, sizeof(prefix), "%s/%s: ", fx->dir, err_rel);
    }
    if (strncmp(fx->err, prefix, strlen(prefix)) != 0 || strstr(fx->err, part) == NULL) {
        fail_msg("error \"%s\"\n    wanted prefix \"%s\" and \"%s\"", fx->err, prefix, part);
    }
}

static void expect_error(struct fixture *fx, const char *content, int line, const char *part)
{
    put(fx, "main.conf", content);
    expect_error_in(fx, "main.conf", "main.conf", line, part);
}

/* ---- valid configurations ---- */

static void test_full_config_with_includes(void **state)
{
    struct fixture *fx = *state;
    mkdir_rel(fx, "conf.d");
    mkdir_rel(fx, "empty.d");
    mkdir_rel(fx, "sub");
    mkdir_rel(fx, "sub/more");
    put(fx, "main.conf",
        "; defender-forwarder test configuration\n"      /* 1 */
        "include = sub/first.conf\n"                     /* 2 */
        "[forwarder]\n"                                  /* 3 */
        "state_dir = /var/lib/dfw-test\n"                /* 4 */
        "poll_interval = 30s\n"                          /* 5 */
        "overlap = 10m\n"                                /* 6 */
        "initial_lookback = 7d\n"                        /* 7 */
        "http_timeout = 45s\n"                           /* 8 */
        "connect_timeout = 5000ms\n"                     /* 9 */
        "max_retries = 3\n"                              /* 10 */
        "page_size = 50\n"                               /* 11 */
        "max_connections = 8\n"                          /* 12 */
        "ca_file = /etc/ssl/dfw-ca.pem\n"                /* 13 */
        "log_level = debug\n"                            /* 14 */
        "metrics_file = /run/dfw/metrics.prom\n"         /* 15 */
        "include = conf.d/*.conf\n"                      /* 16 */
        "include = empty.d/*.conf\n"                     /* 17 */
        "\n"                                             /* 18 */
        "[tenant contoso-rt]\n"                          /* 19 */
        "tenant_id = contoso.onmicrosoft.com\n"          /* 20 */
        "client_id = " G2 "\n"                           /* 21 */
        "auth = refresh_token\n"                         /* 22 */
        "client_secret_credential = mssp-app-secret\n"   /* 23 */
        "refresh_token_file = /var/lib/dfw/contoso.rt\n" /* 24 */
        "token_endpoint = v1\n"                          /* 25 */
        "cloud = gcc\n"                                  /* 26 */
        "streams = graph-alerts\n"                       /* 27 */
        "\n"                                             /* 28 */
        "[output siem]\n"                                /* 29 */
        "type = syslog\n"                                /* 30 */
        "host = siem.example.net\n"                      /* 31 */
        "port = 6514\n"                                  /* 32 */
        "transport = tls\n"                              /* 33 */
        "[output archive]\n"                             /* 34 */
        "type = file\n"                                  /* 35 */
        "path = /var/log/dfw/events.json\n");            /* 36 */
    put(fx, "sub/first.conf", "include = more/*.conf\n");
    put(fx, "sub/more/x.conf",
        "[tenant nested]\n"
        "tenant_id = " G1 "\n"
        "client_id = " G2 "\n"
        "client_secret_file = /etc/dfw/nested.secret\n");
    /* Written in reverse order: include must sort the matches. */
    put(fx, "conf.d/20-fabrikam.conf",
        "[tenant fabrikam]\n"
        "tenant_id = " G1 "\n"
        "client_id = " G2 "\n"
        "auth = certificate\n"
        "certificate_file = /etc/dfw/fabrikam.crt\n"
        "private_key_env = FABRIKAM_KEY\n"
        "assertion_alg = RS256\n"
        "cloud = gcc-high\n"
        "login_url = https://login.example.test:8443/\n"
        "defender_url = https://127.0.0.1:9443/defender//\n"
        "graph_url = https://graph.example.test\n"
        "streams = mde-alerts,graph-alerts m365d-incidents\n");
    put(fx, "conf.d/10-adatum.conf",
        "[tenant adatum]\n"
        "tenant_id = " G1 "\n"
        "client_id = " G2 "\n"
        "auth = secret\n"
        "client_secret_file = /etc/dfw/adatum.secret\n");

    struct dfw_config *cfg = load(fx, "main.conf");
    if (cfg == NULL) {
        fail_msg("load failed: %s", fx->err);
    }
    assert_string_equal(cfg->state_dir, "/var/lib/dfw-test");
    assert_int_equal(cfg->poll_interval_ms, 30000);
    assert_int_equal(cfg->overlap_ms, 600000);
    assert_int_equal(cfg->initial_lookback_ms, 7 * 86400000LL);
    assert_int_equal(cfg->http_timeout_ms, 45000);
    assert_int_equal(cfg->connect_timeout_ms, 5000);
    assert_int_equal(cfg->max_retries, 3);
    assert_int_equal(cfg->page_size, 50);
    assert_int_equal(cfg->max_connections, 8);
    assert_string_equal(cfg->ca_file, "/etc/ssl/dfw-ca.pem");
    assert_string_equal(cfg->log_level, "debug");
    assert_string_equal(cfg->metrics_file, "/run/dfw/metrics.prom");

    /* File order: the include on line 2, then conf.d sorted, then main's own sections. */
    assert_int_equal(cfg->ntenants, 4);
    assert_string_equal(cfg->tenants[0].name, "nested");
    assert_string_equal(cfg->tenants[1].name, "adatum");
    assert_string_equal(cfg->tenants[2].name, "fabrikam");
    assert_string_equal(cfg->tenants[3].name, "contoso-rt");

    const struct dfw_tenant_conf *t = &cfg->tenants[0];
    char *p = fx_path(fx, "sub/more/x.conf");
    assert_string_equal(t->file, p);
    free(p);
    assert_int_equal(t->line, 1);
    assert_string_equal(t->client_secret.file, "/etc/dfw/nested.secret");

    t = dfw_config_tenant(cfg, "adatum");
    assert_ptr_equal(t, &cfg->tenants[1]);
    assert_int_equal(t->auth, DFW_AUTH_SECRET);
    assert_string_equal(t->client_secret.file, "/etc/dfw/adatum.secret");
    assert_null(t->client_secret.credential);
    assert_null(t->client_secret.env);

    t = dfw_config_tenant(cfg, "fabrikam");
    assert_non_null(t);
    assert_string_equal(t->tenant_id, G1);
    assert_string_equal(t->client_id, G2);
    assert_int_equal(t->auth, DFW_AUTH_CERTIFICATE);
    assert_int_equal(t->token_endpoint, DFW_TOKEN_V2);
    assert_string_equal(t->certificate_file, "/etc/dfw/fabrikam.crt");
    assert_string_equal(t->private_key.env, "FABRIKAM_KEY");
    assert_null(t->private_key.file);
    assert_null(t->client_secret.file);
    assert_int_equal(t->assertion_alg, DFW_ALG_RS256);
    assert_string_equal(t->cloud, "gcc-high");
    assert_string_equal(t->login_url, "https://login.example.test:8443");
    assert_string_equal(t->defender_url, "https://127.0.0.1:9443/defender");
    assert_string_equal(t->graph_url, "https://graph.example.test");
    assert_int_equal(t->nstreams, 3);
    assert_string_equal(t->streams[0], "mde-alerts");
    assert_string_equal(t->streams[1], "graph-alerts");
    assert_string_equal(t->streams[2], "m365d-incidents");

    t = dfw_config_tenant(cfg, "contoso-rt");
    assert_non_null(t);
    assert_string_equal(t->tenant_id, "contoso.onmicrosoft.com");
    assert_int_equal(t->auth, DFW_AUTH_REFRESH_TOKEN);
    assert_string_equal(t->client_secret.credential, "mssp-app-secret");
    assert_string_equal(t->refresh_token_file, "/var/lib/dfw/contoso.rt");
    assert_int_equal(t->token_endpoint, DFW_TOKEN_V1);
    assert_string_equal(t->cloud, "gcc");
    assert_int_equal(t->nstreams, 1);
    assert_string_equal(t->streams[0], "graph-alerts");
    assert_int_equal(t->line, 19);
    assert_null(dfw_config_tenant(cfg, "contoso"));
    assert_null(dfw_config_tenant(cfg, NULL));

    assert_int_equal(cfg->noutputs, 2);
    const struct dfw_output_conf *o = &cfg->outputs[0];
    assert_string_equal(o->name, "siem");
    assert_string_equal(o->type, "syslog");
    assert_int_equal(o->line, 29);
    assert_int_equal(o->nkvs, 3); /* type is not among the kvs */
    assert_string_equal(o->kvs[0].key, "host");
    assert_string_equal(o->kvs[0].value, "siem.example.net");
    assert_int_equal(o->kvs[0].line, 31);
    p = fx_path(fx, "main.conf");
    assert_string_equal(o->kvs[0].file, p);
    assert_string_equal(o->file, p);
    free(p);
    assert_string_equal(o->kvs[2].key, "transport");
    assert_string_equal(o->kvs[2].value, "tls");
    assert_int_equal(o->kvs[2].line, 33);
    o = &cfg->outputs[1];
    assert_string_equal(o->name, "archive");
    assert_string_equal(o->type, "file");
    assert_int_equal(o->nkvs, 1);
    assert_string_equal(o->kvs[0].value, "/var/log/dfw/events.json");
    dfw_config_free(cfg);
    dfw_config_free(NULL);
}

static void test_defaults(void **state)
{
    struct fixture *fx = *state;
    put(fx, "main.conf", TENANT_OK OUTPUT_OK);
    struct dfw_config *cfg = load(fx, "main.conf");
    if (cfg == NULL) {
        fail_msg("load failed: %s", fx->err);
    }
    assert_string_equal(cfg->state_dir, "/var/lib/defender-forwarder");
    assert_int_equal(cfg->poll_interval_ms, 60000);
    assert_int_equal(cfg->overlap_ms, 600000);
    assert_int_equal(cfg->settle_delay_ms, 120000);
    assert_int_equal(cfg->initial_lookback_ms, 86400000);
    assert_int_equal(cfg->http_timeout_ms, 60000);
    assert_int_equal(cfg->connect_timeout_ms, 10000);
    assert_int_equal(cfg->max_retries, 6);
    assert_int_equal(cfg->page_size, 0);
    assert_int_equal(cfg->max_connections, 64);
    assert_null(cfg->ca_file);
    assert_string_equal(cfg->log_level, "info");
    assert_null(cfg->metrics_file);

    assert_int_equal(cfg->ntenants, 1);
    const struct dfw_tenant_conf *t = &cfg->tenants[0];
    assert_string_equal(t->name, "t");
    assert_int_equal(t->auth, DFW_AUTH_SECRET);
    assert_int_equal(t->token_endpoint, DFW_TOKEN_V2);
    assert_int_equal(t->assertion_alg, DFW_ALG_PS256);
    assert_int_equal(t->settle_delay_ms, -1); /* the forwarder's */
    assert_int_equal(t->overlap_ms, -1);
    assert_string_equal(t->client_secret.env, "SECRET_T");
    assert_string_equal(t->cloud, "global");
    assert_null(t->login_url);
    assert_null(t->defender_url);
    assert_null(t->graph_url);
    assert_null(t->certificate_file);
    assert_null(t->refresh_token_file);
    /* the Graph streams by default: the legacy APIs stop working after 1 Feb 2027 */
    assert_int_equal(t->nstreams, 2);
    assert_string_equal(t->streams[0], "graph-incidents");
    assert_string_equal(t->streams[1], "graph-alerts");
    assert_int_equal(t->expand_alerts, 1);
    dfw_config_free(cfg);
}

/* Indentation, CRLF, a BOM, inline ';' comments, ':' separators and a 64-character name (longer
 * than inih's own section buffer) all load. */
/* settle_delay and overlap: per forwarder, and per tenant over it. */
static void test_settle_delay_and_overlap(void **state)
{
    struct fixture *fx = *state;
    put(fx, "main.conf",
        "[forwarder]\nsettle_delay = 0s\noverlap = 3m\n" TENANT_OK
        "settle_delay = 30m\noverlap = 20m\n" OUTPUT_OK);
    struct dfw_config *cfg = load(fx, "main.conf");
    if (cfg == NULL) {
        fail_msg("load failed: %s", fx->err);
    }
    assert_int_equal(cfg->settle_delay_ms, 0);
    assert_int_equal(cfg->overlap_ms, 180000);
    assert_int_equal(cfg->tenants[0].settle_delay_ms, 1800000);
    assert_int_equal(cfg->tenants[0].overlap_ms, 1200000);
    dfw_config_free(cfg);
}

/* expand_alerts = no turns graph-incidents' $expand=alerts off for one tenant. */
static void test_expand_alerts(void **state)
{
    struct fixture *fx = *state;
    put(fx, "main.conf", TENANT_OK "streams = graph-incidents\nexpand_alerts = no\n" OUTPUT_OK);
    struct dfw_config *cfg = load(fx, "main.conf");
    if (cfg == NULL) {
        fail_msg("load failed: %s", fx->err);
    }
    assert_int_equal(cfg->tenants[0].nstreams, 1);
    assert_string_equal(cfg->tenants[0].streams[0], "graph-incidents");
    assert_int_equal(cfg->tenants[0].expand_alerts, 0);
    dfw_config_free(cfg);
}

/* Reload compares configurations (config_same.c): expand_alerts is part of the tenant, so a
 * changed one restarts the tenant; split_alerts is part of the HEC output's options. */
static void test_reload_sees_graph_options(void **state)
{
    struct fixture *fx = *state;
    put(fx, "a.conf", TENANT_OK "streams = graph-incidents\n" OUTPUT_HEC);
    put(fx, "b.conf", TENANT_OK "streams = graph-incidents\nexpand_alerts = no\n" OUTPUT_HEC);
    put(fx, "c.conf", TENANT_OK "streams = graph-incidents\n" OUTPUT_HEC "split_alerts = no\n");
    put(fx, "d.conf", TENANT_OK "streams = graph-incidents\n" OUTPUT_HEC);
    struct dfw_config *a = load(fx, "a.conf"), *b = load(fx, "b.conf");
    struct dfw_config *c = load(fx, "c.conf"), *d = load(fx, "d.conf");
    if (a == NULL || b == NULL || c == NULL || d == NULL) {
        fail_msg("load failed: %s", fx->err);
    }
    assert_int_equal(b->tenants[0].expand_alerts, 0);
    assert_true(dfw_config_tenant_same(&a->tenants[0], &d->tenants[0]));
    assert_false(dfw_config_tenant_same(&a->tenants[0], &b->tenants[0]));
    assert_true(dfw_config_outputs_same(a, d));
    assert_true(dfw_config_outputs_same(a, b));
    assert_false(dfw_config_outputs_same(a, c));
    assert_true(dfw_config_tenant_same(&a->tenants[0], &c->tenants[0]));
    dfw_config_free(a);
    dfw_config_free(b);
    dfw_config_free(c);
    dfw_config_free(d);
}

static void test_syntax_tolerance(void **state)
{
    struct fixture *fx = *state;
    char name[65];
    memset(name, 'n', 64);
    name[64] = '\0';
    char text[1024];
    snprintf(text, sizeof(text),
             "\xEF\xBB\xBF# comment\r\n"
             "  [forwarder]   ; trailing comment\r\n"
             "    poll_interval = 2m ; two minutes\r\n"
             "\tlog_level: warn\r\n"
             "[ tenant   %s ]\r\n"
             "  tenant_id = " G1 "\r\n"
             "  client_id = " G2 "\r\n"
             "  client_secret_file = /etc/dfw/a;b-not-a-comment\r\n"
             "[output o]\r\ntype = file\r\n",
             name);
    put(fx, "main.conf", text);
    struct dfw_config *cfg = load(fx, "main.conf");
    if (cfg == NULL) {
        fail_msg("load failed: %s", fx->err);
    }
    assert_int_equal(cfg->poll_interval_ms, 120000);
    assert_string_equal(cfg->log_level, "warn");
    assert_string_equal(cfg->tenants[0].name, name);
    assert_int_equal(cfg->tenants[0].line, 5);
    assert_string_equal(cfg->tenants[0].client_secret.file, "/etc/dfw/a;b-not-a-comment");
    assert_int_equal(cfg->outputs[0].nkvs, 0);
    dfw_config_free(cfg);
}

/* The shipped example must stay loadable: one tenant per auth method, two syslog outputs (CEF
 * and LEEF) and a file output. */
static void test_packaged_example(void **state)
{
    (void)state;
    char err[1024] = "";
    struct dfw_config *cfg = dfw_config_load(
        DFW_TEST_DATA "/../../../packaging/examples/defender-forwarder.conf", err, sizeof(err));
    if (cfg == NULL) {
        fail_msg("example does not load: %s", err);
    }
    assert_int_equal(cfg->ntenants, 3);
    assert_int_equal(cfg->tenants[0].auth, DFW_AUTH_SECRET);
    assert_int_equal(cfg->tenants[1].auth, DFW_AUTH_CERTIFICATE);
    assert_int_equal(cfg->tenants[2].auth, DFW_AUTH_REFRESH_TOKEN);
    assert_string_equal(cfg->tenants[2].cloud, "gcc-high");
    assert_int_equal(cfg->noutputs, 3);
    assert_string_equal(cfg->outputs[0].type, "syslog");
    assert_int_equal(cfg->outputs[0].nkvs, 6);
    assert_string_equal(cfg->outputs[1].type, "syslog");
    assert_string_equal(cfg->outputs[2].type, "file");
    dfw_config_free(cfg);
}

/* /etc/defender-forwarder/defender-forwarder.conf of the package configures nothing, and loads
 * once its commented sections and keys ("#key = value", "#[section]") are uncommented. */
static void test_packaged_etc_config(void **state)
{
    struct fixture *fx = *state;
    const char *path = DFW_TEST_DATA "/../../../packaging/etc/defender-forwarder.conf";
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *text = calloc(1, 65536);
    assert_non_null(text);
    size_t len = fread(text, 1, 65535, f);
    fclose(f);
    struct dfw_config *cfg = dfw_config_load(path, fx->err, sizeof(fx->err));
    assert_null(cfg);
    assert_non_null(strstr(fx->err, "[tenant"));
    char *out = calloc(1, len + 1);
    assert_non_null(out);
    size_t o = 0;
    for (char *line = text; *line != '\0';) {
        char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) + 1 : strlen(line);
        int key = line[0] == '#' && (line[1] == '[' || (line[1] >= 'a' && line[1] <= 'z'));
        memcpy(out + o, line + key, n - (size_t)key);
        o += n - (size_t)key;
        line += n;
    }
    put(fx, "etc.conf", out);
    cfg = load(fx, "etc.conf");
    if (cfg == NULL) {
        fail_msg("uncommented /etc config does not load: %s", fx->err);
    }
    assert_int_equal(cfg->ntenants, 1);
    assert_int_equal(cfg->noutputs, 1);
    dfw_config_free(cfg);
    free(out);
    free(text);
}

/* ---- errors: [forwarder] and syntax ---- */

static void test_errors_forwarder(void **state)
{
    struct fixture *fx = *state;
    expect_error(fx, "[forwarder]\npoll_intervall = 5s\n", 2,
                 "[forwarder] unknown key 'poll_intervall'");
    expect_error(fx, "[forwarder]\n\npoll_interval = 5x\n", 3,
                 "[forwarder] poll_interval: '5x' is not a duration");
    expect_error(fx, "[forwarder]\npoll_interval = 10ms\n", 2,
                 "poll_interval: 10ms is out of range");
    expect_error(fx, "[forwarder]\nmax_retries = 6x\n", 2,
                 "max_retries: '6x' is not an integer from 0 to 100");
    expect_error(fx, "[forwarder]\nmax_connections = 0\n", 2, "max_connections: '0'");
    expect_error(fx, "[forwarder]\nlog_level = verbose\n", 2,
                 "log_level: 'verbose' is not one of error, warn, info, debug");
    expect_error(fx, "[forwarder]\nstate_dir =\n", 2, "[forwarder] state_dir: empty value");
    expect_error(fx, "[forwarder]\noverlap = 1m\n\n[forwarder]\noverlap = 2m\n", 5,
                 "overlap: duplicate key (first set at ");
    expect_error(fx, "state_dir = /x\n", 1, "key 'state_dir' outside any section");
    expect_error(fx, "[forwarder]\n= x\n", 2, "missing key name");
}

static void test_errors_sections_and_syntax(void **state)
{
    struct fixture *fx = *state;
    expect_error(fx, "[tenants x]\n", 1, "unknown section type 'tenants'");
    expect_error(fx, "[forwarder\n", 1, "section header without closing ']'");
    expect_error(fx, "[forwarder] x\n", 1, "unexpected text after ']'");
    expect_error(fx, "[forwarder main]\n", 1, "[forwarder] takes no name");
    expect_error(fx, "\n[tenant]\n", 2, "[tenant] needs a name: [tenant NAME]");
    expect_error(fx, "[output]\n", 1, "[output] needs a name");
    expect_error(fx, "[tenant a/b]\n", 1, "[tenant a/b] the name must be 1 to 64 characters");
    expect_error(fx, "[tenant a b]\n", 1, "the name must be");
    expect_error(fx, "[tenant ..]\n", 1, "not start with '.' or '-'");
    expect_error(fx, "[output -o]\n", 1, "not start with '.' or '-'");
    char text[256];
    char name[66];
    memset(name, 'x', 65);
    name[65] = '\0';
    snprintf(text, sizeof(text), "[output %s]\n", name);
    expect_error(fx, text, 1, "the name must be 1 to 64 characters");
    expect_error(fx, "[forwarder]\nstate_dir = /x\nthis is not valid\n", 3, "syntax error");
    /* The first error wins even when later lines also fail. */
    expect_error(fx, "[forwarder]\nnonsense\nbogus_key = 1\n", 2, "syntax error");
    expect_error(fx, "[forwarder]\nbogus_key = 1\nnonsense\n", 2, "unknown key 'bogus_key'");
    /* Lines longer than inih's buffer are refused, never split. */
    char longline[400];
    int n = snprintf(longline, sizeof(longline), "[forwarder]\nstate_dir = /");
    memset(longline + n, 'x', 300);
    memcpy(longline + n + 300, "\n", 2);
    expect_error(fx, longline, 2, "line too long");
    static const char with_nul[] = "[forwarder]\nstate_dir = /a\0b\n";
    put_n(fx, "main.conf", with_nul, sizeof(with_nul) - 1);
    expect_error_in(fx, "main.conf", "main.conf", 2, "NUL byte");
}

/* ---- errors: [tenant] ---- */

#define TID "tenant_id = " G1 "\n"
#define CID "client_id = " G2 "\n"

static void test_errors_tenant_keys(void **state)
{
    struct fixture *fx = *state;
    expect_error(fx, "[tenant t]\nclientid = x\n", 2, "[tenant t] unknown key 'clientid'");
    expect_error(fx, "[tenant t]\n" TID TID, 3,
                 "[tenant t] tenant_id: duplicate key (first set at line 2)");
    expect_error(fx, "[tenant t]\ntenant_id =\n", 2, "[tenant t] tenant_id: empty value");
    expect_error(fx, "[tenant t]\nclient_id = my-app\n", 2,
                 "client_id: 'my-app' is not an application (client) id GUID");
    expect_error(fx, "[tenant t]\ntenant_id = common\n", 2,
                 "'common' is neither a directory GUID nor a domain such as "
                 "contoso.onmicrosoft.com (common, organizations and consumers do not name a "
                 "tenant)");
    expect_error(fx, "[tenant t]\ntenant_id = bad_domain.com\n", 2, "tenant_id: 'bad_domain.com'");
    expect_error(fx, "[tenant t]\nauth = password\n", 2,
                 "auth: 'password' is not one of secret, certificate, refresh_token");
    expect_error(fx, "[tenant t]\ntoken_endpoint = v3\n", 2, "token_endpoint: 'v3'");
    expect_error(fx, "[tenant t]\nassertion_alg = ES256\n", 2, "assertion_alg: 'ES256'");
    expect_error(fx, "[tenant t]\ncloud = china\n", 2,
                 "cloud: 'china' is not one of global, gcc, gcc-high, dod");
    expect_error(fx, "[tenant t]\nlogin_url = http://127.0.0.1:8080\n", 2,
                 "login_url: must start with https://");
    expect_error(fx, "[tenant t]\ngraph_url = https://\n", 2,
                 "graph_url: must start with https://");
    expect_error(fx, "[tenant t]\ndefender_url = https://a b\n", 2, "defender_url: a base URL");
    expect_error(fx, "[tenant t]\nstreams = m365d-incidents, alerts\n", 2,
                 "streams: unknown stream 'alerts'");
    expect_error(fx, "[tenant t]\nstreams = mde-alerts mde-alerts\n", 2,
                 "streams: 'mde-alerts' is listed twice");
    expect_error(fx, "[tenant t]\nstreams = , ,\n", 2, "streams: no stream listed");
    expect_error(fx, "[tenant t]\nstreams = graph-incident\n", 2,
                 "streams: unknown stream 'graph-incident' (expected graph-incidents, "
                 "graph-alerts, m365d-incidents, mde-alerts)");
    expect_error(fx, "[tenant t]\nexpand_alerts = maybe\n", 2,
                 "expand_alerts: 'maybe' is not yes or no");
    expect_error(fx, "[tenant t]\nclient_secret_env = 1ABC\n", 2,
                 "client_secret_env: '1ABC' is not an environment variable name");
    expect_error(fx, "[tenant t]\nprivate_key_credential = a/b\n", 2,
                 "private_key_credential: 'a/b' is not a credential name");
    expect_error(fx, "[tenant t]\nclient_secret_file = /a\nclient_secret_env = B\n", 3,
                 "client_secret_env: only one of client_secret_file, client_secret_credential, "
                 "client_secret_env may be set (client_secret_file is at line 2)");
    expect_error(fx, "[tenant t]\nsettle_delay = soon\n", 2,
                 "settle_delay: 'soon' is not a duration from 0s to 1d");
    expect_error(fx, "[tenant t]\noverlap = 2d\n", 2,
                 "overlap: '2d' is not a duration from 0s to 1d");
    expect_error(fx, "[tenant t]\ninclude = x.conf\n", 2,
                 "include is only allowed in [forwarder] or before the first section");
}

/* An inline secret is refused with a pointer to the safe keys, and never echoed. */
static void test_errors_inline_secrets(void **state)
{
    struct fixture *fx = *state;
    expect_error(fx, "[tenant t]\n" TID CID "client_secret = hunter2-value\n", 4,
                 "[tenant t] client_secret: secrets are not allowed in the configuration file; "
                 "use client_secret_file, client_secret_credential or client_secret_env");
    assert_null(strstr(fx->err, "hunter2"));
    expect_error(fx, "[tenant t]\nprivate_key = -----BEGIN PRIVATE KEY-----\n", 2,
                 "use private_key_file, private_key_credential or private_key_env");
    assert_null(strstr(fx->err, "BEGIN"));
    expect_error(fx, "[tenant t]\nrefresh_token = 0.AAAA\n", 2, "use refresh_token_file");
    assert_null(strstr(fx->err, "0.AAAA"));
    expect_error(fx, "[tenant t]\nclientsecret = hunter2-value\n", 2, "unknown key 'clientsecret'");
    assert_null(strstr(fx->err, "hunter2"));
}

/* Checks made when a [tenant] section ends: required keys and keys of the wrong auth method. */
static void test_errors_tenant_close(void **state)
{
    struct fixture *fx = *state;
    expect_error(fx, "# x\n[tenant t]\n" CID "client_secret_env = X\n" OUTPUT_OK, 2,
                 "[tenant t] tenant_id is required");
    expect_error(fx, "[tenant t]\n" TID "client_secret_env = X\n" OUTPUT_OK, 1,
                 "[tenant t] client_id is required");
    expect_error(fx, "[tenant t]\n" TID CID OUTPUT_OK, 1,
                 "[tenant t] auth = secret needs one of client_secret_file, "
                 "client_secret_credential, client_secret_env");
    expect_error(fx, "[tenant t]\n" TID CID "auth = secret\n", 4, "auth = secret needs one of");
    expect_error(fx, "[tenant t]\n" TID CID "auth = certificate\nprivate_key_file = /k\n", 4,
                 "[tenant t] auth = certificate needs certificate_file");
    expect_error(fx, "[tenant t]\n" TID CID "auth = certificate\ncertificate_file = /c\n", 4,
                 "auth = certificate needs one of private_key_file, private_key_credential, "
                 "private_key_env");
    expect_error(fx, "[tenant t]\n" TID CID "client_secret_env = X\ncertificate_file = /c\n", 5,
                 "[tenant t] certificate_file: not used with auth = secret");
    expect_error(fx, "[tenant t]\n" TID CID "client_secret_env = X\nassertion_alg = PS256\n", 5,
                 "assertion_alg: not used with auth = secret");
    expect_error(fx, "[tenant t]\n" TID CID "client_secret_env = X\nrefresh_token_file = /r\n", 5,
                 "refresh_token_file: not used with auth = secret");
    expect_error(fx,
                 "[tenant t]\n" TID CID "client_secret_env = X\nauth = certificate\n"
                 "certificate_file = /c\nprivate_key_file = /k\n",
                 4, "client_secret_env: not used with auth = certificate");
    expect_error(fx, "[tenant t]\n" TID CID "auth = refresh_token\nclient_secret_env = X\n", 4,
                 "auth = refresh_token needs refresh_token_file");
    expect_error(fx, "[tenant t]\n" TID CID "auth = refresh_token\nrefresh_token_file = /r\n", 4,
                 "auth = refresh_token needs one of client_secret_file");
    /* An include ending inside a section closes it at the end of that file. */
    put(fx, "t.conf", "[tenant t]\n" TID);
    put(fx, "main.conf", "include = t.conf\n" OUTPUT_OK);
    expect_error_in(fx, "main.conf", "t.conf", 1, "[tenant t] client_id is required");
}

/* ---- errors: [output], names, whole-file checks ---- */

static void test_errors_outputs_and_names(void **state)
{
    struct fixture *fx = *state;
    expect_error(fx, TENANT_OK "[output o]\npath = x\n", 5, "[output o] type is required");
    expect_error(fx, "[output o]\ntype = file\npath = a\npath = b\n", 4,
                 "[output o] path: duplicate key (first set at line 3)");
    expect_error(fx, "[output o]\ntype = file\ntype = syslog\n", 3,
                 "type: duplicate key (first set at line 2)");
    expect_error(fx, "[output o]\ntype = my type\n", 2, "type: 'my type' is not an output type");
    expect_error(fx, "[output o]\ntype = file\n[output o]\ntype = file\n", 3,
                 "[output o] duplicate output name (first defined at ");
    assert_non_null(strstr(fx->err, "main.conf:1)"));
    expect_error(fx, TENANT_OK "\n" TENANT_OK, 6, "[tenant t] duplicate tenant name");
    /* Tenant and output names are separate namespaces. */
    put(fx, "main.conf", TENANT_OK "[output t]\ntype = file\n");
    struct dfw_config *cfg = load(fx, "main.conf");
    if (cfg == NULL) {
        fail_msg("load failed: %s", fx->err);
    }
    dfw_config_free(cfg);

    expect_error(fx, OUTPUT_OK, 0, "no [tenant NAME] section: at least one tenant is required");
    expect_error(fx, TENANT_OK, 0, "no [output NAME] section: at least one output is required");
    expect_error(fx, "", 0, "no [tenant NAME] section");
    expect_error_in(fx, "missing.conf", "missing.conf", 0, "cannot open: No such file");
    mkdir_rel(fx, "dir.conf");
    expect_error_in(fx, "dir.conf", "dir.conf", 0, "not a regular file");
}

/* ---- include ---- */

static void test_include_errors(void **state)
{
    struct fixture *fx = *state;
    mkdir_rel(fx, "conf.d");
    expect_error(fx, "include = nothere.conf\n", 1, "include: nothere.conf: no such file");
    expect_error(fx, "[forwarder]\ninclude =\n", 2, "include: empty value");
    expect_error(fx, "include = conf.d\n", 1, "not a regular file");

    /* An error inside an included file names that file and its line. */
    put(fx, "conf.d/a.conf", "[tenant a]\n" TID "bogus = 1\n");
    put(fx, "main.conf", "include = conf.d/*.conf\n");
    expect_error_in(fx, "main.conf", "conf.d/a.conf", 3, "[tenant a] unknown key 'bogus'");

    /* A duplicate across files points at the first definition. */
    put(fx, "conf.d/a.conf", TENANT_OK);
    put(fx, "main.conf", "include = conf.d/*.conf\n" OUTPUT_OK "\n" TENANT_OK);
    expect_error_in(fx, "main.conf", "main.conf", 6, "[tenant t] duplicate tenant name");
    assert_non_null(strstr(fx->err, "conf.d/a.conf:1)"));

    /* Cycles: a file including itself, and a -> b -> a. */
    expect_error(fx, "include = main.conf\n", 1, "include cycle");
    put(fx, "a.conf", "[forwarder]\ninclude = b.conf\n");
    put(fx, "b.conf", "\ninclude = a.conf\n");
    put(fx, "main.conf", "include = a.conf\n");
    expect_error_in(fx, "main.conf", "b.conf", 2, "include cycle");
}

/* Matches are read in sorted order whatever the directory order is; a missing directory is
 * an empty match. */
static void test_include_sorted(void **state)
{
    struct fixture *fx = *state;
    static const int order[] = {5, 1, 9, 3, 7, 2, 8, 4, 6};
    char rel[64], text[256];
    mkdir_rel(fx, "tenants.d");
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        snprintf(rel, sizeof(rel), "tenants.d/%02d.conf", order[i]);
        snprintf(text, sizeof(text), "[tenant t%d]\n" TID CID "client_secret_env = S\n", order[i]);
        put(fx, rel, text);
    }
    put(fx, "tenants.d/README", "not a config file: *.conf does not match it\n");
    /* A directory that does not exist matches nothing, like an empty one. */
    put(fx, "main.conf",
        "[forwarder]\ninclude = tenants.d/*.conf\ninclude = absent.d/*.conf\n" OUTPUT_OK);
    struct dfw_config *cfg = load(fx, "main.conf");
    if (cfg == NULL) {
        fail_msg("load failed: %s", fx->err);
    }
    assert_int_equal(cfg->ntenants, 9);
    for (size_t i = 0; i < 9; i++) {
        snprintf(text, sizeof(text), "t%zu", i + 1);
        assert_string_equal(cfg->tenants[i].name, text);
        assert_int_equal(cfg->tenants[i].line, 1);
    }
    dfw_config_free(cfg);
}

/* The main file plus 8 nested levels load; a 9th level is an error. */
static void test_include_depth(void **state)
{
    struct fixture *fx = *state;
    char name[32], text[64];
    for (int i = 1; i <= 9; i++) {
        snprintf(name, sizeof(name), "l%d.conf", i);
        if (i < 9) {
            snprintf(text, sizeof(text), "include = l%d.conf\n", i + 1);
        }
        else {
            snprintf(text, sizeof(text), "[forwarder]\n");
        }
        put(fx, name, text);
    }
    put(fx, "main.conf", "include = l1.conf\n" TENANT_OK OUTPUT_OK);
    expect_error_in(fx, "main.conf", "l8.conf", 1, "includes nested deeper than 8 levels");
    put(fx, "l8.conf", "[forwarder]\n");
    struct dfw_config *cfg = load(fx, "main.conf");
    if (cfg == NULL) {
        fail_msg("8 levels should load: %s", fx->err);
    }
    dfw_config_free(cfg);
}

/* ---- scale ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void write_tenants(struct fixture *fx, const char *rel, int n, const char *extra)
{
    char *p = fx_path(fx, rel);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fprintf(fp, "[forwarder]\nmax_connections = 256\n\n");
    for (int i = 0; i < n; i++) {
        fprintf(fp,
                "[tenant customer-%05d]\n"
                "tenant_id = %08x-0000-4000-8000-000000000000\n"
                "client_id = " G2 "\n"
                "client_secret_credential = customer-%05d\n",
                i, (unsigned int)i, i);
    }
    fprintf(fp, "%s[output kafka]\ntype = file\n", extra);
    assert_int_equal(fclose(fp), 0);
    track(fx, p);
}

static void test_10000_tenants(void **state)
{
    struct fixture *fx = *state;
    write_tenants(fx, "big.conf", 10000, "");
    double t0 = now_s();
    struct dfw_config *cfg = load(fx, "big.conf");
    double elapsed = now_s() - t0;
    if (cfg == NULL) {
        fail_msg("load failed: %s", fx->err);
    }
    assert_int_equal(cfg->ntenants, 10000);
    const struct dfw_tenant_conf *t = dfw_config_tenant(cfg, "customer-09999");
    assert_non_null(t);
    assert_string_equal(t->tenant_id, "0000270f-0000-4000-8000-000000000000");
    assert_string_equal(t->client_secret.credential, "customer-09999");
    assert_int_equal(t->line, 4 + 9999 * 4);
    assert_non_null(dfw_config_tenant(cfg, "customer-00000"));
    assert_null(dfw_config_tenant(cfg, "customer-10000"));
    dfw_config_free(cfg);
    /* Generous even under sanitizers; a quadratic loader is far slower at this size. */
    if (elapsed > 10.0) {
        fail_msg("loading 10,000 tenants took %.2f s", elapsed);
    }

    /* A duplicate at the very end is found, with both places named. */
    write_tenants(fx, "big.conf", 10000, "[tenant customer-00042]\n");
    expect_error_in(fx, "big.conf", "big.conf", 4 + 10000 * 4,
                    "[tenant customer-00042] duplicate tenant name (first defined at ");
    assert_non_null(strstr(fx->err, "big.conf:172)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_full_config_with_includes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settle_delay_and_overlap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expand_alerts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_sees_graph_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syntax_tolerance, setup, teardown),
        cmocka_unit_test(test_packaged_example),
        cmocka_unit_test_setup_teardown(test_packaged_etc_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_forwarder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_sections_and_syntax, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_tenant_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_inline_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_tenant_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_outputs_and_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_include_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_include_sorted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_include_depth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_10000_tenants, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
