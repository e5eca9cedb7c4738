// SPDX-License-Identifier: GPL-2.0
/* Unit tests of user/core/jsonw.c: the JSON writer, byte for byte. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "jsonw.h"

static const uint8_t V4[16] = { 10, 0, 0, 1 };
static const uint8_t V6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };

/* What w wrote, which must be want, with no error. */
static void assert_wrote(struct jsonw *w, const char *want)
{
	assert_int_equal(w->err, 0);
	assert_string_equal(w->sb->buf, want);
	assert_int_equal(w->sb->len, strlen(want));
}

static void test_keys_and_commas(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct jsonw w = { .sb = &sb };

	(void)state;
	jsonw_raw(&w, "{");
	jsonw_u64(&w, "a", 1);
	jsonw_key(&w, "b");
	jsonw_raw(&w, "[");
	jsonw_elem(&w);
	jsonw_raw(&w, "{");
	jsonw_bool(&w, "c", 2);
	jsonw_raw(&w, "}");
	jsonw_str(&w, NULL, "x", SIZE_MAX); /* name NULL: its own comma */
	jsonw_raw(&w, "]");
	jsonw_bool(&w, "d", 0);
	jsonw_raw(&w, "}");
	assert_wrote(&w, "{\"a\":1,\"b\":[{\"c\":true},\"x\"],\"d\":false}");
	sb_free(&sb);
}

static void test_u64_and_str(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct jsonw w = { .sb = &sb };

	(void)state;
	jsonw_raw(&w, "{");
	jsonw_u64(&w, "max", UINT64_MAX);
	jsonw_str(&w, "cut", "abcdef", 3);
	jsonw_str(&w, "esc", "a\"b\\\n", SIZE_MAX);
	jsonw_str(&w, "none", NULL, 8);
	jsonw_raw(&w, "}");
	assert_wrote(&w, "{\"max\":18446744073709551615,\"cut\":\"abc\",\"esc\":\"a\\\"b\\\\\\n\","
			 "\"none\":null}");
	sb_free(&sb);
}

/* Integral below 1e15 without a fraction, others %.6g; NaN and infinities null. */
static void test_double(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct jsonw w = { .sb = &sb };

	(void)state;
	jsonw_raw(&w, "[");
	jsonw_double(&w, NULL, 0);
	jsonw_double(&w, NULL, -3);
	jsonw_double(&w, NULL, 999999999999999.0);
	jsonw_double(&w, NULL, 1e15);
	jsonw_double(&w, NULL, 0.25);
	jsonw_double(&w, NULL, 1.0 / 3);
	jsonw_double(&w, NULL, NAN);
	jsonw_double(&w, NULL, INFINITY);
	jsonw_double(&w, NULL, -INFINITY);
	jsonw_raw(&w, "]");
	assert_wrote(&w, "[0,-3,999999999999999,1e+15,0.25,0.333333,null,null,null]");
	sb_free(&sb);
}

/* Known: every bit of the value, which a double would round; unknown: null. */
static void test_u64_or_null(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct jsonw w = { .sb = &sb };

	(void)state;
	jsonw_raw(&w, "{");
	jsonw_u64_or_null(&w, "known", UINT64_MAX - 1, true);
	jsonw_u64_or_null(&w, "zero", 0, true);
	jsonw_u64_or_null(&w, "unknown", 42, false);
	jsonw_key(&w, "list");
	jsonw_raw(&w, "[");
	jsonw_u64_or_null(&w, NULL, 9007199254740993ull, true); /* 2^53 + 1 */
	jsonw_u64_or_null(&w, NULL, 7, false);
	jsonw_raw(&w, "]}");
	assert_wrote(&w, "{\"known\":18446744073709551614,\"zero\":0,\"unknown\":null,"
			 "\"list\":[9007199254740993,null]}");
	sb_free(&sb);
}

static void test_i64(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct jsonw w = { .sb = &sb };

	(void)state;
	jsonw_raw(&w, "{");
	jsonw_i64(&w, "zero", 0);
	jsonw_i64(&w, "pos", 99);
	jsonw_i64(&w, "neg", -1);
	jsonw_i64(&w, "min", INT64_MIN);
	jsonw_i64(&w, "max", INT64_MAX);
	jsonw_key(&w, "list");
	jsonw_raw(&w, "[");
	jsonw_i64(&w, NULL, -12);
	jsonw_i64(&w, NULL, 12);
	jsonw_raw(&w, "]}");
	assert_wrote(&w, "{\"zero\":0,\"pos\":99,\"neg\":-1,\"min\":-9223372036854775808,"
			 "\"max\":9223372036854775807,\"list\":[-12,12]}");
	sb_free(&sb);
}

static void test_null(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct jsonw w = { .sb = &sb };

	(void)state;
	jsonw_raw(&w, "{");
	jsonw_null(&w, "a");
	jsonw_null(&w, "b");
	jsonw_key(&w, "c");
	jsonw_raw(&w, "[");
	jsonw_null(&w, NULL);
	jsonw_null(&w, NULL);
	jsonw_raw(&w, "]}");
	assert_wrote(&w, "{\"a\":null,\"b\":null,\"c\":[null,null]}");
	sb_free(&sb);
}

/* An address not known (NULL) or of a family that is neither IPv4 nor IPv6 is null. */
static void test_addr(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct jsonw w = { .sb = &sb };

	(void)state;
	jsonw_raw(&w, "{");
	jsonw_addr(&w, "v4", AF_INET, V4);
	jsonw_addr(&w, "v6", AF_INET6, V6);
	jsonw_addr(&w, "unknown", AF_INET, NULL);
	jsonw_addr(&w, "family", AF_UNIX, V4);
	jsonw_raw(&w, "}");
	assert_wrote(&w, "{\"v4\":\"10.0.0.1\",\"v6\":\"2001:db8::1\",\"unknown\":null,"
			 "\"family\":null}");
	sb_free(&sb);
}

/* As format.c writes times: RFC 3339, UTC, nanoseconds, from the epoch to UINT64_MAX ns. */
static void test_time(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct jsonw w = { .sb = &sb };

	(void)state;
	jsonw_raw(&w, "{");
	jsonw_time(&w, "t", 1795497488123456789ull);
	jsonw_time(&w, "epoch", 0);
	jsonw_time(&w, "last", UINT64_MAX);
	jsonw_key(&w, "list");
	jsonw_raw(&w, "[");
	jsonw_time(&w, NULL, 1000000001);
	jsonw_raw(&w, "]}");
	assert_wrote(&w, "{\"t\":\"2026-11-24T05:18:08.123456789Z\","
			 "\"epoch\":\"1970-01-01T00:00:00.000000000Z\","
			 "\"last\":\"2554-07-21T23:34:33.709551615Z\","
			 "\"list\":[\"1970-01-01T00:00:01.000000001Z\"]}");
	sb_free(&sb);
}

/* The first error sticks: no call after it appends anything or changes it. */
static void test_error_sticks(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct jsonw w = { .sb = &sb };

	(void)state;
	jsonw_raw(&w, "{");
	jsonw_u64(&w, "a", 1);
	w.err = -ENOMEM; /* as a failed append leaves it */
	jsonw_raw(&w, "x");
	jsonw_key(&w, "k");
	jsonw_key(&w, NULL);
	jsonw_elem(&w);
	jsonw_u64(&w, "u", 1);
	jsonw_u64_or_null(&w, "k", 1, true);
	jsonw_u64_or_null(&w, "n", 1, false);
	jsonw_i64(&w, "i", -1);
	jsonw_double(&w, "d", 1.5);
	jsonw_double(&w, "nan", NAN);
	jsonw_bool(&w, "b", 1);
	jsonw_null(&w, "z");
	jsonw_str(&w, "s", "s", SIZE_MAX);
	jsonw_str(&w, "s0", NULL, 0);
	jsonw_addr(&w, "ip", AF_INET, V4);
	jsonw_addr(&w, "ip0", AF_INET, NULL);
	jsonw_time(&w, "t", 0);
	assert_int_equal(w.err, -ENOMEM);
	assert_string_equal(sb.buf, "{\"a\":1");
	assert_int_equal(sb.len, 6);
	sb_free(&sb);
}

/* jsonw_end: the error, and on one the buffer as it was before the writer began. */
static void test_end(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct jsonw w = { .sb = &sb };
	size_t start;

	(void)state;
	assert_int_equal(sb_puts(&sb, "line\n"), 0);
	start = sb.len;
	jsonw_raw(&w, "{");
	jsonw_i64(&w, "a", -5);
	jsonw_raw(&w, "}");
	assert_int_equal(jsonw_end(&w, start), 0);
	assert_string_equal(sb.buf, "line\n{\"a\":-5}");

	start = sb.len;
	jsonw_raw(&w, ",{");
	jsonw_null(&w, "b");
	w.err = -ENOMEM;
	assert_int_equal(jsonw_end(&w, start), -ENOMEM);
	assert_string_equal(sb.buf, "line\n{\"a\":-5}");
	assert_int_equal(sb.len, start);
	sb_free(&sb);

	/* nothing written yet: nothing to cut */
	w.err = -ENOMEM;
	assert_int_equal(jsonw_end(&w, 0), -ENOMEM);
	assert_null(sb.buf);
	assert_int_equal(sb.len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_and_commas),
		cmocka_unit_test(test_u64_and_str),
		cmocka_unit_test(test_double),
		cmocka_unit_test(test_u64_or_null),
		cmocka_unit_test(test_i64),
		cmocka_unit_test(test_null),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_error_sticks),
		cmocka_unit_test(test_end),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
