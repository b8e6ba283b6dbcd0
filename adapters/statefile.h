/*
 * statefile.h - the --state FILE of replay and the daemon: learned
 * baselines loaded at start and saved atomically (temporary file, fsync,
 * rename, fsync of the directory), so a crash mid-save leaves the previous
 * state intact, never a torn file.
 */
#ifndef SW_STATEFILE_H
#define SW_STATEFILE_H

#include <stddef.h>

#include "engine.h"

/* State files larger than this are refused before they are read. */
#define STATE_MAX_BYTES (UINT64_C(16) << 30)

/*
 * Loads `path` into the engine. A missing file is not an error (a first
 * run): returns 1. Returns 0 when loaded, or SW_EIO / SW_EPARSE with
 * "PATH: reason" in err; a refused file loads nothing.
 */
int statefile_load(const char *path, engine_t *e, char *err, size_t errlen);

/* Saves the engine's baselines to `path` atomically. 0, or SW_EIO or
 * SW_ENOMEM with "PATH: reason" in err; the old file is then untouched. */
int statefile_save(const char *path, engine_t *e, char *err, size_t errlen);

#endif
