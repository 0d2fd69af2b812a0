/* [output NAME] sections: the type key, and the output's own keys kept raw in file order for its
 * option table (dfw_output_conf_parse) to check when the output is created. */
#include "config_internal.h"

#include <stdlib.h>
#include <string.h>

int dfw__conf_output_open(struct frame *f, const char *name, int line)
{
    struct loader *ld = f->ld;
    struct dfw_config *cfg = ld->cfg;
    struct dfw_output_conf *os =
        dfw__conf_grow(cfg->outputs, cfg->noutputs, &ld->output_cap, sizeof(*os));
    if (os == NULL) {
        return dfw__conf_nomem(f);
    }
    cfg->outputs = os;
    struct dfw_output_conf *o = &os[cfg->noutputs];
    o->name = strdup(name);
    o->file = strdup(f->path);
    cfg->noutputs++;
    if (o->name == NULL || o->file == NULL) {
        return dfw__conf_nomem(f);
    }
    o->line = line;
    size_t prev;
    int r = dfw__conf_nameset_add(&ld->output_names, o->name, cfg->noutputs - 1, &prev);
    if (r < 0) {
        return dfw__conf_nomem(f);
    }
    if (r > 0) {
        return dfw__conf_fail(f, "[output %s] duplicate output name (first defined at %s:%d)", name,
                              os[prev].file, os[prev].line);
    }
    f->kind = SECT_OUTPUT;
    f->idx = cfg->noutputs - 1;
    f->type_line = 0;
    return 1;
}

int dfw__conf_output_key(struct frame *f, const char *key, const char *v)
{
    struct dfw_output_conf *o = &f->ld->cfg->outputs[f->idx];
    if (strcmp(key, "type") == 0) {
        if (f->type_line != 0) {
            return dfw__conf_fail(f, "[output %s] type: duplicate key (first set at line %d)",
                                  o->name, f->type_line);
        }
        f->type_line = f->lineno;
        if (!dfw__conf_valid_name(v)) {
            return dfw__conf_fail(f, "[output %s] type: '%s' is not an output type name", o->name,
                                  v);
        }
        return dfw__conf_set_str(f, &o->type, v);
    }
    /* Outputs have few keys: a linear duplicate check is fine here. */
    for (size_t i = 0; i < o->nkvs; i++) {
        if (strcmp(o->kvs[i].key, key) == 0) {
            return dfw__conf_fail(f, "[output %s] %s: duplicate key (first set at line %d)",
                                  o->name, key, o->kvs[i].line);
        }
    }
    if (o->nkvs % 8 == 0) {
        struct dfw_config_kv *kvs = realloc(o->kvs, (o->nkvs + 8) * sizeof(*kvs));
        if (kvs == NULL) {
            return dfw__conf_nomem(f);
        }
        o->kvs = kvs;
    }
    struct dfw_config_kv *kv = &o->kvs[o->nkvs];
    kv->key = strdup(key);
    kv->value = strdup(v);
    kv->file = strdup(f->path);
    kv->line = f->lineno;
    o->nkvs++;
    if (kv->key == NULL || kv->value == NULL || kv->file == NULL) {
        return dfw__conf_nomem(f);
    }
    return 1;
}

int dfw__conf_output_close(struct frame *f)
{
    const struct dfw_output_conf *o = &f->ld->cfg->outputs[f->idx];
    if (o->type == NULL) {
        return dfw__conf_fail_at(f, o->line, "[output %s] type is required", o->name);
    }
    return 1;
}

void dfw__conf_output_free(struct dfw_output_conf *o)
{
    for (size_t j = 0; j < o->nkvs; j++) {
        free(o->kvs[j].key);
        free(o->kvs[j].value);
        free(o->kvs[j].file);
    }
    free(o->kvs);
    free(o->name);
    free(o->type);
    free(o->file);
}
