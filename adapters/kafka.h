/*
 * kafka.h - Apache Kafka for the daemon (librdkafka): an ingest consumer
 * in a consumer group, and an optional alert producer.
 *
 * Ingest: a message carries line protocol, as a ZeroMQ message does;
 * producers key messages by User, so each User's series live in one
 * partition, and instances in one group share the partitions (each User is
 * read by one instance). Offsets are not committed automatically: the
 * daemon commits what it has handed to detection (kafka_in_commit), so a
 * crash re-reads at most what was in flight (the repeats are dropped as
 * duplicates, never counted twice).
 *
 * Alerts: each alert line is produced to a topic, keyed by User.
 *
 * DESIGN: a kafka_in_t belongs to the daemon's ingest thread (librdkafka's
 * own threads stay inside the library); a kafka_out_t may be shared by
 * threads (librdkafka's produce is thread-safe, the counts are atomic).
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

typedef struct {
    const char *brokers;   /* bootstrap.servers, e.g. 127.0.0.1:9092 */
    const char *topic;     /* the ingest topic */
    const char *group;     /* group.id: instances sharing the feed */
    kafka_props_t props;
    /* called on the polling thread, inside kafka_in_poll, when partitions
     * are assigned (before any of their messages) and before they are
     * revoked; NULL: not called */
    void (*on_assign)(void *ctx);
    void (*on_revoke)(void *ctx);
    void *ctx;
} kafka_in_opts_t;

typedef struct {
    uint64_t messages, bytes, errors, rebalances;
    int32_t partitions;    /* partitions assigned now */
} kafka_in_stats_t;

typedef struct kafka_in kafka_in_t;

/* Joins the group and subscribes. NULL with a message in err on bad settings. */
kafka_in_t *kafka_in_open(const kafka_in_opts_t *o, char *err, size_t errlen);

/*
 * Waits up to timeout_ms for messages and hands each message's payload,
 * partition and key to on_msg, at most `max` of them. Returns the number
 * handed over.
 */
int kafka_in_poll(kafka_in_t *k, int timeout_ms, int max,
                  void (*on_msg)(void *ctx, const char *data, size_t len, int32_t partition,
                                 const char *key, size_t keylen),
                  void *ctx);

/* The partitions assigned now (at most max of them); returns their number. */
size_t kafka_in_assigned(const kafka_in_t *k, int32_t *out, size_t max);

/* Commits the offsets of every message handed over so far (asynchronously). */
void kafka_in_commit(kafka_in_t *k);

void kafka_in_stats(const kafka_in_t *k, kafka_in_stats_t *out);

/* Commits, leaves the group (its partitions go to the others) and frees. */
void kafka_in_close(kafka_in_t *k);

typedef struct {
    const char *brokers, *topic;
    kafka_props_t props;
} kafka_out_opts_t;

typedef struct kafka_out kafka_out_t;

kafka_out_t *kafka_out_open(const kafka_out_opts_t *o, char *err, size_t errlen);
/* Queues one alert line keyed by `user`; 0, or -1 when the queue is full (counted). */
int kafka_out_send(kafka_out_t *k, const char *user, const char *line, size_t len);
/* Delivered and failed messages so far. */
void kafka_out_counts(const kafka_out_t *k, uint64_t *sent, uint64_t *failed);
/* Waits up to timeout_ms for queued messages, then frees. */
void kafka_out_close(kafka_out_t *k, int timeout_ms);

#endif
