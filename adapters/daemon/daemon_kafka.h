/*
 * daemon_kafka.h - the daemon's Kafka side (daemon_kafka.c): ingest from a
 * consumer group, the partitions as sources, the alerts topic, the shared
 * changes topic and the learned state that moves with partitions.
 *
 * DESIGN: dk_poll, dk_sources, dk_commit and dk_leave run on the ingest
 * thread (the consumers' callbacks with them: rebalances, shared changes,
 * other instances' alert lines, queued for the alert thread); dk_alert and
 * dk_peer_alert on the alert thread; dk_share_* on HTTP threads;
 * dk_checkpoint on the main thread; dk_publish on shard threads; dk_metrics
 * on HTTP threads; dk_open and dk_close on main, before the threads start
 * and after they are joined. The producers are shared (librdkafka's
 * produce is thread-safe); the counters read by dk_metrics and the
 * checkpoint's commit limit are atomics; a checkpoint's staged states are
 * main's; everything else belongs to the ingest thread. A checkpoint and
 * the states read back on assignment each park the shards under ckpt_lock.
 * Lines, blobs and ids passed in are borrowed for the call.
 */
#ifndef SW_DAEMON_KAFKA_H
#define SW_DAEMON_KAFKA_H

#include <stddef.h>
#include <stdio.h>

#include "alert.h"
#include "daemon_int.h"

/* Opens what the run options ask for (d->kafka stays NULL without
 * --kafka-brokers). SW_OK, or SW_ECONFIG / SW_ENOMEM with a message. */
int dk_open(daemon_t *d, char *err, size_t errlen);
/* Commits what was taken, leaves the group, flushes the producers, frees. */
void dk_close(daemon_t *d);
int dk_reads_ingest(const daemon_t *d);

/* Ingest thread: waits up to timeout_ms for ingest messages and feeds them
 * to the router, then takes shared changes and state. Returns the number of
 * ingest messages taken. */
int dk_poll(daemon_t *d, int timeout_ms);
/* Ingest thread, each round: which partitions flow, which went quiet. */
void dk_sources(daemon_t *d, double stall_s);
/* Ingest thread, every second: commits the offsets of what was taken. */
void dk_commit(daemon_t *d);

/* Alert thread: the alert line (without its newline) to the alerts topic. */
void dk_alert(daemon_t *d, const alert_t *a, const char *line, size_t len);
/* Set-up: the tag of this instance's incident ids: 0 unless it reads a
 * Kafka topic (where several instances may share the work), else a random
 * one, logged. */
unsigned dk_incident_tag(const daemon_t *d);
/* Alert thread: another instance's alert line (the alerts topic), for the
 * alert stage to group with (alerts_remote). A line it cannot read is
 * counted and skipped. */
void dk_peer_alert(daemon_t *d, const char *line);
/* Ingest thread, the daemon stopping: leaves the group, handing over what
 * it holds (with a state topic) and committing what was processed. */
void dk_leave(daemon_t *d);

/* With a state topic: every User's state out, then offsets may follow
 * (main thread, every kafka_checkpoint). */
int dk_has_state_topic(const daemon_t *d);
void dk_checkpoint(daemon_t *d);
/* Shard threads: a User's state to the state topic (shard_opts_t.publish). */
void dk_publish(void *daemon, const char *user, unsigned src, const unsigned char *blob,
                size_t len);

/* HTTP threads: a change declared or withdrawn here, to the changes topic. */
void dk_share_declared(void *daemon, const char *stored);
void dk_share_withdrawn(void *daemon, const char *id);

void dk_metrics(daemon_t *d, FILE *out);

#endif
