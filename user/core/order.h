/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one way numbers are ordered for qsort and bsearch: -1, 0 or 1. Comparators of records
 * chain eph_cmp_u64 over their fields with ?: (the first that differs decides).
 */
#ifndef EPH_ORDER_H
#define EPH_ORDER_H

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

#endif
