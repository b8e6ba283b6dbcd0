/*
 * timefmt.h - RFC 3339 times <-> nanoseconds since the Unix epoch (UTC),
 * and human durations ("30s", "5m", "1h30m") <-> nanoseconds.
 * Pure functions, no locale or time-zone state: safe from any thread.
 */
#ifndef SW_TIMEFMT_H
#define SW_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Room for the longest string tf_format() writes, with its NUL. */
#define TF_BUFLEN 32

/*
 * Parses "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" (a space or 't' may
 * stand for 'T', 'z' for 'Z'). Returns 0 and sets *ns, SW_EPARSE when the
 * text is not a valid RFC 3339 date-time, or SW_ERANGE when it is valid but
 * outside what int64 nanoseconds can hold (1677-09-21 to 2262-04-11); on
 * error nothing is written. A leap second (:60) folds into the next second.
 */
int tf_parse_rfc3339(const char *s, int64_t *ns);

/*
 * Writes `ns` as "YYYY-MM-DDTHH:MM:SSZ", with ".mmm" before the Z when the
 * time has a non-zero millisecond part. Returns the length written.
 */
size_t tf_format(int64_t ns, char buf[TF_BUFLEN]);

/*
 * Parses a duration: a sequence of <number><unit> with units ns, us, ms, s,
 * m, h, d (e.g. "90s", "1h30m", "0.5s"), or a bare number of seconds.
 * Numbers are plain decimals (no sign, exponent or hex), read the same in
 * every locale. Returns 0 and sets *ns (rounded to the nearest ns), or
 * SW_EPARSE for anything else, a negative value or one beyond int64 ns.
 */
int tf_parse_duration(const char *s, int64_t *ns);

/*
 * A size in bytes: digits, then optionally a blank and a unit, B or
 * 1000-based kB (KB), MB, GB, TB or 1024-based KiB, MiB, GiB, TiB
 * ("16MiB", "1 GiB", "4096"). 0, -1 when the text is not a size, -2 when it
 * is one but beyond 64 bits.
 */
int tf_parse_size(const char *s, uint64_t *bytes);

/* The UTC offset (ns) of local time at event time ts, in the process's
 * time zone (TZ: the daemon and replay set it from baseline.timezone, UTC
 * when unset). */
int64_t tf_local_offset(int64_t ts);

#endif
