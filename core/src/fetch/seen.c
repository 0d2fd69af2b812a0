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

/* A pair looked up or added: its lengths and both hashes, worked out once. */
struct seen_key {
    const char *id, *updated;
    size_t idlen, ulen;
    uint64_t id_hash, hash;
};

/* xor-shift-multiply finaliser (a bijection of 64-bit words; the low bits, which pick a bucket,
 * depend on every input bit) */
static uint64_t mix(uint64_t h)
{
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ULL;
    h ^= h >> 32;
    return h;
}

/* Hash n bytes eight at a time, on from h. The values live in memory only (the checkpoint keeps
 * the pairs' text): nothing depends on them staying the same between versions. */
static uint64_t hash_bytes(uint64_t h, const char *s, size_t n)
{
    uint64_t w;
    for (; n >= sizeof(w); s += sizeof(w), n -= sizeof(w)) {
        memcpy(&w, s, sizeof(w));
        h = mix(h ^ w);
    }
    w = (uint64_t)n << 56; /* the tail's length in the byte the tail (at most 7 bytes) leaves */
    uint64_t tail = 0;
    memcpy(&tail, s, n);
    return mix(h ^ w ^ tail);
}

static void key_of(struct seen_key *k, const char *id, const char *updated)
{
    k->id = id;
    k->updated = updated;
    k->idlen = strlen(id);
    k->ulen = strlen(updated);
    k->id_hash = hash_bytes(0x9e3779b97f4a7c15ULL, id, k->idlen);
    k->hash = hash_bytes(k->id_hash, updated, k->ulen);
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

static struct seen_entry *find(const struct dfw_seen *s, const struct seen_key *k)
{
    for (struct seen_entry *e = s->buckets[k->hash & (s->nbuckets - 1)]; e != NULL; e = e->next) {
        if (e->hash == k->hash && e->idlen == k->idlen && memcmp(e->key, k->id, k->idlen) == 0 &&
            memcmp(e->key + k->idlen + 1, k->updated, k->ulen + 1) == 0) {
            return e;
        }
    }
    return NULL;
}

/* The pairs of k's id: how many, and the latest last-update among them (0 when none). */
static size_t id_pairs(const struct dfw_seen *s, const struct seen_key *k, int64_t *latest)
{
    size_t n = 0;
    *latest = 0;
    for (const struct seen_entry *e = s->id_buckets[k->id_hash & (s->nbuckets - 1)]; e != NULL;
         e = e->next_id) {
        if (e->id_hash == k->id_hash && e->idlen == k->idlen &&
            memcmp(e->key, k->id, k->idlen + 1) == 0) {
            n++;
            if (e->updated_ms > *latest) {
                *latest = e->updated_ms;
            }
        }
    }
    return n;
}

int dfw__seen_has(const struct dfw_seen *s, const char *id, const char *updated)
{
    struct seen_key k;
    key_of(&k, id, updated);
    return find(s, &k) != NULL;
}

int dfw__seen_has_id(const struct dfw_seen *s, const char *id)
{
    struct seen_key k;
    int64_t latest;
    key_of(&k, id, "");
    return id_pairs(s, &k, &latest) > 0;
}

int64_t dfw__seen_latest(const struct dfw_seen *s, const char *id)
{
    struct seen_key k;
    int64_t latest;
    key_of(&k, id, "");
    id_pairs(s, &k, &latest);
    return latest;
}

/* Add the pair of k, known to be absent. */
static dfw_err
add_key(struct dfw_seen *s, const struct seen_key *k, int64_t updated_ms, int pending)
{
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
    struct seen_entry *e = malloc(sizeof(*e) + k->idlen + k->ulen + 2);
    if (e == NULL) {
        return DFW_ERR_NOMEM;
    }
    memcpy(e->key, k->id, k->idlen + 1);
    memcpy(e->key + k->idlen + 1, k->updated, k->ulen + 1);
    e->idlen = (uint32_t)k->idlen;
    e->updated_ms = updated_ms;
    e->hash = k->hash;
    e->id_hash = k->id_hash;
    e->pending = pending != 0;
    link_entry(s, e);
    s->count++;
    s->bytes += entry_size(e);
    if (pending) {
        s->pend[s->npend++] = e;
    }
    return DFW_OK;
}

dfw_err dfw__seen_add(
    struct dfw_seen *s, const char *id, const char *updated, int64_t updated_ms, int pending)
{
    struct seen_key k;
    key_of(&k, id, updated);
    return find(s, &k) != NULL ? DFW_OK : add_key(s, &k, updated_ms, pending);
}

dfw_err dfw__seen_note(struct dfw_seen *s,
                       const char *id,
                       const char *updated,
                       int64_t updated_ms,
                       struct dfw_cursor_prior *prior)
{
    struct seen_key k;
    key_of(&k, id, updated);
    prior->pair_hash = k.hash;
    prior->present = find(s, &k) != NULL;
    prior->id_known = id_pairs(s, &k, &prior->latest_ms) > 0;
    return prior->present ? DFW_OK : add_key(s, &k, updated_ms, 1);
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
