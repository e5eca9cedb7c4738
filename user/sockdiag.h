/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's view of the ports held now, without BPF: TCP and UDP sockets of each network
 * namespace from NETLINK_SOCK_DIAG (inet_diag, IPv4 and IPv6, every state including
 * TIME_WAIT and SYN_SENT), their owners from /proc/PID/fd (socket:[INODE]), /proc/PID/comm and
 * /proc/PID/cgroup, and the seeding of an occupancy core with all of it.
 */
#ifndef EPH_SOCKDIAG_H
#define EPH_SOCKDIAG_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "netns.h"
#include "occupancy.h"

/*
 * Every TCP and UDP socket, IPv4 and IPv6, of the namespace of the calling thread; netns is
 * written into each. cb's non-zero return stops the dump and is returned. A protocol whose
 * diag module is missing (-ENOENT) is skipped. Returns 0 or -errno.
 */
int eph_sockdiag_dump(uint32_t netns, int (*cb)(const struct eph_occ_sock *s, void *ctx),
		      void *ctx);

/* Socket inode -> owning process, from one walk over /proc. */
struct eph_owners;

struct eph_owners *eph_owners__new(void); /* NULL: ENOMEM */
void eph_owners__free(struct eph_owners *o);
/* Fill s->pid, comm and cgroup from s->inode (the lowest pid when several share it, e.g.
 * after fork). Returns false, leaving s as it was, when no process is known to hold it. */
bool eph_owners__fill(const struct eph_owners *o, struct eph_occ_sock *s);

/*
 * Read the range and dump the sockets of every namespace of l (or only the one with inode
 * only_netns, when not 0), then seed occ with them and their owners. Namespaces that cannot
 * be read are added to occ without a range, with a warning on warn (if not NULL).
 * Returns 0 if at least one namespace was read, else -errno of the first failure.
 */
int eph_sockdiag_seed(struct eph_occ *occ, const struct eph_netns_list *l, uint32_t only_netns,
		      uint64_t now_ns, FILE *warn);

/*
 * The same over every namespace of l, then eph_occ__reconcile(): holds the kernel no longer
 * has go, sockets not yet known are added. snap_ns: taken before the dump. Returns the number
 * of holds removed, or -errno.
 */
int eph_sockdiag_reconcile(struct eph_occ *occ, const struct eph_netns_list *l,
			   uint64_t snap_ns, FILE *warn);

/* Parsers, exported for the tests. */

/* A /proc/PID/fd link "socket:[12345]". Returns 0 or -EINVAL. */
static inline int eph_parse_socket_link(const char *s, uint64_t *inode)
{
	uint64_t v = 0;

	if (strncmp(s, "socket:[", 8))
		return -EINVAL;
	for (s += 8; *s >= '0' && *s <= '9'; s++) {
		unsigned int d = *s - '0';

		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	if (*s != ']' || s[1] || !v)
		return -EINVAL;
	*inode = v;
	return 0;
}

/*
 * The cgroup v2 path in the text of /proc/PID/cgroup (the "0::PATH" line) into out, without
 * its newline. Returns 0, -ENOENT (no v2 line: a cgroup v1 only host) or -ENAMETOOLONG.
 */
static inline int eph_parse_cgroup(const char *text, char *out, size_t len)
{
	const char *line = text, *end;
	size_t n;

	while (*line) {
		end = strchr(line, '\n');
		if (!end)
			end = line + strlen(line);
		if (!strncmp(line, "0::", 3)) {
			n = end - line - 3;
			if (n >= len)
				return -ENAMETOOLONG;
			memcpy(out, line + 3, n);
			out[n] = '\0';
			return 0;
		}
		line = *end ? end + 1 : end;
	}
	return -ENOENT;
}

#endif
