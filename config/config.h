/*
 * config.h - loading and validating the YAML configuration (libyaml).
 *
 * The documented example, config/stormwatch.yaml, lists every key with its
 * built-in default. Errors name the file, line, column and key, e.g.
 *   "stormwatch.yaml:12:5: detectors.storm.ratio_fire: expected a number, got 'x'"
 *
 * DESIGN: a cfg_t is built once, by one thread, then only read. A reload
 * builds a new one and swaps it in; a failed load leaves nothing behind.
 */
#ifndef SW_CONFIG_H
#define SW_CONFIG_H

#include <stddef.h>

#include "params.h"

/* Settings for one User that differ from the defaults. */
typedef struct {
    char *user;              /* the User id, as in the `user` tag */
    detect_params_t detect;  /* the defaults with this User's overrides applied */
} cfg_user_t;

typedef struct {
    ingest_params_t ingest;
    detect_params_t detect;  /* defaults for every User */
    corr_params_t corr;
    cfg_user_t *users;       /* per-User overrides, in file order */
    size_t n_users;
} cfg_t;

/* Fills `cfg` with the built-in defaults and no per-User overrides. */
void cfg_defaults(cfg_t *cfg);

/*
 * Loads the YAML file at `path` over the built-in defaults into `cfg` (what
 * `cfg` held before is overwritten, not freed: reload into a fresh cfg_t).
 * Every key is optional; an empty file gives the defaults. `users:` entries
 * start from the file's global settings wherever they appear in the file.
 * Returns 0, or SW_EIO with "PATH: reason" when the file cannot be read,
 * SW_ECONFIG with "PATH:LINE:COL: KEY: what is wrong" (KEY dotted, e.g.
 * detectors.storm.ratio_fire, or users.<id>.limits.south_rate) for a bad
 * file, SW_ENOMEM with "PATH: out of memory", SW_EINVAL for NULL arguments.
 * The message goes into `err` (errlen bytes, truncated to fit; err may be
 * NULL). On error `cfg` is left untouched and nothing stays allocated.
 * On success the caller releases it with cfg_free().
 */
int cfg_load(const char *path, cfg_t *cfg, char *err, size_t errlen);

/*
 * Releases what cfg_load() allocated and leaves `cfg` with no per-User
 * overrides; cfg_free(NULL) is a no-op, and so is freeing twice.
 */
void cfg_free(cfg_t *cfg);

/*
 * The detection settings for `user` (len bytes, need not be NUL-terminated):
 * its override, or cfg->detect. A linear scan: cache the result per series.
 */
const detect_params_t *cfg_detect_for(const cfg_t *cfg, const char *user, size_t len);

#endif
