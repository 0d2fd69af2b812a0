#include "dfw/stream.h"
#include "dfw/permission.h"
#include "dfw/timeutil.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* defender-api.md §10.1 */
#define RETIRING                                                                                   \
    "which Microsoft is retiring: it stops working after 1 February 2027 (Message Center "         \
    "MC1220762)"
#define HOWTO                                                                                      \
    " (docs/migrating-to-graph.md; 'defender-forwarder state migrate' moves the checkpoint)"

/* Graph security incidents: $top above 50 is HTTP 400 "The limit of '50' for Top query has been
 * exceeded" (wazuh/wazuh #28070), $skip at most 500, 150 requests/min per app per tenant [S31];
 * $expand=alerts [S27] also needs SecurityAlert.Read.All (the alerts are alert resources [S28]),
 * and is optional per tenant: big tenants see persistent HTTP 500 with it
 * (elastic/integrations #18144). */
static const struct dfw_stream_def graph_incidents = {
    .name = "graph-incidents",
    .host = DFW_HOST_GRAPH,
    .path = "/v1.0/security/incidents",
    .expand = "alerts",
    .expand_optional = 1,
    .expand_role = "SecurityAlert.Read.All",
    .expand_role_alt = "SecurityAlert.ReadWrite.All",
    .expand_scopes = {"SecurityAlert.Read.All", "SecurityAlert.ReadWrite.All"},
    .id_field = "id",
    .updated_field = "lastUpdateDateTime",
    .created_field = "createdDateTime",
    .role = "SecurityIncident.Read.All",
    .role_alt = "SecurityIncident.ReadWrite.All",
    .scopes = {"SecurityIncident.Read.All", "SecurityIncident.ReadWrite.All"},
    .page_size = 50,
    .page_size_max = 50,
    .skip_max = 500,
    .next_link_on_more = 1,
    .count_supported = 1,
    .rate_per_min = 150,
    .rate_per_hour = 0,
};

/* Defender XDR incidents: $top max 100, 50 calls/min and 1500/h [S1][S3]; delegated Incident.Read
 * [S1]. Retired: stops working after 1 Feb 2027 (MC1220762, defender-api.md §10.1). */
static const struct dfw_stream_def m365d_incidents = {
    .name = "m365d-incidents",
    .host = DFW_HOST_DEFENDER,
    .path = "/api/incidents",
    .expand = NULL,
    .id_field = "incidentId",
    .updated_field = "lastUpdateTime",
    .created_field = "createdTime",
    .role = "Incident.Read.All",
    .role_alt = "Incident.ReadWrite.All",
    .scopes = {"Incident.Read", "Incident.ReadWrite"},
    .page_size = 100,
    .page_size_max = 100,
    .skip_max = 0,
    .next_link_on_more = 1,
    .rate_per_min = 50,
    .rate_per_hour = 1500,
    .replacement = "graph-incidents",
    .retirement =
        "stream m365d-incidents reads the Defender XDR incidents API (/api/incidents), " RETIRING
        "; use graph-incidents (Microsoft Graph /v1.0/security/incidents) instead" HOWTO,
};

/* MDE alerts: $top max 10,000, $expand=evidence, 100 calls/min and 1500/h; delegated Alert.Read
 * [S8]; no @odata.nextLink when $top is set (MicrosoftDocs/microsoft-365-docs #8489). Retired:
 * stops working after 1 Feb 2027 (MC1220762). */
static const struct dfw_stream_def mde_alerts = {
    .name = "mde-alerts",
    .host = DFW_HOST_MDE,
    .path = "/api/alerts",
    .expand = "evidence",
    .id_field = "id",
    .updated_field = "lastUpdateTime",
    .created_field = "alertCreationTime",
    .role = "Alert.Read.All",
    .role_alt = "Alert.ReadWrite.All",
    .scopes = {"Alert.Read", "Alert.ReadWrite"},
    .page_size = 1000,
    .page_size_max = 10000,
    .skip_max = 0,
    .next_link_on_more = 0,
    .rate_per_min = 100,
    .rate_per_hour = 1500,
    .replacement = "graph-alerts",
    .retirement =
        "stream mde-alerts reads the Defender for Endpoint alerts API (/api/alerts), " RETIRING
        "; use graph-alerts (Microsoft Graph /v1.0/security/alerts_v2) instead" HOWTO,
};

/* Graph alerts_v2: 150 requests/min per app per tenant [S31]; $top above 1,000 is clamped
 * (elastic/integrations #20234) and $skip is at most 500 (Graph security error codes,
 * defender-api.md §10.2). Graph's delegated
 * permission has the application permission's name [S30]. */
static const struct dfw_stream_def graph_alerts = {
    .name = "graph-alerts",
    .host = DFW_HOST_GRAPH,
    .path = "/v1.0/security/alerts_v2",
    .expand = NULL,
    .id_field = "id",
    .updated_field = "lastUpdateDateTime",
    .created_field = "createdDateTime",
    .role = "SecurityAlert.Read.All",
    .role_alt = "SecurityAlert.ReadWrite.All",
    .scopes = {"SecurityAlert.Read.All", "SecurityAlert.ReadWrite.All"},
    .page_size = 500,
    .page_size_max = 1000,
    .skip_max = 500,
    .next_link_on_more = 1,
    .count_supported = 1,
    .rate_per_min = 150,
    .rate_per_hour = 0,
};

const struct dfw_stream_def *const dfw_streams[] = {&graph_incidents, &graph_alerts,
                                                    &m365d_incidents, &mde_alerts, NULL};

const struct dfw_stream_def *dfw_stream_find(const char *name)
{
    for (size_t i = 0; dfw_streams[i] != NULL; i++) {
        if (strcmp(dfw_streams[i]->name, name) == 0) {
            return dfw_streams[i];
        }
    }
    return NULL;
}

const char *dfw_stream_resource(const struct dfw_stream_def *def, const struct dfw_cloud *cloud)
{
    switch (def->host) {
    case DFW_HOST_DEFENDER:
        return cloud->defender_resource;
    case DFW_HOST_MDE:
        return cloud->mde_resource;
    case DFW_HOST_GRAPH:
        return cloud->graph_resource;
    }
    return NULL;
}

/* Append " and <field> <op> <time>" to filter. */
static void add_clause(char *filter, size_t len, const char *field, const char *op, int64_t ms)
{
    char t[DFW_TIME_LEN];
    dfw_time_format(ms, t, sizeof(t));
    size_t n = strlen(filter);
    snprintf(filter + n, len - n, "%s%s %s %s", n ? " and " : "", field, op, t);
}

int dfw_stream_expands(const struct dfw_stream_def *def, const struct dfw_tenant_conf *tenant)
{
    return def->expand != NULL &&
           (!def->expand_optional || tenant == NULL || tenant->expand_alerts);
}

const char *dfw_stream_header(const struct dfw_stream_def *def)
{
    /* new members of evolvable enums (serviceSource, detectionSource, status) come as
     * unknownFutureValue without it [S28][S29] (elastic/integrations #12573) */
    return def->host == DFW_HOST_GRAPH ? "Prefer: include-unknown-enum-members" : NULL;
}

const char *dfw_stream_missing_permission(const struct dfw_stream_def *def,
                                          int expand,
                                          const struct dfw_claims *claims)
{
    const char *lacks =
        dfw_claims_missing_permission(claims, def->role, def->role_alt, def->scopes);
    if (lacks == NULL && expand && def->expand_role != NULL) {
        lacks = dfw_claims_missing_permission(claims, def->expand_role, def->expand_role_alt,
                                              def->expand_scopes);
    }
    return lacks;
}

char *dfw_stream_url(const struct dfw_stream_def *def,
                     const char *base_url,
                     const struct dfw_slice *slice,
                     int top,
                     int expand)
{
    char filter[512] = "";
    add_clause(filter, sizeof(filter), def->updated_field, "ge", slice->from_ms);
    add_clause(filter, sizeof(filter), def->updated_field, "lt", slice->to_ms);
    if (slice->cfrom_ms > DFW_WINDOW_OPEN_LO) {
        add_clause(filter, sizeof(filter), def->created_field, "ge", slice->cfrom_ms);
    }
    if (slice->cto_ms < DFW_WINDOW_OPEN_HI) {
        add_clause(filter, sizeof(filter), def->created_field, "lt", slice->cto_ms);
    }
    char *enc = curl_easy_escape(NULL, filter, 0);
    if (enc == NULL) {
        return NULL;
    }
    char skip[48] = "";
    if (slice->skip > 0) {
        snprintf(skip, sizeof(skip), "&$skip=%d", slice->skip);
    }
    if (slice->count && def->count_supported) {
        size_t k = strlen(skip);
        snprintf(skip + k, sizeof(skip) - k, "&$count=true");
    }
    size_t n = strlen(base_url) + strlen(def->path) + strlen(enc) + 128;
    char *url = malloc(n);
    if (url != NULL) {
        int x = expand && def->expand != NULL;
        snprintf(url, n, "%s%s?$filter=%s&$top=%d%s%s%s", base_url, def->path, enc, top, skip,
                 x ? "&$expand=" : "", x ? def->expand : "");
    }
    curl_free(enc);
    return url;
}
