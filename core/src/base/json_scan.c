/* Skips values by their brackets and quotes only: the text was checked by dfw_json_check. */
#include "dfw/json_scan.h"

#include <json-c/json.h>
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

/* At an opening quote: the offset after the closing one (a quote after an even number of
 * backslashes). */
static size_t string_end(const char *t, size_t len, size_t i)
{
    i++;
    while (i < len) {
        const char *q = memchr(t + i, '"', len - i);
        if (q == NULL) {
            return len;
        }
        size_t k = (size_t)(q - t), bs = 0;
        while (k - bs > i && t[k - bs - 1] == '\\') {
            bs++;
        }
        if (bs % 2 == 0) {
            return k + 1;
        }
        i = k + 1;
    }
    return len;
}

size_t dfw_json_value(const char *t, size_t len, size_t off, struct dfw_json_span *span)
{
    size_t i = skip_ws(t, len, off);
    size_t start = i;
    if (i >= len) {
        *span = (struct dfw_json_span){i, 0};
        return i;
    }
    if (t[i] == '"') {
        i = string_end(t, len, i);
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

int dfw_json_next_name(const char *t,
                       struct dfw_json_span obj,
                       size_t *pos,
                       struct dfw_json_span *name)
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
    size_t n = string_end(t, end, i);
    *name = (struct dfw_json_span){i, n - i};
    *pos = skip_ws(t, end, skip_ws(t, end, n) + 1); /* the value, after ':' */
    return 1;
}

int dfw_json_name_is(const char *t, struct dfw_json_span name, const char *key)
{
    const char *s = t + name.off;
    size_t n = name.len, k = strlen(key);
    if (memchr(s, '\\', n) == NULL) {
        return n == k + 2 && memcmp(s + 1, key, k) == 0;
    }
    struct json_object *o = dfw_json_parse(s, n);
    int same = o != NULL && (size_t)json_object_get_string_len(o) == k &&
               memcmp(json_object_get_string(o), key, k) == 0;
    json_object_put(o);
    return same;
}

int dfw_json_members(const char *t,
                     struct dfw_json_span span,
                     const char *const *keys,
                     size_t nkeys,
                     struct dfw_json_span *out)
{
    memset(out, 0, nkeys * sizeof(*out));
    size_t pos = span.off, end = span.off + span.len;
    struct dfw_json_span name, v;
    int rc;
    while ((rc = dfw_json_next_name(t, span, &pos, &name)) == 1) {
        pos = dfw_json_value(t, end, pos, &v);
        for (size_t k = 0; k < nkeys; k++) {
            if (dfw_json_name_is(t, name, keys[k])) {
                out[k] = v;
            }
        }
    }
    return rc;
}

int dfw_json_next_item(const char *t,
                       struct dfw_json_span arr,
                       size_t *pos,
                       struct dfw_json_span *item)
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
    *pos = dfw_json_value(t, end, i, item);
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
