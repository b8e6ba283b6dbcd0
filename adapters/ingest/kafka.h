/*
 * kafka.h - Apache Kafka for the daemon (librdkafka): a consumer in a
 * consumer group, a reader of whole partitions, and producers.
 *
 * Consumer: instances in one group share a topic's partitions (eager
 * assignment by default: a rebalance revokes every partition and assigns
 * them anew; cooperative-sticky when asked, moving only those that change
 * hands). The rebalance callbacks run inside
 * kafka_in_poll, on the polling thread: on_assign before any message of
 * the new partitions is fetched, on_revoke before they go (or, `lost`,
 * after they went: the group moved on without us). Offsets are never
 * committed by the library: the caller commits what it has processed
 * (kafka_in_commit), so a crash re-reads what was in flight.
 *
 * Reader: reads given partitions of a topic from their start to their end
 * as of the call (a compacted topic read back: the learned state).
 *
 * Producer: messages keyed (the partitioner places them) or to a given
 * partition. A message refused at once (a queue that stays full, too
 * large) or not delivered (brokers unreachable past message.timeout.ms) is
 * counted as failed and logged once per burst (errburst.h), with one line
 * when messages are delivered again.
 *
 * DESIGN: a kafka_in_t and a kafka_reader_t belong to one thread at a time
 * (the daemon's ingest thread; main opens them before it starts and closes
 * what is left after joining it; librdkafka's own threads stay inside the
 * library). A kafka_in_t's callbacks and on_msg run on the polling thread,
 * inside the call; a kafka_msg_t and the partition lists are valid during
 * the callback only. A kafka_out_t may be shared by threads: librdkafka's
 * produce is thread-safe and copies the key and data; delivery reports run
 * on whichever thread polls (every send polls), so the counts are atomic
 * and the failure log's burst is guarded by a mutex. Open and close are
 * not concurrent with anything else on the object.
 */
#ifndef SW_KAFKA_H
#define SW_KAFKA_H

#include <stddef.h>
#include <stdint.h>

/* More librdkafka settings (security.protocol, sasl.*, ssl.*): key/value pairs. */
typedef struct {
    const char *const *keys, *const *values;
    size_t n;
} kafka_props_t;

/* The header naming the instance that produced a message (kafka_out_opts_t.origin). */
#define KAFKA_ORIGIN_HEADER "stormwatch-origin"

/* One message: its payload (NULL, 0 for a tombstone), where it came from. */
typedef struct {
    const char *data;
    size_t len;
    const char *key;
    size_t keylen;
    int32_t partition;
    int64_t offset;
    const char *origin;    /* its KAFKA_ORIGIN_HEADER (not NUL-terminated); NULL: none */
    size_t originlen;
} kafka_msg_t;

typedef void (*kafka_msg_fn)(void *ctx, const kafka_msg_t *m);

typedef struct {
    const char *brokers;   /* bootstrap.servers, e.g. 127.0.0.1:9092 */
    const char *topic;
    const char *group;     /* group.id: instances sharing the topic */
    kafka_props_t props;
    void (*on_assign)(void *ctx, const int32_t *parts, size_t n);
    void (*on_revoke)(void *ctx, const int32_t *parts, size_t n, int lost);
    void *ctx;
} kafka_in_opts_t;

typedef struct {
    uint64_t messages, bytes, errors, rebalances, commits, commit_failures;
    int32_t partitions;    /* partitions assigned now */
} kafka_in_stats_t;

typedef struct kafka_in kafka_in_t;

/* Joins the group and subscribes. NULL with a message in err on bad settings. */
kafka_in_t *kafka_in_open(const kafka_in_opts_t *o, char *err, size_t errlen);

/* Waits up to timeout_ms for messages and hands each to on_msg, at most
 * `max` of them. Returns the number handed over. */
int kafka_in_poll(kafka_in_t *k, int timeout_ms, int max, kafka_msg_fn on_msg, void *ctx);

/* The partitions assigned now (at most max of them); returns their number. */
size_t kafka_in_assigned(const kafka_in_t *k, int32_t *out, size_t max);

/* Commits, for each of the n partitions, `next[i]`: the offset to read
 * next. Synchronously when `sync` (then 0 or -1, logged), else queued (0). */
int kafka_in_commit(kafka_in_t *k, const int32_t *parts, const int64_t *next, size_t n, int sync);

void kafka_in_stats(const kafka_in_t *k, kafka_in_stats_t *out);

/* Leaves the group (on_revoke runs for what it holds) and frees. */
void kafka_in_close(kafka_in_t *k);

typedef struct kafka_reader kafka_reader_t;

kafka_reader_t *kafka_reader_open(const char *brokers, const char *topic, const kafka_props_t *p,
                                  char *err, size_t errlen);
/* The topic's partition count, or -1 (logged) when the cluster does not say. */
int kafka_reader_partitions(kafka_reader_t *r, int timeout_ms);
/* Reads the n partitions from their start to their end as of now, each
 * message to on_msg in order of offset per partition. Returns the messages
 * read, or -1 (logged) when the end was not reached within timeout_ms. */
long kafka_reader_read(kafka_reader_t *r, const int32_t *parts, size_t n, int timeout_ms,
                       kafka_msg_fn on_msg, void *ctx);
void kafka_reader_close(kafka_reader_t *r);

typedef struct {
    const char *brokers, *topic;
    kafka_props_t props;
    const char *origin;    /* every message carries it as KAFKA_ORIGIN_HEADER; NULL: none */
} kafka_out_opts_t;

typedef struct kafka_out kafka_out_t;

kafka_out_t *kafka_out_open(const kafka_out_opts_t *o, char *err, size_t errlen);
/* Queues one message keyed by `key` (placed by the partitioner); 0, or -1
 * when the queue stays full (counted as failed). */
int kafka_out_send(kafka_out_t *k, const char *key, const char *data, size_t len);
/* The same to partition `partition`. */
int kafka_out_send_to(kafka_out_t *k, int32_t partition, const char *key, const char *data,
                      size_t len);
/* Waits up to timeout_ms for every queued message to be delivered: 0, or
 * -1 when some were not. */
int kafka_out_flush(kafka_out_t *k, int timeout_ms);
/* Takes the delivery reports come in so far, without waiting: the counts
 * move only when a send, a flush or this polls. Any thread. */
void kafka_out_poll(kafka_out_t *k);
/* Delivered and failed messages so far (as of the last poll). */
void kafka_out_counts(const kafka_out_t *k, uint64_t *sent, uint64_t *failed);
/* Waits up to timeout_ms for queued messages, then frees. */
void kafka_out_close(kafka_out_t *k, int timeout_ms);

#endif
