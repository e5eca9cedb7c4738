/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A bounded table of fixed-size records with stable indexes and up to EPH_TAB_KEYS hash
 * indexes: the one hash table of user space (the occupancy, the events summary, the per-process
 * metrics; the node's procinfo.c and container_node.c caches). No libbpf, no system calls.
 *
 * - Records live in chunks of EPH_TAB_CHUNK records (the first chunk grows by doubling up to
 *   that size), so that memory follows the records in use, not the next power of two. An index
 *   stays valid until eph_tab__del(); a pointer to a record until the next eph_tab__alloc().
 * - At most max records (never more than EPH_TAB_MAX_RECS): eph_tab__alloc() says -ENOSPC
 *   beyond, and the caller counts what it could not keep.
 * - Each key is a byte range of the record whose length is a multiple of 4, compared as bytes,
 *   so key structs are zeroed before they are filled. A key whose bytes are all zero is absent
 *   and not indexed.
 * - Each index is open addressing with linear probing over slots of {32-bit hash, record},
 *   at most a quarter full (7/8 when it cannot grow, then -ENOMEM): a lookup reads
 *   only the records whose full hash matches, and growing never hashes a key again. The
 *   caller computes a key's hash once (eph_tab__hash, or the key's own hash function) and
 *   passes it to find, link and unlink: one hash per key per event.
 * - Two records may have equal keys: find returns the one linked last. Until that happens in an
 *   index, a find there stops at the first equal key.
 */
#ifndef EPH_TABLE_H
#define EPH_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define EPH_TAB_KEYS 3
#define EPH_TAB_MIN 64	       /* records and slots of a new table */
#define EPH_TAB_CHUNK_SHIFT 12 /* 4096 records per chunk */
#define EPH_TAB_CHUNK (1u << EPH_TAB_CHUNK_SHIFT)
#define EPH_TAB_MAX_RECS (1u << 30) /* so that 2 x records slots fit in 32 bits */

struct eph_tab_key {
	size_t off; /* in the record */
	size_t len;
	/* The hash the caller gives for this key; NULL: eph_tab__hash(key, len). Called only
	 * where the caller gives none (eph_tab__link and eph_tab__del with hash NULL). */
	uint32_t (*hash)(const void *key);
};

struct eph_tab_slot {
	uint32_t hash;
	uint32_t rec; /* record index + 1; 0: empty */
};

struct eph_tab {
	uint8_t **chunks;
	uint32_t nchunks;
	size_t size;   /* bytes per record */
	uint8_t *used; /* per record: in use */
	struct eph_tab_slot *slots[EPH_TAB_KEYS];
	struct eph_tab_key keys[EPH_TAB_KEYS];
	unsigned int nkeys;
	uint32_t len;	 /* records in use */
	uint32_t top;	 /* records ever handed out (high-water mark) */
	uint32_t cap;	 /* records allocated */
	uint32_t max;	 /* records allowed */
	uint32_t nslots; /* slots per key, a power of two, at least 4 x len (up to 2^31) */
	uint32_t free;	 /* first free record, 1-based, chained through the records */
	/* dups[k]: equal keys were linked in index k, so a find reads the whole run */
	bool dups[EPH_TAB_KEYS];
};

/* size >= 4 bytes; keys inside the record, each a multiple of 4 bytes long.
 * Returns 0, -EINVAL or -ENOMEM. */
int eph_tab__init(struct eph_tab *t, size_t size, const struct eph_tab_key *keys,
		  unsigned int nkeys, uint32_t max);
void eph_tab__fini(struct eph_tab *t); /* leaves it zeroed; safe on a zeroed table */

/* A zeroed record, in use but not indexed yet. Returns its index, -ENOSPC (at max) or
 * -ENOMEM. */
int64_t eph_tab__alloc(struct eph_tab *t);

/* ---- the hot path, inline --------------------------------------------------------------- */

/* The high and low halves of the 128-bit product a x b, xored: by 32-bit halves. */
static inline uint64_t eph_tab__mul_portable(uint64_t a, uint64_t b)
{
	uint64_t lo = (a & 0xffffffffu) * (b & 0xffffffffu), hi = (a >> 32) * (b >> 32);
	uint64_t m1 = (a >> 32) * (b & 0xffffffffu), m2 = (a & 0xffffffffu) * (b >> 32);
	uint64_t mid = (lo >> 32) + (m1 & 0xffffffffu) + (m2 & 0xffffffffu);

	hi += (m1 >> 32) + (m2 >> 32) + (mid >> 32);
	lo = (lo & 0xffffffffu) | mid << 32;
	return lo ^ hi;
}

/* The same with the compiler's 128-bit arithmetic where there is one. */
static inline uint64_t eph_tab__mul(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
	unsigned __int128 p = (unsigned __int128)a * b;

	return (uint64_t)p ^ (uint64_t)(p >> 64);
#else
	return eph_tab__mul_portable(a, b);
#endif
}

static inline uint64_t eph_tab__load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t eph_tab__load32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

#define EPH_TAB_K0 0xa0761d6478bd642full
#define EPH_TAB_K1 0xe7037ed1a0b428dbull
#define EPH_TAB_K2 0x8ebc6af09c88c6e3ull

/*
 * Hashing, a pair of 64-bit words at a time: each pair (and the state) folded by a 64 x 64 ->
 * 128-bit multiplication (high half xor low half), then a last fold to 32 bits. Callers with
 * keys of their own (fields rather than bytes) hash them with mix and fold. Not meant to resist
 * chosen keys: the keys are sockets' addresses and ports, not chosen by whoever could make
 * chains long.
 */
static inline uint64_t eph_tab__mix(uint64_t h, uint64_t a, uint64_t b)
{
	return eph_tab__mul(a ^ EPH_TAB_K0 ^ h, b ^ EPH_TAB_K1);
}

static inline uint32_t eph_tab__fold(uint64_t h)
{
	h = eph_tab__mul(h ^ EPH_TAB_K2, EPH_TAB_K1);
	return (uint32_t)(h ^ h >> 32);
}

/* The hash of the n bytes of a key (n: a multiple of 4, not 0). */
static inline uint32_t eph_tab__hash(const void *key, size_t n)
{
	const uint8_t *p = key;
	uint64_t h = EPH_TAB_K2 ^ n, a, b;

	for (; n > 16; n -= 16, p += 16)
		h = eph_tab__mix(h, eph_tab__load64(p), eph_tab__load64(p + 8));
	/* 4, 8, 12 or 16 bytes left */
	a = n >= 8 ? eph_tab__load64(p) : eph_tab__load32(p);
	b = n == 16 ? eph_tab__load64(p + 8) : n == 12 ? eph_tab__load32(p + 8) : 0;
	return eph_tab__fold(eph_tab__mix(h, a, b));
}

static inline void *eph_tab__rec(const struct eph_tab *t, uint32_t i)
{
	return t->chunks[i >> EPH_TAB_CHUNK_SHIFT] + (size_t)(i & (EPH_TAB_CHUNK - 1)) * t->size;
}

static inline const uint8_t *eph_tab__key(const struct eph_tab *t, unsigned int k, uint32_t i)
{
	return (const uint8_t *)eph_tab__rec(t, i) + t->keys[k].off;
}

/* The hash of key k of record i. */
static inline uint32_t eph_tab__key_hash(const struct eph_tab *t, unsigned int k, uint32_t i)
{
	if (t->keys[k].hash)
		return t->keys[k].hash(eph_tab__key(t, k, i));
	return eph_tab__hash(eph_tab__key(t, k, i), t->keys[k].len);
}

/* Whether the n bytes (a multiple of 4) at a and b are equal. */
static inline bool eph_tab__equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint64_t d = 0;

	for (; n >= 8; n -= 8, a += 8, b += 8)
		d |= eph_tab__load64(a) ^ eph_tab__load64(b);
	if (n)
		d |= eph_tab__load32(a) ^ eph_tab__load32(b);
	return !d;
}

/* Whether the n bytes (a multiple of 4) at p are all zero. */
static inline bool eph_tab__absent(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (; n >= 8; n -= 8, p += 8)
		v |= eph_tab__load64(p);
	if (n)
		v |= eph_tab__load32(p);
	return !v;
}

/*
 * The record whose key k equals key (hash: its hash), the one linked last if there are
 * several; -1 if none. n: the key's length, which the caller may give as a constant (the
 * comparison is then unrolled); eph_tab__find() takes it from the table.
 */
static inline int64_t eph_tab__find_n(const struct eph_tab *t, unsigned int k, const void *key,
				      size_t n, uint32_t hash)
{
	const struct eph_tab_slot *s = t->slots[k];
	uint32_t mask = t->nslots - 1, p = hash & mask;
	int64_t found = -1;

	/* equal keys sit in the order they were linked in one run: the last one wins */
	for (; s[p].rec; p = (p + 1) & mask) {
		if (s[p].hash != hash || !eph_tab__equal(eph_tab__key(t, k, s[p].rec - 1), key, n))
			continue;
		found = s[p].rec - 1;
		if (!t->dups[k])
			break;
	}
	return found;
}

static inline int64_t eph_tab__find(const struct eph_tab *t, unsigned int k, const void *key,
				    uint32_t hash)
{
	return eph_tab__find_n(t, k, key, t->keys[k].len, hash);
}

/* Fetch the slot that a lookup of hash under key k starts at into the cache: a hint. */
static inline void eph_tab__prefetch(const struct eph_tab *t, unsigned int k, uint32_t hash)
{
	__builtin_prefetch(&t->slots[k][hash & (t->nslots - 1)]);
}

/* Index record i under key k (hash: the hash of its key k). Does nothing if the key is absent. */
static inline void eph_tab__link_key(struct eph_tab *t, unsigned int k, uint32_t i, uint32_t hash)
{
	struct eph_tab_slot *s = t->slots[k];
	uint32_t mask = t->nslots - 1, p = hash & mask;
	const uint8_t *key = eph_tab__key(t, k, i);
	size_t n = t->keys[k].len;

	if (eph_tab__absent(key, n))
		return;
	for (; s[p].rec; p = (p + 1) & mask)
		if (s[p].hash == hash && !t->dups[k] &&
		    eph_tab__equal(eph_tab__key(t, k, s[p].rec - 1), key, n))
			t->dups[k] = true;
	s[p].hash = hash;
	s[p].rec = i + 1;
}

/*
 * Take record i out of index k (hash: the hash of its key k, as linked). Call before changing
 * key k of record i. The entries after it in its run move back (no tombstones), keeping their
 * order.
 */
static inline void eph_tab__unlink_key(struct eph_tab *t, unsigned int k, uint32_t i, uint32_t hash)
{
	struct eph_tab_slot *s = t->slots[k];
	uint32_t mask = t->nslots - 1, p = hash & mask, j, home;

	for (; s[p].rec != i + 1; p = (p + 1) & mask)
		if (!s[p].rec)
			return; /* not indexed: its key is absent */
	for (j = p;;) {
		j = (j + 1) & mask;
		if (!s[j].rec)
			break;
		home = s[j].hash & mask;
		/* the entry at j may fill the hole at p unless its home lies in (p, j] */
		if (((j - home) & mask) >= ((j - p) & mask)) {
			s[p] = s[j];
			p = j;
		}
	}
	s[p].rec = 0;
	s[p].hash = 0;
}

/* Link record i under every key (hash[k]: the hash of its key k; NULL: computed here). */
static inline void eph_tab__link(struct eph_tab *t, uint32_t i, const uint32_t *hash)
{
	unsigned int k;

	for (k = 0; k < t->nkeys; k++)
		eph_tab__link_key(t, k, i, hash ? hash[k] : eph_tab__key_hash(t, k, i));
}

/*
 * The record whose key k equals key (hash: its hash), as eph_tab__find_n() finds it (n: the
 * key's length, as there); where there is none, a new one (eph_tab__alloc()): zeroed, with key
 * k set to key and linked under key k, and *made (if not NULL) true. Its other keys are zero,
 * absent: the caller that sets one links it (eph_tab__link_key()). Returns its index, -ENOSPC
 * or -ENOMEM (*made false). A key that is absent is never found again: each call makes another
 * record.
 */
static inline int64_t eph_tab__get_n(struct eph_tab *t, unsigned int k, const void *key, size_t n,
				     uint32_t hash, bool *made)
{
	int64_t i = eph_tab__find_n(t, k, key, n, hash);

	if (made)
		*made = false;
	if (i >= 0)
		return i;
	i = eph_tab__alloc(t);
	if (i < 0)
		return i;
	memcpy((uint8_t *)eph_tab__rec(t, i) + t->keys[k].off, key, n);
	eph_tab__link_key(t, k, i, hash);
	if (made)
		*made = true;
	return i;
}

/* Unlink record i from every index and free it (hash: as for eph_tab__link). */
static inline void eph_tab__del(struct eph_tab *t, uint32_t i, const uint32_t *hash)
{
	unsigned int k;

	for (k = 0; k < t->nkeys; k++)
		eph_tab__unlink_key(t, k, i, hash ? hash[k] : eph_tab__key_hash(t, k, i));
	t->used[i] = 0;
	memcpy(eph_tab__rec(t, i), &t->free, sizeof(t->free));
	t->free = i + 1;
	t->len--;
}

#endif
