/* The syslog output's options: defaults, facility names, and the errors init reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dfw/config.h"
#include "dfw/output.h"
#include "registry.h"
#include "syslog_conf.h"

static const struct dfw_output_plugin *plugin(void)
{
    const struct dfw_output_plugin *p = dfw_output_find(dfw_output_registry, "syslog");
    assert_non_null(p);
    return p;
}

/* Parse "key=value" strings; returns the dfw_output_conf_parse result, *conf on success. */
static dfw_err
parse(const char *const *kv, struct dfw_out_syslog_conf **conf, char *err, size_t len)
{
    struct dfw_config_kv kvs[16];
    char buf[16][2][256];
    size_t n = 0;
    for (; kv[n] != NULL; n++) {
        const char *eq = strchr(kv[n], '=');
        snprintf(buf[n][0], sizeof(buf[n][0]), "%.*s", (int)(eq - kv[n]), kv[n]);
        snprintf(buf[n][1], sizeof(buf[n][1]), "%s", eq + 1);
        kvs[n] = (struct dfw_config_kv){buf[n][0], buf[n][1], "syslog.conf", (int)n + 1};
    }
    void *c = NULL;
    dfw_err r = dfw_output_conf_parse(plugin(), kvs, n, &c, err, len);
    *conf = c;
    return r;
}

/* init with these options: NULL on success (instance destroyed), else the error text. */
static char init_err[512];

static const char *init_error(const char *const *kv)
{
    struct dfw_out_syslog_conf *c;
    assert_int_equal(parse(kv, &c, init_err, sizeof(init_err)), DFW_OK);
    void *self = plugin()->init(c, "siem", init_err, sizeof(init_err));
    plugin()->destroy(self);
    dfw_output_conf_free(plugin(), c);
    return self == NULL ? init_err : NULL;
}

static void defaults(void **state)
{
    (void)state;
    const char *none[] = {NULL};
    struct dfw_out_syslog_conf *c;
    char err[256];
    assert_int_equal(parse(none, &c, err, sizeof(err)), DFW_OK);
    assert_string_equal(c->host, "127.0.0.1");
    assert_int_equal(c->port, 0);
    assert_int_equal(c->transport, DFW_SYSLOG_TCP);
    assert_int_equal(c->framing, DFW_SYSLOG_OCTET_COUNTING);
    assert_int_equal(c->protocol, DFW_SYSLOG_RFC5424);
    assert_int_equal(c->format, DFW_SYSLOG_FMT_CEF);
    assert_string_equal(c->facility, "local4");
    assert_string_equal(c->app_name, "defender-forwarder");
    assert_null(c->hostname);
    assert_null(c->ca_file);
    assert_null(c->cert_file);
    assert_null(c->key_file);
    assert_null(c->tls_server_name);
    assert_int_equal(c->max_message_size, 2048);
    assert_int_equal(c->write_timeout_ms, 10000);
    assert_int_equal(c->reconnect_min_ms, 1000);
    assert_int_equal(c->reconnect_max_ms, 60000);

    struct dfw_out_syslog_settings s;
    assert_int_equal(dfw_out_syslog_conf_check(c, &s, err, sizeof(err)), DFW_OK);
    assert_int_equal(s.port, 514);
    assert_int_equal(s.facility, 20);
    char host[256];
    gethostname(host, sizeof(host));
    host[255] = '\0';
    if (strchr(host, ' ') == NULL && host[0] != '\0') {
        assert_string_equal(s.hostname, host);
    }
    c->transport = DFW_SYSLOG_TLS;
    assert_int_equal(dfw_out_syslog_conf_check(c, &s, err, sizeof(err)), DFW_OK);
    assert_int_equal(s.port, 6514);
    dfw_output_conf_free(plugin(), c);

    const char *set[] = {"transport=udp",       "port=5514",        "framing=non-transparent",
                         "protocol=rfc3164",    "format=json",      "max_message_size=8k",
                         "write_timeout=250ms", "reconnect_max=2m", NULL};
    assert_int_equal(parse(set, &c, err, sizeof(err)), DFW_OK);
    assert_int_equal(c->transport, DFW_SYSLOG_UDP);
    assert_int_equal(c->port, 5514);
    assert_int_equal(c->framing, DFW_SYSLOG_NON_TRANSPARENT);
    assert_int_equal(c->protocol, DFW_SYSLOG_RFC3164);
    assert_int_equal(c->format, DFW_SYSLOG_FMT_JSON);
    assert_int_equal(c->max_message_size, 8192);
    assert_int_equal(c->write_timeout_ms, 250);
    assert_int_equal(c->reconnect_max_ms, 120000);
    dfw_output_conf_free(plugin(), c);
}

static void table_rejects_unknown_and_bad_values(void **state)
{
    (void)state;
    struct dfw_out_syslog_conf *c;
    char err[256];
    const char *unknown[] = {"hots=x", NULL};
    assert_int_equal(parse(unknown, &c, err, sizeof(err)), DFW_ERR_CONFIG);
    assert_non_null(strstr(err, "unknown key 'hots'"));
    const char *bad_enum[] = {"transport=sctp", NULL};
    assert_int_equal(parse(bad_enum, &c, err, sizeof(err)), DFW_ERR_CONFIG);
    assert_non_null(strstr(err, "tcp|udp|tls"));
    const char *bad_dur[] = {"write_timeout=soon", NULL};
    assert_int_equal(parse(bad_dur, &c, err, sizeof(err)), DFW_ERR_CONFIG);
    const char *verify[] = {"tls_verify=no", NULL}; /* there is no way to turn verification off */
    assert_int_equal(parse(verify, &c, err, sizeof(err)), DFW_ERR_CONFIG);
}

static void facility_names(void **state)
{
    (void)state;
    assert_int_equal(dfw_out_syslog_facility_parse("kern"), 0);
    assert_int_equal(dfw_out_syslog_facility_parse("user"), 1);
    assert_int_equal(dfw_out_syslog_facility_parse("auth"), 4);
    assert_int_equal(dfw_out_syslog_facility_parse("security"), 4);
    assert_int_equal(dfw_out_syslog_facility_parse("authpriv"), 10);
    assert_int_equal(dfw_out_syslog_facility_parse("local0"), 16);
    assert_int_equal(dfw_out_syslog_facility_parse("LOCAL4"), 20);
    assert_int_equal(dfw_out_syslog_facility_parse("local7"), 23);
    assert_int_equal(dfw_out_syslog_facility_parse("0"), 0);
    assert_int_equal(dfw_out_syslog_facility_parse("23"), 23);
    assert_int_equal(dfw_out_syslog_facility_parse("24"), -1);
    assert_int_equal(dfw_out_syslog_facility_parse("-1"), -1);
    assert_int_equal(dfw_out_syslog_facility_parse("4x"), -1);
    assert_int_equal(dfw_out_syslog_facility_parse("local8"), -1);
    assert_int_equal(dfw_out_syslog_facility_parse(""), -1);
    assert_int_equal(dfw_out_syslog_facility_parse(NULL), -1);
}

static void init_validates(void **state)
{
    (void)state;
    const char *ok[] = {"port=1", NULL}; /* init does not connect */
    assert_null(init_error(ok));

    struct {
        const char *kv[4];
        const char *msg;
    } cases[] = {
        {{"facility=local9", NULL}, "facility 'local9'"},
        {{"max_message_size=512", NULL}, "max_message_size"},
        {{"max_message_size=1m", NULL}, "max_message_size"},
        {{"write_timeout=0s", NULL}, "write_timeout"},
        {{"reconnect_min=10s", "reconnect_max=5s", NULL}, "reconnect_min"},
        {{"app_name=defender forwarder", NULL}, "app_name"},
        {{"hostname=my host", NULL}, "hostname"},
        {{"port=70000", NULL}, "port"},
        {{"host=", NULL}, "host"},
        {{"ca_file=/etc/ssl/certs/ca-certificates.crt", NULL}, "ca_file is only valid with "},
        {{"tls_server_name=x", "transport=udp", NULL}, "tls_server_name is only valid"},
        {{"transport=tls", "cert_file=/nonexistent.pem", NULL}, "cert_file and key_file"},
        {{"transport=tls", "ca_file=/nonexistent/ca.pem", NULL}, "cannot load ca_file"},
        {{"transport=tls", "cert_file=/x.pem", "key_file=/nonexistent.key"}, "key_file"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *e = init_error(cases[i].kv);
        if (e == NULL || strstr(e, cases[i].msg) == NULL || strncmp(e, "output siem: ", 13) != 0) {
            fail_msg("case %zu: expected \"%s\", got \"%s\"", i, cases[i].msg, e ? e : "(ok)");
        }
    }
}

static void key_file_must_be_private(void **state)
{
    (void)state;
    char key[] = "/tmp/dfw-key-XXXXXX";
    int fd = mkstemp(key);
    assert_true(fd >= 0);
    close(fd);
    char kv_key[64];
    snprintf(kv_key, sizeof(kv_key), "key_file=%s", key);
    const char *kv[] = {"transport=tls", "cert_file=/nonexistent.pem", kv_key, NULL};
    assert_int_equal(chmod(key, 0640), 0);
    const char *e = init_error(kv);
    assert_non_null(e);
    assert_non_null(strstr(e, "readable by group or others"));
    assert_int_equal(chmod(key, 0600), 0);
    e = init_error(kv); /* permissions fine: now the certificate is what fails */
    assert_non_null(e);
    assert_non_null(strstr(e, "cannot load cert_file"));
    unlink(key);
}

/* key_credential: the key is $CREDENTIALS_DIRECTORY/NAME (systemd LoadCredential=), checked as
 * key_file is. */
static void key_credential(void **state)
{
    (void)state;
    char dir[] = "/tmp/dfw-creds-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char key[128];
    snprintf(key, sizeof(key), "%s/siem.key", dir);
    FILE *f = fopen(key, "w");
    assert_non_null(f);
    fclose(f);
    const char *kv[] = {"transport=tls", "cert_file=/nonexistent.pem", "key_credential=siem.key",
                        NULL};
    unsetenv("CREDENTIALS_DIRECTORY");
    const char *e = init_error(kv);
    assert_non_null(e);
    assert_non_null(strstr(e, "key_credential 'siem.key': $CREDENTIALS_DIRECTORY is not set"));
    setenv("CREDENTIALS_DIRECTORY", dir, 1);
    assert_int_equal(chmod(key, 0644), 0);
    e = init_error(kv);
    assert_non_null(e);
    assert_non_null(strstr(e, "key_credential: "));
    assert_non_null(strstr(e, "readable by group or others"));
    assert_int_equal(chmod(key, 0400), 0);
    e = init_error(kv); /* the credential is fine: now the certificate is what fails */
    assert_non_null(e);
    assert_non_null(strstr(e, "cannot load cert_file"));
    const char *both[] = {"transport=tls", "cert_file=/x.pem", "key_file=/x.key",
                          "key_credential=siem.key", NULL};
    e = init_error(both);
    assert_non_null(e);
    assert_non_null(strstr(e, "give one of them"));
    const char *slash[] = {"transport=tls", "cert_file=/x.pem", "key_credential=../siem.key", NULL};
    e = init_error(slash);
    assert_non_null(e);
    assert_non_null(strstr(e, "not a credential name"));
    const char *plain[] = {"key_credential=siem.key", NULL};
    e = init_error(plain);
    assert_non_null(e);
    assert_non_null(strstr(e, "key_credential is only valid with transport = tls"));
    unsetenv("CREDENTIALS_DIRECTORY");
    unlink(key);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(table_rejects_unknown_and_bad_values),
        cmocka_unit_test(facility_names),
        cmocka_unit_test(init_validates),
        cmocka_unit_test(key_file_must_be_private),
        cmocka_unit_test(key_credential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
