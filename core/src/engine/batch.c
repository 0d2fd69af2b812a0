/* A fetched page becomes a batch: every record's identity, the pairs not delivered yet (pending
 * in the cursor, so the same pair twice on one page is sent once), the event kinds, late
 * arrivals, and what the page says about its slice (dfw_slice_outcome) and about the server's
 * paging (anomalies, one warning per sweep each). Below job.c. */
#include "engine_internal.h"
#include "dfw/log.h"
#include "dfw/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const anomaly_text[AN_COUNT] = {
    [AN_FULL_NO_NEXT] = "a page of $top rows came without @odata.nextLink; reading a smaller slice",
    [AN_FOREIGN_NEXT] = "@odata.nextLink points to another host; not followed, reading a smaller "
                        "slice",
    [AN_OVERFULL] = "the page has more rows than $top asked for; reading a smaller slice",
    [AN_SKIP_LIMIT] = "more records share one last-update and creation millisecond than the "
                      "API's $skip limit lets us page through; some may be missing",
    [AN_SAMPLED] = "records sharing one last-update and creation millisecond came in a new order "
                   "on every request; read until pages brought nothing new (complete with "
                   "probability above 1 - 1e-6, not certain)",
    [AN_COUNT_CHANGED] = "@odata.count changed while records sharing one millisecond were read; "
                         "reading on",
    [AN_OUTSIDE_SLICE] = "a record outside the time range asked for came back; delivered anyway",
};

void dfw__job_anomaly(struct job *j, enum anomaly a)
{
    j->anomalies[a]++;
    if (j->warned & (1u << a)) {
        return;
    }
    j->warned |= 1u << a;
    dfw_log(DFW_LOG_WARN, "fetch", "tenant=%s stream=%s msg=\"%s\"", j->tenant->conf->name,
            j->def->name, anomaly_text[a]);
}

void dfw__batch_release(struct job *j)
{
    dfw_page_free(&j->page);
    /* kept for the next request unless one is out already (a read-ahead, with its own buffer):
     * then it would only add a page to the job's memory */
    if (!j->in_flight && j->body.cap > j->spare.cap) {
        dfw_buf_free(&j->spare);
        j->spare = j->body;
        dfw_buf_reset(&j->spare);
    }
    else {
        dfw_buf_free(&j->body);
    }
    j->body = (struct dfw_buf)DFW_BUF_INIT;
    free(j->events);
    j->events = NULL;
    j->released = 1;
}

void dfw__batch_drop(struct job *j)
{
    dfw__batch_release(j);
    j->released = 0;
    dfw_buf_reset(&j->strs); /* kept for the next page */
    j->nevents = 0;
}

static int reserve_scratch(struct job *j, size_t n)
{
    if (j->times_cap < 2 * n) {
        int64_t *t = realloc(j->times, 2 * n * sizeof(*t));
        if (t == NULL) {
            return -1;
        }
        j->times = t;
        j->times_cap = 2 * n;
    }
    if (j->pairs_cap < n) {
        uint64_t *p = realloc(j->pairs, n * sizeof(*p));
        if (p == NULL) {
            return -1;
        }
        j->pairs = p;
        j->pairs_cap = n;
    }
    return 0;
}

/* What the page says about its slice: may it hold more, and where its rows lie. */
static void outcome(struct job *j, size_t rows, size_t nkeys)
{
    struct dfw_slice_outcome *o = &j->outcome;
    memset(o, 0, sizeof(*o));
    o->rows = rows;
    int full = rows >= (size_t)j->top;
    o->more = full || j->page.next_link != NULL || j->page.foreign_next_link;
    if (rows > (size_t)j->top) {
        dfw__job_anomaly(j, AN_OVERFULL);
    }
    if (j->page.foreign_next_link) {
        dfw__job_anomaly(j, AN_FOREIGN_NEXT);
    }
    else if (full && j->page.next_link == NULL && j->def->next_link_on_more && j->slice.skip == 0) {
        dfw__job_anomaly(j, AN_FULL_NO_NEXT);
    }
    if (nkeys > 0) {
        o->cut_ms = dfw_window_cut(j->times, nkeys, &o->same_ms);
        o->ccut_ms = dfw_window_cut(j->times + nkeys, nkeys, &o->csame_ms);
    }
    if (j->cursor.win.mode == DFW_WINDOW_PASSES) {
        o->cell = dfw_cell_page(&j->cell, j->pairs, rows, j->top, j->page.count, j->def->skip_max);
        if (j->cell.count_changed) {
            dfw__job_anomaly(j, AN_COUNT_CHANGED);
        }
        if (o->cell == DFW_CELL_SAMPLED) {
            dfw__job_anomaly(j, AN_SAMPLED);
        }
        else if (o->cell == DFW_CELL_INCOMPLETE) {
            dfw__job_anomaly(j, AN_SKIP_LIMIT);
        }
    }
}

/* The strings of the events, in j->strs once the page is read (it moves while it grows). */
static void point_strings(struct job *j, const size_t *offs)
{
    for (size_t i = 0; i < j->nevents; i++) {
        struct dfw_event *ev = &j->events[i];
        ev->id = j->strs.data + offs[3 * i];
        ev->updated = j->strs.data + offs[3 * i + 1];
        ev->severity = offs[3 * i + 2] == SIZE_MAX ? NULL : j->strs.data + offs[3 * i + 2];
    }
}

static dfw_err fail(struct job *j, dfw_err rc, char *err, size_t len, const char *what)
{
    snprintf(err, len, "%s", what);
    dfw_cursor_rollback(&j->cursor);
    dfw__batch_drop(j);
    return rc;
}

dfw_err dfw__batch_build(struct job *j, const struct dfw_http_response *r, char *err, size_t len)
{
    const char *tenant = j->tenant->conf->name;
    j->batch_late = 0;
    j->batch_late_ms = 0;
    if (dfw_stream_parse_page_keyed(r->body, r->len, j->base_url, j->def, &j->page, err, len) !=
        DFW_OK) {
        return DFW_ERR_INVALID;
    }
    /* the events point into the body: keep it, without a copy (the loop lends its buffer) */
    if (r->owner != NULL) {
        j->body = *r->owner;
        *r->owner = (struct dfw_buf)DFW_BUF_INIT;
    }
    size_t n = j->page.nrows;
    j->events = calloc(n ? n : 1, sizeof(*j->events));
    size_t *offs = j->events ? malloc(3 * (n ? n : 1) * sizeof(*offs)) : NULL;
    if (r->owner == NULL || offs == NULL || reserve_scratch(j, n ? n : 1) != 0) {
        free(offs);
        dfw__batch_drop(j);
        snprintf(err, len, "out of memory");
        return DFW_ERR_NOMEM;
    }
    int passes = j->cursor.win.mode == DFW_WINDOW_PASSES;
    for (size_t i = 0; i < n; i++) {
        const struct dfw_page_row *row = &j->page.rows[i];
        struct dfw_event *ev = &j->events[j->nevents];
        struct dfw_row_key key;
        size_t mark = j->strs.len;
        dfw_err rc = dfw_stream_row_key(j->def, row->json, row->len, ID_LEN, &j->strs, &key,
                                        &j->page.index, row->keyed ? row->key : NULL);
        if (rc != DFW_OK) {
            free(offs);
            /* never skip silently: the page is retried and the job reported failing */
            char what[256];
            snprintf(what, sizeof(what), "record %zu of the page has no valid %s/%s", i,
                     j->def->id_field, j->def->updated_field);
            return fail(j, rc, err, len, rc == DFW_ERR_NOMEM ? "out of memory" : what);
        }
        const char *id = j->strs.data + key.id;
        const char *updated = j->strs.data + key.updated;
        ev->updated_ms = key.updated_ms;
        j->times[i] = ev->updated_ms;
        j->times[n + i] = key.created_ms;
        if (ev->updated_ms < j->slice.from_ms || ev->updated_ms >= j->slice.to_ms) {
            dfw__job_anomaly(j, AN_OUTSIDE_SLICE);
        }
        struct dfw_cursor_prior prior;
        if (dfw_cursor_note(&j->cursor, id, updated, ev->updated_ms, &prior) != DFW_OK) {
            free(offs);
            return fail(j, DFW_ERR_NOMEM, err, len, "out of memory");
        }
        if (passes) {
            j->pairs[i] = prior.pair_hash;
        }
        if (prior.present) {
            j->duplicates++;
            j->strs.len = mark; /* not an event: its strings go */
            continue;
        }
        /* what is known of its earlier versions (outputs that send parts of it use this) */
        ev->prev_updated_ms = prior.latest_ms;
        ev->window_from_ms = j->cursor.win.from_ms;
        /* an update: created before this window, or delivered before with another last-update */
        ev->kind = key.created_ms < j->cursor.win.from_ms || prior.id_known ? DFW_EVENT_UPDATE
                                                                            : DFW_EVENT_NEW;
        if (ev->updated_ms < j->cursor.prev_end_ms) {
            /* its window was read before and it was not there: it became visible late */
            j->batch_late++;
            int64_t behind = j->cursor.prev_end_ms - ev->updated_ms;
            if (behind > j->batch_late_ms) {
                j->batch_late_ms = behind;
            }
        }
        ev->tenant = tenant;
        ev->tenant_id = j->tenant->conf->tenant_id;
        ev->stream = j->def->name;
        ev->raw = row->json;
        ev->raw_len = row->len;
        ev->raw_index = &j->page.index;
        offs[3 * j->nevents] = key.id;
        offs[3 * j->nevents + 1] = key.updated;
        offs[3 * j->nevents + 2] = key.severity;
        j->nevents++;
    }
    point_strings(j, offs);
    free(offs);
    j->fetched += n;
    outcome(j, n, n);
    return DFW_OK;
}
