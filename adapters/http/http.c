/*
 * http.c - the HTTP server on libmicrohttpd (see http.h for the routes).
 *
 * libmicrohttpd calls handle() several times per request: once when the
 * headers are in (the request is routed and authorised then, and refused
 * at once when it cannot succeed, so an unauthorised or oversized body is
 * never read), once per piece of body (buffered up to max_body), and once
 * at the end (the request is served). A reply queued before the body is
 * read makes libmicrohttpd discard the body and close the connection.
 *
 * A chunked body has no length to refuse it by at the start: once past
 * max_body it is dropped as it comes, and the request is answered 413 when
 * it ends (libmicrohttpd cannot queue a reply while a body is being read).
 *
 * Every connection has a slot (conn_t) from accept to close, through
 * libmicrohttpd's connection notifications; its deadline runs while a
 * request is awaited or being received and stops when the request is whole
 * (the last call of handle()). The watchdog thread sleeps until the
 * earliest deadline and shuts down the sockets past theirs: libmicrohttpd
 * then sees the end of input and closes the connection. The connection
 * limits themselves are libmicrohttpd's (global, per address); a refusal is
 * known only by its log message, which is counted and logged once a minute
 * instead of once per connection.
 *
 * DESIGN: handle() runs on libmicrohttpd's threads, several at once; the
 * per-request state lives in the connection (req_t), the server's own
 * state is read-only once started, except the counters, which are
 * atomics used with relaxed order (statistics; nothing is ordered by them),
 * and the connection slots, which `mu` guards: the notifications, handle()
 * and the watchdog all take it. A slot is freed in the close notification,
 * which libmicrohttpd sends before it closes the socket, so the watchdog
 * never shuts down a descriptor that has been closed and reused.
 *
 * Size: about 1200 lines, kept whole on purpose: one libmicrohttpd
 * handler and its request state machine (route, authorise, limit, buffer,
 * serve), which the routes share; the change API's logic is changes_api.c,
 * the console's (its page and its JSON) console.c.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "dir.h"
#include "err.h"
#include "monotime.h"
#include "timefmt.h"

#define MAX_TLS_FILE (1024 * 1024)
#define DISCARD_MAX (1024 * 1024) /* of a chunked body past max_body, read and dropped so
                                     the client reads its 413; beyond, the connection
                                     is closed */
#define NS_PER_S INT64_C(1000000000)
#define REFUSED_LOG_EVERY_NS (60 * NS_PER_S) /* one log line a minute while refusing */
/* libmicrohttpd's message when a connection limit (global or per address) refuses one */
#define MHD_REFUSED_MSG "Server reached connection limit"

#define CHANGES_PATH "/api/v1/changes"
#define USERS_PATH "/api/v1/users"
#define HISTORY_PATH "/api/v1/history"
#define SCHEDULE_PATH "/api/v1/schedule"
#define DAY_NS (86400 * NS_PER_S)
#define CHANGE_PREFIX "/api/v1/changes/"
#define USERS_PREFIX "/api/v1/users/"
#define ACCEPT_SUFFIX "/accept"
#define JSON_TYPE "application/json"
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define TEXT_TYPE "text/plain; charset=utf-8"

enum { R_NONE, R_METRICS, R_HEALTHZ, R_READYZ, R_ALERTS, R_CHANGES, R_CHANGE, R_ACCEPT,
       R_SCHEDULE, R_PAGE, R_USERS, R_USER, R_HISTORY };

/* The console's routes: served only with http_opts_t.console. */
#define CONSOLE_ROUTE(r) ((r) == R_PAGE || (r) == R_USERS || (r) == R_USER || (r) == R_HISTORY)

/* One open connection, from accept to close. Guarded by http_t.mu. */
typedef struct conn {
    int fd;
    int receiving;       /* a request is awaited or being received: the deadline runs */
    int cut;             /* shut down by the watchdog */
    int64_t deadline;    /* CLOCK_MONOTONIC ns */
    struct conn *next;   /* the free list */
} conn_t;

struct http {
    http_opts_t o;            /* strings point into the copies below */
    char *addr, *token;
    size_t token_len;
    char *tls_cert, *tls_key; /* file contents (PEM) */
    console_t *console;       /* NULL: no console */
    struct MHD_Daemon *mhd;
    atomic_int running;       /* set once started: MHD logs then go to o.log */
    char start_err[512];      /* MHD's last message while starting */
    atomic_uint_fast64_t requests[5], auth_failures, too_large, dropped;
    atomic_uint_fast64_t conn_refused, conn_timed_out, conn_open;
    atomic_int_fast64_t refused_logged; /* when a refusal was last logged (ns) */

    pthread_mutex_t mu;       /* the slots and the watchdog's state */
    pthread_cond_t wake;      /* the watchdog: stop now */
    int sync_ready;           /* mu and wake initialised */
    conn_t *conns, *free_conns; /* o.max_connections slots */
    pthread_t watchdog;
    int watchdog_running, stopping;
};

/* One request, from its headers to its end. */
typedef struct {
    int route;
    const char *id;    /* R_CHANGE: the id in the URL (libmicrohttpd's copy);
                          R_ACCEPT: USER/DIR/accept; R_USER: the User;
                          R_PAGE: the path */
    char *body;
    size_t len, cap;
    int too_large;     /* a chunked body went past max_body: dropped, then 413 */
    size_t discarded;  /* bytes of it dropped */
} req_t;


static void count(atomic_uint_fast64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* ---- replies ------------------------------------------------------------ */

/*
 * Queues `body` (len bytes, malloc'd: freed by libmicrohttpd, or here on
 * failure) with `status` and `type`; `hdr`/`val` add one more header.
 */
static enum MHD_Result reply(http_t *h, struct MHD_Connection *c, unsigned status,
                             const char *type, char *body, size_t len, const char *hdr,
                             const char *val)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, body ? body : (char *)"",
                                        body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        count(&h->dropped);
        return MHD_NO;
    }
    if (type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (hdr)
        MHD_add_response_header(resp, hdr, val);
    enum MHD_Result ok = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    if (ok != MHD_YES) {
        count(&h->dropped);
        return MHD_NO;
    }
    if (status >= 100 && status < 600)
        count(&h->requests[status / 100 - 1]);
    if (status == MHD_HTTP_UNAUTHORIZED || status == MHD_HTTP_FORBIDDEN)
        count(&h->auth_failures);
    return MHD_YES;
}

static enum MHD_Result reply_text(http_t *h, struct MHD_Connection *c, unsigned status,
                                  const char *text)
{
    char *body = strdup(text);
    if (!body) {
        count(&h->dropped);
        return MHD_NO;
    }
    return reply(h, c, status, TEXT_TYPE, body, strlen(body), NULL, NULL);
}

static enum MHD_Result reply_json(http_t *h, struct MHD_Connection *c, unsigned status,
                                  char *json, const char *hdr, const char *val)
{
    if (!json) {
        count(&h->dropped);
        return MHD_NO;
    }
    return reply(h, c, status, JSON_TYPE, json, strlen(json), hdr, val);
}

/* {"error": msg}, with one optional extra header. */
static enum MHD_Result reply_error_hdr(http_t *h, struct MHD_Connection *c, unsigned status,
                                       const char *msg, const char *hdr, const char *val)
{
    json_t *o = json_pack("{s:s}", "error", msg);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s)
        s = strdup("{\"error\":\"out of memory\"}");
    return reply_json(h, c, status, s, hdr, val);
}

static enum MHD_Result reply_error(http_t *h, struct MHD_Connection *c, unsigned status,
                                   const char *msg)
{
    return reply_error_hdr(h, c, status, msg, NULL, NULL);
}

/* The 413 of a body too large (counted: once per request). */
static enum MHD_Result reply_too_large(http_t *h, struct MHD_Connection *c)
{
    char msg[128];
    count(&h->too_large);
    snprintf(msg, sizeof(msg), "request body larger than %zu bytes", h->o.max_body);
    return reply_error(h, c, MHD_HTTP_CONTENT_TOO_LARGE, msg);
}

/* ---- routing and authorisation -------------------------------------------- */

static int route_of(const char *url, const char **id)
{
    static const struct {
        const char *path;
        int route;
    } exact[] = {
        { "/metrics", R_METRICS }, { "/healthz", R_HEALTHZ }, { "/readyz", R_READYZ },
        { "/api/v1/alerts", R_ALERTS }, { CHANGES_PATH, R_CHANGES },
        { SCHEDULE_PATH, R_SCHEDULE }, { USERS_PATH, R_USERS }, { HISTORY_PATH, R_HISTORY },
    };
    *id = NULL;
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        if (strcmp(url, exact[i].path) == 0)
            return exact[i].route;
    if (console_asset(url)) {
        *id = url;
        return R_PAGE;
    }
    if (strncmp(url, CHANGE_PREFIX, strlen(CHANGE_PREFIX)) == 0 &&
        url[strlen(CHANGE_PREFIX)]) {
        *id = url + strlen(CHANGE_PREFIX);
        return R_CHANGE;
    }
    size_t n = strlen(url), sl = strlen(ACCEPT_SUFFIX), pl = strlen(USERS_PREFIX);
    if (strncmp(url, USERS_PREFIX, pl) == 0 && n > pl + sl &&
        strcmp(url + n - sl, ACCEPT_SUFFIX) == 0) {
        *id = url + pl;
        return R_ACCEPT;
    }
    if (strncmp(url, USERS_PREFIX, pl) == 0 && n > pl) {
        *id = url + pl;
        return R_USER;
    }
    return R_NONE;
}

/* The methods a route answers, for the Allow header of a 405. */
static const char *allowed(int route)
{
    return route == R_CHANGES ? "GET, HEAD, POST"
           : route == R_CHANGE ? "GET, HEAD, DELETE"
           : route == R_ACCEPT ? "POST"
                               : "GET, HEAD";
}

static int method_ok(int route, const char *m)
{
    if (route == R_ACCEPT)
        return !strcmp(m, MHD_HTTP_METHOD_POST);
    if (!strcmp(m, MHD_HTTP_METHOD_GET) || !strcmp(m, MHD_HTTP_METHOD_HEAD))
        return 1;
    return (route == R_CHANGES && !strcmp(m, MHD_HTTP_METHOD_POST)) ||
           (route == R_CHANGE && !strcmp(m, MHD_HTTP_METHOD_DELETE));
}

/* Equal in a time that depends on the configured token's length only. */
static int token_equal(const char *given, size_t glen, const char *token, size_t tlen)
{
    volatile unsigned char diff = glen != tlen;
    for (size_t i = 0; i < tlen; i++)
        diff |= (unsigned char)(i < glen ? given[i] : 0) ^ (unsigned char)token[i];
    return diff == 0;
}

/* 0 when the request carries the token, else the status to answer. */
static unsigned authorise(const http_t *h, struct MHD_Connection *c)
{
    if (!h->token)
        return MHD_HTTP_FORBIDDEN;
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!v || strncasecmp(v, "Bearer ", 7) != 0)
        return MHD_HTTP_UNAUTHORIZED;
    v += 7;
    while (*v == ' ')
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n == 0)
        return MHD_HTTP_UNAUTHORIZED;
    return token_equal(v, n, h->token, h->token_len) ? 0 : MHD_HTTP_FORBIDDEN;
}

/* ---- serving ------------------------------------------------------------------ */

static enum MHD_Result serve_metrics(http_t *h, struct MHD_Connection *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return reply_error(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    if (h->o.metrics)
        h->o.metrics(h->o.ctx, f);
    else
        http_metrics_write(h, f);
    if (fclose(f) != 0 || !buf) {
        free(buf);
        return reply_error(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    return reply(h, c, MHD_HTTP_OK, METRICS_TYPE, buf, len, NULL, NULL);
}

/* The path of a change, its id percent-encoded, for the Location header. */
static void change_location(const char *id, char *buf, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = (size_t)snprintf(buf, len, "%s", CHANGE_PREFIX);
    for (const unsigned char *p = (const unsigned char *)id; *p && o + 4 < len; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            buf[o++] = (char)*p;
        } else {
            buf[o++] = '%';
            buf[o++] = hex[*p >> 4];
            buf[o++] = hex[*p & 15];
        }
    }
    buf[o < len ? o : len - 1] = '\0';
}

/* One log line per conflict of the change just declared (view: its JSON). */
static void log_conflicts(http_t *h, const char *id, const char *view)
{
    json_t *o = h->o.log && view ? json_loads(view, 0, NULL) : NULL;
    json_t *k = json_object_get(o, "conflicts");
    for (size_t i = 0; i < json_array_size(k); i++) {
        char msg[1024];
        json_t *one = json_array_get(k, i);
        snprintf(msg, sizeof(msg), "change %.200s declared with a %s conflict: %s", id,
                 json_string_value(json_object_get(one, "type")),
                 json_string_value(json_object_get(one, "message")));
        h->o.log(h->o.ctx, msg);
    }
    json_decref(o);
}

static enum MHD_Result serve_declare(http_t *h, struct MHD_Connection *c, req_t *r)
{
    char err[512], *stored = NULL;
    int rc = changes_api_declare_ex(h->o.changes, r->body, r->len, &stored, err, sizeof(err));
    switch (rc) {
    case 0: break;
    case SW_ECONFIG: return reply_error(h, c, MHD_HTTP_BAD_REQUEST, err);
    case SW_EEXISTS: return reply_error(h, c, MHD_HTTP_CONFLICT, err);
    case SW_EFULL: return reply_error(h, c, MHD_HTTP_INSUFFICIENT_STORAGE, err);
    case SW_EIO:
        if (h->o.log)
            h->o.log(h->o.ctx, err);
        return reply_error(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                           "the change could not be stored (journal write failed)");
    default: return reply_error(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, sw_strerror(rc));
    }
    if (h->o.changes_updated)
        h->o.changes_updated(h->o.ctx);
    if (h->o.change_declared)
        h->o.change_declared(h->o.ctx, stored);
    /* the id as stored, from the stored JSON: the Location of the new change,
     * and the reply: the change with its source and conflicts (the stored
     * change alone only if that fails: it is declared either way) */
    char where[1024] = "";
    json_t *o = json_loads(stored, 0, NULL);
    const char *id = json_string_value(json_object_get(o, "id"));
    char *view = id ? changes_api_view_json(h->o.changes, id, h->o.user_share, h->o.ctx, NULL)
                    : NULL;
    if (id) {
        change_location(id, where, sizeof(where));
        log_conflicts(h, id, view);
    }
    json_decref(o);
    if (view) {
        free(stored);
        stored = view;
    }
    return reply_json(h, c, MHD_HTTP_CREATED, stored, where[0] ? MHD_HTTP_HEADER_LOCATION : NULL,
                      where);
}

static enum MHD_Result serve_withdraw(http_t *h, struct MHD_Connection *c, req_t *r)
{
    char msg[512];
    int rc = changes_api_withdraw(h->o.changes, r->id);
    if (rc == SW_ENOTFOUND) {
        snprintf(msg, sizeof(msg), "no declared change with id '%.200s'", r->id);
        return reply_error(h, c, MHD_HTTP_NOT_FOUND, msg);
    }
    if (rc < 0) {
        if (h->o.log) {
            snprintf(msg, sizeof(msg), "withdraw '%.200s': %s", r->id, sw_strerror(rc));
            h->o.log(h->o.ctx, msg);
        }
        return reply_error(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                           rc == SW_EIO ? "the withdrawal could not be stored (journal write "
                                          "failed)" : sw_strerror(rc));
    }
    if (h->o.changes_updated)
        h->o.changes_updated(h->o.ctx);
    if (h->o.change_withdrawn)
        h->o.change_withdrawn(h->o.ctx, r->id);
    return reply(h, c, MHD_HTTP_NO_CONTENT, NULL, NULL, 0, NULL, NULL);
}

/* GET /api/v1/changes/{id}: the change (file or API) with its conflicts,
 * and the check_json callback's verdict. */
static enum MHD_Result serve_get_change(http_t *h, struct MHD_Connection *c, req_t *r)
{
    int found;
    char *s = changes_api_view_json(h->o.changes, r->id, h->o.user_share, h->o.ctx, &found);
    if (!s && !found) {
        char msg[512];
        snprintf(msg, sizeof(msg), "no change with id '%.200s'", r->id);
        return reply_error(h, c, MHD_HTTP_NOT_FOUND, msg);
    }
    json_t *o = s ? json_loads(s, 0, NULL) : NULL;
    free(s);
    char *check = o && h->o.check_json ? h->o.check_json(h->o.ctx, r->id) : NULL;
    json_t *verdict = check ? json_loads(check, 0, NULL) : NULL;
    if (check && !json_is_object(verdict) && h->o.log) {
        char msg[512];
        snprintf(msg, sizeof(msg), "change %.200s: the check is not a JSON object; shown as null",
                 r->id);
        h->o.log(h->o.ctx, msg);
    }
    free(check);
    if (!json_is_object(verdict)) {
        json_decref(verdict);
        verdict = json_null();
    }
    if (o && json_object_set_new(o, "check", verdict) < 0) {
        json_decref(o);
        o = NULL;
    }
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!body)
        return reply_error(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    return reply_json(h, c, MHD_HTTP_OK, body, NULL, NULL);
}

/* Query parameter `name`, an RFC 3339 time, into *ns: 1 when given, 0 when
 * absent, -1 (with the message for a 400 in msg) when it is no such time. */
static int time_param(struct MHD_Connection *c, const char *name, int64_t *ns, char *msg,
                      size_t len)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    if (!v)
        return 0;
    if (tf_parse_rfc3339(v, ns) == 0)
        return 1;
    snprintf(msg, len, "parameter '%s': bad date '%.100s' (expected RFC 3339, e.g. "
             "2019-09-12T09:00:00Z, with a '+' sent as %%2B)", name, v);
    return -1;
}

/* GET /api/v1/schedule?from=&to=: the schedule of change in that range. */
static enum MHD_Result serve_schedule(http_t *h, struct MHD_Connection *c)
{
    char msg[512];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t from = (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec, to;
    int given_from = time_param(c, "from", &from, msg, sizeof(msg));
    int given_to = given_from < 0 ? 0 : time_param(c, "to", &to, msg, sizeof(msg));
    if (given_from < 0 || given_to < 0)
        return reply_error(h, c, MHD_HTTP_BAD_REQUEST, msg);
    if (!given_to) /* saturated: a week past the end of time is the end of time */
        to = from > INT64_MAX - HTTP_SCHEDULE_DAYS * DAY_NS ? INT64_MAX
                                                              : from + HTTP_SCHEDULE_DAYS * DAY_NS;
    if (to < from)
        return reply_error(h, c, MHD_HTTP_BAD_REQUEST, "parameter 'to': before 'from'");
    char *s = changes_api_schedule_json(h->o.changes, from, to, h->o.user_share, h->o.ctx);
    if (!s)
        return reply_error(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    return reply_json(h, c, MHD_HTTP_OK, s, NULL, NULL);
}

/* POST /api/v1/users/{user}/{north|south}/accept: the User's level in
 * that direction is its new normal (applied in the pipeline's order). */
static enum MHD_Result serve_accept(http_t *h, struct MHD_Connection *c, req_t *r)
{
    if (!h->o.accept)
        return reply_error(h, c, MHD_HTTP_SERVICE_UNAVAILABLE, "accepting levels is not enabled");
    const char *rest = r->id, *end = rest + strlen(rest) - strlen(ACCEPT_SUFFIX);
    const char *slash = end;
    while (slash > rest && slash[-1] != '/')
        slash--;
    size_t dlen = (size_t)(end - slash);
    int dir = dlen == 5 && !strncmp(slash, "north", 5)   ? 1
              : dlen == 5 && !strncmp(slash, "south", 5) ? 0
                                                         : -1;
    if (slash == rest || dir < 0)
        return reply_error(h, c, MHD_HTTP_BAD_REQUEST,
                           "want /api/v1/users/{user}/{north|south}/accept");
    size_t ulen = (size_t)(slash - 1 - rest);
    if (ulen == 0 || ulen > HTTP_MAX_USER)
        return reply_error(h, c, MHD_HTTP_BAD_REQUEST, "a User id of 1 to 64 bytes");
    for (size_t i = 0; i < ulen; i++)
        if ((unsigned char)rest[i] < 0x20 || rest[i] == 0x7f)
            return reply_error(h, c, MHD_HTTP_BAD_REQUEST, "a User id without control characters");
    char user[HTTP_MAX_USER + 1];
    memcpy(user, rest, ulen);
    user[ulen] = '\0';
    char err[256] = "";
    if (h->o.accept(h->o.ctx, user, dir, err, sizeof(err)) != 0)
        return reply_error(h, c, MHD_HTTP_SERVICE_UNAVAILABLE, err[0] ? err : "not queued");
    json_t *o = json_pack("{s:s,s:s,s:s}", "user", user, "dir", dir_name(dir),
                          "status", "queued");
    char *json = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!json)
        return reply_error(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    return reply_json(h, c, MHD_HTTP_ACCEPTED, json, NULL, NULL);
}

/* A console renderer's answer: its status and body (0: out of memory). */
static enum MHD_Result reply_console(http_t *h, struct MHD_Connection *c, int status, char *json)
{
    if (!status)
        return reply_error(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    return reply_json(h, c, (unsigned)status, json, status == MHD_HTTP_ACCEPTED ? "Retry-After" : NULL,
                      "1");
}

/* GET /api/v1/users?q=&limit=: the Users' status, filtered. */
static enum MHD_Result serve_users(http_t *h, struct MHD_Connection *c)
{
    const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "q");
    const char *l = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    if (q && strlen(q) > HTTP_MAX_USER)
        return reply_error(h, c, MHD_HTTP_BAD_REQUEST,
                           "parameter 'q': at most 64 bytes (a part of a User id)");
    unsigned long limit = CONSOLE_LIMIT;
    if (l) {
        char *end;
        errno = 0;
        limit = strtoul(l, &end, 10);
        if (*l < '0' || *l > '9' || *end || errno || limit > CONSOLE_LIMIT_MAX) {
            char msg[128];
            snprintf(msg, sizeof(msg), "parameter 'limit': want a number from 0 to %d",
                     CONSOLE_LIMIT_MAX);
            return reply_error(h, c, MHD_HTTP_BAD_REQUEST, msg);
        }
    }
    char *json;
    int status = console_users_json(h->console, q, limit, &json);
    return reply_console(h, c, status, json);
}

/* GET /api/v1/users/{id}: one User, with its alerts firing. */
static enum MHD_Result serve_user(http_t *h, struct MHD_Connection *c, req_t *r)
{
    char *alerts = h->o.alerts_json ? h->o.alerts_json(h->o.ctx) : NULL, *json;
    int status = console_user_json(h->console, r->id, alerts, &json);
    free(alerts);
    return reply_console(h, c, status, json);
}

/* GET /api/v1/history?since=: the transitions kept. */
static enum MHD_Result serve_history(http_t *h, struct MHD_Connection *c)
{
    char msg[512], *json;
    int64_t since = INT64_MIN;
    if (time_param(c, "since", &since, msg, sizeof(msg)) < 0)
        return reply_error(h, c, MHD_HTTP_BAD_REQUEST, msg);
    int status = console_history_json(h->console, since, &json);
    return reply_console(h, c, status, json);
}

/* Serves a request whose body (if any) has been read. */
static enum MHD_Result serve(http_t *h, struct MHD_Connection *c, req_t *r, const char *method)
{
    int get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    switch (r->route) {
    case R_METRICS: return serve_metrics(h, c);
    case R_HEALTHZ: return reply_text(h, c, MHD_HTTP_OK, "ok\n");
    case R_READYZ:
        if (!h->o.ready || h->o.ready(h->o.ctx))
            return reply_text(h, c, MHD_HTTP_OK, "ready\n");
        return reply_text(h, c, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready\n");
    case R_ALERTS: {
        char *s = h->o.alerts_json ? h->o.alerts_json(h->o.ctx) : NULL;
        if (!s)
            return reply_error(h, c, MHD_HTTP_SERVICE_UNAVAILABLE, "alerts are not available");
        return reply_json(h, c, MHD_HTTP_OK, s, NULL, NULL);
    }
    case R_ACCEPT: return serve_accept(h, c, r);
    case R_PAGE: {
        const console_asset_t *a = console_asset(r->id);
        char *body = strdup(a->body);
        if (!body)
            return reply_error(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        return reply(h, c, MHD_HTTP_OK, a->type, body, strlen(body),
                     MHD_HTTP_HEADER_CONTENT_SECURITY_POLICY, CONSOLE_CSP);
    }
    case R_USERS: return serve_users(h, c);
    case R_USER: return serve_user(h, c, r);
    case R_HISTORY: return serve_history(h, c);
    default: break;
    }
    if (!h->o.changes)
        return reply_error(h, c, MHD_HTTP_SERVICE_UNAVAILABLE, "the change API is not enabled");
    if (r->route == R_SCHEDULE)
        return serve_schedule(h, c);
    if (r->route == R_CHANGES && get) {
        char *s = changes_api_list_json(h->o.changes);
        if (!s)
            return reply_error(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        return reply_json(h, c, MHD_HTTP_OK, s, NULL, NULL);
    }
    if (r->route == R_CHANGES)
        return serve_declare(h, c, r);
    if (get)
        return serve_get_change(h, c, r);
    return serve_withdraw(h, c, r);
}

/*
 * The first call of a request: route it, and refuse now what cannot
 * succeed. Returns a queued reply's result, or sets *r for the rest.
 */
static enum MHD_Result begin(http_t *h, struct MHD_Connection *c, const char *url,
                             const char *method, void **con_cls)
{
    const char *id;
    int route = route_of(url, &id);
    if (route == R_NONE || (CONSOLE_ROUTE(route) && !h->console))
        return reply_error(h, c, MHD_HTTP_NOT_FOUND, "not found");
    if (!method_ok(route, method))
        return reply_error_hdr(h, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed",
                               MHD_HTTP_HEADER_ALLOW, allowed(route));
    int is_write = strcmp(method, MHD_HTTP_METHOD_POST) == 0 ||
                   strcmp(method, MHD_HTTP_METHOD_DELETE) == 0;
    if (is_write) {
        unsigned refuse = authorise(h, c);
        if (refuse == MHD_HTTP_UNAUTHORIZED)
            return reply_error_hdr(h, c, refuse, "missing bearer token",
                                   MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"stormwatch\"");
        if (refuse)
            return reply_error(h, c, refuse,
                               h->token ? "wrong token" : "writes are disabled (no API token)");
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > h->o.max_body)
        return reply_too_large(h, c);
    req_t *r = calloc(1, sizeof(*r));
    if (!r) {
        count(&h->dropped);
        return MHD_NO;
    }
    r->route = route;
    r->id = id;
    *con_cls = r;
    return MHD_YES;
}

/*
 * Buffers a piece of body. Past max_body (a chunked body) the rest is
 * dropped as it comes, for a 413 at the end; MHD_NO (the connection is
 * closed) once more than DISCARD_MAX has been dropped.
 */
static enum MHD_Result take_body(http_t *h, req_t *r, const char *data, size_t n)
{
    if (r->too_large || n > h->o.max_body - r->len) {
        if (!r->too_large) {
            r->too_large = 1;
            free(r->body);
            r->body = NULL;
            r->len = r->cap = 0;
        }
        r->discarded += n;
        if (r->discarded > DISCARD_MAX) {
            count(&h->too_large);
            count(&h->dropped);
            return MHD_NO;
        }
        return MHD_YES;
    }
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : 1024;
        while (cap < r->len + n)
            cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b) {
            count(&h->dropped);
            return MHD_NO;
        }
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    return MHD_YES;
}

/* ---- connections and their deadline ----------------------------------- */

static conn_t *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i ? i->socket_context : NULL;
}

/* The request on c is whole (or answered): its deadline stops. */
static void deadline_stop(http_t *h, struct MHD_Connection *c)
{
    conn_t *k = conn_of(c);
    if (!k)
        return;
    pthread_mutex_lock(&h->mu);
    k->receiving = 0;
    pthread_mutex_unlock(&h->mu);
}

/* c awaits a request from now on: its deadline starts. */
static void deadline_start(http_t *h, conn_t *k)
{
    k->receiving = 1;
    k->deadline = sw_mono_ns() + (int64_t)h->o.request_timeout_s * NS_PER_S;
}

/* libmicrohttpd: a connection was accepted, or is about to be closed. */
static void notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                              enum MHD_ConnectionNotificationCode what)
{
    http_t *h = cls;
    pthread_mutex_lock(&h->mu);
    if (what == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *i =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn_t *k = h->free_conns;
        if (k && i) {
            h->free_conns = k->next;
            *k = (conn_t){ .fd = i->connect_fd };
            deadline_start(h, k);
            *socket_context = k;
            atomic_fetch_add_explicit(&h->conn_open, 1, memory_order_relaxed);
        } else if (i) {
            /* no slot: only if libmicrohttpd went past its own limit */
            shutdown(i->connect_fd, SHUT_RDWR);
            count(&h->conn_refused);
        }
    } else if (*socket_context) {
        /* cleared: the watchdog must never see this descriptor again */
        conn_t *k = *socket_context;
        *k = (conn_t){ .fd = -1, .next = h->free_conns };
        h->free_conns = k;
        *socket_context = NULL;
        atomic_fetch_sub_explicit(&h->conn_open, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&h->mu);
}

/*
 * The watchdog: sleeps until the earliest deadline of a connection that is
 * receiving, and shuts down the sockets past theirs (each counted once).
 * No new deadline can come before the earliest one: each is "now + the
 * same timeout".
 */
static void *watchdog_main(void *arg)
{
    http_t *h = arg;
    int64_t timeout = (int64_t)h->o.request_timeout_s * NS_PER_S;
    pthread_mutex_lock(&h->mu);
    while (!h->stopping) {
        int64_t now = sw_mono_ns(), next = now + timeout;
        for (unsigned i = 0; i < h->o.max_connections; i++) {
            conn_t *k = &h->conns[i];
            if (!k->receiving || k->cut || k->fd < 0)
                continue;
            if (k->deadline <= now) {
                shutdown(k->fd, SHUT_RDWR);
                k->cut = 1;
                count(&h->conn_timed_out);
            } else if (k->deadline < next) {
                next = k->deadline;
            }
        }
        struct timespec until = { .tv_sec = next / NS_PER_S, .tv_nsec = next % NS_PER_S };
        pthread_cond_timedwait(&h->wake, &h->mu, &until);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)version;
    http_t *h = cls;
    req_t *r = *con_cls;
    if (!r) {
        enum MHD_Result ok = begin(h, c, url, method, con_cls);
        if (!*con_cls) /* answered (or failed) at once: nothing more to receive */
            deadline_stop(h, c);
        return ok;
    }
    if (*upload_size) {
        enum MHD_Result ok = take_body(h, r, upload, *upload_size);
        *upload_size = 0;
        return ok;
    }
    deadline_stop(h, c);
    if (r->too_large)
        return reply_too_large(h, c);
    return serve(h, c, r, method);
}

/* libmicrohttpd: a request has ended (answered, or not); the connection
 * awaits the next one, if it stays open. */
static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode why)
{
    http_t *h = cls;
    (void)why;
    req_t *r = *con_cls;
    if (r) {
        free(r->body);
        free(r);
        *con_cls = NULL;
    }
    conn_t *k = conn_of(c);
    if (k) {
        pthread_mutex_lock(&h->mu);
        deadline_start(h, k);
        pthread_mutex_unlock(&h->mu);
    }
}

/* libmicrohttpd's messages: kept while starting (for http_start's error),
 * then passed to o.log. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    http_t *h = cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    if (!atomic_load_explicit(&h->running, memory_order_relaxed)) {
        snprintf(h->start_err, sizeof(h->start_err), "%s", msg);
        return;
    }
    if (strncmp(msg, MHD_REFUSED_MSG, strlen(MHD_REFUSED_MSG)) == 0) {
        /* a flood of refusals must not flood the log: counted, logged once a minute */
        uint64_t refused =
            atomic_fetch_add_explicit(&h->conn_refused, 1, memory_order_relaxed) + 1;
        int64_t now = sw_mono_ns(), last = atomic_load_explicit(&h->refused_logged,
                                                             memory_order_relaxed);
        if ((last && now - last < REFUSED_LOG_EVERY_NS) ||
            !atomic_compare_exchange_strong_explicit(&h->refused_logged, &last, now,
                                                     memory_order_relaxed, memory_order_relaxed))
            return;
        snprintf(msg, sizeof(msg), "refusing connections: %u open at most, %u per client "
                 "address (%llu refused since start)", h->o.max_connections, h->o.max_per_ip,
                 (unsigned long long)refused);
    }
    if (h->o.log)
        h->o.log(h->o.ctx, msg);
}

/* ---- start and stop ---------------------------------------------------------- */

static int parse_addr(const char *addr, struct sockaddr_storage *ss, uint16_t *port_out,
                      char *err, size_t errlen)
{
    char host[256];
    const char *port;
    const char *colon = strrchr(addr, ':');
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':' || (size_t)(close - addr - 1) >= sizeof(host))
            goto bad;
        memcpy(host, addr + 1, (size_t)(close - addr - 1));
        host[close - addr - 1] = '\0';
        port = close + 2;
    } else if (colon) {
        if ((size_t)(colon - addr) >= sizeof(host))
            goto bad;
        memcpy(host, addr, (size_t)(colon - addr));
        host[colon - addr] = '\0';
        port = colon + 1;
    } else {
        host[0] = '\0';
        port = addr;
    }
    if (!host[0])
        snprintf(host, sizeof(host), "127.0.0.1");
    char *end;
    errno = 0;
    unsigned long p = strtoul(port, &end, 10);
    if (!*port || *end || errno || p > 65535 || *port == '-' || *port == '+')
        goto bad;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res;
    int gai = getaddrinfo(host, NULL, &hints, &res);
    if (gai != 0) {
        sw_errf(err, errlen, "--http %s: %s", addr, gai_strerror(gai));
        return SW_ECONFIG;
    }
    *port_out = (uint16_t)p;
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)p);
    else
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)p);
    return 0;
bad:
    sw_errf(err, errlen, "--http %s: expected ADDR:PORT, [ADDR]:PORT or PORT", addr);
    return SW_ECONFIG;
}

/* The contents of a small file, NUL-terminated, or NULL with a message. */
static char *read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        sw_errf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(MAX_TLS_FILE + 1);
    size_t n = buf ? fread(buf, 1, MAX_TLS_FILE + 1, f) : 0;
    int bad = !buf || ferror(f) || n > MAX_TLS_FILE || n == 0;
    if (bad)
        sw_errf(err, errlen, "%s: %s", path,
                !buf ? sw_strerror(SW_ENOMEM) : ferror(f) ? strerror(errno)
                : n == 0 ? "empty file" : "larger than 1 MiB");
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* The connection slots and the watchdog: 0, SW_ENOMEM, or pthread_create's
 * error, an errno (EAGAIN: a thread limit, not memory). */
static int watchdog_start(http_t *h)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        return SW_ENOMEM;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&h->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0)
        return SW_ENOMEM;
    pthread_mutex_init(&h->mu, NULL);
    h->sync_ready = 1;
    h->conns = calloc(h->o.max_connections, sizeof(conn_t));
    if (!h->conns)
        return SW_ENOMEM;
    for (unsigned i = h->o.max_connections; i-- > 0;) {
        h->conns[i] = (conn_t){ .fd = -1, .next = h->free_conns };
        h->free_conns = &h->conns[i];
    }
    int prc = pthread_create(&h->watchdog, NULL, watchdog_main, h);
    if (prc != 0)
        return prc;
    h->watchdog_running = 1;
    return 0;
}

static void watchdog_stop(http_t *h)
{
    if (h->watchdog_running) {
        pthread_mutex_lock(&h->mu);
        h->stopping = 1;
        pthread_cond_signal(&h->wake);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->watchdog, NULL);
    }
    if (h->sync_ready) {
        pthread_cond_destroy(&h->wake);
        pthread_mutex_destroy(&h->mu);
    }
    free(h->conns);
}

void http_stop(http_t *h)
{
    if (!h)
        return;
    if (h->mhd)
        MHD_stop_daemon(h->mhd); /* every connection closed (and notified) */
    watchdog_stop(h);
    console_destroy(h->console);
    free(h->addr);
    free_secret(h->token);
    free(h->tls_cert);
    free_secret(h->tls_key);
    free(h);
}

http_t *http_start(const http_opts_t *o, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!o || !o->addr) {
        sw_errf(err, errlen, "http: no address given");
        return NULL;
    }
    if (!o->tls_cert != !o->tls_key) {
        sw_errf(err, errlen, "http: TLS needs both a certificate and a key file");
        return NULL;
    }
    http_t *h = calloc(1, sizeof(*h));
    if (!h || !(h->addr = strdup(o->addr)) ||
        (o->token && o->token[0] && !(h->token = strdup(o->token)))) {
        sw_errf(err, errlen, "http: %s", sw_strerror(SW_ENOMEM));
        http_stop(h);
        return NULL;
    }
    if (o->console && !(h->console = console_create())) {
        sw_errf(err, errlen, "http: %s", sw_strerror(SW_ENOMEM));
        http_stop(h);
        return NULL;
    }
    h->o = *o;
    h->o.addr = h->addr;
    h->o.token = h->token;
    h->o.tls_cert = h->o.tls_key = NULL;
    h->token_len = h->token ? strlen(h->token) : 0;
    if (!h->o.max_body)
        h->o.max_body = HTTP_MAX_BODY;
    if (!h->o.threads)
        h->o.threads = HTTP_THREADS;
    if (!h->o.max_connections)
        h->o.max_connections = HTTP_MAX_CONNECTIONS;
    if (h->o.max_connections < h->o.threads)
        h->o.max_connections = h->o.threads; /* libmicrohttpd shares them out per thread */
    if (!h->o.max_per_ip)
        h->o.max_per_ip = HTTP_MAX_PER_IP;
    if (!h->o.idle_timeout_s)
        h->o.idle_timeout_s = HTTP_IDLE_TIMEOUT_S;
    if (!h->o.request_timeout_s)
        h->o.request_timeout_s = HTTP_REQUEST_TIMEOUT_S;

    struct sockaddr_storage ss;
    uint16_t port;
    if (parse_addr(o->addr, &ss, &port, err, errlen) < 0) {
        http_stop(h);
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (o->tls_cert) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            sw_errf(err, errlen, "http: this libmicrohttpd has no TLS support");
            http_stop(h);
            return NULL;
        }
        if (!(h->tls_cert = read_file(o->tls_cert, err, errlen)) ||
            !(h->tls_key = read_file(o->tls_key, err, errlen))) {
            http_stop(h);
            return NULL;
        }
        flags |= MHD_USE_TLS;
    }
    int wrc = watchdog_start(h);
    if (wrc != 0) {
        sw_errf(err, errlen, "http: cannot start the connection watchdog: %s",
                wrc > 0 ? strerror(wrc) : sw_strerror(wrc));
        http_stop(h);
        return NULL;
    }
    struct MHD_OptionItem opts[13];
    size_t n = 0;
    opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, h };
    opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &ss };
    opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, h };
    opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_CONNECTION,
                                         (intptr_t)notify_connection, h };
    opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT,
                                         (intptr_t)h->o.max_connections, NULL };
    opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                         (intptr_t)h->o.max_per_ip, NULL };
    opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT,
                                         (intptr_t)h->o.idle_timeout_s, NULL };
    if (h->o.threads > 1)
        opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE,
                                             (intptr_t)h->o.threads, NULL };
    if (h->tls_cert) {
        opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert };
        opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key };
    }
    opts[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
    /* MHD_OPTION_SOCK_ADDR carries the port; this one is only for messages */
    h->mhd = MHD_start_daemon(flags, port, NULL, NULL, handle, h, MHD_OPTION_ARRAY, opts,
                              MHD_OPTION_END);
    if (!h->mhd) {
        const char *why = h->start_err[0] ? h->start_err : "libmicrohttpd refused to start";
        if (o->tls_cert)
            sw_errf(err, errlen, "http: cannot serve on %s: %s (certificate %s, key %s)",
                    o->addr, why, o->tls_cert, o->tls_key);
        else
            sw_errf(err, errlen, "http: cannot serve on %s: %s", o->addr, why);
        http_stop(h);
        return NULL;
    }
    atomic_store_explicit(&h->running, 1, memory_order_relaxed);
    return h;
}

console_t *http_console(const http_t *h)
{
    return h ? h->console : NULL;
}

unsigned http_port(const http_t *h)
{
    if (!h || !h->mhd)
        return 0;
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
    return i ? i->port : 0;
}

void http_stats(const http_t *h, http_stats_t *out)
{
    *out = (http_stats_t){ 0 };
    if (!h)
        return;
    /* the const is only the handle's: counting goes on while reading */
    http_t *m = (http_t *)h;
    for (int i = 0; i < 5; i++)
        out->requests[i] = atomic_load_explicit(&m->requests[i], memory_order_relaxed);
    out->auth_failures = atomic_load_explicit(&m->auth_failures, memory_order_relaxed);
    out->too_large = atomic_load_explicit(&m->too_large, memory_order_relaxed);
    out->dropped = atomic_load_explicit(&m->dropped, memory_order_relaxed);
    out->conn_refused = atomic_load_explicit(&m->conn_refused, memory_order_relaxed);
    out->conn_timed_out = atomic_load_explicit(&m->conn_timed_out, memory_order_relaxed);
    out->conn_open = atomic_load_explicit(&m->conn_open, memory_order_relaxed);
}

void http_metrics_write(const http_t *h, FILE *out)
{
    http_stats_t s;
    http_stats(h, &s);
    fputs("# HELP stormwatch_http_requests_total HTTP requests answered, by status class.\n"
          "# TYPE stormwatch_http_requests_total counter\n", out);
    for (int i = 0; i < 5; i++)
        fprintf(out, "stormwatch_http_requests_total{code=\"%dxx\"} %llu\n", i + 1,
                (unsigned long long)s.requests[i]);
    fprintf(out,
            "# HELP stormwatch_http_auth_failures_total API writes refused for a missing or "
            "wrong token.\n"
            "# TYPE stormwatch_http_auth_failures_total counter\n"
            "stormwatch_http_auth_failures_total %llu\n"
            "# HELP stormwatch_http_body_too_large_total Request bodies refused for their size.\n"
            "# TYPE stormwatch_http_body_too_large_total counter\n"
            "stormwatch_http_body_too_large_total %llu\n"
            "# HELP stormwatch_http_requests_dropped_total Requests ended without an answer.\n"
            "# TYPE stormwatch_http_requests_dropped_total counter\n"
            "stormwatch_http_requests_dropped_total %llu\n"
            "# HELP stormwatch_http_connections_refused_total Connections refused at accept: "
            "the global or per-address connection limit was reached.\n"
            "# TYPE stormwatch_http_connections_refused_total counter\n"
            "stormwatch_http_connections_refused_total %llu\n"
            "# HELP stormwatch_http_connections_timed_out_total Connections closed for not "
            "sending a whole request within the request timeout.\n"
            "# TYPE stormwatch_http_connections_timed_out_total counter\n"
            "stormwatch_http_connections_timed_out_total %llu\n"
            "# HELP stormwatch_http_connections HTTP connections open now.\n"
            "# TYPE stormwatch_http_connections gauge\n"
            "stormwatch_http_connections %llu\n",
            (unsigned long long)s.auth_failures, (unsigned long long)s.too_large,
            (unsigned long long)s.dropped, (unsigned long long)s.conn_refused,
            (unsigned long long)s.conn_timed_out, (unsigned long long)s.conn_open);
}
