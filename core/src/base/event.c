#include "dfw/event.h"

#include "dfw/json_scan.h"

#include <json-c/json.h>

const char *dfw_event_kind_name(enum dfw_event_kind kind)
{
    return kind == DFW_EVENT_UPDATE ? "update" : "new";
}

const char *dfw_event_json(const struct dfw_event *ev, size_t *len)
{
    if (ev->raw != NULL) {
        *len = ev->raw_len;
        return ev->raw;
    }
    return json_object_to_json_string_length(
        ev->record, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
}

struct json_object *dfw_event_record_get(const struct dfw_event *ev)
{
    if (ev->record != NULL || ev->raw == NULL) {
        return ev->record;
    }
    return dfw_json_parse(ev->raw, ev->raw_len);
}

void dfw_event_record_put(const struct dfw_event *ev, struct json_object *rec)
{
    if (rec != NULL && rec != ev->record) {
        json_object_put(rec);
    }
}

dfw_err dfw_event_append_json(const struct dfw_event *ev, struct dfw_buf *out)
{
    size_t len;
    const char *json = dfw_event_json(ev, &len);
    return json == NULL ? DFW_ERR_NOMEM : dfw_buf_append(out, json, len);
}
