/*
 * changes_yaml.c - loads the change register (contract section 2) from YAML
 * with libyaml's document API (see changes_yaml.h).
 *
 * The file is a mapping whose key `changes` holds a sequence of changes,
 * each a mapping, and whose optional key `forecasts` holds the Users'
 * Service Request forecasts. Known keys are checked; unknown keys, at the
 * top level, in a change or in a forecast, are kept for other tools and
 * ignored here, whatever their value, and reported as warnings (the config
 * file refuses unknown keys, so an operator expects to hear of a typo).
 * Errors read "NAME:LINE: change ID: key 'KEY': what is wrong", where ID
 * is the change's id, or "#N" (its 1-based position) when it has no usable
 * id; forecasts are "forecast #N". The keys of a change are checked in the
 * contract's order: id, user, title, kind, start, end, affects, expected,
 * contact, impact.
 *
 * DESIGN: no shared state; the caller owns the register being filled.
 */
#include "changes_yaml.h"
#include "yamlnode.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "correlate.h"
#include "err.h"
#include "timefmt.h"

#define DAY_NS (INT64_C(86400) * 1000000000)

/* The keys of a change this loader reads, in the contract's order. */
enum { K_ID, K_USER, K_TITLE, K_KIND, K_START, K_END, K_AFFECTS, K_EXPECTED, K_CONTACT, K_IMPACT,
       K_COUNT };
static const char *const key_names[K_COUNT] = {
    "id", "user", "title", "kind", "start", "end", "affects", "expected", "contact", "impact",
};
/* The keys of a forecast. */
enum { F_USER, F_FROM, F_TO, F_PER_DAY, F_COUNT };
static const char *const forecast_keys[F_COUNT] = { "user", "from", "to", "requests_per_day" };

typedef struct {
    const char *name;
    yaml_document_t *doc;
    char *err;
    size_t errlen;
    changes_warn_fn warn; /* NULL: warnings are dropped */
    void *warn_ctx;
} loader_t;

/* One change or forecast being read: its kind and label, and the nodes of
 * its keys (of `names`, nkeys of them). */
typedef struct {
    const yaml_node_t *map;
    const char *what;             /* "change" or "forecast" */
    const char *const *names;
    int nkeys;
    char label[CHG_MAX_ID + 1];   /* "CHG-0412" or "#3", for messages */
    yaml_node_t *key[K_COUNT];    /* key nodes, NULL when absent */
    yaml_node_t *value[K_COUNT];
} item_t;

static void put_err(loader_t *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_err(loader_t *L, const char *fmt, ...)
{
    if (!L->err || L->errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(L->err, L->errlen, fmt, ap);
    va_end(ap);
}

static unsigned long line_of(const yaml_node_t *n)
{
    return (unsigned long)n->start_mark.line + 1;
}

/* "NAME:LINE: change LABEL: key 'KEY': message" at `node`. */
static int fail_key(loader_t *L, const item_t *it, int k, const yaml_node_t *node,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int fail_key(loader_t *L, const item_t *it, int k, const yaml_node_t *node,
                    const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    put_err(L, "%s:%lu: %s %s: key '%s': %s", L->name, line_of(node), it->what, it->label,
            it->names[k], msg);
    return SW_ECONFIG;
}

static void put_warn(loader_t *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_warn(loader_t *L, const char *fmt, ...)
{
    if (!L->warn)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    L->warn(L->warn_ctx, msg);
}

static int out_of_memory(loader_t *L)
{
    put_err(L, "%s: %s", L->name, sw_strerror(SW_ENOMEM));
    return SW_ENOMEM;
}


/*
 * The text of key k: NULL in *out when absent or null. Required keys must
 * be present and non-empty. Values must be scalars.
 */
static int text(loader_t *L, const item_t *it, int k, int required, const char **out)
{
    char got[256];
    const yaml_node_t *v = it->value[k];
    *out = NULL;
    if (!v) {
        if (required)
            return fail_key(L, it, k, it->map, "missing required key");
        return 0;
    }
    if (v->type != YAML_SCALAR_NODE)
        return fail_key(L, it, k, v, "expected text, got %s", yn_describe(v, got, sizeof(got)));
    if (yn_is_null(v) || !*yn_scalar(v)) {
        if (required)
            return fail_key(L, it, k, v, "missing value");
        return 0;
    }
    char why[128];
    if (change_check_text(it->names[k], yn_scalar(v), v->data.scalar.length, why,
                          sizeof(why)) < 0)
        return fail_key(L, it, k, v, "%s", why);
    *out = yn_scalar(v);
    return 0;
}

static int date(loader_t *L, const item_t *it, int k, int64_t *ns)
{
    const char *s;
    int rc = text(L, it, k, 1, &s);
    if (rc < 0)
        return rc;
    rc = tf_parse_rfc3339(s, ns);
    if (rc == SW_ERANGE)
        return fail_key(L, it, k, it->value[k],
                        "date '%s' out of range (1677-09-21 to 2262-04-11)", s);
    if (rc < 0)
        return fail_key(L, it, k, it->value[k],
                        "bad date '%s' (expected RFC 3339, e.g. 2019-09-12T09:00:00Z)", s);
    return 0;
}

/* One word of `affects` at node v (any case): adds its CHG_* bits, or fails. */
static int affects_word(loader_t *L, const item_t *it, const yaml_node_t *v, unsigned *bits)
{
    static const struct {
        const char *word;
        unsigned bits;
    } words[] = { { "north", CHG_NORTH }, { "south", CHG_SOUTH }, { "both", CHG_BOTH } };
    char got[256];
    for (size_t i = 0; v->type == YAML_SCALAR_NODE && i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcasecmp(yn_scalar(v), words[i].word) == 0) {
            *bits |= words[i].bits;
            return 0;
        }
    }
    return fail_key(L, it, K_AFFECTS, v, "expected north, south or both, got %s",
                    yn_describe(v, got, sizeof(got)));
}

/* `affects`: a word or a sequence of words; absent or null means both. */
static int affects(loader_t *L, const item_t *it, unsigned *bits)
{
    const yaml_node_t *v = it->value[K_AFFECTS];
    *bits = 0;
    if (!v || yn_is_null(v)) {
        *bits = CHG_BOTH;
        return 0;
    }
    if (v->type != YAML_SEQUENCE_NODE)
        return affects_word(L, it, v, bits);
    size_t words = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (words == 0)
        return fail_key(L, it, K_AFFECTS, v, "expected north, south or both, got an empty list");
    if (words > CHG_MAX_AFFECTS)
        return fail_key(L, it, K_AFFECTS, v, "expected at most %d words, got %zu",
                        CHG_MAX_AFFECTS, words);
    for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
        int rc = affects_word(L, it, yaml_document_get_node(L->doc, *i), bits);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/*
 * A number in decimal notation ("3", "0.5", "1e3") at scalar node v:
 * 0, or -1 for anything else (text, hex, inf, nan, an empty value).
 */
static int number(const yaml_node_t *v, double *out)
{
    if (v->type != YAML_SCALAR_NODE || !*yn_scalar(v))
        return -1;
    const char *s = yn_scalar(v);
    if (strspn(s, "0123456789.eE+-") != strlen(s))
        return -1;
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (*end || errno == ERANGE || !isfinite(x))
        return -1;
    *out = x;
    return 0;
}

/* "NAME:LINE: change LABEL: key 'impact.SUB': message" at `node`. */
static int fail_impact(loader_t *L, const item_t *it, const yaml_node_t *node, const char *sub,
                       const char *msg)
{
    put_err(L, "%s:%lu: %s %s: key '%s.%s': %s", L->name, line_of(node), it->what, it->label,
            key_names[K_IMPACT], sub, msg);
    return SW_ECONFIG;
}

/* `impact`: a mapping with `south` and/or `north`, each a number from 0 to
 * CHG_MAX_IMPACT; absent or null declares nothing (1 both ways). */
static int impact(loader_t *L, const item_t *it, change_t *c)
{
    char got[256], msg[320];
    const yaml_node_t *v = it->value[K_IMPACT];
    if (!v || yn_is_null(v))
        return 0;
    if (v->type != YAML_MAPPING_NODE)
        return fail_key(L, it, K_IMPACT, v, "expected a mapping of south and north, got %s",
                        yn_describe(v, got, sizeof(got)));
    for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top;
         pr++) {
        const yaml_node_t *k = yaml_document_get_node(L->doc, pr->key);
        const yaml_node_t *x = yaml_document_get_node(L->doc, pr->value);
        const char *sub = k->type == YAML_SCALAR_NODE ? yn_scalar(k) : "?";
        int dir = !strcmp(sub, "south") ? DIR_SOUTH : !strcmp(sub, "north") ? DIR_NORTH : -1;
        if (dir < 0)
            return fail_impact(L, it, k, sub, "unknown key (expected south or north)");
        if (c->impact_set & DIR_BIT(dir))
            return fail_impact(L, it, k, sub, "duplicate key");
        double value;
        if (number(x, &value) < 0 || value < 0 || value > CHG_MAX_IMPACT) {
            snprintf(msg, sizeof(msg), "expected a number from 0 to %g, got %s", CHG_MAX_IMPACT,
                     yn_describe(x, got, sizeof(got)));
            return fail_impact(L, it, x, sub, msg);
        }
        c->impact[dir] = value;
        c->impact_set |= DIR_BIT(dir);
    }
    return 0;
}

/*
 * Starts reading item number `pos` (1-based) at `map`: finds the nodes of
 * it->names' keys (it->key, it->value; the first of each) and labels it
 * "#pos", or with its id (key id_key; -1: none) when that is usable, so
 * that every message can name it. Not a mapping, or a key given twice, is
 * an error.
 */
static int begin_item(loader_t *L, item_t *it, size_t pos, const yaml_node_t *map, int id_key)
{
    char got[256];
    snprintf(it->label, sizeof(it->label), "#%zu", pos);
    if (map->type != YAML_MAPPING_NODE) {
        put_err(L, "%s:%lu: %s %s: expected a mapping, got %s", L->name, line_of(map), it->what,
                it->label, yn_describe(map, got, sizeof(got)));
        return SW_ECONFIG;
    }
    int dup = -1;
    yaml_node_t *dup_key = NULL;
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(L->doc, pr->key);
        if (k->type != YAML_SCALAR_NODE)
            continue; /* not a key of ours: ignored like any unknown key */
        for (int i = 0; i < it->nkeys; i++) {
            if (strcmp(yn_scalar(k), it->names[i]) != 0)
                continue;
            if (it->key[i]) {
                if (!dup_key) {
                    dup = i;
                    dup_key = k;
                }
            } else {
                it->key[i] = k;
                it->value[i] = yaml_document_get_node(L->doc, pr->value);
            }
        }
    }
    const yaml_node_t *idv = id_key >= 0 ? it->value[id_key] : NULL;
    if (idv && idv->type == YAML_SCALAR_NODE && !yn_is_null(idv) && *yn_scalar(idv) &&
        change_check_text("id", yn_scalar(idv), idv->data.scalar.length, NULL, 0) == 0)
        snprintf(it->label, sizeof(it->label), "%s", yn_scalar(idv));
    if (dup_key)
        return fail_key(L, it, dup, dup_key, "duplicate key (first at line %lu)",
                        line_of(it->key[dup]));
    return 0;
}

/* Warns of each key of `map` that is none of it->names: kept, ignored.
 * Keys of the file's top level when it->what is NULL. */
static void warn_unknown_keys(loader_t *L, const item_t *it, const yaml_node_t *map)
{
    char got[256];
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        const yaml_node_t *k = yaml_document_get_node(L->doc, pr->key);
        int known = 0;
        for (int i = 0; k->type == YAML_SCALAR_NODE && i < it->nkeys && !known; i++)
            known = strcmp(yn_scalar(k), it->names[i]) == 0;
        if (known)
            continue;
        char whose[CHG_MAX_ID + 32] = ""; /* "change CHG-0412: ", none at the top level */
        if (it->what)
            snprintf(whose, sizeof(whose), "%s %s: ", it->what, it->label);
        if (k->type == YAML_SCALAR_NODE)
            put_warn(L, "%s:%lu: %skey '%s': unknown key, ignored", L->name, line_of(k), whose,
                 yn_scalar(k));
        else
            put_warn(L, "%s:%lu: %s%s as a key, ignored", L->name, line_of(k), whose,
                 yn_describe(k, got, sizeof(got)));
    }
}

/* Warns when the change's kind is not one the correlator knows: an alert
 * is then matched to it by time and direction only. */
static void warn_kind(loader_t *L, const item_t *it, const char *kind)
{
    if (!kind || corr_kind_known(kind))
        return;
    char known[256] = "";
    size_t off = 0;
    for (size_t i = 0; corr_kind_name(i) && off < sizeof(known); i++)
        off += (size_t)snprintf(known + off, sizeof(known) - off, "%s%s", i ? ", " : "",
                                corr_kind_name(i));
    put_warn(L, "%s:%lu: %s %s: key 'kind': unknown kind '%s', kept but unknown to the "
         "correlator (it knows %s)", L->name, line_of(it->value[K_KIND]), it->what, it->label,
         kind, known);
}

/* Reads change number `pos` (1-based) at node `map` and adds it to `reg`. */
static int load_change(loader_t *L, changes_t *reg, size_t pos, const yaml_node_t *map)
{
    item_t it = { .map = map, .what = "change", .names = key_names, .nkeys = K_COUNT };
    int rc = begin_item(L, &it, pos, map, K_ID);
    if (rc < 0)
        return rc;

    const char *id = NULL, *user = NULL, *title = NULL, *kind = NULL, *expected = NULL,
               *contact = NULL;
    change_t c = { .line = (int)line_of(map) };
    rc = text(L, &it, K_ID, 1, &id);
    if (rc == 0) {
        const change_t *first = changes_find(reg, id);
        if (first && first->line > 0)
            return fail_key(L, &it, K_ID, it.value[K_ID], "duplicate id (first at line %d)",
                            first->line);
        if (first)
            return fail_key(L, &it, K_ID, it.value[K_ID],
                            "duplicate id (already in the register)");
    }
    if (rc == 0)
        rc = text(L, &it, K_USER, 1, &user);
    if (rc == 0)
        rc = text(L, &it, K_TITLE, 0, &title);
    if (rc == 0)
        rc = text(L, &it, K_KIND, 0, &kind);
    if (rc == 0)
        rc = date(L, &it, K_START, &c.start);
    if (rc == 0)
        rc = date(L, &it, K_END, &c.end);
    if (rc == 0 && c.end < c.start)
        rc = fail_key(L, &it, K_END, it.value[K_END], "end is before start");
    if (rc == 0)
        rc = affects(L, &it, &c.affects);
    if (rc == 0)
        rc = text(L, &it, K_EXPECTED, 0, &expected);
    if (rc == 0)
        rc = text(L, &it, K_CONTACT, 0, &contact);
    if (rc == 0)
        rc = impact(L, &it, &c);
    if (rc < 0)
        return rc;

    /* changes_add() copies the strings; the casts only fit its struct. */
    c.id = (char *)id;
    c.user = (char *)user;
    c.title = (char *)title;
    c.kind = (char *)kind;
    c.expected = (char *)expected;
    c.contact = (char *)contact;
    rc = changes_add(reg, &c);
    if (rc == SW_ENOMEM)
        return out_of_memory(L);
    if (rc == 0) {
        warn_kind(L, &it, kind);
        warn_unknown_keys(L, &it, map);
    }
    return rc;
}

/* ---- forecasts ------------------------------------------------------------ */

/* A UTC date "YYYY-MM-DD" of key k as days since 1970-01-01. */
static int day(loader_t *L, const item_t *it, int k, int32_t *out)
{
    const char *s;
    int rc = text(L, it, k, 1, &s);
    if (rc < 0)
        return rc;
    char stamp[32];
    int64_t ns;
    size_t n = strlen(s);
    int shape = n == 10 && s[4] == '-' && s[7] == '-' && strspn(s, "0123456789-") == n;
    snprintf(stamp, sizeof(stamp), "%.10sT00:00:00Z", s);
    if (!shape || tf_parse_rfc3339(stamp, &ns) < 0)
        return fail_key(L, it, k, it->value[k],
                        "bad date '%s' (expected YYYY-MM-DD, e.g. 2019-09-01)", s);
    int64_t d = ns / DAY_NS - (ns % DAY_NS < 0); /* floored: days before 1970 too */
    *out = (int32_t)d;
    return 0;
}

/* The forecast of f's User that a day of f is already forecast by. */
static const forecast_t *overlapping(const changes_t *reg, const forecast_t *f)
{
    for (size_t i = 0; i < changes_forecast_count(reg); i++) {
        const forecast_t *o = changes_forecast_get(reg, i);
        if (!strcmp(o->user, f->user) && o->from_day <= f->to_day && f->from_day <= o->to_day)
            return o;
    }
    return NULL;
}

/* Reads forecast number `pos` (1-based) at node `map` into `reg`. */
static int load_forecast(loader_t *L, changes_t *reg, size_t pos, const yaml_node_t *map)
{
    char got[256];
    item_t it = { .map = map, .what = "forecast", .names = forecast_keys, .nkeys = F_COUNT };
    int rc = begin_item(L, &it, pos, map, -1);
    if (rc < 0)
        return rc;
    const char *user = NULL;
    forecast_t f = { .line = (int)line_of(map) };
    rc = text(L, &it, F_USER, 1, &user);
    if (rc == 0)
        rc = day(L, &it, F_FROM, &f.from_day);
    if (rc == 0)
        rc = day(L, &it, F_TO, &f.to_day);
    if (rc == 0 && f.to_day < f.from_day)
        rc = fail_key(L, &it, F_TO, it.value[F_TO], "to is before from");
    if (rc == 0 && !it.value[F_PER_DAY])
        rc = fail_key(L, &it, F_PER_DAY, map, "missing required key");
    if (rc == 0 && (number(it.value[F_PER_DAY], &f.per_day) < 0 || !(f.per_day > 0)))
        rc = fail_key(L, &it, F_PER_DAY, it.value[F_PER_DAY], "expected a number above 0, got %s",
                      yn_describe(it.value[F_PER_DAY], got, sizeof(got)));
    if (rc < 0)
        return rc;
    f.user = (char *)user; /* copied by changes_add_forecast() */
    const forecast_t *other = overlapping(reg, &f);
    if (other)
        return fail_key(L, &it, F_FROM, it.value[F_FROM],
                        "overlaps the forecast of the same User at line %d", other->line);
    rc = changes_add_forecast(reg, &f);
    if (rc == SW_ENOMEM)
        return out_of_memory(L);
    if (rc == 0)
        warn_unknown_keys(L, &it, map);
    return rc;
}

/* ---- the whole file ---------------------------------------------------------- */

typedef int (*load_item_fn)(loader_t *L, changes_t *reg, size_t pos, const yaml_node_t *map);

/* The sequence under top-level key `key` (at node k), each item read by
 * `load`; null is an empty list. */
static int load_list(loader_t *L, changes_t *reg, const yaml_node_t *k, const yaml_node_t *list,
                     size_t max, load_item_fn load)
{
    char got[256];
    const char *key = yn_scalar(k);
    if (yn_is_null(list))
        return 0;
    if (list->type != YAML_SEQUENCE_NODE) {
        put_err(L, "%s:%lu: key '%s': expected a sequence of %s, got %s", L->name,
                line_of(list), key, key, yn_describe(list, got, sizeof(got)));
        return SW_ECONFIG;
    }
    size_t count = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (count > max) {
        put_err(L, "%s:%lu: key '%s': more than %zu %s (%zu)", L->name, line_of(list), key, max,
                key, count);
        return SW_ECONFIG;
    }
    size_t pos = 1;
    for (yaml_node_item_t *i = list->data.sequence.items.start; i < list->data.sequence.items.top;
         i++, pos++) {
        int rc = load(L, reg, pos, yaml_document_get_node(L->doc, *i));
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Reads the register from the root node of the document. */
static int load_root(loader_t *L, const yaml_node_t *root, changes_t *reg)
{
    char got[256];
    if (!root || yn_is_null(root))
        return 0; /* an empty file: an empty register */
    if (root->type != YAML_MAPPING_NODE) {
        put_err(L, "%s:%lu: expected a mapping with the key 'changes', got %s", L->name,
                line_of(root), yn_describe(root, got, sizeof(got)));
        return SW_ECONFIG;
    }
    static const char *const top_keys[] = { "changes", "forecasts" };
    item_t top = { .map = root, .names = top_keys, .nkeys = 2 }; /* no `what`: the file's own */
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
         pr < root->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(L->doc, pr->key);
        for (int i = 0; k->type == YAML_SCALAR_NODE && i < top.nkeys; i++) {
            if (strcmp(yn_scalar(k), top_keys[i]) != 0)
                continue;
            if (top.key[i]) {
                put_err(L, "%s:%lu: key '%s': duplicate key (first at line %lu)", L->name,
                        line_of(k), top_keys[i], line_of(top.key[i]));
                return SW_ECONFIG;
            }
            top.key[i] = k;
            top.value[i] = yaml_document_get_node(L->doc, pr->value);
        }
    }
    if (!top.key[0]) {
        put_err(L, "%s:%lu: key 'changes': missing required key", L->name, line_of(root));
        return SW_ECONFIG;
    }
    int rc = load_list(L, reg, top.key[0], top.value[0], CHANGES_YAML_MAX_CHANGES, load_change);
    if (rc == 0 && top.key[1])
        rc = load_list(L, reg, top.key[1], top.value[1], CHANGES_YAML_MAX_FORECASTS,
                       load_forecast);
    if (rc == 0)
        warn_unknown_keys(L, &top, root);
    return rc;
}

/* Turns a libyaml parser error into our message. */
static int yaml_fail(loader_t *L, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR)
        return out_of_memory(L);
    char msg[1024];
    yn_parser_message(p, L->name, 0, msg, sizeof(msg)); /* changes name lines, not columns */
    put_err(L, "%s", msg);
    return SW_ECONFIG;
}

int changes_load_yaml_buf_ex(const char *name, const char *buf, size_t len, changes_t *reg,
                             changes_warn_fn warn_fn, void *ctx, char *err, size_t errlen)
{
    loader_t L = { .name = name ? name : "(buffer)", .err = err, .errlen = errlen,
                   .warn = warn_fn, .warn_ctx = ctx };
    if (err && errlen)
        err[0] = '\0';
    if (!reg || (!buf && len)) {
        put_err(&L, "%s: %s", L.name, sw_strerror(SW_EINVAL));
        return SW_EINVAL;
    }
    if (len > CHANGES_YAML_MAX_BYTES) {
        put_err(&L, "%s: larger than %u MiB", L.name, CHANGES_YAML_MAX_BYTES >> 20);
        return SW_ECONFIG;
    }
    const unsigned char *in = (const unsigned char *)(buf ? buf : "");
    int rc = yn_check_depth(L.name, in, len, YN_MAX_DEPTH, 0, err, errlen);
    if (rc == SW_ENOMEM)
        return out_of_memory(&L);
    if (rc < 0)
        return rc;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return out_of_memory(&L);
    yaml_parser_set_input_string(&parser, in, len);

    yaml_document_t doc, extra;
    if (!yaml_parser_load(&parser, &doc)) {
        rc = yaml_fail(&L, &parser);
    } else {
        L.doc = &doc;
        rc = load_root(&L, yaml_document_get_root_node(&doc), reg);
        /* One document per file: a second one would be silently ignored. */
        if (rc == 0) {
            if (!yaml_parser_load(&parser, &extra)) {
                rc = yaml_fail(&L, &parser);
            } else {
                const yaml_node_t *r2 = yaml_document_get_root_node(&extra);
                if (r2) {
                    put_err(&L, "%s:%lu: expected a single YAML document, found another",
                            L.name, line_of(r2));
                    rc = SW_ECONFIG;
                }
                yaml_document_delete(&extra);
            }
        }
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    return rc;
}

int changes_load_yaml_buf(const char *name, const char *buf, size_t len, changes_t *reg,
                          char *err, size_t errlen)
{
    return changes_load_yaml_buf_ex(name, buf, len, reg, NULL, NULL, err, errlen);
}

int changes_load_yaml_ex(const char *path, changes_t *reg, changes_warn_fn warn_fn, void *ctx,
                         char *err, size_t errlen)
{
    loader_t L = { .name = path, .err = err, .errlen = errlen };
    if (err && errlen)
        err[0] = '\0';
    if (!path || !reg) {
        put_err(&L, "%s", sw_strerror(SW_EINVAL));
        return SW_EINVAL;
    }
    unsigned char *buf;
    size_t len;
    if (yn_read_file(path, CHANGES_YAML_MAX_BYTES, &buf, &len) < 0) {
        if (errno == ENOMEM)
            return out_of_memory(&L);
        put_err(&L, "%s: %s", path, strerror(errno));
        return SW_EIO;
    }
    int rc = changes_load_yaml_buf_ex(path, (const char *)buf, len, reg, warn_fn, ctx, err,
                                      errlen);
    free(buf);
    return rc;
}

int changes_load_yaml(const char *path, changes_t *reg, char *err, size_t errlen)
{
    return changes_load_yaml_ex(path, reg, NULL, NULL, err, errlen);
}
