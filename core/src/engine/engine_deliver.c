/* The pipeline: a fetched page becomes a batch, every output gets it, and the checkpoint moves
 * only when every output has acknowledged it (DESIGN.md §4). */
#include "engine_internal.h"
#include "dfw/log.h"
#include "dfw/timeutil.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID_LEN 128

void dfw__job_drop_page(struct job *j)
{
    if (j->page.root != NULL) {
        json_object_put(j->page.root);
    }
    memset(&j->page, 0, sizeof(j->page));
    free(j->events);
    free(j->ids);
    j->events = NULL;
    j->ids = NULL;
    j->nevents = 0;
    j->acked = 0;
    j->pending = 0;
    j->deliver_attempts = 0;
    j->busy_since = 0;
}

void dfw__job_commit(struct job *j, int64_t now)
{
    struct dfw_engine *e = j->tenant->engine;
    const char *tenant = j->tenant->conf->name;
    for (size_t i = 0; i < j->nevents; i++) {
        const struct dfw_event *ev = &j->events[i];
        if (dfw_cursor_add(&j->cursor, ev->id, ev->updated, ev->updated_ms) != DFW_OK) {
            dfw_log(DFW_LOG_ERROR, "state", "tenant=%s stream=%s msg=\"out of memory\"", tenant,
                    j->def->name);
        }
    }
    j->cursor.delivered += j->nevents;
    j->delivered += j->nevents;
    for (size_t o = 0; o < e->noutputs; o++) {
        e->out_acked[o] += j->nevents;
    }
    int more = j->page.next_link != NULL;
    dfw_cursor_page_done(&j->cursor, j->page.next_link, e->cfg->overlap_ms);
    char err[512];
    if (dfw_state_save(e->state, tenant, j->def->name, &j->cursor, err, sizeof(err)) != DFW_OK) {
        /* the events are delivered; a lost checkpoint only means re-sending them later */
        dfw_log(DFW_LOG_ERROR, "state", "tenant=%s stream=%s msg=\"%s\"", tenant, j->def->name,
                err);
    }
    dfw_log(DFW_LOG_DEBUG, "pipeline", "tenant=%s stream=%s events=%zu more=%d", tenant,
            j->def->name, j->nevents, more);
    dfw__job_drop_page(j);
    j->attempts = 0;
    j->failing = 0;
    if (more) {
        j->state = J_FETCH;
        j->due = now;
        return;
    }
    if (e->once && j->cursor.high_water_ms >= e->run_start_wall) {
        j->state = J_DONE;
        return;
    }
    j->state = J_IDLE;
    int64_t jitter = e->cfg->poll_interval_ms / 10;
    j->due = now + e->cfg->poll_interval_ms + (jitter > 0 ? rand() % jitter : 0);
}

#define BUSY_GIVE_UP_MS (5 * 60 * 1000)

/* An output did not take or acknowledge the batch (rc says why): retry with backoff. Back-pressure
 * (DFW_ERR_BUSY) is retried soon and is no failure unless it lasts BUSY_GIVE_UP_MS. In --once mode
 * give up after max_retries, or at once on a permanent error (bad token, wrong index), so a
 * scheduler sees the failure; the checkpoint stays before the batch. */
static void deliver_failed(struct job *j, int64_t now, dfw_err rc)
{
    const struct dfw_engine *e = j->tenant->engine;
    int give_up;
    if (rc == DFW_ERR_BUSY) {
        if (j->busy_since == 0) {
            j->busy_since = now;
            dfw_log(
                DFW_LOG_INFO, "pipeline",
                "tenant=%s stream=%s msg=\"an output cannot take the batch yet (back-pressure); "
                "waiting\"",
                j->tenant->conf->name, j->def->name);
        }
        j->due = now + 50;
        give_up = now - j->busy_since > BUSY_GIVE_UP_MS;
    }
    else {
        j->deliver_attempts++;
        j->due = now + dfw_backoff_ms(j->deliver_attempts, 500, 30000);
        give_up = j->deliver_attempts > e->cfg->max_retries || !dfw_err_retryable(rc);
    }
    if (e->once && give_up) {
        dfw_log(DFW_LOG_ERROR, "pipeline",
                "tenant=%s stream=%s msg=\"outputs did not acknowledge the batch (%s); checkpoint "
                "held\" attempts=%d",
                j->tenant->conf->name, j->def->name, dfw_strerror(rc), j->deliver_attempts);
        dfw__job_fail(j, dfw_err_retryable(rc) ? DFW_ERR_IO : rc);
    }
}

static void on_ack(void *ack_ctx, uint64_t seq, dfw_err result)
{
    struct ack_ctx *a = ack_ctx;
    struct job *j = a->job;
    struct dfw_engine *e = j->tenant->engine;
    unsigned bit = 1u << a->out;
    if (j->state != J_DELIVER || seq != j->seq || !(j->pending & bit)) {
        return; /* a late ack of a batch already re-sent */
    }
    j->pending &= ~bit;
    if (result == DFW_OK) {
        j->acked |= bit;
    }
    else {
        dfw_log(DFW_LOG_WARN, "pipeline",
                "tenant=%s stream=%s output=%s msg=\"batch not "
                "acknowledged (%s); will re-send\"",
                j->tenant->conf->name, j->def->name, e->outputs[a->out].name, dfw_strerror(result));
        deliver_failed(j, dfw_mono_ms(), result);
    }
    /* the commit happens in the loop, never inside an output's submit or poll */
}

void dfw__job_deliver(struct job *j, int64_t now)
{
    struct dfw_engine *e = j->tenant->engine;
    if (j->acked == (1u << e->noutputs) - 1) {
        dfw__job_commit(j, now);
        return;
    }
    if (now < j->due) {
        return;
    }
    struct dfw_batch batch = {j->events, j->nevents, j->seq};
    for (unsigned o = 0; o < e->noutputs && j->state == J_DELIVER; o++) {
        unsigned bit = 1u << o;
        if ((j->acked | j->pending) & bit) {
            continue;
        }
        j->pending |= bit;
        dfw_err rc = e->outputs[o].plugin->submit(e->outputs[o].self, &batch, on_ack, &j->acks[o]);
        if (rc == DFW_OK) {
            j->busy_since = 0;
        }
        else {
            j->pending &= ~bit;
            deliver_failed(j, now, rc);
            if (rc != DFW_ERR_BUSY && (j->deliver_attempts == 1 || j->deliver_attempts % 10 == 0)) {
                dfw_log(DFW_LOG_WARN, "pipeline",
                        "tenant=%s stream=%s output=%s msg=\"output "
                        "cannot take the batch (%s); checkpoint held, retrying\" attempts=%d",
                        j->tenant->conf->name, j->def->name, e->outputs[o].name, dfw_strerror(rc),
                        j->deliver_attempts);
            }
        }
    }
}

void dfw__job_page_received(struct job *j, const struct dfw_http_response *r, int64_t now)
{
    struct dfw_engine *e = j->tenant->engine;
    const char *tenant = j->tenant->conf->name;
    char err[512];
    if (dfw_stream_parse_page(r->body, r->len, j->base_url, &j->page, err, sizeof(err)) != DFW_OK) {
        dfw_log(DFW_LOG_WARN, "fetch", "tenant=%s stream=%s msg=\"bad page: %s; retrying\"", tenant,
                j->def->name, err);
        dfw__job_retry(j, now, -1, err);
        return;
    }
    size_t n = json_object_array_length(j->page.value);
    j->events = calloc(n ? n : 1, sizeof(*j->events));
    j->ids = malloc((n ? n : 1) * ID_LEN);
    if (j->events == NULL || j->ids == NULL) {
        dfw__job_drop_page(j);
        dfw__job_retry(j, now, -1, "out of memory");
        return;
    }
    j->fetched += n;
    for (size_t i = 0; i < n; i++) {
        struct json_object *rec = json_object_array_get_idx(j->page.value, i);
        struct dfw_event *ev = &j->events[j->nevents];
        char *id = j->ids + j->nevents * ID_LEN;
        int64_t created;
        if (dfw_stream_record_key(j->def, rec, id, ID_LEN, &ev->updated, &ev->updated_ms,
                                  &created) != DFW_OK) {
            /* never skip silently: the page is retried and the job reported failing */
            dfw_log(DFW_LOG_WARN, "fetch",
                    "tenant=%s stream=%s msg=\"record %zu of the page has no "
                    "valid %s/%s; retrying the page\"",
                    tenant, j->def->name, i, j->def->id_field, j->def->updated_field);
            dfw__job_drop_page(j);
            dfw__job_retry(j, now, -1, "record without id or last-update time");
            return;
        }
        if (dfw_cursor_seen(&j->cursor, id, ev->updated)) {
            j->duplicates++;
            continue;
        }
        ev->tenant = tenant;
        ev->tenant_id = j->tenant->conf->tenant_id;
        ev->stream = j->def->name;
        ev->id = id;
        ev->record = rec;
        /* an update: created before this window, or delivered before with another last-update */
        ev->kind = created < j->cursor.sweep_from_ms || dfw_cursor_seen_id(&j->cursor, id)
                       ? DFW_EVENT_UPDATE
                       : DFW_EVENT_NEW;
        j->nevents++;
    }
    j->attempts = 0;
    if (j->nevents == 0) {
        j->state = J_DELIVER;
        dfw__job_commit(j, now);
        return;
    }
    j->seq = ++e->next_seq;
    j->state = J_DELIVER;
    j->due = now;
    dfw__job_deliver(j, now);
}
