/* Rendering HEC event objects and compressing request bodies: pure functions, the test seam. */
#ifndef DFW_OUT_SPLUNK_HEC_FORMAT_H
#define DFW_OUT_SPLUNK_HEC_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/buf.h"
#include "dfw/err.h"
#include "dfw/event.h"
#include "splunk_hec_conf.h"

struct json_object;

/* What format needs besides the conf: the host name, resolved once; and the parts of the event
 * object that the events of a batch share (host to index, and "fields"), serialised for one event
 * and reused while the next has the same (its key is the same). Not thread-safe: one per output
 * instance. */
struct dfw_out_splunk_hec_fmt {
    const struct dfw_out_splunk_hec_conf *conf; /* borrowed */
    char host[256];
    struct dfw_buf source;             /* scratch: the event's source */
    struct dfw_buf key;                /* scratch: a key being compared */
    struct dfw_buf head_key, head;     /* source, sourcetype -> "host":...[,"index":...] */
    struct dfw_buf fields_key, fields; /* tenant, tenant_id, stream, kind, incident_id ->
                                          {"tenant":...} */
};

/* Fill f from c: host is c->host or this machine's host name ("localhost" when unknown). Free it
 * with dfw_out_splunk_hec_fmt_free. */
void dfw_out_splunk_hec_fmt_init(struct dfw_out_splunk_hec_fmt *f,
                                 const struct dfw_out_splunk_hec_conf *c);

/* Free what f holds (not conf). */
void dfw_out_splunk_hec_fmt_free(struct dfw_out_splunk_hec_fmt *f);

/* Seconds since the epoch with a millisecond fraction, "1700000000.123", into out (>= 32
 * bytes). */
void dfw_out_splunk_hec_time(int64_t ms, char *out, size_t outlen);

/* Append the source template tmpl with {tenant}, {tenant_id} and {stream} replaced from ev. */
dfw_err
dfw_out_splunk_hec_source(const char *tmpl, const struct dfw_event *ev, struct dfw_buf *out);

/* Append the HEC event objects of ev, one per line ('\n' between them, none after the last):
 * {"time","host","source","sourcetype","index" (when set),"event": the record,
 * "fields":{"tenant","tenant_id","stream","kind"}}. One object, except for a graph-incidents
 * record with an "alerts" array when split_alerts is on (the Splunk Add-on for Microsoft
 * Security's shape, docs/splunk-hec.md): first the incident without "alerts" (sourcetype of the
 * stream, ms365:defender:incident), then one object per alert that
 * dfw_out_splunk_hec_alert_sent says is due: event = the alert, time = its lastUpdateDateTime,
 * sourcetype dfw_out_splunk_hec_alert_sourcetype, fields plus "incident_id" (ev->id).
 * DFW_ERR_NOMEM leaves out unchanged. f's shared parts are updated (not thread-safe). */
dfw_err dfw_out_splunk_hec_format(struct dfw_out_splunk_hec_fmt *f,
                                  const struct dfw_event *ev,
                                  struct dfw_buf *out);

/* Whether one alert of a graph-incidents event goes out as its own event, and its kind. An alert
 * whose lastUpdateDateTime is at or before ev->prev_updated_ms (the incident's version delivered
 * before and still remembered) went out with that version: 0. Otherwise 1, with *kind new when
 * the incident is new, or the alert was created after that version (or, no version remembered,
 * at or after the window's start ev->window_from_ms); else update. Pure. */
int dfw_out_splunk_hec_alert_sent(const struct dfw_event *ev,
                                  struct json_object *alert,
                                  enum dfw_event_kind *kind);

/* Append data gzip-compressed (one RFC 1952 member, by libdeflate in one call) to out. level:
 * libdeflate's level 1 (fastest) to 12 (smallest; the output's gzip_level allows 1-9), or -1 for
 * the default 6. Returns DFW_OK, DFW_ERR_NOMEM, or DFW_ERR_INVALID (a level out of range); out is
 * unchanged on error. Needs room for libdeflate's worst case (slightly more than len) in out.
 * Thread-safe: the compressor is this call's own. */
dfw_err dfw_out_splunk_hec_gzip(const void *data, size_t len, int level, struct dfw_buf *out);

#endif
