// SPDX-License-Identifier: GPL-2.0
/*
 * The "seeds" map kept equal to the occupancy's snapshot-only holds (seeds.h), written through
 * its mapping: no system call on a map while the programs run (include/ephtrace.h, EPH_SEED_*).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "ephtrace.h"
#include "order.h"
#include "seeds.h"
#include "strbuf.h"

struct eph_seeds {
	uint64_t *map; /* [0]: the table in use; then the two tables */
	size_t len;    /* of the mapping */
	uint32_t mask; /* slots per table, less one */
	/* per table, the slots its last fill wrote: the only ones read or cleared, so that a
	 * sync costs its cookies, not the table (1 MiB with the default --max-holds) */
	uint32_t *used[2];
	size_t nused[2], capused[2];
	uint64_t *done; /* the cookies the table in use has marked done, ascending */
	size_t ndone, capdone;
	size_t count, full;
};

struct eph_seeds *eph_seeds__new(int map_fd)
{
	struct bpf_map_info info = {};
	__u32 ilen = sizeof(info);
	struct eph_seeds *s;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	void *p;

	if (bpf_obj_get_info_by_fd(map_fd, &info, &ilen))
		return NULL;
	/* 1 + 2 x a power of two */
	if (info.value_size != sizeof(uint64_t) || info.max_entries < 3 ||
	    ((info.max_entries - 1) / 2 & ((info.max_entries - 1) / 2 - 1))) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->mask = (info.max_entries - 1) / 2 - 1;
	s->len = ((size_t)info.max_entries * sizeof(uint64_t) + page - 1) / page * page;
	p = mmap(NULL, s->len, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
	if (p == MAP_FAILED) {
		free(s);
		return NULL;
	}
	s->map = p;
	return s;
}

void eph_seeds__free(struct eph_seeds *s)
{
	if (!s)
		return;
	munmap(s->map, s->len);
	free(s->used[0]);
	free(s->used[1]);
	free(s->done);
	free(s);
}

static size_t sort_unique(uint64_t *v, size_t n)
{
	size_t i, j = 0;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), eph_cmp_u64_at);
	for (i = 1; i < n; i++)
		if (v[i] != v[j])
			v[++j] = v[i];
	return j + 1;
}

static uint64_t *table(const struct eph_seeds *s, unsigned int which)
{
	return s->map + 1 + (size_t)(which & 1) * (s->mask + 1);
}

/* The slot of cookie in t, or of the empty slot where it goes (NULL: none within the probes),
 * as the programs look (bpf/events.bpf.h, seed_key()). */
static uint64_t *slot_of(const struct eph_seeds *s, uint64_t *t, uint64_t cookie)
{
	uint32_t start = eph_seed_slot(cookie, s->mask), i;
	uint64_t *v, c;

	for (i = 0; i < EPH_SEED_PROBES; i++) {
		v = &t[(start + i) & s->mask];
		c = __atomic_load_n(v, __ATOMIC_RELAXED);
		if (!c || (c & ~EPH_SEED_DONE) == cookie)
			return v;
	}
	return NULL;
}

/* The cookies table which has marked done, ascending, into s->done. */
static int collect_done(struct eph_seeds *s, unsigned int which)
{
	const uint64_t *t = table(s, which);
	uint64_t c;
	size_t i;

	s->ndone = 0;
	for (i = 0; i < s->nused[which]; i++) {
		c = __atomic_load_n(&t[s->used[which][i]], __ATOMIC_RELAXED);
		if (!(c & EPH_SEED_DONE))
			continue;
		if (eph_grow((void **)&s->done, &s->capdone, s->ndone, sizeof(*s->done)))
			return -ENOMEM;
		s->done[s->ndone++] = c & ~EPH_SEED_DONE;
	}
	s->ndone = sort_unique(s->done, s->ndone);
	return 0;
}

static bool is_done(const struct eph_seeds *s, uint64_t cookie)
{
	return s->ndone && bsearch(&cookie, s->done, s->ndone, sizeof(cookie), eph_cmp_u64_at);
}

/* The marks the old table got after collect_done() (the programs that had read the switch
 * before it), into the new one. */
static int carry_late_marks(struct eph_seeds *s, unsigned int old, uint64_t *t)
{
	uint64_t *v;
	size_t i;
	int err = collect_done(s, old);

	for (i = 0; !err && i < s->ndone; i++) {
		v = slot_of(s, t, s->done[i]);
		if (v && *v)
			__atomic_fetch_or(v, EPH_SEED_DONE, __ATOMIC_RELAXED);
	}
	return err;
}

int eph_seeds__sync(struct eph_seeds *s, uint64_t *v, size_t n)
{
	unsigned int cur = (unsigned int)__atomic_load_n(&s->map[0], __ATOMIC_ACQUIRE) & 1,
		     nxt = cur ^ 1;
	uint64_t *t = table(s, nxt), *slot;
	size_t i;
	int err;

	n = sort_unique(v, n);
	err = collect_done(s, cur);
	if (err)
		return err;
	/* The programs read the table in use only: this one is ours until the switch (but for a
	 * program that read the switch before the last one and runs still, a sync later). Its
	 * slots written last time are cleared; the others were never written. */
	for (i = 0; i < s->nused[nxt]; i++)
		t[s->used[nxt][i]] = 0;
	s->nused[nxt] = 0;
	s->count = s->full = 0;
	for (i = 0; i < n; i++) {
		if (!v[i] || (v[i] & EPH_SEED_DONE))
			continue; /* no cookie: the kernel's start at 1 */
		slot = s->count < (s->mask + 1) / 2 ? slot_of(s, t, v[i]) : NULL;
		if (!slot) {
			s->full++;
			continue;
		}
		if (eph_grow((void **)&s->used[nxt], &s->capused[nxt], s->nused[nxt],
			     sizeof(*s->used[nxt])))
			return -ENOMEM; /* the table in use stays in use */
		s->used[nxt][s->nused[nxt]++] = (uint32_t)(slot - t);
		*slot = v[i] | (is_done(s, v[i]) ? EPH_SEED_DONE : 0);
		s->count++;
	}
	__atomic_store_n(&s->map[0], (uint64_t)nxt, __ATOMIC_RELEASE);
	return carry_late_marks(s, cur, t);
}

size_t eph_seeds__count(const struct eph_seeds *s)
{
	return s->count;
}

size_t eph_seeds__full(const struct eph_seeds *s)
{
	return s->full;
}
