/*
 * sim_zmq.c - the simulator's ZeroMQ publisher (see sim_zmq.h): a FILE*
 * whose write function batches whole lines, paces them by event time and
 * sends them on a PUSH socket.
 *
 * The write path, per line: append it to the message being assembled; if
 * pacing, read its timestamp (scanning back from the newline to the last
 * space: a few dozen bytes) and, when it is not yet due, send the lines
 * before it and sleep until it is; count it, and send the message once it
 * holds `batch` lines. Each byte is copied once, into the message buffer.
 *
 * DESIGN: single-threaded (the thread calling sim_write()); see sim_zmq.h.
 */
#include "sim_zmq.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "err.h"

#define NS_PER_MS INT64_C(1000000)
#define NS_PER_S INT64_C(1000000000)
#define BUF_INITIAL (64 * 1024)
#define POLL_MS 1000      /* a waiting send looks at the clock this often, for the notice */
#define PACE_MAX_NS (INT64_MAX / 4) /* a schedule offset beyond this (centuries) is clamped */

struct sim_pub {
    void *ctx, *sock;
    FILE *stream, *tee, *notices;
    char *endpoint;
    int bind, linger_ms;
    double speed;
    size_t batch;

    /* The message being assembled: buf[0, done) holds n_lines whole lines,
     * buf[done, len) the start of the next one. */
    char *buf;
    size_t len, cap, done, n_lines;

    /* Pacing: t0 and w0 are the event time and the monotonic time of the
     * first timestamped line, last_ts the latest event time seen, now_lb a
     * monotonic time known to have passed (saves reading the clock). */
    int paced;
    int64_t t0, w0, last_ts, now_lb;

    uint64_t lines, messages, bytes, stalls;
    int64_t started, stall_ns, elapsed;
    int err; /* first failure, SW_EIO; msg says what */
    char msg[320];
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static void sleep_until(int64_t t)
{
    struct timespec ts = { (time_t)(t / NS_PER_S), (long)(t % NS_PER_S) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* Records the first failure; later ones are consequences of it. */
static void fail(sim_pub_t *p, const char *what, const char *why)
{
    if (p->err)
        return;
    p->err = SW_EIO;
    snprintf(p->msg, sizeof p->msg, "%s %s: %s", what, p->endpoint, why);
}

/*
 * Sends data[0, n) as one message, waiting as long as the receiver needs
 * (high-water mark reached, or no receiver yet). The waits are counted and
 * timed; one longer than SIM_PUB_STALL_NOTICE_NS is reported on `notices`.
 */
static int pub_send(sim_pub_t *p, const char *data, size_t n)
{
    int64_t since = 0;
    int told = 0;
    while (zmq_send(p->sock, data, n, ZMQ_DONTWAIT) < 0) {
        int e = zmq_errno();
        if (e == EINTR)
            continue;
        if (e != EAGAIN) {
            fail(p, "cannot send to", zmq_strerror(e));
            return -1;
        }
        int64_t now = mono_ns();
        if (!since) {
            since = now;
            p->stalls++;
        } else if (!told && p->notices && now - since >= SIM_PUB_STALL_NOTICE_NS) {
            fprintf(p->notices, "stormwatch simulate: waiting for %s to take messages (%s)\n", p->endpoint,
                    p->bind ? "no receiver connected yet, or a slow one"
                            : "receiver down or slow: high-water mark reached");
            told = 1;
        }
        zmq_pollitem_t it = { .socket = p->sock, .events = ZMQ_POLLOUT };
        if (zmq_poll(&it, 1, POLL_MS) < 0 && zmq_errno() != EINTR) {
            fail(p, "cannot send to", zmq_strerror(zmq_errno()));
            return -1;
        }
    }
    if (since) {
        int64_t waited = mono_ns() - since;
        p->stall_ns += waited;
        if (!p->messages)
            p->w0 += waited; /* the schedule starts when a receiver takes the first message */
    }
    return 0;
}

/* Sends the whole lines assembled so far, if any, and moves the rest of
 * the buffer (the start of the next line) to the front. */
static void send_batch(sim_pub_t *p)
{
    if (p->done && !p->err && pub_send(p, p->buf, p->done) == 0) {
        p->messages++;
        p->bytes += p->done;
        p->lines += p->n_lines;
    }
    memmove(p->buf, p->buf + p->done, p->len - p->done);
    p->len -= p->done;
    p->done = 0;
    p->n_lines = 0;
}

/* The timestamp of a line: its last space-separated field, all digits,
 * fitting int64 ns. Returns 0 for a line without one (a comment, a
 * malformed line), else 1 and *ts. */
static int line_time(const char *s, size_t n, int64_t *ts)
{
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    if (!n || s[0] == '#')
        return 0;
    size_t i = n;
    while (i && s[i - 1] != ' ')
        i--;
    if (!i || i == n || n - i > 19)
        return 0;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX)
        return 0;
    *ts = (int64_t)v;
    return 1;
}

/* Waits until the line stamped ts is due, first sending the lines before
 * it (buf[0, done)) so the receiver has them while we wait. */
static void pace(sim_pub_t *p, int64_t ts)
{
    if (!p->paced) {
        p->paced = 1;
        p->t0 = p->last_ts = ts;
        p->w0 = p->now_lb = mono_ns();
        return;
    }
    if (ts <= p->last_ts)
        return; /* out of order or repeated: its time has come already */
    p->last_ts = ts;
    double off = (double)(ts - p->t0) / p->speed;
    int64_t due = p->w0 + (off < (double)PACE_MAX_NS ? (int64_t)off : PACE_MAX_NS);
    if (due - p->now_lb <= SIM_PUB_SLACK_NS)
        return;
    p->now_lb = mono_ns();
    if (due - p->now_lb <= SIM_PUB_SLACK_NS)
        return;
    send_batch(p);
    sleep_until(due);
    p->now_lb = due;
}

/* The line buf[done, len) is complete: pace it, count it, and send the
 * message when it is full. */
static void line_done(sim_pub_t *p)
{
    int64_t ts;
    if (p->speed > 0 && line_time(p->buf + p->done, p->len - p->done, &ts))
        pace(p, ts);
    p->done = p->len;
    if (++p->n_lines >= p->batch)
        send_batch(p);
}

static int reserve(sim_pub_t *p, size_t n)
{
    if (p->cap - p->len >= n)
        return 0;
    size_t cap = p->cap;
    while (cap - p->len < n)
        cap *= 2;
    char *b = realloc(p->buf, cap);
    if (!b) {
        fail(p, "out of memory assembling messages for", "realloc failed");
        return -1;
    }
    p->buf = b;
    p->cap = cap;
    return 0;
}

/* fopencookie() write function: takes all of buf, or returns 0 on error. */
static ssize_t cookie_write(void *cookie, const char *buf, size_t size)
{
    sim_pub_t *p = cookie;
    if (p->err)
        return 0;
    if (p->tee && fwrite(buf, 1, size, p->tee) != size) {
        fail(p, "cannot write the copy of the traffic sent to", strerror(errno));
        return 0;
    }
    const char *s = buf;
    size_t left = size;
    while (left) {
        const char *nl = memchr(s, '\n', left);
        size_t take = nl ? (size_t)(nl - s) + 1 : left;
        if (reserve(p, take))
            return 0;
        memcpy(p->buf + p->len, s, take);
        p->len += take;
        s += take;
        left -= take;
        if (nl)
            line_done(p);
        if (p->err)
            return 0;
    }
    return (ssize_t)size;
}

void sim_pub_opts_defaults(sim_pub_opts_t *po)
{
    *po = (sim_pub_opts_t){
        .endpoint = NULL,
        .bind = 0,
        .speed = 0,
        .batch = SIM_PUB_BATCH,
        .linger_ns = SIM_PUB_LINGER_NS,
        .hwm = -1,
    };
}

static int set_msg(char *msg, size_t msglen, const char *text, int rc)
{
    if (msg && msglen)
        snprintf(msg, msglen, "%s", text);
    return rc;
}

int sim_pub_create(const sim_pub_opts_t *po, FILE *tee, FILE *notices, sim_pub_t **out, char *msg,
                   size_t msglen)
{
    *out = NULL;
    if (!po->endpoint || !*po->endpoint)
        return set_msg(msg, msglen, "no endpoint to publish to", SW_EINVAL);
    if (po->batch < 1 || !(po->speed >= 0) || po->linger_ns < 0 || po->hwm < -1)
        return set_msg(msg, msglen, "bad publishing options", SW_EINVAL);
    sim_pub_t *p = calloc(1, sizeof *p);
    if (!p || !(p->endpoint = strdup(po->endpoint)) || !(p->buf = malloc(BUF_INITIAL))) {
        sim_pub_destroy(p);
        return set_msg(msg, msglen, "out of memory", SW_ENOMEM);
    }
    p->cap = BUF_INITIAL;
    p->tee = tee;
    p->notices = notices;
    p->bind = po->bind;
    p->speed = po->speed;
    p->batch = (size_t)po->batch;
    int64_t ms = (po->linger_ns + NS_PER_MS - 1) / NS_PER_MS;
    p->linger_ms = ms > INT_MAX ? INT_MAX : (int)ms;
    p->started = mono_ns();

    const char *what = "cannot create a ZeroMQ socket for";
    p->ctx = zmq_ctx_new();
    if (p->ctx)
        p->sock = zmq_socket(p->ctx, ZMQ_PUSH);
    if (p->sock) {
        what = "cannot set the socket options for";
        if (zmq_setsockopt(p->sock, ZMQ_LINGER, &p->linger_ms, sizeof p->linger_ms) == 0 &&
            (po->hwm < 0 || zmq_setsockopt(p->sock, ZMQ_SNDHWM, &po->hwm, sizeof po->hwm) == 0)) {
            what = p->bind ? "cannot bind" : "cannot connect to";
            if ((p->bind ? zmq_bind(p->sock, p->endpoint) : zmq_connect(p->sock, p->endpoint)) == 0) {
                cookie_io_functions_t io = { .write = cookie_write };
                what = "cannot open a stream for";
                p->stream = fopencookie(p, "w", io);
            }
        }
    }
    if (!p->stream) {
        char m[sizeof p->msg];
        snprintf(m, sizeof m, "%s %s: %s", what, p->endpoint, zmq_strerror(zmq_errno()));
        sim_pub_destroy(p);
        return set_msg(msg, msglen, m, SW_EIO);
    }
    /* sim_write() buffers its output itself: hand every write straight to
     * the batcher rather than copying it through a stdio buffer first. */
    setvbuf(p->stream, NULL, _IONBF, 0);
    *out = p;
    return SW_OK;
}

FILE *sim_pub_stream(sim_pub_t *p)
{
    return p->stream;
}

int sim_pub_finish(sim_pub_t *p, char *msg, size_t msglen)
{
    if (p->stream) {
        fclose(p->stream); /* unbuffered: nothing is left in stdio */
        p->stream = NULL;
    }
    if (!p->err && p->len > p->done)
        line_done(p); /* a last line without its newline goes as it is */
    if (!p->err)
        send_batch(p);
    int64_t t = mono_ns();
    if (p->sock) {
        zmq_close(p->sock); /* keeps the queued messages for linger_ms */
        p->sock = NULL;
    }
    if (p->ctx) {
        while (zmq_ctx_term(p->ctx) < 0 && zmq_errno() == EINTR)
            ;
        p->ctx = NULL;
    }
    int64_t end = mono_ns();
    /* zmq_ctx_term() returns as soon as the queues are empty; one that took
     * the whole linger gave up on what was still queued. */
    if (!p->err && p->messages && p->linger_ms > 0 && end - t >= (int64_t)p->linger_ms * NS_PER_MS) {
        char why[96];
        snprintf(why, sizeof why, "not all delivered within the linger of %d ms; the rest were dropped",
                 p->linger_ms);
        fail(p, "messages queued for", why);
    }
    p->elapsed = end - p->started;
    return set_msg(msg, msglen, p->err ? p->msg : "", p->err);
}

void sim_pub_stats(const sim_pub_t *p, sim_pub_stats_t *st)
{
    int64_t el = p->elapsed ? p->elapsed : mono_ns() - p->started;
    *st = (sim_pub_stats_t){
        .lines = p->lines,
        .messages = p->messages,
        .bytes = p->bytes,
        .stalls = p->stalls,
        .stall_seconds = (double)p->stall_ns / NS_PER_S,
        .seconds = (double)el / NS_PER_S,
    };
}

void sim_pub_destroy(sim_pub_t *p)
{
    if (!p)
        return;
    if (p->stream) {
        p->err = p->err ? p->err : SW_EIO; /* refuse further writes */
        fclose(p->stream);
    }
    if (p->sock) {
        int zero = 0;
        zmq_setsockopt(p->sock, ZMQ_LINGER, &zero, sizeof zero);
        zmq_close(p->sock);
    }
    if (p->ctx)
        while (zmq_ctx_term(p->ctx) < 0 && zmq_errno() == EINTR)
            ;
    free(p->buf);
    free(p->endpoint);
    free(p);
}
