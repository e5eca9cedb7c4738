// SPDX-License-Identifier: GPL-2.0
/* Unit tests of user/core/table.c: collisions, equal keys, growth, caps, find or make, and the
 * hash. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

/* A record with two keys: a (8 bytes) and b (12 bytes, absent when all zero). */
struct rec {
	uint32_t id;
	uint32_t __pad;
	uint64_t a;
	uint8_t b[12];
	uint32_t extra;
};

enum {
	KEY_A,
	KEY_B
};

/* Hashes that collide on purpose: 7 values for a, one for every b (its run starts at the last
 * slot, whatever the size, and wraps around to the first). */
static uint32_t hash_a(const void *key)
{
	uint64_t a;

	memcpy(&a, key, sizeof(a));
	return (uint32_t)(a % 7) * 0x10001u;
}

static uint32_t hash_b(const void *key)
{
	(void)key;
	return UINT32_MAX;
}

static const struct eph_tab_key colliding_keys[] = {
	[KEY_A] = { .off = offsetof(struct rec, a), .len = sizeof(uint64_t), .hash = hash_a },
	[KEY_B] = { .off = offsetof(struct rec, b), .len = 12, .hash = hash_b },
};

static struct rec *rec_at(struct eph_tab *t, int64_t i)
{
	assert_true(i >= 0);
	return eph_tab__rec(t, (uint32_t)i);
}

static int64_t find_a(const struct eph_tab *t, uint64_t a)
{
	return eph_tab__find(t, KEY_A, &a, hash_a(&a));
}

static int64_t find_b(const struct eph_tab *t, const uint8_t b[12])
{
	return eph_tab__find(t, KEY_B, b, hash_b(b));
}

/* ---- a model: the records in use, and when each key was linked --------------------------- */

#define MODEL_MAX 300

struct model {
	int64_t idx[MODEL_MAX];
	uint64_t a[MODEL_MAX];
	uint8_t b[MODEL_MAX][12];
	uint64_t seq_a[MODEL_MAX], seq_b[MODEL_MAX];
	unsigned int n;
	uint64_t seq;
	uint64_t rng;
};

static uint32_t rnd(struct model *m)
{
	m->rng = m->rng * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(m->rng >> 33);
}

/* The record the table must find: the one whose key was linked last, or -1. */
static int64_t model_find_a(const struct model *m, uint64_t a)
{
	int64_t best = -1;
	uint64_t seq = 0;
	unsigned int i;

	if (!a)
		return -1; /* absent: never indexed */
	for (i = 0; i < m->n; i++) {
		if (m->a[i] == a && m->seq_a[i] > seq) {
			seq = m->seq_a[i];
			best = m->idx[i];
		}
	}
	return best;
}

static int64_t model_find_b(const struct model *m, const uint8_t b[12])
{
	static const uint8_t zero[12];
	int64_t best = -1;
	uint64_t seq = 0;
	unsigned int i;

	if (!memcmp(b, zero, 12))
		return -1; /* absent: never indexed */
	for (i = 0; i < m->n; i++) {
		if (!memcmp(m->b[i], b, 12) && m->seq_b[i] > seq) {
			seq = m->seq_b[i];
			best = m->idx[i];
		}
	}
	return best;
}

/* 12 bytes from a small set (and all zero, absent, one time in 6). */
static void some_b(struct model *m, uint8_t b[12])
{
	uint32_t v = rnd(m) % 6;

	memset(b, 0, 12);
	if (v)
		b[v * 2] = (uint8_t)v;
}

static void check_all(struct eph_tab *t, struct model *m)
{
	uint8_t b[12];
	uint64_t a;
	uint32_t v;

	assert_int_equal(t->len, m->n);
	assert_true(t->nslots >= 2 * t->len);
	for (a = 0; a < 40; a++)
		assert_int_equal(find_a(t, a), model_find_a(m, a));
	for (v = 0; v < 6; v++) {
		memset(b, 0, 12);
		if (v)
			b[v * 2] = (uint8_t)v;
		assert_int_equal(find_b(t, b), model_find_b(m, b));
	}
}

/*
 * Random adds, deletes and key changes against the model, with keys that share their hash
 * (every b, and a values 7 apart) and equal keys (a in 0..39, b in 6 values): a find returns
 * the record linked last, through growth of the indexes, runs that wrap around the end of the
 * slots and deletions that move the rest of a run back.
 */
static void test_collisions_against_model(void **state)
{
	struct model *m = calloc(1, sizeof(*m));
	struct eph_tab t;
	unsigned int step;

	(void)state;
	assert_non_null(m);
	m->rng = 42;
	assert_int_equal(eph_tab__init(&t, sizeof(struct rec), colliding_keys, 2, MODEL_MAX), 0);
	for (step = 0; step < 20000; step++) {
		uint32_t op = rnd(m) % 10, j;
		struct rec *r;
		uint32_t hash[2];

		if (op < 5 && m->n < MODEL_MAX) { /* add */
			int64_t i = eph_tab__alloc(&t);

			assert_true(i >= 0);
			r = rec_at(&t, i);
			assert_int_equal(r->a, 0);
			assert_int_equal(r->extra, 0);
			r->id = step;
			r->a = rnd(m) % 40;
			some_b(m, r->b);
			r->extra = step;
			j = m->n++;
			m->idx[j] = i;
			m->a[j] = r->a;
			memcpy(m->b[j], r->b, 12);
			m->seq_a[j] = m->seq_b[j] = ++m->seq;
			/* half the time the caller's hashes, else the table's own */
			hash[KEY_A] = hash_a(&r->a);
			hash[KEY_B] = hash_b(r->b);
			eph_tab__link(&t, i, step % 2 ? hash : NULL);
		} else if (op < 8 && m->n) { /* delete */
			j = rnd(m) % m->n;
			r = rec_at(&t, m->idx[j]);
			assert_int_equal(r->a, m->a[j]);
			hash[KEY_A] = hash_a(&r->a);
			hash[KEY_B] = hash_b(r->b);
			eph_tab__del(&t, m->idx[j], step % 2 ? hash : NULL);
			m->n--;
			m->idx[j] = m->idx[m->n];
			m->a[j] = m->a[m->n];
			memcpy(m->b[j], m->b[m->n], 12);
			m->seq_a[j] = m->seq_a[m->n];
			m->seq_b[j] = m->seq_b[m->n];
		} else if (m->n) { /* change key a of one record: it is linked again, last */
			j = rnd(m) % m->n;
			r = rec_at(&t, m->idx[j]);
			eph_tab__unlink_key(&t, KEY_A, m->idx[j], hash_a(&r->a));
			r->a = rnd(m) % 40;
			eph_tab__link_key(&t, KEY_A, m->idx[j], hash_a(&r->a));
			m->a[j] = r->a;
			m->seq_a[j] = ++m->seq;
		}
		if (step % 97 == 0)
			check_all(&t, m);
	}
	check_all(&t, m);
	assert_true(t.dups[KEY_A]);
	assert_true(t.dups[KEY_B]);
	eph_tab__fini(&t);
	free(m);
}

/* Unique keys (no equal key ever linked): every find stops at its key, and growth keeps them. */
static void test_growth_unique(void **state)
{
	static const struct eph_tab_key key = { .off = offsetof(struct rec, a),
						.len = sizeof(uint64_t) };
	const uint32_t n = 3 * EPH_TAB_CHUNK + 100; /* records in four chunks */
	struct eph_tab t;
	uint64_t a;
	uint32_t i;

	(void)state;
	assert_int_equal(eph_tab__init(&t, sizeof(struct rec), &key, 1, n), 0);
	for (i = 0; i < n; i++) {
		int64_t ri = eph_tab__alloc(&t);
		struct rec *r;
		uint32_t h;

		assert_int_equal(ri, i); /* nothing freed yet: handed out in order */
		r = rec_at(&t, ri);
		r->id = i;
		r->a = 0x9000000000000000ull + i * 4096ull;
		h = eph_tab__hash(&r->a, sizeof(r->a));
		eph_tab__link(&t, i, &h);
	}
	assert_int_equal(eph_tab__alloc(&t), -ENOSPC);
	assert_int_equal(t.cap, n);
	assert_int_equal(t.nchunks, 4);
	assert_int_equal(t.nslots, 65536); /* the smallest power of two >= 4 x 12388 */
	assert_false(t.dups[0]);
	for (i = 0; i < n; i++) {
		a = 0x9000000000000000ull + i * 4096ull;
		assert_int_equal(eph_tab__find(&t, 0, &a, eph_tab__hash(&a, sizeof(a))), i);
		assert_int_equal(rec_at(&t, i)->id, i);
	}
	a = 0x9000000000000000ull + 4096ull * n;
	assert_int_equal(eph_tab__find(&t, 0, &a, eph_tab__hash(&a, sizeof(a))), -1);
	/* every other one goes; the rest are still found, the freed ones are not */
	for (i = 0; i < n; i += 2)
		eph_tab__del(&t, i, NULL);
	assert_int_equal(t.len, n / 2);
	for (i = 0; i < n; i++) {
		a = 0x9000000000000000ull + i * 4096ull;
		assert_int_equal(eph_tab__find(&t, 0, &a, eph_tab__hash(&a, sizeof(a))),
				 i % 2 ? (int64_t)i : -1);
	}
	eph_tab__fini(&t);
}

/* At max records, alloc says -ENOSPC; a freed record is handed out again, zeroed. */
static void test_cap_and_reuse(void **state)
{
	static const struct eph_tab_key key = { .off = offsetof(struct rec, a),
						.len = sizeof(uint64_t) };
	struct eph_tab t;
	int64_t i;
	uint64_t a;

	(void)state;
	assert_int_equal(eph_tab__init(&t, sizeof(struct rec), &key, 1, 5), 0);
	for (a = 1; a <= 5; a++) {
		i = eph_tab__alloc(&t);
		assert_true(i >= 0);
		rec_at(&t, i)->a = a;
		rec_at(&t, i)->extra = 77;
		eph_tab__link(&t, i, NULL);
	}
	assert_int_equal(eph_tab__alloc(&t), -ENOSPC);
	assert_int_equal(t.cap, 5);
	a = 3;
	i = eph_tab__find(&t, 0, &a, eph_tab__hash(&a, sizeof(a)));
	assert_int_equal(i, 2);
	eph_tab__del(&t, i, NULL);
	assert_int_equal(eph_tab__find(&t, 0, &a, eph_tab__hash(&a, sizeof(a))), -1);
	assert_int_equal(eph_tab__alloc(&t), 2);
	assert_int_equal(rec_at(&t, 2)->a, 0);
	assert_int_equal(rec_at(&t, 2)->extra, 0);
	assert_int_equal(eph_tab__alloc(&t), -ENOSPC);
	eph_tab__fini(&t);
	eph_tab__fini(&t); /* safe on a zeroed table */
}

/* A key of zero bytes is not indexed: linking and unlinking it do nothing. */
static void test_absent_key(void **state)
{
	struct eph_tab t;
	uint8_t zero[12] = { 0 };
	uint64_t a = 0;
	int64_t i;

	(void)state;
	assert_int_equal(eph_tab__init(&t, sizeof(struct rec), colliding_keys, 2, 10), 0);
	i = eph_tab__alloc(&t);
	assert_int_equal(i, 0);
	eph_tab__link(&t, 0, NULL);
	assert_int_equal(find_a(&t, a), -1);
	assert_int_equal(find_b(&t, zero), -1);
	assert_int_equal(t.slots[KEY_A][hash_a(&a) & (t.nslots - 1)].rec, 0);
	eph_tab__del(&t, 0, NULL);
	assert_int_equal(t.len, 0);
	eph_tab__fini(&t);
}

/* Find or make: a key found is the record linked last; a new one is made zeroed, with only
 * that key set and linked; at max, -ENOSPC and nothing made. */
static void test_get(void **state)
{
	uint8_t b[12] = { 1, 2, 3 };
	struct eph_tab t;
	uint64_t a = 42;
	bool made = true;
	int64_t i;

	(void)state;
	assert_int_equal(eph_tab__init(&t, sizeof(struct rec), colliding_keys, 2, 3), 0);
	i = eph_tab__get_n(&t, KEY_A, &a, sizeof(a), hash_a(&a), &made);
	assert_int_equal(i, 0);
	assert_true(made);
	assert_int_equal(rec_at(&t, i)->a, 42);
	assert_int_equal(rec_at(&t, i)->id, 0);
	assert_int_equal(rec_at(&t, i)->extra, 0);
	assert_int_equal(find_a(&t, a), 0);
	assert_int_equal(find_b(&t, rec_at(&t, i)->b), -1); /* zero: absent, not linked */
	rec_at(&t, i)->extra = 7;
	assert_int_equal(eph_tab__get_n(&t, KEY_A, &a, sizeof(a), hash_a(&a), &made), 0);
	assert_false(made);
	assert_int_equal(rec_at(&t, 0)->extra, 7);
	/* by the other key: a record of its own, whose a is zero (absent) */
	assert_int_equal(eph_tab__get_n(&t, KEY_B, b, sizeof(b), hash_b(b), &made), 1);
	assert_true(made);
	assert_memory_equal(rec_at(&t, 1)->b, b, sizeof(b));
	assert_int_equal(rec_at(&t, 1)->a, 0);
	assert_int_equal(eph_tab__get_n(&t, KEY_B, b, sizeof(b), hash_b(b), NULL), 1);
	/* a record linked under an equal key later is the one found */
	i = eph_tab__alloc(&t);
	assert_int_equal(i, 2);
	rec_at(&t, i)->a = 42;
	eph_tab__link(&t, 2, NULL);
	assert_int_equal(eph_tab__get_n(&t, KEY_A, &a, sizeof(a), hash_a(&a), &made), 2);
	assert_false(made);
	a = 43; /* full */
	made = true;
	assert_int_equal(eph_tab__get_n(&t, KEY_A, &a, sizeof(a), hash_a(&a), &made), -ENOSPC);
	assert_false(made);
	assert_int_equal(find_a(&t, a), -1);
	assert_int_equal(t.len, 3);
	eph_tab__fini(&t);
}

static void test_init_rejects(void **state)
{
	struct eph_tab_key odd = { .off = 0, .len = 6 }, outside = { .off = 28, .len = 8 };
	struct eph_tab_key ok = { .off = 0, .len = 4 };
	struct eph_tab t;

	(void)state;
	assert_int_equal(eph_tab__init(&t, sizeof(struct rec), &odd, 1, 10), -EINVAL);
	assert_int_equal(eph_tab__init(&t, sizeof(struct rec), &outside, 1, 10), -EINVAL);
	assert_int_equal(eph_tab__init(&t, sizeof(struct rec), &ok, 1, 0), -EINVAL);
	assert_int_equal(eph_tab__init(&t, 2, &ok, 1, 10), -EINVAL);
	assert_int_equal(eph_tab__init(&t, sizeof(struct rec), &ok, EPH_TAB_KEYS + 1, 10), -EINVAL);
	assert_int_equal(eph_tab__init(&t, sizeof(struct rec), &ok, 1, UINT32_MAX), 0);
	assert_int_equal(t.max, EPH_TAB_MAX_RECS);
	eph_tab__fini(&t);
}

/* Equal bytes hash alike wherever they are; nearby keys spread over the slots like random. */
static void test_hash(void **state)
{
	uint8_t buf[64], other[48], *used = calloc(8192, 1);
	unsigned int homes = 0, i;
	uint64_t k;

	(void)state;
	assert_non_null(used);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 37 + 1);
	memcpy(other + 3, buf + 20, 44);
	assert_int_equal(eph_tab__hash(other + 3, 44), eph_tab__hash(buf + 20, 44));
	assert_int_not_equal(eph_tab__hash(buf + 20, 44), eph_tab__hash(buf + 20, 40));
	/* 4096 consecutive keys in 8192 slots: a random function fills 8192 (1 - e^-0.5) = 3223 */
	for (k = 0; k < 4096; k++) {
		uint32_t h = eph_tab__hash(&k, sizeof(k)) & 8191;

		homes += !used[h];
		used[h] = 1;
	}
	assert_in_range(homes, 3100, 3350);
	memset(used, 0, 8192);
	homes = 0;
	for (k = 0; k < 4096; k++) { /* 4-byte keys, strided like kernel addresses */
		uint32_t v = (uint32_t)k * 2048, h = eph_tab__hash(&v, sizeof(v)) & 8191;

		homes += !used[h];
		used[h] = 1;
	}
	assert_in_range(homes, 3100, 3350);
	free(used);
	/* the multiplication without 128-bit integers gives the same */
	for (k = 0; k < 1000; k++) {
		uint64_t a = k * 0x9e3779b97f4a7c15ull ^ (k << 61), b = ~k * 0xc2b2ae3d27d4eb4full;

		assert_int_equal(eph_tab__mul_portable(a, b), eph_tab__mul(a, b));
	}
	assert_int_equal(eph_tab__mul_portable(UINT64_MAX, UINT64_MAX),
			 eph_tab__mul(UINT64_MAX, UINT64_MAX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_collisions_against_model),
		cmocka_unit_test(test_growth_unique),
		cmocka_unit_test(test_cap_and_reuse),
		cmocka_unit_test(test_absent_key),
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_init_rejects),
		cmocka_unit_test(test_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
