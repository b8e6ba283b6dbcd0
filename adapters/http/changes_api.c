/*
 * changes_api.c - changes declared at runtime, kept in a journal (see
 * changes_api.h for the journal format and the crash rules).
 *
 * A declare is parsed and validated outside the lock (changes_json.c),
 * into JSON texts built in advance (the journal line and the stored
 * change), and every allocation is made before the journal is written:
 * once the line is on disk, applying it in memory cannot fail (the one
 * register of the file's and the declared changes takes the change before
 * the append, and gives it back if the append fails). A failed append is
 * cut off again (ftruncate to the previous size, fsync), so the file
 * always matches memory; if even that fails, the journal is marked broken
 * and refuses further writes until the daemon is restarted and replays
 * what is on disk.
 *
 * The changes are an array in the order declared with a hash index on the
 * id, so a declare costs O(1) besides its parse and fsync, however many
 * changes are declared; a withdrawal shifts the array (O(n), no more than
 * its fsync costs). Beside it, `all` holds the file's changes and the
 * declared ones as one register (O(1) a declare or withdrawal, O(n) a new
 * file), which the lists, the conflicts and the schedule read.
 *
 * DESIGN: one mutex guards everything in changes_api_t. It is held across
 * the append and its fdatasync: declares are rare and a reader (a list,
 * a snapshot) waits for at most one fsync. The on_change callback runs
 * under it, so its calls come in journal order.
 *
 * Size: about 1100 lines, kept whole on purpose: the journal's crash
 * rules (write ahead, cut back on failure, replay) and the state they
 * keep are one invariant, checked in one place; the JSON of a change is
 * changes_json.c.
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

#include "changes_json.h"
#include "conflict.h"
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
    /* the file's changes and forecasts (changes_api_set_file()) and the
     * declared changes whose ids the file does not hold: the one register
     * conflicts are found against, listed and scheduled from */
    changes_t *all;
    idindex_t file_ids;   /* ids of the file's changes (keys: all's strings) */
};


static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
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
    cj_fmt_time(at, when);
    json_t *ch = cj_change(c, NULL);
    if (!ch)
        return NULL;
    /* "o" steals the reference to ch, also when json_pack fails */
    return as_line(cj_dump_steal(json_pack("{s:s, s:s, s:o}", "op", "declare", "at", when,
                                        "change", ch)));
}

static char *withdraw_line(const char *id, int64_t at)
{
    char when[TF_BUFLEN];
    cj_fmt_time(at, when);
    return as_line(cj_dump_steal(json_pack("{s:s, s:s, s:s}", "op", "withdraw", "at", when,
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
    if (cj_parse_change(json_object_get(op, "change"), 0, &c, why, sizeof(why)) < 0) {
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
    int rc = cj_load(s, len, &op, why, sizeof(why));
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

/* ---- the file's changes and the declared ones, as one register -------------- */

static int in_file(const changes_api_t *api, const char *id)
{
    return idx_find(&api->file_ids, id, strlen(id)) >= 0;
}

/*
 * A register of the file's changes and forecasts (file NULL: none) in
 * *all, and their ids in *ids (keys borrowed from *all): 0, or SW_ENOMEM
 * with nothing left allocated.
 */
static int view_of_file(const changes_t *file, changes_t **all, idindex_t *ids)
{
    changes_t *a = changes_create();
    idx_init(ids);
    int rc = a && idx_reserve(ids, changes_count(file)) == 0 ? changes_copy_forecasts(a, file)
                                                            : SW_ENOMEM;
    for (size_t i = 0; rc == 0 && i < changes_count(file); i++) {
        rc = changes_add(a, changes_get(file, i));
        const char *id = rc == 0 ? changes_get(a, i)->id : NULL;
        if (id)
            idx_insert(ids, id, strlen(id), i); /* reserved: cannot fail */
    }
    if (rc < 0) {
        changes_destroy(a);
        idx_free(ids);
        return SW_ENOMEM; /* a register's changes are valid and unique: only memory fails */
    }
    *all = a;
    return 0;
}

/* Adds the declared changes whose ids the file does not hold to `all`:
 * 0 or SW_ENOMEM. */
static int add_declared(const changes_api_t *api, changes_t *all, const idindex_t *file_ids)
{
    for (size_t i = 0; i < api->n; i++) {
        const char *id = api->v[i].c.id;
        if (idx_find(file_ids, id, strlen(id)) < 0 && changes_add(all, &api->v[i].c) < 0)
            return SW_ENOMEM;
    }
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
    changes_destroy(api->all);
    idx_free(&api->file_ids);
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
    if ((rc = view_of_file(NULL, &api->all, &api->file_ids)) < 0 ||
        (rc = add_declared(api, api->all, &api->file_ids)) < 0)
        return open_fail(api, rc, err, errlen, sw_strerror(rc));
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
    int rc = cj_load(json ? json : "", len, &root, err, errlen);
    if (rc == SW_ECONFIG)
        count_refused(api);
    if (rc < 0)
        return rc;
    change_t c;
    rc = cj_parse_change(root, 1, &c, err, errlen);
    if (rc < 0) {
        json_decref(root);
        count_refused(api);
        return rc;
    }
    int64_t at = now_ns();
    char *line = declare_line(&c, at);
    char *out = stored ? cj_dump_steal(cj_change(&c, &at)) : NULL;
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
    } else if (in_file(api, d.c.id)) {
        /* the file would shadow it at once: the operator edits the file */
        sw_errf(err, errlen, "field 'id': '%.*s' is owned by the change register file; change "
                "it there", SHOWN_MAX, d.c.id);
        rc = SW_EEXISTS;
    } else if (api->n >= api->o.max_changes) {
        sw_errf(err, errlen, "the register is full (%zu declared changes)", api->n);
        rc = SW_EFULL;
    } else if (reserve(api) < 0 || changes_add(api->all, &d.c) < 0) {
        sw_errf(err, errlen, "%s", sw_strerror(SW_ENOMEM));
        rc = SW_ENOMEM;
    } else if ((rc = journal_append(api, line, err, errlen)) < 0) {
        changes_remove(api->all, d.c.id);
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
        if (!in_file(api, id)) /* else the file's change stands */
            changes_remove(api->all, id);
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

int changes_api_set_file(changes_api_t *api, const changes_t *file)
{
    if (!api)
        return SW_EINVAL;
    changes_t *all;
    idindex_t ids;
    int rc = view_of_file(file, &all, &ids); /* the file's part outside the lock */
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&api->mu);
    rc = add_declared(api, all, &ids);
    if (rc == 0) {
        changes_t *old = api->all;
        idindex_t old_ids = api->file_ids;
        api->all = all;
        api->file_ids = ids;
        all = old;
        ids = old_ids;
    }
    pthread_mutex_unlock(&api->mu);
    changes_destroy(all); /* the old register, or the new one on failure */
    idx_free(&ids);
    return rc;
}

/* One change to show: in `all`, or a declared change the file shadows. */
typedef struct {
    const change_t *c;
    int shadowed;
} shown_t;

static int cmp_shown(const void *a, const void *b)
{
    const shown_t *x = a, *y = b;
    if (x->c->start != y->c->start)
        return x->c->start < y->c->start ? -1 : 1;
    int by_id = strcmp(x->c->id, y->c->id);
    return by_id ? by_id : x->shadowed - y->shadowed;
}

/*
 * Change c as a JSON object with its "source" ("file" or "api"; and
 * "shadowed": true for a declared change whose id the file holds), and,
 * when k is given, "conflicts" (k[0..n) of `found`, the rest counted in
 * "conflicts_omitted"). NULL when out of memory. Under the lock.
 */
static json_t *shown_json(const changes_api_t *api, const shown_t *sh, const conflict_t *k,
                          size_t n, size_t found)
{
    const change_t *c = sh->c;
    int file = !sh->shadowed && in_file(api, c->id);
    ssize_t i = file ? -1 : find(api, c->id);
    json_t *o = cj_change(c, i >= 0 ? &api->v[i].declared_at : NULL);
    int bad = !o || json_object_set_new(o, "source", json_string(file ? "file" : "api")) < 0 ||
              (sh->shadowed && json_object_set_new(o, "shadowed", json_true()) < 0);
    if (!bad && k)
        bad = json_object_set_new(o, "conflicts", cj_conflicts(k, n, c)) < 0 ||
              (found > n &&
               json_object_set_new(o, "conflicts_omitted", json_integer((json_int_t)(found - n))) <
                   0);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* shown_json() with c's conflicts, found through ix (NULL: a scan of all). */
static json_t *with_conflicts(const changes_api_t *api, const shown_t *sh,
                              const conflict_index_t *ix, conflict_share_fn share, void *ctx)
{
    conflict_t k[CHANGES_API_MAX_CONFLICTS];
    size_t found;
    int rc = ix ? conflict_index_find(ix, sh->c, k, CHANGES_API_MAX_CONFLICTS, &found)
                : conflicts_find(api->all, sh->c, share, ctx, k, CHANGES_API_MAX_CONFLICTS, &found);
    if (rc < 0)
        return NULL;
    return shown_json(api, sh, k, found < CHANGES_API_MAX_CONFLICTS ? found
                                                                    : CHANGES_API_MAX_CONFLICTS,
                      found);
}

/* The changes to list, sorted by start then id (malloc'd, *n of them):
 * those of `all` in [from, to) (every one when all_times), and the
 * declared ones the file shadows unless `in_force_only`. NULL when out of memory. */
static shown_t *select_shown(const changes_api_t *api, int all_times, int64_t from, int64_t to,
                             int in_force_only, size_t *n)
{
    size_t cap = changes_count(api->all) + (in_force_only ? 0 : api->n);
    shown_t *v = malloc((cap ? cap : 1) * sizeof(shown_t));
    *n = 0;
    if (!v)
        return NULL;
    for (size_t i = 0; i < changes_count(api->all); i++) {
        const change_t *c = changes_get(api->all, i);
        /* in [from, to): each starts before the other ends; an instant at from counts */
        if (all_times || (c->start < to && (c->end > from || (c->end == c->start &&
                                                                c->start >= from))))
            v[(*n)++] = (shown_t){ c, 0 };
    }
    for (size_t i = 0; !in_force_only && i < api->n; i++)
        if (in_file(api, api->v[i].c.id))
            v[(*n)++] = (shown_t){ &api->v[i].c, 1 };
    qsort(v, *n, sizeof(shown_t), cmp_shown);
    return v;
}

char *changes_api_list_json(changes_api_t *api)
{
    if (!api)
        return NULL;
    json_t *arr = json_array();
    pthread_mutex_lock(&api->mu);
    size_t n;
    shown_t *v = arr ? select_shown(api, 1, 0, 0, 0, &n) : NULL;
    for (size_t i = 0; v && arr && i < n; i++) {
        if (json_array_append_new(arr, shown_json(api, &v[i], NULL, 0, 0)) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    pthread_mutex_unlock(&api->mu);
    if (!v) {
        json_decref(arr);
        arr = NULL;
    }
    free(v);
    return cj_dump_steal(arr);
}

char *changes_api_view_json(changes_api_t *api, const char *id, conflict_share_fn share,
                            void *ctx, int *found)
{
    if (found)
        *found = 0;
    if (!api || !id)
        return NULL;
    pthread_mutex_lock(&api->mu);
    shown_t sh = { changes_find(api->all, id), 0 }; /* the file's, on an id both hold */
    json_t *o = sh.c ? with_conflicts(api, &sh, NULL, share, ctx) : NULL;
    pthread_mutex_unlock(&api->mu);
    if (found)
        *found = sh.c != NULL;
    return cj_dump_steal(o);
}

char *changes_api_schedule_json(changes_api_t *api, int64_t from, int64_t to,
                                conflict_share_fn share, void *ctx)
{
    if (!api)
        return NULL;
    char from_s[TF_BUFLEN], to_s[TF_BUFLEN];
    cj_fmt_time(from, from_s);
    cj_fmt_time(to, to_s);
    json_t *arr = json_array();
    pthread_mutex_lock(&api->mu);
    size_t n = 0;
    shown_t *v = arr ? select_shown(api, 0, from, to, 1, &n) : NULL;
    conflict_index_t *ix = v ? conflict_index_create(api->all, share, ctx) : NULL;
    size_t shown = n < CHANGES_API_SCHEDULE_MAX ? n : CHANGES_API_SCHEDULE_MAX;
    for (size_t i = 0; ix && arr && i < shown; i++) {
        if (json_array_append_new(arr, with_conflicts(api, &v[i], ix, share, ctx)) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    pthread_mutex_unlock(&api->mu);
    conflict_index_destroy(ix);
    free(v);
    if (!ix || !arr) {
        json_decref(arr);
        return NULL;
    }
    /* "o" steals arr, also when json_pack fails */
    return cj_dump_steal(json_pack("{s:s, s:s, s:o, s:I}", "from", from_s, "to", to_s, "changes",
                                   arr, "omitted", (json_int_t)(n - shown)));
}

char *changes_api_get_json(changes_api_t *api, const char *id, int *found)
{
    if (found)
        *found = 0;
    if (!api || !id)
        return NULL;
    pthread_mutex_lock(&api->mu);
    ssize_t i = find(api, id);
    json_t *v = i < 0 ? NULL : cj_change(&api->v[i].c, &api->v[i].declared_at);
    pthread_mutex_unlock(&api->mu);
    if (found)
        *found = i >= 0;
    return cj_dump_steal(v);
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
