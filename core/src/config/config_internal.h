/* Configuration loader internals shared by config*.c; not a public header (dfw/config.h is).
 * config.c reads files and drives inih; config_forwarder.c, config_tenant.c and config_output.c
 * handle the keys of their section; config_check.c holds the value checks and the name set. */
#ifndef DFW_CONFIG_INTERNAL_H
#define DFW_CONFIG_INTERNAL_H

#include "dfw/config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define NAME_MAX_LEN 64               /* tenant, output and output type names */
#define DAY_MS       (86400LL * 1000) /* a day in ms, for [forwarder] durations */
#define NFKEYS       16               /* entries of the [forwarder] key table */

enum sect_kind { SECT_NONE, SECT_FORWARDER, SECT_TENANT, SECT_OUTPUT };

/* Tenant keys, in the order of struct dfw_tenant_conf. */
enum tkey {
    TK_TENANT_ID,
    TK_CLIENT_ID,
    TK_AUTH,
    TK_TOKEN_ENDPOINT,
    TK_CS_FILE,
    TK_CS_CREDENTIAL,
    TK_CS_ENV,
    TK_CERTIFICATE_FILE,
    TK_PK_FILE,
    TK_PK_CREDENTIAL,
    TK_PK_ENV,
    TK_ASSERTION_ALG,
    TK_REFRESH_TOKEN_FILE,
    TK_CLOUD,
    TK_LOGIN_URL,
    TK_DEFENDER_URL,
    TK_GRAPH_URL,
    TK_STREAMS,
    TK_SETTLE_DELAY,
    TK_OVERLAP,
    TK_EXPAND_ALERTS,
    TK_COUNT
};

/* Open-addressing set of names -> array index, so 10,000 sections load in linear time. */
struct name_slot {
    const char *name; /* borrowed from the tenant/output; NULL = empty slot */
    size_t idx;
};

struct name_set {
    struct name_slot *slots;
    size_t cap; /* power of two */
    size_t n;
};

struct loader;

/* One file being read; frames form a stack through include. */
struct frame {
    struct frame *parent;
    struct loader *ld;
    const char *path; /* as shown in messages */
    char *dir;        /* base for relative include globs */
    dev_t dev;        /* identity for include-cycle detection */
    ino_t ino;
    FILE *fp;
    char *buf; /* getline buffer */
    size_t bufcap;
    int lineno;
    int stop_line; /* line being read when the first error happened (0: none) */
    enum sect_kind kind;
    size_t idx;    /* current tenant or output */
    int type_line; /* [output]: line of type = */
    int tkey_line[TK_COUNT];
};

struct loader {
    struct dfw_config *cfg;
    size_t tenant_cap, output_cap;
    struct name_set tenant_names, output_names;
    char *errbuf;
    size_t errlen;
    int failed;
    int depth;
    int fkey_line[NFKEYS];
    char *fkey_file[NFKEYS];
};

/* ---- config.c: errors and shared setters ---- */

/* Record the first error as "path:line: message" (line 0: "path: message") and remember, in every
 * open file, which line was being read. Returns 0, the handler's "error" convention. */
__attribute__((format(printf, 3, 4))) int
dfw__conf_fail_at(struct frame *f, int line, const char *fmt, ...);

/* dfw__conf_fail_at at the line being read. */
#define dfw__conf_fail(f, ...) dfw__conf_fail_at((f), (f)->lineno, __VA_ARGS__)

/* "out of memory" at the line being read. Returns 0. */
int dfw__conf_nomem(struct frame *f);

/* Replace *slot (owned) with a copy of v. Returns 1, or 0 out of memory (error recorded). */
int dfw__conf_set_str(struct frame *f, char **slot, const char *v);

/* Grow an array of n elements (capacity *cap) to hold one more and zero the new element. Returns
 * the array, possibly moved, or NULL out of memory (arr is then unchanged and still owned). */
void *dfw__conf_grow(void *arr, size_t n, size_t *cap, size_t elem);

/* ---- config_check.c: value checks and the name set ---- */

/* Names become file names and command arguments: 1 to NAME_MAX_LEN of A-Z a-z 0-9 _ . -, no
 * leading '.' ("..") or '-'. */
int dfw__conf_valid_name(const char *s);
/* 8-4-4-4-12 hex digits. */
int dfw__conf_is_guid(const char *s);
/* A DNS name with at least two labels, e.g. contoso.onmicrosoft.com. */
int dfw__conf_is_domain(const char *s);
int dfw__conf_valid_env_name(const char *s);
int dfw__conf_valid_credential_name(const char *s);

/* Free the slots (the names are borrowed) and empty the set. */
void dfw__conf_nameset_free(struct name_set *s);
/* Add name -> idx; name is borrowed and must outlive the set. Returns 0 when added, 1 when present
 * (*existing set), -1 out of memory. */
int dfw__conf_nameset_add(struct name_set *s, const char *name, size_t idx, size_t *existing);

/* ---- per section: key handlers return 1 on success, 0 with the error recorded ---- */

/* config_forwarder.c */
int dfw__conf_forwarder_key(struct frame *f, const char *key, const char *v);

/* config_tenant.c: open adds cfg->tenants[] entry and makes it f's current section; close checks
 * required keys and fills defaults; free releases one entry's strings (not the entry). */
int dfw__conf_tenant_open(struct frame *f, const char *name, int line);
int dfw__conf_tenant_key(struct frame *f, const char *key, const char *v);
int dfw__conf_tenant_close(struct frame *f);
void dfw__conf_tenant_free(struct dfw_tenant_conf *t);

/* config_output.c: likewise for cfg->outputs[]. */
int dfw__conf_output_open(struct frame *f, const char *name, int line);
int dfw__conf_output_key(struct frame *f, const char *key, const char *v);
int dfw__conf_output_close(struct frame *f);
void dfw__conf_output_free(struct dfw_output_conf *o);

#endif
