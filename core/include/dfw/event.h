/* One alert or incident as fetched, handed to every output. */
#ifndef DFW_EVENT_H
#define DFW_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/buf.h"
#include "dfw/err.h"

struct json_object;
struct dfw_json_index;

enum dfw_event_kind {
    DFW_EVENT_NEW = 0,   /* the record was created inside the fetched window */
    DFW_EVENT_UPDATE = 1 /* an older record whose last-update time moved into the window */
};

/* All pointers are borrowed from the pipeline and valid only during the output call that receives
 * the event (format or submit); an output that keeps data past that call must copy it. */
struct dfw_event {
    const char *tenant;    /* tenant name from the config ([tenant NAME]) */
    const char *tenant_id; /* Entra ID directory (tenant) id, GUID or domain */
    const char *stream;    /* "graph-incidents", "graph-alerts", "m365d-incidents", "mde-alerts" */
    enum dfw_event_kind kind;
    const char *id;      /* alert or incident id as a string (incidentId is a number upstream) */
    int64_t updated_ms;  /* last-update time, ms since epoch UTC */
    const char *updated; /* last-update time exactly as the API sent it */
    struct json_object *record; /* the record as a json-c tree (read-only), or NULL: see raw */
    /* What the forwarder knew of this record when it read it, for outputs that send parts of a
     * record on their own (the HEC output's alerts of an incident). 0 = not known. */
    int64_t prev_updated_ms; /* last-update time of the newest earlier version of this record
                                that was delivered and is still remembered (dfw_cursor_latest):
                                parts updated at or before it went out with that version */
    int64_t window_from_ms;  /* start of the sweep's window the record was read in: a part
                                created before it is not new */
    /* The record as the API sent it: its bytes (valid JSON, RFC 8259, on one line, not
     * NUL-terminated). The pipeline gives raw bytes only, no tree; an event may have either or
     * both. Outputs read the record through dfw_event_json and dfw_event_record_get. */
    const char *raw;
    size_t raw_len;
    const char *severity; /* the record's "severity" string, or NULL: then dfw_cef_api_severity
                             reads it from record */
    const struct dfw_json_index *raw_index; /* where raw's big objects and arrays end (the page's
                                               index, dfw/json_scan.h), or NULL; an aid only */
};

/* See struct dfw_batch.taken. ctx is the ack_ctx submit was given. */
typedef void (*dfw_taken_fn)(void *ctx, uint64_t seq);

/* A batch: the events of one fetched page that passed deduplication. seq is unique per pipeline
 * and is what the output passes back to the acknowledgement callback. */
struct dfw_batch {
    const struct dfw_event *events;
    size_t count;
    uint64_t seq;
    /* NULL, or set by the pipeline for an output that reads the events after submit returns
     * (one with cancel, dfw/output.h): the output calls it at most once, on the pipeline thread
     * and before the batch's ack, when it will not read the events again because everything it
     * sends or may re-send for them is in its own memory (the HEC output: every event rendered
     * into a request). The pipeline may then free the page before the acknowledgement; a batch
     * that fails afterwards is read from the API again and submitted whole. */
    dfw_taken_fn taken;
};

/* "new" or "update". */
const char *dfw_event_kind_name(enum dfw_event_kind kind);

/* The record as JSON text on one line, *len bytes: ev->raw when the event has it (not
 * NUL-terminated, valid as the event), else ev->record serialised compactly (NUL-terminated,
 * owned by the record, valid until it changes or is freed; "null" when the event has neither).
 * NULL when out of memory. */
const char *dfw_event_json(const struct dfw_event *ev, size_t *len);

/* The record as a json-c tree, read-only: ev->record when set, else a tree parsed from ev->raw
 * for the caller, who hands it back with dfw_event_record_put. NULL when the event has neither
 * or out of memory (the raw bytes passed dfw_json_check and the page's depth limit, so json-c
 * always takes them). Thread-safe: nothing is cached. */
struct json_object *dfw_event_record_get(const struct dfw_event *ev);

/* Give back what dfw_event_record_get returned (frees a tree parsed from raw; NULL is a no-op). */
void dfw_event_record_put(const struct dfw_event *ev, struct json_object *rec);

/* Append the record's JSON (dfw_event_json) to out. DFW_OK or DFW_ERR_NOMEM. */
dfw_err dfw_event_append_json(const struct dfw_event *ev, struct dfw_buf *out);

#endif
