/* Value checks of the configuration loader and the set of section names (duplicate detection). */
#include "config_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- name set ---- */

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void dfw__conf_nameset_free(struct name_set *s)
{
    free(s->slots);
    s->slots = NULL;
    s->cap = s->n = 0;
}

static struct name_slot *nameset_slot(struct name_slot *slots, size_t cap, const char *name)
{
    size_t i = (size_t)hash_name(name) & (cap - 1);
    while (slots[i].name != NULL && strcmp(slots[i].name, name) != 0) {
        i = (i + 1) & (cap - 1);
    }
    return &slots[i];
}

/* Add name -> idx. Returns 0 when added, 1 when present (*existing set), -1 out of memory. */
int dfw__conf_nameset_add(struct name_set *s, const char *name, size_t idx, size_t *existing)
{
    if ((s->n + 1) * 2 > s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        struct name_slot *ns = calloc(ncap, sizeof(*ns));
        if (ns == NULL) {
            return -1;
        }
        for (size_t i = 0; i < s->cap; i++) {
            if (s->slots[i].name != NULL) {
                *nameset_slot(ns, ncap, s->slots[i].name) = s->slots[i];
            }
        }
        free(s->slots);
        s->slots = ns;
        s->cap = ncap;
    }
    struct name_slot *slot = nameset_slot(s->slots, s->cap, name);
    if (slot->name != NULL) {
        *existing = slot->idx;
        return 1;
    }
    slot->name = name;
    slot->idx = idx;
    s->n++;
    return 0;
}

/* ---- value checks ---- */

/* Names become file names and command arguments: no leading '.' ("..") or '-'. */
int dfw__conf_valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN || s[0] == '.' || s[0] == '-') {
        return 0;
    }
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* 8-4-4-4-12 hex digits. */
int dfw__conf_is_guid(const char *s)
{
    if (strlen(s) != 36) {
        return 0;
    }
    for (int i = 0; i < 36; i++) {
        int dash = (i == 8 || i == 13 || i == 18 || i == 23);
        if (dash ? s[i] != '-' : !is_hex(s[i])) {
            return 0;
        }
    }
    return 1;
}

/* A DNS name with at least two labels, e.g. contoso.onmicrosoft.com. */
int dfw__conf_is_domain(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253 || strchr(s, '.') == NULL) {
        return 0;
    }
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-') {
                return 0;
            }
            label = 0;
        }
        else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 (c == '-' && label > 0)) {
            if (++label > 63) {
                return 0;
            }
        }
        else {
            return 0;
        }
    }
    return label > 0 && s[n - 1] != '-';
}

int dfw__conf_valid_env_name(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_')) {
        return 0;
    }
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
           strlen(s);
}

int dfw__conf_valid_credential_name(const char *s)
{
    return *s != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}
