/*
 * coord.h - change coordination in the running daemon: the verdict on
 * every declared change (written to --change-checks, logged, counted,
 * kept for GET /api/v1/changes/{id}) and each User's share of the DSP's
 * traffic (for the busy-hour conflicts of a declaration).
 *
 * A module of its own: it sees the checks the alert stage makes
 * (checks.h) and the shares it is handed, never the alert stage or
 * daemon_t. The daemon works the shares out from its alert stage
 * (alerts_each_share) and hands them over as plain data.
 *
 * Threads (the daemon's names):
 *   main          coord_open() before the alert thread and the HTTP server
 *                 start; coord_close() after the alert thread is joined
 *                 and the HTTP server stopped.
 *   alert thread  coord_check() and coord_set_shares(): the one writer of
 *                 the checks file, of the kept checks and of the shares.
 *   HTTP threads  coord_check_json() and coord_user_share() (main too, for
 *                 a reloaded register's conflicts).
 *   any thread    coord_reopen() (an atomic request the writer takes
 *                 before its next line), coord_stats() and
 *                 coord_metrics_write() (atomics).
 * The module's one lock guards what the writer and the readers share: the
 * kept checks (their ring and index) and the shares; the counters by
 * verdict are atomics. The checks file is the alert thread's alone
 * between open and close.
 *
 * Ownership: coord_open makes the coord_t, coord_close frees it with the
 * checks file and everything kept. Checks and shares passed in are
 * borrowed for the call (what is kept is copied). The string
 * coord_check_json() returns is the caller's to free. Every function takes
 * NULL too (no coordination set up): it does nothing, or answers as if
 * nothing were known yet.
 */
#ifndef SW_COORD_H
#define SW_COORD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "checks.h"
#include "lineproto.h"

/* Checks kept for GET /api/v1/changes/{id}: far more than a schedule
 * holds at once; the oldest verdicts go first. */
#define COORD_MAX_CHECKS 10000
/* verdict_t's values (checks.h) */
#define COORD_NVERDICTS (VERDICT_UNVERIFIABLE + 1)

typedef struct coord coord_t;

/* A User's share of the traffic, in [0,1]. */
typedef struct {
    char user[LP_MAX_ID + 1];
    double share;
} coord_share_t;

/* What was judged, for /metrics and the tests. */
typedef struct {
    uint64_t by_verdict[COORD_NVERDICTS]; /* checks made, by verdict_t */
} coord_stats_t;

/* Main, before the threads start: change coordination, its checks written
 * to checks_path (sink_file.h: appended, "-" is standard output; NULL:
 * kept and logged only). NULL with "PATH: reason", or "out of memory", in
 * err. */
coord_t *coord_open(const char *checks_path, char *err, size_t errlen);

/* Alert thread: a change's check. Kept as the change's latest (a check
 * made again replaces it; past COORD_MAX_CHECKS changes the oldest goes),
 * counted by verdict, logged ("change ID of USER: VERDICT: SUMMARY", a
 * warning when it deviated) and, last, written as one JSON line to the
 * checks file: whoever reads the line finds it everywhere else. Out of
 * memory, it is not kept (or not at all, logged, if it cannot even be
 * formatted); a failed write is counted and logged by the file. */
void coord_check(coord_t *c, const change_check_t *ck);

/* Alert thread: the Users' shares of the traffic now (v[0..n), copied),
 * replacing those before; a User not among them has a share of 0 from
 * now on. 0, or SW_ENOMEM with the shares before kept. */
int coord_set_shares(coord_t *c, const coord_share_t *v, size_t n);

/* HTTP threads: change id's latest check, its JSON line without the
 * newline, malloc'd; NULL when none is kept (or out of memory). */
char *coord_check_json(coord_t *c, const char *id);

/* HTTP threads (and main): a User's share of the traffic, -1 before any
 * shares were set. */
double coord_user_share(coord_t *c, const char *user);

/* Any thread (main, on SIGHUP): the checks file is reopened before its
 * next line (logrotate moved it). */
void coord_reopen(coord_t *c);

/* Any thread: the counters now; coord_stats(NULL, out) gives zeros. */
void coord_stats(const coord_t *c, coord_stats_t *out);

/* Any thread: the checks' metrics, in Prometheus' text format. */
void coord_metrics_write(const coord_t *c, FILE *out);

/* Main, after the alert thread is joined and the HTTP server stopped:
 * closes the checks file and frees all. coord_close(NULL) is a no-op. */
void coord_close(coord_t *c);

#endif
