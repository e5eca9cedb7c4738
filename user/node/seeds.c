// SPDX-License-Identifier: GPL-2.0
/* The "seeds" map kept equal to the occupancy's snapshot-only holds (seeds.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "order.h"
#include "seeds.h"
#include "strbuf.h"

struct eph_seeds {
	int fd;
	uint64_t *cur; /* in the map (as far as we put them there), ascending */
	size_t ncur, capcur;
	uint64_t *add; /* the next sync's new ones */
	size_t nadd, capadd;
	uint8_t *ones; /* the values of a batch: 1 each */
	size_t capones;
	size_t full;
};

struct eph_seeds *eph_seeds__new(int map_fd)
{
	struct eph_seeds *s = calloc(1, sizeof(*s));

	if (s)
		s->fd = map_fd;
	return s;
}

void eph_seeds__free(struct eph_seeds *s)
{
	if (!s)
		return;
	free(s->cur);
	free(s->add);
	free(s->ones);
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

/* Add s->add[]: in one batch where the kernel has them (5.6), else one by one. Returns the
 * number added (the first ones), or -errno; a full map ends it (-E2BIG: the rest is full). */
static long add_all(struct eph_seeds *s)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
	size_t done;
	__u32 count;
	int err;

	if (s->nadd > s->capones) {
		void *p = realloc(s->ones, s->nadd);

		if (!p)
			return -ENOMEM;
		s->ones = p;
		s->capones = s->nadd;
	}
	memset(s->ones, 1, s->nadd);
	count = s->nadd;
	err = bpf_map_update_batch(s->fd, s->add, s->ones, &count, &opts);
	if (!err)
		return s->nadd;
	err = -errno;
	if (err == -E2BIG || err == -ENOMEM)
		return count; /* full after count of them */
	for (done = 0; done < s->nadd; done++) { /* no batches: one by one */
		if (bpf_map_update_elem(s->fd, &s->add[done], s->ones, BPF_ANY)) {
			err = -errno;
			return err == -E2BIG || err == -ENOMEM ? (long)done : err;
		}
	}
	return done;
}

int eph_seeds__sync(struct eph_seeds *s, uint64_t *v, size_t n)
{
	size_t i = 0, j = 0;
	long added;

	n = sort_unique(v, n);
	s->nadd = 0;
	/* both ascending: what only cur has goes, what only v has comes */
	while (i < s->ncur || j < n) {
		if (j == n || (i < s->ncur && s->cur[i] < v[j])) {
			/* ENOENT: the kernel side deleted it at the release */
			bpf_map_delete_elem(s->fd, &s->cur[i++]);
			continue;
		}
		if (i == s->ncur || v[j] < s->cur[i]) {
			if (eph_grow((void **)&s->add, &s->capadd, s->nadd, sizeof(*s->add)))
				return -ENOMEM;
			s->add[s->nadd++] = v[j++];
			continue;
		}
		i++;
		j++;
	}
	added = s->nadd ? add_all(s) : 0;
	if (added < 0)
		return (int)added;
	s->full = s->nadd - (size_t)added;
	/* the map now: v without the ones that found no room */
	if (n > s->capcur) {
		void *p = realloc(s->cur, n * sizeof(*s->cur));

		if (!p)
			return -ENOMEM;
		s->cur = p;
		s->capcur = n;
	}
	s->ncur = 0;
	for (i = j = 0; j < n; j++) {
		while (i < s->nadd && s->add[i] < v[j])
			i++;
		if (i >= (size_t)added && i < s->nadd && s->add[i] == v[j])
			continue; /* not added */
		s->cur[s->ncur++] = v[j];
	}
	return 0;
}

size_t eph_seeds__count(const struct eph_seeds *s)
{
	return s->ncur;
}

size_t eph_seeds__full(const struct eph_seeds *s)
{
	return s->full;
}
