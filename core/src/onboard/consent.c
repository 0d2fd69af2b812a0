/* Admin-consent URLs and instructions for a customer's administrator (dfw/consent.h). */
#include "dfw/consent.h"
#include "dfw/auth.h"
#include "dfw/cloud.h"
#include "dfw/stream.h"

#include <stdlib.h>

dfw_err
dfw_consent_urls(const struct dfw_tenant_conf *t, const char *redirect_uri, char **v1, char **v2)
{
    *v1 = *v2 = NULL;
    const struct dfw_cloud *cloud = dfw_cloud_find(t->cloud ? t->cloud : "global");
    const struct dfw_stream_def *first = t->nstreams > 0 ? dfw_stream_find(t->streams[0]) : NULL;
    if (cloud == NULL || first == NULL) {
        return DFW_ERR_CONFIG;
    }
    const char *login = t->login_url ? t->login_url : cloud->login_url;
    *v1 = dfw_auth_consent_url(login, t->client_id);
    *v2 = dfw_auth_admin_consent_url(login, t->tenant_id, t->client_id,
                                     redirect_uri ? redirect_uri : DFW_CONSENT_REDIRECT_URI,
                                     dfw_stream_resource(first, cloud));
    if (*v1 == NULL || *v2 == NULL) {
        free(*v1);
        free(*v2);
        *v1 = *v2 = NULL;
        return DFW_ERR_NOMEM;
    }
    return DFW_OK;
}

dfw_err dfw_consent_instructions(const struct dfw_tenant_conf *t,
                                 const char *redirect_uri,
                                 struct dfw_buf *out)
{
    char *v1 = NULL, *v2 = NULL;
    dfw_err rc = dfw_consent_urls(t, redirect_uri, &v1, &v2);
    if (rc != DFW_OK) {
        return rc;
    }
    const struct dfw_cloud *cloud = dfw_cloud_find(t->cloud ? t->cloud : "global");
    rc = dfw_buf_printf(
        out,
        "Admin consent for tenant %s (%s), application %s.\n"
        "An administrator of that tenant opens one of these URLs, signs in and accepts:\n"
        "  v1 (the form in Microsoft's Defender partner and MSSP docs):\n"
        "    %s\n"
        "  v2 (the tenant's admin-consent endpoint; afterwards the browser goes to %s,\n"
        "      which must be a redirect URI of the app registration):\n"
        "    %s\n"
        "Then, for Defender for Endpoint data, the administrator allows the application in the\n"
        "tenant's Microsoft Defender portal:\n"
        "  %s/?tid=%s > Settings > Endpoints > APIs > SIEM > MSSP tab:\n"
        "  enter Application ID %s and the MSSP tenant ID (the tenant where the application is\n"
        "  registered), then Authorize application (needs the \"Manage portal system settings\"\n"
        "  permission).\n",
        t->name, t->tenant_id, t->client_id, v1,
        redirect_uri ? redirect_uri : DFW_CONSENT_REDIRECT_URI, v2, cloud->portal_url, t->tenant_id,
        t->client_id);
    free(v1);
    free(v2);
    return rc;
}
