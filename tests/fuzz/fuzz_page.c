/* The page parser: response bytes -> page (dfw_stream_parse_page) -> per record id, last-update
 * and created time (dfw_stream_record_key), for each stream.
 * Invariants: an accepted page is strict JSON (dfw_json_check) and every record re-serialises as
 * strict, valid-UTF-8 JSON (what HEC, Kafka, file and syslog JSON send on); a next link stays on
 * the API host; an accepted id is the record's id exactly (no cut at a NUL, no truncation); an
 * accepted last-update time parses to updated_ms; json-c accepts whatever dfw_json_check accepts
 * (up to its nesting limit); error texts hold no control characters (they are logged). */
#include "fuzz.h"

#include <inttypes.h>
#include <json-c/json.h>

#include "dfw/event.h"
#include "dfw/json_check.h"
#include "dfw/stream.h"
#include "dfw/timeutil.h"
#include "dfw/utf8.h"

#define BASE "https://api.security.microsoft.com"

static void check_record(const struct dfw_stream_def *def, struct json_object *rec)
{
    char id[128];
    const char *updated = NULL;
    int64_t updated_ms = 0, created_ms = 0;
    if (dfw_stream_record_key(def, rec, id, sizeof(id), &updated, &updated_ms, &created_ms) !=
        DFW_OK) {
        return;
    }
    struct json_object *v = json_object_object_get(rec, def->id_field);
    size_t idlen = strlen(id);
    FUZZ_CHECK(idlen > 0 && idlen < sizeof(id), "id length %zu", idlen);
    if (json_object_is_type(v, json_type_string)) {
        FUZZ_CHECK((size_t)json_object_get_string_len(v) == idlen &&
                       memcmp(json_object_get_string(v), id, idlen) == 0,
                   "id '%s' is not the record's id", id);
    }
    else {
        char num[32];
        snprintf(num, sizeof(num), "%" PRId64, json_object_get_int64(v));
        FUZZ_CHECK(json_object_is_type(v, json_type_int) && strcmp(num, id) == 0, "id '%s'", id);
    }
    int64_t again;
    FUZZ_CHECK(dfw_time_parse(updated, &again) == DFW_OK && again == updated_ms,
               "updated '%s' is not %lld", updated, (long long)updated_ms);
    struct dfw_event ev = {.record = rec};
    size_t len;
    const char *json = dfw_event_json(&ev, &len);
    char why[128];
    FUZZ_CHECK(dfw_json_check(json, len, why, sizeof(why)) == DFW_OK,
               "record re-serialises as invalid JSON (%s): %.200s", why, json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    char why[128];
    int strict = dfw_json_check(body, size, why, sizeof(why)) == DFW_OK;
    FUZZ_CHECK(fuzz_no_controls(why, strict ? 0 : strlen(why)), "control character in '%s'", why);
    if (strict) {
        /* json-c must agree (its nesting limit is 32; the check allows more) */
        struct json_tokener *tok = json_tokener_new();
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        struct json_object *o = json_tokener_parse_ex(tok, body, (int)size);
        enum json_tokener_error e = json_tokener_get_error(tok);
        /* after a scalar at the top level (12, false) json-c waits for more ("continue") */
        size_t ws = 0;
        while (ws < size && strchr(" \t\r\n", body[ws]) != NULL && body[ws] != '\0') {
            ws++;
        }
        int scalar = ws < size && body[ws] != '{' && body[ws] != '[';
        FUZZ_CHECK(e == json_tokener_success || e == json_tokener_error_depth ||
                       (scalar && e == json_tokener_continue),
                   "json-c rejects strict JSON: %s", json_tokener_error_desc(e));
        if (o != NULL) {
            size_t len;
            const char *out = json_object_to_json_string_length(
                o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
            FUZZ_CHECK(dfw_json_check(out, len, why, sizeof(why)) == DFW_OK,
                       "json-c writes invalid JSON (%s): %.200s", why, out);
        }
        json_object_put(o);
        json_tokener_free(tok);
    }
    for (size_t s = 0; dfw_streams[s] != NULL; s++) {
        struct dfw_page page;
        char err[512];
        if (dfw_stream_parse_page(body, size, BASE, &page, err, sizeof(err)) != DFW_OK) {
            FUZZ_CHECK(fuzz_no_controls(err, strlen(err)), "control character in '%s'", err);
            continue;
        }
        FUZZ_CHECK(strict, "a page that is not strict JSON was accepted");
        FUZZ_CHECK(json_object_is_type(page.value, json_type_array), "value is no array");
        if (page.next_link != NULL) {
            size_t b = strlen(BASE);
            FUZZ_CHECK(strncmp(page.next_link, BASE, b) == 0 &&
                           (page.next_link[b] == '/' || page.next_link[b] == '\0'),
                       "next link leaves the host: %s", page.next_link);
        }
        size_t n = json_object_array_length(page.value);
        for (size_t i = 0; i < n; i++) {
            check_record(dfw_streams[s], json_object_array_get_idx(page.value, i));
        }
        json_object_put(page.root);
    }
    return 0;
}
