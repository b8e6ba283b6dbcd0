/*
 * fanout.h - one alert out to every sink: the line formatted once, then
 * written to the alerts file (`--alerts`, sink_file.h), published on the
 * ZeroMQ PUB socket (`--pub`, sink_zmq.h) and queued for Alertmanager
 * (`--alertmanager`, sink_am.h), each of them counted for /metrics.
 *
 * An alert goes out in three steps, so that the caller can act between
 * them:
 *
 *   fanout_format()   the line, formatted once and counted as written
 *                     (stormwatch_alert_lines_total)
 *                     ... the caller tells the log, its gauges, its console
 *   fanout_write()    the line to --alerts
 *                     ... the caller records what must follow the line
 *                         (the daemon's journal of open alerts: a restart
 *                         resumes what was written open)
 *   fanout_publish()  the line on PUB, the alert to Alertmanager
 *
 * Whoever reads a line in a sink finds it counted already (a scrape of
 * /metrics between two lines once saw one line too few).
 *
 * Ownership: the fanout owns every sink added to it and the line buffer;
 * fanout_destroy() closes and frees them all. Strings given to
 * fanout_add_*() are borrowed for the call (the sinks keep copies). The
 * ZeroMQ context given to fanout_add_pub() stays the caller's: destroy the
 * fanout before zmq_ctx_term(). Alerts passed in are borrowed for the
 * call. The line fanout_format() returns is the fanout's: valid until the
 * next fanout_format() or fanout_destroy(), never freed by the caller.
 *
 * Threads (the daemon's names):
 *   main          fanout_create(), fanout_add_*() before the alert thread
 *                 starts (and before any thread may call fanout_stats());
 *                 fanout_destroy() after the alert thread is joined.
 *   alert thread  fanout_format(), fanout_write(), fanout_publish(),
 *                 fanout_handover(): one thread at a time, the writer of
 *                 the line buffer and of the PUB socket.
 *   any thread    fanout_reopen() (an atomic request the writer takes
 *                 before its next line) and fanout_stats() (atomics, and
 *                 the Alertmanager sink's own locked counters).
 */
#ifndef SW_FANOUT_H
#define SW_FANOUT_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "sink_am.h"
#include "sink_file.h"
#include "sink_zmq.h"

typedef struct fanout fanout_t;

/* What went out, for /metrics and the log. A sink not added has its
 * has_ flag 0 and its counters 0. */
typedef struct {
    uint64_t lines;            /* alert lines formatted and handed to the sinks */
    int has_file, has_pub, has_am;
    sink_file_stats_t file;    /* --alerts */
    sink_zmq_stats_t pub;      /* the PUB socket (as of the alert thread's last send) */
    sink_am_stats_t am;        /* Alertmanager */
} fanout_stats_t;

/* Main: a fanout with no sink yet (lines are still formatted and counted).
 * NULL when out of memory. */
fanout_t *fanout_create(void);

/* Main, before the alert thread starts: the alerts file at `path` ("-":
 * standard output). 0, or SW_EOPEN with sink_file_open()'s "PATH: reason"
 * in err. */
int fanout_add_file(fanout_t *f, const char *path, char *err, size_t errlen);

/* Main, before the alert thread starts: a PUB socket of `zmq_ctx` bound at
 * `endpoint`. 0, or SW_EOPEN with sink_zmq_create()'s "ENDPOINT: reason"
 * in err. */
int fanout_add_pub(fanout_t *f, void *zmq_ctx, const char *endpoint, char *err, size_t errlen);

/* Main, before the alert thread starts: the Alertmanager sink (its sender
 * thread starts now). 0, or SW_ECONFIG with sink_am_create()'s reason in
 * err. */
int fanout_add_alertmanager(fanout_t *f, const sink_am_opts_t *o, char *err, size_t errlen);

/* Alert thread: formats a's line once (NUL-ended, its newline included)
 * and counts it. Returns it with its length in *len, or NULL when out of
 * memory (logged: the alert goes to no sink). */
const char *fanout_format(fanout_t *f, const alert_t *a, size_t *len);

/* Alert thread: the line fanout_format() made last, to the alerts file
 * (counted and logged there on failure). */
void fanout_write(fanout_t *f);

/* Alert thread: the line fanout_format() made last for `a` on the PUB
 * socket (topic: a's kind), and `a` to Alertmanager (queued; its own
 * thread delivers). */
void fanout_publish(fanout_t *f, const alert_t *a);

/* Alert thread: firing alert `a` goes on at another instance (adopted 0)
 * or came from one (adopted 1). No line: Alertmanager hears of it from
 * whichever holds it, so it is forgotten here or sent from here. */
void fanout_handover(fanout_t *f, const alert_t *a, int adopted);

/* Any thread (main, on SIGHUP): the alerts file is reopened before its
 * next line (logrotate moved it). */
void fanout_reopen(fanout_t *f);

/* Any thread: the counters now; fanout_stats(NULL, out) gives zeros. */
void fanout_stats(const fanout_t *f, fanout_stats_t *out);

/* Main, after the alert thread is joined and before zmq_ctx_term(): closes
 * the PUB socket, stops the Alertmanager sink (it delivers what it can in
 * a short grace and persists the rest), closes the alerts file and frees
 * all. fanout_destroy(NULL) is a no-op. */
void fanout_destroy(fanout_t *f);

#endif
