/* Internal to the encoders (fields.c): reading a record's values from its JSON text, without a
 * json-c tree. An object's members are indexed once (one pass, dfw/json_scan.h) and looked up in
 * that table; strings are views into the text, or decoded into a scratch list when they hold
 * escapes. The text must have passed dfw_json_check (a page's rows do; a tree serialised by
 * json-c does). Not thread-safe per object; separate objects are independent. */
#ifndef DFW_FORMAT_JSON_VIEW_H
#define DFW_FORMAT_JSON_VIEW_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/json_scan.h"

/* A value in the text: s.len == 0 when absent. ix: the text's index, or NULL (an aid only). */
struct dfw__jv {
    const char *t;
    struct dfw_json_span s;
    const struct dfw_json_index *ix;
};

/* Decoded strings (those with escapes), freed together; failed is set when one could not be
 * decoded for want of memory. */
struct dfw__jscratch {
    struct dfw__jdec *head;
    int failed;
};

struct dfw__jmember {
    struct dfw_json_span name, val;
    int escaped;  /* the name holds a backslash: compared decoded */
    uint32_t tag; /* of an unescaped name: its length and outer bytes (dfw__jobj_get) */
};

#define DFW__JOBJ_INLINE 48

/* An object's member table. The members of a bigger object go to the heap. */
struct dfw__jobj {
    const char *t;
    const struct dfw_json_index *ix;
    struct dfw__jscratch *sc;
    struct dfw__jmember *m; /* in, or malloc'd */
    size_t n, cap;
    struct dfw__jmember in[DFW__JOBJ_INLINE];
};

/* Index the object v (no members when v is absent or not an object, or when out of memory: then
 * sc->failed is set). Close it with dfw__jobj_close. */
void dfw__jobj_open(struct dfw__jobj *o, struct dfw__jv v, struct dfw__jscratch *sc);
void dfw__jobj_close(struct dfw__jobj *o);

/* The member key's value when it is of the JSON type that starts with open ('{' object, '['
 * array, '"' string), the last of repeated names as json-c keeps it; else absent. */
struct dfw__jv dfw__jobj_get(const struct dfw__jobj *o, const char *key, char open);

/* The next element of the array arr: *pos = 0 before the first call. 1 with *item, or 0. */
int dfw__jv_next(struct dfw__jv arr, size_t *pos, struct dfw__jv *item);

/* The string v decoded: a view into the text, or into sc when it holds escapes (valid until
 * dfw__jscratch_free). *n receives its length (JSON strings may hold NUL). NULL when v is not a
 * string or out of memory (then sc->failed is set). */
const char *dfw__jv_str(struct dfw__jv v, struct dfw__jscratch *sc, size_t *n);

void dfw__jscratch_free(struct dfw__jscratch *sc);

#endif
