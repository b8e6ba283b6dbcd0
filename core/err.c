/*
 * err.c - messages and names for the SW_E* codes of err.h.
 * Both tables are generated from the same X-macro list, so they cannot drift.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

#define SW_ERR_MSG(name, msg) msg,
#define SW_ERR_NAME(name, msg) "SW_E" #name,
static const char *const messages[] = { SW_ERRORS(SW_ERR_MSG) };
static const char *const names[] = { SW_ERRORS(SW_ERR_NAME) };
#undef SW_ERR_MSG
#undef SW_ERR_NAME

static int err_index(int rc)
{
    if (rc <= SW_ERR_FIRST_ || rc >= SW_ERR_LAST_)
        return -1;
    return rc - SW_ERR_FIRST_ - 1;
}

const char *sw_strerror(int rc)
{
    if (rc == SW_OK)
        return "success";
    int i = err_index(rc);
    return i < 0 ? "unknown error" : messages[i];
}

const char *sw_errname(int rc)
{
    if (rc == SW_OK)
        return "SW_OK";
    int i = err_index(rc);
    return i < 0 ? "SW_E?" : names[i];
}

void sw_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}
