// SPDX-License-Identifier: GPL-2.0
/*
 * user/node/seeds.c against a real BPF map of the kernel side's shape (an mmapable array: the
 * switch, then two tables of 8 slots; include/ephtrace.h, EPH_SEED_*), read back with lookups
 * after each step: the table in use holds exactly the cookies given, each where the programs
 * look for it (within EPH_SEED_PROBES of eph_seed_slot(), no empty slot before), with the
 * kernel side's done marks kept while the cookie is given:
 *   first    three cookies given (out of order, one twice);
 *   marked   the programs mark one done (written as they do), the next sync adds a fourth:
 *            the mark stays;
 *   kept     only the marked one and the fourth: the mark stays still;
 *   gone     only the fourth: the marked one goes, with its mark;
 *   again    the marked one given again: unmarked (a mark lives with its cookie);
 *   full     eight: four fit (half the slots), four counted;
 *   empty    nothing given: nothing left.
 * "RESULT seeds-<step> PASS|FAIL" per step. Exit 0: all passed; 1: something failed; 77: the
 * kernel refused the map here (not root).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "ephtrace.h"
#include "seeds.h"

#define SLOTS 8
#define DONE EPH_SEED_DONE

static bool any_failed;

static uint64_t entry(int fd, __u32 k)
{
	uint64_t v = ~0ull;

	bpf_map_lookup_elem(fd, &k, &v);
	return v;
}

/* The table in use, read back. */
static __u32 table_base(int fd)
{
	return 1 + (__u32)(entry(fd, 0) & 1) * SLOTS;
}

/* Where the programs find cookie c (bpf/events.bpf.h, seed_key()): its value, or 0. */
static uint64_t lookup(int fd, uint64_t c)
{
	__u32 base = table_base(fd), start = eph_seed_slot(c, SLOTS - 1), i;
	uint64_t v;

	for (i = 0; i < EPH_SEED_PROBES; i++) {
		v = entry(fd, base + ((start + i) & (SLOTS - 1)));
		if (!v)
			return 0;
		if ((v & ~DONE) == c)
			return v;
	}
	return 0;
}

/* want: the values (cookie | DONE if marked) the table in use must hold, and nothing else. */
static void check(const char *step, int fd, struct eph_seeds *s, int err, unsigned int was,
		  const uint64_t *want, size_t nwant, size_t full)
{
	size_t i, used = 0;
	bool ok = !err && (entry(fd, 0) & 1) != was && eph_seeds__count(s) == nwant &&
		  eph_seeds__full(s) == full;

	for (i = 0; i < SLOTS; i++)
		used += entry(fd, table_base(fd) + (__u32)i) != 0;
	ok = ok && used == nwant;
	for (i = 0; i < nwant; i++) {
		if (lookup(fd, want[i] & ~DONE) == want[i])
			continue;
		printf("FAIL seeds-%s: cookie %llu: found as %#llx, expected %#llx\n", step,
		       (unsigned long long)(want[i] & ~DONE),
		       (unsigned long long)lookup(fd, want[i] & ~DONE),
		       (unsigned long long)want[i]);
		ok = false;
	}
	if (!ok)
		printf("FAIL seeds-%s: sync said %d, switch %llu (was %u), count %zu, full %zu, "
		       "%zu slots used (expected %zu, %zu full)\n",
		       step, err, (unsigned long long)entry(fd, 0), was, eph_seeds__count(s),
		       eph_seeds__full(s), used, nwant, full);
	any_failed |= !ok;
	printf("RESULT seeds-%s %s\n", step, ok ? "PASS" : "FAIL");
}

/* What a program does once it reported cookie c's socket (bpf/events.bpf.h, seed_done()). */
static void mark(int fd, uint64_t c)
{
	__u32 base = table_base(fd), start = eph_seed_slot(c, SLOTS - 1), i, k;
	uint64_t v;

	for (i = 0; i < EPH_SEED_PROBES; i++) {
		k = base + ((start + i) & (SLOTS - 1));
		v = entry(fd, k);
		if (v == c) {
			v |= DONE;
			bpf_map_update_elem(fd, &k, &v, BPF_ANY);
			return;
		}
	}
}

static unsigned int in_use(int fd)
{
	return (unsigned int)(entry(fd, 0) & 1);
}

int main(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_MMAPABLE);
	uint64_t first[] = { 30, 10, 20, 10 }, marked[] = { 10, 20, 30, 40 }, kept[] = { 40, 20 },
		 gone[] = { 40 }, again[] = { 20 }, full[] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct eph_seeds *s;
	unsigned int was;
	int fd;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "eph_seeds_test", sizeof(__u32), sizeof(uint64_t),
			    1 + 2 * SLOTS, &o);
	if (fd < 0) {
		printf("RESULT seeds SKIP (cannot create a BPF map here: %s)\n", strerror(errno));
		return 77;
	}
	s = eph_seeds__new(fd);
	if (!s) {
		printf("RESULT seeds FAIL (eph_seeds__new: %s)\n", strerror(errno));
		return 1;
	}
	was = in_use(fd);
	check("first", fd, s, eph_seeds__sync(s, first, 4), was, (uint64_t[]){ 10, 20, 30 }, 3, 0);
	mark(fd, 20);
	was = in_use(fd);
	check("marked", fd, s, eph_seeds__sync(s, marked, 4), was,
	      (uint64_t[]){ 10, 20 | DONE, 30, 40 }, 4, 0);
	was = in_use(fd);
	check("kept", fd, s, eph_seeds__sync(s, kept, 2), was, (uint64_t[]){ 20 | DONE, 40 }, 2, 0);
	was = in_use(fd);
	check("gone", fd, s, eph_seeds__sync(s, gone, 1), was, (uint64_t[]){ 40 }, 1, 0);
	was = in_use(fd);
	check("again", fd, s, eph_seeds__sync(s, again, 1), was, (uint64_t[]){ 20 }, 1, 0);
	was = in_use(fd);
	check("full", fd, s, eph_seeds__sync(s, full, 8), was, (uint64_t[]){ 1, 2, 3, 4 }, 4, 4);
	was = in_use(fd);
	check("empty", fd, s, eph_seeds__sync(s, NULL, 0), was, NULL, 0, 0);
	eph_seeds__free(s);
	return any_failed;
}
