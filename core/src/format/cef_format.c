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

#define TEXT(key, lk, label, cut, f) DFW__KV_TEXT(key, lk, label, cut, f)
#define TIME(key, lk, label, t)      DFW__KV_TIME(key, lk, label, t)

static const struct dfw__kv_column columns[K_N] = {
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
    const struct dfw__fields *r = l->r;
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
    dfw__escape(w, r->name, l->name_lim, DFW__ESC_CEF_HEADER);
    int n = snprintf(sev, sizeof(sev), "|%d|", r->severity);
    dfw__w_put(w, sev, (size_t)n);
}

/* Times are ms since the epoch. */
static size_t cef_time(int64_t ms, char *out, size_t outlen)
{
    if (ms >= 0 && outlen > 20) { /* digits without snprintf: three times per line */
        char rev[20];
        size_t n = 0;
        do {
            rev[n++] = (char)('0' + ms % 10);
            ms /= 10;
        } while (ms > 0);
        for (size_t i = 0; i < n; i++) {
            out[i] = rev[n - 1 - i];
        }
        out[n] = '\0';
        return n;
    }
    int n = snprintf(out, outlen, "%lld", (long long)ms);
    return n > 0 && (size_t)n < outlen ? (size_t)n : 0;
}

static const struct dfw__kv_format cef = {
    .header = put_header,
    .name_max = DFW_CEF_NAME_MAX,
    .name_esc = DFW__ESC_CEF_HEADER,
    .sep = " ",
    .value_esc = DFW__ESC_CEF_VALUE,
    .marker = DFW_CEF_TRUNC_MARKER,
    .n = K_N,
    .columns = columns,
    .cut_order = cut_order,
    .time = cef_time,
};

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
    struct dfw__jscratch sc = {NULL, 0};
    if (dfw__fields_pick(ev, &sc, &r) != DFW_OK) {
        dfw__jscratch_free(&sc);
        return DFW_ERR_NOMEM;
    }
    dfw__kv_init(&l, &cef, &r);
    dfw_err err = dfw__kv_render(&l, max_len, out);
    dfw__jscratch_free(&sc);
    return err;
}
