/* The OAuth 2.0 authorization-code flow with PKCE, as `defender-forwarder authorize` runs it for
 * MSSP delegated access: the proof key and state, the authorize URL, judging what came back to the
 * redirect URI, the code-redemption request and its errors. Transport-free (the caller opens the
 * URL, receives the redirect and posts the body). Sources: RFC 6749 §4.1, §10.12 (state),
 * RFC 7636 (PKCE, S256), RFC 8252 §7.3 (loopback redirect), Microsoft identity platform
 * "authorization code flow" (v2) and the v1 equivalent, defender-api.md §1.1, §1.2, §7 B. */
#ifndef DFW_AUTHCODE_H
#define DFW_AUTHCODE_H

#include <stddef.h>
#include "dfw/auth.h"
#include "dfw/config.h"
#include "dfw/err.h"

/* A PKCE proof key and the CSRF state of one sign-in. Secrets until the sign-in is done: wipe with
 * dfw_pkce_clear. */
struct dfw_pkce {
    char verifier[48];  /* code_verifier: base64url of 32 random bytes (43 characters) */
    char challenge[48]; /* code_challenge = base64url(SHA-256(verifier)), method S256 */
    char state[32];     /* state: base64url of 16 random bytes (22 characters) */
};

/* Fill p from OpenSSL's CSPRNG (RAND_bytes) and hash with SHA-256. DFW_ERR_IO when the random
 * generator fails. Thread-safe. */
dfw_err dfw_pkce_new(struct dfw_pkce *p);

/* Wipe p. */
void dfw_pkce_clear(struct dfw_pkce *p);

/* The authorize URL of tenant_id at login_url for the endpoint version:
 * v2 <login>/<tenant>/oauth2/v2.0/authorize?...&scope=<resource>/.default offline_access,
 * v1 <login>/<tenant>/oauth2/authorize?...&resource=<resource>; both with client_id,
 * response_type=code, redirect_uri, response_mode=query, state, code_challenge,
 * code_challenge_method=S256 and prompt=select_account. malloc'd (free()); NULL for a NULL
 * argument or ENOMEM. */
char *dfw_authcode_url(const char *login_url,
                       const char *tenant_id,
                       const char *client_id,
                       enum dfw_token_endpoint endpoint,
                       const char *resource,
                       const char *redirect_uri,
                       const struct dfw_pkce *pkce);

/* The parameters that came back to the redirect URI (decoded; each may be NULL). Borrowed. */
struct dfw_authcode_reply {
    const char *code;
    const char *state;
    const char *error;
    const char *error_description;
};

enum dfw_authcode_outcome {
    DFW_AUTHCODE_CODE = 0,       /* a code, with the expected state (or pasted bare) */
    DFW_AUTHCODE_CANCELLED,      /* access_denied: the user cancelled the sign-in */
    DFW_AUTHCODE_CONSENT_DENIED, /* AADSTS65004: the user declined consent */
    DFW_AUTHCODE_NO_CONSENT,     /* consent_required / AADSTS65001: an admin must consent */
    DFW_AUTHCODE_REDIRECT_URI,   /* AADSTS50011: the redirect URI is not registered */
    DFW_AUTHCODE_WRONG_TENANT,   /* AADSTS50020 / 50034 / 90002 / 700016: wrong tenant or app */
    DFW_AUTHCODE_STATE_MISMATCH, /* a redirect that is not from this sign-in */
    DFW_AUTHCODE_ERROR,          /* any other error */
    DFW_AUTHCODE_INVALID         /* neither a code nor an error */
};

struct dfw_authcode_result {
    enum dfw_authcode_outcome outcome;
    char *code;        /* DFW_AUTHCODE_CODE: malloc'd; a secret: dfw_authcode_result_clear */
    char message[768]; /* otherwise: what happened and what to do (no secret) */
};

/* Judge a reply: the state must equal expected_state (when the reply has a code or an error and
 * expected_state is not NULL); error and error_description are mapped to an outcome and an
 * actionable message naming tenant (the section name) and, for AADSTS50011, redirect_uri. The
 * description is quoted up to its first line, printable ASCII only. Fills *out (clear it with
 * dfw_authcode_result_clear); DFW_ERR_NOMEM when the code cannot be copied. */
dfw_err dfw_authcode_judge(const struct dfw_authcode_reply *reply,
                           const char *expected_state,
                           const char *tenant,
                           const char *redirect_uri,
                           struct dfw_authcode_result *out);

/* Judge pasted text (`authorize --no-browser`): the redirect URL the browser ended at, its query
 * string, a bare code (then the state cannot be checked), or the text of an error page that shows
 * an AADSTS code. Leading and trailing blanks are ignored. As dfw_authcode_judge. */
dfw_err dfw_authcode_judge_pasted(const char *text,
                                  const char *expected_state,
                                  const char *tenant,
                                  const char *redirect_uri,
                                  struct dfw_authcode_result *out);

/* Wipe and free out->code. */
void dfw_authcode_result_clear(struct dfw_authcode_result *out);

/* The form body of the authorization_code grant for auth (a provider from
 * dfw_auth_new_authorize): grant_type, client_id, code, redirect_uri, code_verifier, the client
 * secret when configured, and resource= (v1) or scope=<resource>/.default offline_access (v2).
 * *body is malloc'd and holds secrets: free it with dfw_secret_free. DFW_ERR_INVALID for a
 * missing argument, DFW_ERR_NOMEM. */
dfw_err dfw_authcode_request_body(struct dfw_auth *auth,
                                  const char *resource,
                                  const char *code,
                                  const char *redirect_uri,
                                  const char *code_verifier,
                                  char **body,
                                  char *errbuf,
                                  size_t errlen);

/* Explain a token-endpoint error to a code redemption: an expired (AADSTS70008) or reused (54005)
 * code, a failed PKCE check (501481), another redirect URI (500112, 50011), a code of another
 * tenant (700005); anything else as dfw_auth_explain_error. Returns the dfw_err to report
 * (DFW_ERR_AUTH, or DFW_ERR_RETRY / DFW_ERR_THROTTLED for transient answers). */
dfw_err dfw_authcode_explain_error(const char *tenant,
                                   long http_status,
                                   const char *body,
                                   size_t len,
                                   char *errbuf,
                                   size_t errlen);

#endif
