/* One `defender-forwarder authorize TENANT` sign-in: the MSSP delegated-access flow that turns an
 * administrator's sign-in to a customer tenant into a refresh token in refresh_token_file.
 * Authorization code with PKCE (dfw/authcode.h) against the tenant's v1 or v2 authorize endpoint
 * of its cloud; the redirect comes to a listener on 127.0.0.1 (redirect URI
 * http://localhost:PORT/, dfw/listener.h) or is pasted (--no-browser); the code is redeemed on
 * the token endpoint and the refresh token written atomically with mode 0600. Sources:
 * defender-api.md §1.1, §1.2, §7 B; RFC 6749 §4.1; RFC 7636; RFC 8252 §7.3.
 *
 * Use: dfw_authorize_new, print dfw_authorize_url, dfw_authorize_preflight, then either
 * dfw_authorize_wait (listener) or dfw_authorize_submit (pasted text), then dfw_authorize_redeem.
 * One thread drives a session; the listener answers on its own thread and hands its result over
 * under a lock. */
#ifndef DFW_AUTHORIZE_H
#define DFW_AUTHORIZE_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/authcode.h"
#include "dfw/config.h"
#include "dfw/err.h"
#include "dfw/jwt.h"

struct dfw_authorize;

struct dfw_authorize_opts {
    int port;   /* redirect URI http://localhost:PORT/; 0 = a free port (listener only) */
    int listen; /* 1: receive the redirect on 127.0.0.1:PORT; 0: it is pasted (--no-browser) */
};

/* Prepare the sign-in for [tenant tenant_name] of cfg (auth = refresh_token): reads the client
 * secret, makes the proof key and state, starts the listener when opts->listen, and builds the
 * authorize URL for the tenant's first stream's resource. NULL with errbuf set: no such tenant
 * (DFW_ERR_NOTFOUND in *err when err is not NULL), another auth method, unreadable secret
 * (DFW_ERR_CONFIG), a port that cannot be listened on (DFW_ERR_IO). */
struct dfw_authorize *dfw_authorize_new(const struct dfw_config *cfg,
                                        const char *tenant_name,
                                        const struct dfw_authorize_opts *opts,
                                        dfw_err *err,
                                        char *errbuf,
                                        size_t errlen);

/* Stop the listener, wipe the proof key and the code, free. NULL is a no-op. */
void dfw_authorize_free(struct dfw_authorize *a);

/* The URL to open in a browser. Owned by a. */
const char *dfw_authorize_url(const struct dfw_authorize *a);

/* The redirect URI, http://localhost:PORT/ (the listener's port). Owned by a. */
const char *dfw_authorize_redirect_uri(const struct dfw_authorize *a);

/* The resource (App ID URI) the sign-in asks for. Static storage. */
const char *dfw_authorize_resource(const struct dfw_authorize *a);

/* Load the authorize URL once with this program's HTTP client, so an error Entra ID shows on the
 * sign-in page instead of redirecting (AADSTS50011 redirect URI not registered, 700016 application
 * not in the tenant, 90002 tenant not found) is reported before anyone opens a browser.
 * DFW_OK when no such error shows; DFW_ERR_AUTH with the advice in errbuf; DFW_ERR_IO when the
 * login host cannot be reached. */
dfw_err dfw_authorize_preflight(struct dfw_authorize *a, char *errbuf, size_t errlen);

/* Wait up to timeout_ms for the redirect on the listener and judge it (state, errors) into *out
 * (clear it with dfw_authcode_result_clear). DFW_OK when a redirect arrived (see out->outcome);
 * DFW_ERR_RETRY with "no sign-in within N s" in errbuf on timeout; DFW_ERR_INVALID when the
 * session has no listener. */
dfw_err dfw_authorize_wait(struct dfw_authorize *a,
                           int64_t timeout_ms,
                           struct dfw_authcode_result *out,
                           char *errbuf,
                           size_t errlen);

/* Judge pasted text (the redirect URL, its query, a code, or an error page's text) into *out.
 * As dfw_authcode_judge_pasted. */
dfw_err
dfw_authorize_submit(struct dfw_authorize *a, const char *pasted, struct dfw_authcode_result *out);

/* Redeem code on the tenant's token endpoint (retrying transport errors and 5xx up to
 * max_retries of cfg), check the token's tid, and write the refresh token to refresh_token_file.
 * DFW_OK: the token's claims are then available from dfw_authorize_claims. DFW_ERR_AUTH with the
 * advice (expired or reused code, PKCE, wrong tenant, consent, secret) in errbuf; DFW_ERR_IO when
 * the file cannot be written or the endpoint cannot be reached. */
dfw_err
dfw_authorize_redeem(struct dfw_authorize *a, const char *code, char *errbuf, size_t errlen);

/* The claims of the access token the redemption returned (after DFW_OK), else NULL. Owned by a. */
const struct dfw_claims *dfw_authorize_claims(const struct dfw_authorize *a);

#endif
