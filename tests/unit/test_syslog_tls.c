/* The syslog output over TLS against an OpenSSL server thread on 127.0.0.1, with a CA and
 * certificates made by the openssl command at test time: delivery with a verified peer (name and
 * IP), refusal of a wrong name, an unknown CA and the system store, client certificates. The
 * tests are skipped when the openssl command is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "dfw/config.h"
#include "dfw/event.h"
#include "dfw/output.h"
#include "registry.h"

static char dir[64]; /* temporary directory with the PEM files, "" when openssl is missing */
static int acks;

static void on_ack(void *ctx, uint64_t seq, dfw_err result)
{
    (void)ctx;
    (void)seq;
    assert_int_equal(result, DFW_OK);
    acks++;
}

static int run(const char *cmd)
{
    char full[2048];
    snprintf(full, sizeof(full), "cd %s && %s >/dev/null 2>&1", dir, cmd);
    return system(full);
}

static int write_file(const char *name, const char *text)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    fputs(text, f);
    return fclose(f);
}

#define EC "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"

static int make_pki(void)
{
    snprintf(dir, sizeof(dir), "/tmp/dfw-tls-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    const char *cmds[] = {
        "openssl req -x509 " EC " -keyout ca.key -out ca.pem -days 2 -subj /CN=dfw-test-ca "
        "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign",
        "openssl req -x509 " EC " -keyout other.key -out other.pem -days 2 -subj /CN=other-ca "
        "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign",
        "openssl req -new " EC " -keyout srv.key -out srv.csr -subj /CN=localhost",
        "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem "
        "-days 2 -extfile srv.ext",
        "openssl req -new " EC " -keyout cli.key -out cli.csr -subj /CN=dfw-client",
        "openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cli.pem "
        "-days 2 -extfile cli.ext",
        "chmod 600 cli.key",
    };
    if (write_file("srv.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                              "extendedKeyUsage=serverAuth\n") != 0 ||
        write_file("cli.ext", "extendedKeyUsage=clientAuth\n") != 0) {
        return -1;
    }
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (run(cmds[i]) != 0) {
            return -1;
        }
    }
    return 0;
}

static int setup_all(void **state)
{
    (void)state;
    if (system("openssl version >/dev/null 2>&1") != 0 || make_pki() != 0) {
        fprintf(stderr, "openssl command unavailable: TLS tests skipped\n");
        dir[0] = '\0';
    }
    return 0;
}

static int teardown_all(void **state)
{
    (void)state;
    if (dir[0] != '\0') {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0) {
            fprintf(stderr, "could not remove %s\n", dir);
        }
    }
    return 0;
}

/* ---- a one-connection TLS server ---------------------------------------------------------- */

struct server {
    int lfd;
    int port;
    int want_client_cert;
    SSL_CTX *ctx;
    pthread_t th;
    int handshake_ok;
    char peer_cn[128];
    char buf[1 << 16];
    size_t n;
};

static void *server_main(void *arg)
{
    struct server *s = arg;
    /* the test server writes with OpenSSL's own socket BIO: keep a SIGPIPE here pending instead
     * of fatal, so only a SIGPIPE raised by the output under test fails the run */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    struct pollfd p = {s->lfd, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) {
        return NULL;
    }
    int c = accept(s->lfd, NULL, NULL);
    if (c < 0) {
        return NULL;
    }
    struct timeval tv = {5, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    SSL *ssl = SSL_new(s->ctx);
    SSL_set_fd(ssl, c);
    if (SSL_accept(ssl) == 1) {
        s->handshake_ok = 1;
        X509 *peer = SSL_get1_peer_certificate(ssl);
        if (peer != NULL) {
            X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, s->peer_cn,
                                      sizeof(s->peer_cn));
            X509_free(peer);
        }
        int r;
        while (s->n < sizeof(s->buf) - 1 &&
               (r = SSL_read(ssl, s->buf + s->n, (int)(sizeof(s->buf) - 1 - s->n))) > 0) {
            s->n += (size_t)r;
        }
        SSL_shutdown(ssl);
    }
    s->buf[s->n] = '\0';
    SSL_free(ssl);
    close(c);
    ERR_clear_error();
    return NULL;
}

static void server_start(struct server *s, int want_client_cert)
{
    char path[128], key[128];
    memset(s, 0, sizeof(*s));
    s->ctx = SSL_CTX_new(TLS_server_method());
    snprintf(path, sizeof(path), "%s/srv.pem", dir);
    snprintf(key, sizeof(key), "%s/srv.key", dir);
    assert_int_equal(SSL_CTX_use_certificate_chain_file(s->ctx, path), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(s->ctx, key, SSL_FILETYPE_PEM), 1);
    if (want_client_cert) {
        snprintf(path, sizeof(path), "%s/ca.pem", dir);
        assert_int_equal(SSL_CTX_load_verify_locations(s->ctx, path, NULL), 1);
        SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->lfd, 4), 0);
    socklen_t len = sizeof(a);
    getsockname(s->lfd, (struct sockaddr *)&a, &len);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->th, NULL, server_main, s), 0);
}

static void server_join(struct server *s)
{
    pthread_join(s->th, NULL);
    close(s->lfd);
    SSL_CTX_free(s->ctx);
}

/* ---- the client side ---------------------------------------------------------------------- */

/* Create an output with the given options plus host/port; submit one event; destroy the output
 * (closing the connection so the server thread ends). Returns the submit result. */
static dfw_err send_one(struct server *s, const char *host, const char *const *extra)
{
    const struct dfw_output_plugin *p = dfw_output_find(dfw_output_registry, "syslog");
    struct dfw_config_kv kvs[16];
    char buf[16][2][256];
    size_t n = 0;
    snprintf(buf[n][0], 256, "transport");
    snprintf(buf[n++][1], 256, "tls");
    snprintf(buf[n][0], 256, "host");
    snprintf(buf[n++][1], 256, "%s", host);
    snprintf(buf[n][0], 256, "port");
    snprintf(buf[n++][1], 256, "%d", s->port);
    snprintf(buf[n][0], 256, "write_timeout");
    snprintf(buf[n++][1], 256, "3s");
    for (size_t i = 0; extra[i] != NULL; i++, n++) {
        const char *eq = strchr(extra[i], '=');
        snprintf(buf[n][0], 256, "%.*s", (int)(eq - extra[i]), extra[i]);
        if (strcmp(buf[n][0], "tls_server_name") == 0) {
            snprintf(buf[n][1], 256, "%s", eq + 1);
        }
        else { /* file names are relative to the PKI directory */
            snprintf(buf[n][1], 256, "%s/%s", dir, eq + 1);
        }
    }
    for (size_t i = 0; i < n; i++) {
        kvs[i] = (struct dfw_config_kv){buf[i][0], buf[i][1], "tls.conf", (int)i + 1};
    }
    void *conf;
    char err[512];
    assert_int_equal(dfw_output_conf_parse(p, kvs, n, &conf, err, sizeof(err)), DFW_OK);
    void *self = p->init(conf, "siem-tls", err, sizeof(err));
    if (self == NULL) {
        fprintf(stderr, "init: %s\n", err);
    }
    assert_non_null(self);
    struct json_object *rec =
        json_tokener_parse("{\"title\":\"TLS test\",\"severity\":\"Medium\"}");
    struct dfw_event ev = {"contoso",
                           "tid",
                           "graph-alerts",
                           DFW_EVENT_NEW,
                           "tls-1",
                           1714557600000,
                           "2024-05-01T10:00:00Z",
                           rec,
                           0,
                           0,
                           NULL,
                           0,
                           NULL,
                           NULL};
    struct dfw_batch b = {&ev, 1, 1, NULL};
    acks = 0;
    dfw_err r = p->submit(self, &b, on_ack, NULL);
    p->destroy(self);
    dfw_output_conf_free(p, conf);
    json_object_put(rec);
    return r;
}

static void tls_verified_by_name(void **state)
{
    (void)state;
    if (dir[0] == '\0') {
        skip();
    }
    struct server s;
    server_start(&s, 0);
    const char *extra[] = {"ca_file=ca.pem", NULL};
    assert_int_equal(send_one(&s, "localhost", extra), DFW_OK);
    assert_int_equal(acks, 1);
    server_join(&s);
    assert_true(s.handshake_ok);
    assert_true(s.n > 0);
    char *sp = strchr(s.buf, ' ');
    assert_non_null(sp);
    assert_int_equal(strtoul(s.buf, NULL, 10), s.n - (size_t)(sp + 1 - s.buf)); /* octet count */
    assert_true(strncmp(sp + 1, "<163>1 ", 7) == 0);                            /* local4.err */
    assert_non_null(strstr(s.buf, "CEF:0|Microsoft|Microsoft Graph Security|1.0|"));
}

static void tls_verified_by_ip(void **state)
{
    (void)state;
    if (dir[0] == '\0') {
        skip();
    }
    struct server s;
    server_start(&s, 0);
    const char *extra[] = {"ca_file=ca.pem", NULL};
    assert_int_equal(send_one(&s, "127.0.0.1", extra), DFW_OK);
    server_join(&s);
    assert_non_null(strstr(s.buf, "externalId=tls-1 "));
}

static void tls_wrong_name_refused(void **state)
{
    (void)state;
    if (dir[0] == '\0') {
        skip();
    }
    struct server s;
    server_start(&s, 0);
    const char *extra[] = {"ca_file=ca.pem", "tls_server_name=syslog.example.org", NULL};
    assert_int_equal(send_one(&s, "127.0.0.1", extra), DFW_ERR_RETRY);
    assert_int_equal(acks, 0);
    server_join(&s);
    assert_int_equal(s.n, 0);
}

static void tls_wrong_ip_refused(void **state)
{
    (void)state;
    if (dir[0] == '\0') {
        skip();
    }
    struct server s;
    server_start(&s, 0);
    const char *extra[] = {"ca_file=ca.pem", "tls_server_name=127.0.0.2", NULL};
    assert_int_equal(send_one(&s, "127.0.0.1", extra), DFW_ERR_RETRY);
    server_join(&s);
    assert_int_equal(s.n, 0);
}

static void tls_unknown_ca_refused(void **state)
{
    (void)state;
    if (dir[0] == '\0') {
        skip();
    }
    struct server s;
    server_start(&s, 0);
    const char *extra[] = {"ca_file=other.pem", NULL};
    assert_int_equal(send_one(&s, "localhost", extra), DFW_ERR_RETRY);
    server_join(&s);
    assert_int_equal(s.n, 0);

    /* no ca_file: the system store does not know the test CA either */
    server_start(&s, 0);
    const char *none[] = {NULL};
    assert_int_equal(send_one(&s, "localhost", none), DFW_ERR_RETRY);
    server_join(&s);
    assert_int_equal(s.n, 0);
}

static void tls_client_certificate(void **state)
{
    (void)state;
    if (dir[0] == '\0') {
        skip();
    }
    struct server s;
    server_start(&s, 1);
    const char *extra[] = {"ca_file=ca.pem", "cert_file=cli.pem", "key_file=cli.key", NULL};
    assert_int_equal(send_one(&s, "localhost", extra), DFW_OK);
    server_join(&s);
    assert_string_equal(s.peer_cn, "dfw-client");
    assert_true(s.n > 0);

    /* without one the server refuses */
    server_start(&s, 1);
    const char *nocert[] = {"ca_file=ca.pem", NULL};
    send_one(&s, "localhost", nocert);
    server_join(&s);
    assert_int_equal(s.n, 0);
}

static void tls_key_file_permissions(void **state)
{
    (void)state;
    if (dir[0] == '\0') {
        skip();
    }
    char key[128];
    snprintf(key, sizeof(key), "%s/cli.key", dir);
    assert_int_equal(chmod(key, 0644), 0);
    const struct dfw_output_plugin *p = dfw_output_find(dfw_output_registry, "syslog");
    char cert[128];
    snprintf(cert, sizeof(cert), "%s/cli.pem", dir);
    struct dfw_config_kv kvs[] = {{"transport", "tls", "t.conf", 1},
                                  {"cert_file", cert, "t.conf", 2},
                                  {"key_file", key, "t.conf", 3}};
    void *conf;
    char err[512];
    assert_int_equal(dfw_output_conf_parse(p, kvs, 3, &conf, err, sizeof(err)), DFW_OK);
    assert_null(p->init(conf, "siem-tls", err, sizeof(err)));
    assert_non_null(strstr(err, "output siem-tls: key_file"));
    assert_non_null(strstr(err, "group or others"));
    dfw_output_conf_free(p, conf);
    assert_int_equal(chmod(key, 0600), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tls_verified_by_name),     cmocka_unit_test(tls_verified_by_ip),
        cmocka_unit_test(tls_wrong_name_refused),   cmocka_unit_test(tls_wrong_ip_refused),
        cmocka_unit_test(tls_unknown_ca_refused),   cmocka_unit_test(tls_client_certificate),
        cmocka_unit_test(tls_key_file_permissions),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
