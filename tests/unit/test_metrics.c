// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of user/core/metrics*.c: the Prometheus text and OpenMetrics writer, label escaping,
 * float formatting, histogram buckets, hostile process names, the counters and the BPF
 * programs' run time, and content negotiation. The rows cut to the top N and the per-process
 * series are test_metrics_rows.c's, the golden files test_metrics_golden.c's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "metrics.h"
#include "metrics_fixture.h"

static void assert_label(const char *in, size_t n, const char *want)
{
	struct strbuf sb = STRBUF_INIT;

	assert_int_equal(eph_metrics_label_value(&sb, in, n), 0);
	assert_string_equal(sb.buf, want);
	sb_free(&sb);
}

static void test_label_escaping(void **state)
{
	(void)state;
	assert_label("plain", 16, "\"plain\"");
	assert_label("", 16, "\"\"");
	assert_label(NULL, 16, "\"\"");
	assert_label("a\"b\\c\nd", 16, "\"a\\\"b\\\\c\\nd\"");
	assert_label("\\\\n", 16, "\"\\\\\\\\n\"");	    /* backslashes, then a plain n */
	assert_label("abcdef", 3, "\"abc\"");		    /* at most n bytes */
	assert_label("ab\0cd", 5, "\"ab\"");		    /* stops at a NUL */
	assert_label("caf\xc3\xa9", 16, "\"caf\xc3\xa9\""); /* valid UTF-8 is kept */
	assert_label("\xe6\x97\xa5\xf0\x9f\x98\x80", 16, "\"\xe6\x97\xa5\xf0\x9f\x98\x80\"");
	/* each byte of an invalid sequence becomes U+FFFD */
	assert_label("\x80", 16, "\"\xef\xbf\xbd\"");		      /* stray continuation */
	assert_label("\xff", 16, "\"\xef\xbf\xbd\"");		      /* never valid */
	assert_label("a\xc3", 16, "\"a\xef\xbf\xbd\"");		      /* cut short */
	assert_label("\xc3\xa9", 1, "\"\xef\xbf\xbd\"");	      /* cut short by n */
	assert_label("\xc0\x80", 16, "\"\xef\xbf\xbd\xef\xbf\xbd\""); /* overlong NUL */
	assert_label("\xe0\x80\xaf", 16, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	assert_label("\xed\xa0\x80", 16,
		     "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""); /* surrogate */
	assert_label("\xf4\x90\x80\x80", 16,
		     "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""); /* > U+10FFFF */
	assert_label("\xf4\x8f\xbf\xbf", 16, "\"\xf4\x8f\xbf\xbf\"");	      /* U+10FFFF */
	/* control bytes become their control pictures */
	assert_label("\t\r\x01\x1f\x7f", 16,
		     "\"\xe2\x90\x89\xe2\x90\x8d\xe2\x90\x81\xe2\x90\x9f\xe2\x90\xa1\"");
}

static void assert_float(double v, const char *want)
{
	struct strbuf sb = STRBUF_INIT;

	assert_int_equal(eph_metrics_float(&sb, v), 0);
	assert_string_equal(sb.buf, want);
	sb_free(&sb);
}

static void test_float_format(void **state)
{
	(void)state;
	/* what Go's strconv.FormatFloat(v, 'g', -1, 64) gives */
	assert_float(511e-9, "5.11e-07");
	assert_float(1023e-9, "1.023e-06");
	assert_float(131071e-9, "0.000131071");
	assert_float(1e-4, "0.0001");
	assert_float(1.5e-5, "1.5e-05");
	assert_float(1.073741823, "1.073741823");
	assert_float(70368.744177663, "70368.744177663");
	assert_float(0.5, "0.5");
	assert_float(0.1, "0.1");
	assert_float(1.0 / 3, "0.3333333333333333");
	assert_float(1, "1");
	assert_float(0, "0");
	assert_float(123456, "123456");
	assert_float(1e6, "1e+06");
	assert_float(1234567, "1.234567e+06");
	assert_float(-2.5, "-2.5");
	assert_float(INFINITY, "+Inf");
	assert_float(-INFINITY, "-Inf");
	assert_float(NAN, "NaN");
}

static const struct eph_metrics_stat small_stats[] = {
	{ { EPH_ASSIGN, EPH_OP_CONNECT, IPPROTO_TCP, AF_INET, 0, 0 }, 16 },
	{ { EPH_FAIL, EPH_OP_CONNECT, IPPROTO_TCP, AF_INET, EADDRNOTAVAIL, 0 }, 48 },
	{ { EPH_ASSIGN, EPH_OP_BIND, IPPROTO_UDP, AF_INET6, 0, 0 }, 2 },
};

/* The zero series every scrape has, in text format. */
#define COMMON_FAILURES                                                              \
	"ephtrace_port_failures_total{op=\"connect\",proto=\"tcp\",family=\"ipv6\"," \
	"error=\"EADDRNOTAVAIL\"} 0\n"                                               \
	"ephtrace_port_failures_total{op=\"connect\",proto=\"udp\",family=\"ipv4\"," \
	"error=\"EAGAIN\"} 0\n"                                                      \
	"ephtrace_port_failures_total{op=\"connect\",proto=\"udp\",family=\"ipv6\"," \
	"error=\"EAGAIN\"} 0\n"                                                      \
	"ephtrace_port_failures_total{op=\"bind\",proto=\"tcp\",family=\"ipv4\","    \
	"error=\"EADDRINUSE\"} 0\n"                                                  \
	"ephtrace_port_failures_total{op=\"bind\",proto=\"tcp\",family=\"ipv6\","    \
	"error=\"EADDRINUSE\"} 0\n"                                                  \
	"ephtrace_port_failures_total{op=\"bind\",proto=\"udp\",family=\"ipv4\","    \
	"error=\"EADDRINUSE\"} 0\n"                                                  \
	"ephtrace_port_failures_total{op=\"bind\",proto=\"udp\",family=\"ipv6\","    \
	"error=\"EADDRINUSE\"} 0\n"                                                  \
	"ephtrace_port_failures_total{op=\"sendmsg\",proto=\"udp\",family=\"ipv4\"," \
	"error=\"EAGAIN\"} 0\n"                                                      \
	"ephtrace_port_failures_total{op=\"sendmsg\",proto=\"udp\",family=\"ipv6\"," \
	"error=\"EAGAIN\"} 0\n"

#define HELP_ASSIGN                                                                              \
	"Ports assigned (by the kernel's choice or the caller's), by system call, protocol and " \
	"address family.\n"
#define HELP_FAIL \
	"Port allocations that failed, by system call, protocol, address family and errno.\n"
#define TAIL_ROWS                                                                               \
	"# HELP ephtrace_series_truncated Rows left out of this scrape by the --top limit, by " \
	"table (destination, bind_scope, process, process_failure, finding).\n"                 \
	"# TYPE ephtrace_series_truncated gauge\n"                                              \
	"ephtrace_series_truncated{table=\"destination\"} 0\n"                                  \
	"ephtrace_series_truncated{table=\"bind_scope\"} 0\n"                                   \
	"ephtrace_series_truncated{table=\"process\"} 0\n"                                      \
	"ephtrace_series_truncated{table=\"process_failure\"} 0\n"                              \
	"ephtrace_series_truncated{table=\"finding\"} 0\n"
#define HELP_UNTRACKED                                                                       \
	"Port allocation failures not counted in a process series because a table was full " \
	"(pids, series, or the 8 errnos of one).\n"
#define HELP_BUILD "ephtrace's version and the BPF backend in use.\n"

static void test_small_text_exact(void **state)
{
	struct eph_metrics_input in = { .version = "1.2",
					.backend = "kprobe",
					.stats = small_stats,
					.nstats = 3 };
	char *out;

	(void)state;
	out = write_all(&in, EPH_METRICS_TEXT);
	assert_string_equal(
		out,
		"# HELP ephtrace_port_assignments_total " HELP_ASSIGN
		"# TYPE ephtrace_port_assignments_total counter\n"
		"ephtrace_port_assignments_total{op=\"connect\",proto=\"tcp\",family=\"ipv4\"} 16\n"
		"ephtrace_port_assignments_total{op=\"bind\",proto=\"udp\",family=\"ipv6\"} 2\n"
		"# HELP ephtrace_port_failures_total " HELP_FAIL
		"# TYPE ephtrace_port_failures_total counter\n"
		"ephtrace_port_failures_total{op=\"connect\",proto=\"tcp\",family=\"ipv4\","
		"error=\"EADDRNOTAVAIL\"} 48\n" COMMON_FAILURES TAIL_ROWS
		"# HELP ephtrace_process_events_untracked_total " HELP_UNTRACKED
		"# TYPE ephtrace_process_events_untracked_total counter\n"
		"ephtrace_process_events_untracked_total 0\n"
		"# HELP ephtrace_build_info " HELP_BUILD "# TYPE ephtrace_build_info gauge\n"
		"ephtrace_build_info{version=\"1.2\",backend=\"kprobe\"} 1\n");
	free(out);
}

static void test_small_openmetrics_exact(void **state)
{
	struct eph_metrics_input in = { .version = "1.2",
					.backend = "kprobe",
					.stats = small_stats,
					.nstats = 3 };
	char *out;

	(void)state;
	out = write_all(&in, EPH_METRICS_OPENMETRICS);
	/* counter families are named without _total, info is its own type, # EOF ends it */
	assert_string_equal(
		out,
		"# HELP ephtrace_port_assignments " HELP_ASSIGN
		"# TYPE ephtrace_port_assignments counter\n"
		"ephtrace_port_assignments_total{op=\"connect\",proto=\"tcp\",family=\"ipv4\"} 16\n"
		"ephtrace_port_assignments_total{op=\"bind\",proto=\"udp\",family=\"ipv6\"} 2\n"
		"# HELP ephtrace_port_failures " HELP_FAIL "# TYPE ephtrace_port_failures counter\n"
		"ephtrace_port_failures_total{op=\"connect\",proto=\"tcp\",family=\"ipv4\","
		"error=\"EADDRNOTAVAIL\"} 48\n" COMMON_FAILURES TAIL_ROWS
		"# HELP ephtrace_process_events_untracked " HELP_UNTRACKED
		"# TYPE ephtrace_process_events_untracked counter\n"
		"ephtrace_process_events_untracked_total 0\n"
		"# HELP ephtrace_build " HELP_BUILD "# TYPE ephtrace_build info\n"
		"ephtrace_build_info{version=\"1.2\",backend=\"kprobe\"} 1\n"
		"# EOF\n");
	free(out);
}

/* Equal label sets are merged (an assignment's errno is not a label). */
static void test_stats_merge(void **state)
{
	const struct eph_metrics_stat st[] = {
		{ { EPH_ASSIGN, EPH_OP_CONNECT, IPPROTO_TCP, AF_INET, 0, 0 }, 5 },
		{ { EPH_ASSIGN, EPH_OP_CONNECT, IPPROTO_TCP, AF_INET, 7, 0 }, 6 },
		{ { EPH_FAIL, EPH_OP_CONNECT, IPPROTO_TCP, AF_INET6, EADDRNOTAVAIL, 0 }, 3 },
		{ { EPH_FAIL, 42, IPPROTO_TCP, AF_INET, 300, 0 }, 1 }, /* unknown op and errno */
	};
	struct eph_metrics_input in = { .stats = st, .nstats = 4 };
	char *out;

	(void)state;
	out = write_all(&in, EPH_METRICS_TEXT);
	assert_non_null(strstr(out, "ephtrace_port_assignments_total{op=\"connect\",proto=\"tcp\","
				    "family=\"ipv4\"} 11\n"));
	assert_non_null(strstr(out, "ephtrace_port_failures_total{op=\"connect\",proto=\"tcp\","
				    "family=\"ipv6\",error=\"EADDRNOTAVAIL\"} 3\n"));
	assert_non_null(strstr(out, "ephtrace_port_failures_total{op=\"42\",proto=\"tcp\","
				    "family=\"ipv4\",error=\"E300\"} 1\n"));
	/* the common zero series is replaced, not repeated */
	assert_null(strstr(out, "family=\"ipv6\",error=\"EADDRNOTAVAIL\"} 0\n"));
	assert_non_null(
		strstr(out, "ephtrace_build_info{version=\"unknown\",backend=\"none\"} 1\n"));
	free(out);
}

/* The value of the first sample line starting with prefix (name and labels). */
static uint64_t sample_value(const char *out, const char *prefix)
{
	const char *p = out;
	size_t n = strlen(prefix);

	while (p && *p) {
		if (!strncmp(p, prefix, n) && p[n] == ' ')
			return strtoull(p + n + 1, NULL, 10);
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	fail_msg("no sample %s", prefix);
	return 0;
}

#define SEARCH "ephtrace_port_search_duration_seconds"
#define SEARCH_OK "{op=\"connect\",proto=\"tcp\",family=\"ipv4\",result=\"ok\""

static void test_histogram_cumulative(void **state)
{
	struct eph_hists h = EPH_HISTS_INIT;
	struct eph_metrics_input in = { .hists = &h };
	unsigned int s, nbuckets = 0;
	uint64_t prev = 0;
	const char *p;
	char *out;

	(void)state;
	add_hist(&h, EPH_HIST_CONNECT, 0, 3, 2);  /* below the first bucket: folds into it */
	add_hist(&h, EPH_HIST_CONNECT, 0, 8, 1);  /* the first bucket, le 511 ns */
	add_hist(&h, EPH_HIST_CONNECT, 0, 10, 4); /* le 2047 ns */
	add_hist(&h, EPH_HIST_CONNECT, 0, 29, 1); /* the last bucket, le 1.073741823 s */
	add_hist(&h, EPH_HIST_CONNECT, 0, 40, 3); /* beyond: only in +Inf */
	add_hist(&h, EPH_HIST_CONNECT, 0, EPH_HIST_SUM, 1500000123);
	add_hist(&h, EPH_HIST_CONNECT, EADDRNOTAVAIL, 12, 5);
	add_hist(&h, EPH_HIST_HOLD, 0, 30, 1);
	add_hist(&h, EPH_HIST_HOLD, 1, 31, 2); /* hold has no result label: merged */
	out = write_all(&in, EPH_METRICS_TEXT);

	assert_int_equal(sample_value(out, SEARCH "_bucket" SEARCH_OK ",le=\"5.11e-07\"}"), 3);
	assert_int_equal(sample_value(out, SEARCH "_bucket" SEARCH_OK ",le=\"1.023e-06\"}"), 3);
	assert_int_equal(sample_value(out, SEARCH "_bucket" SEARCH_OK ",le=\"2.047e-06\"}"), 7);
	assert_int_equal(sample_value(out, SEARCH "_bucket" SEARCH_OK ",le=\"0.536870911\"}"), 7);
	assert_int_equal(sample_value(out, SEARCH "_bucket" SEARCH_OK ",le=\"1.073741823\"}"), 8);
	assert_int_equal(sample_value(out, SEARCH "_bucket" SEARCH_OK ",le=\"+Inf\"}"), 11);
	assert_int_equal(sample_value(out, SEARCH "_count" SEARCH_OK "}"), 11);
	assert_non_null(strstr(out, SEARCH "_sum" SEARCH_OK "} 1.500000123\n"));
	assert_int_equal(sample_value(out, SEARCH "_count{op=\"connect\",proto=\"tcp\","
						  "family=\"ipv4\",result=\"EADDRNOTAVAIL\"}"),
			 5);

	/* every bucket line of the ok series: non-decreasing, one per exported slot, in order */
	for (p = strstr(out, SEARCH "_bucket" SEARCH_OK); p;
	     p = strstr(p + 1, SEARCH "_bucket" SEARCH_OK)) {
		uint64_t v = strtoull(strchr(p, ' ') + 1, NULL, 10);

		assert_true(v >= prev);
		prev = v;
		nbuckets++;
	}
	assert_int_equal(nbuckets,
			 EPH_METRICS_SEARCH_LAST_SLOT - EPH_METRICS_SEARCH_FIRST_SLOT + 2);

	assert_int_equal(sample_value(out,
				      "ephtrace_port_hold_duration_seconds_bucket{proto=\"tcp\","
				      "family=\"ipv4\",le=\"2.147483647\"}"),
			 1);
	assert_int_equal(sample_value(out,
				      "ephtrace_port_hold_duration_seconds_bucket{proto=\"tcp\","
				      "family=\"ipv4\",le=\"4.294967295\"}"),
			 3);
	assert_int_equal(sample_value(out,
				      "ephtrace_port_hold_duration_seconds_count{proto=\"tcp\","
				      "family=\"ipv4\"}"),
			 3);
	assert_non_null(strstr(out, "ephtrace_port_hold_duration_seconds_sum{proto=\"tcp\","
				    "family=\"ipv4\"} 0\n"));
	/* one bucket per slot from first to last, for each le */
	for (s = EPH_METRICS_HOLD_FIRST_SLOT; s <= EPH_METRICS_HOLD_LAST_SLOT; s++) {
		char want[160];
		struct strbuf le = STRBUF_INIT;

		assert_int_equal(eph_metrics_float(&le, ((2ull << s) - 1) / 1e9), 0);
		snprintf(want, sizeof(want),
			 "ephtrace_port_hold_duration_seconds_bucket{proto=\"tcp\",family=\"ipv4\","
			 "le=\"%s\"}",
			 le.buf);
		assert_int_equal(sample_value(out, want), s >= 31 ? 3 : s >= 30 ? 1 : 0);
		sb_free(&le);
	}
	free(out);
	eph_hists__free(&h);
}

static void test_hostile_comm(void **state)
{
	const struct eph_metrics_proc procs[] = {
		{ 7, "a\"b\\c\nd\xff\t", 3, NULL },
	};
	const struct eph_metrics_proc_fail fails[] = {
		{ 7, "x\"}\n# EOF\n", EADDRNOTAVAIL, 2, NULL },
	};
	struct eph_metrics_input in = { .procs = procs, .nprocs = 1, .fails = fails, .nfails = 1 };
	char *out;

	(void)state;
	out = write_all(&in, EPH_METRICS_OPENMETRICS);
	assert_non_null(strstr(out, "\nephtrace_process_ports_held{comm=\"a\\\"b\\\\c\\nd"
				    "\xef\xbf\xbd\xe2\x90\x89\"} 3\n"));
	assert_non_null(strstr(out, "\nephtrace_process_port_failures_total{comm=\"x\\\"}"
				    "\\n# EOF\\n\",error=\"EADDRNOTAVAIL\"} 2\n"));
	/* a comm cannot end the exposition: the only "# EOF" line is the last one */
	assert_int_equal(strstr(out, "\n# EOF\n") + 7 - out, strlen(out));
	free(out);
}

static void test_counters_and_progs(void **state)
{
	uint64_t cnt[EPH_CNT_MAX] = { [EPH_CNT_DROPPED] = 4,
				      [EPH_CNT_MISSED] = 3,
				      [EPH_CNT_HOLD_FULL] = 2,
				      [EPH_CNT_CTX_FULL] = 1,
				      [EPH_CNT_STATS_FULL] = 7 };
	const struct eph_metrics_prog progs[] = {
		{ "tp_exit_sock", 1500000000, 10 },
		{ "tp_enter_connect", 12, 10 },
	};
	struct eph_metrics_input in = { .counters = cnt,
					.progs = progs,
					.nprogs = 2,
					.procs_untracked = 6 };
	char *out, *a, *b;

	(void)state;
	out = write_all(&in, EPH_METRICS_OPENMETRICS);
	assert_non_null(strstr(out, "\nephtrace_events_dropped_total 4\n"));
	assert_non_null(strstr(out, "\nephtrace_bpf_program_runs_missed_total 3\n"));
	assert_non_null(strstr(out, "\nephtrace_kernel_table_full_total{table=\"holds\"} 2\n"));
	assert_non_null(strstr(out, "\nephtrace_kernel_table_full_total{table=\"syscalls\"} 1\n"));
	assert_non_null(strstr(out, "\nephtrace_kernel_table_full_total{table=\"stats\"} 7\n"));
	assert_non_null(strstr(out, "\nephtrace_process_events_untracked_total 6\n"));
	assert_non_null(strstr(out, "# TYPE ephtrace_bpf_program_run_seconds counter\n"
				    "# UNIT ephtrace_bpf_program_run_seconds seconds\n"));
	/* sorted by name, exact decimal seconds */
	a = strstr(out, "ephtrace_bpf_program_run_seconds_total{program=\"tp_enter_connect\"} "
			"0.000000012\n");
	b = strstr(out,
		   "ephtrace_bpf_program_run_seconds_total{program=\"tp_exit_sock\"} 1.5\n");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a < b);
	assert_non_null(strstr(out, "ephtrace_bpf_program_runs_total{program=\"tp_exit_sock\"} "
				    "10\n"));
	free(out);

	/* no counters, no programs: those families are absent */
	memset(&in, 0, sizeof(in));
	out = write_all(&in, EPH_METRICS_TEXT);
	assert_null(strstr(out, "ephtrace_events_dropped"));
	assert_null(strstr(out, "ephtrace_bpf_program"));
	assert_null(strstr(out, "ephtrace_destination_"));
	free(out);
}

static void test_accept(void **state)
{
	(void)state;
	/* what Prometheus 2.x sends */
	assert_true(eph_metrics_wants_openmetrics(
		"application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
		"version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"));
	assert_true(eph_metrics_wants_openmetrics("application/openmetrics-text"));
	assert_true(eph_metrics_wants_openmetrics(" Application/OpenMetrics-Text ; version=1.0.0"));
	assert_true(
		eph_metrics_wants_openmetrics("text/plain;q=0.5, application/openmetrics-text"));
	assert_false(eph_metrics_wants_openmetrics(NULL));
	assert_false(eph_metrics_wants_openmetrics(""));
	assert_false(eph_metrics_wants_openmetrics("*/*"));
	assert_false(eph_metrics_wants_openmetrics("text/plain"));
	assert_false(
		eph_metrics_wants_openmetrics("text/plain, application/openmetrics-text;q=0.9"));
	assert_false(eph_metrics_wants_openmetrics("application/openmetrics-text;q=0"));
	assert_false(eph_metrics_wants_openmetrics("application/openmetrics-text;q=bogus"));
	assert_false(eph_metrics_wants_openmetrics("application/openmetrics-textx"));
	assert_false(eph_metrics_wants_openmetrics("application/json"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_float_format),
		cmocka_unit_test(test_small_text_exact),
		cmocka_unit_test(test_small_openmetrics_exact),
		cmocka_unit_test(test_stats_merge),
		cmocka_unit_test(test_histogram_cumulative),
		cmocka_unit_test(test_hostile_comm),
		cmocka_unit_test(test_counters_and_progs),
		cmocka_unit_test(test_accept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
