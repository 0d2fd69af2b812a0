/* The APIs the forwarder reads, one stream each. Sources: defender-api.md §2 (Defender XDR
 * incidents), §3 (MDE alerts), §5 (Graph alerts_v2). */
#ifndef DFW_STREAM_H
#define DFW_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/cloud.h"
#include "dfw/err.h"

struct json_object;

struct dfw_stream_def {
    const char *name;       /* "m365d-incidents", "mde-alerts", "graph-alerts" */
    enum dfw_api_host host; /* which base URL and which resource (audience) */
    const char *path;       /* "/api/incidents" */
    const char *expand;     /* "evidence" or NULL */
    const char *id_field;   /* "incidentId" (number), "id" */
    const char
        *updated_field; /* "lastUpdateTime", "lastUpdateDateTime": cursor and $filter field */
    const char *created_field; /* "createdTime", "alertCreationTime", "createdDateTime" */
    const char *role;          /* least application permission, e.g. "Alert.Read.All" */
    const char *role_alt;      /* a higher permission that also works, e.g. "Alert.ReadWrite.All" */
    const char *scopes[2];     /* delegated permission (scp): least, higher; e.g. "Alert.Read" */
    int page_size;             /* default $top */
    int page_size_max;         /* documented maximum $top */
    int rate_per_min;          /* documented quota per tenant+app */
    int rate_per_hour;         /* 0 = none documented */
};

/* The stream with this name, or NULL. Static storage. */
const struct dfw_stream_def *dfw_stream_find(const char *name);

/* All streams, NULL-terminated. */
extern const struct dfw_stream_def *const dfw_streams[];

/* The audience (resource) for a stream in a cloud. */
const char *dfw_stream_resource(const struct dfw_stream_def *def, const struct dfw_cloud *cloud);

/* The first-page URL for records with from_ms <= last-update < to_ms:
 * base + path + "?$filter=<field> ge <from> and <field> lt <to>&$top=<top>[&$expand=...]",
 * URL-encoded. malloc'd; NULL on ENOMEM. */
char *dfw_stream_url(const struct dfw_stream_def *def,
                     const char *base_url,
                     int64_t from_ms,
                     int64_t to_ms,
                     int top);

/* A parsed page: the root object owns everything. */
struct dfw_page {
    struct json_object *root;  /* owned: json_object_put when done */
    struct json_object *value; /* borrowed: the "value" array */
    const char *next_link;     /* borrowed: "@odata.nextLink" or NULL */
};

/* Parse a response body. DFW_ERR_INVALID (truncated or malformed JSON, no "value" array, a
 * nextLink that is not https on the same host as base_url) with the reason in errbuf. */
dfw_err dfw_stream_parse_page(const char *body,
                              size_t len,
                              const char *base_url,
                              struct dfw_page *page,
                              char *errbuf,
                              size_t errlen);

/* Identity of one record: id as text into idbuf, last-update and created time. DFW_ERR_INVALID
 * when the id or the last-update time is missing or malformed. *updated points into rec. */
dfw_err dfw_stream_record_key(const struct dfw_stream_def *def,
                              struct json_object *rec,
                              char *idbuf,
                              size_t idlen,
                              const char **updated,
                              int64_t *updated_ms,
                              int64_t *created_ms);

#endif
