// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of user/core/format.c: JSON lines of every kind of event (assign, fail, release,
 * bound connect, IPv4 and IPv6, connect(), bind() and sendmsg()), names escaped or cut, and
 * appending. The times and the text columns are test_format_text.c's; the events both use,
 * format_fixture.c's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <string.h>

#include "format.h"
#include "format_fixture.h"

#define TIME_JSON "\"time\":\"2026-11-24T05:18:08.123456789Z\""

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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
