/*
 * incident.h - the incidents the alert stage groups alerts into: one per
 * cause, each with one primary alert (the one that pages) and its members.
 *
 * An incident is open while any of its alerts fires, and for `grace` of
 * event time after the last one resolved (a User's second symptom a few
 * minutes after its first is the same trouble). It is found by number, by
 * a key (the feed, a DCC change, a widespread symptom) or through the
 * Users bound to it; once closed it is forgotten, with its keys and Users.
 * Numbers count up from 1 in the order incidents open, so the same input
 * gives the same numbers; several instances tell theirs apart by a tag
 * (alert.h: incident_id_t).
 *
 * DESIGN: owned by the alert stage (one thread); no I/O. Lookups are O(1)
 * (hash indexes); closing scans the open incidents, which are few.
 */
#ifndef SW_INCIDENT_H
#define SW_INCIDENT_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "idindex.h"
#include "lineproto.h"

/* Room for a key: "change:" and a change id, or a widespread symptom's. */
#define INC_KEY_MAX (LP_MAX_ID + 32)

enum { INC_LOCAL, INC_REMOTE, INC_REMOTE_WIDESPREAD };

typedef struct {
    incident_id_t id;
    int severity;           /* SEV_*: its primary's, which its members take */
    uint32_t firing;        /* its alerts firing now (the widespread one included) */
    int64_t ended;          /* event time the last of them resolved (INT64_MIN: firing) */
    int64_t touched;        /* event time one of them last fired or resolved */
    char *key;              /* "" or the key it is found by (owned) */
    /* a widespread incident: the alert that stands for it */
    int widespread;         /* 1: its primary is a `widespread` alert of the alert stage */
    int remote;             /* INC_REMOTE: opened by another instance (alerts_remote);
                               INC_REMOTE_WIDESPREAD: a widespread one there (its
                               severity, like a widespread one's here, is fixed) */
    uint32_t ws_alert;      /* that alert's id (the alert stage's own numbering) */
    int ws_kind;            /* the symptom its members share (alert_kind_t) */
    char **users;           /* the Users bound to it (owned), nusers of them */
    size_t nusers, users_cap;
} incident_t;

typedef struct incidents incidents_t;

/* Incidents open for `grace` ns after their last alert, their ids with the
 * instance's `tag` (0 alone; up to INCIDENT_TAG_MAX); NULL when out of
 * memory. */
incidents_t *inc_create(int64_t grace, unsigned tag);
void inc_destroy(incidents_t *t);

/* Opens incident number `id` (0: the next number) with key `key` (NULL or
 * "": none) and severity; NULL when out of memory. A number below the
 * next one (an alert resumed from a run before) keeps the count going
 * above it. */
incident_t *inc_open(incidents_t *t, incident_id_t id, const char *key, int severity);

/* The open incident with number id, key `key`, or that User `user` is
 * bound to, at event time `now`; NULL if none (or it closed: forgotten). */
incident_t *inc_by_id(incidents_t *t, incident_id_t id, int64_t now);
incident_t *inc_by_key(incidents_t *t, const char *key, int64_t now);
incident_t *inc_of_user(incidents_t *t, const char *user, int64_t now);

/* Binds `user` to incident i (its later symptoms join it): 0 or SW_ENOMEM. */
int inc_bind_user(incidents_t *t, incident_t *i, const char *user);

/* One of incident i's alerts fires, or resolves, at `at`. */
void inc_fire(incident_t *i, int64_t at);
void inc_end(incident_t *i, int64_t at);

/* Forgets the incidents closed by `now` (their last alert ended `grace`
 * ago), with their keys and Users. */
void inc_sweep(incidents_t *t, int64_t now);

/* Incidents held (open or in their grace). */
size_t inc_count(const incidents_t *t);

#endif
