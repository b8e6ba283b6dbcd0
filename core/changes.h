/*
 * changes.h - the change register: declared User-led changes and DCC Planned
 * Maintenance (contract section 2), held in memory for correlation.
 *
 * The register owns copies of every string it holds. It is filled by the
 * YAML loader (config/changes_yaml.c) and, later, by the change API; the
 * correlator only reads it. Adding, finding and removing a change are O(1)
 * on average (a hash index on the id), so a register of 100 000 changes
 * loads in linear time.
 *
 * DESIGN: not thread-safe by itself: one thread at a time. A running daemon
 * never shares one between threads: a reloaded file's register is built on
 * main and handed, with its ownership, to the alert thread (regview.h),
 * which alone modifies and reads the register it correlates with. The
 * strings of a change_t passed in are borrowed for the call; pointers
 * returned point into the register.
 */
#ifndef SW_CHANGES_H
#define SW_CHANGES_H

#include <stddef.h>
#include <stdint.h>

#include "dir.h"

/* Bits of change_t.affects. */
enum { CHG_SOUTH = DIR_BIT(DIR_SOUTH), CHG_NORTH = DIR_BIT(DIR_NORTH),
       CHG_BOTH = CHG_SOUTH | CHG_NORTH };

/* The user id of DCC-led changes (Planned Maintenance): concerns every User. */
#define CHG_DCC_USER "DCC"

/* Limits on the text of a change, in bytes (the NUL not counted). */
#define CHG_MAX_ID 128    /* ids go into URLs, logs and alert lines: a ticket
                             number with a prefix fits many times over */
#define CHG_MAX_USER 64   /* the line protocol's LP_MAX_ID: a longer user
                             could never match any traffic */
#define CHG_MAX_KIND 64   /* a word or two: firewall, mdm, maintenance */
#define CHG_MAX_TEXT 4096 /* title, expected, contact: a paragraph, not a file */
#define CHG_MAX_AFFECTS 3 /* words in an `affects` list (north, south, both):
                             more can only repeat one */

typedef struct {
    char *id;        /* unique, required */
    char *user;      /* the User making the change, or "DCC" */
    char *title;     /* optional: NULL when absent */
    char *kind;      /* optional free text: firewall, mdm, maintenance... */
    char *expected;  /* optional */
    char *contact;   /* optional */
    int64_t start;   /* ns since the Unix epoch */
    int64_t end;     /* ns since the Unix epoch, >= start */
    unsigned affects;/* CHG_* bits; CHG_BOTH by default */
    /* declared impact per direction (DIR_SOUTH, DIR_NORTH): the traffic
     * expected while the change is in force, relative to the usual level
     * (1: no change; 0: none; 3: three times); read it with change_impact() */
    double impact[2];
    unsigned impact_set; /* CHG_* bits of the directions impact[] declares;
                            an undeclared direction's impact is 1 */
    int line;        /* line in the source file, 0 when not from a file */
} change_t;

/* The largest declared impact accepted: a change that multiplies a User's
 * traffic by more is not a plan but an incident. */
#define CHG_MAX_IMPACT 1000.0

/* A User's Service Request forecast (contract section 2): southbound
 * requests a day over a range of UTC days. */
typedef struct {
    char *user;
    int32_t from_day, to_day; /* days since 1970-01-01 (UTC), inclusive */
    double per_day;           /* requests forecast for each day, > 0 */
    int line;                 /* line in the source file, 0 when not from a file */
} forecast_t;

typedef struct changes changes_t;

/* An empty register, or NULL when out of memory. */
changes_t *changes_create(void);
/* Frees the register and every string in it. changes_destroy(NULL) is a no-op. */
void changes_destroy(changes_t *reg);

/*
 * Adds a copy of `c` (every string duplicated; NULL strings stay NULL;
 * affects 0 becomes CHG_BOTH). Returns SW_EINVAL when id or user is missing,
 * end < start or affects has bits other than CHG_BOTH's, SW_EEXISTS when
 * the id is already in the register, SW_ENOMEM when out of memory.
 * On error the register is unchanged.
 */
int changes_add(changes_t *reg, const change_t *c);
/*
 * Removes the change with this id: 0, or SW_ENOTFOUND. The last change
 * takes the removed one's place, so the order of changes_get() is the
 * insertion order only until a removal; pointers into the register are
 * invalidated by every add and remove.
 */
int changes_remove(changes_t *reg, const char *id);
size_t changes_count(const changes_t *reg);
/* The i-th change (0 <= i < count): insertion order, until a removal. */
const change_t *changes_get(const changes_t *reg, size_t i);
/* The change with this id, or NULL. */
const change_t *changes_find(const changes_t *reg, const char *id);
/* A copy of src in dst owning copies of its strings: 0, or SW_ENOMEM with
 * nothing allocated. Free it with change_free_strings(). */
int change_copy(change_t *dst, const change_t *src);
/* Frees the strings of a change made by change_copy(). */
void change_free_strings(change_t *c);

/* The change's declared impact in direction dir (DIR_*); 1 when undeclared. */
double change_impact(const change_t *c, int dir);

/*
 * Adds a copy of forecast `f` (its user duplicated). SW_EINVAL when the
 * user is missing, to_day < from_day or per_day is not > 0; SW_ENOMEM.
 * Forecasts of one User may not overlap: SW_EEXISTS when a day of f is
 * already forecast for its User.
 */
int changes_add_forecast(changes_t *reg, const forecast_t *f);
size_t changes_forecast_count(const changes_t *reg);
const forecast_t *changes_forecast_get(const changes_t *reg, size_t i);
/* The forecast of `user` covering UTC day `day`, or NULL. */
const forecast_t *changes_forecast_for(const changes_t *reg, const char *user, int32_t day);
/* Copies every forecast of src into dst: 0, or SW_ENOMEM. */
int changes_copy_forecasts(changes_t *dst, const changes_t *src);

/* Non-zero when the change is DCC-led (user "DCC"). */
int change_is_dcc(const change_t *c);

/* Slots of the id index looked at by adds and removals so far: a measure
 * of the register's cost for tests (linear loading stays near 1 a change). */
uint64_t changes_probes(const changes_t *reg);

/*
 * Checks the text `s` (len bytes) of a change's key `key` ("id", "user",
 * "title", "kind", "expected" or "contact"): 0 when it is within the key's
 * limit above and holds no control character (a byte below 0x20, or 0x7f;
 * title, expected and contact, free text, may hold tabs and line feeds).
 * Otherwise SW_ERANGE ("longer than 128 bytes") or SW_EPARSE ("control
 * character 0x0d at byte 5"), with the reason in why (whylen bytes; may be
 * NULL). An unknown key has no limit. Both loaders (YAML, API) use it.
 */
int change_check_text(const char *key, const char *s, size_t len, char *why, size_t whylen);

#endif
