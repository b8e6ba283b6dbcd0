/*
 * sink_am.h - alerts to Prometheus Alertmanager (API v2, POST
 * /api/v2/alerts) over HTTP with libcurl, for the incident tooling that
 * already routes, groups, silences and pages from Alertmanager.
 *
 * Each alert transition becomes one Alertmanager alert:
 *
 *   labels       alertname  the alert kind ("storm", "blocked_route", ...)
 *                user, dir, class, severity, correlation, incident,
 *                incident_role (as in the alert line, section 3 of the
 *                formats), learning ("true" or "false")
 *                change_id  the declared change named; omitted when there
 *                           is none (Alertmanager drops empty labels anyway,
 *                           so a matcher change_id="" selects these alerts)
 *   annotations  summary, change_title, impacted_users (comma-separated),
 *                value and baseline (msgs/s, two decimals); each omitted
 *                when the alert line has nothing for it
 *   startsAt     starts_at
 *   endsAt       ends_at, resolved alerts only (never before startsAt);
 *                firing alerts leave it out, so Alertmanager applies its
 *                resolve_timeout and the sink re-sends them (below)
 *   generatorURL opts.generator_url when set
 *
 * An alert is identified by alertname, user, dir, class and incident (two
 * widespread alerts, User "*", may fire at once). correlation and
 * change_id are fixed when it fires: the resolution is sent with the labels
 * the alert fired with (a change withdrawn meanwhile must not make it a
 * different alert to Alertmanager, which keys alerts on every label).
 *
 * Delivery. Every URL gets every alert, in the order sent (an HA pair of
 * Alertmanagers deduplicates notifications itself). Each URL has its own
 * queue of pending alerts, posted in batches of batch_max; a failed post
 * (no connection, a timeout, any HTTP status but 2xx, 400 and 422) is
 * retried after a backoff of SINK_AM_RETRY_MIN_NS doubling to
 * SINK_AM_RETRY_MAX_NS, per URL. A 400 or 422 is Alertmanager judging the
 * alerts invalid, which no retry changes: the batch is counted as rejected
 * and logged (Alertmanager keeps the valid alerts of such a batch). A 404
 * or 401 waits, as a wrong path or a proxy can be fixed. The sink keeps
 * Alertmanager's rules (an end never before the start), so a rejection
 * means a bug, not bad luck. A queue holds at most queue_max alerts;
 * beyond that the oldest is dropped and counted. Alerts firing now are kept
 * in a table and re-sent to each URL every resend_every_ns (once its queue
 * is empty), and at once when a URL comes back after failures (an
 * Alertmanager that restarted has forgotten them).
 *
 * Persistence. With a queue_path, whenever alerts are pending the queues
 * are written there atomically (temporary file, fsync, rename, fsync of the
 * directory) by the sender thread; the file is removed once every URL has
 * taken everything. sink_am_create() loads it, so a restart of stormwatch
 * delivers what the last run could not. The table of firing alerts is not
 * persisted: a new run re-detects what still fires, and an alert it no
 * longer knows then ends in Alertmanager by resolve_timeout rather than
 * being re-sent for ever. A file that is not a valid queue (not JSON, the
 * wrong version or shape) is moved aside to PATH.corrupt-<UTC time>
 * (fio_move_aside()), logged and counted, and the sink starts with empty
 * queues, so a corrupt file cannot keep the daemon from starting; with
 * strict_queue it is refused instead. A file that cannot be read (EACCES,
 * EIO) is refused either way: it may be fine. A failed save is counted
 * (persist_errors), logged once per burst, and retried every second.
 *
 * DESIGN: two threads. The caller (the daemon's alert thread) calls
 * sink_am_send(); the sink's sender thread does all network and file I/O,
 * every URL's request in flight at once (libcurl multi), so a slow or dead
 * Alertmanager never holds up the caller or the other URLs. One mutex
 * guards the queues, the firing table and the counters; the caller holds it
 * only to link copies in, and wakes the sender with curl_multi_wakeup()
 * (the sender sleeps in curl_multi_poll(), which a condition variable could
 * not interrupt). sink_am_stats() may be called from any thread.
 * create, send, forget and destroy come from one thread at a time (the
 * daemon: main creates and destroys, the alert thread sends and forgets in
 * between). The alert passed in is borrowed for the call: what is kept is
 * copied.
 */
#ifndef SW_SINK_AM_H
#define SW_SINK_AM_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"

/* Alertmanager forgets a firing alert resolve_timeout (5 min by default)
 * after it last heard of it: re-sending every minute keeps it alive with
 * room for four lost rounds. */
#define SINK_AM_DEFAULT_RESEND_NS (INT64_C(60) * 1000000000)
/* Per HTTP request, connection included: an Alertmanager answers in
 * milliseconds, so 5 s only expires on a dead or wedged one. */
#define SINK_AM_DEFAULT_TIMEOUT_NS (INT64_C(5) * 1000000000)
/* Alerts per POST: bounds a request's size (about 1 KB an alert). */
#define SINK_AM_DEFAULT_BATCH 64
/* Pending alerts per URL: alerts are rare, so 10000 only fills behind an
 * Alertmanager down for hours in a bad hour. */
#define SINK_AM_DEFAULT_QUEUE_MAX 10000
/* Retry backoff per URL after a failed post: 1 s doubling to 60 s. */
#define SINK_AM_RETRY_MIN_NS (INT64_C(1) * 1000000000)
#define SINK_AM_RETRY_MAX_NS (INT64_C(60) * 1000000000)
/* How long sink_am_destroy() keeps trying to deliver before it persists
 * what is left: one attempt per URL, short enough for a prompt shutdown. */
#define SINK_AM_GRACE_NS (INT64_C(2) * 1000000000)

typedef struct sink_am sink_am_t;

typedef struct {
    const char *const *urls;  /* base URLs, http:// or https://, e.g.
                                 "http://127.0.0.1:9093"; each gets every alert */
    size_t nurls;             /* at least one */
    const char *queue_path;   /* where undelivered alerts persist; NULL: memory only */
    const char *generator_url;/* the alerts' generatorURL; NULL: none */
    int64_t resend_every_ns;  /* 0: SINK_AM_DEFAULT_RESEND_NS */
    int64_t timeout_ns;       /* 0: SINK_AM_DEFAULT_TIMEOUT_NS */
    size_t batch_max;         /* 0: SINK_AM_DEFAULT_BATCH */
    size_t queue_max;         /* 0: SINK_AM_DEFAULT_QUEUE_MAX */
    int strict_queue;         /* refuse a queue file that is not valid, instead
                                 of moving it aside (--strict-files) */
} sink_am_opts_t;

/* Counters since create. Per-URL events count once per URL: an alert that
 * two Alertmanagers take counts 2 in sent. */
typedef struct {
    uint64_t queued;   /* alerts taken by sink_am_send() */
    uint64_t sent;     /* alerts a URL accepted (2xx) */
    uint64_t failed;   /* posts that failed and will be retried */
    uint64_t rejected; /* alerts in posts refused with 400 or 422, not retried */
    uint64_t dropped;  /* alerts removed unsent: queue full, or persisted for
                          a URL no longer configured */
    uint64_t resent;   /* firing alerts re-sent and accepted */
    uint64_t persist_errors;    /* failed writes (or removals) of queue_path */
    uint64_t queue_moved_aside; /* queue files found not valid at create and
                                   moved aside (0 or 1) */
    size_t pending;    /* alerts waiting, summed over the URLs */
    size_t firing;     /* alerts in the firing table */
} sink_am_stats_t;

/*
 * Creates the sink, loads queue_path when it exists, checks that it can be
 * written (fio_check_writable()) and starts the sender thread. Returns NULL
 * with the reason in err: bad options, out of memory, a queue file that
 * cannot be read ("PATH: cannot read the alert queue: Permission denied")
 * or written ("PATH: cannot create files in DIR: No such file or
 * directory"), one that is not valid and cannot be moved aside, or
 * with strict_queue one that is not valid ("PATH:3:17: not a valid alert
 * queue (...); move it aside to start with an empty queue"). Alerts
 * persisted for a URL that is no longer configured are dropped with a
 * logged warning. The caller destroys it with sink_am_destroy().
 */
sink_am_t *sink_am_create(const sink_am_opts_t *o, char *err, size_t errlen);

/*
 * Queues a copy of `a` for every URL and updates the firing table; never
 * waits for the network or the disk. Returns 0, SW_EINVAL for a missing
 * sink or alert, or SW_ENOMEM, in which case nothing is queued. A full
 * queue drops its oldest alert to make room (counted in dropped).
 */
int sink_am_send(sink_am_t *s, const alert_t *a);

/*
 * The firing alert `a` goes on at another stormwatch instance, which now
 * sends it: it leaves the firing table (no longer re-sent from here) and
 * nothing is queued, so Alertmanager sees no resolution. Returns 0, or
 * SW_ENOMEM (the table is unchanged).
 */
int sink_am_forget(sink_am_t *s, const alert_t *a);

/* A snapshot of the counters; any thread. */
void sink_am_stats(const sink_am_t *s, sink_am_stats_t *out);

/*
 * Stops the sender: it tries to deliver what is pending for at most
 * SINK_AM_GRACE_NS (one attempt per URL, backoff ignored), writes what is
 * left to queue_path, and the sink is freed. sink_am_destroy(NULL) is a
 * no-op.
 */
void sink_am_destroy(sink_am_t *s);

#endif
