/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The port iterator (bpf/portiter.bpf.c): for every TCP socket of a network namespace, whether
 * bind()/listen() or connect() made the bind bucket of its port. connect() skips every port
 * whose bucket bind() or listen() made, whatever the destination; sock_diag cannot tell a
 * connected socket bound before connect() from one whose port connect() chose. Also each full
 * socket's IP_LOCAL_PORT_RANGE as it set it, which sock_diag does not report at all. And where
 * sock_diag lists no TCP socket only bound (before 6.8), those of the namespace, from the
 * kernel's bind hash.
 *
 * Optional by design: a kernel that refuses it (no BTF, no privilege, a seccomp filter, a kernel
 * before 5.9) leaves the buckets unknown, and no command fails because of it. From 5.9 to 5.16
 * (no bpf_loop) it loads without the walk of the bind hash.
 */
#ifndef EPH_PORTITER_H
#define EPH_PORTITER_H

#include <stdbool.h>
#include <stddef.h>

#include "ephtrace.h"

struct eph_portiter;

/*
 * Load the iterator program and create its link, once. libbpf's messages go to stderr with
 * verbose, else nowhere (the print function in place before is put back). Returns NULL with
 * the reason in err (e.g. "cannot load the iterator: Operation not permitted") when the kernel
 * refuses it.
 */
struct eph_portiter *eph_portiter__open(bool verbose, char *err, size_t errlen);

/*
 * One pass over the TCP sockets of the network namespace of the calling thread (the kernel
 * takes it when the iterator is created: call it on a thread already inside the namespace,
 * e.g. from eph_netns__run). cb gets every record: the sockets' (EPH_PORTITER_REC_SOCK), then,
 * where the program walks the bind hash (eph_portiter__walks) and walk is not
 * EPH_PORTITER_WALK_NONE, the bound-only sockets' (EPH_PORTITER_REC_BOUND, each with its
 * netns): the calling thread's namespace's (EPH_PORTITER_WALK_NETNS) or every namespace's
 * (EPH_PORTITER_WALK_ALL: the bind hash is one for all, so one walk serves them all), and last
 * EPH_PORTITER_REC_WALKED, which comes only when the walk was whole and every BOUND record of
 * it came. cb's non-zero return stops the pass and is returned. Returns 0 or -errno.
 */
int eph_portiter__read(struct eph_portiter *pi, unsigned int walk,
		       int (*cb)(const struct eph_portiter_rec *rec, void *ctx), void *ctx);

/* Whether this kernel's reads walk the bind hash when asked: sock_diag lists no bound-only TCP
 * socket (before 6.8) and the program with the walk loaded (bpf_loop, 5.17). */
bool eph_portiter__walks(const struct eph_portiter *pi);

/* What this kernel's iterator goes without (a sentence), or NULL: on a kernel without bpf_loop()
 * (before 5.17) it cannot walk the bind hash, so before 6.8 the bound-only sockets are unlisted. */
const char *eph_portiter__degraded(struct eph_portiter *pi);

void eph_portiter__free(struct eph_portiter *pi); /* NULL-safe; leaves nothing in the kernel */

#endif
