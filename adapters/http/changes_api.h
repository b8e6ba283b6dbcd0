/*
 * changes_api.h - changes declared at runtime (through the HTTP API), kept
 * durable in a journal file so that a declared change survives a restart
 * and a crash.
 *
 * A change is declared as one JSON object with the fields of the YAML
 * register (contract section 2) and validated exactly as the YAML loader
 * validates it; it is withdrawn by id. Every operation is appended to the
 * journal as one JSON line and fsync'ed before the call returns success.
 * Opening replays the journal; the daemon merges a snapshot of the declared
 * changes into the register it builds from the YAML file.
 *
 * The API also holds a copy of the YAML file's register (changes and
 * forecasts), given at start and at each reload (changes_api_set_file()),
 * so that it can refuse to declare an id the file owns (the file would
 * shadow it at once), list every change with its source ("file" or
 * "api"), and find the conflicts (core/conflict.h) of each change against
 * all the others, file and API. A change's JSON is changes_json.h's:
 * `affects` a list, `impact` the directions declared.
 *
 * Journal format (JSON Lines, one object per line, UTF-8):
 *   {"stormwatch_changes_journal":1}                           first line
 *   {"op":"declare","at":"<RFC 3339>","change":{<the change>}}
 *   {"op":"withdraw","at":"<RFC 3339>","id":"<id>"}
 * `at` is the wall-clock time of the operation; the change holds the fields
 * of the register with dates in UTC, to the nanosecond when needed.
 * A last line without its newline is what a crash mid-append leaves: it was
 * never acknowledged, so opening drops it (counted in `torn`) and truncates
 * the file there. Anything else after the header that does not replay (bad
 * JSON, an unknown op, a change that fails validation, a duplicate declare,
 * a withdraw of an unknown id) is corruption: by default the journal is
 * renamed to PATH.corrupt-<UTC time, e.g. 20240312T065500Z> (never deleted,
 * never over another file), a new one is started and the API starts empty,
 * so a bad journal never keeps the daemon down; with `strict` opening
 * refuses with "PATH:LINE: reason" instead. A file without the journal's
 * header (another file named by mistake, or a journal of another version)
 * is refused in either mode: it is not ours to rename. A kind the
 * correlator does not know is refused in a new declaration only: a journal
 * line written before that rule still replays.
 * When more than `compact_after` changes have been withdrawn since the last
 * rewrite, the journal is rewritten atomically (temporary file, fsync,
 * rename, fsync of the directory) with one declare line per live change.
 *
 * DESIGN: every function is thread-safe: one mutex guards the changes and
 * the journal, held across the fsync of a write (declares are rare; a
 * reader waits for at most one fsync). on_change runs on the thread that
 * declares or withdraws (in the daemon an HTTP thread, or the ingest thread
 * for a change shared over Kafka). The `share` callbacks of the views run
 * under the lock too, on the calling thread: they must not call into the
 * API. changes_api_close() is the exception:
 * only once no other thread uses the API (the daemon closes it after
 * stopping the HTTP server and joining its threads). The journal file is
 * locked (flock) while open, so two daemons cannot append to the same
 * journal.
 */
#ifndef SW_CHANGES_API_H
#define SW_CHANGES_API_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "changes.h"
#include "conflict.h"

/* Defaults of changes_api_opts_t, used for fields left 0. */
#define CHANGES_API_COMPACT_AFTER 256  /* withdrawn changes before a rewrite: a
                                          few KiB of dead lines, rewritten rarely */
#define CHANGES_API_MAX_CHANGES 10000  /* far above any real schedule of change;
                                          a runaway client cannot exhaust memory */
#define CHANGES_API_MAX_CONFLICTS 64   /* listed for one change (the rest counted):
                                          more says "move it" as well as 64 */
#define CHANGES_API_SCHEDULE_MAX 10000 /* changes in one schedule reply (the rest
                                          counted): a week's schedule is far smaller */

typedef struct changes_api changes_api_t;

typedef struct {
    size_t compact_after; /* rewrite the journal past this many withdrawn changes */
    size_t max_changes;   /* declared changes held at once; more: SW_EFULL */
    int strict;           /* a corrupt journal: refuse to open (0: set it aside) */
    /*
     * Called after each successful declare (declared: the change as stored,
     * borrowed for the call; withdrawn NULL) and withdraw (declared NULL;
     * withdrawn: the id), once it is on disk, under the API's lock: the calls
     * come in journal order, so applying each to a register keeps it equal to
     * a snapshot, at O(1) a call. It must not call into the API. Not called
     * for what opening replays: take a snapshot after opening. NULL: none.
     */
    void (*on_change)(void *ctx, const change_t *declared, const char *withdrawn);
    void *ctx;
} changes_api_opts_t;

typedef struct {
    uint64_t declared;          /* successful declares since open */
    uint64_t withdrawn;         /* successful withdrawals since open */
    uint64_t refused;           /* declares refused: invalid, duplicate or full */
    uint64_t replayed;          /* journal operations replayed at open */
    uint64_t torn;              /* torn last lines dropped at open (0 or 1) */
    uint64_t compactions;       /* journal rewrites */
    uint64_t compaction_errors; /* rewrites that failed (the old journal stays) */
    uint64_t journal_errors;    /* appends that failed (the operation failed too) */
    uint64_t set_aside;         /* corrupt journals renamed aside at open (0 or 1) */
    size_t live;                /* changes declared now */
} changes_api_stats_t;

/*
 * Opens (creating it when absent) the journal at `path` and replays it into
 * `*out`. `o` may be NULL for the defaults. Returns 0; SW_EIO with
 * "PATH: reason" when the file cannot be opened, read, repaired or locked
 * (another process holds it), or when its directory is not writable
 * ("PATH: its directory DIR is not writable (...)"); SW_ECONFIG with
 * "PATH:LINE: reason" when the file is not a journal, or is corrupt and
 * o->strict is set; SW_ENOMEM. On error nothing is left open and *out is
 * NULL. A torn last line is not an error: see changes_api_stats().torn.
 * A corrupt journal without o->strict is not an error either: it is set
 * aside (see above), 0 is returned with the warning for the log in err,
 * "PATH:LINE: reason; set aside as PATH.corrupt-..., starting with no
 * declared changes", and changes_api_stats().set_aside is 1. Otherwise,
 * on success, err is "".
 */
int changes_api_open(const char *path, const changes_api_opts_t *o, changes_api_t **out,
                     char *err, size_t errlen);
/* Closes the journal and frees everything. changes_api_close(NULL) is a no-op. */
void changes_api_close(changes_api_t *api);

/*
 * Declares the change in `json` (len bytes): one JSON object with the keys
 * id, user, title, kind, start, end, affects (a word or an array of words),
 * expected, contact and impact ({"south": x, "north": y}, either or both);
 * other keys are ignored. Returns 0 once the change is in the journal and
 * on disk; SW_ECONFIG when the body is invalid, with a message naming the
 * field ("missing field 'id'", "field 'start': bad date '...' (expected RFC
 * 3339, ...)", "field 'end': end is before start", "field 'kind': unknown
 * kind 'dns' (known kinds: firewall, ...)", "field 'impact.south': ...",
 * "body is not a JSON object", "body is not valid JSON: ..."); SW_EEXISTS
 * when the id is already declared, or owned by the file given to
 * changes_api_set_file() ("field 'id': 'X' is owned by the change register
 * file; change it there": nothing stored or journalled); SW_EFULL past
 * max_changes; SW_EIO when the journal cannot be written (the change is
 * then not declared); SW_ENOMEM. On error nothing is modified. err may be
 * NULL.
 */
int changes_api_declare(changes_api_t *api, const char *json, size_t len, char *err,
                        size_t errlen);
/*
 * The same, and on success sets *stored to the change as stored (a JSON
 * object like the items of changes_api_list_json()); the caller frees it.
 * On error *stored is NULL.
 */
int changes_api_declare_ex(changes_api_t *api, const char *json, size_t len, char **stored,
                           char *err, size_t errlen);

/* Withdraws the change with this id: 0 once on disk, SW_ENOTFOUND, SW_EIO
 * (then still declared) or SW_ENOMEM. */
int changes_api_withdraw(changes_api_t *api, const char *id);

/*
 * Adds a copy of every declared change to `out`, in the order declared.
 * Returns 0; SW_EEXISTS when an id is already in `out` (e.g. also in the
 * YAML file); SW_ENOMEM. On error `out` is unchanged. O(n) in the declared
 * changes: for a register kept up to date per operation, see on_change.
 */
int changes_api_snapshot(changes_api_t *api, changes_t *out);

/* A copy of the declared change with this id, in *out (free it with
 * change_free_strings()): 0, SW_ENOTFOUND, SW_ENOMEM or SW_EINVAL. O(1). */
int changes_api_copy(changes_api_t *api, const char *id, change_t *out);

/*
 * Takes a copy of the YAML file's register (changes and forecasts; NULL:
 * an empty file) in place of the last one: the daemon calls it at start
 * and at each reload. From then on a declared id the file holds is refused
 * (see above), and the views below show the file's changes beside the
 * declared ones; on an id both hold (a reload that added a declared id),
 * the file's is used, as in the daemon's register. 0, SW_EINVAL, or
 * SW_ENOMEM with the previous copy kept. O(n) in the file, most of it
 * outside the lock.
 */
int changes_api_set_file(changes_api_t *api, const changes_t *file);

/*
 * Every change, the file's and the declared ones, as a JSON array sorted by
 * start then id: each object as changes_json.h writes it (declared_at for a
 * declared change) with "source": "file" or "api". A declared change whose
 * id the file holds is listed too, with "shadowed": true. Returns malloc'd
 * text the caller frees, or NULL when out of memory.
 */
char *changes_api_list_json(changes_api_t *api);
/* One declared change as a JSON object, as stored (malloc'd), or NULL when
 * there is no declared change with this id (or out of memory: *found tells
 * them apart; may be NULL). */
char *changes_api_get_json(changes_api_t *api, const char *id, int *found);

/*
 * The change with this id, the file's or a declared one, as a JSON object
 * (as listed, with "source") with "conflicts": its conflicts against every
 * other change (conflicts_find(); share as there, NULL: no busy_hour check),
 * written by cj_conflicts(), at most CHANGES_API_MAX_CONFLICTS, the rest
 * counted in "conflicts_omitted". NULL when there is none (*found 0) or out
 * of memory (*found 1). O(n) in all the changes.
 */
char *changes_api_view_json(changes_api_t *api, const char *id, conflict_share_fn share,
                            void *ctx, int *found);

/*
 * The schedule of change from `from` to `to` (ns; a change is in it when
 * it starts before `to` and ends after `from`, or is an instant in
 * [from, to)): {"from": ..., "to": ..., "changes": [...], "omitted": N},
 * every change, the file's and the declared ones, User and DCC, sorted by
 * start then id, each as in changes_api_view_json() (at most
 * CHANGES_API_SCHEDULE_MAX; `omitted` counts the rest). NULL when out of
 * memory. O(n log n) in all the changes, not O(n) per change listed.
 */
char *changes_api_schedule_json(changes_api_t *api, int64_t from, int64_t to,
                                conflict_share_fn share, void *ctx);

/* A consistent copy of the counters. */
void changes_api_stats(changes_api_t *api, changes_api_stats_t *out);
/* Writes the counters in Prometheus text exposition format (HELP and TYPE
 * lines, metric names stormwatch_changes_api_*). */
void changes_api_metrics_write(changes_api_t *api, FILE *out);

#endif
