/* The LEEF 2.0 encoder of libdfw (dfw/leef.h), shared by the syslog and Kafka outputs: golden
 * files for each record shape (MDE alert, Graph alert, Defender XDR incident, Graph incident),
 * the header, QRadar's predefined keys, character rules, injection attempts, missing fields,
 * fitting into a size limit, and the syslog (format = leef, also over UDP) and Kafka uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfw/leef.h"
#include "dfw/config.h"
#include "dfw/event.h"
#include "dfw/output.h"
#include "dfw/timeutil.h"
#include "kafka_conf.h"
#include "kafka_format.h"
#include "registry.h"
#include "cef_fixtures.h"

/* ---- a strict LEEF 2.0 reader ------------------------------------------------------------- */

#define LEEF_MAX_KEYS 64

/* A line split the way QRadar reads it: "LEEF:2.0" and 5 more '|'-terminated header fields (no
 * escapes exist), then the attributes separated by the delimiter the header names, each split at
 * its first '='. */
struct leef_parsed {
    char hdr[6][256];
    size_t nkeys;
    char keys[LEEF_MAX_KEYS][40];
    const char *val[LEEF_MAX_KEYS]; /* into text */
    char text[32768];               /* the attributes, each value NUL-terminated */
};

/* The delimiter a LEEF 2.0 header field names: one character, or its hex value after "0x"/"x". */
static int leef_delimiter(const char *f)
{
    if (strncmp(f, "0x", 2) == 0 || strncmp(f, "x", 1) == 0) {
        return (int)strtol(f + (f[0] == '0' ? 2 : 1), NULL, 16);
    }
    return strlen(f) == 1 ? (unsigned char)f[0] : -1;
}

/* 0 when line is a well-formed LEEF 2.0 line with unique, well-formed keys; -1 (with a reason on
 * stderr) otherwise. */
static int leef_parse(const char *line, size_t len, struct leef_parsed *p)
{
    size_t i = 0;
    memset(p, 0, sizeof(*p));
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)line[k];
        if (c < 0x20 && c != '\t') {
            fprintf(stderr, "leef_parse: control character 0x%02x at %zu\n", c, k);
            return -1;
        }
    }
    for (int f = 0; f < 6; f++) {
        size_t start = i;
        while (i < len && line[i] != '|') {
            i++;
        }
        if (i >= len || i - start >= sizeof(p->hdr[f])) {
            fprintf(stderr, "leef_parse: only %d header fields\n", f);
            return -1;
        }
        memcpy(p->hdr[f], line + start, i - start);
        i++;
    }
    if (strcmp(p->hdr[0], "LEEF:2.0") != 0) {
        fprintf(stderr, "leef_parse: not LEEF:2.0\n");
        return -1;
    }
    int delim = leef_delimiter(p->hdr[5]);
    if (delim <= 0) {
        fprintf(stderr, "leef_parse: bad delimiter field '%s'\n", p->hdr[5]);
        return -1;
    }
    while (i < len) {
        size_t start = i;
        while (i < len && line[i] != (char)delim) {
            i++;
        }
        const char *eq = memchr(line + start, '=', i - start);
        size_t kl = eq ? (size_t)(eq - (line + start)) : 0;
        if (eq == NULL || kl == 0 || kl >= sizeof(p->keys[0]) || p->nkeys == LEEF_MAX_KEYS) {
            fprintf(stderr, "leef_parse: attribute without key at %zu\n", start);
            return -1;
        }
        for (size_t k = 0; k < kl; k++) {
            char c = line[start + k];
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
                fprintf(stderr, "leef_parse: bad key character at %zu\n", start + k);
                return -1;
            }
        }
        memcpy(p->keys[p->nkeys], line + start, kl);
        size_t vl = i - start - kl - 1, vo = (size_t)(eq + 1 - line);
        assert_true(vo + vl < sizeof(p->text));
        memcpy(p->text + vo, eq + 1, vl);
        p->text[vo + vl] = '\0';
        p->val[p->nkeys] = p->text + vo;
        for (size_t k = 0; k < p->nkeys; k++) {
            if (strcmp(p->keys[k], p->keys[p->nkeys]) == 0) {
                fprintf(stderr, "leef_parse: key %s twice\n", p->keys[k]);
                return -1;
            }
        }
        p->nkeys++;
        i++; /* the delimiter */
    }
    return 0;
}

static const char *leef_value(const struct leef_parsed *p, const char *key)
{
    for (size_t k = 0; k < p->nkeys; k++) {
        if (strcmp(p->keys[k], key) == 0) {
            return p->val[k];
        }
    }
    return NULL;
}

/* The space-separated keys, e.g. "devTime devTimeFormat externalId". */
static void leef_keys(const struct leef_parsed *p, char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t k = 0; k < p->nkeys; k++) {
        n += (size_t)snprintf(out + n, outlen - n, "%s%s", k ? " " : "", p->keys[k]);
    }
}

static void render_parse(const struct dfw_event *ev, struct dfw_buf *out, struct leef_parsed *p)
{
    assert_int_equal(dfw_leef_format(ev, 0, out), DFW_OK);
    assert_true(utf8_valid((const unsigned char *)out->data, out->len));
    assert_int_equal(leef_parse(out->data, out->len, p), 0);
}

/* ---- golden files ------------------------------------------------------------------------- */

static void check_leef_line(const char *line, size_t len)
{
    struct leef_parsed p;
    assert_true(utf8_valid((const unsigned char *)line, len));
    assert_int_equal(leef_parse(line, len, &p), 0);
}

static void golden_files(void **state)
{
    (void)state;
    check_goldens("leef", dfw_leef_format, check_leef_line);
}

/* The mapping decisions the golden lines encode, spelled out so a regenerated golden file
 * cannot silently change them. */
static void mapping_per_shape(void **state)
{
    (void)state;
    struct leef_parsed p;
    struct dfw_buf out = DFW_BUF_INIT;
    struct dfw_event ev;

    struct json_object *rec = load_json("mde-alert.json");
    make_event(&ev, "mde-alerts", rec, "da637472900382838869_1364969609", "2021-01-26T20:33:59.2Z");
    render_parse(&ev, &out, &p);
    assert_string_equal(p.hdr[1], "Microsoft");
    assert_string_equal(p.hdr[2], "Microsoft Defender ATP");
    assert_string_equal(p.hdr[3], "2.0");
    assert_string_equal(p.hdr[4], "17e10bbc-3a68-474a-8aad-faef14d43952"); /* detectorId */
    assert_string_equal(p.hdr[5], "x09");
    assert_string_equal(leef_value(&p, "devTime"), "2021-01-26T20:33:59.200+0000");
    assert_string_equal(leef_value(&p, "devTimeFormat"), "yyyy-MM-dd'T'HH:mm:ss.SSSZ");
    assert_string_equal(leef_value(&p, "sev"), "3"); /* Low */
    assert_string_equal(leef_value(&p, "severity"), "Low");
    assert_string_equal(leef_value(&p, "cat"), "Execution");
    assert_string_equal(leef_value(&p, "title"),
                        "Low-reputation arbitrary code executed by signed executable");
    assert_string_equal(leef_value(&p, "identHostName"), "temp123.middleeast.corp.microsoft.com");
    assert_string_equal(leef_value(&p, "usrName"), "temp123"); /* relatedUser */
    assert_string_equal(leef_value(&p, "domain"), "DOMAIN");
    assert_string_equal(leef_value(&p, "resource"), "rundll32.exe");
    assert_string_equal(leef_value(&p, "filePath"), "C:\\Windows\\SysWOW64"); /* no escapes */
    assert_string_equal(leef_value(&p, "startTime"), "2021-01-26T20:31:32.956+0000");
    assert_string_equal(leef_value(&p, "createdTime"), "2021-01-26T20:33:57.722+0000");
    assert_string_equal(leef_value(&p, "link"),
                        "https://security.microsoft.com/alerts/da637472900382838869_1364969609"
                        "?tid=a839b112-1253-6432-9bf6-94542403f21c");
    assert_null(leef_value(&p, "dst")); /* MDE alerts carry no device address */
    dfw_buf_free(&out);
    json_object_put(rec);

    rec = load_json("m365d-incident.json");
    make_event(&ev, "m365d-incidents", rec, "924521", "2020-09-06T12:18:03.81Z");
    render_parse(&ev, &out, &p);
    assert_string_equal(p.hdr[2], "Microsoft Defender XDR");
    assert_string_equal(p.hdr[4], "incident");
    assert_string_equal(leef_value(&p, "externalId"), "924521");
    assert_string_equal(leef_value(&p, "cat"), "Malware");
    assert_string_equal(leef_value(&p, "identHostName"), "user5cx.middleeast.corp.contoso.com");
    assert_string_equal(leef_value(&p, "usrName"), "testUser2");
    assert_string_equal(leef_value(&p, "domain"), "europe.corp.contoso");
    assert_string_equal(leef_value(&p, "src"), "62.216.203.204");
    assert_string_equal(leef_value(&p, "threatName"), "Mimikatz");
    assert_string_equal(leef_value(&p, "eventKind"), "new");
    dfw_buf_free(&out);
    json_object_put(rec);

    rec = load_json("graph-alert.json");
    make_event(&ev, "graph-alerts", rec, "da637551227677560813_-961444813",
               "2021-05-02T14:19:01.3266667Z");
    ev.tenant_id = NULL; /* falls back to the record's tenantId */
    render_parse(&ev, &out, &p);
    assert_string_equal(p.hdr[2], "Microsoft Graph Security");
    assert_string_equal(leef_value(&p, "usrName"), "samwise"); /* userEvidence first */
    assert_string_equal(leef_value(&p, "resource"), "MsSense.exe");
    assert_string_equal(leef_value(&p, "identHostName"), "tempDns");
    assert_string_equal(leef_value(&p, "dst"), "1.1.1.1"); /* deviceEvidence.ipInterfaces */
    assert_string_equal(leef_value(&p, "url"), "http://down.esales360.cn/a.php?x=1&y=2");
    assert_string_equal(leef_value(&p, "tenantId"), "b3c1b5fc-828c-45fa-a1e1-10d74f6d6e9c");
    dfw_buf_free(&out);
    json_object_put(rec);
}

/* The device address skips loopback and link-local interfaces. */
static void device_address(void **state)
{
    (void)state;
    struct leef_parsed p;
    struct dfw_buf out = DFW_BUF_INIT;
    struct dfw_event ev;
    struct json_object *rec = json_tokener_parse(
        "{\"evidence\":[{\"@odata.type\":\"#microsoft.graph.security.deviceEvidence\","
        "\"deviceDnsName\":\"pc1\",\"ipInterfaces\":[\"127.0.0.1\",\"fe80::1\",\"::1\","
        "\"169.254.1.1\",7,\"10.1.2.3\",\"10.9.9.9\"]}]}");
    make_event(&ev, "graph-alerts", rec, "a1", "2024-05-01T10:00:00Z");
    render_parse(&ev, &out, &p);
    assert_string_equal(leef_value(&p, "dst"), "10.1.2.3");
    dfw_buf_free(&out);
    json_object_put(rec);
    rec = json_tokener_parse(
        "{\"evidence\":[{\"@odata.type\":\"#microsoft.graph.security.deviceEvidence\","
        "\"ipInterfaces\":[\"127.0.0.1\"]},{\"@odata.type\":"
        "\"#microsoft.graph.security.deviceEvidence\",\"ipInterfaces\":\"10.0.0.1\"}]}");
    make_event(&ev, "graph-alerts", rec, "a1", "2024-05-01T10:00:00Z");
    render_parse(&ev, &out, &p);
    assert_null(leef_value(&p, "dst"));
    dfw_buf_free(&out);
    json_object_put(rec);
}

static void severity_numbers(void **state)
{
    (void)state;
    const char *text[] = {"High", "medium", "LOW", "informational", "UnSpecified", "unknown"};
    const char *sev[] = {"8", "5", "3", "1", NULL, NULL};
    for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++) {
        struct json_object *rec = json_object_new_object();
        json_object_object_add(rec, "severity", json_object_new_string(text[i]));
        struct dfw_event ev;
        make_event(&ev, "graph-alerts", rec, "a", NULL);
        struct dfw_buf out = DFW_BUF_INIT;
        struct leef_parsed p;
        render_parse(&ev, &out, &p);
        if (sev[i] == NULL) {
            assert_null(leef_value(&p, "sev")); /* LEEF sev is 1-10: no number for unknown */
        }
        else {
            assert_string_equal(leef_value(&p, "sev"), sev[i]);
        }
        assert_string_equal(leef_value(&p, "severity"), text[i]);
        dfw_buf_free(&out);
        json_object_put(rec);
    }
}

/* ---- character rules and injection -------------------------------------------------------- */

static void header_rules(void **state)
{
    (void)state;
    struct json_object *rec =
        json_tokener_parse("{\"detectorId\":\"x|y\\tz\\r\\nw\\\\v=u\\u0085t\",\"title\":\"T\"}");
    struct dfw_event ev;
    make_event(&ev, "mde-alerts", rec, "1", NULL);
    struct dfw_buf out = DFW_BUF_INIT;
    struct leef_parsed p;
    render_parse(&ev, &out, &p);
    assert_string_equal(p.hdr[4], "x y z  w\\v=u t");
    assert_true(strncmp(out.data,
                        "LEEF:2.0|Microsoft|Microsoft Defender ATP|2.0|x y z  w\\v=u t|x09|",
                        65) == 0);
    dfw_buf_free(&out);
    json_object_put(rec);

    /* a very long Event ID is cut at a character boundary */
    char id[400];
    for (size_t i = 0; i < sizeof(id) - 1; i++) {
        id[i] = i % 3 == 2 ? 'a' : "\xc3\xa9"[i % 3]; /* "éa" repeated */
    }
    id[sizeof(id) - 1] = '\0';
    rec = json_object_new_object();
    json_object_object_add(rec, "detectorId", json_object_new_string(id));
    make_event(&ev, "mde-alerts", rec, "1", NULL);
    render_parse(&ev, &out, &p);
    assert_true(strlen(p.hdr[4]) <= DFW_LEEF_EVENTID_MAX);
    assert_true(strlen(p.hdr[4]) >= DFW_LEEF_EVENTID_MAX - 2);
    dfw_buf_free(&out);
    json_object_put(rec);
}

static void value_rules(void **state)
{
    (void)state;
    struct json_object *rec = json_tokener_parse(
        "{\"title\":\"a=b\\\\c|d^e\\tf\\r\\ng\\u0001h\\u0085i\\u007fj\",\"evidence\":[{"
        "\"entityType\":\"File\",\"fileName\":\"x=y\",\"filePath\":\"C:\\\\dir\\\\\"}]}");
    struct dfw_event ev;
    make_event(&ev, "mde-alerts", rec, "1", NULL);
    struct dfw_buf out = DFW_BUF_INIT;
    struct leef_parsed p;
    render_parse(&ev, &out, &p);
    /* no escapes in LEEF: '=', '\', '|' and '^' stay; TAB, CR, LF are blanks; controls go */
    assert_string_equal(leef_value(&p, "title"), "a=b\\c|d^e f  ghij");
    assert_string_equal(leef_value(&p, "resource"), "x=y");
    assert_string_equal(leef_value(&p, "filePath"), "C:\\dir\\");
    dfw_buf_free(&out);
    json_object_put(rec);
}

/* Alert text controlled by an attacker (a custom detection's title, a file name, a URL) must not
 * add attributes, header fields, syslog messages or lines. */
static void injection_stays_one_attribute(void **state)
{
    (void)state;
    const char *title = "Evil\tsrc=6.6.6.6\tsev=10\r\n<13>1 2024-01-01T00:00:00Z h a - - - "
                        "LEEF:2.0|Fake|x|1|y|x09|sev=10\tusrName=root";
    const char *want = "Evil src=6.6.6.6 sev=10  <13>1 2024-01-01T00:00:00Z h a - - - "
                       "LEEF:2.0|Fake|x|1|y|x09|sev=10 usrName=root";
    struct json_object *rec = json_object_new_object();
    json_object_object_add(rec, "title", json_object_new_string(title));
    json_object_object_add(rec, "severity", json_object_new_string("Low"));
    json_object_object_add(rec, "detectorId", json_object_new_string("d|LEEF:2.0|x\ny"));
    struct json_object *evid = json_object_new_array();
    struct json_object *file = json_object_new_object();
    json_object_object_add(file, "entityType", json_object_new_string("File"));
    json_object_object_add(file, "fileName", json_object_new_string("a.exe\tdst=6.6.6.6"));
    json_object_array_add(evid, file);
    struct json_object *u = json_object_new_object();
    json_object_object_add(u, "entityType", json_object_new_string("Url"));
    json_object_object_add(u, "url", json_object_new_string("http://x/?a=b\ncat=fake"));
    json_object_array_add(evid, u);
    json_object_object_add(rec, "evidence", evid);
    struct dfw_event ev;
    make_event(&ev, "mde-alerts", rec, "da1_2", "2024-05-01T10:00:00Z");
    ev.tenant = "contoso\tsev=1";
    struct dfw_buf out = DFW_BUF_INIT;
    struct leef_parsed p;
    render_parse(&ev, &out, &p); /* also asserts: no control characters, unique keys */
    assert_null(memchr(out.data, '\n', out.len));
    assert_null(memchr(out.data, '\r', out.len));
    assert_string_equal(p.hdr[4], "d LEEF:2.0 x y");
    assert_string_equal(leef_value(&p, "title"), want);
    assert_string_equal(leef_value(&p, "sev"), "3");
    assert_string_equal(leef_value(&p, "resource"), "a.exe dst=6.6.6.6");
    assert_string_equal(leef_value(&p, "url"), "http://x/?a=b cat=fake");
    assert_string_equal(leef_value(&p, "tenant"), "contoso sev=1");
    char keys[1024];
    leef_keys(&p, keys, sizeof(keys));
    assert_string_equal(keys, "devTime devTimeFormat sev externalId title severity resource url "
                              "tenant tenantId eventKind link");
    dfw_buf_free(&out);
    json_object_put(rec);
}

/* Every byte value in a title leaves the structure alone. */
static void every_byte_in_a_title(void **state)
{
    (void)state;
    for (int c = 1; c < 256; c++) {
        char title[8] = {'a', (char)c, 's', 'r', 'c', '=', 'x', '\0'};
        struct json_object *rec = json_object_new_object();
        json_object_object_add(rec, "title", json_object_new_string(title));
        struct dfw_event ev;
        make_event(&ev, "graph-alerts", rec, "g", "2024-05-01T10:00:00Z");
        struct dfw_buf out = DFW_BUF_INIT;
        struct leef_parsed p;
        render_parse(&ev, &out, &p);
        assert_null(leef_value(&p, "src"));
        assert_non_null(leef_value(&p, "title"));
        assert_int_equal(p.nkeys, 8); /* devTime devTimeFormat externalId title tenant ... link */
        dfw_buf_free(&out);
        json_object_put(rec);
    }
}

static void invalid_utf8_replaced(void **state)
{
    (void)state;
    struct json_object *rec = json_object_new_object();
    json_object_object_add(rec, "title", json_object_new_string_len("a\xff\xc3(b\xe2\x82", 7));
    json_object_object_add(rec, "category", json_object_new_string_len("\xed\xa0\x80x\xc3\xa9", 6));
    struct dfw_event ev;
    make_event(&ev, "mde-alerts", rec, "1", NULL);
    struct dfw_buf out = DFW_BUF_INIT;
    struct leef_parsed p;
    render_parse(&ev, &out, &p);
    assert_string_equal(leef_value(&p, "title"), "a?"
                                                 "?(b?"
                                                 "?");
    assert_string_equal(leef_value(&p, "cat"), "?"
                                               "?"
                                               "?x\xc3\xa9");
    dfw_buf_free(&out);
    json_object_put(rec);
}

/* ---- missing, null and mistyped fields ---------------------------------------------------- */

static void line_keys(const char *line, size_t len, char *out, size_t outlen)
{
    struct leef_parsed p;
    assert_int_equal(leef_parse(line, len, &p), 0);
    leef_keys(&p, out, outlen);
}

static void missing_null_and_mistyped_fields(void **state)
{
    (void)state;
    check_awkward_records(dfw_leef_format, line_keys,
                          "devTime devTimeFormat externalId title tenant tenantId eventKind link");
    /* no id anywhere: neither externalId nor a link */
    char got[1024];
    keys_of("mde-alerts", "{}", NULL, dfw_leef_format, line_keys, got, sizeof(got));
    assert_string_equal(got, "devTime devTimeFormat title tenant tenantId eventKind");

    /* no update time: neither devTime nor its format */
    struct dfw_event ev;
    make_event(&ev, "m365d-incidents", NULL, "42", NULL);
    struct dfw_buf out = DFW_BUF_INIT;
    assert_int_equal(dfw_leef_format(&ev, 0, &out), DFW_OK);
    assert_string_equal(out.data, "LEEF:2.0|Microsoft|Microsoft Defender XDR|1.0|incident|x09|"
                                  "externalId=42\ttitle=Microsoft Defender XDR incident\t"
                                  "tenant=contoso\ttenantId=a839b112-1253-6432-9bf6-94542403f21c\t"
                                  "eventKind=new\tlink=https://security.microsoft.com/incidents/"
                                  "42?tid=a839b112-1253-6432-9bf6-94542403f21c");
    dfw_buf_free(&out);
}

/* ---- fitting into a size limit ------------------------------------------------------------ */

static void check_fitted(const struct dfw_event *ev, size_t limit, const struct dfw_buf *full)
{
    struct dfw_buf out = DFW_BUF_INIT;
    struct leef_parsed p, pf;
    assert_int_equal(dfw_leef_format(ev, limit, &out), DFW_OK);
    assert_true(out.len <= limit);
    assert_true(utf8_valid((const unsigned char *)out.data, out.len));
    assert_int_equal(leef_parse(out.data, out.len, &p), 0);
    assert_int_equal(leef_parse(full->data, full->len, &pf), 0);
    if (limit >= full->len) {
        assert_string_equal(out.data, full->data);
        dfw_buf_free(&out);
        return;
    }
    const char *hdr_end = strstr(full->data, "|x09|") + 5;
    size_t hlen = (size_t)(hdr_end - full->data);
    assert_memory_equal(out.data, full->data, hlen); /* header untouched */
    assert_string_equal(leef_value(&p, "truncated"), "1");
    assert_string_equal(p.keys[p.nkeys - 1], "truncated");
    /* devTime never without its format */
    assert_true(leef_value(&p, "devTime") == NULL || leef_value(&p, "devTimeFormat") != NULL);
    /* nothing dropped would still have fitted; every value kept is a prefix of the full one */
    for (size_t j = 0; j < pf.nkeys; j++) {
        const char *kept = leef_value(&p, pf.keys[j]);
        if (kept == NULL) {
            size_t cost = 1 + strlen(pf.keys[j]) + 1 + strlen(pf.val[j]);
            if (out.len + cost <= limit) {
                fail_msg("limit %zu: %s (%zu bytes) was dropped but fits in %zu", limit, pf.keys[j],
                         cost, limit - out.len);
            }
            continue;
        }
        assert_true(strncmp(pf.val[j], kept, strlen(kept)) == 0);
    }
    dfw_buf_free(&out);
}

static void size_limit(void **state)
{
    (void)state;
    struct json_object *rec = big_record();
    struct dfw_event ev;
    make_event(&ev, "mde-alerts", rec, "da637472900382838869_1364969609", "2024-05-01T10:00:00Z");
    struct dfw_buf full = DFW_BUF_INIT;
    assert_int_equal(dfw_leef_format(&ev, 0, &full), DFW_OK);
    assert_true(full.len > 10000);
    assert_null(strstr(full.data, "truncated"));
    const size_t limits[] = {full.len + 1, full.len, full.len - 1, 9000, 4096, 2048,
                             1500,         1024,     700,          400,  250,  200};
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        check_fitted(&ev, limits[i], &full);
    }
    for (size_t lim = 1000; lim < 1100; lim++) { /* around multi-byte characters */
        check_fitted(&ev, lim, &full);
    }
    /* too small for any line: refused, output unchanged */
    struct dfw_buf out = DFW_BUF_INIT;
    assert_int_equal(dfw_leef_format(&ev, 60, &out), DFW_ERR_INVALID);
    assert_int_equal(out.len, 0);
    dfw_buf_free(&out);
    dfw_buf_free(&full);
    json_object_put(rec);
}

/* ---- the outputs -------------------------------------------------------------------------- */

static void syslog_format_leef(void **state)
{
    (void)state;
    const struct dfw_output_plugin *pl = dfw_output_find(dfw_output_registry, "syslog");
    const char *kv[] = {"format=leef", "hostname=h.example", "app_name=dfw", NULL};
    void *conf = syslog_conf(kv);
    assert_non_null(conf);
    struct json_object *rec = load_json("mde-alert.json");
    struct dfw_event ev;
    make_event(&ev, "mde-alerts", rec, "da637472900382838869_1364969609", "2021-01-26T20:33:59.2Z");
    struct dfw_buf out = DFW_BUF_INIT, line = DFW_BUF_INIT;
    assert_int_equal(pl->format(conf, &ev, &out), DFW_OK);
    assert_true(strncmp(out.data, "<164>1 ", 7) == 0); /* local4.warning: Low */
    const char *leef = strstr(out.data, " mde-alerts - LEEF:2.0|Microsoft|");
    assert_non_null(leef);
    assert_int_equal(dfw_leef_format(&ev, 0, &line), DFW_OK);
    assert_string_equal(leef + strlen(" mde-alerts - "), line.data);
    dfw_buf_free(&out);
    dfw_output_conf_free(pl, conf);
    json_object_put(rec);

    /* UDP: the whole message stays within max_message_size */
    const char *kv_udp[] = {"format=leef", "transport=udp", "max_message_size=1024", NULL};
    conf = syslog_conf(kv_udp);
    assert_non_null(conf);
    rec = big_record();
    make_event(&ev, "mde-alerts", rec, "big-1", "2024-05-01T10:00:00Z");
    assert_int_equal(pl->format(conf, &ev, &out), DFW_OK);
    assert_true(out.len <= 1024);
    leef = strstr(out.data, "LEEF:2.0|");
    assert_non_null(leef);
    struct leef_parsed p;
    assert_int_equal(leef_parse(leef, out.len - (size_t)(leef - out.data), &p), 0);
    assert_string_equal(leef_value(&p, "truncated"), "1");
    assert_string_equal(leef_value(&p, "externalId"), "big-1");
    dfw_buf_free(&out);
    dfw_buf_free(&line);
    dfw_output_conf_free(pl, conf);
    json_object_put(rec);
}

static void kafka_value_leef(void **state)
{
    (void)state;
    struct json_object *rec = big_record();
    struct dfw_event ev;
    make_event(&ev, "mde-alerts", rec, "big-1", "2024-05-01T10:00:00Z");
    struct dfw_buf scratch = DFW_BUF_INIT, want = DFW_BUF_INIT;
    const char *value;
    size_t len;
    assert_int_equal(dfw_out_kafka_value(DFW_KAFKA_FMT_LEEF, &ev, &scratch, &value, &len), DFW_OK);
    assert_int_equal(dfw_leef_format(&ev, 0, &want), DFW_OK);
    assert_int_equal(len, want.len); /* never cut */
    assert_memory_equal(value, want.data, len);
    dfw_buf_free(&scratch);
    dfw_buf_free(&want);
    json_object_put(rec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(golden_files),
        cmocka_unit_test(mapping_per_shape),
        cmocka_unit_test(device_address),
        cmocka_unit_test(severity_numbers),
        cmocka_unit_test(header_rules),
        cmocka_unit_test(value_rules),
        cmocka_unit_test(injection_stays_one_attribute),
        cmocka_unit_test(every_byte_in_a_title),
        cmocka_unit_test(invalid_utf8_replaced),
        cmocka_unit_test(missing_null_and_mistyped_fields),
        cmocka_unit_test(size_limit),
        cmocka_unit_test(syslog_format_leef),
        cmocka_unit_test(kafka_value_leef),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
