/* Endpoint presets per Microsoft cloud. Hosts are from defender-api.md §1.10 (sources in the tags);
 * audiences from §1.9. China (21Vianet) is left out on purpose: no Defender XDR or MDE API host
 * is documented for it. MDE's base is api.security.microsoft.com in the commercial cloud [S13] and
 * the securitycenter host in the government clouds [S15][S16]. China is not documented [S45][S33],
 * and Graph alerts_v2 is not available there [S57]. */
#include "dfw/cloud.h"

#include <stddef.h>
#include <strings.h>

static const struct dfw_cloud clouds[] = {
    /* Commercial: login [S41][S35], Defender XDR base [S13][S18], Graph [S33], portal [S13].
     * Audiences: MTP app for incidents [S18], WindowsDefenderATP for MDE alerts [S10][S11],
     * Graph [S35]. */
    {
        .name = "global",
        .mde_url = "https://api.security.microsoft.com",
        .login_url = "https://login.microsoftonline.com",
        .defender_url = "https://api.security.microsoft.com",
        .graph_url = "https://graph.microsoft.com",
        .portal_url = "https://security.microsoft.com",
        .defender_resource = "https://api.security.microsoft.com",
        .mde_resource = "https://api.securitycenter.microsoft.com",
        .graph_resource = "https://graph.microsoft.com",
    },
    /* GCC: commercial login and Graph, US Government API hosts [S15][S16][S33]. The audiences are
     * the API hosts (derived: the gov pages give hosts, and tokens are per cloud [S33]). */
    {
        .name = "gcc",
        .mde_url = "https://api-gcc.securitycenter.microsoft.us",
        .login_url = "https://login.microsoftonline.com",
        .defender_url = "https://api-gcc.security.microsoft.us",
        .graph_url = "https://graph.microsoft.com",
        .portal_url = "https://security.microsoft.com",
        .defender_resource = "https://api-gcc.security.microsoft.us",
        .mde_resource = "https://api-gcc.securitycenter.microsoft.us",
        .graph_resource = "https://graph.microsoft.com",
    },
    /* GCC High: US Government login, API and Graph hosts [S15][S16][S33][S45]. */
    {
        .name = "gcc-high",
        .mde_url = "https://api-gov.securitycenter.microsoft.us",
        .login_url = "https://login.microsoftonline.us",
        .defender_url = "https://api-gov.security.microsoft.us",
        .graph_url = "https://graph.microsoft.us",
        .portal_url = "https://security.microsoft.us",
        .defender_resource = "https://api-gov.security.microsoft.us",
        .mde_resource = "https://api-gov.securitycenter.microsoft.us",
        .graph_resource = "https://graph.microsoft.us",
    },
    /* DoD: the GCC High API hosts, its own Graph host and portal [S15][S16][S33]. */
    {
        .name = "dod",
        .mde_url = "https://api-gov.securitycenter.microsoft.us",
        .login_url = "https://login.microsoftonline.us",
        .defender_url = "https://api-gov.security.microsoft.us",
        .graph_url = "https://dod-graph.microsoft.us",
        .portal_url = "https://security.apps.mil",
        .defender_resource = "https://api-gov.security.microsoft.us",
        .mde_resource = "https://api-gov.securitycenter.microsoft.us",
        .graph_resource = "https://dod-graph.microsoft.us",
    },
};

const struct dfw_cloud *dfw_cloud_find(const char *name)
{
    if (name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof(clouds) / sizeof(clouds[0]); i++) {
        if (strcasecmp(clouds[i].name, name) == 0) {
            return &clouds[i];
        }
    }
    return NULL;
}

const char *dfw_cloud_names(void)
{
    return "global, gcc, gcc-high, dod";
}
