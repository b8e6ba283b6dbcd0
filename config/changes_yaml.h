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

/*
 * Loads every change in the YAML file at `path` into `reg` (which should
 * be empty). An empty file, `changes:` or `changes: []` is an empty
 * register. Returns 0; SW_EIO with "PATH: reason" when the file cannot be
 * read; SW_ECONFIG with one of
 *   "PATH:LINE: change ID: key 'KEY': what is wrong"   (ID, or #N when the
 *                                                       change has no id)
 *   "PATH:LINE: change #N: expected a mapping, got ..."
 *   "PATH:LINE: key 'changes': what is wrong"          (more than
 *                                                       CHANGES_YAML_MAX_CHANGES, too)
 *   "PATH:LINE: what is wrong"                          (YAML syntax, shape, nesting
 *                                                       deeper than YN_MAX_DEPTH)
 *   "PATH: larger than 64 MiB"                          (CHANGES_YAML_MAX_BYTES)
 * or SW_ENOMEM with "PATH: out of memory"; the message goes into `err`
 * (errlen bytes, truncated to fit; err may be NULL). On error `reg` may
 * hold the changes read before the error; the caller discards it.
 * Text is checked with change_check_text() (lengths, control characters).
 * Loading takes time linear in the file's size.
 */
int changes_load_yaml(const char *path, changes_t *reg, char *err, size_t errlen);

/* The same, from a buffer; `name` is used in messages in place of a path. */
int changes_load_yaml_buf(const char *name, const char *buf, size_t len, changes_t *reg,
                          char *err, size_t errlen);

#endif
