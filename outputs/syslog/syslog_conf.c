/* Option table and validation of the syslog output. docs/cef-mapping.md describes the output. */
#include "syslog_conf.h"
#include "dfw/secret.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define OPT(name, type, def, field, values, help)                                                  \
    {                                                                                              \
        name, type, def, offsetof(struct dfw_out_syslog_conf, field), values, 0, help              \
    }

const struct dfw_option dfw_out_syslog_options[] = {
    OPT("host", DFW_OPT_STRING, "127.0.0.1", host, NULL, "syslog receiver host name or address"),
    OPT("port", DFW_OPT_INT, NULL, port, NULL, "receiver port (default 514, 6514 for tls)"),
    OPT("transport", DFW_OPT_ENUM, "tcp", transport, "tcp|udp|tls", "tcp, udp or tls"),
    OPT("framing",
        DFW_OPT_ENUM,
        "octet-counting",
        framing,
        "octet-counting|non-transparent",
        "TCP/TLS framing: octet-counting (RFC 6587) or non-transparent (LF)"),
    OPT("protocol", DFW_OPT_ENUM, "rfc5424", protocol, "rfc5424|rfc3164", "syslog header format"),
    OPT("format",
        DFW_OPT_ENUM,
        "cef",
        format,
        "cef|json|leef",
        "message body: CEF, the record JSON, or LEEF 2.0 (QRadar)"),
    OPT("facility",
        DFW_OPT_STRING,
        "local4",
        facility,
        NULL,
        "syslog facility: name (local0-local7, user, ...) or number 0-23"),
    OPT("app_name",
        DFW_OPT_STRING,
        "defender-forwarder",
        app_name,
        NULL,
        "APP-NAME (RFC 5424) or TAG (RFC 3164)"),
    OPT("hostname",
        DFW_OPT_STRING,
        NULL,
        hostname,
        NULL,
        "HOSTNAME in the syslog header (default: this machine's host name)"),
    OPT("ca_file",
        DFW_OPT_STRING,
        NULL,
        ca_file,
        NULL,
        "TLS: CA certificates (PEM) to verify the receiver (default: system store)"),
    OPT("cert_file", DFW_OPT_STRING, NULL, cert_file, NULL, "TLS: client certificate chain (PEM)"),
    OPT("key_file",
        DFW_OPT_STRING,
        NULL,
        key_file,
        NULL,
        "TLS: client private key (PEM, mode 0600 or stricter)"),
    OPT("key_credential",
        DFW_OPT_STRING,
        NULL,
        key_credential,
        NULL,
        "TLS: the client private key as a systemd credential ($CREDENTIALS_DIRECTORY/NAME)"),
    OPT("tls_server_name",
        DFW_OPT_STRING,
        NULL,
        tls_server_name,
        NULL,
        "TLS: name or IP address the certificate must match (default: host)"),
    OPT("max_message_size",
        DFW_OPT_SIZE,
        "2048",
        max_message_size,
        NULL,
        "UDP: largest datagram; longer CEF/LEEF messages are truncated (1024-65000)"),
    OPT("write_timeout",
        DFW_OPT_DURATION,
        "10s",
        write_timeout_ms,
        NULL,
        "connect, TLS handshake and write timeout"),
    OPT("reconnect_min",
        DFW_OPT_DURATION,
        "1s",
        reconnect_min_ms,
        NULL,
        "first reconnect delay after a failure"),
    OPT("reconnect_max",
        DFW_OPT_DURATION,
        "60s",
        reconnect_max_ms,
        NULL,
        "longest reconnect delay (exponential backoff with jitter)"),
    {NULL, 0, NULL, 0, NULL, 0, NULL},
};

static const char *const facility_names[24] = {
    "kern",   "user",   "mail",     "daemon", "auth",   "syslog", "lpr",    "news",
    "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "audit",  "alert",  "clock",
    "local0", "local1", "local2",   "local3", "local4", "local5", "local6", "local7",
};

int dfw_out_syslog_facility_parse(const char *s)
{
    if (s == NULL || *s == '\0') {
        return -1;
    }
    if (isdigit((unsigned char)s[0])) {
        char *end;
        long v = strtol(s, &end, 10);
        return (*end == '\0' && v >= 0 && v <= 23) ? (int)v : -1;
    }
    for (int i = 0; i < 24; i++) {
        if (strcasecmp(s, facility_names[i]) == 0) {
            return i;
        }
    }
    if (strcasecmp(s, "security") == 0) {
        return 4; /* the traditional alias of auth */
    }
    return -1;
}

/* RFC 5424 PRINTUSASCII (33-126), at most max bytes, not empty. */
static int printusascii(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126) {
            return 0;
        }
    }
    return 1;
}

/* The machine's host name made safe for the HOSTNAME field: anything outside 33-126 becomes '_'. */
static void local_hostname(char *out, size_t outlen)
{
    char name[256];
    if (gethostname(name, sizeof(name)) != 0 || name[0] == '\0') {
        snprintf(out, outlen, "-");
        return;
    }
    name[sizeof(name) - 1] = '\0';
    for (char *p = name; *p; p++) {
        if ((unsigned char)*p < 33 || (unsigned char)*p > 126) {
            *p = '_';
        }
    }
    snprintf(out, outlen, "%s", name);
}

/* The client key's path into s->key_path: key_file, or the credential's file. A private key is a
 * secret: refuse one other users could read (DESIGN §9). */
static dfw_err key_path(const struct dfw_out_syslog_conf *c,
                        struct dfw_out_syslog_settings *s,
                        char *errbuf,
                        size_t errlen)
{
    const char *opt = c->key_file ? "key_file" : "key_credential";
    char why[512];
    int n;
    if (c->key_file != NULL) {
        n = snprintf(s->key_path, sizeof(s->key_path), "%s", c->key_file);
    }
    else {
        const char *dir = getenv("CREDENTIALS_DIRECTORY");
        if (c->key_credential[0] == '\0' || strchr(c->key_credential, '/') != NULL) {
            return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen,
                              "key_credential: '%s' is not a credential name", c->key_credential);
        }
        if (dir == NULL || dir[0] == '\0') {
            return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen,
                              "key_credential '%s': $CREDENTIALS_DIRECTORY is not set (start the "
                              "service with LoadCredential=%s:/path/to/key or use key_file)",
                              c->key_credential, c->key_credential);
        }
        n = snprintf(s->key_path, sizeof(s->key_path), "%s/%s", dir, c->key_credential);
    }
    if (n < 0 || (size_t)n >= sizeof(s->key_path)) {
        return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen, "%s: path too long", opt);
    }
    if (dfw_secret_check_file(s->key_path, why, sizeof(why)) != DFW_OK) {
        return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen, "%s: %s", opt, why);
    }
    return DFW_OK;
}

dfw_err dfw_out_syslog_conf_derive(const struct dfw_out_syslog_conf *c,
                                   struct dfw_out_syslog_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->port = (int)c->port;
    if (s->port == 0) {
        s->port = c->transport == DFW_SYSLOG_TLS ? 6514 : 514;
    }
    if (c->hostname != NULL) {
        snprintf(s->hostname, sizeof(s->hostname), "%s", c->hostname);
    }
    else {
        local_hostname(s->hostname, sizeof(s->hostname));
    }
    snprintf(s->procid, sizeof(s->procid), "%ld", (long)getpid());
    s->facility = dfw_out_syslog_facility_parse(c->facility);
    return s->facility < 0 ? DFW_ERR_CONFIG : DFW_OK;
}

dfw_err dfw_out_syslog_conf_check(const struct dfw_out_syslog_conf *c,
                                  struct dfw_out_syslog_settings *s,
                                  char *errbuf,
                                  size_t errlen)
{
    if (dfw_out_syslog_conf_derive(c, s) != DFW_OK) {
        return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen,
                          "facility '%s': expected a name such as local4 or 0-23",
                          c->facility ? c->facility : "");
    }
    if (c->host == NULL || c->host[0] == '\0') {
        return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen, "host must not be empty");
    }
    if (c->port < 0 || c->port > 65535) {
        return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen, "port must be between 1 and 65535");
    }
    /* RFC 5424 §6.2.5: APP-NAME is 1*48PRINTUSASCII; HOSTNAME 1*255PRINTUSASCII */
    if (c->app_name == NULL || !printusascii(c->app_name, 48)) {
        return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen,
                          "app_name must be 1-48 printable ASCII characters, no spaces");
    }
    if (c->hostname != NULL && !printusascii(c->hostname, 255)) {
        return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen,
                          "hostname must be 1-255 printable ASCII characters, no spaces");
    }
    if (c->max_message_size < DFW_SYSLOG_MSG_MIN || c->max_message_size > DFW_SYSLOG_MSG_MAX) {
        return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen,
                          "max_message_size must be between 1024 and 65000 bytes");
    }
    if (c->write_timeout_ms <= 0) {
        return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen, "write_timeout must be greater than 0");
    }
    if (c->reconnect_min_ms <= 0 || c->reconnect_max_ms < c->reconnect_min_ms) {
        return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen,
                          "reconnect_min must be > 0 and <= reconnect_max");
    }
    if (c->transport != DFW_SYSLOG_TLS) {
        /* a TLS option on a plain transport means the operator expects encryption: refuse */
        const char *tls_only = c->ca_file           ? "ca_file"
                               : c->cert_file       ? "cert_file"
                               : c->key_file        ? "key_file"
                               : c->key_credential  ? "key_credential"
                               : c->tls_server_name ? "tls_server_name"
                                                    : NULL;
        if (tls_only != NULL) {
            return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen,
                              "%s is only valid with transport = tls", tls_only);
        }
        return DFW_OK;
    }
    if (c->key_file != NULL && c->key_credential != NULL) {
        return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen,
                          "key_file and key_credential: give one of them, not both");
    }
    if ((c->cert_file == NULL) != (c->key_file == NULL && c->key_credential == NULL)) {
        return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen,
                          "cert_file and key_file (or key_credential) must be given together");
    }
    if (c->cert_file != NULL) {
        return key_path(c, s, errbuf, errlen);
    }
    return DFW_OK;
}
