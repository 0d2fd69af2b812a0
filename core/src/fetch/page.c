/* A page is checked once (dfw_json_check) and indexed, not parsed into a tree: each record stays
 * as the API's bytes, and outputs that need a tree build one record at a time. */
#include "dfw/stream.h"
#include "dfw/json_check.h"
#include "dfw/json_scan.h"
#include "dfw/timeutil.h"

#include <json-c/json.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "https://host[:port]" prefix length of a URL, or 0. */
static size_t origin_len(const char *url)
{
    if (strncmp(url, "https://", 8) != 0) {
        return 0;
    }
    const char *slash = strchr(url + 8, '/');
    return slash ? (size_t)(slash - url) : strlen(url);
}

void dfw_page_free(struct dfw_page *page)
{
    if (page == NULL) {
        return;
    }
    free(page->rows);
    free(page->next_link);
    free(page->flat);
    dfw_json_index_free(&page->index);
    memset(page, 0, sizeof(*page));
    page->count = -1;
}

/* Rows with line breaks between tokens are copied into page->flat without them. */
static dfw_err flatten(struct dfw_page *page)
{
    size_t need = 0;
    for (size_t i = 0; i < page->nrows; i++) {
        const struct dfw_page_row *r = &page->rows[i];
        if (memchr(r->json, '\n', r->len) != NULL || memchr(r->json, '\r', r->len) != NULL) {
            need += r->len;
        }
    }
    if (need == 0) {
        return DFW_OK;
    }
    page->flat = malloc(need);
    if (page->flat == NULL) {
        return DFW_ERR_NOMEM;
    }
    char *w = page->flat;
    for (size_t i = 0; i < page->nrows; i++) {
        struct dfw_page_row *r = &page->rows[i];
        if (memchr(r->json, '\n', r->len) == NULL && memchr(r->json, '\r', r->len) == NULL) {
            continue;
        }
        char *start = w;
        r->keyed = 0; /* its members moved */
        for (size_t k = 0; k < r->len; k++) {
            if (r->json[k] != '\n' && r->json[k] != '\r') {
                *w++ = r->json[k];
            }
        }
        r->json = start;
        r->len = (size_t)(w - start);
    }
    return DFW_OK;
}

/* The rows of the array at *pos (advanced past it). A repeated "value" replaces the first, as in
 * json-c. */
static dfw_err index_rows(struct dfw_page *page, const char *body, size_t len, size_t *pos)
{
    size_t cap = page->nrows = 0;
    struct dfw_json_span item, arr = {*pos, len - *pos};
    while (dfw_json_next_item(body, arr, pos, &item, &page->index) == 1) {
        if (page->nrows == cap) {
            cap = cap ? 2 * cap : 256;
            struct dfw_page_row *rows = realloc(page->rows, cap * sizeof(*rows));
            if (rows == NULL) {
                return DFW_ERR_NOMEM;
            }
            page->rows = rows;
        }
        page->rows[page->nrows++] = (struct dfw_page_row){body + item.off, item.len, 0, {{0, 0}}};
    }
    return DFW_OK;
}

/* One pass over the root's members: the rows are read where "value" stands, not skipped first.
 * Like json-c, the last of repeated names counts. m[0]: "@odata.nextLink", m[1]: "@odata.count".
 * DFW_ERR_INVALID when there is no "value" array. */
static dfw_err walk(struct dfw_page *page, const char *body, size_t len, struct dfw_json_span *m)
{
    /* a big root is in the index: found without reading it */
    struct dfw_json_span root, name;
    dfw_json_value(body, len, 0, &root, &page->index);
    size_t pos = root.off;
    int has_value = 0;
    while (dfw_json_next_name(body, root, &pos, &name, NULL) == 1) {
        if (dfw_json_name_is(body, name, "value")) {
            has_value = pos < len && body[pos] == '[';
            if (has_value) {
                dfw_err err = index_rows(page, body, len, &pos);
                if (err != DFW_OK) {
                    return err;
                }
                continue;
            }
        }
        struct dfw_json_span v;
        pos = dfw_json_value(body, len, pos, &v, &page->index);
        if (dfw_json_name_is(body, name, "@odata.nextLink")) {
            m[0] = v;
        }
        else if (dfw_json_name_is(body, name, "@odata.count")) {
            m[1] = v;
        }
    }
    return has_value ? DFW_OK : DFW_ERR_INVALID;
}

static dfw_err
next_link(struct dfw_page *page, const char *body, struct dfw_json_span s, const char *base_url)
{
    struct dfw_buf b = DFW_BUF_INIT;
    size_t n;
    dfw_err err = dfw_json_string(body, s, &b, &n);
    if (err == DFW_ERR_INVALID) {
        return DFW_OK; /* not a string: ignored */
    }
    if (err != DFW_OK) {
        dfw_buf_free(&b);
        return err;
    }
    size_t o = origin_len(base_url);
    /* never send the bearer token to another host */
    if (o == 0 || strncmp(b.data, base_url, o) != 0 || (b.data[o] != '/' && b.data[o] != '\0')) {
        page->foreign_next_link = 1;
        dfw_buf_free(&b);
        return DFW_OK;
    }
    page->next_link = dfw_buf_steal(&b);
    return page->next_link != NULL ? DFW_OK : DFW_ERR_NOMEM;
}

/* "@odata.count": a non-negative integer, else -1 (as json-c's int type takes it). */
static long count(const char *body, struct dfw_json_span s)
{
    if (s.len == 0 || s.len > 20 ||
        (body[s.off] != '-' && (body[s.off] < '0' || body[s.off] > '9'))) {
        return -1;
    }
    char num[24];
    memcpy(num, body + s.off, s.len);
    num[s.len] = '\0';
    if (strpbrk(num, ".eE") != NULL) {
        return -1;
    }
    char *end;
    long long v = strtoll(num, &end, 10);
    return *end == '\0' && v >= 0 ? (long)v : -1;
}

/* a keyed row copies its members from the check's capture */
_Static_assert(DFW_ROW_KEY_MEMBERS <= DFW_JSON_CAPTURE_MAX, "a row's key must fit a capture");

/* The identity members of a record, in the order of struct dfw_page_row's key. */
static void key_names(const struct dfw_stream_def *def, const char **names)
{
    names[0] = def->id_field;
    names[1] = def->updated_field;
    names[2] = def->created_field;
    names[3] = "severity";
}

/* The rows whose objects the check captured take their members (offsets made the row's own). Both
 * are in the order of the text. */
static void key_rows(struct dfw_page *page, const char *body, const struct dfw_json_capture *cap)
{
    size_t c = 0;
    for (size_t i = 0; i < page->nrows; i++) {
        struct dfw_page_row *r = &page->rows[i];
        size_t off = (size_t)(r->json - body);
        while (c < cap->n && cap->obj[c].open < off) {
            c++;
        }
        if (c == cap->n) {
            return;
        }
        const struct dfw_json_capture_obj *o = &cap->obj[c];
        if (o->open != off || o->unsure) {
            continue;
        }
        for (size_t k = 0; k < DFW_ROW_KEY_MEMBERS; k++) {
            r->key[k] = o->v[k].len ? (struct dfw_json_span){o->v[k].off - off, o->v[k].len}
                                    : (struct dfw_json_span){0, 0};
        }
        r->keyed = 1;
    }
}

dfw_err dfw_stream_parse_page(const char *body,
                              size_t len,
                              const char *base_url,
                              struct dfw_page *page,
                              char *errbuf,
                              size_t errlen)
{
    return dfw_stream_parse_page_keyed(body, len, base_url, NULL, page, errbuf, errlen);
}

dfw_err dfw_stream_parse_page_keyed(const char *body,
                                    size_t len,
                                    const char *base_url,
                                    const struct dfw_stream_def *def,
                                    struct dfw_page *page,
                                    char *errbuf,
                                    size_t errlen)
{
    memset(page, 0, sizeof(*page));
    page->count = -1;
    /* records: objects inside the root object's "value" array */
    struct dfw_json_capture cap = {.depth = 3, .nnames = def ? DFW_ROW_KEY_MEMBERS : 0};
    if (def != NULL) {
        key_names(def, cap.names);
    }
    /* json-c alone lets NaN, "1." and bad UTF-8 through to the JSON outputs (dfw/json_check.h) */
    char why[128];
    if (dfw_json_check_capture(body, len, DFW_PAGE_MAX_DEPTH, &page->index, def ? &cap : NULL, why,
                               sizeof(why)) != DFW_OK) {
        snprintf(errbuf, errlen, "response is not valid JSON (RFC 8259) at %s", why);
        return DFW_ERR_INVALID;
    }
    struct dfw_json_span m[2] = {{0, 0}, {0, 0}};
    dfw_err err = walk(page, body, len, m);
    if (err == DFW_OK) {
        key_rows(page, body, &cap);
    }
    dfw_json_capture_free(&cap);
    if (err == DFW_ERR_INVALID) {
        dfw_page_free(page);
        snprintf(errbuf, errlen, "response has no \"value\" array");
        return DFW_ERR_INVALID;
    }
    if (err == DFW_OK) {
        err = flatten(page);
    }
    if (err == DFW_OK && m[0].len > 0) {
        err = next_link(page, body, m[0], base_url);
    }
    if (err != DFW_OK) {
        dfw_page_free(page);
        snprintf(errbuf, errlen, "out of memory");
        return err;
    }
    page->count = count(body, m[1]);
    return DFW_OK;
}

/* An integer id as json-c reads it (int64, saturated), printed. */
static dfw_err int_id(const char *row, struct dfw_json_span s, struct dfw_buf *arena)
{
    struct json_object *v = dfw_json_parse(row + s.off, s.len);
    dfw_err err = json_object_is_type(v, json_type_int)
                      ? dfw_buf_printf(arena, "%" PRId64, json_object_get_int64(v))
                      : DFW_ERR_INVALID;
    json_object_put(v);
    return err != DFW_OK ? err : dfw_buf_append(arena, "", 1);
}

static dfw_err row_key(const struct dfw_stream_def *def,
                       const char *row,
                       size_t len,
                       size_t id_max,
                       struct dfw_buf *arena,
                       struct dfw_row_key *key,
                       const struct dfw_json_index *ix,
                       const struct dfw_json_span *pre)
{
    struct dfw_json_span m[DFW_ROW_KEY_MEMBERS];
    if (pre != NULL) {
        memcpy(m, pre, sizeof(m));
    }
    else {
        const char *keys[DFW_ROW_KEY_MEMBERS];
        key_names(def, keys);
        if (dfw_json_members(row, (struct dfw_json_span){0, len}, keys, DFW_ROW_KEY_MEMBERS, m,
                             ix) != 0) {
            return DFW_ERR_INVALID;
        }
    }
    if (m[0].len == 0 || m[1].len == 0) {
        return DFW_ERR_INVALID;
    }
    size_t n;
    key->id = arena->len;
    dfw_err err =
        row[m[0].off] == '"' ? dfw_json_string(row, m[0], arena, &n) : int_id(row, m[0], arena);
    if (err != DFW_OK) {
        return err;
    }
    n = arena->len - 1 - key->id;
    /* an id with an embedded NUL ("\u0000") would be cut and collide with another */
    if (n == 0 || n >= id_max || strlen(arena->data + key->id) != n) {
        return DFW_ERR_INVALID;
    }
    key->updated = arena->len;
    err = dfw_json_string(row, m[1], arena, &n);
    if (err != DFW_OK) {
        return err;
    }
    if (dfw_time_parse(arena->data + key->updated, &key->updated_ms) != DFW_OK) {
        return DFW_ERR_INVALID;
    }
    key->created_ms = key->updated_ms;
    size_t mark = arena->len;
    if (m[2].len > 0 && dfw_json_string(row, m[2], arena, &n) == DFW_OK) {
        int64_t c;
        if (dfw_time_parse(arena->data + mark, &c) == DFW_OK) {
            key->created_ms = c;
        }
    }
    arena->len = mark;
    key->severity = SIZE_MAX;
    if (m[3].len > 0) {
        key->severity = arena->len;
        err = dfw_json_string(row, m[3], arena, &n);
        if (err == DFW_ERR_INVALID) {
            key->severity = SIZE_MAX; /* not a string: none */
            err = DFW_OK;
        }
    }
    return err;
}

dfw_err dfw_stream_row_key(const struct dfw_stream_def *def,
                           const char *row,
                           size_t len,
                           size_t id_max,
                           struct dfw_buf *arena,
                           struct dfw_row_key *key,
                           const struct dfw_json_index *ix,
                           const struct dfw_json_span *pre)
{
    size_t start = arena->len;
    dfw_err err = row_key(def, row, len, id_max, arena, key, ix, pre);
    if (err != DFW_OK) {
        arena->len = start;
        if (arena->data != NULL) {
            arena->data[start] = '\0';
        }
    }
    return err;
}
