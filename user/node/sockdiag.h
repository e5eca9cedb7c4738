/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's view of the ports held now: TCP and UDP sockets of each network namespace from
 * NETLINK_SOCK_DIAG (inet_diag, IPv4 and IPv6, every state including TIME_WAIT and SYN_SENT),
 * their owners from /proc/PID/fd (socket:[INODE]), /proc/PID/comm and /proc/PID/cgroup, who
 * made the bind bucket of each TCP port from the port iterator when one is given (the only
 * BPF here, optional; before 6.8 it also finds the TCP sockets only bound, which sock_diag
 * does not list there), and the seeding of an occupancy core with all of it.
 */
#ifndef EPH_SOCKDIAG_H
#define EPH_SOCKDIAG_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <linux/netlink.h>

#include "netns.h"
#include "occupancy.h"

struct eph_portiter; /* portiter.h */

/* The state bit that asks sock_diag for TCP sockets only bound (6.8+): it lists them as
 * TCP_CLOSE, the only TCP_CLOSE sockets it lists. */
#define EPH_TCP_BOUND_INACTIVE 13

/*
 * Every TCP and UDP socket, IPv4 and IPv6, of the namespace of the calling thread; netns is
 * written into each. cb's non-zero return stops the dump and is returned. A protocol whose
 * diag module is missing (-ENOENT) is skipped. Returns 0 or -errno.
 */
int eph_sockdiag_dump(uint32_t netns, int (*cb)(const struct eph_occ_sock *s, void *ctx),
		      void *ctx);

/*
 * One inet_diag answer into s (zeroed first; netns is the caller's): addresses, ports, state,
 * cookie (0 for INET_DIAG_NOCOOKIE), inode, tw_left_ms of a TIME_WAIT socket (idiag_expires,
 * ms), v6only (INET_DIAG_SKV6ONLY: the kernel sends it for LISTEN and unconnected sockets only).
 * Returns 0, -EBADMSG (too short) or -EAFNOSUPPORT (not AF_INET/AF_INET6: skip it).
 */
int eph_sockdiag_parse(const struct nlmsghdr *nlh, uint8_t proto, struct eph_occ_sock *s);

/*
 * Who made the bind bucket of every TCP socket of socks (sock_diag's, of the namespace of the
 * calling thread), in s->bucket: LISTEN and bound-only (TCP_CLOSE) sockets are
 * EPH_BUCKET_BIND; the others are found in one pass of pi (by cookie, else by family, local
 * port and state when only one record has them) and stay EPH_BUCKET_UNKNOWN without it.
 * The same record gives s->range_lo/range_hi, the socket's IP_LOCAL_PORT_RANGE as it set it
 * (0, 0 without a record: not set, TIME_WAIT, bound-only, or no iterator).
 * Returns 0, or -errno of a failed pass (the rule above still applied).
 */
int eph_sockdiag_fill_buckets(struct eph_portiter *pi, struct eph_occ_sock *socks, size_t n);

/* The TCP sockets only bound that the kernel's bind hash holds (the iterator walks it where
 * sock_diag lists none, before 6.8). */
struct eph_sockdiag_bound {
	/* each one sock_diag did not list (by cookie or inode), as sock_diag 6.8+ would:
	 * TCP_CLOSE, port, local address, v6only, bucket, inode, cookie (0 if none was made yet)
	 * and netns */
	int (*add)(const struct eph_occ_sock *s, void *ctx);
	void *ctx;
	uint32_t netns; /* the namespace's inode */
	bool listed;	/* set by the call: the whole bind hash was walked and every socket added */
};

/*
 * eph_sockdiag_fill_buckets(), then each bound-only socket of the namespace, from the same
 * pass's walk of the bind hash, to bound->add (after the last use of socks: add may move them).
 * add's non-zero return stops and is returned. bound NULL: the buckets alone, no walk (where
 * the snapshot walks once for all: eph_sockdiag_walk).
 */
int eph_sockdiag_fill_bound(struct eph_portiter *pi, struct eph_occ_sock *socks, size_t n,
			    struct eph_sockdiag_bound *bound);

/*
 * One walk of the bind hash for every namespace of a snapshot, after their sock_diag dumps (as
 * a namespace's own walk comes after its dump: a socket sock_diag did not list as connected is
 * then either bound-only still, or missed until the next snapshot; never counted twice). The
 * kernel has one bind hash for all namespaces (every namespace's inet_hashinfo shares
 * tcp_hashinfo's bhash, inet_pernet_hashinfo_alloc()), so one walk serves them all: N
 * namespaces cost one walk instead of N. When its records do not fit the ring buffer (32768
 * of them), each namespace is walked for itself.
 */
struct eph_sockdiag_walk {
	struct eph_portiter_rec *recs; /* BOUND records of every namespace, by netns */
	size_t n;
	bool whole; /* a WALKED record came: recs are all of them */
};

/* Read it: one pass of the iterator in the calling thread's namespace, SOCK records dropped;
 * the bound-only sockets of every namespace (every_netns; the thread's namespace can be any),
 * or of the thread's alone (when the walk of every one was not whole). 0 or -errno. */
int eph_sockdiag_walk__read(struct eph_portiter *pi, bool every_netns, struct eph_sockdiag_walk *w);

/* bound->netns's sockets of the walk that sock_diag did not list (socks[0, n): that namespace's
 * dump) to bound->add; bound->listed = w->whole. add's non-zero return stops and is returned. */
int eph_sockdiag_walk__add(const struct eph_sockdiag_walk *w, const struct eph_occ_sock *socks,
			   size_t n, struct eph_sockdiag_bound *bound);

void eph_sockdiag_walk__clear(struct eph_sockdiag_walk *w); /* frees recs */

/*
 * Socket inode -> owning process, from /proc/PID/fd (socket:[INODE]) with the process's comm
 * and cgroup (owners.c). Kept from one update to the next: an inode known last time keeps its
 * owner while that process runs, so only the sockets not seen before cost a walk, and only
 * over the processes that may have them (see eph_owners__update()).
 */
struct eph_owners;

/* What the last update did. */
struct eph_owners_stats {
	size_t wanted;	/* inodes asked for */
	size_t carried; /* of which the owner was known from the update before */
	size_t unfound; /* looked for and not found (closed since, or no process has them) */
	size_t listed;	/* processes in /proc (0: /proc was not listed: nothing to look for) */
	size_t scanned; /* of which the fds were read */
	bool whole;	/* every process was looked at (or all were found) */
};

struct eph_owners *eph_owners__new(void); /* empty; NULL: ENOMEM */
void eph_owners__free(struct eph_owners *o);

/*
 * Know the owners of the socket inodes want (ascending, no duplicates, no 0). The owner of an
 * inode the last update knew is kept while that process runs; the other inodes are looked for
 * in the processes not listed by the last walk over /proc (new since), then in hints (pids
 * events named, any order), and in every other process when whole is set, or when an inode
 * the last update could not find is asked for again (it lasts: not a socket closed between
 * the dump and the walk). Looking stops when all are found; a whole walk from an empty cache
 * gives each socket the lowest pid that has it (a fork shares them). Inodes a whole walk did
 * not find are not looked for again while they are asked for. Returns 0 or -ENOMEM.
 */
int eph_owners__update(struct eph_owners *o, const uint64_t *want, size_t n, const uint32_t *hints,
		       size_t nhints, bool whole);
const struct eph_owners_stats *eph_owners__stats(const struct eph_owners *o);

/* Fill s->pid, comm and cgroup (pointing into o) from s->inode. Returns false, leaving s as it
 * was, when no process is known to hold it. */
bool eph_owners__fill(const struct eph_owners *o, struct eph_occ_sock *s);

/* The same for every socket, with copies of the cgroup paths, which outlive o: *paths (each,
 * then the array, freed by the caller; set also on failure). Returns 0 or -ENOMEM. */
int eph_owners__fill_copy(const struct eph_owners *o, struct eph_occ_sock *socks, size_t n,
			  char ***paths, size_t *npaths);

/* What a seed or a reconcile uses besides sock_diag, and what it found (NULL: nothing). */
struct eph_sockdiag_opts {
	bool warn; /* namespaces that cannot be read are said on stderr (eph_err()) */
	struct eph_portiter *portiter; /* bind buckets of the TCP ports (EPH_BUCKET_*), or NULL */
	/* the owners of the sockets: a cache kept between snapshots (eph_owners__update() with
	 * hints and whole), or NULL: one whole walk over /proc of its own */
	struct eph_owners *owners;
	const uint32_t *hints;
	size_t nhints;
	bool whole;
	const atomic_bool *cancel; /* when set, stop before the next namespace (-ECANCELED) */
	/* set by the call */
	uint32_t no_buckets; /* namespaces read without the port iterator (none given, or its
			      * pass failed there): their connected TCP ports have no bucket */
	int bucket_err;	     /* the first failed pass (-errno), 0 if none */
	uint32_t no_bound;   /* namespaces read whose bound-only TCP sockets are not known: a
			      * kernel before 6.8 and no whole walk of its bind hash */
};

/* One namespace of a snapshot: its settings, or why it could not be read. */
struct eph_sockdiag_ns {
	uint32_t inode;
	int err;		      /* 0, or -errno: not entered, its range or sockets unread */
	struct eph_port_range *range; /* its range and TIME_WAIT settings (err 0) */
};

/*
 * What the kernel held at one time, read without touching an occupancy (a worker thread can
 * take it while events go on), to be given to one with eph_sockdiag_apply().
 */
struct eph_sockdiag_snap {
	struct eph_sockdiag_ns *ns; /* every namespace looked at, ascending by inode */
	size_t nns;
	struct eph_occ_sock *socks; /* of the namespaces read, with their owners */
	size_t nsocks;
	char **paths; /* the cgroup paths socks point to */
	size_t npaths;
	bool lists_bound;   /* this kernel's sock_diag lists bound-only TCP sockets */
	uint32_t no_bound;  /* namespaces read whose bound-only TCP sockets are not known */
	uint64_t start_ns;  /* CLOCK_MONOTONIC before the first dump */
	uint64_t dumped_ns; /* after the last */
	uint64_t end_ns;    /* after the owners were known */
	struct eph_owners_stats owners;
};

/*
 * Read the range and the TIME_WAIT settings, and dump the sockets, of every namespace of l (or
 * only the one with inode only_netns, when not 0), and the owners of the sockets on a port of
 * their namespace's range, into *out (free with eph_sockdiag_snap__free()). Namespaces that
 * cannot be read are in it with their error, said on stderr if o->warn. Returns 0, -ENOMEM or
 * -ECANCELED (o->cancel).
 */
int eph_sockdiag_collect(const struct eph_netns_list *l, uint32_t only_netns,
			 struct eph_sockdiag_opts *o, struct eph_sockdiag_snap **out);
void eph_sockdiag_snap__free(struct eph_sockdiag_snap *s); /* NULL-safe */

/*
 * A port given back since the snapshot began, as an event said (EPH_RELEASE): the snapshot's
 * socket with its keys is gone, and must not come back from it.
 */
struct eph_sockdiag_release {
	uint64_t ts_ns;
	uint64_t cookie; /* 0: not known */
	uint32_t netns;
	uint16_t sport;
	uint16_t dport; /* 0: not known (no EPH_F_DEST) */
	uint8_t proto;
	uint8_t family; /* AF_INET for an IPv4-mapped IPv6 socket */
	uint8_t has_saddr, has_daddr;
	uint8_t saddr[16]; /* AF_INET in the first 4 bytes, the rest 0 */
	uint8_t daddr[16];
};

/* An event's release as the snapshot sees sockets (false: not a release). */
bool eph_sockdiag_release_of(const struct eph_event *ev, struct eph_sockdiag_release *r);

/*
 * Drop from s the sockets that releases of n (any order; sorted here) say are gone: those
 * released at or after s->start_ns with the same cookie, or (when either has no cookie) the
 * same protocol, namespace, local port and the addresses and remote port the release knows.
 * Returns how many were dropped.
 */
size_t eph_sockdiag_snap__drop_released(struct eph_sockdiag_snap *s,
					struct eph_sockdiag_release *rel, size_t n);

/*
 * Give a snapshot to occ: the ranges and settings of the namespaces read (the others are
 * added without a range), whether bound-only sockets are listed (eph_occ__set_bound_listed),
 * then eph_occ__seed() or, with reconcile, eph_occ__reconcile() from snap_ns. Returns what
 * they return (reconcile: the holds removed), or -ENOENT (or the first namespace's error)
 * when no namespace was read.
 */
int eph_sockdiag_apply(struct eph_occ *occ, const struct eph_sockdiag_snap *s, bool reconcile,
		       uint64_t snap_ns);

/*
 * Collect and apply at once: seed occ with every namespace of l (or only the one with inode
 * only_netns, when not 0). The snapshot lists bound-only TCP sockets (eph_occ__set_bound_listed)
 * when the kernel's sock_diag does (6.8+), or when the port iterator found them in every
 * namespace read. Namespaces that cannot be read are added to occ without a range, with a
 * message if o->warn. Returns 0 if at least one namespace was read, else -errno of the first
 * failure.
 */
int eph_sockdiag_seed(struct eph_occ *occ, const struct eph_netns_list *l, uint32_t only_netns,
		      uint64_t now_ns, struct eph_sockdiag_opts *o);

/*
 * The same over every namespace of l, then eph_occ__reconcile(): holds the kernel no longer
 * has go, sockets not yet known are added. snap_ns: taken before the dump. Returns the number
 * of holds removed, or -errno.
 */
int eph_sockdiag_reconcile(struct eph_occ *occ, const struct eph_netns_list *l, uint64_t snap_ns,
			   struct eph_sockdiag_opts *o);

/* Parsers, exported for the tests. */

/* Whether a kernel of this release ("6.1.0-56-amd64") lists bound-only TCP sockets (6.8+). */
bool eph_sockdiag_lists_bound(const char *release);

/* The same for the running kernel (uname; true when it cannot tell). */
bool eph_sockdiag_kernel_lists_bound(void);

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
