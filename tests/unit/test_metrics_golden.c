// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of user/core/metrics*.c against the golden files
 * tests/golden/metrics.{prom,openmetrics} (run from the top of the tree; EPH_UPDATE_GOLDEN=1
 * rewrites them, then check them with promtool and read the diff): a fixed input with a bit of
 * everything, hostile comm included; and README's table names each family.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "metrics.h"
#include "metrics_fixture.h"

#define GOLDEN_DIR "tests/golden/"

/* The fixed input of the golden files: a bit of everything, hostile comm included. */
static char *golden_output(enum eph_metrics_format fmt)
{
	static const struct eph_metrics_stat st[] = {
		{ { EPH_ASSIGN, EPH_OP_CONNECT, IPPROTO_TCP, AF_INET, 0, 0 }, 16 },
		{ { EPH_ASSIGN, EPH_OP_CONNECT, IPPROTO_TCP, AF_INET6, 0, 0 }, 3 },
		{ { EPH_ASSIGN, EPH_OP_BIND, IPPROTO_UDP, AF_INET, 0, 0 }, 7 },
		{ { EPH_FAIL, EPH_OP_CONNECT, IPPROTO_TCP, AF_INET, EADDRNOTAVAIL, 0 }, 48 },
		{ { EPH_FAIL, EPH_OP_SENDMSG, IPPROTO_UDP, AF_INET, EAGAIN, 0 }, 1 },
	};
	/* a pod's container, and a docker container with no pod */
	static const struct eph_container pod = {
		.runtime = "containerd",
		.id = "3f2a9c0d1e4b5a6978877665544332211f0e0d0c0b0a09080706050403020100",
		.pod_uid = "0c6d9f6e-3b1a-4c55-9e0f-2a7b8c9d0e1f",
		.pod = "cart-7d9f8b6c5-x2k4q",
		.pod_namespace = "shop",
		.container = "cart",
	};
	static const struct eph_container docker = {
		.runtime = "docker",
		.id = "915a31bb1a5126a672db32977a1e0438bb5f6a3602ace28987e924b2cc135e3f",
	};
	/* two pids of curl in the pod: one series, their sum (no pid label) */
	static const struct eph_metrics_proc procs[] = {
		{ 4242, "curl", 12, &pod },
		{ 4243, "evil\"\\\n\xff\t", 2, &docker },
		{ 4244, "curl", 4, &pod },
	};
	static const struct eph_metrics_proc_fail fails[] = {
		{ 0, "curl", EADDRNOTAVAIL, 48, &pod },
		{ 0, "evil\"\\\n\xff\t", EAGAIN, 1, &docker },
	};
	static const struct eph_metrics_netns netns[] = {
		{ .netns = 4026532999u, .usable = 16, .new_left = 9, .ct = &pod },
		{ .netns = 4026531840u, .usable = 28232, .new_left = NAN },
	};
	static const struct eph_metrics_prog progs[] = { { "tp_exit_sock", 2500, 64 } };
	static const struct eph_metrics_finding finds[] = {
		{ "single_destination", "critical", 4026532999u, 4242, "curl", "127.0.0.1:5000",
		  &pod },
		{ "range_parity", "info", 4026532999u, 0, "", "", &pod },
	};
	uint64_t cnt[EPH_CNT_MAX] = { [EPH_CNT_DROPPED] = 0, [EPH_CNT_HOLD_FULL] = 1 };
	struct eph_metrics_dest d = { .netns = 4026532999u,
				      .proto = IPPROTO_TCP,
				      .family = AF_INET,
				      .dport = 5000,
				      .held = 16,
				      .utilization = 1,
				      .exhaust_in_s = 0,
				      .failures = 48,
				      .ct = &pod };
	/* the pod's UDP wildcard scope, full; the host's TCP bind(0) scope on :: */
	struct eph_metrics_scope sc[2] = {
		{ .netns = 4026532999u,
		  .proto = IPPROTO_UDP,
		  .family = AF_INET,
		  .held = 16,
		  .ports_left = 0,
		  .utilization = 1,
		  .fail_again = 1,
		  .ct = &pod },
		{ .netns = 4026531840u,
		  .proto = IPPROTO_TCP,
		  .family = AF_INET6,
		  .held = 2,
		  .ports_left = 28230,
		  .utilization = 1 - 28230.0 / 28232 },
	};
	struct eph_hists h = EPH_HISTS_INIT;
	struct eph_metrics_input in = {
		.version = "0.1.0",
		.backend = "tracepoint",
		.counters = cnt,
		.stats = st,
		.nstats = 5,
		.hists = &h,
		.netns = netns,
		.nnetns = 2,
		.dests = &d,
		.ndests = 1,
		.scopes = sc,
		.nscopes = 2,
		.procs = procs,
		.nprocs = 3,
		.fails = fails,
		.nfails = 2,
		.progs = progs,
		.nprogs = 1,
		.findings = finds,
		.nfindings = 2,
		.top = 20,
	};
	char *out;

	inet_pton(AF_INET, "127.0.0.1", d.saddr);
	inet_pton(AF_INET, "127.0.0.1", d.daddr);
	add_hist(&h, EPH_HIST_CONNECT, 0, 11, 10);
	add_hist(&h, EPH_HIST_CONNECT, 0, 13, 6);
	add_hist(&h, EPH_HIST_CONNECT, 0, EPH_HIST_SUM, 81920);
	add_hist(&h, EPH_HIST_CONNECT, EADDRNOTAVAIL, 14, 48);
	add_hist(&h, EPH_HIST_CONNECT, EADDRNOTAVAIL, EPH_HIST_SUM, 786432);
	add_hist(&h, EPH_HIST_HOLD, 0, 25, 3);
	add_hist(&h, EPH_HIST_HOLD, 0, EPH_HIST_SUM, 120000000);
	out = write_all(&in, fmt);
	eph_hists__free(&h);
	return out;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc(n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, n, f), n);
	buf[n] = '\0';
	fclose(f);
	*len = n;
	return buf;
}

static void check_golden(const char *name, enum eph_metrics_format fmt)
{
	char path[256];
	char *got = golden_output(fmt), *want;
	size_t len, i;

	snprintf(path, sizeof(path), GOLDEN_DIR "%s", name);
	if (getenv("EPH_UPDATE_GOLDEN")) {
		FILE *f = fopen(path, "wb");

		assert_non_null(f);
		fputs(got, f);
		fclose(f);
	}
	want = read_file(path, &len);
	if (!want)
		fail_msg("cannot read %s (run from the top of the tree)", path);
	for (i = 0; i < len && got[i] == want[i]; i++)
		;
	if (i != len || got[i])
		fail_msg("%s differs at byte %zu: got \"%.60s\", want \"%.60s\"", path, i, got + i,
			 want + i);
	free(got);
	free(want);
}

static void test_golden_text(void **state)
{
	(void)state;
	check_golden("metrics.prom", EPH_METRICS_TEXT);
}

static void test_golden_openmetrics(void **state)
{
	(void)state;
	check_golden("metrics.openmetrics", EPH_METRICS_OPENMETRICS);
}

/* Every family of the golden input (a bit of everything) is in README's table of metrics, by
 * its exposition name in backquotes: a new family cannot go out undocumented. */
static void test_readme_names_every_family(void **state)
{
	char *got = golden_output(EPH_METRICS_TEXT), *readme, *line, *end;
	unsigned int families = 0, missing = 0;
	char name[128], want[132];
	size_t len;

	(void)state;
	readme = read_file("README.md", &len);
	if (!readme)
		fail_msg("cannot read README.md (run from the top of the tree)");
	for (line = got; *line; line = end + 1) {
		end = strchr(line, '\n');
		assert_non_null(end);
		if (sscanf(line, "# TYPE %127s ", name) != 1)
			continue;
		families++;
		snprintf(want, sizeof(want), "`%s`", name);
		if (!strstr(readme, want)) {
			print_error("README.md does not name %s\n", want);
			missing++;
		}
	}
	assert_true(families >= 28);
	assert_int_equal(missing, 0);
	free(readme);
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_text),
		cmocka_unit_test(test_golden_openmetrics),
		cmocka_unit_test(test_readme_names_every_family),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
