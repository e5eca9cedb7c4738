// SPDX-License-Identifier: GPL-2.0
/* Unit tests of user/core/event.c: record decoding and field names. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "event.h"

/* A well-formed record: a TCP/IPv4 connect() that got port 40000. */
static struct eph_event good_event(void)
{
	struct eph_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.ts_ns = 5000000000ull;
	ev.search_ns = 12345;
	ev.cgroup_id = 7777;
	ev.sock_id = 0xffff888012345678ull;
	ev.cookie = 42;
	ev.pid = 4242;
	ev.tid = 4243;
	ev.netns = 4026531840u;
	ev.sport = 40000;
	ev.dport = 8080;
	ev.flags = EPH_F_EPHEMERAL | EPH_F_SEARCH | EPH_F_DEST | EPH_F_SADDR;
	ev.type = EPH_ASSIGN;
	ev.op = EPH_OP_CONNECT;
	ev.proto = IPPROTO_TCP;
	ev.family = AF_INET;
	ev.backend = EPH_BACKEND_TRACEPOINT;
	memcpy(ev.saddr, "\x7f\x00\x00\x01", 4);
	memcpy(ev.daddr, "\x7f\x00\x00\x02", 4);
	memcpy(ev.comm, "curl", 5);
	memcpy(ev.pcomm, "curl", 5);
	return ev;
}

static void test_abi_size(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct eph_event), 144);
	/* pcomm came last, after comm: the fields of ABI 2 kept their offsets */
	assert_int_equal(offsetof(struct eph_event, comm), 112);
	assert_int_equal(offsetof(struct eph_event, pcomm), 128);
}

static void test_decode_good(void **state)
{
	struct eph_event ev = good_event();
	struct eph_rec r;

	(void)state;
	memset(&r, 0xaa, sizeof(r));
	assert_int_equal(eph_decode(&ev, sizeof(ev), 1795497483000000000ll, &r), 0);
	assert_memory_equal(&r.ev, &ev, sizeof(ev));
	assert_int_equal(r.wall_ns, 1795497488000000000ull);
	assert_string_equal(r.ev.comm, "curl");
}

static void test_decode_negative_offset(void **state)
{
	struct eph_event ev = good_event();
	struct eph_rec r;

	(void)state;
	assert_int_equal(eph_decode(&ev, sizeof(ev), -2000000000ll, &r), 0);
	assert_int_equal(r.wall_ns, 3000000000ull);
}

static void test_decode_unaligned(void **state)
{
	struct eph_event ev = good_event();
	unsigned char raw[sizeof(ev) + 1];
	struct eph_rec r;

	(void)state;
	/* One byte off: decoding must not read the record in place (UBSan would object). */
	memcpy(raw + 1, &ev, sizeof(ev));
	assert_int_equal(eph_decode(raw + 1, sizeof(ev), 0, &r), 0);
	assert_int_equal(r.ev.pid, 4242);
	assert_int_equal(r.ev.sport, 40000);
	assert_int_equal(r.wall_ns, 5000000000ull);
}

static void test_decode_comm_terminated(void **state)
{
	struct eph_event ev = good_event();
	struct eph_rec r;

	(void)state;
	memset(ev.comm, 'A', sizeof(ev.comm));
	assert_int_equal(eph_decode(&ev, sizeof(ev), 0, &r), 0);
	assert_int_equal(r.ev.comm[EPH_COMM_LEN - 1], '\0');
	assert_string_equal(r.ev.comm, "AAAAAAAAAAAAAAA");
	assert_string_equal(r.ev.pcomm, "curl");

	memset(ev.pcomm, 'B', sizeof(ev.pcomm));
	assert_int_equal(eph_decode(&ev, sizeof(ev), 0, &r), 0);
	assert_int_equal(r.ev.pcomm[EPH_COMM_LEN - 1], '\0');
	assert_string_equal(r.ev.pcomm, "BBBBBBBBBBBBBBB");
}

/* A thread's record names its process apart; one without pcomm falls back to the comm. */
static void test_proc_comm(void **state)
{
	struct eph_event ev = good_event();
	struct eph_rec r;

	(void)state;
	strcpy(ev.comm, "isc-net-0000");
	strcpy(ev.pcomm, "dig");
	assert_int_equal(eph_decode(&ev, sizeof(ev), 0, &r), 0);
	assert_string_equal(r.ev.comm, "isc-net-0000");
	assert_string_equal(eph_proc_comm(&r.ev), "dig");
	memset(ev.pcomm, 0, sizeof(ev.pcomm));
	assert_int_equal(eph_decode(&ev, sizeof(ev), 0, &r), 0);
	assert_string_equal(eph_proc_comm(&r.ev), "isc-net-0000");
}

static void test_decode_release_without_op(void **state)
{
	struct eph_event ev = good_event();
	struct eph_rec r;

	(void)state;
	ev.type = EPH_RELEASE;
	ev.op = EPH_OP_NONE;
	assert_int_equal(eph_decode(&ev, sizeof(ev), 0, &r), 0);
	assert_int_equal(r.ev.type, EPH_RELEASE);
	ev.type = EPH_TIME_WAIT;
	assert_int_equal(eph_decode(&ev, sizeof(ev), 0, &r), 0);
	assert_int_equal(r.ev.type, EPH_TIME_WAIT);
}

/* A TCP connect() on a socket bind() gave its port: only as such. */
static void test_decode_bound_connect(void **state)
{
	struct eph_event ev = good_event();
	struct eph_rec r;

	(void)state;
	ev.type = EPH_CONNECT;
	ev.flags = EPH_F_EPHEMERAL | EPH_F_BOUND | EPH_F_DEST | EPH_F_SADDR;
	assert_int_equal(eph_decode(&ev, sizeof(ev), 0, &r), 0);
	assert_memory_equal(&r.ev, &ev, sizeof(ev));
	ev.flags |= EPH_F_NO_PORT;
	assert_int_equal(eph_decode(&ev, sizeof(ev), 0, &r), 0);
	assert_int_equal(r.ev.flags,
			 EPH_F_EPHEMERAL | EPH_F_BOUND | EPH_F_NO_PORT | EPH_F_DEST | EPH_F_SADDR);
}

/* A rejected record leaves *out as it was. */
static void assert_rejected(const void *data, size_t size)
{
	struct eph_rec r, before;

	memset(&r, 0x5a, sizeof(r));
	before = r;
	assert_int_equal(eph_decode(data, size, 0, &r), -EINVAL);
	assert_memory_equal(&r, &before, sizeof(r));
}

static void test_decode_bad_size(void **state)
{
	unsigned char raw[sizeof(struct eph_event) + 8];
	struct eph_event ev = good_event();

	(void)state;
	memcpy(raw, &ev, sizeof(ev));
	assert_rejected(raw, 0);
	assert_rejected(raw, sizeof(ev) - 1);
	assert_rejected(raw, sizeof(ev) + 1);
	assert_rejected(raw, sizeof(ev) + 8);
	assert_rejected(raw, 64);
	assert_rejected(raw, 128); /* a record of ABI 2, without pcomm */
	assert_rejected(NULL, sizeof(ev));
}

static void test_decode_bad_type(void **state)
{
	struct eph_event ev = good_event();

	(void)state;
	ev.type = 0;
	assert_rejected(&ev, sizeof(ev));
	ev.type = EPH_CONNECT + 1;
	assert_rejected(&ev, sizeof(ev));
	ev.type = 255;
	assert_rejected(&ev, sizeof(ev));
}

static void test_decode_bad_op(void **state)
{
	struct eph_event ev = good_event();

	(void)state;
	ev.op = EPH_OP_LISTEN + 1;
	assert_rejected(&ev, sizeof(ev));
	ev.op = 255;
	assert_rejected(&ev, sizeof(ev));
}

static void test_decode_bad_proto(void **state)
{
	struct eph_event ev = good_event();

	(void)state;
	ev.proto = 0;
	assert_rejected(&ev, sizeof(ev));
	ev.proto = IPPROTO_ICMP;
	assert_rejected(&ev, sizeof(ev));
	ev.proto = IPPROTO_SCTP;
	assert_rejected(&ev, sizeof(ev));
}

static void test_decode_bad_family(void **state)
{
	struct eph_event ev = good_event();

	(void)state;
	ev.family = AF_UNSPEC;
	assert_rejected(&ev, sizeof(ev));
	ev.family = AF_UNIX;
	assert_rejected(&ev, sizeof(ev));
	ev.family = AF_PACKET;
	assert_rejected(&ev, sizeof(ev));
}

static void test_decode_bad_backend(void **state)
{
	struct eph_event ev = good_event();

	(void)state;
	ev.backend = EPH_BACKEND_CGROUP + 1;
	assert_rejected(&ev, sizeof(ev));
	ev.backend = 255;
	assert_rejected(&ev, sizeof(ev));
}

/* A failure carries a positive errno, and only a failure carries one (fuzz_decode found a
 * failure with errno 0 becoming an "E0" failure row). */
static void test_decode_errno_by_type(void **state)
{
	struct eph_event ev = good_event();
	struct eph_rec r;

	(void)state;
	ev.type = EPH_FAIL;
	ev.err = 99;
	assert_int_equal(eph_decode(&ev, sizeof(ev), 0, &r), 0);
	ev.err = 0;
	assert_rejected(&ev, sizeof(ev));
	ev.err = -99;
	assert_rejected(&ev, sizeof(ev));
	ev.type = EPH_ASSIGN;
	ev.err = 99;
	assert_rejected(&ev, sizeof(ev));
	ev.type = EPH_RELEASE;
	assert_rejected(&ev, sizeof(ev));
	ev.type = EPH_CONNECT;
	assert_rejected(&ev, sizeof(ev));
}

/* A bound connect() is a connect() (TCP, or UDP: a move to another address): not a bind, not
 * without op. */
static void test_decode_bound_connect_bad(void **state)
{
	struct eph_event ev = good_event();
	struct eph_rec r;

	(void)state;
	ev.type = EPH_CONNECT;
	ev.op = EPH_OP_BIND;
	assert_rejected(&ev, sizeof(ev));
	ev.op = EPH_OP_NONE;
	assert_rejected(&ev, sizeof(ev));
	ev.op = EPH_OP_CONNECT;
	ev.proto = IPPROTO_UDP;
	assert_int_equal(eph_decode(&ev, sizeof(ev), 0, &r), 0);
	assert_int_equal(r.ev.proto, IPPROTO_UDP);
	ev.proto = IPPROTO_TCP;
	assert_int_equal(eph_decode(&ev, sizeof(ev), 0, &r), 0);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(eph_type_name(EPH_ASSIGN), "assign");
	assert_string_equal(eph_type_name(EPH_FAIL), "fail");
	assert_string_equal(eph_type_name(EPH_RELEASE), "release");
	assert_string_equal(eph_type_name(EPH_TIME_WAIT), "time_wait");
	assert_string_equal(eph_type_name(EPH_CONNECT), "bound_connect");
	assert_null(eph_type_name(0));
	assert_null(eph_type_name(6));
	assert_null(eph_type_name(255));

	assert_string_equal(eph_op_name(EPH_OP_CONNECT), "connect");
	assert_string_equal(eph_op_name(EPH_OP_BIND), "bind");
	assert_string_equal(eph_op_name(EPH_OP_SENDMSG), "sendmsg");
	assert_string_equal(eph_op_name(EPH_OP_LISTEN), "listen");
	assert_null(eph_op_name(EPH_OP_NONE));
	assert_null(eph_op_name(5));

	assert_string_equal(eph_proto_name(6), "tcp");
	assert_string_equal(eph_proto_name(17), "udp");
	assert_null(eph_proto_name(0));
	assert_null(eph_proto_name(1));

	assert_string_equal(eph_family_name(2), "ipv4");
	assert_string_equal(eph_family_name(10), "ipv6");
	assert_null(eph_family_name(0));
	assert_null(eph_family_name(1));

	assert_string_equal(eph_backend_name(EPH_BACKEND_AUTO), "auto");
	assert_string_equal(eph_backend_name(EPH_BACKEND_FENTRY), "fentry");
	assert_string_equal(eph_backend_name(EPH_BACKEND_KPROBE), "kprobe");
	assert_string_equal(eph_backend_name(EPH_BACKEND_TRACEPOINT), "tracepoint");
	assert_string_equal(eph_backend_name(EPH_BACKEND_CGROUP), "cgroup");
	assert_null(eph_backend_name(5));
}

static void test_backend_parse(void **state)
{
	(void)state;
	assert_int_equal(eph_backend_parse("auto"), EPH_BACKEND_AUTO);
	assert_int_equal(eph_backend_parse("fentry"), EPH_BACKEND_FENTRY);
	assert_int_equal(eph_backend_parse("kprobe"), EPH_BACKEND_KPROBE);
	assert_int_equal(eph_backend_parse("tracepoint"), EPH_BACKEND_TRACEPOINT);
	assert_int_equal(eph_backend_parse("cgroup"), EPH_BACKEND_CGROUP);
	assert_int_equal(eph_backend_parse("Fentry"), -1);
	assert_int_equal(eph_backend_parse("kprobes"), -1);
	assert_int_equal(eph_backend_parse(""), -1);
	assert_int_equal(eph_backend_parse(NULL), -1);
}

static void test_errno_name(void **state)
{
	char buf[16];

	(void)state;
	assert_string_equal(eph_errno_name(99, buf, sizeof(buf)), "EADDRNOTAVAIL");
	assert_string_equal(eph_errno_name(98, buf, sizeof(buf)), "EADDRINUSE");
	assert_string_equal(eph_errno_name(11, buf, sizeof(buf)), "EAGAIN");
	assert_string_equal(eph_errno_name(22, buf, sizeof(buf)), "EINVAL");
	assert_string_equal(eph_errno_name(13, buf, sizeof(buf)), "EACCES");
	/* No name: the number, written into buf. */
	assert_ptr_equal(eph_errno_name(4000, buf, sizeof(buf)), buf);
	assert_string_equal(buf, "E4000");
	assert_string_equal(eph_errno_name(0, buf, sizeof(buf)), "E0");
	assert_string_equal(eph_errno_name(-5, buf, sizeof(buf)), "E-5");
	/* Truncated, still terminated. */
	assert_string_equal(eph_errno_name(123456, buf, 4), "E12");
}

static void test_addr_str(void **state)
{
	uint8_t a[16];
	char buf[64];

	(void)state;
	/* IPv4 reads the first 4 bytes only, whatever follows. */
	memset(a, 0xee, sizeof(a));
	memcpy(a, "\x7f\x00\x00\x01", 4);
	assert_int_equal(eph_addr_str(AF_INET, a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "127.0.0.1");
	memcpy(a, "\xff\xff\xff\xff", 4);
	assert_int_equal(eph_addr_str(AF_INET, a, buf, 16), 0);
	assert_string_equal(buf, "255.255.255.255");
	/* every width of an octet, and the buffer's bound as inet_ntop() has it */
	memcpy(a, "\x00\x09\x0a\x63", 4);
	assert_int_equal(eph_addr_str(AF_INET, a, buf, 10), 0);
	assert_string_equal(buf, "0.9.10.99");
	memcpy(a, "\x64\xc8\xfe\x01", 4);
	assert_int_equal(eph_addr_str(AF_INET, a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "100.200.254.1");
	memcpy(a, "\xff\xff\xff\xff", 4);
	assert_int_equal(eph_addr_str(AF_INET, a, buf, 15), -ENOSPC);
	for (unsigned int v = 0; v < 256; v++) {
		char want[INET_ADDRSTRLEN];

		memset(a, (int)v, 4);
		a[1] = (uint8_t)(255 - v);
		assert_non_null(inet_ntop(AF_INET, a, want, sizeof(want)));
		assert_int_equal(eph_addr_str(AF_INET, a, buf, sizeof(buf)), 0);
		assert_string_equal(buf, want);
	}

	memcpy(a, "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01", 16);
	assert_int_equal(eph_addr_str(AF_INET6, a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "::1");
	memcpy(a, "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01", 16);
	assert_int_equal(eph_addr_str(AF_INET6, a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2001:db8::1");
	memcpy(a, "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x0a\x00\x00\x01", 16);
	assert_int_equal(eph_addr_str(AF_INET6, a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "::ffff:10.0.0.1");

	assert_int_equal(eph_addr_str(AF_UNIX, a, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(eph_addr_str(0, a, buf, sizeof(buf)), -EINVAL);
	/* "::ffff:10.0.0.1" needs 16 bytes. */
	assert_int_equal(eph_addr_str(AF_INET6, a, buf, 15), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_abi_size),
		cmocka_unit_test(test_decode_good),
		cmocka_unit_test(test_decode_negative_offset),
		cmocka_unit_test(test_decode_unaligned),
		cmocka_unit_test(test_decode_comm_terminated),
		cmocka_unit_test(test_proc_comm),
		cmocka_unit_test(test_decode_release_without_op),
		cmocka_unit_test(test_decode_bound_connect),
		cmocka_unit_test(test_decode_bad_size),
		cmocka_unit_test(test_decode_bad_type),
		cmocka_unit_test(test_decode_bad_op),
		cmocka_unit_test(test_decode_bad_proto),
		cmocka_unit_test(test_decode_bad_family),
		cmocka_unit_test(test_decode_bad_backend),
		cmocka_unit_test(test_decode_errno_by_type),
		cmocka_unit_test(test_decode_bound_connect_bad),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_backend_parse),
		cmocka_unit_test(test_errno_name),
		cmocka_unit_test(test_addr_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
