// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of user/core/metrics_rows.c and metrics_procs.c: the rows of processes,
 * destinations and bind scopes ranked and cut to the top N (the rest summed), their failure
 * counters, and the per-process series, with and without pid labels.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "metrics.h"
#include "metrics_fixture.h"

static void test_top_n(void **state)
{
	const struct eph_metrics_proc procs[] = {
		{ 1, "one", 1, NULL },	 { 2, "two", 20, NULL }, { 3, "three", 0, NULL },
		{ 4, "four", 20, NULL }, { 5, "five", 5, NULL },
	};
	const struct eph_metrics_proc_fail fails[] = {
		{ 1, "one", EADDRNOTAVAIL, 9, NULL },
		{ 1, "one", EADDRINUSE, 1, NULL },
		{ 2, "two", EAGAIN, 0, NULL },
	};
	struct eph_metrics_dest d[3] = {
		{ .netns = 1,
		  .proto = IPPROTO_TCP,
		  .family = AF_INET,
		  .dport = 80,
		  .held = 10,
		  .ports_left = 14,
		  .utilization = 0.5,
		  .exhaust_in_s = INFINITY },
		{ .netns = 1,
		  .proto = IPPROTO_TCP,
		  .family = AF_INET,
		  .dport = 443,
		  .held = 3,
		  .ports_left = 2,
		  .utilization = 0.9,
		  .exhaust_in_s = 42.5 },
		{ .netns = 2,
		  .proto = IPPROTO_TCP,
		  .family = AF_INET6,
		  .dport = 53,
		  .held = 99,
		  .ports_left = NAN,
		  .utilization = NAN,
		  .exhaust_in_s = NAN },
	};
	struct eph_metrics_input in = { .procs = procs,
					.nprocs = 5,
					.fails = fails,
					.nfails = 3,
					.dests = d,
					.ndests = 3,
					.top = 2 };
	char *out, *a, *b;

	(void)state;
	inet_pton(AF_INET, "10.0.0.1", d[0].saddr);
	inet_pton(AF_INET, "10.0.0.9", d[0].daddr);
	inet_pton(AF_INET, "10.0.0.1", d[1].saddr);
	inet_pton(AF_INET, "10.0.0.8", d[1].daddr);
	inet_pton(AF_INET6, "fd00::1", d[2].saddr);
	inet_pton(AF_INET6, "fd00::53", d[2].daddr);
	out = write_all(&in, EPH_METRICS_TEXT);
	/* processes holding most, ties by labels (comm); those holding nothing are not rows */
	a = strstr(out, "ephtrace_process_ports_held{comm=\"four\"} 20\n");
	b = strstr(out, "ephtrace_process_ports_held{comm=\"two\"} 20\n");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a < b);
	assert_null(strstr(out, "ephtrace_process_ports_held{comm=\"five\""));
	assert_null(strstr(out, "ephtrace_process_ports_held{comm=\"three\""));
	assert_non_null(strstr(out, "ephtrace_series_truncated{table=\"process\"} 2\n"));
	/* failures: zero counts are not rows, the two left fit */
	assert_non_null(strstr(out, "ephtrace_process_port_failures_total{comm=\"one\","
				    "error=\"EADDRNOTAVAIL\"} 9\n"));
	assert_non_null(strstr(out, "ephtrace_process_port_failures_total{comm=\"one\","
				    "error=\"EADDRINUSE\"} 1\n"));
	assert_null(strstr(out, "error=\"EAGAIN\"} 0\nephtrace_process"));
	assert_non_null(strstr(out, "ephtrace_series_truncated{table=\"process_failure\"} 0\n"));
	/* destinations by utilization (unknown last): 443 then 80; the third is cut */
	a = strstr(out, "ephtrace_destination_ports_held{netns=\"1\",proto=\"tcp\","
			"saddr=\"10.0.0.1\",daddr=\"10.0.0.8\",dport=\"443\"} 3\n");
	b = strstr(out, "ephtrace_destination_ports_held{netns=\"1\",proto=\"tcp\","
			"saddr=\"10.0.0.1\",daddr=\"10.0.0.9\",dport=\"80\"} 10\n");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a < b);
	assert_null(strstr(out, "dport=\"53\""));
	assert_non_null(strstr(out, "ephtrace_series_truncated{table=\"destination\"} 1\n"));
	assert_non_null(strstr(out, "ephtrace_destination_port_utilization_ratio{netns=\"1\","
				    "proto=\"tcp\",saddr=\"10.0.0.1\",daddr=\"10.0.0.8\","
				    "dport=\"443\"} 0.9\n"));
	assert_non_null(strstr(out, "ephtrace_destination_ports_left{netns=\"1\","
				    "proto=\"tcp\",saddr=\"10.0.0.1\",daddr=\"10.0.0.8\","
				    "dport=\"443\"} 2\n"));
	/* the forecast only when finite */
	assert_non_null(strstr(out, "ephtrace_destination_exhaustion_seconds{netns=\"1\","
				    "proto=\"tcp\",saddr=\"10.0.0.1\",daddr=\"10.0.0.8\","
				    "dport=\"443\"} 42.5\n"));
	assert_null(strstr(out, "ephtrace_destination_exhaustion_seconds{netns=\"1\","
				"proto=\"tcp\",saddr=\"10.0.0.1\",daddr=\"10.0.0.9\""));
	free(out);

	/* no limit: everything, the unknown utilization and forecast left out */
	in.top = 0;
	out = write_all(&in, EPH_METRICS_TEXT);
	assert_non_null(strstr(out, "ephtrace_destination_ports_held{netns=\"2\",proto=\"tcp\","
				    "saddr=\"fd00::1\",daddr=\"fd00::53\",dport=\"53\"} 99\n"));
	assert_null(strstr(out, "ratio{netns=\"2\""));
	assert_null(strstr(out, "ports_left{netns=\"2\""));
	assert_null(strstr(out, "seconds{netns=\"2\""));
	assert_non_null(strstr(out, "ephtrace_process_ports_held{comm=\"five\"} 5\n"));
	assert_non_null(strstr(out, "ephtrace_series_truncated{table=\"process\"} 0\n"));
	free(out);
}

/* Bind scopes: the gauges of destinations, ranked and cut the same way; failure counters for
 * every scope shown (EAGAIN only for UDP) and every destination shown, 0 until one fails. */
static void test_bind_scopes(void **state)
{
	struct eph_metrics_scope sc[3] = {
		{ .netns = 7,
		  .proto = IPPROTO_UDP,
		  .family = AF_INET,
		  .held = 8,
		  .ports_left = 0,
		  .utilization = 1,
		  .fail_inuse = 3,
		  .fail_again = 4 },
		{ .netns = 7,
		  .proto = IPPROTO_TCP,
		  .family = AF_INET,
		  .held = 8,
		  .ports_left = 0,
		  .utilization = 1,
		  .fail_inuse = 5 },
		{ .netns = 9,
		  .proto = IPPROTO_TCP,
		  .family = AF_INET6,
		  .held = 1,
		  .ports_left = NAN,
		  .utilization = NAN },
	};
	struct eph_metrics_dest d = { .netns = 7,
				      .proto = IPPROTO_TCP,
				      .family = AF_INET,
				      .dport = 5000,
				      .held = 2,
				      .ports_left = 6,
				      .utilization = 0.25,
				      .exhaust_in_s = NAN };
	struct eph_metrics_input in = { .scopes = sc, .nscopes = 3, .dests = &d, .ndests = 1 };
	char *out, *a, *b;

	(void)state;
	inet_pton(AF_INET, "127.0.0.1", sc[1].addr);
	inet_pton(AF_INET6, "fd00::1", sc[2].addr);
	inet_pton(AF_INET, "127.0.0.1", d.saddr);
	inet_pton(AF_INET, "127.0.0.1", d.daddr);
	out = write_all(&in, EPH_METRICS_TEXT);
	/* ties on utilization and held: by netns, then protocol (TCP 6 before UDP 17) */
	a = strstr(out, "ephtrace_bind_scope_ports_held{netns=\"7\",proto=\"tcp\",family=\"ipv4\","
			"addr=\"127.0.0.1\"} 8\n");
	b = strstr(out, "ephtrace_bind_scope_ports_held{netns=\"7\",proto=\"udp\",family=\"ipv4\","
			"addr=\"0.0.0.0\"} 8\n");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a < b);
	assert_non_null(strstr(out, "ephtrace_bind_scope_ports_held{netns=\"9\",proto=\"tcp\","
				    "family=\"ipv6\",addr=\"fd00::1\"} 1\n"));
	assert_non_null(strstr(out, "# TYPE ephtrace_bind_scope_ports_left gauge\n"
				    "ephtrace_bind_scope_ports_left{netns=\"7\",proto=\"tcp\","
				    "family=\"ipv4\",addr=\"127.0.0.1\"} 0\n"
				    "ephtrace_bind_scope_ports_left{netns=\"7\",proto=\"udp\","
				    "family=\"ipv4\",addr=\"0.0.0.0\"} 0\n# HELP"));
	assert_non_null(strstr(out, "ephtrace_bind_scope_port_utilization_ratio{netns=\"7\","
				    "proto=\"udp\",family=\"ipv4\",addr=\"0.0.0.0\"} 1\n"));
	/* unknown: left out */
	assert_null(strstr(out, "ports_left{netns=\"9\""));
	assert_null(strstr(out, "ratio{netns=\"9\""));
	/* failures by errno: EADDRINUSE for every scope (0 too), EAGAIN for UDP only */
	assert_non_null(strstr(out,
			       "# TYPE ephtrace_bind_scope_port_failures_total counter\n"
			       "ephtrace_bind_scope_port_failures_total{netns=\"7\",proto=\"tcp\","
			       "family=\"ipv4\",addr=\"127.0.0.1\",error=\"EADDRINUSE\"} 5\n"
			       "ephtrace_bind_scope_port_failures_total{netns=\"7\",proto=\"udp\","
			       "family=\"ipv4\",addr=\"0.0.0.0\",error=\"EADDRINUSE\"} 3\n"
			       "ephtrace_bind_scope_port_failures_total{netns=\"7\",proto=\"udp\","
			       "family=\"ipv4\",addr=\"0.0.0.0\",error=\"EAGAIN\"} 4\n"
			       "ephtrace_bind_scope_port_failures_total{netns=\"9\",proto=\"tcp\","
			       "family=\"ipv6\",addr=\"fd00::1\",error=\"EADDRINUSE\"} 0\n"));
	assert_null(strstr(out, "addr=\"127.0.0.1\",error=\"EAGAIN\""));
	/* the destination's failure counter, 0 before its first failure */
	assert_non_null(strstr(out, "# TYPE ephtrace_destination_port_failures_total counter\n"
				    "ephtrace_destination_port_failures_total{netns=\"7\","
				    "proto=\"tcp\",saddr=\"127.0.0.1\",daddr=\"127.0.0.1\","
				    "dport=\"5000\"} 0\n"));
	assert_non_null(strstr(out, "ephtrace_series_truncated{table=\"bind_scope\"} 0\n"));
	free(out);

	/* top 1: the first scope by rank stays, with its failure counters; the rest are counted */
	d.failures = 48;
	in.top = 1;
	out = write_all(&in, EPH_METRICS_OPENMETRICS);
	assert_non_null(strstr(out,
			       "# TYPE ephtrace_bind_scope_port_failures counter\n"
			       "ephtrace_bind_scope_port_failures_total{netns=\"7\",proto=\"tcp\","
			       "family=\"ipv4\",addr=\"127.0.0.1\",error=\"EADDRINUSE\"} 5\n# "));
	assert_null(strstr(out, "addr=\"0.0.0.0\""));
	assert_null(strstr(out, "netns=\"9\""));
	assert_non_null(strstr(out, "ephtrace_series_truncated{table=\"bind_scope\"} 2\n"));
	assert_non_null(strstr(out, "ephtrace_destination_port_failures_total{netns=\"7\","
				    "proto=\"tcp\",saddr=\"127.0.0.1\",daddr=\"127.0.0.1\","
				    "dport=\"5000\"} 48\n"));
	free(out);
}

/*
 * The writer: without pid labels, the rows of one comm and container are one series, their
 * sum, ranked and cut after summing; findings lose their pid label too, and one whose labels
 * an earlier one has is left out. With pid_labels (--pid-labels), a series per pid as before.
 */
static void test_proc_series(void **state)
{
	static const struct eph_container web = { .runtime = "docker", .id = "c0ffee" };
	static const struct eph_container web2 = { .runtime = "docker", .id = "c0ffee" };
	const struct eph_metrics_proc procs[] = {
		{ 101, "nginx", 30, &web },
		{ 102, "nginx", 12, &web2 }, /* another copy of the same container */
		{ 103, "nginx", 5, NULL },   /* the host's nginx: another series */
		{ 104, "curl", 0, NULL },
	};
	const struct eph_metrics_proc_fail fails[] = {
		{ 0, "nginx", EADDRNOTAVAIL, 7, &web },
		{ 102, "nginx", EADDRNOTAVAIL, 5, &web2 },
		{ 102, "nginx", EAGAIN, 1, &web2 },
		{ 103, "nginx", EADDRNOTAVAIL, 2, NULL },
	};
	const struct eph_metrics_finding finds[] = {
		{ "single_destination", "critical", 9, 101, "nginx", "10.0.0.9:80", &web },
		{ "single_destination", "critical", 9, 102, "nginx", "10.0.0.9:80", &web2 },
		{ "bind_before_connect", "warning", 9, 103, "nginx", "", NULL },
		{ "range_parity", "info", 9, 0, "", "", NULL },
	};
	struct eph_metrics_input in = { .procs = procs,
					.nprocs = 4,
					.fails = fails,
					.nfails = 4,
					.findings = finds,
					.nfindings = 4,
					.top = 2 };
	const char *a, *b;
	char *out;

	(void)state;
	out = write_all(&in, EPH_METRICS_TEXT);
	a = strstr(out,
		   "\nephtrace_process_ports_held{comm=\"nginx\",container_id=\"c0ffee\"} 42\n");
	b = strstr(out, "\nephtrace_process_ports_held{comm=\"nginx\"} 5\n");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a < b);
	assert_non_null(strstr(out, "ephtrace_series_truncated{table=\"process\"} 0\n"));
	a = strstr(out, "\nephtrace_process_port_failures_total{comm=\"nginx\","
			"container_id=\"c0ffee\",error=\"EADDRNOTAVAIL\"} 12\n");
	b = strstr(out, "\nephtrace_process_port_failures_total{comm=\"nginx\","
			"error=\"EADDRNOTAVAIL\"} 2\n");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a < b);
	assert_null(strstr(out, "error=\"EAGAIN\"} 1\n")); /* third: cut by top 2 */
	assert_non_null(strstr(out, "ephtrace_series_truncated{table=\"process_failure\"} 1\n"));
	a = "ephtrace_finding{kind=\"single_destination\",severity=\"critical\",netns=\"9\","
	    "comm=\"nginx\",target=\"10.0.0.9:80\",container_id=\"c0ffee\"} 1\n";
	assert_non_null(strstr(out, a));
	assert_null(strstr(strstr(out, a) + 1, a)); /* once */
	assert_non_null(strstr(out,
			       "ephtrace_finding{kind=\"bind_before_connect\","
			       "severity=\"warning\",netns=\"9\",comm=\"nginx\",target=\"\"} 1\n"));
	/* the duplicate is not a cut one: only the info finding is */
	assert_non_null(strstr(out, "ephtrace_series_truncated{table=\"finding\"} 1\n"));
	assert_null(strstr(out, "pid="));
	free(out);

	/* --pid-labels: per pid, as before summing existed */
	in.pid_labels = true;
	in.top = 0;
	out = write_all(&in, EPH_METRICS_TEXT);
	assert_non_null(strstr(out, "\nephtrace_process_ports_held{pid=\"101\",comm=\"nginx\","
				    "container_id=\"c0ffee\"} 30\n"));
	assert_non_null(strstr(out, "\nephtrace_process_ports_held{pid=\"102\",comm=\"nginx\","
				    "container_id=\"c0ffee\"} 12\n"));
	assert_non_null(
		strstr(out, "\nephtrace_process_ports_held{pid=\"103\",comm=\"nginx\"} 5\n"));
	assert_non_null(strstr(out,
			       "\nephtrace_process_port_failures_total{pid=\"102\","
			       "comm=\"nginx\",container_id=\"c0ffee\",error=\"EAGAIN\"} 1\n"));
	assert_non_null(strstr(out,
			       "ephtrace_finding{kind=\"single_destination\","
			       "severity=\"critical\",netns=\"9\",pid=\"101\",comm=\"nginx\","));
	assert_non_null(strstr(out,
			       "ephtrace_finding{kind=\"single_destination\","
			       "severity=\"critical\",netns=\"9\",pid=\"102\",comm=\"nginx\","));
	assert_non_null(strstr(out, "ephtrace_finding{kind=\"range_parity\",severity=\"info\","
				    "netns=\"9\",pid=\"\",comm=\"\",target=\"\"} 1\n"));
	assert_non_null(strstr(out, "ephtrace_series_truncated{table=\"finding\"} 0\n"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_top_n),
		cmocka_unit_test(test_bind_scopes),
		cmocka_unit_test(test_proc_series),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
