/*
 * alert.h - an alert transition and its JSON line (contract section 3).
 *
 * DESIGN: plain data; formatting writes into the caller's buffer and
 * allocates nothing, so the alert stage can format on any thread.
 */
#ifndef SW_ALERT_H
#define SW_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "changes.h"
#include "dir.h"

/* X(kind, name, severity) */
#define ALERT_KINDS(X)                                 \
    X(STORM, "storm", "critical")                      \
    X(BLOCKED, "blocked_route", "critical")            \
    X(SILENCE, "silence", "warning")                   \
    X(FEED, "feed_stalled", "critical")                \
    X(LIMIT, "limit_exceeded", "warning")              \
    X(SHIFT, "shift", "warning")                       \
    X(WIDESPREAD, "widespread", "critical")            \
    X(FORECAST, "forecast_exceeded", "warning")

typedef enum {
#define ALERT_ENUM(k, name, sev) ALERT_##k,
    ALERT_KINDS(ALERT_ENUM)
#undef ALERT_ENUM
    ALERT_NKINDS
} alert_kind_t;

typedef enum { CORR_UNDECLARED, CORR_DECLARED, CORR_MAINTENANCE } corr_type_t;

/* How an alert's traffic compares with the declared impact of the change
 * it names (correlate.h: corr_impact). */
typedef enum {
    IMPACT_NA,       /* no change named, or a kind a level says nothing of */
    IMPACT_WITHIN,   /* within the declared impact: expected, severity info */
    IMPACT_DEVIATED, /* far from it: the change did not behave as declared */
} impact_fit_t;

/* An incident's id: a number counting up from 1 in the low 32 bits, and in
 * the high ones the tag of the instance that opened it (0 alone; several
 * instances on Kafka: a random one each, so their ids never meet). */
typedef uint64_t incident_id_t;
#define INCIDENT_TAG_MAX 0xFFFFFFu
#define INCIDENT_ID_LEN 24  /* "INC-ABCDEF-4294967295" and the NUL */

/* Writes id as "INC-0007" (tag 0) or "INC-3FA2C1-0007" to buf (room for
 * INCIDENT_ID_LEN); returns its length. */
int incident_id_format(incident_id_t id, char *buf);
/* Reads "INC-..." back: 0, or -1 when s is not an incident id. */
int incident_id_parse(const char *s, incident_id_t *id);

/* An alert's place in its incident (incident.h). */
enum { ROLE_PRIMARY, ROLE_MEMBER };

/* Severities, lowest first; SEV_KIND: an alert's kind's own (alert_severity),
 * not set by an incident. */
enum { SEV_KIND, SEV_INFO, SEV_WARNING, SEV_CRITICAL };

typedef struct {
    alert_kind_t kind;
    int firing;                /* 1 firing, 0 resolved */
    const char *user;          /* NUL-terminated; "*" for the whole feed */
    int dir;                   /* ALERT_DIR_* */
    const char *cls;           /* "all" for a User's whole direction */
    int64_t starts_at, detected_at, ends_at; /* ns; ends_at ignored while firing */
    double value, baseline;    /* msgs/s */
    double backlog;            /* < 0: not applicable (written as null) */
    double limit;              /* the fixed limit for limit_exceeded */
    corr_type_t corr;
    const change_t *change;    /* NULL when undeclared */
    double score;
    impact_fit_t impact;       /* the traffic against the change's declared impact */
    const char *const *impacted; /* User ids, n_impacted of them */
    size_t n_impacted;
    unsigned source;           /* feed_stalled of one Kafka partition: the
                                  partition + 1 (rec_t.src); 0 otherwise */
    incident_id_t incident;    /* 0: none (written without the fields) */
    int role;                  /* ROLE_PRIMARY or ROLE_MEMBER */
    int learning;              /* the series had no history for that time yet */
    int severity;              /* SEV_* (incident.h): the incident's, at most warning
                                  when learning; SEV_KIND (0): the kind's own */
    int symptom;               /* widespread: the kind its Users show (alert_kind_t) */
} alert_t;

const char *alert_kind_name(alert_kind_t k);
const char *alert_severity(alert_kind_t k);
/* The kind's own severity as a SEV_* number. */
int alert_severity_level(alert_kind_t k);
/* The name of a SEV_* number ("info", "warning", "critical"). */
const char *severity_name(int sev);
const char *corr_type_name(corr_type_t c);

/*
 * Writes the alert as one JSON line (with its '\n') into buf. Returns the
 * length, or the length it needs (>= cap) when buf is too small, like
 * snprintf; buf is then truncated but NUL-terminated when cap > 0.
 */
size_t alert_format_json(const alert_t *a, char *buf, size_t cap);

#endif
