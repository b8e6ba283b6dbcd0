/*
 * err.c - messages and names for the SW_E* codes of err.h.
 * Both tables are generated from the same X-macro list, so they cannot drift.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

#define SW_ERR_MSG(name, msg, exit) msg,
#define SW_ERR_NAME(name, msg, exit) "SW_E" #name,
#define SW_ERR_EXIT(name, msg, exit) exit,
static const char *const messages[] = { SW_ERRORS(SW_ERR_MSG) };
static const char *const names[] = { SW_ERRORS(SW_ERR_NAME) };
static const unsigned char exits[] = { SW_ERRORS(SW_ERR_EXIT) };
#undef SW_ERR_MSG
#undef SW_ERR_NAME
#undef SW_ERR_EXIT

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

int sw_exit_status(int rc)
{
    if (rc >= 0)
        return SW_EXIT_OK;
    int i = err_index(rc);
    return i < 0 ? SW_EXIT_FAILED : exits[i];
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
