/* What a customer's administrator does so that the forwarder's (MSSP's) application may read the
 * tenant: admin consent (both URL forms) and, for Defender for Endpoint, allowing the application
 * in the tenant's Defender portal. Sources: defender-api.md §1.8 (consent URLs), §7 (MSSP model,
 * portal step). Pure text building; thread-safe. */
#ifndef DFW_CONSENT_H
#define DFW_CONSENT_H

#include "dfw/buf.h"
#include "dfw/config.h"
#include "dfw/err.h"

/* The redirect URI the v2 admin-consent URL names when none is given: authorize's default. */
#define DFW_CONSENT_REDIRECT_URI "http://localhost:8400/"

/* The v1 form (<login>/common/oauth2/authorize?prompt=consent&...) into *v1 and the v2
 * admin-consent endpoint of the tenant (<login>/<tenant_id>/v2.0/adminconsent?client_id=...
 * &redirect_uri=...&scope=<resource of the first stream>/.default) into *v2, for tenant's cloud
 * (or login_url). Both malloc'd (free()). DFW_ERR_NOMEM, DFW_ERR_CONFIG (unknown cloud, no
 * stream). */
dfw_err dfw_consent_urls(const struct dfw_tenant_conf *tenant,
                         const char *redirect_uri,
                         char **v1,
                         char **v2);

/* The whole instruction text for tenant, appended to out: who does what, both consent URLs, then
 * the Defender for Endpoint portal step (Settings > Endpoints > APIs > SIEM > MSSP) with the
 * tenant's id. DFW_ERR_NOMEM, DFW_ERR_CONFIG. */
dfw_err dfw_consent_instructions(const struct dfw_tenant_conf *tenant,
                                 const char *redirect_uri,
                                 struct dfw_buf *out);

#endif
