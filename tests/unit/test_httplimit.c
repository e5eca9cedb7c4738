// SPDX-License-Identifier: GPL-2.0
/* Unit tests of user/cmd/httplimit.c: who gives way above the caps, the deadline, the slots.
 * Each connection is a socketpair: the limiter gets one end, the test watches the other for
 * the end of stream that shutdown() causes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httplimit.h"

#define NCONN 8

struct pair {
	int fd;	  /* the server's end, given to the limiter */
	int peer; /* the client's end */
};

static struct pair pairs[NCONN];

static int setup(void **state)
{
	int i, sv[2];

	(void)state;
	for (i = 0; i < NCONN; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
			return -1;
		pairs[i].fd = sv[0];
		pairs[i].peer = sv[1];
	}
	return 0;
}

static int teardown(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < NCONN; i++) {
		close(pairs[i].fd);
		close(pairs[i].peer);
	}
	return 0;
}

/* The limiter shut down connection i: its client sees the end of the stream. */
static bool is_shut(int i)
{
	char c;

	return recv(pairs[i].peer, &c, 1, MSG_DONTWAIT) == 0;
}

static const struct sockaddr *v4(const char *addr)
{
	static struct sockaddr_in sin[4];
	static int n;
	struct sockaddr_in *s = &sin[n++ % 4];

	memset(s, 0, sizeof(*s));
	s->sin_family = AF_INET;
	s->sin_port = htons(40000 + n); /* ports do not matter, addresses do */
	inet_pton(AF_INET, addr, &s->sin_addr);
	return (const struct sockaddr *)s;
}

static struct eph_httplimit *new_limit(unsigned int max, unsigned int per_addr, unsigned int slots)
{
	struct eph_httplimit *hl =
		eph_httplimit__new(&(struct eph_httplimit_opts){ .max_conns = max,
								 .max_per_addr = per_addr,
								 .slots = slots,
								 .deadline_ms = 100 });

	assert_non_null(hl);
	return hl;
}

static void test_bad_options(void **state)
{
	struct eph_httplimit_opts o = { .max_conns = 4,
					.max_per_addr = 2,
					.slots = 8,
					.deadline_ms = 1000 };
	struct eph_httplimit_opts bad;

	(void)state;
	bad = o;
	bad.max_conns = 9; /* more than the slots */
	errno = 0;
	assert_null(eph_httplimit__new(&bad));
	assert_int_equal(errno, EINVAL);
	bad = o;
	bad.max_per_addr = 0;
	assert_null(eph_httplimit__new(&bad));
	bad = o;
	bad.deadline_ms = 0;
	assert_null(eph_httplimit__new(&bad));
	bad = o;
	bad.slots = 0;
	bad.max_conns = 0;
	assert_null(eph_httplimit__new(&bad));
	eph_httplimit__free(NULL);
}

/* Above the per-address cap, that address's longest waiting connection goes, not another's. */
static void test_per_address(void **state)
{
	struct eph_httplimit *hl = new_limit(8, 2, 8);
	struct eph_httplimit_stats st;

	(void)state;
	assert_non_null(eph_httplimit__add(hl, pairs[0].fd, v4("10.0.0.1"), 10));
	assert_non_null(eph_httplimit__add(hl, pairs[1].fd, v4("10.0.0.2"), 11));
	assert_non_null(eph_httplimit__add(hl, pairs[2].fd, v4("10.0.0.1"), 12));
	assert_false(is_shut(0));
	assert_non_null(eph_httplimit__add(hl, pairs[3].fd, v4("10.0.0.1"), 13));
	assert_true(is_shut(0));
	assert_false(is_shut(1)); /* older, but of another address */
	assert_false(is_shut(2));
	assert_false(is_shut(3));
	eph_httplimit__stats(hl, &st);
	assert_int_equal(st.open, 3);
	assert_int_equal(st.evicted, 1);
	assert_int_equal(st.expired, 0);
	eph_httplimit__free(hl);
}

/* Above the global cap, the connection that has waited longest for an answer goes: an answer
 * restarts the wait, and the newcomer stays even when all came at the same time. */
static void test_global_oldest_wait(void **state)
{
	struct eph_httplimit *hl = new_limit(3, 3, 8);
	struct eph_httplimit_conn *a;
	struct eph_httplimit_stats st;

	(void)state;
	a = eph_httplimit__add(hl, pairs[0].fd, v4("10.0.0.1"), 1);
	assert_non_null(a);
	assert_non_null(eph_httplimit__add(hl, pairs[1].fd, v4("10.0.0.2"), 2));
	assert_non_null(eph_httplimit__add(hl, pairs[2].fd, v4("10.0.0.3"), 3));
	eph_httplimit__answered(hl, a, 5);
	assert_non_null(eph_httplimit__add(hl, pairs[3].fd, v4("10.0.0.4"), 6));
	assert_true(is_shut(1));  /* waiting since 2 */
	assert_false(is_shut(0)); /* answered at 5 */
	assert_false(is_shut(2));
	assert_false(is_shut(3));
	/* everyone at the same instant: one of the older ones goes, never the newcomer */
	assert_non_null(eph_httplimit__add(hl, pairs[4].fd, v4("10.0.0.5"), 6));
	assert_false(is_shut(4));
	assert_true(is_shut(2)); /* waiting since 3 */
	eph_httplimit__stats(hl, &st);
	assert_int_equal(st.open, 3);
	assert_int_equal(st.evicted, 2);
	eph_httplimit__free(hl);
}

/* Above the global cap, the address with the most open connections gives way first, even
 * when a lone connection of another address has waited longer. */
static void test_global_crowd_first(void **state)
{
	struct eph_httplimit *hl = new_limit(4, 4, 8);

	(void)state;
	eph_httplimit__add(hl, pairs[0].fd, v4("10.0.0.1"), 1); /* the lone one, oldest */
	eph_httplimit__add(hl, pairs[1].fd, v4("10.0.0.2"), 2);
	eph_httplimit__add(hl, pairs[2].fd, v4("10.0.0.2"), 3);
	eph_httplimit__add(hl, pairs[3].fd, v4("10.0.0.3"), 4);
	eph_httplimit__add(hl, pairs[4].fd, v4("10.0.0.4"), 5);
	assert_true(is_shut(1)); /* 10.0.0.2 had two: its longest waiting one */
	assert_false(is_shut(0));
	assert_false(is_shut(2));
	/* now every address has one: the longest waiting goes */
	eph_httplimit__add(hl, pairs[5].fd, v4("10.0.0.5"), 6);
	assert_true(is_shut(0));
	assert_false(is_shut(2));
	assert_false(is_shut(3));
	assert_false(is_shut(4));
	assert_false(is_shut(5));
	eph_httplimit__free(hl);
}

/* A shut-down connection is not shut again, nor counted, until the server removes it. */
static void test_shut_not_counted(void **state)
{
	struct eph_httplimit *hl = new_limit(2, 2, 4);
	struct eph_httplimit_conn *c[4];
	struct eph_httplimit_stats st;
	int i;

	(void)state;
	for (i = 0; i < 4; i++)
		c[i] = eph_httplimit__add(hl, pairs[i].fd, v4("10.0.0.1"), 10 + i);
	assert_true(is_shut(0));
	assert_true(is_shut(1));
	assert_false(is_shut(2));
	assert_false(is_shut(3));
	eph_httplimit__stats(hl, &st);
	assert_int_equal(st.open, 2);
	assert_int_equal(st.evicted, 2);
	/* every slot taken: the next one is let in untracked */
	assert_null(eph_httplimit__add(hl, pairs[4].fd, v4("10.0.0.1"), 20));
	assert_false(is_shut(4));
	eph_httplimit__remove(hl, c[0]); /* shut: open stays */
	eph_httplimit__remove(hl, c[3]); /* open: one less */
	eph_httplimit__remove(hl, NULL);
	eph_httplimit__stats(hl, &st);
	assert_int_equal(st.open, 1);
	assert_int_equal(st.untracked, 1);
	assert_non_null(eph_httplimit__add(hl, pairs[5].fd, v4("10.0.0.1"), 21));
	assert_false(is_shut(2));
	eph_httplimit__free(hl);
}

/* The deadline counts from the connect or the last answer, whatever else happens. */
static void test_deadline(void **state)
{
	struct eph_httplimit *hl = new_limit(8, 8, 8); /* deadline 100 ms */
	struct eph_httplimit_conn *a, *b;
	struct eph_httplimit_stats st;

	(void)state;
	a = eph_httplimit__add(hl, pairs[0].fd, v4("10.0.0.1"), 1000);
	b = eph_httplimit__add(hl, pairs[1].fd, v4("10.0.0.1"), 1000);
	assert_non_null(a);
	assert_non_null(b);
	eph_httplimit__answered(hl, b, 1050);
	assert_int_equal(eph_httplimit__expire(hl, 1099), 0);
	assert_int_equal(eph_httplimit__expire(hl, 1100), 1);
	assert_true(is_shut(0));
	assert_false(is_shut(1));
	/* answered after the caller read its clock: not expired by an older "now" */
	eph_httplimit__answered(hl, b, 1300);
	assert_int_equal(eph_httplimit__expire(hl, 1200), 0);
	assert_int_equal(eph_httplimit__expire(hl, 1400), 1);
	assert_true(is_shut(1));
	assert_int_equal(eph_httplimit__expire(hl, 9999), 0); /* once */
	eph_httplimit__stats(hl, &st);
	assert_int_equal(st.expired, 2);
	assert_int_equal(st.open, 0);
	eph_httplimit__free(hl);
}

/* IPv4 and IPv6 addresses are told apart; peers of other families count as one address. */
static void test_address_families(void **state)
{
	struct eph_httplimit *hl = new_limit(8, 1, 8);
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 }, b6 = { .sin6_family = AF_INET6 };
	struct sockaddr unix_peer = { .sa_family = AF_UNIX };

	(void)state;
	inet_pton(AF_INET6, "2001:db8::1", &a6.sin6_addr);
	inet_pton(AF_INET6, "2001:db8::2", &b6.sin6_addr);
	eph_httplimit__add(hl, pairs[0].fd, (struct sockaddr *)&a6, 1);
	eph_httplimit__add(hl, pairs[1].fd, (struct sockaddr *)&b6, 2);
	eph_httplimit__add(hl, pairs[2].fd, v4("10.0.0.1"), 3);
	assert_false(is_shut(0));
	assert_false(is_shut(1));
	eph_httplimit__add(hl, pairs[3].fd, (struct sockaddr *)&a6, 4);
	assert_true(is_shut(0));
	assert_false(is_shut(1));
	assert_false(is_shut(2));
	eph_httplimit__add(hl, pairs[4].fd, &unix_peer, 5);
	eph_httplimit__add(hl, pairs[5].fd, NULL, 6);
	assert_false(is_shut(4)); /* every AF_UNIX peer is one address, a missing one another */
	eph_httplimit__add(hl, pairs[6].fd, &unix_peer, 7);
	assert_true(is_shut(4));
	assert_false(is_shut(5));
	eph_httplimit__free(hl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test_setup_teardown(test_per_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_global_oldest_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(test_global_crowd_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shut_not_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_address_families, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
