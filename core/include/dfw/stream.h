/* The APIs the forwarder reads, one stream each. Sources: defender-api.md §5 (Graph incidents and
 * alerts_v2: the default streams), §2 (Defender XDR incidents), §3 (MDE alerts), §10.1 (the legacy
 * APIs stop working after 1 Feb 2027). */
#ifndef DFW_STREAM_H
#define DFW_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/buf.h"
#include "dfw/cloud.h"
#include "dfw/config.h"
#include "dfw/err.h"
#include "dfw/json_scan.h"
#include "dfw/window.h"

struct json_object;
struct dfw_claims;

struct dfw_stream_def {
    const char *name;       /* "graph-incidents", "graph-alerts", "m365d-incidents", "mde-alerts" */
    enum dfw_api_host host; /* which base URL and which resource (audience) */
    const char *path;       /* "/api/incidents" */
    const char *expand;     /* "alerts", "evidence" or NULL */
    int expand_optional;    /* 1: the tenant's expand_alerts decides whether $expand is sent */
    const char *expand_role; /* the application permission the expansion needs too, or NULL */
    const char *expand_role_alt;
    const char *expand_scopes[2]; /* its delegated permission: least, higher */
    const char *id_field;         /* "incidentId" (number), "id" */
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
    const char *replacement;   /* a legacy stream: the Graph stream that replaces it; else NULL */
    const char *retirement;    /* a legacy stream: one line saying when it stops working and what
                                  replaces it (for the start-up warning and check-config); NULL */
};

/* The stream with this name, or NULL. Static storage. */
const struct dfw_stream_def *dfw_stream_find(const char *name);

/* All streams, NULL-terminated. */
extern const struct dfw_stream_def *const dfw_streams[];

/* The audience (resource) for a stream in a cloud. */
const char *dfw_stream_resource(const struct dfw_stream_def *def, const struct dfw_cloud *cloud);

/* 1 when the requests of def for this tenant carry $expand: def has one and, when it is optional
 * (graph-incidents), the tenant's expand_alerts is on (tenant NULL: the default, on). */
int dfw_stream_expands(const struct dfw_stream_def *def, const struct dfw_tenant_conf *tenant);

/* The extra request header of def's API, or NULL: Graph gets
 * "Prefer: include-unknown-enum-members", so that members added to its evolvable enums after
 * unknownFutureValue (serviceSource, detectionSource, incident status) arrive as themselves
 * (Graph "evolvable enums"; defender-api.md §5.1, §10.2). Static storage. */
const char *dfw_stream_header(const struct dfw_stream_def *def);

/* The permission a token lacks to read def (with its $expand when expand is 1), or NULL when it
 * holds every one: the stream's own (role / scopes) and, when expanding, the expansion's
 * (graph-incidents with $expand=alerts also needs SecurityAlert.Read.All). Application tokens are
 * judged by roles, delegated ones by scp (dfw_claims_missing_permission). Static storage. */
const char *dfw_stream_missing_permission(const struct dfw_stream_def *def,
                                          int expand,
                                          const struct dfw_claims *claims);

/* How many tenants of cfg read def, and the first of them (*first, borrowed from cfg; NULL when
 * none). */
size_t dfw_stream_tenants_using(const struct dfw_config *cfg,
                                const struct dfw_stream_def *def,
                                const char **first);

/* Log one warning per legacy stream (def->retirement set) that some tenant of cfg reads: the
 * stream, how many tenants read it, the first one, and def->retirement (the date it stops
 * working and the Graph stream to use). For the start of `run` and of a host that embeds the
 * engine. Returns the number of warnings. */
size_t dfw_stream_warn_retired(const struct dfw_config *cfg);

/* The URL that asks for one slice of a window (dfw/window.h): records with
 * from <= last-update < to and, when the slice has them, created bounds:
 * base + path + "?$filter=<updated> ge <from> and <updated> lt <to>[ and <created> ge <cfrom>]
 * [ and <created> lt <cto>]&$top=<top>[&$skip=<skip>][&$count=true][&$expand=...]", URL-encoded,
 * times with milliseconds; $count only when the slice asks and the API documents it; $expand when
 * expand is 1 and def has one (dfw_stream_expands). No $orderby: none of the APIs documents one.
 * malloc'd; NULL on ENOMEM. */
char *dfw_stream_url(const struct dfw_stream_def *def,
                     const char *base_url,
                     const struct dfw_slice *slice,
                     int top,
                     int expand);

/* The members of a record that make its identity (dfw_stream_row_key): the stream's id field,
 * its last-update field, its creation field and "severity". */
#define DFW_ROW_KEY_MEMBERS 4

/* One record of a page: its bytes as the API sent them, without the whitespace around it and
 * with the line breaks between its tokens taken out (so that it is one line in JSON-lines
 * outputs; a JSON string holds no raw line break). Valid JSON (RFC 8259, dfw_json_check), not
 * NUL-terminated. */
struct dfw_page_row {
    const char *json;
    size_t len;
    int keyed; /* 1: key holds its identity members, read while the page was checked */
    struct dfw_json_span key[DFW_ROW_KEY_MEMBERS]; /* offsets in json; see dfw_stream_row_key */
};

/* A parsed page. Rows point into the body given to dfw_stream_parse_page, which must outlive
 * the page, or into flat. */
struct dfw_page {
    struct dfw_page_row *rows; /* owned: the records of "value", in order */
    size_t nrows;
    char *next_link;       /* owned: "@odata.nextLink" on the same https host, or NULL */
    int foreign_next_link; /* 1: a next link to another host or scheme was left out (the bearer
                              token is never sent elsewhere) */
    long count;            /* "@odata.count", -1 when absent */
    char *flat;            /* owned: the rows that held line breaks, without them; or NULL */
    struct dfw_json_index index; /* owned: the body's big objects and arrays (dfw/json_scan.h) */
};

/* Deepest nesting a page may have: json-c's parser, which outputs use on one record at a time
 * (dfw_event_record_get), takes no deeper (JSON_TOKENER_DEFAULT_DEPTH). */
#define DFW_PAGE_MAX_DEPTH 32

/* Index a response body without building a tree of it. DFW_ERR_INVALID (truncated or malformed
 * JSON, anything that is not strict RFC 8259 JSON as dfw_json_check defines it (NaN, "1.",
 * invalid UTF-8...), nesting deeper than DFW_PAGE_MAX_DEPTH, no "value" array) with the reason in
 * errbuf; DFW_ERR_NOMEM. A next link that is not https on the same host as base_url is not
 * followed: next_link stays NULL and foreign_next_link is set. body is only read; on success the
 * page borrows it (see struct dfw_page) and is freed with dfw_page_free. On error nothing needs
 * freeing. Thread-safe. */
dfw_err dfw_stream_parse_page(const char *body,
                              size_t len,
                              const char *base_url,
                              struct dfw_page *page,
                              char *errbuf,
                              size_t errlen);

/* dfw_stream_parse_page that also reads, in the same pass, each record's identity members for
 * def (dfw_page_row.keyed and key, given to dfw_stream_row_key). A record whose members cannot be
 * read that way (a name with an escape, an identity member that is an object or an array, a
 * record with line breaks) is left unkeyed: dfw_stream_row_key then reads it from its bytes,
 * with the same result. def NULL: no record is keyed. */
dfw_err dfw_stream_parse_page_keyed(const char *body,
                                    size_t len,
                                    const char *base_url,
                                    const struct dfw_stream_def *def,
                                    struct dfw_page *page,
                                    char *errbuf,
                                    size_t errlen);

/* Free what the page owns (not the body) and zero it. NULL is a no-op. */
void dfw_page_free(struct dfw_page *page);

/* The identity of one record, as offsets of NUL-terminated strings in an arena (dfw_buf). */
struct dfw_row_key {
    size_t id;          /* the id as text (incidentId is a number upstream) */
    size_t updated;     /* the last-update time exactly as the API sent it */
    size_t severity;    /* the record's "severity" string, or SIZE_MAX when it has none */
    int64_t updated_ms; /* the last-update time, ms since epoch UTC */
    int64_t created_ms; /* the creation time, ms since epoch UTC; updated_ms when absent or
                           malformed */
};

/* Read the identity of one record of a page (row: dfw_page_row bytes), appending its strings to
 * arena. DFW_ERR_INVALID when the record is not an object, or its id or last-update time is
 * missing or malformed (an id that is not an integer or a string, an empty string, one of
 * id_max bytes or more, one holding a NUL character); then arena is left as it was.
 * DFW_ERR_NOMEM. ix: the page's index (struct dfw_page), or NULL. pre: the row's identity
 * members when it is keyed (dfw_page_row.key), else NULL (they are read from row). Thread-safe. */
dfw_err dfw_stream_row_key(const struct dfw_stream_def *def,
                           const char *row,
                           size_t len,
                           size_t id_max,
                           struct dfw_buf *arena,
                           struct dfw_row_key *key,
                           const struct dfw_json_index *ix,
                           const struct dfw_json_span *pre);

#endif
