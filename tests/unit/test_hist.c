// SPDX-License-Identifier: GPL-2.0
/* Unit tests of user/hist.c: accumulating kernel map entries, differences, bcc-style text. */
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
		"\"EADDRNOTAVAIL\",\"unit\":\"ns\",\"count\":2,\"sum\":3000,\"buckets\":["
		"{\"low\":1024,\"high\":2047,\"count\":2}]},"
		"{\"kind\":\"hold\",\"proto\":\"tcp\",\"family\":\"ipv6\",\"result\":null,\"unit\":"
		"\"ns\",\"count\":1,\"sum\":0,\"buckets\":[{\"low\":0,\"high\":1,\"count\":1}]}]}");
	sb_free(&sb);
	eph_hists__free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_groups_by_key),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_log2_text),
		cmocka_unit_test(test_text_and_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
