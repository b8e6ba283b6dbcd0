/*
 * test_lineproto.c - tests of the ingest parser (core/lineproto.c) against
 * contract section 1 and the rules written in lineproto.h.
 *
 * Every line is copied into a heap block of exactly its length (no NUL after
 * it) and parsed with a scratch block of exactly the capacity asked for, so
 * that ASan reports any read past the line or write past the scratch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lineproto.h"
#include "lineproto_int.h"

#define NS 1
#define SEC INT64_C(1000000000)

/* A parse whose strings were copied out before the buffers were freed. */
typedef struct {
    lp_result_t r;
    lp_sample_t s;
    char user[512];
    char cls[512];
    int user_in_line;    /* user pointed into the line (no copy) */
    int user_in_scratch; /* user pointed into scratch (unescaped) */
    int cls_in_line;
} parsed_t;

static int points_into(const char *p, const char *base, size_t len)
{
    return len > 0 && p >= base && p < base + len;
}

static void copy_str(char *dst, size_t cap, sw_str_t str)
{
    size_t n = str.len < cap - 1 ? str.len : cap - 1;

    memcpy(dst, str.p, n);
    dst[n] = '\0';
}

static parsed_t parse_full(const char *line, size_t len, int64_t ts_mult,
                           size_t scratch_cap)
{
    parsed_t pr;
    char *buf = malloc(len ? len : 1);
    char *scratch = malloc(scratch_cap ? scratch_cap : 1);

    assert_non_null(buf);
    assert_non_null(scratch);
    memcpy(buf, line, len);
    memset(&pr, 0, sizeof pr);
    pr.r = lp_parse(buf, len, ts_mult, &pr.s, scratch, scratch_cap);
    if (pr.r == LP_OK) {
        copy_str(pr.user, sizeof pr.user, pr.s.user);
        copy_str(pr.cls, sizeof pr.cls, pr.s.cls);
        pr.user_in_line = points_into(pr.s.user.p, buf, len);
        pr.user_in_scratch = points_into(pr.s.user.p, scratch, scratch_cap);
        pr.cls_in_line = points_into(pr.s.cls.p, buf, len);
        pr.s.user.p = pr.user;
        pr.s.cls.p = pr.cls;
    }
    free(scratch);
    free(buf);
    return pr;
}

static parsed_t parse_ts(const char *line, int64_t ts_mult)
{
    return parse_full(line, strlen(line), ts_mult, strlen(line));
}

static parsed_t parse(const char *line)
{
    return parse_ts(line, NS);
}

static void expect(const char *line, lp_result_t want)
{
    parsed_t pr = parse(line);

    if (pr.r != want)
        print_error("line: %s\n got %s, want %s\n", line, lp_result_str(pr.r),
                    lp_result_str(want));
    assert_int_equal(pr.r, want);
}

/* A parse that must succeed; returns the count field. */
static double count_of(const char *line)
{
    parsed_t pr = parse(line);

    if (pr.r != LP_OK)
        print_error("line: %s\n got %s\n", line, lp_result_str(pr.r));
    assert_int_equal(pr.r, LP_OK);
    assert_true(pr.s.fields & LP_F_COUNT);
    return pr.s.count;
}

#define HEAD "dsp_traffic,user=u1,dir=south "
#define HEADN "dsp_traffic,user=u1,dir=north "
#define TS " 1568278800000000000"

static void test_contract_examples(void **state)
{
    parsed_t pr;

    (void)state;
    pr = parse("dsp_traffic,user=90-B3-D5-1F-30-01-00-0A,dir=north,class=alert "
               "count=120i,delivered=118i,backlog=2i 1568278800000000000");
    assert_int_equal(pr.r, LP_OK);
    assert_string_equal(pr.user, "90-B3-D5-1F-30-01-00-0A");
    assert_int_equal(pr.s.user.len, 23);
    assert_string_equal(pr.cls, "alert");
    assert_int_equal(pr.s.dir, DIR_NORTH);
    assert_int_equal(pr.s.fields, LP_F_COUNT | LP_F_DELIVERED | LP_F_BACKLOG);
    assert_true(pr.s.count == 120.0);
    assert_true(pr.s.delivered == 118.0);
    assert_true(pr.s.backlog == 2.0);
    assert_true(pr.s.rejected == 0.0);
    assert_true(pr.s.ts == INT64_C(1568278800000000000));
    assert_true(pr.user_in_line);
    assert_true(pr.cls_in_line);

    pr = parse("dsp_traffic,user=90-B3-D5-1F-30-01-00-0A,dir=south,"
               "class=request "
               "count=95i,rejected=1i 1568278800000000000");
    assert_int_equal(pr.r, LP_OK);
    assert_int_equal(pr.s.dir, DIR_SOUTH);
    assert_string_equal(pr.cls, "request");
    assert_int_equal(pr.s.fields, LP_F_COUNT | LP_F_REJECTED);
    assert_true(pr.s.count == 95.0);
    assert_true(pr.s.rejected == 1.0);
    assert_true(pr.s.delivered == 0.0 && pr.s.backlog == 0.0);
}

static void test_integers(void **state)
{
    (void)state;
    assert_true(count_of(HEAD "count=120i" TS) == 120.0);
    assert_true(count_of(HEAD "count=120" TS) == 120.0);
    assert_true(count_of(HEAD "count=0" TS) == 0.0);
    assert_true(count_of(HEAD "count=007i" TS) == 7.0);
    assert_true(count_of(HEAD "count=9223372036854775807i" TS) ==
                9223372036854775807.0);
    /* Without a suffix a long integer is a float: no range but double's. */
    assert_true(count_of(HEAD "count=123456789012345678901234567890" TS) ==
                123456789012345678901234567890.0);
    expect(HEAD "count=9223372036854775808i" TS, LP_BAD_FIELD_VALUE);
    expect(HEAD "count=99999999999999999999999i" TS, LP_BAD_FIELD_VALUE);
    /* Range is checked on ignored fields too. */
    expect(HEAD "count=1i,x=-9223372036854775808i" TS, LP_OK);
    expect(HEAD "count=1i,x=-9223372036854775809i" TS, LP_BAD_FIELD_VALUE);
}

static void test_unsigned(void **state)
{
    (void)state;
    assert_true(count_of(HEAD "count=7u" TS) == 7.0);
    assert_true(count_of(HEAD "count=18446744073709551615u" TS) ==
                18446744073709551615.0);
    expect(HEAD "count=18446744073709551616u" TS, LP_BAD_FIELD_VALUE);
    expect(HEAD "count=-7u" TS, LP_BAD_SYNTAX);
    expect(HEAD "count=1.5u" TS, LP_BAD_SYNTAX);
}

static void test_floats(void **state)
{
    (void)state;
    assert_true(count_of(HEAD "count=1.5" TS) == 1.5);
    assert_true(count_of(HEAD "count=0.1" TS) == 0.1);
    assert_true(count_of(HEAD "count=118.2" TS) == 118.2);
    assert_true(count_of(HEAD "count=2.5e3" TS) == 2500.0);
    assert_true(count_of(HEAD "count=2.5E3" TS) == 2500.0);
    assert_true(count_of(HEAD "count=1e+2" TS) == 100.0);
    assert_true(count_of(HEAD "count=1E-2" TS) == 0.01);
    assert_true(count_of(HEAD "count=.5" TS) == 0.5);
    assert_true(count_of(HEAD "count=5." TS) == 5.0);
    assert_true(count_of(HEAD "count=1.e5" TS) == 1e5);
    assert_true(count_of(HEAD "count=0.0" TS) == 0.0);
    /* Outside the exact fast path, through strtod. */
    assert_true(count_of(HEAD "count=1.7976931348623157e308" TS) ==
                1.7976931348623157e308);
    assert_true(count_of(HEAD "count=12345678901234567890.5" TS) ==
                12345678901234567890.5);
    assert_true(count_of(HEAD "count=3.14159265358979323846" TS) ==
                3.14159265358979323846);
    assert_true(count_of(HEAD "count=4.9e-324" TS) == 4.9e-324);
    assert_true(count_of(HEAD "count=1e-400" TS) == 0.0); /* underflow: 0 */
    expect(HEAD "count=1e309" TS, LP_BAD_FIELD_VALUE);
    expect(HEAD "count=1,x=1e309" TS, LP_BAD_FIELD_VALUE);
    /* 64 bytes is the longest float the parser converts. */
    assert_true(count_of(HEAD "count=0.00000000000000000000000000000000000000"
                         "000000000000000000000001" TS) == 1e-62);
    expect(HEAD "count=0.00000000000000000000000000000000000000"
           "0000000000000000000000001" TS, LP_BAD_FIELD_VALUE);
}

static void test_malformed_numbers(void **state)
{
    static const char *const bad[] = {
        "1.5i", "1e5i", "1e5u", "+1", "0x10", "1e", "1e+", "-", ".", "-.",
        ".e5", "1_000", "12abc", "--1", "1..2", "1.2.3", "1i2", "1ii",
        "- 1", "1,", "\"unterminated", "\"x\"y", "tru", "yes", "T1", "nul",
    };
    char line[256];
    size_t k;

    (void)state;
    for (k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        snprintf(line, sizeof line, HEAD "count=%s" TS, bad[k]);
        expect(line, LP_BAD_SYNTAX);
    }
}

static void test_nan_inf(void **state)
{
    static const char *const words[] = {
        "NaN", "nan", "-nan", "inf", "Inf", "-Inf", "+inf", "infinity",
        "-INFINITY",
    };
    char line[256];
    size_t k;

    (void)state;
    for (k = 0; k < sizeof words / sizeof words[0]; k++) {
        snprintf(line, sizeof line, HEAD "count=%s" TS, words[k]);
        expect(line, LP_BAD_FIELD_VALUE);
        snprintf(line, sizeof line, HEAD "count=1,other=%s" TS, words[k]);
        expect(line, LP_BAD_FIELD_VALUE);
    }
}

static void test_negative_zero(void **state)
{
    parsed_t pr;

    (void)state;
    pr = parse(HEAD "count=-0,rejected=-0.0" TS);
    assert_int_equal(pr.r, LP_OK);
    assert_true(pr.s.count == 0.0 && !signbit(pr.s.count));
    assert_true(pr.s.rejected == 0.0 && !signbit(pr.s.rejected));
    expect(HEAD "count=-0i" TS, LP_OK);
    expect(HEAD "count=-1e-400" TS, LP_OK); /* rounds to -0, kept as 0 */
}

static void test_string_and_bool_fields(void **state)
{
    (void)state;
    /* Ignored when unknown, in every valid form. */
    expect(HEAD "count=1i,msg=\"hello, world = x\"" TS, LP_OK);
    expect(HEAD "msg=\"he said \\\"hi\\\" \\\\\",count=1i" TS, LP_OK);
    expect(HEAD "msg=\"\",count=1i" TS, LP_OK);
    expect(HEAD "msg=\"caf\xc3\xa9\",count=1i" TS, LP_OK);
    expect(HEAD "msg=\"back\\slash\",count=1i" TS, LP_OK);
    expect(HEAD "a=t,b=T,c=true,d=True,e=TRUE,f=f,g=F,h=false,i=False,j=FALSE,"
           "count=1" TS, LP_OK);
    expect(HEAD "a=tRUE,count=1" TS, LP_BAD_SYNTAX);
    /* A bad value on a known field. */
    expect(HEAD "count=\"5\"" TS, LP_BAD_FIELD_VALUE);
    expect(HEAD "count=true" TS, LP_BAD_FIELD_VALUE);
    expect(HEAD "count=1,backlog=F" TS, LP_BAD_FIELD_VALUE);
    /* Broken strings. */
    expect(HEAD "msg=\"no end,count=1" TS, LP_BAD_SYNTAX);
    expect(HEAD "msg=\"escaped end\\\",count=1" TS, LP_BAD_SYNTAX);
    expect(HEAD "msg=\"bad \x80 utf8\",count=1" TS, LP_BAD_SYNTAX);
}

static void test_escapes(void **state)
{
    parsed_t pr;

    (void)state;
    /* Tag value: every escape, unescaped into scratch. */
    pr = parse("dsp_traffic,user=a\\,b\\ c\\=d\\\\e,dir=north count=1i" TS);
    assert_int_equal(pr.r, LP_OK);
    assert_string_equal(pr.user, "a,b c=d\\e");
    assert_int_equal(pr.s.user.len, 9);
    assert_true(pr.user_in_scratch);

    /* A backslash before anything else is literal, and needs no copy. */
    pr = parse("dsp_traffic,user=a\\b\\,dir=north count=1i" TS);
    /* "\\," is an escaped comma: the value runs on into "=". */
    assert_int_equal(pr.r, LP_BAD_SYNTAX);
    pr = parse("dsp_traffic,user=a\\b,dir=north count=1i" TS);
    assert_int_equal(pr.r, LP_OK);
    assert_string_equal(pr.user, "a\\b");
    assert_true(pr.user_in_line);
    pr = parse("dsp_traffic,user=a\\\\,dir=north count=1i" TS);
    assert_int_equal(pr.r, LP_OK);
    assert_string_equal(pr.user, "a\\");

    /* Both user and class escaped: both fit in scratch of len bytes. */
    pr = parse("dsp_traffic,class=x\\ y,user=\\ \\ ,dir=south count=1" TS);
    assert_int_equal(pr.r, LP_OK);
    assert_string_equal(pr.user, "  ");
    assert_string_equal(pr.cls, "x y");

    /* Escaped tag keys and field keys are other keys. */
    pr = parse("dsp_traffic,us\\ er=x,user=u,dir=south,c\\=l=z "
               "co\\,unt=7i,count=3i" TS);
    assert_int_equal(pr.r, LP_OK);
    assert_string_equal(pr.user, "u");
    assert_true(pr.s.count == 3.0);
    expect("dsp_traffic,us\\ er=x,dir=south count=1i" TS, LP_BAD_NO_USER);
    expect("dsp_traffic,user=u,dir=south co\\ unt=1i" TS, LP_BAD_NO_FIELD);

    /* Escaped measurements are other measurements. */
    expect("dsp\\ traffic,user=u,dir=south count=1i" TS, LP_SKIP_MEASUREMENT);
    expect("my\\,meas,tag=1 x=1 1", LP_SKIP_MEASUREMENT);
    expect("dsp_traffic\\ ,user=u,dir=south count=1i" TS, LP_SKIP_MEASUREMENT);

    /* Unescaped '=' is an error in a tag value, fine in a measurement. */
    expect("dsp_traffic,user=a=b,dir=south count=1i" TS, LP_BAD_SYNTAX);
    expect("a=b,x=y f=1 1", LP_SKIP_MEASUREMENT);
}

static void test_tags(void **state)
{
    parsed_t pr;

    (void)state;
    pr = parse("dsp_traffic,user=u1,dir=north count=1i" TS);
    assert_int_equal(pr.r, LP_OK);
    assert_string_equal(pr.cls, "all");
    assert_int_equal(pr.s.cls.len, 3);

    /* Order does not matter; other tags are ignored. */
    pr = parse("dsp_traffic,zone=eu,dir=north,class=alert,host=h\\ 1,user=u2 "
               "count=1i" TS);
    assert_int_equal(pr.r, LP_OK);
    assert_string_equal(pr.user, "u2");
    assert_string_equal(pr.cls, "alert");
    assert_int_equal(pr.s.dir, DIR_NORTH);

    /* Valid UTF-8 is kept as is. */
    pr = parse("dsp_traffic,user=Z\xc3\xbcrich-\xe2\x82\xac-\xf0\x9f\x98\x80,"
               "dir=south count=1i" TS);
    assert_int_equal(pr.r, LP_OK);
    assert_string_equal(pr.user, "Z\xc3\xbcrich-\xe2\x82\xac-\xf0\x9f\x98\x80");

    /* Malformed tag sets. */
    expect("dsp_traffic,user=u,,dir=south count=1i" TS, LP_BAD_SYNTAX);
    expect("dsp_traffic,user=u,dir=south, count=1i" TS, LP_BAD_SYNTAX);
    expect("dsp_traffic, count=1i" TS, LP_BAD_SYNTAX);
    expect("dsp_traffic,=x,user=u,dir=south count=1i" TS, LP_BAD_SYNTAX);
    expect("dsp_traffic,user,dir=south count=1i" TS, LP_BAD_SYNTAX);
    expect("dsp_traffic,user=u,dir=south,class= count=1i" TS, LP_BAD_SYNTAX);
    expect("dsp_traffic,user=u,dir=south,zone= count=1i" TS, LP_BAD_SYNTAX);
    expect("dsp_traffic,user=u,dir= count=1i" TS, LP_BAD_SYNTAX);
    expect("dsp_traffic,user=u,dir=south,user=v count=1i" TS, LP_BAD_SYNTAX);
    expect("dsp_traffic,user=u,dir=south,dir=south count=1i" TS, LP_BAD_SYNTAX);
    expect("dsp_traffic,user=u,dir=south,class=a,class=b count=1i" TS,
           LP_BAD_SYNTAX);
    expect("dsp_traffic,user=u,dir=south,zone=a,zone=b count=1i" TS, LP_OK);
    expect("dsp_traffic,user=u\tv,dir=south count=1i" TS, LP_BAD_SYNTAX);
    expect("dsp_traffic,user=u\x7f,dir=south count=1i" TS, LP_BAD_SYNTAX);
}

static void test_bad_series(void **state)
{
    (void)state;
    expect("dsp_traffic,dir=south count=5i" TS, LP_BAD_NO_USER);
    expect("dsp_traffic,user=,dir=south count=5i" TS, LP_BAD_NO_USER);
    expect("dsp_traffic count=5i" TS, LP_BAD_NO_USER);
    expect("dsp_traffic,user=u count=5i" TS, LP_BAD_NO_DIR);
    expect("dsp_traffic,user=u,dir=sideways count=5i" TS, LP_BAD_DIR);
    expect("dsp_traffic,user=u,dir=North count=5i" TS, LP_BAD_DIR);
    expect("dsp_traffic,user=u,dir=northx count=5i" TS, LP_BAD_DIR);
}

static void test_bad_fields(void **state)
{
    (void)state;
    expect(HEAD "count=-4i" TS, LP_BAD_NEGATIVE);
    expect(HEAD "count=-0.5" TS, LP_BAD_NEGATIVE);
    expect(HEADN "count=1i,delivered=-1i" TS, LP_BAD_NEGATIVE);
    expect(HEADN "count=1i,backlog=-2e3" TS, LP_BAD_NEGATIVE);
    expect(HEAD "count=1i,other=-5i" TS, LP_OK);
    expect(HEAD "other=1i" TS, LP_BAD_NO_FIELD);
    expect(HEAD "Count=1i,counts=2" TS, LP_BAD_NO_FIELD);
    expect(HEAD "count=1i,count=2i" TS, LP_BAD_SYNTAX);
    /* Malformed field sets. */
    expect("dsp_traffic,user=u,dir=south", LP_BAD_SYNTAX);
    expect("dsp_traffic,user=u,dir=south ", LP_BAD_SYNTAX);
    expect("dsp_traffic,user=u,dir=south " TS, LP_BAD_SYNTAX);
    expect(HEAD "count" TS, LP_BAD_SYNTAX);
    expect(HEAD "count=" TS, LP_BAD_SYNTAX);
    expect(HEAD "count=", LP_BAD_SYNTAX);
    expect(HEAD "=1i" TS, LP_BAD_SYNTAX);
    expect(HEAD "count=1i," TS, LP_BAD_SYNTAX);
    expect(HEAD "count=1i,,rejected=1i" TS, LP_BAD_SYNTAX);
    expect(HEAD ",count=1i" TS, LP_BAD_SYNTAX);
}

static void test_timestamps(void **state)
{
    parsed_t pr;

    (void)state;
    expect(HEAD "count=1i", LP_BAD_TIMESTAMP);
    expect(HEAD "count=1i ", LP_BAD_TIMESTAMP);
    expect(HEAD "count=1i notatime", LP_BAD_TIMESTAMP);
    expect(HEAD "count=1i 123abc", LP_BAD_TIMESTAMP);
    expect(HEAD "count=1i 1.5", LP_BAD_TIMESTAMP);
    expect(HEAD "count=1i 12-3", LP_BAD_TIMESTAMP);
    expect(HEAD "count=1i -", LP_BAD_TIMESTAMP);
    expect(HEAD "count=1i +5", LP_BAD_TIMESTAMP);
    expect(HEAD "count=1i 99999999999999999999", LP_BAD_TIMESTAMP);
    /* Text after a good timestamp is a malformed line. */
    expect(HEAD "count=1i 123 456", LP_BAD_SYNTAX);
    expect(HEAD "count=1i 123 x", LP_BAD_SYNTAX);
    /* Trailing spaces and several separating spaces are fine. */
    expect(HEAD "count=1i 123   ", LP_OK);
    expect("  dsp_traffic,user=u,dir=south   count=1i    123", LP_OK);

    /* Negative timestamps are line protocol. */
    pr = parse(HEAD "count=1i -5");
    assert_int_equal(pr.r, LP_OK);
    assert_true(pr.s.ts == -5);

    /* InfluxDB's range: [INT64_MIN + 2, INT64_MAX - 1]. */
    pr = parse(HEAD "count=1i 9223372036854775806");
    assert_int_equal(pr.r, LP_OK);
    assert_true(pr.s.ts == INT64_MAX - 1);
    expect(HEAD "count=1i 9223372036854775807", LP_BAD_TIMESTAMP);
    pr = parse(HEAD "count=1i -9223372036854775806");
    assert_int_equal(pr.r, LP_OK);
    assert_true(pr.s.ts == INT64_MIN + 2);
    expect(HEAD "count=1i -9223372036854775807", LP_BAD_TIMESTAMP);
    expect(HEAD "count=1i -9223372036854775808", LP_BAD_TIMESTAMP);
}

static void test_ts_mult(void **state)
{
    parsed_t pr;

    (void)state;
    pr = parse_ts(HEAD "count=1i 1568278800", SEC);
    assert_int_equal(pr.r, LP_OK);
    assert_true(pr.s.ts == INT64_C(1568278800000000000));
    pr = parse_ts(HEAD "count=1i -1", SEC);
    assert_int_equal(pr.r, LP_OK);
    assert_true(pr.s.ts == -SEC);
    pr = parse_ts(HEAD "count=1i 1568278800123", 1000000);
    assert_int_equal(pr.r, LP_OK);
    assert_true(pr.s.ts == INT64_C(1568278800123000000));
    pr = parse_ts(HEAD "count=1i 9223372036", SEC); /* 2262-04-11 */
    assert_int_equal(pr.r, LP_OK);
    assert_true(pr.s.ts == INT64_C(9223372036000000000));
    assert_int_equal(parse_ts(HEAD "count=1i 9223372037", SEC).r,
                     LP_BAD_TIMESTAMP);
    assert_int_equal(parse_ts(HEAD "count=1i -9223372037", SEC).r,
                     LP_BAD_TIMESTAMP);
    assert_int_equal(parse_ts(HEAD "count=1i 1568278800000000000", SEC).r,
                     LP_BAD_TIMESTAMP);
    /* A unit of less than 1 ns is a caller error, never a wrong time. */
    assert_int_equal(parse_ts(HEAD "count=1i 5", 0).r, LP_BAD_TIMESTAMP);
    assert_int_equal(parse_ts(HEAD "count=1i 5", -1).r, LP_BAD_TIMESTAMP);
}

static void test_blank_and_comments(void **state)
{
    (void)state;
    expect("", LP_SKIP_BLANK);
    expect("   ", LP_SKIP_BLANK);
    expect("\r", LP_SKIP_BLANK);
    expect("  \r", LP_SKIP_BLANK);
    expect("#", LP_SKIP_BLANK);
    expect("# dsp_traffic samples: 30 Users", LP_SKIP_BLANK);
    expect("   # indented comment", LP_SKIP_BLANK);
    expect("#\x80\x81\x00 binary in a comment", LP_SKIP_BLANK);
    expect("\t", LP_BAD_SYNTAX); /* only spaces are blank */
    /* A NULL line of length 0 is blank too. */
    {
        lp_sample_t s;

        assert_int_equal(lp_parse(NULL, 0, 1, &s, NULL, 0), LP_SKIP_BLANK);
    }
}

static void test_crlf(void **state)
{
    parsed_t pr;

    (void)state;
    pr = parse(HEAD "count=3i 1568278800000000000\r");
    assert_int_equal(pr.r, LP_OK);
    assert_true(pr.s.ts == INT64_C(1568278800000000000));
    expect(HEAD "count=3i\r", LP_BAD_TIMESTAMP);
    expect(HEAD "count=3i 12\r\r", LP_BAD_TIMESTAMP);
    expect(HEAD "count=3i\r 12", LP_BAD_SYNTAX);
    expect("dsp_traffic,user=u\r,dir=south count=3i 12", LP_BAD_SYNTAX);
}

static void test_other_measurement(void **state)
{
    (void)state;
    expect("cpu,host=a usage=1 1", LP_SKIP_MEASUREMENT);
    expect("cpu usage=1", LP_SKIP_MEASUREMENT);
    expect("cpu ", LP_SKIP_MEASUREMENT);
    expect("cpu, garbage after the measurement \x80", LP_SKIP_MEASUREMENT);
    expect("dsp_traffic2,user=u,dir=south count=1i" TS, LP_SKIP_MEASUREMENT);
    expect("dsp_traffi,user=u,dir=south count=1i" TS, LP_SKIP_MEASUREMENT);
    expect("DSP_TRAFFIC,user=u,dir=south count=1i" TS, LP_SKIP_MEASUREMENT);
    /* The measurement itself must still be well formed. */
    expect("cpu", LP_BAD_SYNTAX);
    expect(",host=a usage=1 1", LP_BAD_SYNTAX);
    expect(" ,x", LP_BAD_SYNTAX);
    expect("c\x01pu,host=a usage=1 1", LP_BAD_SYNTAX);
    expect("caf\xc3 x=1", LP_BAD_SYNTAX);
}

static void test_only_measurement(void **state)
{
    (void)state;
    expect("dsp_traffic", LP_BAD_SYNTAX);
    expect("dsp_traffic ", LP_BAD_SYNTAX);
    expect("dsp_traffic,", LP_BAD_SYNTAX);
    expect("dsp_traffic,user=u,dir=south", LP_BAD_SYNTAX);
    expect("  dsp_traffic  ", LP_BAD_SYNTAX);
}

static void test_garbage(void **state)
{
    static const char scenario_garbage[] = "\x80\x81garbage\x7f";
    static const char nul_user[] = "dsp_traffic,user=a\0b,dir=south count=1i 1";
    static const char nul_meas[] = "dsp\0traffic,user=a,dir=south count=1i 1";
    static const char nul_value[] = "dsp_traffic,user=a,dir=south count=1\0i 1";
    static const char nul_ts[] = "dsp_traffic,user=a,dir=south count=1i 1\0";
    static const char nul_str[] =
        "dsp_traffic,user=a,dir=south count=1i,s=\"\0\" 1";
    static const char nuls[] = "\0\0\0\0";

    (void)state;
    assert_int_equal(parse_full(scenario_garbage, sizeof scenario_garbage - 1,
                                NS, 64).r, LP_BAD_SYNTAX);
    assert_int_equal(parse_full(nul_user, sizeof nul_user - 1, NS, 64).r,
                     LP_BAD_SYNTAX);
    assert_int_equal(parse_full(nul_meas, sizeof nul_meas - 1, NS, 64).r,
                     LP_BAD_SYNTAX);
    assert_int_equal(parse_full(nul_value, sizeof nul_value - 1, NS, 64).r,
                     LP_BAD_SYNTAX);
    assert_int_equal(parse_full(nul_ts, sizeof nul_ts - 1, NS, 64).r,
                     LP_BAD_TIMESTAMP);
    assert_int_equal(parse_full(nul_str, sizeof nul_str - 1, NS, 64).r,
                     LP_BAD_SYNTAX);
    assert_int_equal(parse_full(nuls, sizeof nuls - 1, NS, 64).r,
                     LP_BAD_SYNTAX);
    /* Invalid UTF-8 in the user: lone continuation, overlong, surrogate,
     * above U+10FFFF, truncated. */
    expect("dsp_traffic,user=\x81,dir=south count=1i 1", LP_BAD_SYNTAX);
    expect("dsp_traffic,user=\xc0\xaf,dir=south count=1i 1", LP_BAD_SYNTAX);
    expect("dsp_traffic,user=\xed\xa0\x80,dir=south count=1i 1", LP_BAD_SYNTAX);
    expect("dsp_traffic,user=\xf4\x90\x80\x80,dir=south count=1i 1",
           LP_BAD_SYNTAX);
    expect("dsp_traffic,user=\xe2\x82,dir=south count=1i 1", LP_BAD_SYNTAX);
    expect("dsp_traffic,user=u,dir=south count=1i,\xff=1 1", LP_BAD_SYNTAX);
    expect(HEAD "count=1i 1\xe2\x82", LP_BAD_TIMESTAMP);
}

/* Syntax faults outrank series faults, which outrank field faults. */
static void test_precedence(void **state)
{
    (void)state;
    /* The scenario's malformed lines. */
    expect("dsp_traffic user=90-B3 count", LP_BAD_SYNTAX);
    expect("dsp_traffic,user=90-B3-D5-1F-30-01-00-0A,dir=north count=1i,"
           "backlog=7i notatime", LP_BAD_TIMESTAMP);
    expect("dsp_traffic,dir=north count=1i,backlog=7i notatime",
           LP_BAD_TIMESTAMP);
    expect("dsp_traffic,dir=north count=-1i,x=?? 1", LP_BAD_SYNTAX);
    expect("dsp_traffic,dir=north count=-1i 1", LP_BAD_NO_USER);
    expect("dsp_traffic,user=,dir=sideways count=-1i 1", LP_BAD_NO_USER);
    expect("dsp_traffic,user=u,dir=sideways count=-1i 1", LP_BAD_DIR);
    expect("dsp_traffic,user=u count=-1i 1", LP_BAD_NO_DIR);
    expect(HEAD "count=-1i,delivered=\"x\" 1", LP_BAD_NEGATIVE);
    expect(HEAD "delivered=\"x\",count=-1i 1", LP_BAD_FIELD_VALUE);
    expect(HEAD "x=1e999 1", LP_BAD_FIELD_VALUE); /* before NO_FIELD */
}

static void test_too_long(void **state)
{
    const size_t mb = 1u << 20;
    const char *head = "dsp_traffic,user=u,dir=south,pad=";
    const char *tail = " count=1i 1";
    size_t hl = strlen(head), tl = strlen(tail), len = mb;
    char *line = malloc(len);
    parsed_t pr;

    (void)state;
    assert_non_null(line);
    memcpy(line, head, hl);
    memset(line + hl, 'x', len - hl - tl);
    memcpy(line + len - tl, tail, tl);

    assert_int_equal(parse_full(line, len, NS, 4096).r, LP_BAD_TOO_LONG);
    assert_int_equal(parse_full(line, len, NS, len - 1).r, LP_BAD_TOO_LONG);
    pr = parse_full(line, len, NS, len);
    assert_int_equal(pr.r, LP_OK);
    assert_string_equal(pr.user, "u");

    /* The limit is the caller's contract, checked before anything else. */
    memset(line, '#', 1);
    assert_int_equal(parse_full(line, len, NS, 16).r, LP_BAD_TOO_LONG);
    free(line);
}

/* Every truncation, deletion and overwrite of a good line must return a
 * defined result, and any LP_OK must be a sane sample. */
static void test_mutations(void **state)
{
    static const char good[] =
        "dsp_traffic,user=90-B3\\ D5,dir=north,class=alert count=120i,"
        "delivered=1.5e2,backlog=2u,msg=\"a \\\"b\\\"\",ok=t "
        "1568278800000000000\r";
    static const unsigned char bytes[] = {
        0, 0x80, 0xc3, 0xff, 0x7f, '\t', '\r', ',', ' ', '=', '\\', '"', '-',
        '.', 'e', 'i', 'u', '#', '0', '9', 'x',
    };
    const size_t len = sizeof good - 1;
    char line[sizeof good];
    size_t pos, b, cut, oks = 0;
    parsed_t pr;

    (void)state;
    for (cut = 0; cut <= len; cut++) {
        pr = parse_full(good, cut, NS, cut);
        assert_true((unsigned)pr.r < LP_NRESULTS);
        oks += pr.r == LP_OK;
    }
    for (pos = 0; pos < len; pos++) {
        memcpy(line, good, pos);
        memcpy(line + pos, good + pos + 1, len - pos - 1);
        pr = parse_full(line, len - 1, NS, len - 1);
        assert_true((unsigned)pr.r < LP_NRESULTS);
        for (b = 0; b < sizeof bytes; b++) {
            memcpy(line, good, len);
            line[pos] = (char)bytes[b];
            pr = parse_full(line, len, NS, len);
            assert_true((unsigned)pr.r < LP_NRESULTS);
            if (pr.r == LP_OK) {
                oks++;
                assert_true(pr.s.user.len > 0);
                assert_true(pr.s.dir == DIR_NORTH || pr.s.dir == DIR_SOUTH);
                assert_true(pr.s.fields != 0);
                assert_true(pr.s.count >= 0 && pr.s.delivered >= 0 &&
                            pr.s.rejected >= 0 && pr.s.backlog >= 0);
                assert_true(isfinite(pr.s.count) && isfinite(pr.s.delivered) &&
                            isfinite(pr.s.backlog));
            }
        }
    }
    assert_true(oks > 0);
}

static void test_result_strings(void **state)
{
    int r;

    (void)state;
    for (r = 0; r < LP_NRESULTS; r++) {
        assert_non_null(lp_result_str((lp_result_t)r));
        assert_true(strlen(lp_result_str((lp_result_t)r)) > 0);
        assert_int_equal(lp_result_is_bad((lp_result_t)r) != 0,
                         r >= LP_BAD_SYNTAX);
    }
    assert_string_equal(lp_result_str(LP_OK), "ok");
    assert_string_equal(lp_result_str(LP_BAD_NEGATIVE), "negative count");
    assert_non_null(lp_result_str(LP_NRESULTS));
    assert_non_null(lp_result_str((lp_result_t)-1));
    assert_true(lp_result_is_bad(LP_NRESULTS));
    assert_false(lp_result_is_bad(LP_SKIP_MEASUREMENT));
}

/* ---- the fast path agrees with the full parser ---- */

static uint64_t fp_rng(uint64_t *st)
{
    uint64_t z = (*st += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static unsigned fast_taken; /* lines the fast path answered itself */

static void assert_same(const char *line, size_t len, int64_t mult)
{
    static char sa[4096], sb[4096];
    lp_sample_t a, b;
    fast_taken += lp_parse_fast(line, len, mult, &a) != LP_FAST_UNSURE;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    lp_result_t ra = lp_parse(line, len, mult, &a, sa, sizeof sa);
    lp_result_t rb = lp_parse_strict(line, len, mult, &b, sb, sizeof sb);
    if (ra != rb)
        fail_msg("'%.*s': lp_parse %s, full parser %s", (int)len, line, lp_result_str(ra),
                 lp_result_str(rb));
    if (ra != LP_OK)
        return;
    if (a.dir != b.dir || a.fields != b.fields || a.ts != b.ts || a.count != b.count ||
        a.delivered != b.delivered || a.rejected != b.rejected || a.backlog != b.backlog ||
        a.user.len != b.user.len || memcmp(a.user.p, b.user.p, a.user.len) ||
        a.cls.len != b.cls.len || memcmp(a.cls.p, b.cls.p, a.cls.len))
        fail_msg("'%.*s': samples differ", (int)len, line);
}

/*
 * lp_parse() takes a fast path for lines of the common shape and the full
 * parser otherwise: the two must agree on every line. Well-formed lines in
 * many shapes (tag order, classes, extra tags and fields, suffixes, spaces,
 * CR, 16 to 300 bytes, timestamps of every length) and 200000 mutations of
 * them (bytes replaced, inserted or removed, drawn from the delimiters,
 * escapes, quotes, digits, signs, control and high bytes).
 */
static void test_fast_path_agrees(void **state)
{
    (void)state;
    static const char *const tags[] = { "user=90-B3-D5-1F-30-01-00-0A", "dir=north", "dir=south",
                                        "class=alert", "class=request", "region=north-west",
                                        "user=U", "class=" };
    static const char *const fields[] = { "count=120i", "count=7", "delivered=118i",
                                          "backlog=2i", "rejected=0u", "latency=5i",
                                          "count=1.5", "count=-3i", "backlog=999999999999999999i",
                                          "delivered=1234567890123456789i" };
    static const char *const stamps[] = { "1568278800000000000", "1", "0", "12345678",
                                          "9223372036854775806", "9223372036854775807",
                                          "123456789012345678901", "-5", "" };
    static const char pool[] = ",= \\\"0123456789iu.-eE\r\t\x01\x7f\x80\xc3\xa9xyz#";
    uint64_t st = 42;
    char line[512], mut[520];
    for (int k = 0; k < 20000; k++) {
        size_t n = (size_t)snprintf(line, sizeof line, "dsp_traffic");
        /* mostly a proper tag set (user, dir, maybe class and another), in any order */
        const char *set[4];
        int nt = 0;
        set[nt++] = tags[fp_rng(&st) % 16 ? 0 : 6];
        set[nt++] = tags[1 + fp_rng(&st) % 2];
        if (fp_rng(&st) % 2)
            set[nt++] = tags[3 + fp_rng(&st) % 2];
        if (fp_rng(&st) % 4 == 0)
            set[nt++] = tags[5 + fp_rng(&st) % 3];
        for (int t = nt - 1; t > 0; t--) {
            int u = (int)(fp_rng(&st) % (uint64_t)(t + 1));
            const char *x = set[t];
            set[t] = set[u];
            set[u] = x;
        }
        if (fp_rng(&st) % 20 == 0) /* sometimes a tag missing or repeated */
            set[fp_rng(&st) % (uint64_t)nt] = tags[fp_rng(&st) % (sizeof tags / sizeof *tags)];
        for (int t = 0; t < nt; t++)
            n += (size_t)snprintf(line + n, sizeof line - n, ",%s", set[t]);
        int nf = 1 + (int)(fp_rng(&st) % 3);
        for (int f = 0; f < nf; f++)
            n += (size_t)snprintf(line + n, sizeof line - n, "%c%s", f ? ',' : ' ',
                                  fields[fp_rng(&st) % (fp_rng(&st) % 4 ? 6 : 10)]);
        n += (size_t)snprintf(line + n, sizeof line - n, "%s%s%s",
                              fp_rng(&st) % 8 ? " " : "   ",
                              stamps[fp_rng(&st) % 4 ? 0 : fp_rng(&st) % 9],
                              fp_rng(&st) % 10 ? "" : fp_rng(&st) % 2 ? "  " : "\r");
        int64_t mult = fp_rng(&st) % 10 ? 1 : 1000000000;
        assert_same(line, n, mult);
        for (int m = 0; m < 10; m++) {
            memcpy(mut, line, n);
            size_t len = n, at = fp_rng(&st) % n;
            char c = pool[fp_rng(&st) % (sizeof pool - 1)];
            switch (fp_rng(&st) % 3) {
            case 0: mut[at] = c; break;
            case 1: memmove(mut + at + 1, mut + at, len - at); mut[at] = c; len++; break;
            default: memmove(mut + at, mut + at + 1, len - at - 1); len--; break;
            }
            assert_same(mut, len, mult);
        }
    }
    /* both paths were exercised (most mutations send a line to the full parser) */
    if (fast_taken < 10000 || fast_taken > 150000)
        fail_msg("the fast path took %u of 220000 lines", fast_taken);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contract_examples),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_unsigned),
        cmocka_unit_test(test_floats),
        cmocka_unit_test(test_malformed_numbers),
        cmocka_unit_test(test_nan_inf),
        cmocka_unit_test(test_negative_zero),
        cmocka_unit_test(test_string_and_bool_fields),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_bad_series),
        cmocka_unit_test(test_bad_fields),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_ts_mult),
        cmocka_unit_test(test_blank_and_comments),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_other_measurement),
        cmocka_unit_test(test_only_measurement),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_result_strings),
        cmocka_unit_test(test_fast_path_agrees),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
