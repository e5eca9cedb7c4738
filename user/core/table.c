// SPDX-License-Identifier: GPL-2.0
/* Bounded tables of fixed-size records with hash indexes. See table.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

/* Slots of every index to n (a power of two), moving the entries without hashing keys again.
 * The old slots are read from just after an empty one, so that each run is read in order and
 * equal keys keep the order they were linked in. */
static int tab_resize(struct eph_tab *t, uint32_t n)
{
	struct eph_tab_slot *slots[EPH_TAB_KEYS] = { NULL };
	uint32_t mask = n - 1, omask = t->nslots - 1, start = 0, i, p;
	unsigned int k;

	for (k = 0; k < t->nkeys; k++) {
		slots[k] = calloc(n, sizeof(*slots[k]));
		if (!slots[k])
			goto out_free_slots;
	}
	for (k = 0; k < t->nkeys; k++) {
		const struct eph_tab_slot *old = t->slots[k];

		if (old) {
			/* never full (see eph_tab__alloc): there is an empty slot */
			for (start = 0; old[start].rec; start++)
				;
		}
		for (i = 0; old && i < t->nslots; i++) {
			const struct eph_tab_slot *s = &old[(start + i) & omask];

			if (!s->rec)
				continue;
			for (p = s->hash & mask; slots[k][p].rec; p = (p + 1) & mask)
				;
			slots[k][p] = *s;
		}
		free(t->slots[k]);
		t->slots[k] = slots[k];
	}
	t->nslots = n;
	return 0;

out_free_slots:
	for (k = 0; k < t->nkeys; k++)
		free(slots[k]);
	return -ENOMEM;
}

int eph_tab__init(struct eph_tab *t, size_t size, const struct eph_tab_key *keys,
		  unsigned int nkeys, uint32_t max)
{
	unsigned int k;
	int err;

	memset(t, 0, sizeof(*t));
	if (size < sizeof(uint32_t) || nkeys > EPH_TAB_KEYS || !max)
		return -EINVAL;
	for (k = 0; k < nkeys; k++)
		if (!keys[k].len || keys[k].len % 4 || keys[k].off + keys[k].len > size)
			return -EINVAL;
	t->size = size;
	t->nkeys = nkeys;
	t->max = max < EPH_TAB_MAX_RECS ? max : EPH_TAB_MAX_RECS;
	memcpy(t->keys, keys, nkeys * sizeof(*keys));
	err = tab_resize(t, EPH_TAB_MIN);
	if (err)
		eph_tab__fini(t);
	return err;
}

void eph_tab__fini(struct eph_tab *t)
{
	unsigned int k;
	uint32_t c;

	for (k = 0; k < EPH_TAB_KEYS; k++)
		free(t->slots[k]);
	for (c = 0; c < t->nchunks; c++)
		free(t->chunks[c]);
	free(t->chunks);
	free(t->used);
	memset(t, 0, sizeof(*t));
}

/* Room for more records: the first chunk doubles up to a full chunk, then whole chunks. */
static int tab_grow(struct eph_tab *t)
{
	uint32_t cap, c = t->nchunks;
	uint8_t **chunks, *chunk;
	void *used;

	if (c <= 1 && t->cap < EPH_TAB_CHUNK) {
		cap = t->cap ? t->cap * 2 : EPH_TAB_MIN;
		if (cap > EPH_TAB_CHUNK)
			cap = EPH_TAB_CHUNK;
		c = 0;
	} else {
		cap = t->cap + EPH_TAB_CHUNK;
	}
	if (cap > t->max)
		cap = t->max;
	used = realloc(t->used, cap);
	if (!used)
		return -ENOMEM;
	t->used = used;
	memset(t->used + t->cap, 0, cap - t->cap);
	if (c == t->nchunks) {
		chunks = reallocarray(t->chunks, c + 1, sizeof(*chunks));
		if (!chunks)
			return -ENOMEM;
		t->chunks = chunks;
		t->chunks[c] = NULL;
	}
	chunk = reallocarray(t->chunks[c], cap - (size_t)c * EPH_TAB_CHUNK, t->size);
	if (!chunk)
		return -ENOMEM;
	t->chunks[c] = chunk;
	if (c == t->nchunks)
		t->nchunks++;
	t->cap = cap;
	return 0;
}

int64_t eph_tab__alloc(struct eph_tab *t)
{
	uint32_t i;
	int err;

	if (!t->free && t->top == t->cap) {
		if (t->cap >= t->max)
			return -ENOSPC;
		err = tab_grow(t);
		if (err)
			return err;
	}
	/* keep every index at most a quarter full (most lookups, hits or misses, then read one
	 * slot: the loops end as predicted); beyond 2^31 slots, or without memory, up to 7/8 */
	if (t->len + 1 > t->nslots / 4 &&
	    (t->nslots > UINT32_MAX / 2 || tab_resize(t, t->nslots * 2)) &&
	    t->len + 1 > t->nslots - t->nslots / 8)
		return -ENOMEM;
	if (t->free) {
		i = t->free - 1;
		memcpy(&t->free, eph_tab__rec(t, i), sizeof(t->free));
	} else {
		i = t->top++;
	}
	memset(eph_tab__rec(t, i), 0, t->size);
	t->used[i] = 1;
	t->len++;
	return i;
}
