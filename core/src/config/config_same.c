/* Are two configurations the same where reload cares: compared as written, key by key. */
#include "config_internal.h"

#include <string.h>

static int same_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

int dfw_config_tenant_same(const struct dfw_tenant_conf *a, const struct dfw_tenant_conf *b)
{
    return same_str(a->name, b->name) && same_str(a->canon, b->canon);
}

int dfw_config_forwarder_same(const struct dfw_config *a, const struct dfw_config *b)
{
    return same_str(a->forwarder_canon, b->forwarder_canon);
}

int dfw_config_outputs_same(const struct dfw_config *a, const struct dfw_config *b)
{
    if (a->noutputs != b->noutputs) {
        return 0;
    }
    for (size_t i = 0; i < a->noutputs; i++) {
        const struct dfw_output_conf *x = &a->outputs[i], *y = &b->outputs[i];
        if (!same_str(x->name, y->name) || !same_str(x->type, y->type) || x->nkvs != y->nkvs) {
            return 0;
        }
        for (size_t k = 0; k < x->nkvs; k++) {
            if (!same_str(x->kvs[k].key, y->kvs[k].key) ||
                !same_str(x->kvs[k].value, y->kvs[k].value)) {
                return 0;
            }
        }
    }
    return 1;
}
