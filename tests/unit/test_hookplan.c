// SPDX-License-Identifier: GPL-2.0
/* Unit tests of user/core/hookplan.c: one style per hooked function, the fall-back to kprobe and
 * to the tracepoint stand-ins. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ephtrace.h"
#include "hookplan.h"

/* The hook programs of bpf/kfunc.bpf.h, in both styles, as the loader meets them. */
static const char *const secs[] = {
	"fentry/inet_hash_connect",   "fexit/inet_hash_connect",
	"fentry/inet_csk_get_port",   "fexit/inet_csk_get_port",
	"fentry/inet_twsk_hashdance", "fentry/inet_twsk_hashdance_schedule",
	"kprobe/inet_hash_connect",   "kretprobe/inet_hash_connect",
	"kprobe/inet_csk_get_port",   "kretprobe/inet_csk_get_port",
	"kprobe/inet_twsk_hashdance", "kprobe/inet_twsk_hashdance_schedule",
};

static void plan_of(struct eph_hookplan *p, int style, bool mix)
{
	size_t i;
	const char *fn;

	eph_hookplan_init(p, style, mix);
	for (i = 0; i < sizeof(secs) / sizeof(secs[0]); i++)
		if (eph_hook_section(secs[i], &fn) == style)
			assert_int_equal(eph_hookplan_add(p, secs[i]), 0);
}

static void test_section(void **state)
{
	const char *fn = NULL;

	(void)state;
	assert_int_equal(eph_hook_section("fexit/udp_lib_get_port", &fn), EPH_BACKEND_FENTRY);
	assert_string_equal(fn, "udp_lib_get_port");
	assert_int_equal(eph_hook_section("kretprobe/inet_autobind", &fn), EPH_BACKEND_KPROBE);
	assert_string_equal(fn, "inet_autobind");
	assert_int_equal(eph_hook_section("raw_tp/inet_sock_set_state", &fn), 0);
	assert_int_equal(eph_hook_section("fentry/", &fn), 0);
	assert_int_equal(eph_hook_section("cgroup/sock_release", &fn), 0);
}

static void test_one_hook_per_function(void **state)
{
	struct eph_hookplan p;

	(void)state;
	plan_of(&p, EPH_BACKEND_FENTRY, true);
	assert_int_equal(p.n, 4); /* entry and exit are one hook */
	assert_int_equal(eph_hookplan_count(&p, EPH_BACKEND_FENTRY), 4);
	assert_true(eph_hookplan_wants(&p, "fentry/inet_hash_connect"));
	assert_true(eph_hookplan_wants(&p, "fexit/inet_hash_connect"));
	assert_false(eph_hookplan_wants(&p, "kprobe/inet_hash_connect"));
	assert_false(eph_hookplan_wants(&p, "raw_tp/inet_sock_set_state"));
	assert_int_equal(eph_hookplan_add(&p, "raw_tp/x"), -EINVAL);
}

static void test_fall_back_moves_the_pair(void **state)
{
	struct eph_hookplan p;
	char buf[512];

	(void)state;
	plan_of(&p, EPH_BACKEND_FENTRY, true);
	/* the exit's failure moves the entry too: a call's two halves share one style */
	assert_int_equal(eph_hookplan_fall_back(&p, "fexit/inet_csk_get_port", "EBUSY"), 0);
	assert_false(eph_hookplan_wants(&p, "fentry/inet_csk_get_port"));
	assert_false(eph_hookplan_wants(&p, "fexit/inet_csk_get_port"));
	assert_true(eph_hookplan_wants(&p, "kprobe/inet_csk_get_port"));
	assert_true(eph_hookplan_wants(&p, "kretprobe/inet_csk_get_port"));
	assert_true(eph_hookplan_wants(&p, "fentry/inet_hash_connect"));
	assert_int_equal(eph_hookplan_count(&p, EPH_BACKEND_KPROBE), 1);
	assert_int_equal(eph_hookplan_backend(&p), EPH_BACKEND_FENTRY);
	assert_int_equal(eph_hookplan_standin(&p), 0);
	assert_true(eph_hookplan_mixed(&p));
	assert_int_equal(eph_hookplan_fall_back(&p, "fentry/nope", "x"), -EINVAL);
	eph_hookplan_describe(&p, buf, sizeof(buf));
	assert_string_equal(buf,
			    "inet_hash_connect fentry, inet_csk_get_port kprobe (fentry: EBUSY), "
			    "inet_twsk_hashdance fentry, inet_twsk_hashdance_schedule fentry");
}

static void test_forced_style_does_not_mix(void **state)
{
	struct eph_hookplan p;

	(void)state;
	plan_of(&p, EPH_BACKEND_FENTRY, false);
	assert_int_equal(eph_hookplan_fall_back(&p, "fentry/inet_hash_connect", "x"), -EPERM);
	assert_true(eph_hookplan_wants(&p, "fentry/inet_hash_connect"));
	plan_of(&p, EPH_BACKEND_KPROBE, false);
	assert_int_equal(eph_hookplan_fall_back(&p, "kprobe/inet_hash_connect", "x"), -EPERM);
	plan_of(&p, EPH_BACKEND_TRACEPOINT, true); /* only fentry and kprobe plans mix */
	assert_false(p.mix);
	plan_of(&p, EPH_BACKEND_KPROBE, true);
	assert_true(p.mix);
	assert_int_equal(eph_hookplan_backend(&p), EPH_BACKEND_KPROBE);
	assert_false(eph_hookplan_mixed(&p));
}

static void test_kprobe_falls_to_its_stand_in(void **state)
{
	struct eph_hookplan p;
	char buf[512];

	(void)state;
	plan_of(&p, EPH_BACKEND_FENTRY, true);
	assert_int_equal(eph_hookplan_fall_back(&p, "fentry/inet_csk_get_port", "EBUSY"), 0);
	assert_int_equal(eph_hookplan_fall_back(&p, "kretprobe/inet_csk_get_port", "ENOENT"), 0);
	assert_false(eph_hookplan_wants(&p, "kprobe/inet_csk_get_port"));
	assert_false(eph_hookplan_wants(&p, "fexit/inet_csk_get_port"));
	assert_int_equal(eph_hookplan_count(&p, EPH_BACKEND_TRACEPOINT), 1);
	assert_int_equal(eph_hookplan_standin(&p), EPH_STANDIN_TCP_BIND);
	assert_int_equal(eph_hookplan_backend(&p), EPH_BACKEND_FENTRY);
	/* a program of a style the hook has left: nothing new */
	assert_int_equal(eph_hookplan_fall_back(&p, "fentry/inet_csk_get_port", "x"), 0);
	assert_int_equal(eph_hookplan_count(&p, EPH_BACKEND_TRACEPOINT), 1);
	/* nothing after the stand-in; a kprobe hook of no group has none */
	assert_int_equal(eph_hookplan_fall_back(&p, "tracepoint/inet_csk_get_port", "x"), -EINVAL);
	assert_int_equal(eph_hookplan_fall_back(&p, "fentry/inet_twsk_hashdance", "x"), 0);
	assert_int_equal(eph_hookplan_add(&p, "fentry/no_group"), 0);
	assert_int_equal(eph_hookplan_fall_back(&p, "fentry/no_group", "x"), 0);
	assert_int_equal(eph_hookplan_fall_back(&p, "kprobe/no_group", "x"), -ENOENT);
	eph_hookplan_describe(&p, buf, sizeof(buf));
	assert_string_equal(buf,
			    "inet_hash_connect fentry, inet_csk_get_port tracepoint (fentry: "
			    "EBUSY; kprobe: ENOENT), inet_twsk_hashdance kprobe (fentry: x), "
			    "inet_twsk_hashdance_schedule fentry, no_group kprobe (fentry: x)");
}

static void test_a_group_falls_whole(void **state)
{
	struct eph_hookplan p;
	char buf[512];

	(void)state;
	plan_of(&p, EPH_BACKEND_KPROBE, true);
	eph_hookplan_leave_out(&p, "inet_twsk_hashdance", "not in this kernel's BTF");
	/* the TIME_WAIT hook's group (the TCP releases) moves whole; a hook left out stays out */
	assert_int_equal(
		eph_hookplan_fall_back(&p, "kprobe/inet_twsk_hashdance_schedule", "ENOENT"), 0);
	assert_int_equal(eph_hookplan_standin(&p), EPH_STANDIN_TCP_RELEASE);
	assert_int_equal(eph_hookplan_count(&p, EPH_BACKEND_KPROBE), 2);
	eph_hookplan_describe(&p, buf, sizeof(buf));
	assert_string_equal(buf, "inet_hash_connect kprobe, inet_csk_get_port kprobe, "
				 "inet_twsk_hashdance left out (not in this kernel's BTF), "
				 "inet_twsk_hashdance_schedule tracepoint (kprobe: ENOENT)");
	assert_int_equal(eph_hookplan_fall_back(&p, "kprobe/inet_hash_connect", "EINVAL"), 0);
	assert_int_equal(eph_hookplan_fall_back(&p, "kprobe/inet_csk_get_port", "EINVAL"), 0);
	assert_int_equal(eph_hookplan_standin(&p),
			 EPH_STANDIN_TCP_RELEASE | EPH_STANDIN_TCP_CONNECT | EPH_STANDIN_TCP_BIND);
	assert_int_equal(eph_hookplan_backend(&p), EPH_BACKEND_TRACEPOINT);
}

static void test_groups(void **state)
{
	(void)state;
	assert_int_equal(eph_hook_group("inet6_hash_connect"), EPH_STANDIN_TCP_CONNECT);
	assert_int_equal(eph_hook_group("inet_autobind"), EPH_STANDIN_UDP_PORT);
	assert_int_equal(eph_hook_group("inet_dgram_connect"), EPH_STANDIN_UDP_PORT);
	assert_int_equal(eph_hook_group("inet_twsk_bind_unhash"), EPH_STANDIN_TCP_RELEASE);
	assert_int_equal(eph_hook_group("udp_lib_unhash"), EPH_STANDIN_UDP_RELEASE);
	assert_int_equal(eph_hook_group("nope"), 0);
}

static void test_all_fallen_is_kprobe(void **state)
{
	struct eph_hookplan p;
	int i;

	(void)state;
	plan_of(&p, EPH_BACKEND_FENTRY, true);
	for (i = 0; i < p.n; i++) {
		char sec[96];

		snprintf(sec, sizeof(sec), "fentry/%s", p.hooks[i].fn);
		assert_int_equal(eph_hookplan_fall_back(&p, sec, "ENOTSUPP"), 0);
	}
	assert_int_equal(eph_hookplan_count(&p, EPH_BACKEND_FENTRY), 0);
	assert_int_equal(eph_hookplan_backend(&p), EPH_BACKEND_KPROBE);
}

static void test_left_out(void **state)
{
	struct eph_hookplan p;
	char buf[512], small[24];
	size_t need;

	(void)state;
	plan_of(&p, EPH_BACKEND_KPROBE, false);
	eph_hookplan_leave_out(&p, "inet_twsk_hashdance", "not in this kernel's BTF");
	assert_false(eph_hookplan_wants(&p, "kprobe/inet_twsk_hashdance"));
	assert_true(eph_hookplan_wants(&p, "kprobe/inet_twsk_hashdance_schedule"));
	assert_int_equal(eph_hookplan_count(&p, EPH_BACKEND_KPROBE), 3);
	need = eph_hookplan_describe(&p, buf, sizeof(buf));
	assert_string_equal(buf, "inet_hash_connect kprobe, inet_csk_get_port kprobe, "
				 "inet_twsk_hashdance left out (not in this kernel's BTF), "
				 "inet_twsk_hashdance_schedule kprobe");
	assert_int_equal(need, strlen(buf));
	/* a short buffer: cut and terminated, the length needed still told */
	assert_int_equal(eph_hookplan_describe(&p, small, sizeof(small)), need);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, buf, sizeof(small) - 1);
}

static void test_too_many(void **state)
{
	struct eph_hookplan p;
	char sec[64];
	int i;

	(void)state;
	eph_hookplan_init(&p, EPH_BACKEND_FENTRY, true);
	for (i = 0; i < EPH_MAX_HOOKS; i++) {
		snprintf(sec, sizeof(sec), "fentry/f%d", i);
		assert_int_equal(eph_hookplan_add(&p, sec), 0);
	}
	assert_int_equal(eph_hookplan_add(&p, "fentry/one_more"), -E2BIG);
	assert_int_equal(eph_hookplan_add(&p, "fexit/f3"), 0); /* known: no new hook */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_section),
		cmocka_unit_test(test_one_hook_per_function),
		cmocka_unit_test(test_fall_back_moves_the_pair),
		cmocka_unit_test(test_forced_style_does_not_mix),
		cmocka_unit_test(test_kprobe_falls_to_its_stand_in),
		cmocka_unit_test(test_a_group_falls_whole),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_all_fallen_is_kprobe),
		cmocka_unit_test(test_left_out),
		cmocka_unit_test(test_too_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
