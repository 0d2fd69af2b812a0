/* `authorize TENANT [--port N] [--no-browser] [--timeout DURATION]`: the MSSP delegated sign-in
 * (dfw/authorize.h). The URL goes to stdout (flushed at once, for scripts); the rest to stderr. */
#include "cli.h"
#include "dfw/authorize.h"
#include "dfw/permission.h"
#include "dfw/stream.h"
#include "dfw/timeutil.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_PORT       8400
#define DEFAULT_TIMEOUT_MS (5 * 60 * 1000)
#define PASTE_MAX          16384

static int usage(void)
{
    fprintf(stderr, "usage: defender-forwarder authorize TENANT [--port N] [--no-browser] "
                    "[--timeout DURATION]\n");
    return EXIT_USAGE;
}

/* One line from fd within timeout_ms into buf (NUL-terminated, without the newline). Returns its
 * length, 0 at end of input with nothing read, -1 on timeout or error. */
static ssize_t read_line(int fd, char *buf, size_t cap, int64_t timeout_ms)
{
    size_t n = 0;
    int64_t until = dfw_mono_ms() + timeout_ms;
    while (n + 1 < cap) {
        int64_t left = until - dfw_mono_ms();
        struct pollfd p = {fd, POLLIN, 0};
        int r = left > 0 ? poll(&p, 1, (int)(left > 60000 ? 60000 : left)) : 0;
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 || (r == 0 && dfw_mono_ms() >= until)) {
            return -1;
        }
        if (r == 0) {
            continue;
        }
        ssize_t got = read(fd, buf + n, 1);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0 || buf[n] == '\n') {
            break;
        }
        n += (size_t)got;
    }
    buf[n] = '\0';
    return (ssize_t)n;
}

/* What the stored token grants, per stream of the signed-in resource. */
static void print_grant(const struct dfw_config *cfg,
                        const char *tenant,
                        const char *resource,
                        const struct dfw_claims *c)
{
    const struct dfw_tenant_conf *t = dfw_config_tenant(cfg, tenant);
    fprintf(stderr, "signed in: %s token for tenant %s%s%s\n",
            dfw_token_kind_name(dfw_claims_kind(c)), c->tid ? c->tid : "-", c->upn ? ", user " : "",
            c->upn ? c->upn : "");
    fprintf(stderr, "  scp:");
    for (size_t i = 0; i < c->nscopes; i++) {
        fprintf(stderr, " %s", c->scopes[i]);
    }
    fprintf(stderr, "%s\n", c->nscopes ? "" : " (none)");
    const struct dfw_cloud *cloud = dfw_cloud_find(t->cloud ? t->cloud : "global");
    for (size_t s = 0; s < t->nstreams; s++) {
        const struct dfw_stream_def *d = dfw_stream_find(t->streams[s]);
        if (d == NULL || strcmp(dfw_stream_resource(d, cloud), resource) != 0) {
            continue;
        }
        const char *missing = dfw_claims_missing_permission(c, d->role, d->role_alt, d->scopes);
        if (missing == NULL) {
            fprintf(stderr, "  stream %s: OK\n", d->name);
        }
        else {
            fprintf(stderr,
                    "  stream %s: MISSING delegated permission %s: add it to the app "
                    "registration and grant admin consent\n",
                    d->name, missing);
        }
    }
}

int cmd_authorize(const struct dfw_config *cfg, int argc, char **argv)
{
    const char *tenant = NULL;
    struct dfw_authorize_opts opts = {DEFAULT_PORT, 1};
    int64_t timeout_ms = DEFAULT_TIMEOUT_MS;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--no-browser") == 0) {
            opts.listen = 0;
        }
        else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            char *end = NULL;
            long p = strtol(argv[++i], &end, 10);
            if (end == argv[i] || *end != '\0' || p < 0 || p > 65535) {
                fprintf(stderr, "defender-forwarder: authorize: --port %s is not 0..65535\n",
                        argv[i]);
                return EXIT_USAGE;
            }
            opts.port = (int)p;
        }
        else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            if (dfw_duration_parse(argv[++i], &timeout_ms) != DFW_OK || timeout_ms <= 0 ||
                timeout_ms > 24LL * 3600 * 1000) {
                fprintf(stderr,
                        "defender-forwarder: authorize: --timeout %s is not a duration such as "
                        "90s or 10m (at most 24h)\n",
                        argv[i]);
                return EXIT_USAGE;
            }
        }
        else if (argv[i][0] == '-' || tenant != NULL) {
            fprintf(stderr, "defender-forwarder: authorize: unknown argument %s\n", argv[i]);
            return usage();
        }
        else {
            tenant = argv[i];
        }
    }
    if (tenant == NULL) {
        return usage();
    }
    if (!opts.listen && opts.port == 0) {
        opts.port = DEFAULT_PORT; /* the pasted URL must name a port the app accepts */
    }
    char err[1024] = "";
    dfw_err rc = DFW_OK;
    struct dfw_authorize *a = dfw_authorize_new(cfg, tenant, &opts, &rc, err, sizeof(err));
    if (a == NULL) {
        fprintf(stderr, "defender-forwarder: %s\n", err);
        return rc == DFW_ERR_NOTFOUND || rc == DFW_ERR_CONFIG ? EXIT_USAGE : EXIT_RUNTIME;
    }
    const struct dfw_tenant_conf *t = dfw_config_tenant(cfg, tenant);
    if (dfw_authorize_preflight(a, err, sizeof(err)) != DFW_OK) {
        fprintf(stderr, "defender-forwarder: %s\n", err);
        dfw_authorize_free(a);
        return EXIT_RUNTIME;
    }
    fprintf(stderr,
            "tenant %s (%s), application %s: sign in as an administrator of the tenant.\n"
            "Open this URL in a browser:\n",
            t->name, t->tenant_id, t->client_id);
    printf("%s\n", dfw_authorize_url(a));
    fflush(stdout);
    struct dfw_authcode_result res;
    memset(&res, 0, sizeof(res));
    if (opts.listen) {
        fprintf(stderr,
                "Waiting up to %lld s for the redirect to %s (listening on 127.0.0.1) ...\n",
                (long long)(timeout_ms / 1000), dfw_authorize_redirect_uri(a));
        rc = dfw_authorize_wait(a, timeout_ms, &res, err, sizeof(err));
    }
    else {
        fprintf(stderr,
                "After the sign-in the browser goes to %s?code=... (that page may not load: "
                "that is expected).\nPaste the whole address from the browser's address bar "
                "here and press Enter:\n",
                dfw_authorize_redirect_uri(a));
        char *line = malloc(PASTE_MAX);
        ssize_t n = line ? read_line(STDIN_FILENO, line, PASTE_MAX, timeout_ms) : -1;
        if (n < 0) {
            rc = dfw_errorf(DFW_ERR_RETRY, err, sizeof(err),
                            "nothing pasted within %lld s: run `defender-forwarder authorize %s "
                            "--no-browser` again",
                            (long long)(timeout_ms / 1000), tenant);
        }
        else if (n == 0) {
            rc = dfw_errorf(DFW_ERR_INVALID, err, sizeof(err),
                            "sign-in cancelled (nothing pasted): run `defender-forwarder "
                            "authorize %s --no-browser` again",
                            tenant);
        }
        else {
            rc = dfw_authorize_submit(a, line, &res);
        }
        if (line != NULL) {
            memset(line, 0, PASTE_MAX);
            free(line);
        }
    }
    if (rc == DFW_OK && res.outcome != DFW_AUTHCODE_CODE) {
        rc = dfw_errorf(DFW_ERR_AUTH, err, sizeof(err), "tenant %s: %s", tenant, res.message);
    }
    if (rc == DFW_OK) {
        fprintf(stderr, "redeeming the authorization code ...\n");
        rc = dfw_authorize_redeem(a, res.code, err, sizeof(err));
    }
    dfw_authcode_result_clear(&res);
    if (rc != DFW_OK) {
        fprintf(stderr, "defender-forwarder: %s\n", err);
        dfw_authorize_free(a);
        return EXIT_RUNTIME;
    }
    print_grant(cfg, tenant, dfw_authorize_resource(a), dfw_authorize_claims(a));
    fprintf(stderr,
            "refresh token stored in %s (mode 0600); it is rotated on every use.\n"
            "The service must be able to read and rewrite that file (see "
            "docs/mssp-onboarding.md for systemd).\n"
            "Next: defender-forwarder token %s   (checks every stream's permission)\n",
            t->refresh_token_file, tenant);
    dfw_authorize_free(a);
    return EXIT_OK;
}
