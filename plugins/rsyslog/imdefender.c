/* imdefender: the forwarder's engine inside rsyslog 8.2302 as an input module.
 *
 *   module(load="imdefender")
 *   input(type="imdefender" config="/etc/defender-forwarder/rsyslog.conf" ruleset="defender"
 *         format="json")
 *
 * Threads: rsyslog runs runInput on the module's input thread; each input() instance has an
 * engine with its own loop thread (dfw_embed_start). The engine hands a batch to submit, which
 * queues it; the input thread turns each event into an rsyslog message (MSG = the record JSON or
 * CEF line, properties $!defender!tenant ... $!defender!last_update) and submits it with full-delay
 * flow control: a full ruleset queue blocks the input thread, and so the engine (back-pressure).
 * rsyslog gives inputs no per-message acknowledgement: a batch is acknowledged, and its
 * checkpoint may move, once every message of it was accepted into the queue. Durability past that
 * point is the queue's (a disk queue on the ruleset; docs/rsyslog.md).
 *
 * The skeleton follows rsyslog's runtime/module-template.h and contrib/improg/improg.c; the
 * template's entry-point macros are used for the interface tables only. */
#include "config.h"
#include "rsyslog.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "cfsysline.h"
#include "datetime.h"
#include "errmsg.h"
#include "glbl.h"
#include "module-template.h"
#include "msg.h"
#include "prop.h"
#include "rsconf.h"
#include "ratelimit.h"
#include "ruleset.h"
#include "srUtils.h"
#include "unicode-helper.h"

#include "imdefender.h"

/* clang-format off */
MODULE_TYPE_INPUT
MODULE_TYPE_NOKEEP
MODULE_CNFNAME("imdefender")
DEF_IMOD_STATIC_DATA
DEFobjCurrIf(glbl)
DEFobjCurrIf(prop)
DEFobjCurrIf(ruleset)
DEFobjCurrIf(datetime)
/* clang-format on */

#define PROGRAM_NAME "defender-forwarder"
#define WAIT_MS      200 /* the input thread looks at rsyslog's termination request this often */

    struct modConfData_s {
    rsconf_t *pConf;
};

static instanceConf_t *confRoot;
static prop_t *pInputName;

/* The input thread's wait for batches: submit signals it. */
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_cond = PTHREAD_COND_INITIALIZER;

static struct cnfparamdescr inppdescr[] = {
    {"config", eCmdHdlrString, 0},
    {"settings", eCmdHdlrArray, 0},
    {"ruleset", eCmdHdlrString, 0},
    {"format", eCmdHdlrString, 0},
};
static struct cnfparamblk inppblk = {CNFPARAMBLK_VERSION,
                                     sizeof(inppdescr) / sizeof(struct cnfparamdescr), inppdescr};

static inline void std_checkRuleset_genErrMsg(modConfData_t *modConf, instanceConf_t *inst)
{
    (void)modConf;
    LogError(0, NO_ERRCODE, "imdefender: ruleset \"%s\" not found",
             DFW_LOG_ESC((const char *)inst->pszBindRuleset));
}

#include "im-helper.h" /* after the type definitions */

/* On an engine's loop thread: queue the batch for the input thread. */
static dfw_err submit(void *ctx, struct dfw_embed_batch *batch)
{
    instanceConf_t *inst = ctx;
    pthread_mutex_lock(&queue_lock);
    dfw_err rc = imdefender_queue_push(&inst->queue, batch);
    if (rc == DFW_OK) {
        pthread_cond_signal(&queue_cond);
    }
    pthread_mutex_unlock(&queue_lock);
    return rc;
}

static void
log_to_rsyslog(void *ctx, enum dfw_log_level level, const char *component, const char *message)
{
    (void)ctx;
    static const int sev[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    LogMsg(0, NO_ERRCODE, sev[level], "imdefender: component=%s %s", component, message);
}

/* The message for one event; RS_RET_OK and *out, or an error. */
static rsRetVal make_message(instanceConf_t *inst, const struct dfw_embed_msg *m, smsg_t **out)
{
    smsg_t *msg;
    DEFiRet;
    CHKiRet(msgConstruct(&msg));
    MsgSetFlowControlType(msg, eFLOWCTL_FULL_DELAY);
    MsgSetInputName(msg, pInputName);
    const uchar *host = glblGetLocalHostName();
    MsgSetHOSTNAME(msg, host, (int)ustrlen(host));
    MsgSetAPPNAME(msg, PROGRAM_NAME);
    MsgSetTAG(msg, (const uchar *)PROGRAM_NAME ":", sizeof(PROGRAM_NAME ":") - 1);
    msgSetPRI(msg, (syslog_pri_t)(LOG_USER | imdefender_syslog_severity(m->severity)));
    MsgSetMSGoffs(msg, 0);
    MsgSetRawMsg(msg, m->text, m->text_len);
    MsgSetRuleset(msg, inst->pBindRuleset);
    /* the record's last-update time is the message's TIMESTAMP */
    struct timeval tv = {.tv_sec = (time_t)(m->time_ms / 1000),
                         .tv_usec = (suseconds_t)(m->time_ms % 1000) * 1000};
    datetime.timeval2syslogTime(&tv, &msg->tTIMESTAMP, TIME_IN_UTC);
    struct json_object *props = imdefender_properties(m);
    if (props == NULL) {
        msgDestruct(&msg);
        ABORT_FINALIZE(RS_RET_OUT_OF_MEMORY);
    }
    msgAddJSON(msg, (uchar *)"!defender", props, 0, 0); /* takes props */
    *out = msg;
finalize_it:
    RETiRet;
}

static int shall_stop(thrdInfo_t *thrd)
{
    return thrd->bShallStop || glbl.GetGlobalInputTermState();
}

/* Submit every message of the batch; the batch is given back (acknowledged) either way. */
static void post_batch(instanceConf_t *inst, struct dfw_embed_batch *b, thrdInfo_t *thrd)
{
    dfw_err result = DFW_OK;
    const size_t max_size = (size_t)glblGetMaxLine(runConf);
    for (size_t i = 0; i < b->count; i++) {
        smsg_t *msg;
        const struct dfw_embed_msg *m = &b->msgs[i];
        if (m->text_len > max_size) {
            /* rsyslog applies its oversizemsg.input.mode (truncate by default) */
            LogError(0, RS_RET_OVERSIZE_MSG,
                     "imdefender: tenant=%s stream=%s id=%s: the record is %zu bytes, more than "
                     "maxMessageSize (%zu): rsyslog will not pass it whole; raise "
                     "global(maxMessageSize)",
                     m->tenant, m->stream, DFW_LOG_VAL(m->id), m->text_len, max_size);
        }
        if (shall_stop(thrd) || make_message(inst, m, &msg) != RS_RET_OK) {
            result = DFW_ERR_RETRY;
            break;
        }
        /* full delay: blocks while the queue is full, returns at shutdown */
        if (ratelimitAddMsg(inst->ratelimiter, NULL, msg) != RS_RET_OK) {
            result = DFW_ERR_RETRY;
            break;
        }
    }
    /* "acknowledged" = accepted into rsyslog's queue: rsyslog has no per-message ack for inputs */
    dfw_embed_ack(b, result);
}

static rsRetVal newInpInst(struct nvlst *lst)
{
    struct cnfparamvals *pvals = nvlstGetParams(lst, &inppblk, NULL);
    instanceConf_t *inst = NULL;
    DEFiRet;
    if (pvals == NULL) {
        ABORT_FINALIZE(RS_RET_MISSING_CNFPARAMS);
    }
    CHKmalloc(inst = calloc(1, sizeof(*inst)));
    inst->format = DFW_EMBED_JSON;
    for (int i = 0; i < inppblk.nParams; i++) {
        if (!pvals[i].bUsed) {
            continue;
        }
        const char *name = inppblk.descr[i].name;
        if (strcmp(name, "config") == 0) {
            inst->config_file = es_str2cstr(pvals[i].val.d.estr, NULL);
        }
        else if (strcmp(name, "ruleset") == 0) {
            inst->pszBindRuleset = (uchar *)es_str2cstr(pvals[i].val.d.estr, NULL);
        }
        else if (strcmp(name, "format") == 0) {
            char *f = es_str2cstr(pvals[i].val.d.estr, NULL);
            int ok = f != NULL && imdefender_parse_format(f, &inst->format);
            if (!ok) {
                LogError(0, RS_RET_PARAM_ERROR,
                         "imdefender: format=\"%s\": must be \"json\" or \"cef\"", DFW_LOG_ESC(f));
            }
            free(f);
            if (!ok) {
                ABORT_FINALIZE(RS_RET_PARAM_ERROR);
            }
        }
        else if (strcmp(name, "settings") == 0) {
            struct cnfarray *ar = pvals[i].val.d.ar;
            for (int j = 0; j < ar->nmemb; j++) {
                char *s = es_str2cstr(ar->arr[j], NULL);
                int ok = s != NULL && imdefender_settings_add(&inst->settings, s);
                if (!ok) {
                    LogError(0, RS_RET_PARAM_ERROR,
                             "imdefender: settings: \"%s\" is not \"SECTION/KEY=VALUE\" (e.g. "
                             "\"tenant contoso/tenant_id=...\")",
                             DFW_LOG_ESC(s));
                }
                free(s);
                if (!ok) {
                    ABORT_FINALIZE(RS_RET_PARAM_ERROR);
                }
            }
        }
    }
    if ((inst->config_file != NULL) == (inst->settings.count > 0)) {
        LogError(0, RS_RET_PARAM_ERROR, "imdefender: give either config= or settings=");
        ABORT_FINALIZE(RS_RET_PARAM_ERROR);
    }
    CHKiRet(ratelimitNew(&inst->ratelimiter, "imdefender", inst->config_file));
    inst->next = confRoot;
    confRoot = inst;
    inst = NULL;
finalize_it:
    if (inst != NULL) {
        imdefender_instance_free(inst);
    }
    if (pvals != NULL) {
        cnfparamvalsDestruct(pvals, &inppblk);
    }
    RETiRet;
}

static rsRetVal beginCnfLoad(modConfData_t **ptr, rsconf_t *pConf)
{
    modConfData_t *mc;
    DEFiRet;
    CHKmalloc(mc = calloc(1, sizeof(*mc)));
    mc->pConf = pConf;
    *ptr = mc;
finalize_it:
    RETiRet;
}

static rsRetVal endCnfLoad(modConfData_t *ptr)
{
    (void)ptr;
    return RS_RET_OK;
}

static rsRetVal checkCnf(modConfData_t *ptr)
{
    DEFiRet;
    for (instanceConf_t *inst = confRoot; inst != NULL; inst = inst->next) {
        CHKiRet(std_checkRuleset(ptr, inst));
    }
finalize_it:
    RETiRet;
}

/* The engines are made here, so that a bad configuration fails at start-up with its reason. */
static rsRetVal activateCnf(modConfData_t *ptr)
{
    (void)ptr;
    DEFiRet;
    for (instanceConf_t *inst = confRoot; inst != NULL; inst = inst->next) {
        char err[1024];
        if (imdefender_instance_create(inst, submit, err, sizeof(err)) != DFW_OK) {
            LogError(0, RS_RET_CONFIG_ERROR, "imdefender: %s", DFW_LOG_ESC(err));
            ABORT_FINALIZE(RS_RET_CONFIG_ERROR);
        }
    }
finalize_it:
    RETiRet;
}

static rsRetVal freeCnf(void *ptr)
{
    free(ptr);
    return RS_RET_OK;
}

static rsRetVal willRun(void)
{
    DEFiRet;
    CHKiRet(prop.Construct(&pInputName));
    CHKiRet(prop.SetString(pInputName, UCHAR_CONSTANT("imdefender"), sizeof("imdefender") - 1));
    CHKiRet(prop.ConstructFinalize(pInputName));
finalize_it:
    RETiRet;
}

static rsRetVal runInput(thrdInfo_t *thrd)
{
    int old;
    /* cooperative: rsyslog's termination request is checked every WAIT_MS */
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    for (instanceConf_t *inst = confRoot; inst != NULL; inst = inst->next) {
        if (inst->em != NULL && dfw_embed_start(inst->em) != DFW_OK) {
            LogError(0, RS_RET_ERR, "imdefender: cannot start the forwarder");
        }
    }
    while (!shall_stop(thrd)) {
        instanceConf_t *from = NULL;
        struct dfw_embed_batch *b = NULL;
        pthread_mutex_lock(&queue_lock);
        for (instanceConf_t *inst = confRoot; inst != NULL && b == NULL; inst = inst->next) {
            b = imdefender_queue_pop(&inst->queue);
            from = inst;
        }
        if (b == NULL) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += WAIT_MS * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&queue_cond, &queue_lock, &until);
        }
        pthread_mutex_unlock(&queue_lock);
        if (b != NULL) {
            post_batch(from, b, thrd);
        }
    }
    /* no submit after the engines stopped; what was queued comes again after a restart */
    for (instanceConf_t *inst = confRoot; inst != NULL; inst = inst->next) {
        dfw_embed_stop(inst->em);
        pthread_mutex_lock(&queue_lock);
        struct dfw_embed_batch *b;
        while ((b = imdefender_queue_pop(&inst->queue)) != NULL) {
            dfw_embed_ack(b, DFW_ERR_RETRY);
        }
        pthread_mutex_unlock(&queue_lock);
    }
    pthread_setcancelstate(old, NULL);
    return RS_RET_OK;
}

static rsRetVal afterRun(void)
{
    instanceConf_t *inst = confRoot;
    confRoot = NULL;
    while (inst != NULL) {
        instanceConf_t *next = inst->next;
        imdefender_instance_free(inst);
        inst = next;
    }
    if (pInputName != NULL) {
        prop.Destruct(&pInputName);
    }
    return RS_RET_OK;
}

static rsRetVal isCompatibleWithFeature(syslogFeature eFeat)
{
    (void)eFeat;
    return RS_RET_INCOMPATIBLE;
}

static rsRetVal modExit(void)
{
    objRelease(datetime, CORE_COMPONENT);
    objRelease(ruleset, CORE_COMPONENT);
    objRelease(glbl, CORE_COMPONENT);
    objRelease(prop, CORE_COMPONENT);
    return RS_RET_OK;
}

/* clang-format off */
BEGINqueryEtryPt
CODESTARTqueryEtryPt
CODEqueryEtryPt_STD_IMOD_QUERIES
CODEqueryEtryPt_STD_CONF2_QUERIES
CODEqueryEtryPt_STD_CONF2_IMOD_QUERIES
CODEqueryEtryPt_IsCompatibleWithFeature_IF_OMOD_QUERIES
ENDqueryEtryPt

BEGINmodInit()
CODESTARTmodInit
    *ipIFVersProvided = CURR_MOD_IF_VERSION;
CODEmodInit_QueryRegCFSLineHdlr
    CHKiRet(objUse(ruleset, CORE_COMPONENT));
    CHKiRet(objUse(glbl, CORE_COMPONENT));
    CHKiRet(objUse(prop, CORE_COMPONENT));
    CHKiRet(objUse(datetime, CORE_COMPONENT));
    if (dfw_embed_global_init() != DFW_OK) {
        LogError(0, RS_RET_ERR, "imdefender: cannot initialise libcurl");
        ABORT_FINALIZE(RS_RET_ERR);
    }
    dfw_log_set_sink(log_to_rsyslog, NULL);
ENDmodInit
    /* clang-format on */
