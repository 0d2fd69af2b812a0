/* The syslog output: CEF, LEEF or the record JSON in RFC 5424 / RFC 3164 messages over TCP, TLS
 * or UDP. Options: syslog_conf.c; CEF and LEEF: dfw/cef.h, dfw/leef.h (core); headers and framing:
 * syslog_frame.c; sockets: syslog_transport.c; field mapping and policies: docs/cef-mapping.md,
 * docs/leef-mapping.md. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfw/cef.h"
#include "dfw/leef.h"
#include "dfw/log.h"
#include "dfw/output.h"
#include "dfw/timeutil.h"
#include "syslog_conf.h"
#include "syslog_frame.h"
#include "syslog_transport.h"

struct syslog_out {
    const struct dfw_out_syslog_conf *conf; /* borrowed for the instance's lifetime */
    struct dfw_out_syslog_settings set;
    char *name;
    struct dfw_syslog_transport *tr;
    struct dfw_buf msg;   /* one message being rendered */
    struct dfw_buf batch; /* stream: framed messages back to back, up to STREAM_CHUNK bytes */
};

/* JSON body: the record as the API sent it; when it exceeds limit (UDP), a stub naming the event
 * instead, since cut JSON would not parse. */
static dfw_err json_body(const struct dfw_event *ev, size_t limit, struct dfw_buf *out)
{
    size_t len;
    const char *json = dfw_event_json(ev, &len);
    if (limit == 0 || len <= limit) {
        return dfw_buf_append(out, json, len);
    }
    struct json_object *o = json_object_new_object();
    if (o == NULL) {
        return DFW_ERR_NOMEM;
    }
    const char *keys[] = {"tenant", "tenantId", "stream", "kind", "id", "lastUpdate"};
    const char *vals[] = {ev->tenant, ev->tenant_id, ev->stream, dfw_event_kind_name(ev->kind),
                          ev->id,     ev->updated};
    int bad = json_object_object_add(o, "truncated", json_object_new_boolean(1)) != 0;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && !bad; i++) {
        if (vals[i] != NULL) {
            bad = json_object_object_add(o, keys[i], json_object_new_string(vals[i])) != 0;
        }
    }
    dfw_err err = bad ? DFW_ERR_NOMEM : DFW_OK;
    if (err == DFW_OK) {
        json = json_object_to_json_string_length(
            o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        err = json == NULL  ? DFW_ERR_NOMEM
              : len > limit ? DFW_ERR_INVALID
                            : dfw_buf_append(out, json, len);
    }
    json_object_put(o);
    return err;
}

/* One syslog message (header + MSG, no framing) for ev. For UDP the whole message is at most
 * max_message_size bytes. */
static dfw_err render(const struct dfw_out_syslog_conf *c,
                      const struct dfw_out_syslog_settings *s,
                      const struct dfw_event *ev,
                      int64_t now_ms,
                      struct dfw_buf *out)
{
    size_t start = out->len;
    struct dfw_syslog_header h = {
        .protocol = c->protocol,
        .facility = s->facility,
        .severity = dfw_out_syslog_severity(dfw_cef_api_severity(ev)),
        .time_ms = now_ms,
        .hostname = s->hostname,
        .app_name = c->app_name,
        .procid = s->procid,
        .msgid = ev->stream,
    };
    dfw_err err = dfw_out_syslog_header(&h, out);
    size_t limit = 0;
    if (err == DFW_OK && c->transport == DFW_SYSLOG_UDP) {
        size_t used = out->len - start;
        /* the header is at most ~400 bytes and max_message_size at least 1024 */
        limit = (size_t)c->max_message_size > used ? (size_t)c->max_message_size - used : 1;
    }
    if (err == DFW_OK) {
        err = c->format == DFW_SYSLOG_FMT_JSON   ? json_body(ev, limit, out)
              : c->format == DFW_SYSLOG_FMT_LEEF ? dfw_leef_format(ev, limit, out)
                                                 : dfw_cef_format(ev, limit, out);
    }
    if (err != DFW_OK) {
        out->len = start;
        if (out->data != NULL) {
            out->data[start] = '\0';
        }
    }
    return err;
}

static void syslog_destroy(void *self)
{
    struct syslog_out *o = self;
    if (o == NULL) {
        return;
    }
    dfw_out_syslog_transport_free(o->tr);
    dfw_buf_free(&o->msg);
    dfw_buf_free(&o->batch);
    free(o->name);
    free(o);
}

static void *syslog_init(const void *conf, const char *instance, char *errbuf, size_t errlen)
{
    const struct dfw_out_syslog_conf *c = conf;
    char why[512];
    struct syslog_out *o = calloc(1, sizeof(*o));
    if (o == NULL || (o->name = strdup(instance)) == NULL) {
        snprintf(errbuf, errlen, "output %s: out of memory", instance);
        syslog_destroy(o);
        return NULL;
    }
    o->conf = c;
    if (dfw_out_syslog_conf_check(c, &o->set, why, sizeof(why)) != DFW_OK) {
        snprintf(errbuf, errlen, "output %s: %s", instance, why);
        syslog_destroy(o);
        return NULL;
    }
    struct dfw_syslog_transport_opts to = {
        .instance = instance,
        .kind = c->transport,
        .host = c->host,
        .port = o->set.port,
        .ca_file = c->ca_file,
        .cert_file = c->cert_file,
        .key_file = o->set.key_path[0] ? o->set.key_path : NULL,
        .server_name = c->tls_server_name,
        .timeout_ms = c->write_timeout_ms,
        .backoff_min_ms = c->reconnect_min_ms,
        .backoff_max_ms = c->reconnect_max_ms,
    };
    o->tr = dfw_out_syslog_transport_new(&to, errbuf, errlen);
    if (o->tr == NULL) {
        syslog_destroy(o);
        return NULL;
    }
    return o;
}

static dfw_err syslog_format(const void *conf, const struct dfw_event *ev, struct dfw_buf *out)
{
    struct dfw_out_syslog_settings s;
    if (dfw_out_syslog_conf_derive(conf, &s) != DFW_OK) {
        return DFW_ERR_CONFIG;
    }
    return render(conf, &s, ev, dfw_now_ms(), out);
}

/* Stream transports write the framed messages a chunk at a time, each as soon as it is rendered:
 * the receiver reads one chunk while the next is rendered, and a page never sits rendered whole
 * in memory (docs/performance.md, "syslog in chunks"). */
#define STREAM_CHUNK (256 * 1024)

/* Render and send every event; UDP sends each message alone. A failure may come after some
 * messages went out: the pipeline then sends the whole batch again (at least once). */
static dfw_err render_and_send(struct syslog_out *o, const struct dfw_batch *batch, size_t *sent)
{
    int stream = dfw_out_syslog_transport_is_stream(o->tr);
    int64_t now = dfw_now_ms();
    dfw_buf_reset(&o->batch);
    for (size_t i = 0; i < batch->count; i++) {
        dfw_buf_reset(&o->msg);
        dfw_err err = render(o->conf, &o->set, &batch->events[i], now, &o->msg);
        if (err == DFW_OK && stream) {
            err = dfw_out_syslog_frame(o->conf->framing, o->msg.data, o->msg.len, &o->batch);
        }
        if (err != DFW_OK) {
            dfw_log(DFW_LOG_ERROR, "output",
                    "output=%s msg=\"cannot format event\" id=%s error=\"%s\"", o->name,
                    DFW_LOG_VAL(batch->events[i].id), dfw_strerror(err));
            return err;
        }
        struct dfw_buf *out = stream ? &o->batch : &o->msg;
        if (!stream || out->len >= STREAM_CHUNK || i + 1 == batch->count) {
            if (dfw_out_syslog_transport_send(o->tr, out->data, out->len) != DFW_OK) {
                return DFW_ERR_RETRY; /* not acknowledged: the pipeline sends the batch again */
            }
            *sent += out->len;
            dfw_buf_reset(&o->batch);
        }
    }
    return DFW_OK;
}

static dfw_err
syslog_submit(void *self, const struct dfw_batch *batch, dfw_ack_fn ack, void *ack_ctx)
{
    struct syslog_out *o = self;
    if (batch->count == 0) {
        ack(ack_ctx, batch->seq, DFW_OK);
        return DFW_OK;
    }
    dfw_err err = dfw_out_syslog_transport_ready(o->tr);
    if (err != DFW_OK) {
        return err; /* BUSY while a reconnect delay runs, RETRY when connecting failed */
    }
    size_t sent = 0;
    err = render_and_send(o, batch, &sent);
    if (err != DFW_OK) {
        return err;
    }
    dfw_out_syslog_transport_success(o->tr);
    dfw_log(DFW_LOG_DEBUG, "output", "output=%s msg=\"batch sent\" seq=%llu events=%zu bytes=%zu",
            o->name, (unsigned long long)batch->seq, batch->count, sent);
    ack(ack_ctx, batch->seq, DFW_OK);
    return DFW_OK;
}

static dfw_err syslog_flush(void *self, int timeout_ms)
{
    (void)self;
    (void)timeout_ms;
    return DFW_OK; /* submit writes and acknowledges synchronously: nothing is pending */
}

const struct dfw_output_plugin dfw_out_syslog_plugin = {
    .name = "syslog",
    .description = "CEF, LEEF or JSON over syslog (RFC 5424/3164) via TCP, TLS or UDP",
    .options = dfw_out_syslog_options,
    .conf_size = sizeof(struct dfw_out_syslog_conf),
    .init = syslog_init,
    .format = syslog_format,
    .submit = syslog_submit,
    .poll = NULL,
    .flush = syslog_flush,
    .destroy = syslog_destroy,
};
