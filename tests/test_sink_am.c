/*
 * test_sink_am.c - tests of the Alertmanager sink (adapters/sinks/sink_am.h)
 * against real Alertmanagers (/usr/bin/prometheus-alertmanager) run as
 * child processes on 127.0.0.1, clustering off, each with its own port,
 * config and storage under the test's temporary directory.
 *
 * What arrived is read back with GET /api/v2/alerts. Alertmanager 0.25
 * leaves out of that list every alert whose endsAt has passed, whatever
 * the filters (active=false included), so a resolution is checked two
 * ways: one with an end in the past must make its alert vanish, one with
 * an end in the future must show that exact endsAt (a firing alert shows
 * updatedAt + resolve_timeout instead).
 *
 * Every wait has a deadline, so a failure is a failed assertion, never a
 * hang; the teardown kills and reaps every child and removes the directory
 * even when a test fails, and the children die with the test process
 * (PR_SET_PDEATHSIG) if it crashes. The test skips when Alertmanager is
 * not installed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "err.h"
#include "fileio.h"
#include "sink_am.h"
#include "testutil.h"
#include "timefmt.h"

#define AM_BIN "/usr/bin/prometheus-alertmanager"
#define READY_MS 15000   /* Alertmanager starts in about a second */
#define ARRIVE_MS 15000  /* covers the sink's backoff (1, 2, 4 s...) */
#define NAM 2
#define NSINK 3

typedef struct {
    pid_t pid;
    int port;
    char dir[256];
} am_t;

/* An HTTP server that answers every request 400, like an Alertmanager
 * finding the alerts invalid. */
typedef struct {
    int fd;
    pthread_t thread;
    int running;
    atomic_int requests;
} fake_t;

typedef struct {
    char dir[128];          /* the test's temporary directory */
    am_t am[NAM];
    sink_am_t *sink[NSINK];
    int hung_fd;            /* a listener that never accepts */
    fake_t fake;
} fx_t;

/* ---- time and small helpers ---- */

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * SEC + ts.tv_nsec;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

/* Whole milliseconds, as Alertmanager keeps them. */
static int64_t ms_round(int64_t ns)
{
    return ns / 1000000 * 1000000;
}

static void url_of(int port, char *buf, size_t cap)
{
    snprintf(buf, cap, "http://127.0.0.1:%d", port);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(p);
}

/* ---- HTTP GET with libcurl ---- */

typedef struct {
    char *p;
    size_t n;
} buf_t;

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    buf_t *b = ud;
    char *q = realloc(b->p, b->n + size * n + 1);
    if (!q)
        return 0;
    memcpy(q + b->n, p, size * n);
    b->p = q;
    b->n += size * n;
    b->p[b->n] = '\0';
    return size * n;
}

/* GETs url within 2 s: the HTTP status (0 when unreachable); the body in
 * *body when asked (the caller frees it). */
static long http_get(const char *url, char **body)
{
    CURL *e = curl_easy_init();
    buf_t b = { NULL, 0 };
    long code = 0;
    assert_non_null(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    if (curl_easy_perform(e) == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(e);
    if (body)
        *body = b.p;
    else
        free(b.p);
    return code;
}

/* ---- the refusing server ---- */

static void *fake_main(void *arg)
{
    fake_t *f = arg;
    static const char answer[] = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                                 "Content-Length: 10\r\nConnection: close\r\n\r\nbad alerts";
    for (;;) {
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            return NULL; /* shut down */
        struct timeval tv = { 2, 0 };
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        char req[65536];
        size_t got = 0;
        long want = -1;
        for (;;) { /* the head, then Content-Length bytes of body */
            ssize_t n = recv(c, req + got, sizeof(req) - 1 - got, 0);
            if (n <= 0)
                break;
            got += (size_t)n;
            req[got] = '\0';
            char *end = strstr(req, "\r\n\r\n"), *cl = strcasestr(req, "content-length:");
            if (end && want < 0)
                want = (long)(end + 4 - req) + (cl ? strtol(cl + 15, NULL, 10) : 0);
            if (want >= 0 && (long)got >= want)
                break;
        }
        if (send(c, answer, sizeof(answer) - 1, MSG_NOSIGNAL) > 0)
            atomic_fetch_add(&f->requests, 1);
        close(c);
    }
}

/* Starts the refusing server; returns its port. */
static int fake_start(fake_t *f)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(f->fd >= 0);
    assert_int_equal(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(f->fd, 16), 0);
    assert_int_equal(getsockname(f->fd, (struct sockaddr *)&a, &len), 0);
    assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
    f->running = 1;
    return ntohs(a.sin_port);
}

static void fake_stop(fake_t *f)
{
    if (f->running) {
        shutdown(f->fd, SHUT_RDWR); /* accept() returns */
        pthread_join(f->thread, NULL);
        f->running = 0;
    }
    if (f->fd > 0)
        close(f->fd);
    f->fd = -1;
}

/* ---- Alertmanager children ---- */

/* Starts Alertmanager on `port` (its directory made under fx->dir) and
 * waits until it is ready. resolve_timeout: NULL for the default (5m). */
static void am_start(fx_t *fx, am_t *am, int port, const char *resolve_timeout)
{
    char cfg[300], log[300], data[300], listen[64], cfgarg[320], dataarg[320];
    if (!am->dir[0]) {
        snprintf(am->dir, sizeof(am->dir), "%s/am%d", fx->dir, port);
        assert_int_equal(mkdir(am->dir, 0700), 0);
    }
    am->port = port;
    snprintf(cfg, sizeof(cfg), "%s/am.yml", am->dir);
    snprintf(log, sizeof(log), "%s/am.log", am->dir);
    snprintf(data, sizeof(data), "%s/data", am->dir);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    if (resolve_timeout)
        fprintf(f, "global:\n  resolve_timeout: %s\n", resolve_timeout);
    fprintf(f, "route:\n  receiver: \"null\"\nreceivers:\n  - name: \"null\"\n");
    assert_int_equal(fclose(f), 0);
    snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d", port);
    snprintf(cfgarg, sizeof(cfgarg), "--config.file=%s", cfg);
    snprintf(dataarg, sizeof(dataarg), "--storage.path=%s", data);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* only async-signal-safe calls until exec */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(AM_BIN, AM_BIN, cfgarg, listen, "--cluster.listen-address=", dataarg,
              "--log.level=warn", (char *)NULL);
        _exit(127);
    }
    close(fd);
    am->pid = pid;
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/-/ready", port);
    int64_t deadline = mono_ms() + READY_MS;
    while (http_get(url, NULL) != 200) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            am->pid = 0;
            fail_msg("alertmanager on port %d exited (status %d); see %s", port, st, log);
        }
        if (mono_ms() > deadline)
            fail_msg("alertmanager on port %d not ready within %d ms; see %s", port, READY_MS, log);
        sleep_ms(50);
    }
}

static void am_kill(am_t *am)
{
    if (am->pid > 0) {
        kill(am->pid, SIGKILL);
        while (waitpid(am->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    am->pid = 0;
}

/* The alerts Alertmanager lists now (a JSON array the caller frees). */
static json_t *am_alerts(const am_t *am)
{
    char url[128], *body = NULL;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v2/alerts", am->port);
    long code = http_get(url, &body);
    json_t *arr = code == 200 && body ? json_loads(body, 0, NULL) : NULL;
    free(body);
    if (!json_is_array(arr))
        fail_msg("GET %s: HTTP %ld, not a JSON array", url, code);
    return arr;
}

/* The listed alerts of User `user` (a new array the caller frees). */
static json_t *am_alerts_of(const am_t *am, const char *user)
{
    json_t *all = am_alerts(am), *out = json_array(), *a;
    size_t i;
    json_array_foreach(all, i, a)
    {
        const char *u = json_string_value(json_object_get(json_object_get(a, "labels"), "user"));
        if (u && strcmp(u, user) == 0)
            json_array_append(out, a);
    }
    json_decref(all);
    return out;
}

static int64_t field_time(json_t *a, const char *key)
{
    int64_t ns = 0;
    const char *s = json_string_value(json_object_get(a, key));
    if (!s || tf_parse_rfc3339(s, &ns) < 0)
        fail_msg("alert without a valid %s", key);
    return ns;
}

/* Waits until `user`'s one alert is listed, with endsAt `ends` when ends
 * is non-zero (a resolution that arrived) and endsAt later than `ends`
 * otherwise. Returns the alert (the caller frees it). */
static json_t *wait_alert(const am_t *am, const char *user, int64_t ends)
{
    int64_t deadline = mono_ms() + ARRIVE_MS;
    for (;;) {
        json_t *arr = am_alerts_of(am, user);
        if (json_array_size(arr) > 1)
            fail_msg("%s: %zu alerts listed, want 1", user, json_array_size(arr));
        json_t *a = json_incref(json_array_get(arr, 0));
        json_decref(arr);
        if (a && (ends ? field_time(a, "endsAt") == ms_round(ends)
                       : field_time(a, "endsAt") > wall_ns()))
            return a;
        json_decref(a);
        if (mono_ms() > deadline)
            fail_msg("port %d: no alert of %s with the end wanted within %d ms", am->port, user,
                     ARRIVE_MS);
        sleep_ms(50);
    }
}

static void wait_gone(const am_t *am, const char *user)
{
    int64_t deadline = mono_ms() + ARRIVE_MS;
    for (;;) {
        json_t *arr = am_alerts_of(am, user);
        size_t n = json_array_size(arr);
        json_decref(arr);
        if (n == 0)
            return;
        if (mono_ms() > deadline)
            fail_msg("port %d: the alert of %s still listed after %d ms", am->port, user, ARRIVE_MS);
        sleep_ms(50);
    }
}

static sink_am_stats_t stats_of(const sink_am_t *s)
{
    sink_am_stats_t st;
    sink_am_stats(s, &st);
    return st;
}

/* Waits until the sink's counters satisfy `cond`, within ARRIVE_MS. */
#define WAIT_STATS(s, st, cond)                                              \
    do {                                                                     \
        int64_t deadline_ = mono_ms() + ARRIVE_MS;                           \
        for (;;) {                                                           \
            st = stats_of(s);                                                \
            if (cond)                                                        \
                break;                                                       \
            if (mono_ms() > deadline_)                                       \
                fail_msg("counters never met %s within %d ms", #cond, ARRIVE_MS); \
            sleep_ms(20);                                                    \
        }                                                                    \
    } while (0)

/* ---- alerts ---- */

static const char *const impacted2[] = { "u-x", "u-y" };
static change_t chg7 = { .id = "CHG-7", .user = "u-a", .title = "Firewall rule update",
                         .kind = "firewall" };

static alert_t mk(alert_kind_t kind, const char *user, int firing, int64_t starts, int64_t ends)
{
    return (alert_t){ .kind = kind, .firing = firing, .user = user, .dir = DIR_NORTH,
                      .cls = "all", .starts_at = starts, .detected_at = starts + 30 * SEC,
                      .ends_at = ends, .value = 12.5, .baseline = 3.25, .backlog = -1,
                      .corr = CORR_UNDECLARED };
}

static void send_ok(sink_am_t *s, alert_t a)
{
    assert_int_equal(sink_am_send(s, &a), SW_OK);
}

static const char *label(json_t *a, const char *k)
{
    return json_string_value(json_object_get(json_object_get(a, "labels"), k));
}

static const char *annot(json_t *a, const char *k)
{
    return json_string_value(json_object_get(json_object_get(a, "annotations"), k));
}

/* The summary of the alert's JSON line (section 3). */
static char *line_summary(const alert_t *a)
{
    char line[2048];
    assert_true(alert_format_json(a, line, sizeof(line)) < sizeof(line));
    json_t *j = json_loads(line, 0, NULL);
    assert_non_null(j);
    char *s = strdup(json_string_value(json_object_get(j, "summary")));
    json_decref(j);
    return s;
}

/* A sink sending to http://127.0.0.1:PORT for each port; a negative port
 * -P gives "http://127.0.0.1:P/" (a trailing slash, which must not
 * matter), and PORT + WRONG_PATH "http://127.0.0.1:PORT/wrong". */
#define WRONG_PATH 100000
static sink_am_t *mk_sink(fx_t *fx, int slot, const int *ports, size_t n, const char *queue,
                          int64_t resend_ns, size_t queue_max)
{
    static char urls[4][64];
    const char *u[4];
    for (size_t i = 0; i < n; i++) {
        if (ports[i] < 0)
            snprintf(urls[i], sizeof(urls[i]), "http://127.0.0.1:%d/", -ports[i]);
        else if (ports[i] > WRONG_PATH)
            snprintf(urls[i], sizeof(urls[i]), "http://127.0.0.1:%d/wrong", ports[i] - WRONG_PATH);
        else
            url_of(ports[i], urls[i], sizeof(urls[i]));
        u[i] = urls[i];
    }
    sink_am_opts_t o = { .urls = u, .nurls = n, .queue_path = queue,
                         .resend_every_ns = resend_ns, .queue_max = queue_max,
                         .generator_url = "http://127.0.0.1/stormwatch" };
    char err[512] = "";
    fx->sink[slot] = sink_am_create(&o, err, sizeof(err));
    if (!fx->sink[slot])
        fail_msg("sink_am_create: %s", err);
    return fx->sink[slot];
}

static void drop_sink(fx_t *fx, int slot)
{
    sink_am_destroy(fx->sink[slot]);
    fx->sink[slot] = NULL;
}

/* ---- fixture ---- */

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    fx->hung_fd = -1;
    fx->fake.fd = -1;
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_sink_am.XXXXXX");
    if (!mkdtemp(fx->dir)) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    for (int i = 0; i < NSINK; i++)
        sink_am_destroy(fx->sink[i]);
    for (int i = 0; i < NAM; i++)
        am_kill(&fx->am[i]);
    if (fx->hung_fd >= 0)
        close(fx->hung_fd);
    fake_stop(&fx->fake);
    nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

/* ---- tests ---- */

static void test_bad_options_refused(void **state)
{
    (void)state;
    char err[256];
    const char *bad_scheme[] = { "ftp://127.0.0.1:9093" };
    const char *twice[] = { "http://127.0.0.1:9093", "http://127.0.0.1:9093" };
    const char *one[] = { "http://127.0.0.1:9093" };
    sink_am_opts_t o = { .urls = one, .nurls = 0 };

    err[0] = '\0';
    assert_null(sink_am_create(NULL, err, sizeof(err)));
    assert_string_equal(err, "alertmanager: no URL");
    assert_null(sink_am_create(&o, err, sizeof(err)));
    o = (sink_am_opts_t){ .urls = bad_scheme, .nurls = 1 };
    assert_null(sink_am_create(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "'ftp://127.0.0.1:9093': not an http:// or https:// URL"));
    o = (sink_am_opts_t){ .urls = twice, .nurls = 2 };
    assert_null(sink_am_create(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "given twice"));
    o = (sink_am_opts_t){ .urls = one, .nurls = 1, .timeout_ns = -1 };
    assert_null(sink_am_create(&o, err, sizeof(err)));
    o = (sink_am_opts_t){ .urls = one, .nurls = 1, .timeout_ns = 1000 };
    assert_null(sink_am_create(&o, err, sizeof(err)));

    alert_t a = mk(ALERT_STORM, "u", 1, wall_ns(), 0);
    assert_int_equal(sink_am_send(NULL, &a), SW_EINVAL);
    sink_am_destroy(NULL);
}

static void test_firing_and_resolved_mapping(void **state)
{
    fx_t *fx = *state;
    int port = free_port();
    am_start(fx, &fx->am[0], port, NULL);
    sink_am_t *s = mk_sink(fx, 0, &port, 1, NULL, 3600 * SEC, 0);
    int64_t t0 = wall_ns() - 120 * SEC + 123 * 1000000;

    alert_t a = mk(ALERT_STORM, "u-a", 1, t0, 0);
    a.corr = CORR_DECLARED;
    a.change = &chg7;
    a.score = 0.93;
    a.impacted = impacted2;
    a.n_impacted = 2;
    a.incident = 7;
    a.role = ROLE_PRIMARY;
    alert_t b = mk(ALERT_SILENCE, "u-b", 1, t0, 0);
    b.incident = 8;
    b.role = ROLE_MEMBER;
    b.learning = 1;
    b.value = 0.0;
    alert_t c = mk(ALERT_LIMIT, "u-c", 1, t0, 0);
    c.limit = 10;
    send_ok(s, a);
    send_ok(s, b);
    send_ok(s, c);

    json_t *ja = wait_alert(&fx->am[0], "u-a", 0);
    char *sum = line_summary(&a);
    assert_string_equal(label(ja, "alertname"), "storm");
    assert_string_equal(label(ja, "dir"), "north");
    assert_string_equal(label(ja, "class"), "all");
    assert_string_equal(label(ja, "severity"), "critical");
    assert_string_equal(label(ja, "correlation"), "declared");
    assert_string_equal(label(ja, "change_id"), "CHG-7");
    assert_string_equal(label(ja, "incident"), "INC-0007");
    assert_string_equal(label(ja, "incident_role"), "primary");
    assert_string_equal(label(ja, "learning"), "false");
    assert_int_equal(json_object_size(json_object_get(ja, "labels")), 10);
    assert_string_equal(annot(ja, "summary"), sum);
    assert_string_equal(annot(ja, "change_title"), "Firewall rule update");
    assert_string_equal(annot(ja, "impacted_users"), "u-x,u-y");
    assert_string_equal(annot(ja, "value"), "12.50 msg/s");
    assert_string_equal(annot(ja, "baseline"), "3.25 msg/s");
    assert_string_equal(json_string_value(json_object_get(ja, "generatorURL")),
                        "http://127.0.0.1/stormwatch");
    assert_true(field_time(ja, "startsAt") == ms_round(t0));
    free(sum);
    json_decref(ja);

    json_t *jb = wait_alert(&fx->am[0], "u-b", 0);
    assert_string_equal(label(jb, "alertname"), "silence");
    assert_string_equal(label(jb, "severity"), "warning");
    assert_string_equal(label(jb, "correlation"), "undeclared");
    assert_null(label(jb, "change_id")); /* no change: the label is left out */
    assert_string_equal(label(jb, "incident"), "INC-0008");
    assert_string_equal(label(jb, "incident_role"), "member");
    assert_string_equal(label(jb, "learning"), "true");
    assert_null(annot(jb, "change_title"));
    assert_null(annot(jb, "impacted_users"));
    assert_string_equal(annot(jb, "value"), "0.00 msg/s");
    json_decref(jb);
    json_decref(wait_alert(&fx->am[0], "u-c", 0));

    /* a resolved with its change withdrawn meanwhile: it must still end
     * the alert that fired (same labels), not make a new one */
    alert_t ar = a;
    ar.firing = 0;
    ar.ends_at = wall_ns() + 120 * SEC;
    ar.change = NULL;
    ar.corr = CORR_UNDECLARED;
    send_ok(s, ar);
    ja = wait_alert(&fx->am[0], "u-a", ar.ends_at);
    assert_string_equal(label(ja, "correlation"), "declared");
    assert_string_equal(label(ja, "change_id"), "CHG-7");
    json_decref(ja);

    /* c resolved, ending a second ago: gone from the list */
    alert_t cr = c;
    cr.firing = 0;
    cr.ends_at = wall_ns() - SEC;
    send_ok(s, cr);
    wait_gone(&fx->am[0], "u-c");
    json_decref(wait_alert(&fx->am[0], "u-b", 0));

    sink_am_stats_t st;
    WAIT_STATS(s, st, st.sent == 5);
    assert_int_equal(st.queued, 5);
    assert_int_equal(st.pending, 0);
    assert_int_equal(st.failed + st.rejected + st.dropped, 0);
    assert_int_equal(st.firing, 1); /* b */
}

/* Inputs Alertmanager would refuse as they are: a resolution that ends
 * before it starts is sent ending at its start, and bytes that are not
 * UTF-8 in a User id become '?'. Neither is rejected. */
static void test_odd_inputs_accepted(void **state)
{
    fx_t *fx = *state;
    int port = free_port();
    am_start(fx, &fx->am[0], port, NULL);
    sink_am_t *s = mk_sink(fx, 0, &port, 1, NULL, 3600 * SEC, 0);
    int64_t t0 = wall_ns() + 60 * SEC;
    send_ok(s, mk(ALERT_FEED, "*", 0, t0, t0 - 10 * SEC));
    json_decref(wait_alert(&fx->am[0], "*", t0));
    send_ok(s, mk(ALERT_STORM, "u-\xe9t\xff-\xc3\xa9", 1, wall_ns(), 0));
    json_decref(wait_alert(&fx->am[0], "u-?t?-\xc3\xa9", 0));
    sink_am_stats_t st;
    WAIT_STATS(s, st, st.sent == 2);
    assert_int_equal(st.rejected, 0);
}

/* Two Kafka partitions stalled at once are two alerts, told apart by
 * their partition label; the whole feed's stall has none. */
static void test_partition_stalls_are_separate_alerts(void **state)
{
    fx_t *fx = *state;
    int port = free_port();
    am_start(fx, &fx->am[0], port, NULL);
    sink_am_t *s = mk_sink(fx, 0, &port, 1, NULL, 3600 * SEC, 0);
    alert_t p1 = mk(ALERT_FEED, "*", 1, wall_ns(), 0), p3 = p1, feed = p1;
    p1.source = 2; /* partition 1 */
    p3.source = 4; /* partition 3 */
    send_ok(s, p1);
    send_ok(s, p3);
    send_ok(s, feed);
    int64_t deadline = mono_ms() + ARRIVE_MS;
    json_t *arr;
    while (json_array_size(arr = am_alerts_of(&fx->am[0], "*")) < 3) {
        json_decref(arr);
        if (mono_ms() > deadline)
            fail_msg("three feed_stalled alerts not listed within %d ms", ARRIVE_MS);
        sleep_ms(50);
    }
    int seen1 = 0, seen3 = 0, whole = 0;
    size_t i;
    json_t *a;
    json_array_foreach(arr, i, a)
    {
        const char *p = label(a, "partition");
        seen1 += p && strcmp(p, "1") == 0;
        seen3 += p && strcmp(p, "3") == 0;
        whole += !p;
        assert_string_equal(label(a, "alertname"), "feed_stalled");
    }
    json_decref(arr);
    assert_int_equal(seen1, 1);
    assert_int_equal(seen3, 1);
    assert_int_equal(whole, 1);
}

/* Two widespread alerts (User "*") fire at once, told apart by their
 * incident: resolving one ends that one in Alertmanager, not the other. */
static void test_widespread_alerts_told_apart_by_incident(void **state)
{
    fx_t *fx = *state;
    int port = free_port();
    am_start(fx, &fx->am[0], port, NULL);
    sink_am_t *s = mk_sink(fx, 0, &port, 1, NULL, 3600 * SEC, 0);
    alert_t w3 = mk(ALERT_WIDESPREAD, "*", 1, wall_ns() - 60 * SEC, 0), w4 = w3;
    w3.incident = 3;
    w4.incident = 4;
    send_ok(s, w3);
    send_ok(s, w4);
    int64_t deadline = mono_ms() + ARRIVE_MS;
    json_t *arr;
    while (json_array_size(arr = am_alerts_of(&fx->am[0], "*")) < 2) {
        json_decref(arr);
        if (mono_ms() > deadline)
            fail_msg("two widespread alerts not listed within %d ms", ARRIVE_MS);
        sleep_ms(50);
    }
    json_decref(arr);
    w3.firing = 0;
    w3.ends_at = wall_ns() - SEC;
    send_ok(s, w3);
    deadline = mono_ms() + ARRIVE_MS;
    while (json_array_size(arr = am_alerts_of(&fx->am[0], "*")) != 1) {
        json_decref(arr);
        if (mono_ms() > deadline)
            fail_msg("the resolved widespread alert still listed after %d ms", ARRIVE_MS);
        sleep_ms(50);
    }
    assert_string_equal(label(json_array_get(arr, 0), "incident"), "INC-0004");
    assert_string_equal(label(json_array_get(arr, 0), "alertname"), "widespread");
    json_decref(arr);
}

/* A 400 is final: counted as rejected, the queue moves on. A 404 (a wrong
 * path) is not: the alerts wait for the URL to be fixed. */
static void test_refused_versus_retried(void **state)
{
    fx_t *fx = *state;
    int ports[2] = { fake_start(&fx->fake), free_port() };
    am_start(fx, &fx->am[0], ports[1], NULL);
    ports[1] += WRONG_PATH;
    sink_am_t *s = mk_sink(fx, 0, ports, 2, NULL, 3600 * SEC, 0);
    send_ok(s, mk(ALERT_STORM, "u-r1", 1, wall_ns(), 0));
    send_ok(s, mk(ALERT_STORM, "u-r2", 1, wall_ns(), 0));
    sink_am_stats_t st;
    WAIT_STATS(s, st, st.rejected == 2 && st.failed >= 1);
    assert_true(atomic_load(&fx->fake.requests) >= 1);
    assert_int_equal(st.pending, 2); /* both for /wrong */
    assert_int_equal(st.sent + st.dropped, 0);
}

static void test_outage_nothing_lost(void **state)
{
    fx_t *fx = *state;
    int port = free_port();
    am_t *am = &fx->am[0];
    am_start(fx, am, port, NULL);
    sink_am_t *s = mk_sink(fx, 0, &port, 1, NULL, 3600 * SEC, 0);
    int64_t t0 = wall_ns() - 60 * SEC;
    send_ok(s, mk(ALERT_STORM, "u-w", 1, t0, 0));
    send_ok(s, mk(ALERT_BLOCKED, "u-x", 1, t0, 0));
    json_decref(wait_alert(am, "u-w", 0));
    json_decref(wait_alert(am, "u-x", 0));
    sink_am_stats_t st;
    WAIT_STATS(s, st, st.sent == 2); /* the answers are in, too */

    am_kill(am);
    int64_t ends = wall_ns() + 300 * SEC, before = mono_ms();
    send_ok(s, mk(ALERT_STORM, "u-y", 1, t0, 0));
    send_ok(s, mk(ALERT_SILENCE, "u-z", 1, t0, 0));
    send_ok(s, mk(ALERT_SILENCE, "u-z", 0, t0, ends));
    send_ok(s, mk(ALERT_BLOCKED, "u-x", 0, t0, ends + SEC));
    assert_true(mono_ms() - before < 500); /* the caller never waits */
    WAIT_STATS(s, st, st.failed >= 1);
    assert_int_equal(st.pending, 4);

    am_start(fx, am, port, NULL); /* a new one: it remembers no alert */
    json_decref(wait_alert(am, "u-y", 0));
    json_decref(wait_alert(am, "u-z", ends));         /* firing, then resolved */
    json_decref(wait_alert(am, "u-x", ends + SEC));   /* fired before, resolved during */
    json_decref(wait_alert(am, "u-w", 0));            /* re-sent on recovery */
    WAIT_STATS(s, st, st.pending == 0 && st.resent >= 2);
    assert_int_equal(st.sent, 6);
    assert_int_equal(st.dropped + st.rejected, 0);
    assert_int_equal(st.firing, 2); /* u-w, u-y */
}

static void test_ha_pair_each_gets_every_alert(void **state)
{
    fx_t *fx = *state;
    int ports[2] = { free_port(), 0 };
    am_start(fx, &fx->am[0], ports[0], NULL);
    ports[1] = free_port();
    am_start(fx, &fx->am[1], ports[1], NULL);
    sink_am_t *s = mk_sink(fx, 0, ports, 2, NULL, 3600 * SEC, 0);
    int64_t t0 = wall_ns() - 60 * SEC, ends = wall_ns() + 300 * SEC;
    send_ok(s, mk(ALERT_STORM, "u-p", 1, t0, 0));
    send_ok(s, mk(ALERT_STORM, "u-q", 1, t0, 0));
    send_ok(s, mk(ALERT_STORM, "u-q", 0, t0, ends));
    for (int i = 0; i < 2; i++) {
        json_decref(wait_alert(&fx->am[i], "u-p", 0));
        json_decref(wait_alert(&fx->am[i], "u-q", ends));
    }
    sink_am_stats_t st;
    WAIT_STATS(s, st, st.sent == 6);

    /* one down: the other still gets alerts at once */
    am_kill(&fx->am[0]);
    int64_t before = mono_ms();
    send_ok(s, mk(ALERT_SILENCE, "u-r", 1, t0, 0));
    json_decref(wait_alert(&fx->am[1], "u-r", 0));
    assert_true(mono_ms() - before < 2000);
    WAIT_STATS(s, st, st.failed >= 1 && st.sent == 7);
    assert_int_equal(st.pending, 1); /* u-r, for the one down */

    am_start(fx, &fx->am[0], ports[0], NULL);
    json_decref(wait_alert(&fx->am[0], "u-r", 0));
    json_decref(wait_alert(&fx->am[0], "u-p", 0)); /* re-sent on recovery */
    WAIT_STATS(s, st, st.pending == 0 && st.sent == 8);
}

/* A URL that accepts the connection and never answers holds up neither
 * the caller nor the other URL, and destroy gives up after its grace. */
static void test_hung_url_blocks_nothing(void **state)
{
    fx_t *fx = *state;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    fx->hung_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(bind(fx->hung_fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fx->hung_fd, 16), 0);
    assert_int_equal(getsockname(fx->hung_fd, (struct sockaddr *)&a, &len), 0);
    int ports[2] = { -(int)ntohs(a.sin_port), free_port() };
    am_start(fx, &fx->am[0], ports[1], NULL);
    sink_am_t *s = mk_sink(fx, 0, ports, 2, NULL, 3600 * SEC, 0);

    int64_t before = mono_ms();
    send_ok(s, mk(ALERT_STORM, "u-h1", 1, wall_ns(), 0));
    json_decref(wait_alert(&fx->am[0], "u-h1", 0));
    send_ok(s, mk(ALERT_STORM, "u-h2", 1, wall_ns(), 0));
    json_decref(wait_alert(&fx->am[0], "u-h2", 0));
    assert_true(mono_ms() - before < 2000); /* the request timeout is 5 s */
    sink_am_stats_t st;
    WAIT_STATS(s, st, st.sent == 2);
    assert_int_equal(st.pending, 2); /* both for the hung URL */
    assert_int_equal(st.failed, 0);

    before = mono_ms();
    drop_sink(fx, 0);
    int64_t took = mono_ms() - before;
    assert_true(took < SINK_AM_GRACE_NS / 1000000 + 1000);
}

static json_t *load_file(const char *path)
{
    json_t *j = json_load_file(path, 0, NULL);
    if (!j)
        fail_msg("%s: not JSON", path);
    return j;
}

static void test_persisted_across_restarts(void **state)
{
    fx_t *fx = *state;
    int port = free_port(); /* nothing listens there yet */
    char path[256], url[64];
    snprintf(path, sizeof(path), "%s/queue.json", fx->dir);
    url_of(port, url, sizeof(url));
    int64_t t0 = wall_ns() - 60 * SEC, ends = wall_ns() + 300 * SEC;

    sink_am_t *s = mk_sink(fx, 0, &port, 1, path, 3600 * SEC, 0);
    send_ok(s, mk(ALERT_STORM, "u-f1", 1, t0, 0));
    send_ok(s, mk(ALERT_STORM, "u-f2", 1, t0, 0));
    send_ok(s, mk(ALERT_STORM, "u-f2", 0, t0, ends));
    sink_am_stats_t st;
    WAIT_STATS(s, st, st.failed >= 1);
    drop_sink(fx, 0);

    json_t *j = load_file(path);
    json_t *q = json_array_get(json_object_get(j, "queues"), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 1);
    assert_string_equal(json_string_value(json_object_get(q, "url")), url);
    assert_int_equal(json_array_size(json_object_get(q, "alerts")), 3);
    json_decref(j);

    /* a restart while it is still down: loaded, kept, saved again */
    s = mk_sink(fx, 0, &port, 1, path, 3600 * SEC, 0);
    assert_int_equal(stats_of(s).pending, 3);
    drop_sink(fx, 0);
    j = load_file(path);
    q = json_array_get(json_object_get(j, "queues"), 0);
    assert_int_equal(json_array_size(json_object_get(q, "alerts")), 3);
    json_decref(j);

    /* up again: all three arrive in order and the file goes */
    am_start(fx, &fx->am[0], port, NULL);
    s = mk_sink(fx, 0, &port, 1, path, 3600 * SEC, 0);
    json_decref(wait_alert(&fx->am[0], "u-f1", 0));
    json_decref(wait_alert(&fx->am[0], "u-f2", ends));
    WAIT_STATS(s, st, st.pending == 0 && st.sent == 3);
    int64_t deadline = mono_ms() + 3000;
    while (access(path, F_OK) == 0 && mono_ms() < deadline)
        sleep_ms(20);
    assert_int_equal(access(path, F_OK), -1);
    drop_sink(fx, 0);
    assert_int_equal(access(path, F_OK), -1);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* With strict_queue, a queue file that is not valid is refused, named. */
static void test_bad_queue_file_refused_when_strict(void **state)
{
    fx_t *fx = *state;
    char path[256], err[512], want[300];
    snprintf(path, sizeof(path), "%s/queue.json", fx->dir);
    const char *urls[] = { "http://127.0.0.1:9" };
    sink_am_opts_t o = { .urls = urls, .nurls = 1, .queue_path = path, .strict_queue = 1 };

    write_file(path, "{\"version\":1,\"queues\":[{\"url\":\"http://127.0.0.1:9\",\n\"alerts\":[{\"lab");
    assert_null(sink_am_create(&o, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s:2:", path);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "not a valid alert queue"));
    assert_non_null(strstr(err, "move it aside"));

    write_file(path, "{\"version\":2,\"queues\":[]}");
    assert_null(sink_am_create(&o, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s: not a valid alert queue (version is not 1)", path);
    assert_non_null(strstr(err, want));

    write_file(path, "{\"version\":1,\"queues\":[{\"url\":\"http://127.0.0.1:9\",\"alerts\":[7]}]}");
    assert_null(sink_am_create(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "queues[0].alerts[0]: not an alert with labels"));

    /* valid, but for a URL no longer configured: dropped and counted */
    write_file(path, "{\"version\":1,\"queues\":[{\"url\":\"http://127.0.0.1:10\",\"alerts\":"
                     "[{\"labels\":{\"alertname\":\"storm\"}},{\"labels\":{\"alertname\":\"x\"}}]}]}");
    sink_am_t *s = fx->sink[0] = sink_am_create(&o, err, sizeof(err));
    assert_non_null(s);
    sink_am_stats_t st = stats_of(s);
    assert_int_equal(st.dropped, 2);
    assert_int_equal(st.pending, 0);
    drop_sink(fx, 0);
    assert_int_equal(access(path, F_OK), -1); /* nothing pending: no file */
}

/* The files in fx->dir whose names start with `prefix`; the first in *first. */
static int files_like(fx_t *fx, const char *prefix, char *first, size_t cap)
{
    DIR *d = opendir(fx->dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0 && n++ == 0)
            snprintf(first, cap, "%s/%s", fx->dir, de->d_name);
    closedir(d);
    return n;
}

/*
 * By default a queue file that is not valid is moved aside, never deleted,
 * with a line naming it and the reason, and the sink starts empty: a
 * corrupt file must not keep the daemon from starting.
 */
static void test_bad_queue_file_moved_aside(void **state)
{
    fx_t *fx = *state;
    char path[256], err[512], want[600], aside[512];
    snprintf(path, sizeof(path), "%s/queue.json", fx->dir);
    const char *urls[] = { "http://127.0.0.1:9" };
    sink_am_opts_t o = { .urls = urls, .nurls = 1, .queue_path = path };
    static const char *const bad[] = {
        "{\"version\":1,\"queues\":[{\"url\":\"http://127.0.0.1:9\",\n\"alerts\":[{\"lab",
        "{\"version\":2,\"queues\":[]}",
        "",
    };
    static const char *const why[] = {
        ":2:15: not a valid alert queue (premature end of input",
        ": not a valid alert queue (version is not 1)",
        ":1:0: not a valid alert queue ('[' or '{' expected near end of file)",
    };
    for (int i = 0; i < 3; i++) {
        write_file(path, bad[i]);
        log_capture_t cap;
        log_capture_start(&cap);
        sink_am_t *s = fx->sink[0] = sink_am_create(&o, err, sizeof(err));
        char *log = log_capture_end(&cap);
        if (!s)
            fail_msg("refused: %s", err);
        sink_am_stats_t st = stats_of(s);
        assert_int_equal(st.queue_moved_aside, 1);
        assert_int_equal(st.pending, 0);
        assert_int_equal(access(path, F_OK), -1);
        assert_int_equal(files_like(fx, "queue.json" FIO_ASIDE_SUFFIX, aside, sizeof(aside)), 1);
        unsigned char *kept;
        size_t len;
        assert_int_equal(fio_read(aside, 1 << 20, &kept, &len), 0);
        assert_string_equal((char *)kept, bad[i]); /* moved, unchanged */
        free(kept);
        snprintf(want, sizeof(want), "%s%s", path, why[i]);
        assert_non_null(strstr(log, want));
        snprintf(want, sizeof(want), ": moved aside to %s; starting with an empty queue\n", aside);
        assert_int_equal(count_of(log, want), 1);
        assert_int_equal(count_of(log, "not a valid alert queue"), 1);
        free(log);
        drop_sink(fx, 0);
        assert_int_equal(unlink(aside), 0);
    }
}

/* A queue file that cannot be read is no proof of corruption: refused, in
 * any mode, and left where it is. As root too: sysfs's write-only
 * attributes cannot be opened for reading by anyone (EACCES). One that
 * cannot be written is refused too, at create. */
static void test_unreadable_queue_file_refused(void **state)
{
    fx_t *fx = *state;
    char err[512], want[600];
    const char *urls[] = { "http://127.0.0.1:9" };
    sink_am_opts_t o = { .urls = urls, .nurls = 1, .queue_path = fx->dir };
    assert_null(sink_am_create(&o, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s: cannot read the alert queue: not a regular file", fx->dir);
    assert_string_equal(err, want);

    /* one that cannot be written is refused at once, not at the first save */
    char nowhere[300];
    snprintf(nowhere, sizeof(nowhere), "%s/missing/queue.json", fx->dir);
    o.queue_path = nowhere;
    assert_null(sink_am_create(&o, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s: cannot create files in %s/missing: No such file or directory",
             nowhere, fx->dir);
    assert_string_equal(err, want);

    const char *unreadable = "/sys/bus/platform/uevent";
    int fd = open(unreadable, O_RDONLY);
    if (fd >= 0 || errno != EACCES) {
        if (fd >= 0)
            close(fd);
        skip();
    }
    o.queue_path = unreadable;
    assert_null(sink_am_create(&o, err, sizeof(err)));
    assert_string_equal(err, "/sys/bus/platform/uevent: cannot read the alert queue: "
                             "Permission denied");
    assert_int_equal(access(unreadable, F_OK), 0);
}

/*
 * The queue file's directory goes away while alerts wait: every failed save
 * is counted, the burst logged once; when it is back the file is written
 * and that is logged once.
 */
static void test_failed_saves_counted_and_logged_once(void **state)
{
    fx_t *fx = *state;
    char sub[256], path[300], want[600];
    snprintf(sub, sizeof(sub), "%s/q", fx->dir);
    snprintf(path, sizeof(path), "%s/queue.json", sub);
    assert_int_equal(mkdir(sub, 0700), 0);
    int port = free_port(); /* nothing listens: alerts wait */
    int64_t t0 = wall_ns() - 60 * SEC;
    sink_am_stats_t st;
    log_capture_t cap;
    log_capture_start(&cap);
    sink_am_t *s = mk_sink(fx, 0, &port, 1, path, 3600 * SEC, 0);
    int gone = rmdir(sub);
    int sent = 0;
    alert_t a = mk(ALERT_STORM, "u-p1", 1, t0, 0), b = mk(ALERT_STORM, "u-p2", 1, t0, 0);
    sent += sink_am_send(s, &a) == SW_OK;
    sent += sink_am_send(s, &b) == SW_OK;
    /* a save a second: wait for three failures */
    int64_t deadline = mono_ms() + ARRIVE_MS;
    while ((st = stats_of(s)).persist_errors < 3 && mono_ms() < deadline)
        sleep_ms(20);
    uint64_t failures = st.persist_errors;
    int back = mkdir(sub, 0700);
    deadline = mono_ms() + ARRIVE_MS;
    for (int saved = 0; !saved && mono_ms() < deadline; sleep_ms(20)) {
        char *so_far = log_capture_text(&cap);
        saved = strstr(so_far, "alert queue saved again") != NULL;
        free(so_far);
    }
    char *log = log_capture_end(&cap);

    assert_int_equal(gone, 0);
    assert_int_equal(sent, 2);
    assert_true(failures >= 3);
    assert_int_equal(back, 0);
    assert_int_equal(access(path, F_OK), 0);
    snprintf(want, sizeof(want), "%s: cannot save the alert queue: No such file or directory "
             "(retrying every 1 s)\n", path);
    assert_int_equal(count_of(log, want), 1);
    assert_int_equal(count_of(log, "cannot save the alert queue"), 1);
    snprintf(want, sizeof(want), "%s: alert queue saved again after ", path);
    assert_int_equal(count_of(log, want), 1);
    free(log);
    st = stats_of(s);
    assert_true(st.persist_errors >= failures);
    assert_int_equal(st.pending, 2);
    drop_sink(fx, 0);
}

static void test_queue_bound_drops_oldest(void **state)
{
    fx_t *fx = *state;
    int port = free_port();
    sink_am_t *s = mk_sink(fx, 0, &port, 1, NULL, 3600 * SEC, 3);
    int64_t t0 = wall_ns() - 60 * SEC, ends = wall_ns() + 300 * SEC;
    static const char *const users[] = { "u-0", "u-1", "u-2", "u-3", "u-4" };
    /* resolutions: not in the firing table, so nothing re-sends them */
    for (int i = 0; i < 5; i++)
        send_ok(s, mk(ALERT_STORM, users[i], 0, t0, ends));
    sink_am_stats_t st = stats_of(s);
    assert_int_equal(st.queued, 5);
    assert_int_equal(st.dropped, 2);
    assert_int_equal(st.pending, 3);

    am_start(fx, &fx->am[0], port, NULL);
    for (int i = 2; i < 5; i++)
        json_decref(wait_alert(&fx->am[0], users[i], ends));
    /* they went in one post, after the dropped ones would have */
    for (int i = 0; i < 2; i++) {
        json_t *arr = am_alerts_of(&fx->am[0], users[i]);
        assert_int_equal(json_array_size(arr), 0);
        json_decref(arr);
    }
    WAIT_STATS(s, st, st.pending == 0 && st.sent == 3);
    assert_int_equal(st.dropped, 2);
}

/* With resolve_timeout 2 s, a firing alert lives on only by re-sends; once
 * resolved it is re-sent no more. */
static void test_resend_keeps_firing_alerts(void **state)
{
    fx_t *fx = *state;
    int port = free_port();
    am_start(fx, &fx->am[0], port, "2s");
    sink_am_t *s = mk_sink(fx, 0, &port, 1, NULL, SEC / 2, 0);
    int64_t t0 = wall_ns() - 60 * SEC;
    send_ok(s, mk(ALERT_STORM, "u-k", 1, t0, 0));
    json_decref(wait_alert(&fx->am[0], "u-k", 0));
    sleep_ms(3500);
    json_decref(wait_alert(&fx->am[0], "u-k", 0)); /* still firing */
    sink_am_stats_t st = stats_of(s);
    assert_true(st.resent >= 4);

    send_ok(s, mk(ALERT_STORM, "u-k", 0, t0, wall_ns() - SEC));
    wait_gone(&fx->am[0], "u-k");
    WAIT_STATS(s, st, st.pending == 0);
    assert_int_equal(st.firing, 0);
    uint64_t resent = st.resent;
    sleep_ms(1200);
    assert_true(stats_of(s).resent == resent);
    json_t *arr = am_alerts_of(&fx->am[0], "u-k");
    assert_int_equal(json_array_size(arr), 0);
    json_decref(arr);
}

int main(void)
{
    /* everything here is on 127.0.0.1: no proxy */
    setenv("no_proxy", "127.0.0.1", 1);
    setenv("NO_PROXY", "127.0.0.1", 1);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    /* the queue file: no Alertmanager needed */
    const struct CMUnitTest files[] = {
        cmocka_unit_test_setup_teardown(test_bad_queue_file_refused_when_strict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_queue_file_moved_aside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_queue_file_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_saves_counted_and_logged_once, setup, teardown),
    };
    int rc = cmocka_run_group_tests_name("queue file", files, NULL, NULL);
    if (access(AM_BIN, X_OK) != 0) {
        fprintf(stderr, "test_sink_am: %s not installed; the tests that need it skipped\n", AM_BIN);
        curl_global_cleanup();
        return rc;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_options_refused),
        cmocka_unit_test_setup_teardown(test_firing_and_resolved_mapping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_odd_inputs_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partition_stalls_are_separate_alerts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_widespread_alerts_told_apart_by_incident, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refused_versus_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outage_nothing_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ha_pair_each_gets_every_alert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hung_url_blocks_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persisted_across_restarts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_bound_drops_oldest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resend_keeps_firing_alerts, setup, teardown),
    };
    rc |= cmocka_run_group_tests_name("with Alertmanager", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
