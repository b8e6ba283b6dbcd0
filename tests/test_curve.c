/*
 * test_curve.c - tests of CurveZMQ on ingest (adapters/ingest/curve.h), with real
 * sockets over tcp://127.0.0.1: a PULL server with the server keys and the
 * ZAP handler, a PUSH producer whose key is allowed (its messages arrive,
 * carrying its key as User-Id) and one whose key is not (nothing of it
 * arrives, and the refusal is counted). Key files with faults must be
 * refused with the file and line named. Every receive has a timeout.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "curve.h"
#include "err.h"
#include "testutil.h"

typedef struct {
    char dir[64];
    char path[PATH_MAX];
} tmp_t;

static void tmp_make(tmp_t *t)
{
    snprintf(t->dir, sizeof(t->dir), "/tmp/sw_curve_XXXXXX");
    assert_non_null(mkdtemp(t->dir));
}

/* DIR/NAME, in a buffer reused by the next call. */
static const char *at(tmp_t *t, const char *name)
{
    snprintf(t->path, sizeof(t->path), "%s/%s", t->dir, name);
    return t->path;
}

static void tmp_remove(tmp_t *t)
{
    DIR *d = opendir(t->dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            unlink(at(t, de->d_name));
    closedir(d);
    assert_int_equal(rmdir(t->dir), 0);
}

static void write_text(tmp_t *t, const char *name, const char *text)
{
    FILE *f = fopen(at(t, name), "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The one Z85 key of a file written by curve_keygen(). */
static void read_key(tmp_t *t, const char *name, char key[41])
{
    FILE *f = fopen(at(t, name), "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%40s", key), 1);
    fclose(f);
    assert_int_equal(strlen(key), 40);
}

static void keygen(tmp_t *t, const char *name)
{
    char err[256];
    int rc = curve_keygen(t->dir, name, err, sizeof(err));
    if (rc != SW_OK)
        fail_msg("keygen %s: %s", name, err);
}

static void set_int(void *sock, int opt, int v)
{
    assert_int_equal(zmq_setsockopt(sock, opt, &v, sizeof(v)), 0);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A PUSH producer with the key pair NAME.key/NAME.pub, connected to the
 * CURVE server with public key `server_pub` at `endpoint`. */
static void *producer(void *ctx, tmp_t *t, const char *name, const char *server_pub,
                      const char *endpoint)
{
    char pub[41], sec[41], file[64];
    snprintf(file, sizeof(file), "%s.pub", name);
    read_key(t, file, pub);
    snprintf(file, sizeof(file), "%s.key", name);
    read_key(t, file, sec);
    void *s = zmq_socket(ctx, ZMQ_PUSH);
    assert_non_null(s);
    set_int(s, ZMQ_LINGER, 0);
    set_int(s, ZMQ_SNDTIMEO, 1000);
    assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_pub, 40), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 40), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 40), 0);
    assert_int_equal(zmq_connect(s, endpoint), 0);
    return s;
}

static curve_auth_stats_t stats_of(const curve_auth_t *a)
{
    curve_auth_stats_t st;
    curve_auth_stats(a, &st);
    return st;
}

/*
 * A PULL server on tcp://127.0.0.1 with CURVE and the ZAP handler, which
 * admits the key "good"; "intruder" is a key pair it does not know. All
 * keys live in the test's temporary directory.
 */
typedef struct {
    tmp_t t;
    char good[41], intruder[41], server_pub[41];
    void *ctx, *pull;
    curve_auth_t *auth;
    char ep[128];
} server_t;

/* Starts it. `commented`: the allowed-keys file has comments, blanks and
 * the key twice; `with_pub`: the server's public key comes from its file
 * (else it is derived from the secret key). */
static void server_start(server_t *s, int commented, int with_pub)
{
    tmp_make(&s->t);
    keygen(&s->t, "server");
    keygen(&s->t, "good");
    keygen(&s->t, "intruder");
    read_key(&s->t, "good.pub", s->good);
    read_key(&s->t, "intruder.pub", s->intruder);
    read_key(&s->t, "server.pub", s->server_pub);
    char allowed[256];
    if (commented)
        snprintf(allowed, sizeof(allowed),
                 "# producers allowed to feed stormwatch\n\n   %s   # the DSP exporter\n%s\n",
                 s->good, s->good);
    else
        snprintf(allowed, sizeof(allowed), "%s\n", s->good);
    write_text(&s->t, "allowed", allowed);

    s->ctx = zmq_ctx_new();
    char err[512];
    s->auth = curve_auth_start(s->ctx, at(&s->t, "allowed"), err, sizeof(err));
    if (!s->auth)
        fail_msg("%s", err);
    s->pull = zmq_socket(s->ctx, ZMQ_PULL);
    set_int(s->pull, ZMQ_LINGER, 0);
    char sec_file[PATH_MAX], pub_file[PATH_MAX];
    snprintf(sec_file, sizeof(sec_file), "%s", at(&s->t, "server.key"));
    snprintf(pub_file, sizeof(pub_file), "%s", at(&s->t, "server.pub"));
    assert_int_equal(curve_server_setup(s->pull, sec_file, with_pub ? pub_file : NULL, err,
                                        sizeof(err)),
                     SW_OK);
    assert_int_equal(zmq_bind(s->pull, "tcp://127.0.0.1:*"), 0);
    size_t eplen = sizeof(s->ep);
    assert_int_equal(zmq_getsockopt(s->pull, ZMQ_LAST_ENDPOINT, s->ep, &eplen), 0);
}

static void server_stop(server_t *s)
{
    zmq_close(s->pull);
    curve_auth_stop(s->auth);
    assert_int_equal(zmq_ctx_term(s->ctx), 0);
    tmp_remove(&s->t);
}

static void test_allowed_delivers_unknown_refused(void **state)
{
    (void)state;
    server_t s;
    server_start(&s, 1, 1);

    /* the intruder first: its message would be the first to arrive */
    void *bad = producer(s.ctx, &s.t, "intruder", s.server_pub, s.ep);
    assert_int_equal(zmq_send(bad, "evil", 4, 0), 4);
    void *ok = producer(s.ctx, &s.t, "good", s.server_pub, s.ep);
    assert_int_equal(zmq_send(ok, "dsp_traffic,user=A,dir=north count=1i 1", 39, 0), 39);

    zmq_msg_t m;
    zmq_msg_init(&m);
    set_int(s.pull, ZMQ_RCVTIMEO, 3000);
    assert_int_equal(zmq_msg_recv(&m, s.pull, 0), 39);
    assert_memory_equal(zmq_msg_data(&m), "dsp_traffic,user=A,dir=north count=1i 1", 39);
    const char *uid = zmq_msg_gets(&m, "User-Id");
    assert_non_null(uid);
    assert_string_equal(uid, s.good); /* the ZAP reply names the producer */
    zmq_msg_close(&m);

    /* nothing of the intruder, however long it retries */
    char buf[16];
    set_int(s.pull, ZMQ_RCVTIMEO, 500);
    assert_int_equal(zmq_recv(s.pull, buf, sizeof(buf), 0), -1);
    assert_int_equal(zmq_errno(), EAGAIN);
    int64_t deadline = now_ms() + 3000;
    while (stats_of(s.auth).refused_key == 0 && now_ms() < deadline)
        usleep(10000);
    assert_true(stats_of(s.auth).refused_key >= 1);
    assert_int_equal(stats_of(s.auth).accepted, 1);

    zmq_close(bad);
    zmq_close(ok);
    server_stop(&s);
}

/*
 * The counts by outcome: a known key is admitted and counted as such,
 * never as a refusal; an unknown one is refused on every connection, each
 * refusal counted, and logged once, naming the address and its key.
 */
static void test_refusals_counted_and_logged_once(void **state)
{
    (void)state;
    server_t s;
    server_start(&s, 0, 0);
    curve_auth_stats_t st = stats_of(s.auth);
    assert_int_equal(st.accepted + st.refused_key + st.refused_other, 0);

    /* the known producer: admitted, no refusal */
    void *ok = producer(s.ctx, &s.t, "good", s.server_pub, s.ep);
    assert_int_equal(zmq_send(ok, "x", 1, 0), 1);
    char buf[16];
    set_int(s.pull, ZMQ_RCVTIMEO, 3000);
    assert_int_equal(zmq_recv(s.pull, buf, sizeof(buf), 0), 1);
    st = stats_of(s.auth);
    assert_int_equal(st.accepted, 1);
    assert_int_equal(st.refused_key, 0);
    assert_int_equal(st.refused_other, 0);

    /* the unknown key on three connections: three refusals, one line */
    log_capture_t cap;
    log_capture_start(&cap);
    void *bad[3];
    for (int i = 0; i < 3; i++) {
        bad[i] = producer(s.ctx, &s.t, "intruder", s.server_pub, s.ep);
        zmq_send(bad[i], "evil", 4, ZMQ_DONTWAIT);
    }
    int64_t deadline = now_ms() + 5000;
    while ((st = stats_of(s.auth)).refused_key < 3 && now_ms() < deadline)
        usleep(10000);
    for (int i = 0; i < 3; i++)
        zmq_close(bad[i]);
    char *log = log_capture_end(&cap);
    assert_int_equal(st.refused_key, 3);
    assert_int_equal(st.accepted, 1);
    assert_int_equal(st.refused_other, 0);
    char want[256];
    snprintf(want, sizeof(want), "curve: refused a producer at 127.0.0.1: client key not allowed "
             "(its public key: %s)\n", s.intruder);
    assert_int_equal(count_of(log, want), 1);
    assert_int_equal(count_of(log, "curve: refused"), 1);
    free(log);

    zmq_close(ok);
    server_stop(&s);
}

/* A producer without CURVE at all never gets through either (libzmq's
 * handshake turns it away before any ZAP request). */
static void test_plain_client_refused(void **state)
{
    (void)state;
    server_t s;
    server_start(&s, 0, 0);
    void *plain = zmq_socket(s.ctx, ZMQ_PUSH);
    set_int(plain, ZMQ_LINGER, 0);
    set_int(plain, ZMQ_SNDTIMEO, 1000);
    assert_int_equal(zmq_connect(plain, s.ep), 0);
    assert_int_equal(zmq_send(plain, "evil", 4, 0), 4);
    char buf[16];
    set_int(s.pull, ZMQ_RCVTIMEO, 500);
    assert_int_equal(zmq_recv(s.pull, buf, sizeof(buf), 0), -1);
    assert_int_equal(zmq_errno(), EAGAIN);
    assert_int_equal(stats_of(s.auth).accepted, 0);

    zmq_close(plain);
    server_stop(&s);
}

/* Starts a handler on `file` expecting failure; returns the message. */
static const char *auth_error(tmp_t *t, const char *file, char *err, size_t errlen)
{
    void *ctx = zmq_ctx_new();
    curve_auth_t *a = curve_auth_start(ctx, at(t, file), err, errlen);
    curve_auth_stop(a);
    assert_int_equal(zmq_ctx_term(ctx), 0);
    assert_null(a);
    return err;
}

static void test_bad_allowed_files(void **state)
{
    (void)state;
    tmp_t t;
    tmp_make(&t);
    keygen(&t, "good");
    char good[41], text[512], err[512], want[PATH_MAX + 128];
    read_key(&t, "good.pub", good);

    snprintf(text, sizeof(text), "# producers\n%s\nnot-a-key\n", good);
    write_text(&t, "short", text);
    snprintf(want, sizeof(want), "%s/short:3: not a CURVE key: expected 40 Z85 characters, found 9",
             t.dir);
    assert_string_equal(auth_error(&t, "short", err, sizeof(err)), want);

    snprintf(text, sizeof(text), "\n  %.39s\"\n", good); /* '"' is not Z85 */
    write_text(&t, "badchar", text);
    snprintf(want, sizeof(want), "%s/badchar:2: not a CURVE key: column 42 is not a Z85 character",
             t.dir);
    assert_string_equal(auth_error(&t, "badchar", err, sizeof(err)), want);

    write_text(&t, "range", "%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%\n");
    snprintf(want, sizeof(want), "%s/range:1: not a CURVE key: a 5-character group is out of range",
             t.dir);
    assert_string_equal(auth_error(&t, "range", err, sizeof(err)), want);

    snprintf(text, sizeof(text), "%s producer-a\n", good);
    write_text(&t, "trailing", text);
    snprintf(want, sizeof(want),
             "%s/trailing:1: unexpected text after the key (a comment starts with '#')", t.dir);
    assert_string_equal(auth_error(&t, "trailing", err, sizeof(err)), want);

    write_text(&t, "empty", "# nobody yet\n\n");
    snprintf(want, sizeof(want), "%s/empty: no key in the file", t.dir);
    assert_string_equal(auth_error(&t, "empty", err, sizeof(err)), want);

    snprintf(want, sizeof(want), "%s/missing: No such file or directory", t.dir);
    assert_string_equal(auth_error(&t, "missing", err, sizeof(err)), want);
    tmp_remove(&t);
}

static void test_bad_server_keys(void **state)
{
    (void)state;
    tmp_t t;
    tmp_make(&t);
    keygen(&t, "server");
    keygen(&t, "other");
    char sec[41], other_pub[41], text[256], err[512], want[2 * PATH_MAX];
    read_key(&t, "server.key", sec);
    read_key(&t, "other.pub", other_pub);
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_PULL);
    set_int(s, ZMQ_LINGER, 0);
    char sk[PATH_MAX];
    snprintf(sk, sizeof(sk), "%s", at(&t, "server.key"));

    /* a public key that is not the secret key's */
    assert_int_equal(curve_server_setup(s, sk, at(&t, "other.pub"), err, sizeof(err)), SW_EPARSE);
    snprintf(want, sizeof(want), "%s/other.pub: not the public key of %s", t.dir, sk);
    assert_string_equal(err, want);

    snprintf(text, sizeof(text), "# server\n%s\n%s\n", sec, sec);
    write_text(&t, "two.key", text);
    assert_int_equal(curve_server_setup(s, at(&t, "two.key"), NULL, err, sizeof(err)), SW_EPARSE);
    snprintf(want, sizeof(want), "%s/two.key:3: a second key (this file holds one)", t.dir);
    assert_string_equal(err, want);

    snprintf(text, sizeof(text), "%.30s\n", sec);
    write_text(&t, "cut.key", text);
    assert_int_equal(curve_server_setup(s, at(&t, "cut.key"), NULL, err, sizeof(err)), SW_EPARSE);
    snprintf(want, sizeof(want),
             "%s/cut.key:1: not a CURVE key: expected 40 Z85 characters, found 30", t.dir);
    assert_string_equal(err, want);
    assert_null(strstr(err, text)); /* the secret is never quoted */

    assert_int_equal(curve_server_setup(s, at(&t, "none.key"), NULL, err, sizeof(err)), SW_EOPEN);
    snprintf(want, sizeof(want), "%s/none.key: No such file or directory", t.dir);
    assert_string_equal(err, want);

    assert_int_equal(curve_server_setup(NULL, sk, NULL, err, sizeof(err)), SW_EINVAL);
    assert_int_equal(curve_server_setup(s, sk, NULL, err, sizeof(err)), SW_OK);
    int server = 0;
    size_t len = sizeof(server);
    assert_int_equal(zmq_getsockopt(s, ZMQ_CURVE_SERVER, &server, &len), 0);
    assert_int_equal(server, 1);

    zmq_close(s);
    assert_int_equal(zmq_ctx_term(ctx), 0);
    tmp_remove(&t);
}

/* One handler per context: a second one is refused, naming the endpoint. */
static void test_one_handler_per_context(void **state)
{
    (void)state;
    tmp_t t;
    tmp_make(&t);
    keygen(&t, "good");
    void *ctx = zmq_ctx_new();
    char err[512];
    char file[PATH_MAX];
    snprintf(file, sizeof(file), "%s", at(&t, "good.pub"));
    curve_auth_t *a = curve_auth_start(ctx, file, err, sizeof(err));
    assert_non_null(a);
    assert_null(curve_auth_start(ctx, file, err, sizeof(err)));
    assert_string_equal(err, "inproc://zeromq.zap.01: Address already in use "
                             "(this context has a ZAP handler already)");
    curve_auth_stop(a);
    curve_auth_stop(NULL);
    /* stopped: the endpoint is free again */
    a = curve_auth_start(ctx, file, err, sizeof(err));
    if (!a)
        fail_msg("a second start after a stop: %s", err);
    curve_auth_stop(a);
    assert_int_equal(zmq_ctx_term(ctx), 0);
    tmp_remove(&t);
}

static void test_keygen(void **state)
{
    (void)state;
    tmp_t t;
    tmp_make(&t);
    keygen(&t, "daemon");
    struct stat st;
    assert_int_equal(stat(at(&t, "daemon.key"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 41);
    assert_int_equal(stat(at(&t, "daemon.pub"), &st), 0);
    assert_int_equal(st.st_size, 41);

    char sec[41], pub[41], derived[41];
    read_key(&t, "daemon.key", sec);
    read_key(&t, "daemon.pub", pub);
    assert_int_equal(zmq_curve_public(derived, sec), 0);
    assert_string_equal(derived, pub);

    char err[512], want[PATH_MAX + 64];
    assert_int_equal(curve_keygen(t.dir, "daemon", err, sizeof(err)), SW_EEXISTS);
    snprintf(want, sizeof(want), "%s/daemon.key: File exists", t.dir);
    assert_string_equal(err, want);
    char again[41];
    read_key(&t, "daemon.key", again);
    assert_string_equal(again, sec); /* untouched */

    /* a stray .pub blocks the pair and leaves no .key behind */
    write_text(&t, "stray.pub", "x\n");
    assert_int_equal(curve_keygen(t.dir, "stray", err, sizeof(err)), SW_EEXISTS);
    assert_int_equal(stat(at(&t, "stray.key"), &st), -1);

    assert_int_equal(curve_keygen(t.dir, "a/b", err, sizeof(err)), SW_EINVAL);
    assert_int_equal(curve_keygen(t.dir, "", err, sizeof(err)), SW_EINVAL);
    assert_int_equal(curve_keygen(t.dir, "..", err, sizeof(err)), SW_EINVAL);
    assert_int_equal(curve_keygen("/nonexistent/dir", "k", err, sizeof(err)), SW_EOPEN);
    assert_string_equal(err, "/nonexistent/dir/k.key: No such file or directory");
    tmp_remove(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allowed_delivers_unknown_refused),
        cmocka_unit_test(test_refusals_counted_and_logged_once),
        cmocka_unit_test(test_plain_client_refused),
        cmocka_unit_test(test_bad_allowed_files),
        cmocka_unit_test(test_bad_server_keys),
        cmocka_unit_test(test_one_handler_per_context),
        cmocka_unit_test(test_keygen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
