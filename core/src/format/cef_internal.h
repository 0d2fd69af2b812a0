/* Internal to libdfw's CEF encoder (dfw/cef.h): the values of one record picked for CEF
 * (cef_map.c), before escaping and size limits (cef_format.c). */
#ifndef DFW_CEF_INTERNAL_H
#define DFW_CEF_INTERNAL_H

#include <stddef.h>
#include "dfw/event.h"

/* A borrowed string with its length (JSON strings may hold NUL bytes); s NULL when absent. */
struct dfw_cef_sv {
    const char *s;
    size_t n;
};

/* Extension fields, in output order (keys and labels: cef_format.c). */
enum dfw_cef_field {
    DFW_CEF_RT,
    DFW_CEF_EXTID,
    DFW_CEF_DEVSEV,
    DFW_CEF_CAT,
    DFW_CEF_SVC,
    DFW_CEF_SHOST,
    DFW_CEF_SUSER,
    DFW_CEF_SNTDOM,
    DFW_CEF_SRC,
    DFW_CEF_FNAME,
    DFW_CEF_FPATH,
    DFW_CEF_FHASH,
    DFW_CEF_CS6,
    DFW_CEF_REQUEST,
    DFW_CEF_START,
    DFW_CEF_END,
    DFW_CEF_CREATED,
    DFW_CEF_CS1,
    DFW_CEF_CS4,
    DFW_CEF_CS2,
    DFW_CEF_CS3,
    DFW_CEF_CS5,
    DFW_CEF_LINK,
    DFW_CEF_NFIELDS
};

/* One record mapped to CEF. Strings point into ev (valid as long as the event) or into the
 * struct's own num/link buffers. */
struct dfw_cef_record {
    const char *product;    /* header Device Product (static) */
    const char *version;    /* header Device Version (static) */
    const char *link_path;  /* "alerts" or "incidents" */
    struct dfw_cef_sv sig;  /* header Signature ID */
    struct dfw_cef_sv name; /* header Name */
    int severity;           /* header Severity 0-10 */
    struct dfw_cef_sv f[DFW_CEF_NFIELDS];
    char num[4][24];
    char link[600];
};

/* Pick the CEF values of ev (any record shape; missing, null or mistyped fields stay absent).
 * r is overwritten; it borrows from ev. Pure and thread-safe. */
void dfw_cef_map(const struct dfw_event *ev, struct dfw_cef_record *r);

#endif
