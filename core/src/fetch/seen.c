/* The cursor's set of delivered (id, last-update) pairs. Each pair sits in two chains: by pair,
 * for deduplication, and by id alone, to tell an update of a delivered record. Pending pairs are
 * also on a list, so that a batch that is never acknowledged can be taken back. */
#include "seen.h"

#include <stdlib.h>
#include <string.h>

struct seen_entry {
    struct seen_entry *next;    /* chain by pair hash */
    struct seen_entry *next_id; /* chain by id hash */
    int64_t updated_ms;
    uint64_t hash;
    uint64_t id_hash;
    uint32_t idlen;
    uint8_t pending;
    char key[]; /* id, NUL, updated, NUL */
};

struct dfw_seen {
    struct seen_entry **buckets;
    struct seen_entry **id_buckets;
    size_t nbuckets; /* power of two, both tables */
    size_t count;
    size_t bytes; /* entries' allocations */
    struct seen_entry **pend;
    size_t npend, cappend;
};

/* Tables start (and shrink back to) this small: most jobs remember a handful of pairs, and every
 * one of thousands of jobs has a set. */
#define MIN_BUCKETS 8
#define MIN_PENDING 8

#define FNV_OFFSET 1469598103934665603ULL
#define FNV_PRIME  1099511628211ULL

static uint64_t fnv(uint64_t h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h = (h ^ *p) * FNV_PRIME;
    }
    return h;
}

uint64_t dfw__seen_pair_hash(const char *id, const char *updated)
{
    return fnv((fnv(FNV_OFFSET, id) ^ 0xff) * FNV_PRIME, updated);
}

static int tables_new(struct dfw_seen *s, size_t nbuckets)
{
    s->buckets = calloc(nbuckets, sizeof(*s->buckets));
    s->id_buckets = calloc(nbuckets, sizeof(*s->id_buckets));
    if (s->buckets == NULL || s->id_buckets == NULL) {
        free(s->buckets);
        free(s->id_buckets);
        return -1;
    }
    s->nbuckets = nbuckets;
    return 0;
}

struct dfw_seen *dfw__seen_new(void)
{
    struct dfw_seen *s = calloc(1, sizeof(*s));
    if (s == NULL || tables_new(s, MIN_BUCKETS) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

void dfw__seen_free(struct dfw_seen *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct seen_entry *e = s->buckets[i];
        while (e != NULL) {
            struct seen_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(s->buckets);
    free(s->id_buckets);
    free(s->pend);
    free(s);
}

static void link_entry(struct dfw_seen *s, struct seen_entry *e)
{
    size_t b = (size_t)(e->hash & (s->nbuckets - 1));
    e->next = s->buckets[b];
    s->buckets[b] = e;
    b = (size_t)(e->id_hash & (s->nbuckets - 1));
    e->next_id = s->id_buckets[b];
    s->id_buckets[b] = e;
}

static void unlink_entry(struct dfw_seen *s, struct seen_entry *e)
{
    struct seen_entry **pp = &s->buckets[e->hash & (s->nbuckets - 1)];
    while (*pp != e) {
        pp = &(*pp)->next;
    }
    *pp = e->next;
    pp = &s->id_buckets[e->id_hash & (s->nbuckets - 1)];
    while (*pp != e) {
        pp = &(*pp)->next_id;
    }
    *pp = e->next_id;
}

static size_t entry_size(const struct seen_entry *e)
{
    return sizeof(*e) + e->idlen + strlen(e->key + e->idlen + 1) + 2;
}

static void drop_entry(struct dfw_seen *s, struct seen_entry *e)
{
    unlink_entry(s, e);
    s->count--;
    s->bytes -= entry_size(e);
    free(e);
}

/* Relink every entry into tables of nbuckets. */
static dfw_err rehash(struct dfw_seen *s, size_t nbuckets)
{
    struct dfw_seen n = {0};
    if (tables_new(&n, nbuckets) != 0) {
        return DFW_ERR_NOMEM;
    }
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct seen_entry *e = s->buckets[i];
        while (e != NULL) {
            struct seen_entry *next = e->next;
            link_entry(&n, e);
            e = next;
        }
    }
    free(s->buckets);
    free(s->id_buckets);
    s->buckets = n.buckets;
    s->id_buckets = n.id_buckets;
    s->nbuckets = nbuckets;
    return DFW_OK;
}

static struct seen_entry *find(const struct dfw_seen *s, const char *id, const char *updated)
{
    uint64_t h = dfw__seen_pair_hash(id, updated);
    size_t idlen = strlen(id);
    for (struct seen_entry *e = s->buckets[h & (s->nbuckets - 1)]; e != NULL; e = e->next) {
        if (e->hash == h && e->idlen == idlen && memcmp(e->key, id, idlen) == 0 &&
            strcmp(e->key + idlen + 1, updated) == 0) {
            return e;
        }
    }
    return NULL;
}

int dfw__seen_has(const struct dfw_seen *s, const char *id, const char *updated)
{
    return find(s, id, updated) != NULL;
}

int dfw__seen_has_id(const struct dfw_seen *s, const char *id)
{
    uint64_t h = fnv(FNV_OFFSET, id);
    for (const struct seen_entry *e = s->id_buckets[h & (s->nbuckets - 1)]; e != NULL;
         e = e->next_id) {
        if (e->id_hash == h && strcmp(e->key, id) == 0) {
            return 1;
        }
    }
    return 0;
}

int64_t dfw__seen_latest(const struct dfw_seen *s, const char *id)
{
    uint64_t h = fnv(FNV_OFFSET, id);
    int64_t latest = 0;
    for (const struct seen_entry *e = s->id_buckets[h & (s->nbuckets - 1)]; e != NULL;
         e = e->next_id) {
        if (e->id_hash == h && strcmp(e->key, id) == 0 && e->updated_ms > latest) {
            latest = e->updated_ms;
        }
    }
    return latest;
}

dfw_err dfw__seen_add(
    struct dfw_seen *s, const char *id, const char *updated, int64_t updated_ms, int pending)
{
    if (find(s, id, updated) != NULL) {
        return DFW_OK;
    }
    if (s->count >= s->nbuckets && rehash(s, s->nbuckets * 2) != DFW_OK) {
        return DFW_ERR_NOMEM;
    }
    if (pending && s->npend == s->cappend) {
        size_t cap = s->cappend ? s->cappend * 2 : MIN_PENDING;
        struct seen_entry **n = realloc(s->pend, cap * sizeof(*n));
        if (n == NULL) {
            return DFW_ERR_NOMEM;
        }
        s->pend = n;
        s->cappend = cap;
    }
    size_t idlen = strlen(id), ulen = strlen(updated);
    struct seen_entry *e = malloc(sizeof(*e) + idlen + ulen + 2);
    if (e == NULL) {
        return DFW_ERR_NOMEM;
    }
    memcpy(e->key, id, idlen + 1);
    memcpy(e->key + idlen + 1, updated, ulen + 1);
    e->idlen = (uint32_t)idlen;
    e->updated_ms = updated_ms;
    e->hash = dfw__seen_pair_hash(id, updated);
    e->id_hash = fnv(FNV_OFFSET, id);
    e->pending = pending != 0;
    link_entry(s, e);
    s->count++;
    s->bytes += entry_size(e);
    if (pending) {
        s->pend[s->npend++] = e;
    }
    return DFW_OK;
}

void dfw__seen_commit(struct dfw_seen *s)
{
    for (size_t i = 0; i < s->npend; i++) {
        s->pend[i]->pending = 0;
    }
    s->npend = 0;
}

void dfw__seen_rollback(struct dfw_seen *s)
{
    for (size_t i = 0; i < s->npend; i++) {
        drop_entry(s, s->pend[i]);
    }
    s->npend = 0;
}

dfw_err dfw__seen_prune(struct dfw_seen *s, int64_t keep_ms)
{
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct seen_entry *e = s->buckets[i];
        while (e != NULL) {
            struct seen_entry *next = e->next;
            if (!e->pending && e->updated_ms < keep_ms) {
                drop_entry(s, e);
            }
            e = next;
        }
    }
    /* shrink the tables when most pairs are gone */
    size_t n = s->nbuckets;
    while (n > MIN_BUCKETS && s->count < n / 4) {
        n /= 2;
    }
    return n != s->nbuckets ? rehash(s, n) : DFW_OK;
}

size_t dfw__seen_count(const struct dfw_seen *s)
{
    return s->count;
}

size_t dfw__seen_pending(const struct dfw_seen *s)
{
    return s->npend;
}

void dfw__seen_each(const struct dfw_seen *s, dfw__seen_visit_fn fn, void *arg)
{
    for (size_t i = 0; i < s->nbuckets; i++) {
        for (const struct seen_entry *e = s->buckets[i]; e != NULL; e = e->next) {
            if (!e->pending) {
                fn(arg, e->key, e->key + e->idlen + 1, e->updated_ms);
            }
        }
    }
}

size_t dfw__seen_bytes(const struct dfw_seen *s)
{
    return s->bytes + 2 * s->nbuckets * sizeof(struct seen_entry *) +
           s->cappend * sizeof(struct seen_entry *);
}
