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

/* At an opening quote: the offset after the closing one. */
static size_t string_end(const char *t, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        if (t[i] == '\\') {
            i++;
        }
        else if (t[i] == '"') {
            return i + 1;
        }
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

/* Is the JSON string at s (quotes included) the name key? */
static int name_is(const char *s, size_t n, const char *key)
{
    size_t k = strlen(key);
    if (memchr(s, '\\', n) == NULL) {
        return n == k + 2 && memcmp(s + 1, key, k) == 0;
    }
    struct json_tokener *tok = json_tokener_new();
    struct json_object *o = tok ? json_tokener_parse_ex(tok, s, (int)n) : NULL;
    int same = o != NULL && (size_t)json_object_get_string_len(o) == k &&
               memcmp(json_object_get_string(o), key, k) == 0;
    json_object_put(o);
    json_tokener_free(tok);
    return same;
}

int dfw_json_members(const char *t,
                     struct dfw_json_span span,
                     const char *const *keys,
                     size_t nkeys,
                     struct dfw_json_span *out)
{
    size_t end = span.off + span.len;
    memset(out, 0, nkeys * sizeof(*out));
    if (span.len < 2 || t[span.off] != '{') {
        return -1;
    }
    size_t i = span.off + 1;
    for (;;) {
        i = skip_ws(t, end, i);
        if (i >= end || t[i] != '"') {
            return 0; /* '}' */
        }
        size_t name = i;
        i = string_end(t, end, i);
        size_t name_len = i - name;
        i = skip_ws(t, end, i) + 1; /* ':' */
        struct dfw_json_span v;
        i = dfw_json_value(t, end, i, &v);
        for (size_t k = 0; k < nkeys; k++) {
            if (name_is(t + name, name_len, keys[k])) {
                out[k] = v;
            }
        }
        i = skip_ws(t, end, i);
        if (i >= end || t[i] != ',') {
            return 0;
        }
        i++;
    }
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
    size_t i = skip_ws(t, end, *pos == arr.off ? arr.off + 1 : *pos);
    if (i < end && t[i] == ',') {
        i = skip_ws(t, end, i + 1);
    }
    if (i >= end || t[i] == ']') {
        *pos = end;
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
    struct json_tokener *tok = json_tokener_new();
    struct json_object *o = tok ? json_tokener_parse_ex(tok, p, (int)s.len) : NULL;
    json_tokener_free(tok);
    if (o == NULL) {
        return DFW_ERR_NOMEM;
    }
    *n = (size_t)json_object_get_string_len(o);
    dfw_err err = dfw_buf_append(out, json_object_get_string(o), *n);
    json_object_put(o);
    return err != DFW_OK ? err : dfw_buf_append(out, "", 1);
}
