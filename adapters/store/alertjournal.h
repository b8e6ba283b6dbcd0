/*
 * alertjournal.h - the alerts open when the daemon stops, kept beside its
 * --state (FILE.alerts), so that a restart, even after a kill -9, resumes
 * them: the same start, no second firing line, and the resolved line when
 * the incident ends.
 *
 * The file is JSON Lines, one line per transition, appended as its alert
 * line goes out:
 *
 *   {"open":true,"alert":"storm","user":"U1","dir":"south","class":"request",
 *    "src":0,"starts_at":1568278800000000000,"detected_at":...,"value":...,
 *    "baseline":...,"backlog":...,"limit":...,"incident":7,"role":0,"severity":3,
 *    "learning":false}
 *   {"open":false,"alert":"storm","user":"U1","dir":"south","class":"request","src":0,
 *    "incident":7}
 *
 * (times in ns since the epoch; backlog null where it does not apply; role
 * and severity as numbers, alert.h). A widespread alert (User "*") also
 * has "symptom" (the kind its Users show) and "change" (the change it
 * names, when one). An alert is identified by kind, User, direction, class
 * and source, and a widespread one by its incident too. Each
 * line is one write(2) with no fsync: it survives the process (kill -9),
 * not a power cut. The file is rewritten with the open alerts only at open
 * and once it holds four times as many lines as alerts open (and at least
 * ALERTJOURNAL_COMPACT_MIN), atomically (temporary file, fsync, rename).
 *
 * At open a torn last line (the process died mid-write) is dropped; any
 * other line that is not a transition makes the file corrupt: it is
 * renamed aside (FILE.corrupt-TIME, logged) and the daemon starts with no
 * alert to resume, or, when strict, refused.
 *
 * DESIGN: one thread (the daemon's alert thread) writes it after open;
 * open and close come from one thread at a time with it (the daemon: main,
 * before the alert thread starts and after it is joined).
 * alertjournal_stats() may be called from any thread: the counters are
 * atomics. Alerts passed in are borrowed for the call.
 */
#ifndef SW_ALERTJOURNAL_H
#define SW_ALERTJOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "shard.h"

/* Lines below which the file is never rewritten: a few kilobytes. */
#define ALERTJOURNAL_COMPACT_MIN 1024
/* A journal larger than this is not read (a broken file, not alerts). */
#define ALERTJOURNAL_MAX_BYTES (UINT64_C(1) << 30)

typedef struct alertjournal alertjournal_t;

typedef struct {
    uint64_t lines;        /* transitions appended */
    uint64_t write_errors; /* appends and rewrites that failed (each logged once a burst) */
    uint64_t compactions;  /* rewrites */
    uint64_t moved_aside;  /* corrupt files renamed aside at open (0 or 1) */
    uint64_t resumed;      /* open alerts read at open */
    uint64_t open;         /* alerts open now */
} alertjournal_stats_t;

/*
 * Opens `path`, creating it when absent: calls each(ctx, r) for every alert
 * it holds open (r valid during the call), rewrites it with those alone,
 * and keeps it open for appending. Returns NULL with "PATH: reason" in err
 * when it cannot be read or written, or is corrupt and `strict` is set; a
 * corrupt file without `strict` is renamed aside with the reason logged.
 */
alertjournal_t *alertjournal_open(const char *path, int strict,
                                  void (*each)(void *ctx, const shard_resume_t *r), void *ctx,
                                  char *err, size_t errlen);

/* Records a transition (a firing alert opens, a resolved one closes): 0,
 * or SW_EIO / SW_ENOMEM (counted, logged once a burst; the alert goes on). */
int alertjournal_record(alertjournal_t *j, const alert_t *a);

void alertjournal_stats(alertjournal_t *j, alertjournal_stats_t *out);

/* Closes the file and frees everything; alertjournal_close(NULL) is a no-op. */
void alertjournal_close(alertjournal_t *j);

#endif
