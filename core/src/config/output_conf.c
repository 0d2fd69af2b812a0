#include "dfw/config.h"
#include "dfw/output.h"
#include "dfw/timeutil.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"yes", "on", "true", "1"};
    static const char *const no[] = {"no", "off", "false", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

static int parse_enum(const char *values, const char *v, int *out)
{
    int idx = 0;
    size_t vlen = strlen(v);
    const char *p = values;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == vlen && strncasecmp(p, v, n) == 0) {
            *out = idx;
            return 0;
        }
        idx++;
        if (bar == NULL) {
            break;
        }
        p = bar + 1;
    }
    return -1;
}

static int parse_int(const char *v, long long *out)
{
    char *end;
    if (*v == '\0') {
        return -1;
    }
    long long n = strtoll(v, &end, 10);
    if (*end != '\0') {
        return -1;
    }
    *out = n;
    return 0;
}

static int parse_size(const char *v, long long *out)
{
    char *end;
    if (!isdigit((unsigned char)*v)) {
        return -1;
    }
    long long n = strtoll(v, &end, 10);
    long long mult = 1;
    if (*end == 'k' || *end == 'K') {
        mult = 1024;
        end++;
    }
    else if (*end == 'm' || *end == 'M') {
        mult = 1024 * 1024;
        end++;
    }
    if (*end != '\0' || n > (1LL << 40)) {
        return -1;
    }
    *out = n * mult;
    return 0;
}

/* Append (key without the prefix, v) to the list of a DFW_OPT_PREFIX row. */
static int add_pair(struct dfw_opt_list *list, const char *key, const char *v)
{
    if (*key == '\0') {
        return -1; /* a default on a prefix row */
    }
    struct dfw_opt_pair *items = realloc(list->items, (list->count + 1) * sizeof(*items));
    if (items == NULL) {
        return -1;
    }
    list->items = items;
    struct dfw_opt_pair *p = &items[list->count];
    p->key = strdup(key);
    p->value = strdup(v);
    if (p->key == NULL || p->value == NULL) {
        free(p->key);
        free(p->value);
        return -1;
    }
    list->count++;
    return 0;
}

static int is_prefix_of(const struct dfw_option *opt, const char *key)
{
    size_t n = strlen(opt->name);
    return opt->type == DFW_OPT_PREFIX && strncmp(key, opt->name, n) == 0 && key[n] != '\0';
}

/* The row for key: an exact name first, else a prefix row. NULL when none matches. */
static const struct dfw_option *find_option(const struct dfw_option *options, const char *key)
{
    const struct dfw_option *opt;
    for (opt = options; opt->name != NULL; opt++) {
        if (opt->type != DFW_OPT_PREFIX && strcmp(opt->name, key) == 0) {
            return opt;
        }
    }
    for (opt = options; opt->name != NULL; opt++) {
        if (is_prefix_of(opt, key)) {
            return opt;
        }
    }
    return NULL;
}

/* Store text v of key into the field described by opt. Returns 0, or -1 for a bad value. */
static int set_field(const struct dfw_option *opt, void *conf, const char *key, const char *v)
{
    char *field = (char *)conf + opt->offset;
    switch (opt->type) {
    case DFW_OPT_PREFIX:
        return add_pair((struct dfw_opt_list *)(void *)field, key + strlen(opt->name), v);
    case DFW_OPT_STRING: {
        char *copy = strdup(v);
        if (copy == NULL) {
            return -1;
        }
        char **slot = (char **)(void *)field;
        free(*slot);
        *slot = copy;
        return 0;
    }
    case DFW_OPT_INT:
        return parse_int(v, (long long *)(void *)field);
    case DFW_OPT_BOOL:
        return parse_bool(v, (int *)(void *)field);
    case DFW_OPT_ENUM:
        return parse_enum(opt->values, v, (int *)(void *)field);
    case DFW_OPT_DURATION: {
        int64_t ms;
        if (dfw_duration_parse(v, &ms) != DFW_OK) {
            return -1;
        }
        *(long long *)(void *)field = (long long)ms;
        return 0;
    }
    case DFW_OPT_SIZE:
        return parse_size(v, (long long *)(void *)field);
    }
    return -1;
}

static const char *type_hint(const struct dfw_option *opt)
{
    switch (opt->type) {
    case DFW_OPT_INT:
        return "an integer";
    case DFW_OPT_BOOL:
        return "yes or no";
    case DFW_OPT_ENUM:
        return opt->values;
    case DFW_OPT_DURATION:
        return "a duration such as 500ms, 30s, 5m";
    case DFW_OPT_SIZE:
        return "a size such as 1400, 64k, 1m";
    case DFW_OPT_STRING:
    case DFW_OPT_PREFIX:
        break;
    }
    return "a string";
}

dfw_err dfw_output_conf_parse(const struct dfw_output_plugin *plugin,
                              const struct dfw_config_kv *kvs,
                              size_t nkvs,
                              void **conf_out,
                              char *errbuf,
                              size_t errlen)
{
    void *conf = calloc(1, plugin->conf_size);
    if (conf == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return DFW_ERR_NOMEM;
    }
    const struct dfw_option *opt;
    for (opt = plugin->options; opt->name != NULL; opt++) {
        if (opt->def != NULL && set_field(opt, conf, opt->name, opt->def) != 0) {
            snprintf(errbuf, errlen, "output %s: bad built-in default for %s", plugin->name,
                     opt->name);
            dfw_output_conf_free(plugin, conf);
            return DFW_ERR_CONFIG;
        }
    }
    for (size_t i = 0; i < nkvs; i++) {
        opt = find_option(plugin->options, kvs[i].key);
        if (opt == NULL) {
            snprintf(errbuf, errlen, "%s:%d: unknown key '%s' for output type %s", kvs[i].file,
                     kvs[i].line, kvs[i].key, plugin->name);
            dfw_output_conf_free(plugin, conf);
            return DFW_ERR_CONFIG;
        }
        if (set_field(opt, conf, kvs[i].key, kvs[i].value) != 0) {
            snprintf(errbuf, errlen, "%s:%d: bad value for %s: expected %s", kvs[i].file,
                     kvs[i].line, kvs[i].key, type_hint(opt));
            dfw_output_conf_free(plugin, conf);
            return DFW_ERR_CONFIG;
        }
    }
    for (opt = plugin->options; opt->name != NULL; opt++) {
        if (!opt->required || opt->type == DFW_OPT_PREFIX) {
            continue;
        }
        size_t i;
        for (i = 0; i < nkvs && strcmp(kvs[i].key, opt->name) != 0; i++) {
        }
        if (i == nkvs) {
            snprintf(errbuf, errlen, "output type %s: missing required key '%s'", plugin->name,
                     opt->name);
            dfw_output_conf_free(plugin, conf);
            return DFW_ERR_CONFIG;
        }
    }
    *conf_out = conf;
    return DFW_OK;
}

void dfw_output_conf_free(const struct dfw_output_plugin *plugin, void *conf)
{
    if (conf == NULL) {
        return;
    }
    for (const struct dfw_option *opt = plugin->options; opt->name != NULL; opt++) {
        char *field = (char *)conf + opt->offset;
        if (opt->type == DFW_OPT_STRING) {
            free(*(char **)(void *)field);
        }
        else if (opt->type == DFW_OPT_PREFIX) {
            struct dfw_opt_list *list = (struct dfw_opt_list *)(void *)field;
            for (size_t i = 0; i < list->count; i++) {
                free(list->items[i].key);
                free(list->items[i].value);
            }
            free(list->items);
        }
    }
    free(conf);
}

const struct dfw_output_plugin *dfw_output_find(const struct dfw_output_plugin *const *registry,
                                                const char *name)
{
    for (size_t i = 0; registry[i] != NULL; i++) {
        if (strcmp(registry[i]->name, name) == 0) {
            return registry[i];
        }
    }
    return NULL;
}
