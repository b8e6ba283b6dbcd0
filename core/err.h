/*
 * err.h - the one error model of stormwatch.
 *
 * Every function that can fail returns an int: 0 on success, a negative
 * SW_E* code on failure. The codes, their names and their messages come from
 * the single X-macro table below, so they cannot drift apart. Where a person
 * needs details (a config file, a socket) the caller also passes a message
 * buffer; the code says what kind of failure it was.
 */
#ifndef SW_ERR_H
#define SW_ERR_H

#define SW_ERRORS(X)                                                   \
    X(NOMEM,    "out of memory")                                       \
    X(INVAL,    "invalid argument")                                    \
    X(PARSE,    "malformed input")                                     \
    X(CONFIG,   "invalid configuration")                               \
    X(IO,       "input/output error")                                  \
    X(NOTFOUND, "not found")                                           \
    X(EXISTS,   "already exists")                                      \
    X(FULL,     "capacity exhausted")                                  \
    X(RANGE,    "value out of range")

enum {
    SW_OK = 0,
#define SW_ERR_ENUM(name, msg) SW_E##name,
    SW_ERR_FIRST_ = -100,
    SW_ERRORS(SW_ERR_ENUM)
#undef SW_ERR_ENUM
    SW_ERR_LAST_
};

/* The message for code `rc` (a static string; never NULL). */
const char *sw_strerror(int rc);
/* The symbolic name for code `rc`, e.g. "SW_ENOMEM" (static; never NULL). */
const char *sw_errname(int rc);

#include <stddef.h>

/* Writes a printf-style message into err (errlen bytes, NUL-terminated);
 * does nothing when err is NULL or errlen 0. */
__attribute__((format(printf, 3, 4))) void sw_errf(char *err, size_t errlen, const char *fmt,
                                                   ...);

#endif
