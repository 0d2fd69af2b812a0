/* The configuration file: INI parsed with libinih. See docs/defender-forwarder.conf.5. */
#ifndef DFW_CONFIG_H
#define DFW_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/err.h"

/* One "key = value" line, with where it came from (for error messages). */
struct dfw_config_kv {
    char *key;
    char *value;
    char *file;
    int line;
};

enum dfw_auth_method {
    DFW_AUTH_SECRET = 0,       /* client credentials with a client secret */
    DFW_AUTH_CERTIFICATE = 1,  /* client credentials with a private_key_jwt client assertion */
    DFW_AUTH_REFRESH_TOKEN = 2 /* MSSP delegated: refresh token from the authorization-code flow */
};

enum dfw_token_endpoint {
    DFW_TOKEN_V2 = 0, /* POST /{tenant}/oauth2/v2.0/token with scope=<resource>/.default */
    DFW_TOKEN_V1 = 1  /* POST /{tenant}/oauth2/token with resource=<resource> */
};

enum dfw_assertion_alg { DFW_ALG_PS256 = 0, DFW_ALG_RS256 = 1 };

/* Where a secret is read from; exactly one of the three is set. See dfw/secret.h. */
struct dfw_secret_ref {
    char *file; /* *_file: path, must not be group/world-readable */
    char *
        credential; /* *_credential: name inside $CREDENTIALS_DIRECTORY (systemd LoadCredential=) */
    char *env;      /* *_env: environment variable name */
};

/* [tenant NAME] */
struct dfw_tenant_conf {
    char *name;                /* section name: used in logs, state file names, events */
    char *tenant_id;           /* tenant_id: directory GUID or domain (required) */
    char *client_id;           /* client_id: application id GUID (required) */
    enum dfw_auth_method auth; /* auth = secret|certificate|refresh_token (default secret) */
    enum dfw_token_endpoint token_endpoint; /* token_endpoint = v2|v1 (default v2) */
    struct dfw_secret_ref client_secret;    /* client_secret_file|_credential|_env (auth=secret) */
    char *certificate_file;                 /* PEM certificate (auth=certificate) */
    struct dfw_secret_ref
        private_key; /* private_key_file|_credential|_env, PEM (auth=certificate) */
    enum dfw_assertion_alg assertion_alg; /* assertion_alg = PS256|RS256 (default PS256) */
    char *refresh_token_file; /* auth=refresh_token: rotated token, rewritten atomically */
    char *cloud;              /* cloud = global|gcc|gcc-high|dod (default global) */
    char *login_url;    /* overrides the cloud's login host (e.g. the emulator); NULL = preset */
    char *defender_url; /* overrides the Defender API base URL */
    char *graph_url;    /* overrides the Microsoft Graph base URL */
    char **streams;     /* streams = graph-incidents, graph-alerts (default), m365d-incidents,
                           mde-alerts (legacy) */
    size_t nstreams;
    int expand_alerts;       /* expand_alerts (default yes): graph-incidents asks $expand=alerts */
    int64_t settle_delay_ms; /* settle_delay: the forwarder's when -1 */
    int64_t overlap_ms;      /* overlap: the forwarder's when -1 */
    char *canon;             /* the section's "key=value\n" lines as read (reload compares them) */
    char *file;              /* where the section started */
    int line;
};

/* [output NAME]: type plus raw key/values, validated by the output's option table
 * (dfw_output_conf_parse) when the output is created. */
struct dfw_output_conf {
    char *name;
    char *type;
    struct dfw_config_kv *kvs; /* every key except type, in file order */
    size_t nkvs;
    char *file;
    int line;
};

/* [forwarder] plus every tenant and output. Plain data; read-only after dfw_config_load. */
struct dfw_config {
    char *state_dir;             /* state_dir (default /var/lib/defender-forwarder) */
    int64_t poll_interval_ms;    /* poll_interval (default 60s) */
    int64_t overlap_ms;          /* overlap (default 10m): re-read window behind the checkpoint */
    int64_t settle_delay_ms;     /* settle_delay (default 2m): windows end this long before now */
    int64_t initial_lookback_ms; /* initial_lookback (default 1d): start of a new checkpoint */
    int64_t http_timeout_ms;     /* http_timeout (default 60s) */
    int64_t connect_timeout_ms;  /* connect_timeout (default 10s) */
    int max_retries;             /* max_retries (default 6): per request before the tenant fails */
    int page_size;               /* page_size (default 0: per-stream documented default) */
    int max_connections;         /* max_connections (default 64): concurrent HTTP transfers */
    char *ca_file;               /* ca_file: extra CA bundle for the APIs; NULL = system store */
    char *log_level;             /* log_level (default info) */
    char *metrics_file;          /* metrics_file: Prometheus text written every 10 s; NULL */
    char *metrics_listen;        /* metrics_listen: "127.0.0.1:9464" serves /metrics, /health */
    int metrics_per_tenant;      /* metrics_per_tenant (default yes): no = series per stream */
    int read_ahead; /* read_ahead (default yes): fetch a stream's next page while one is delivered
                     */
    char *forwarder_canon; /* the [forwarder] "key=value\n" lines as read (reload compares) */
    struct dfw_tenant_conf *tenants;
    size_t ntenants;
    struct dfw_output_conf *outputs;
    size_t noutputs;
};

/* Load and validate a configuration file and the files its "include = GLOB" lines name (relative
 * globs resolve against the including file's directory). Unknown sections or keys, bad values,
 * duplicate names and missing required keys fail with "file:line: message" in errbuf. Secrets are
 * not read here (see dfw/secret.h). Returns a config to free with dfw_config_free, or NULL. */
struct dfw_config *dfw_config_load(const char *path, char *errbuf, size_t errlen);

/* Flags of dfw_config_load_flags and dfw_config_from_settings. */
#define DFW_CONFIG_NO_OUTPUTS 1 /* no [output NAME] section is required (a host is the output) */

/* dfw_config_load with flags (DFW_CONFIG_*). */
struct dfw_config *dfw_config_load_flags(const char *path, int flags, char *errbuf, size_t errlen);

/* One key/value taken from a host's own configuration: section is what a file would have between
 * the brackets ("forwarder", "tenant contoso"), key and value as on a "key = value" line. */
struct dfw_config_setting {
    const char *section;
    const char *key;
    const char *value;
};

/* Build a configuration from n settings (borrowed; copied) exactly as if they were the lines of
 * a file, in order: a section starts where the section name changes (settings of one section must
 * be consecutive), and every check of dfw_config_load applies. Errors read "origin:N: message"
 * where N counts the settings from 1 (origin: e.g. "syslog-ng defender() setting"). "include =
 * GLOB" is relative to the working directory. flags: DFW_CONFIG_*. Returns a config to free with
 * dfw_config_free, or NULL with errbuf set. */
struct dfw_config *dfw_config_from_settings(const struct dfw_config_setting *settings,
                                            size_t n,
                                            const char *origin,
                                            int flags,
                                            char *errbuf,
                                            size_t errlen);

/* Free a config. NULL is a no-op. */
void dfw_config_free(struct dfw_config *cfg);

/* The tenant with this name, or NULL. */
const struct dfw_tenant_conf *dfw_config_tenant(const struct dfw_config *cfg, const char *name);

/* 1 when two tenant sections were written the same (the same keys with the same values in the
 * same order), else 0. For reload. */
int dfw_config_tenant_same(const struct dfw_tenant_conf *a, const struct dfw_tenant_conf *b);

/* 1 when the [forwarder] sections, respectively all [output] sections (names, types, key/values,
 * in order), are the same, else 0. For reload. */
int dfw_config_forwarder_same(const struct dfw_config *a, const struct dfw_config *b);
int dfw_config_outputs_same(const struct dfw_config *a, const struct dfw_config *b);

#endif
