/*
 * sink_zmq.h - alerts on a ZeroMQ PUB socket, for incident tooling to
 * subscribe to. Each alert line is a two-frame message: the alert kind
 * ("storm", "blocked_route", "silence", "feed_stalled", ...) as the topic,
 * then the JSON line (section 3 of the formats) without its newline. A
 * subscriber picks kinds with ZMQ_SUBSCRIBE prefixes ("" for all).
 *
 * Sending never waits. The socket is set to refuse rather than silently
 * discard (ZMQ_XPUB_NODROP) and is sent to with ZMQ_DONTWAIT, so when a
 * subscriber's queue is full (ZMQ_SNDHWM messages) the alert is counted as
 * dropped, for every subscriber: a subscriber that stops reading can cost
 * others alerts, but never unnoticed, and never holds up the alert stage.
 * With no subscriber to a kind, ZeroMQ discards its alerts, as PUB does;
 * they count as sent.
 *
 * Drops and other send failures (a context shut down, ...) are logged once
 * per burst each (errburst.h): the first, a reminder a minute while they go
 * on, and one line when alerts go out again.
 *
 * DESIGN: a ZeroMQ socket belongs to one thread at a time. Only the alert
 * stage's thread sends; the daemon creates the sink on main before that
 * thread starts and destroys it after joining it. The counters are plain
 * integers, read by the thread that sends (the daemon's alert thread
 * mirrors them into atomics for /metrics). Lines are borrowed for the call.
 */
#ifndef SW_SINK_ZMQ_H
#define SW_SINK_ZMQ_H

#include <stddef.h>
#include <stdint.h>

/* Queued alerts per subscriber before drops. Alerts are rare (a handful a
 * minute in a bad hour), so 10000 only fills behind a subscriber that has
 * stopped reading. */
#define SINK_ZMQ_DEFAULT_HWM 10000
/* How long closing waits for queued alerts to reach subscribers, so that
 * shutdown delivers what it can but never hangs on a dead peer. */
#define SINK_ZMQ_LINGER_MS 200

typedef struct sink_zmq sink_zmq_t;

typedef struct {
    uint64_t sent;    /* alerts the socket accepted */
    uint64_t dropped; /* alerts refused because a subscriber's queue was full */
    uint64_t errors;  /* other send failures (a closed context, ...): the alert is lost */
} sink_zmq_stats_t;

/*
 * Binds a PUB socket of `zmq_ctx` at `endpoint` ("tcp://127.0.0.1:5558";
 * "tcp://127.0.0.1:*" picks a free port, see sink_zmq_endpoint()), with the
 * default high-water mark. Returns NULL with "ENDPOINT: reason" in err.
 * The caller destroys it with sink_zmq_destroy() before zmq_ctx_term().
 */
sink_zmq_t *sink_zmq_create(void *zmq_ctx, const char *endpoint, char *err, size_t errlen);

/* The same with ZMQ_SNDHWM `hwm` (<= 0: SINK_ZMQ_DEFAULT_HWM). */
sink_zmq_t *sink_zmq_create_hwm(void *zmq_ctx, const char *endpoint, int hwm, char *err,
                                size_t errlen);

/*
 * Publishes one alert: topic `kind`, body `line` (`len` bytes; a trailing
 * '\n' is not sent). Never blocks. Returns 0 when sent, SW_EFULL when
 * dropped because a queue was full, SW_EIO on another failure (counted),
 * SW_EINVAL for a missing sink, kind or line.
 */
int sink_zmq_send(sink_zmq_t *s, const char *kind, const char *line, size_t len);

/* The endpoint actually bound (the port filled in), e.g. for the log. */
const char *sink_zmq_endpoint(const sink_zmq_t *s);

/* The counters; valid until the sink is destroyed. */
const sink_zmq_stats_t *sink_zmq_stats(const sink_zmq_t *s);

/* Closes the socket (waiting at most SINK_ZMQ_LINGER_MS for queued alerts)
 * and frees the sink. sink_zmq_destroy(NULL) is a no-op. */
void sink_zmq_destroy(sink_zmq_t *s);

#endif
