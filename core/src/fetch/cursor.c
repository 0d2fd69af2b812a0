/* The cursor (dfw/cursor.h): checkpoint, sweep window and remembered pairs, and the checkpoint's
 * JSON form. */
#include "dfw/cursor.h"
#include "dfw/json_write.h"
#include "dfw/timeutil.h"
#include "seen.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#define CHECKPOINT_VERSION 2

dfw_err dfw_cursor_init(struct dfw_cursor *c, int64_t high_water_ms)
{
    memset(c, 0, sizeof(*c));
    c->high_water_ms = high_water_ms;
    c->seen = dfw__seen_new();
    return c->seen ? DFW_OK : DFW_ERR_NOMEM;
}

void dfw_cursor_clear(struct dfw_cursor *c)
{
    dfw__seen_free(c->seen);
    memset(c, 0, sizeof(*c));
}

int dfw_cursor_begin(
    struct dfw_cursor *c, int64_t now_ms, int64_t overlap_ms, int64_t settle_ms, int top)
{
    if (c->win.to_ms != 0) {
        return 1;
    }
    int64_t from = c->high_water_ms - overlap_ms;
    int64_t to = now_ms - settle_ms;
    if (from < 0) {
        from = 0;
    }
    if (to <= from) {
        return 0;
    }
    dfw_window_begin(&c->win, from, to, top);
    return 1;
}

int dfw_cursor_seen(const struct dfw_cursor *c, const char *id, const char *updated)
{
    return dfw__seen_has(c->seen, id, updated);
}

int dfw_cursor_seen_id(const struct dfw_cursor *c, const char *id)
{
    return dfw__seen_has_id(c->seen, id);
}

int64_t dfw_cursor_latest(const struct dfw_cursor *c, const char *id)
{
    return dfw__seen_latest(c->seen, id);
}

dfw_err
dfw_cursor_add(struct dfw_cursor *c, const char *id, const char *updated, int64_t updated_ms)
{
    return dfw__seen_add(c->seen, id, updated, updated_ms, 1);
}

dfw_err dfw_cursor_note(struct dfw_cursor *c,
                        const char *id,
                        const char *updated,
                        int64_t updated_ms,
                        struct dfw_cursor_prior *prior)
{
    return dfw__seen_note(c->seen, id, updated, updated_ms, prior);
}

void dfw_cursor_commit(struct dfw_cursor *c, size_t events)
{
    dfw__seen_commit(c->seen);
    c->delivered += events;
}

void dfw_cursor_rollback(struct dfw_cursor *c)
{
    dfw__seen_rollback(c->seen);
}

void dfw_cursor_advance(struct dfw_cursor *c,
                        const struct dfw_slice_outcome *o,
                        int next_skip,
                        int64_t overlap_ms)
{
    dfw_window_advance(&c->win, o, next_skip);
    int64_t next_from = c->win.to_ms - overlap_ms;
    if (dfw_window_done(&c->win)) {
        if (c->win.to_ms > c->high_water_ms) {
            c->high_water_ms = c->win.to_ms;
        }
        c->prev_end_ms = c->high_water_ms;
        memset(&c->win, 0, sizeof(c->win));
        next_from = c->high_water_ms - overlap_ms;
    }
    else if (c->win.pos_ms < next_from) {
        next_from = c->win.pos_ms;
    }
    /* out of memory here only keeps pairs longer than needed */
    (void)dfw__seen_prune(c->seen, next_from);
}

size_t dfw_cursor_seen_count(const struct dfw_cursor *c)
{
    return c->seen ? dfw__seen_count(c->seen) : 0;
}

size_t dfw_cursor_seen_bytes(const struct dfw_cursor *c)
{
    return c->seen ? dfw__seen_bytes(c->seen) : 0;
}

/* ---- JSON ---- */

/* The text of json-c's JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, the checkpoint's
 * format since version 1, written without building a tree of some 10^4 pairs per page. */
struct text {
    struct dfw_buf *out;
    dfw_err err;
};

static void put(struct text *t, const char *s)
{
    if (t->err == DFW_OK) {
        t->err = dfw_buf_puts(t->out, s);
    }
}

static void put_string(struct text *t, const char *s)
{
    if (t->err == DFW_OK) {
        t->err = dfw_json_append_string(t->out, s);
    }
}

/* The literal text before, then v. */
static void put_i64(struct text *t, const char *before, int64_t v)
{
    if (t->err == DFW_OK) {
        t->err = dfw_buf_printf(t->out, "%s%" PRId64, before, v);
    }
}

static void put_pair(void *arg, const char *id, const char *updated, int64_t updated_ms)
{
    struct text *t = arg;
    put(t, t->out->data[t->out->len - 1] == '[' ? "[" : ",[");
    put_string(t, id);
    put(t, ",");
    put_string(t, updated);
    put_i64(t, ",", updated_ms);
    put(t, "]");
}

static void put_window(struct text *t, const struct dfw_window *w)
{
    put_i64(t, ",\"sweep\":{\"from_ms\":", w->from_ms);
    put_i64(t, ",\"to_ms\":", w->to_ms);
    put_i64(t, ",\"pos_ms\":", w->pos_ms);
    put_i64(t, ",\"end_ms\":", w->end_ms);
    put_i64(t, ",\"width_ms\":", w->width_ms);
    put_i64(t, ",\"top\":", w->top);
    if (w->mode != DFW_WINDOW_TIME) {
        /* a cell split by creation time; its $skip passes are begun again after a restart */
        put_i64(t, ",\"cpos_ms\":", w->cpos_ms);
        put_i64(t, ",\"cend_ms\":", w->mode == DFW_WINDOW_CREATED ? w->cend_ms : w->cpos_ms + 1);
    }
    put(t, "}");
}

dfw_err dfw_cursor_to_text(const struct dfw_cursor *c, struct dfw_buf *out)
{
    size_t start = out->len;
    struct text t = {out, DFW_OK};
    char ts[DFW_TIME_LEN];
    dfw_time_format(c->high_water_ms, ts, sizeof(ts));
    put_i64(&t, "{\"version\":", CHECKPOINT_VERSION);
    put(&t, ",\"high_water\":");
    put_string(&t, ts);
    put_i64(&t, ",\"high_water_ms\":", c->high_water_ms);
    put_i64(&t, ",\"prev_end_ms\":", c->prev_end_ms);
    if (c->win.to_ms != 0) {
        put_window(&t, &c->win);
    }
    put_i64(&t, ",\"delivered\":", (int64_t)c->delivered);
    put_i64(&t, ",\"late\":", (int64_t)c->late);
    put(&t, ",\"seen\":[");
    if (t.err == DFW_OK && c->seen != NULL) {
        dfw__seen_each(c->seen, put_pair, &t);
    }
    put(&t, "]}");
    if (t.err != DFW_OK) {
        out->len = start;
        if (out->data != NULL) {
            out->data[start] = '\0';
        }
    }
    return t.err;
}

static int get_int64(struct json_object *o, const char *key, int64_t *out)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int)) {
        return -1;
    }
    *out = json_object_get_int64(v);
    return 0;
}

static dfw_err window_from_json(struct dfw_window *w, struct json_object *o)
{
    int64_t top = 0;
    if (!json_object_is_type(o, json_type_object) || get_int64(o, "from_ms", &w->from_ms) ||
        get_int64(o, "to_ms", &w->to_ms) || get_int64(o, "pos_ms", &w->pos_ms) ||
        get_int64(o, "end_ms", &w->end_ms) || get_int64(o, "width_ms", &w->width_ms) ||
        get_int64(o, "top", &top) || top < 1 || top > 1000000 || w->to_ms <= w->from_ms ||
        w->pos_ms < w->from_ms || w->pos_ms > w->to_ms || w->end_ms <= w->pos_ms ||
        w->end_ms > w->to_ms || w->width_ms < 1) {
        return DFW_ERR_INVALID;
    }
    w->top = (int)top;
    w->mode = DFW_WINDOW_TIME;
    if (get_int64(o, "cpos_ms", &w->cpos_ms) == 0) {
        if (get_int64(o, "cend_ms", &w->cend_ms) != 0 || w->cpos_ms < DFW_WINDOW_OPEN_LO ||
            w->cend_ms <= w->cpos_ms || w->cend_ms > DFW_WINDOW_OPEN_HI) {
            return DFW_ERR_INVALID;
        }
        w->mode = DFW_WINDOW_CREATED;
    }
    return DFW_OK;
}

dfw_err dfw_cursor_from_json(struct dfw_cursor *c, struct json_object *obj)
{
    int64_t hw, delivered = 0, late = 0, version = 1;
    struct json_object *seen, *v;
    if (!json_object_is_type(obj, json_type_object) || get_int64(obj, "high_water_ms", &hw) != 0 ||
        !json_object_object_get_ex(obj, "seen", &seen) ||
        !json_object_is_type(seen, json_type_array)) {
        return DFW_ERR_INVALID;
    }
    get_int64(obj, "version", &version);
    if (version < 1 || version > CHECKPOINT_VERSION) {
        return DFW_ERR_INVALID;
    }
    dfw_cursor_clear(c);
    if (dfw_cursor_init(c, hw) != DFW_OK) {
        return DFW_ERR_NOMEM;
    }
    get_int64(obj, "delivered", &delivered);
    get_int64(obj, "late", &late);
    get_int64(obj, "prev_end_ms", &c->prev_end_ms);
    c->delivered = (uint64_t)delivered;
    c->late = (uint64_t)late;
    /* version 1 kept a next link of a live result: its sweep is begun again */
    if (version >= 2 && json_object_object_get_ex(obj, "sweep", &v) &&
        window_from_json(&c->win, v) != DFW_OK) {
        return DFW_ERR_INVALID;
    }
    size_t n = json_object_array_length(seen);
    for (size_t i = 0; i < n; i++) {
        struct json_object *pair = json_object_array_get_idx(seen, i);
        if (!json_object_is_type(pair, json_type_array) || json_object_array_length(pair) != 3) {
            return DFW_ERR_INVALID;
        }
        struct json_object *id = json_object_array_get_idx(pair, 0);
        struct json_object *up = json_object_array_get_idx(pair, 1);
        struct json_object *ms = json_object_array_get_idx(pair, 2);
        if (!json_object_is_type(id, json_type_string) ||
            !json_object_is_type(up, json_type_string) || !json_object_is_type(ms, json_type_int)) {
            return DFW_ERR_INVALID;
        }
        dfw_err err = dfw__seen_add(c->seen, json_object_get_string(id), json_object_get_string(up),
                                    json_object_get_int64(ms), 0);
        if (err != DFW_OK) {
            return err;
        }
    }
    return DFW_OK;
}
