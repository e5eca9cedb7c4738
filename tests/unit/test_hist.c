// SPDX-License-Identifier: GPL-2.0
/* Unit tests of user/core/hist.c: accumulating kernel map entries, differences, bcc-style text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "hist.h"

static struct eph_hist_key key(uint8_t kind, uint8_t family, uint8_t result, uint8_t slot)
{
	struct eph_hist_key k;

	memset(&k, 0, sizeof(k));
	k.kind = kind;
	k.proto = IPPROTO_TCP;
	k.family = family;
	k.result = result;
	k.slot = slot;
	return k;
}

static void add(struct eph_hists *h, uint8_t kind, uint8_t family, uint8_t result, uint8_t slot,
		uint64_t v)
{
	struct eph_hist_key k = key(kind, family, result, slot);

	assert_int_equal(eph_hists__add(h, &k, v), 0);
}

static void test_add_groups_by_key(void **state)
{
	struct eph_hists h = EPH_HISTS_INIT;
	struct eph_hist_key bad;

	(void)state;
	add(&h, EPH_HIST_CONNECT, AF_INET, 0, 10, 3);
	add(&h, EPH_HIST_CONNECT, AF_INET, 0, 11, 2);
	add(&h, EPH_HIST_CONNECT, AF_INET, 0, EPH_HIST_SUM, 5000);
	add(&h, EPH_HIST_CONNECT, AF_INET, 99, 12, 4);
	add(&h, EPH_HIST_CONNECT, AF_INET6, 0, 10, 1);
	assert_int_equal(h.n, 3);
	assert_int_equal(h.v[0].count, 5);
	assert_int_equal(h.v[0].sum_ns, 5000);
	assert_int_equal(h.v[0].slots[10], 3);
	assert_int_equal(h.v[0].slots[11], 2);
	assert_int_equal(h.v[0].key.slot, 0);
	assert_int_equal(h.v[1].key.result, 99);
	assert_int_equal(h.v[1].count, 4);
	assert_int_equal(h.v[2].key.family, AF_INET6);

	bad = key(9, AF_INET, 0, 1); /* unknown kind */
	assert_int_equal(eph_hists__add(&h, &bad, 1), -EINVAL);
	bad = key(EPH_HIST_HOLD, AF_INET, 0, EPH_HIST_SLOTS); /* slot past the end */
	assert_int_equal(eph_hists__add(&h, &bad, 1), -EINVAL);
	assert_int_equal(h.n, 3);
	eph_hists__free(&h);
	assert_null(h.v);
}

static void test_diff(void **state)
{
	struct eph_hists before = EPH_HISTS_INIT, now = EPH_HISTS_INIT, d = EPH_HISTS_INIT;

	(void)state;
	add(&before, EPH_HIST_HOLD, AF_INET, 0, 20, 2);
	add(&before, EPH_HIST_CONNECT, AF_INET, 0, 10, 7);
	add(&now, EPH_HIST_HOLD, AF_INET, 0, 20, 2); /* unchanged: left out */
	add(&now, EPH_HIST_CONNECT, AF_INET, 0, 10, 9);
	add(&now, EPH_HIST_CONNECT, AF_INET, 0, 12, 1);
	add(&now, EPH_HIST_CONNECT, AF_INET, 0, EPH_HIST_SUM, 100);
	add(&now, EPH_HIST_BIND, AF_INET, 98, 5, 1); /* new since before */
	assert_int_equal(eph_hists__diff(&d, &now, &before), 0);
	assert_int_equal(d.n, 2);
	assert_int_equal(d.v[0].key.kind, EPH_HIST_CONNECT); /* sorted by kind */
	assert_int_equal(d.v[0].slots[10], 2);
	assert_int_equal(d.v[0].slots[12], 1);
	assert_int_equal(d.v[0].count, 3);
	assert_int_equal(d.v[0].sum_ns, 100);
	assert_int_equal(d.v[1].key.kind, EPH_HIST_BIND);
	assert_int_equal(d.v[1].count, 1);

	/* cumulative: before = NULL keeps everything */
	assert_int_equal(eph_hists__diff(&d, &now, NULL), 0);
	assert_int_equal(d.n, 3);
	eph_hists__free(&before);
	eph_hists__free(&now);
	eph_hists__free(&d);
}

static void test_log2_text(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	uint64_t slots[EPH_HIST_SLOTS] = { 0 };

	(void)state;
	assert_int_equal(eph_log2_text(&sb, slots, EPH_HIST_SLOTS, "nsecs"), 0);
	assert_int_equal(sb.len, 0); /* empty histogram prints nothing */
	slots[2] = 1;
	slots[4] = 4;
	assert_int_equal(eph_log2_text(&sb, slots, EPH_HIST_SLOTS, "nsecs"), 0);
	assert_string_equal(sb.buf,
			    "     nsecs               : count    distribution\n"
			    "         4 -> 7          : 1        |**********                              |\n"
			    "         8 -> 15         : 0        |                                        |\n"
			    "        16 -> 31         : 4        |****************************************|\n");
	sb_reset(&sb);
	memset(slots, 0, sizeof(slots));
	slots[0] = 2; /* slot 0 holds 0 and 1 */
	assert_int_equal(eph_log2_text(&sb, slots, EPH_HIST_SLOTS, "nsecs"), 0);
	assert_string_equal(sb.buf,
			    "     nsecs               : count    distribution\n"
			    "         0 -> 1          : 2        |****************************************|\n");
	sb_free(&sb);
}

static void test_text_and_json(void **state)
{
	struct eph_hists h = EPH_HISTS_INIT;
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	add(&h, EPH_HIST_CONNECT, AF_INET, 99, 10, 2);
	add(&h, EPH_HIST_CONNECT, AF_INET, 99, EPH_HIST_SUM, 3000);
	add(&h, EPH_HIST_HOLD, AF_INET6, 0, 0, 1);
	assert_int_equal(eph_hists__text(&sb, &h), 0);
	assert_string_equal(sb.buf,
			    "\nconnect() port search, tcp ipv4, EADDRNOTAVAIL: 2 calls, mean 1.5 us\n"
			    "     nsecs               : count    distribution\n"
			    "      1024 -> 2047       : 2        |****************************************|\n"
			    "\nport hold time, tcp ipv6: 1 calls, mean 0.0 us\n"
			    "     nsecs               : count    distribution\n"
			    "         0 -> 1          : 1        |****************************************|\n");
	sb_reset(&sb);
	assert_int_equal(eph_hists__json(&sb, &h, 1764000000123456789ull), 0);
	assert_string_equal(
		sb.buf,
		"{\"time\":\"2025-11-24T16:00:00.123456789Z\",\"histograms\":["
		"{\"kind\":\"connect_search\",\"proto\":\"tcp\",\"family\":\"ipv4\",\"result\":"
		"\"EADDRNOTAVAIL\",\"unit\":\"ns\",\"count\":2,\"sum\":3000,\"untimed\":0,"
		"\"buckets\":["
		"{\"low\":1024,\"high\":2047,\"count\":2}]},"
		"{\"kind\":\"hold\",\"proto\":\"tcp\",\"family\":\"ipv6\",\"result\":null,\"unit\":"
		"\"ns\",\"count\":1,\"sum\":0,\"untimed\":0,\"buckets\":[{\"low\":0,\"high\":1,"
		"\"count\":1}]}]}");
	sb_free(&sb);
	eph_hists__free(&h);
}

static void add_calls(struct eph_hists *h, uint8_t type, uint8_t op, uint8_t proto, uint16_t err,
		      uint64_t v)
{
	struct eph_stat_key k = { .type = type, .op = op, .proto = proto, .family = AF_INET,
				  .err = err };

	assert_int_equal(eph_hists__add_calls(h, &k, v), 0);
}

/*
 * The kernel's call counts ("stats") against the histograms: what no bucket timed is counted
 * apart (the tracepoint backend times only failed connect() searches), per interval, and an
 * interval with only untimed calls is not "no activity".
 */
static void test_untimed(void **state)
{
	struct eph_hists before = EPH_HISTS_INIT, now = EPH_HISTS_INIT, d = EPH_HISTS_INIT;
	struct eph_stat_key k = { .type = EPH_CONNECT, .op = EPH_OP_CONNECT, .proto = IPPROTO_TCP };
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	/* a bound connect() chooses no port: not a call to time; an unknown type: -EINVAL */
	assert_int_equal(eph_hists__add_calls(&now, &k, 5), 0);
	assert_int_equal(now.n, 0);
	k.type = 9;
	assert_int_equal(eph_hists__add_calls(&now, &k, 5), -EINVAL);
	k.type = EPH_FAIL;
	k.err = 300;
	assert_int_equal(eph_hists__add_calls(&now, &k, 5), -EINVAL);

	/* first reading: 10 connects, none timed; 2 EADDRNOTAVAIL, both timed */
	add_calls(&before, EPH_ASSIGN, EPH_OP_CONNECT, IPPROTO_TCP, 0, 10);
	add_calls(&before, EPH_FAIL, EPH_OP_CONNECT, IPPROTO_TCP, EADDRNOTAVAIL, 2);
	add(&before, EPH_HIST_CONNECT, AF_INET, EADDRNOTAVAIL, 10, 2);
	/* second: 90 connects, 3 EADDRNOTAVAIL timed, 4 UDP sendmsg EAGAIN and a bind() untimed */
	add_calls(&now, EPH_ASSIGN, EPH_OP_CONNECT, IPPROTO_TCP, 0, 90);
	add_calls(&now, EPH_FAIL, EPH_OP_CONNECT, IPPROTO_TCP, EADDRNOTAVAIL, 3);
	add(&now, EPH_HIST_CONNECT, AF_INET, EADDRNOTAVAIL, 10, 3);
	add(&now, EPH_HIST_CONNECT, AF_INET, EADDRNOTAVAIL, EPH_HIST_SUM, 3000);
	add_calls(&now, EPH_FAIL, EPH_OP_SENDMSG, IPPROTO_UDP, EAGAIN, 4);
	add_calls(&now, EPH_ASSIGN, EPH_OP_BIND, IPPROTO_TCP, 0, 1);
	assert_int_equal(eph_hists__diff(&d, &now, &before), 0);
	assert_int_equal(d.n, 4);
	/* connect ok: 80 in the interval, not timed */
	assert_int_equal(d.v[0].key.kind, EPH_HIST_CONNECT);
	assert_int_equal(d.v[0].key.result, 0);
	assert_int_equal(d.v[0].count, 0);
	assert_int_equal(d.v[0].untimed, 80);
	/* connect EADDRNOTAVAIL: one, timed */
	assert_int_equal(d.v[1].key.result, EADDRNOTAVAIL);
	assert_int_equal(d.v[1].count, 1);
	assert_int_equal(d.v[1].untimed, 0);
	/* bind(): the kind bind()/autobind, as are UDP implicit binds */
	assert_int_equal(d.v[2].key.kind, EPH_HIST_BIND);
	assert_int_equal(d.v[2].key.proto, IPPROTO_TCP);
	assert_int_equal(d.v[2].untimed, 1);
	assert_int_equal(d.v[3].key.proto, IPPROTO_UDP);
	assert_int_equal(d.v[3].key.result, EAGAIN);
	assert_int_equal(d.v[3].untimed, 4);
	assert_int_equal(eph_hists__text(&sb, &d), 0);
	assert_non_null(strstr(sb.buf, "\nconnect() port search, tcp ipv4, ok: 80 calls, not timed "
				       "(this backend cannot see where the search ends)\n"));
	assert_non_null(strstr(sb.buf, "\nconnect() port search, tcp ipv4, EADDRNOTAVAIL: 1 calls, "
				       "mean 3.0 us\n"));
	assert_non_null(strstr(sb.buf, "\nbind()/autobind port choice, udp ipv4, EAGAIN: 4 calls, "
				       "not timed"));
	sb_reset(&sb);
	assert_int_equal(eph_hists__json(&sb, &d, 0), 0);
	assert_non_null(strstr(sb.buf, "{\"kind\":\"connect_search\",\"proto\":\"tcp\","
				       "\"family\":\"ipv4\",\"result\":\"ok\",\"unit\":\"ns\","
				       "\"count\":0,\"sum\":0,\"untimed\":80,\"buckets\":[]}"));

	/* both timed and not: "N more not timed"; the same reading again: nothing new */
	add(&now, EPH_HIST_CONNECT, AF_INET, 0, 9, 5);
	assert_int_equal(eph_hists__diff(&d, &now, &before), 0);
	assert_int_equal(d.v[0].count, 5);
	assert_int_equal(d.v[0].untimed, 75);
	sb_reset(&sb);
	assert_int_equal(eph_hists__text(&sb, &d), 0);
	assert_non_null(strstr(sb.buf, "ok: 5 calls, mean 0.0 us; 75 more not timed (this backend"));
	assert_int_equal(eph_hists__diff(&d, &now, &now), 0);
	assert_int_equal(d.n, 0);
	/* cumulative: since the start */
	assert_int_equal(eph_hists__diff(&d, &now, NULL), 0);
	assert_int_equal(d.v[0].untimed, 85);
	sb_free(&sb);
	eph_hists__free(&before);
	eph_hists__free(&now);
	eph_hists__free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_groups_by_key),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_log2_text),
		cmocka_unit_test(test_text_and_json),
		cmocka_unit_test(test_untimed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
