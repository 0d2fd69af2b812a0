/* The syslog output's options ([output NAME] type = syslog) and their validation. */
#ifndef DFW_OUT_SYSLOG_CONF_H
#define DFW_OUT_SYSLOG_CONF_H

#include <stddef.h>
#include "dfw/err.h"
#include "dfw/output.h"

/* Enum values follow the order of the option table's "values" strings. */
enum dfw_syslog_transport_kind { DFW_SYSLOG_TCP = 0, DFW_SYSLOG_UDP = 1, DFW_SYSLOG_TLS = 2 };
enum dfw_syslog_framing { DFW_SYSLOG_OCTET_COUNTING = 0, DFW_SYSLOG_NON_TRANSPARENT = 1 };
enum dfw_syslog_protocol { DFW_SYSLOG_RFC5424 = 0, DFW_SYSLOG_RFC3164 = 1 };
enum dfw_syslog_format { DFW_SYSLOG_FMT_CEF = 0, DFW_SYSLOG_FMT_JSON = 1, DFW_SYSLOG_FMT_LEEF = 2 };

/* Smallest and largest accepted max_message_size: 1024 is the RFC 3164 limit and leaves room for
 * the longest syslog and CEF header we write; 65000 stays under the IPv4 UDP payload limit. */
#define DFW_SYSLOG_MSG_MIN 1024
#define DFW_SYSLOG_MSG_MAX 65000

/* Filled by dfw_output_conf_parse from dfw_out_syslog_options; strings are owned by the conf. */
struct dfw_out_syslog_conf {
    char *host;
    long long port;             /* 0: 514, or 6514 with transport = tls */
    int transport;              /* enum dfw_syslog_transport_kind */
    int framing;                /* enum dfw_syslog_framing (TCP and TLS) */
    int protocol;               /* enum dfw_syslog_protocol */
    int format;                 /* enum dfw_syslog_format */
    char *facility;             /* name ("local4") or number 0-23 */
    char *app_name;             /* APP-NAME (RFC 5424) or TAG (RFC 3164) */
    char *hostname;             /* NULL: gethostname() */
    char *ca_file;              /* NULL: the system's default CA store */
    char *cert_file;            /* client certificate chain (PEM), optional */
    char *key_file;             /* client private key (PEM), with cert_file */
    char *key_credential;       /* or: the systemd credential holding it */
    char *tls_server_name;      /* NULL: host */
    long long max_message_size; /* bytes, UDP only */
    long long write_timeout_ms; /* connect, TLS handshake and each write without progress */
    long long reconnect_min_ms; /* first reconnect delay */
    long long reconnect_max_ms; /* longest reconnect delay */
};

/* The option table (NULL-name terminated). */
extern const struct dfw_option dfw_out_syslog_options[];

/* Values derived from a conf once it is known to be valid. */
struct dfw_out_syslog_settings {
    int facility;        /* 0..23 */
    int port;            /* 1..65535 */
    char hostname[256];  /* printable ASCII, no spaces; "-" when unknown */
    char procid[24];     /* decimal pid */
    char key_path[4096]; /* the client key's file: key_file or
                            $CREDENTIALS_DIRECTORY/<key_credential>; empty without a client
                            certificate */
};

/* Fill *s from c without checking anything but the facility (DFW_ERR_CONFIG when invalid). No
 * I/O: reads the host name and the pid. */
dfw_err dfw_out_syslog_conf_derive(const struct dfw_out_syslog_conf *c,
                                   struct dfw_out_syslog_settings *s);

/* Check a conf (ranges, combinations, file permissions) and fill *s. DFW_ERR_CONFIG with a message
 * naming the option in errbuf when something is wrong. Reads the host name, the pid and
 * $CREDENTIALS_DIRECTORY but does no other I/O (the key file is only stat()ed). */
dfw_err dfw_out_syslog_conf_check(const struct dfw_out_syslog_conf *c,
                                  struct dfw_out_syslog_settings *s,
                                  char *errbuf,
                                  size_t errlen);

/* A facility name (kern, user, ..., local0-local7) or number 0-23. Returns 0..23, or -1. */
int dfw_out_syslog_facility_parse(const char *s);

#endif
