/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ephtrace: the contract between the BPF programs (bpf/) and user space (user/).
 *
 * Everything here is an ABI: the BPF object and the loader are built from the same header, but
 * the layout is still fixed on purpose (only __u8..__u64, explicit padding, no bool, no enums
 * in structs) so that a record can be replayed from a file or a fuzzer byte for byte. The
 * _Static_asserts below hold every record's size and every field's offset, in the BPF build
 * (clang -target bpf, vmlinux.h) and in user space alike.
 * Changing a struct, a value or a flag's meaning means changing both sides and
 * EPH_ABI_VERSION: each BPF object carries the version it was built with (const volatile
 * eph_abi_version, in its .rodata) and the loaders (user/node/loader.c, portiter.c) refuse an
 * object whose version is not this header's.
 * Only what both sides use is here; what user space adds (names of values the kernel never
 * writes, sizes of its own arrays) is in user/core/ephtrace_user.h.
 */
#ifndef EPHTRACE_H
#define EPHTRACE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* The field at offset off of struct s, and nowhere else (an ABI: see above) */
#define EPH_ABI_OFFSET(s, field, off)                                \
	_Static_assert(__builtin_offsetof(struct s, field) == (off), \
		       "struct " #s "." #field " is at offset " #off " (include/ephtrace.h)")
#define EPH_ABI_SIZE(s, size)                      \
	_Static_assert(sizeof(struct s) == (size), \
		       "struct " #s " is " #size " bytes (include/ephtrace.h)")

/* 2: EPH_CONNECT, EPH_F_BOUND, EPH_F_NO_PORT, EPH_CNT_MISSED 12;
 * 3: struct eph_event.pcomm (the process's name), the record grows from 128 to 144 bytes;
 * 4: EPH_BACKEND_CGROUP, EPH_CNT_STATS_FULL 13;
 * 5: EPH_F_TW on releases only; a TIME_WAIT move whose end will not be seen says so with
 *    EPH_F_TW_NO_RELEASE (it was EPH_F_TW);
 * 6: EPH_CNT_WALK_CUT 14, the .rodata "without" (EPH_WITHOUT_*);
 * 7: EPH_CNT_NESTED_RUNS 15, the .rodata "nested_only";
 * 8: the .rodata "standin" (EPH_STANDIN_*);
 * 9: struct eph_portiter_rec.netns (48 to 56 bytes), the port iterator's walk_scope
 *    (EPH_PORTITER_WALK_*);
 * 10: EPH_F_V6ONLY; struct eph_portiter_rec.v6only of every socket, not only BOUND ones;
 * 11: EPH_F_SEEDED, the "seeds" map, the .rodata "use_seeds";
 * 12: "counters" is an mmapable array of struct eph_cpu_counters, a row per CPU; "seeds" is
 *     an mmapable array of two cookie tables (EPH_SEED_*), the .rodata "seed_mask";
 * 13: "counters"' elements are __u64, EPH_CNT_MAX of them per CPU (the rows of 12 unchanged) */
#define EPH_ABI_VERSION 13
#define EPH_COMM_LEN 16

/* struct eph_event.type */
#define EPH_ASSIGN 1	/* a port was taken (connect, bind, listen, UDP autobind) */
#define EPH_FAIL 2	/* port selection failed; err says how */
#define EPH_RELEASE 3	/* a port went back to the pool (unhash, end of TIME_WAIT) */
#define EPH_TIME_WAIT 4 /* a TCP socket's port moved to a TIME_WAIT socket (still held) */
/* A socket that had its port connected (op EPH_OP_CONNECT, EPH_F_BOUND always); no port was
 * chosen. TCP: a socket whose port bind() had chosen; the port now also serves this 4-tuple (the
 * kernel only checked that the 4-tuple is free). UDP: the connect() moved the socket to another
 * local address, saddr (a socket on the wildcard to the route's source; connect(AF_UNSPEC) back
 * to the wildcard, daddr then not known). sock_id is the bind's hold; EPH_F_EPHEMERAL when
 * bind() asked for port 0. */
#define EPH_CONNECT 5

/* struct eph_event.op: the system call that caused the port choice (0: none, never written by
 * the kernel; user space names it EPH_OP_NONE) */
#define EPH_OP_CONNECT 1
#define EPH_OP_BIND 2
#define EPH_OP_SENDMSG 3
#define EPH_OP_LISTEN 4 /* listen() on a socket with no port: the kernel binds one */

/* struct eph_event.flags */
#define EPH_F_EPHEMERAL (1u << 0) /* the kernel chose the port (not the caller) */
#define EPH_F_SEARCH (1u << 1)	  /* search_ns is known */
#define EPH_F_DEST (1u << 2)	  /* daddr/dport are known */
#define EPH_F_REQ (1u << 3)	  /* req_port is known (bind, listen) */
#define EPH_F_HELD (1u << 4)	  /* held_ns is known (release: assignment was seen) */
/* EPH_RELEASE only: the end of a TIME_WAIT socket (inet_twsk_bind_unhash): the port had moved
 * to it with an EPH_TIME_WAIT record, and is free now */
#define EPH_F_TW (1u << 5)
#define EPH_F_SADDR (1u << 6)	  /* saddr is known */
#define EPH_F_OWNER (1u << 7)	  /* pid/tid/comm/pcomm/cgroup: the owner's at assignment time */
/* TCP connect() on a socket that already had its port from bind(): on EPH_CONNECT, and on the
 * EPH_FAIL of such a connect() (EADDRNOTAVAIL: its 4-tuple is taken; not port exhaustion) */
#define EPH_F_BOUND (1u << 8)
/* The socket had IP_BIND_ADDRESS_NO_PORT set (bind() to port 0 took no port, connect() chose
 * it): on every TCP connect() event (EPH_ASSIGN, EPH_FAIL, EPH_CONNECT) */
#define EPH_F_NO_PORT (1u << 9)
/* EPH_TIME_WAIT only: this backend does not see the TIME_WAIT socket (a state change to
 * CLOSE, tracepoint and cgroup backends): no EPH_RELEASE will come at its end; take the port
 * as released (per-process counts) or leave it to a resync (the occupancy) */
#define EPH_F_TW_NO_RELEASE (1u << 10)
/* AF_INET6 only: the socket has IPV6_V6ONLY (its port is not taken on IPv4 addresses; the
 * option cannot change once the socket has a port) */
#define EPH_F_V6ONLY (1u << 11)
/* EPH_RELEASE and EPH_TIME_WAIT only: a socket ephtrace did not see take its port, found by a
 * snapshot (user space put its cookie in the "seeds" map): no owner, no hold time, sock_id 0;
 * the cookie says which socket */
#define EPH_F_SEEDED (1u << 12)

/*
 * One record in the ring buffer. 144 bytes.
 * Addresses are in network order as the kernel keeps them (IPv4 in the first 4 bytes of the
 * 16); ports are in host order.
 */
struct eph_event {
	__u64 ts_ns;	 /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) when it happened */
	__u64 search_ns; /* port search: entry to exit of the allocator (EPH_F_SEARCH) */
	__u64 held_ns;	 /* release: assignment to release (EPH_F_HELD) */
	__u64 cgroup_id; /* cgroup v2 id of the task */
	__u64 sock_id;	 /* identity of the hold: the kernel address of the socket that took the
			  * port; its release (and TIME_WAIT move) carries the same value */
	__u64 cookie;	 /* sk_cookie (0 if the kernel never generated one) */
	__u32 pid;	 /* tgid */
	__u32 tid;
	__u32 netns;	 /* inode number of the socket's network namespace */
	__s32 err;	 /* 0, or the positive errno the system call returned */
	__u16 sport;	 /* local port (0 if none) */
	__u16 dport;	 /* remote port (EPH_F_DEST) */
	__u16 req_port;	 /* bind/listen: the port asked for, 0 = any (EPH_F_REQ) */
	__u16 flags;	 /* EPH_F_* */
	__u8 type;	 /* EPH_ASSIGN.. */
	__u8 op;	 /* EPH_OP_* */
	__u8 proto;	 /* IPPROTO_TCP (6) or IPPROTO_UDP (17) */
	__u8 family;	 /* AF_INET (2) or AF_INET6 (10) */
	__u8 backend;	 /* EPH_BACKEND_* that produced it */
	__u8 __pad[3];
	__u8 saddr[16];
	__u8 daddr[16];
	char comm[EPH_COMM_LEN]; /* the thread's name (bpf_get_current_comm()) */
	/* The process's name: the comm of the thread group leader at the time (a JVM's "java"
	 * where comm names one of its pool threads). With EPH_F_OWNER, the owner's. */
	char pcomm[EPH_COMM_LEN];
};

EPH_ABI_SIZE(eph_event, 144);
EPH_ABI_OFFSET(eph_event, ts_ns, 0);
EPH_ABI_OFFSET(eph_event, search_ns, 8);
EPH_ABI_OFFSET(eph_event, held_ns, 16);
EPH_ABI_OFFSET(eph_event, cgroup_id, 24);
EPH_ABI_OFFSET(eph_event, sock_id, 32);
EPH_ABI_OFFSET(eph_event, cookie, 40);
EPH_ABI_OFFSET(eph_event, pid, 48);
EPH_ABI_OFFSET(eph_event, tid, 52);
EPH_ABI_OFFSET(eph_event, netns, 56);
EPH_ABI_OFFSET(eph_event, err, 60);
EPH_ABI_OFFSET(eph_event, sport, 64);
EPH_ABI_OFFSET(eph_event, dport, 66);
EPH_ABI_OFFSET(eph_event, req_port, 68);
EPH_ABI_OFFSET(eph_event, flags, 70);
EPH_ABI_OFFSET(eph_event, type, 72);
EPH_ABI_OFFSET(eph_event, op, 73);
EPH_ABI_OFFSET(eph_event, proto, 74);
EPH_ABI_OFFSET(eph_event, family, 75);
EPH_ABI_OFFSET(eph_event, backend, 76);
EPH_ABI_OFFSET(eph_event, __pad, 77);
EPH_ABI_OFFSET(eph_event, saddr, 80);
EPH_ABI_OFFSET(eph_event, daddr, 96);
EPH_ABI_OFFSET(eph_event, comm, 112);
EPH_ABI_OFFSET(eph_event, pcomm, 128);

/* struct eph_event.backend and the loader's choice */
#define EPH_BACKEND_AUTO 0
#define EPH_BACKEND_FENTRY 1
#define EPH_BACKEND_KPROBE 2
#define EPH_BACKEND_TRACEPOINT 3
#define EPH_BACKEND_CGROUP 4 /* cgroup socket hooks + sock_ops + raw tracepoints */

/* Indexes of struct eph_cpu_counters.n, a CPU's row of the array "counters" (element
 * cpu * EPH_CNT_MAX + index). */
#define EPH_CNT_ASSIGN 0     /* assignments seen */
#define EPH_CNT_FAIL 1	     /* failures seen */
#define EPH_CNT_RELEASE 2    /* releases of tracked ports seen */
#define EPH_CNT_DROPPED 3    /* events that found the ring (or perf) buffer full */
#define EPH_CNT_HOLD_FULL 4  /* assignments not tracked: hold table full */
#define EPH_CNT_CTX_FULL 5   /* system calls not followed: context table full */
#define EPH_CNT_TIME_WAIT 6  /* ports moved to TIME_WAIT */
/* Drops by event type: EPH_CNT_DROP_BASE + type - 1 (assign, fail, release, time_wait,
 * connect), so a stream can say how many of the events it shows were lost. */
#define EPH_CNT_DROP_BASE 7
/* 12: never written by the kernel: user space puts there the runs of ephtrace's programs the
 * kernel skipped (EPH_CNT_MISSED, user/core/ephtrace_user.h) */
/* Counts of "stats" or "hists" lost: the map was full (its keys are bounded by design) */
#define EPH_CNT_STATS_FULL 13
/* Descriptor walks (a process's exit, close_range()) cut short: the kernel has no bpf_loop()
 * (before 5.17) and the bounded loop stopped at EPH_FD_WALK_BOUNDED descriptors; the UDP ports
 * of the others look held until a resync */
#define EPH_CNT_WALK_CUT 14
/* Runs of a raw tracepoint or fentry hook the kernel skipped for the first program of a pair (a softirq
 * interrupting it on its CPU) that its *_nested twin took instead (bpf/nest.bpf.h): the
 * loader takes them off the first programs' recursion misses */
#define EPH_CNT_NESTED_RUNS 15
#define EPH_CNT_MAX 16
struct eph_cpu_counters {
	__u64 n[EPH_CNT_MAX];
};
EPH_ABI_SIZE(eph_cpu_counters, 128);
#define EPH_FD_WALK_BOUNDED 64

/*
 * The .rodata "without": helpers the programs do without although the kernel has them, so that
 * the paths of older kernels run on this one (tests: EPH_TEST_WITHOUT, user/node/loader.c).
 * Each is also done without when the kernel lacks it (CO-RE: enum bpf_func_id).
 */
#define EPH_WITHOUT_LOOP (1u << 0)	   /* bpf_loop (5.17): the loader takes the *_bounded
					    * programs (never read by them) */
#define EPH_WITHOUT_TASK_PT_REGS (1u << 1) /* bpf_task_pt_regs (5.15): no sendto() destination */

/*
 * The .rodata "standin" of a fentry/kprobe plan: the groups of hooks that attach in neither
 * style here, whose work the tracepoint backend's programs do instead (--backend auto;
 * user/core/hookplan.h). A group falls back whole: its hooks share one call's bookkeeping.
 */
#define EPH_STANDIN_TCP_CONNECT (1u << 0) /* inet_hash_connect, inet6_hash_connect */
#define EPH_STANDIN_TCP_BIND (1u << 1)	  /* inet_csk_get_port */
#define EPH_STANDIN_UDP_PORT (1u << 2)	  /* udp_lib_get_port, inet_autobind, inet_dgram_connect */
#define EPH_STANDIN_TCP_RELEASE (1u << 3) /* inet_put_port, inet_twsk_hashdance[_schedule],
					   * inet_twsk_bind_unhash */
#define EPH_STANDIN_UDP_RELEASE (1u << 4) /* udp_lib_unhash */

/*
 * In-kernel counters by outcome, map "stats": key -> __u64 (atomic adds). Counted for every
 * assignment, failure and bound connect(), whether or not its event reached user space.
 */
struct eph_stat_key {
	__u8 type;   /* EPH_ASSIGN, EPH_FAIL or EPH_CONNECT */
	__u8 op;     /* EPH_OP_* */
	__u8 proto;  /* IPPROTO_TCP / IPPROTO_UDP */
	__u8 family; /* AF_INET / AF_INET6 */
	__u16 err;   /* 0 or the errno */
	__u16 __pad;
};

EPH_ABI_SIZE(eph_stat_key, 8);
EPH_ABI_OFFSET(eph_stat_key, type, 0);
EPH_ABI_OFFSET(eph_stat_key, op, 1);
EPH_ABI_OFFSET(eph_stat_key, proto, 2);
EPH_ABI_OFFSET(eph_stat_key, family, 3);
EPH_ABI_OFFSET(eph_stat_key, err, 4);
EPH_ABI_OFFSET(eph_stat_key, __pad, 6);

/*
 * In-kernel log2 histograms, map "hists": key -> __u64. Slot k counts values (ns) in
 * [2^k, 2^(k+1)) (k < 64), slot 0 also counts 0; slot EPH_HIST_SUM holds the sum of the values
 * (ns).
 * The bucket is the last key field, as in ebpf_exporter.
 */
#define EPH_HIST_CONNECT 1 /* connect(): port search time (inet_hash_connect), by family+result */
#define EPH_HIST_BIND 2	   /* bind()/listen()/autobind: port choice time, by proto+family+result */
#define EPH_HIST_HOLD 3	   /* assignment to release (TIME_WAIT included), by proto+family */
#define EPH_HIST_SUM 255

struct eph_hist_key {
	__u8 kind;   /* EPH_HIST_* */
	__u8 proto;
	__u8 family;
	__u8 result; /* 0 = success, else the errno */
	__u8 __pad[3];
	__u8 slot;   /* last: the log2 bucket, or EPH_HIST_SUM */
};

EPH_ABI_SIZE(eph_hist_key, 8);
EPH_ABI_OFFSET(eph_hist_key, kind, 0);
EPH_ABI_OFFSET(eph_hist_key, proto, 1);
EPH_ABI_OFFSET(eph_hist_key, family, 2);
EPH_ABI_OFFSET(eph_hist_key, result, 3);
EPH_ABI_OFFSET(eph_hist_key, __pad, 4);
EPH_ABI_OFFSET(eph_hist_key, slot, 7);

/*
 * The port iterator (bpf/portiter.bpf.c, an iter/tcp program). Three kinds of record, 56 bytes:
 * - EPH_PORTITER_REC_SOCK: one per TCP socket of the reader's network namespace, full and
 *   TIME_WAIT (request sockets are left out), written with bpf_seq_write() and read from the
 *   iterator's fd;
 * - EPH_PORTITER_REC_BOUND: one per TCP socket only bound (TCP_CLOSE with a port: bind() without
 *   connect() or listen(), in no table the iterator walks), found in the kernel's bind hash
 *   where sock_diag lists none (before 6.8), written to a ring buffer when the walk ends: those
 *   of the reader's namespace or of every namespace, as walk_scope (EPH_PORTITER_WALK_*) asks;
 * - EPH_PORTITER_REC_WALKED: after them, once the whole bind hash was walked and every record
 *   written; count says how many BOUND records came before it.
 */
#define EPH_PORTITER_NO_BUCKET 0 /* the port's bind bucket could not be read */
#define EPH_PORTITER_CONNECT 1	 /* made by connect(): fastreuse == fastreuseport == -1; 6.18:
				  * connect() bound this socket (SOCK_CONNECT_BIND) */
#define EPH_PORTITER_BIND 2	 /* made by bind() or listen(): fastreuse or fastreuseport >= 0 */

#define EPH_PORTITER_REC_SOCK 0
#define EPH_PORTITER_REC_BOUND 1
#define EPH_PORTITER_REC_WALKED 2

/* walk_scope: which bound-only sockets a read's walk of the bind hash writes */
#define EPH_PORTITER_WALK_NONE 0  /* none: no walk */
#define EPH_PORTITER_WALK_NETNS 1 /* those of the reader's network namespace */
#define EPH_PORTITER_WALK_ALL 2	  /* those of every network namespace */

struct eph_portiter_rec {
	__u64 cookie; /* bpf_get_socket_cookie(): sock_diag's idiag_cookie of the same socket;
		       * BOUND: the socket's cookie if one was made (sock_diag makes it), else 0 */
	__u16 sport;  /* local port, host order */
	__u8 state;   /* TCP_* as sock_diag shows it (a TIME_WAIT socket: its substate) */
	__u8 family;  /* AF_INET (2) or AF_INET6 (10) */
	__u8 bucket;  /* EPH_PORTITER_* */
	__u8 kind;    /* EPH_PORTITER_REC_* */
	__u8 v6only;  /* AF_INET6: IPV6_V6ONLY (sock_diag says it of LISTEN and CLOSE only) */
	__u8 __pad;
	/* IP_LOCAL_PORT_RANGE of a full socket as it set it (inet_sock.local_port_range, not
	 * intersected with the netns range); 0 = not set. TIME_WAIT sockets have none: 0. */
	__u16 range_lo;
	__u16 range_hi;
	__u32 count;   /* WALKED: the BOUND records before it */
	__u64 inode;   /* BOUND: the socket's inode (sock_i_ino, /proc/PID/fd), 0 if none */
	__u8 addr[16]; /* BOUND: local address, network order; AF_INET in the first 4 bytes */
	__u32 netns;   /* BOUND: the socket's network namespace (its inode number, ns.inum) */
	__u32 __pad2;
};

EPH_ABI_SIZE(eph_portiter_rec, 56);
EPH_ABI_OFFSET(eph_portiter_rec, cookie, 0);
EPH_ABI_OFFSET(eph_portiter_rec, sport, 8);
EPH_ABI_OFFSET(eph_portiter_rec, state, 10);
EPH_ABI_OFFSET(eph_portiter_rec, family, 11);
EPH_ABI_OFFSET(eph_portiter_rec, bucket, 12);
EPH_ABI_OFFSET(eph_portiter_rec, kind, 13);
EPH_ABI_OFFSET(eph_portiter_rec, v6only, 14);
EPH_ABI_OFFSET(eph_portiter_rec, __pad, 15);
EPH_ABI_OFFSET(eph_portiter_rec, range_lo, 16);
EPH_ABI_OFFSET(eph_portiter_rec, range_hi, 18);
EPH_ABI_OFFSET(eph_portiter_rec, count, 20);
EPH_ABI_OFFSET(eph_portiter_rec, inode, 24);
EPH_ABI_OFFSET(eph_portiter_rec, addr, 32);
EPH_ABI_OFFSET(eph_portiter_rec, netns, 48);
EPH_ABI_OFFSET(eph_portiter_rec, __pad2, 52);

/*
 * The "seeds" map: an mmapable array of __u64, written by user space through its mapping and
 * never with a system call (a map update raises bpf_prog_active: see "counters"). Entry 0 says
 * which of the two tables that follow is in use (0 or 1); each is seed_mask + 1 slots (a power
 * of two), an open-addressing set of socket cookies: a cookie sits within EPH_SEED_PROBES
 * slots from eph_seed_slot(), wrapping, before the first empty (0) slot. User space fills the
 * table not in use, then switches (user/node/seeds.c); the programs only read, and mark a cookie
 * whose socket they reported with EPH_SEED_DONE (a cookie is a counter from 1: the bit is free).
 */
#define EPH_SEED_PROBES 16
#define EPH_SEED_DONE (1ull << 63)
static inline __u32 eph_seed_slot(__u64 cookie, __u32 mask)
{
	return (__u32)((cookie * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

/* Defaults of the tunables (overridable from the command line) */
#define EPH_DEFAULT_RINGBUF (4u << 20)
#define EPH_DEFAULT_MAX_HOLDS 65536
#define EPH_DEFAULT_MAX_CTX 16384

#endif /* EPHTRACE_H */
