#include "dfw/err.h"

#include <stdarg.h>
#include <stdio.h>

const char *dfw_strerror(dfw_err err)
{
    switch (err) {
    case DFW_OK:
        return "success";
    case DFW_ERR_NOMEM:
        return "out of memory";
    case DFW_ERR_INVALID:
        return "invalid input";
    case DFW_ERR_CONFIG:
        return "configuration error";
    case DFW_ERR_IO:
        return "I/O error";
    case DFW_ERR_PERM:
        return "unsafe permissions";
    case DFW_ERR_AUTH:
        return "authentication failed";
    case DFW_ERR_RETRY:
        return "temporary failure";
    case DFW_ERR_THROTTLED:
        return "throttled";
    case DFW_ERR_BUSY:
        return "busy";
    case DFW_ERR_NOTFOUND:
        return "not found";
    case DFW_ERR_LOCKED:
        return "locked by another instance";
    case DFW_ERR_FORBIDDEN:
        return "permission (role) missing";
    }
    return "unknown error";
}

int dfw_err_retryable(dfw_err err)
{
    return err == DFW_ERR_RETRY || err == DFW_ERR_THROTTLED || err == DFW_ERR_BUSY;
}

dfw_err dfw_errorf(dfw_err code, char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (errbuf != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}
