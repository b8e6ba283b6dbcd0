/*
 * changes_api.c - changes declared at runtime, kept in a journal (see
 * changes_api.h for the journal format and the crash rules).
 *
 * A declare is parsed and validated outside the lock, into JSON texts
 * built in advance (the journal line and the stored change), and every
 * allocation is made before the journal is written: once the line is on
 * disk, applying it in memory cannot fail. A failed append is cut off again
 * (ftruncate to the previous size, fsync), so the file always matches
 * memory; if even that fails, the journal is marked broken and refuses
 * further writes until the daemon is restarted and replays what is on disk.
 *
 * The changes are an array in the order declared with a hash index on the
 * id, so a declare costs O(1) besides its parse and fsync, however many
 * changes are declared; a withdrawal shifts the array (O(n), no more than
 * its fsync costs).
 *
 * DESIGN: one mutex guards everything in changes_api_t. It is held across
 * the append and its fdatasync: declares are rare and a reader (a list,
 * a snapshot) waits for at most one fsync. The on_change callback runs
 * under it, so its calls come in journal order.
 *
 * Size: about 1100 lines, kept whole on purpose: the journal's crash
 * rules (write ahead, cut back on failure, replay) and the JSON they
 * journal are one invariant, checked in one place.
 */
#include "changes_api.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "fileio.h"
#include "idindex.h"
#include "timefmt.h"
#include "vec.h"

#define NS_PER_S INT64_C(1000000000)
#define JOURNAL_MAGIC "stormwatch_changes_journal"
#define JOURNAL_VERSION 1
#define SHOWN_MAX 100 /* bytes of a rejected value echoed in a message */
#define SET_ASIDE_TRIES 100 /* names tried for a corrupt journal set aside within one second */

/* The fields of a change, in the contract's order (as the YAML loader). */
enum { K_ID, K_USER, K_TITLE, K_KIND, K_START, K_END, K_AFFECTS, K_EXPECTED, K_CONTACT, K_COUNT };
static const char *const key_names[K_COUNT] = {
    "id", "user", "title", "kind", "start", "end", "affects", "expected", "contact",
};

typedef struct {
    change_t c;          /* owns its strings */
    int64_t declared_at; /* wall-clock ns of the declare */
} decl_t;

struct changes_api {
    pthread_mutex_t mu;
    char *path;
    int fd;               /* the journal, O_APPEND, flock'ed */
    int broken;           /* an append could not be undone: writes refused */
    decl_t *v;            /* declared changes, in the order declared */
    size_t n, cap;
    idindex_t by_id;      /* id -> position in v */
    size_t dead;          /* withdrawn changes still in the journal */
    changes_api_opts_t o;
    changes_api_stats_t st;
};


static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/*
 * RFC 3339 in UTC without losing precision: tf_format()'s text (whole
 * seconds, or milliseconds) with 6 or 9 fraction digits when the time
 * needs them, so that a date read back from the journal is the same ns.
 */
static void fmt_time(int64_t ns, char buf[TF_BUFLEN])
{
    tf_format(ns, buf);
    int64_t frac = ns % NS_PER_S;
    if (frac < 0)
        frac += NS_PER_S;
    if (frac % 1000000 == 0)
        return;
    int digits = frac % 1000 == 0 ? 6 : 9;
    long long shown = digits == 6 ? frac / 1000 : frac;
    /* "YYYY-MM-DDTHH:MM:SS" is 19 characters for every year int64 ns can hold */
    snprintf(buf + 19, TF_BUFLEN - 19, ".%0*lldZ", digits, shown);
}

static const char *affects_word(unsigned bits)
{
    return bits == CHG_NORTH ? "north" : bits == CHG_SOUTH ? "south" : "both";
}

/* How a JSON value reads in "got ..." messages. */
static const char *describe(const json_t *v, char *buf, size_t len)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    case JSON_STRING:
        if (json_string_length(v) == 0)
            return "an empty value";
        snprintf(buf, len, "'%.*s'", SHOWN_MAX, json_string_value(v));
        return buf;
    }
    return "a value";
}

/* ---- validation: the YAML loader's rules, on a JSON object ------------ */

typedef struct {
    const json_t *obj;
    char *err;
    size_t errlen;
} parse_t;

/* The text of field k (borrowed from the JSON): NULL when absent, null or
 * empty; required fields must have a value. */
static int text(parse_t *P, int k, int required, const char **out)
{
    char got[SHOWN_MAX + 8];
    const json_t *v = json_object_get(P->obj, key_names[k]);
    *out = NULL;
    if (!v) {
        if (required) {
            sw_errf(P->err, P->errlen, "missing field '%s'", key_names[k]);
            return SW_ECONFIG;
        }
        return 0;
    }
    if (!json_is_null(v) && !json_is_string(v)) {
        sw_errf(P->err, P->errlen, "field '%s': expected text, got %s", key_names[k],
                describe(v, got, sizeof(got)));
        return SW_ECONFIG;
    }
    if (json_is_null(v) || json_string_length(v) == 0) {
        if (required) {
            sw_errf(P->err, P->errlen, "field '%s': missing value", key_names[k]);
            return SW_ECONFIG;
        }
        return 0;
    }
    char why[128];
    if (change_check_text(key_names[k], json_string_value(v), json_string_length(v), why,
                          sizeof(why)) < 0) {
        sw_errf(P->err, P->errlen, "field '%s': %s", key_names[k], why);
        return SW_ECONFIG;
    }
    *out = json_string_value(v);
    return 0;
}

static int date(parse_t *P, int k, int64_t *ns)
{
    const char *s;
    int rc = text(P, k, 1, &s);
    if (rc < 0)
        return rc;
    rc = tf_parse_rfc3339(s, ns);
    if (rc == SW_ERANGE) {
        sw_errf(P->err, P->errlen, "field '%s': date '%.*s' out of range (1677-09-21 to "
                "2262-04-11)", key_names[k], SHOWN_MAX, s);
        return SW_ECONFIG;
    }
    if (rc < 0) {
        sw_errf(P->err, P->errlen, "field '%s': bad date '%.*s' (expected RFC 3339, e.g. "
                "2019-09-12T09:00:00Z)", key_names[k], SHOWN_MAX, s);
        return SW_ECONFIG;
    }
    return 0;
}

static int affects_one(parse_t *P, const json_t *v, unsigned *bits)
{
    static const struct {
        const char *word;
        unsigned bits;
    } words[] = { { "north", CHG_NORTH }, { "south", CHG_SOUTH }, { "both", CHG_BOTH } };
    char got[SHOWN_MAX + 8];
    for (size_t i = 0; json_is_string(v) && i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcasecmp(json_string_value(v), words[i].word) == 0) {
            *bits |= words[i].bits;
            return 0;
        }
    }
    sw_errf(P->err, P->errlen, "field 'affects': expected north, south or both, got %s",
            describe(v, got, sizeof(got)));
    return SW_ECONFIG;
}

/* `affects`: a word or an array of words; absent or null means both. */
static int affects(parse_t *P, unsigned *bits)
{
    const json_t *v = json_object_get(P->obj, "affects");
    *bits = 0;
    if (!v || json_is_null(v)) {
        *bits = CHG_BOTH;
        return 0;
    }
    if (!json_is_array(v))
        return affects_one(P, v, bits);
    if (json_array_size(v) == 0) {
        sw_errf(P->err, P->errlen,
                "field 'affects': expected north, south or both, got an empty list");
        return SW_ECONFIG;
    }
    if (json_array_size(v) > CHG_MAX_AFFECTS) {
        sw_errf(P->err, P->errlen, "field 'affects': expected at most %d words, got %zu",
                CHG_MAX_AFFECTS, json_array_size(v));
        return SW_ECONFIG;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        int rc = affects_one(P, json_array_get(v, i), bits);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/*
 * Validates the change in `obj` into *c, whose strings are borrowed from
 * `obj`. Fields are checked in the contract's order, so the first problem
 * reported is the one the YAML loader would report. SW_ECONFIG with the
 * message in err.
 */
static int parse_change(const json_t *obj, change_t *c, char *err, size_t errlen)
{
    parse_t P = { .obj = obj, .err = err, .errlen = errlen };
    const char *s[K_COUNT] = { 0 };
    *c = (change_t){ 0 };
    if (!json_is_object(obj)) {
        sw_errf(err, errlen, "body is not a JSON object");
        return SW_ECONFIG;
    }
    int rc = text(&P, K_ID, 1, &s[K_ID]);
    if (rc == 0)
        rc = text(&P, K_USER, 1, &s[K_USER]);
    if (rc == 0)
        rc = text(&P, K_TITLE, 0, &s[K_TITLE]);
    if (rc == 0)
        rc = text(&P, K_KIND, 0, &s[K_KIND]);
    if (rc == 0)
        rc = date(&P, K_START, &c->start);
    if (rc == 0)
        rc = date(&P, K_END, &c->end);
    if (rc == 0 && c->end < c->start) {
        sw_errf(err, errlen, "field 'end': end is before start");
        rc = SW_ECONFIG;
    }
    if (rc == 0)
        rc = affects(&P, &c->affects);
    if (rc == 0)
        rc = text(&P, K_EXPECTED, 0, &s[K_EXPECTED]);
    if (rc == 0)
        rc = text(&P, K_CONTACT, 0, &s[K_CONTACT]);
    if (rc < 0)
        return rc;
    /* the casts only fit change_t: these strings are copied before use */
    c->id = (char *)s[K_ID];
    c->user = (char *)s[K_USER];
    c->title = (char *)s[K_TITLE];
    c->kind = (char *)s[K_KIND];
    c->expected = (char *)s[K_EXPECTED];
    c->contact = (char *)s[K_CONTACT];
    return 0;
}

/* Parses text that must hold one JSON value: SW_ECONFIG or SW_ENOMEM. */
static int load_json(const char *buf, size_t len, json_t **out, char *err, size_t errlen)
{
    json_error_t je;
    *out = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (*out)
        return 0;
    /* jansson reports a failed allocation as out_of_memory, or (when its
     * lexer cannot even start) with no message at all */
    if (json_error_code(&je) == json_error_out_of_memory || je.text[0] == '\0') {
        sw_errf(err, errlen, "%s", sw_strerror(SW_ENOMEM));
        return SW_ENOMEM;
    }
    sw_errf(err, errlen, "body is not valid JSON: %s (line %d, column %d)", je.text, je.line,
            je.column);
    return SW_ECONFIG;
}

/* ---- JSON out ------------------------------------------------------------ */

/* The change as a JSON object; with declared_at when `at` is given. NULL
 * when out of memory. */
static json_t *change_json(const change_t *c, const int64_t *at)
{
    char start[TF_BUFLEN], end[TF_BUFLEN], when[TF_BUFLEN];
    fmt_time(c->start, start);
    fmt_time(c->end, end);
    if (at)
        fmt_time(*at, when);
    return json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:s, s:s, s:s?, s:s?, s:s*}", "id", c->id,
                     "user", c->user, "title", c->title, "kind", c->kind, "start", start, "end",
                     end, "affects", affects_word(c->affects), "expected", c->expected,
                     "contact", c->contact, "declared_at", at ? when : NULL);
}

/* Compact one-line text of `v` (stolen: freed here), or NULL. */
static char *dump_steal(json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    return s;
}

/* s (stolen) with a newline appended: a journal line, or NULL. */
static char *as_line(char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *line = realloc(s, n + 2);
    if (!line) {
        free(s);
        return NULL;
    }
    memcpy(line + n, "\n", 2);
    return line;
}

/* A journal line for declaring c at `at`, or NULL. */
static char *declare_line(const change_t *c, int64_t at)
{
    char when[TF_BUFLEN];
    fmt_time(at, when);
    json_t *ch = change_json(c, NULL);
    if (!ch)
        return NULL;
    /* "o" steals the reference to ch, also when json_pack fails */
    return as_line(dump_steal(json_pack("{s:s, s:s, s:o}", "op", "declare", "at", when,
                                        "change", ch)));
}

static char *withdraw_line(const char *id, int64_t at)
{
    char when[TF_BUFLEN];
    fmt_time(at, when);
    return as_line(dump_steal(json_pack("{s:s, s:s, s:s}", "op", "withdraw", "at", when,
                                        "id", id)));
}

static const char header_line[] = "{\"" JOURNAL_MAGIC "\":1}\n";

/* ---- the in-memory set -------------------------------------------------- */

static void decl_free(decl_t *d)
{
    change_free_strings(&d->c);
}

/* A copy of c owning its strings: 0, or SW_ENOMEM with nothing allocated. */
static int decl_fill(decl_t *d, const change_t *c, int64_t at)
{
    *d = (decl_t){ .declared_at = at };
    if (change_copy(&d->c, c) < 0)
        return SW_ENOMEM;
    d->c.line = 0;
    return 0;
}

/* Room for one more change, in the array and the index: 0 or SW_ENOMEM. */
static int reserve(changes_api_t *api)
{
    if (idx_reserve(&api->by_id, api->n + 1) < 0)
        return SW_ENOMEM;
    return VEC_RESERVE(api->v, api->cap, api->n + 1, 16);
}

/* Takes d in as the last declared change; reserve() made room. O(1). */
static void append(changes_api_t *api, const decl_t *d)
{
    api->v[api->n] = *d;
    idx_insert(&api->by_id, api->v[api->n].c.id, strlen(api->v[api->n].c.id), api->n);
    api->n++;
}

static ssize_t find(const changes_api_t *api, const char *id)
{
    return id ? (ssize_t)idx_find(&api->by_id, id, strlen(id)) : -1;
}

/* Removes change i, keeping the order declared: O(n) moves and index
 * updates, paid only by a withdrawal (rarer than a declare, and cheaper
 * than its fsync). */
static void remove_at(changes_api_t *api, size_t i)
{
    idx_remove(&api->by_id, api->v[i].c.id, strlen(api->v[i].c.id));
    decl_free(&api->v[i]);
    memmove(&api->v[i], &api->v[i + 1], (api->n - i - 1) * sizeof(decl_t));
    api->n--;
    for (size_t j = i; j < api->n; j++)
        idx_update(&api->by_id, api->v[j].c.id, strlen(api->v[j].c.id), j);
}

/* ---- the journal file ----------------------------------------------------- */

/*
 * Appends `line` and makes it durable: 0, or SW_EIO with a message. On
 * failure the file is cut back to its previous size, so that it matches
 * memory; when that fails too the journal is marked broken.
 */
static int journal_append(changes_api_t *api, const char *line, char *err, size_t errlen)
{
    if (api->broken) {
        sw_errf(err, errlen, "%s: journal unusable since an earlier write error; restart to "
                "replay it", api->path);
        return SW_EIO;
    }
    struct stat sb;
    if (fstat(api->fd, &sb) < 0) {
        sw_errf(err, errlen, "%s: %s", api->path, strerror(errno));
        api->st.journal_errors++;
        return SW_EIO;
    }
    if (fio_write_all(api->fd, line, strlen(line)) == 0 && fdatasync(api->fd) == 0)
        return 0;
    int e = errno;
    api->st.journal_errors++;
    if (ftruncate(api->fd, sb.st_size) < 0 || fsync(api->fd) < 0)
        api->broken = 1;
    sw_errf(err, errlen, "%s: cannot write the journal: %s", api->path, strerror(e));
    return SW_EIO;
}

/*
 * Rewrites the journal with one declare line per live change: a temporary
 * file, fsync, rename over the journal, fsync of the directory. The new
 * file is locked before the rename, so the lock never lapses. On failure
 * the old journal stays in use, untouched. 0 or SW_EIO / SW_ENOMEM.
 */
static int compact(changes_api_t *api)
{
    size_t tlen = strlen(api->path) + 8;
    char *tmp = malloc(tlen);
    char **lines = calloc(api->n ? api->n : 1, sizeof(*lines));
    int rc = tmp && lines ? 0 : SW_ENOMEM;
    for (size_t i = 0; rc == 0 && i < api->n; i++)
        if (!(lines[i] = declare_line(&api->v[i].c, api->v[i].declared_at)))
            rc = SW_ENOMEM;
    int fd = -1;
    if (rc == 0) {
        snprintf(tmp, tlen, "%s.tmp", api->path);
        fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
            rc = SW_EIO;
    }
    if (rc == 0 && fio_write_all(fd, header_line, strlen(header_line)) < 0)
        rc = SW_EIO;
    for (size_t i = 0; rc == 0 && i < api->n; i++)
        if (fio_write_all(fd, lines[i], strlen(lines[i])) < 0)
            rc = SW_EIO;
    if (rc == 0 && (fsync(fd) < 0 || rename(tmp, api->path) < 0))
        rc = SW_EIO;
    if (rc == 0) {
        /* renamed: the new file is the journal, whatever the directory
         * fsync says (both files hold the same live changes) */
        fio_sync_dir(api->path);
        close(api->fd);
        api->fd = fd;
        api->dead = 0;
        api->st.compactions++;
    } else {
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        api->st.compaction_errors++;
    }
    for (size_t i = 0; lines && i < api->n; i++)
        free(lines[i]);
    free(lines);
    free(tmp);
    return rc;
}

static void maybe_compact(changes_api_t *api)
{
    if (api->dead > api->o.compact_after)
        compact(api); /* a failure is counted; the old journal is still good */
}

/* ---- replay ----------------------------------------------------------------- */

typedef struct {
    changes_api_t *api;
    int header_seen;
    char *err;
    size_t errlen;
} replay_t;

static int blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

static int replay_declare(replay_t *R, unsigned long lineno, const json_t *op)
{
    changes_api_t *api = R->api;
    char why[512];
    const json_t *at_v = json_object_get(op, "at");
    int64_t at;
    if (!json_is_string(at_v) || tf_parse_rfc3339(json_string_value(at_v), &at) < 0) {
        sw_errf(R->err, R->errlen, "%s:%lu: declare: 'at' is not an RFC 3339 date", api->path,
                lineno);
        return SW_ECONFIG;
    }
    change_t c;
    if (parse_change(json_object_get(op, "change"), &c, why, sizeof(why)) < 0) {
        sw_errf(R->err, R->errlen, "%s:%lu: declare: %s", api->path, lineno,
                json_object_get(op, "change") ? why : "missing field 'change'");
        return SW_ECONFIG;
    }
    if (find(api, c.id) >= 0) {
        sw_errf(R->err, R->errlen, "%s:%lu: declare: id '%s' is already declared", api->path,
                lineno, c.id);
        return SW_ECONFIG;
    }
    decl_t d;
    if (reserve(api) < 0 || decl_fill(&d, &c, at) < 0) {
        sw_errf(R->err, R->errlen, "%s: %s", api->path, sw_strerror(SW_ENOMEM));
        return SW_ENOMEM;
    }
    append(api, &d);
    return 0;
}

static int replay_withdraw(replay_t *R, unsigned long lineno, const json_t *op)
{
    changes_api_t *api = R->api;
    const json_t *id = json_object_get(op, "id");
    if (!json_is_string(id)) {
        sw_errf(R->err, R->errlen, "%s:%lu: withdraw: missing field 'id'", api->path, lineno);
        return SW_ECONFIG;
    }
    ssize_t i = find(api, json_string_value(id));
    if (i < 0) {
        sw_errf(R->err, R->errlen, "%s:%lu: withdraw: id '%s' is not declared", api->path,
                lineno, json_string_value(id));
        return SW_ECONFIG;
    }
    remove_at(api, (size_t)i);
    api->dead++;
    return 0;
}

static int replay_line(replay_t *R, unsigned long lineno, const char *s, size_t len)
{
    changes_api_t *api = R->api;
    char why[512];
    if (blank(s, len))
        return 0;
    json_t *op;
    int rc = load_json(s, len, &op, why, sizeof(why));
    if (rc == SW_ENOMEM) {
        sw_errf(R->err, R->errlen, "%s: %s", api->path, why);
        return rc;
    }
    if (!R->header_seen) {
        const json_t *v = rc == 0 ? json_object_get(op, JOURNAL_MAGIC) : NULL;
        if (!json_is_integer(v))
            sw_errf(R->err, R->errlen, "%s:%lu: not a stormwatch change journal (the first "
                    "line should be %.*s)", api->path, lineno, (int)strlen(header_line) - 1,
                    header_line);
        else if (json_integer_value(v) != JOURNAL_VERSION)
            sw_errf(R->err, R->errlen, "%s:%lu: journal version %lld, this program reads "
                    "version %d", api->path, lineno, (long long)json_integer_value(v),
                    JOURNAL_VERSION);
        else
            R->header_seen = 1;
        json_decref(op);
        return R->header_seen ? 0 : SW_ECONFIG;
    }
    if (rc < 0) {
        /* "body is not valid JSON: ..." reads oddly here: say "not JSON" */
        sw_errf(R->err, R->errlen, "%s:%lu: not a JSON line: %s", api->path, lineno,
                why + strlen("body is not valid JSON: "));
        return SW_ECONFIG;
    }
    const char *name = json_string_value(json_object_get(op, "op"));
    if (name && strcmp(name, "declare") == 0) {
        rc = replay_declare(R, lineno, op);
    } else if (name && strcmp(name, "withdraw") == 0) {
        rc = replay_withdraw(R, lineno, op);
    } else {
        sw_errf(R->err, R->errlen, "%s:%lu: unknown operation %s%s%s", api->path, lineno,
                name ? "'" : "", name ? name : "(no 'op')", name ? "'" : "");
        rc = SW_ECONFIG;
    }
    json_decref(op);
    if (rc == 0)
        api->st.replayed++;
    return rc;
}

/*
 * Replays buf (the whole file). *good is set to the length of the part
 * that ends with a newline; a last line without one is torn. *ours is set
 * once the header has been read: a failure after it is a corrupt journal,
 * one before it a file that is no journal of this version.
 */
static int replay(changes_api_t *api, const char *buf, size_t size, size_t *good, int *ours,
                  char *err, size_t errlen)
{
    replay_t R = { .api = api, .err = err, .errlen = errlen };
    int rc = 0;
    size_t pos = 0;
    unsigned long lineno = 0;
    while (pos < size) {
        const char *nl = memchr(buf + pos, '\n', size - pos);
        lineno++;
        if (!nl) {
            /*
             * Torn: a crash mid-append. Before the header is seen the file
             * may be something else entirely; only the start of our own
             * header counts as torn there, so no stranger is truncated.
             */
            size_t rest = size - pos;
            if (!R.header_seen &&
                (rest >= strlen(header_line) || memcmp(buf + pos, header_line, rest) != 0)) {
                sw_errf(err, errlen, "%s:%lu: not a stormwatch change journal", api->path,
                        lineno);
                rc = SW_ECONFIG;
                break;
            }
            *good = pos;
            break;
        }
        rc = replay_line(&R, lineno, buf + pos, (size_t)(nl - (buf + pos)));
        if (rc < 0)
            break;
        pos = (size_t)(nl - buf) + 1;
        *good = pos;
    }
    *ours = R.header_seen;
    return rc;
}

static int read_all(int fd, char **out, size_t *len)
{
    struct stat sb;
    if (fstat(fd, &sb) < 0)
        return SW_EIO;
    size_t size = (size_t)sb.st_size, n = 0;
    char *buf = malloc(size + 1);
    if (!buf)
        return SW_ENOMEM;
    while (n < size) {
        ssize_t r = pread(fd, buf + n, size - n, (off_t)n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            return SW_EIO;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* ---- public --------------------------------------------------------------- */

void changes_api_close(changes_api_t *api)
{
    if (!api)
        return;
    for (size_t i = 0; i < api->n; i++)
        decl_free(&api->v[i]);
    free(api->v);
    idx_free(&api->by_id);
    if (api->fd >= 0)
        close(api->fd);
    pthread_mutex_destroy(&api->mu);
    free(api->path);
    free(api);
}

static int open_fail(changes_api_t *api, int rc, char *err, size_t errlen, const char *what)
{
    if (what)
        sw_errf(err, errlen, "%s: %s", api->path, what);
    changes_api_close(api);
    return rc;
}

/* Forgets every change replayed so far (the journal is being set aside). */
static void forget_all(changes_api_t *api)
{
    for (size_t i = 0; i < api->n; i++)
        decl_free(&api->v[i]);
    api->n = 0;
    api->dead = 0;
    idx_free(&api->by_id);
    api->st.replayed = 0;
    api->st.torn = 0;
}

/*
 * Renames the journal to PATH.corrupt-<UTC time>[-N], never over another
 * file, and syncs the directory. The name goes into aside. 0 or SW_EIO
 * (errno set).
 */
static int rename_aside(const char *path, char *aside, size_t len)
{
    char stamp[32];
    struct tm tm;
    time_t now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    for (unsigned n = 1; n <= SET_ASIDE_TRIES; n++) {
        if (n == 1)
            snprintf(aside, len, "%s.corrupt-%s", path, stamp);
        else
            snprintf(aside, len, "%s.corrupt-%s-%u", path, stamp, n);
        if (renameat2(AT_FDCWD, path, AT_FDCWD, aside, RENAME_NOREPLACE) == 0)
            return fio_sync_dir(path) < 0 ? SW_EIO : 0;
        if (errno != EEXIST)
            return SW_EIO;
    }
    errno = EEXIST;
    return SW_EIO;
}

/*
 * Sets the corrupt journal aside and starts a new one at api->path: the
 * old file keeps its lock until the new one holds its own. On success err
 * holds the warning for the log; on failure, the reason.
 */
static int set_aside(changes_api_t *api, char *err, size_t errlen)
{
    char why[512], aside[PATH_MAX + 64];
    snprintf(why, sizeof(why), "%s", err ? err : "corrupt");
    forget_all(api);
    if (rename_aside(api->path, aside, sizeof(aside)) < 0) {
        sw_errf(err, errlen, "%s: cannot set the corrupt journal aside (%s): %s", api->path,
                strerror(errno), why);
        return SW_EIO;
    }
    int fd = open(api->path, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0 ||
        fio_write_all(fd, header_line, strlen(header_line)) < 0 || fsync(fd) < 0 ||
        fio_sync_dir(api->path) < 0) {
        sw_errf(err, errlen, "%s: cannot start a new journal after setting the corrupt one "
                "aside as %s: %s", api->path, aside, strerror(errno));
        if (fd >= 0)
            close(fd);
        return SW_EIO;
    }
    close(api->fd);
    api->fd = fd;
    api->st.set_aside = 1;
    sw_errf(err, errlen, "%s; set aside as %s, starting with no declared changes", why, aside);
    return 0;
}

/* The journal's directory must be writable: compaction and setting a
 * corrupt journal aside create files there. 0, or SW_EIO with a message. */
static int check_dir(changes_api_t *api, char *err, size_t errlen)
{
    char *copy = strdup(api->path);
    if (!copy) {
        sw_errf(err, errlen, "%s: %s", api->path, sw_strerror(SW_ENOMEM));
        return SW_ENOMEM;
    }
    const char *dir = dirname(copy);
    int rc = 0;
    if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) < 0) {
        sw_errf(err, errlen, "%s: its directory %s is not writable (%s); the journal is "
                "rewritten there", api->path, dir, strerror(errno));
        rc = SW_EIO;
    }
    free(copy);
    return rc;
}

int changes_api_open(const char *path, const changes_api_opts_t *o, changes_api_t **out,
                     char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out || !path || !*path) {
        sw_errf(err, errlen, "%s", sw_strerror(SW_EINVAL));
        return SW_EINVAL;
    }
    *out = NULL;
    changes_api_t *api = calloc(1, sizeof(*api));
    if (!api || !(api->path = strdup(path))) {
        free(api);
        sw_errf(err, errlen, "%s: %s", path, sw_strerror(SW_ENOMEM));
        return SW_ENOMEM;
    }
    api->fd = -1;
    pthread_mutex_init(&api->mu, NULL);
    if (o)
        api->o = *o;
    if (!api->o.compact_after)
        api->o.compact_after = CHANGES_API_COMPACT_AFTER;
    if (!api->o.max_changes)
        api->o.max_changes = CHANGES_API_MAX_CHANGES;

    api->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (api->fd < 0)
        return open_fail(api, SW_EIO, err, errlen, strerror(errno));
    if (flock(api->fd, LOCK_EX | LOCK_NB) < 0)
        return open_fail(api, SW_EIO, err, errlen,
                         errno == EWOULDBLOCK ? "in use by another process (locked)"
                                              : strerror(errno));
    char *buf = NULL;
    size_t size = 0, good = 0;
    int rc = read_all(api->fd, &buf, &size);
    if (rc < 0)
        return open_fail(api, rc, err, errlen,
                         rc == SW_ENOMEM ? sw_strerror(rc) : strerror(errno));
    int ours = 0;
    rc = replay(api, buf, size, &good, &ours, err, errlen);
    free(buf);
    if (rc == SW_ECONFIG && ours && !api->o.strict) {
        rc = set_aside(api, err, errlen);
        good = size = strlen(header_line);
    }
    if (rc < 0)
        return open_fail(api, rc, err, errlen, NULL);
    if ((rc = check_dir(api, err, errlen)) < 0)
        return open_fail(api, rc, err, errlen, NULL);
    if (good < size) {
        api->st.torn = 1;
        if (ftruncate(api->fd, (off_t)good) < 0 || fsync(api->fd) < 0)
            return open_fail(api, SW_EIO, err, errlen, strerror(errno));
    }
    if (good == 0) {
        /* new (or torn before its header was whole): start it, durably */
        if (fio_write_all(api->fd, header_line, strlen(header_line)) < 0 || fsync(api->fd) < 0 ||
            fio_sync_dir(path) < 0)
            return open_fail(api, SW_EIO, err, errlen, strerror(errno));
    }
    maybe_compact(api);
    api->st.live = api->n;
    *out = api;
    return 0;
}

int changes_api_copy(changes_api_t *api, const char *id, change_t *out)
{
    if (!api || !id || !out)
        return SW_EINVAL;
    pthread_mutex_lock(&api->mu);
    ssize_t i = find(api, id);
    int rc = i < 0 ? SW_ENOTFOUND : change_copy(out, &api->v[i].c);
    pthread_mutex_unlock(&api->mu);
    return rc;
}

static void count_refused(changes_api_t *api)
{
    pthread_mutex_lock(&api->mu);
    api->st.refused++;
    pthread_mutex_unlock(&api->mu);
}

int changes_api_declare_ex(changes_api_t *api, const char *json, size_t len, char **stored,
                           char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (stored)
        *stored = NULL;
    if (!api || (!json && len)) {
        sw_errf(err, errlen, "%s", sw_strerror(SW_EINVAL));
        return SW_EINVAL;
    }
    /* parse, validate and render outside the lock */
    json_t *root;
    int rc = load_json(json ? json : "", len, &root, err, errlen);
    if (rc == SW_ECONFIG)
        count_refused(api);
    if (rc < 0)
        return rc;
    change_t c;
    rc = parse_change(root, &c, err, errlen);
    if (rc < 0) {
        json_decref(root);
        count_refused(api);
        return rc;
    }
    int64_t at = now_ns();
    char *line = declare_line(&c, at);
    char *out = stored ? dump_steal(change_json(&c, &at)) : NULL;
    decl_t d;
    if (!line || (stored && !out) || decl_fill(&d, &c, at) < 0) {
        free(line);
        free(out);
        json_decref(root);
        sw_errf(err, errlen, "%s", sw_strerror(SW_ENOMEM));
        return SW_ENOMEM;
    }
    json_decref(root); /* c's strings are now d's copies */

    pthread_mutex_lock(&api->mu);
    if (find(api, d.c.id) >= 0) {
        sw_errf(err, errlen, "field 'id': '%.*s' is already declared", SHOWN_MAX, d.c.id);
        rc = SW_EEXISTS;
    } else if (api->n >= api->o.max_changes) {
        sw_errf(err, errlen, "the register is full (%zu declared changes)", api->n);
        rc = SW_EFULL;
    } else if (reserve(api) < 0) {
        sw_errf(err, errlen, "%s", sw_strerror(SW_ENOMEM));
        rc = SW_ENOMEM;
    } else {
        rc = journal_append(api, line, err, errlen);
    }
    if (rc == 0) {
        append(api, &d);
        api->st.declared++;
        api->st.live = api->n;
        if (api->o.on_change)
            api->o.on_change(api->o.ctx, &api->v[api->n - 1].c, NULL);
    } else if (rc == SW_EEXISTS || rc == SW_EFULL) {
        api->st.refused++;
    }
    pthread_mutex_unlock(&api->mu);

    free(line);
    if (rc < 0) {
        decl_free(&d);
        free(out);
        return rc;
    }
    if (stored)
        *stored = out;
    return 0;
}

int changes_api_declare(changes_api_t *api, const char *json, size_t len, char *err,
                        size_t errlen)
{
    return changes_api_declare_ex(api, json, len, NULL, err, errlen);
}

int changes_api_withdraw(changes_api_t *api, const char *id)
{
    if (!api || !id)
        return SW_EINVAL;
    char *line = withdraw_line(id, now_ns());
    if (!line)
        return SW_ENOMEM;
    pthread_mutex_lock(&api->mu);
    ssize_t i = find(api, id);
    int rc = i < 0 ? SW_ENOTFOUND : journal_append(api, line, NULL, 0);
    if (rc == 0) {
        remove_at(api, (size_t)i);
        api->dead++;
        api->st.withdrawn++;
        api->st.live = api->n;
        if (api->o.on_change)
            api->o.on_change(api->o.ctx, NULL, id);
        maybe_compact(api);
    }
    pthread_mutex_unlock(&api->mu);
    free(line);
    return rc;
}

int changes_api_snapshot(changes_api_t *api, changes_t *out)
{
    if (!api || !out)
        return SW_EINVAL;
    pthread_mutex_lock(&api->mu);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < api->n; i++)
        if (changes_find(out, api->v[i].c.id))
            rc = SW_EEXISTS;
    size_t added = 0;
    while (rc == 0 && added < api->n) {
        rc = changes_add(out, &api->v[added].c);
        if (rc == 0)
            added++;
    }
    if (rc < 0) /* undo: the ones added before the failure */
        for (size_t i = 0; i < added; i++)
            changes_remove(out, api->v[i].c.id);
    pthread_mutex_unlock(&api->mu);
    return rc;
}

char *changes_api_list_json(changes_api_t *api)
{
    if (!api)
        return NULL;
    json_t *arr = json_array();
    pthread_mutex_lock(&api->mu);
    for (size_t i = 0; arr && i < api->n; i++) {
        if (json_array_append_new(arr, change_json(&api->v[i].c, &api->v[i].declared_at)) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    pthread_mutex_unlock(&api->mu);
    return dump_steal(arr);
}

char *changes_api_get_json(changes_api_t *api, const char *id, int *found)
{
    if (found)
        *found = 0;
    if (!api || !id)
        return NULL;
    pthread_mutex_lock(&api->mu);
    ssize_t i = find(api, id);
    json_t *v = i < 0 ? NULL : change_json(&api->v[i].c, &api->v[i].declared_at);
    pthread_mutex_unlock(&api->mu);
    if (found)
        *found = i >= 0;
    return dump_steal(v);
}

void changes_api_stats(changes_api_t *api, changes_api_stats_t *out)
{
    *out = (changes_api_stats_t){ 0 };
    if (!api)
        return;
    pthread_mutex_lock(&api->mu);
    *out = api->st;
    pthread_mutex_unlock(&api->mu);
}

void changes_api_metrics_write(changes_api_t *api, FILE *out)
{
    changes_api_stats_t s;
    changes_api_stats(api, &s);
    static const struct {
        const char *name, *help;
        size_t off;
    } counters[] = {
        { "declared", "Changes declared through the API since start.",
          offsetof(changes_api_stats_t, declared) },
        { "withdrawn", "Declared changes withdrawn through the API since start.",
          offsetof(changes_api_stats_t, withdrawn) },
        { "refused", "Declarations refused: invalid, duplicate id or register full.",
          offsetof(changes_api_stats_t, refused) },
        { "replayed", "Journal operations replayed at start.",
          offsetof(changes_api_stats_t, replayed) },
        { "torn_lines", "Torn last journal lines (a crash mid-write) dropped at start.",
          offsetof(changes_api_stats_t, torn) },
        { "compactions", "Rewrites of the change journal.",
          offsetof(changes_api_stats_t, compactions) },
        { "compaction_errors", "Rewrites of the change journal that failed.",
          offsetof(changes_api_stats_t, compaction_errors) },
        { "journal_errors", "Journal writes that failed (the operation failed with them).",
          offsetof(changes_api_stats_t, journal_errors) },
        { "journals_set_aside", "Corrupt journals renamed aside at start (the API started "
          "empty).", offsetof(changes_api_stats_t, set_aside) },
    };
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
        uint64_t v;
        memcpy(&v, (const char *)&s + counters[i].off, sizeof(v));
        fprintf(out,
                "# HELP stormwatch_changes_api_%s_total %s\n"
                "# TYPE stormwatch_changes_api_%s_total counter\n"
                "stormwatch_changes_api_%s_total %llu\n",
                counters[i].name, counters[i].help, counters[i].name, counters[i].name,
                (unsigned long long)v);
    }
    fprintf(out,
            "# HELP stormwatch_changes_api_declared_changes Changes declared through the API "
            "and not withdrawn.\n"
            "# TYPE stormwatch_changes_api_declared_changes gauge\n"
            "stormwatch_changes_api_declared_changes %zu\n",
            s.live);
}
