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

#define ENDPOINT_MAX 256

struct sink_zmq {
    void *sock;
    char endpoint[ENDPOINT_MAX];
    sink_zmq_stats_t st;
};

sink_zmq_t *sink_zmq_create(void *zmq_ctx, const char *endpoint, char *err, size_t errlen)
{
    return sink_zmq_create_hwm(zmq_ctx, endpoint, SINK_ZMQ_DEFAULT_HWM, err, errlen);
}

sink_zmq_t *sink_zmq_create_hwm(void *zmq_ctx, const char *endpoint, int hwm, char *err,
                                size_t errlen)
{
    if (!zmq_ctx || !endpoint || !*endpoint) {
        snprintf(err, errlen, "alert publisher: no ZeroMQ context or endpoint");
        return NULL;
    }
    sink_zmq_t *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "%s: out of memory", endpoint);
        return NULL;
    }
    if (hwm <= 0)
        hwm = SINK_ZMQ_DEFAULT_HWM;
    int linger = SINK_ZMQ_LINGER_MS, nodrop = 1;
    size_t eplen = sizeof(s->endpoint);
    s->sock = zmq_socket(zmq_ctx, ZMQ_PUB);
    if (!s->sock || zmq_setsockopt(s->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm)) < 0 ||
        zmq_setsockopt(s->sock, ZMQ_LINGER, &linger, sizeof(linger)) < 0 ||
        zmq_setsockopt(s->sock, ZMQ_XPUB_NODROP, &nodrop, sizeof(nodrop)) < 0 ||
        zmq_bind(s->sock, endpoint) < 0 ||
        zmq_getsockopt(s->sock, ZMQ_LAST_ENDPOINT, s->endpoint, &eplen) < 0) {
        snprintf(err, errlen, "%s: %s", endpoint, zmq_strerror(zmq_errno()));
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

int sink_zmq_send(sink_zmq_t *s, const char *kind, const char *line, size_t len)
{
    if (!s || !kind || !*kind || (!line && len))
        return SW_EINVAL;
    if (len > 0 && line[len - 1] == '\n')
        len--;
    if (zmq_send(s->sock, kind, strlen(kind), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        if (zmq_errno() == EAGAIN) {
            s->st.dropped++;
            return SW_EFULL;
        }
        s->st.errors++;
        return SW_EIO;
    }
    if (zmq_send(s->sock, line, len, ZMQ_DONTWAIT) < 0) {
        s->st.errors++; /* not expected once the topic went: see the top */
        return SW_EIO;
    }
    s->st.sent++;
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
