/* The output module API: every output (syslog, file, kafka, splunk_hec) is one
 * const struct dfw_output_plugin. The core never names an output. */
#ifndef DFW_OUTPUT_H
#define DFW_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/buf.h"
#include "dfw/err.h"
#include "dfw/event.h"

enum dfw_opt_type {
    DFW_OPT_STRING,   /* char * (malloc'd, freed by dfw_output_conf_free) */
    DFW_OPT_INT,      /* long long */
    DFW_OPT_BOOL,     /* int: yes/no, on/off, true/false, 1/0 */
    DFW_OPT_ENUM,     /* int: index into the '|'-separated values string */
    DFW_OPT_DURATION, /* long long ms: "250ms", "30s", "5m" */
    DFW_OPT_SIZE,     /* long long bytes: "512", "64k", "1m" */
    DFW_OPT_PREFIX    /* struct dfw_opt_list: every key that starts with name (e.g. "kafka.") */
};

/* One key/value collected by a DFW_OPT_PREFIX row: key without the prefix. Both owned by the conf
 * (freed by dfw_output_conf_free). */
struct dfw_opt_pair {
    char *key;
    char *value;
};

/* The pairs a DFW_OPT_PREFIX row collected, in file order. Empty: items NULL, count 0. */
struct dfw_opt_list {
    struct dfw_opt_pair *items;
    size_t count;
};

/* One row of an output's option table. The table ends with a row whose name is NULL. A
 * DFW_OPT_PREFIX row (for pass-through properties such as "kafka.<property>") matches every key
 * that starts with its name and is longer than it; it takes no default and cannot be required, and
 * the values are passed on unchecked (the output checks them in init). Exact names win over a
 * prefix. */
struct dfw_option {
    const char *name; /* key in [output NAME] */
    enum dfw_opt_type type;
    const char *def;    /* default as text, or NULL (no default; 0 / NULL) */
    size_t offset;      /* offsetof(conf struct, field) */
    const char *values; /* DFW_OPT_ENUM: "cef|json"; NULL otherwise */
    int required;       /* 1: the key must be given */
    const char *help;   /* one line for --help and the man page */
};

/* Called by an output exactly once per accepted batch: result DFW_OK means every event of the
 * batch is delivered as far as this output can tell (socket write, delivery report, HEC ack);
 * anything else means the batch must be sent again. May be called from inside submit, poll or
 * flush, always on the pipeline thread. */
typedef void (*dfw_ack_fn)(void *ack_ctx, uint64_t seq, dfw_err result);

/* A descriptor an output waits on: the engine sleeps in poll(2) on it with the HTTP transfers'
 * sockets (events: POLLIN and/or POLLOUT of <poll.h>). */
struct dfw_wait_fd {
    int fd;
    short events;
};

/* dfw_output_plugin.flags. DFW_OUTPUT_ACK_WAKES: the output's acknowledgements arrive from other
 * threads and are announced with dfw_engine_wakeup (poll then delivers them), so the engine waits
 * for the wakeup instead of polling the output every few ms while an acknowledgement is due. */
#define DFW_OUTPUT_ACK_WAKES 1u

struct dfw_output_plugin {
    const char *name; /* value of "type =" */
    const char *description;
    unsigned flags;                   /* DFW_OUTPUT_* */
    const struct dfw_option *options; /* option table */
    size_t conf_size;                 /* sizeof the conf struct the options fill */

    /* Create an instance from a filled conf (borrowed for the instance's lifetime). On failure
     * return NULL with a message in errbuf (naming the instance, never a secret). */
    void *(*init)(const void *conf, const char *instance, char *errbuf, size_t errlen);

    /* Pure: render one event to out (appended): what the output sends for it. An output that
     * sends one event as several messages puts one per line (the HEC output's incident and its
     * alerts). No I/O, no state change: the test seam. */
    dfw_err (*format)(const void *conf, const struct dfw_event *ev, struct dfw_buf *out);

    /* Take a batch. DFW_OK: accepted, ack will be called exactly once for batch->seq (possibly
     * before submit returns). DFW_ERR_BUSY / DFW_ERR_RETRY: not accepted (no ack will come);
     * the pipeline resubmits later. The batch struct is only valid during the call; the events
     * it points to (and what they point to) stay valid until ack is called for batch->seq, the
     * pipeline cancels it, or the output calls batch->taken, so that an output may read them
     * later (the HEC output renders a page request by request). An output without cancel must
     * not read them after submit returns. */
    dfw_err (*submit)(void *self, const struct dfw_batch *batch, dfw_ack_fn ack, void *ack_ctx);

    /* The pipeline takes back a batch it submitted that is not acknowledged yet (its job
     * failed): its events are about to be freed. The output must not read them any more and
     * must not call ack for seq; what it already sent may still arrive. May be NULL for outputs
     * that copy what they need during submit. */
    void (*cancel)(void *self, uint64_t seq);

    /* Drive pending I/O and deliver acks; wait at most timeout_ms. May be NULL. The engine calls
     * it with 0 on every turn of its loop. */
    void (*poll)(void *self, int timeout_ms);

    /* What the output waits for, so that the engine can sleep until then instead of polling it
     * on a timer: fill up to max entries of fds and return how many; set *timeout_ms to the time
     * until poll is needed anyway (-1: not for time). Pure (no I/O). May be NULL: an output with
     * poll but without wait is polled every 50 ms while batches are out. */
    int (*wait)(void *self, struct dfw_wait_fd *fds, int max, int *timeout_ms);

    /* The pipeline will submit nothing more until an acknowledgement comes: no job is reading a
     * page (every job with work waits for its batch to be acknowledged, the next page's request
     * of a read-ahead aside). Send now what is held back for later batches to join (the HEC
     * request kept open for batch_timeout_ms), since none will. Called on the pipeline thread,
     * from the engine's loop, once per turn while that holds; no ack is called from it. May be
     * NULL: an output that holds nothing back. */
    void (*quiet)(void *self);

    /* Deliver or fail everything accepted so far within timeout_ms (acks are called). */
    dfw_err (*flush)(void *self, int timeout_ms);

    /* Free the instance. NULL is a no-op. Unacknowledged batches are dropped (not acked). */
    void (*destroy)(void *self);
};

/* An output instance in use: plugin, its conf and its state. */
struct dfw_output {
    const struct dfw_output_plugin *plugin;
    const char *name; /* instance name from [output NAME]; borrowed from the config */
    void *conf;       /* owned; filled from the option table */
    void *self;       /* from plugin->init */
};

struct dfw_config_kv;

/* Fill a conf struct of plugin->conf_size bytes from the key/values of one [output] section
 * (type= is skipped): defaults first, then the given values. Unknown keys, bad values and missing
 * required keys are DFW_ERR_CONFIG with "file:line: ..." in errbuf. On success *conf_out is a
 * malloc'd struct (free with dfw_output_conf_free). */
dfw_err dfw_output_conf_parse(const struct dfw_output_plugin *plugin,
                              const struct dfw_config_kv *kvs,
                              size_t nkvs,
                              void **conf_out,
                              char *errbuf,
                              size_t errlen);

/* Free a conf made by dfw_output_conf_parse, including its DFW_OPT_STRING fields. NULL is a no-op.
 */
void dfw_output_conf_free(const struct dfw_output_plugin *plugin, void *conf);

/* Find a plugin in a NULL-terminated registry by name, or NULL. */
const struct dfw_output_plugin *dfw_output_find(const struct dfw_output_plugin *const *registry,
                                                const char *name);

#endif
