/* The CEF encoder of libdfw (dfw/cef.h), shared by the syslog and Kafka outputs: golden files for
 * each stream, escaping, injection attempts, missing fields, truncation to a size limit (and the
 * syslog output's UDP use of it). Syslog headers and framing: test_syslog_frame.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfw/cef.h"
#include "dfw/config.h"
#include "dfw/event.h"
#include "dfw/output.h"
#include "dfw/timeutil.h"
#include "registry.h"
#include "syslog_conf.h"
#include "cef_fixtures.h"

/* ---- helpers ------------------------------------------------------------------------------ */

#define CEF_MAX_KEYS 64

/* A CEF line split the way a strict receiver would: 7 unescaped '|' in the header, then
 * "key=value" pairs where a key starts the extension or follows a space and ends at an
 * unescaped '='. Values and header fields point into the line (still escaped). */
struct cef_parsed {
    const char *hdr[7];
    size_t hdr_len[7];
    size_t nkeys;
    char keys[CEF_MAX_KEYS][40];
    const char *val[CEF_MAX_KEYS];
    size_t val_len[CEF_MAX_KEYS];
};

/* 0 when line is a well-formed CEF line; -1 (with a reason on stderr) otherwise. */
static int cef_parse(const char *line, size_t len, struct cef_parsed *p)
{
    size_t i = 0, ks[CEF_MAX_KEYS], eq[CEF_MAX_KEYS];
    memset(p, 0, sizeof(*p));
    if (memchr(line, '\r', len) || memchr(line, '\n', len) || memchr(line, '\0', len)) {
        fprintf(stderr, "cef_parse: raw CR, LF or NUL\n");
        return -1;
    }
    for (int f = 0; f < 7; f++) {
        size_t start = i;
        while (i < len && line[i] != '|') {
            if (line[i] == '\\') {
                if (i + 1 >= len || (line[i + 1] != '\\' && line[i + 1] != '|')) {
                    fprintf(stderr, "cef_parse: bad header escape at %zu\n", i);
                    return -1;
                }
                i++;
            }
            i++;
        }
        if (i >= len) {
            fprintf(stderr, "cef_parse: only %d header fields\n", f);
            return -1;
        }
        p->hdr[f] = line + start;
        p->hdr_len[f] = i - start;
        i++;
    }
    const char *ext = line + i;
    size_t n = len - i;
    for (size_t j = 0; j < n; j++) {
        if (ext[j] == '\\') {
            if (j + 1 >= n || strchr("\\=rn", ext[j + 1]) == NULL) {
                fprintf(stderr, "cef_parse: bad extension escape at %zu\n", j);
                return -1;
            }
            j++;
            continue;
        }
        if (ext[j] != '=') {
            continue;
        }
        size_t k = j;
        while (k > 0 && ext[k - 1] != ' ') {
            k--;
        }
        if (k == j || j - k >= sizeof(p->keys[0]) || p->nkeys >= CEF_MAX_KEYS ||
            (p->nkeys == 0 && k != 0)) {
            fprintf(stderr, "cef_parse: bad key before '=' at %zu\n", j);
            return -1;
        }
        for (size_t c = k; c < j; c++) {
            char ch = ext[c];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_')) {
                fprintf(stderr, "cef_parse: bad key character at %zu\n", c);
                return -1;
            }
        }
        memcpy(p->keys[p->nkeys], ext + k, j - k);
        ks[p->nkeys] = k;
        eq[p->nkeys] = j;
        p->nkeys++;
    }
    if (p->nkeys == 0 && n > 0) {
        fprintf(stderr, "cef_parse: extension without keys\n");
        return -1;
    }
    for (size_t k = 0; k < p->nkeys; k++) {
        size_t end = k + 1 < p->nkeys ? ks[k + 1] - 1 : n;
        p->val[k] = ext + eq[k] + 1;
        p->val_len[k] = end - eq[k] - 1;
    }
    return 0;
}

/* The space-separated keys, e.g. "rt externalId cs2Label cs2". */
static void cef_keys(const struct cef_parsed *p, char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t k = 0; k < p->nkeys; k++) {
        n += (size_t)snprintf(out + n, outlen - n, "%s%s", k ? " " : "", p->keys[k]);
    }
}

/* The unescaped value of key into out, or NULL when the key is absent. */
static const char *cef_value(const struct cef_parsed *p, const char *key, char *out, size_t outlen)
{
    for (size_t k = 0; k < p->nkeys; k++) {
        if (strcmp(p->keys[k], key) != 0) {
            continue;
        }
        size_t o = 0;
        for (size_t i = 0; i < p->val_len[k] && o + 1 < outlen; i++) {
            char c = p->val[k][i];
            if (c == '\\') {
                c = p->val[k][++i];
                c = c == 'r' ? '\r' : c == 'n' ? '\n' : c;
            }
            out[o++] = c;
        }
        out[o] = '\0';
        return out;
    }
    return NULL;
}

/* Render ev (no size limit) and parse it; the caller frees out. */
static void render_parse(const struct dfw_event *ev, struct dfw_buf *out, struct cef_parsed *p)
{
    assert_int_equal(dfw_cef_format(ev, 0, out), DFW_OK);
    assert_int_equal(cef_parse(out->data, out->len, p), 0);
}

/* ---- golden files ------------------------------------------------------------------------- */

static void check_cef_line(const char *line, size_t len)
{
    struct cef_parsed p;
    assert_int_equal(cef_parse(line, len, &p), 0);
}

static void golden_files(void **state)
{
    (void)state;
    check_goldens("cef", dfw_cef_format, check_cef_line);
}

/* The mapping decisions the golden lines encode, spelled out so a regenerated golden file
 * cannot silently change them. */
static void mapping_per_stream(void **state)
{
    (void)state;
    char v[512];
    struct cef_parsed p;
    struct dfw_buf out = DFW_BUF_INIT;
    struct dfw_event ev;

    struct json_object *rec = load_json("mde-alert.json");
    make_event(&ev, "mde-alerts", rec, "da637472900382838869_1364969609", "2021-01-26T20:33:59.2Z");
    render_parse(&ev, &out, &p);
    assert_memory_equal(p.hdr[2], "Microsoft Defender ATP", p.hdr_len[2]);
    assert_memory_equal(p.hdr[3], "2.0", p.hdr_len[3]);
    assert_memory_equal(p.hdr[4], "17e10bbc-3a68-474a-8aad-faef14d43952", p.hdr_len[4]);
    assert_memory_equal(p.hdr[6], "3", p.hdr_len[6]); /* Low */
    assert_string_equal(cef_value(&p, "rt", v, sizeof(v)), "1611693239200");
    assert_string_equal(cef_value(&p, "deviceSeverity", v, sizeof(v)), "Low");
    assert_string_equal(cef_value(&p, "shost", v, sizeof(v)),
                        "temp123.middleeast.corp.microsoft.com");
    assert_string_equal(cef_value(&p, "suser", v, sizeof(v)), "temp123"); /* relatedUser */
    assert_string_equal(cef_value(&p, "filePath", v, sizeof(v)), "C:\\Windows\\SysWOW64");
    assert_string_equal(cef_value(&p, "flexString1", v, sizeof(v)),
                        "https://security.microsoft.com/alerts/da637472900382838869_1364969609"
                        "?tid=a839b112-1253-6432-9bf6-94542403f21c");
    dfw_buf_free(&out);
    json_object_put(rec);

    rec = load_json("m365d-incident.json");
    make_event(&ev, "m365d-incidents", rec, "924521", "2020-09-06T12:18:03.81Z");
    render_parse(&ev, &out, &p);
    assert_memory_equal(p.hdr[2], "Microsoft Defender XDR", p.hdr_len[2]);
    assert_memory_equal(p.hdr[4], "incident", p.hdr_len[4]);
    assert_string_equal(cef_value(&p, "cat", v, sizeof(v)), "Malware");
    assert_string_equal(cef_value(&p, "shost", v, sizeof(v)),
                        "user5cx.middleeast.corp.contoso.com");
    assert_string_equal(cef_value(&p, "suser", v, sizeof(v)), "testUser2");
    assert_string_equal(cef_value(&p, "sntdom", v, sizeof(v)), "europe.corp.contoso");
    assert_string_equal(cef_value(&p, "src", v, sizeof(v)), "62.216.203.204");
    assert_string_equal(cef_value(&p, "cs1", v, sizeof(v)), "Mimikatz");
    assert_string_equal(cef_value(&p, "cs5", v, sizeof(v)), "new");
    dfw_buf_free(&out);
    json_object_put(rec);

    rec = load_json("graph-alert.json");
    make_event(&ev, "graph-alerts", rec, "da637551227677560813_-961444813",
               "2021-05-02T14:19:01.3266667Z");
    ev.tenant_id = NULL; /* falls back to the record's tenantId */
    render_parse(&ev, &out, &p);
    assert_memory_equal(p.hdr[2], "Microsoft Graph Security", p.hdr_len[2]);
    assert_string_equal(cef_value(&p, "suser", v, sizeof(v)), "samwise"); /* userEvidence first */
    assert_string_equal(cef_value(&p, "fname", v, sizeof(v)), "MsSense.exe");
    assert_string_equal(cef_value(&p, "shost", v, sizeof(v)), "tempDns");
    assert_string_equal(cef_value(&p, "request", v, sizeof(v)),
                        "http://down.esales360.cn/a.php?x=1&y=2");
    assert_string_equal(cef_value(&p, "cs3", v, sizeof(v)), "b3c1b5fc-828c-45fa-a1e1-10d74f6d6e9c");
    assert_non_null(
        strstr(cef_value(&p, "flexString1", v, sizeof(v)), "alerts/da637551227677560813"));
    dfw_buf_free(&out);
    json_object_put(rec);
}

static void severity_scales(void **state)
{
    (void)state;
    const char *text[] = {"High", "medium", "LOW", "Informational", "UnSpecified", "unknown", NULL};
    const int cef[] = {8, 5, 3, 1, 0, 0, 0};
    for (size_t i = 0; i < sizeof(cef) / sizeof(cef[0]); i++) {
        assert_int_equal(dfw_cef_severity(text[i]), cef[i]);
    }
    const char *product, *version;
    dfw_cef_product("mde-alerts", &product, &version);
    assert_string_equal(product, "Microsoft Defender ATP");
    assert_string_equal(version, "2.0");
    dfw_cef_product(NULL, &product, &version);
    assert_string_equal(product, "Microsoft Defender");
}

/* ---- escaping and injection --------------------------------------------------------------- */

static void header_escaping(void **state)
{
    (void)state;
    struct json_object *rec = json_tokener_parse(
        "{\"title\":\"a|b\\\\c\\r\\nd\\te\\u0000f\\u0085g=h\",\"detectorId\":\"x|y\"}");
    struct dfw_event ev;
    make_event(&ev, "mde-alerts", rec, "1", NULL);
    struct dfw_buf out = DFW_BUF_INIT;
    struct cef_parsed p;
    render_parse(&ev, &out, &p);
    const char *want = "a\\|b\\\\c  d e f g=h";
    assert_int_equal(p.hdr_len[5], strlen(want));
    assert_memory_equal(p.hdr[5], want, strlen(want));
    assert_memory_equal(p.hdr[4], "x\\|y", 4);
    dfw_buf_free(&out);
    json_object_put(rec);
}

static void extension_escaping(void **state)
{
    (void)state;
    struct json_object *rec = json_tokener_parse(
        "{\"evidence\":[{\"entityType\":\"File\",\"fileName\":\"x=y\\\\z\\r\\nw\\tv|u\\u0001\","
        "\"filePath\":\"C:\\\\dir\\\\\"}]}");
    struct dfw_event ev;
    make_event(&ev, "mde-alerts", rec, "1", NULL);
    struct dfw_buf out = DFW_BUF_INIT;
    struct cef_parsed p;
    render_parse(&ev, &out, &p);
    assert_non_null(strstr(out.data, " fname=x\\=y\\\\z\\r\\nwv|u filePath=C:\\\\dir\\\\ "));
    char v[128];
    assert_string_equal(cef_value(&p, "fname", v, sizeof(v)), "x=y\\z\r\nwv|u");
    assert_string_equal(cef_value(&p, "filePath", v, sizeof(v)), "C:\\dir\\");
    dfw_buf_free(&out);
    json_object_put(rec);
}

/* Alert text controlled by an attacker (a custom detection's title, a file name, a URL) must not
 * add CEF fields, header fields, syslog messages or lines. */
static void injection_stays_one_field(void **state)
{
    (void)state;
    const char *title =
        "Evil|CEF:0|Fake|x|1|y|10|act=blocked\r\n<13>1 2024-01-01T00:00:00Z h a - - "
        "- CEF:0|Fake|x|1|y|10|act=blocked";
    const char *fname = "a.exe act=blocked src=6.6.6.6 cs1=fake";
    const char *url = "http://x/?a=b\r\nCEF:0|x|y|1|2|n|10|act=allowed\\";
    struct json_object *rec = json_object_new_object();
    json_object_object_add(rec, "title", json_object_new_string(title));
    json_object_object_add(rec, "severity", json_object_new_string("High"));
    json_object_object_add(rec, "category", json_object_new_string("x=y \\ act=blocked"));
    struct json_object *evid = json_object_new_array();
    struct json_object *file = json_object_new_object();
    json_object_object_add(file, "entityType", json_object_new_string("File"));
    json_object_object_add(file, "fileName", json_object_new_string(fname));
    json_object_object_add(file, "filePath", json_object_new_string("C:\\temp\\ act=blocked\\"));
    json_object_array_add(evid, file);
    struct json_object *user = json_object_new_object();
    json_object_object_add(user, "entityType", json_object_new_string("User"));
    json_object_object_add(user, "accountName", json_object_new_string("bob\\ suser=root"));
    json_object_object_add(user, "domainName", json_object_new_string("CORP\n"));
    json_object_array_add(evid, user);
    struct json_object *u = json_object_new_object();
    json_object_object_add(u, "entityType", json_object_new_string("Url"));
    json_object_object_add(u, "url", json_object_new_string(url));
    json_object_array_add(evid, u);
    json_object_object_add(rec, "evidence", evid);

    struct dfw_event ev;
    make_event(&ev, "mde-alerts", rec, "da1_2", "2024-05-01T10:00:00Z");
    ev.tenant = "contoso|x=y";
    struct dfw_buf out = DFW_BUF_INIT;
    struct cef_parsed p;
    render_parse(&ev, &out, &p); /* also asserts: no raw CR/LF/NUL, strict structure */
    assert_null(memchr(out.data, '\n', out.len));
    assert_null(memchr(out.data, '\r', out.len));
    assert_true(strncmp(out.data, "CEF:0|Microsoft|Microsoft Defender ATP|2.0|", 43) == 0);
    /* the fake header in the title is escaped: still 7 header fields, the name is one field */
    const char *name = "Evil\\|CEF:0\\|Fake\\|x\\|1\\|y\\|10\\|act=blocked  <13>1 "
                       "2024-01-01T00:00:00Z h a - - - CEF:0\\|Fake\\|x\\|1\\|y\\|10\\|act=blocked";
    assert_int_equal(p.hdr_len[5], strlen(name));
    assert_memory_equal(p.hdr[5], name, strlen(name));
    assert_memory_equal(p.hdr[6], "8", 1);

    char keys[1024], v[512];
    cef_keys(&p, keys, sizeof(keys));
    assert_string_equal(keys, "rt externalId deviceSeverity cat suser sntdom fname filePath "
                              "request cs2Label cs2 cs3Label cs3 cs5Label cs5 flexString1Label "
                              "flexString1");
    assert_string_equal(cef_value(&p, "fname", v, sizeof(v)), fname);
    assert_string_equal(cef_value(&p, "request", v, sizeof(v)), url);
    assert_string_equal(cef_value(&p, "suser", v, sizeof(v)), "bob\\ suser=root");
    assert_string_equal(cef_value(&p, "sntdom", v, sizeof(v)), "CORP\n");
    assert_string_equal(cef_value(&p, "cat", v, sizeof(v)), "x=y \\ act=blocked");
    assert_string_equal(cef_value(&p, "cs2", v, sizeof(v)), "contoso|x=y");
    dfw_buf_free(&out);
    json_object_put(rec);
}

/* Bytes that are not UTF-8 become '?', so the line stays valid UTF-8 for the receiver. */
static void invalid_utf8_replaced(void **state)
{
    (void)state;
    struct json_object *rec = json_object_new_object();
    json_object_object_add(rec, "title", json_object_new_string_len("a\xff\xc3(b\xe2\x82", 7));
    json_object_object_add(rec, "category", json_object_new_string_len("\xed\xa0\x80x\xc3\xa9", 6));
    struct dfw_event ev;
    make_event(&ev, "mde-alerts", rec, "1", NULL);
    struct dfw_buf out = DFW_BUF_INIT;
    struct cef_parsed p;
    render_parse(&ev, &out, &p);
    assert_true(utf8_valid((const unsigned char *)out.data, out.len));
    assert_memory_equal(p.hdr[5],
                        "a?"
                        "?(b?"
                        "?",
                        p.hdr_len[5]); /* no trigraph */
    char v[64];
    assert_string_equal(cef_value(&p, "cat", v, sizeof(v)), "?"
                                                            "?"
                                                            "?x\xc3\xa9");
    dfw_buf_free(&out);
    json_object_put(rec);
}

/* Which entity a value comes from when several carry it. */
static void entity_priority(void **state)
{
    (void)state;
    char v[128];
    struct cef_parsed p;
    struct dfw_buf out = DFW_BUF_INIT;
    struct dfw_event ev;
    /* MDE: the User entity beats a process account and relatedUser; File beats Process */
    struct json_object *rec = json_tokener_parse(
        "{\"relatedUser\":{\"userName\":\"bob\",\"domainName\":\"R\"},\"evidence\":["
        "{\"entityType\":\"Process\",\"accountName\":\"svc\",\"domainName\":\"NT\","
        "\"fileName\":\"p.exe\",\"sha1\":\"11\"},"
        "{\"entityType\":\"User\",\"accountName\":\"alice\",\"domainName\":\"CORP\"},"
        "{\"entityType\":\"File\",\"fileName\":\"f.dll\",\"filePath\":\"C:\\\\x\"}]}");
    make_event(&ev, "mde-alerts", rec, "1", NULL);
    render_parse(&ev, &out, &p);
    assert_string_equal(cef_value(&p, "suser", v, sizeof(v)), "alice");
    assert_string_equal(cef_value(&p, "sntdom", v, sizeof(v)), "CORP");
    assert_string_equal(cef_value(&p, "fname", v, sizeof(v)), "f.dll");
    assert_string_equal(cef_value(&p, "filePath", v, sizeof(v)), "C:\\x");
    assert_null(cef_value(&p, "fileHash", v, sizeof(v))); /* not mixed in from the process */
    dfw_buf_free(&out);
    json_object_put(rec);

    /* MDE: relatedUser beats a process account; the process image is the file */
    rec = json_tokener_parse("{\"relatedUser\":{\"userName\":\"bob\",\"domainName\":\"R\"},"
                             "\"evidence\":[{\"entityType\":\"Process\",\"accountName\":"
                             "\"svc\",\"fileName\":\"p.exe\",\"sha1\":\"11\"}]}");
    make_event(&ev, "mde-alerts", rec, "1", NULL);
    render_parse(&ev, &out, &p);
    assert_string_equal(cef_value(&p, "suser", v, sizeof(v)), "bob");
    assert_string_equal(cef_value(&p, "fname", v, sizeof(v)), "p.exe");
    assert_string_equal(cef_value(&p, "fileHash", v, sizeof(v)), "11");
    dfw_buf_free(&out);
    json_object_put(rec);

    /* incident: earliest first activity and latest last activity over all alerts; the first
     * alert with a value wins for the others */
    rec = json_tokener_parse(
        "{\"alerts\":[{\"firstActivity\":\"2024-01-02T00:00:00Z\",\"lastActivity\":"
        "\"2024-01-03T00:00:00Z\",\"entities\":[{\"entityType\":\"Process\",\"accountName\""
        ":\"svc\"}]},{\"category\":\"Malware\",\"firstActivity\":\"2024-01-01T00:00:00Z\","
        "\"lastActivity\":\"2024-01-02T12:00:00Z\",\"actorName\":\"BORON\",\"entities\":"
        "[{\"entityType\":\"User\",\"accountName\":\"eve\"}]}]}");
    make_event(&ev, "m365d-incidents", rec, "7", NULL);
    render_parse(&ev, &out, &p);
    assert_string_equal(cef_value(&p, "start", v, sizeof(v)), "1704067200000");
    assert_string_equal(cef_value(&p, "end", v, sizeof(v)), "1704240000000");
    assert_string_equal(cef_value(&p, "cat", v, sizeof(v)), "Malware");
    assert_string_equal(cef_value(&p, "cs4", v, sizeof(v)), "BORON");
    assert_string_equal(cef_value(&p, "suser", v, sizeof(v)), "eve");
    dfw_buf_free(&out);
    json_object_put(rec);
}

/* ---- missing, null and mistyped fields ---------------------------------------------------- */

static void line_keys(const char *line, size_t len, char *out, size_t outlen)
{
    struct cef_parsed p;
    assert_int_equal(cef_parse(line, len, &p), 0);
    cef_keys(&p, out, outlen);
}

/* Values are read from the record's bytes: names written with escapes count, the last of a
 * repeated name wins (as json-c keeps it), escaped values are decoded, and an object of more
 * members than the reader's inline table still has all of them. */
static void record_bytes_read_like_json_c(void **state)
{
    (void)state;
    struct dfw_buf rec = DFW_BUF_INIT;
    dfw_buf_puts(&rec, "{\"severity\":\"Low\",\"ti\\u0074le\":\"first\",");
    for (int i = 0; i < 100; i++) {
        dfw_buf_printf(&rec, "\"pad%d\":[{\"title\":\"inner\"},%d],", i, i);
    }
    dfw_buf_puts(&rec, "\"title\":\"caf\\u00e9 \\\"x\\\"\",\"severity\":\"High\","
                       "\"evidence\":[{\"entityType\":\"User\",\"accountName\":\"a\\\\b\"}]}");
    struct dfw_event ev;
    make_event(&ev, "mde-alerts", NULL, "1", "2021-01-26T20:33:59.2Z");
    ev.raw = rec.data;
    ev.raw_len = rec.len;
    struct dfw_buf out = DFW_BUF_INIT;
    struct cef_parsed p;
    char v[512];
    render_parse(&ev, &out, &p);
    assert_memory_equal(p.hdr[5], "caf\xc3\xa9 \"x\"", p.hdr_len[5]);
    assert_memory_equal(p.hdr[6], "8", p.hdr_len[6]);                  /* High, the last severity */
    assert_string_equal(cef_value(&p, "suser", v, sizeof(v)), "a\\b"); /* JSON "a\\b" */
    dfw_buf_free(&out);
    dfw_buf_free(&rec);
}

static void missing_null_and_mistyped_fields(void **state)
{
    (void)state;
    check_awkward_records(dfw_cef_format, line_keys,
                          "rt externalId cs2Label cs2 cs3Label cs3 cs5Label cs5 flexString1Label "
                          "flexString1");
    /* no id anywhere: neither externalId nor a link */
    char got[1024];
    keys_of("mde-alerts", "{}", NULL, dfw_cef_format, line_keys, got, sizeof(got));
    assert_string_equal(got, "rt cs2Label cs2 cs3Label cs3 cs5Label cs5");

    /* header defaults */
    struct dfw_event ev;
    make_event(&ev, "m365d-incidents", NULL, "42", NULL);
    struct dfw_buf out = DFW_BUF_INIT;
    assert_int_equal(dfw_cef_format(&ev, 0, &out), DFW_OK);
    assert_true(strncmp(out.data,
                        "CEF:0|Microsoft|Microsoft Defender XDR|1.0|incident|Microsoft Defender "
                        "XDR incident|0|externalId=42 ",
                        95) == 0);
    dfw_buf_free(&out);
}

/* ---- UDP truncation ----------------------------------------------------------------------- */

static void
check_truncated(const struct dfw_event *ev, size_t limit, const char *full, size_t full_len)
{
    struct dfw_buf out = DFW_BUF_INIT;
    struct cef_parsed p, pf;
    assert_int_equal(dfw_cef_format(ev, limit, &out), DFW_OK);
    assert_true(out.len <= limit);
    assert_int_equal(cef_parse(out.data, out.len, &p), 0); /* escapes intact, structure intact */
    assert_true(utf8_valid((const unsigned char *)out.data, out.len));
    assert_int_equal(cef_parse(full, full_len, &pf), 0);
    size_t hlen = (size_t)(pf.hdr[6] + pf.hdr_len[6] + 1 - full);
    if (limit >= full_len) {
        assert_int_equal(out.len, full_len);
        assert_memory_equal(out.data, full, full_len);
        dfw_buf_free(&out);
        return;
    }
    char keys[1024], v[64];
    cef_keys(&p, keys, sizeof(keys));
    assert_string_equal(cef_value(&p, "cn3", v, sizeof(v)), "1");
    assert_string_equal(cef_value(&p, "cn3Label", v, sizeof(v)), "truncated");
    size_t ml = strlen(DFW_CEF_TRUNC_MARKER);
    assert_true(out.len > ml);
    assert_memory_equal(out.data + out.len - ml, DFW_CEF_TRUNC_MARKER, ml);
    if (limit >= hlen + sizeof(DFW_CEF_TRUNC_MARKER)) {
        assert_memory_equal(out.data, full, hlen); /* header untouched */
    }
    /* nothing dropped would still have fitted (dropped fields are put back when they fit) */
    if (limit >= hlen + sizeof(DFW_CEF_TRUNC_MARKER)) {
        for (size_t j = 0; j < pf.nkeys; j++) {
            size_t k = 0, cost = 0, kl = strlen(pf.keys[j]);
            while (k < p.nkeys && strcmp(p.keys[k], pf.keys[j]) != 0) {
                k++;
            }
            if (k < p.nkeys || (kl > 5 && strcmp(pf.keys[j] + kl - 5, "Label") == 0)) {
                continue;
            }
            cost = 2 + kl + pf.val_len[j];
            for (size_t l = 0; l < pf.nkeys; l++) {
                if (strncmp(pf.keys[l], pf.keys[j], kl) == 0 &&
                    strcmp(pf.keys[l] + kl, "Label") == 0) {
                    cost += 2 + strlen(pf.keys[l]) + pf.val_len[l];
                }
            }
            if (out.len + cost <= limit) {
                fail_msg("limit %zu: %s (%zu bytes) was dropped but fits in %zu", limit, pf.keys[j],
                         cost, limit - out.len);
            }
        }
    }
    /* every value kept is a prefix of the full value */
    for (size_t k = 0; k < p.nkeys; k++) {
        size_t j = 0;
        while (j < pf.nkeys && strcmp(pf.keys[j], p.keys[k]) != 0) {
            j++;
        }
        if (strcmp(p.keys[k], "cn3") == 0 || strcmp(p.keys[k], "cn3Label") == 0) {
            continue;
        }
        assert_true(j < pf.nkeys);
        assert_true(p.val_len[k] <= pf.val_len[j]);
        assert_memory_equal(p.val[k], pf.val[j], p.val_len[k]);
    }
    dfw_buf_free(&out);
}

static void udp_truncation(void **state)
{
    (void)state;
    struct json_object *rec = big_record();
    struct dfw_event ev;
    make_event(&ev, "mde-alerts", rec, "da637472900382838869_1364969609", "2024-05-01T10:00:00Z");
    struct dfw_buf full = DFW_BUF_INIT;
    assert_int_equal(dfw_cef_format(&ev, 0, &full), DFW_OK);
    assert_true(full.len > 10000);
    assert_null(strstr(full.data, "cn3"));
    const size_t limits[] = {full.len + 1, full.len, full.len - 1, 9000, 4096, 2048, 1500,
                             1024,         700,      400,          300,  200,  150};
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        check_truncated(&ev, limits[i], full.data, full.len);
    }
    /* exhaustive near the cut points of escapes and multi-byte characters */
    for (size_t lim = 1000; lim < 1200; lim++) {
        check_truncated(&ev, lim, full.data, full.len);
    }
    /* too small for any line: refused, output unchanged */
    struct dfw_buf out = DFW_BUF_INIT;
    assert_int_equal(dfw_cef_format(&ev, 40, &out), DFW_ERR_INVALID);
    assert_int_equal(out.len, 0);
    dfw_buf_free(&out);
    dfw_buf_free(&full);
    json_object_put(rec);
}

/* The whole UDP message (syslog header included) stays within max_message_size. */
static void udp_message_within_limit(void **state)
{
    (void)state;
    const struct dfw_output_plugin *pl = dfw_output_find(dfw_output_registry, "syslog");
    const char *kv[] = {"transport=udp", "max_message_size=1024", "hostname=h.example", NULL};
    void *conf = syslog_conf(kv);
    assert_non_null(conf);
    struct json_object *rec = big_record();
    struct dfw_event ev;
    make_event(&ev, "mde-alerts", rec, "da637472900382838869_1364969609", "2024-05-01T10:00:00Z");
    struct dfw_buf out = DFW_BUF_INIT;
    assert_int_equal(pl->format(conf, &ev, &out), DFW_OK);
    assert_true(out.len <= 1024);
    assert_true(strncmp(out.data, "<162>1 ", 7) == 0); /* local4.crit: High */
    const char *cef = strstr(out.data, " mde-alerts - CEF:0|");
    assert_non_null(cef);
    cef += strlen(" mde-alerts - ");
    struct cef_parsed p;
    assert_int_equal(cef_parse(cef, out.len - (size_t)(cef - out.data), &p), 0);
    assert_non_null(strstr(cef, DFW_CEF_TRUNC_MARKER));
    dfw_buf_free(&out);

    /* the same over TCP: nothing is cut */
    const char *kv_tcp[] = {"transport=tcp", NULL};
    void *conf_tcp = syslog_conf(kv_tcp);
    assert_int_equal(pl->format(conf_tcp, &ev, &out), DFW_OK);
    assert_true(out.len > 10000);
    assert_null(strstr(out.data, DFW_CEF_TRUNC_MARKER));
    dfw_buf_free(&out);
    dfw_output_conf_free(pl, conf_tcp);
    dfw_output_conf_free(pl, conf);
    json_object_put(rec);
}

static void json_format(void **state)
{
    (void)state;
    const struct dfw_output_plugin *pl = dfw_output_find(dfw_output_registry, "syslog");
    const char *kv[] = {"format=json", "hostname=h", "app_name=dfw", NULL};
    void *conf = syslog_conf(kv);
    struct json_object *rec = json_tokener_parse("{\"id\":\"a\",\"title\":\"x\\ny\"}");
    struct dfw_event ev;
    make_event(&ev, "graph-alerts", rec, "a", "2024-05-01T10:00:00Z");
    struct dfw_buf out = DFW_BUF_INIT;
    assert_int_equal(pl->format(conf, &ev, &out), DFW_OK);
    const char *body = strstr(out.data, " h dfw ");
    assert_non_null(body);
    body = strstr(body, " graph-alerts - ");
    assert_non_null(body);
    assert_string_equal(body + 16, "{\"id\":\"a\",\"title\":\"x\\ny\"}");
    assert_null(memchr(out.data, '\n', out.len));
    dfw_buf_free(&out);
    dfw_output_conf_free(pl, conf);
    json_object_put(rec);

    /* UDP: a record too large is replaced by a stub that still parses */
    const char *kv_udp[] = {"format=json", "transport=udp", "max_message_size=1024", NULL};
    conf = syslog_conf(kv_udp);
    rec = big_record();
    make_event(&ev, "mde-alerts", rec, "big-1", "2024-05-01T10:00:00Z");
    assert_int_equal(pl->format(conf, &ev, &out), DFW_OK);
    assert_true(out.len <= 1024);
    struct json_object *stub = json_tokener_parse(strchr(out.data, '{'));
    assert_non_null(stub);
    struct json_object *v;
    assert_true(json_object_object_get_ex(stub, "truncated", &v) && json_object_get_boolean(v));
    assert_true(json_object_object_get_ex(stub, "id", &v));
    assert_string_equal(json_object_get_string(v), "big-1");
    json_object_put(stub);
    dfw_buf_free(&out);
    dfw_output_conf_free(pl, conf);
    json_object_put(rec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(golden_files),
        cmocka_unit_test(mapping_per_stream),
        cmocka_unit_test(severity_scales),
        cmocka_unit_test(header_escaping),
        cmocka_unit_test(extension_escaping),
        cmocka_unit_test(injection_stays_one_field),
        cmocka_unit_test(invalid_utf8_replaced),
        cmocka_unit_test(entity_priority),
        cmocka_unit_test(record_bytes_read_like_json_c),
        cmocka_unit_test(missing_null_and_mistyped_fields),
        cmocka_unit_test(udp_truncation),
        cmocka_unit_test(udp_message_within_limit),
        cmocka_unit_test(json_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
