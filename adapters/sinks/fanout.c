/*
 * fanout.c - one alert out to every sink (fanout.h).
 *
 * DESIGN: the alert thread alone writes the line buffer and sends on the
 * PUB socket; sink_zmq's counters are plain integers of that thread, so
 * it mirrors them into atomics after each send for fanout_stats(). The
 * alerts file and the Alertmanager sink keep their own thread-safe
 * counters. The sink pointers are set by main before the alert thread
 * starts and cleared by nobody: pthread_create orders them.
 */
#include "fanout.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

struct fanout {
    sink_file_t *file;        /* --alerts; NULL: none */
    sink_zmq_t *pub;          /* --pub; NULL: none */
    sink_am_t *am;            /* --alertmanager; NULL: none */
    char *line;               /* the line formatted last (alert thread) */
    size_t len, cap;
    atomic_uint_fast64_t lines;
    atomic_uint_fast64_t pub_sent, pub_dropped, pub_errors;
};

fanout_t *fanout_create(void)
{
    return calloc(1, sizeof(fanout_t));
}

int fanout_add_file(fanout_t *f, const char *path, char *err, size_t errlen)
{
    return (f->file = sink_file_open(path, err, errlen)) ? SW_OK : SW_EOPEN;
}

int fanout_add_pub(fanout_t *f, void *zmq_ctx, const char *endpoint, char *err, size_t errlen)
{
    return (f->pub = sink_zmq_create(zmq_ctx, endpoint, err, errlen)) ? SW_OK : SW_EOPEN;
}

int fanout_add_alertmanager(fanout_t *f, const sink_am_opts_t *o, char *err, size_t errlen)
{
    return (f->am = sink_am_create(o, err, errlen)) ? SW_OK : SW_ECONFIG;
}

const char *fanout_format(fanout_t *f, const alert_t *a, size_t *len)
{
    size_t n = alert_format_json(a, f->line, f->cap);
    if (n >= f->cap) {
        char *b = realloc(f->line, n + 1);
        if (!b) {
            sw_log(LOG_ERROR, "out of memory formatting an alert line of %zu bytes: dropped", n);
            f->len = 0;
            return NULL;
        }
        f->line = b;
        f->cap = n + 1;
        n = alert_format_json(a, f->line, f->cap);
    }
    f->len = n;
    /* counted before any sink has it: a scrape after reading the line sees it */
    atomic_fetch_add_explicit(&f->lines, 1, memory_order_relaxed);
    *len = n;
    return f->line;
}

void fanout_write(fanout_t *f)
{
    if (f->file && f->len)
        sink_file_write(f->file, f->line, f->len); /* counted and logged there */
}

void fanout_publish(fanout_t *f, const alert_t *a)
{
    if (f->pub && f->len) {
        sink_zmq_send(f->pub, alert_kind_name(a->kind), f->line, f->len);
        const sink_zmq_stats_t *ps = sink_zmq_stats(f->pub); /* this thread's own */
        atomic_store_explicit(&f->pub_sent, ps->sent, memory_order_relaxed);
        atomic_store_explicit(&f->pub_dropped, ps->dropped, memory_order_relaxed);
        atomic_store_explicit(&f->pub_errors, ps->errors, memory_order_relaxed);
    }
    if (f->am)
        sink_am_send(f->am, a); /* queued; its own thread delivers */
}

void fanout_handover(fanout_t *f, const alert_t *a, int adopted)
{
    if (!f->am)
        return;
    if (adopted)
        sink_am_send(f->am, a);
    else
        sink_am_forget(f->am, a);
}

void fanout_reopen(fanout_t *f)
{
    if (f && f->file)
        sink_file_reopen(f->file);
}

void fanout_stats(const fanout_t *f, fanout_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!f)
        return;
    /* relaxed: each counter is read alone, for a recent total */
    out->lines = atomic_load_explicit(&f->lines, memory_order_relaxed);
    if ((out->has_file = f->file != NULL))
        sink_file_stats(f->file, &out->file);
    if ((out->has_am = f->am != NULL))
        sink_am_stats(f->am, &out->am);
    if ((out->has_pub = f->pub != NULL)) {
        out->pub.sent = atomic_load_explicit(&f->pub_sent, memory_order_relaxed);
        out->pub.dropped = atomic_load_explicit(&f->pub_dropped, memory_order_relaxed);
        out->pub.errors = atomic_load_explicit(&f->pub_errors, memory_order_relaxed);
    }
}

void fanout_destroy(fanout_t *f)
{
    if (!f)
        return;
    sink_zmq_destroy(f->pub);
    sink_am_destroy(f->am); /* delivers what it can in a short grace, persists the rest */
    sink_file_close(f->file);
    free(f->line);
    free(f);
}
