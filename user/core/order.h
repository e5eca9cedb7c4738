/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one way numbers are ordered for qsort and bsearch: -1, 0 or 1. Comparators of records
 * chain eph_cmp_u64 over their fields with ?: (the first that differs decides).
 */
#ifndef EPH_ORDER_H
#define EPH_ORDER_H

#include <stddef.h>
#include <stdint.h>

/* a before b: -1, the same: 0, after: 1; for any unsigned integer (or enum) up to 64 bits.
 * Most first: eph_cmp_u64(b, a). */
static inline int eph_cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

/* Comparators of arrays of plain numbers, for qsort and bsearch. */
static inline int eph_cmp_u32_at(const void *a, const void *b)
{
	return eph_cmp_u64(*(const uint32_t *)a, *(const uint32_t *)b);
}

static inline int eph_cmp_u64_at(const void *a, const void *b)
{
	return eph_cmp_u64(*(const uint64_t *)a, *(const uint64_t *)b);
}

/*
 * The first of the n elements of base (size bytes each, sorted as cmp orders them) that is not
 * below key (cmp(element, key) >= 0); n when there is none. bsearch() finds an equal one; this
 * finds the first of a run of equal ones, or where key would go.
 */
static inline size_t eph_lower_bound(const void *base, size_t n, size_t size, const void *key,
				     int (*cmp)(const void *element, const void *key))
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp((const char *)base + mid * size, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

#endif
