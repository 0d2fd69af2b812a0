/* Internal to libdfw's encoders (dfw/cef.h, dfw/leef.h): the values of one record that CEF and
 * LEEF both carry, picked per record shape (fields.c), before each format names, escapes and fits
 * them (cef_format.c, leef_format.c; the shared line writer is kv_line.c). A new record shape (a
 * stream) is one row of the profile table in fields.c; both formats then carry it. */
#ifndef DFW_FORMAT_FIELDS_H
#define DFW_FORMAT_FIELDS_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/event.h"
#include "json_view.h"

/* A borrowed string with its length (JSON strings may hold NUL bytes); s NULL when absent. */
struct dfw__sv {
    const char *s;
    size_t n;
};

/* Text values of a record. */
enum dfw__field {
    DFW__F_ID,        /* alert or incident id */
    DFW__F_SEVERITY,  /* the API's severity text */
    DFW__F_CATEGORY,  /* category (first alert's, for incidents) */
    DFW__F_SOURCE,    /* detectionSource */
    DFW__F_HOST,      /* the device's DNS name */
    DFW__F_DEVICE_IP, /* the device's address (Graph deviceEvidence.ipInterfaces) */
    DFW__F_USER,      /* account name */
    DFW__F_DOMAIN,    /* the same account's domain */
    DFW__F_IP,        /* an IP address the evidence names */
    DFW__F_FILE_NAME, /* file name, path and hashes come from one entity */
    DFW__F_FILE_PATH,
    DFW__F_SHA1,
    DFW__F_SHA256,
    DFW__F_URL,
    DFW__F_THREAT,    /* threat (family) name */
    DFW__F_ACTOR,     /* activity group */
    DFW__F_TENANT,    /* [tenant NAME] of the configuration */
    DFW__F_TENANT_ID, /* the tenant's directory id */
    DFW__F_KIND,      /* "new" or "update" */
    DFW__F_LINK,      /* portal URL */
    DFW__NFIELDS
};

/* Times of a record, ms since the epoch (UTC). */
enum dfw__time {
    DFW__T_UPDATED, /* last update: the version of the record this event carries */
    DFW__T_FIRST,   /* first activity (earliest over an incident's alerts) */
    DFW__T_LAST,    /* last activity (latest over an incident's alerts) */
    DFW__T_CREATED,
    DFW__NTIMES
};

/* One record's values. Strings point into the event (valid as long as it), into the scratch list
 * of dfw__fields_pick (strings that held escapes) or into link. */
struct dfw__fields {
    const char *product; /* header product name of the stream (static) */
    const char *version; /* header product version of the stream (static) */
    struct dfw__sv sig;  /* detection rule id (detectorId), else "alert"/"incident"/"event" */
    struct dfw__sv name; /* title or incident name, else a generic name */
    int severity;        /* 0-10 (dfw_cef_severity of the severity text) */
    struct dfw__sv f[DFW__NFIELDS];
    int64_t t[DFW__NTIMES]; /* valid where has_t[i] */
    int has_t[DFW__NTIMES];
    char link[600];
};

/* Pick the values of ev from its record's text (dfw_event_json: the raw bytes, or the tree
 * serialised; any shape: missing, null or mistyped fields stay absent), without a tree. r is
 * overwritten; it borrows from ev and from sc (strings with escapes, decoded), which the caller
 * frees with dfw__jscratch_free after using r. DFW_OK, or DFW_ERR_NOMEM (r then incomplete).
 * Thread-safe. */
dfw_err
dfw__fields_pick(const struct dfw_event *ev, struct dfw__jscratch *sc, struct dfw__fields *r);

/* The record's "severity" string, or NULL when it has none or it is not a string: ev->severity,
 * else read from ev->record (borrowed from either). */
const char *dfw__fields_api_severity(const struct dfw_event *ev);

/* The header product name and version of a stream (a generic pair for NULL or unknown streams);
 * static strings. */
void dfw__fields_product(const char *stream, const char **product, const char **version);

#endif
