// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of user/core/format.c: RFC 3339 times (against gmtime()) and the text columns,
 * header and rows of IPv4 and IPv6 events, unprintable names and errnos, process names. The
 * JSON lines are test_format.c's; the events both use, format_fixture.c's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "format.h"
#include "format_fixture.h"

static const uint8_t V6_LONG[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
				     0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78 };
static void assert_time(uint64_t ns, const char *want)
{
	struct strbuf sb = STRBUF_INIT;

	assert_int_equal(sb_puts(&sb, "t="), 0);
	assert_int_equal(eph_format_time(&sb, ns), 0);
	assert_string_equal(sb.buf + 2, want);
	assert_int_equal(sb.len, 2 + strlen(want));
	sb_free(&sb);
}

static void test_time(void **state)
{
	(void)state;
	assert_time(0, "1970-01-01T00:00:00.000000000Z");
	assert_time(1, "1970-01-01T00:00:00.000000001Z");
	assert_time(999999999, "1970-01-01T00:00:00.999999999Z");
	assert_time(1000000000, "1970-01-01T00:00:01.000000000Z");
	assert_time(1709251199999999999ull, "2024-02-29T23:59:59.999999999Z");
	assert_time(WALL_NS, "2026-11-24T05:18:08.123456789Z");
	assert_time(UINT64_MAX, "2554-07-21T23:34:33.709551615Z");
	/* Leap years: 2000 and 2400 are, 2100 is not. */
	assert_time(951825600000000000ull, "2000-02-29T12:00:00.000000000Z");
	assert_time(4107542399000000000ull, "2100-02-28T23:59:59.000000000Z");
	assert_time(4107542400000000000ull, "2100-03-01T00:00:00.000000000Z");
	assert_time(13574563200000000000ull, "2400-02-29T00:00:00.000000000Z");
	assert_time(946684799500000000ull, "1999-12-31T23:59:59.500000000Z");
}

/* The calendar arithmetic agrees with the C library, day after day for 584 years. */
static void test_time_matches_gmtime(void **state)
{
	const uint64_t max_sec = UINT64_MAX / 1000000000ull;
	struct strbuf sb = STRBUF_INIT;
	char want[64];
	uint64_t sec;
	struct tm tm;
	time_t t;

	(void)state;
	/* A step of one day and 1001 seconds walks through every time of day too. */
	for (sec = 0; sec <= max_sec; sec += 86400 + 1001) {
		t = (time_t)sec;
		assert_non_null(gmtime_r(&t, &tm));
		assert_int_not_equal(
			strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S.000000042Z", &tm), 0);
		sb_reset(&sb);
		assert_int_equal(eph_format_time(&sb, sec * 1000000000ull + 42), 0);
		assert_string_equal(sb.buf, want);
	}
	sb_free(&sb);
}

/* Column by column: each piece is the column and the space that follows it. */
#define HEADER              \
	"TIME     "         \
	"PID     "          \
	"COMM             " \
	"PROTO "            \
	"OP       "         \
	"LADDR           "  \
	"LPORT "            \
	"RADDR           "  \
	"RPORT "            \
	"RESULT        "    \
	"SEARCH_US"

static void assert_text(const struct eph_rec *r, const char *want)
{
	struct strbuf sb = STRBUF_INIT;

	assert_int_equal(eph_format_text(&sb, r), 0);
	assert_string_equal(sb.buf, want);
	sb_free(&sb);
}

static void test_text_header(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	assert_int_equal(eph_format_text_header(&sb), 0);
	assert_string_equal(sb.buf, HEADER);
	sb_free(&sb);
}

static void test_text_v4(void **state)
{
	struct eph_rec assign = v4_assign(), fail = v4_fail(), rel = v4_release();

	(void)state;
	assert_text(&assign, "05:18:08 "
			     "4242    "
			     "curl             "
			     "tcp   "
			     "connect  "
			     "127.0.0.1       "
			     "40000 "
			     "127.0.0.2       "
			     "8080  "
			     "ok            "
			     "12.34");
	assert_text(&fail, "05:18:08 "
			   "4242    "
			   "curl             "
			   "tcp   "
			   "!connect "
			   "-               "
			   "-     "
			   "127.0.0.2       "
			   "8080  "
			   "EADDRNOTAVAIL "
			   "56.78");
	assert_text(&rel, "05:18:09 "
			  "4242    "
			  "curl             "
			  "tcp   "
			  "-        "
			  "127.0.0.1       "
			  "40000 "
			  "127.0.0.2       "
			  "8080  "
			  "released      "
			  "held=1500000.00");
	/* Same width as the header up to the last column. */
	assert_int_equal(strlen(HEADER) - strlen("SEARCH_US"),
			 strlen("05:18:08 4242    curl             tcp   connect  127.0.0.1       "
				"40000 127.0.0.2       8080  ok            "));
}

static void test_text_bound_connect(void **state)
{
	struct eph_rec r = v4_bound_connect();

	(void)state;
	assert_text(&r, "05:18:08 "
			"4242    "
			"curl             "
			"tcp   "
			"connect  "
			"127.0.0.1       "
			"40000 "
			"127.0.0.2       "
			"8080  "
			"bound         "
			"-");
}

static void test_text_v6(void **state)
{
	struct eph_rec bind = v6_bind(), conn = v6_bind(), send = v6_bind();

	(void)state;
	assert_text(&bind, "05:18:08 "
			   "77      "
			   "nc               "
			   "udp   "
			   "bind     "
			   "2001:db8::1     "
			   "50000 "
			   "-               "
			   "-     "
			   "ok            "
			   "0.25");

	/* A long address pushes the rest of its line. */
	conn.ev.op = EPH_OP_CONNECT;
	conn.ev.proto = IPPROTO_TCP;
	conn.ev.sport = 51000;
	conn.ev.dport = 443;
	conn.ev.flags = EPH_F_EPHEMERAL | EPH_F_DEST | EPH_F_SADDR;
	memcpy(conn.ev.saddr, V6_LONG, 16);
	assert_text(&conn, "05:18:08 "
			   "77      "
			   "nc               "
			   "tcp   "
			   "connect  "
			   "2001:db8:1234:5678:9abc:def0:1234:5678 "
			   "51000 "
			   "2001:db8::2     "
			   "443   "
			   "ok            "
			   "-");

	send.ev.type = EPH_FAIL;
	send.ev.op = EPH_OP_SENDMSG;
	send.ev.err = 11;
	send.ev.sport = 0;
	send.ev.dport = 53;
	send.ev.flags = EPH_F_EPHEMERAL | EPH_F_DEST;
	memcpy(send.ev.daddr, V6_LO, 16);
	assert_text(&send, "05:18:08 "
			   "77      "
			   "nc               "
			   "udp   "
			   "!sendmsg "
			   "-               "
			   "-     "
			   "::1             "
			   "53    "
			   "EAGAIN        "
			   "-");
}

static void test_text_unprintable_comm_and_errno(void **state)
{
	struct eph_rec r = v4_fail();

	(void)state;
	strcpy(r.ev.pcomm, "a\tb");
	r.ev.op = EPH_OP_BIND;
	r.ev.err = 200;
	r.ev.flags = 0;
	assert_text(&r, "05:18:08 "
			"4242    "
			"a?b              "
			"tcp   "
			"!bind    "
			"-               "
			"-     "
			"-               "
			"-     "
			"E200          "
			"-");
}

/* COMM is the process's name; the thread's when the record has none. */
static void test_text_process_comm(void **state)
{
	struct eph_rec r = v4_assign();

	(void)state;
	strcpy(r.ev.comm, "isc-net-0000");
	strcpy(r.ev.pcomm, "dig");
	assert_text(&r, "05:18:08 "
			"4242    "
			"dig              "
			"tcp   "
			"connect  "
			"127.0.0.1       "
			"40000 "
			"127.0.0.2       "
			"8080  "
			"ok            "
			"12.34");
	memset(r.ev.pcomm, 0, sizeof(r.ev.pcomm));
	assert_text(&r, "05:18:08 "
			"4242    "
			"isc-net-0000     "
			"tcp   "
			"connect  "
			"127.0.0.1       "
			"40000 "
			"127.0.0.2       "
			"8080  "
			"ok            "
			"12.34");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_time_matches_gmtime),
		cmocka_unit_test(test_text_header),
		cmocka_unit_test(test_text_v4),
		cmocka_unit_test(test_text_bound_connect),
		cmocka_unit_test(test_text_v6),
		cmocka_unit_test(test_text_unprintable_comm_and_errno),
		cmocka_unit_test(test_text_process_comm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
