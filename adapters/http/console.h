/*
 * console.h - the live console that GET / serves, and the state behind
 * its JSON: the Users' status, a snapshot the daemon publishes, and the
 * recent alert transitions, a ring the daemon feeds; http.c serves them
 * on its routes (http.h lists them).
 *
 * The page is self-contained: its HTML, script and style are strings of
 * this module, served from this origin only, under a Content-Security-
 * Policy (CONSOLE_CSP) that allows nothing else: no inline script or
 * style, no other host. It refreshes itself with fetch() every few
 * seconds from GET /api/v1/alerts, /users, /history and /schedule.
 *
 * A Users' snapshot is built by one thread (console_users_new, _add,
 * _firing) and handed over whole (console_publish_users). Building it
 * costs O(n) for n Users; ordering it (by id, then the Users alerting
 * first, for the listing) costs O(n log n) and is left to the first
 * request that reads it, on an HTTP thread.
 *
 * DESIGN: the alert thread publishes, the HTTP threads render, at once.
 * `mu` guards the current snapshot's pointer and the history ring. A
 * reader takes a reference to the snapshot under `mu` and reads it
 * without: a snapshot is immutable once published, except for its
 * ordering, made once under the snapshot's own lock by whichever reader
 * comes first. A new snapshot replaces the current one at once; the last
 * reference frees the old. The time of the last request for the Users is
 * an atomic (relaxed: it only decides whether building one is worth it).
 */
#ifndef SW_CONSOLE_H
#define SW_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

/* The page's policy: only this origin, no inline code, never framed. */
#define CONSOLE_CSP "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* Transitions kept for GET /api/v1/history: an incident's worth several
 * times over (an alert storm of hundreds of Users is a few hundred
 * lines), and at most CONSOLE_HISTORY_BYTES of lines (a storm's line
 * lists the Users it hurt: it can be long). */
#define CONSOLE_HISTORY 1000
#define CONSOLE_HISTORY_BYTES (8u << 20)
/* GET /api/v1/users: Users listed when no limit is given, and at most. A
 * page shows a thousand rows smoothly; ten thousand is a download. */
#define CONSOLE_LIMIT 1000
#define CONSOLE_LIMIT_MAX 10000
/* Users' snapshots are worth building while someone asked for one this
 * recently: the page asks every few seconds while it is open. */
#define CONSOLE_DEMAND_S 30

typedef struct console console_t;
typedef struct console_users console_users_t;

/* A User's latest level in one direction. */
typedef struct {
    int seen;               /* a bucket that way has been handled; else the rest is 0 */
    double rate, baseline;  /* msgs/s counted, and what its baselines expected */
    int64_t at;             /* that bucket's event time, ns */
} console_dir_t;

/* The page's resources: the type to serve each with, and its body. */
typedef struct {
    const char *path, *type, *body;
} console_asset_t;

/* The asset at URL path `path` ("/", "/console.js", "/console.css",
 * "/console.svg": the icon), or NULL. */
const console_asset_t *console_asset(const char *path);

/* NULL when out of memory. console_destroy(NULL) is a no-op; the snapshot
 * and the transitions kept go with it. */
console_t *console_create(void);
void console_destroy(console_t *c);

/* ---- the publishing side (one thread at a time) ---- */

/* A new, empty snapshot of the Users' status; NULL when out of memory. */
console_users_t *console_users_new(void);
/* Adds User `user` with its levels, dir[DIR_SOUTH] and dir[DIR_NORTH]
 * (each User once). 0, or SW_ENOMEM (the snapshot is unchanged). */
int console_users_add(console_users_t *s, const char *user, const console_dir_t dir[2]);
/* Notes that an alert of kind `kind` (alert_kind_t) and `severity`
 * (SEV_*, its incident's) fires for `user` in `dir` (DIR_BOTH: both
 * ways). A User not added is listed with no levels; User "*" (the whole
 * feed) is no User and is left out. 0, or SW_ENOMEM. */
int console_users_firing(console_users_t *s, const char *user, int dir, int kind, int severity);
/* Frees a snapshot that was not published; NULL is a no-op. */
void console_users_free(console_users_t *s);
/* Makes s the snapshot the Users' routes show (taking it), built at
 * wall-clock time built_at (ns). */
void console_publish_users(console_t *c, console_users_t *s, int64_t built_at);
/* Keeps one transition: its alert line (len bytes, a trailing newline
 * dropped) and its event time `at` (ns: the firing's detection, the
 * resolution's end). The oldest go past CONSOLE_HISTORY lines or
 * CONSOLE_HISTORY_BYTES; a longer line alone is not kept. */
void console_transition(console_t *c, int64_t at, const char *line, size_t len);
/* Whether a request read the Users within the last CONSOLE_DEMAND_S. */
int console_users_wanted(console_t *c);

/* ---- the rendering side (any thread) ----
 * Each returns the HTTP status to answer with and its body in *json
 * (malloc'd): 200; 202 with {"pending": true} while no snapshot has been
 * published yet (one is being built: ask again in a second); 404 with
 * {"error": ...} for an unknown User; or 0, *json NULL, when out of
 * memory. A User's "state" (and each direction's) is "ok" or the worst
 * severity of the alerts firing for it ("warning", "critical"), each
 * direction's "alerts" their kinds, its "rate" and "baseline" msgs/s (null
 * without a level that way).
 * Asking for the Users (both calls) keeps their snapshots coming
 * (console_users_wanted). */

/* GET /api/v1/users: the Users whose id holds q (case-insensitive; NULL
 * or "": every User), the alerting first, then by id, at most `limit`:
 * {"built_at","feed_time","total","matched","limit","q","users":[...]}. */
int console_users_json(console_t *c, const char *q, size_t limit, char **json);
/* GET /api/v1/users/{id}: one User, as a row of the list, with "alerts":
 * those of alerts_json (a JSON array of alert lines, the alerts firing
 * now; NULL: unknown, shown as null) whose "user" is id, and "built_at". */
int console_user_json(console_t *c, const char *id, const char *alerts_json, char **json);
/* GET /api/v1/history: the transitions kept whose time is at or after
 * `since` (INT64_MIN: all), oldest first: {"since","kept","transitions":
 * [{"at","alert":{...}}]}. Always 200. */
int console_history_json(console_t *c, int64_t since, char **json);

#endif
