// SPDX-License-Identifier: GPL-2.0
/*
 * user/node/seeds.c against a real BPF hash map (root): what eph_seeds__sync() leaves in the
 * map, read back key by key, after each of these:
 *   first     three cookies given (out of order, one twice): the map has those three;
 *   released  one deleted from the map meanwhile (the kernel side's release, which the
 *             occupancy has seen), the next sync without it and with a new one: the map has
 *             the two old and the new one;
 *   gone      cookies the map has and the sync no longer gives (sockets gone unseen): deleted;
 *   full      more than the map's room: as many as fit, the rest counted (eph_seeds__full);
 *   empty     nothing given: nothing left.
 * "RESULT seeds-<step> PASS|FAIL" per step. Exit 0: all passed; 1: something failed; 77: the
 * kernel refused the map here (not root).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "order.h"
#include "seeds.h"

#define ROOM 6

static bool any_failed;

/* The map's keys, ascending, into v (at most cap); returns how many. */
static size_t read_map(int fd, uint64_t *v, size_t cap)
{
	uint64_t key, next;
	size_t n = 0;
	void *prev = NULL;

	while (n < cap && !bpf_map_get_next_key(fd, prev, &next)) {
		v[n++] = next;
		key = next;
		prev = &key;
	}
	qsort(v, n, sizeof(*v), eph_cmp_u64_at);
	return n;
}

static void check(const char *step, int fd, struct eph_seeds *s, int err, const uint64_t *want,
		  size_t nwant, size_t full)
{
	uint64_t got[ROOM * 2];
	size_t n = read_map(fd, got, ROOM * 2), i;
	bool ok = !err && n == nwant && !memcmp(got, want, n * sizeof(*got)) &&
		  eph_seeds__count(s) == nwant && eph_seeds__full(s) == full;

	if (!ok) {
		printf("FAIL seeds-%s: sync said %d, count %zu, full %zu (expected %zu, %zu); map:",
		       step, err, eph_seeds__count(s), eph_seeds__full(s), nwant, full);
		for (i = 0; i < n; i++)
			printf(" %llu", (unsigned long long)got[i]);
		printf("; expected:");
		for (i = 0; i < nwant; i++)
			printf(" %llu", (unsigned long long)want[i]);
		printf("\n");
		any_failed = true;
	}
	printf("RESULT seeds-%s %s\n", step, ok ? "PASS" : "FAIL");
}

int main(void)
{
	uint64_t first[] = { 30, 10, 20, 10 }, released[] = { 10, 30, 40 }, gone[] = { 40 },
		 full[] = { 1, 2, 3, 4, 5, 6, 7, 8 }, key = 20;
	struct eph_seeds *s;
	int fd;

	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "eph_seeds_test", sizeof(uint64_t), 1, ROOM, NULL);
	if (fd < 0) {
		printf("RESULT seeds SKIP (cannot create a BPF map here: %s)\n", strerror(errno));
		return 77;
	}
	s = eph_seeds__new(fd);
	if (!s)
		return 1;
	check("first", fd, s, eph_seeds__sync(s, first, 4), (uint64_t[]){ 10, 20, 30 }, 3, 0);
	bpf_map_delete_elem(fd, &key); /* released: the kernel side took it out */
	check("released", fd, s, eph_seeds__sync(s, released, 3), (uint64_t[]){ 10, 30, 40 }, 3,
	      0);
	check("gone", fd, s, eph_seeds__sync(s, gone, 1), (uint64_t[]){ 40 }, 1, 0);
	check("full", fd, s, eph_seeds__sync(s, full, 8), (uint64_t[]){ 1, 2, 3, 4, 5, 6 }, ROOM,
	      2);
	check("empty", fd, s, eph_seeds__sync(s, NULL, 0), NULL, 0, 0);
	eph_seeds__free(s);
	return any_failed;
}
