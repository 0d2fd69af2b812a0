/* Syslog headers (RFC 5424, RFC 3164) and TCP framing (RFC 6587). Pure functions, no I/O. */
#ifndef DFW_OUT_SYSLOG_FRAME_H
#define DFW_OUT_SYSLOG_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/buf.h"
#include "dfw/err.h"

/* What goes into a syslog header. Strings are borrowed. */
struct dfw_syslog_header {
    int protocol;         /* enum dfw_syslog_protocol */
    int facility;         /* 0..23 */
    int severity;         /* 0..7 */
    int64_t time_ms;      /* ms since epoch, UTC */
    const char *hostname; /* RFC 5424 HOSTNAME / RFC 3164 HOSTNAME */
    const char *app_name; /* RFC 5424 APP-NAME / RFC 3164 TAG */
    const char *procid;   /* RFC 5424 PROCID (unused by RFC 3164) */
    const char *msgid;    /* RFC 5424 MSGID, e.g. the stream name (unused by RFC 3164) */
};

/* Append the header, including the separator before MSG:
 *   RFC 5424: "<PRI>1 YYYY-MM-DDThh:mm:ss.mmmZ HOSTNAME APP-NAME PROCID MSGID - "
 *   RFC 3164: "<PRI>Mmm dd hh:mm:ss HOSTNAME TAG: "   (time in UTC, day space-padded)
 * Header fields are cut to their RFC 5424 lengths (255, 48, 128, 32); bytes outside 33-126 become
 * '_'; an empty or NULL field is "-"; an RFC 5424 time outside the years 0000-9999 is "-". Returns
 * DFW_OK or DFW_ERR_NOMEM. */
dfw_err dfw_out_syslog_header(const struct dfw_syslog_header *h, struct dfw_buf *out);

/* Append one framed message for a stream transport: octet counting ("LEN SP MSG", RFC 6587
 * §3.4.1) when framing is DFW_SYSLOG_OCTET_COUNTING, else non-transparent ("MSG LF", §3.4.2; msg
 * must not contain LF, which the CEF and JSON encoders guarantee). Returns DFW_OK or
 * DFW_ERR_NOMEM. */
dfw_err dfw_out_syslog_frame(int framing, const char *msg, size_t len, struct dfw_buf *out);

/* Syslog severity 0-7 for an API severity text (case-insensitive): High 2 (crit), Medium 3 (err),
 * Low 4 (warning), Informational 6 (info), anything else or NULL 5 (notice). */
int dfw_out_syslog_severity(const char *api_severity);

#endif
