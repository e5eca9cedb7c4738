/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Occupancy: which ephemeral ports are held now, by whom and towards where, against the range
 * in force in each network namespace; assignment rates, failures and the exhaustion forecast.
 *
 * No libbpf and no system calls: the caller feeds it a kernel snapshot (eph_occ__seed, from
 * sock_diag) and/or decoded events (eph_occ__event), and passes every time in (CLOCK_MONOTONIC
 * ns for rates, CLOCK_REALTIME ns for the "time" of a snapshot), so tests are deterministic.
 *
 * Aggregates:
 * - destination (netns, proto, family, saddr, daddr, dport): TCP ports chosen by connect(),
 *   where exhaustion is per 4-tuple;
 * - bind scope (netns, proto, family, addr): ports held by bind(0), listen() autobind and
 *   every UDP socket (UDP port choice is per local address, not per destination);
 * - process (pid): everything it holds, TIME_WAIT included, also after it exited. Holds whose
 *   owner is not known (TIME_WAIT sockets found in a snapshot, sockets of processes whose
 *   /proc could not be read) are counted apart and reported with pid null: never guessed.
 * Memory is bounded: at most max_ports holds and as many entries per aggregate; whatever does
 * not fit is counted in "dropped".
 */
#ifndef EPH_OCCUPANCY_H
#define EPH_OCCUPANCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "container_out.h"
#include "errs.h"
#include "event.h"
#include "strbuf.h"

#define EPH_OCC_DEFAULT_MAX_PORTS 262144
#define EPH_OCC_DEFAULT_WINDOW_MS 10000
#define EPH_OCC_BUCKETS 10 /* the rate window is kept as this many buckets */

struct eph_occ;

struct eph_occ_opts {
	uint32_t max_ports; /* holds tracked at once, and entries per aggregate (0: default) */
	uint32_t window_ms; /* sliding window of rates and hold times (0: default), >= 10 ms */
};

/* One socket of a kernel snapshot (sock_diag) with its owner, if known. */
struct eph_occ_sock {
	uint64_t cookie;   /* sock_diag cookie (0: none) */
	uint64_t inode;	   /* 0 for TIME_WAIT sockets */
	uint32_t netns;	   /* inode of its network namespace */
	uint32_t pid;	   /* owner (tgid); 0 = unknown */
	uint8_t proto;	   /* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t family;	   /* AF_INET or AF_INET6 */
	uint8_t state;	   /* TCP_* of netinet/tcp.h (UDP: TCP_ESTABLISHED or TCP_CLOSE) */
	uint16_t sport;	   /* host order */
	uint16_t dport;	   /* host order, 0 if not connected */
	uint8_t saddr[16]; /* network order; AF_INET in the first 4 bytes, the rest 0 */
	uint8_t daddr[16];
	char comm[EPH_COMM_LEN]; /* owner's, "" if unknown */
	const char *cgroup;	 /* owner's cgroup v2 path, or NULL; copied */
	uint8_t bucket;		 /* TCP: who made the port's bind bucket (EPH_BUCKET_*) */
	uint8_t v6only;		 /* AF_INET6: IPV6_V6ONLY (INET_DIAG_SKV6ONLY); 0 if unknown */
	uint8_t __pad2[2];
	uint32_t tw_left_ms; /* TIME_WAIT: ms until it ends (idiag_expires); 0 = unknown */
	/* TCP: IP_LOCAL_PORT_RANGE as the socket set it, from the port iterator (range_lo 0 and
	 * range_hi 0: not set, a TIME_WAIT socket, or not known) */
	uint16_t range_lo;
	uint16_t range_hi;
};

/*
 * Who made the bind bucket of a TCP socket's port (struct inet_bind_bucket): the kernel's
 * connect() (__inet_hash_connect) skips every port whose bucket bind() or listen() made
 * (tb->fastreuse >= 0 || tb->fastreuseport >= 0), whatever the destination. A port's bucket is
 * bind()'s while one of its sockets says BIND: on 6.18, where the bucket goes back to
 * connect()'s once only sockets connect() bound own it, such a socket says CONNECT even while
 * a bind() socket shares its port (bpf/portiter.bpf.c).
 */
#define EPH_BUCKET_UNKNOWN 0 /* not known (sock_diag alone cannot tell) */
#define EPH_BUCKET_CONNECT 1 /* made by connect(): fastreuse == fastreuseport == -1 */
#define EPH_BUCKET_BIND 2    /* made by bind() or listen() */

/* Per-namespace TCP settings that decide whether connect() may reuse a TIME_WAIT 4-tuple
 * (tcp_twsk_unique). */
struct eph_occ_tw_opts {
	uint8_t tw_reuse;   /* net.ipv4.tcp_tw_reuse: 0 off, 1 on, 2 loopback only */
	uint8_t timestamps; /* net.ipv4.tcp_timestamps != 0 */
	uint8_t __pad[2];
	uint32_t reuse_delay_ms; /* net.ipv4.tcp_tw_reuse_delay (6.13+); 0: absent (whole
				  * seconds: ktime_get_seconds() must have moved on) */
};

/* A destination; zero it before filling (it is compared as bytes). */
struct eph_occ_dest_key {
	uint32_t netns;
	uint8_t proto;
	uint8_t family;
	uint16_t dport;
	uint8_t saddr[16];
	uint8_t daddr[16];
};

/* A bind scope; zero it before filling. */
struct eph_occ_scope_key {
	uint32_t netns;
	uint8_t proto;
	uint8_t family;
	uint8_t __pad[2];
	uint8_t addr[16];
};

/*
 * A destination's socket range: the per-socket IP_LOCAL_PORT_RANGE that most of its live (not
 * TIME_WAIT) sockets narrowing the netns range use, as the kernel makes it of the netns range
 * (inet_sk_get_local_port_range()), and what the port-search model says of it. Ties: the
 * narrower range. sockets 0: no live socket of the destination narrows the range (or the netns
 * range is not known).
 */
struct eph_occ_range {
	uint16_t low, high; /* the effective range, inside the netns range */
	uint32_t sockets;   /* live sockets of the destination with this effective range */
	uint32_t usable;    /* ports of [low, high] that are not reserved */
	uint32_t left;	    /* further connect()s with this range that would succeed now */
};

/*
 * What a snapshot says about one destination, bind scope or process. NAN means unknown (null
 * in JSON): usable/utilization when the netns range is not known, assign_rate/need/exhaust_in_s
 * before eph_occ__start() (a snapshot alone has no rates), exhaust_in_s also when the need fits.
 */
struct eph_occ_stats {
	uint32_t held;	     /* ports held now, TIME_WAIT included */
	uint32_t time_wait;  /* of which in TIME_WAIT */
	double usable;	     /* dest, scope: ports the kernel's search scans, minus reserved */
	double ports_left;   /* dest, scope: further connect() / bind(addr, 0) that would succeed
			      * now (the port-search model, portsearch.h) */
	double utilization;  /* 1 - ports_left / usable */
	double assign_rate;  /* assignments per second over the window */
	uint64_t failures;   /* since the entry exists: connect() failures (dest), no free port
			      * for bind(0), listen() or a UDP implicit bind (scope), all (process) */
	double need;	     /* dest: Little's law, rate x mean hold time; INFINITY: assignments
			      * but no release with a known hold time in the window */
	double exhaust_in_s; /* dest: seconds until no port is left; 0 when none is left now */
	bool exited;	     /* process: eph_occ__proc_exited() was called for it */
	struct eph_occ_range sock_range; /* dest: see struct eph_occ_range */
};

struct eph_occ *eph_occ__new(const struct eph_occ_opts *opts); /* NULL: ENOMEM or EINVAL */
void eph_occ__free(struct eph_occ *occ);		       /* NULL-safe */

/*
 * Network namespaces: known (range unknown), or with the range in force: [low, high] of
 * ip_local_port_range and ip_local_reserved_ports as a bitmap of 65536 bits (bit p of byte
 * p / 8 = port p; NULL: none reserved). Calling it again replaces the range.
 * Returns 0, -EINVAL, -ENOSPC or -ENOMEM.
 */
int eph_occ__add_netns(struct eph_occ *occ, uint32_t netns);
int eph_occ__set_range(struct eph_occ *occ, uint32_t netns, uint16_t low, uint16_t high,
		       const uint8_t *reserved);
/* The TIME_WAIT reuse settings of a namespace (default before the first call: tw_reuse 2,
 * timestamps on, no delay sysctl). Returns 0, -EINVAL, -ENOSPC or -ENOMEM. */
int eph_occ__set_tw_opts(struct eph_occ *occ, uint32_t netns, const struct eph_occ_tw_opts *o);
/* A namespace that is gone: its range, and its destinations and bind scopes that hold nothing
 * (its holds go with eph_occ__reconcile). Its inode number may come back for a new one. */
void eph_occ__del_netns(struct eph_occ *occ, uint32_t netns);

/*
 * Add the sockets of a snapshot that hold an ephemeral port (see the rules in occupancy.c).
 * The range of every netns in socks must have been set (else -ENOENT and nothing is added).
 * A socket already held (same 4-tuple, or same cookie) is not added twice. now_ns: when the
 * snapshot was taken. Returns 0, -ENOENT or -ENOMEM; sockets beyond the caps count as dropped.
 */
int eph_occ__seed(struct eph_occ *occ, const struct eph_occ_sock *socks, size_t n, uint64_t now_ns);

/*
 * Make the holds agree with a snapshot taken from snap_ns on. Holds that match a snapshot socket
 * (by cookie or 4-tuple) stay, and move to TIME_WAIT when the snapshot shows them there. Holds
 * taken before snap_ns that match nothing were released without an event (the end of TIME_WAIT
 * on the tracepoint backend, or an event the ring buffer dropped): they go, counted as released
 * at snap_ns. Snapshot sockets not yet known are added as eph_occ__seed() does.
 * Returns the number of holds removed, -ENOENT (a netns without range) or -ENOMEM.
 */
int eph_occ__reconcile(struct eph_occ *occ, const struct eph_occ_sock *socks, size_t n,
		       uint64_t snap_ns);

/*
 * The cookies of the holds only a snapshot knows (their socket's taking of the port was never
 * seen: no sock_id, no assignment time), into *v (grown as eph_grow() does; *n set): the
 * kernel side follows the release of those by cookie (user/node/seeds.c), so that they go at
 * once, not at the next reconciliation. Returns 0 or -ENOMEM.
 */
int eph_occ__seed_cookies(const struct eph_occ *occ, uint64_t **v, size_t *n, size_t *cap);

/*
 * Whether snapshots list TCP sockets that are bound but neither connected nor listening
 * (sock_diag dumps them from Linux 6.8, TCP_BOUND_INACTIVE; the default is yes). When they do
 * not, a snapshot cannot show a bind(0) holder: eph_occ__reconcile() keeps the event holds of
 * bound ports it does not see, and the netns rows say that the ports of bound-only sockets
 * not seen by an event are missing from ports_left.
 */
void eph_occ__set_bound_listed(struct eph_occ *occ, bool listed);

/*
 * The dump behind the latest eph_occ__seed()/eph_occ__reconcile() ended at end_ns: a bind() or
 * UDP event older than that, about a socket no hold stands for under the event's keys, is
 * already in the snapshot under the keys it has now (connected since), or was gone by then.
 */
void eph_occ__snapshot_end(struct eph_occ *occ, uint64_t end_ns);

/* From now_ns on, events are fed: rates, failures and forecasts are measured from then.
 * Without it, the first event starts the measurement at its own time. */
void eph_occ__start(struct eph_occ *occ, uint64_t now_ns);

/*
 * One decoded event: assign (new hold), time_wait (the hold moves to TIME_WAIT, same owner),
 * release (the hold ends: matched by sock_id, else cookie, else 4-tuple of a snapshot hold),
 * fail (failure counts). Returns 0 or -ENOMEM; what the caps refuse counts as dropped.
 */
int eph_occ__event(struct eph_occ *occ, const struct eph_rec *r);

/* Process facts that events do not carry. set_cgroup copies path. */
int eph_occ__set_cgroup(struct eph_occ *occ, uint32_t pid, const char *path);
void eph_occ__proc_exited(struct eph_occ *occ, uint32_t pid);
/* The container or pod of pid (copied; NULL or none: a host process). 0 or -ENOMEM. */
int eph_occ__set_container(struct eph_occ *occ, uint32_t pid, const struct eph_container *c);
/* A process of container c (not none) uses netns: the namespace's owner, shown with its rows.
 * The first container seen owns it; for a pod, a second container of the same pod leaves only
 * the pod's fields. 0, -EINVAL or -ENOMEM. */
int eph_occ__claim_netns(struct eph_occ *occ, uint32_t netns, const struct eph_container *c);
/* NULL when none is known; valid until the next change to the occupancy. */
const struct eph_container *eph_occ__container(const struct eph_occ *occ, uint32_t pid);
/* Whether pid's container was given (eph_occ__set_container since the process's record was
 * made): *ct (if ct is not NULL) is then its container, NULL for a host process. */
bool eph_occ__container_known(const struct eph_occ *occ, uint32_t pid,
			      const struct eph_container **ct);
const struct eph_container *eph_occ__netns_owner(const struct eph_occ *occ, uint32_t netns);
/* Show only the processes of containers or pods f names, and the namespaces they own (with
 * their destinations and bind scopes): in the JSON, text, rows and findings. */
void eph_occ__set_ct_filter(struct eph_occ *occ, const struct eph_ct_filter *f);
/* fn(pid) for every process known (holding, or seen within the window). fn must not change
 * the set of processes. */
void eph_occ__for_each_proc(const struct eph_occ *occ, void (*fn)(uint32_t pid, void *ctx),
			    void *ctx);
/* Calls alive(pid) for every process not yet marked exited and marks it when false. */
void eph_occ__check_exited(struct eph_occ *occ, bool (*alive)(uint32_t pid, void *ctx), void *ctx);

/*
 * serve's failure series by process identity (metrics.h): each process's failures count into
 * pc from now on, through its row here (pc is the caller's; NULL: none). A row stays while pc
 * needs it: a live process counting into a series, failures waiting for the container.
 * eph_occ__settle_series() gives the waiting failures of each process whose container is known
 * (eph_occ__set_container) to its series, and those of a process exited or waiting for
 * EPH_PROC_PENDING_NS at now_ns (the clock of the records' ts_ns) without container labels.
 * 0 or -ENOMEM.
 */
struct eph_proc_counts;
void eph_occ__count_series(struct eph_occ *occ, struct eph_proc_counts *pc);
int eph_occ__settle_series(struct eph_occ *occ, uint64_t now_ns);

/* Forget entries with nothing held and no activity for a window (and failures with them);
 * then the series (eph_occ__count_series) no row counts into go, by metrics.h's rules. */
void eph_occ__prune(struct eph_occ *occ, uint64_t now_ns);

uint64_t eph_occ__dropped(const struct eph_occ *occ);
/* Reconciliations so far, and the holds they released: ports that went back to the pool with no
 * event seen (the end of TIME_WAIT on the tracepoint backend, dropped events). On a quiet host
 * with nothing dropped the second stays 0 on fentry and kprobe: it measures the drift between
 * events and the kernel. */
uint64_t eph_occ__resyncs(const struct eph_occ *occ);
uint64_t eph_occ__resync_released(const struct eph_occ *occ);

/* One entry's numbers at now_ns. Returns 0 or -ENOENT. pid 0: the holds of unknown owner. */
int eph_occ__dest(const struct eph_occ *occ, const struct eph_occ_dest_key *key, uint64_t now_ns,
		  struct eph_occ_stats *out);
int eph_occ__scope(const struct eph_occ *occ, const struct eph_occ_scope_key *key, uint64_t now_ns,
		   struct eph_occ_stats *out);
int eph_occ__proc(const struct eph_occ *occ, uint32_t pid, uint64_t now_ns,
		  struct eph_occ_stats *out);

/*
 * The findings (findings.h) at now_ns: why a space fills up, who does it, what to change. Before
 * eph_occ__start() (a snapshot alone) only what a snapshot shows: no counts of a window.
 * out is emptied first. Returns 0 or -ENOMEM.
 */
struct eph_findings;
int eph_occ__findings(const struct eph_occ *occ, uint64_t now_ns, struct eph_findings *out);

/* Every row of a snapshot, for exporters (the order of eph_occ__json()). */
/* ct in the rows: the container (a process's) or owner (a namespace's, and so of its
 * destinations and bind scopes), NULL for none; it points into the rows' own cts, valid until
 * they are freed. */
struct eph_occ_dest_row {
	struct eph_occ_dest_key key;
	struct eph_occ_stats st;
	const struct eph_container *ct;
};

/* A bind scope; failures by kind (st.failures is their sum), since the scope exists. */
struct eph_occ_scope_row {
	struct eph_occ_scope_key key;
	struct eph_occ_stats st;
	uint64_t fail_inuse; /* bind() to port 0, listen(): EADDRINUSE */
	uint64_t fail_again; /* UDP implicit bind of connect() or sendmsg(): EAGAIN */
	const struct eph_container *ct;
};

struct eph_occ_proc_row {
	uint32_t pid; /* 0: the holds of unknown owner (TIME_WAIT found in a snapshot) */
	char comm[EPH_COMM_LEN];
	struct eph_occ_stats st;
	const struct eph_container *ct;
};

struct eph_occ_netns_row {
	uint32_t netns;
	bool have_range;
	uint16_t low, high;
	uint32_t reserved; /* reserved ports inside [low, high] */
	double usable;	   /* NAN when the range is not known */
	double new_left;   /* TCP connect()s a destination with no connection yet would get
			    * (usable less the ports whose bucket bind() made); NAN: unknown */
	const struct eph_container *ct;
};

struct eph_occ_rows {
	struct eph_occ_dest_row *dests;
	struct eph_occ_scope_row *scopes;
	struct eph_occ_proc_row *procs;
	struct eph_occ_netns_row *netns;
	size_t ndests, nscopes, nprocs, nnetns;
	struct eph_container *cts; /* the distinct containers the rows name */
	size_t ncts;
};

/* Fill rows (allocated; free with eph_occ_rows__free). Returns 0 or -ENOMEM. */
int eph_occ__rows(const struct eph_occ *occ, uint64_t now_ns, struct eph_occ_rows *rows);
void eph_occ_rows__free(struct eph_occ_rows *rows); /* NULL-safe, leaves it empty */
/* The container of pid among the rows' processes, or NULL. */
const struct eph_container *eph_occ_rows__container(const struct eph_occ_rows *rows, uint32_t pid);

/*
 * The ports each known process holds now (TIME_WAIT included), of protocol proto and family
 * family only (0: any; an IPv4-mapped IPv6 socket counts as IPv4): fn(pid, held, ctx) once for
 * every process that holds some. Not the holds of unknown owner. Returns 0 or -ENOMEM.
 */
int eph_occ__held_by_proc(const struct eph_occ *occ, uint8_t proto, uint8_t family,
			  void (*fn)(uint32_t pid, uint32_t held, void *ctx), void *ctx);

/*
 * The snapshot as one JSON object (no newline): {"time","netns":[{"netns","low","high",
 * "reserved","usable","taken","bound","new_dest_ports_left","udp_usable","udp_taken",
 * "udp_ports_left",...}],"destinations":[{"netns","proto","family","saddr","daddr","dport",
 * "held","time_wait","usable","utilization","assign_rate","failures","exhaust_in_s"[,
 * "socket_range":{"low","high","sockets","usable","ports_left"}]}] (socket_range only when
 * live sockets of the destination narrow the range: struct eph_occ_range),
 * "bind_scopes":[{"netns","proto","family","addr","held","usable","utilization"}],
 * "processes":[{"pid","comm","cgroup","held","time_wait","assign_rate","failures","exited"}],
 * "dropped"}. netns by inode; destinations and bind scopes by utilization, then held,
 * descending; processes by held descending, the unknown owner last. Before eph_occ__start()
 * assign_rate and failures are null. dropped = the core's own plus extra_dropped.
 */
int eph_occ__json(const struct eph_occ *occ, struct strbuf *sb, uint64_t now_ns, uint64_t wall_ns,
		  uint64_t extra_dropped);

/*
 * The same for a terminal, every line at most 79 columns and ending in '\n': one line per
 * netns range, then at most limit destinations (nearest exhaustion first), bind scopes and
 * processes (holding most first); limit 0 = all.
 */
int eph_occ__text(const struct eph_occ *occ, struct strbuf *sb, uint64_t now_ns, uint64_t wall_ns,
		  uint64_t extra_dropped, unsigned int limit);

#endif
