/* Read-ahead: the request for the next slice is sent while the batch is delivered, its answer
 * kept until the batch is committed (engine_internal.h says when it is used). Below job.c: job.c
 * decides when to call these and processes a kept answer like any other. */
#include "engine_internal.h"

#include <stdio.h>
#include <string.h>

/* Nothing is sent while the run stops, the tenant retires or checkpoints cannot be written: those
 * hold the job where it is. */
void dfw__ahead_send(struct job *j, int64_t now, dfw_http_done_fn done)
{
    const struct dfw_engine *e = j->tenant->engine;
    if (!e->cfg->read_ahead || e->stop || e->store_down || j->tenant->retiring || j->in_flight ||
        j->ahead != AHEAD_NONE || j->state != J_DELIVER ||
        j->cursor.win.mode == DFW_WINDOW_PASSES) {
        return;
    }
    struct dfw_window next = j->cursor.win;
    dfw_window_advance(&next, &j->outcome, j->cell.skip);
    if (dfw_window_done(&next) || next.mode == DFW_WINDOW_PASSES) {
        return; /* the sweep ends with this batch, or the next slice depends on the cell's passes */
    }
    if (dfw__fetch_send(j, now, &next, &j->ahead_slice, 1, done) == FS_SENT) {
        j->ahead = AHEAD_SENT;
    }
}

/* Keep the answer (its body taken from the HTTP loop, no copy) until the batch is committed. */
static void keep(struct job *j, const struct dfw_http_response *r)
{
    j->ahead_resp = *r;
    snprintf(j->ahead_error, sizeof(j->ahead_error), "%s", r->error ? r->error : "");
    j->ahead_resp.error = j->ahead_error;
    dfw_buf_free(&j->ahead_body);
    if (r->owner != NULL && r->body == r->owner->data) {
        j->ahead_body = *r->owner; /* the same memory */
        *r->owner = (struct dfw_buf)DFW_BUF_INIT;
    }
    else if (dfw_buf_append(&j->ahead_body, r->body ? r->body : "", r->len) != DFW_OK) {
        j->ahead = AHEAD_NONE; /* out of memory: the slice is requested again after the commit */
        return;
    }
    j->ahead_resp.body = j->ahead_body.data ? j->ahead_body.data : "";
    j->ahead_resp.owner = &j->ahead_body;
    j->ahead = AHEAD_READY;
}

int dfw__ahead_answer(struct job *j, const struct dfw_http_response *r, int64_t now)
{
    switch (j->ahead) {
    case AHEAD_NONE:
    case AHEAD_READY: /* one request in flight at a time: this is not the read-ahead's */
        return 0;
    case AHEAD_STALE:
        j->ahead = AHEAD_NONE;
        if (j->state == J_FETCH) {
            dfw__job_at(j, now); /* the request it waited to send (send() holds while in flight) */
        }
        return 1;
    case AHEAD_SENT:
        break;
    }
    if (j->state == J_DELIVER) {
        keep(j, r);
        return 1;
    }
    /* committed meanwhile, and the window's next slice is the one asked for (dfw__ahead_settle) */
    j->ahead = AHEAD_NONE;
    return 0;
}

void dfw__ahead_settle(struct job *j)
{
    if (j->ahead != AHEAD_SENT && j->ahead != AHEAD_READY) {
        return;
    }
    const struct dfw_window *w = &j->cursor.win;
    struct dfw_slice due;
    int same = !j->tenant->retiring && !dfw_window_done(w) && w->mode != DFW_WINDOW_PASSES;
    if (same) {
        dfw_window_slice(w, &due);
        same = memcmp(&due, &j->ahead_slice, sizeof(due)) == 0;
    }
    if (!same) {
        dfw__ahead_drop(j);
        return;
    }
    j->slice = j->ahead_slice;
}

void dfw__ahead_drop(struct job *j)
{
    if (j->ahead == AHEAD_READY) {
        dfw_buf_free(&j->ahead_body);
        j->ahead = AHEAD_NONE;
    }
    else if (j->ahead == AHEAD_SENT) {
        j->ahead = AHEAD_STALE;
    }
}
