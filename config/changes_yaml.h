/*
 * changes_yaml.h - loading the change register (contract section 2) from
 * YAML with libyaml.
 *
 * Errors name the file, the line, the change (its id, or its position
 * "#N" when it has none) and the key, e.g.
 *   "changes.yaml:14: change CHG-0412: key 'end': end is before start"
 */
#ifndef SW_CHANGES_YAML_H
#define SW_CHANGES_YAML_H

#include <stddef.h>

#include "changes.h"

/* Limits on a register file, each refused with a message naming it. */
#define CHANGES_YAML_MAX_BYTES (64u << 20) /* 100 000 changes of a few hundred bytes */
#define CHANGES_YAML_MAX_CHANGES 100000    /* ten times the change API's limit: far
                                              above any real schedule of change */
#define CHANGES_YAML_MAX_FORECASTS 10000   /* a forecast a month for 800 Users over a
                                              year; each is checked against the others */

/*
 * Receives one warning (a line without a newline, borrowed for the call):
 * something in the file that is not an error but that an operator should
 * hear of. Unknown keys (at the top level, in a change or a forecast) and
 * kinds the correlator does not know, e.g.
 *   "changes.yaml:14: change CHG-0412: key 'owner': unknown key, ignored"
 *   "changes.yaml:7: key 'forcasts': unknown key, ignored"
 *   "changes.yaml:12: change CHG-0412: key 'kind': unknown kind 'dns', kept but
 *    unknown to the correlator (it knows firewall, network, ...)"
 * A change or forecast is warned of once it is read without error.
 */
typedef void (*changes_warn_fn)(void *ctx, const char *msg);

/*
 * Loads every change and forecast in the YAML file at `path` into `reg`
 * (which should be empty). An empty file, `changes:` or `changes: []` is
 * an empty register; `forecasts:` is optional. Returns 0; SW_EIO with
 * "PATH: reason" when the file cannot be read; SW_ECONFIG with one of
 *   "PATH:LINE: change ID: key 'KEY': what is wrong"   (ID, or #N when the
 *                                                       change has no id)
 *   "PATH:LINE: change ID: key 'impact.south': what is wrong"
 *   "PATH:LINE: change #N: expected a mapping, got ..."
 *   "PATH:LINE: forecast #N: key 'KEY': what is wrong" (a bad date, to
 *                                                       before from, a count
 *                                                       not above 0, days
 *                                                       another forecast of
 *                                                       the User holds)
 *   "PATH:LINE: key 'changes': what is wrong"          (more than
 *                                                       CHANGES_YAML_MAX_CHANGES, too;
 *                                                       'forecasts' likewise)
 *   "PATH:LINE: what is wrong"                          (YAML syntax, shape, nesting
 *                                                       deeper than YN_MAX_DEPTH)
 *   "PATH: larger than 64 MiB"                          (CHANGES_YAML_MAX_BYTES)
 * or SW_ENOMEM with "PATH: out of memory"; the message goes into `err`
 * (errlen bytes, truncated to fit; err may be NULL). On error `reg` may
 * hold the changes read before the error; the caller discards it.
 * Text is checked with change_check_text() (lengths, control characters);
 * `impact` holds `south` and/or `north`, numbers from 0 to CHG_MAX_IMPACT.
 * Warnings go to warn(ctx, msg) as they are found (warn NULL: dropped).
 * Loading takes time linear in the file's size (the forecasts, each checked
 * against the others, quadratic in their number, which is bounded).
 */
int changes_load_yaml_ex(const char *path, changes_t *reg, changes_warn_fn warn, void *ctx,
                         char *err, size_t errlen);
/* The same, from a buffer; `name` is used in messages in place of a path. */
int changes_load_yaml_buf_ex(const char *name, const char *buf, size_t len, changes_t *reg,
                             changes_warn_fn warn, void *ctx, char *err, size_t errlen);

/* changes_load_yaml_ex() and changes_load_yaml_buf_ex() without warnings. */
int changes_load_yaml(const char *path, changes_t *reg, char *err, size_t errlen);
int changes_load_yaml_buf(const char *name, const char *buf, size_t len, changes_t *reg,
                          char *err, size_t errlen);

#endif
