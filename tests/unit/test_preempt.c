// SPDX-License-Identifier: GPL-2.0
/* user/node/preempt.c: which kernels can preempt an fentry program, from uname -v. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "preempt.h"

static const char *model(const char *version, const char *modes)
{
	static char why[64];

	why[0] = '\0';
	return eph_preempt_parse(version, modes, why, sizeof(why)) ? why : NULL;
}

/* The version strings of Debian's own kernels (generic and cloud are PREEMPT_DYNAMIC). */
static void test_debian(void **state)
{
	(void)state;
	assert_string_equal(model("#1 SMP PREEMPT_RT Debian 6.1.192-3 (2026-11-26)", NULL),
			    "PREEMPT_RT");
	assert_null(model("#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26)", NULL));
	assert_null(model("#1 SMP PREEMPT_DYNAMIC Debian 6.12.118-1~deb12u1 (2026-11-28)",
			  "none (voluntary) full\n"));
}

/* Full (or lazy) preemption chosen at boot on a PREEMPT_DYNAMIC kernel, or built in. */
static void test_full(void **state)
{
	(void)state;
	assert_string_equal(model("#1 SMP PREEMPT_DYNAMIC x", "none voluntary (full)\n"),
			    "preempt=full");
	assert_string_equal(model("#1 SMP PREEMPT_DYNAMIC x", "none voluntary full (lazy)\n"),
			    "preempt=lazy");
	assert_string_equal(model("#1 SMP PREEMPT Tue Mar 4 2025", NULL),
			    "full preemption (CONFIG_PREEMPT)");
	assert_null(model("#1 SMP Tue Mar 4 2025", NULL));
	assert_null(model("#1 SMP PREEMPTX", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_debian),
		cmocka_unit_test(test_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
