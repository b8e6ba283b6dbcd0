/*
 * changes_json.c - a change as JSON, in and out (see changes_json.h).
 *
 * Reading applies the YAML loader's rules (config/changes_yaml.c) to a
 * JSON object, field by field in the contract's order, with messages that
 * name the field ("field 'end': end is before start") instead of a line.
 */
#include "changes_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "correlate.h"
#include "dir.h"
#include "err.h"

#define NS_PER_S INT64_C(1000000000)
#define SHOWN_MAX 100 /* bytes of a rejected value echoed in a message */

/* The fields of a change, in the contract's order (as the YAML loader). */
enum { K_ID, K_USER, K_TITLE, K_KIND, K_START, K_END, K_AFFECTS, K_EXPECTED, K_CONTACT, K_COUNT };
static const char *const key_names[K_COUNT] = {
    "id", "user", "title", "kind", "start", "end", "affects", "expected", "contact",
};

void cj_fmt_time(int64_t ns, char buf[TF_BUFLEN])
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

/* A kind the correlator knows, or none: new declarations only (see
 * cj_parse_change()), where the caller can still fix a typo. */
static int known_kind(parse_t *P, const char *kind)
{
    if (!kind || corr_kind_known(kind))
        return 0;
    char known[256] = "";
    size_t off = 0;
    for (size_t i = 0; corr_kind_name(i) && off < sizeof(known); i++)
        off += (size_t)snprintf(known + off, sizeof(known) - off, "%s%s", i ? ", " : "",
                                corr_kind_name(i));
    sw_errf(P->err, P->errlen, "field 'kind': unknown kind '%.*s' (known kinds: %s)", SHOWN_MAX,
            kind, known);
    return SW_ECONFIG;
}

/* `impact`: an object with "south" and/or "north", numbers from 0 to
 * CHG_MAX_IMPACT; absent or null declares nothing (1, no change). */
static int impact(parse_t *P, change_t *c)
{
    char got[SHOWN_MAX + 8];
    json_t *v = json_object_get(P->obj, "impact");
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v)) {
        sw_errf(P->err, P->errlen, "field 'impact': expected an object of south and north, "
                "got %s", describe(v, got, sizeof(got)));
        return SW_ECONFIG;
    }
    const char *key;
    json_t *x;
    json_object_foreach(v, key, x) {
        int dir = !strcmp(key, "south") ? DIR_SOUTH : !strcmp(key, "north") ? DIR_NORTH : -1;
        if (dir < 0) {
            sw_errf(P->err, P->errlen, "field 'impact.%.*s': unknown key (expected south or "
                    "north)", SHOWN_MAX, key);
            return SW_ECONFIG;
        }
        double value = json_number_value(x);
        if (!json_is_number(x) || !(value >= 0 && value <= CHG_MAX_IMPACT)) {
            if (json_is_number(x))
                snprintf(got, sizeof(got), "%g", value);
            sw_errf(P->err, P->errlen, "field 'impact.%s': expected a number from 0 to %g, got %s",
                    key, CHG_MAX_IMPACT, json_is_number(x) ? got : describe(x, got, sizeof(got)));
            return SW_ECONFIG;
        }
        c->impact[dir] = value;
        c->impact_set |= DIR_BIT(dir);
    }
    return 0;
}

int cj_parse_change(const json_t *obj, int check_kind, change_t *c, char *err, size_t errlen)
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
    if (rc == 0 && check_kind)
        rc = known_kind(&P, s[K_KIND]);
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
    if (rc == 0)
        rc = impact(&P, c);
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

int cj_load(const char *buf, size_t len, json_t **out, char *err, size_t errlen)
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

/* `affects` as the list of its directions. */
static json_t *affects_list(unsigned bits)
{
    json_t *a = json_array();
    if (a && (bits & CHG_NORTH) && json_array_append_new(a, json_string("north")) < 0)
        goto fail;
    if (a && (bits & CHG_SOUTH) && json_array_append_new(a, json_string("south")) < 0)
        goto fail;
    return a;
fail:
    json_decref(a);
    return NULL;
}

/* `impact`: the directions declared. */
static json_t *impact_object(const change_t *c)
{
    json_t *o = json_object();
    for (int dir = DIR_SOUTH; o && dir <= DIR_NORTH; dir++) {
        if ((c->impact_set & DIR_BIT(dir)) &&
            json_object_set_new(o, dir_name(dir), json_real(c->impact[dir])) < 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

json_t *cj_change(const change_t *c, const int64_t *at)
{
    char start[TF_BUFLEN], end[TF_BUFLEN], when[TF_BUFLEN];
    cj_fmt_time(c->start, start);
    cj_fmt_time(c->end, end);
    if (at)
        cj_fmt_time(*at, when);
    /* "o" steals the references, also when json_pack fails */
    return json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:s, s:o, s:s?, s:s?, s:o, s:s*}", "id", c->id,
                     "user", c->user, "title", c->title, "kind", c->kind, "start", start, "end",
                     end, "affects", affects_list(c->affects), "expected", c->expected,
                     "contact", c->contact, "impact", impact_object(c), "declared_at",
                     at ? when : NULL);
}

char *cj_dump_steal(json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    return s;
}

/* One conflict as a JSON object, or NULL. */
static json_t *conflict_object(const conflict_t *k, const change_t *c)
{
    char from[TF_BUFLEN], to[TF_BUFLEN], msg[1024];
    cj_fmt_time(k->from, from);
    cj_fmt_time(k->to, to);
    conflict_message(k, c, msg, sizeof(msg));
    if (k->with)
        return json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", conflict_type_name(k->type), "with",
                         k->with->id, "from", from, "to", to, "message", msg);
    json_t *users = json_array();
    for (size_t i = 0; users && i < k->nusers && i < CONFLICT_MAX_USERS; i++) {
        if (json_array_append_new(users, json_string(k->users[i])) < 0) {
            json_decref(users);
            users = NULL;
        }
    }
    return json_pack("{s:s, s:s, s:s, s:o, s:s}", "type", conflict_type_name(k->type), "from",
                     from, "to", to, "users", users, "message", msg);
}

json_t *cj_conflicts(const conflict_t *k, size_t n, const change_t *c)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        if (json_array_append_new(a, conflict_object(&k[i], c)) < 0) {
            json_decref(a);
            a = NULL;
        }
    }
    return a;
}
