/*
 * changes_json.h - a change as JSON, in and out, for the change API
 * (changes_api.c) and its HTTP routes: validating a declared change by the
 * YAML loader's rules, writing a change (journal lines and replies), and
 * writing its conflicts (core/conflict.h).
 *
 * A change is written as
 *   {"id":..., "user":..., "title":..., "kind":..., "start":..., "end":...,
 *    "affects":["north","south"], "expected":..., "contact":...,
 *    "impact":{"south":0.5}[, "declared_at":...]}
 * with dates in RFC 3339 UTC (to the nanosecond when needed), optional
 * text null when absent, `affects` always a list of the directions (both:
 * ["north","south"]), and `impact` the directions declared only ({} when
 * none: 1, no change, both ways). Reading takes `affects` as a word
 * ("north", "south", "both") or a list of them, and `impact` as written.
 *
 * DESIGN: pure functions on their arguments; safe from any thread.
 */
#ifndef SW_CHANGES_JSON_H
#define SW_CHANGES_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "changes.h"
#include "conflict.h"
#include "timefmt.h"

/*
 * Validates the change in `obj` into *c, whose strings are borrowed from
 * `obj`. Fields are checked in the contract's order, so the first problem
 * reported is the one the YAML loader would report. With `check_kind`, a
 * kind the correlator does not know is refused too ("field 'kind': unknown
 * kind 'dns' (known kinds: firewall, ...)"): new declarations are checked,
 * a journal written before the check is not. SW_ECONFIG with the message
 * in err.
 */
int cj_parse_change(const json_t *obj, int check_kind, change_t *c, char *err, size_t errlen);

/* Parses text that must hold one JSON value into *out: 0; SW_ECONFIG with
 * "body is not valid JSON: ..." or SW_ENOMEM, with the message in err. */
int cj_load(const char *buf, size_t len, json_t **out, char *err, size_t errlen);

/* RFC 3339 in UTC without losing precision: tf_format()'s text (whole
 * seconds, or milliseconds) with 6 or 9 fraction digits when the time
 * needs them, so that a date read back is the same ns. */
void cj_fmt_time(int64_t ns, char buf[TF_BUFLEN]);

/* The change as a JSON object (above); with declared_at when `at` is
 * given. NULL when out of memory. */
json_t *cj_change(const change_t *c, const int64_t *at);

/*
 * Conflicts k[0..n) of change c as a JSON array of objects
 *   {"type":"maintenance"|"same_user", "with":ID, "from":..., "to":..., "message":...}
 *   {"type":"busy_hour", "from":..., "to":..., "users":[...], "message":...}
 * where from..to is the overlap of the two windows, or the busy hours.
 * NULL when out of memory.
 */
json_t *cj_conflicts(const conflict_t *k, size_t n, const change_t *c);

/* Compact one-line text of `v` (stolen: freed here, also on failure), or NULL. */
char *cj_dump_steal(json_t *v);

#endif
