#include "dfw/stream.h"
#include "dfw/permission.h"
#include "dfw/json_check.h"
#include "dfw/timeutil.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <inttypes.h>
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

/* "https://host[:port]" prefix length of a URL, or 0. */
static size_t origin_len(const char *url)
{
    if (strncmp(url, "https://", 8) != 0) {
        return 0;
    }
    const char *slash = strchr(url + 8, '/');
    return slash ? (size_t)(slash - url) : strlen(url);
}

dfw_err dfw_stream_parse_page(const char *body,
                              size_t len,
                              const char *base_url,
                              struct dfw_page *page,
                              char *errbuf,
                              size_t errlen)
{
    memset(page, 0, sizeof(*page));
    /* json-c alone lets NaN, "1." and bad UTF-8 through to the JSON outputs (dfw/json_check.h) */
    char why[128];
    if (dfw_json_check(body, len, why, sizeof(why)) != DFW_OK) {
        snprintf(errbuf, errlen, "response is not valid JSON (RFC 8259) at %s", why);
        return DFW_ERR_INVALID;
    }
    struct json_tokener *tok = json_tokener_new();
    if (tok == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return DFW_ERR_NOMEM;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    struct json_object *root = json_tokener_parse_ex(tok, body, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (root == NULL || jerr != json_tokener_success) {
        snprintf(errbuf, errlen, "malformed JSON after %zu of %zu bytes: %s", used, len,
                 jerr == json_tokener_continue ? "truncated" : json_tokener_error_desc(jerr));
        json_object_put(root);
        return DFW_ERR_INVALID;
    }
    struct json_object *value;
    if (!json_object_object_get_ex(root, "value", &value) ||
        !json_object_is_type(value, json_type_array)) {
        snprintf(errbuf, errlen, "response has no \"value\" array");
        json_object_put(root);
        return DFW_ERR_INVALID;
    }
    struct json_object *next;
    const char *next_link = NULL;
    if (json_object_object_get_ex(root, "@odata.nextLink", &next) &&
        json_object_is_type(next, json_type_string)) {
        next_link = json_object_get_string(next);
        size_t o = origin_len(base_url);
        /* never send the bearer token to another host */
        if (o == 0 || strncmp(next_link, base_url, o) != 0 ||
            (next_link[o] != '/' && next_link[o] != '\0')) {
            next_link = NULL;
            page->foreign_next_link = 1;
        }
    }
    struct json_object *count;
    page->count = -1;
    if (json_object_object_get_ex(root, "@odata.count", &count) &&
        json_object_is_type(count, json_type_int) && json_object_get_int64(count) >= 0) {
        page->count = (long)json_object_get_int64(count);
    }
    page->root = root;
    page->value = value;
    page->next_link = next_link;
    return DFW_OK;
}

dfw_err dfw_stream_record_key(const struct dfw_stream_def *def,
                              struct json_object *rec,
                              char *idbuf,
                              size_t idlen,
                              const char **updated,
                              int64_t *updated_ms,
                              int64_t *created_ms)
{
    struct json_object *v;
    if (!json_object_is_type(rec, json_type_object) ||
        !json_object_object_get_ex(rec, def->id_field, &v)) {
        return DFW_ERR_INVALID;
    }
    if (json_object_is_type(v, json_type_int)) {
        snprintf(idbuf, idlen, "%" PRId64, json_object_get_int64(v));
    }
    else if (json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0 &&
             (size_t)json_object_get_string_len(v) < idlen &&
             strlen(json_object_get_string(v)) == (size_t)json_object_get_string_len(v)) {
        /* an id with an embedded NUL ("\u0000") would be cut and collide with another */
        snprintf(idbuf, idlen, "%s", json_object_get_string(v));
    }
    else {
        return DFW_ERR_INVALID;
    }
    if (!json_object_object_get_ex(rec, def->updated_field, &v) ||
        !json_object_is_type(v, json_type_string) ||
        dfw_time_parse(json_object_get_string(v), updated_ms) != DFW_OK) {
        return DFW_ERR_INVALID;
    }
    *updated = json_object_get_string(v);
    *created_ms = *updated_ms;
    if (json_object_object_get_ex(rec, def->created_field, &v) &&
        json_object_is_type(v, json_type_string)) {
        int64_t c;
        if (dfw_time_parse(json_object_get_string(v), &c) == DFW_OK) {
            *created_ms = c;
        }
    }
    return DFW_OK;
}
