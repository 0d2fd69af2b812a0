/* Which record values CEF and LEEF carry, per record shape (stream). Sources: defender-api.md
 * §2.3-2.7 (incidents), §3.3-3.4 (MDE alerts), §4.4 (ArcSight mapping), §4.6 and §5.2 (Graph). */
#include "fields.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dfw/cef.h"
#include "dfw/timeutil.h"
#include "json_view.h"

/* ---- reading the record (json_view.h: views into its text, no tree) ------------------ */

static struct dfw__jv jget(const struct dfw__jobj *o, const char *key, char open)
{
    return dfw__jobj_get(o, key, open);
}

/* A non-empty string value, or {NULL, 0} when missing, null, empty or not a string. */
static struct dfw__sv jstr(const struct dfw__jobj *o, const char *key)
{
    struct dfw__sv r = {NULL, 0};
    size_t n;
    const char *v = dfw__jv_str(jget(o, key, '"'), o->sc, &n);
    if (v != NULL && n > 0) {
        r.s = v;
        r.n = n;
    }
    return r;
}

/* v as a C string in buf (cut at an escaped NUL, as json-c's string is read); 0 when it does not
 * fit (no time, severity or type name is that long). */
static int cstr(struct dfw__sv v, char *buf, size_t len)
{
    const char *nul = v.s != NULL ? memchr(v.s, '\0', v.n) : NULL;
    size_t n = nul != NULL ? (size_t)(nul - v.s) : v.n;
    if (v.s == NULL || n >= len) {
        return 0;
    }
    memcpy(buf, v.s, n);
    buf[n] = '\0';
    return 1;
}

static int jtime(const struct dfw__jobj *o, const char *key, int64_t *ms)
{
    char buf[64];
    return cstr(jstr(o, key), buf, sizeof(buf)) && dfw_time_parse(buf, ms) == DFW_OK;
}

static void take(struct dfw__sv *dst, const struct dfw__jobj *o, const char *key)
{
    if (dst->s == NULL) {
        *dst = jstr(o, key);
    }
}

/* Is v the text lit, case-insensitively, as strcasecmp on json-c's string? */
static int sv_is(struct dfw__sv v, const char *lit)
{
    char buf[64];
    return cstr(v, buf, sizeof(buf)) && strcasecmp(buf, lit) == 0;
}

struct file_grp {
    struct dfw__sv name, path, sha1, sha256;
};

struct user_grp {
    struct dfw__sv name, domain;
};

/* Values taken from evidence/entities. A group's values come from one entity so they belong
 * together; a lower slot wins: the dedicated entity (File, User) before one that merely carries
 * the values (a process's image file or account). */
enum { FILE_ENTITY, FILE_PROCESS, FILE_SLOTS };
enum { USER_ENTITY, USER_RELATED, USER_OTHER, USER_SLOTS };

struct evid {
    struct file_grp file[FILE_SLOTS];
    struct user_grp user[USER_SLOTS];
    struct dfw__sv host, device_ip, ip, url;
};

static void take_file(struct file_grp *g, const struct dfw__jobj *o)
{
    if (g->name.s || g->path.s || g->sha1.s || g->sha256.s) {
        return;
    }
    g->name = jstr(o, "fileName");
    g->path = jstr(o, "filePath");
    g->sha1 = jstr(o, "sha1");
    g->sha256 = jstr(o, "sha256");
}

static void take_user(struct user_grp *g, const struct dfw__jobj *o, const char *name_key)
{
    if (g->name.s == NULL && (g->name = jstr(o, name_key)).s != NULL) {
        g->domain = jstr(o, "domainName");
    }
}

/* MDE evidence[] and Defender XDR entities[]: flat objects with the same key names. */
static void scan_flat(struct evid *e, const struct dfw__jobj *ent)
{
    struct dfw__sv type = jstr(ent, "entityType");
    int file = sv_is(type, "File") ? FILE_ENTITY : FILE_PROCESS;
    int user = sv_is(type, "User") ? USER_ENTITY : USER_OTHER;
    take_file(&e->file[file], ent);
    take_user(&e->user[user], ent, "accountName");
    take(&e->ip, ent, "ipAddress");
    take(&e->url, ent, "url");
}

/* Loopback and link-local addresses name no device on the network. */
static int local_address(struct dfw__sv a)
{
    return (a.n >= 4 && strncmp(a.s, "127.", 4) == 0) || (a.n == 3 && memcmp(a.s, "::1", 3) == 0) ||
           (a.n >= 5 && strncasecmp(a.s, "fe80:", 5) == 0) ||
           (a.n >= 8 && strncmp(a.s, "169.254.", 8) == 0);
}

/* The first address of a device's ipInterfaces[] that is neither loopback nor link-local. */
static void take_device_ip(struct dfw__sv *dst, struct dfw__jv ifs, struct dfw__jscratch *sc)
{
    size_t pos = 0;
    struct dfw__jv a;
    while (dst->s == NULL && dfw__jv_next(ifs, &pos, &a)) {
        size_t len;
        const char *s = dfw__jv_str(a, sc, &len);
        struct dfw__sv v = {len > 0 ? s : NULL, len};
        if (v.s != NULL && !local_address(v)) {
            *dst = v;
        }
    }
}

/* fn on the object of o's member key (nothing of it when absent or not an object). */
static void in_object(const struct dfw__jobj *o,
                      const char *key,
                      void (*fn)(void *, const struct dfw__jobj *, const char *),
                      void *dst,
                      const char *arg)
{
    struct dfw__jobj sub;
    dfw__jobj_open(&sub, jget(o, key, '{'), o->sc);
    fn(dst, &sub, arg);
    dfw__jobj_close(&sub);
}

static void file_in(void *g, const struct dfw__jobj *o, const char *arg)
{
    (void)arg;
    take_file(g, o);
}

static void user_in(void *g, const struct dfw__jobj *o, const char *name_key)
{
    take_user(g, o, name_key);
}

/* Graph evidence[]: typed by "@odata.type" = "#microsoft.graph.security.<type>". */
static void scan_graph(struct evid *e, const struct dfw__jobj *ev)
{
    char t[128];
    if (!cstr(jstr(ev, "@odata.type"), t, sizeof(t))) {
        return;
    }
    const char *type = strrchr(t, '.');
    type = type ? type + 1 : t;
    if (strcmp(type, "fileEvidence") == 0) {
        in_object(ev, "fileDetails", file_in, &e->file[FILE_ENTITY], NULL);
    }
    else if (strcmp(type, "processEvidence") == 0) {
        in_object(ev, "imageFile", file_in, &e->file[FILE_PROCESS], NULL);
        in_object(ev, "userAccount", user_in, &e->user[USER_OTHER], "accountName");
    }
    else if (strcmp(type, "userEvidence") == 0) {
        in_object(ev, "userAccount", user_in, &e->user[USER_ENTITY], "accountName");
    }
    else if (strcmp(type, "ipEvidence") == 0) {
        take(&e->ip, ev, "ipAddress");
    }
    else if (strcmp(type, "urlEvidence") == 0) {
        take(&e->url, ev, "url");
    }
    else if (strcmp(type, "deviceEvidence") == 0) {
        take(&e->host, ev, "deviceDnsName");
        take_device_ip(&e->device_ip, jget(ev, "ipInterfaces", '['), ev->sc);
    }
}

enum evidence_shape { EV_MDE, EV_XDR, EV_GRAPH };

/* Key names of the alert-level values in one API's alert object. */
struct alert_keys {
    const char *category, *source, *threat, *threat_alt, *actor, *first, *last, *host;
    enum evidence_shape shape;
};

static const struct alert_keys mde_keys = {"category",         "detectionSource", "threatName",
                                           "threatFamilyName", "actorName",       "firstEventTime",
                                           "lastEventTime",    "computerDnsName", EV_MDE};
static const struct alert_keys xdr_keys = {"category",  "detectionSource", "threatFamilyName", NULL,
                                           "actorName", "firstActivity",   "lastActivity",     NULL,
                                           EV_XDR};
static const struct alert_keys graph_keys = {"category",
                                             "detectionSource",
                                             "threatDisplayName",
                                             "threatFamilyName",
                                             "actorDisplayName",
                                             "firstActivityDateTime",
                                             "lastActivityDateTime",
                                             NULL,
                                             EV_GRAPH};

struct alert_vals {
    struct dfw__sv cat, svc, threat, actor;
    int64_t first, last;
    int have_first, have_last;
    struct evid e;
};

static void each(const struct dfw__jobj *o,
                 const char *key,
                 void (*fn)(struct evid *, const struct dfw__jobj *),
                 struct evid *e)
{
    struct dfw__jv arr = jget(o, key, '['), item;
    size_t pos = 0;
    while (dfw__jv_next(arr, &pos, &item)) {
        if (item.t[item.s.off] == '{') {
            struct dfw__jobj sub;
            dfw__jobj_open(&sub, item, o->sc);
            fn(e, &sub);
            dfw__jobj_close(&sub);
        }
    }
}

static void scan_device(struct evid *e, const struct dfw__jobj *dev)
{
    take(&e->host, dev, "deviceDnsName");
}

/* Merge one alert (or the record itself) into v: first non-empty string wins, earliest first
 * activity, latest last activity. */
static void scan_alert(const struct alert_keys *k, const struct dfw__jobj *a, struct alert_vals *v)
{
    int64_t t;
    take(&v->cat, a, k->category);
    take(&v->svc, a, k->source);
    take(&v->threat, a, k->threat);
    take(&v->threat, a, k->threat_alt);
    take(&v->actor, a, k->actor);
    if (jtime(a, k->first, &t) && (!v->have_first || t < v->first)) {
        v->first = t;
        v->have_first = 1;
    }
    if (jtime(a, k->last, &t) && (!v->have_last || t > v->last)) {
        v->last = t;
        v->have_last = 1;
    }
    take(&v->e.host, a, k->host);
    switch (k->shape) {
    case EV_MDE:
        each(a, "evidence", scan_flat, &v->e);
        /* §3.3 relatedUser {userName, domainName} when no evidence names a user */
        in_object(a, "relatedUser", user_in, &v->e.user[USER_RELATED], "userName");
        break;
    case EV_XDR:
        each(a, "entities", scan_flat, &v->e);
        each(a, "devices", scan_device, &v->e);
        break;
    case EV_GRAPH:
        each(a, "evidence", scan_graph, &v->e);
        break;
    }
}

/* How one stream's records map to CEF. */
struct profile {
    const char *stream, *product, *version;
    const char *name_key, *name_alt, *name_default;
    const char *sig_key, *sig_default;
    const char *created, *link_key, *link_path;
    const struct alert_keys *self;  /* alert-level keys on the record itself */
    const struct alert_keys *child; /* keys of the record's alerts[] (incidents), or NULL */
};

static const struct profile profiles[] = {
    {"mde-alerts", "Microsoft Defender ATP", "2.0", "title", NULL, "Microsoft Defender alert",
     "detectorId", "alert", "alertCreationTime", NULL, "alerts", &mde_keys, NULL},
    {"m365d-incidents", "Microsoft Defender XDR", "1.0", "incidentName", NULL,
     "Microsoft Defender XDR incident", NULL, "incident", "createdTime", "incidentUri", "incidents",
     &xdr_keys, &xdr_keys},
    {"graph-alerts", "Microsoft Graph Security", "1.0", "title", NULL, "Microsoft Graph alert",
     "detectorId", "alert", "createdDateTime", "alertWebUrl", "alerts", &graph_keys, NULL},
    {"graph-incidents", "Microsoft Graph Security", "1.0", "displayName", NULL,
     "Microsoft Graph incident", NULL, "incident", "createdDateTime", "incidentWebUrl", "incidents",
     &graph_keys, &graph_keys},
};

/* Unknown streams: Graph key names, any of the known title keys. */
static const struct profile generic = {NULL,
                                       "Microsoft Defender",
                                       "1.0",
                                       "title",
                                       "incidentName",
                                       "Microsoft Defender event",
                                       "detectorId",
                                       "event",
                                       "createdDateTime",
                                       "alertWebUrl",
                                       "alerts",
                                       &graph_keys,
                                       &graph_keys};

static const struct profile *find_profile(const char *stream)
{
    for (size_t i = 0; stream != NULL && i < sizeof(profiles) / sizeof(profiles[0]); i++) {
        if (strcmp(profiles[i].stream, stream) == 0) {
            return &profiles[i];
        }
    }
    return &generic;
}

void dfw__fields_product(const char *stream, const char **product, const char **version)
{
    const struct profile *p = find_profile(stream);
    *product = p->product;
    *version = p->version;
}

const char *dfw__fields_api_severity(const struct dfw_event *ev)
{
    struct json_object *v;
    if (ev->severity != NULL || ev->record == NULL ||
        !json_object_object_get_ex(ev->record, "severity", &v) ||
        !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0) {
        return ev->severity;
    }
    return json_object_get_string(v);
}

/* Append v percent-encoded (RFC 3986 unreserved kept) at buf+n; the new length, or 0 when it
 * does not fit. */
static size_t pct_encode(char *buf, size_t cap, size_t n, struct dfw__sv v)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < v.n; i++) {
        unsigned char c = (unsigned char)v.s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            if (n + 2 > cap) {
                return 0;
            }
            buf[n++] = (char)c;
        }
        else {
            if (n + 4 > cap) {
                return 0;
            }
            buf[n++] = '%';
            buf[n++] = hex[c >> 4];
            buf[n++] = hex[c & 15];
        }
    }
    buf[n] = '\0';
    return n;
}

static void set_time(struct dfw__fields *c, enum dfw__time id, int64_t ms)
{
    c->t[id] = ms;
    c->has_t[id] = 1;
}

static void set_cstr(struct dfw__sv *dst, const char *s)
{
    if (s != NULL && *s != '\0') {
        dst->s = s;
        dst->n = strlen(s);
    }
}

/* https://security.microsoft.com/<path>/<id>?tid=<tenant> when the API gives no link. */
static void build_link(struct dfw__fields *c, const char *path, struct dfw__sv tenant_id)
{
    int h = snprintf(c->link, sizeof(c->link), "https://security.microsoft.com/%s/", path);
    size_t n = pct_encode(c->link, sizeof(c->link), (size_t)h, c->f[DFW__F_ID]);
    if (n == 0) {
        return;
    }
    if (tenant_id.s != NULL && n + 6 < sizeof(c->link)) {
        memcpy(c->link + n, "?tid=", 6);
        size_t m = pct_encode(c->link, sizeof(c->link), n + 5, tenant_id);
        n = m > 0 ? m : n;
        c->link[n] = '\0';
    }
    c->f[DFW__F_LINK].s = c->link;
    c->f[DFW__F_LINK].n = n;
}

dfw_err
dfw__fields_pick(const struct dfw_event *ev, struct dfw__jscratch *sc, struct dfw__fields *c)
{
    const struct profile *p = find_profile(ev->stream);
    struct alert_vals v;
    int64_t t;

    memset(c, 0, sizeof(*c));
    memset(&v, 0, sizeof(v));
    size_t len;
    struct dfw__jv text = {dfw_event_json(ev, &len), {0, 0}, ev->raw_index};
    if (text.t == NULL) {
        return DFW_ERR_NOMEM;
    }
    text.s.len = len;
    struct dfw__jobj root;
    dfw__jobj_open(&root, text, sc);
    const struct dfw__jobj *rec = &root;
    c->product = p->product;
    c->version = p->version;
    c->name = jstr(rec, p->name_key);
    take(&c->name, rec, p->name_alt);
    if (c->name.s == NULL) {
        set_cstr(&c->name, p->name_default);
    }
    c->sig = jstr(rec, p->sig_key);
    if (c->sig.s == NULL) {
        set_cstr(&c->sig, p->sig_default);
    }
    struct dfw__sv sev = jstr(rec, "severity");
    char sevtext[64];
    c->severity = dfw_cef_severity(cstr(sev, sevtext, sizeof(sevtext)) ? sevtext : NULL);

    scan_alert(p->self, rec, &v);
    struct dfw__jv alerts =
        p->child ? jget(rec, "alerts", '[') : (struct dfw__jv){NULL, {0, 0}, NULL};
    struct dfw__jv alert;
    size_t pos = 0;
    while (dfw__jv_next(alerts, &pos, &alert)) {
        struct dfw__jobj a;
        dfw__jobj_open(&a, alert, sc);
        scan_alert(p->child, &a, &v);
        dfw__jobj_close(&a);
    }

    t = ev->updated_ms;
    if (t > 0 || jtime(rec, "lastUpdateTime", &t) || jtime(rec, "lastUpdateDateTime", &t)) {
        set_time(c, DFW__T_UPDATED, t);
    }
    set_cstr(&c->f[DFW__F_ID], ev->id);
    take(&c->f[DFW__F_ID], rec, "id");
    c->f[DFW__F_SEVERITY] = sev;
    c->f[DFW__F_CATEGORY] = v.cat;
    c->f[DFW__F_SOURCE] = v.svc;
    c->f[DFW__F_HOST] = v.e.host;
    c->f[DFW__F_DEVICE_IP] = v.e.device_ip;
    const struct user_grp *u = &v.e.user[0];
    while (u->name.s == NULL && u < &v.e.user[USER_SLOTS - 1]) {
        u++;
    }
    c->f[DFW__F_USER] = u->name;
    c->f[DFW__F_DOMAIN] = u->domain;
    const struct file_grp *f = &v.e.file[0];
    while (!(f->name.s || f->path.s || f->sha1.s || f->sha256.s) && f < &v.e.file[FILE_SLOTS - 1]) {
        f++;
    }
    c->f[DFW__F_FILE_NAME] = f->name;
    c->f[DFW__F_FILE_PATH] = f->path;
    c->f[DFW__F_SHA1] = f->sha1;
    c->f[DFW__F_SHA256] = f->sha256;
    c->f[DFW__F_IP] = v.e.ip;
    c->f[DFW__F_URL] = v.e.url;
    if (v.have_first) {
        set_time(c, DFW__T_FIRST, v.first);
    }
    if (v.have_last) {
        set_time(c, DFW__T_LAST, v.last);
    }
    if (jtime(rec, p->created, &t)) {
        set_time(c, DFW__T_CREATED, t);
    }
    c->f[DFW__F_THREAT] = v.threat;
    c->f[DFW__F_ACTOR] = v.actor;
    set_cstr(&c->f[DFW__F_TENANT], ev->tenant);
    set_cstr(&c->f[DFW__F_TENANT_ID], ev->tenant_id);
    take(&c->f[DFW__F_TENANT_ID], rec, "tenantId");
    take(&c->f[DFW__F_TENANT_ID], rec, "aadTenantId");
    set_cstr(&c->f[DFW__F_KIND], dfw_event_kind_name(ev->kind));
    c->f[DFW__F_LINK] = jstr(rec, p->link_key);
    if (c->f[DFW__F_LINK].s == NULL && c->f[DFW__F_ID].s != NULL) {
        build_link(c, p->link_path, c->f[DFW__F_TENANT_ID]);
    }
    dfw__jobj_close(&root);
    return sc->failed ? DFW_ERR_NOMEM : DFW_OK;
}
