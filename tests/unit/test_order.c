// SPDX-License-Identifier: GPL-2.0
/* Unit tests of user/core/order.h: the comparators and eph_lower_bound(). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "order.h"

static void test_cmp_u64(void **state)
{
	uint32_t a = 7, b = 9;
	uint64_t c = UINT64_MAX, d = 0;

	(void)state;
	assert_int_equal(eph_cmp_u64(1, 2), -1);
	assert_int_equal(eph_cmp_u64(2, 2), 0);
	assert_int_equal(eph_cmp_u64(UINT64_MAX, 0), 1);
	assert_int_equal(eph_cmp_u32_at(&a, &b), -1);
	assert_int_equal(eph_cmp_u32_at(&b, &a), 1);
	assert_int_equal(eph_cmp_u64_at(&c, &d), 1);
	assert_int_equal(eph_cmp_u64_at(&d, &d), 0);
}

/* Every key from below the first element to above the last, against a linear scan, in arrays
 * of 0 to 9 elements with runs of equal ones. */
static void test_lower_bound(void **state)
{
	uint32_t v[9];
	size_t n, i, want;
	uint32_t key;

	(void)state;
	for (n = 0; n <= 9; n++) {
		for (i = 0; i < n; i++)
			v[i] = 10 + (uint32_t)(i / 2) * 10; /* 10 10 20 20 30 ... */
		for (key = 0; key <= 70; key += 5) {
			for (want = 0; want < n && v[want] < key; want++)
				;
			assert_int_equal(eph_lower_bound(v, n, sizeof(*v), &key, eph_cmp_u32_at),
					 want);
		}
	}
	key = 20;
	assert_int_equal(eph_lower_bound(v, 9, sizeof(*v), &key, eph_cmp_u32_at), 2);
	assert_int_equal(eph_lower_bound(NULL, 0, sizeof(*v), &key, eph_cmp_u32_at), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmp_u64),
		cmocka_unit_test(test_lower_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
