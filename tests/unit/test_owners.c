// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of user/node/owners.c over this machine's own /proc: socket owners kept from one
 * update to the next.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sockdiag.h"

static uint64_t sock_inode(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return st.st_ino;
}

static int cmp_inode(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t owner(const struct eph_owners *o, uint64_t inode)
{
	struct eph_occ_sock s = { .inode = inode };

	return eph_owners__fill(o, &s) ? s.pid : 0;
}

static void test_owners(void **state)
{
	int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM, 0), d, p[2];
	uint64_t want[4], ia = sock_inode(a), ib = sock_inode(b), ic, id;
	struct eph_owners *o = eph_owners__new();
	const struct eph_owners_stats *st;
	uint32_t self = getpid();
	struct eph_occ_sock socks[4];
	size_t npaths, i;
	char **paths;
	pid_t child;

	(void)state;
	assert_non_null(o);
	assert_int_equal(pipe(p), 0);
	child = fork();
	if (child == 0) { /* a socket of its own, and copies of a and b */
		int c = socket(AF_INET, SOCK_DGRAM, 0);

		ic = sock_inode(c);
		if (write(p[1], &ic, sizeof(ic)) != sizeof(ic))
			_exit(1);
		pause();
		_exit(0);
	}
	assert_true(child > 0);
	assert_int_equal(read(p[0], &ic, sizeof(ic)), sizeof(ic));
	want[0] = ia, want[1] = ib, want[2] = ic;
	qsort(want, 3, sizeof(*want), cmp_inode);

	/* from nothing: every process looked at, the lowest pid for shared sockets */
	assert_int_equal(eph_owners__update(o, want, 3, NULL, 0, true), 0);
	st = eph_owners__stats(o);
	assert_int_equal(st->wanted, 3);
	assert_int_equal(st->carried, 0);
	assert_int_equal(st->unfound, 0);
	assert_true(st->whole);
	assert_int_equal(owner(o, ia), self);
	assert_int_equal(owner(o, ib), self);
	assert_int_equal(owner(o, ic), child);

	/* again: all known, /proc not even listed */
	assert_int_equal(eph_owners__update(o, want, 3, NULL, 0, false), 0);
	assert_int_equal(st->carried, 3);
	assert_int_equal(st->listed, 0);
	assert_int_equal(st->scanned, 0);

	/* a new socket of a process seen before: found where it is looked for (a hint) */
	d = socket(AF_INET, SOCK_DGRAM, 0);
	id = sock_inode(d);
	want[3] = id;
	qsort(want, 4, sizeof(*want), cmp_inode);
	assert_int_equal(eph_owners__update(o, want, 4, NULL, 0, false), 0);
	assert_int_equal(st->unfound, 1);
	assert_false(st->whole);
	assert_int_equal(owner(o, id), 0);
	assert_int_equal(eph_owners__update(o, want, 4, &self, 1, false), 0);
	assert_int_equal(st->carried, 3);
	assert_int_equal(st->unfound, 0);
	assert_int_equal(owner(o, id), self);

	/* the child goes (its socket with it) while a dump still lists it: looked for, then once
	 * in every process as it is asked for again, then no more */
	kill(child, SIGKILL);
	assert_int_equal(waitpid(child, NULL, 0), child);
	assert_int_equal(eph_owners__update(o, want, 4, NULL, 0, false), 0);
	assert_int_equal(st->carried, 3);
	assert_int_equal(st->unfound, 1);
	assert_false(st->whole);
	assert_int_equal(eph_owners__update(o, want, 4, NULL, 0, false), 0);
	assert_int_equal(st->unfound, 1);
	assert_true(st->whole);
	assert_int_equal(eph_owners__update(o, want, 4, NULL, 0, false), 0);
	assert_int_equal(st->unfound, 0);
	assert_int_equal(st->listed, 0);
	assert_int_equal(owner(o, ic), 0);

	/* copies of the cgroup paths outlive the cache */
	memset(socks, 0, sizeof(socks));
	for (i = 0; i < 4; i++)
		socks[i].inode = want[i];
	assert_int_equal(eph_owners__fill_copy(o, socks, 4, &paths, &npaths), 0);
	eph_owners__free(o);
	assert_true(npaths <= 1); /* one process: one path (none on a cgroup v1 host) */
	for (i = 0; i < 4; i++) {
		assert_int_equal(socks[i].pid, socks[i].inode == ic ? 0 : self);
		if (socks[i].pid && npaths)
			assert_ptr_equal(socks[i].cgroup, paths[0]);
	}
	if (npaths)
		assert_int_equal(paths[0][0], '/');
	for (i = 0; i < npaths; i++)
		free(paths[i]);
	free(paths);
	close(a);
	close(b);
	close(d);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owners),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
