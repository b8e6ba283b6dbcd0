/*
 * changes_yaml.c - loads the change register (contract section 2) from YAML
 * with libyaml's document API (see changes_yaml.h).
 *
 * The file is a mapping whose key `changes` holds a sequence of changes,
 * each a mapping. Known keys are checked; unknown keys, at the top level or
 * in a change, are kept for other tools and ignored here, whatever their
 * value. Errors read "NAME:LINE: change ID: key 'KEY': what is wrong", where
 * ID is the change's id, or "#N" (its 1-based position) when it has no
 * usable id. The keys of a change are checked in the contract's order: id,
 * user, title, kind, start, end, affects, expected, contact.
 *
 * DESIGN: no shared state; the caller owns the register being filled.
 */
#include "changes_yaml.h"
#include "yamlnode.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "err.h"
#include "timefmt.h"

/* The keys of a change this loader reads, in the contract's order. */
enum { K_ID, K_USER, K_TITLE, K_KIND, K_START, K_END, K_AFFECTS, K_EXPECTED, K_CONTACT, K_COUNT };
static const char *const key_names[K_COUNT] = {
    "id", "user", "title", "kind", "start", "end", "affects", "expected", "contact",
};

typedef struct {
    const char *name;
    yaml_document_t *doc;
    char *err;
    size_t errlen;
} loader_t;

/* One change being read: its position, label and the nodes of its keys. */
typedef struct {
    const yaml_node_t *map;
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
    put_err(L, "%s:%lu: change %s: key '%s': %s", L->name, line_of(node), it->label,
            key_names[k], msg);
    return SW_ECONFIG;
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
    if (change_check_text(key_names[k], yn_scalar(v), v->data.scalar.length, why,
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

/* Reads change number `pos` (1-based) at node `map` and adds it to `reg`. */
static int load_change(loader_t *L, changes_t *reg, size_t pos, const yaml_node_t *map)
{
    char got[256];
    item_t it = { .map = map };
    snprintf(it.label, sizeof(it.label), "#%zu", pos);
    if (map->type != YAML_MAPPING_NODE) {
        put_err(L, "%s:%lu: change %s: expected a mapping, got %s", L->name, line_of(map),
                it.label, yn_describe(map, got, sizeof(got)));
        return SW_ECONFIG;
    }

    /* Find the known keys first, so that every message can name the id. */
    int dup = -1;
    yaml_node_t *dup_key = NULL;
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(L->doc, pr->key);
        if (k->type != YAML_SCALAR_NODE)
            continue; /* not a key of ours: ignored like any unknown key */
        for (int i = 0; i < K_COUNT; i++) {
            if (strcmp(yn_scalar(k), key_names[i]) != 0)
                continue;
            if (it.key[i]) {
                if (!dup_key) {
                    dup = i;
                    dup_key = k;
                }
            } else {
                it.key[i] = k;
                it.value[i] = yaml_document_get_node(L->doc, pr->value);
            }
        }
    }
    const yaml_node_t *idv = it.value[K_ID];
    if (idv && idv->type == YAML_SCALAR_NODE && !yn_is_null(idv) && *yn_scalar(idv) &&
        change_check_text("id", yn_scalar(idv), idv->data.scalar.length, NULL, 0) == 0)
        snprintf(it.label, sizeof(it.label), "%s", yn_scalar(idv));
    if (dup_key)
        return fail_key(L, &it, dup, dup_key, "duplicate key (first at line %lu)",
                        line_of(it.key[dup]));

    const char *id = NULL, *user = NULL, *title = NULL, *kind = NULL, *expected = NULL,
               *contact = NULL;
    change_t c = { .line = (int)line_of(map) };
    int rc = text(L, &it, K_ID, 1, &id);
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
    return rc;
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
    const yaml_node_t *key = NULL, *list = NULL;
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
         pr < root->data.mapping.pairs.top; pr++) {
        const yaml_node_t *k = yaml_document_get_node(L->doc, pr->key);
        if (k->type != YAML_SCALAR_NODE || strcmp(yn_scalar(k), "changes") != 0)
            continue; /* other top-level keys are kept and ignored */
        if (key) {
            put_err(L, "%s:%lu: key 'changes': duplicate key (first at line %lu)", L->name,
                    line_of(k), line_of(key));
            return SW_ECONFIG;
        }
        key = k;
        list = yaml_document_get_node(L->doc, pr->value);
    }
    if (!key) {
        put_err(L, "%s:%lu: key 'changes': missing required key", L->name, line_of(root));
        return SW_ECONFIG;
    }
    if (yn_is_null(list))
        return 0;
    if (list->type != YAML_SEQUENCE_NODE) {
        put_err(L, "%s:%lu: key 'changes': expected a sequence of changes, got %s", L->name,
                line_of(list), yn_describe(list, got, sizeof(got)));
        return SW_ECONFIG;
    }
    size_t count = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (count > CHANGES_YAML_MAX_CHANGES) {
        put_err(L, "%s:%lu: key 'changes': more than %d changes (%zu)", L->name, line_of(list),
                CHANGES_YAML_MAX_CHANGES, count);
        return SW_ECONFIG;
    }
    size_t pos = 1;
    for (yaml_node_item_t *i = list->data.sequence.items.start; i < list->data.sequence.items.top;
         i++, pos++) {
        int rc = load_change(L, reg, pos, yaml_document_get_node(L->doc, *i));
        if (rc < 0)
            return rc;
    }
    return 0;
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

int changes_load_yaml_buf(const char *name, const char *buf, size_t len, changes_t *reg,
                          char *err, size_t errlen)
{
    loader_t L = { .name = name ? name : "(buffer)", .err = err, .errlen = errlen };
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

int changes_load_yaml(const char *path, changes_t *reg, char *err, size_t errlen)
{
    loader_t L = { .name = path, .err = err, .errlen = errlen };
    if (err && errlen)
        err[0] = '\0';
    if (!path || !reg) {
        put_err(&L, "%s", sw_strerror(SW_EINVAL));
        return SW_EINVAL;
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        put_err(&L, "%s: %s", path, strerror(errno));
        return SW_EIO;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int rc = buf ? 0 : SW_ENOMEM;
    /* one byte past the limit is enough to refuse the file */
    while (rc == 0 && n <= CHANGES_YAML_MAX_BYTES) {
        if (n == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = SW_ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t want = cap - n, left = (size_t)CHANGES_YAML_MAX_BYTES + 1 - n;
        size_t got = fread(buf + n, 1, want < left ? want : left, fp);
        n += got;
        if (got == 0) {
            if (ferror(fp)) {
                put_err(&L, "%s: %s", path, strerror(errno));
                rc = SW_EIO;
            }
            break;
        }
    }
    fclose(fp);
    if (rc == 0)
        rc = changes_load_yaml_buf(path, buf, n, reg, err, errlen);
    else if (rc == SW_ENOMEM)
        rc = out_of_memory(&L);
    free(buf);
    return rc;
}
