/* `defender-forwarder onboard`: is every configured tenant ready to be read? For each tenant, in
 * parallel on one libcurl multi loop: get an access token per resource (one request at a time for
 * a refresh-token tenant, as the daemon does), decode its claims, check tid and token kind, check
 * each stream's permission by kind, and call each stream's API once with $top=1. Transient
 * failures (429 with Retry-After, 5xx, timeouts) are retried up to max_retries. At most
 * max_connections transfers run at once, and each tenant gets one call per stream: far inside
 * the per-tenant quotas (defender-api.md §10.2) and Graph's per-app limit across tenants.
 * Refresh tokens are rotated and stored as in the daemon. */
#ifndef DFW_ONBOARD_H
#define DFW_ONBOARD_H

#include <stddef.h>
#include <stdio.h>
#include "dfw/config.h"
#include "dfw/err.h"
#include "dfw/permission.h"
#include "dfw/stream.h"

/* How a tenant's tokens went. */
enum dfw_onboard_token {
    DFW_OB_TOKEN_OK = 0,       /* every resource's token; see kind */
    DFW_OB_TOKEN_NO_CONSENT,   /* admin consent missing or the app is not in the tenant */
    DFW_OB_TOKEN_AUTHORIZE,    /* no usable refresh token: run authorize (again) */
    DFW_OB_TOKEN_WRONG_TENANT, /* a token of another tenant, or the tenant was not found */
    DFW_OB_TOKEN_CREDENTIAL,   /* client secret / certificate wrong, expired, unreadable */
    DFW_OB_TOKEN_ERROR         /* anything else (see detail), incl. a failure that persisted */
};

/* One stream of one tenant. */
enum dfw_onboard_verdict {
    DFW_OB_OK = 0,             /* the API answered 200 with a page */
    DFW_OB_NOT_CONFIGURED,     /* the tenant does not read this stream */
    DFW_OB_MISSING_PERMISSION, /* the token lacks the permission of its kind (see permission) */
    DFW_OB_NO_CONSENT,         /* no token: admin consent missing */
    DFW_OB_NOT_ALLOWED,        /* HTTP 403 although the token holds the permission: the app is
                                  not allowed in the tenant (Defender portal, MSSP tab) */
    DFW_OB_API_ERROR,          /* another status or a transport error (see http_status) */
    DFW_OB_TOKEN_FAILED        /* no token for another reason (see the tenant's token) */
};

struct dfw_onboard_stream {
    const struct dfw_stream_def *def;
    enum dfw_onboard_verdict verdict;
    const char *permission; /* DFW_OB_MISSING_PERMISSION: the least permission lacking (static) */
    long http_status;       /* the API's last status; 0 when not called or no answer */
    char detail[320];       /* the API's error message or transport error ("" when none) */
};

struct dfw_onboard_tenant {
    const struct dfw_tenant_conf *conf;
    enum dfw_onboard_token token;
    enum dfw_token_kind kind; /* when token is DFW_OB_TOKEN_OK (or a resource's token came) */
    int have_kind;
    char tid[64];     /* the tokens' tid ("" when none came) */
    char detail[640]; /* why the token failed (no secret: the token endpoint's advice) */
    struct dfw_onboard_stream streams[8]; /* in dfw_streams order; nstreams used */
    size_t nstreams;
    int ready; /* token OK and every configured stream OK */
};

struct dfw_onboard_report {
    struct dfw_onboard_tenant *tenants; /* in configuration order */
    size_t ntenants;
    size_t ready;
    int64_t elapsed_ms;
};

struct dfw_onboard_opts {
    int progress; /* 1: a progress line on stderr every 2 s and a final one */
};

/* Check every tenant of cfg. Returns the report (free with dfw_onboard_report_free), or NULL
 * with errbuf set when the HTTP client cannot be set up or memory runs out. Blocks until every
 * tenant has a verdict. Not thread-safe (one call at a time). */
struct dfw_onboard_report *dfw_onboard_run(const struct dfw_config *cfg,
                                           const struct dfw_onboard_opts *opts,
                                           char *errbuf,
                                           size_t errlen);

/* Free a report. NULL is a no-op. */
void dfw_onboard_report_free(struct dfw_onboard_report *r);

/* The table: a header, one row per tenant (tenant, auth, token, one column per stream that any
 * tenant reads), the count of ready tenants, the details of every failure, and both consent URLs
 * for each tenant without consent. */
void dfw_onboard_print_table(const struct dfw_onboard_report *r, FILE *out);

/* The report as one JSON object (see defender-forwarder(1), onboard --json). DFW_ERR_NOMEM. */
dfw_err dfw_onboard_print_json(const struct dfw_onboard_report *r, FILE *out);

#endif
