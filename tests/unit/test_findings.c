// SPDX-License-Identifier: GPL-2.0
/* Unit tests of user/core/findings*.c: the rules, their severity, and the JSON and text they
 * give. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "findings.h"

#define NETNS 4026532000u

/* A netns with range 32768-60999 (the default), nothing reserved, tcp_tw_reuse 2. */
static struct eph_find_ns ns_default(void)
{
	return (struct eph_find_ns){ .netns = NETNS,
				     .low = 32768,
				     .high = 60999,
				     .tcp_usable = 28232,
				     .tcp_new_left = 28232,
				     .udp_usable = 28232,
				     .udp_left = 28232,
				     .tw = { .tw_reuse = 2, .timestamps = 1 } };
}

static struct eph_find_dest dest(const char *daddr, uint16_t dport, uint32_t held, uint32_t tw,
				 double left, double usable)
{
	struct eph_find_dest d;

	memset(&d, 0, sizeof(d));
	d.key.netns = NETNS;
	d.key.proto = IPPROTO_TCP;
	d.key.family = AF_INET;
	d.key.dport = dport;
	inet_pton(AF_INET, "10.0.0.1", d.key.saddr);
	inet_pton(AF_INET, daddr, d.key.daddr);
	d.st.held = held;
	d.st.time_wait = tw;
	d.st.ports_left = left;
	d.st.usable = usable;
	d.st.utilization = 1 - left / usable;
	d.st.exhaust_in_s = NAN;
	d.mean_hold_s = NAN;
	d.top.pid = 42;
	snprintf(d.top.comm, sizeof(d.top.comm), "client");
	d.top_held = held;
	return d;
}

static struct eph_find_in input(const struct eph_find_ns *ns, size_t nns,
				const struct eph_find_dest *d, size_t nd)
{
	return (struct eph_find_in){ .have_events = true,
				     .window_s = 60,
				     .ns = ns,
				     .nns = nns,
				     .dests = d,
				     .ndests = nd };
}

/* The kinds found, in order, as "kind/severity kind/severity". */
static const char *kinds(const struct eph_findings *fs)
{
	static char buf[512];
	size_t i, off = 0;

	buf[0] = 0;
	for (i = 0; i < fs->n && off < sizeof(buf); i++)
		off += snprintf(buf + off, sizeof(buf) - off, "%s%s/%s", i ? " " : "",
				eph_find_kind_name(fs->f[i].kind),
				eph_find_severity_name(fs->f[i].severity));
	return buf;
}

static void test_quiet(void **state)
{
	struct eph_find_ns ns = ns_default();
	struct eph_find_dest d = dest("10.0.0.2", 80, 100, 10, 28132, 28232);
	struct eph_find_in in = input(&ns, 1, &d, 1);
	struct eph_findings fs = { 0 };

	(void)state;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("", kinds(&fs));
	eph_findings__free(&fs);
}

static void test_bind_before_connect(void **state)
{
	struct eph_find_ns ns = ns_default();
	struct eph_find_dest d = dest("10.0.0.2", 80, 430, 0, 27802, 28232);
	struct eph_find_proc p = { .netns = NETNS,
				   .who = { .pid = 42, .comm = "client" },
				   .bound_conns = 412,
				   .conns = 430,
				   .assigns = 430,
				   .bound_connects = 412 };
	struct eph_find_in in = input(&ns, 1, &d, 1);
	struct eph_findings fs = { 0 };

	(void)state;
	ns.tcp_bound = 412;
	ns.tcp_new_left = 28232 - 412;
	in.procs = &p;
	in.nprocs = 1;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("bind_before_connect/info", kinds(&fs));
	assert_int_equal(42, fs.f[0].who.pid);
	assert_true(fs.f[0].ports_left == 28232 - 412);
	assert_string_equal("412 connect()s in 60 s came after bind(0) took the port (of 430 ports "
			    "it took); 412 of 430 connections hold such ports now, 412 of 28232 "
			    "usable ports are bind()'s",
			    fs.f[0].evidence);

	/* one is not a pattern; a process with IP_BIND_ADDRESS_NO_PORT has none */
	p.bound_conns = 1;
	p.bound_connects = 1;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("", kinds(&fs));

	/* the snapshot alone: the sockets now; warning past 80 % of the netns */
	p.bound_conns = 23000;
	p.conns = 23000;
	ns.tcp_bound = 23000;
	ns.tcp_new_left = 28232 - 23000;
	in.have_events = false;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("bind_before_connect/warning", kinds(&fs));
	assert_string_equal("23000 of 23000 connections hold a port bind() took before connect(); "
			    "23000 of 28232 usable ports are bind()'s",
			    fs.f[0].evidence);
	/* its own destination failing makes it critical */
	d.window_failures = 3;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("bind_before_connect/critical", kinds(&fs));
	eph_findings__free(&fs);
}

static void test_time_wait_churn(void **state)
{
	struct eph_find_ns ns = ns_default();
	struct eph_find_dest d = dest("10.0.0.2", 80, 1000, 900, 27232, 28232);
	struct eph_find_in in = input(&ns, 1, &d, 1);
	struct eph_findings fs = { 0 };

	(void)state;
	d.mean_hold_s = 0.2;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("time_wait_churn/info", kinds(&fs));
	assert_string_equal("900 of the 1000 4-tuples taken to 10.0.0.2:80 are TIME_WAIT after "
			    "0.2 s of life on average; tcp_tw_reuse=2",
			    fs.f[0].evidence);
	/* tcp_tw_reuse=2 does not apply to 10.0.0.2: the advice says to set 1 */
	assert_non_null(strstr(fs.f[0].advice, "tcp_tw_reuse=1"));
	ns.tw.tw_reuse = 1;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_non_null(strstr(fs.f[0].advice, "already reuses"));
	ns.tw.timestamps = 0;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_non_null(strstr(fs.f[0].advice, "tcp_timestamps=1"));

	/* long-lived connections are not churn; nor are a few TIME_WAIT, nor a minority */
	d.mean_hold_s = 120;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("", kinds(&fs));
	d.mean_hold_s = 0.2;
	d.st.time_wait = 19;
	d.st.held = 20;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("", kinds(&fs));
	d.st.time_wait = 400;
	d.st.held = 1000;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("", kinds(&fs));

	/* 85 % taken: warning; a finite forecast: critical */
	d.st.time_wait = 24000;
	d.st.held = 24000;
	d.st.ports_left = 4232;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("time_wait_churn/warning", kinds(&fs));
	d.st.exhaust_in_s = 30;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("time_wait_churn/critical", kinds(&fs));
	eph_findings__free(&fs);
}

static void test_single_destination(void **state)
{
	struct eph_find_ns ns = ns_default();
	struct eph_find_dest d[2] = { dest("10.0.0.2", 80, 23000, 100, 5232, 28232),
				      dest("10.0.0.3", 80, 10, 0, 23222, 28232) };
	struct eph_find_in in = input(&ns, 1, d, 2);
	struct eph_findings fs = { 0 };

	(void)state;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("single_destination/warning", kinds(&fs));
	assert_true(fs.f[0].has_dest);
	assert_int_equal(80, fs.f[0].dest.dport);
	assert_int_equal(42, fs.f[0].who.pid);
	assert_string_equal("23000 of 28232 ports to 10.0.0.2:80 are gone (23000 held), while a "
			    "new destination would get 28232",
			    fs.f[0].evidence);
	/* out: critical */
	d[0].st.ports_left = 0;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("single_destination/critical", kinds(&fs));
	/* the range itself is short (bind() took most of it): not this kind */
	ns.tcp_bound = 20000;
	ns.tcp_new_left = 28232 - 20000;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("", kinds(&fs));
	eph_findings__free(&fs);
}

static void test_range(void **state)
{
	struct eph_find_ns ns = ns_default();
	struct eph_find_dest d = dest("10.0.0.2", 80, 40, 0, 24, 64);
	struct eph_find_in in = input(&ns, 1, &d, 1);
	struct eph_findings fs = { 0 };

	(void)state;
	ns.low = 40000;
	ns.high = 40063;
	ns.tcp_usable = ns.tcp_new_left = ns.udp_usable = ns.udp_left = 64;
	/* 62 % of a destination used in a 64-port range */
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("narrow_range/info", kinds(&fs));
	assert_string_equal("range 40000-40063 leaves 64 usable ports (0 reserved), 0.2 % of the "
			    "default 28232; 10.0.0.2:80 is 62 % used",
			    fs.f[0].evidence);
	assert_non_null(strstr(fs.f[0].advice, "ip_local_port_range"));
	/* little used: a narrow range alone is no finding */
	d.st.ports_left = 60;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("", kinds(&fs));
	/* same parity: info, whatever the use */
	ns.high = 40062;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("range_parity/info", kinds(&fs));
	assert_string_equal("ip_local_port_range 40000-40062: both ends are even (63 ports)",
			    fs.f[0].evidence);
	/* reserved ports taking a third of a wide range, with pressure */
	ns.low = 32768;
	ns.high = 60999;
	ns.reserved = 10000;
	ns.tcp_usable = ns.tcp_new_left = ns.udp_usable = ns.udp_left = 18232;
	d.st.usable = 18232;
	d.st.ports_left = 1000;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("single_destination/warning narrow_range/warning", kinds(&fs));
	assert_non_null(strstr(fs.f[1].advice, "ip_local_reserved_ports"));
	eph_findings__free(&fs);
}

static void test_udp(void **state)
{
	struct eph_find_ns ns = ns_default();
	struct eph_find_in in = input(&ns, 1, NULL, 0);
	struct eph_findings fs = { 0 };

	(void)state;
	ns.udp_taken = 25000;
	ns.udp_connected = 24000;
	ns.udp_left = 3232;
	ns.udp_top.pid = 7;
	snprintf(ns.udp_top.comm, sizeof(ns.udp_top.comm), "dns");
	ns.udp_top_held = 24000;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("udp_connected_cap/warning", kinds(&fs));
	assert_int_equal(7, fs.f[0].who.pid);
	/* unconnected sockets are most of it: not this kind */
	ns.udp_connected = 100;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("", kinds(&fs));
	/* EAGAIN seen: critical */
	ns.udp_eagain = 4;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("udp_connected_cap/critical", kinds(&fs));
	/* without events no EAGAIN is known */
	in.have_events = false;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("", kinds(&fs));
	eph_findings__free(&fs);
}

static void test_fixed_port(void **state)
{
	struct eph_find_ns ns = ns_default();
	struct eph_find_port p = { .netns = NETNS,
				   .port = 8080,
				   .proto = IPPROTO_TCP,
				   .who = { .pid = 9, .comm = "server" },
				   .failures = 3,
				   .holders_known = true,
				   .tw_holders = 5 };
	struct eph_find_in in = input(&ns, 1, NULL, 0);
	struct eph_findings fs = { 0 };

	(void)state;
	in.ports = &p;
	in.nports = 1;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("fixed_port_conflict/critical", kinds(&fs));
	assert_non_null(strstr(fs.f[0].advice, "SO_REUSEADDR before bind()"));
	p.other_holders = 1;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_non_null(strstr(fs.f[0].advice, "Another socket holds port 8080"));
	p.holders_known = false;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("3 bind()s of tcp port 8080 failed with EADDRINUSE in 60 s (a port "
			    "outside the range: its holders are not tracked)",
			    fs.f[0].evidence);
	assert_non_null(strstr(fs.f[0].advice, "ss -tanp 'sport = :8080'"));
	p.failures = 2;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("", kinds(&fs));
	/* a snapshot cannot say it */
	p.failures = 10;
	in.have_events = false;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("", kinds(&fs));
	assert_false(eph_find_kind_from_snapshot(EPH_FIND_FIXED_PORT_CONFLICT));
	assert_true(eph_find_kind_from_snapshot(EPH_FIND_BIND_BEFORE_CONNECT));
	eph_findings__free(&fs);
}

static void test_socket_range(void **state)
{
	struct eph_find_ns ns = ns_default();
	struct eph_find_dest d = dest("10.0.0.2", 80, 18, 0, 28214, 28232);
	struct eph_find_in in = input(&ns, 1, &d, 1);
	struct eph_findings fs = { 0 };

	(void)state;
	d.socket_low = 40000;
	d.socket_high = 40019;
	d.socket_n = 18;
	d.socket_usable = 20;
	d.socket_left = 2;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("socket_range/warning", kinds(&fs));
	assert_true(fs.f[0].ports_left == 2);
	d.socket_left = 0;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("socket_range/critical", kinds(&fs));
	d.socket_left = 10;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("", kinds(&fs));
	eph_findings__free(&fs);
}

static void test_order_and_output(void **state)
{
	struct eph_find_ns ns = ns_default();
	struct eph_find_port p = { .netns = NETNS,
				   .port = 8080,
				   .proto = IPPROTO_TCP,
				   .who = { .pid = 9, .comm = "server" },
				   .failures = 3,
				   .holders_known = true };
	struct eph_find_in in = input(&ns, 1, NULL, 0);
	struct eph_findings fs = { 0 };
	struct strbuf sb = { 0 };
	size_t i, col = 0;

	(void)state;
	ns.high = 61000; /* parity: info */
	in.ports = &p;
	in.nports = 1;
	assert_int_equal(0, eph_find__run(&in, &fs));
	assert_string_equal("fixed_port_conflict/critical range_parity/info", kinds(&fs));
	assert_int_equal(0, eph_findings__json(&fs, &sb));
	assert_string_equal(
		"[{\"kind\":\"fixed_port_conflict\",\"severity\":\"critical\",\"netns\":4026532000,"
		"\"pid\":9,\"comm\":\"server\",\"cgroup\":null,"
		"\"container_id\":null,\"container_runtime\":null,\"pod\":null,\"pod_namespace\":null,\"pod_uid\":null,\"container\":null,\"proto\":\"tcp\",\"port\":8080,"
		"\"ports_left\":0,\"usable\":1,\"evidence\":\"3 bind()s of tcp port 8080 failed "
		"with EADDRINUSE in 60 s; 0 TIME_WAIT and 0 other sockets hold it now\","
		"\"advice\":\"Another socket holds port 8080: stop it, or pick another port "
		"(SO_REUSEADDR does not help against a live socket).\"},"
		"{\"kind\":\"range_parity\",\"severity\":\"info\",\"netns\":4026532000,"
		"\"pid\":null,\"comm\":null,\"cgroup\":null,"
		"\"container_id\":null,\"container_runtime\":null,\"pod\":null,\"pod_namespace\":null,\"pod_uid\":null,\"container\":null,\"ports_left\":null,\"usable\":28232,"
		"\"evidence\":\"ip_local_port_range 32768-61000: both ends are even (28233 ports)\","
		"\"advice\":\"Give the range ends of different parity (e.g. 32768 60999), as the "
		"kernel asks when the range is set.\"}]",
		sb.buf);
	sb_reset(&sb);
	assert_int_equal(0, eph_findings__text(&fs, &sb, 0));
	for (i = 0; i < sb.len; i++) { /* every line fits 79 columns */
		col = sb.buf[i] == '\n' ? 0 : col + 1;
		assert_true(col <= 79);
	}
	assert_string_equal(
		"\nFINDINGS\n"
		"CRIT fixed_port_conflict pid 9 server tcp port 8080\n"
		"     3 bind()s of tcp port 8080 failed with EADDRINUSE in 60 s; 0 "
		"TIME_WAIT and\n"
		"     0 other sockets hold it now\n"
		"     fix: Another socket holds port 8080: stop it, or pick another "
		"port\n"
		"     (SO_REUSEADDR does not help against a live socket).\n"
		"INFO range_parity        netns 4026532000\n"
		"     ip_local_port_range 32768-61000: both ends are even (28233 ports)\n"
		"     fix: Give the range ends of different parity (e.g. 32768 60999), "
		"as the\n"
		"     kernel asks when the range is set.\n",
		sb.buf);
	sb_reset(&sb);
	assert_int_equal(0, eph_findings__text(&fs, &sb, 1));
	assert_non_null(strstr(sb.buf, "... 1 more (--json has all)\n"));
	sb_free(&sb);
	eph_findings__free(&fs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quiet),
		cmocka_unit_test(test_bind_before_connect),
		cmocka_unit_test(test_time_wait_churn),
		cmocka_unit_test(test_single_destination),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_udp),
		cmocka_unit_test(test_fixed_port),
		cmocka_unit_test(test_socket_range),
		cmocka_unit_test(test_order_and_output),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
