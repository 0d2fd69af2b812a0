/* The APIs the forwarder reads, one stream each. Sources: defender-api.md §2 (Defender XDR
 * incidents), §3 (MDE alerts), §5 (Graph alerts_v2). */
#ifndef DFW_STREAM_H
#define DFW_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/cloud.h"
#include "dfw/err.h"
#include "dfw/window.h"

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
    int page_size_max;         /* documented maximum $top (values above are refused or clamped) */
    int skip_max;              /* documented maximum $skip, 0 = none documented */
    int next_link_on_more;     /* 1: a page that leaves rows out carries @odata.nextLink; 0: the
                                  API documents none (MDE with $top): a full page is the sign */
    int count_supported;       /* 1: $count=true is documented (Graph) */
    int rate_per_min;          /* documented quota per tenant+app */
    int rate_per_hour;         /* 0 = none documented */
};

/* The stream with this name, or NULL. Static storage. */
const struct dfw_stream_def *dfw_stream_find(const char *name);

/* All streams, NULL-terminated. */
extern const struct dfw_stream_def *const dfw_streams[];

/* The audience (resource) for a stream in a cloud. */
const char *dfw_stream_resource(const struct dfw_stream_def *def, const struct dfw_cloud *cloud);

/* The URL that asks for one slice of a window (dfw/window.h): records with
 * from <= last-update < to and, when the slice has them, created bounds:
 * base + path + "?$filter=<updated> ge <from> and <updated> lt <to>[ and <created> ge <cfrom>]
 * [ and <created> lt <cto>]&$top=<top>[&$skip=<skip>][&$count=true][&$expand=...]", URL-encoded,
 * times with milliseconds; $count only when the slice asks and the API documents it. No $orderby:
 * none of the APIs documents one. malloc'd; NULL on ENOMEM. */
char *dfw_stream_url(const struct dfw_stream_def *def,
                     const char *base_url,
                     const struct dfw_slice *slice,
                     int top);

/* A parsed page: the root object owns everything. */
struct dfw_page {
    struct json_object *root;  /* owned: json_object_put when done */
    struct json_object *value; /* borrowed: the "value" array */
    const char *next_link;     /* borrowed: "@odata.nextLink" on the same https host, or NULL */
    int foreign_next_link;     /* 1: a next link to another host or scheme was left out (the
                                  bearer token is never sent elsewhere) */
    long count;                /* "@odata.count", -1 when absent */
};

/* Parse a response body. DFW_ERR_INVALID (truncated or malformed JSON, no "value" array) with
 * the reason in errbuf. A next link that is not https on the same host as base_url is not
 * followed: next_link stays NULL and foreign_next_link is set. */
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
