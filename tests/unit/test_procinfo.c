// SPDX-License-Identifier: GPL-2.0
/* Unit tests of user/node/procinfo.c over this machine's own /proc: the cache, its TTL and
 * bound, and the facts a worker thread hands over. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <unistd.h>

#include "procinfo.h"

#define SEC 1000000000ull

static void test_self(void **state)
{
	struct eph_procinfo *pi = eph_procinfo__new(NULL, 0);
	const struct eph_pinfo *p;
	struct stat st;
	bool fresh;

	(void)state;
	assert_non_null(pi);
	assert_int_equal(stat("/proc/self/ns/net", &st), 0);
	p = eph_procinfo__get(pi, getpid(), 5 * SEC, &fresh);
	assert_non_null(p);
	assert_true(fresh);
	assert_int_equal(p->pid, getpid());
	assert_int_equal(p->netns, st.st_ino);
	assert_int_equal(p->learned_ns, 5 * SEC);
	/* cached until the TTL */
	p = eph_procinfo__get(pi, getpid(), 5 * SEC + EPH_PI_TTL_NS - 1, &fresh);
	assert_false(fresh);
	p = eph_procinfo__get(pi, getpid(), 5 * SEC + EPH_PI_TTL_NS, &fresh);
	assert_true(fresh);
	assert_int_equal(eph_procinfo__count(pi), 1);
	assert_null(eph_procinfo__get(pi, 0, SEC, &fresh));
	/* PID 1's, or (not readable in some sandboxes) our own */
	if (stat("/proc/1/ns/net", &st))
		assert_int_equal(stat("/proc/self/ns/net", &st), 0);
	assert_int_equal(eph_procinfo__init_netns(pi), st.st_ino);
	eph_procinfo__free(pi);
}

/* A pid that is gone: known as nothing, not read again before the TTL. */
static void test_gone(void **state)
{
	struct eph_procinfo *pi = eph_procinfo__new(NULL, 0);
	const struct eph_pinfo *p;
	bool fresh;

	(void)state;
	p = eph_procinfo__get(pi, 4194304 + 1, SEC, &fresh); /* above pid_max's ceiling */
	assert_non_null(p);
	assert_false(fresh);
	assert_null(p->ct);
	assert_null(p->cgroup);
	assert_int_equal(p->netns, 0);
	assert_int_equal(p->learned_ns, SEC);
	eph_procinfo__free(pi);
}

/* Bounded: at most max pids, the recent ones kept. */
static void test_bounded(void **state)
{
	struct eph_procinfo *pi = eph_procinfo__new(NULL, 16);
	uint32_t pid;
	bool fresh;

	(void)state;
	for (pid = 4194305; pid < 4194305 + 1000; pid++) {
		assert_non_null(eph_procinfo__get(pi, pid, pid * SEC, &fresh));
		assert_true(eph_procinfo__count(pi) <= 16);
	}
	/* the last one asked for is still there: not read again */
	assert_int_equal(eph_procinfo__get(pi, pid - 1, pid * SEC, &fresh)->learned_ns,
			 (uint64_t)(pid - 1) * SEC);
	eph_procinfo__free(pi);
}

/*
 * Full, a new pid first forgets those not asked for in the last TTL; when that would free less
 * than a quarter, all of them. A pid still cached is not read again (learned_ns stays).
 */
static void test_evict(void **state)
{
	const uint32_t base = 4194305; /* above pid_max's ceiling: gone, never read */
	struct eph_procinfo *pi = eph_procinfo__new(NULL, 8);
	uint32_t pid;

	(void)state;
	assert_non_null(pi);
	for (pid = base; pid < base + 4; pid++)
		assert_non_null(eph_procinfo__get(pi, pid, SEC, NULL));
	for (; pid < base + 8; pid++)
		assert_non_null(eph_procinfo__get(pi, pid, 40 * SEC, NULL));
	assert_int_equal(eph_procinfo__count(pi), 8);
	/* the four last asked for at 1 s are older than the TTL at 41 s: they go, no other */
	assert_non_null(eph_procinfo__get(pi, base + 8, 41 * SEC, NULL));
	assert_int_equal(eph_procinfo__count(pi), 5);
	assert_int_equal(eph_procinfo__get(pi, base + 4, 42 * SEC, NULL)->learned_ns, 40 * SEC);
	assert_int_equal(eph_procinfo__get(pi, base, 42 * SEC, NULL)->learned_ns, 42 * SEC);
	assert_int_equal(eph_procinfo__count(pi), 6);
	for (pid = base + 9; pid < base + 11; pid++)
		assert_non_null(eph_procinfo__get(pi, pid, 42 * SEC, NULL));
	assert_int_equal(eph_procinfo__count(pi), 8);
	/* none older than the TTL at 50 s: all go, the new one stays */
	assert_non_null(eph_procinfo__get(pi, base + 11, 50 * SEC, NULL));
	assert_int_equal(eph_procinfo__count(pi), 1);
	assert_int_equal(eph_procinfo__get(pi, base + 11, 51 * SEC, NULL)->learned_ns, 50 * SEC);
	assert_int_equal(eph_procinfo__count(pi), 1);
	eph_procinfo__free(pi);
}

/* Facts made apart (a worker) and applied later: copies, made when they may change anything. */
static void test_fact(void **state)
{
	struct eph_procinfo *pi = eph_procinfo__new(NULL, 0);
	struct eph_occ *occ = eph_occ__new(&(struct eph_occ_opts){ 0 });
	struct eph_pfact f;
	bool in_ct;

	(void)state;
	assert_non_null(pi);
	assert_non_null(occ);
	assert_int_equal(eph_procinfo__fact(pi, 0, SEC, &f), 0);
	assert_int_equal(eph_procinfo__fact(pi, getpid(), SEC, &f), 1); /* read now */
	assert_true(f.fresh);
	assert_int_equal(f.pid, getpid());
	in_ct = f.ct != NULL; /* this test may run in a container */
	if (!in_ct)
		assert_int_equal(f.claim_netns, 0);
	eph_procinfo__free(pi); /* the fact does not point into the cache */
	if (f.cgroup)
		assert_int_equal(f.cgroup[0], '/');
	assert_int_equal(eph_pfact__apply(&f, occ), 0);
	assert_true((eph_occ__container(occ, getpid()) != NULL) == in_ct);
	eph_pfact__clear(&f);
	eph_pfact__clear(&f); /* twice: nothing left */
	assert_null(f.cgroup);
	assert_int_equal(eph_pfact__apply(&f, occ), 0); /* empty: nothing */

	/* within the TTL: the facts read before, container or none, for an occupancy that does
	 * not know the process's container (it pruned the process and met it again); one that
	 * knows it is left alone */
	pi = eph_procinfo__new(NULL, 0);
	assert_int_equal(eph_procinfo__fact(pi, getpid(), SEC, &f), 1);
	eph_pfact__clear(&f);
	assert_int_equal(eph_procinfo__fact(pi, getpid(), 2 * SEC, &f), 1);
	assert_false(f.fresh);
	assert_true((f.ct != NULL) == in_ct);
	eph_occ__free(occ);
	occ = eph_occ__new(&(struct eph_occ_opts){ 0 });
	assert_non_null(occ);
	assert_false(eph_occ__container_known(occ, getpid(), NULL));
	assert_int_equal(eph_pfact__apply(&f, occ), 0);
	assert_true(eph_occ__container_known(occ, getpid(), NULL));
	eph_pfact__clear(&f);
	/* a pid that is gone before it could be read: nothing to say, not even "no container" */
	assert_int_equal(eph_procinfo__apply(pi, occ, 0x3ffffff0, 3 * SEC), 0);
	assert_false(eph_occ__container_known(occ, 0x3ffffff0, NULL));
	assert_int_equal(eph_procinfo__fact(pi, 0x3ffffff0, 3 * SEC, &f), 0);
	eph_procinfo__free(pi);
	eph_occ__free(occ);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self),
		cmocka_unit_test(test_gone),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_evict),
		cmocka_unit_test(test_fact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
