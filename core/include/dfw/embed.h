/* The forwarder inside another program: a log daemon's source module (syslog-ng defender(),
 * rsyslog imdefender) runs the engine and is its only output. DESIGN.md §6.
 *
 * Life cycle, on the host's threads:
 *
 *   dfw_embed_global_init()              once per process, before any thread (module init)
 *   em = dfw_embed_new(&opts, ...)       load the config, lock the state directory, build the
 * engine dfw_embed_start(em)                  the engine loop runs on a thread of its own
 *     ... host->submit(host_ctx, batch)  on the loop thread: the host takes a batch
 *     ... dfw_embed_ack(batch, DFW_OK)   on any thread, once per taken batch: the daemon has it
 *   dfw_embed_stop(em)                   the loop returns, the thread is joined
 *   dfw_embed_free(em)                   the state directory is unlocked
 *
 * The checkpoint of a (tenant, stream) moves past a batch only when the host acknowledged it with
 * DFW_OK (DESIGN.md §4): what the host never acknowledges is fetched and submitted again by the
 * next run. Batches are at most one API page (page_size records); a (tenant, stream) has at most
 * one batch outstanding, so a crash or a stop repeats at most one batch per (tenant, stream).
 *
 * Objects and ownership:
 *   struct dfw_embed        made by dfw_embed_new, owned by the host, freed by dfw_embed_free.
 *   struct dfw_embed_batch  made by the engine for submit; owned by the host from a DFW_OK submit
 *                           until it passes it to dfw_embed_ack, which frees it. A batch may be
 *                           acknowledged after dfw_embed_stop or dfw_embed_free (a daemon may
 *                           acknowledge late): the acknowledgement is then only freed, and the
 *                           memory it needs stays allocated until the last batch is given back.
 *   struct dfw_embed_msg    inside its batch; every string owned by the batch.
 */
#ifndef DFW_EMBED_H
#define DFW_EMBED_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/config.h"
#include "dfw/err.h"

struct dfw_embed;

/* What the message text of each event is. */
enum dfw_embed_format {
    DFW_EMBED_JSON = 0, /* the record as the API sent it, compact JSON */
    DFW_EMBED_CEF = 1   /* the CEF line of docs/cef-mapping.md (dfw/cef.h), no syslog header */
};

/* One event as a host message. Strings are NUL-terminated UTF-8 (as the API sent them), never
 * NULL ("" when the record has no such field) and owned by the batch. */
struct dfw_embed_msg {
    const char *text;        /* the record JSON or the CEF line (enum dfw_embed_format) */
    size_t text_len;         /* bytes of text without the NUL */
    const char *tenant;      /* tenant name of the config ([tenant NAME]) */
    const char *tenant_id;   /* Entra ID directory (tenant) id */
    const char *stream;      /* "m365d-incidents", "mde-alerts", "graph-alerts" */
    const char *kind;        /* "new" or "update" */
    const char *id;          /* alert or incident id */
    const char *severity;    /* the API's severity text ("high", "Medium"...) */
    const char *title;       /* alert title or incident name */
    const char *last_update; /* last-update time exactly as the API sent it (ISO 8601, UTC) */
    int64_t time_ms;         /* the same time, ms since epoch UTC: the message's time stamp */
};

/* A batch: the events of one fetched page, in page order. */
struct dfw_embed_batch {
    uint64_t seq; /* unique per engine, increasing */
    size_t count; /* >= 1 */
    const struct dfw_embed_msg *msgs;
};

/* The host as the engine's output. */
struct dfw_embed_host {
    const char *name; /* the output's name in logs and metrics, e.g. "syslog-ng" (copied) */
    void *ctx;        /* passed back to submit */
    /* Called on the loop thread with a batch. DFW_OK: the host owns the batch and calls
     * dfw_embed_ack for it exactly once, from any thread, when the daemon has accepted every
     * message of it (or with an error when it has not). DFW_ERR_BUSY: not taken (back-pressure);
     * the engine keeps the batch and offers it again in a moment. Any other error: not taken, the
     * batch is offered again with backoff. Must not block: hand the batch to the host's own
     * thread. */
    dfw_err (*submit)(void *ctx, struct dfw_embed_batch *batch);
};

struct dfw_embed_opts {
    /* Either the path of a defender-forwarder.conf(5) file ... */
    const char *config_file;
    /* ... or key/values of the host's own configuration (section, key, value; see
     * dfw_config_from_settings), with origin naming them in errors. Borrowed during
     * dfw_embed_new only. */
    const struct dfw_config_setting *settings;
    size_t nsettings;
    const char *settings_origin;
    enum dfw_embed_format format;
    /* ms the loop keeps collecting acknowledgements after dfw_embed_stop; 0 returns at once
     * (what is not acknowledged by then is submitted again by the next run). */
    int64_t stop_grace_ms;
    struct dfw_embed_host host; /* copied */
};

/* curl_global_init and the other process-wide set-up, once per process before any thread uses
 * libdfw. Not thread-safe. */
dfw_err dfw_embed_global_init(void);

/* Load the configuration (file or settings; [output NAME] sections are refused: the host is the
 * output), apply its log_level, open and lock its state_dir (one engine per state directory: a
 * second one fails with DFW_ERR_LOCKED in the message), read the tenants' secrets and build the
 * engine. Nothing runs yet. On error returns NULL with errbuf saying why ("file:line: ..." for
 * configuration errors; never a secret). Call from one thread; opts is only read during the call.
 */
struct dfw_embed *dfw_embed_new(const struct dfw_embed_opts *opts, char *errbuf, size_t errlen);

/* Start the loop thread: every (tenant, stream) is polled from its checkpoint. DFW_OK, or
 * DFW_ERR_INVALID when it already runs, DFW_ERR_NOMEM when no thread can be made. Call from the
 * thread that owns em (not from submit). */
dfw_err dfw_embed_start(struct dfw_embed *em);

/* Log one warning per legacy stream (m365d-incidents, mde-alerts) that a tenant of em's
 * configuration reads: the date Microsoft turns its API off (1 February 2027, MC1220762) and the
 * Graph stream to read instead (dfw_stream_warn_retired, dfw/stream.h). Returns the number of
 * warnings. For the host to call once per start, where its log reaches the admin: syslog-ng once
 * it runs (what is logged while it loads its configuration goes to its standard error, not to
 * internal()), rsyslog after dfw_embed_new. Reads only the configuration: safe while the loop
 * thread runs. em NULL: 0. */
size_t dfw_embed_warn_retired(const struct dfw_embed *em);

/* Stop fetching, give outstanding batches stop_grace_ms to be acknowledged, end the loop and join
 * its thread. Returns at once when the loop does not run. Never call it from submit (the loop
 * thread) nor concurrently with start or free. */
void dfw_embed_stop(struct dfw_embed *em);

/* Give a batch back: result DFW_OK when the daemon accepted every message of it (the checkpoint
 * may move past it), an error when it did not (the batch is fetched and submitted again). Frees
 * the batch: it must not be used afterwards. Thread-safe: any thread, also after dfw_embed_stop
 * and dfw_embed_free (then only freed). Never blocks on the network: the loop is woken. */
void dfw_embed_ack(struct dfw_embed_batch *batch, dfw_err result);

/* Stop (when running) and free the engine, its config and the state directory lock. Batches the
 * host still holds stay valid until they are acknowledged. NULL is a no-op. */
void dfw_embed_free(struct dfw_embed *em);

#endif
