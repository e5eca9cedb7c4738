// SPDX-License-Identifier: GPL-2.0
/* Unit tests of user/core/strbuf.c: the growable buffer and JSON string escaping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

static void test_append(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	assert_int_equal(sb_puts(&sb, "ab"), 0);
	assert_int_equal(sb_putc(&sb, 'c'), 0);
	assert_int_equal(sb_append(&sb, "defgh", 2), 0);
	assert_int_equal(sb_printf(&sb, "-%d-%s-", 42, "x"), 0);
	assert_int_equal(sb_append(&sb, NULL, 0), 0);
	assert_string_equal(sb.buf, "abcde-42-x-");
	assert_int_equal(sb.len, 11);
	assert_true(sb.cap > sb.len);
	sb_free(&sb);
}

static void test_empty_append_terminates(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	assert_int_equal(sb_puts(&sb, ""), 0);
	assert_non_null(sb.buf);
	assert_string_equal(sb.buf, "");
	assert_int_equal(sb.len, 0);
	sb_free(&sb);
}

static void test_grow(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	char big[5000];
	int i;

	(void)state;
	for (i = 0; i < 10000; i++)
		assert_int_equal(sb_putc(&sb, (char)('a' + i % 26)), 0);
	assert_int_equal(sb.len, 10000);
	assert_int_equal(strlen(sb.buf), 10000);
	assert_int_equal(sb.buf[0], 'a');
	assert_int_equal(sb.buf[9999], 'a' + 9999 % 26);

	/* A printf larger than the room left takes the second path. */
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	sb_free(&sb);
	assert_int_equal(sb_puts(&sb, "<"), 0);
	assert_int_equal(sb_printf(&sb, "%s>%d", big, 7), 0);
	assert_int_equal(sb.len, 1 + 4999 + 2);
	assert_int_equal(sb.buf[0], '<');
	assert_int_equal(sb.buf[1], 'z');
	assert_int_equal(sb.buf[4999], 'z');
	assert_string_equal(sb.buf + 5000, ">7");
	sb_free(&sb);
}

static void test_reset_keeps_memory(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	size_t cap;
	char *buf;

	(void)state;
	assert_int_equal(sb_puts(&sb, "hello"), 0);
	buf = sb.buf;
	cap = sb.cap;
	sb_reset(&sb);
	assert_int_equal(sb.len, 0);
	assert_ptr_equal(sb.buf, buf);
	assert_int_equal(sb.cap, cap);
	assert_string_equal(sb.buf, "");
	assert_int_equal(sb_puts(&sb, "x"), 0);
	assert_string_equal(sb.buf, "x");
	sb_free(&sb);
}

/* sb_truncate: a writer's rollback; an empty buffer (no memory yet) is left as it is */
static void test_truncate(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	size_t cap;

	(void)state;
	sb_truncate(&sb, 0);
	assert_null(sb.buf);
	assert_int_equal(sb.len, 0);
	assert_int_equal(sb_puts(&sb, "kept"), 0);
	cap = sb.cap;
	assert_int_equal(sb_puts(&sb, ",cut"), 0);
	sb_truncate(&sb, 4);
	assert_int_equal(sb.len, 4);
	assert_int_equal(sb.cap, cap);
	assert_string_equal(sb.buf, "kept");
	sb_truncate(&sb, 4);
	assert_string_equal(sb.buf, "kept");
	sb_free(&sb);
}

static void test_sb_free(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	sb_free(NULL);
	sb_free(&sb);
	assert_int_equal(sb_puts(&sb, "abc"), 0);
	sb_free(&sb);
	assert_null(sb.buf);
	assert_int_equal(sb.len, 0);
	assert_int_equal(sb.cap, 0);
	/* Usable again after a free. */
	assert_int_equal(sb_puts(&sb, "def"), 0);
	assert_string_equal(sb.buf, "def");
	sb_free(&sb);
}

static void test_too_big(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	assert_int_equal(sb_puts(&sb, "keep"), 0);
	/* The size check comes before any read of the source. */
	assert_int_equal(sb_append(&sb, "x", SIZE_MAX), -ENOMEM);
	assert_int_equal(sb_append(&sb, "x", SIZE_MAX - 2), -ENOMEM);
	assert_string_equal(sb.buf, "keep");
	assert_int_equal(sb.len, 4);
	sb_free(&sb);
}

/* sb_json_str(s, n) appended to "pre:" must give exactly want. */
static void assert_json(const char *s, size_t n, const char *want)
{
	struct strbuf sb = STRBUF_INIT;

	assert_int_equal(sb_puts(&sb, "pre:"), 0);
	assert_int_equal(sb_json_str(&sb, s, n), 0);
	assert_string_equal(sb.buf, want);
	assert_int_equal(sb.len, strlen(want));
	sb_free(&sb);
}

static void test_json_plain(void **state)
{
	(void)state;
	assert_json("curl", 4, "pre:\"curl\"");
	assert_json("", 0, "pre:\"\"");
	assert_json(NULL, 5, "pre:\"\"");
	assert_json("with space/and~tilde", 100, "pre:\"with space/and~tilde\"");
}

static void test_json_stops(void **state)
{
	(void)state;
	/* At n bytes. */
	assert_json("abcdef", 3, "pre:\"abc\"");
	/* At a NUL before n. */
	assert_json("ab\0cd", 5, "pre:\"ab\"");
	/* A multi-byte sequence cut by n is not valid (and nothing past n is read). */
	assert_json("\xc3\xa9", 1, "pre:\"\\u00c3\"");
	/* Cut by a NUL. */
	assert_json("\xe2\x82\0\xac", 4, "pre:\"\\u00e2\\u0082\"");
}

static void test_json_escapes(void **state)
{
	(void)state;
	assert_json("a\"b", 3, "pre:\"a\\\"b\"");
	assert_json("a\\b", 3, "pre:\"a\\\\b\"");
	assert_json("\n\t\r\b\f", 5, "pre:\"\\n\\t\\r\\b\\f\"");
	assert_json("\x01\x1f", 2, "pre:\"\\u0001\\u001f\"");
	assert_json("\x1b[31m", 5, "pre:\"\\u001b[31m\"");
	assert_json("del\x7f", 4, "pre:\"del\\u007f\"");
	/* Printable ASCII edges pass through. */
	assert_json(" ~", 2, "pre:\" ~\"");
}

static void test_json_valid_utf8(void **state)
{
	(void)state;
	/* U+00E9, U+20AC, U+1F600 */
	assert_json("caf\xc3\xa9", 5, "pre:\"caf\xc3\xa9\"");
	assert_json("\xe2\x82\xac", 3, "pre:\"\xe2\x82\xac\"");
	assert_json("\xf0\x9f\x98\x80", 4, "pre:\"\xf0\x9f\x98\x80\"");
	/* Boundaries: U+0080, U+07FF, U+0800, U+D7FF, U+E000, U+FFFF, U+10000, U+10FFFF */
	assert_json("\xc2\x80", 2, "pre:\"\xc2\x80\"");
	assert_json("\xdf\xbf", 2, "pre:\"\xdf\xbf\"");
	assert_json("\xe0\xa0\x80", 3, "pre:\"\xe0\xa0\x80\"");
	assert_json("\xed\x9f\xbf", 3, "pre:\"\xed\x9f\xbf\"");
	assert_json("\xee\x80\x80", 3, "pre:\"\xee\x80\x80\"");
	assert_json("\xef\xbf\xbf", 3, "pre:\"\xef\xbf\xbf\"");
	assert_json("\xf0\x90\x80\x80", 4, "pre:\"\xf0\x90\x80\x80\"");
	assert_json("\xf4\x8f\xbf\xbf", 4, "pre:\"\xf4\x8f\xbf\xbf\"");
}

static void test_json_invalid_utf8(void **state)
{
	(void)state;
	/* Lone continuation byte, bytes that never occur. */
	assert_json("\x80", 1, "pre:\"\\u0080\"");
	assert_json("\xff"
		    "A",
		    2,
		    "pre:\"\\u00ff"
		    "A\"");
	assert_json("\xf5\x80\x80\x80", 4, "pre:\"\\u00f5\\u0080\\u0080\\u0080\"");
	/* Lead byte followed by a non-continuation. */
	assert_json("\xc3"
		    "A",
		    2,
		    "pre:\"\\u00c3"
		    "A\"");
	assert_json("\xe2\x82"
		    "A",
		    3,
		    "pre:\"\\u00e2\\u0082"
		    "A\"");
	/* Overlong forms: '/' in two bytes, U+07FF in three, U+FFFF in four. */
	assert_json("\xc0\xaf", 2, "pre:\"\\u00c0\\u00af\"");
	assert_json("\xc1\xbf", 2, "pre:\"\\u00c1\\u00bf\"");
	assert_json("\xe0\x9f\xbf", 3, "pre:\"\\u00e0\\u009f\\u00bf\"");
	assert_json("\xf0\x8f\xbf\xbf", 4, "pre:\"\\u00f0\\u008f\\u00bf\\u00bf\"");
	/* Surrogates U+D800 and U+DFFF. */
	assert_json("\xed\xa0\x80", 3, "pre:\"\\u00ed\\u00a0\\u0080\"");
	assert_json("\xed\xbf\xbf", 3, "pre:\"\\u00ed\\u00bf\\u00bf\"");
	/* Above U+10FFFF. */
	assert_json("\xf4\x90\x80\x80", 4, "pre:\"\\u00f4\\u0090\\u0080\\u0080\"");
	/* Valid and invalid mixed: the valid sequence survives next to a bad byte. */
	assert_json("\xfe\xc3\xa9\x80"
		    "z",
		    5, "pre:\"\\u00fe\xc3\xa9\\u0080z\"");
}

/* eph_grow: room for element n, doubling from 256. */
static void test_array_grow(void **state)
{
	size_t cap = 0, n;
	int *v = NULL;

	(void)state;
	assert_int_equal(eph_grow((void **)&v, &cap, 0, sizeof(*v)), 0);
	assert_int_equal(cap, 256);
	for (n = 0; n < 600; n++) {
		assert_int_equal(eph_grow((void **)&v, &cap, n, sizeof(*v)), 0);
		v[n] = (int)n;
	}
	assert_int_equal(cap, 1024);
	assert_int_equal(v[599], 599);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_empty_append_terminates),
		cmocka_unit_test(test_grow),
		cmocka_unit_test(test_reset_keeps_memory),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_sb_free),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_json_plain),
		cmocka_unit_test(test_json_stops),
		cmocka_unit_test(test_json_escapes),
		cmocka_unit_test(test_json_valid_utf8),
		cmocka_unit_test(test_json_invalid_utf8),
		cmocka_unit_test(test_array_grow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
