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

/*
 * Each code with its message and the exit status a command ends with when
 * it fails with it (sw_exit_status): 2 when what it was given cannot be
 * used (usage, configuration, change register, state file, a path or
 * endpoint it cannot open), 1 when the work failed on the way (a read or
 * write error, memory).
 */
#define SW_ERRORS(X)                                                   \
    X(NOMEM,    "out of memory",                   SW_EXIT_FAILED)     \
    X(INVAL,    "invalid argument",                SW_EXIT_USAGE)      \
    X(PARSE,    "malformed input",                 SW_EXIT_USAGE)      \
    X(CONFIG,   "invalid configuration",           SW_EXIT_USAGE)      \
    X(IO,       "input/output error",              SW_EXIT_FAILED)     \
    X(NOTFOUND, "not found",                       SW_EXIT_USAGE)      \
    X(EXISTS,   "already exists",                  SW_EXIT_USAGE)      \
    X(FULL,     "capacity exhausted",              SW_EXIT_FAILED)     \
    X(RANGE,    "value out of range",              SW_EXIT_USAGE)      \
    X(OPEN,     "cannot open the path or endpoint", SW_EXIT_USAGE)

/* The exit statuses of every command (the README's and the man page's). */
enum {
    SW_EXIT_OK = 0,     /* it ran (replay: alerts or not; check: all valid) */
    SW_EXIT_FAILED = 1, /* a read or write failed on the way, or memory ran out */
    SW_EXIT_USAGE = 2,  /* bad usage, config, register, state, or a path it cannot open */
};

enum {
    SW_OK = 0,
#define SW_ERR_ENUM(name, msg, exit) SW_E##name,
    SW_ERR_FIRST_ = -100,
    SW_ERRORS(SW_ERR_ENUM)
#undef SW_ERR_ENUM
    SW_ERR_LAST_
};

/* The message for code `rc` (a static string; never NULL). */
const char *sw_strerror(int rc);
/* The symbolic name for code `rc`, e.g. "SW_ENOMEM" (static; never NULL). */
const char *sw_errname(int rc);
/* The exit status for a command that ends with code `rc`: SW_EXIT_OK for
 * rc >= 0, else the code's row of SW_ERRORS (SW_EXIT_FAILED for an
 * unknown code). The one rule every command's exit status comes from. */
int sw_exit_status(int rc);

#include <stddef.h>

/* Writes a printf-style message into err (errlen bytes, NUL-terminated);
 * does nothing when err is NULL or errlen 0. */
__attribute__((format(printf, 3, 4))) void sw_errf(char *err, size_t errlen, const char *fmt,
                                                   ...);

#endif
