/*
 * statefile.c - loading, moving aside and saving learned state
 * (statefile.h).
 */
#include "statefile.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "errburst.h"
#include "fileio.h"
#include "log.h"

int statefile_read(const char *path, unsigned flags, statefile_decode_fn decode, void *ctx,
                   char *err, size_t errlen)
{
    unsigned char *buf;
    size_t len;
    int rc = fio_read(path, STATE_MAX_BYTES, &buf, &len);
    if (rc == 1)
        return STATEFILE_MISSING;
    if (rc < 0) { /* not corruption: the file may be fine */
        int e = errno;
        sw_errf(err, errlen, "%s: %s", path, e == EINVAL ? "not a regular file" : strerror(e));
        return e == ENOMEM ? SW_ENOMEM : SW_EOPEN;
    }
    char why[256] = "";
    rc = decode(ctx, buf, len, why, sizeof(why));
    free(buf);
    if (rc == SW_OK)
        return STATEFILE_LOADED;
    if (rc != SW_EPARSE) {
        sw_errf(err, errlen, "%s: %s", path, rc == SW_ENOMEM ? "out of memory" : why);
        return rc;
    }
    if (flags & STATEFILE_STRICT) {
        sw_errf(err, errlen, "%s: %s", path, why);
        return SW_EPARSE;
    }
    char aside[PATH_MAX], merr[PATH_MAX * 2 + 128];
    if (fio_move_aside(path, aside, sizeof(aside), merr, sizeof(merr)) < 0) {
        sw_errf(err, errlen, "%s: %s, and %s", path, why, merr);
        return SW_EPARSE;
    }
    sw_log(LOG_WARN, "state: %s: %s: moved aside to %s; learning from scratch", path, why, aside);
    return STATEFILE_MOVED_ASIDE;
}

static int engine_decode(void *ctx, const unsigned char *buf, size_t len, char *why,
                         size_t whylen)
{
    return engine_state_load(ctx, buf, len, why, whylen);
}

int statefile_load(const char *path, engine_t *e, unsigned flags, char *err, size_t errlen)
{
    return statefile_read(path, flags, engine_decode, e, err, errlen);
}

int statefile_save(const char *path, engine_t *e, char *err, size_t errlen)
{
    unsigned char *buf;
    size_t len;
    if (engine_state_save(e, &buf, &len) < 0) {
        sw_errf(err, errlen, "%s: out of memory", path);
        return SW_ENOMEM;
    }
    int rc = fio_replace(path, buf, len);
    if (rc < 0)
        sw_errf(err, errlen, "%s: %s", path, strerror(errno));
    free(buf);
    return rc < 0 ? SW_EIO : SW_OK;
}

/* ---- the daemon's saver ---- */

struct statefile_saver {
    char *path;
    errburst_t burst; /* the saving thread's */
    /* written by the saving thread, read by any; relaxed: statistics */
    atomic_uint_fast64_t saves, failures;
    atomic_int_fast64_t last_save_unix;
};

statefile_saver_t *statefile_saver_create(const char *path, char *err, size_t errlen)
{
    if (!path || !*path) {
        sw_errf(err, errlen, "state: no file name");
        return NULL;
    }
    if (fio_check_writable(path, err, errlen) < 0)
        return NULL;
    statefile_saver_t *w = calloc(1, sizeof(*w));
    if (w)
        w->path = strdup(path);
    if (!w || !w->path) {
        free(w);
        sw_errf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    return w;
}

static void failed(statefile_saver_t *w, const char *why)
{
    atomic_fetch_add_explicit(&w->failures, 1, memory_order_relaxed);
    errburst_fail(&w->burst, errburst_now(), LOG_ERROR,
                  "state: %s: cannot save: %s; the previous state is kept", w->path, why);
}

int statefile_saver_save(statefile_saver_t *w, const void *buf, size_t len)
{
    if (fio_replace(w->path, buf, len) < 0) {
        failed(w, strerror(errno));
        return SW_EIO;
    }
    atomic_fetch_add_explicit(&w->saves, 1, memory_order_relaxed);
    atomic_store_explicit(&w->last_save_unix, (int_fast64_t)time(NULL), memory_order_relaxed);
    errburst_ok(&w->burst, errburst_now(), "state: %s: saved again", w->path);
    return SW_OK;
}

void statefile_saver_skip(statefile_saver_t *w, const char *why)
{
    failed(w, why);
}

void statefile_saver_stats(const statefile_saver_t *w, statefile_stats_t *out)
{
    statefile_saver_t *m = (statefile_saver_t *)w; /* atomic loads only */
    *out = (statefile_stats_t){
        .saves = atomic_load_explicit(&m->saves, memory_order_relaxed),
        .failures = atomic_load_explicit(&m->failures, memory_order_relaxed),
        .last_save_unix = atomic_load_explicit(&m->last_save_unix, memory_order_relaxed),
    };
}

void statefile_saver_destroy(statefile_saver_t *w)
{
    if (!w)
        return;
    free(w->path);
    free(w);
}
