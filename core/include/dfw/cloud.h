/* Endpoints per Microsoft cloud. Source: defender-api.md §1.9, §1.10. */
#ifndef DFW_CLOUD_H
#define DFW_CLOUD_H

enum dfw_api_host { DFW_HOST_DEFENDER = 0, DFW_HOST_MDE = 1, DFW_HOST_GRAPH = 2 };

struct dfw_cloud {
    const char *name;              /* global, gcc, gcc-high, dod */
    const char *login_url;         /* Entra ID authority, e.g. https://login.microsoftonline.com */
    const char *defender_url;      /* Defender XDR API base */
    const char *mde_url;           /* Defender for Endpoint API base (/api/alerts) */
    const char *graph_url;         /* Microsoft Graph base */
    const char *portal_url;        /* Defender portal */
    const char *defender_resource; /* audience for /api/incidents */
    const char *mde_resource;      /* audience for /api/alerts (WindowsDefenderATP) */
    const char *graph_resource;    /* audience for Graph */
};

/* The preset with this name, or NULL. Static storage; thread-safe. */
const struct dfw_cloud *dfw_cloud_find(const char *name);

/* "global, gcc, gcc-high, dod" for error messages. */
const char *dfw_cloud_names(void);

#endif
