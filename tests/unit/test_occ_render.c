// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the occupancy's output (user/core/occ_render.c): the namespaces' ranges in the
 * JSON, a whole snapshot's JSON against its golden text, and text lines that fit 80 columns with
 * IPv6 addresses and long names. The shared helpers are occ_fixture.c's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "occupancy.h"
#include "occ_fixture.h"

static void test_range_usable(void **state)
{
	struct eph_occ *occ = new_occ(0);
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	set_test_range(occ, NS1);
	assert_int_equal(eph_occ__add_netns(occ, NS2), 0);
	assert_int_equal(eph_occ__set_range(occ, NS1, 2, 1, NULL), -EINVAL);
	assert_int_equal(eph_occ__json(occ, &sb, 0, 0, 0), 0);
	assert_string_equal(
		sb.buf,
		"{\"time\":\"1970-01-01T00:00:00.000000000Z\",\"netns\":["
		"{\"netns\":4026532001,\"low\":40000,\"high\":41999,\"reserved\":100,"
		"\"usable\":1900,\"taken\":0,\"bound\":0,\"new_dest_ports_left\":1900,\"udp_usable\":1900,"
		"\"udp_taken\":0,\"udp_ports_left\":1900,\"bucket_unknown\":0,"
		"\"bound_only_listed\":true,\"resync_released\":0,"
		"\"container_id\":null,\"container_runtime\":null,\"pod\":null,\"pod_namespace\":null,\"pod_uid\":null,\"container\":null},"
		"{\"netns\":4026532002,\"low\":null,\"high\":null,\"reserved\":null,"
		"\"usable\":null,\"taken\":null,\"bound\":null,\"new_dest_ports_left\":null,\"udp_usable\":null,"
		"\"udp_taken\":null,\"udp_ports_left\":null,\"bucket_unknown\":0,"
		"\"bound_only_listed\":true,\"resync_released\":0,"
		"\"container_id\":null,\"container_runtime\":null,\"pod\":null,\"pod_namespace\":null,\"pod_uid\":null,\"container\":null}],"
		"\"destinations\":[],\"bind_scopes\":[],\"processes\":[],\"findings\":[],"
		"\"findings_need_events\":[\"fixed_port_conflict\"],\"dropped\":0,"
		"\"resyncs\":0,\"resync_released\":0}");
	sb_free(&sb);
	eph_occ__free(occ);
}
static void test_json_golden(void **state)
{
	struct eph_occ_sock s[3];
	struct eph_occ *occ = new_occ(0);
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	set_test_range(occ, NS1);
	s[0] = tcp4(NS1, TCP_ESTABLISHED, "127.0.0.1", 40000, "127.0.0.1", 5000, 42, 1);
	strcpy(s[0].comm, "cu\"rl");
	s[1] = tcp4(NS1, TCP_TIME_WAIT, "127.0.0.1", 40002, "127.0.0.1", 6000, 0, 2);
	s[2] = udp4(NS1, "0.0.0.0", 41000, "0.0.0.0", 0, 42, 3);
	strcpy(s[2].comm, "cu\"rl"); /* the same process: the latest name wins */
	assert_int_equal(eph_occ__seed(occ, s, 3, 100 * SEC), 0);
	assert_int_equal(eph_occ__json(occ, &sb, 100 * SEC, 1795497483123456789ull, 0), 0);
	assert_string_equal(
		sb.buf,
		"{\"time\":\"2026-11-24T05:18:03.123456789Z\",\"netns\":[{\"netns\":4026532001,"
		"\"low\":40000,\"high\":41999,\"reserved\":100,\"usable\":1900,\"taken\":2,"
		"\"bound\":0,\"new_dest_ports_left\":1900,\"udp_usable\":1900,\"udp_taken\":1,"
		"\"udp_ports_left\":1899,"
		"\"bucket_unknown\":2,\"bound_only_listed\":true,\"resync_released\":0,"
		"\"container_id\":null,\"container_runtime\":null,\"pod\":null,\"pod_namespace\":null,\"pod_uid\":null,\"container\":null}],"
		"\"destinations\":["
		"{\"netns\":4026532001,\"proto\":\"tcp\",\"family\":\"ipv4\",\"saddr\":\"127.0.0.1\","
		"\"daddr\":\"127.0.0.1\",\"dport\":5000,\"held\":1,\"time_wait\":0,\"usable\":1900,"
		"\"ports_left\":1899,\"utilization\":0.000526316,\"assign_rate\":null,\"failures\":null,"
		"\"exhaust_in_s\":null},"
		"{\"netns\":4026532001,\"proto\":\"tcp\",\"family\":\"ipv4\",\"saddr\":\"127.0.0.1\","
		"\"daddr\":\"127.0.0.1\",\"dport\":6000,\"held\":1,\"time_wait\":1,\"usable\":1900,"
		"\"ports_left\":1899,\"utilization\":0.000526316,\"assign_rate\":null,\"failures\":null,"
		"\"exhaust_in_s\":null}],"
		"\"bind_scopes\":[{\"netns\":4026532001,\"proto\":\"udp\",\"family\":\"ipv4\","
		"\"addr\":\"0.0.0.0\",\"held\":1,\"time_wait\":0,\"usable\":1900,\"ports_left\":1899,"
		"\"utilization\":0.000526316}],"
		"\"processes\":["
		"{\"pid\":42,\"comm\":\"cu\\\"rl\",\"cgroup\":\"/system.slice/client.service\","
		"\"container_id\":null,\"container_runtime\":null,\"pod\":null,\"pod_namespace\":null,\"pod_uid\":null,\"container\":null,"
		"\"held\":2,\"time_wait\":0,\"assign_rate\":null,\"failures\":null,\"exited\":false},"
		"{\"pid\":null,\"comm\":null,\"cgroup\":null,"
		"\"container_id\":null,\"container_runtime\":null,\"pod\":null,\"pod_namespace\":null,\"pod_uid\":null,\"container\":null,\"held\":1,\"time_wait\":1,"
		"\"assign_rate\":null,\"failures\":null,\"exited\":null}],"
		"\"findings\":[],\"findings_need_events\":[\"fixed_port_conflict\"],"
		"\"dropped\":0,\"resyncs\":0,\"resync_released\":0}");
	sb_free(&sb);
	eph_occ__free(occ);
}

/* Every text line fits 79 columns, even with IPv6 addresses and long names. */
static void test_text_fits_80_columns(void **state)
{
	struct eph_occ_sock s[3];
	struct eph_occ *occ = new_occ(0);
	struct strbuf sb = STRBUF_INIT;
	const char *line, *end;
	unsigned int lines = 0;

	(void)state;
	set_test_range(occ, NS1);
	s[0] = tcp4(NS1, TCP_ESTABLISHED, "0.0.0.0", 40000, "0.0.0.0", 65535, 4194304, 1);
	s[0].family = AF_INET6;
	addr6(s[0].saddr, "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff");
	addr6(s[0].daddr, "2001:db8:1111:2222:3333:4444:5555:6666");
	strcpy(s[0].comm, "a-very-long-nam");
	s[0].cgroup = "/system.slice/a-very-long-service-name-that-goes-on-and-on.service";
	s[0].range_lo = 40000; /* IP_LOCAL_PORT_RANGE: a note of two lines */
	s[0].range_hi = 40009;
	s[1] = s[0];
	s[1].proto = IPPROTO_UDP;
	s[1].sport = 40001;
	s[1].cookie = 2;
	s[2] = tcp4(NS1, TCP_ESTABLISHED, "255.255.255.255", 40002, "255.255.255.255", 65535, 9, 3);
	eph_occ__set_bound_listed(occ, false); /* a kernel before 6.8: a note of two lines */
	assert_int_equal(eph_occ__seed(occ, s, 3, 0), 0);
	eph_occ__start(occ, 0);
	assert_int_equal(eph_occ__text(occ, &sb, 10 * SEC, 0, 123456789, 0), 0);
	for (line = sb.buf; *line; line = end + 1) {
		end = strchr(line, '\n');
		assert_non_null(end);
		assert_in_range(end - line, 0, 79);
		lines++;
	}
	/* time; legend 4 + notes 1 + 2; netns header + 1; blank, destinations header + 2, socket
	 * range note 2; blank, scopes header + 1; blank, processes header + 2 */
	assert_int_equal(lines, 23);
	assert_non_null(strstr(sb.buf, "\nnote: 1 socket to ~:4444:5555:6666]:65535 uses "
				       "IP_LOCAL_PORT_RANGE 40000-40009:\n      9 more connect()s "
				       "with it (of 10 usable; NS 161)\n"));
	assert_non_null(strstr(sb.buf, "  dropped 123456789\n"));
	assert_non_null(strstr(sb.buf, "note: 2 connected TCP socket(s) of unknown origin"));
	assert_non_null(strstr(sb.buf, "no bound-only TCP socket:\n      BOUND misses those"));
	/* TCP ports 40000 and 40002 taken (counted once), none by bind(), the UDP one apart */
	assert_non_null(
		strstr(sb.buf, " 40000-41999   100   1900     2     0  1900     0     1     1899\n"));
	assert_non_null(strstr(sb.buf,
			       " ~dddd:eeee:ffff ~444:5555:6666]:65535     1    0  1899  0.1"
			       "  0.0    0    -\n"));
	assert_non_null(strstr(sb.buf, "\n4194304 a-very-long-nam     2     0    0.0     0 no   "
				       "~t-goes-on-and-on.service\n"));
	assert_non_null(strstr(sb.buf, "255.255.255.255 255.255.255.255:65535"));
	sb_free(&sb);
	eph_occ__free(occ);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range_usable),
		cmocka_unit_test(test_json_golden),
		cmocka_unit_test(test_text_fits_80_columns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
