/* Token provider per tenant: builds token requests, parses responses, caches access tokens per
 * resource (audience). Transport-free so the engine can run it on the shared HTTP loop and tests
 * can feed it bodies. Sources: defender-api.md §1 (Microsoft identity platform docs). */
#ifndef DFW_AUTH_H
#define DFW_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/cloud.h"
#include "dfw/config.h"
#include "dfw/err.h"
#include "dfw/jwt.h"

struct dfw_auth;

/* A cached access token. Valid until dfw_auth_* next changes the cache for this resource. */
struct dfw_token {
    const char *access_token;
    int64_t expires_at_ms; /* ms since epoch UTC: issue time + expires_in */
    const struct dfw_claims *claims;
};

/* Refresh this long before expiry (ms). */
#define DFW_AUTH_SKEW_MS (5 * 60 * 1000)

/* Create the provider for a tenant. Reads its secret (client secret, private key + certificate, or
 * refresh token) now, so wrong permissions or missing files fail early with errbuf naming the
 * tenant and file. login_url is the cloud's or the tenant's override. Returns NULL on error. Not
 * thread-safe: one thread uses a provider. */
struct dfw_auth *dfw_auth_new(const struct dfw_tenant_conf *tenant,
                              const char *login_url,
                              char *errbuf,
                              size_t errlen);

/* A provider for `authorize` (auth = refresh_token only; any other method fails with errbuf set):
 * like dfw_auth_new, but refresh_token_file need not exist. The next successful token answer
 * (see dfw/authcode.h for the authorization-code request) must carry a refresh token, which is
 * written atomically with mode 0600 to refresh_token_file; an answer without one, or a failed
 * write, is an error. Returns NULL on error. Not thread-safe. */
struct dfw_auth *dfw_auth_new_authorize(const struct dfw_tenant_conf *tenant,
                                        const char *login_url,
                                        char *errbuf,
                                        size_t errlen);

/* Free the provider (secrets are zeroed). NULL is a no-op. */
void dfw_auth_free(struct dfw_auth *auth);

/* The token endpoint URL for this tenant (v1 or v2 per config). Owned by auth. */
const char *dfw_auth_token_url(const struct dfw_auth *auth);

/* Build the form body (application/x-www-form-urlencoded) of a token request for resource, e.g.
 * "https://api.security.microsoft.com": v1 sends resource=, v2 scope=<resource>/.default.
 * *body is malloc'd; it contains a secret: free it with dfw_secret_free and never log it.
 * auth = refresh_token after Entra ID refused the refresh token (dfw_auth_needs_authorize):
 * refresh_token_file is read again, and when it holds the same (refused) token no body is built
 * and DFW_ERR_AUTH says to run `defender-forwarder authorize TENANT` again. */
dfw_err dfw_auth_request_body(struct dfw_auth *auth,
                              const char *resource,
                              int64_t now_ms,
                              char **body,
                              char *errbuf,
                              size_t errlen);

/* Feed the token endpoint's answer. 200 with access_token and expires_in (number or string):
 * caches the token and its decoded claims; a rotated refresh_token is written atomically to
 * refresh_token_file before this returns (send one request at a time per refresh-token tenant,
 * so no request uses a token that is not yet stored). A token whose tid is another tenant than a
 * GUID tenant_id is refused (DFW_ERR_AUTH "wrong tenant", nothing cached or stored).
 * Errors: the AADSTS code mapped to an actionable message in errbuf (DFW_ERR_AUTH for
 * 7000215/7000222/700016/65001/invalid_grant and other 4xx, DFW_ERR_THROTTLED for 429 or
 * AADSTS90055, DFW_ERR_RETRY for 5xx and malformed bodies). An expired or revoked refresh token
 * (invalid_grant, AADSTS70008/700082/50173) also sets dfw_auth_needs_authorize. */
dfw_err dfw_auth_handle_response(struct dfw_auth *auth,
                                 const char *resource,
                                 long http_status,
                                 const char *body,
                                 size_t len,
                                 int64_t now_ms,
                                 char *errbuf,
                                 size_t errlen);

/* The cached token for resource when it is valid for at least DFW_AUTH_SKEW_MS more, else NULL.
 * A token issued for less than 2 * DFW_AUTH_SKEW_MS uses a quarter of its lifetime as the skew
 * (a 60 s token is used for 45 s). Each provider adds a share, picked at random when it is made,
 * of a tenth of the lifetime to the skew, so that many tenants refresh at spread-out times. */
const struct dfw_token *
dfw_auth_token(const struct dfw_auth *auth, const char *resource, int64_t now_ms);

/* Set the provider's refresh spread (0..999 thousandths of a tenth of a token's lifetime; made at
 * random by dfw_auth_new). For tests and reproducible runs. */
void dfw_auth_set_refresh_spread(struct dfw_auth *auth, int permille);

/* Forget the cached token for resource (after a 401 from the API). */
void dfw_auth_invalidate(struct dfw_auth *auth, const char *resource);

/* Turn an Entra ID error body into "AADSTSnnnn: <what to do>" for the operator. Writes into
 * errbuf; returns the mapped dfw_err. Exposed for tests and the `token` command. */
dfw_err dfw_auth_explain_error(const char *tenant,
                               long http_status,
                               const char *body,
                               size_t len,
                               char *errbuf,
                               size_t errlen);

/* What kind of failure a token-endpoint answer is, for reports such as `onboard`. */
enum dfw_auth_failure {
    DFW_AUTHF_OTHER = 0,     /* an Entra ID error without a more specific class */
    DFW_AUTHF_CONSENT,       /* admin consent missing or app not in the tenant (65001, 90094,
                                700016, 700011, consent_required) */
    DFW_AUTHF_GRANT_EXPIRED, /* refresh token expired or revoked (70008, 700082, 50173,
                                invalid_grant): run authorize again */
    DFW_AUTHF_CREDENTIAL,    /* client secret or certificate wrong, expired or missing */
    DFW_AUTHF_TENANT,        /* tenant not found (90002: wrong tenant_id or cloud) */
    DFW_AUTHF_RESOURCE,      /* the API has no service principal in the tenant (500011, 50001) */
    DFW_AUTHF_TRANSIENT      /* 429, 5xx, temporarily_unavailable, no Entra ID error body */
};

/* Classify a token-endpoint answer with this HTTP status (not 200) and body. Thread-safe. */
enum dfw_auth_failure dfw_auth_classify_error(long http_status, const char *body, size_t len);

/* 1 when Entra ID refused the tenant's refresh token (expired or revoked grant) and
 * refresh_token_file has not changed since: only `defender-forwarder authorize TENANT` helps. */
int dfw_auth_needs_authorize(const struct dfw_auth *auth);

/* The v1 admin-consent URL the Defender partner and MSSP docs give a customer's admin:
 * <login>/common/oauth2/authorize?prompt=consent&client_id=<id>&response_type=code&sso_reload=true
 * (defender-api.md §1.8). malloc'd (free()); NULL for a NULL argument or ENOMEM. */
char *dfw_auth_consent_url(const char *login_url, const char *client_id);

/* The v2 admin-consent URL (Microsoft identity platform "admin consent protocols"):
 * <login>/<tenant_id>/v2.0/adminconsent?client_id=<id>&redirect_uri=<uri>&scope=<resource>/.default;
 * the static /.default scope asks for every permission of the app registration. redirect_uri
 * must be registered on the app. malloc'd (free()); NULL for a NULL argument or ENOMEM. */
char *dfw_auth_admin_consent_url(const char *login_url,
                                 const char *tenant_id,
                                 const char *client_id,
                                 const char *redirect_uri,
                                 const char *resource);

#endif
