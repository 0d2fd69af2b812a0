/* The hostile alert the CEF and LEEF targets (fuzz_cef.c, fuzz_leef.c) build from one input, so
 * that both encoders see the same records from the same corpus layout: a stream byte, an option
 * byte (1: an update, 2: the rest of the input as any JSON instead of the fields, 4: a size
 * limit), a limit byte, then the fields tenant, id, name, severity, signature and file name
 * (fuzz.h), each with every hostile byte but 0xFF. */
#ifndef DFW_FUZZ_ALERT_H
#define DFW_FUZZ_ALERT_H

#include "fuzz.h"

#include <json-c/json.h>

#include "dfw/event.h"

static const char *const fuzz_streams[] = {"mde-alerts", "m365d-incidents", "graph-alerts",
                                           "graph-incidents", "other"};
/* the key of the name field per stream, and the name each encoder gives when it is empty */
static const char *const fuzz_name_keys[] = {"title", "incidentName", "title", "displayName",
                                             "title"};
static const char *const fuzz_name_defaults[] = {
    "Microsoft Defender alert", "Microsoft Defender XDR incident", "Microsoft Graph alert",
    "Microsoft Graph incident", "Microsoft Defender event"};

struct fuzz_alert {
    unsigned si;    /* index into fuzz_streams */
    size_t max_len; /* the encoder's limit, 0 = none */
    int structured; /* 1: built from the fields; 0: record parsed from the rest */
    char *tenant, *id, *name, *sev, *sig, *fname; /* malloc'd, NUL-terminated */
    size_t tn, idn, nn, sevn, sign, fnn;          /* their lengths (NUL bytes possible) */
    struct json_object *rec;                      /* NULL when the rest is not JSON */
    struct dfw_event ev;                          /* borrows the above */
};

static inline void fuzz_alert_add(struct json_object *o, const char *key, const char *v, size_t n)
{
    json_object_object_add(o, key, json_object_new_string_len(v, (int)n));
}

/* Read a from the input. Free with fuzz_alert_free. */
static inline void fuzz_alert_read(struct fuzz_in *in, struct fuzz_alert *a)
{
    a->si = fuzz_byte(in) % 5;
    unsigned opt = fuzz_byte(in), lim = fuzz_byte(in);
    a->max_len = (opt & 4) ? 64 + lim * 8 : 0;
    a->tenant = fuzz_field(in, &a->tn);
    a->id = fuzz_field(in, &a->idn);
    a->name = fuzz_field(in, &a->nn);
    a->sev = fuzz_field(in, &a->sevn);
    a->sig = fuzz_field(in, &a->sign);
    a->fname = fuzz_field(in, &a->fnn);
    a->structured = !(opt & 2);
    if (a->structured) {
        a->rec = json_object_new_object();
        fuzz_alert_add(a->rec, fuzz_name_keys[a->si], a->name, a->nn);
        fuzz_alert_add(a->rec, "severity", a->sev, a->sevn);
        fuzz_alert_add(a->rec, "detectorId", a->sig, a->sign);
        struct json_object *e = json_object_new_object();
        fuzz_alert_add(e, "entityType", "File", 4);
        fuzz_alert_add(e, "fileName", a->fname, a->fnn);
        struct json_object *evidence = json_object_new_array();
        json_object_array_add(evidence, e);
        json_object_object_add(a->rec, "evidence", evidence);
    }
    else {
        /* the rest of the input as a record, any shape */
        char *rest = fuzz_cstr(in->p, in->n);
        a->rec = json_tokener_parse(rest);
        free(rest);
    }
    struct dfw_event ev = {
        .tenant = a->tenant,
        .tenant_id = "a839b112-1253-6432-9bf6-94542403f21c",
        .stream = fuzz_streams[a->si],
        .kind = (opt & 1) ? DFW_EVENT_UPDATE : DFW_EVENT_NEW,
        .id = a->id,
        .updated = "2024-03-01T10:00:00.123Z",
        .updated_ms = 1709287200123LL,
        .record = a->rec,
    };
    a->ev = ev;
}

static inline void fuzz_alert_free(struct fuzz_alert *a)
{
    json_object_put(a->rec);
    free(a->tenant);
    free(a->id);
    free(a->name);
    free(a->sev);
    free(a->sig);
    free(a->fname);
}

#endif
