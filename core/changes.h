/*
 * changes.h - the change register: declared User-led changes and DCC Planned
 * Maintenance (contract section 2), held in memory for correlation.
 *
 * The register owns copies of every string it holds. It is filled by the
 * YAML loader (config/changes_yaml.c) and, later, by the change API; the
 * correlator only reads it.
 *
 * DESIGN: not thread-safe by itself. A running daemon builds a new register
 * and swaps the pointer; readers never see one being modified.
 */
#ifndef SW_CHANGES_H
#define SW_CHANGES_H

#include <stddef.h>
#include <stdint.h>

/* Bits of change_t.affects. */
enum { CHG_SOUTH = 1u << 0, CHG_NORTH = 1u << 1, CHG_BOTH = 3u };

/* The user id of DCC-led changes (Planned Maintenance): concerns every User. */
#define CHG_DCC_USER "DCC"

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
    int line;        /* line in the source file, 0 when not from a file */
} change_t;

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
/* Removes the change with this id: 0, or SW_ENOTFOUND. */
int changes_remove(changes_t *reg, const char *id);
size_t changes_count(const changes_t *reg);
/* The i-th change (0 <= i < count), in insertion order. */
const change_t *changes_get(const changes_t *reg, size_t i);
/* The change with this id, or NULL. */
const change_t *changes_find(const changes_t *reg, const char *id);
/* A copy of src in dst owning copies of its strings: 0, or SW_ENOMEM with
 * nothing allocated. Free it with change_free_strings(). */
int change_copy(change_t *dst, const change_t *src);
/* Frees the strings of a change made by change_copy(). */
void change_free_strings(change_t *c);

/* Non-zero when the change is DCC-led (user "DCC"). */
int change_is_dcc(const change_t *c);

#endif
