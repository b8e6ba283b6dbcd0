/*
 * http.h - the daemon's HTTP server (libmicrohttpd): metrics, health and
 * the API through which changes are declared at runtime.
 *
 *   GET  /metrics                  Prometheus text exposition (the daemon's callback)
 *   GET  /healthz                  200 "ok": the process answers
 *   GET  /readyz                   200 "ready" or 503 "not ready" (callback)
 *   GET  /api/v1/alerts            JSON from the daemon's callback
 *   GET  /api/v1/changes           every change, the register file's and those declared
 *                                  through the API, sorted by start then id, each with
 *                                  "source": "file" or "api" (changes_api_list_json())
 *   POST /api/v1/changes           declare one change (JSON object): 201 with the
 *                                  change as stored, its source and its "conflicts"
 *                                  (each also logged through `log`, one line each);
 *                                  400 {"error": "..."} naming the field (an unknown
 *                                  kind: the error lists the known ones); 409 an id
 *                                  already declared, or owned by the register file
 *                                  (nothing stored); 507 register full
 *   GET  /api/v1/changes/{id}      one change, file or API, with its source, its
 *                                  conflicts and "check": the check_json callback's
 *                                  verdict (null before one): 200 or 404
 *   DELETE /api/v1/changes/{id}    withdraw a declared change: 204, or 404 (also for
 *                                  an id of the file: edit the file instead)
 *   GET  /api/v1/schedule?from=T&to=T
 *                                  the schedule of change: every change, file and API,
 *                                  User and DCC, in force between from and to (RFC
 *                                  3339; from defaults to now, to to from + 7 days;
 *                                  a '+' offset is sent as %2B), sorted by start then
 *                                  id, each with its source and conflicts:
 *                                  {"from","to","changes":[...],"omitted":N}; 400 for a
 *                                  bad date or to before from, naming the parameter
 *   GET  /                         the live console (console.h), with console set: a
 *   GET  /console.{js,css,svg}     page, its script, style and icon, under
 *                                  Content-Security-Policy CONSOLE_CSP (this origin
 *                                  only, no inline code); it shows the incidents,
 *                                  the Users' status, the recent transitions and the
 *                                  schedule, refreshed from the routes here
 *   GET  /api/v1/users?q=S&limit=N the Users' status (console): those whose id holds S
 *                                  (any case), alerting first, then by id, at most N
 *                                  (default 1000, at most 10000; 0: the counts only):
 *                                  {"built_at","feed_time","total","matched","limit",
 *                                  "q","users":[{"user","state","south":{"rate",
 *                                  "baseline","at","state","alerts"},"north":{...}}]};
 *                                  202 {"pending":true} until the first snapshot (ask
 *                                  again in a second: Retry-After); 400 for a bad q or
 *                                  limit
 *   GET  /api/v1/users/{id}        one User (console), as a row of the list, with its
 *                                  "alerts" firing (from alerts_json) and "built_at":
 *                                  200, 404 unknown, 202 as above
 *   GET  /api/v1/history?since=T   the alert transitions kept (console: the last 1000),
 *                                  oldest first, those at or after T (RFC 3339) when
 *                                  given: {"since","kept","transitions":[{"at","alert"}]};
 *                                  400 for a bad date
 *   POST /api/v1/users/{user}/{north|south}/accept
 *                                  accept that User's level in that direction as
 *                                  its new normal (a shift): 202, queued for the
 *                                  pipeline; 400 for a bad path; 503 when not
 *                                  enabled or not queued
 *
 * The console's routes are 404 without `console`. Every answer carries
 * X-Content-Type-Options: nosniff.
 * HEAD is answered wherever GET is (but not on the accept path: POST only). Another path is 404; another method
 * on a known path 405 (with Allow). POST and DELETE need
 * "Authorization: Bearer TOKEN": 401 without credentials, 403 with a wrong
 * token (compared in constant time) or when no token is configured (writes
 * are then disabled). A body larger than max_body is refused with 413
 * before it is read, when its Content-Length says so; a chunked body that
 * grows past it is read and dropped, then refused with 413 too (past
 * max_body + 1 MiB of it the connection is closed instead). Errors are JSON
 * objects {"error": "..."}.
 *
 * Slow clients: at most max_connections connections at once, at most
 * max_per_ip of them from one client address (more are refused at accept,
 * counted); a connection silent for idle_timeout_s is closed, and one that
 * has not delivered a whole request (headers and body) within
 * request_timeout_s of opening or of its previous answer is closed however
 * busily it trickles bytes (counted). So a few addresses holding half-open
 * requests cannot take /metrics, /healthz or the change API away.
 *
 * DESIGN: libmicrohttpd runs its own threads (a pool of `threads`), and the
 * callbacks are called from them, possibly at the same time: the daemon's
 * callbacks must be thread-safe, and changes_api_t is. One more thread of
 * ours, the watchdog, enforces the request deadline: it shuts down (never
 * closes) the socket of a connection past it, under the mutex that the
 * connection callbacks hold, so the socket is still libmicrohttpd's and
 * open. Counters are atomic (relaxed: they are statistics, read as a
 * snapshot). The console is the exception to "read-only once started":
 * console.h says how its publisher and these threads share it.
 * Strings handed to the callbacks (a User, a stored change, an
 * id) are borrowed for the call.
 * http_stats(), http_port() and http_metrics_write() may be called from any
 * thread; `ctx` (and `changes`) must stay valid until http_stop() returns.
 */
#ifndef SW_HTTP_H
#define SW_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "changes_api.h"
#include "console.h"

/* Defaults of http_opts_t, used for fields left 0. */
#define HTTP_MAX_BODY (64 * 1024)   /* a change is a few hundred bytes */
#define HTTP_THREADS 2              /* /healthz answers while /metrics is written */
#define HTTP_MAX_CONNECTIONS 256    /* scrapers, probes and operators need a few
                                       dozen; sockets are cheap with epoll */
#define HTTP_MAX_PER_IP 16          /* a Prometheus pair or an operator's tools
                                       need a handful; one address cannot take
                                       more than 1/16 of the server */
#define HTTP_IDLE_TIMEOUT_S 15      /* a silent connection is closed after this */
#define HTTP_REQUEST_TIMEOUT_S 30   /* a request takes milliseconds on a management
                                       network; a trickling one is cut off here */

typedef struct http http_t;

/* The longest User id the accept path takes (as the line protocol). */
#define HTTP_MAX_USER 64
/* The schedule's range when `to` is not given: a week, the horizon of a
 * change advisory board's forward schedule. */
#define HTTP_SCHEDULE_DAYS 7

typedef struct {
    /* "ADDR:PORT", "[IPv6]:PORT", or "PORT" alone for 127.0.0.1:PORT. ADDR
     * may be a host name. Port 0 takes a free port: see http_port(). */
    const char *addr;
    const char *token;      /* bearer token for writes; NULL or "": writes refused */
    size_t max_body;        /* request body limit; 0: HTTP_MAX_BODY */
    unsigned threads;       /* 0: HTTP_THREADS */
    unsigned max_connections;   /* open at once; 0: HTTP_MAX_CONNECTIONS */
    unsigned max_per_ip;        /* open at once from one address; 0: HTTP_MAX_PER_IP */
    unsigned idle_timeout_s;    /* silent this long: closed; 0: HTTP_IDLE_TIMEOUT_S */
    unsigned request_timeout_s; /* a whole request within this of the connection's
                                   start or previous answer; 0: HTTP_REQUEST_TIMEOUT_S */
    const char *tls_cert;   /* PEM certificate (chain) file: HTTPS, with tls_key */
    const char *tls_key;    /* PEM private key file */
    changes_api_t *changes; /* NULL: the change routes answer 503 */
    /* Writes the Prometheus text exposition to out. NULL: the server's own
     * counters only (see http_metrics_write()). */
    void (*metrics)(void *ctx, FILE *out);
    /* Non-zero when ready for traffic. NULL: always ready. */
    int (*ready)(void *ctx);
    /* The current alerts as JSON, malloc'd (freed here); NULL: 503. */
    char *(*alerts_json)(void *ctx);
    /* Called after each successful declare or withdraw, before the reply. */
    void (*changes_updated)(void *ctx);
    /* Also called then, with the change as stored (JSON) or the id withdrawn:
     * to share it with other instances. NULL: not called. */
    void (*change_declared)(void *ctx, const char *stored_json);
    void (*change_withdrawn)(void *ctx, const char *id);
    /* Queues "accept the level of `user` in direction dir (0 south, 1
     * north) as its new normal": 0, or non-zero with a sentence in err.
     * NULL: the accept path answers 503. */
    int (*accept)(void *ctx, const char *user, int dir, char *err, size_t errlen);
    /* A User's share of the DSP's traffic in [0,1], < 0 when unknown: the
     * busy_hour conflicts (conflict.h). Called under the change API's lock,
     * from the HTTP threads. NULL: no busy_hour check. */
    double (*user_share)(void *ctx, const char *user);
    /* The change check (contract section 2.1) of change `id` as a JSON
     * object, malloc'd (freed here), or NULL while there is none: shown as
     * "check" by GET /api/v1/changes/{id}. NULL: always null. */
    char *(*check_json)(void *ctx, const char *id);
    /* Non-zero: serve the live console and its routes (the page, the
     * Users' status, the history), fed through http_console(). */
    int console;
    /* libmicrohttpd's error messages once running, and each conflict of a
     * declared change (one line, no newline). */
    void (*log)(void *ctx, const char *msg);
    void *ctx;
} http_opts_t;

typedef struct {
    uint64_t requests[5];  /* answered, by status class: [0] 1xx ... [4] 5xx */
    uint64_t auth_failures;/* 401 and 403 */
    uint64_t too_large;    /* bodies refused for their size: 413, or cut off */
    uint64_t dropped;      /* requests ended without an answer (cut off, or failed) */
    uint64_t conn_refused; /* connections refused at accept: a connection limit */
    uint64_t conn_timed_out; /* connections cut off by the request deadline */
    uint64_t conn_open;    /* connections open now */
} http_stats_t;

/*
 * Starts serving. Strings in `o` are copied; `o->changes` must outlive the
 * server. Returns NULL with a message in err (a bad address, a port in use,
 * an unreadable TLS file, TLS not supported by this libmicrohttpd).
 */
http_t *http_start(const http_opts_t *o, char *err, size_t errlen);
/* Stops serving (waits for the server's threads) and frees everything.
 * http_stop(NULL) is a no-op. */
void http_stop(http_t *h);
/* The console (with opts.console), for its owner to publish the Users'
 * status and the transitions into (console.h); NULL without. Valid until
 * http_stop(). */
console_t *http_console(const http_t *h);
/* The port listened on (useful with port 0), or 0. */
unsigned http_port(const http_t *h);
/* A snapshot of the counters. */
void http_stats(const http_t *h, http_stats_t *out);
/* Writes the counters in Prometheus text format (stormwatch_http_*, among
 * them stormwatch_http_connections_refused_total,
 * stormwatch_http_connections_timed_out_total and stormwatch_http_connections). */
void http_metrics_write(const http_t *h, FILE *out);

#endif
