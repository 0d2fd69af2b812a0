/* The embedding API's set-up and life cycle (dfw/embed.h) and configurations from a host's
 * key/values (dfw_config_from_settings). Delivery through a real daemon is tested by
 * tests/integration/test_syslog_ng_module.py and test_rsyslog_module.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dfw/config.h"
#include "dfw/embed.h"
#include "dfw/log.h"

static char dir[256];
static char secret[300];
static char state[300];

static int setup(void **st)
{
    (void)st;
    snprintf(dir, sizeof(dir), "/tmp/dfw-embed-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(secret, sizeof(secret), "%s/contoso.secret", dir);
    snprintf(state, sizeof(state), "%s/state", dir);
    int fd = open(secret, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cret\n", 7), 7);
    close(fd);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

#define TENANT "tenant contoso"
static struct dfw_config_setting good[] = {
    {"forwarder", "state_dir", state},
    {"forwarder", "poll_interval", "30s"},
    {TENANT, "tenant_id", "00000000-0000-0000-0000-000000000001"},
    {TENANT, "client_id", "11111111-1111-1111-1111-111111111111"},
    {TENANT, "client_secret_file", secret},
    {TENANT, "login_url", "https://127.0.0.1:1"},
    {TENANT, "defender_url", "https://127.0.0.1:1"},
    {TENANT, "graph_url", "https://127.0.0.1:1"},
    {TENANT, "streams", "graph-alerts, mde-alerts"},
};
#define NGOOD (sizeof(good) / sizeof(good[0]))

static dfw_err never_called(void *ctx, struct dfw_embed_batch *b)
{
    (void)ctx;
    (void)b;
    fail_msg("no batch can arrive from an unreachable API");
    return DFW_ERR_INVALID;
}

static struct dfw_embed_opts opts_with(const struct dfw_config_setting *s, size_t n)
{
    struct dfw_embed_opts o = {
        .settings = s,
        .nsettings = n,
        .settings_origin = "test setting",
        .format = DFW_EMBED_JSON,
        .host = {.name = "test-host", .submit = never_called},
    };
    return o;
}

static void settings_make_a_config(void **st)
{
    (void)st;
    char err[512];
    struct dfw_config *cfg =
        dfw_config_from_settings(good, NGOOD, "x", DFW_CONFIG_NO_OUTPUTS, err, sizeof(err));
    assert_non_null(cfg);
    assert_int_equal(cfg->ntenants, 1);
    assert_string_equal(cfg->tenants[0].name, "contoso");
    assert_int_equal(cfg->tenants[0].nstreams, 2);
    assert_int_equal(cfg->poll_interval_ms, 30000);
    assert_string_equal(cfg->state_dir, state);
    dfw_config_free(cfg);
    /* without the flag an output is required, as in a file */
    assert_null(dfw_config_from_settings(good, NGOOD, "x", 0, err, sizeof(err)));
    assert_non_null(strstr(err, "at least one output"));
}

static void settings_errors_name_the_setting(void **st)
{
    (void)st;
    struct dfw_config_setting bad[NGOOD];
    memcpy(bad, good, sizeof(bad));
    bad[3].key = "client_idd";
    char err[512];
    assert_null(dfw_config_from_settings(bad, NGOOD, "defender() setting", DFW_CONFIG_NO_OUTPUTS,
                                         err, sizeof(err)));
    assert_non_null(strstr(err, "defender() setting:4:"));
    assert_non_null(strstr(err, "client_idd"));
    bad[3] = good[3];
    bad[2].section = "tenant";
    assert_null(dfw_config_from_settings(bad, NGOOD, "s", DFW_CONFIG_NO_OUTPUTS, err, sizeof(err)));
    assert_non_null(strstr(err, "s:3:"));
    assert_non_null(strstr(err, "needs a name"));
    bad[2] = good[2];
    bad[5].value = NULL;
    assert_null(dfw_config_from_settings(bad, NGOOD, "s", DFW_CONFIG_NO_OUTPUTS, err, sizeof(err)));
    assert_non_null(strstr(err, "s:6:"));
}

static void new_refuses_outputs_and_ambiguous_sources(void **st)
{
    (void)st;
    char err[512];
    struct dfw_config_setting with_out[NGOOD + 2];
    memcpy(with_out, good, sizeof(good));
    with_out[NGOOD] = (struct dfw_config_setting){"output f", "type", "file"};
    with_out[NGOOD + 1] = (struct dfw_config_setting){"output f", "path", "/dev/null"};
    struct dfw_embed_opts o = opts_with(with_out, NGOOD + 2);
    assert_null(dfw_embed_new(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "[output f]"));
    assert_non_null(strstr(err, "test-host"));

    o = opts_with(good, NGOOD);
    o.config_file = "/etc/defender-forwarder/defender-forwarder.conf";
    assert_null(dfw_embed_new(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "either"));

    o = opts_with(good, NGOOD);
    o.host.submit = NULL;
    assert_null(dfw_embed_new(&o, err, sizeof(err)));
}

static void missing_file_is_named(void **st)
{
    (void)st;
    char err[512];
    struct dfw_embed_opts o = opts_with(NULL, 0);
    o.config_file = "/nonexistent/dfw.conf";
    assert_null(dfw_embed_new(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/dfw.conf"));
}

static void start_stop_free_and_the_state_lock(void **st)
{
    (void)st;
    char err[512];
    struct dfw_embed_opts o = opts_with(good, NGOOD);
    struct dfw_embed *em = dfw_embed_new(&o, err, sizeof(err));
    assert_non_null(em);
    /* one engine per state directory */
    assert_null(dfw_embed_new(&o, err, sizeof(err)));
    assert_non_null(strstr(err, state));
    assert_int_equal(dfw_embed_start(em), DFW_OK);
    assert_int_equal(dfw_embed_start(em), DFW_ERR_INVALID);
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    dfw_embed_stop(em);
    dfw_embed_stop(em); /* a second stop is a no-op */
    /* started again after a stop: a reload does this */
    assert_int_equal(dfw_embed_start(em), DFW_OK);
    dfw_embed_free(em); /* stops first */
    /* the lock is released */
    em = dfw_embed_new(&o, err, sizeof(err));
    assert_non_null(em);
    dfw_embed_free(em);
    dfw_embed_free(NULL);
    dfw_embed_ack(NULL, DFW_OK);
}

/* The warnings a host logs for legacy streams: one per stream, with the date and the Graph
 * stream; none for Graph streams. */
static char warned[2048];
static int nwarned;

static void capture(void *ctx, enum dfw_log_level level, const char *component, const char *msg)
{
    (void)ctx;
    if (level == DFW_LOG_WARN && strcmp(component, "config") == 0) {
        nwarned++;
        snprintf(warned, sizeof(warned), "%s", msg);
    }
}

static void legacy_streams_are_warned_about(void **st)
{
    (void)st;
    char err[512];
    struct dfw_embed_opts o = opts_with(good, NGOOD); /* graph-alerts, mde-alerts */
    dfw_log_set_sink(capture, NULL);
    struct dfw_embed *em = dfw_embed_new(&o, err, sizeof(err));
    assert_non_null(em);
    assert_int_equal(nwarned, 0); /* the host says when: where its log reaches the admin */
    assert_int_equal(dfw_embed_warn_retired(em), 1);
    assert_int_equal(nwarned, 1);
    assert_non_null(strstr(warned, "stream=mde-alerts tenants=1 first_tenant=contoso"));
    assert_non_null(strstr(warned, "stops working after 1 February 2027"));
    assert_non_null(strstr(warned, "use graph-alerts"));
    dfw_embed_free(em);
    struct dfw_config_setting graph[NGOOD];
    memcpy(graph, good, sizeof(graph));
    graph[NGOOD - 1].value = "graph-incidents, graph-alerts";
    o = opts_with(graph, NGOOD);
    em = dfw_embed_new(&o, err, sizeof(err));
    assert_non_null(em);
    assert_int_equal(dfw_embed_warn_retired(em), 0);
    assert_int_equal(nwarned, 1);
    dfw_embed_free(em);
    assert_int_equal(dfw_embed_warn_retired(NULL), 0);
    dfw_log_set_sink(NULL, NULL);
}

int main(void)
{
    assert_int_equal(dfw_embed_global_init(), DFW_OK);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(settings_make_a_config),
        cmocka_unit_test(settings_errors_name_the_setting),
        cmocka_unit_test(new_refuses_outputs_and_ambiguous_sources),
        cmocka_unit_test(missing_file_is_named),
        cmocka_unit_test(start_stop_free_and_the_state_lock),
        cmocka_unit_test(legacy_streams_are_warned_about),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
