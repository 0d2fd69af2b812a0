/* A fetched batch rendered for a host: message text and the .defender.* fields, copied so that
 * the host may keep them on its own threads after submit returned. */
#include "embed_internal.h"
#include "dfw/buf.h"
#include "dfw/cef.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

enum field { F_TEXT, F_TENANT, F_TENANT_ID, F_STREAM, F_KIND, F_ID, F_SEV, F_TITLE, F_UPD, NF };

/* The record's title: the incident name for incidents, the title for alerts (borrowed from
 * rec). */
static const char *record_title(struct json_object *rec)
{
    static const char *const keys[] = {"title", "incidentName", "displayName"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        struct json_object *v;
        if (rec != NULL && json_object_object_get_ex(rec, keys[i], &v) &&
            json_object_is_type(v, json_type_string)) {
            return json_object_get_string(v);
        }
    }
    return "";
}

/* Append s and its NUL to the arena; *off receives where it starts. */
static dfw_err put(struct dfw_buf *arena, const char *s, size_t len, size_t *off)
{
    *off = arena->len;
    dfw_err rc = dfw_buf_append(arena, s, len);
    return rc != DFW_OK ? rc : dfw_buf_append(arena, "", 1);
}

static dfw_err render(const struct dfw_event *ev,
                      enum dfw_embed_format format,
                      struct dfw_buf *arena,
                      size_t off[NF])
{
    dfw_err rc;
    if (format == DFW_EMBED_CEF) {
        off[F_TEXT] = arena->len;
        rc = dfw_cef_format(ev, 0, arena);
        rc = rc != DFW_OK ? rc : dfw_buf_append(arena, "", 1);
    }
    else {
        size_t len;
        const char *json = dfw_event_json(ev, &len);
        rc = json != NULL ? put(arena, json, len, &off[F_TEXT]) : DFW_ERR_NOMEM;
    }
    const char *sev = dfw_cef_api_severity(ev);
    struct json_object *rec = rc == DFW_OK ? dfw_event_record_get(ev) : NULL;
    if (rc == DFW_OK && rec == NULL && ev->raw != NULL) {
        rc = DFW_ERR_NOMEM;
    }
    const char *fields[NF] = {
        [F_TENANT] = ev->tenant,
        [F_TENANT_ID] = ev->tenant_id,
        [F_STREAM] = ev->stream,
        [F_KIND] = dfw_event_kind_name(ev->kind),
        [F_ID] = ev->id,
        [F_SEV] = sev,
        [F_TITLE] = record_title(rec),
        [F_UPD] = ev->updated,
    };
    for (int f = F_TENANT; f < NF && rc == DFW_OK; f++) {
        const char *v = fields[f] ? fields[f] : "";
        rc = put(arena, v, strlen(v), &off[f]);
    }
    dfw_event_record_put(ev, rec);
    return rc;
}

struct batch *dfw__embed_batch_new(const struct dfw_batch *in, enum dfw_embed_format format)
{
    struct batch *b = calloc(1, sizeof(*b) + in->count * sizeof(struct dfw_embed_msg));
    size_t(*offs)[NF] = calloc(in->count ? in->count : 1, sizeof(*offs));
    struct dfw_buf arena = {0};
    dfw_err rc = b != NULL && offs != NULL ? DFW_OK : DFW_ERR_NOMEM;
    for (size_t i = 0; i < in->count && rc == DFW_OK; i++) {
        rc = render(&in->events[i], format, &arena, offs[i]);
    }
    char *stolen = rc == DFW_OK ? dfw_buf_steal(&arena) : NULL;
    if (stolen == NULL) {
        dfw_buf_free(&arena);
        free(offs);
        free(b);
        return NULL;
    }
    /* the arena is complete: it no longer moves, the pointers into it hold */
    b->arena = stolen;
    for (size_t i = 0; i < in->count; i++) {
        struct dfw_embed_msg *m = &b->msgs[i];
        const char *a = b->arena;
        m->text = a + offs[i][F_TEXT];
        m->text_len = strlen(m->text);
        m->tenant = a + offs[i][F_TENANT];
        m->tenant_id = a + offs[i][F_TENANT_ID];
        m->stream = a + offs[i][F_STREAM];
        m->kind = a + offs[i][F_KIND];
        m->id = a + offs[i][F_ID];
        m->severity = a + offs[i][F_SEV];
        m->title = a + offs[i][F_TITLE];
        m->last_update = a + offs[i][F_UPD];
        m->time_ms = in->events[i].updated_ms;
    }
    free(offs);
    b->pub.seq = in->seq;
    b->pub.count = in->count;
    b->pub.msgs = b->msgs;
    return b;
}

void dfw__embed_batch_free(struct batch *b)
{
    if (b == NULL) {
        return;
    }
    free(b->arena);
    free(b);
}
