/* Skips values by their brackets and quotes only: the text was checked by dfw_json_check. */
#include "dfw/json_scan.h"
#include "swar.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_ws(const char *t, size_t len, size_t i)
{
    while (i < len && is_ws(t[i])) {
        i++;
    }
    return i;
}

/* At an opening quote: the offset after the closing one; *escaped is set when the string holds a
 * backslash. The text is valid: a backslash always starts an escape, whose second byte is never
 * the closing quote. Strings are short (names, times, ids): a block at a time inline beats a
 * memchr call per string. */
static size_t string_end_esc(const char *t, size_t len, size_t i, int *escaped)
{
    i++;
    while (i < len) {
#if DFW_BLK
        while (len - i >= DFW_BLK) {
            dfw__blk x = dfw__blk_load(t + i);
            uint64_t m = dfw__blk_eq(x, '"') | dfw__blk_eq(x, '\\');
            if (m != 0) {
                i += dfw__blk_first(m);
                break;
            }
            i += DFW_BLK;
        }
#endif
        while (i < len && t[i] != '"' && t[i] != '\\') {
            i++;
        }
        if (i >= len) {
            return len;
        }
        if (t[i] == '"') {
            return i + 1;
        }
        *escaped = 1;
        i += 2;
    }
    return len;
}

static size_t string_end(const char *t, size_t len, size_t i)
{
    int escaped;
    return string_end_esc(t, len, i, &escaped);
}

void dfw_json_index_free(struct dfw_json_index *ix)
{
    if (ix == NULL) {
        return;
    }
    free(ix->c);
    *ix = (struct dfw_json_index){NULL, 0, NULL, 0, 0};
}

/* Where the container opening at p ends (the offset after its closing bracket, counted from t),
 * when ix has it; else 0. */
static size_t indexed_end(const struct dfw_json_index *ix, const char *t, const char *p)
{
    if (ix == NULL || ix->n == 0 || p < ix->base || p >= ix->base + ix->len) {
        return 0;
    }
    size_t off = (size_t)(p - ix->base), lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->c[mid].open < off) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    if (lo == ix->n || ix->c[lo].open != off) {
        return 0;
    }
    return (size_t)(ix->base + ix->c[lo].close + 1 - t);
}

size_t dfw_json_value(const char *t,
                      size_t len,
                      size_t off,
                      struct dfw_json_span *span,
                      const struct dfw_json_index *ix)
{
    size_t i = skip_ws(t, len, off);
    size_t start = i, end;
    if (i >= len) {
        *span = (struct dfw_json_span){i, 0};
        return i;
    }
    if (t[i] == '"') {
        i = string_end(t, len, i);
    }
    else if ((t[i] == '{' || t[i] == '[') && (end = indexed_end(ix, t, t + i)) != 0 && end <= len) {
        i = end;
    }
    else if (t[i] == '{' || t[i] == '[') {
        size_t depth = 0;
        for (; i < len; i++) {
            char c = t[i];
            if (c == '"') {
                i = string_end(t, len, i) - 1;
            }
            else if (c == '{' || c == '[') {
                depth++;
            }
            else if ((c == '}' || c == ']') && --depth == 0) {
                i++;
                break;
            }
        }
    }
    else {
        while (i < len && t[i] != ',' && t[i] != '}' && t[i] != ']' && !is_ws(t[i])) {
            i++;
        }
    }
    *span = (struct dfw_json_span){start, i - start};
    return i;
}

/* Where the next member or element of the container opened at t[open] starts: after its '{' or
 * '[' on the first call (pos == open), else after the ',' that follows the previous one. */
static size_t next_start(const char *t, size_t end, size_t pos, size_t open)
{
    size_t i = skip_ws(t, end, pos == open ? open + 1 : pos);
    if (i < end && t[i] == ',') {
        i = skip_ws(t, end, i + 1);
    }
    return i;
}

int dfw_json_next_name(
    const char *t, struct dfw_json_span obj, size_t *pos, struct dfw_json_span *name, int *escaped)
{
    size_t end = obj.off + obj.len;
    if (obj.len < 2 || t[obj.off] != '{') {
        return -1;
    }
    size_t i = next_start(t, end, *pos, obj.off);
    if (i >= end || t[i] != '"') {
        *pos = i < end ? i + 1 : end; /* after '}' */
        return 0;
    }
    int esc = 0;
    size_t n = string_end_esc(t, end, i, &esc);
    *name = (struct dfw_json_span){i, n - i};
    if (escaped != NULL) {
        *escaped = esc;
    }
    *pos = skip_ws(t, end, skip_ws(t, end, n) + 1); /* the value, after ':' */
    return 1;
}

int dfw_json_name_eq(
    const char *t, struct dfw_json_span name, int escaped, const char *key, size_t k)
{
    const char *s = t + name.off;
    size_t n = name.len;
    if (!escaped) {
        return n == k + 2 && memcmp(s + 1, key, k) == 0;
    }
    struct json_object *o = dfw_json_parse(s, n);
    int same = o != NULL && (size_t)json_object_get_string_len(o) == k &&
               memcmp(json_object_get_string(o), key, k) == 0;
    json_object_put(o);
    return same;
}

int dfw_json_name_is(const char *t, struct dfw_json_span name, const char *key)
{
    return dfw_json_name_eq(t, name, memchr(t + name.off, '\\', name.len) != NULL, key,
                            strlen(key));
}

/* Keys whose lengths dfw_json_members measures once per call; more are measured per member. */
#define MEMBERS_KEYS_FAST 8

int dfw_json_members(const char *t,
                     struct dfw_json_span span,
                     const char *const *keys,
                     size_t nkeys,
                     struct dfw_json_span *out,
                     const struct dfw_json_index *ix)
{
    memset(out, 0, nkeys * sizeof(*out));
    size_t klen[MEMBERS_KEYS_FAST];
    for (size_t k = 0; k < nkeys && k < MEMBERS_KEYS_FAST; k++) {
        klen[k] = strlen(keys[k]);
    }
    size_t pos = span.off, end = span.off + span.len;
    struct dfw_json_span name, v;
    int rc;
    int escaped;
    while ((rc = dfw_json_next_name(t, span, &pos, &name, &escaped)) == 1) {
        pos = dfw_json_value(t, end, pos, &v, ix);
        for (size_t k = 0; k < nkeys; k++) {
            size_t kl = k < MEMBERS_KEYS_FAST ? klen[k] : strlen(keys[k]);
            if (dfw_json_name_eq(t, name, escaped, keys[k], kl)) {
                out[k] = v;
            }
        }
    }
    return rc;
}

int dfw_json_next_item(const char *t,
                       struct dfw_json_span arr,
                       size_t *pos,
                       struct dfw_json_span *item,
                       const struct dfw_json_index *ix)
{
    size_t end = arr.off + arr.len;
    if (arr.len < 2 || t[arr.off] != '[') {
        return -1;
    }
    size_t i = next_start(t, end, *pos, arr.off);
    if (i >= end || t[i] == ']') {
        *pos = i < end ? i + 1 : end; /* after ']' */
        return 0;
    }
    *pos = dfw_json_value(t, end, i, item, ix);
    return 1;
}

dfw_err dfw_json_string(const char *t, struct dfw_json_span s, struct dfw_buf *out, size_t *n)
{
    if (s.len < 2 || t[s.off] != '"') {
        return DFW_ERR_INVALID;
    }
    const char *p = t + s.off;
    if (memchr(p, '\\', s.len) == NULL) {
        *n = s.len - 2;
        dfw_err err = dfw_buf_append(out, p + 1, s.len - 2);
        return err != DFW_OK ? err : dfw_buf_append(out, "", 1);
    }
    struct json_object *o = dfw_json_parse(p, s.len);
    if (o == NULL) {
        return DFW_ERR_NOMEM;
    }
    *n = (size_t)json_object_get_string_len(o);
    dfw_err err = dfw_buf_append(out, json_object_get_string(o), *n);
    json_object_put(o);
    return err != DFW_OK ? err : dfw_buf_append(out, "", 1);
}

struct json_object *dfw_json_parse(const char *text, size_t len)
{
    struct json_tokener *tok = json_tokener_new();
    if (tok == NULL) {
        return NULL;
    }
    struct json_object *o = json_tokener_parse_ex(tok, text, (int)len);
    if (o == NULL && json_tokener_get_error(tok) == json_tokener_continue) {
        o = json_tokener_parse_ex(tok, " ", 1);
    }
    json_tokener_free(tok);
    return o;
}
