/* CEF encoder: the values picked by fields.c under their CEF keys, written by kv_line.c with the
 * CEF escapes and, when the caller gives a size limit (syslog over UDP), fitted into it. Rules:
 * docs/cef-mapping.md. */
#include "dfw/cef.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fields.h"
#include "kv_line.h"

/* ---- the extension ------------------------------------------------------------------------ */

/* Extension keys, in output order. */
enum cef_key {
    K_RT,
    K_EXTID,
    K_DEVSEV,
    K_CAT,
    K_SVC,
    K_SHOST,
    K_SUSER,
    K_SNTDOM,
    K_SRC,
    K_FNAME,
    K_FPATH,
    K_FHASH,
    K_CS6,
    K_REQUEST,
    K_START,
    K_END,
    K_CREATED,
    K_CS1,
    K_CS4,
    K_CS2,
    K_CS3,
    K_CS5,
    K_LINK,
    K_N
};

/* A key and where its value comes from: a text field, or a time (written as ms since epoch). */
struct column {
    struct dfw__kv_key k;
    int field; /* enum dfw__field, or -1 */
    int time;  /* enum dfw__time, or -1 */
};

#define TEXT(key, lk, label, cut, f)                                                               \
    {                                                                                              \
        {key, lk, label, cut}, f, -1                                                               \
    }
#define TIME(key, lk, label, t)                                                                    \
    {                                                                                              \
        {key, lk, label, 0}, -1, t                                                                 \
    }

static const struct column columns[K_N] = {
    [K_RT] = TIME("rt", NULL, NULL, DFW__T_UPDATED),
    [K_EXTID] = TEXT("externalId", NULL, NULL, 0, DFW__F_ID),
    [K_DEVSEV] = TEXT("deviceSeverity", NULL, NULL, 0, DFW__F_SEVERITY),
    [K_CAT] = TEXT("cat", NULL, NULL, 0, DFW__F_CATEGORY),
    [K_SVC] = TEXT("sourceServiceName", NULL, NULL, 0, DFW__F_SOURCE),
    [K_SHOST] = TEXT("shost", NULL, NULL, 0, DFW__F_HOST),
    [K_SUSER] = TEXT("suser", NULL, NULL, 0, DFW__F_USER),
    [K_SNTDOM] = TEXT("sntdom", NULL, NULL, 0, DFW__F_DOMAIN),
    [K_SRC] = TEXT("src", NULL, NULL, 0, DFW__F_IP),
    [K_FNAME] = TEXT("fname", NULL, NULL, 1, DFW__F_FILE_NAME),
    [K_FPATH] = TEXT("filePath", NULL, NULL, 1, DFW__F_FILE_PATH),
    [K_FHASH] = TEXT("fileHash", NULL, NULL, 0, DFW__F_SHA1),
    [K_CS6] = TEXT("cs6", "cs6Label", "sha256", 0, DFW__F_SHA256),
    [K_REQUEST] = TEXT("request", NULL, NULL, 1, DFW__F_URL),
    [K_START] = TIME("start", NULL, NULL, DFW__T_FIRST),
    [K_END] = TIME("end", NULL, NULL, DFW__T_LAST),
    [K_CREATED] =
        TIME("deviceCustomDate1", "deviceCustomDate1Label", "createdTime", DFW__T_CREATED),
    [K_CS1] = TEXT("cs1", "cs1Label", "threatName", 1, DFW__F_THREAT),
    [K_CS4] = TEXT("cs4", "cs4Label", "actor", 1, DFW__F_ACTOR),
    [K_CS2] = TEXT("cs2", "cs2Label", "tenant", 0, DFW__F_TENANT),
    [K_CS3] = TEXT("cs3", "cs3Label", "tenantId", 0, DFW__F_TENANT_ID),
    [K_CS5] = TEXT("cs5", "cs5Label", "eventKind", 0, DFW__F_KIND),
    [K_LINK] = TEXT("flexString1", "flexString1Label", "link", 0, DFW__F_LINK),
};

/* Truncation order: least important first (the link can be rebuilt from externalId). */
static const unsigned char cut_order[K_N] = {
    K_LINK,  K_REQUEST, K_FPATH, K_CS4, K_CS1,   K_SVC,    K_CAT,  K_CREATED,
    K_START, K_END,     K_FNAME, K_CS6, K_FHASH, K_SNTDOM, K_SRC,  K_SUSER,
    K_SHOST, K_DEVSEV,  K_CS5,   K_CS3, K_RT,    K_CS2,    K_EXTID};

/* ---- the header --------------------------------------------------------------------------- */

static void put_header(struct dfw__writer *w, const struct dfw__kv_line *l)
{
    const struct dfw__fields *r = l->ctx;
    char sev[8];
    struct dfw__sv vendor = {DFW_CEF_VENDOR, sizeof(DFW_CEF_VENDOR) - 1};
    struct dfw__sv product = {r->product, strlen(r->product)};
    struct dfw__sv version = {r->version, strlen(r->version)};
    dfw__w_put(w, "CEF:0|", 6);
    dfw__escape(w, vendor, SIZE_MAX, DFW__ESC_CEF_HEADER);
    dfw__w_put(w, "|", 1);
    dfw__escape(w, product, SIZE_MAX, DFW__ESC_CEF_HEADER);
    dfw__w_put(w, "|", 1);
    dfw__escape(w, version, SIZE_MAX, DFW__ESC_CEF_HEADER);
    dfw__w_put(w, "|", 1);
    dfw__escape(w, r->sig, DFW_CEF_SIGID_MAX, DFW__ESC_CEF_HEADER);
    dfw__w_put(w, "|", 1);
    dfw__escape(w, l->name, l->name_lim, DFW__ESC_CEF_HEADER);
    int n = snprintf(sev, sizeof(sev), "|%d|", r->severity);
    dfw__w_put(w, sev, (size_t)n);
}

/* ---- public API --------------------------------------------------------------------------- */

void dfw_cef_product(const char *stream, const char **product, const char **version)
{
    dfw__fields_product(stream, product, version);
}

int dfw_cef_severity(const char *s)
{
    if (s == NULL) {
        return 0;
    }
    if (strcasecmp(s, "High") == 0) {
        return 8;
    }
    if (strcasecmp(s, "Medium") == 0) {
        return 5;
    }
    if (strcasecmp(s, "Low") == 0) {
        return 3;
    }
    return strcasecmp(s, "Informational") == 0 ? 1 : 0;
}

const char *dfw_cef_api_severity(const struct dfw_event *ev)
{
    return dfw__fields_api_severity(ev);
}

dfw_err dfw_cef_format(const struct dfw_event *ev, size_t max_len, struct dfw_buf *out)
{
    struct dfw__fields r;
    struct dfw__kv_line l;
    char ms[DFW__NTIMES][24];
    dfw__fields_pick(ev, &r);
    memset(&l, 0, sizeof(l));
    l.header = put_header;
    l.ctx = &r;
    l.name = r.name;
    l.name_esc = DFW__ESC_CEF_HEADER;
    l.name_lim = DFW_CEF_NAME_MAX;
    l.sep = " ";
    l.value_esc = DFW__ESC_CEF_VALUE;
    l.marker = DFW_CEF_TRUNC_MARKER;
    l.n = K_N;
    l.cut_order = cut_order;
    for (int i = 0; i < K_N; i++) {
        const struct column *c = &columns[i];
        l.key[i] = &c->k;
        if (c->field >= 0) {
            l.val[i] = r.f[c->field];
        }
        else if (r.has_t[c->time]) {
            int n = snprintf(ms[c->time], sizeof(ms[0]), "%lld", (long long)r.t[c->time]);
            l.val[i].s = ms[c->time];
            l.val[i].n = (size_t)n;
        }
    }
    return dfw__kv_render(&l, max_len, out);
}
