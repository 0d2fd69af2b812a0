#include "dfw/event.h"

#include <json-c/json.h>

const char *dfw_event_kind_name(enum dfw_event_kind kind)
{
    return kind == DFW_EVENT_UPDATE ? "update" : "new";
}

const char *dfw_event_json(const struct dfw_event *ev, size_t *len)
{
    return json_object_to_json_string_length(
        ev->record, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
}
