/*
 * version.h - what this binary is: its version, the commit it was built
 * from, the build type and the features compiled in, for --version, the
 * daemon's start-up banner and stormwatch_build_info.
 */
#ifndef SW_VERSION_H
#define SW_VERSION_H

#include <stdio.h>

/* "0.1.0" */
const char *sw_version(void);
/* The commit ("3173e48", "3173e48-dirty"; "unknown" outside a git checkout). */
const char *sw_commit(void);
/* "Release", "Debug", ... */
const char *sw_build_type(void);
/* The features compiled in, space-separated ("zeromq curve kafka http https jemalloc"). */
const char *sw_features(void);
/* One line: "0.1.0 (commit 3173e48, Release; zeromq curve kafka ...)". */
const char *sw_version_line(void);
/* --version: the version line, then one line each for commit, build, features. */
void sw_version_print(FILE *out);

#endif
