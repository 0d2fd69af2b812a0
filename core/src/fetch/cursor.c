#include "dfw/cursor.h"
#include "dfw/timeutil.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

/* Each delivered pair sits in two chains: by (id, last-update) for deduplication and by id alone
 * to tell an update of a delivered record. */
struct seen_entry {
    struct seen_entry *next;    /* chain by pair hash */
    struct seen_entry *next_id; /* chain by id hash */
    int64_t updated_ms;
    uint64_t hash;
    uint64_t id_hash;
    char key[]; /* id, NUL, updated, NUL */
};

struct dfw_seen {
    struct seen_entry **buckets;
    struct seen_entry **id_buckets;
    size_t nbuckets; /* power of two, both tables */
    size_t count;
};

static uint64_t fnv(uint64_t h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h = (h ^ *p) * 1099511628211ULL;
    }
    return h;
}

#define FNV_OFFSET 1469598103934665603ULL

static uint64_t hash_pair(const char *id, const char *updated)
{
    return fnv((fnv(FNV_OFFSET, id) ^ 0xff) * 1099511628211ULL, updated);
}

static void seen_free(struct dfw_seen *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; s->buckets != NULL && i < s->nbuckets; i++) {
        struct seen_entry *e = s->buckets[i];
        while (e != NULL) {
            struct seen_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(s->buckets);
    free(s->id_buckets);
    free(s);
}

static struct dfw_seen *seen_new(size_t nbuckets)
{
    struct dfw_seen *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    s->buckets = calloc(nbuckets, sizeof(*s->buckets));
    s->id_buckets = calloc(nbuckets, sizeof(*s->id_buckets));
    if (s->buckets == NULL || s->id_buckets == NULL) {
        seen_free(s);
        return NULL;
    }
    s->nbuckets = nbuckets;
    return s;
}

static void seen_insert_entry(struct dfw_seen *s, struct seen_entry *e)
{
    size_t b = (size_t)(e->hash & (s->nbuckets - 1));
    e->next = s->buckets[b];
    s->buckets[b] = e;
    b = (size_t)(e->id_hash & (s->nbuckets - 1));
    e->next_id = s->id_buckets[b];
    s->id_buckets[b] = e;
    s->count++;
}

/* Move every entry updated at or after keep_ms into tables of nbuckets; free the others. */
static dfw_err seen_rehash(struct dfw_seen *s, size_t nbuckets, int64_t keep_ms)
{
    struct dfw_seen *n = seen_new(nbuckets);
    if (n == NULL) {
        return DFW_ERR_NOMEM;
    }
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct seen_entry *e = s->buckets[i];
        while (e != NULL) {
            struct seen_entry *next = e->next;
            if (e->updated_ms >= keep_ms) {
                seen_insert_entry(n, e);
            }
            else {
                free(e);
            }
            e = next;
        }
    }
    free(s->buckets);
    free(s->id_buckets);
    *s = *n;
    free(n);
    return DFW_OK;
}

dfw_err dfw_cursor_init(struct dfw_cursor *c, int64_t high_water_ms)
{
    memset(c, 0, sizeof(*c));
    c->high_water_ms = high_water_ms;
    c->seen = seen_new(64);
    return c->seen ? DFW_OK : DFW_ERR_NOMEM;
}

void dfw_cursor_clear(struct dfw_cursor *c)
{
    seen_free(c->seen);
    free(c->next_link);
    memset(c, 0, sizeof(*c));
}

void dfw_cursor_begin(struct dfw_cursor *c, int64_t now_ms, int64_t overlap_ms)
{
    if (c->sweep_to_ms != 0) {
        return;
    }
    c->sweep_from_ms = c->high_water_ms - overlap_ms;
    if (c->sweep_from_ms < 0) {
        c->sweep_from_ms = 0;
    }
    c->sweep_to_ms = now_ms > c->sweep_from_ms ? now_ms : c->sweep_from_ms + 1;
    c->keep_from_ms = c->sweep_to_ms - overlap_ms;
    free(c->next_link);
    c->next_link = NULL;
}

int dfw_cursor_seen(const struct dfw_cursor *c, const char *id, const char *updated)
{
    uint64_t h = hash_pair(id, updated);
    size_t idlen = strlen(id);
    for (const struct seen_entry *e = c->seen->buckets[h & (c->seen->nbuckets - 1)]; e != NULL;
         e = e->next) {
        if (e->hash == h && strcmp(e->key, id) == 0 && strcmp(e->key + idlen + 1, updated) == 0) {
            return 1;
        }
    }
    return 0;
}

int dfw_cursor_seen_id(const struct dfw_cursor *c, const char *id)
{
    uint64_t h = fnv(FNV_OFFSET, id);
    for (const struct seen_entry *e = c->seen->id_buckets[h & (c->seen->nbuckets - 1)]; e != NULL;
         e = e->next_id) {
        if (e->id_hash == h && strcmp(e->key, id) == 0) {
            return 1;
        }
    }
    return 0;
}

dfw_err
dfw_cursor_add(struct dfw_cursor *c, const char *id, const char *updated, int64_t updated_ms)
{
    if (updated_ms < c->keep_from_ms || dfw_cursor_seen(c, id, updated)) {
        return DFW_OK;
    }
    if (c->seen->count >= c->seen->nbuckets &&
        seen_rehash(c->seen, c->seen->nbuckets * 2, INT64_MIN) != DFW_OK) {
        return DFW_ERR_NOMEM;
    }
    size_t idlen = strlen(id), ulen = strlen(updated);
    struct seen_entry *e = malloc(sizeof(*e) + idlen + ulen + 2);
    if (e == NULL) {
        return DFW_ERR_NOMEM;
    }
    memcpy(e->key, id, idlen + 1);
    memcpy(e->key + idlen + 1, updated, ulen + 1);
    e->updated_ms = updated_ms;
    e->hash = hash_pair(id, updated);
    e->id_hash = fnv(FNV_OFFSET, id);
    seen_insert_entry(c->seen, e);
    return DFW_OK;
}

dfw_err dfw_cursor_page_done(struct dfw_cursor *c, const char *next_link, int64_t overlap_ms)
{
    if (next_link != NULL) {
        char *copy = strdup(next_link);
        if (copy == NULL) {
            return DFW_ERR_NOMEM;
        }
        free(c->next_link);
        c->next_link = copy;
        return DFW_OK;
    }
    free(c->next_link);
    c->next_link = NULL;
    if (c->sweep_to_ms > c->high_water_ms) {
        c->high_water_ms = c->sweep_to_ms;
    }
    c->sweep_from_ms = 0;
    c->sweep_to_ms = 0;
    return seen_rehash(c->seen, c->seen->nbuckets, c->high_water_ms - overlap_ms);
}

void dfw_cursor_restart_sweep(struct dfw_cursor *c)
{
    free(c->next_link);
    c->next_link = NULL;
}

size_t dfw_cursor_seen_count(const struct dfw_cursor *c)
{
    return c->seen ? c->seen->count : 0;
}

static struct json_object *time_json(int64_t ms)
{
    char ts[DFW_TIME_LEN];
    dfw_time_format(ms, ts, sizeof(ts));
    return json_object_new_string(ts);
}

struct json_object *dfw_cursor_to_json(const struct dfw_cursor *c)
{
    struct json_object *o = json_object_new_object();
    struct json_object *seen = json_object_new_array();
    if (o == NULL || seen == NULL) {
        json_object_put(o);
        json_object_put(seen);
        return NULL;
    }
    json_object_object_add(o, "version", json_object_new_int(1));
    json_object_object_add(o, "high_water", time_json(c->high_water_ms));
    json_object_object_add(o, "high_water_ms", json_object_new_int64(c->high_water_ms));
    if (c->sweep_to_ms != 0) {
        json_object_object_add(o, "sweep_from_ms", json_object_new_int64(c->sweep_from_ms));
        json_object_object_add(o, "sweep_to_ms", json_object_new_int64(c->sweep_to_ms));
        json_object_object_add(o, "next_link",
                               c->next_link ? json_object_new_string(c->next_link) : NULL);
    }
    json_object_object_add(o, "keep_from_ms", json_object_new_int64(c->keep_from_ms));
    json_object_object_add(o, "delivered", json_object_new_int64((int64_t)c->delivered));
    for (size_t i = 0; i < c->seen->nbuckets; i++) {
        for (const struct seen_entry *e = c->seen->buckets[i]; e != NULL; e = e->next) {
            struct json_object *pair = json_object_new_array_ext(3);
            size_t idlen = strlen(e->key);
            json_object_array_add(pair, json_object_new_string(e->key));
            json_object_array_add(pair, json_object_new_string(e->key + idlen + 1));
            json_object_array_add(pair, json_object_new_int64(e->updated_ms));
            json_object_array_add(seen, pair);
        }
    }
    json_object_object_add(o, "seen", seen);
    return o;
}

static int get_int64(struct json_object *o, const char *key, int64_t *out)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int)) {
        return -1;
    }
    *out = json_object_get_int64(v);
    return 0;
}

dfw_err dfw_cursor_from_json(struct dfw_cursor *c, struct json_object *obj)
{
    int64_t hw, delivered = 0;
    struct json_object *seen, *v;
    if (!json_object_is_type(obj, json_type_object) || get_int64(obj, "high_water_ms", &hw) != 0 ||
        !json_object_object_get_ex(obj, "seen", &seen) ||
        !json_object_is_type(seen, json_type_array)) {
        return DFW_ERR_INVALID;
    }
    dfw_cursor_clear(c);
    if (dfw_cursor_init(c, hw) != DFW_OK) {
        return DFW_ERR_NOMEM;
    }
    get_int64(obj, "delivered", &delivered);
    get_int64(obj, "keep_from_ms", &c->keep_from_ms);
    c->delivered = (uint64_t)delivered;
    if (get_int64(obj, "sweep_to_ms", &c->sweep_to_ms) == 0) {
        if (get_int64(obj, "sweep_from_ms", &c->sweep_from_ms) != 0) {
            return DFW_ERR_INVALID;
        }
        if (json_object_object_get_ex(obj, "next_link", &v) &&
            json_object_is_type(v, json_type_string)) {
            c->next_link = strdup(json_object_get_string(v));
            if (c->next_link == NULL) {
                return DFW_ERR_NOMEM;
            }
        }
    }
    size_t n = json_object_array_length(seen);
    for (size_t i = 0; i < n; i++) {
        struct json_object *pair = json_object_array_get_idx(seen, i);
        if (!json_object_is_type(pair, json_type_array) || json_object_array_length(pair) != 3) {
            return DFW_ERR_INVALID;
        }
        struct json_object *id = json_object_array_get_idx(pair, 0);
        struct json_object *up = json_object_array_get_idx(pair, 1);
        struct json_object *ms = json_object_array_get_idx(pair, 2);
        if (!json_object_is_type(id, json_type_string) ||
            !json_object_is_type(up, json_type_string) || !json_object_is_type(ms, json_type_int)) {
            return DFW_ERR_INVALID;
        }
        dfw_err err = dfw_cursor_add(c, json_object_get_string(id), json_object_get_string(up),
                                     json_object_get_int64(ms));
        if (err != DFW_OK) {
            return err;
        }
    }
    return DFW_OK;
}
