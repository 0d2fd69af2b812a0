/* HEC replies, status codes and indexer acknowledgement queries. */
#include "splunk_hec_proto.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dfw_out_splunk_hec_parse_reply(const char *body,
                                    size_t len,
                                    struct dfw_out_splunk_hec_reply *r)
{
    memset(r, 0, sizeof(*r));
    r->code = -1;
    if (body == NULL || len == 0 || len > 65536) {
        return;
    }
    struct json_tokener *tok = json_tokener_new();
    struct json_object *o = tok ? json_tokener_parse_ex(tok, body, (int)len) : NULL;
    if (tok != NULL) {
        json_tokener_free(tok);
    }
    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return;
    }
    struct json_object *v;
    if (json_object_object_get_ex(o, "code", &v) && json_object_is_type(v, json_type_int)) {
        int64_t c = json_object_get_int64(v);
        r->code = c >= 0 && c < 1000 ? (int)c : -1;
    }
    if (json_object_object_get_ex(o, "ackId", &v) && json_object_is_type(v, json_type_int) &&
        json_object_get_int64(v) >= 0) {
        r->has_ack_id = 1;
        r->ack_id = (uint64_t)json_object_get_int64(v);
    }
    if (json_object_object_get_ex(o, "text", &v) && json_object_is_type(v, json_type_string)) {
        const char *t = json_object_get_string(v);
        size_t i = 0;
        for (; t[i] != '\0' && i + 1 < sizeof(r->text); i++) {
            unsigned char ch = (unsigned char)t[i];
            r->text[i] = ch >= 0x20 && ch < 0x7f && ch != '"' ? (char)ch : '_';
        }
        r->text[i] = '\0';
    }
    json_object_put(o);
}

const char *dfw_out_splunk_hec_code_text(int code)
{
    static const char *const texts[] = {
        "Success",
        "Token disabled",
        "Token is required",
        "Invalid authorization",
        "Invalid token",
        "No data",
        "Invalid data format",
        "Incorrect index",
        "Internal server error",
        "Server is busy",
        "Data channel is missing",
        "Invalid data channel",
        "Event field is required",
        "Event field cannot be blank",
        "ACK is disabled",
        "Error in handling indexed fields",
        "Query string authorization is not enabled",
        "HEC is healthy",
        "HEC is unhealthy, queues are full",
        "HEC is unhealthy, ack service unavailable",
        "HEC is unhealthy, queues are full, ack service unavailable",
    };
    if (code >= 0 && (size_t)code < sizeof(texts) / sizeof(texts[0])) {
        return texts[code];
    }
    return "unknown code";
}

dfw_err dfw_out_splunk_hec_classify(long status,
                                    const struct dfw_out_splunk_hec_reply *r,
                                    const char **advice)
{
    const char *unused;
    const char **a = advice ? advice : &unused;
    int code = r ? r->code : -1;
    *a = "";
    if (status >= 200 && status < 300) {
        return DFW_OK;
    }
    if (status == 0) {
        *a = "no answer (connection or timeout); retrying";
        return DFW_ERR_RETRY;
    }
    if (status == 429) {
        *a = "HEC asks to slow down; retrying after a delay";
        return DFW_ERR_THROTTLED;
    }
    if (status >= 500 || status == 408) {
        *a = "HEC busy or failing; retrying with backoff";
        return DFW_ERR_RETRY;
    }
    switch (code) {
    case 1:
    case 2:
    case 3:
    case 4:
        *a = "check the HEC token (token_file) and that it is enabled in Splunk";
        return DFW_ERR_AUTH;
    case 7:
        *a = "the index does not exist or the token may not write to it: check index";
        return DFW_ERR_CONFIG;
    case 10:
    case 14:
        *a = "the token's indexer acknowledgement setting does not match: check ack";
        return DFW_ERR_CONFIG;
    case 11:
        *a = "HEC does not know the channel (restarted or too many channels); retrying";
        return DFW_ERR_RETRY;
    case 9:
    case 18:
    case 19:
    case 20:
        *a = "HEC busy; retrying with backoff";
        return DFW_ERR_RETRY;
    default:
        break;
    }
    if (status == 401 || status == 403) {
        *a = "check the HEC token (token_file) and that it is enabled in Splunk";
        return DFW_ERR_AUTH;
    }
    if (status == 404) {
        *a = "no HEC at this URL: check url and that HEC is enabled";
        return DFW_ERR_CONFIG;
    }
    if (status == 413) {
        *a = "request larger than Splunk accepts: lower batch_max_bytes";
        return DFW_ERR_INVALID;
    }
    *a = "HEC refused the data";
    return DFW_ERR_INVALID;
}

dfw_err dfw_out_splunk_hec_ack_query(const uint64_t *ids, size_t n, struct dfw_buf *out)
{
    if (dfw_buf_puts(out, "{\"acks\":[") != DFW_OK) {
        return DFW_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (dfw_buf_printf(out, "%s%" PRIu64, i ? "," : "", ids[i]) != DFW_OK) {
            return DFW_ERR_NOMEM;
        }
    }
    return dfw_buf_puts(out, "]}");
}

dfw_err dfw_out_splunk_hec_parse_acks(
    const char *body, size_t len, const uint64_t *ids, int *acked, size_t n)
{
    if (body == NULL || len == 0 || len > (16u << 20)) {
        return DFW_ERR_INVALID;
    }
    struct json_tokener *tok = json_tokener_new();
    struct json_object *o = tok ? json_tokener_parse_ex(tok, body, (int)len) : NULL;
    if (tok != NULL) {
        json_tokener_free(tok);
    }
    struct json_object *acks;
    if (o == NULL || !json_object_is_type(o, json_type_object) ||
        !json_object_object_get_ex(o, "acks", &acks) ||
        !json_object_is_type(acks, json_type_object)) {
        json_object_put(o);
        return DFW_ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        char key[24];
        struct json_object *v;
        snprintf(key, sizeof(key), "%" PRIu64, ids[i]);
        if (json_object_object_get_ex(acks, key, &v) && json_object_is_type(v, json_type_boolean) &&
            json_object_get_boolean(v)) {
            acked[i] = 1;
        }
    }
    json_object_put(o);
    return DFW_OK;
}

dfw_err dfw_out_splunk_hec_channel(char *out, size_t outlen)
{
    unsigned char b[16];
    if (outlen < 37 || RAND_bytes(b, sizeof(b)) != 1) {
        return DFW_ERR_IO;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, outlen, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return DFW_OK;
}
