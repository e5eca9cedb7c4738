// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of serve's failure series by process identity (user/core/metrics_procs.c), fed
 * through the one per-process table, the occupancy's (user/core/occ_procs.c): failures are
 * events, containers and exits what the tracker tells the occupancy, and the series the rows
 * of ephtrace_process_port_failures_total.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "metrics.h"
#include "occupancy.h"

#define SEC 1000000000ull

struct fx {
	struct eph_occ *occ;
	struct eph_proc_counts *pc;
};

static void fx_init(struct fx *f, uint32_t max_procs, uint32_t max_series, bool by_pid)
{
	struct eph_occ_opts oo = { .max_ports = max_procs };

	f->occ = eph_occ__new(&oo);
	f->pc = eph_proc_counts__new(max_series, by_pid);
	assert_non_null(f->occ);
	assert_non_null(f->pc);
	eph_occ__count_series(f->occ, f->pc);
	eph_occ__start(f->occ, 0);
}

static void fx_fini(struct fx *f)
{
	eph_occ__free(f->occ);
	eph_proc_counts__free(f->pc);
}

static struct eph_rec rec(uint8_t type, uint32_t pid, const char *comm, int err, uint64_t ts_ns)
{
	struct eph_rec r;

	memset(&r, 0, sizeof(r));
	r.ev.type = type;
	r.ev.op = EPH_OP_CONNECT;
	r.ev.pid = pid;
	r.ev.tid = pid;
	r.ev.err = err;
	r.ev.family = AF_INET;
	r.ev.proto = IPPROTO_TCP;
	r.ev.ts_ns = ts_ns;
	memcpy(r.ev.comm, comm, strnlen(comm, EPH_COMM_LEN - 1));
	return r;
}

static void fail_at(struct fx *f, uint32_t pid, const char *comm, int err, uint64_t ts_ns)
{
	struct eph_rec r = rec(EPH_FAIL, pid, comm, err, ts_ns);

	assert_int_equal(eph_occ__event(f->occ, &r), 0);
}

/* The pids alive: a zero-terminated list. */
static bool listed_alive(uint32_t pid, void *ctx)
{
	const uint32_t *p;

	for (p = ctx; *p; p++)
		if (*p == pid)
			return true;
	return false;
}

/* What the tracker does at a tick: the exits it found, the waiting failures settled, the
 * prune. */
static void tick(struct fx *f, uint64_t now_ns, const uint32_t *alive)
{
	if (alive)
		eph_occ__check_exited(f->occ, listed_alive, (void *)alive);
	assert_int_equal(eph_occ__settle_series(f->occ, now_ns), 0);
	eph_occ__prune(f->occ, now_ns);
}

/* The rows of pc, checked to be unique by labels; the count of (pid, comm, container id,
 * err), 0 when no row. */
static uint64_t pc_count(const struct eph_proc_counts *pc, uint32_t pid, const char *comm,
			 const char *ct_id, int err, size_t *nrows)
{
	struct eph_metrics_proc_fail *f;
	struct eph_container *cts;
	uint64_t n = 0;
	size_t nf, i, hits = 0;

	assert_int_equal(eph_proc_counts__rows(pc, &f, &nf, &cts), 0);
	for (i = 0; i < nf; i++) {
		const char *id = f[i].ct ? f[i].ct->id : "";

		if (f[i].pid == pid && !strcmp(f[i].comm, comm) && !strcmp(id, ct_id) &&
		    f[i].err == err) {
			n = f[i].count;
			hits++;
		}
	}
	assert_true(hits <= 1);
	if (nrows)
		*nrows = nf;
	free(f);
	free(cts);
	return n;
}

/*
 * Two pids of one name in one container are one series (their sum); the failures of a pid
 * whose container is not known yet wait for it; a pid exiting keeps its failures in the
 * series, which a new pid of the same identity goes on counting (never back to 0) while the
 * table is under half full; one not known for 30 s is counted without container labels.
 */
static void test_series(void **state)
{
	static const struct eph_container web = { .runtime = "docker", .id = "c0ffee" };
	uint32_t alive_10_20_30[] = { 10, 20, 30, 0 }, alive_all[] = { 10, 11, 20, 30, 0 };
	uint32_t alive_none[] = { 0 }, alive_12[] = { 12, 0 };
	struct eph_occ_stats st;
	struct fx f;
	size_t nrows;
	int e;

	(void)state;
	assert_null(eph_proc_counts__new(0, false));
	fx_init(&f, 0, 8, false);
	fail_at(&f, 10, "web", EADDRNOTAVAIL, 1 * SEC);
	fail_at(&f, 10, "web", EADDRNOTAVAIL, 1 * SEC);
	fail_at(&f, 11, "web", EADDRNOTAVAIL, 1 * SEC);
	fail_at(&f, 11, "web", EADDRNOTAVAIL, 1 * SEC);
	fail_at(&f, 11, "web", EADDRNOTAVAIL, 1 * SEC);
	fail_at(&f, 20, "curl", EADDRNOTAVAIL, 1 * SEC);
	/* one row per process: its own failure count (top, status) is there at once */
	assert_int_equal(eph_occ__proc(f.occ, 11, 1 * SEC, &st), 0);
	assert_true(st.failures == 3);

	/* no container known yet: pending, not shown (it would move to another series later) */
	assert_int_equal(eph_proc_counts__pending(f.pc), 3);
	assert_int_equal(pc_count(f.pc, 0, "web", "", EADDRNOTAVAIL, &nrows), 0);
	assert_int_equal(nrows, 0);
	tick(&f, 1 * SEC, NULL);
	assert_int_equal(eph_proc_counts__pending(f.pc), 3);

	/* known: both pids of web in the container are one series, the sum, with no pid */
	assert_int_equal(eph_occ__set_container(f.occ, 10, &web), 0);
	assert_int_equal(eph_occ__set_container(f.occ, 11, &web), 0);
	assert_int_equal(eph_occ__set_container(f.occ, 20, NULL), 0); /* a host process */
	tick(&f, 1 * SEC, NULL);
	assert_int_equal(eph_proc_counts__pending(f.pc), 0);
	assert_int_equal(eph_proc_counts__series(f.pc), 2);
	assert_int_equal(pc_count(f.pc, 0, "web", "c0ffee", EADDRNOTAVAIL, &nrows), 5);
	assert_int_equal(pc_count(f.pc, 0, "curl", "", EADDRNOTAVAIL, NULL), 1);
	assert_int_equal(nrows, 2);
	fail_at(&f, 11, "web", EADDRNOTAVAIL, 2 * SEC); /* straight in */
	fail_at(&f, 11, "web", EADDRINUSE, 2 * SEC);
	assert_int_equal(pc_count(f.pc, 0, "web", "c0ffee", EADDRNOTAVAIL, NULL), 6);
	assert_int_equal(pc_count(f.pc, 0, "web", "c0ffee", EADDRINUSE, NULL), 1);

	/* 11 exits: the series keeps its failures */
	tick(&f, 3 * SEC, alive_10_20_30);
	tick(&f, 13 * SEC, NULL); /* its row goes after the window */
	assert_int_equal(eph_occ__proc(f.occ, 11, 13 * SEC, &st), -ENOENT);
	assert_int_equal(pc_count(f.pc, 0, "web", "c0ffee", EADDRNOTAVAIL, NULL), 6);
	assert_int_equal(pc_count(f.pc, 0, "web", "c0ffee", EADDRINUSE, NULL), 1);
	/* a live process counting into a series keeps its row past the window */
	assert_int_equal(eph_occ__proc(f.occ, 10, 13 * SEC, &st), 0);

	/* a pid whose container is never known: counted without one after 30 s, its row kept
	 * while it waits */
	fail_at(&f, 30, "late", EAGAIN, 13 * SEC);
	tick(&f, 14 * SEC, alive_all);
	assert_int_equal(pc_count(f.pc, 0, "late", "", EAGAIN, NULL), 0);
	tick(&f, 40 * SEC, alive_all);
	assert_int_equal(eph_occ__proc(f.occ, 30, 40 * SEC, &st), 0);
	assert_int_equal(pc_count(f.pc, 0, "late", "", EAGAIN, NULL), 0);
	tick(&f, 13 * SEC + EPH_PROC_PENDING_NS, alive_all);
	assert_int_equal(pc_count(f.pc, 0, "late", "", EAGAIN, NULL), 1);
	assert_int_equal(eph_proc_counts__pending(f.pc), 0);

	/* every pid gone: under half full (3 of 8 series), the counters stay; a new pid of web
	 * in the container goes on from them */
	tick(&f, 60 * SEC, alive_none);
	assert_int_equal(eph_proc_counts__series(f.pc), 3);
	assert_int_equal(pc_count(f.pc, 0, "web", "c0ffee", EADDRNOTAVAIL, NULL), 6);
	fail_at(&f, 12, "web", EADDRNOTAVAIL, 61 * SEC);
	assert_int_equal(pc_count(f.pc, 0, "web", "c0ffee", EADDRNOTAVAIL, NULL), 6); /* pending */
	assert_int_equal(eph_occ__set_container(f.occ, 12, &web), 0);
	tick(&f, 61 * SEC, NULL);
	assert_int_equal(pc_count(f.pc, 0, "web", "c0ffee", EADDRNOTAVAIL, NULL), 7);

	/* half full (4 of 8): the series no live pid counts into go, that of 12 stays; 40, gone,
	 * had its failure counted without container at once, its series too */
	fail_at(&f, 40, "other", EADDRNOTAVAIL, 62 * SEC);
	tick(&f, 62 * SEC, alive_12);
	assert_int_equal(eph_proc_counts__series(f.pc), 1);
	assert_int_equal(pc_count(f.pc, 0, "other", "", EADDRNOTAVAIL, NULL), 0);
	assert_int_equal(pc_count(f.pc, 0, "web", "c0ffee", EADDRNOTAVAIL, &nrows), 7);
	assert_int_equal(nrows, 2); /* and EADDRINUSE */

	/* at most 8 errnos per series; further ones are counted as untracked */
	assert_int_equal(eph_proc_counts__untracked(f.pc), 0);
	for (e = 1; e <= 9; e++)
		fail_at(&f, 12, "web", 200 + e, 81 * SEC);
	/* EADDRNOTAVAIL and EADDRINUSE took two of the 8 */
	assert_int_equal(eph_proc_counts__untracked(f.pc), 3);
	fx_fini(&f);
	eph_proc_counts__free(NULL);
}

/* A process that exec()s another name is another identity: its failures wait for their
 * container again, then count into the new name's series; the old one keeps its count. */
static void test_series_new_name(void **state)
{
	static const struct eph_container web = { .runtime = "docker", .id = "c0ffee" };
	struct fx f;

	(void)state;
	fx_init(&f, 0, 8, false);
	assert_int_equal(eph_occ__set_container(f.occ, 10, &web), 0);
	fail_at(&f, 10, "sh", EADDRNOTAVAIL, 1 * SEC);
	tick(&f, 1 * SEC, NULL);
	assert_int_equal(pc_count(f.pc, 0, "sh", "c0ffee", EADDRNOTAVAIL, NULL), 1);
	fail_at(&f, 10, "web", EADDRNOTAVAIL, 2 * SEC);
	fail_at(&f, 10, "web", EADDRNOTAVAIL, 2 * SEC);
	assert_int_equal(eph_proc_counts__pending(f.pc), 1);
	tick(&f, 2 * SEC, NULL);
	assert_int_equal(pc_count(f.pc, 0, "sh", "c0ffee", EADDRNOTAVAIL, NULL), 1);
	assert_int_equal(pc_count(f.pc, 0, "web", "c0ffee", EADDRNOTAVAIL, NULL), 2);
	fx_fini(&f);
}

/* With by_pid (serve --pid-labels): a series per pid, which goes with it. */
static void test_series_by_pid(void **state)
{
	static const struct eph_container web = { .runtime = "docker", .id = "c0ffee" };
	uint32_t alive_10[] = { 10, 0 };
	struct eph_occ_stats st;
	struct fx f;
	size_t nrows;

	(void)state;
	fx_init(&f, 0, 8, true);
	fail_at(&f, 10, "web", EADDRNOTAVAIL, SEC);
	fail_at(&f, 11, "web", EADDRNOTAVAIL, SEC);
	fail_at(&f, 11, "web", EADDRNOTAVAIL, SEC);
	assert_int_equal(eph_occ__set_container(f.occ, 10, &web), 0);
	assert_int_equal(eph_occ__set_container(f.occ, 11, &web), 0);
	tick(&f, SEC, NULL);
	assert_int_equal(pc_count(f.pc, 10, "web", "c0ffee", EADDRNOTAVAIL, &nrows), 1);
	assert_int_equal(pc_count(f.pc, 11, "web", "c0ffee", EADDRNOTAVAIL, NULL), 2);
	assert_int_equal(nrows, 2);
	tick(&f, 2 * SEC, alive_10); /* 11 exits: its series goes at once */
	assert_int_equal(pc_count(f.pc, 11, "web", "c0ffee", EADDRNOTAVAIL, &nrows), 0);
	assert_int_equal(nrows, 1);
	assert_int_equal(eph_occ__proc(f.occ, 11, 2 * SEC, &st), 0); /* its row, until the window */
	tick(&f, 12 * SEC, NULL);
	assert_int_equal(eph_occ__proc(f.occ, 11, 12 * SEC, &st), -ENOENT);
	fx_fini(&f);
}

/*
 * A pid the kernel hands out again: an event of a pid whose row says it exited is a new
 * process. It is alive again (checked for exit again), its container is learnt anew (not the
 * old process's), its failures wait for it; what the old one had waiting is settled first,
 * with the old name.
 */
static void test_series_pid_reused(void **state)
{
	static const struct eph_container web = { .runtime = "docker", .id = "c0ffee" };
	uint32_t alive_none[] = { 0 };
	struct eph_occ_stats st;
	struct fx f;

	(void)state;
	fx_init(&f, 0, 8, false);
	assert_int_equal(eph_occ__set_container(f.occ, 10, &web), 0);
	fail_at(&f, 10, "web", EADDRNOTAVAIL, 1 * SEC);
	fail_at(&f, 10, "web", EADDRNOTAVAIL, 1 * SEC);
	tick(&f, 1 * SEC, NULL);
	assert_int_equal(pc_count(f.pc, 0, "web", "c0ffee", EADDRNOTAVAIL, NULL), 2);
	tick(&f, 2 * SEC, alive_none); /* 10 exits; its row stays for the window */
	assert_int_equal(eph_occ__proc(f.occ, 10, 2 * SEC, &st), 0);
	assert_true(st.exited);

	/* 10 again, another program outside the container */
	fail_at(&f, 10, "curl", EAGAIN, 3 * SEC);
	assert_int_equal(eph_occ__proc(f.occ, 10, 3 * SEC, &st), 0);
	assert_false(st.exited);
	assert_false(eph_occ__container_known(f.occ, 10, NULL));
	assert_int_equal(eph_proc_counts__pending(f.pc), 1);
	tick(&f, 3 * SEC, NULL);
	assert_int_equal(pc_count(f.pc, 0, "curl", "c0ffee", EAGAIN, NULL), 0);
	assert_int_equal(eph_occ__set_container(f.occ, 10, NULL), 0);
	tick(&f, 4 * SEC, NULL);
	assert_int_equal(pc_count(f.pc, 0, "curl", "", EAGAIN, NULL), 1);
	assert_int_equal(pc_count(f.pc, 0, "web", "c0ffee", EADDRNOTAVAIL, NULL), 2);
	tick(&f, 5 * SEC, alive_none); /* and it exits in its turn */
	assert_int_equal(eph_occ__proc(f.occ, 10, 5 * SEC, &st), 0);
	assert_true(st.exited);

	/* 20's failure waits for its container when 20 exits and comes back at once: settled
	 * without one, under its old name */
	fail_at(&f, 20, "old", EADDRINUSE, 6 * SEC);
	eph_occ__proc_exited(f.occ, 20);
	fail_at(&f, 20, "new", EADDRINUSE, 6 * SEC);
	assert_int_equal(pc_count(f.pc, 0, "old", "", EADDRINUSE, NULL), 1);
	assert_int_equal(eph_proc_counts__pending(f.pc), 1); /* new's */
	assert_int_equal(pc_count(f.pc, 0, "new", "", EADDRINUSE, NULL), 0);
	fx_fini(&f);
}

/* What the tables cannot hold is counted in untracked: a process the per-process table has
 * no row for, one past the processes the series may follow at once (max), a failure in
 * interrupt context (no process). */
static void test_series_full(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, 3, 1, false);
	fail_at(&f, 1, "a", EAGAIN, SEC);
	assert_int_equal(eph_proc_counts__untracked(f.pc), 0);
	fail_at(&f, 2, "b", EAGAIN, SEC); /* a row, but 1 process followed at most */
	assert_int_equal(eph_proc_counts__untracked(f.pc), 1);
	fail_at(&f, 3, "c", EAGAIN, SEC);
	fail_at(&f, 4, "d", EAGAIN, SEC); /* a fourth process: no row */
	assert_int_equal(eph_proc_counts__untracked(f.pc), 3);
	fail_at(&f, 0, "", EAGAIN, SEC);
	assert_int_equal(eph_proc_counts__untracked(f.pc), 4);
	assert_int_equal(eph_occ__set_container(f.occ, 1, NULL), 0);
	tick(&f, SEC, NULL);
	assert_int_equal(eph_proc_counts__series(f.pc), 1);
	assert_int_equal(pc_count(f.pc, 0, "a", "", EAGAIN, NULL), 1);
	assert_int_equal(eph_proc_counts__pending(f.pc), 0);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_series),
		cmocka_unit_test(test_series_new_name),
		cmocka_unit_test(test_series_by_pid),
		cmocka_unit_test(test_series_pid_reused),
		cmocka_unit_test(test_series_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
