// SPDX-License-Identifier: GPL-2.0
/* Unit tests of user/core/format.c: JSON lines, RFC 3339 times and text columns. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "format.h"

/* 2026-11-24T05:18:08.123456789Z */
#define WALL_NS 1795497488123456789ull
#define TIME_JSON "\"time\":\"2026-11-24T05:18:08.123456789Z\""

static const uint8_t V4_LO1[16] = { 127, 0, 0, 1 };
static const uint8_t V4_LO2[16] = { 127, 0, 0, 2 };
static const uint8_t V6_LO[16] = { [15] = 1 };
static const uint8_t V6_DOC1[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t V6_DOC2[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
static const uint8_t V6_LONG[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
				     0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78 };

/* TCP/IPv4: curl (4242) connects from 127.0.0.1:40000 to 127.0.0.2:8080. */
static struct eph_rec v4_assign(void)
{
	struct eph_rec r;

	memset(&r, 0, sizeof(r));
	r.wall_ns = WALL_NS;
	r.ev.ts_ns = 1000;
	r.ev.search_ns = 12345;
	r.ev.cgroup_id = 7777;
	r.ev.pid = 4242;
	r.ev.tid = 4243;
	r.ev.netns = 4026531840u;
	r.ev.sport = 40000;
	r.ev.dport = 8080;
	r.ev.flags = EPH_F_EPHEMERAL | EPH_F_SEARCH | EPH_F_DEST | EPH_F_SADDR;
	r.ev.type = EPH_ASSIGN;
	r.ev.op = EPH_OP_CONNECT;
	r.ev.proto = IPPROTO_TCP;
	r.ev.family = AF_INET;
	r.ev.backend = EPH_BACKEND_TRACEPOINT;
	memcpy(r.ev.saddr, V4_LO1, 16);
	memcpy(r.ev.daddr, V4_LO2, 16);
	strcpy(r.ev.comm, "curl");
	strcpy(r.ev.pcomm, "curl");
	return r;
}

/* The same connect() failing: no port, no local address known. */
static struct eph_rec v4_fail(void)
{
	struct eph_rec r = v4_assign();

	r.ev.type = EPH_FAIL;
	r.ev.err = 99;
	r.ev.sport = 0;
	r.ev.search_ns = 56789;
	r.ev.flags = EPH_F_EPHEMERAL | EPH_F_SEARCH | EPH_F_DEST;
	memset(r.ev.saddr, 0, 16);
	return r;
}

/* The port of v4_assign going back 1.5 s later. */
static struct eph_rec v4_release(void)
{
	struct eph_rec r = v4_assign();

	r.wall_ns = 1795497489000000001ull;
	r.ev.type = EPH_RELEASE;
	r.ev.op = EPH_OP_NONE;
	r.ev.search_ns = 999; /* no EPH_F_SEARCH: must not show */
	r.ev.held_ns = 1500000000ull;
	r.ev.flags = EPH_F_EPHEMERAL | EPH_F_DEST | EPH_F_SADDR | EPH_F_HELD | EPH_F_OWNER;
	return r;
}

/* The same socket had 40000 from bind(127.0.0.1:0): its connect() chooses no port. */
static struct eph_rec v4_bound_connect(void)
{
	struct eph_rec r = v4_assign();

	r.ev.type = EPH_CONNECT;
	r.ev.search_ns = 0;
	r.ev.flags = EPH_F_EPHEMERAL | EPH_F_BOUND | EPH_F_DEST | EPH_F_SADDR;
	return r;
}

/* UDP/IPv6: nc (77) binds [2001:db8::1]:0 and gets 50000. */
static struct eph_rec v6_bind(void)
{
	struct eph_rec r;

	memset(&r, 0, sizeof(r));
	r.wall_ns = WALL_NS;
	r.ev.search_ns = 250;
	r.ev.cgroup_id = 1;
	r.ev.pid = 77;
	r.ev.tid = 78;
	r.ev.netns = 4026532000u;
	r.ev.sport = 50000;
	r.ev.dport = 9; /* no EPH_F_DEST: must not show */
	r.ev.req_port = 0;
	r.ev.flags = EPH_F_EPHEMERAL | EPH_F_SEARCH | EPH_F_REQ | EPH_F_SADDR;
	r.ev.type = EPH_ASSIGN;
	r.ev.op = EPH_OP_BIND;
	r.ev.proto = IPPROTO_UDP;
	r.ev.family = AF_INET6;
	r.ev.backend = EPH_BACKEND_FENTRY;
	memcpy(r.ev.saddr, V6_DOC1, 16);
	memcpy(r.ev.daddr, V6_DOC2, 16);
	strcpy(r.ev.comm, "nc");
	strcpy(r.ev.pcomm, "nc");
	return r;
}

/* TCP/IPv6: bind([::1]:8080) refused. */
static struct eph_rec v6_bind_fail(void)
{
	struct eph_rec r = v6_bind();

	r.ev.type = EPH_FAIL;
	r.ev.proto = IPPROTO_TCP;
	r.ev.err = 98;
	r.ev.sport = 0;
	r.ev.req_port = 8080;
	r.ev.flags = EPH_F_REQ | EPH_F_SADDR;
	r.ev.backend = EPH_BACKEND_KPROBE;
	memcpy(r.ev.saddr, V6_LO, 16);
	return r;
}

/* want without the container fields that end every event: a record with no r->ct has them
 * all null (test_occ_container.c checks them filled). */
static void assert_json(const struct eph_rec *r, const char *backend, const char *want)
{
	static const char no_ct[] = ",\"container_id\":null,\"container_runtime\":null,"
				    "\"pod\":null,\"pod_namespace\":null,\"pod_uid\":null,"
				    "\"container\":null}";
	struct strbuf sb = STRBUF_INIT, full = STRBUF_INIT;

	assert_int_equal(sb_printf(&full, "%.*s%s", (int)strlen(want) - 1, want, no_ct), 0);
	assert_int_equal(eph_format_json(&sb, r, backend), 0);
	assert_string_equal(sb.buf, full.buf);
	assert_int_equal(sb.len, full.len);
	sb_free(&sb);
	sb_free(&full);
}

static void test_json_v4_assign(void **state)
{
	struct eph_rec r = v4_assign();

	(void)state;
	assert_json(
		&r, "tracepoint",
		"{\"event\":\"assign\",\"op\":\"connect\",\"proto\":\"tcp\",\"family\":\"ipv4\","
		"\"pid\":4242,\"tid\":4243,\"comm\":\"curl\","
		"\"process_comm\":\"curl\",\"cgroup_id\":7777,"
		"\"netns\":4026531840,\"saddr\":\"127.0.0.1\",\"sport\":40000,"
		"\"daddr\":\"127.0.0.2\",\"dport\":8080,\"requested_port\":null,"
		"\"ephemeral\":true,\"bound\":false,\"bind_address_no_port\":false,"
		"\"error\":null,\"errno\":0,\"search_ns\":12345,"
		"\"held_ns\":null," TIME_JSON ",\"backend\":\"tracepoint\"}");
}

static void test_json_v4_fail(void **state)
{
	struct eph_rec r = v4_fail();

	(void)state;
	assert_json(&r, "tracepoint",
		    "{\"event\":\"fail\",\"op\":\"connect\",\"proto\":\"tcp\",\"family\":\"ipv4\","
		    "\"pid\":4242,\"tid\":4243,\"comm\":\"curl\","
		    "\"process_comm\":\"curl\",\"cgroup_id\":7777,"
		    "\"netns\":4026531840,\"saddr\":null,\"sport\":0,"
		    "\"daddr\":\"127.0.0.2\",\"dport\":8080,\"requested_port\":null,"
		    "\"ephemeral\":true,\"bound\":false,\"bind_address_no_port\":false,"
		    "\"error\":\"EADDRNOTAVAIL\",\"errno\":99,\"search_ns\":56789,"
		    "\"held_ns\":null," TIME_JSON ",\"backend\":\"tracepoint\"}");
}

static void test_json_v4_release(void **state)
{
	struct eph_rec r = v4_release();

	(void)state;
	assert_json(&r, "tracepoint",
		    "{\"event\":\"release\",\"op\":null,\"proto\":\"tcp\",\"family\":\"ipv4\","
		    "\"pid\":4242,\"tid\":4243,\"comm\":\"curl\","
		    "\"process_comm\":\"curl\",\"cgroup_id\":7777,"
		    "\"netns\":4026531840,\"saddr\":\"127.0.0.1\",\"sport\":40000,"
		    "\"daddr\":\"127.0.0.2\",\"dport\":8080,\"requested_port\":null,"
		    "\"ephemeral\":true,\"bound\":false,\"bind_address_no_port\":false,"
		    "\"error\":null,\"errno\":0,\"search_ns\":null,"
		    "\"held_ns\":1500000000,\"time\":\"2026-11-24T05:18:09.000000001Z\","
		    "\"backend\":\"tracepoint\"}");
}

static void test_json_release_without_held(void **state)
{
	struct eph_rec r = v4_release();

	(void)state;
	r.ev.flags &= (uint16_t)~EPH_F_HELD;
	assert_json(&r, "tracepoint",
		    "{\"event\":\"release\",\"op\":null,\"proto\":\"tcp\",\"family\":\"ipv4\","
		    "\"pid\":4242,\"tid\":4243,\"comm\":\"curl\","
		    "\"process_comm\":\"curl\",\"cgroup_id\":7777,"
		    "\"netns\":4026531840,\"saddr\":\"127.0.0.1\",\"sport\":40000,"
		    "\"daddr\":\"127.0.0.2\",\"dport\":8080,\"requested_port\":null,"
		    "\"ephemeral\":true,\"bound\":false,\"bind_address_no_port\":false,"
		    "\"error\":null,\"errno\":0,\"search_ns\":null,"
		    "\"held_ns\":null,\"time\":\"2026-11-24T05:18:09.000000001Z\","
		    "\"backend\":\"tracepoint\"}");
}

/* held_ns belongs to releases only, whatever the flags say. */
static void test_json_held_only_on_release(void **state)
{
	struct eph_rec r = v4_assign();

	(void)state;
	r.ev.held_ns = 77;
	r.ev.flags |= EPH_F_HELD;
	assert_json(
		&r, "tracepoint",
		"{\"event\":\"assign\",\"op\":\"connect\",\"proto\":\"tcp\",\"family\":\"ipv4\","
		"\"pid\":4242,\"tid\":4243,\"comm\":\"curl\","
		"\"process_comm\":\"curl\",\"cgroup_id\":7777,"
		"\"netns\":4026531840,\"saddr\":\"127.0.0.1\",\"sport\":40000,"
		"\"daddr\":\"127.0.0.2\",\"dport\":8080,\"requested_port\":null,"
		"\"ephemeral\":true,\"bound\":false,\"bind_address_no_port\":false,"
		"\"error\":null,\"errno\":0,\"search_ns\":12345,"
		"\"held_ns\":null," TIME_JSON ",\"backend\":\"tracepoint\"}");
}

static void test_json_bound_connect(void **state)
{
	struct eph_rec r = v4_bound_connect();

	(void)state;
	assert_json(
		&r, "fentry",
		"{\"event\":\"bound_connect\",\"op\":\"connect\",\"proto\":\"tcp\","
		"\"family\":\"ipv4\",\"pid\":4242,\"tid\":4243,\"comm\":\"curl\","
		"\"process_comm\":\"curl\","
		"\"cgroup_id\":7777,\"netns\":4026531840,\"saddr\":\"127.0.0.1\",\"sport\":40000,"
		"\"daddr\":\"127.0.0.2\",\"dport\":8080,\"requested_port\":null,"
		"\"ephemeral\":true,\"bound\":true,\"bind_address_no_port\":false,"
		"\"error\":null,\"errno\":0,\"search_ns\":null,"
		"\"held_ns\":null," TIME_JSON ",\"backend\":\"fentry\"}");
}

/* The flags of a connect(): a bound socket's failure (bind() of a given port: not ephemeral),
 * and an assignment on a socket with IP_BIND_ADDRESS_NO_PORT. */
static void test_json_connect_flags(void **state)
{
	struct eph_rec fail = v4_fail(), assign = v4_assign();

	(void)state;
	fail.ev.sport = 5555;
	fail.ev.flags = EPH_F_BOUND | EPH_F_SEARCH | EPH_F_DEST;
	assert_json(&fail, "kprobe",
		    "{\"event\":\"fail\",\"op\":\"connect\",\"proto\":\"tcp\",\"family\":\"ipv4\","
		    "\"pid\":4242,\"tid\":4243,\"comm\":\"curl\","
		    "\"process_comm\":\"curl\",\"cgroup_id\":7777,"
		    "\"netns\":4026531840,\"saddr\":null,\"sport\":5555,"
		    "\"daddr\":\"127.0.0.2\",\"dport\":8080,\"requested_port\":null,"
		    "\"ephemeral\":false,\"bound\":true,\"bind_address_no_port\":false,"
		    "\"error\":\"EADDRNOTAVAIL\",\"errno\":99,\"search_ns\":56789,"
		    "\"held_ns\":null," TIME_JSON ",\"backend\":\"kprobe\"}");
	assign.ev.flags |= EPH_F_NO_PORT;
	assert_json(
		&assign, "tracepoint",
		"{\"event\":\"assign\",\"op\":\"connect\",\"proto\":\"tcp\",\"family\":\"ipv4\","
		"\"pid\":4242,\"tid\":4243,\"comm\":\"curl\","
		"\"process_comm\":\"curl\",\"cgroup_id\":7777,"
		"\"netns\":4026531840,\"saddr\":\"127.0.0.1\",\"sport\":40000,"
		"\"daddr\":\"127.0.0.2\",\"dport\":8080,\"requested_port\":null,"
		"\"ephemeral\":true,\"bound\":false,\"bind_address_no_port\":true,"
		"\"error\":null,\"errno\":0,\"search_ns\":12345,"
		"\"held_ns\":null," TIME_JSON ",\"backend\":\"tracepoint\"}");
}

static void test_json_v6_bind(void **state)
{
	struct eph_rec r = v6_bind();

	(void)state;
	assert_json(&r, "fentry",
		    "{\"event\":\"assign\",\"op\":\"bind\",\"proto\":\"udp\",\"family\":\"ipv6\","
		    "\"pid\":77,\"tid\":78,\"comm\":\"nc\","
		    "\"process_comm\":\"nc\",\"cgroup_id\":1,\"netns\":4026532000,"
		    "\"saddr\":\"2001:db8::1\",\"sport\":50000,\"daddr\":null,\"dport\":null,"
		    "\"requested_port\":0,\"ephemeral\":true,"
		    "\"bound\":false,\"bind_address_no_port\":false,"
		    "\"error\":null,\"errno\":0,"
		    "\"search_ns\":250,\"held_ns\":null," TIME_JSON ",\"backend\":\"fentry\"}");
}

static void test_json_v6_bind_fail(void **state)
{
	struct eph_rec r = v6_bind_fail();

	(void)state;
	/* No backend given: the record's own. */
	assert_json(&r, NULL,
		    "{\"event\":\"fail\",\"op\":\"bind\",\"proto\":\"tcp\",\"family\":\"ipv6\","
		    "\"pid\":77,\"tid\":78,\"comm\":\"nc\","
		    "\"process_comm\":\"nc\",\"cgroup_id\":1,\"netns\":4026532000,"
		    "\"saddr\":\"::1\",\"sport\":0,\"daddr\":null,\"dport\":null,"
		    "\"requested_port\":8080,\"ephemeral\":false,"
		    "\"bound\":false,\"bind_address_no_port\":false,"
		    "\"error\":\"EADDRINUSE\","
		    "\"errno\":98,\"search_ns\":null,\"held_ns\":null," TIME_JSON
		    ",\"backend\":\"kprobe\"}");
}

static void test_json_v6_sendmsg_fail(void **state)
{
	struct eph_rec r = v6_bind();

	(void)state;
	r.ev.type = EPH_FAIL;
	r.ev.op = EPH_OP_SENDMSG;
	r.ev.err = 11;
	r.ev.sport = 0;
	r.ev.dport = 53;
	r.ev.flags = EPH_F_EPHEMERAL | EPH_F_DEST;
	memcpy(r.ev.daddr, V6_LO, 16);
	assert_json(&r, "fentry",
		    "{\"event\":\"fail\",\"op\":\"sendmsg\",\"proto\":\"udp\",\"family\":\"ipv6\","
		    "\"pid\":77,\"tid\":78,\"comm\":\"nc\","
		    "\"process_comm\":\"nc\",\"cgroup_id\":1,\"netns\":4026532000,"
		    "\"saddr\":null,\"sport\":0,\"daddr\":\"::1\",\"dport\":53,"
		    "\"requested_port\":null,\"ephemeral\":true,"
		    "\"bound\":false,\"bind_address_no_port\":false,"
		    "\"error\":\"EAGAIN\",\"errno\":11,"
		    "\"search_ns\":null,\"held_ns\":null," TIME_JSON ",\"backend\":\"fentry\"}");
}

/* A task name can hold anything prctl(PR_SET_NAME) accepts. */
static void test_json_comm_escaped(void **state)
{
	struct eph_rec r = v4_assign();

	(void)state;
	memcpy(r.ev.comm,
	       "a\"b\\\n\x01\xff"
	       "z",
	       9);
	assert_json(
		&r, "tracepoint",
		"{\"event\":\"assign\",\"op\":\"connect\",\"proto\":\"tcp\",\"family\":\"ipv4\","
		"\"pid\":4242,\"tid\":4243,\"comm\":\"a\\\"b\\\\\\n\\u0001\\u00ffz\","
		"\"process_comm\":\"curl\","
		"\"cgroup_id\":7777,\"netns\":4026531840,\"saddr\":\"127.0.0.1\",\"sport\":40000,"
		"\"daddr\":\"127.0.0.2\",\"dport\":8080,\"requested_port\":null,"
		"\"ephemeral\":true,\"bound\":false,\"bind_address_no_port\":false,"
		"\"error\":null,\"errno\":0,\"search_ns\":12345,"
		"\"held_ns\":null," TIME_JSON ",\"backend\":\"tracepoint\"}");
}

/* A comm filling all 16 bytes (no NUL) is cut at 16: nothing past the array is read. */
static void test_json_comm_unterminated(void **state)
{
	struct eph_rec r = v4_assign();
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	memset(r.ev.comm, 'x', sizeof(r.ev.comm));
	memset(r.ev.pcomm, 'y', sizeof(r.ev.pcomm));
	assert_int_equal(eph_format_json(&sb, &r, "tracepoint"), 0);
	assert_non_null(strstr(sb.buf, ",\"comm\":\"xxxxxxxxxxxxxxxx\","
				       "\"process_comm\":\"yyyyyyyyyyyyyyyy\",\"cgroup_id\":"));
	sb_free(&sb);
}

/*
 * A thread of a process with another name (dig's isc-net-0000, a JVM's pool threads): comm is
 * the thread's, process_comm the process's; a record without pcomm (a replayed one) shows its
 * comm for both.
 */
static void test_json_process_comm(void **state)
{
	struct eph_rec r = v4_assign();
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	strcpy(r.ev.comm, "isc-net-0000");
	strcpy(r.ev.pcomm, "dig");
	assert_int_equal(eph_format_json(&sb, &r, "tracepoint"), 0);
	assert_non_null(strstr(sb.buf, ",\"tid\":4243,\"comm\":\"isc-net-0000\","
				       "\"process_comm\":\"dig\",\"cgroup_id\":7777,"));
	sb_reset(&sb);
	memset(r.ev.pcomm, 0, sizeof(r.ev.pcomm));
	assert_int_equal(eph_format_json(&sb, &r, "tracepoint"), 0);
	assert_non_null(strstr(sb.buf, ",\"comm\":\"isc-net-0000\","
				       "\"process_comm\":\"isc-net-0000\",\"cgroup_id\":"));
	sb_free(&sb);
}

/* The process's name is escaped as the thread's is. */
static void test_json_process_comm_escaped(void **state)
{
	struct eph_rec r = v4_assign();
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	strcpy(r.ev.pcomm, "p\"q\x1b[31m");
	assert_int_equal(eph_format_json(&sb, &r, "tracepoint"), 0);
	assert_non_null(strstr(sb.buf, ",\"comm\":\"curl\","
				       "\"process_comm\":\"p\\\"q\\u001b[31m\",\"cgroup_id\":"));
	sb_free(&sb);
}

static void test_json_appends(void **state)
{
	struct eph_rec r = v6_bind();
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	assert_int_equal(sb_puts(&sb, "line1\n"), 0);
	assert_int_equal(eph_format_json(&sb, &r, "fentry"), 0);
	assert_int_equal(strncmp(sb.buf, "line1\n{\"event\":\"assign\",", 24), 0);
	assert_int_equal(sb.buf[sb.len - 1], '}');
	sb_free(&sb);
}

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
		cmocka_unit_test(test_json_v4_assign),
		cmocka_unit_test(test_json_v4_fail),
		cmocka_unit_test(test_json_v4_release),
		cmocka_unit_test(test_json_release_without_held),
		cmocka_unit_test(test_json_held_only_on_release),
		cmocka_unit_test(test_json_bound_connect),
		cmocka_unit_test(test_json_connect_flags),
		cmocka_unit_test(test_json_v6_bind),
		cmocka_unit_test(test_json_v6_bind_fail),
		cmocka_unit_test(test_json_v6_sendmsg_fail),
		cmocka_unit_test(test_json_comm_escaped),
		cmocka_unit_test(test_json_comm_unterminated),
		cmocka_unit_test(test_json_process_comm),
		cmocka_unit_test(test_json_process_comm_escaped),
		cmocka_unit_test(test_json_appends),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_time_matches_gmtime),
		cmocka_unit_test(test_text_header),
		cmocka_unit_test(test_text_v4),
		cmocka_unit_test(test_text_bound_connect),
		cmocka_unit_test(test_text_v6),
		cmocka_unit_test(test_text_unprintable_comm_and_errno),
		cmocka_unit_test(test_text_process_comm),
	};

	/* TIME in text mode is local time: pin it. */
	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
