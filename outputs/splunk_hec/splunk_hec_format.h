/* Rendering HEC event objects and compressing request bodies: pure functions, the test seam. */
#ifndef DFW_OUT_SPLUNK_HEC_FORMAT_H
#define DFW_OUT_SPLUNK_HEC_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/buf.h"
#include "dfw/err.h"
#include "dfw/event.h"
#include "splunk_hec_conf.h"

/* What format needs besides the conf: the host name, resolved once. */
struct dfw_out_splunk_hec_fmt {
    const struct dfw_out_splunk_hec_conf *conf; /* borrowed */
    char host[256];
};

/* Fill f from c: host is c->host or this machine's host name ("localhost" when unknown). */
void dfw_out_splunk_hec_fmt_init(struct dfw_out_splunk_hec_fmt *f,
                                 const struct dfw_out_splunk_hec_conf *c);

/* Seconds since the epoch with a millisecond fraction, "1700000000.123", into out (>= 32
 * bytes). */
void dfw_out_splunk_hec_time(int64_t ms, char *out, size_t outlen);

/* Append the source template tmpl with {tenant}, {tenant_id} and {stream} replaced from ev. */
dfw_err
dfw_out_splunk_hec_source(const char *tmpl, const struct dfw_event *ev, struct dfw_buf *out);

/* Append one HEC event object for ev (no separator): {"time","host","source","sourcetype",
 * "index" (when set),"event": the record,"fields":{"tenant","tenant_id","stream","kind"}}. */
dfw_err dfw_out_splunk_hec_format(const struct dfw_out_splunk_hec_fmt *f,
                                  const struct dfw_event *ev,
                                  struct dfw_buf *out);

/* Append data gzip-compressed (RFC 1952) to out. level: zlib level 1-9, or -1 for the default.
 * DFW_ERR_NOMEM or DFW_ERR_INVALID (zlib failure); out is unchanged on error. */
dfw_err dfw_out_splunk_hec_gzip(const void *data, size_t len, int level, struct dfw_buf *out);

#endif
