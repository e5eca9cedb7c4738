// SPDX-License-Identifier: GPL-2.0
/* Unit tests of user/core/cli.c: strict numbers, sizes and durations. Table-driven. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "cli.h"

struct u64_case {
	const char *in;
	uint64_t min, max;
	int err;
	uint64_t out;
};

static void test_parse_u64(void **state)
{
	static const struct u64_case cases[] = {
		{ "1", 1, 10, 0, 1 },
		{ "10", 1, 10, 0, 10 },
		{ "4194304", 1, 4194304, 0, 4194304 },
		{ "0", 1, 10, -ERANGE, 0 },
		{ "11", 1, 10, -ERANGE, 0 },
		{ "18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX },
		{ "18446744073709551616", 0, UINT64_MAX, -ERANGE, 0 },
		{ "99999999999999999999999", 0, UINT64_MAX, -ERANGE, 0 },
		{ "", 0, 10, -EINVAL, 0 },
		{ "-1", 0, 10, -EINVAL, 0 },
		{ "+1", 0, 10, -EINVAL, 0 },
		{ " 1", 0, 10, -EINVAL, 0 },
		{ "1 ", 0, 10, -EINVAL, 0 },
		{ "1x", 0, 10, -EINVAL, 0 },
		{ "0x10", 0, 100, -EINVAL, 0 },
		{ "1.5", 0, 10, -EINVAL, 0 },
		{ "abc", 0, 10, -EINVAL, 0 },
		/* too many digits, but not a number anyway: the form is checked first */
		{ "99999999999999999999999x", 0, UINT64_MAX, -EINVAL, 0 },
		{ NULL, 0, 10, -EINVAL, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 12345;
		int err = eph_parse_u64(cases[i].in, cases[i].min, cases[i].max, &v);

		assert_int_equal(err, cases[i].err);
		assert_int_equal(v, err ? 12345 : cases[i].out); /* untouched on error */
	}
}

static void test_parse_size(void **state)
{
	static const struct u64_case cases[] = {
		{ "4096", 4096, 1u << 30, 0, 4096 },
		{ "4K", 4096, 1u << 30, 0, 4096 },
		{ "4k", 4096, 1u << 30, 0, 4096 },
		{ "16M", 4096, 1u << 30, 0, 16u << 20 },
		{ "1G", 4096, 1u << 30, 0, 1u << 30 },
		{ "2G", 4096, 1u << 30, -ERANGE, 0 },
		{ "1K", 4096, 1u << 30, -ERANGE, 0 },
		{ "4KB", 4096, 1u << 30, -EINVAL, 0 },
		{ "4T", 4096, 1u << 30, -EINVAL, 0 },
		{ "K", 4096, 1u << 30, -EINVAL, 0 },
		{ "", 4096, 1u << 30, -EINVAL, 0 },
		{ "-4K", 4096, 1u << 30, -EINVAL, 0 },
		{ "17179869184G", 0, UINT64_MAX, -ERANGE, 0 },
		{ "99999999999999999999999K", 0, UINT64_MAX, -ERANGE, 0 },
		{ "99999999999999999999999KB", 0, UINT64_MAX, -EINVAL, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 7;
		int err = eph_parse_size(cases[i].in, cases[i].min, cases[i].max, &v);

		assert_int_equal(err, cases[i].err);
		assert_int_equal(v, err ? 7 : cases[i].out);
	}
}

static void test_parse_seconds(void **state)
{
	static const struct u64_case cases[] = {
		{ "1", 0, 100, 0, 1000 },
		{ "0.5", 0, 100, 0, 500 },
		{ "2.25", 0, 100, 0, 2250 },
		{ "0.001", 0, 100, 0, 1 },
		{ "0.0001", 0, 100, -ERANGE, 0 }, /* rounds to nothing */
		{ "100", 0, 100, 0, 100000 },
		{ "100.5", 0, 100, -ERANGE, 0 },
		{ "101", 0, 100, -ERANGE, 0 },
		{ "0", 0, 100, -ERANGE, 0 },
		{ "0.0", 0, 100, -ERANGE, 0 },
		{ "1.", 0, 100, -EINVAL, 0 },
		{ ".5", 0, 100, -EINVAL, 0 },
		{ "1s", 0, 100, -EINVAL, 0 },
		{ "-1", 0, 100, -EINVAL, 0 },
		{ "", 0, 100, -EINVAL, 0 },
		{ "99999999999999999999999.5", 0, UINT64_MAX, -ERANGE, 0 },
		{ "99999999999999999999999.", 0, UINT64_MAX, -EINVAL, 0 },
		/* max above UINT64_MAX / 1000 s counts as that: no wrap in ms (fuzz_options) */
		{ "18446744073709551", 0, UINT64_MAX, 0, 18446744073709551000ull },
		{ "18446744073709551.001", 0, UINT64_MAX, -ERANGE, 0 },
		{ "2000000000000000000", 0, UINT64_MAX, -ERANGE, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 9;
		int err = eph_parse_seconds(cases[i].in, cases[i].max, &v);

		assert_int_equal(err, cases[i].err);
		assert_int_equal(v, err ? 9 : cases[i].out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_seconds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
