/*
 * lineproto.h - the ingest parser: one line of InfluxDB line protocol in,
 * one traffic sample out (contract section 1).
 *
 *   dsp_traffic,user=<id>,dir=<north|south>[,class=<c>] <fields> <timestamp>
 *
 * lp_parse() works in place on the caller's bytes: it allocates nothing, and
 * the strings in the sample point into the line itself. Only when a tag value
 * carries line-protocol escapes (\, \= \space \\) is the unescaped text
 * written to the caller's scratch buffer, and the sample points there.
 * Either way the sample is valid only while the line and scratch are.
 *
 * DESIGN: pure function of its arguments; safe to call from any thread as
 * long as each thread passes its own scratch buffer.
 */
#ifndef SW_LINEPROTO_H
#define SW_LINEPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "dir.h"

/* A byte slice; not NUL-terminated. */
typedef struct {
    const char *p;
    uint32_t len;
} sw_str_t;


/*
 * Sample times detection accepts: 1970 to 2116. Line protocol allows any
 * int64; a smart-meter feed has no use for the rest, and keeping any two
 * times within 2^62 ns of each other makes every difference of two of them
 * safe from overflow downstream. Outside: bad input (LP_BAD_TIMESTAMP).
 */
#define LP_TS_MIN INT64_C(0)
#define LP_TS_MAX (INT64_C(1) << 62)

static inline int lp_ts_in_range(int64_t ts)
{
    return ts >= LP_TS_MIN && ts <= LP_TS_MAX;
}

/* The longest user or class id accepted (after unescaping): ids are short
 * (an EUI-64 is 23 bytes); a longer one is bad input, not a new series. */
#define LP_MAX_ID 64

/* Bits of lp_sample_t.fields: which known fields the line carried. */
enum {
    LP_F_COUNT = 1u << 0,
    LP_F_DELIVERED = 1u << 1,
    LP_F_REJECTED = 1u << 2,
    LP_F_BACKLOG = 1u << 3,
};

typedef struct {
    sw_str_t user;    /* tag user, unescaped, never empty */
    sw_str_t cls;     /* tag class, unescaped; "all" when the tag is absent */
    int dir;          /* DIR_SOUTH or DIR_NORTH */
    unsigned fields;  /* LP_F_* bits present */
    double count;     /* each known field is 0 when absent, never negative */
    double delivered;
    double rejected;
    double backlog;
    int64_t ts;       /* nanoseconds since the Unix epoch */
} lp_sample_t;

/*
 * Outcomes of lp_parse(). LP_OK is a sample; the LP_SKIP_* outcomes are not
 * errors (ignored by contract, SKIP_MEASUREMENT is counted); every LP_BAD_*
 * is bad input, to be counted and reported with the line.
 * X(name, counted-as-bad, short name, message): the short name is a label
 * value ([a-z_], stable: dashboards and alert rules match on it), the
 * message is prose for people.
 */
#define LP_RESULTS(X)                                                                   \
    X(OK,               0, "ok",                "ok")                                   \
    X(SKIP_BLANK,       0, "blank",             "blank line or comment")                \
    X(SKIP_MEASUREMENT, 0, "other_measurement", "other measurement")                    \
    X(BAD_SYNTAX,       1, "malformed",         "malformed line")                       \
    X(BAD_NO_USER,      1, "no_user",           "missing or empty user tag")            \
    X(BAD_NO_DIR,       1, "no_dir",            "missing dir tag")                      \
    X(BAD_DIR,          1, "unknown_dir",       "unknown dir (want north or south)")    \
    X(BAD_NO_FIELD,     1, "no_field",                                                  \
      "no known field (count, delivered, rejected, backlog)")                          \
    X(BAD_FIELD_VALUE,  1, "bad_value",         "field value is not a finite number")   \
    X(BAD_NEGATIVE,     1, "negative",          "negative count")                       \
    X(BAD_TIMESTAMP,    1, "bad_timestamp",     "missing or malformed timestamp")       \
    X(BAD_TOO_LONG,     1, "line_too_long",     "line longer than feed.max_line")       \
    X(BAD_ID_TOO_LONG,  1, "id_too_long",       "user or class longer than 64 bytes")

typedef enum {
#define LP_ENUM(name, bad, short_name, msg) LP_##name,
    LP_RESULTS(LP_ENUM)
#undef LP_ENUM
    LP_NRESULTS
} lp_result_t;

/* The message for a result (static string). */
const char *lp_result_str(lp_result_t r);
/* The short name for a result (static string: "unknown_dir"), for labels. */
const char *lp_result_name(lp_result_t r);
/* Non-zero when the result is bad input (LP_BAD_*). */
int lp_result_is_bad(lp_result_t r);

/*
 * Parses one line (without its newline; a trailing '\r' is tolerated) of
 * `len` bytes. `ts_mult` converts the timestamp's unit to nanoseconds
 * (1 for the line-protocol default of ns, 1000 for us, 1000000 for ms,
 * 1000000000 for s); it must be at least 1. `scratch` must hold at least
 * `len` bytes (else LP_BAD_TOO_LONG, whatever the line); it is written only
 * when tag values carry escapes.
 * On LP_OK `*out` is filled; on any other result `*out` is unspecified.
 *
 * Syntax is InfluxDB 2.x's: leading spaces are skipped; a line that is then
 * empty or starts with '#' is LP_SKIP_BLANK. One or more spaces separate the
 * sections, and trailing spaces are allowed. Escapes: \, and \space in the
 * measurement; \, \= \space in keys and tag values, plus \\ for a backslash
 * (as the InfluxDB docs state); a backslash before anything else is itself.
 * Measurement, keys and tag values must be valid UTF-8 without control
 * characters; string values must be valid UTF-8 without NUL. Numbers are
 * decimal: -?digits[.digits][e[+-]digits], integers with an optional i
 * (int64) or u (uint64) suffix; every field is checked, known or not.
 * The timestamp is required, -?digits, and must land in InfluxDB's range
 * [INT64_MIN + 2, INT64_MAX - 1] ns after scaling; so INT64_MIN and
 * INT64_MAX never come out of here and are free as sentinels.
 *
 * Which fault is reported, first match wins:
 *   1. LP_BAD_TOO_LONG.
 *   2. LP_SKIP_BLANK; LP_SKIP_MEASUREMENT as soon as a measurement other than
 *      dsp_traffic is read (the rest of that line is not looked at).
 *   3. The line does not read as line protocol with a timestamp, in line
 *      order: LP_BAD_SYNTAX (incl. an empty tag value other than user, a
 *      repeated user, dir, class or known field, text after the timestamp),
 *      or LP_BAD_TIMESTAMP (missing, not an integer, out of range).
 *   4. The sample makes no sense: LP_BAD_NO_USER (absent or empty),
 *      LP_BAD_NO_DIR, LP_BAD_DIR, then the first faulty field in line order:
 *      LP_BAD_FIELD_VALUE (a known field holding a string or boolean; any
 *      field holding NaN, an infinity, a number out of range, or a float
 *      longer than 64 bytes) or LP_BAD_NEGATIVE (a known field below 0;
 *      -0 is 0), then LP_BAD_NO_FIELD.
 *   5. LP_BAD_ID_TOO_LONG: the user or class is over LP_MAX_ID bytes.
 */
lp_result_t lp_parse(const char *line, size_t len, int64_t ts_mult,
                     lp_sample_t *out, char *scratch, size_t scratch_cap);

/*
 * The same verdict as lp_parse(), always by the full parser: lp_parse()
 * first tries a fast path for lines of the common shape (plain ASCII ids,
 * integer fields) and falls back to this. For tests that hold the two to
 * the same answers.
 */
lp_result_t lp_parse_strict(const char *line, size_t len, int64_t ts_mult,
                            lp_sample_t *out, char *scratch, size_t scratch_cap);

#endif
