/* SPDX-License-Identifier: GPL-2.0 */
/* What the sock_diag files share (sockdiag.c, sockdiag_bucket.c, sockdiag_snap.c,
 * sockdiag_apply.c). Not for other modules: they use sockdiag.h. */
#ifndef EPH_SOCKDIAG_INT_H
#define EPH_SOCKDIAG_INT_H

#include <stdint.h>

static inline int cmp_u64(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

#endif
