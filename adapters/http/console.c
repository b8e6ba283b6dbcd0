/*
 * console.c - the live console (console.h): the Users' snapshot and the
 * transitions kept, rendered as JSON for the HTTP threads, and the page,
 * its script and its style (at the end, as strings).
 *
 * A snapshot is a table of rows (a User's levels and the alerts firing
 * for it each way) whose ids live in one string pool, and the alerts
 * firing as noted by the builder. Its first reader "seals" it: sorts the
 * rows by id, marks the alerts on them, and makes the listing order (the
 * Users alerting first, each part by id), so a lookup by id is a binary
 * search and a listing a walk.
 *
 * Size: about 840 lines, 420 of them the page's text; the C is 420.
 */
#include "console.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert.h"
#include "dir.h"
#include "err.h"
#include "monotime.h"
#include "timefmt.h"
#include "vec.h"

#define NS_PER_S INT64_C(1000000000)
/* rates are shown to the thousandth of a message a second */
#define RATE_SCALE 1000.0
#define JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(12))

/* One User in a snapshot. */
typedef struct {
    uint32_t name;          /* offset of its id in the pool */
    uint8_t seen;           /* DIR_BIT()s of the directions with a level */
    uint8_t sev[2];         /* the worst severity firing each way (SEV_*; 0: none) */
    uint32_t kinds[2];      /* 1u << alert_kind_t of each kind firing each way */
    float rate[2], base[2]; /* shown to 3 decimals: a float's 7 digits are plenty */
    int64_t at[2];
} row_t;                    /* 48 bytes: with its id, about 75 MB for a million Users */

/* An alert firing, as the builder noted it. */
typedef struct {
    uint32_t name;          /* offset of its User's id in the pool */
    uint8_t dir, kind, sev;
} firing_t;

struct console_users {
    row_t *v;
    size_t n, cap;
    char *pool;
    size_t plen, pcap;
    firing_t *fire;
    size_t nfire, fcap;
    int64_t built_at, feed_time; /* feed_time: the latest bucket's, INT64_MIN none */
    /* after publishing */
    unsigned refs;          /* under console.mu */
    pthread_mutex_t seal_mu;
    int sealed;             /* under seal_mu */
    uint32_t *order;        /* the listing: alerting first, each part by id */
};

/* One transition kept. */
typedef struct {
    int64_t at;
    char *line;
    size_t len;
} kept_t;

struct console {
    pthread_mutex_t mu;
    console_users_t *users; /* the current snapshot (a reference of its own) */
    kept_t ring[CONSOLE_HISTORY];
    size_t head, n;         /* the oldest at ring[head] */
    size_t bytes;           /* of the lines kept */
    _Atomic int64_t asked;  /* CLOCK_MONOTONIC ns of the last request for the Users; 0: none */
};

console_t *console_create(void)
{
    console_t *c = calloc(1, sizeof(*c));
    if (c)
        pthread_mutex_init(&c->mu, NULL);
    return c;
}

void console_users_free(console_users_t *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->seal_mu);
    free(s->v);
    free(s->pool);
    free(s->fire);
    free(s->order);
    free(s);
}

void console_destroy(console_t *c)
{
    if (!c)
        return;
    console_users_free(c->users); /* no reader is left: the server has stopped */
    for (size_t i = 0; i < c->n; i++)
        free(c->ring[(c->head + i) % CONSOLE_HISTORY].line);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* ---- building a snapshot ------------------------------------------------------ */

console_users_t *console_users_new(void)
{
    console_users_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    pthread_mutex_init(&s->seal_mu, NULL);
    s->feed_time = INT64_MIN;
    return s;
}

/* Copies `name` into the pool: its offset, or -1 when out of memory. */
static int64_t pool_add(console_users_t *s, const char *name)
{
    size_t len = strlen(name) + 1;
    if (s->plen + len > UINT32_MAX || VEC_RESERVE(s->pool, s->pcap, s->plen + len, 4096) < 0)
        return -1;
    memcpy(s->pool + s->plen, name, len);
    s->plen += len;
    return (int64_t)(s->plen - len);
}

int console_users_add(console_users_t *s, const char *user, const console_dir_t dir[2])
{
    if (VEC_RESERVE(s->v, s->cap, s->n + 1, 1024) < 0)
        return SW_ENOMEM;
    int64_t name = pool_add(s, user);
    if (name < 0)
        return SW_ENOMEM;
    row_t *r = &s->v[s->n++];
    *r = (row_t){ .name = (uint32_t)name };
    for (int d = DIR_SOUTH; d <= DIR_NORTH; d++) {
        if (!dir[d].seen)
            continue;
        r->seen |= DIR_BIT(d);
        r->rate[d] = (float)dir[d].rate;
        r->base[d] = (float)dir[d].baseline;
        r->at[d] = dir[d].at;
        if (dir[d].at > s->feed_time)
            s->feed_time = dir[d].at;
    }
    return SW_OK;
}

int console_users_firing(console_users_t *s, const char *user, int dir, int kind, int severity)
{
    if (!strcmp(user, "*") || kind < 0 || kind >= ALERT_NKINDS)
        return SW_OK;
    if (VEC_RESERVE(s->fire, s->fcap, s->nfire + 1, 64) < 0)
        return SW_ENOMEM;
    int64_t name = pool_add(s, user);
    if (name < 0)
        return SW_ENOMEM;
    s->fire[s->nfire++] = (firing_t){ .name = (uint32_t)name, .dir = (uint8_t)dir,
                                      .kind = (uint8_t)kind, .sev = (uint8_t)severity };
    return SW_OK;
}

void console_publish_users(console_t *c, console_users_t *s, int64_t built_at)
{
    /* what doubling left unused goes back (where it can: else it stays) */
    row_t *v = s->n ? realloc(s->v, s->n * sizeof(*v)) : NULL;
    char *pool = s->plen ? realloc(s->pool, s->plen) : NULL;
    if (v) {
        s->v = v;
        s->cap = s->n;
    }
    if (pool) {
        s->pool = pool;
        s->pcap = s->plen;
    }
    s->built_at = built_at;
    s->refs = 1; /* the console's own */
    pthread_mutex_lock(&c->mu);
    console_users_t *old = c->users;
    c->users = s;
    int last = old && --old->refs == 0;
    pthread_mutex_unlock(&c->mu);
    if (last)
        console_users_free(old);
}

/* ---- sealing: the first reader orders it ------------------------------------------ */

static int row_cmp(const void *a, const void *b, void *pool)
{
    return strcmp((const char *)pool + ((const row_t *)a)->name,
                  (const char *)pool + ((const row_t *)b)->name);
}

/* The row of User `name` among the first n (sorted), or NULL. */
static row_t *row_find(const console_users_t *s, size_t n, const char *name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int k = strcmp(name, s->pool + s->v[mid].name);
        if (k == 0)
            return &s->v[mid];
        if (k < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static int alerting(const row_t *r)
{
    return (r->kinds[0] | r->kinds[1]) != 0;
}

static int fire_cmp(const void *a, const void *b, void *pool)
{
    return strcmp((const char *)pool + ((const firing_t *)a)->name,
                  (const char *)pool + ((const firing_t *)b)->name);
}

/* Sorts the rows, adds a row for each User that fires without a level,
 * marks the alerts, makes the listing order: O(n log n + f log n) for n
 * rows and f alerts firing. 0, or SW_ENOMEM (nothing marked: the next
 * reader tries again). */
static int seal_now(console_users_t *s)
{
    if (s->nfire) /* (no qsort of an empty array: its base may be NULL) */
        qsort_r(s->fire, s->nfire, sizeof(firing_t), fire_cmp, s->pool);
    if (s->n)
        qsort_r(s->v, s->n, sizeof(row_t), row_cmp, s->pool);
    size_t had = s->n;
    for (size_t i = 0; i < s->nfire; i++) {
        const char *name = s->pool + s->fire[i].name;
        if ((i && !strcmp(name, s->pool + s->fire[i - 1].name)) || row_find(s, had, name))
            continue; /* its row is there, or was just added */
        if (VEC_RESERVE(s->v, s->cap, s->n + 1, 64) < 0)
            return SW_ENOMEM;
        s->v[s->n++] = (row_t){ .name = s->fire[i].name };
    }
    if (s->n > had)
        qsort_r(s->v, s->n, sizeof(row_t), row_cmp, s->pool);
    s->order = malloc((s->n ? s->n : 1) * sizeof(*s->order));
    if (!s->order)
        return SW_ENOMEM;
    for (size_t i = 0; i < s->nfire; i++) {
        const firing_t *f = &s->fire[i];
        row_t *r = row_find(s, s->n, s->pool + f->name);
        for (int d = DIR_SOUTH; d <= DIR_NORTH; d++) {
            if (f->dir != d && f->dir != DIR_BOTH)
                continue;
            r->kinds[d] |= 1u << f->kind;
            if (f->sev > r->sev[d])
                r->sev[d] = f->sev;
        }
    }
    size_t k = 0;
    for (int pass = 1; pass >= 0; pass--)
        for (size_t i = 0; i < s->n; i++)
            if (alerting(&s->v[i]) == pass)
                s->order[k++] = (uint32_t)i;
    return SW_OK;
}

static void drop(console_t *c, console_users_t *s)
{
    pthread_mutex_lock(&c->mu);
    int last = --s->refs == 0;
    pthread_mutex_unlock(&c->mu);
    if (last)
        console_users_free(s);
}

/* A reference to the current snapshot, sealed, into *out: 1; 0 when
 * there is none yet; -1 when out of memory to seal it. The caller drops a
 * reference taken with drop(). Notes the request (console_users_wanted). */
static int take(console_t *c, console_users_t **out)
{
    atomic_store_explicit(&c->asked, sw_mono_ns(), memory_order_relaxed);
    pthread_mutex_lock(&c->mu);
    console_users_t *s = c->users;
    if (s)
        s->refs++;
    pthread_mutex_unlock(&c->mu);
    *out = s;
    if (!s)
        return 0;
    pthread_mutex_lock(&s->seal_mu);
    if (!s->sealed)
        s->sealed = seal_now(s) == SW_OK;
    int sealed = s->sealed;
    pthread_mutex_unlock(&s->seal_mu);
    if (sealed)
        return 1;
    drop(c, s);
    return -1;
}

int console_users_wanted(console_t *c)
{
    int64_t asked = atomic_load_explicit(&c->asked, memory_order_relaxed);
    return asked && sw_mono_ns() - asked < CONSOLE_DEMAND_S * NS_PER_S;
}

/* ---- rendering ---------------------------------------------------------------- */

static json_t *time_json(int64_t ns)
{
    char buf[TF_BUFLEN];
    if (ns == INT64_MIN)
        return json_null();
    tf_format(ns, buf);
    return json_string(buf);
}

static json_t *rate_json(double v)
{
    return json_real(round(v * RATE_SCALE) / RATE_SCALE);
}

/* "ok", or the name of the worst severity firing. */
static const char *state_name(int sev)
{
    return sev ? severity_name(sev) : "ok";
}

/* One direction of a row; NULL when out of memory (json_pack fails on a
 * NULL value, and takes the others' references all the same). */
static json_t *dir_json(const row_t *r, int d)
{
    int seen = (r->seen & DIR_BIT(d)) != 0;
    json_t *kinds = json_array();
    for (int k = 0; k < ALERT_NKINDS && kinds; k++)
        if ((r->kinds[d] & (1u << k)) &&
            json_array_append_new(kinds, json_string(alert_kind_name((alert_kind_t)k))) < 0) {
            json_decref(kinds);
            kinds = NULL;
        }
    return json_pack("{s:o,s:o,s:o,s:s,s:o}", "rate", seen ? rate_json(r->rate[d]) : json_null(),
                     "baseline", seen ? rate_json(r->base[d]) : json_null(), "at",
                     time_json(seen ? r->at[d] : INT64_MIN), "state", state_name(r->sev[d]),
                     "alerts", kinds);
}

static json_t *row_json(const console_users_t *s, const row_t *r)
{
    int worst = r->sev[0] > r->sev[1] ? r->sev[0] : r->sev[1];
    return json_pack("{s:s,s:s,s:o,s:o}", "user", s->pool + r->name, "state", state_name(worst),
                     "south", dir_json(r, DIR_SOUTH), "north", dir_json(r, DIR_NORTH));
}

/* Dumps o (taking it) into *json: `status`, or 0 when out of memory. */
static int dump(json_t *o, int status, char **json)
{
    *json = o ? json_dumps(o, JSON_FLAGS) : NULL;
    json_decref(o);
    return *json ? status : 0;
}

static int pending(char **json)
{
    return dump(json_pack("{s:b}", "pending", 1), 202, json);
}

int console_users_json(console_t *c, const char *q, size_t limit, char **json)
{
    console_users_t *s;
    int got = take(c, &s);
    if (got <= 0)
        return got == 0 ? pending(json) : dump(NULL, 0, json);
    json_t *users = json_array();
    size_t matched = 0;
    for (size_t i = 0; i < s->n && users; i++) {
        const row_t *r = &s->v[s->order[i]];
        if (q && *q && !strcasestr(s->pool + r->name, q))
            continue;
        if (matched++ < limit && json_array_append_new(users, row_json(s, r)) < 0) {
            json_decref(users);
            users = NULL;
        }
    }
    json_t *o = users ? json_pack("{s:o,s:o,s:I,s:I,s:I,s:s,s:o}", "built_at",
                                  time_json(s->built_at), "feed_time", time_json(s->feed_time),
                                  "total", (json_int_t)s->n, "matched", (json_int_t)matched,
                                  "limit", (json_int_t)limit, "q", q ? q : "", "users", users)
                      : NULL;
    drop(c, s);
    return dump(o, 200, json);
}

/* The alerts of alerts_json (an array) whose "user" is id: a new array;
 * null when alerts_json is NULL or no array; NULL when out of memory. */
static json_t *alerts_of(const char *alerts_json, const char *id)
{
    json_error_t e;
    json_t *all = alerts_json ? json_loads(alerts_json, 0, &e) : NULL;
    if (!json_is_array(all)) {
        json_decref(all);
        return alerts_json && json_error_code(&e) == json_error_out_of_memory ? NULL : json_null();
    }
    json_t *mine = json_array();
    size_t i;
    json_t *a;
    json_array_foreach(all, i, a) {
        const char *u = json_string_value(json_object_get(a, "user"));
        if (mine && u && !strcmp(u, id) && json_array_append(mine, a) < 0) {
            json_decref(mine);
            mine = NULL;
        }
    }
    json_decref(all);
    return mine;
}

int console_user_json(console_t *c, const char *id, const char *alerts_json, char **json)
{
    console_users_t *s;
    int got = take(c, &s);
    if (got <= 0)
        return got == 0 ? pending(json) : dump(NULL, 0, json);
    const row_t *r = row_find(s, s->n, id);
    json_t *o = r ? row_json(s, r) : NULL;
    if (o && (json_object_set_new(o, "alerts", alerts_of(alerts_json, id)) < 0 ||
              json_object_set_new(o, "built_at", time_json(s->built_at)) < 0)) {
        json_decref(o);
        o = NULL;
    }
    drop(c, s);
    if (r)
        return dump(o, 200, json);
    char msg[128];
    snprintf(msg, sizeof(msg), "no User '%.64s'", id);
    return dump(json_pack("{s:s}", "error", msg), 404, json);
}

/* ---- transitions ------------------------------------------------------------- */

void console_transition(console_t *c, int64_t at, const char *line, size_t len)
{
    if (len && line[len - 1] == '\n')
        len--;
    if (len > CONSOLE_HISTORY_BYTES)
        return;
    char *copy = malloc(len + 1);
    if (!copy)
        return;
    memcpy(copy, line, len);
    copy[len] = '\0';
    pthread_mutex_lock(&c->mu);
    while (c->n && (c->n == CONSOLE_HISTORY || c->bytes + len > CONSOLE_HISTORY_BYTES)) {
        kept_t *old = &c->ring[c->head];
        c->bytes -= old->len;
        free(old->line);
        c->head = (c->head + 1) % CONSOLE_HISTORY;
        c->n--;
    }
    c->ring[(c->head + c->n) % CONSOLE_HISTORY] = (kept_t){ .at = at, .line = copy, .len = len };
    c->n++;
    c->bytes += len;
    pthread_mutex_unlock(&c->mu);
}

int console_history_json(console_t *c, int64_t since, char **json)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f) {
        *json = NULL;
        return 0;
    }
    char t[TF_BUFLEN];
    fputs("{\"since\":", f);
    if (since == INT64_MIN) {
        fputs("null", f);
    } else {
        tf_format(since, t);
        fprintf(f, "\"%s\"", t);
    }
    pthread_mutex_lock(&c->mu);
    fprintf(f, ",\"kept\":%zu,\"transitions\":[", c->n);
    int first = 1;
    for (size_t i = 0; i < c->n; i++) {
        const kept_t *k = &c->ring[(c->head + i) % CONSOLE_HISTORY];
        if (k->at < since)
            continue;
        tf_format(k->at, t);
        fprintf(f, "%s{\"at\":\"%s\",\"alert\":%s}", first ? "" : ",", t, k->line);
        first = 0;
    }
    pthread_mutex_unlock(&c->mu);
    fputs("]}", f);
    if (fclose(f) != 0) {
        free(buf);
        buf = NULL;
    }
    *json = buf;
    return buf ? 200 : 0;
}

/* ---- the page ------------------------------------------------------------------
 * Its HTML, script, style and icon, served as they are: the script builds every
 * element with textContent (no markup from data), and neither has inline
 * code, so CONSOLE_CSP holds them without 'unsafe-inline' or a hash. */

static const char page_html[] =
    "<!doctype html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>stormwatch: live console</title>\n"
    "<link rel=\"icon\" href=\"/console.svg\" type=\"image/svg+xml\">\n"
    "<link rel=\"stylesheet\" href=\"/console.css\">\n"
    "<script src=\"/console.js\" defer></script>\n"
    "</head>\n"
    "<body>\n"
    "<header>\n"
    "<h1>stormwatch <span>live console</span></h1>\n"
    "<p id=\"status\" class=\"status\">connecting</p>\n"
    "</header>\n"
    "<main>\n"
    "<section id=\"incidents\">\n"
    "<h2>Incidents now <span id=\"incidents-count\" class=\"count\"></span></h2>\n"
    "<p class=\"hint\">The alerts firing, one block per cause: its primary (the one that pages) first, then its members.</p>\n"
    "<div id=\"incident-list\"></div>\n"
    "</section>\n"
    "<section id=\"users\">\n"
    "<h2>Users <span id=\"users-count\" class=\"count\"></span></h2>\n"
    "<p class=\"hint\">Each User's rate in its last bucket, the rate its baselines expected, and what fires for it, each way (south: its Service Requests; north: responses and device alerts). Alerting Users first.</p>\n"
    "<input id=\"q\" type=\"search\" placeholder=\"Filter by User id\" autocomplete=\"off\" spellcheck=\"false\" aria-label=\"Filter Users by id\">\n"
    "<div class=\"scroll\">\n"
    "<table id=\"users-table\">\n"
    "<thead>\n"
    "<tr><th rowspan=\"2\">User</th><th colspan=\"3\">southbound</th><th colspan=\"3\">northbound</th></tr>\n"
    "<tr><th>msg/s</th><th>baseline</th><th>state</th><th>msg/s</th><th>baseline</th><th>state</th></tr>\n"
    "</thead>\n"
    "<tbody></tbody>\n"
    "</table>\n"
    "</div>\n"
    "</section>\n"
    "<section id=\"history\">\n"
    "<h2>Recent transitions <span id=\"history-count\" class=\"count\"></span></h2>\n"
    "<p class=\"hint\">Alert lines as they were written, newest first (event time, UTC).</p>\n"
    "<div class=\"scroll\">\n"
    "<table id=\"history-table\">\n"
    "<thead><tr><th>time</th><th>status</th><th>alert</th><th>User</th><th>dir</th><th>incident</th><th>cause</th></tr></thead>\n"
    "<tbody></tbody>\n"
    "</table>\n"
    "</div>\n"
    "</section>\n"
    "<section id=\"schedule\">\n"
    "<h2>Change schedule <span id=\"schedule-range\" class=\"count\"></span></h2>\n"
    "<table id=\"schedule-table\">\n"
    "<thead><tr><th>change</th><th>User</th><th>kind</th><th>title</th><th>start</th><th>end</th><th>affects</th><th>source</th><th>conflicts</th></tr></thead>\n"
    "<tbody></tbody>\n"
    "</table>\n"
    "</section>\n"
    "</main>\n"
    "</body>\n"
    "</html>\n";

static const char page_css[] =
    ":root { --ink: #1d2433; --muted: #5f6b7a; --line: #dfe3ea; --bg: #f5f7fa; --card: #fff;\n"
    "  --critical: #c62828; --warning: #b26a00; --info: #1565c0; --ok: #2e7d32; }\n"
    "* { box-sizing: border-box; }\n"
    "body { margin: 0; font: 14px/1.4 system-ui, -apple-system, \"Segoe UI\", Roboto, sans-serif;\n"
    "  color: var(--ink); background: var(--bg); }\n"
    "header { display: flex; align-items: baseline; justify-content: space-between; gap: 1em;\n"
    "  padding: 10px 24px; background: #1d2433; color: #fff; }\n"
    "h1 { margin: 0; font-size: 20px; }\n"
    "h1 span { font-weight: 400; color: #aab4c3; }\n"
    ".status { margin: 0; color: #c8d0dc; font-size: 13px; }\n"
    ".status.error { color: #ffab91; font-weight: 600; }\n"
    "main { padding: 8px 24px 24px; max-width: 1500px; }\n"
    "section { background: var(--card); border: 1px solid var(--line); border-radius: 6px;\n"
    "  padding: 8px 16px 12px; margin-top: 14px; }\n"
    "h2 { font-size: 16px; margin: 4px 0; }\n"
    ".count { font-weight: 400; color: var(--muted); font-size: 13px; margin-left: 6px; }\n"
    ".hint { margin: 0 0 8px; color: var(--muted); font-size: 12px; }\n"
    ".empty { color: var(--muted); font-style: italic; margin: 6px 0; }\n"
    "table { border-collapse: collapse; width: 100%; }\n"
    "th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid var(--line);\n"
    "  white-space: nowrap; vertical-align: top; }\n"
    "th { font-size: 12px; color: var(--muted); font-weight: 600; background: #fafbfc; }\n"
    "td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }\n"
    "td.id { font-family: ui-monospace, \"DejaVu Sans Mono\", monospace; font-size: 12.5px; }\n"
    "td.wrap { white-space: normal; }\n"
    ".scroll { max-height: 460px; overflow: auto; border: 1px solid var(--line); border-radius: 4px; }\n"
    ".scroll thead th { position: sticky; top: 0; z-index: 1; }\n"
    ".scroll thead tr:nth-child(2) th { top: 23px; }\n"
    "#users-table thead tr:first-child th[colspan] { text-align: center; }\n"
    "#q { width: 320px; padding: 5px 8px; margin: 0 0 8px; border: 1px solid #b8c0cc; border-radius: 4px;\n"
    "  font: inherit; }\n"
    ".badge { display: inline-block; padding: 0 6px; border-radius: 3px; font-size: 12px;\n"
    "  font-weight: 600; color: #fff; background: var(--muted); }\n"
    ".badge.critical { background: var(--critical); }\n"
    ".badge.warning { background: var(--warning); }\n"
    ".badge.info { background: var(--info); }\n"
    ".badge.learning { background: #7e57c2; }\n"
    ".state-ok { color: var(--ok); }\n"
    ".state-warning { color: var(--warning); font-weight: 600; }\n"
    ".state-critical { color: var(--critical); font-weight: 600; }\n"
    "tr.user.alerting { background: #fff5f5; }\n"
    "tr.transition.firing td.status { color: var(--critical); font-weight: 600; }\n"
    "tr.transition.resolved td.status { color: var(--ok); }\n"
    "#incident-list { display: flex; flex-direction: column; gap: 8px; }\n"
    ".incident { border: 1px solid var(--line); border-left: 5px solid var(--muted); border-radius: 4px;\n"
    "  padding: 6px 10px; }\n"
    ".incident.critical { border-left-color: var(--critical); }\n"
    ".incident.warning { border-left-color: var(--warning); }\n"
    ".incident.info { border-left-color: var(--info); }\n"
    ".incident .head { display: flex; flex-wrap: wrap; gap: 8px; align-items: baseline; margin-bottom: 4px; }\n"
    ".incident .iid { font-weight: 700; }\n"
    ".incident .cause { color: var(--ink); }\n"
    ".incident .cause.undeclared { color: var(--critical); font-weight: 600; }\n"
    ".incident tr.member td:first-child { padding-left: 22px; color: var(--muted); }\n"
    ".incident td { border-bottom: none; padding: 1px 6px; }\n"
    ".incident td.what { white-space: normal; color: var(--muted); width: 100%; }\n"
    ".incident table { width: 100%; }\n";

static const char page_js[] =
    "'use strict';\n"
    "/* stormwatch's live console: everything it shows comes from this origin's\n"
    " * JSON API, fetched every few seconds; text goes in with textContent only. */\n"
    "(function () {\n"
    "  var REFRESH_MS = 5000, RETRY_MS = 1000, TYPING_MS = 250;\n"
    "  var USERS_LIMIT = 1000, HISTORY_SHOWN = 100, DAY_MS = 86400000;\n"
    "  var SEVERITY = { critical: 3, warning: 2, info: 1 };\n"
    "  var timer = null, typing = null, running = false, again = false, refreshes = 0;\n"
    "\n"
    "  function $(id) { return document.getElementById(id); }\n"
    "  function el(tag, cls, text) {\n"
    "    var e = document.createElement(tag);\n"
    "    if (cls) e.className = cls;\n"
    "    if (text !== undefined && text !== null) e.textContent = String(text);\n"
    "    return e;\n"
    "  }\n"
    "  function row(cls, cells, data) {\n"
    "    var tr = el('tr', cls);\n"
    "    cells.forEach(function (c) { tr.appendChild(c); });\n"
    "    Object.keys(data || {}).forEach(function (k) { tr.dataset[k] = data[k] === null ? '' : String(data[k]); });\n"
    "    return tr;\n"
    "  }\n"
    "  function td(text, cls) { return el('td', cls, text); }\n"
    "  function badge(text, cls) { var t = el('td'); t.appendChild(el('span', 'badge ' + cls, text)); return t; }\n"
    "  function rate(x) {\n"
    "    if (x === null || x === undefined) return '-';\n"
    "    return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);\n"
    "  }\n"
    "  function when(t) { return t ? t.replace('T', ' ').replace(/(\\.\\d+)?Z$/, '') : ''; }\n"
    "  function cause(a) {\n"
    "    if (a.change) return a.change.id + (a.change.title ? ': ' + a.change.title : '');\n"
    "    return a.correlation === 'maintenance' ? 'DCC maintenance' : 'undeclared';\n"
    "  }\n"
    "  function get(path) {\n"
    "    return fetch(path, { cache: 'no-store', headers: { Accept: 'application/json' } }).then(function (r) {\n"
    "      if (r.status !== 200 && r.status !== 202) throw new Error(path + ': HTTP ' + r.status);\n"
    "      return r.json().then(function (body) { return { status: r.status, body: body }; });\n"
    "    });\n"
    "  }\n"
    "  function show(tbody, rows, empty, columns) {\n"
    "    if (!rows.length) {\n"
    "      var c = td(empty, 'empty');\n"
    "      c.colSpan = columns;\n"
    "      rows = [row('', [c])];\n"
    "    }\n"
    "    tbody.replaceChildren.apply(tbody, rows);\n"
    "  }\n"
    "\n"
    "  /* Incidents now: the alerts firing grouped by incident, primary first. */\n"
    "  function renderIncidents(alerts) {\n"
    "    var groups = new Map();\n"
    "    alerts.forEach(function (a) {\n"
    "      var id = a.incident || a.alert + ' ' + a.user + ' ' + a.dir;\n"
    "      if (!groups.has(id)) groups.set(id, { id: id, alerts: [] });\n"
    "      groups.get(id).alerts.push(a);\n"
    "    });\n"
    "    var list = Array.from(groups.values()).map(function (g) {\n"
    "      var p = g.alerts.find(function (a) { return a.incident_role !== 'member'; }) || g.alerts[0];\n"
    "      g.primary = p;\n"
    "      g.members = g.alerts.filter(function (a) { return a !== p; });\n"
    "      return g;\n"
    "    });\n"
    "    list.sort(function (a, b) {\n"
    "      return (SEVERITY[b.primary.severity] || 0) - (SEVERITY[a.primary.severity] || 0) ||\n"
    "        (a.primary.starts_at < b.primary.starts_at ? -1 : a.primary.starts_at > b.primary.starts_at ? 1 : 0);\n"
    "    });\n"
    "    var box = $('incident-list');\n"
    "    box.replaceChildren();\n"
    "    if (!list.length) box.appendChild(el('p', 'empty', 'No alert is firing.'));\n"
    "    list.forEach(function (g) {\n"
    "      var p = g.primary, art = el('article', 'incident ' + p.severity);\n"
    "      art.dataset.incident = p.incident || '';\n"
    "      art.dataset.severity = p.severity;\n"
    "      art.dataset.cause = p.change ? p.change.id : p.correlation;\n"
    "      var head = el('div', 'head');\n"
    "      head.appendChild(el('span', 'iid', p.incident || 'no incident'));\n"
    "      head.appendChild(el('span', 'badge ' + p.severity, p.severity));\n"
    "      head.appendChild(el('span', 'cause' + (p.change ? '' : ' ' + p.correlation), 'cause: ' + cause(p)));\n"
    "      head.appendChild(el('span', 'count', 'since ' + when(p.starts_at) + ', ' + g.alerts.length +\n"
    "        (g.alerts.length === 1 ? ' alert' : ' alerts')));\n"
    "      art.appendChild(head);\n"
    "      var table = el('table', 'alerts'), body = el('tbody');\n"
    "      [p].concat(g.members).forEach(function (a) {\n"
    "        var role = a === p ? 'primary' : 'member', what = el('td', 'what');\n"
    "        what.appendChild(el('span', '', a.summary || ''));\n"
    "        if (a.learning) { what.appendChild(document.createTextNode(' ')); what.appendChild(el('span', 'badge learning', 'learning')); }\n"
    "        body.appendChild(row('alert ' + role, [td(role), td(a.alert), td(a.user, 'id'), td(a.dir),\n"
    "          td(when(a.starts_at)), what], {\n"
    "          role: role, kind: a.alert, user: a.user, dir: a.dir, class: a.class, starts: a.starts_at\n"
    "        }));\n"
    "      });\n"
    "      table.appendChild(body);\n"
    "      art.appendChild(table);\n"
    "      box.appendChild(art);\n"
    "    });\n"
    "    $('incidents-count').textContent = list.length + (list.length === 1 ? ' incident, ' : ' incidents, ') +\n"
    "      alerts.length + (alerts.length === 1 ? ' alert' : ' alerts');\n"
    "  }\n"
    "\n"
    "  /* Users: the status table, and the filter typed in the box. */\n"
    "  function stateCell(d) {\n"
    "    var text = d.alerts && d.alerts.length ? d.alerts.join(', ') : d.state;\n"
    "    return td(text, 'state-' + d.state);\n"
    "  }\n"
    "  function renderUsers(u, q) {\n"
    "    var rows = u.users.map(function (x) {\n"
    "      var data = { user: x.user, state: x.state };\n"
    "      ['south', 'north'].forEach(function (d) {\n"
    "        data[d + 'Rate'] = x[d].rate;\n"
    "        data[d + 'Baseline'] = x[d].baseline;\n"
    "        data[d + 'State'] = x[d].state;\n"
    "        data[d + 'Alerts'] = (x[d].alerts || []).join(',');\n"
    "      });\n"
    "      return row('user' + (x.state === 'ok' ? '' : ' alerting'), [td(x.user, 'id'),\n"
    "        td(rate(x.south.rate), 'num'), td(rate(x.south.baseline), 'num'), stateCell(x.south),\n"
    "        td(rate(x.north.rate), 'num'), td(rate(x.north.baseline), 'num'), stateCell(x.north)], data);\n"
    "    });\n"
    "    show(document.querySelector('#users-table tbody'), rows, q ? 'No User matches.' : 'No User yet.', 7);\n"
    "    document.body.dataset.usersQ = q;\n"
    "    $('users-count').dataset.total = u.total;\n"
    "    $('users-count').dataset.matched = u.matched;\n"
    "    filter();\n"
    "  }\n"
    "  function filter() {\n"
    "    var q = $('q').value.trim().toLowerCase(), shown = 0, all = 0;\n"
    "    document.querySelectorAll('#users-table tr.user').forEach(function (tr) {\n"
    "      var keep = !q || tr.dataset.user.toLowerCase().indexOf(q) >= 0;\n"
    "      tr.hidden = !keep;\n"
    "      all++;\n"
    "      if (keep) shown++;\n"
    "    });\n"
    "    var c = $('users-count');\n"
    "    c.textContent = shown + ' shown of ' + (c.dataset.total || all) +\n"
    "      (c.dataset.matched && +c.dataset.matched > all ? ' (' + c.dataset.matched + ' match: refine the filter)' : '');\n"
    "  }\n"
    "\n"
    "  /* Recent transitions, newest first. */\n"
    "  function renderHistory(h) {\n"
    "    var recent = h.transitions.slice(-HISTORY_SHOWN).reverse();\n"
    "    var rows = recent.map(function (t) {\n"
    "      var a = t.alert;\n"
    "      return row('transition ' + a.status, [td(when(t.at)), td(a.status, 'status'), td(a.alert),\n"
    "        td(a.user, 'id'), td(a.dir), td(a.incident || ''), td(cause(a), 'wrap')], {\n"
    "        at: t.at, status: a.status, kind: a.alert, user: a.user, dir: a.dir,\n"
    "        incident: a.incident || '', change: a.change ? a.change.id : ''\n"
    "      });\n"
    "    });\n"
    "    show(document.querySelector('#history-table tbody'), rows, 'No transition yet.', 7);\n"
    "    $('history-count').textContent = 'the last ' + recent.length + ' of ' + h.kept + ' kept';\n"
    "  }\n"
    "\n"
    "  /* The change schedule around the feed's time: from a day before it, a week ahead. */\n"
    "  function schedulePath(feedTime) {\n"
    "    var t = feedTime ? Date.parse(feedTime) : Date.now(), from = new Date(t - DAY_MS);\n"
    "    return '/api/v1/schedule?from=' + from.toISOString() + '&to=' + new Date(t + 7 * DAY_MS).toISOString();\n"
    "  }\n"
    "  function renderSchedule(s) {\n"
    "    var rows = s.changes.map(function (c) {\n"
    "      var n = (c.conflicts || []).length;\n"
    "      return row('change', [td(c.id, 'id'), td(c.user, 'id'), td(c.kind || ''), td(c.title || '', 'wrap'),\n"
    "        td(when(c.start)), td(when(c.end)), td((c.affects || []).join(', ')), td(c.source || ''),\n"
    "        td(n ? n + ': ' + c.conflicts.map(function (k) { return k.type; }).join(', ') : '')],\n"
    "      { change: c.id, user: c.user });\n"
    "    });\n"
    "    show(document.querySelector('#schedule-table tbody'), rows, 'No change in this range.', 9);\n"
    "    $('schedule-table').dataset.from = s.from;\n"
    "    $('schedule-table').dataset.to = s.to;\n"
    "    $('schedule-range').textContent = when(s.from) + ' to ' + when(s.to) + ' UTC' +\n"
    "      (s.omitted ? ', ' + s.omitted + ' more not shown' : '');\n"
    "  }\n"
    "\n"
    "  function status(text, bad) {\n"
    "    var s = $('status');\n"
    "    s.textContent = text;\n"
    "    s.className = 'status' + (bad ? ' error' : '');\n"
    "  }\n"
    "\n"
    "  function refresh() {\n"
    "    if (running) { again = true; return; }\n"
    "    running = true;\n"
    "    clearTimeout(timer);\n"
    "    var q = $('q').value.trim(), next = REFRESH_MS, feed = null;\n"
    "    var users = '/api/v1/users?limit=' + USERS_LIMIT + (q ? '&q=' + encodeURIComponent(q) : '');\n"
    "    Promise.all([get('/api/v1/alerts'), get(users), get('/api/v1/history')]).then(function (r) {\n"
    "      renderIncidents(r[0].body);\n"
    "      renderHistory(r[2].body);\n"
    "      if (r[1].status === 202) {\n"
    "        next = RETRY_MS;\n"
    "      } else {\n"
    "        renderUsers(r[1].body, q);\n"
    "        feed = r[1].body.feed_time;\n"
    "      }\n"
    "      return get(schedulePath(feed)).then(function (s) {\n"
    "        renderSchedule(s.body);\n"
    "        if (next === REFRESH_MS) document.body.dataset.refreshed = String(++refreshes);\n"
    "        status('updated ' + new Date().toISOString().slice(11, 19) + ' UTC' +\n"
    "          (feed ? ' \\u00b7 feed at ' + when(feed) + ' UTC' : ' \\u00b7 gathering the Users\\u2026'), false);\n"
    "      });\n"
    "    }).catch(function (e) {\n"
    "      status('not updated: ' + e.message, true);\n"
    "    }).then(function () {\n"
    "      running = false;\n"
    "      if (again) { again = false; next = 0; }\n"
    "      timer = setTimeout(refresh, next);\n"
    "    });\n"
    "  }\n"
    "\n"
    "  $('q').addEventListener('input', function () {\n"
    "    filter();\n"
    "    clearTimeout(typing);\n"
    "    typing = setTimeout(refresh, TYPING_MS);\n"
    "  });\n"
    "  refresh();\n"
    "})();\n";

static const char page_svg[] =
    "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 32 32\">\n"
    "<rect width=\"32\" height=\"32\" rx=\"6\" fill=\"#1d2433\"/>\n"
    "<path d=\"M9 21a6 6 0 0 1 1-12 8 8 0 0 1 14 3 5 5 0 0 1 0 9z\" fill=\"#aab4c3\"/>\n"
    "<path d=\"M17 15l-4 7h3l-2 6 6-8h-3l2-5z\" fill=\"#ffb300\"/>\n"
    "</svg>\n";

const console_asset_t *console_asset(const char *path)
{
    static const console_asset_t assets[] = {
        { "/", "text/html; charset=utf-8", page_html },
        { "/console.js", "text/javascript; charset=utf-8", page_js },
        { "/console.css", "text/css; charset=utf-8", page_css },
        { "/console.svg", "image/svg+xml", page_svg },
    };
    for (size_t i = 0; i < sizeof(assets) / sizeof(assets[0]); i++)
        if (!strcmp(path, assets[i].path))
            return &assets[i];
    return NULL;
}
