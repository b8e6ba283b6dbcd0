/*
 * sink_am.c - alerts to Alertmanager's API v2 (sink_am.h).
 *
 * An alert is rendered once, on the caller's thread, into the JSON object
 * Alertmanager takes (a msg_t). It starts from the alert's line
 * (alert_format_json(), section 3 of the formats), so both say the same
 * thing in the same words. Messages are reference-counted under the mutex
 * and shared by the URL queues, the firing table and the re-send lists.
 *
 * The sender thread runs every URL's request at once with libcurl's multi
 * interface. It copies a batch into the URL's request body under the mutex
 * and posts it without. Queue entries carry a per-URL sequence number: a
 * successful post removes the entries up to the last one it carried, which
 * stays right when the caller dropped the oldest in the meantime.
 *
 * The queue file is one JSON document:
 *   {"version":1,"queues":[{"url":"http://...","alerts":[{...},...]},...]}
 * each alert exactly the object that is posted.
 *
 * Size: about 1100 lines, kept whole on purpose: the persistent queue,
 * the firing table and the sender thread share one mutex and one
 * reference-counted message; apart, that locking would span files.
 */
#include "sink_am.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "errburst.h"
#include "fileio.h"
#include "log.h"
#include "monotime.h"
#include "timefmt.h"
#include "vec.h"

#define QUEUE_FILE_VERSION 1
#define API_PATH "/api/v2/alerts"
/* The sender wakes at least this often, to notice retry and re-send times. */
#define IDLE_MAX_MS 1000
/* After a failed write of the queue file, the next attempt waits this long. */
#define PERSIST_RETRY_NS (INT64_C(1) * 1000000000)
#define RESP_KEEP 256 /* bytes of a refusal's body kept for the log */
/* Queue files larger than this are refused unread: the default bound of
 * 10000 alerts of about 1 KB makes about 10 MB per URL, so 256 MiB is
 * beyond any queue this sink writes, yet far below memory trouble. */
#define QUEUE_FILE_MAX_BYTES (UINT64_C(256) << 20)

typedef struct {
    unsigned refs; /* under mu */
    size_t len;
    char json[];
} msg_t;

typedef struct {
    uint64_t seq;
    msg_t *m;
} qent_t;

/* A firing alert: its identity, the labels it fired with, its message. */
typedef struct {
    char *key, *labels;
    msg_t *m;
} fire_t;

enum { POST_NONE, POST_QUEUE, POST_RESEND };

typedef struct {
    char *base;      /* as configured, without a trailing '/' */
    char *base_json; /* base as a JSON string, for the queue file */
    char *api;       /* base + API_PATH */
    CURL *easy;
    /* under mu */
    qent_t *q;       /* ring of pending alerts, oldest at qhead */
    size_t qhead, qn, qcap;
    uint64_t seq_next;
    msg_t **rs;      /* firing alerts still to re-send this round */
    size_t rsn, rscap;
    /* sender thread only */
    int post;        /* POST_*: what is in flight */
    uint64_t post_seq;
    size_t post_n;
    int64_t retry_at, backoff, resend_at;
    int failing, gave_up;
    int ready;       /* start_post() built a body: launch it */
    char *body;
    size_t body_len, body_cap;
    char resp[RESP_KEEP];
    size_t resp_len;
    char errbuf[CURL_ERROR_SIZE];
} target_t;

struct sink_am {
    sink_am_opts_t o;      /* urls not kept: see targets */
    char *queue_path, *generator_url;
    target_t *t;
    size_t nt;
    CURLM *multi;
    struct curl_slist *hdrs;
    int curl_inited, mu_inited;
    pthread_t thread;
    pthread_mutex_t mu;
    /* under mu */
    fire_t *fire;          /* in firing order */
    size_t nfire, capfire;
    sink_am_stats_t st;    /* pending and firing computed on demand */
    int stopping;
    int dirty;             /* the queues changed since the file was written */
    /* sender thread only (and create, before it starts) */
    int file_exists;
    errburst_t persist_burst; /* .failing: the file is behind the queues */
    int64_t persist_retry_at;
};

/* ---- messages, queues and the firing table (all under mu) ---- */

/* A message `{"labels":LABELS,REST...` from labels "{...}" and the rest
 * "{...}" of the object, with one reference. */
static msg_t *msg_new(const char *labels, const char *rest)
{
    size_t ll = strlen(labels), rl = strlen(rest);
    msg_t *m = malloc(sizeof(*m) + 11 + ll + 1 + rl);
    if (!m)
        return NULL;
    m->refs = 1;
    m->len = (size_t)sprintf(m->json, "{\"labels\":%s,%s", labels, rest + 1);
    return m;
}

static msg_t *msg_ref(msg_t *m)
{
    m->refs++;
    return m;
}

static void msg_unref(msg_t *m)
{
    if (m && --m->refs == 0)
        free(m);
}

static qent_t *q_at(target_t *t, size_t i)
{
    return &t->q[(t->qhead + i) % t->qcap];
}

/* Makes room for one more entry, unless the queue is at its bound (the
 * push then drops the oldest). 0, or SW_ENOMEM with the queue unchanged. */
static int q_reserve(target_t *t, size_t qmax)
{
    if (t->qn < t->qcap || t->qn >= qmax)
        return SW_OK;
    return VEC_RING_GROW(t->q, t->qcap, t->qhead, t->qn, 16, qmax);
}

/* Appends m (taking a reference) after q_reserve(); a full queue drops its
 * oldest, counted. */
static void q_push(sink_am_t *s, target_t *t, msg_t *m)
{
    if (t->qn >= s->o.queue_max) {
        msg_unref(t->q[t->qhead].m);
        t->qhead = (t->qhead + 1) % t->qcap;
        t->qn--;
        s->st.dropped++;
    }
    *q_at(t, t->qn) = (qent_t){ t->seq_next++, msg_ref(m) };
    t->qn++;
}

/* Removes the entries up to sequence `seq`; returns how many. */
static size_t q_pop_upto(target_t *t, uint64_t seq)
{
    size_t n = 0;
    while (t->qn && t->q[t->qhead].seq <= seq) {
        msg_unref(t->q[t->qhead].m);
        t->qhead = (t->qhead + 1) % t->qcap;
        t->qn--;
        n++;
    }
    return n;
}

/* Takes m out of every re-send list, so a resolved or replaced alert is
 * never re-sent after its successor. */
static void rs_scrub(sink_am_t *s, const msg_t *m)
{
    for (size_t i = 0; i < s->nt; i++) {
        target_t *t = &s->t[i];
        size_t k = 0;
        for (size_t j = 0; j < t->rsn; j++) {
            if (t->rs[j] == m)
                msg_unref(t->rs[j]);
            else
                t->rs[k++] = t->rs[j];
        }
        t->rsn = k;
    }
}

static void rs_clear(target_t *t)
{
    for (size_t j = 0; j < t->rsn; j++)
        msg_unref(t->rs[j]);
    t->rsn = 0;
}

static ptrdiff_t fire_find(const sink_am_t *s, const char *key)
{
    for (size_t i = 0; i < s->nfire; i++)
        if (strcmp(s->fire[i].key, key) == 0)
            return (ptrdiff_t)i;
    return -1;
}

static void fire_remove(sink_am_t *s, size_t i)
{
    rs_scrub(s, s->fire[i].m);
    msg_unref(s->fire[i].m);
    free(s->fire[i].key);
    free(s->fire[i].labels);
    memmove(&s->fire[i], &s->fire[i + 1], (s->nfire - i - 1) * sizeof(*s->fire));
    s->nfire--;
}

/* ---- rendering (caller's thread) ---- */

/* Replaces each byte that is not part of valid UTF-8 with '?', so the line
 * parses (JSON is UTF-8; a User id from the feed might not be). */
static void utf8_scrub(char *p, size_t n)
{
    unsigned char *b = (unsigned char *)p;
    size_t i = 0;
    while (i < n) {
        unsigned c = b[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            len = 2, cp = c & 0x1f, min = 0x80;
        else if (c >= 0xe0 && c <= 0xef)
            len = 3, cp = c & 0x0f, min = 0x800;
        else if (c >= 0xf0 && c <= 0xf4)
            len = 4, cp = c & 0x07, min = 0x10000;
        else {
            b[i++] = '?';
            continue;
        }
        size_t k = 1;
        for (; k < len && i + k < n && (b[i + k] & 0xc0) == 0x80; k++)
            cp = cp << 6 | (b[i + k] & 0x3fu);
        if (k < len || cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            b[i++] = '?';
        else
            i += len;
    }
}

/* Copies the line's string `from` to `to` in dst when it is a non-empty
 * string; 0, or -1 when out of memory. */
static int copy_str(json_t *dst, const char *to, json_t *src, const char *from)
{
    json_t *v = json_object_get(src, from);
    if (!json_is_string(v) || json_string_length(v) == 0)
        return 0;
    return json_object_set(dst, to, v);
}

/* The line's integer `from` as label `to` (labels are strings); nothing
 * when absent. */
static int copy_int(json_t *dst, const char *to, json_t *src, const char *from)
{
    json_t *v = json_object_get(src, from);
    if (!json_is_integer(v))
        return 0;
    char b[24];
    snprintf(b, sizeof(b), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return json_object_set_new(dst, to, json_string(b));
}

/* The line's boolean `from` as label `to` ("true" or "false"); nothing
 * when absent. */
static int copy_bool(json_t *dst, const char *to, json_t *src, const char *from)
{
    json_t *v = json_object_get(src, from);
    if (!json_is_boolean(v))
        return 0;
    return json_object_set_new(dst, to, json_string(json_is_true(v) ? "true" : "false"));
}

static int set_time(json_t *o, const char *key, int64_t ns)
{
    char b[TF_BUFLEN];
    tf_format(ns, b);
    return json_object_set_new(o, key, json_string(b));
}

/* The line's number `from` as an annotation with two decimals, as the line
 * writes it; nothing when it is null. */
static int set_rate(json_t *ann, const char *to, json_t *line, const char *from)
{
    json_t *v = json_object_get(line, from);
    if (!json_is_number(v))
        return 0;
    char b[64];
    snprintf(b, sizeof(b), "%.2f msg/s", json_number_value(v)); /* a rate: say so */
    return json_object_set_new(ann, to, json_string(b));
}

static int set_impacted(json_t *ann, json_t *line)
{
    json_t *arr = json_object_get(line, "impacted_users");
    size_t n = json_array_size(arr), len = 0, i;
    json_t *v;
    if (n == 0)
        return 0;
    json_array_foreach(arr, i, v) len += json_string_length(v) + 1;
    char *b = malloc(len), *p = b;
    if (!b)
        return -1;
    json_array_foreach(arr, i, v)
    {
        if (i)
            *p++ = ',';
        size_t l = json_string_length(v);
        memcpy(p, json_string_value(v), l);
        p += l;
    }
    *p = '\0';
    int rc = json_object_set_new(ann, "impacted_users", json_string(b));
    free(b);
    return rc;
}

/* Renders `a` as its identity key, its labels and the rest of its
 * Alertmanager object, each a JSON text the caller frees. 0 or SW_ENOMEM. */
static int render(const sink_am_t *s, const alert_t *a, char **key, char **labels, char **rest)
{
    *key = *labels = *rest = NULL;
    size_t n = alert_format_json(a, NULL, 0);
    char *line = malloc(n + 1);
    if (!line)
        return SW_ENOMEM;
    alert_format_json(a, line, n + 1);
    utf8_scrub(line, n);
    json_t *l = json_loadb(line, n, 0, NULL);
    free(line);
    json_t *id = json_object(), *lab = json_object(), *ann = json_object(), *obj = json_object();
    int bad = !l || !id || !lab || !ann || !obj;
    if (!bad) {
        json_t *chg = json_object_get(l, "change");
        /* each step returns -1 on failure; || stops there, in this order */
        bad = copy_str(id, "alertname", l, "alert") || copy_str(id, "user", l, "user") ||
              copy_str(id, "dir", l, "dir") || copy_str(id, "class", l, "class") ||
              copy_int(id, "partition", l, "partition") || copy_str(id, "incident", l, "incident") ||
              json_object_update(lab, id) || copy_str(lab, "severity", l, "severity") ||
              copy_str(lab, "incident_role", l, "incident_role") ||
              copy_bool(lab, "learning", l, "learning") ||
              copy_str(lab, "correlation", l, "correlation") ||
              copy_str(lab, "change_id", chg, "id") || copy_str(ann, "summary", l, "summary") ||
              copy_str(ann, "change_title", chg, "title") || set_impacted(ann, l) ||
              set_rate(ann, "value", l, "value") || set_rate(ann, "baseline", l, "baseline") ||
              json_object_set(obj, "annotations", ann) ||
              set_time(obj, "startsAt", a->starts_at) ||
              /* Alertmanager refuses an end before the start */
              (!a->firing && set_time(obj, "endsAt", a->ends_at > a->starts_at ? a->ends_at
                                                                               : a->starts_at)) ||
              (s->generator_url &&
               json_object_set_new(obj, "generatorURL", json_string(s->generator_url)));
    }
    if (!bad) {
        *key = json_dumps(id, JSON_COMPACT | JSON_SORT_KEYS);
        *labels = json_dumps(lab, JSON_COMPACT | JSON_SORT_KEYS);
        *rest = json_dumps(obj, JSON_COMPACT);
    }
    json_decref(l);
    json_decref(id);
    json_decref(lab);
    json_decref(ann);
    json_decref(obj);
    if (!*key || !*labels || !*rest) {
        free(*key);
        free(*labels);
        free(*rest);
        *key = *labels = *rest = NULL;
        return SW_ENOMEM;
    }
    return SW_OK;
}

int sink_am_forget(sink_am_t *s, const alert_t *a)
{
    if (!s || !a)
        return SW_EINVAL;
    char *key, *labels, *rest;
    int rc = render(s, a, &key, &labels, &rest);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&s->mu);
    ptrdiff_t i = fire_find(s, key);
    if (i >= 0)
        fire_remove(s, (size_t)i);
    pthread_mutex_unlock(&s->mu);
    free(key);
    free(labels);
    free(rest);
    return SW_OK;
}

int sink_am_send(sink_am_t *s, const alert_t *a)
{
    if (!s || !a)
        return SW_EINVAL;
    char *key, *labels, *rest;
    int rc = render(s, a, &key, &labels, &rest);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&s->mu);
    ptrdiff_t i = fire_find(s, key);
    /* a resolution goes out with the labels its alert fired with */
    msg_t *m = msg_new(!a->firing && i >= 0 ? s->fire[i].labels : labels, rest);
    rc = m ? SW_OK : SW_ENOMEM;
    if (m && a->firing && i < 0 && VEC_RESERVE(s->fire, s->capfire, s->nfire + 1, 16) < 0)
        rc = SW_ENOMEM;
    for (size_t k = 0; k < s->nt && rc == SW_OK; k++)
        rc = q_reserve(&s->t[k], s->o.queue_max);
    if (rc == SW_OK) { /* nothing below fails */
        if (i >= 0)
            fire_remove(s, (size_t)i);
        if (a->firing) {
            s->fire[s->nfire++] = (fire_t){ key, labels, msg_ref(m) };
            key = labels = NULL;
        }
        for (size_t k = 0; k < s->nt; k++)
            q_push(s, &s->t[k], m);
        s->st.queued++;
        s->dirty = 1;
    }
    msg_unref(m);
    pthread_mutex_unlock(&s->mu);
    if (rc == SW_OK)
        curl_multi_wakeup(s->multi);
    free(key);
    free(labels);
    free(rest);
    return rc;
}

/* ---- the queue file ---- */

/* Writes buf (len bytes) to `path` atomically, or removes the file when buf
 * is NULL. 0, or -1 with errno set; on error the old file is untouched. */
static int file_replace(const char *path, const char *buf, size_t len)
{
    if (!buf) {
        if (unlink(path) < 0 && errno != ENOENT)
            return -1;
        fio_sync_dir(path);
        return 0;
    }
    return fio_replace(path, buf, len);
}

/* Under mu: the file's new content (NULL: remove it, nothing is pending),
 * or -1 when out of memory. */
static int snapshot(sink_am_t *s, char **out, size_t *outlen)
{
    size_t len = 64;
    for (size_t i = 0; i < s->nt; i++) {
        len += strlen(s->t[i].base_json) + 32;
        for (size_t k = 0; k < s->t[i].qn; k++)
            len += q_at(&s->t[i], k)->m->len + 1;
    }
    *out = NULL;
    *outlen = 0;
    size_t pending = 0;
    for (size_t i = 0; i < s->nt; i++)
        pending += s->t[i].qn;
    if (!pending)
        return 0;
    char *b = malloc(len), *p = b;
    if (!b)
        return -1;
    p += sprintf(p, "{\"version\":%d,\"queues\":[", QUEUE_FILE_VERSION);
    int first = 1;
    for (size_t i = 0; i < s->nt; i++) {
        target_t *t = &s->t[i];
        if (!t->qn)
            continue;
        p += sprintf(p, "%s{\"url\":%s,\"alerts\":[", first ? "" : ",", t->base_json);
        first = 0;
        for (size_t k = 0; k < t->qn; k++) {
            const msg_t *m = q_at(t, k)->m;
            if (k)
                *p++ = ',';
            memcpy(p, m->json, m->len);
            p += m->len;
        }
        p += sprintf(p, "]}");
    }
    p += sprintf(p, "]}\n");
    *out = b;
    *outlen = (size_t)(p - b);
    return 0;
}

/* Sender thread: writes the queues to the file when they changed. 0, or
 * -1 when the file is behind them. */
static int persist(sink_am_t *s, int64_t now)
{
    if (!s->queue_path || now < s->persist_retry_at)
        return s->persist_burst.failing ? -1 : 0;
    char *buf = NULL;
    size_t len = 0;
    pthread_mutex_lock(&s->mu);
    int dirty = s->dirty, rc = 0;
    if (dirty) {
        rc = snapshot(s, &buf, &len);
        if (rc == 0)
            s->dirty = 0;
    }
    pthread_mutex_unlock(&s->mu);
    if (!dirty || (rc == 0 && !buf && !s->file_exists))
        return 0;
    int e = ENOMEM;
    if (rc == 0 && file_replace(s->queue_path, buf, len) == 0) {
        s->file_exists = buf != NULL;
        errburst_ok(&s->persist_burst, now, "%s: alert queue saved again", s->queue_path);
        free(buf);
        return 0;
    }
    if (rc == 0)
        e = errno;
    free(buf);
    pthread_mutex_lock(&s->mu);
    s->dirty = 1;
    s->st.persist_errors++;
    pthread_mutex_unlock(&s->mu);
    s->persist_retry_at = now + PERSIST_RETRY_NS;
    errburst_fail(&s->persist_burst, now, LOG_WARN,
                  "%s: cannot save the alert queue: %s (retrying every %lld s)", s->queue_path,
                  strerror(e), (long long)(PERSIST_RETRY_NS / 1000000000));
    return -1;
}

/*
 * Create: a queue file that is not valid. Strict: refused (SW_EPARSE).
 * Otherwise it is moved aside (never deleted: it may hold alerts worth a
 * look) and the sink starts with empty queues, logged; SW_EIO when it
 * cannot be moved, as it would be overwritten by the next save.
 */
static int queue_corrupt(sink_am_t *s, const char *where, const char *why, char *err,
                         size_t errlen)
{
    if (s->o.strict_queue) {
        sw_errf(err, errlen, "%s: not a valid alert queue (%s); move it aside to start with an "
                 "empty queue", where, why);
        return SW_EPARSE;
    }
    char aside[PATH_MAX], merr[PATH_MAX * 2 + 128];
    if (fio_move_aside(s->queue_path, aside, sizeof(aside), merr, sizeof(merr)) < 0) {
        sw_errf(err, errlen, "%s: not a valid alert queue (%s), and %s", where, why, merr);
        return SW_EIO;
    }
    sw_log(LOG_WARN, "%s: not a valid alert queue (%s): moved aside to %s; starting with an empty "
           "queue", where, why, aside);
    s->st.queue_moved_aside++;
    return SW_OK;
}

/* Create: loads the file into the queues. 0, or a code with the reason in
 * err and nothing loaded. A file that cannot be read (permissions, EIO) is
 * refused whatever the mode: it may be fine. */
static int load_queue(sink_am_t *s, char *err, size_t errlen)
{
    const char *path = s->queue_path;
    unsigned char *raw;
    size_t len;
    int rrc = fio_read(path, QUEUE_FILE_MAX_BYTES, &raw, &len);
    if (rrc == 1)
        return SW_OK;
    if (rrc < 0) {
        int e = errno;
        sw_errf(err, errlen, "%s: cannot read the alert queue: %s", path,
                 e == EINVAL ? "not a regular file" : strerror(e));
        return e == ENOMEM ? SW_ENOMEM : SW_EIO;
    }
    json_error_t je;
    json_t *root = json_loadb((const char *)raw, len, 0, &je);
    free(raw);
    char why[256] = "";
    json_t *qs = NULL;
    size_t i, k;
    json_t *q, *al;
    if (!root) {
        char where[PATH_MAX + 32];
        snprintf(where, sizeof(where), "%s:%d:%d", path, je.line, je.column);
        return queue_corrupt(s, je.line > 0 ? where : path, je.text, err, errlen);
    }
    if (json_integer_value(json_object_get(root, "version")) != QUEUE_FILE_VERSION)
        snprintf(why, sizeof(why), "version is not %d", QUEUE_FILE_VERSION);
    else if (!json_is_array(qs = json_object_get(root, "queues")))
        snprintf(why, sizeof(why), "no array \"queues\"");
    json_array_foreach(qs, i, q)
    {
        json_t *alerts = json_object_get(q, "alerts");
        if (why[0])
            break;
        if (!json_is_string(json_object_get(q, "url")) || !json_is_array(alerts))
            snprintf(why, sizeof(why), "queues[%zu]: not a queue with \"url\" and \"alerts\"", i);
        json_array_foreach(alerts, k, al) if (!why[0] && !json_is_object(json_object_get(al, "labels")))
            snprintf(why, sizeof(why), "queues[%zu].alerts[%zu]: not an alert with labels", i, k);
    }
    if (why[0]) {
        json_decref(root);
        return queue_corrupt(s, path, why, err, errlen);
    }
    int rc = SW_OK;
    json_array_foreach(qs, i, q)
    {
        const char *url = json_string_value(json_object_get(q, "url"));
        json_t *alerts = json_object_get(q, "alerts");
        target_t *t = NULL;
        for (size_t j = 0; j < s->nt; j++)
            if (strcmp(s->t[j].base, url) == 0)
                t = &s->t[j];
        if (!t) {
            sw_log(LOG_WARN, "%s: dropping %zu alerts queued for %s, no longer configured", path,
                   json_array_size(alerts), url);
            s->st.dropped += json_array_size(alerts);
            continue;
        }
        json_array_foreach(alerts, k, al)
        {
            char *text = json_dumps(al, JSON_COMPACT);
            msg_t *m = text ? malloc(sizeof(*m) + strlen(text) + 1) : NULL;
            if (!m || q_reserve(t, s->o.queue_max) < 0) {
                free(text);
                free(m);
                sw_errf(err, errlen, "%s: out of memory", path);
                rc = SW_ENOMEM;
                break;
            }
            m->refs = 1;
            m->len = strlen(text);
            memcpy(m->json, text, m->len + 1);
            free(text);
            q_push(s, t, m);
            msg_unref(m);
        }
        if (rc < 0)
            break;
    }
    json_decref(root);
    s->file_exists = 1;
    s->dirty = 1;
    return rc;
}

/* ---- the sender thread ---- */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    target_t *t = ud;
    size_t len = size * n, room = sizeof(t->resp) - 1 - t->resp_len;
    memcpy(t->resp + t->resp_len, p, len < room ? len : room);
    t->resp_len += len < room ? len : room;
    return len;
}

static int body_add(target_t *t, const char *p, size_t n)
{
    if (t->body_len + n + 2 > t->body_cap) {
        size_t cap = (t->body_len + n + 2) * 2;
        char *b = realloc(t->body, cap);
        if (!b)
            return -1;
        t->body = b;
        t->body_cap = cap;
    }
    memcpy(t->body + t->body_len, p, n);
    t->body_len += n;
    return 0;
}

/* Under mu: builds the next post of t, if one is due. 1 when it is ready
 * to go, 0 when there is nothing to send now. */
static int start_post(sink_am_t *s, target_t *t, int64_t now)
{
    if (t->post || t->gave_up || now < t->retry_at)
        return 0;
    int kind = POST_QUEUE;
    size_t n = t->qn < s->o.batch_max ? t->qn : s->o.batch_max;
    if (!n) {
        if (s->stopping || (!t->rsn && now < t->resend_at))
            return 0;
        if (!t->rsn) { /* a new round: every alert firing now */
            t->resend_at = now + s->o.resend_every_ns;
            if (s->nfire > t->rscap) {
                msg_t **rs = realloc(t->rs, s->nfire * sizeof(*rs));
                if (!rs)
                    return 0; /* the next round tries again */
                t->rs = rs;
                t->rscap = s->nfire;
            }
            for (size_t i = 0; i < s->nfire; i++)
                t->rs[i] = msg_ref(s->fire[i].m);
            t->rsn = s->nfire;
        }
        kind = POST_RESEND;
        n = t->rsn < s->o.batch_max ? t->rsn : s->o.batch_max;
        if (!n)
            return 0;
    }
    t->body_len = 0;
    int bad = body_add(t, "[", 1);
    for (size_t i = 0; i < n && !bad; i++) {
        const msg_t *m = kind == POST_QUEUE ? q_at(t, i)->m : t->rs[i];
        bad = (i && body_add(t, ",", 1)) || body_add(t, m->json, m->len);
    }
    if (bad || body_add(t, "]", 1)) {
        t->retry_at = now + SINK_AM_RETRY_MIN_NS; /* out of memory: later */
        return 0;
    }
    if (kind == POST_QUEUE) {
        t->post_seq = q_at(t, n - 1)->seq;
    } else { /* the body has them: out of the round */
        for (size_t i = 0; i < n; i++)
            msg_unref(t->rs[i]);
        memmove(t->rs, t->rs + n, (t->rsn - n) * sizeof(*t->rs));
        t->rsn -= n;
    }
    t->post = kind;
    t->post_n = n;
    return 1;
}

/* Under mu: the outcome of t's post. */
static void finish_post(sink_am_t *s, target_t *t, CURLcode cc, long code, int64_t now)
{
    int kind = t->post;
    t->post = POST_NONE;
    int ok = cc == CURLE_OK && code >= 200 && code < 300;
    /* 400 or 422: Alertmanager judged the alerts invalid and will never
     * take them; retrying would hold up the queue behind them for good.
     * Any other answer (404 from a wrong path, 401 from a proxy, 5xx) may
     * be fixed, so the alerts wait. */
    int refused = cc == CURLE_OK && (code == 400 || code == 422);
    char body[RESP_KEEP * 4 + 1];
    log_escape(body, sizeof(body), t->resp, t->resp_len, RESP_KEEP);
    if (ok || refused) {
        size_t n = kind == POST_QUEUE ? q_pop_upto(t, t->post_seq) : t->post_n;
        if (refused) {
            sw_log(LOG_ERROR, "%s: Alertmanager refused %zu alerts: HTTP %ld: %s", t->base, n,
                   code, body);
            s->st.rejected += n;
        } else if (kind == POST_QUEUE) {
            s->st.sent += n;
        } else {
            s->st.resent += n;
        }
        if (kind == POST_QUEUE)
            s->dirty = 1;
        if (t->failing) {
            sw_log(LOG_INFO, "%s: delivering alerts again", t->base);
            t->resend_at = now; /* it may have restarted and forgotten them */
        }
        t->failing = 0;
        t->backoff = t->retry_at = 0;
        return;
    }
    s->st.failed++;
    if (kind == POST_RESEND)
        rs_clear(t); /* the round starts again on recovery */
    if (s->stopping)
        t->gave_up = 1;
    t->backoff = t->backoff ? t->backoff * 2 : SINK_AM_RETRY_MIN_NS;
    if (t->backoff > SINK_AM_RETRY_MAX_NS)
        t->backoff = SINK_AM_RETRY_MAX_NS;
    t->retry_at = now + t->backoff;
    log_level_t lvl = t->failing ? LOG_DEBUG : LOG_WARN;
    if (cc != CURLE_OK)
        sw_log(lvl, "%s: cannot deliver alerts: %s; retrying in %lld s", t->base,
               t->errbuf[0] ? t->errbuf : curl_easy_strerror(cc), (long long)(t->backoff / 1000000000));
    else
        sw_log(lvl, "%s: cannot deliver alerts: HTTP %ld: %s; retrying in %lld s", t->base, code,
               body, (long long)(t->backoff / 1000000000));
    t->failing = 1;
}

static void launch(sink_am_t *s, target_t *t, int64_t now, int64_t grace_end)
{
    int64_t tmo = s->o.timeout_ns;
    if (grace_end && grace_end - now < tmo)
        tmo = grace_end - now;
    long ms = (long)(tmo / 1000000) > 0 ? (long)(tmo / 1000000) : 1;
    t->resp_len = 0;
    t->errbuf[0] = '\0';
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->body);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->body_len);
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, ms);
    if (curl_multi_add_handle(s->multi, t->easy) != CURLM_OK) {
        pthread_mutex_lock(&s->mu);
        finish_post(s, t, CURLE_OUT_OF_MEMORY, 0, now);
        pthread_mutex_unlock(&s->mu);
    }
}

static void *sender_main(void *arg)
{
    sink_am_t *s = arg;
    int64_t grace_end = 0;
    for (;;) {
        int64_t now = sw_mono_ns(), wake = now + (int64_t)IDLE_MAX_MS * 1000000;
        int done;
        pthread_mutex_lock(&s->mu);
        if (s->stopping && !grace_end) {
            grace_end = now + SINK_AM_GRACE_NS;
            for (size_t i = 0; i < s->nt; i++)
                s->t[i].retry_at = 0; /* one last attempt each, backoff or not */
        }
        done = grace_end && now >= grace_end;
        int busy = 0;
        for (size_t i = 0; i < s->nt; i++) {
            target_t *t = &s->t[i];
            t->ready = start_post(s, t, now);
            busy |= t->post || (t->qn && !t->gave_up);
            if (!t->post && t->qn && t->retry_at < wake)
                wake = t->retry_at;
            if (!t->post && !t->qn && s->nfire) {
                int64_t at = t->resend_at > t->retry_at ? t->resend_at : t->retry_at;
                wake = at < wake ? at : wake;
            }
        }
        if (grace_end && !busy)
            done = 1;
        pthread_mutex_unlock(&s->mu);
        if (done)
            break;
        for (size_t i = 0; i < s->nt; i++)
            if (s->t[i].ready)
                launch(s, &s->t[i], now, grace_end);
        persist(s, now);
        if (grace_end && grace_end < wake)
            wake = grace_end;
        now = sw_mono_ns();
        int ms = wake <= now ? 0 : (int)((wake - now + 999999) / 1000000);
        curl_multi_poll(s->multi, NULL, 0, ms > IDLE_MAX_MS ? IDLE_MAX_MS : ms, NULL);
        int running;
        curl_multi_perform(s->multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(s->multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *e = msg->easy_handle;
            CURLcode cc = msg->data.result;
            char *priv = NULL;
            long code = 0;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
            target_t *t = (target_t *)priv;
            curl_multi_remove_handle(s->multi, e);
            pthread_mutex_lock(&s->mu);
            finish_post(s, t, cc, code, sw_mono_ns());
            pthread_mutex_unlock(&s->mu);
        }
    }
    /* the grace is over: what is still in flight stays queued */
    for (size_t i = 0; i < s->nt; i++)
        if (s->t[i].post) {
            curl_multi_remove_handle(s->multi, s->t[i].easy);
            s->t[i].post = POST_NONE;
        }
    s->persist_retry_at = 0;
    int saved = s->queue_path && persist(s, sw_mono_ns()) == 0;
    for (size_t i = 0; i < s->nt; i++)
        if (s->t[i].qn) /* no lock: the caller is in destroy, sending nothing */
            sw_log(LOG_WARN, "%s: %zu alerts undelivered at shutdown, %s%s", s->t[i].base,
                   s->t[i].qn, saved ? "kept in " : "lost", saved ? s->queue_path : "");
    return NULL;
}

/* ---- create and destroy ---- */

static void free_all(sink_am_t *s)
{
    while (s->nfire) /* first: it scrubs the targets' re-send lists */
        fire_remove(s, s->nfire - 1);
    free(s->fire);
    for (size_t i = 0; i < s->nt; i++) {
        target_t *t = &s->t[i];
        if (t->easy) {
            if (s->multi)
                curl_multi_remove_handle(s->multi, t->easy);
            curl_easy_cleanup(t->easy);
        }
        q_pop_upto(t, UINT64_MAX);
        rs_clear(t);
        free(t->q);
        free(t->rs);
        free(t->body);
        free(t->base);
        free(t->base_json);
        free(t->api);
    }
    free(s->t);
    if (s->multi)
        curl_multi_cleanup(s->multi);
    curl_slist_free_all(s->hdrs);
    if (s->curl_inited)
        curl_global_cleanup();
    if (s->mu_inited)
        pthread_mutex_destroy(&s->mu);
    free(s->queue_path);
    free(s->generator_url);
    free(s);
}

static int check_opts(const sink_am_opts_t *o, char *err, size_t errlen)
{
    if (!o || !o->urls || o->nurls == 0) {
        sw_errf(err, errlen, "alertmanager: no URL");
        return SW_EINVAL;
    }
    for (size_t i = 0; i < o->nurls; i++) {
        const char *u = o->urls[i];
        if (!u || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)) {
            sw_errf(err, errlen, "alertmanager: '%s': not an http:// or https:// URL",
                     u ? u : "(null)");
            return SW_EINVAL;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(o->urls[j], u) == 0) {
                sw_errf(err, errlen, "alertmanager: '%s' given twice", u);
                return SW_EINVAL;
            }
    }
    if (o->resend_every_ns < 0 || o->timeout_ns < 0 ||
        (o->timeout_ns > 0 && o->timeout_ns < 1000000)) {
        sw_errf(err, errlen, "alertmanager: negative durations, or a timeout under 1 ms");
        return SW_EINVAL;
    }
    return SW_OK;
}

static int init_target(sink_am_t *s, target_t *t, const char *url)
{
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    t->base = strndup(url, n);
    t->api = malloc(n + sizeof(API_PATH));
    json_t *j = t->base ? json_string(t->base) : NULL;
    t->base_json = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    t->easy = curl_easy_init();
    if (!t->base || !t->api || !t->base_json || !t->easy)
        return SW_ENOMEM;
    sprintf(t->api, "%s%s", t->base, API_PATH);
    t->resend_at = sw_mono_ns() + s->o.resend_every_ns;
    CURL *e = t->easy;
    if (curl_easy_setopt(e, CURLOPT_URL, t->api) || curl_easy_setopt(e, CURLOPT_POST, 1L) ||
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->hdrs) ||
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) || curl_easy_setopt(e, CURLOPT_PRIVATE, t) ||
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) ||
        curl_easy_setopt(e, CURLOPT_WRITEDATA, t) ||
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf) ||
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https"))
        return SW_EINVAL;
    return SW_OK;
}

sink_am_t *sink_am_create(const sink_am_opts_t *o, char *err, size_t errlen)
{
    if (check_opts(o, err, errlen) < 0)
        return NULL;
    sink_am_t *s = calloc(1, sizeof(*s));
    if (!s) {
        sw_errf(err, errlen, "alertmanager: out of memory");
        return NULL;
    }
    s->o = *o;
    s->o.urls = NULL;
    if (!s->o.resend_every_ns)
        s->o.resend_every_ns = SINK_AM_DEFAULT_RESEND_NS;
    if (!s->o.timeout_ns)
        s->o.timeout_ns = SINK_AM_DEFAULT_TIMEOUT_NS;
    if (!s->o.batch_max)
        s->o.batch_max = SINK_AM_DEFAULT_BATCH;
    if (!s->o.queue_max)
        s->o.queue_max = SINK_AM_DEFAULT_QUEUE_MAX;
    int rc = SW_ENOMEM;
    s->curl_inited = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    s->mu_inited = pthread_mutex_init(&s->mu, NULL) == 0;
    s->t = calloc(o->nurls, sizeof(*s->t));
    s->multi = curl_multi_init();
    s->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    if (s->hdrs) /* no "Expect: 100-continue" round trip on large batches */
        s->hdrs = curl_slist_append(s->hdrs, "Expect:");
    if (o->queue_path)
        s->queue_path = strdup(o->queue_path);
    if (o->generator_url)
        s->generator_url = strdup(o->generator_url);
    if (!s->curl_inited || !s->mu_inited || !s->t || !s->multi || !s->hdrs ||
        (o->queue_path && !s->queue_path) || (o->generator_url && !s->generator_url))
        goto fail;
    for (; s->nt < o->nurls; s->nt++)
        if ((rc = init_target(s, &s->t[s->nt], o->urls[s->nt])) < 0) {
            s->nt++;
            goto fail;
        }
    /* a queue file that cannot be written is refused now, not found out
     * when the first alerts wait */
    if (s->queue_path && ((rc = load_queue(s, err, errlen)) < 0 ||
                          (rc = fio_check_writable(s->queue_path, err, errlen)) < 0)) {
        free_all(s);
        return NULL;
    }
    /* the sender takes no signals: they belong to the daemon's main thread */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int prc = pthread_create(&s->thread, NULL, sender_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (prc == 0)
        return s;
    /* EAGAIN (a thread limit) is not out of memory: say what it is */
    sw_errf(err, errlen, "alertmanager: cannot start the sender thread: %s", strerror(prc));
    free_all(s);
    return NULL;
fail:
    sw_errf(err, errlen, "alertmanager: %s", rc == SW_EINVAL ? "libcurl lacks a needed option"
                                                              : "out of memory");
    free_all(s);
    return NULL;
}

void sink_am_stats(const sink_am_t *s, sink_am_stats_t *out)
{
    sink_am_t *w = (sink_am_t *)s; /* the mutex only: the counters are read */
    pthread_mutex_lock(&w->mu);
    *out = s->st;
    out->pending = 0;
    for (size_t i = 0; i < s->nt; i++)
        out->pending += s->t[i].qn;
    out->firing = s->nfire;
    pthread_mutex_unlock(&w->mu);
}

void sink_am_destroy(sink_am_t *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_mutex_unlock(&s->mu);
    curl_multi_wakeup(s->multi);
    pthread_join(s->thread, NULL);
    free_all(s);
}
