/*
 * alertjournal.c - the alerts open, kept for a restart (alertjournal.h).
 *
 * In memory: the open alerts, each as its key and its "open" line, found
 * by key through an idindex; a close swaps the last entry into the hole.
 * The file is that set plus the transitions appended since the last
 * rewrite.
 */
#include "alertjournal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "errburst.h"
#include "fileio.h"
#include "idindex.h"
#include "lineproto.h"
#include "log.h"
#include "vec.h"

typedef struct {
    char *key;   /* kind, User, direction, class, source, joined by '\037' */
    char *line;  /* its "open" line, with the '\n' */
} entry_t;

struct alertjournal {
    char *path;
    int fd;
    entry_t *v;
    size_t n, cap;
    idindex_t by_key;
    uint64_t since_rewrite; /* lines in the file */
    errburst_t burst;
    _Atomic uint64_t lines, write_errors, compactions, moved_aside, resumed, open;
};

#define KEY_SEP '\037'

static int kind_of(const char *name, alert_kind_t *k)
{
    for (int i = 0; i < ALERT_NKINDS; i++)
        if (strcmp(alert_kind_name((alert_kind_t)i), name) == 0) {
            *k = (alert_kind_t)i;
            return 0;
        }
    return -1;
}

static int dir_of(const char *name, int *dir)
{
    for (int d = DIR_SOUTH; d <= DIR_BOTH; d++)
        if (strcmp(dir_name(d), name) == 0) {
            *dir = d;
            return 0;
        }
    return -1;
}

/* The key of an alert (a widespread one's with its incident: several may
 * fire at once), malloc'd; NULL when out of memory. */
static char *key_of(alert_kind_t kind, const char *user, int dir, const char *cls, unsigned src,
                    incident_id_t incident)
{
    size_t n = strlen(user) + strlen(cls) + 80;
    char *k = malloc(n);
    if (k)
        snprintf(k, n, "%s%c%s%c%s%c%s%c%u%c%" PRIu64, alert_kind_name(kind), KEY_SEP, user,
                 KEY_SEP, dir_name(dir), KEY_SEP, cls, KEY_SEP, src, KEY_SEP,
                 kind == ALERT_WIDESPREAD ? (uint64_t)incident : 0u);
    return k;
}

/* The line of a transition, malloc'd with its '\n'; NULL when out of memory. */
static char *line_of(const alert_t *a)
{
    json_t *o = json_pack("{s:b,s:s,s:s,s:s,s:s,s:i}", "open", a->firing, "alert",
                          alert_kind_name(a->kind), "user", a->user, "dir",
                          dir_name(a->dir), "class", a->cls, "src", (json_int_t)a->source);
    if (o && a->incident) /* a closing line needs it too: a widespread alert's key */
        json_object_set_new(o, "incident", json_integer(a->incident));
    if (o && a->firing) {
        json_object_set_new(o, "starts_at", json_integer(a->starts_at));
        json_object_set_new(o, "detected_at", json_integer(a->detected_at));
        json_object_set_new(o, "value", json_real(a->value));
        json_object_set_new(o, "baseline", json_real(a->baseline));
        json_object_set_new(o, "backlog", a->backlog >= 0 ? json_real(a->backlog) : json_null());
        json_object_set_new(o, "limit", json_real(a->limit));
        if (a->incident) {
            json_object_set_new(o, "role", json_integer(a->role));
            json_object_set_new(o, "severity", json_integer(a->severity));
            json_object_set_new(o, "learning", json_boolean(a->learning));
        }
        if (a->kind == ALERT_WIDESPREAD) {
            json_object_set_new(o, "symptom", json_string(alert_kind_name(a->symptom)));
            if (a->change)
                json_object_set_new(o, "change", json_string(a->change->id));
        }
    }
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text)
        return NULL;
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (!line) {
        free(text);
        return NULL;
    }
    memcpy(line + n, "\n", 2);
    return line;
}

/* Adds or (open 0) removes an entry; `line` is taken. 0 or SW_ENOMEM. */
static int set_entry(alertjournal_t *j, char *key, int open, char *line)
{
    ptrdiff_t at = idx_find(&j->by_key, key, strlen(key));
    if (!open) {
        free(line);
        if (at < 0) {
            free(key);
            return SW_OK;
        }
        idx_remove(&j->by_key, j->v[at].key, strlen(j->v[at].key));
        free(j->v[at].key);
        free(j->v[at].line);
        j->v[at] = j->v[--j->n];
        if ((size_t)at < j->n)
            idx_update(&j->by_key, j->v[at].key, strlen(j->v[at].key), (size_t)at);
        free(key);
        return SW_OK;
    }
    if (at >= 0) { /* opened again: the newer line wins */
        free(j->v[at].line);
        j->v[at].line = line;
        free(key);
        return SW_OK;
    }
    if (VEC_RESERVE(j->v, j->cap, j->n + 1, 16) < 0)
        goto nomem;
    if (idx_insert(&j->by_key, key, strlen(key), j->n) < 0)
        goto nomem;
    j->v[j->n++] = (entry_t){ key, line };
    return SW_OK;
nomem:
    free(key);
    free(line);
    return SW_ENOMEM;
}

/* Parses one line: its key, whether it opens, and (open) the alert to
 * resume (a widespread one's change id in xbuf). 0, or -1 with why. */
static int parse_line(const char *s, size_t len, char **key, int *open, shard_resume_t *r,
                      char *ubuf, char *cbuf, char *xbuf, const char **why)
{
    json_error_t je;
    json_t *o = json_loadb(s, len, 0, &je);
    const char *kind = NULL, *user = NULL, *dir = NULL, *cls = NULL;
    json_int_t src = 0, starts = 0, detected = 0;
    int op = 0;
    double value = 0, baseline = 0, limit = 0;
    json_t *backlog = NULL;
    json_int_t incident = 0, role = ROLE_PRIMARY, severity = SEV_KIND;
    int learning = 0;
    const char *symptom = NULL, *change = NULL;
    *why = "not a transition (open, alert, user, dir, class and src)";
    if (!o || json_unpack(o, "{s:b,s:s,s:s,s:s,s:s,s:I}", "open", &op, "alert", &kind, "user",
                          &user, "dir", &dir, "class", &cls, "src", &src) < 0)
        goto bad;
    *why = "unknown alert kind, direction or source, or an id too long";
    alert_kind_t k;
    int d;
    if (kind_of(kind, &k) < 0 || dir_of(dir, &d) < 0 || src < 0 || src >= REC_MAX_SOURCES ||
        strlen(user) > LP_MAX_ID || strlen(cls) > LP_MAX_ID || !*user)
        goto bad;
    *why = "an open alert without its times and values";
    if (op && json_unpack(o, "{s:I,s:I,s:F,s:F,s:o,s:F}", "starts_at", &starts, "detected_at",
                          &detected, "value", &value, "baseline", &baseline, "backlog", &backlog,
                          "limit", &limit) < 0)
        goto bad;
    *why = "bad incident, role, severity, learning, symptom or change";
    alert_kind_t sk = ALERT_SILENCE;
    if (json_unpack(o, "{s?I}", "incident", &incident) < 0 || incident < 0 ||
        (uint64_t)incident > ((uint64_t)INCIDENT_TAG_MAX << 32 | UINT32_MAX) ||
        (op && (json_unpack(o, "{s?I,s?I,s?b,s?s,s?s}", "role", &role, "severity", &severity,
                            "learning", &learning, "symptom", &symptom, "change", &change) < 0 ||
               role < ROLE_PRIMARY ||
               role > ROLE_MEMBER || severity < SEV_KIND || severity > SEV_CRITICAL ||
               (symptom && kind_of(symptom, &sk) < 0) || (change && strlen(change) > LP_MAX_ID))))
        goto bad;
    xbuf[0] = '\0';
    if (change)
        strcpy(xbuf, change);
    strcpy(ubuf, user);
    strcpy(cbuf, cls);
    *r = (shard_resume_t){ .kind = k, .dir = d == DIR_NORTH ? DIR_NORTH : DIR_SOUTH,
                           .user = ubuf, .cls = cbuf, .src = (unsigned)src,
                           .fire = { .starts_at = starts, .detected_at = detected,
                                     .since = starts, .value = value, .baseline = baseline,
                                     .backlog = json_is_number(backlog)
                                                    ? json_number_value(backlog)
                                                    : -1,
                                     .limit = limit, .incident = (incident_id_t)incident,
                                     .role = (uint8_t)role, .severity = (uint8_t)severity,
                                     .learning = (uint8_t)learning },
                           .symptom = sk, .change = change ? xbuf : NULL };
    *open = op;
    *key = key_of(k, ubuf, d, cbuf, (unsigned)src, (incident_id_t)incident);
    json_decref(o);
    *why = "out of memory";
    return *key ? 0 : -1;
bad:
    json_decref(o);
    return -1;
}

/* Rewrites the file with the open alerts alone (atomically). 0 or SW_EIO. */
static int rewrite(alertjournal_t *j)
{
    size_t len = 0;
    for (size_t i = 0; i < j->n; i++)
        len += strlen(j->v[i].line);
    char *buf = malloc(len + 1), *p = buf;
    if (!buf)
        return SW_ENOMEM;
    for (size_t i = 0; i < j->n; i++)
        p = stpcpy(p, j->v[i].line);
    int rc = fio_replace(j->path, buf, len);
    free(buf);
    if (rc < 0) {
        j->write_errors++;
        errburst_fail(&j->burst, errburst_now(), LOG_ERROR,
                      "alerts journal: %s: cannot rewrite: %s", j->path, strerror(errno));
        return SW_EIO;
    }
    int fd = open(j->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) {
        j->write_errors++;
        errburst_fail(&j->burst, errburst_now(), LOG_ERROR,
                      "alerts journal: %s: cannot reopen: %s", j->path, strerror(errno));
        return SW_EIO;
    }
    if (j->fd >= 0)
        close(j->fd);
    j->fd = fd;
    j->since_rewrite = j->n;
    j->compactions++;
    return SW_OK;
}

/* Reads the file into the open set, calling each() for them. 0; 1 when
 * it is corrupt (why at its line in err); -1 when it cannot be read. */
static int load(alertjournal_t *j, char *err, size_t errlen)
{
    unsigned char *buf;
    size_t len;
    int rc = fio_read(j->path, ALERTJOURNAL_MAX_BYTES, &buf, &len);
    if (rc == 1)
        return 0;
    if (rc < 0) {
        sw_errf(err, errlen, "%s: %s", j->path, strerror(errno));
        return -1;
    }
    const char *p = (const char *)buf, *end = p + len;
    unsigned lineno = 0;
    int corrupt = 0;
    while (p < end && !corrupt) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        lineno++;
        char *key, ubuf[LP_MAX_ID + 1], cbuf[LP_MAX_ID + 1], xbuf[LP_MAX_ID + 1];
        int open;
        shard_resume_t r;
        const char *why;
        if (l && parse_line(p, l, &key, &open, &r, ubuf, cbuf, xbuf, &why) < 0) {
            if (!nl) /* a torn last line: the process died writing it */
                break;
            sw_errf(err, errlen, "%s:%u: %s", j->path, lineno, why);
            corrupt = 1;
        } else if (l) {
            char *line = malloc(l + 2);
            if (line) {
                memcpy(line, p, l);
                memcpy(line + l, "\n", 2);
            }
            if (!line || set_entry(j, key, open, line) < 0) { /* set_entry frees both */
                if (!line)
                    free(key);
                sw_errf(err, errlen, "%s: out of memory", j->path);
                free(buf);
                return -1;
            }
        }
        p += l + 1;
    }
    free(buf);
    return corrupt;
}

alertjournal_t *alertjournal_open(const char *path, int strict,
                                  void (*each)(void *ctx, const shard_resume_t *r), void *ctx,
                                  char *err, size_t errlen)
{
    alertjournal_t *j = calloc(1, sizeof(*j));
    if (!j || !(j->path = strdup(path))) {
        free(j);
        sw_errf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    j->fd = -1;
    int rc = load(j, err, errlen);
    if (rc == 1 && !strict) {
        char aside[4096], why[512];
        snprintf(why, sizeof(why), "%s", err);
        if (fio_move_aside(path, aside, sizeof(aside), err, errlen) < 0) {
            alertjournal_close(j);
            return NULL;
        }
        sw_log(LOG_WARN, "alerts journal: %s; set aside as %s, no alert resumed", why, aside);
        j->moved_aside = 1;
        for (size_t i = 0; i < j->n; i++) { /* what came before the bad line goes too */
            free(j->v[i].key);
            free(j->v[i].line);
        }
        j->n = 0;
        idx_free(&j->by_key);
        rc = 0;
    }
    if (rc != 0) {
        alertjournal_close(j);
        return NULL;
    }
    for (size_t i = 0; i < j->n; i++) {
        char *key, ubuf[LP_MAX_ID + 1], cbuf[LP_MAX_ID + 1], xbuf[LP_MAX_ID + 1];
        int open;
        shard_resume_t r;
        const char *why;
        if (parse_line(j->v[i].line, strlen(j->v[i].line) - 1, &key, &open, &r, ubuf, cbuf, xbuf,
                       &why) == 0) {
            free(key);
            each(ctx, &r);
            j->resumed++;
        }
    }
    if (rewrite(j) < 0) {
        sw_errf(err, errlen, "%s: cannot write it: %s", path, strerror(errno));
        alertjournal_close(j);
        return NULL;
    }
    j->compactions = 0;
    j->open = j->n;
    return j;
}

int alertjournal_record(alertjournal_t *j, const alert_t *a)
{
    char *key = key_of(a->kind, a->user, a->dir, a->cls, a->source, a->incident);
    char *line = line_of(a);
    if (!key || !line) {
        free(key);
        free(line);
        j->write_errors++;
        errburst_fail(&j->burst, errburst_now(), LOG_ERROR,
                      "alerts journal: %s: out of memory: a transition is not kept", j->path);
        return SW_ENOMEM;
    }
    int rc = fio_write_all(j->fd, line, strlen(line)) < 0 ? SW_EIO : SW_OK;
    int saved = errno;
    if (a->firing) { /* the set takes the line, or frees it */
        if (rc == SW_OK)
            rc = set_entry(j, key, 1, line);
        else {
            free(key);
            free(line);
        }
    } else {
        set_entry(j, key, 0, line); /* frees both */
    }
    if (rc < 0) {
        j->write_errors++;
        errburst_fail(&j->burst, errburst_now(), LOG_ERROR,
                      "alerts journal: %s: cannot append: %s", j->path,
                      rc == SW_EIO ? strerror(saved) : "out of memory");
        return rc;
    }
    errburst_ok(&j->burst, errburst_now(), "alerts journal: %s: written again", j->path);
    j->lines++;
    j->open = j->n;
    if (++j->since_rewrite >= ALERTJOURNAL_COMPACT_MIN && j->since_rewrite >= 4 * j->n)
        rewrite(j);
    return SW_OK;
}

void alertjournal_stats(alertjournal_t *j, alertjournal_stats_t *out)
{
    *out = (alertjournal_stats_t){ .lines = j->lines, .write_errors = j->write_errors,
                                   .compactions = j->compactions, .moved_aside = j->moved_aside,
                                   .resumed = j->resumed, .open = j->open };
}

void alertjournal_close(alertjournal_t *j)
{
    if (!j)
        return;
    if (j->fd >= 0)
        close(j->fd);
    for (size_t i = 0; i < j->n; i++) {
        free(j->v[i].key);
        free(j->v[i].line);
    }
    free(j->v);
    idx_free(&j->by_key);
    free(j->path);
    free(j);
}
