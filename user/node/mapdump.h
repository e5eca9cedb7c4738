/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The "stats" and "hists" maps read without a lookup per key: an iterator (bpf/mapdump.bpf.c,
 * iter/bpf_map_elem) linked to each, whose programs run with the CPU's bpf_prog_active left
 * alone, which a map system call raises (and a kernel that preempts the call there skips the
 * kprobe and perf tracepoint programs on that CPU meanwhile: bpf/mapdump.bpf.c). Both maps have
 * 8-byte keys and 8-byte values.
 */
#ifndef EPH_MAPDUMP_H
#define EPH_MAPDUMP_H

#include <stddef.h>
#include <stdint.h>

#define EPH_MAPDUMP_MAX 2

struct eph_mapdump;

/* Load the iterator and link it to each of the n maps (fds, at most EPH_MAPDUMP_MAX). NULL with
 * errno and why on failure. */
struct eph_mapdump *eph_mapdump__open(const int *map_fds, int n, char *why, size_t whylen);
void eph_mapdump__free(struct eph_mapdump *d); /* NULL-safe */

/* Every element of map i (as given to open): fn(ctx, key, value); a non-zero return of fn ends
 * it and is returned. 0, that, or -errno. */
int eph_mapdump__foreach(const struct eph_mapdump *d, int i,
			 int (*fn)(void *ctx, const void *key, uint64_t value), void *ctx);

#endif
