/*
 * sim_zmq.h - publishing the simulator's traffic over ZeroMQ, as the DSP
 * would: `stormwatch simulate --publish` (sim_cli.c).
 *
 * sim_pub_create() opens a PUSH socket and hands out a FILE* (fopencookie)
 * that sim_write() writes the traffic to like any other file. Its write
 * path cuts the byte stream into messages of whole lines (never a line split
 * across two messages), optionally paces them by their event time, and sends
 * them with a blocking send: when the receiver's high-water mark is reached
 * the simulator waits, nothing is dropped. The bytes sent, concatenated, are
 * exactly the bytes written to the FILE*; an optional `tee` file receives
 * the same bytes.
 *
 * Pacing (speed > 0): the timestamp of a line (its last space-separated
 * field, ns) is its event time; a line stamped T is sent no earlier than
 * SIM_PUB_SLACK_NS before w0 + (T - T0) / speed on CLOCK_MONOTONIC, T0 and
 * w0 being those of the first line with a timestamp (w0 moves on by any
 * wait for the first message to be taken, as when a bound socket has no
 * receiver yet; later waits are caught up on). Before sleeping, the
 * lines already due are sent as a (short) message, so a live receiver sees
 * them at once. Lines without a parseable timestamp (comments, the
 * simulator's malformed quirk lines) and lines older than one already seen
 * (out of order, duplicates) are sent without waiting.
 *
 * DESIGN: a sim_pub_t belongs to one thread, the one writing to its FILE*;
 * it owns its ZeroMQ context, so nothing is shared with other publishers.
 */
#ifndef SW_SIM_ZMQ_H
#define SW_SIM_ZMQ_H

#include <stdint.h>
#include <stdio.h>

/* Lines per message by default: about 100 kB of traffic, few enough
 * messages for ZeroMQ's per-message cost to vanish, small enough for the
 * receiver to parse one while the next is on the wire. */
#define SIM_PUB_BATCH 1000

/* How long sim_pub_finish() waits for queued messages by default. */
#define SIM_PUB_LINGER_NS (10 * INT64_C(1000000000))

/* A paced line may leave this much ahead of its time: sleeping for less
 * costs more than it is worth (a nanosleep wakes up ~50 us late anyway). */
#define SIM_PUB_SLACK_NS INT64_C(1000000)

/* A send waiting this long for the receiver is reported on `notices`. */
#define SIM_PUB_STALL_NOTICE_NS (5 * INT64_C(1000000000))

typedef struct sim_pub sim_pub_t;

typedef struct {
    const char *endpoint; /* a ZeroMQ endpoint, e.g. "tcp://127.0.0.1:5557"; copied */
    int bind;             /* 1: bind the endpoint and wait for receivers; 0: connect to it */
    double speed;         /* event time per wall-clock time (60: a minute a second); 0: no pacing */
    int batch;            /* most lines per message, >= 1 */
    int64_t linger_ns;    /* how long sim_pub_finish() waits for queued messages, >= 0 */
    int hwm;              /* send high-water mark in messages; 0: none; -1: ZeroMQ's (1000) */
} sim_pub_opts_t;

typedef struct {
    uint64_t lines, messages, bytes; /* sent (the last line counts even without its newline) */
    uint64_t stalls;                 /* sends that had to wait for the receiver */
    double stall_seconds;            /* time spent in those waits */
    double seconds;                  /* from sim_pub_create() to the end of sim_pub_finish() */
} sim_pub_stats_t;

/* Fills po with the defaults: no endpoint, connect, no pacing, SIM_PUB_BATCH
 * lines, SIM_PUB_LINGER_NS, ZeroMQ's high-water mark. */
void sim_pub_opts_defaults(sim_pub_opts_t *po);

/*
 * Opens the socket (binds or connects) and the stream. `tee`, when not NULL,
 * receives every byte written to the stream (it is neither flushed nor
 * closed); `notices`, when not NULL, is told of sends that wait longer than
 * SIM_PUB_STALL_NOTICE_NS. Returns 0 and sets *out, which the caller frees
 * with sim_pub_destroy(); or SW_EINVAL (bad options), SW_ENOMEM, or SW_EIO
 * (the endpoint cannot be bound or connected), with a sentence naming the
 * endpoint and ZeroMQ's reason in msg (may be NULL); nothing is left open.
 */
int sim_pub_create(const sim_pub_opts_t *po, FILE *tee, FILE *notices, sim_pub_t **out, char *msg,
                   size_t msglen);

/* The stream to write the traffic to; owned by p: do not fclose() it. A
 * failed write (send error, tee error) sets its error flag, and every later
 * write fails too; sim_pub_finish() says why. */
FILE *sim_pub_stream(sim_pub_t *p);

/*
 * Closes the stream, sends what is left (a last line without its newline
 * included), closes the socket and waits up to linger_ns for the queued
 * messages to leave. Returns 0; or SW_EIO with a sentence in msg (may be
 * NULL) when a send or a tee write failed, or when the linger ran out with
 * messages possibly still queued (they are then dropped). Call it once;
 * sim_pub_stats() is final afterwards.
 */
int sim_pub_finish(sim_pub_t *p, char *msg, size_t msglen);

/* The counts so far (final after sim_pub_finish()). */
void sim_pub_stats(const sim_pub_t *p, sim_pub_stats_t *st);

/* Frees p; without sim_pub_finish() first, what is still queued is dropped
 * at once. sim_pub_destroy(NULL) is a no-op. */
void sim_pub_destroy(sim_pub_t *p);

#endif
