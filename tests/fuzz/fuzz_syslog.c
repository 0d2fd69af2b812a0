/* Syslog framing: RFC 5424 and RFC 3164 headers (dfw_out_syslog_header), RFC 6587 framing
 * (dfw_out_syslog_frame), and whole messages from the syslog output's format() for CEF and JSON
 * bodies over TCP and UDP.
 * Invariants: the header follows the RFC grammar field by field (PRI = facility * 8 + severity,
 * VERSION 1, TIMESTAMP, then HOSTNAME APP-NAME PROCID MSGID of PRINTUSASCII cut to 255/48/128/32
 * bytes, "-" when empty, and the "-" of no STRUCTURED-DATA; RFC 3164 "Mmm dd hh:mm:ss HOST
 * TAG: "); octet counting puts the exact byte length first, non-transparent framing ends in the
 * message's only LF; a formatted message is one line, its body a valid CEF line (cef_check.h) or
 * strict JSON, and over UDP at most max_message_size bytes. */
#include "cef_check.h"

#include <json-c/json.h>

#include "dfw/config.h"
#include "dfw/json_check.h"
#include "dfw/output.h"
#include "dfw/timeutil.h"
#include "dfw/utf8.h"
#include "registry.h"
#include "syslog_conf.h"
#include "syslog_frame.h"

/* What the header makes of a field: up to the first NUL, cut, bytes outside 33-126 as '_'. */
static size_t expect_field(const char *s, size_t max, char *out)
{
    size_t n = 0;
    for (; s[n] != '\0' && n < max; n++) {
        unsigned char c = (unsigned char)s[n];
        out[n] = (c < 33 || c > 126) ? '_' : (char)c;
    }
    if (n == 0) {
        out[n++] = '-';
    }
    out[n] = '\0';
    return n;
}

/* Compare the next field of the header at *p with what s should give, then the separator. */
static void next_field(const char **p, const char *s, size_t max, const char *sep, const char *what)
{
    char want[300];
    size_t n = expect_field(s, max, want);
    FUZZ_CHECK(strncmp(*p, want, n) == 0 && strncmp(*p + n, sep, strlen(sep)) == 0,
               "%s: header has '%.40s', expected '%s' then '%s'", what, *p, want, sep);
    *p += n + strlen(sep);
}

static void check_header(struct fuzz_in *in)
{
    struct dfw_syslog_header h;
    memset(&h, 0, sizeof(h));
    unsigned o = fuzz_byte(in);
    h.protocol = o & 1 ? DFW_SYSLOG_RFC3164 : DFW_SYSLOG_RFC5424;
    h.facility = (int)fuzz_byte(in) % 40 - 8;
    h.severity = (int)fuzz_byte(in) % 16 - 4;
    uint64_t t = 0;
    for (int i = 0; i < 8; i++) {
        t = t << 8 | fuzz_byte(in);
    }
    h.time_ms = (o & 2) ? (int64_t)t : (int64_t)(t % 253402300800000ULL);
    char *host = fuzz_field(in, NULL), *app = fuzz_field(in, NULL), *procid = fuzz_field(in, NULL);
    char *msgid = fuzz_field(in, NULL);
    size_t msglen;
    char *msg = fuzz_field(in, &msglen);
    h.hostname = host;
    h.app_name = app;
    h.procid = (o & 4) ? NULL : procid;
    h.msgid = msgid;
    struct dfw_buf out = DFW_BUF_INIT;
    FUZZ_CHECK(dfw_out_syslog_header(&h, &out) == DFW_OK, "header failed");
    int f = h.facility < 0 ? 0 : h.facility > 23 ? 23 : h.facility;
    int s = h.severity < 0 ? 0 : h.severity > 7 ? 7 : h.severity;
    char pri[16];
    int k = snprintf(pri, sizeof(pri), "<%d>", f * 8 + s);
    const char *p = out.data;
    FUZZ_CHECK(strncmp(p, pri, (size_t)k) == 0, "PRI: '%.8s', expected %s", p, pri);
    p += k;
    if (h.protocol == DFW_SYSLOG_RFC5424) {
        FUZZ_CHECK(strncmp(p, "1 ", 2) == 0, "VERSION");
        p += 2;
        char ts[DFW_TIME_LEN];
        dfw_time_format(h.time_ms, ts, sizeof(ts));
        const char *want = ts[0] == '+' || ts[0] == '-' ? "-" : ts;
        FUZZ_CHECK(strncmp(p, want, strlen(want)) == 0 && p[strlen(want)] == ' ', "TIMESTAMP");
        p += strlen(want) + 1;
        next_field(&p, host, 255, " ", "HOSTNAME");
        next_field(&p, app, 48, " ", "APP-NAME");
        next_field(&p, h.procid ? procid : "", 128, " ", "PROCID");
        next_field(&p, msgid, 32, " - ", "MSGID");
    }
    else {
        static const char *const months = "JanFebMarAprMayJunJulAugSepOctNovDec";
        FUZZ_CHECK(strlen(p) > 16 && strstr(months, (char[4]){p[0], p[1], p[2], 0}) != NULL &&
                       (strstr(months, (char[4]){p[0], p[1], p[2], 0}) - months) % 3 == 0 &&
                       p[3] == ' ' && (p[4] == ' ' || (p[4] >= '1' && p[4] <= '3')) &&
                       p[5] >= '0' && p[5] <= '9' && p[6] == ' ' && p[9] == ':' && p[12] == ':' &&
                       p[15] == ' ',
                   "RFC 3164 TIMESTAMP '%.16s'", p);
        p += 16;
        next_field(&p, host, 255, " ", "HOSTNAME");
        next_field(&p, app, 48, ": ", "TAG");
    }
    FUZZ_CHECK(*p == '\0', "text after the header");
    /* framing */
    struct dfw_buf fr = DFW_BUF_INIT;
    FUZZ_CHECK(dfw_out_syslog_frame(DFW_SYSLOG_OCTET_COUNTING, msg, msglen, &fr) == DFW_OK,
               "frame");
    char lenbuf[32];
    int l = snprintf(lenbuf, sizeof(lenbuf), "%zu ", msglen);
    FUZZ_CHECK(fr.len == (size_t)l + msglen && memcmp(fr.data, lenbuf, (size_t)l) == 0 &&
                   memcmp(fr.data + l, msg, msglen) == 0,
               "octet count is not the byte length");
    dfw_buf_reset(&fr);
    FUZZ_CHECK(dfw_out_syslog_frame(DFW_SYSLOG_NON_TRANSPARENT, msg, msglen, &fr) == DFW_OK, "nt");
    FUZZ_CHECK(fr.len == msglen + 1 && fr.data[msglen] == '\n', "non-transparent frame");
    dfw_buf_free(&fr);
    dfw_buf_free(&out);
    free(host);
    free(app);
    free(procid);
    free(msgid);
    free(msg);
}

static void *
make_conf(const char *format, const char *protocol, const char *transport, const char *size)
{
    const struct dfw_output_plugin *p = dfw_output_find(dfw_output_registry, "syslog");
    char *keys[] = {"format", "protocol", "transport", "max_message_size", "hostname"};
    char *vals[] = {(char *)(uintptr_t)format, (char *)(uintptr_t)protocol,
                    (char *)(uintptr_t)transport, (char *)(uintptr_t)size, "fuzz.example"};
    struct dfw_config_kv kvs[5];
    for (int i = 0; i < 5; i++) {
        kvs[i] = (struct dfw_config_kv){keys[i], vals[i], "fuzz.conf", i + 1};
    }
    void *conf = NULL;
    char err[256];
    FUZZ_CHECK(dfw_output_conf_parse(p, kvs, 5, &conf, err, sizeof(err)) == DFW_OK, "conf: %s",
               err);
    return conf;
}

static void check_message(struct fuzz_in *in)
{
    static void *confs[8];
    static const char *const sizes[4] = {"1024", "1400", "2048", "65000"};
    const struct dfw_output_plugin *p = dfw_output_find(dfw_output_registry, "syslog");
    unsigned o = fuzz_byte(in);
    unsigned ci = o & 7;
    if (confs[ci] == NULL) {
        confs[ci] = make_conf(ci & 1 ? "json" : "cef", ci & 2 ? "rfc3164" : "rfc5424",
                              ci & 4 ? "udp" : "tcp", sizes[(ci >> 1) & 3]);
    }
    const struct dfw_out_syslog_conf *c = confs[ci];
    size_t idlen;
    char *id = fuzz_field(in, &idlen);
    if (idlen == 0 || idlen >= 128 || strlen(id) != idlen || !dfw_utf8_valid(id, idlen)) {
        /* what dfw_stream_row_key hands on: 1-127 bytes of UTF-8 from a strict page */
        free(id);
        id = strdup("da637551227677560813_-961444813");
    }
    char *page = fuzz_cstr(in->p, in->n);
    /* the record as the page parser hands it on: strict JSON only */
    char why[128];
    struct json_object *rec = NULL;
    if (dfw_json_check(page, in->n, why, sizeof(why)) == DFW_OK) {
        rec = json_tokener_parse(page);
    }
    if (rec == NULL) {
        rec = json_object_new_object();
    }
    struct dfw_event ev = {.tenant = "contoso",
                           .tenant_id = "a839b112-1253-6432-9bf6-94542403f21c",
                           .stream = "mde-alerts",
                           .kind = DFW_EVENT_NEW,
                           .id = id,
                           .updated = "2024-03-01T10:00:00.123Z",
                           .updated_ms = 1709287200123LL,
                           .record = rec};
    struct dfw_buf out = DFW_BUF_INIT;
    dfw_err rc = p->format(c, &ev, &out);
    FUZZ_CHECK(rc == DFW_OK, "format failed: %d", rc);
    FUZZ_CHECK(memchr(out.data, '\n', out.len) == NULL && memchr(out.data, '\r', out.len) == NULL,
               "a message with a line break");
    if (c->transport == DFW_SYSLOG_UDP) {
        FUZZ_CHECK(out.len <= (size_t)c->max_message_size, "%zu bytes > max_message_size %lld",
                   out.len, (long long)c->max_message_size);
    }
    /* the body starts after the header: after " - " (5424) or ": " (3164) */
    const char *body =
        c->protocol == DFW_SYSLOG_RFC5424 ? strstr(out.data, " - ") : strstr(out.data, ": ");
    FUZZ_CHECK(body != NULL, "no header end");
    body += c->protocol == DFW_SYSLOG_RFC5424 ? 3 : 2;
    size_t blen = out.len - (size_t)(body - out.data);
    if (c->format == DFW_SYSLOG_FMT_JSON) {
        FUZZ_CHECK(dfw_json_check(body, blen, why, sizeof(why)) == DFW_OK, "JSON body (%s)", why);
    }
    else {
        struct cef_line cl;
        cef_parse(body, blen, &cl);
        cef_free(&cl);
    }
    dfw_buf_free(&out);
    json_object_put(rec);
    free(page);
    free(id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    if (fuzz_byte(&in) & 1) {
        check_message(&in);
    }
    else {
        check_header(&in);
    }
    return 0;
}
