#include "json_view.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

struct dfw__jdec {
    struct dfw__jdec *next;
    size_t n;
    char s[];
};

/* A name's length and its first and last bytes in one word: looking a key up compares this
 * first, and the bytes only where it matches (most members differ in it). */
static uint32_t tag_of(const char *s, size_t n)
{
    return n == 0 ? 0
                  : (uint32_t)(n & 0xffff) | (uint32_t)(unsigned char)s[0] << 16 |
                        (uint32_t)(unsigned char)s[n - 1] << 24;
}

void dfw__jobj_open(struct dfw__jobj *o, struct dfw__jv v, struct dfw__jscratch *sc)
{
    o->t = v.t;
    o->ix = v.ix;
    o->sc = sc;
    o->m = o->in;
    o->n = 0;
    o->cap = DFW__JOBJ_INLINE;
    if (v.s.len < 2 || v.t[v.s.off] != '{') {
        return;
    }
    size_t pos = v.s.off;
    struct dfw_json_span name, val;
    int esc;
    while (dfw_json_next_name(v.t, v.s, &pos, &name, &esc) == 1) {
        pos = dfw_json_value(v.t, v.s.off + v.s.len, pos, &val, v.ix);
        if (o->n == o->cap) {
            size_t cap = 2 * o->cap;
            struct dfw__jmember *m =
                o->m == o->in ? malloc(cap * sizeof(*m)) : realloc(o->m, cap * sizeof(*m));
            if (m == NULL) {
                sc->failed = 1;
                return;
            }
            if (o->m == o->in) {
                memcpy(m, o->in, sizeof(o->in));
            }
            o->m = m;
            o->cap = cap;
        }
        o->m[o->n++] =
            (struct dfw__jmember){name, val, esc, tag_of(v.t + name.off + 1, name.len - 2)};
    }
}

void dfw__jobj_close(struct dfw__jobj *o)
{
    if (o->m != o->in) {
        free(o->m);
    }
    o->m = o->in;
    o->n = 0;
}

struct dfw__jv dfw__jobj_get(const struct dfw__jobj *o, const char *key, char open)
{
    struct dfw__jv r = {o->t, {0, 0}, o->ix};
    if (key == NULL) {
        return r;
    }
    size_t k = strlen(key);
    uint32_t tag = tag_of(key, k);
    for (size_t i = o->n; i-- > 0;) {
        const struct dfw__jmember *m = &o->m[i];
        if (m->escaped ? dfw_json_name_eq(o->t, m->name, 1, key, k)
                       : m->tag == tag && m->name.len == k + 2 &&
                             memcmp(o->t + m->name.off + 1, key, k) == 0) {
            if (o->t[m->val.off] == open) {
                r.s = m->val;
            }
            return r;
        }
    }
    return r;
}

int dfw__jv_next(struct dfw__jv arr, size_t *pos, struct dfw__jv *item)
{
    if (arr.s.len < 2 || arr.t[arr.s.off] != '[') {
        return 0;
    }
    size_t p = *pos == 0 ? arr.s.off : *pos;
    item->t = arr.t;
    item->ix = arr.ix;
    int rc = dfw_json_next_item(arr.t, arr.s, &p, &item->s, arr.ix);
    *pos = p;
    return rc == 1;
}

const char *dfw__jv_str(struct dfw__jv v, struct dfw__jscratch *sc, size_t *n)
{
    *n = 0;
    if (v.s.len < 2 || v.t[v.s.off] != '"') {
        return NULL;
    }
    const char *p = v.t + v.s.off;
    if (memchr(p, '\\', v.s.len) == NULL) {
        *n = v.s.len - 2;
        return p + 1;
    }
    struct json_object *o = dfw_json_parse(p, v.s.len);
    size_t len = o != NULL ? (size_t)json_object_get_string_len(o) : 0;
    struct dfw__jdec *d = o != NULL ? malloc(sizeof(*d) + len + 1) : NULL;
    if (d == NULL) {
        json_object_put(o);
        sc->failed = 1;
        return NULL;
    }
    memcpy(d->s, json_object_get_string(o), len + 1);
    json_object_put(o);
    d->n = len;
    d->next = sc->head;
    sc->head = d;
    *n = len;
    return d->s;
}

void dfw__jscratch_free(struct dfw__jscratch *sc)
{
    while (sc->head != NULL) {
        struct dfw__jdec *d = sc->head;
        sc->head = d->next;
        free(d);
    }
    sc->failed = 0;
}
