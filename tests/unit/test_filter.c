// SPDX-License-Identifier: GPL-2.0
/* Unit tests of user/core/filter.c: scope (what is counted) and show (what is printed). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "filter.h"

static struct eph_rec rec(uint8_t type, uint32_t pid, const char *comm, uint8_t family,
			  uint8_t proto)
{
	struct eph_rec r;

	memset(&r, 0, sizeof(r));
	r.ev.type = type;
	r.ev.op = type == EPH_RELEASE || type == EPH_TIME_WAIT ? EPH_OP_NONE : EPH_OP_CONNECT;
	r.ev.pid = pid;
	r.ev.tid = pid + 1;
	r.ev.family = family;
	r.ev.proto = proto;
	memcpy(r.ev.comm, comm, strnlen(comm, EPH_COMM_LEN - 1));
	return r;
}

static struct eph_rec curl(uint8_t type)
{
	return rec(type, 100, "curl", AF_INET, IPPROTO_TCP);
}

static void test_empty_filter(void **state)
{
	struct eph_filter f = { 0 };
	struct eph_rec a = curl(EPH_ASSIGN), x = curl(EPH_FAIL), rel = curl(EPH_RELEASE);
	struct eph_rec tw = curl(EPH_TIME_WAIT);

	(void)state;
	assert_true(eph_filter_scope(&f, &a));
	assert_true(eph_filter_scope(&f, &x));
	assert_true(eph_filter_scope(&f, &rel));
	assert_true(eph_filter_scope(&f, &tw));
	assert_true(eph_filter_show(&f, &a));
	assert_true(eph_filter_show(&f, &x));
	assert_false(eph_filter_show(&f, &rel));
	assert_false(eph_filter_show(&f, &tw));
}

static void test_pid(void **state)
{
	struct eph_filter f = { .pid = 100 };
	struct eph_rec r = curl(EPH_ASSIGN);

	(void)state;
	assert_true(eph_filter_scope(&f, &r));
	assert_true(eph_filter_show(&f, &r));
	/* The tgid counts, not the thread. */
	f.pid = 101;
	assert_false(eph_filter_scope(&f, &r));
	assert_false(eph_filter_show(&f, &r));
}

static void test_comm(void **state)
{
	struct eph_filter f = { 0 };
	struct eph_rec r = curl(EPH_FAIL);
	struct eph_rec longname = rec(EPH_FAIL, 5, "abcdefghijklmno", AF_INET, IPPROTO_TCP);

	(void)state;
	strcpy(f.comm, "curl");
	assert_true(eph_filter_scope(&f, &r));
	assert_true(eph_filter_show(&f, &r));
	/* Exact match only: neither a prefix nor a longer name. */
	strcpy(f.comm, "cur");
	assert_false(eph_filter_scope(&f, &r));
	strcpy(f.comm, "curl2");
	assert_false(eph_filter_scope(&f, &r));
	strcpy(f.comm, "CURL");
	assert_false(eph_filter_scope(&f, &r));
	/* A 15-character name, the longest a task has. */
	strcpy(f.comm, "abcdefghijklmno");
	assert_true(eph_filter_scope(&f, &longname));
	assert_false(eph_filter_scope(&f, &r));
}

static void test_family(void **state)
{
	struct eph_filter f = { .family = AF_INET };
	struct eph_rec v4 = curl(EPH_ASSIGN);
	struct eph_rec v6 = rec(EPH_ASSIGN, 100, "curl", AF_INET6, IPPROTO_TCP);

	(void)state;
	assert_true(eph_filter_scope(&f, &v4));
	assert_false(eph_filter_scope(&f, &v6));
	f.family = AF_INET6;
	assert_false(eph_filter_scope(&f, &v4));
	assert_true(eph_filter_scope(&f, &v6));
	assert_true(eph_filter_show(&f, &v6));
}

static void test_proto(void **state)
{
	struct eph_filter f = { .proto = IPPROTO_UDP };
	struct eph_rec tcp = curl(EPH_FAIL);
	struct eph_rec udp = rec(EPH_FAIL, 100, "curl", AF_INET, IPPROTO_UDP);

	(void)state;
	assert_false(eph_filter_scope(&f, &tcp));
	assert_true(eph_filter_scope(&f, &udp));
	f.proto = IPPROTO_TCP;
	assert_true(eph_filter_scope(&f, &tcp));
	assert_false(eph_filter_scope(&f, &udp));
	assert_false(eph_filter_show(&f, &udp));
}

static void test_all_fields(void **state)
{
	struct eph_filter f = { .pid = 100, .family = AF_INET, .proto = IPPROTO_TCP };
	struct eph_rec r = curl(EPH_ASSIGN), other;

	(void)state;
	strcpy(f.comm, "curl");
	assert_true(eph_filter_scope(&f, &r));
	/* Each field alone can put the event out of scope. */
	other = r;
	other.ev.pid = 7;
	assert_false(eph_filter_scope(&f, &other));
	other = r;
	strcpy(other.ev.comm, "wget");
	assert_false(eph_filter_scope(&f, &other));
	other = r;
	other.ev.family = AF_INET6;
	assert_false(eph_filter_scope(&f, &other));
	other = r;
	other.ev.proto = IPPROTO_UDP;
	assert_false(eph_filter_scope(&f, &other));
}

static void test_failures_only(void **state)
{
	struct eph_filter f = { .failures_only = true };
	struct eph_rec a = curl(EPH_ASSIGN), x = curl(EPH_FAIL), rel = curl(EPH_RELEASE);

	(void)state;
	assert_false(eph_filter_show(&f, &a));
	assert_true(eph_filter_show(&f, &x));
	assert_false(eph_filter_show(&f, &rel));
	/* The summary still counts assignments: scope ignores what is shown. */
	assert_true(eph_filter_scope(&f, &a));
	assert_true(eph_filter_scope(&f, &rel));
	/* --failures-only wins over --releases. */
	f.releases = true;
	assert_false(eph_filter_show(&f, &rel));
	assert_false(eph_filter_show(&f, &a));
	assert_true(eph_filter_show(&f, &x));
}

static void test_releases(void **state)
{
	struct eph_filter f = { .releases = true };
	struct eph_rec a = curl(EPH_ASSIGN), x = curl(EPH_FAIL), rel = curl(EPH_RELEASE);
	struct eph_rec tw = curl(EPH_TIME_WAIT);

	(void)state;
	assert_true(eph_filter_show(&f, &a));
	assert_true(eph_filter_show(&f, &x));
	assert_true(eph_filter_show(&f, &rel));
	/* A move to TIME_WAIT is never printed. */
	assert_false(eph_filter_show(&f, &tw));
}

static void test_show_needs_scope(void **state)
{
	struct eph_filter f = { .pid = 999, .releases = true, .failures_only = false };
	struct eph_rec x = curl(EPH_FAIL), rel = curl(EPH_RELEASE);

	(void)state;
	assert_false(eph_filter_show(&f, &x));
	assert_false(eph_filter_show(&f, &rel));
	f.failures_only = true;
	assert_false(eph_filter_show(&f, &x));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_filter),
		cmocka_unit_test(test_pid),
		cmocka_unit_test(test_comm),
		cmocka_unit_test(test_family),
		cmocka_unit_test(test_proto),
		cmocka_unit_test(test_all_fields),
		cmocka_unit_test(test_failures_only),
		cmocka_unit_test(test_releases),
		cmocka_unit_test(test_show_needs_scope),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
