/*
 * sink_zmq.c - alerts published on a ZeroMQ PUB socket (sink_zmq.h).
 *
 * A message is sent as two frames, topic then body, both ZMQ_DONTWAIT.
 * libzmq decides at the first frame whether the message goes out: the
 * high-water mark counts whole messages, so once the topic frame is
 * accepted the body frame is too. A refused topic frame therefore drops the
 * alert cleanly, with nothing half-sent.
 */
#include "sink_zmq.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "err.h"
#include "errburst.h"
#include "log.h"

#define ENDPOINT_MAX 256

struct sink_zmq {
    void *sock;
    char endpoint[ENDPOINT_MAX];
    int hwm;
    sink_zmq_stats_t st;
    errburst_t drops, errors;
};

sink_zmq_t *sink_zmq_create(void *zmq_ctx, const char *endpoint, char *err, size_t errlen)
{
    return sink_zmq_create_hwm(zmq_ctx, endpoint, SINK_ZMQ_DEFAULT_HWM, err, errlen);
}

sink_zmq_t *sink_zmq_create_hwm(void *zmq_ctx, const char *endpoint, int hwm, char *err,
                                size_t errlen)
{
    if (!zmq_ctx || !endpoint || !*endpoint) {
        sw_errf(err, errlen, "alert publisher: no ZeroMQ context or endpoint");
        return NULL;
    }
    sink_zmq_t *s = calloc(1, sizeof(*s));
    if (!s) {
        sw_errf(err, errlen, "%s: out of memory", endpoint);
        return NULL;
    }
    if (hwm <= 0)
        hwm = SINK_ZMQ_DEFAULT_HWM;
    s->hwm = hwm;
    int linger = SINK_ZMQ_LINGER_MS, nodrop = 1;
    size_t eplen = sizeof(s->endpoint);
    s->sock = zmq_socket(zmq_ctx, ZMQ_PUB);
    if (!s->sock || zmq_setsockopt(s->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm)) < 0 ||
        zmq_setsockopt(s->sock, ZMQ_LINGER, &linger, sizeof(linger)) < 0 ||
        zmq_setsockopt(s->sock, ZMQ_XPUB_NODROP, &nodrop, sizeof(nodrop)) < 0 ||
        zmq_bind(s->sock, endpoint) < 0 ||
        zmq_getsockopt(s->sock, ZMQ_LAST_ENDPOINT, s->endpoint, &eplen) < 0) {
        sw_errf(err, errlen, "%s: %s", endpoint, zmq_strerror(zmq_errno()));
        if (s->sock) {
            linger = 0;
            zmq_setsockopt(s->sock, ZMQ_LINGER, &linger, sizeof(linger));
            zmq_close(s->sock);
        }
        free(s);
        return NULL;
    }
    return s;
}

static int send_failed(sink_zmq_t *s, int64_t now, const char *kind)
{
    s->st.errors++;
    errburst_fail(&s->errors, now, LOG_ERROR, "%s: cannot publish a %s alert: %s", s->endpoint,
                  kind, zmq_strerror(zmq_errno()));
    return SW_EIO;
}

int sink_zmq_send(sink_zmq_t *s, const char *kind, const char *line, size_t len)
{
    if (!s || !kind || !*kind || (!line && len))
        return SW_EINVAL;
    if (len > 0 && line[len - 1] == '\n')
        len--;
    int64_t now = errburst_now();
    /* the body frame is not expected to fail once the topic went: see the top */
    if (zmq_send(s->sock, kind, strlen(kind), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        if (zmq_errno() == EAGAIN) {
            s->st.dropped++;
            errburst_fail(&s->drops, now, LOG_WARN,
                          "%s: a subscriber's queue is full (%d alerts): %s alert dropped",
                          s->endpoint, s->hwm, kind);
            return SW_EFULL;
        }
        return send_failed(s, now, kind);
    }
    if (zmq_send(s->sock, line, len, ZMQ_DONTWAIT) < 0)
        return send_failed(s, now, kind);
    s->st.sent++;
    errburst_ok(&s->drops, now, "%s: subscribers take alerts again", s->endpoint);
    errburst_ok(&s->errors, now, "%s: alerts published again", s->endpoint);
    return SW_OK;
}

const char *sink_zmq_endpoint(const sink_zmq_t *s)
{
    return s->endpoint;
}

const sink_zmq_stats_t *sink_zmq_stats(const sink_zmq_t *s)
{
    return &s->st;
}

void sink_zmq_destroy(sink_zmq_t *s)
{
    if (!s)
        return;
    zmq_close(s->sock);
    free(s);
}
