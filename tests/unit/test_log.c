/* Log lines cannot be forged: a value from outside (tenant, alert title, id, API error text)
 * written with DFW_LOG_VAL or DFW_LOG_ESC can neither end its value, add a key nor start a line,
 * and it reads back unchanged; dfw_log itself never writes a control character or invalid UTF-8
 * raw. Property test over random values from a hostile alphabet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dfw/log.h"
#include "dfw/utf8.h"

/* stderr goes into a pipe while fn runs; the text written is returned (malloc'd). */
static char *capture(void (*fn)(void *), void *arg)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    fn(arg);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[1]);
    size_t cap = 65536, len = 0;
    char *out = malloc(cap);
    ssize_t n;
    while ((n = read(fds[0], out + len, cap - len - 1)) > 0) {
        len += (size_t)n;
    }
    close(fds[0]);
    out[len] = '\0';
    return out;
}

struct kv {
    char key[64];
    char value[4096];
    size_t vlen;
};

/* A logfmt reader: key=bare or key="escaped" pairs separated by one space; the escapes are those
 * of dfw_log_esc. Returns the number of pairs, or -1 when the text is not well-formed. */
static int parse_kv(const char *s, struct kv *out, int max)
{
    int n = 0;
    while (*s) {
        if (n == max) {
            return -1;
        }
        struct kv *p = &out[n++];
        size_t k = 0;
        while (*s && *s != '=' && *s != ' ' && *s != '"' && k + 1 < sizeof(p->key)) {
            p->key[k++] = *s++;
        }
        p->key[k] = '\0';
        if (k == 0 || *s++ != '=') {
            return -1;
        }
        p->vlen = 0;
        if (*s == '"') {
            s++;
            while (*s && *s != '"') {
                char c = *s++;
                if (c == '\\') {
                    char e = *s++;
                    if (e == 'x') {
                        unsigned v;
                        if (sscanf(s, "%2x", &v) != 1) {
                            return -1;
                        }
                        c = (char)v;
                        s += 2;
                    }
                    else if (e == 'n' || e == 'r' || e == 't' || e == '"' || e == '\\') {
                        c = e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e;
                    }
                    else {
                        return -1;
                    }
                }
                p->value[p->vlen++] = c;
            }
            if (*s++ != '"') {
                return -1;
            }
        }
        else {
            while (*s && *s != ' ') {
                if (*s == '"' || *s == '=') {
                    return -1;
                }
                p->value[p->vlen++] = *s++;
            }
        }
        p->value[p->vlen] = '\0';
        if (*s == ' ') {
            s++;
        }
        else if (*s != '\0') {
            return -1;
        }
    }
    return n;
}

struct args {
    const char *tenant, *id, *msg;
};

static void log_one(void *arg)
{
    const struct args *a = arg;
    dfw_log(DFW_LOG_WARN, "fetch", "tenant=%s id=%s msg=\"bad page: %s; retrying\"",
            DFW_LOG_VAL(a->tenant), DFW_LOG_VAL(a->id), DFW_LOG_ESC(a->msg));
}

/* The line (one, ending in LF) after the time stamp, split into pairs. */
static int read_line(const char *text, struct kv *kv, int max)
{
    const char *nl = strchr(text, '\n');
    assert_non_null(nl);
    assert_int_equal(nl[1], '\0'); /* exactly one line */
    size_t len = (size_t)(nl - text);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c == 0x7f) {
            fail_msg("control byte 0x%02x in: %s", c, text);
        }
    }
    assert_true(dfw_utf8_valid(text, len));
    char *body = strndup(text, len);
    char *sp = strchr(body, ' '); /* after the time stamp */
    assert_non_null(sp);
    int n = parse_kv(sp + 1, kv, max);
    free(body);
    return n;
}

static void forged_lines_and_keys(void **state)
{
    (void)state;
    struct args a = {"contoso\n2026-01-01T00:00:00.000Z level=error component=auth msg=\"forged\"",
                     "da637\" level=error forged=\"1", "\x1b[2J\x1b[31m\"oops\" \\ x=1\r\nnext"};
    char *text = capture(log_one, &a);
    struct kv kv[16];
    int n = read_line(text, kv, 16);
    assert_int_equal(n, 5);
    assert_string_equal(kv[0].key, "level");
    assert_string_equal(kv[0].value, "warn");
    assert_string_equal(kv[1].key, "component");
    assert_string_equal(kv[2].key, "tenant");
    assert_string_equal(kv[2].value, a.tenant);
    assert_string_equal(kv[3].key, "id");
    assert_string_equal(kv[3].value, a.id);
    assert_string_equal(kv[4].key, "msg");
    char want[512];
    snprintf(want, sizeof(want), "bad page: %s; retrying", a.msg);
    assert_string_equal(kv[4].value, want);
    free(text);
}

/* Plain names stay bare, so lines read as before: tenant=contoso. */
static void plain_values_stay_bare(void **state)
{
    (void)state;
    char buf[64];
    assert_string_equal(dfw_log_val("contoso", buf, sizeof(buf)), "contoso");
    assert_string_equal(dfw_log_val("da637551227677560813_-961444813", buf, sizeof(buf)),
                        "da637551227677560813_-961444813");
    assert_string_equal(dfw_log_val("/api/alerts", buf, sizeof(buf)), "/api/alerts");
    assert_string_equal(dfw_log_val("a b", buf, sizeof(buf)), "\"a b\"");
    assert_string_equal(dfw_log_val("", buf, sizeof(buf)), "\"\"");
    assert_string_equal(dfw_log_val(NULL, buf, sizeof(buf)), "-");
    assert_string_equal(dfw_log_esc("\xff\xc3\xa9\x01", buf, sizeof(buf)), "\\xff\xc3\xa9\\x01");
    /* cut at a character boundary, never inside an escape */
    char small[12];
    assert_string_equal(dfw_log_esc("abcdef\"hij", small, sizeof(small)), "abcdef\\\"...");
    assert_string_equal(dfw_log_esc("abcdefg\"hij", small, sizeof(small)), "abcdefg...");
    assert_string_equal(dfw_log_val("abcdefghijklmnop", small, sizeof(small)), "\"abcdef...\"");
    assert_string_equal(dfw_log_val("abc def ghi jkl", small, sizeof(small)), "\"abc de...\"");
}

/* Whatever a caller forgot to escape: no control byte or invalid UTF-8 reaches the line. */
static void log_raw(void *arg)
{
    dfw_log(DFW_LOG_ERROR, "test", "msg=%s", (const char *)arg);
}

static void raw_control_bytes_never_written(void **state)
{
    (void)state;
    char *text = capture(log_raw, "a\nb\rc\x1b[31m\x7f\xff\xc3");
    struct kv kv[4];
    assert_int_equal(read_line(text, kv, 4), 3);
    assert_non_null(strstr(text, "msg=a\\nb\\rc\\x1b[31m\\x7f\\xff\\xc3\n"));
    free(text);
}

/* Random values over the hostile alphabet read back unchanged and never add a key or a line. */
static void property_round_trip(void **state)
{
    (void)state;
    static const char *const atoms[] = {
        "|",      "=",        "\\",   "\r",   "\n",       "\"",           " ",
        "\t",     "\x1b[31m", "\x7f", "\xff", "\xc3\xa9", "\xe2\x80\xa8", "level=error",
        "msg=\"", "a",        "Z",    "9",    "\xc2\x85", "\x01"};
    srand(20261201);
    for (int round = 0; round < 2000; round++) {
        char v[3][100]; /* escaped at most 4 x 100 bytes: never cut */
        for (int k = 0; k < 3; k++) {
            size_t n = 0, parts = (size_t)(rand() % 12);
            v[k][0] = '\0';
            for (size_t i = 0; i < parts; i++) {
                const char *atom = atoms[rand() % (int)(sizeof(atoms) / sizeof(atoms[0]))];
                if (n + strlen(atom) + 1 < sizeof(v[k])) {
                    memcpy(v[k] + n, atom, strlen(atom) + 1);
                    n += strlen(atom);
                }
            }
        }
        struct args a = {v[0], v[1], v[2]};
        char *text = capture(log_one, &a);
        struct kv kv[16];
        int n = read_line(text, kv, 16);
        if (n != 5) {
            fail_msg("%d pairs in: %s", n, text);
        }
        assert_string_equal(kv[2].key, "tenant");
        assert_string_equal(kv[2].value, a.tenant);
        assert_string_equal(kv[3].value, a.id);
        char want[512];
        snprintf(want, sizeof(want), "bad page: %s; retrying", a.msg);
        assert_string_equal(kv[4].value, want);
        free(text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(forged_lines_and_keys),
        cmocka_unit_test(plain_values_stay_bare),
        cmocka_unit_test(raw_control_bytes_never_written),
        cmocka_unit_test(property_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
