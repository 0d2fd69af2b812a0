/* The syslog output's submit() against real sockets on 127.0.0.1: bytes on the wire, the ack
 * contract, RETRY/BUSY on a closed port, reconnect with backoff, a receiver that closes, a
 * receiver that stops reading (write_timeout). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dfw/cef.h"
#include "dfw/config.h"
#include "dfw/event.h"
#include "dfw/output.h"
#include "dfw/timeutil.h"
#include "registry.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static int acks;
static uint64_t acked_seq;
static dfw_err acked_result;

static void on_ack(void *ctx, uint64_t seq, dfw_err result)
{
    (void)ctx;
    acks++;
    acked_seq = seq;
    acked_result = result;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A syslog output instance from "key=value" strings (NULL-terminated). */
struct inst {
    const struct dfw_output_plugin *p;
    void *conf;
    void *self;
};

static void inst_open(struct inst *in, const char *const *kv)
{
    struct dfw_config_kv kvs[32];
    char buf[32][2][128];
    size_t n = 0;
    for (; kv[n] != NULL; n++) {
        const char *eq = strchr(kv[n], '=');
        snprintf(buf[n][0], sizeof(buf[n][0]), "%.*s", (int)(eq - kv[n]), kv[n]);
        snprintf(buf[n][1], sizeof(buf[n][1]), "%s", eq + 1);
        kvs[n] = (struct dfw_config_kv){buf[n][0], buf[n][1], "test.conf", (int)n + 1};
    }
    char err[512];
    in->p = dfw_output_find(dfw_output_registry, "syslog");
    assert_non_null(in->p);
    assert_int_equal(dfw_output_conf_parse(in->p, kvs, n, &in->conf, err, sizeof(err)), DFW_OK);
    in->self = in->p->init(in->conf, "siem", err, sizeof(err));
    if (in->self == NULL) {
        fprintf(stderr, "init: %s\n", err);
    }
    assert_non_null(in->self);
    acks = 0;
    acked_seq = 0;
    acked_result = DFW_ERR_INVALID;
}

static void inst_close(struct inst *in)
{
    in->p->destroy(in->self);
    dfw_output_conf_free(in->p, in->conf);
}

static dfw_err submit(struct inst *in, const struct dfw_event *evs, size_t n, uint64_t seq)
{
    struct dfw_batch b = {evs, n, seq, NULL};
    return in->p->submit(in->self, &b, on_ack, NULL);
}

/* n events with ids "<prefix>-<i>", sharing one small MDE record. */
static struct json_object *shared_rec;

static void make_events(struct dfw_event *evs, char ids[][32], size_t n, const char *prefix)
{
    if (shared_rec == NULL) {
        shared_rec =
            json_tokener_parse("{\"title\":\"Suspicious PowerShell\",\"severity\":\"High\","
                               "\"category\":\"Execution\",\"computerDnsName\":\"pc1\"}");
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(ids[i], sizeof(ids[i]), "%s-%zu", prefix, i);
        evs[i] = (struct dfw_event){"contoso",
                                    "tid",
                                    "mde-alerts",
                                    DFW_EVENT_NEW,
                                    ids[i],
                                    1714557600000,
                                    "2024-05-01T10:00:00Z",
                                    shared_rec,
                                    0,
                                    0,
                                    NULL,
                                    0,
                                    NULL,
                                    NULL};
    }
}

/* A TCP listener on 127.0.0.1; *port 0 picks a free port (and returns it). */
static int listen_tcp(int *port, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (rcvbuf > 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    }
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)*port);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 8) != 0) {
        close(fd);
        return -1;
    }
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

static int udp_socket(int *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

/* A port nothing listens on (bound, then closed). */
static int closed_port(void)
{
    int port = 0;
    int fd = listen_tcp(&port, 0);
    close(fd);
    return port;
}

static int wait_readable(int fd, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, ms) > 0;
}

static int accept_within(int lfd, int ms)
{
    return wait_readable(lfd, ms) ? accept(lfd, NULL, NULL) : -1;
}

/* Read until want bytes, EOF or ms of silence; returns the bytes read. */
static size_t read_some(int fd, char *buf, size_t cap, size_t want, int ms)
{
    size_t n = 0;
    while (n < want && n < cap - 1 && wait_readable(fd, ms)) {
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
        if (r <= 0) {
            break;
        }
        n += (size_t)r;
    }
    buf[n] = '\0';
    return n;
}

/* Split octet-counted frames: msgs[i]/lens[i] point into buf. Returns how many, or -1 when the
 * framing is broken (a length that does not end at the next frame or at the end). */
static int
split_octet_counted(const char *buf, size_t len, const char **msgs, size_t *lens, int max)
{
    int n = 0;
    size_t i = 0;
    while (i < len) {
        char *end;
        unsigned long l = strtoul(buf + i, &end, 10);
        if (end == buf + i || *end != ' ' || (size_t)(end + 1 - buf) + l > len || n >= max) {
            return -1;
        }
        msgs[n] = end + 1;
        lens[n++] = l;
        i = (size_t)(end + 1 - buf) + l;
    }
    return n;
}

static char rx[1 << 16];

/* ---- tests -------------------------------------------------------------------------------- */

static void tcp_octet_counting_delivers_then_acks(void **state)
{
    (void)state;
    int port = 0;
    int lfd = listen_tcp(&port, 0);
    char ports[32];
    snprintf(ports, sizeof(ports), "port=%d", port);
    const char *kv[] = {"host=127.0.0.1", ports, "hostname=fw1", NULL};
    struct inst in;
    inst_open(&in, kv);
    struct dfw_event evs[3];
    char ids[3][32];
    make_events(evs, ids, 3, "a");
    assert_int_equal(submit(&in, evs, 3, 7), DFW_OK);
    assert_int_equal(acks, 1);
    assert_int_equal(acked_seq, 7);
    assert_int_equal(acked_result, DFW_OK);

    int c = accept_within(lfd, 2000);
    assert_true(c >= 0);
    size_t n = read_some(c, rx, sizeof(rx), SIZE_MAX, 200);
    const char *msgs[8];
    size_t lens[8];
    assert_int_equal(split_octet_counted(rx, n, msgs, lens, 8), 3);
    for (int i = 0; i < 3; i++) {
        char want[128];
        assert_true(strncmp(msgs[i], "<162>1 ", 7) == 0); /* local4.crit */
        assert_non_null(strstr(msgs[i], " fw1 defender-forwarder "));
        assert_non_null(strstr(msgs[i], " mde-alerts - CEF:0|Microsoft|Microsoft Defender ATP|"));
        snprintf(want, sizeof(want), "externalId=a-%d ", i);
        assert_non_null(strstr(msgs[i], want));
        /* each frame ends exactly with its own last field */
        snprintf(want, sizeof(want),
                 "flexString1=https://security.microsoft.com/alerts/a-%d?tid\\=tid", i);
        assert_true(lens[i] > strlen(want));
        assert_memory_equal(msgs[i] + lens[i] - strlen(want), want, strlen(want));
    }
    close(c);
    close(lfd);
    inst_close(&in);
}

static void tcp_non_transparent_lines(void **state)
{
    (void)state;
    int port = 0;
    int lfd = listen_tcp(&port, 0);
    char ports[32];
    snprintf(ports, sizeof(ports), "port=%d", port);
    const char *kv[] = {"host=localhost",   ports,           "framing=non-transparent",
                        "protocol=rfc3164", "facility=user", NULL};
    struct inst in;
    inst_open(&in, kv);
    struct dfw_event evs[2];
    char ids[2][32];
    make_events(evs, ids, 2, "b");
    assert_int_equal(submit(&in, evs, 2, 1), DFW_OK);
    assert_int_equal(acks, 1);
    int c = accept_within(lfd, 2000);
    assert_true(c >= 0);
    size_t n = read_some(c, rx, sizeof(rx), SIZE_MAX, 200);
    assert_true(n > 0 && rx[n - 1] == '\n');
    char *line2 = strchr(rx, '\n') + 1;
    assert_non_null(strchr(line2, '\n'));
    assert_ptr_equal(strchr(line2, '\n'), rx + n - 1); /* exactly two lines */
    assert_true(strncmp(rx, "<10>", 4) == 0);          /* user.crit */
    assert_non_null(strstr(rx, " defender-forwarder: CEF:0|"));
    assert_non_null(strstr(line2, "externalId=b-1 "));
    close(c);
    close(lfd);
    inst_close(&in);
}

static void udp_one_datagram_per_message(void **state)
{
    (void)state;
    int port = 0;
    int ufd = udp_socket(&port);
    char ports[32];
    snprintf(ports, sizeof(ports), "port=%d", port);
    const char *kv[] = {"host=127.0.0.1", ports, "transport=udp", "max_message_size=1200", NULL};
    struct inst in;
    inst_open(&in, kv);
    static char longpath[5000];
    memset(longpath, 'p', sizeof(longpath) - 1);
    struct json_object *big = json_tokener_parse("{\"title\":\"t\",\"severity\":\"Low\"}");
    struct json_object *ev0 = json_object_new_object();
    json_object_object_add(ev0, "filePath", json_object_new_string(longpath));
    struct json_object *arr = json_object_new_array();
    json_object_array_add(arr, ev0);
    json_object_object_add(big, "evidence", arr);
    struct dfw_event evs[2];
    char ids[2][32];
    make_events(evs, ids, 2, "u");
    evs[0].record = big;
    assert_int_equal(submit(&in, evs, 2, 3), DFW_OK);
    assert_int_equal(acks, 1);
    for (int i = 0; i < 2; i++) {
        assert_true(wait_readable(ufd, 2000));
        ssize_t r = recv(ufd, rx, sizeof(rx) - 1, 0);
        assert_true(r > 0);
        rx[r] = '\0';
        assert_true(r <= 1200);
        assert_true(strncmp(rx, "<", 1) == 0);
        assert_non_null(strstr(rx, i == 0 ? "externalId=u-0" : "externalId=u-1"));
        if (i == 0) {
            assert_non_null(strstr(rx, DFW_CEF_TRUNC_MARKER));
        }
        else {
            assert_null(strstr(rx, DFW_CEF_TRUNC_MARKER));
        }
    }
    json_object_put(big);
    close(ufd);
    inst_close(&in);
}

static void closed_port_retry_busy_then_reconnect(void **state)
{
    (void)state;
    int port = closed_port();
    char ports[32];
    snprintf(ports, sizeof(ports), "port=%d", port);
    const char *kv[] = {"host=127.0.0.1",   ports, "reconnect_min=100ms", "reconnect_max=400ms",
                        "write_timeout=2s", NULL};
    struct inst in;
    inst_open(&in, kv);
    struct dfw_event evs[2];
    char ids[2][32];
    make_events(evs, ids, 2, "r");
    assert_int_equal(submit(&in, evs, 2, 10), DFW_ERR_RETRY);
    int64_t t0 = dfw_mono_ms();
    assert_int_equal(submit(&in, evs, 2, 10), DFW_ERR_BUSY); /* in backoff: no blocking */
    assert_true(dfw_mono_ms() - t0 < 50);
    assert_int_equal(acks, 0);

    /* still closed after the delay: RETRY again, with a longer delay */
    sleep_ms(120);
    assert_int_equal(submit(&in, evs, 2, 10), DFW_ERR_RETRY);
    assert_int_equal(submit(&in, evs, 2, 10), DFW_ERR_BUSY);

    /* the receiver comes back on the same port */
    int lfd = listen_tcp(&port, 0);
    assert_true(lfd >= 0);
    dfw_err err = DFW_ERR_BUSY;
    int64_t deadline = dfw_mono_ms() + 5000;
    while (err != DFW_OK && dfw_mono_ms() < deadline) {
        err = submit(&in, evs, 2, 11);
        assert_true(err == DFW_OK || err == DFW_ERR_BUSY);
        if (err != DFW_OK) {
            sleep_ms(20);
        }
    }
    assert_int_equal(err, DFW_OK);
    assert_int_equal(acks, 1);
    assert_int_equal(acked_seq, 11);
    int c = accept_within(lfd, 2000);
    assert_true(c >= 0);
    size_t n = read_some(c, rx, sizeof(rx), SIZE_MAX, 200);
    const char *msgs[4];
    size_t lens[4];
    assert_int_equal(split_octet_counted(rx, n, msgs, lens, 4), 2);
    close(c);
    close(lfd);
    inst_close(&in);
}

/* A receiver that closed its end is noticed before the next batch is written into a dead
 * connection: the batch arrives on a new connection. */
static void peer_close_detected_before_write(void **state)
{
    (void)state;
    int port = 0;
    int lfd = listen_tcp(&port, 0);
    char ports[32];
    snprintf(ports, sizeof(ports), "port=%d", port);
    const char *kv[] = {"host=127.0.0.1", ports, NULL};
    struct inst in;
    inst_open(&in, kv);
    struct dfw_event evs[1];
    char ids[1][32];
    make_events(evs, ids, 1, "first");
    assert_int_equal(submit(&in, evs, 1, 1), DFW_OK);
    int c1 = accept_within(lfd, 2000);
    assert_true(c1 >= 0);
    assert_true(read_some(c1, rx, sizeof(rx), SIZE_MAX, 200) > 0);
    assert_non_null(strstr(rx, "externalId=first-0"));
    close(c1); /* receiver restarts */
    sleep_ms(50);

    make_events(evs, ids, 1, "second");
    assert_int_equal(submit(&in, evs, 1, 2), DFW_OK);
    assert_int_equal(acks, 2);
    int c2 = accept_within(lfd, 2000);
    assert_true(c2 >= 0);
    assert_true(read_some(c2, rx, sizeof(rx), SIZE_MAX, 200) > 0);
    assert_non_null(strstr(rx, "externalId=second-0"));
    close(c2);
    close(lfd);
    inst_close(&in);
}

/* A receiver that accepts and never reads: the write times out part-way, the batch is not
 * acknowledged, the connection is closed and the next submit waits for the backoff. */
static void stalled_receiver_write_timeout(void **state)
{
    (void)state;
    int port = 0;
    int lfd = listen_tcp(&port, 4096);
    char ports[32];
    snprintf(ports, sizeof(ports), "port=%d", port);
    const char *kv[] = {
        "host=127.0.0.1",    ports, "format=json", "write_timeout=300ms", "reconnect_min=5s",
        "reconnect_max=10s", NULL};
    struct inst in;
    inst_open(&in, kv);
    /* 400 x 64 KiB: far more than the socket buffers hold */
    static char blob[64 * 1024];
    memset(blob, 'x', sizeof(blob) - 1);
    struct json_object *rec = json_object_new_object();
    json_object_object_add(rec, "description", json_object_new_string(blob));
    enum { N = 400 };
    static struct dfw_event evs[N];
    static char ids[N][32];
    make_events(evs, ids, N, "s");
    for (int i = 0; i < N; i++) {
        evs[i].record = rec;
    }
    int64_t t0 = dfw_mono_ms();
    assert_int_equal(submit(&in, evs, N, 5), DFW_ERR_RETRY);
    assert_true(dfw_mono_ms() - t0 < 5000);
    assert_int_equal(acks, 0);
    assert_int_equal(submit(&in, evs, 1, 6), DFW_ERR_BUSY);
    int c = accept_within(lfd, 100);
    if (c >= 0) {
        close(c);
    }
    json_object_put(rec);
    close(lfd);
    inst_close(&in);
}

static void empty_batch_acks_without_io(void **state)
{
    (void)state;
    char ports[32];
    snprintf(ports, sizeof(ports), "port=%d", closed_port());
    const char *kv[] = {"host=127.0.0.1", ports, NULL};
    struct inst in;
    inst_open(&in, kv);
    assert_int_equal(submit(&in, NULL, 0, 99), DFW_OK);
    assert_int_equal(acks, 1);
    assert_int_equal(acked_seq, 99);
    assert_int_equal(in.p->flush(in.self, 100), DFW_OK);
    inst_close(&in);
}

static int teardown_all(void **state)
{
    (void)state;
    json_object_put(shared_rec);
    shared_rec = NULL;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tcp_octet_counting_delivers_then_acks),
        cmocka_unit_test(tcp_non_transparent_lines),
        cmocka_unit_test(udp_one_datagram_per_message),
        cmocka_unit_test(closed_port_retry_busy_then_reconnect),
        cmocka_unit_test(peer_close_detected_before_write),
        cmocka_unit_test(stalled_receiver_write_timeout),
        cmocka_unit_test(empty_batch_acks_without_io),
    };
    return cmocka_run_group_tests(tests, NULL, teardown_all);
}
