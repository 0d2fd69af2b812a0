/* LEEF 2.0 encoder: the values picked by fields.c (the same as CEF's) under QRadar's predefined
 * attribute keys where one exists and custom keys otherwise, written by kv_line.c with the LEEF
 * character rules and, with a size limit (syslog over UDP), fitted into it. Mapping and rules:
 * docs/leef-mapping.md. */
#include "dfw/leef.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dfw/timeutil.h"
#include "fields.h"
#include "kv_line.h"

/* Attribute keys, in output order. */
enum leef_key {
    L_DEVTIME,
    L_DEVTIMEFORMAT,
    L_CAT,
    L_SEV,
    L_EXTID,
    L_TITLE,
    L_SEVERITY,
    L_SOURCE,
    L_HOST,
    L_USER,
    L_DOMAIN,
    L_SRC,
    L_DST,
    L_RESOURCE,
    L_FPATH,
    L_SHA1,
    L_SHA256,
    L_URL,
    L_START,
    L_END,
    L_CREATED,
    L_THREAT,
    L_ACTOR,
    L_TENANT,
    L_TENANT_ID,
    L_KIND,
    L_LINK,
    L_N
};

#define TEXT(key, cut, f) DFW__KV_TEXT(key, NULL, NULL, cut, f)
#define TIME(key, t)      DFW__KV_TIME(key, NULL, NULL, t)
#define CODE(key, cut)    DFW__KV_CODE(key, cut)

/* Predefined keys (IBM: Predefined LEEF event attributes) first, then custom keys. */
static const struct dfw__kv_column columns[L_N] = {
    [L_DEVTIME] = TIME("devTime", DFW__T_UPDATED),
    [L_DEVTIMEFORMAT] = CODE("devTimeFormat", 0),
    [L_CAT] = TEXT("cat", 0, DFW__F_CATEGORY),
    [L_SEV] = CODE("sev", 0),
    [L_EXTID] = TEXT("externalId", 0, DFW__F_ID),
    [L_TITLE] = CODE("title", 1),
    [L_SEVERITY] = TEXT("severity", 0, DFW__F_SEVERITY),
    [L_SOURCE] = TEXT("detectionSource", 0, DFW__F_SOURCE),
    [L_HOST] = TEXT("identHostName", 0, DFW__F_HOST),
    [L_USER] = TEXT("usrName", 0, DFW__F_USER),
    [L_DOMAIN] = TEXT("domain", 0, DFW__F_DOMAIN),
    [L_SRC] = TEXT("src", 0, DFW__F_IP),
    [L_DST] = TEXT("dst", 0, DFW__F_DEVICE_IP),
    [L_RESOURCE] = TEXT("resource", 1, DFW__F_FILE_NAME),
    [L_FPATH] = TEXT("filePath", 1, DFW__F_FILE_PATH),
    [L_SHA1] = TEXT("sha1", 0, DFW__F_SHA1),
    [L_SHA256] = TEXT("sha256", 0, DFW__F_SHA256),
    [L_URL] = TEXT("url", 1, DFW__F_URL),
    [L_START] = TIME("startTime", DFW__T_FIRST),
    [L_END] = TIME("endTime", DFW__T_LAST),
    [L_CREATED] = TIME("createdTime", DFW__T_CREATED),
    [L_THREAT] = TEXT("threatName", 1, DFW__F_THREAT),
    [L_ACTOR] = TEXT("actor", 1, DFW__F_ACTOR),
    [L_TENANT] = TEXT("tenant", 0, DFW__F_TENANT),
    [L_TENANT_ID] = TEXT("tenantId", 0, DFW__F_TENANT_ID),
    [L_KIND] = TEXT("eventKind", 0, DFW__F_KIND),
    [L_LINK] = TEXT("link", 0, DFW__F_LINK),
};

/* Truncation order, least important first. devTimeFormat follows devTime, so it is dropped only
 * after it and put back before it: devTime is never left without its format. The title is
 * shortened rather than dropped, after everything but the identity of the event. */
static const unsigned char cut_order[L_N] = {
    L_LINK,      L_URL,     L_FPATH,         L_ACTOR,    L_THREAT,   L_SOURCE, L_CAT,
    L_CREATED,   L_START,   L_END,           L_RESOURCE, L_SHA256,   L_SHA1,   L_DOMAIN,
    L_DST,       L_SRC,     L_USER,          L_HOST,     L_SEVERITY, L_SEV,    L_KIND,
    L_TENANT_ID, L_DEVTIME, L_DEVTIMEFORMAT, L_TENANT,   L_TITLE,    L_EXTID};

static void put_header(struct dfw__writer *w, const struct dfw__kv_line *l)
{
    const struct dfw__fields *r = l->r;
    struct dfw__sv vendor = {DFW_LEEF_VENDOR, sizeof(DFW_LEEF_VENDOR) - 1};
    struct dfw__sv product = {r->product, strlen(r->product)};
    struct dfw__sv version = {r->version, strlen(r->version)};
    dfw__w_puts(w, "LEEF:2.0|");
    dfw__escape(w, vendor, SIZE_MAX, DFW__ESC_LEEF_HEADER);
    dfw__w_put(w, "|", 1);
    dfw__escape(w, product, SIZE_MAX, DFW__ESC_LEEF_HEADER);
    dfw__w_put(w, "|", 1);
    dfw__escape(w, version, SIZE_MAX, DFW__ESC_LEEF_HEADER);
    dfw__w_put(w, "|", 1);
    dfw__escape(w, r->sig, DFW_LEEF_EVENTID_MAX, DFW__ESC_LEEF_HEADER);
    dfw__w_puts(w, "|" DFW_LEEF_DELIMITER "|");
}

/* ms as DFW_LEEF_TIME_FORMAT: "2024-05-01T10:00:00.123+0000". */
static size_t leef_time(int64_t ms, char *out, size_t outlen)
{
    char iso[DFW_TIME_LEN];
    dfw_time_format(ms, iso, sizeof(iso));
    size_t n = strlen(iso);
    if (n > 0 && iso[n - 1] == 'Z') {
        n--;
    }
    int m = snprintf(out, outlen, "%.*s+0000", (int)n, iso);
    return m > 0 && (size_t)m < outlen ? (size_t)m : 0;
}

static const struct dfw__kv_format leef = {
    .header = put_header,
    .sep = "\t",
    .value_esc = DFW__ESC_LEEF_VALUE,
    .marker = DFW_LEEF_TRUNC_MARKER,
    .n = L_N,
    .columns = columns,
    .cut_order = cut_order,
    .time = leef_time,
};

static void set_cstr(struct dfw__sv *v, const char *s)
{
    v->s = s;
    v->n = strlen(s);
}

dfw_err dfw_leef_format(const struct dfw_event *ev, size_t max_len, struct dfw_buf *out)
{
    struct dfw__fields r;
    struct dfw__kv_line l;
    char sev[12];
    struct dfw__jscratch sc = {NULL, 0};
    if (dfw__fields_pick(ev, &sc, &r) != DFW_OK) {
        dfw__jscratch_free(&sc);
        return DFW_ERR_NOMEM;
    }
    dfw__kv_init(&l, &leef, &r);
    if (l.val[L_DEVTIME].s != NULL) {
        set_cstr(&l.val[L_DEVTIMEFORMAT], DFW_LEEF_TIME_FORMAT);
    }
    if (r.severity > 0) { /* sev is 1-10; an unknown severity has no number */
        snprintf(sev, sizeof(sev), "%d", r.severity);
        set_cstr(&l.val[L_SEV], sev);
    }
    l.val[L_TITLE] = r.name;
    dfw_err err = dfw__kv_render(&l, max_len, out);
    dfw__jscratch_free(&sc);
    return err;
}
