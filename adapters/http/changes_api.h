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
 * is refused in either mode: it is not ours to rename.
 * When more than `compact_after` changes have been withdrawn since the last
 * rewrite, the journal is rewritten atomically (temporary file, fsync,
 * rename, fsync of the directory) with one declare line per live change.
 *
 * DESIGN: every function is thread-safe: one mutex guards the changes and
 * the journal, held across the fsync of a write (declares are rare; a
 * reader waits for at most one fsync). on_change runs on the thread that
 * declares or withdraws (in the daemon an HTTP thread, or the ingest thread
 * for a change shared over Kafka). changes_api_close() is the exception:
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

/* Defaults of changes_api_opts_t, used for fields left 0. */
#define CHANGES_API_COMPACT_AFTER 256  /* withdrawn changes before a rewrite: a
                                          few KiB of dead lines, rewritten rarely */
#define CHANGES_API_MAX_CHANGES 10000  /* far above any real schedule of change;
                                          a runaway client cannot exhaust memory */

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
 * expected and contact; other keys are ignored. Returns 0 once the change is
 * in the journal and on disk; SW_ECONFIG when the body is invalid, with a
 * message naming the field ("missing field 'id'", "field 'start': bad date
 * '...' (expected RFC 3339, ...)", "field 'end': end is before start",
 * "body is not a JSON object", "body is not valid JSON: ..."); SW_EEXISTS
 * when the id is already declared; SW_EFULL past max_changes; SW_EIO when
 * the journal cannot be written (the change is then not declared);
 * SW_ENOMEM. On error nothing is modified. err may be NULL.
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
 * The declared changes as a JSON array, in the order declared, each object
 * with id, user, title, kind, start, end (RFC 3339, UTC), affects ("north",
 * "south" or "both"), expected, contact (null when absent) and declared_at.
 * Returns malloc'd text the caller frees, or NULL when out of memory.
 */
char *changes_api_list_json(changes_api_t *api);
/* One declared change as a JSON object (malloc'd), or NULL when there is no
 * change with this id (or out of memory: *found tells them apart; may be NULL). */
char *changes_api_get_json(changes_api_t *api, const char *id, int *found);

/* A consistent copy of the counters. */
void changes_api_stats(changes_api_t *api, changes_api_stats_t *out);
/* Writes the counters in Prometheus text exposition format (HELP and TYPE
 * lines, metric names stormwatch_changes_api_*). */
void changes_api_metrics_write(changes_api_t *api, FILE *out);

#endif
