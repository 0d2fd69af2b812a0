/* The page parser: response bytes -> page (dfw_stream_parse_page_keyed) -> rows -> per record id,
 * last-update time, creation time and severity (dfw_stream_row_key), for each stream; the identity
 * read while the page was checked (keyed rows) and with the page's index is the one read from the
 * row's bytes alone.
 * Invariants: an accepted page is strict JSON (dfw_json_check), json-c parses it whole and finds
 * the same records as the rows; every row is strict JSON on one line (what HEC, Kafka, file and
 * syslog JSON send on) that json-c parses alone; a refused row leaves nothing behind; a next link
 * stays on the API host; an accepted id is the record's id exactly (no cut at a NUL, no
 * truncation); an accepted last-update time parses to updated_ms; json-c accepts whatever
 * dfw_json_check accepts (up to its nesting limit); error texts hold no control characters (they
 * are logged). */
#include "fuzz.h"

#include <inttypes.h>
#include <json-c/json.h>

#include "dfw/event.h"
#include "dfw/json_check.h"
#include "dfw/stream.h"
#include "dfw/timeutil.h"
#include "dfw/utf8.h"

#define BASE "https://api.security.microsoft.com"

/* The identity read with the page's index and the members the check captured is the one read
 * without them (scanning every byte of the row). */
static void same_without_index(const struct dfw_stream_def *def,
                               const struct dfw_page_row *row,
                               dfw_err rc,
                               const struct dfw_buf *arena,
                               const struct dfw_row_key *k)
{
    struct dfw_buf plain = DFW_BUF_INIT;
    struct dfw_row_key p;
    dfw_err prc = dfw_stream_row_key(def, row->json, row->len, 128, &plain, &p, NULL, NULL);
    FUZZ_CHECK(prc == rc, "row key %d with the index (keyed %d), %d without", rc, row->keyed, prc);
    if (rc == DFW_OK) {
        FUZZ_CHECK(plain.len == arena->len && memcmp(plain.data, arena->data, plain.len) == 0 &&
                       p.id == k->id && p.updated == k->updated && p.severity == k->severity &&
                       p.updated_ms == k->updated_ms && p.created_ms == k->created_ms,
                   "the index or the captured members changed the row key");
    }
    dfw_buf_free(&plain);
}

/* One row: strict JSON on one line that json-c parses, the same record json-c finds in the whole
 * page (whole, when json-c parsed it), and an identity that is the record's own, with the page's
 * index as without it. */
static void check_row(const struct dfw_stream_def *def,
                      const struct dfw_page_row *row,
                      const struct dfw_json_index *ix,
                      struct json_object *whole)
{
    char why[128];
    FUZZ_CHECK(dfw_json_check(row->json, row->len, why, sizeof(why)) == DFW_OK,
               "row is not strict JSON (%s)", why);
    FUZZ_CHECK(memchr(row->json, '\n', row->len) == NULL &&
                   memchr(row->json, '\r', row->len) == NULL,
               "a line break in a row");
    struct dfw_event ev = {.raw = row->json, .raw_len = row->len};
    struct json_object *rec = dfw_event_record_get(&ev);
    FUZZ_CHECK(rec != NULL, "json-c does not parse a row");
    if (whole != NULL) {
        const char *a = json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN);
        const char *b = json_object_to_json_string_ext(whole, JSON_C_TO_STRING_PLAIN);
        FUZZ_CHECK(strcmp(a, b) == 0, "row %.200s is not json-c's record %.200s", a, b);
    }
    struct dfw_buf arena = DFW_BUF_INIT;
    struct dfw_row_key k;
    dfw_err rc = dfw_stream_row_key(def, row->json, row->len, 128, &arena, &k, ix,
                                    row->keyed ? row->key : NULL);
    same_without_index(def, row, rc, &arena, &k);
    if (rc == DFW_OK) {
        const char *id = arena.data + k.id;
        struct json_object *v = json_object_object_get(rec, def->id_field);
        size_t idlen = strlen(id);
        FUZZ_CHECK(idlen > 0 && idlen < 128, "id length %zu", idlen);
        if (json_object_is_type(v, json_type_string)) {
            FUZZ_CHECK((size_t)json_object_get_string_len(v) == idlen &&
                           memcmp(json_object_get_string(v), id, idlen) == 0,
                       "id '%s' is not the record's id", id);
        }
        else {
            char num[32];
            snprintf(num, sizeof(num), "%" PRId64, json_object_get_int64(v));
            FUZZ_CHECK(json_object_is_type(v, json_type_int) && strcmp(num, id) == 0, "id '%s'",
                       id);
        }
        const char *updated = arena.data + k.updated;
        FUZZ_CHECK(strcmp(updated, json_object_get_string(
                                       json_object_object_get(rec, def->updated_field))) == 0,
                   "updated '%s' is not the record's", updated);
        int64_t again;
        FUZZ_CHECK(dfw_time_parse(updated, &again) == DFW_OK && again == k.updated_ms,
                   "updated '%s' is not %lld", updated, (long long)k.updated_ms);
        struct json_object *sev = json_object_object_get(rec, "severity");
        FUZZ_CHECK(json_object_is_type(sev, json_type_string)
                       ? k.severity != SIZE_MAX &&
                             strcmp(arena.data + k.severity, json_object_get_string(sev)) == 0
                       : k.severity == SIZE_MAX,
                   "severity is not the record's");
    }
    else {
        FUZZ_CHECK(arena.len == 0, "a refused row left strings in the arena");
    }
    dfw_buf_free(&arena);
    dfw_event_record_put(&ev, rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    char why[128];
    int strict = dfw_json_check(body, size, why, sizeof(why)) == DFW_OK;
    FUZZ_CHECK(fuzz_no_controls(why, strict ? 0 : strlen(why)), "control character in '%s'", why);
    struct json_object *whole = NULL;
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
        whole = o;
        json_tokener_free(tok);
    }
    struct json_object *value = NULL;
    json_object_object_get_ex(whole, "value", &value);
    for (size_t s = 0; dfw_streams[s] != NULL; s++) {
        struct dfw_page page;
        char err[512];
        if (dfw_stream_parse_page_keyed(body, size, BASE, dfw_streams[s], &page, err,
                                        sizeof(err)) != DFW_OK) {
            FUZZ_CHECK(fuzz_no_controls(err, strlen(err)), "control character in '%s'", err);
            continue;
        }
        FUZZ_CHECK(strict, "a page that is not strict JSON was accepted");
        /* json-c takes every page the parser takes, and finds the same records */
        FUZZ_CHECK(json_object_is_type(value, json_type_array), "value is no array for json-c");
        FUZZ_CHECK(json_object_array_length(value) == page.nrows, "%zu rows, json-c has %zu",
                   page.nrows, json_object_array_length(value));
        if (page.next_link != NULL) {
            size_t b = strlen(BASE);
            FUZZ_CHECK(strncmp(page.next_link, BASE, b) == 0 &&
                           (page.next_link[b] == '/' || page.next_link[b] == '\0'),
                       "next link leaves the host: %s", page.next_link);
        }
        for (size_t i = 0; i < page.nrows; i++) {
            check_row(dfw_streams[s], &page.rows[i], &page.index,
                      json_object_array_get_idx(value, i));
        }
        dfw_page_free(&page);
    }
    json_object_put(whole);
    return 0;
}
