// SPDX-License-Identifier: GPL-2.0
/* Unit tests of user/core/summary.c: the per-process table and its JSON and text forms. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "summary.h"

static struct eph_rec rec(uint8_t type, uint32_t pid, const char *comm, int err, uint16_t flags)
{
	struct eph_rec r;

	memset(&r, 0, sizeof(r));
	r.ev.type = type;
	r.ev.op = type == EPH_RELEASE || type == EPH_TIME_WAIT ? EPH_OP_NONE : EPH_OP_CONNECT;
	r.ev.pid = pid;
	r.ev.tid = pid;
	r.ev.err = err;
	r.ev.flags = flags;
	r.ev.family = AF_INET;
	r.ev.proto = IPPROTO_TCP;
	r.ev.backend = EPH_BACKEND_TRACEPOINT;
	memcpy(r.ev.comm, comm, strnlen(comm, EPH_COMM_LEN - 1));
	return r;
}

static void add(struct eph_summary *s, uint8_t type, uint32_t pid, const char *comm, int err,
		uint16_t flags)
{
	struct eph_rec r = rec(type, pid, comm, err, flags);

	assert_int_equal(eph_summary__add(s, &r), 0);
}

static void assert_json(const struct eph_summary *s, uint64_t dropped, const char *backend,
			const char *want)
{
	struct strbuf sb = STRBUF_INIT;

	assert_int_equal(eph_summary__json(s, &sb, dropped, backend), 0);
	assert_string_equal(sb.buf, want);
	assert_int_equal(sb.len, strlen(want));
	sb_free(&sb);
}

static void assert_text(const struct eph_summary *s, uint64_t dropped, const char *backend,
			const char *want)
{
	struct strbuf sb = STRBUF_INIT;

	assert_int_equal(eph_summary__text(s, &sb, dropped, backend), 0);
	assert_string_equal(sb.buf, want);
	sb_free(&sb);
}

/* Column by column, each piece with the space(s) after it. */
#define TEXT_HEADER         \
	"PID     "          \
	"COMM             " \
	"  ASSIGNED "       \
	"    FAILED "       \
	"      HELD  "      \
	"FAILURES"

static void test_empty(void **state)
{
	struct eph_summary *s = eph_summary__new();

	(void)state;
	assert_non_null(s);
	assert_json(s, 0, "tracepoint",
		    "{\"event\":\"summary\",\"processes\":[],\"dropped\":0,"
		    "\"backend\":\"tracepoint\"}");
	assert_json(s, 0, NULL,
		    "{\"event\":\"summary\",\"processes\":[],\"dropped\":0,\"backend\":null}");
	assert_text(s, 0, NULL, TEXT_HEADER "\ndropped: 0, backend: -");
	eph_summary__free(s);
	eph_summary__free(NULL);
}

/* Three processes, added out of pid order, with failures and releases. */
static struct eph_summary *three_processes(void)
{
	struct eph_summary *s = eph_summary__new();

	assert_non_null(s);
	add(s, EPH_ASSIGN, 300, "b", 0, EPH_F_EPHEMERAL);
	add(s, EPH_FAIL, 1000, "c", 98, 0);
	add(s, EPH_ASSIGN, 20, "a", 0, EPH_F_EPHEMERAL);
	add(s, EPH_FAIL, 20, "a", 99, EPH_F_EPHEMERAL);
	add(s, EPH_ASSIGN, 300, "b", 0, EPH_F_EPHEMERAL);
	add(s, EPH_FAIL, 20, "a", 11, EPH_F_EPHEMERAL);
	add(s, EPH_FAIL, 20, "a", 99, EPH_F_EPHEMERAL);
	add(s, EPH_ASSIGN, 300, "b", 0, EPH_F_EPHEMERAL);
	/* 300 gives one port back: held 3 -> 2. */
	add(s, EPH_RELEASE, 300, "b", 0, EPH_F_OWNER | EPH_F_HELD);
	/* Not attributed to its owner: counts nowhere. */
	add(s, EPH_RELEASE, 20, "a", 0, EPH_F_HELD);
	/* An owner never seen assigning: no new row. */
	add(s, EPH_RELEASE, 555, "ghost", 0, EPH_F_OWNER | EPH_F_HELD);
	/* An owner with nothing held stays at 0. */
	add(s, EPH_RELEASE, 1000, "c", 0, EPH_F_OWNER);
	/* TIME_WAIT: the port is still taken. */
	add(s, EPH_TIME_WAIT, 300, "b", 0, EPH_F_OWNER | EPH_F_TW_NO_RELEASE);
	return s;
}

static void test_counts_json(void **state)
{
	struct eph_summary *s = three_processes();

	(void)state;
	assert_json(s, 5, "tracepoint",
		    "{\"event\":\"summary\",\"processes\":["
		    "{\"pid\":20,\"comm\":\"a\",\"assigned\":1,"
		    "\"failed\":{\"EAGAIN\":1,\"EADDRNOTAVAIL\":2},\"held\":1},"
		    "{\"pid\":300,\"comm\":\"b\",\"assigned\":3,\"failed\":{},\"held\":2},"
		    "{\"pid\":1000,\"comm\":\"c\",\"assigned\":0,\"failed\":{\"EADDRINUSE\":1},"
		    "\"held\":0}],\"dropped\":5,\"backend\":\"tracepoint\"}");
	eph_summary__free(s);
}

static void test_counts_text(void **state)
{
	struct eph_summary *s = three_processes();

	(void)state;
	assert_text(s, 5, "kprobe",
		    TEXT_HEADER "\n"
				"20      "
				"a                "
				"         1 "
				"         3 "
				"         1  "
				"EAGAIN=1 EADDRNOTAVAIL=2\n"
				"300     "
				"b                "
				"         3 "
				"         0 "
				"         2  "
				"-\n"
				"1000    "
				"c                "
				"         0 "
				"         1 "
				"         0  "
				"EADDRINUSE=1\n"
				"dropped: 5, backend: kprobe");
	eph_summary__free(s);
}

static void test_held_after_release(void **state)
{
	struct eph_summary *s = eph_summary__new();
	int i;

	(void)state;
	assert_non_null(s);
	for (i = 0; i < 4; i++)
		add(s, EPH_ASSIGN, 42, "srv", 0, EPH_F_EPHEMERAL);
	for (i = 0; i < 6; i++)
		add(s, EPH_RELEASE, 42, "srv", 0, EPH_F_OWNER | EPH_F_HELD);
	add(s, EPH_ASSIGN, 42, "srv", 0, 0);
	assert_json(
		s, 0, "fentry",
		"{\"event\":\"summary\",\"processes\":[{\"pid\":42,\"comm\":\"srv\","
		"\"assigned\":5,\"failed\":{},\"held\":1}],\"dropped\":0,\"backend\":\"fentry\"}");
	eph_summary__free(s);
}

static void test_comm_latest_and_escaped(void **state)
{
	struct eph_summary *s = eph_summary__new();

	(void)state;
	assert_non_null(s);
	add(s, EPH_ASSIGN, 7, "old", 0, 0);
	add(s, EPH_FAIL, 7, "q\"x\\", 99, 0);
	/* A release carries the owner's name from assignment time: it renames nothing. */
	add(s, EPH_RELEASE, 7, "older", 0, EPH_F_OWNER);
	assert_json(s, 1, "auto",
		    "{\"event\":\"summary\",\"processes\":[{\"pid\":7,\"comm\":\"q\\\"x\\\\\","
		    "\"assigned\":1,\"failed\":{\"EADDRNOTAVAIL\":1},\"held\":0}],\"dropped\":1,"
		    "\"backend\":\"auto\"}");
	eph_summary__free(s);
}

static void test_failure_names_bounded(void **state)
{
	struct eph_summary *s = eph_summary__new();
	int e;

	(void)state;
	assert_non_null(s);
	for (e = 8; e >= 1; e--)
		add(s, EPH_FAIL, 9, "x", e, 0);
	/* Past 8 distinct errnos new ones go to OTHER; known ones still count by name. */
	add(s, EPH_FAIL, 9, "x", 9, 0);
	add(s, EPH_FAIL, 9, "x", 10, 0);
	add(s, EPH_FAIL, 9, "x", 9, 0);
	add(s, EPH_FAIL, 9, "x", 1, 0);
	assert_json(
		s, 0, "kprobe",
		"{\"event\":\"summary\",\"processes\":[{\"pid\":9,\"comm\":\"x\",\"assigned\":0,"
		"\"failed\":{\"EPERM\":2,\"ENOENT\":1,\"ESRCH\":1,\"EINTR\":1,\"EIO\":1,"
		"\"ENXIO\":1,\"E2BIG\":1,\"ENOEXEC\":1,\"OTHER\":3},\"held\":0}],\"dropped\":0,"
		"\"backend\":\"kprobe\"}");
	assert_text(s, 0, "kprobe",
		    TEXT_HEADER
		    "\n"
		    "9       "
		    "x                "
		    "         0 "
		    "        12 "
		    "         0  "
		    "EPERM=2 ENOENT=1 ESRCH=1 EINTR=1 EIO=1 ENXIO=1 E2BIG=1 ENOEXEC=1 OTHER=3\n"
		    "dropped: 0, backend: kprobe");
	eph_summary__free(s);
}

static void test_unnamed_errno(void **state)
{
	struct eph_summary *s = eph_summary__new();

	(void)state;
	assert_non_null(s);
	add(s, EPH_FAIL, 3, "y", 200, 0);
	assert_json(
		s, 0, "kprobe",
		"{\"event\":\"summary\",\"processes\":[{\"pid\":3,\"comm\":\"y\",\"assigned\":0,"
		"\"failed\":{\"E200\":1},\"held\":0}],\"dropped\":0,\"backend\":\"kprobe\"}");
	eph_summary__free(s);
}

/* Many processes in scrambled order: every one found again, printed once, by pid. */
static void test_many_sorted(void **state)
{
	const uint32_t n = 10006; /* 10007 is prime: i * 7919 % 10007 visits 1..10006 */
	struct eph_summary *s = eph_summary__new();
	struct strbuf sb = STRBUF_INIT;
	uint32_t i, pass, count = 0, last = 0;
	const char *p;

	(void)state;
	assert_non_null(s);
	for (pass = 0; pass < 2; pass++) {
		for (i = 1; i <= n; i++)
			add(s, EPH_ASSIGN, (i * 7919u) % 10007u, "w", 0, 0);
	}
	for (i = 1; i <= n; i += 2)
		add(s, EPH_RELEASE, i, "w", 0, EPH_F_OWNER);
	assert_int_equal(eph_summary__json(s, &sb, 0, "tracepoint"), 0);
	for (p = strstr(sb.buf, "{\"pid\":"); p; p = strstr(p + 1, "{\"pid\":")) {
		char want[96];
		uint32_t pid = (uint32_t)strtoul(p + 7, NULL, 10);

		assert_int_equal(pid, last + 1);
		snprintf(want, sizeof(want),
			 "{\"pid\":%u,\"comm\":\"w\",\"assigned\":2,\"failed\":{},\"held\":%u}",
			 pid, pid % 2 ? 1u : 2u);
		assert_int_equal(strncmp(p, want, strlen(want)), 0);
		last = pid;
		count++;
	}
	assert_int_equal(count, n);
	sb_free(&sb);
	eph_summary__free(s);
}

/* Past EPH_SUMMARY_MAX_PROCS processes, events are counted but not itemized: memory is bounded. */
static void test_bounded(void **state)
{
	struct eph_summary *s = eph_summary__new();
	struct strbuf sb = STRBUF_INIT;
	const char *tail = "],\"untracked\":{\"assigned\":2,\"failed\":1},\"dropped\":0,"
			   "\"backend\":\"fentry\"}";
	struct eph_rec r;
	uint32_t pid, rows;
	const char *p;

	(void)state;
	assert_non_null(s);
	for (pid = 1; pid <= EPH_SUMMARY_MAX_PROCS; pid++) {
		r = rec(EPH_ASSIGN, pid, "w", 0, 0);
		assert_int_equal(eph_summary__add(s, &r), 0);
	}
	r = rec(EPH_ASSIGN, pid, "late", 0, 0);
	assert_int_equal(eph_summary__add(s, &r), 0);
	r = rec(EPH_ASSIGN, pid + 1, "late", 0, 0);
	assert_int_equal(eph_summary__add(s, &r), 0);
	r = rec(EPH_FAIL, pid + 2, "late", 99, 0);
	assert_int_equal(eph_summary__add(s, &r), 0);
	r = rec(EPH_ASSIGN, 1, "w", 0, 0); /* an itemized process still counts */
	assert_int_equal(eph_summary__add(s, &r), 0);
	assert_int_equal(eph_summary__json(s, &sb, 0, "fentry"), 0);
	assert_true(sb.len > strlen(tail));
	assert_string_equal(sb.buf + sb.len - strlen(tail), tail);
	assert_non_null(strstr(sb.buf, "{\"pid\":1,\"comm\":\"w\",\"assigned\":2,"));
	assert_null(strstr(sb.buf, "late"));
	/* nor does a release or the tracker's count of a process that has no row */
	r = rec(EPH_RELEASE, pid, "late", 0, EPH_F_OWNER | EPH_F_HELD);
	assert_int_equal(eph_summary__add(s, &r), 0);
	eph_summary__set_held(s, pid + 3, 9);
	sb_reset(&sb);
	assert_int_equal(eph_summary__json(s, &sb, 0, "fentry"), 0);
	/* strchr(), not strstr() from each row on: ASan's strstr() reads the whole rest of the
	 * 65536 rows at each call (35 s of make test's unit part) */
	for (rows = 0, p = strchr(sb.buf, '{'); p; p = strchr(p + 1, '{'))
		rows += !strncmp(p, "{\"pid\":", 7);
	assert_int_equal(rows, EPH_SUMMARY_MAX_PROCS);
	assert_null(strstr(sb.buf, "late"));
	assert_null(strstr(sb.buf, "\"held\":9"));
	assert_string_equal(sb.buf + sb.len - strlen(tail), tail);
	sb_reset(&sb);
	assert_int_equal(eph_summary__text(s, &sb, 0, "fentry"), 0);
	assert_non_null(strstr(sb.buf, "\nbeyond the first 65536 processes: 2 assigned, 1 failed "
					"(not itemized)\ndropped: 0, backend: fentry"));
	sb_free(&sb);
	eph_summary__free(s);
}

/* The rows of test_pid_extremes, with their held counts. */
static void assert_extremes(const struct eph_summary *s, unsigned int held0, unsigned int held_max)
{
	char want[320];

	snprintf(want, sizeof(want),
		 "{\"event\":\"summary\",\"processes\":["
		 "{\"pid\":0,\"comm\":\"irq2\",\"assigned\":2,"
		 "\"failed\":{\"EADDRNOTAVAIL\":1},\"held\":%u},"
		 "{\"pid\":4294967295,\"comm\":\"top\",\"assigned\":1,"
		 "\"failed\":{\"EADDRINUSE\":1},\"held\":%u}],"
		 "\"dropped\":0,\"backend\":\"kprobe\"}",
		 held0, held_max);
	assert_json(s, 0, "kprobe", want);
}

/* pid 0 (interrupt context) and the largest pid are processes like any other: one row each,
 * found again by every event and by the tracker's count. */
static void test_pid_extremes(void **state)
{
	struct eph_summary *s = eph_summary__new();

	(void)state;
	assert_non_null(s);
	add(s, EPH_ASSIGN, 0, "irq", 0, 0);
	add(s, EPH_ASSIGN, UINT32_MAX, "top", 0, 0);
	add(s, EPH_ASSIGN, 0, "irq2", 0, 0);
	add(s, EPH_FAIL, 0, "irq2", 99, 0);
	add(s, EPH_RELEASE, 0, "irq", 0, EPH_F_OWNER);
	add(s, EPH_FAIL, UINT32_MAX, "top", 98, 0);
	assert_extremes(s, 1, 1);
	eph_summary__clear_held(s);
	eph_summary__set_held(s, 0, 4);
	eph_summary__set_held(s, UINT32_MAX, 6);
	assert_extremes(s, 4, 6);
	eph_summary__free(s);
}

/* Runs the kernel skipped are named among the drops, and only when there were some. */
static void test_missed(void **state)
{
	struct eph_summary *s = eph_summary__new();

	(void)state;
	assert_non_null(s);
	assert_json(
		s, 3, "fentry",
		"{\"event\":\"summary\",\"processes\":[],\"dropped\":3,\"backend\":\"fentry\"}");
	eph_summary__set_missed(s, 2);
	assert_json(s, 3, "fentry",
		    "{\"event\":\"summary\",\"processes\":[],\"dropped\":3,\"missed\":2,"
		    "\"backend\":\"fentry\"}");
	assert_text(s, 3, "fentry",
		    "PID     COMM               ASSIGNED     FAILED       HELD  FAILURES\n"
		    "dropped: 3 (2 runs skipped by the kernel), backend: fentry");
	eph_summary__free(s);
}

/*
 * The tracker's count replaces the running one: a TIME_WAIT that ended without an event (the
 * tracepoint backend) no longer counts; a pid the tracker names but that has no row gets none.
 */
static void test_held_from_tracker(void **state)
{
	struct eph_summary *s = three_processes();

	(void)state;
	eph_summary__clear_held(s);
	eph_summary__set_held(s, 20, 7);
	eph_summary__set_held(s, 4242, 3); /* no row: ignored */
	assert_json(s, 0, "tracepoint",
		    "{\"event\":\"summary\",\"processes\":["
		    "{\"pid\":20,\"comm\":\"a\",\"assigned\":1,"
		    "\"failed\":{\"EAGAIN\":1,\"EADDRNOTAVAIL\":2},\"held\":7},"
		    "{\"pid\":300,\"comm\":\"b\",\"assigned\":3,\"failed\":{},\"held\":0},"
		    "{\"pid\":1000,\"comm\":\"c\",\"assigned\":0,\"failed\":{\"EADDRINUSE\":1},"
		    "\"held\":0}],\"dropped\":0,\"backend\":\"tracepoint\"}");
	eph_summary__free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_counts_json),
		cmocka_unit_test(test_counts_text),
		cmocka_unit_test(test_held_after_release),
		cmocka_unit_test(test_comm_latest_and_escaped),
		cmocka_unit_test(test_failure_names_bounded),
		cmocka_unit_test(test_unnamed_errno),
		cmocka_unit_test(test_many_sorted),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_pid_extremes),
		cmocka_unit_test(test_held_from_tracker),
		cmocka_unit_test(test_missed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
