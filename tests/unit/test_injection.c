/* Injection property test: random alert titles, descriptions, file names, paths and command lines
 * over a hostile alphabet ('|', '=', '\', CR, LF, NUL, quotes, ANSI escapes, C1 controls, U+2028,
 * 64 KiB runs) go through the page parser as the API would send them, then through every output's
 * format(): syslog (CEF, LEEF and JSON bodies, RFC 5424 and RFC 3164, octet counting and
 * non-transparent framing, UDP with its size limit), Kafka (JSON, CEF and LEEF values), Splunk HEC
 * and the file output. Each event gives exactly one message, and the message's parsed fields give
 * back what went in (CEF: with the documented replacements of docs/cef-mapping.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfw/config.h"
#include "dfw/json_check.h"
#include "dfw/output.h"
#include "dfw/stream.h"
#include "dfw/utf8.h"
#include "registry.h"
#include "syslog_conf.h"
#include "syslog_frame.h"

#define BASE    "https://api.securitycenter.microsoft.com"
#define ROUNDS  300
#define NEVENTS 4

static const char *const atoms[] = {"|",
                                    "=",
                                    "\\",
                                    "\r",
                                    "\n",
                                    "\"",
                                    " ",
                                    "\t",
                                    "\x1b[31m",
                                    "\x1b]0;pwned\x07",
                                    "\x7f",
                                    "\xc2\x85" /* NEL */,
                                    "\xe2\x80\xa8" /* U+2028 */,
                                    "\xc3\xa9",
                                    "\xf0\x9f\x94\xa5",
                                    "cs2=evil",
                                    "|High|",
                                    "CEF:0|",
                                    "a",
                                    "Z",
                                    "9",
                                    "-",
                                    "<13>1 ",
                                    "\x01",
                                    "%n%s"};

/* A random string over the alphabet; one in 50 holds a 64 KiB run. NUL is added by the JSON
 * escape "\u0000" (see page()). */
static size_t random_text(char *out, size_t cap)
{
    size_t n = 0, parts = (size_t)(rand() % 16);
    if (cap > 65536 + 1024 && rand() % 50 == 0) {
        memset(out, 'L', 65536);
        n = 65536;
    }
    for (size_t i = 0; i < parts; i++) {
        const char *a = atoms[rand() % (int)(sizeof(atoms) / sizeof(atoms[0]))];
        size_t k = strlen(a);
        if (n + k + 1 < cap) {
            memcpy(out + n, a, k);
            n += k;
        }
    }
    if (rand() % 5 == 0 && n + 1 < cap) {
        out[n++] = '\0'; /* a NUL inside the value (JSON "\u0000") */
    }
    out[n] = '\0';
    return n;
}

struct texts {
    char title[70000], desc[70000], fname[300], path[300], cmd[300];
    size_t title_n, desc_n, fname_n, path_n, cmd_n;
};

static void add(struct json_object *o, const char *k, const char *v, size_t n)
{
    json_object_object_add(o, k, json_object_new_string_len(v, (int)n));
}

/* A page as the pipeline holds it: the body, its index, and the record parsed from the row (what
 * the outputs' JSON is compared with). */
struct held {
    char *body;
    struct dfw_page pg;
    struct json_object *tree;
};

static void held_free(struct held *h)
{
    dfw_page_free(&h->pg);
    free(h->body);
    json_object_put(h->tree);
}

/* The record as JSON text, as the API sends it (compact, or pretty-printed with line breaks for
 * odd i), indexed by the page parser (strict); the event gets the row's bytes, as in the
 * pipeline. */
static void page(const struct texts *t, int i, struct held *h, struct dfw_event *e)
{
    struct json_object *rec = json_object_new_object();
    char id[64];
    snprintf(id, sizeof(id), "da6375%06d_%d", rand() % 1000000, i);
    json_object_object_add(rec, "id", json_object_new_string(id));
    json_object_object_add(rec, "lastUpdateTime",
                           json_object_new_string("2026-11-30T10:00:00.1234567Z"));
    json_object_object_add(rec, "alertCreationTime",
                           json_object_new_string("2026-11-30T09:00:00Z"));
    json_object_object_add(rec, "severity", json_object_new_string("High"));
    add(rec, "title", t->title, t->title_n);
    add(rec, "description", t->desc, t->desc_n);
    struct json_object *file = json_object_new_object();
    json_object_object_add(file, "entityType", json_object_new_string("File"));
    add(file, "fileName", t->fname, t->fname_n);
    add(file, "filePath", t->path, t->path_n);
    struct json_object *proc = json_object_new_object();
    json_object_object_add(proc, "entityType", json_object_new_string("Process"));
    add(proc, "processCommandLine", t->cmd, t->cmd_n);
    struct json_object *ev = json_object_new_array();
    json_object_array_add(ev, file);
    json_object_array_add(ev, proc);
    json_object_object_add(rec, "evidence", ev);
    struct json_object *p = json_object_new_object();
    struct json_object *value = json_object_new_array();
    json_object_array_add(value, rec);
    json_object_object_add(p, "value", value);
    size_t len;
    const char *body = json_object_to_json_string_length(
        p, i % 2 ? JSON_C_TO_STRING_PRETTY : JSON_C_TO_STRING_PLAIN, &len);
    h->body = strdup(body);
    json_object_put(p);
    char err[256];
    if (dfw_stream_parse_page(h->body, len, BASE, &h->pg, err, sizeof(err)) != DFW_OK) {
        fail_msg("the page parser refused a valid page: %s", err);
    }
    assert_int_equal(h->pg.nrows, 1);
    e->raw = h->pg.rows[0].json;
    e->raw_len = h->pg.rows[0].len;
    e->severity = "High";
    struct json_tokener *tok = json_tokener_new();
    h->tree = json_tokener_parse_ex(tok, e->raw, (int)e->raw_len);
    json_tokener_free(tok);
    assert_non_null(h->tree);
}

/* ---- what comes out ---- */

/* CEF header text of s: controls (C0, C1, DEL, CR, LF) become spaces. */
static size_t cef_header_text(const char *s, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t u = dfw_utf8_char_len(s + i, n - i);
        if (c < 0x20 || c == 0x7f || (u == 2 && c == 0xc2 && (unsigned char)s[i + 1] < 0xa0)) {
            out[k++] = ' ';
        }
        else {
            memcpy(out + k, s + i, u);
            k += u;
        }
        i += u ? u : 1;
    }
    return k;
}

/* CEF value text of s: CR and LF kept (escaped on the wire), other controls dropped. */
static size_t cef_value_text(const char *s, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t u = dfw_utf8_char_len(s + i, n - i);
        if (c == '\r' || c == '\n') {
            out[k++] = (char)c;
        }
        else if (!(c < 0x20 || c == 0x7f ||
                   (u == 2 && c == 0xc2 && (unsigned char)s[i + 1] < 0xa0))) {
            memcpy(out + k, s + i, u);
            k += u;
        }
        i += u ? u : 1;
    }
    return k;
}

struct cef_msg {
    char hdr[7][1024];
    int nkeys;
    char key[40][32];
    char *val[40];
    size_t vlen[40];
    int truncated;
};

/* Read one CEF line; fails the test on anything the CEF rules do not allow. */
static void parse_cef(const char *s, size_t n, struct cef_msg *m)
{
    memset(m, 0, sizeof(*m));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            fail_msg("control byte 0x%02x in a CEF line", c);
        }
    }
    assert_true(dfw_utf8_valid(s, n));
    size_t i = 0;
    for (int f = 0; f < 7; f++) {
        size_t k = 0;
        while (i < n && s[i] != '|') {
            if (s[i] == '\\') {
                assert_true(i + 1 < n && (s[i + 1] == '\\' || s[i + 1] == '|'));
                i++;
            }
            if (k + 1 < sizeof(m->hdr[f])) {
                m->hdr[f][k++] = s[i];
            }
            i++;
        }
        assert_true(i < n);
        i++;
    }
    /* extension: keys [A-Za-z0-9_]+ before each unescaped '=' */
    const char *ext = s + i;
    size_t len = n - i, vstart = 0;
    for (size_t j = 0; j <= len; j++) {
        if (j < len && ext[j] == '\\') {
            j++;
            continue;
        }
        if (j < len && ext[j] != '=') {
            continue;
        }
        size_t ks = j;
        if (j < len) {
            while (ks > 0 && ((ext[ks - 1] >= 'a' && ext[ks - 1] <= 'z') ||
                              (ext[ks - 1] >= 'A' && ext[ks - 1] <= 'Z') ||
                              (ext[ks - 1] >= '0' && ext[ks - 1] <= '9') || ext[ks - 1] == '_')) {
                ks--;
            }
            assert_true(ks < j && (ks == 0 || ext[ks - 1] == ' '));
        }
        if (m->nkeys > 0) {
            size_t vend = j < len ? ks - 1 : len, k = 0;
            char *v = malloc(vend - vstart + 1);
            for (size_t x = vstart; x < vend; x++) {
                if (ext[x] == '\\') {
                    char e = ext[++x];
                    assert_true(e == '\\' || e == '=' || e == 'r' || e == 'n');
                    v[k++] = e == 'r' ? '\r' : e == 'n' ? '\n' : e;
                }
                else {
                    v[k++] = ext[x];
                }
            }
            v[k] = '\0';
            m->val[m->nkeys - 1] = v;
            m->vlen[m->nkeys - 1] = k;
        }
        if (j == len) {
            break;
        }
        assert_true(m->nkeys < 40 && j - ks < sizeof(m->key[0]));
        memcpy(m->key[m->nkeys], ext + ks, j - ks);
        m->key[m->nkeys][j - ks] = '\0';
        m->truncated |= strcmp(m->key[m->nkeys], "cn3Label") == 0;
        m->nkeys++;
        vstart = j + 1;
    }
}

static void free_cef(struct cef_msg *m)
{
    for (int k = 0; k < m->nkeys; k++) {
        free(m->val[k]);
    }
}

static const char *cef_get(const struct cef_msg *m, const char *key, size_t *len)
{
    for (int k = 0; k < m->nkeys; k++) {
        if (strcmp(m->key[k], key) == 0) {
            *len = m->vlen[k];
            return m->val[k];
        }
    }
    return NULL;
}

/* got is want, or (cut) a prefix of it. */
static void
same(const char *what, const char *got, size_t glen, const char *want, size_t wlen, int cut)
{
    if (glen > wlen || memcmp(got, want, glen) != 0 || (!cut && glen != wlen)) {
        fail_msg("%s differs: got %zu bytes, want %zu", what, glen, wlen);
    }
}

static void
check_cef(const char *line, size_t n, const struct texts *t, const char *id, int limited)
{
    struct cef_msg m;
    parse_cef(line, n, &m);
    assert_string_equal(m.hdr[0], "CEF:0");
    assert_string_equal(m.hdr[1], "Microsoft");
    assert_string_equal(m.hdr[6], "8");
    char *want = malloc(70000);
    size_t wl = t->title_n ? cef_header_text(t->title, t->title_n, want) : 0;
    if (t->title_n == 0) {
        wl = (size_t)snprintf(want, 70000, "Microsoft Defender alert");
    }
    same("CEF name", m.hdr[5], strlen(m.hdr[5]), want, wl, 1);
    size_t glen = 0;
    const char *got = cef_get(&m, "externalId", &glen);
    assert_non_null(got);
    same("externalId", got, glen, id, strlen(id), 0);
    got = cef_get(&m, "cs2", &glen);
    assert_non_null(got);
    same("cs2", got, glen, "contoso", 7, 0);
    const struct {
        const char *key, *text;
        size_t n;
    } vals[] = {{"fname", t->fname, t->fname_n}, {"filePath", t->path, t->path_n}};
    for (size_t k = 0; k < 2; k++) {
        got = cef_get(&m, vals[k].key, &glen);
        if (got == NULL) {
            assert_true(vals[k].n == 0 || (limited && m.truncated));
            continue;
        }
        wl = cef_value_text(vals[k].text, vals[k].n, want);
        same(vals[k].key, got, glen, want, wl, limited && m.truncated);
    }
    free(want);
    free_cef(&m);
}

/* LEEF value text of s: TAB, CR and LF become a space, other controls are dropped. */
static size_t leef_value_text(const char *s, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t u = dfw_utf8_char_len(s + i, n - i);
        if (c == '\t' || c == '\r' || c == '\n') {
            out[k++] = ' ';
        }
        else if (!(c < 0x20 || c == 0x7f ||
                   (u == 2 && c == 0xc2 && (unsigned char)s[i + 1] < 0xa0))) {
            memcpy(out + k, s + i, u);
            k += u;
        }
        i += u ? u : 1;
    }
    return k;
}

/* One LEEF line: six header fields, then TAB-separated key=value attributes that give back
 * title, externalId, tenant and resource (docs/leef-mapping.md §5). */
static void
check_leef(const char *line, size_t n, const struct texts *t, const char *id, int limited)
{
    assert_true(dfw_utf8_valid(line, n));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c != '\t' && (c < 0x20 || c == 0x7f)) {
            fail_msg("control byte 0x%02x in a LEEF line", c);
        }
    }
    assert_int_equal(strncmp(line, "LEEF:2.0|Microsoft|", 19), 0);
    const char *p = line;
    for (int f = 0; f < 6; f++) {
        p = memchr(p, '|', n - (size_t)(p - line));
        assert_non_null(p);
        p++;
    }
    assert_int_equal(strncmp(p - 5, "|x09|", 5), 0);
    char *want = malloc(70000);
    int truncated = 0, seen_title = 0;
    while (p < line + n) {
        const char *tab = memchr(p, '\t', n - (size_t)(p - line));
        const char *end = tab ? tab : line + n;
        const char *eq = memchr(p, '=', (size_t)(end - p));
        assert_non_null(eq);
        size_t klen = (size_t)(eq - p), vlen = (size_t)(end - eq - 1);
        const char *v = eq + 1;
        size_t wl = 0;
        int check = 1;
        if (klen == 5 && memcmp(p, "title", 5) == 0) {
            wl = t->title_n ? leef_value_text(t->title, t->title_n, want)
                            : (size_t)snprintf(want, 70000, "Microsoft Defender alert");
            seen_title = 1;
        }
        else if (klen == 10 && memcmp(p, "externalId", 10) == 0) {
            wl = (size_t)snprintf(want, 70000, "%s", id);
        }
        else if (klen == 6 && memcmp(p, "tenant", 6) == 0) {
            wl = (size_t)snprintf(want, 70000, "contoso");
        }
        else if (klen == 8 && memcmp(p, "resource", 8) == 0) {
            wl = leef_value_text(t->fname, t->fname_n, want);
        }
        else if (klen == 8 && memcmp(p, "filePath", 8) == 0) {
            wl = leef_value_text(t->path, t->path_n, want);
        }
        else {
            truncated |= klen == 9 && memcmp(p, "truncated", 9) == 0;
            check = 0;
        }
        if (check) {
            same("LEEF attribute", v, vlen, want, wl, limited);
        }
        p = tab ? tab + 1 : line + n;
    }
    assert_true(seen_title || (limited && truncated));
    free(want);
}

/* JSON text of a message body: strict, and the record unchanged (at path "key", or the whole). */
static void check_json(const char *text, size_t n, struct json_object *rec, const char *key)
{
    char why[128];
    if (dfw_json_check(text, n, why, sizeof(why)) != DFW_OK) {
        fail_msg("not JSON (%s)", why);
    }
    struct json_object *o = json_tokener_parse(text), *inner = o;
    assert_non_null(o);
    if (key != NULL) {
        assert_true(json_object_object_get_ex(o, key, &inner));
    }
    assert_true(json_object_equal(inner, rec));
    json_object_put(o);
}

static void *conf_for(const char *type, const char *const *kv)
{
    const struct dfw_output_plugin *p = dfw_output_find(dfw_output_registry, type);
    assert_non_null(p);
    struct dfw_config_kv kvs[8];
    char keys[8][64], vals[8][128];
    size_t n = 0;
    for (; kv[n] != NULL; n++) {
        const char *eq = strchr(kv[n], '=');
        snprintf(keys[n], sizeof(keys[n]), "%.*s", (int)(eq - kv[n]), kv[n]);
        snprintf(vals[n], sizeof(vals[n]), "%s", eq + 1);
        kvs[n] = (struct dfw_config_kv){keys[n], vals[n], "test.conf", (int)n + 1};
    }
    void *conf = NULL;
    char err[256];
    if (dfw_output_conf_parse(p, kvs, n, &conf, err, sizeof(err)) != DFW_OK) {
        fail_msg("%s conf: %s", type, err);
    }
    return conf;
}

struct out_case {
    const char *name, *type;
    const char *kv[6];
    void *conf;
};

static struct out_case cases[] = {
    {"syslog cef 5424 tcp", "syslog", {"format=cef", NULL}, NULL},
    {"syslog cef 3164 tcp", "syslog", {"format=cef", "protocol=rfc3164", NULL}, NULL},
    {"syslog cef udp",
     "syslog",
     {"format=cef", "transport=udp", "max_message_size=1400", NULL},
     NULL},
    {"syslog json 5424", "syslog", {"format=json", NULL}, NULL},
    {"syslog json 3164 udp",
     "syslog",
     {"format=json", "protocol=rfc3164", "transport=udp", "max_message_size=65000", NULL},
     NULL},
    {"syslog leef 5424 tcp", "syslog", {"format=leef", NULL}, NULL},
    {"syslog leef udp",
     "syslog",
     {"format=leef", "transport=udp", "max_message_size=1400", NULL},
     NULL},
    {"kafka leef", "kafka", {"brokers=127.0.0.1:9092", "format=leef", NULL}, NULL},
    {"kafka json", "kafka", {"brokers=127.0.0.1:9092", NULL}, NULL},
    {"kafka cef", "kafka", {"brokers=127.0.0.1:9092", "format=cef", NULL}, NULL},
    {"splunk hec", "splunk_hec", {"url=https://127.0.0.1:8088", "token_env=T", NULL}, NULL},
    {"file envelope", "file", {"envelope=yes", NULL}, NULL},
    {"file record", "file", {"envelope=no", NULL}, NULL},
};

/* The body of a syslog message: after "... MSGID - " (5424) or "TAG: " (3164). */
static const char *syslog_body(const char *msg, int protocol)
{
    const char *p = protocol == DFW_SYSLOG_RFC5424 ? strstr(msg, " - ") : strstr(msg, ": ");
    assert_non_null(p);
    return p + (protocol == DFW_SYSLOG_RFC5424 ? 3 : 2);
}

/* Frame the rendered messages as a TCP stream and read them back: one message per event. */
static void check_framing(struct dfw_buf *msgs, size_t n, int framing)
{
    struct dfw_buf stream = DFW_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(dfw_out_syslog_frame(framing, msgs[i].data, msgs[i].len, &stream), DFW_OK);
    }
    size_t pos = 0, count = 0;
    while (pos < stream.len) {
        size_t len;
        if (framing == DFW_SYSLOG_OCTET_COUNTING) {
            char *end;
            len = strtoul(stream.data + pos, &end, 10);
            assert_int_equal(*end, ' ');
            pos = (size_t)(end - stream.data) + 1;
        }
        else {
            const char *nl = memchr(stream.data + pos, '\n', stream.len - pos);
            assert_non_null(nl);
            len = (size_t)(nl - (stream.data + pos));
        }
        assert_true(count < n && len == msgs[count].len);
        assert_memory_equal(stream.data + pos, msgs[count].data, len);
        pos += len + (framing == DFW_SYSLOG_NON_TRANSPARENT);
        count++;
    }
    assert_int_equal(count, n);
    dfw_buf_free(&stream);
}

static void every_output_round_trips(void **state)
{
    (void)state;
    srand(1301);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        cases[c].conf = conf_for(cases[c].type, cases[c].kv);
    }
    struct texts *t = malloc(NEVENTS * sizeof(*t));
    for (int round = 0; round < ROUNDS; round++) {
        struct dfw_event ev[NEVENTS];
        struct held held[NEVENTS];
        for (int i = 0; i < NEVENTS; i++) {
            struct texts *x = &t[i];
            x->title_n = random_text(x->title, sizeof(x->title));
            x->desc_n = random_text(x->desc, sizeof(x->desc));
            x->fname_n = random_text(x->fname, sizeof(x->fname));
            x->path_n = random_text(x->path, sizeof(x->path));
            x->cmd_n = random_text(x->cmd, sizeof(x->cmd));
            ev[i] = (struct dfw_event){.tenant = "contoso",
                                       .tenant_id = "a839b112-1253-6432-9bf6-94542403f21c",
                                       .stream = "mde-alerts",
                                       .kind = DFW_EVENT_NEW,
                                       .updated = "2026-11-30T10:00:00.1234567Z",
                                       .updated_ms = 1796032800123LL};
            page(x, i, &held[i], &ev[i]);
            struct json_object *idv;
            assert_true(json_object_object_get_ex(held[i].tree, "id", &idv));
            ev[i].id = json_object_get_string(idv);
        }
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
            const struct dfw_output_plugin *p = dfw_output_find(dfw_output_registry, cases[c].type);
            struct dfw_buf msgs[NEVENTS];
            for (int i = 0; i < NEVENTS; i++) {
                msgs[i] = (struct dfw_buf)DFW_BUF_INIT;
                if (p->format(cases[c].conf, &ev[i], &msgs[i]) != DFW_OK) {
                    fail_msg("%s: format failed", cases[c].name);
                }
                const char *m = msgs[i].data;
                size_t n = msgs[i].len;
                if (strcmp(cases[c].type, "file") == 0) {
                    /* JSON lines: exactly one LF, at the end */
                    assert_true(n > 0 && m[n - 1] == '\n');
                    n--;
                }
                /* one message: no line break anywhere else */
                if (memchr(m, '\n', n) != NULL || memchr(m, '\r', n) != NULL) {
                    fail_msg("%s: a line break inside the message", cases[c].name);
                }
                if (strcmp(cases[c].type, "syslog") == 0) {
                    const struct dfw_out_syslog_conf *sc = cases[c].conf;
                    const char *body = syslog_body(m, sc->protocol);
                    size_t bl = n - (size_t)(body - m);
                    if (sc->transport == DFW_SYSLOG_UDP) {
                        assert_true(n <= (size_t)sc->max_message_size);
                    }
                    if (sc->format == DFW_SYSLOG_FMT_CEF) {
                        check_cef(body, bl, &t[i], ev[i].id, sc->transport == DFW_SYSLOG_UDP);
                    }
                    else if (sc->format == DFW_SYSLOG_FMT_LEEF) {
                        check_leef(body, bl, &t[i], ev[i].id, sc->transport == DFW_SYSLOG_UDP);
                    }
                    else if (n < (size_t)sc->max_message_size || sc->transport != DFW_SYSLOG_UDP) {
                        if (strstr(body, "\"truncated\":true") == NULL) {
                            check_json(body, bl, held[i].tree, NULL);
                        }
                    }
                }
                else if (strcmp(cases[c].name, "kafka cef") == 0) {
                    check_cef(m, n, &t[i], ev[i].id, 0);
                }
                else if (strcmp(cases[c].name, "kafka leef") == 0) {
                    check_leef(m, n, &t[i], ev[i].id, 0);
                }
                else if (strcmp(cases[c].type, "splunk_hec") == 0) {
                    check_json(m, n, held[i].tree, "event");
                }
                else if (strcmp(cases[c].name, "file envelope") == 0) {
                    check_json(m, n, held[i].tree, "record");
                }
                else {
                    check_json(m, n, held[i].tree, NULL);
                }
            }
            if (strcmp(cases[c].type, "syslog") == 0) {
                check_framing(msgs, NEVENTS, DFW_SYSLOG_OCTET_COUNTING);
                check_framing(msgs, NEVENTS, DFW_SYSLOG_NON_TRANSPARENT);
            }
            for (int i = 0; i < NEVENTS; i++) {
                dfw_buf_free(&msgs[i]);
            }
        }
        for (int i = 0; i < NEVENTS; i++) {
            held_free(&held[i]);
        }
    }
    free(t);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        dfw_output_conf_free(dfw_output_find(dfw_output_registry, cases[c].type), cases[c].conf);
    }
}

/* A page with invalid UTF-8 in a title never reaches an output: the parser refuses it. */
static void invalid_utf8_stops_at_the_parser(void **state)
{
    (void)state;
    const char *body = "{\"value\":[{\"id\":\"a\",\"lastUpdateTime\":\"2026-11-30T10:00:00Z\","
                       "\"title\":\"bad \xc3\x28 byte\"}]}";
    struct dfw_page pg;
    char err[256];
    assert_int_equal(dfw_stream_parse_page(body, strlen(body), BASE, &pg, err, sizeof(err)),
                     DFW_ERR_INVALID);
    assert_non_null(strstr(err, "invalid UTF-8"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_output_round_trips),
        cmocka_unit_test(invalid_utf8_stops_at_the_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
