// SPDX-License-Identifier: GPL-2.0
/*
 * ephtrace kernel side: every ephemeral port assignment, failure and release.
 *
 * The handlers (on_*) are shared; three sets of thin SEC() wrappers call them:
 *   fentry/fexit   on the allocators themselves (preferred),
 *   kprobe/kretprobe on the same functions,
 *   tracepoints    (syscalls:sys_{enter,exit}_*, sock:inet_sock_set_state, tcp:tcp_destroy_sock)
 *                  for kernels that allow neither; the socket behind the fd is read with CO-RE.
 * User space keeps one set and disables autoload of the others (bpf_program__set_autoload).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "ephtrace.h"
#include "core_fixes.bpf.h"
#include "maps.bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define EAGAIN 11
#define EADDRINUSE 98
#define EADDRNOTAVAIL 99
#define EINPROGRESS 115
#define SOCK_BINDPORT_LOCK 8
#define S_IFMT 00170000
#define S_IFSOCK 0140000

/*
 * The bench's reference build (-DEPH_HOOKS_ONLY: .output/bench/ephtrace-hooks): every program
 * returns at once, attached where ephtrace's are, so that `make bench` measures what the hooks
 * themselves cost apart from what the programs do.
 */
#ifdef EPH_HOOKS_ONLY
#define HOOKS_ONLY() return 0
#else
#define HOOKS_ONLY() do {} while (0)
#endif

/* TCP states (include/net/tcp_states.h) */
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_FIN_WAIT1 4
#define TCP_FIN_WAIT2 5
#define TCP_CLOSE 7
#define TCP_LISTEN 10
#define TCP_CLOSING 11

const volatile __u8 backend = EPH_BACKEND_AUTO;
/* Counters and histograms only (ephtrace hist): no ring-buffer records at all. */
const volatile __u8 no_events = 0;
/* Wake the reader only once this many bytes wait in the ring buffer (0: at every record); the
 * reader also drains on a short timeout, so a quiet stream still flows. */
const volatile __u64 wakeup_bytes = 0;

char LICENSE[] SEC("license") = "GPL";

/* --- filling events ------------------------------------------------------------------------ */

static __always_inline struct eph_event *ev_reserve(__u8 type)
{
	struct eph_event *e;

	if (no_events)
		return NULL;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(EPH_CNT_DROPPED);
		count(EPH_CNT_DROP_BASE + type - 1);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = type;
	e->backend = backend;
	e->ts_ns = bpf_ktime_get_ns();
	return e;
}

static __always_inline void ev_submit(struct eph_event *e)
{
	__u64 flags = 0;

	if (wakeup_bytes)
		flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ?
				BPF_RB_FORCE_WAKEUP :
				BPF_RB_NO_WAKEUP;
	bpf_ringbuf_submit(e, flags);
}

/*
 * The process's name: the comm of the current thread group's leader, as the kernel has it now
 * (a thread's own name is bpf_get_current_comm()'s). bpf_get_current_task() and CO-RE reads,
 * not bpf_get_current_task_btf(), which not every backend and kernel ephtrace supports has.
 */
static __always_inline void get_current_pcomm(char pcomm[EPH_COMM_LEN])
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);

	bpf_core_read_str(pcomm, EPH_COMM_LEN, &leader->comm);
}

static __always_inline void fill_task(struct eph_event *e)
{
	__u64 id = bpf_get_current_pid_tgid();

	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	get_current_pcomm(e->pcomm);
}

static __always_inline void fill_owner(struct eph_event *e, const struct hold *h)
{
	e->pid = h->pid;
	e->tid = h->tid;
	e->cgroup_id = h->cgroup_id;
	__builtin_memcpy(e->comm, h->comm, sizeof(e->comm));
	__builtin_memcpy(e->pcomm, h->pcomm, sizeof(e->pcomm));
	e->flags |= EPH_F_OWNER;
}

/* Works for a full socket and for a TIME_WAIT socket: both start with struct sock_common. */
static __always_inline void fill_common(struct eph_event *e, const struct sock_common *skc,
					bool dest)
{
	e->family = BPF_CORE_READ(skc, skc_family);
	e->netns = BPF_CORE_READ(skc, skc_net.net, ns.inum);
	e->sport = BPF_CORE_READ(skc, skc_num);
	e->cookie = BPF_CORE_READ(skc, skc_cookie.counter);
	/* explicit sizes: BPF_CORE_READ_INTO() into an array would copy one byte */
	if (e->family == AF_INET) {
		bpf_core_read(e->saddr, 4, &skc->skc_rcv_saddr);
		if (dest)
			bpf_core_read(e->daddr, 4, &skc->skc_daddr);
	} else {
		bpf_core_read(e->saddr, 16, &skc->skc_v6_rcv_saddr);
		if (dest)
			bpf_core_read(e->daddr, 16, &skc->skc_v6_daddr);
	}
	e->flags |= EPH_F_SADDR;
	if (dest) {
		e->dport = bpf_ntohs(BPF_CORE_READ(skc, skc_dport));
		e->flags |= EPH_F_DEST;
	}
}

static __always_inline __u8 sk_proto(const struct sock *sk)
{
	return BPF_CORE_READ(sk, sk_protocol);
}

static __always_inline bool proto_traced(__u16 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP;
}

static __always_inline __u16 sk_num(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_num);
}

/* --- holds: who owns which port now -------------------------------------------------------- */

/* The port is held by the current task from now on; *h is the record kept (its task fields
 * serve the assignment's event too). */
static __always_inline void hold_add(const struct sock *sk, __u16 port, __u8 op, __u8 flags,
				     struct hold *h)
{
	__u64 key = (__u64)sk, id = bpf_get_current_pid_tgid();

	h->ts = bpf_ktime_get_ns();
	h->sock_id = key;
	h->cgroup_id = bpf_get_current_cgroup_id();
	h->pid = id >> 32;
	h->tid = (__u32)id;
	h->sport = port;
	h->op = op;
	h->flags = flags;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
	get_current_pcomm(h->pcomm);
	if (bpf_map_update_elem(&holds, &key, h, BPF_ANY))
		count(EPH_CNT_HOLD_FULL);
}

/* A tracked port goes back to the pool: one release event, with how long it was held. */
static __always_inline void on_release(const void *obj, __u8 proto, __u16 extra_flags)
{
	__u64 key = (__u64)obj;
	struct hold *h = bpf_map_lookup_elem(&holds, &key);
	struct eph_event *e;

	if (!h)
		return;
	count(EPH_CNT_RELEASE);
	hist_add(EPH_HIST_HOLD, proto, BPF_CORE_READ((const struct sock_common *)obj, skc_family),
		 0, bpf_ktime_get_ns() - h->ts);
	e = ev_reserve(EPH_RELEASE);
	if (e) {
		fill_owner(e, h);
		fill_common(e, obj, proto == IPPROTO_TCP);
		e->sport = h->sport;
		e->proto = proto;
		e->op = h->op;
		e->sock_id = h->sock_id;
		e->held_ns = e->ts_ns - h->ts;
		e->flags |= EPH_F_HELD | extra_flags | (h->flags & EPH_F_EPHEMERAL);
		ev_submit(e);
	}
	bpf_map_delete_elem(&holds, &key);
}

/* A TCP socket's port passes to its TIME_WAIT socket (tw == NULL: not visible, tracepoints). */
static __always_inline void on_time_wait(const struct sock *sk, const void *tw)
{
	__u64 key = (__u64)sk, twkey = (__u64)tw;
	struct hold *h = bpf_map_lookup_elem(&holds, &key);
	struct eph_event *e;

	if (!h)
		return;
	count(EPH_CNT_TIME_WAIT);
	e = ev_reserve(EPH_TIME_WAIT);
	if (e) {
		fill_owner(e, h);
		fill_common(e, (const struct sock_common *)sk, true);
		e->sport = h->sport;
		e->proto = IPPROTO_TCP;
		e->op = h->op;
		e->sock_id = h->sock_id;
		e->held_ns = e->ts_ns - h->ts;
		e->flags |= EPH_F_HELD | (h->flags & EPH_F_EPHEMERAL);
		if (!tw)
			e->flags |= EPH_F_TW; /* the end of TIME_WAIT will not be seen */
		ev_submit(e);
	}
	if (tw && bpf_map_update_elem(&holds, &twkey, h, BPF_ANY))
		count(EPH_CNT_HOLD_FULL);
	bpf_map_delete_elem(&holds, &key);
}

/* --- assignment and failure ---------------------------------------------------------------- */

struct outcome {
	__u64 search_ns;
	__s32 err;
	__u16 req_port;
	__u16 sport; /* the port taken, when the socket no longer shows it; 0 = read it */
	__u16 flags; /* EPH_F_EPHEMERAL, EPH_F_SEARCH, EPH_F_REQ */
	__u8 op;
	__u8 proto;
};

static __always_inline void emit(const struct sock *sk, const struct outcome *o,
				 const struct call_ctx *dest)
{
	struct eph_event *e;
	bool sk_dest = o->op == EPH_OP_CONNECT && o->proto == IPPROTO_TCP;
	struct hold h = {};

	__u16 port = o->sport ? o->sport : sk_num(sk);

	struct eph_stat_key sk_key = { .type = o->err ? EPH_FAIL : EPH_ASSIGN, .op = o->op,
				       .proto = o->proto, .err = o->err };

	sk_key.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	count(o->err ? EPH_CNT_FAIL : EPH_CNT_ASSIGN);
	map_add(&stats, &sk_key, 1);
	if (o->flags & EPH_F_SEARCH)
		hist_add(sk_dest ? EPH_HIST_CONNECT : EPH_HIST_BIND, o->proto, sk_key.family,
			 o->err, o->search_ns);
	if (!o->err)
		hold_add(sk, port, o->op, o->flags & EPH_F_EPHEMERAL, &h);
	e = ev_reserve(o->err ? EPH_FAIL : EPH_ASSIGN);
	if (!e)
		return;
	if (o->err) {
		fill_task(e);
	} else { /* the same task: what hold_add() read already */
		e->pid = h.pid;
		e->tid = h.tid;
		e->cgroup_id = h.cgroup_id;
		__builtin_memcpy(e->comm, h.comm, sizeof(e->comm));
		__builtin_memcpy(e->pcomm, h.pcomm, sizeof(e->pcomm));
	}
	fill_common(e, (const struct sock_common *)sk, sk_dest && !dest);
	e->proto = o->proto;
	e->op = o->op;
	e->err = o->err;
	e->req_port = o->req_port;
	e->search_ns = o->search_ns;
	e->flags |= o->flags;
	e->sock_id = (__u64)sk;
	e->sport = port;
	if (o->err && o->op != EPH_OP_CONNECT)
		e->sport = 0; /* no port taken */
	if (dest && dest->has_dest) {
		__builtin_memcpy(e->daddr, dest->daddr, sizeof(e->daddr));
		e->dport = dest->dport;
		e->flags |= EPH_F_DEST;
	}
	if (dest && dest->has_saddr)
		__builtin_memcpy(e->saddr, dest->saddr, sizeof(e->saddr));
	ev_submit(e);
}

/*
 * What the socket says of a TCP connect(): EPH_F_NO_PORT (IP_BIND_ADDRESS_NO_PORT); for a socket
 * that had its port from bind() (bound), EPH_F_BOUND, and EPH_F_EPHEMERAL when that bind() asked
 * for port 0 (__inet_bind() sets SOCK_BINDPORT_LOCK for a given port only); else the port is
 * connect()'s to choose: EPH_F_EPHEMERAL.
 */
static __always_inline __u16 connect_flags(const struct sock *sk, bool bound)
{
	__u16 flags = inet_sk_bind_no_port(sk) ? EPH_F_NO_PORT : 0;

	if (!bound)
		return flags | EPH_F_EPHEMERAL;
	flags |= EPH_F_BOUND;
	if (!(sk_userlocks(sk) & SOCK_BINDPORT_LOCK))
		flags |= EPH_F_EPHEMERAL;
	return flags;
}

/*
 * A TCP socket bind() had given its port connected: the port serves this 4-tuple too now. No
 * port was chosen, so no assignment: counted in "stats" under its own type, and the socket's
 * hold (the bind's, same key) stays as it is. dest: the addresses to report when the socket
 * no longer has them (NULL: read them from the socket).
 */
static __always_inline void emit_bound_connect(const struct sock *sk, __u16 flags,
					       const struct call_ctx *dest)
{
	struct eph_stat_key key = { .type = EPH_CONNECT,
				    .op = EPH_OP_CONNECT,
				    .proto = IPPROTO_TCP };
	struct eph_event *e;

	key.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	map_add(&stats, &key, 1);
	e = ev_reserve(EPH_CONNECT);
	if (!e)
		return;
	fill_task(e);
	fill_common(e, (const struct sock_common *)sk, !dest);
	e->proto = IPPROTO_TCP;
	e->op = EPH_OP_CONNECT;
	e->sock_id = (__u64)sk;
	e->flags |= flags;
	if (dest && dest->has_dest) {
		__builtin_memcpy(e->daddr, dest->daddr, sizeof(e->daddr));
		e->dport = dest->dport;
		e->flags |= EPH_F_DEST;
	}
	if (dest && dest->has_saddr)
		__builtin_memcpy(e->saddr, dest->saddr, sizeof(e->saddr));
	ev_submit(e);
}

/* inet_hash_connect / inet6_hash_connect: the TCP connect() port search. */
static __always_inline int on_hash_connect_enter(struct sock *sk)
{
	struct call_ctx c = {};

	if (sk_proto(sk) != IPPROTO_TCP) /* DCCP uses it too */
		return 0;
	c.sk = (__u64)sk;
	c.ts = bpf_ktime_get_ns();
	c.had_port = sk_num(sk) != 0;
	call_put(SLOT_HASH_CONNECT, &c);
	return 0;
}

static __always_inline int on_hash_connect_exit(int ret)
{
	struct call_ctx *c = call_get(SLOT_HASH_CONNECT);
	struct outcome o = { .op = EPH_OP_CONNECT, .proto = IPPROTO_TCP };
	struct sock *sk;

	if (!c)
		return 0;
	sk = (struct sock *)c->sk;
	o.search_ns = bpf_ktime_get_ns() - c->ts;
	o.flags = connect_flags(sk, c->had_port);
	o.err = ret < 0 ? -ret : 0;
	/* A socket that already had a port only has its 4-tuple checked: no assignment. */
	if (o.err || !c->had_port) {
		o.flags |= EPH_F_SEARCH;
		emit(sk, &o, NULL);
	} else {
		emit_bound_connect(sk, o.flags, NULL);
	}
	call_del(SLOT_HASH_CONNECT);
	return 0;
}

/* inet_csk_get_port (TCP) and udp_lib_get_port (UDP): bind(), listen(), UDP autobind. */
static __always_inline int on_get_port_enter(struct sock *sk, __u16 snum)
{
	struct call_ctx c = {};

	if (!proto_traced(sk_proto(sk)))
		return 0;
	c.sk = (__u64)sk;
	c.ts = bpf_ktime_get_ns();
	c.req_port = snum;
	c.had_port = sk_num(sk) != 0;
	c.state = BPF_CORE_READ(sk, __sk_common.skc_state);
	call_put(SLOT_GET_PORT, &c);
	return 0;
}

static __always_inline int on_get_port_exit(int ret)
{
	struct call_ctx *c = call_get(SLOT_GET_PORT), *ab;
	struct sock *sk;
	struct outcome o = {};

	if (!c)
		return 0;
	sk = (struct sock *)c->sk;
	o.proto = sk_proto(sk);
	o.search_ns = bpf_ktime_get_ns() - c->ts;
	o.req_port = c->req_port;
	o.flags = EPH_F_SEARCH | (c->req_port ? 0 : EPH_F_EPHEMERAL);
	ab = call_get(SLOT_AUTOBIND);
	if (ab && ab->sk == c->sk) {
		o.op = ab->op;
		o.err = ret ? EAGAIN : 0; /* inet_autobind() turns any failure into -EAGAIN */
	} else {
		o.op = c->state == TCP_LISTEN ? EPH_OP_LISTEN : EPH_OP_BIND;
		o.flags |= EPH_F_REQ;
		o.err = ret ? EADDRINUSE : 0; /* udp_lib_get_port() returns 1 */
		ab = NULL;
	}
	/* listen() re-checks the port a bind() already took: only its failure is news. */
	if (!c->had_port || o.err)
		emit(sk, &o, ab);
	call_del(SLOT_GET_PORT);
	return 0;
}

static __always_inline void read_sockaddr(struct call_ctx *c, const void *uaddr, bool user)
{
	struct sockaddr_in6 sa = {};
	long err;

	if (user)
		err = bpf_probe_read_user(&sa, sizeof(sa), uaddr);
	else
		err = bpf_probe_read_kernel(&sa, sizeof(sa), uaddr);
	if (err) /* a short AF_INET sockaddr at the end of a page */
		err = user ? bpf_probe_read_user(&sa, sizeof(struct sockaddr_in), uaddr)
			   : bpf_probe_read_kernel(&sa, sizeof(struct sockaddr_in), uaddr);
	if (err)
		return;
	if (sa.sin6_family == AF_INET) {
		struct sockaddr_in *in = (void *)&sa;

		__builtin_memcpy(c->daddr, &in->sin_addr, 4);
		c->dport = bpf_ntohs(in->sin_port);
	} else if (sa.sin6_family == AF_INET6) {
		__builtin_memcpy(c->daddr, &sa.sin6_addr, 16);
		c->dport = bpf_ntohs(sa.sin6_port);
	} else {
		return;
	}
	c->has_dest = 1;
}

/* System call numbers of the send calls, to find a sendto()'s destination at autobind. */
#if defined(__TARGET_ARCH_x86)
#define NR_sendto 44
#define NR_sendmsg 46
#define NR_sendmmsg 307
#define SYSCALL_NR(regs) BPF_CORE_READ(regs, orig_ax)
#elif defined(__TARGET_ARCH_arm64)
#define NR_sendto 206
#define NR_sendmsg 211
#define NR_sendmmsg 269
#define SYSCALL_NR(regs) BPF_CORE_READ(regs, syscallno)
#endif

static __always_inline const void *msghdr_name(const struct user_msghdr *msg)
{
	void *name = NULL;

	bpf_probe_read_user(&name, sizeof(name), &msg->msg_name);
	return name;
}

/*
 * The destination of the send that caused an autobind, from the system call's own arguments
 * (the user registers of the task). Only on this rare path; io_uring sends have none.
 */
static __always_inline void send_dest(struct call_ctx *c)
{
#ifdef SYSCALL_NR
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	const void *addr = NULL;
	long nr = SYSCALL_NR(regs);

	if (nr == NR_sendto)
		addr = (const void *)PT_REGS_PARM5_CORE_SYSCALL(regs);
	else if (nr == NR_sendmsg || nr == NR_sendmmsg) /* struct mmsghdr starts with the msghdr */
		addr = msghdr_name((const void *)PT_REGS_PARM2_CORE_SYSCALL(regs));
	if (addr)
		read_sockaddr(c, addr, true);
#endif
}

/* inet_autobind: the implicit UDP port of connect() and sendmsg(). */
static __always_inline int on_autobind_enter(struct sock *sk)
{
	struct call_ctx *d = call_get(SLOT_DGRAM);
	struct call_ctx c = {};

	c.sk = (__u64)sk;
	c.op = EPH_OP_SENDMSG;
	if (d && d->sk == c.sk) {
		c = *d;
		c.op = EPH_OP_CONNECT;
	} else {
		send_dest(&c);
	}
	call_put(SLOT_AUTOBIND, &c);
	return 0;
}

static __always_inline int on_autobind_exit(void)
{
	call_del(SLOT_AUTOBIND);
	return 0;
}

/* inet_dgram_connect: remember where a UDP connect() goes, for its autobind. */
static __always_inline int on_dgram_connect_enter(struct socket *sock, struct sockaddr *uaddr)
{
	struct sock *sk = BPF_CORE_READ(sock, sk);
	struct call_ctx c = {};

	if (sk_num(sk)) /* already bound: no port to choose */
		return 0;
	c.sk = (__u64)sk;
	read_sockaddr(&c, uaddr, false);
	call_put(SLOT_DGRAM, &c);
	return 0;
}

static __always_inline int on_dgram_connect_exit(void)
{
	call_del(SLOT_DGRAM);
	return 0;
}

/* --- fentry/fexit ---------------------------------------------------------------------------- */

SEC("fentry/inet_hash_connect")
int BPF_PROG(fentry_hash_connect, struct inet_timewait_death_row *dr, struct sock *sk)
{
	HOOKS_ONLY();
	return on_hash_connect_enter(sk);
}

SEC("fexit/inet_hash_connect")
int BPF_PROG(fexit_hash_connect, struct inet_timewait_death_row *dr, struct sock *sk, int ret)
{
	HOOKS_ONLY();
	return on_hash_connect_exit(ret);
}

SEC("fentry/inet6_hash_connect")
int BPF_PROG(fentry_hash6_connect, struct inet_timewait_death_row *dr, struct sock *sk)
{
	HOOKS_ONLY();
	return on_hash_connect_enter(sk);
}

SEC("fexit/inet6_hash_connect")
int BPF_PROG(fexit_hash6_connect, struct inet_timewait_death_row *dr, struct sock *sk, int ret)
{
	HOOKS_ONLY();
	return on_hash_connect_exit(ret);
}

SEC("fentry/inet_csk_get_port")
int BPF_PROG(fentry_csk_get_port, struct sock *sk, unsigned short snum)
{
	HOOKS_ONLY();
	return on_get_port_enter(sk, snum);
}

SEC("fexit/inet_csk_get_port")
int BPF_PROG(fexit_csk_get_port, struct sock *sk, unsigned short snum, int ret)
{
	HOOKS_ONLY();
	return on_get_port_exit(ret);
}

SEC("fentry/udp_lib_get_port")
int BPF_PROG(fentry_udp_get_port, struct sock *sk, unsigned short snum)
{
	HOOKS_ONLY();
	return on_get_port_enter(sk, snum);
}

SEC("fexit/udp_lib_get_port")
int BPF_PROG(fexit_udp_get_port, struct sock *sk, unsigned short snum, unsigned int hash2,
	     int ret)
{
	HOOKS_ONLY();
	return on_get_port_exit(ret);
}

SEC("fentry/inet_autobind")
int BPF_PROG(fentry_autobind, struct sock *sk)
{
	HOOKS_ONLY();
	return on_autobind_enter(sk);
}

SEC("fexit/inet_autobind")
int BPF_PROG(fexit_autobind, struct sock *sk, int ret)
{
	HOOKS_ONLY();
	return on_autobind_exit();
}

SEC("fentry/inet_dgram_connect")
int BPF_PROG(fentry_dgram_connect, struct socket *sock, struct sockaddr *uaddr)
{
	HOOKS_ONLY();
	return on_dgram_connect_enter(sock, uaddr);
}

SEC("fexit/inet_dgram_connect")
int BPF_PROG(fexit_dgram_connect, struct socket *sock, struct sockaddr *uaddr, int len, int flags,
	     int ret)
{
	HOOKS_ONLY();
	return on_dgram_connect_exit();
}

SEC("fentry/inet_put_port")
int BPF_PROG(fentry_put_port, struct sock *sk)
{
	HOOKS_ONLY();
	on_release(sk, IPPROTO_TCP, 0);
	return 0;
}

SEC("fentry/inet_twsk_hashdance")
int BPF_PROG(fentry_twsk_hashdance, struct inet_timewait_sock *tw, struct sock *sk)
{
	HOOKS_ONLY();
	on_time_wait(sk, tw);
	return 0;
}

SEC("fentry/inet_twsk_hashdance_schedule")
int BPF_PROG(fentry_twsk_hashdance_schedule, struct inet_timewait_sock *tw, struct sock *sk)
{
	HOOKS_ONLY();
	on_time_wait(sk, tw);
	return 0;
}

SEC("fentry/inet_twsk_bind_unhash")
int BPF_PROG(fentry_twsk_bind_unhash, struct inet_timewait_sock *tw)
{
	HOOKS_ONLY();
	on_release(tw, IPPROTO_TCP, EPH_F_TW);
	return 0;
}

SEC("fentry/udp_lib_unhash")
int BPF_PROG(fentry_udp_unhash, struct sock *sk)
{
	HOOKS_ONLY();
	on_release(sk, IPPROTO_UDP, 0);
	return 0;
}

/* --- kprobe/kretprobe ---------------------------------------------------------------------- */

SEC("kprobe/inet_hash_connect")
int BPF_KPROBE(kprobe_hash_connect, struct inet_timewait_death_row *dr, struct sock *sk)
{
	HOOKS_ONLY();
	return on_hash_connect_enter(sk);
}

SEC("kretprobe/inet_hash_connect")
int BPF_KRETPROBE(kretprobe_hash_connect, int ret)
{
	HOOKS_ONLY();
	return on_hash_connect_exit(ret);
}

SEC("kprobe/inet6_hash_connect")
int BPF_KPROBE(kprobe_hash6_connect, struct inet_timewait_death_row *dr, struct sock *sk)
{
	HOOKS_ONLY();
	return on_hash_connect_enter(sk);
}

SEC("kretprobe/inet6_hash_connect")
int BPF_KRETPROBE(kretprobe_hash6_connect, int ret)
{
	HOOKS_ONLY();
	return on_hash_connect_exit(ret);
}

SEC("kprobe/inet_csk_get_port")
int BPF_KPROBE(kprobe_csk_get_port, struct sock *sk, unsigned short snum)
{
	HOOKS_ONLY();
	return on_get_port_enter(sk, snum);
}

SEC("kretprobe/inet_csk_get_port")
int BPF_KRETPROBE(kretprobe_csk_get_port, int ret)
{
	HOOKS_ONLY();
	return on_get_port_exit(ret);
}

SEC("kprobe/udp_lib_get_port")
int BPF_KPROBE(kprobe_udp_get_port, struct sock *sk, unsigned short snum)
{
	HOOKS_ONLY();
	return on_get_port_enter(sk, snum);
}

SEC("kretprobe/udp_lib_get_port")
int BPF_KRETPROBE(kretprobe_udp_get_port, int ret)
{
	HOOKS_ONLY();
	return on_get_port_exit(ret);
}

SEC("kprobe/inet_autobind")
int BPF_KPROBE(kprobe_autobind, struct sock *sk)
{
	HOOKS_ONLY();
	return on_autobind_enter(sk);
}

SEC("kretprobe/inet_autobind")
int BPF_KRETPROBE(kretprobe_autobind, int ret)
{
	HOOKS_ONLY();
	return on_autobind_exit();
}

SEC("kprobe/inet_dgram_connect")
int BPF_KPROBE(kprobe_dgram_connect, struct socket *sock, struct sockaddr *uaddr)
{
	HOOKS_ONLY();
	return on_dgram_connect_enter(sock, uaddr);
}

SEC("kretprobe/inet_dgram_connect")
int BPF_KRETPROBE(kretprobe_dgram_connect, int ret)
{
	HOOKS_ONLY();
	return on_dgram_connect_exit();
}

SEC("kprobe/inet_put_port")
int BPF_KPROBE(kprobe_put_port, struct sock *sk)
{
	HOOKS_ONLY();
	on_release(sk, IPPROTO_TCP, 0);
	return 0;
}

SEC("kprobe/inet_twsk_hashdance")
int BPF_KPROBE(kprobe_twsk_hashdance, struct inet_timewait_sock *tw, struct sock *sk)
{
	HOOKS_ONLY();
	on_time_wait(sk, tw);
	return 0;
}

SEC("kprobe/inet_twsk_hashdance_schedule")
int BPF_KPROBE(kprobe_twsk_hashdance_schedule, struct inet_timewait_sock *tw, struct sock *sk)
{
	HOOKS_ONLY();
	on_time_wait(sk, tw);
	return 0;
}

SEC("kprobe/inet_twsk_bind_unhash")
int BPF_KPROBE(kprobe_twsk_bind_unhash, struct inet_timewait_sock *tw)
{
	HOOKS_ONLY();
	on_release(tw, IPPROTO_TCP, EPH_F_TW);
	return 0;
}

SEC("kprobe/udp_lib_unhash")
int BPF_KPROBE(kprobe_udp_unhash, struct sock *sk)
{
	HOOKS_ONLY();
	on_release(sk, IPPROTO_UDP, 0);
	return 0;
}

/* --- tracepoints only ---------------------------------------------------------------------- */

/* The socket of an open file, or NULL when it is not a socket. */
static __always_inline struct sock *sock_of_file(const struct file *f)
{
	struct socket *sock;

	if ((BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(f, private_data);
	return BPF_CORE_READ(sock, sk);
}

/* The socket behind a file descriptor of the current task, or NULL. */
static __always_inline struct sock *sock_from_fd(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *f = NULL;

	if (fd < 0 || !fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_core_read(&f, sizeof(f), &fds[fd]) || !f)
		return NULL;
	return sock_of_file(f);
}

static __always_inline int on_sys_enter(__u8 op, long fd, const void *uaddr)
{
	struct sock *sk = sock_from_fd(fd);
	struct call_ctx c = {};
	__u16 family, proto;

	if (!sk)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	proto = sk_proto(sk);
	if ((family != AF_INET && family != AF_INET6) || !proto_traced(proto))
		return 0;
	c.bound_port = sk_num(sk);
	c.had_port = c.bound_port != 0;
	/* Only calls that can choose a port, or fail to: */
	if (op == EPH_OP_SENDMSG && (proto != IPPROTO_UDP || c.had_port))
		return 0;
	if (op == EPH_OP_LISTEN && (proto != IPPROTO_TCP || c.had_port))
		return 0;
	if (op == EPH_OP_CONNECT && proto == IPPROTO_UDP && c.had_port)
		return 0;
	c.sk = (__u64)sk;
	c.op = op;
	c.ts = bpf_ktime_get_ns();
	if (uaddr)
		read_sockaddr(&c, uaddr, true);
	if (op == EPH_OP_BIND) { /* the sockaddr is the requested local end */
		if (c.had_port)
			return 0; /* EINVAL: already bound */
		c.req_port = c.dport;
		c.dport = 0;
		__builtin_memcpy(c.saddr, c.daddr, sizeof(c.saddr));
		__builtin_memset(c.daddr, 0, sizeof(c.daddr));
		c.has_saddr = c.has_dest;
		c.has_dest = 0;
	}
	call_put(SLOT_SYSCALL, &c);
	return 0;
}

static __always_inline int on_sys_exit(long ret)
{
	struct call_ctx *c = call_get(SLOT_SYSCALL);
	struct outcome o = {};
	struct sock *sk;
	__u16 port;

	if (!c)
		return 0;
	sk = (struct sock *)c->sk;
	o.op = c->op;
	o.proto = sk_proto(sk);
	port = sk_num(sk);
	switch (c->op) {
	case EPH_OP_CONNECT:
		o.flags = o.proto == IPPROTO_TCP ? connect_flags(sk, c->had_port) : EPH_F_EPHEMERAL;
		if (o.proto == IPPROTO_TCP) {
			if (c->syn_closed && ret == -EADDRNOTAVAIL) {
				o.err = EADDRNOTAVAIL;
				o.search_ns = c->search_ns;
				o.flags |= EPH_F_SEARCH;
				/* a bind(0) port went back to the pool with the failure: say which */
				o.sport = c->bound_port;
				emit(sk, &o, c);
			} else if (c->had_port) {
				/*
				 * SYN_SENT reached in this call and the 4-tuple was free: whatever
				 * connect() says then (0, EINPROGRESS, ECONNREFUSED, EINTR...). A
				 * second connect() of a socket already connected says 0 without
				 * it. A bind(0) socket whose connection failed within the call has
				 * let its port go, its release is out already: nothing (see README).
				 * After a failure, tcp_disconnect() has cleared the socket's
				 * destination (and an unlocked source): the ones of the call.
				 */
				if (c->ts_syn && port)
					emit_bound_connect(sk, o.flags,
							   ret && ret != -EINPROGRESS ? c : NULL);
			} else if (port || c->closed_port) {
				/* ret may be an error that came after the port was chosen:
				 * then the socket was closed already and let the port go */
				o.sport = port ? port : c->closed_port;
				emit(sk, &o, port ? NULL : c);
				if (!port)
					on_release(sk, IPPROTO_TCP, 0);
			}
		} else if (!c->had_port) {
			if (ret == -EAGAIN && !port) {
				o.err = EAGAIN;
				emit(sk, &o, c);
			} else if (port) {
				emit(sk, &o, c);
			}
		}
		break;
	case EPH_OP_BIND:
	case EPH_OP_LISTEN:
		o.req_port = c->req_port;
		o.flags = EPH_F_REQ | (c->req_port ? 0 : EPH_F_EPHEMERAL);
		if (ret == -EADDRINUSE) {
			o.err = EADDRINUSE; /* the kernel has reset the address: use the request */
			emit(sk, &o, c);
		} else if (!ret && !c->had_port && port) {
			emit(sk, &o, NULL);
		}
		break;
	case EPH_OP_SENDMSG:
		o.flags = EPH_F_EPHEMERAL;
		if (port) {
			emit(sk, &o, c);
		} else if (ret == -EAGAIN) {
			o.err = EAGAIN;
			emit(sk, &o, c);
		}
		break;
	}
	call_del(SLOT_SYSCALL);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int tp_enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	HOOKS_ONLY();
	return on_sys_enter(EPH_OP_CONNECT, (int)ctx->args[0], (void *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_exit_connect")
int tp_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	HOOKS_ONLY();
	return on_sys_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_bind")
int tp_enter_bind(struct trace_event_raw_sys_enter *ctx)
{
	HOOKS_ONLY();
	return on_sys_enter(EPH_OP_BIND, (int)ctx->args[0], (void *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_exit_bind")
int tp_exit_bind(struct trace_event_raw_sys_exit *ctx)
{
	HOOKS_ONLY();
	return on_sys_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_listen")
int tp_enter_listen(struct trace_event_raw_sys_enter *ctx)
{
	HOOKS_ONLY();
	return on_sys_enter(EPH_OP_LISTEN, (int)ctx->args[0], NULL);
}

SEC("tracepoint/syscalls/sys_exit_listen")
int tp_exit_listen(struct trace_event_raw_sys_exit *ctx)
{
	HOOKS_ONLY();
	return on_sys_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int tp_enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	HOOKS_ONLY();
	return on_sys_enter(EPH_OP_SENDMSG, (int)ctx->args[0], (void *)ctx->args[4]);
}

SEC("tracepoint/syscalls/sys_exit_sendto")
int tp_exit_sendto(struct trace_event_raw_sys_exit *ctx)
{
	HOOKS_ONLY();
	return on_sys_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int tp_enter_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	HOOKS_ONLY();
	return on_sys_enter(EPH_OP_SENDMSG, (int)ctx->args[0], msghdr_name((void *)ctx->args[1]));
}

SEC("tracepoint/syscalls/sys_exit_sendmsg")
int tp_exit_sendmsg(struct trace_event_raw_sys_exit *ctx)
{
	HOOKS_ONLY();
	return on_sys_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_sendmmsg")
int tp_enter_sendmmsg(struct trace_event_raw_sys_enter *ctx)
{
	HOOKS_ONLY();
	/* struct mmsghdr starts with its struct user_msghdr */
	return on_sys_enter(EPH_OP_SENDMSG, (int)ctx->args[0], msghdr_name((void *)ctx->args[1]));
}

SEC("tracepoint/syscalls/sys_exit_sendmmsg")
int tp_exit_sendmmsg(struct trace_event_raw_sys_exit *ctx)
{
	HOOKS_ONLY();
	return on_sys_exit(ctx->ret);
}

/*
 * State changes, socket destruction and process exit run in softirq or timer context too. As raw
 * tracepoints their recursion guard is per program: a perf-event tracepoint program is skipped
 * whenever any other such program runs on the CPU (a softirq that interrupts a system call
 * handler), and a skipped state change would leave a hold behind.
 */
SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(tp_set_state, const struct sock *sk, int oldstate, int newstate)
{
	HOOKS_ONLY();
	struct call_ctx *c;
	__u16 family;

	/* Only a move to CLOSE (a release, TIME_WAIT, a connect() that failed) and the start of a
	 * connect() matter: the other changes go without reading the socket */
	if (newstate != TCP_CLOSE && !(oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT))
		return 0;
	if (sk_proto(sk) != IPPROTO_TCP)
		return 0;
	if (newstate == TCP_CLOSE) {
		if (oldstate == TCP_FIN_WAIT1 || oldstate == TCP_FIN_WAIT2 ||
		    oldstate == TCP_CLOSING)
			on_time_wait(sk, NULL);
		else if (!(sk_userlocks(sk) & SOCK_BINDPORT_LOCK))
			on_release(sk, IPPROTO_TCP, 0);
	}
	/* Only these two changes matter to a connect() in progress: skip the lookup otherwise */
	if (!(oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT) &&
	    !(oldstate == TCP_SYN_SENT && newstate == TCP_CLOSE))
		return 0;
	/* The connect() in progress in this task, if this is its socket. */
	c = call_get(SLOT_SYSCALL);
	if (!c || c->sk != (__u64)sk || c->op != EPH_OP_CONNECT)
		return 0;
	if (oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT) {
		c->ts_syn = bpf_ktime_get_ns();
	} else if (oldstate == TCP_SYN_SENT && newstate == TCP_CLOSE) {
		/*
		 * connect() ends within the call: its port search (a bound socket's 4-tuple check)
		 * failed, the exhaustion signature, or its connection did after the SYN (refused,
		 * unreachable). on_sys_exit() tells them apart by the errno: only the first says
		 * EADDRNOTAVAIL. tcp_set_state() has put back a port the socket does not keep
		 * before this tracepoint (inet_num is 0 now); inet_sport still names the one the
		 * search took (0 when it took none).
		 */
		c->syn_closed = 1;
		c->search_ns = c->ts_syn ? bpf_ktime_get_ns() - c->ts_syn : 0;
		family = BPF_CORE_READ(sk, __sk_common.skc_family);
		if (family == AF_INET)
			bpf_core_read(c->saddr, 4, &sk->__sk_common.skc_rcv_saddr);
		else
			bpf_core_read(c->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		c->has_saddr = 1;
		if (!c->had_port)
			c->closed_port = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	}
	return 0;
}

SEC("raw_tp/tcp_destroy_sock")
int BPF_PROG(tp_destroy_sock, struct sock *sk)
{
	HOOKS_ONLY();
	on_release(sk, IPPROTO_TCP, 0);
	return 0;
}

/*
 * A process that exits closes its files without close(): UDP has no state tracepoint, so walk
 * the file table of the last task using it (sched_process_exit runs before exit_files()) and
 * release the UDP ports it still holds. One descriptor per bpf_loop step, the open-fds word
 * read once per 64: the verifier sees the release path once (fast to load).
 */
struct exit_walk {
	struct file **fds;
	unsigned long *open_fds;
	unsigned long word; /* open_fds word of the current 64 descriptors */
	__u32 max;
};

static long exit_walk_fd(__u32 i, void *data)
{
	struct exit_walk *x = data;
	struct file *f = NULL;
	struct sock *sk;

	if (i >= x->max)
		return 1;
	if (!(i & 63) && bpf_probe_read_kernel(&x->word, sizeof(x->word), &x->open_fds[i / 64]))
		return 1;
	if (!((x->word >> (i & 63)) & 1))
		return 0;
	if (bpf_probe_read_kernel(&f, sizeof(f), &x->fds[i]) || !f)
		return 0;
	sk = sock_of_file(f);
	if (sk && sk_proto(sk) == IPPROTO_UDP)
		on_release(sk, IPPROTO_UDP, 0);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(tp_process_exit)
{
	HOOKS_ONLY();
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct files_struct *files = BPF_CORE_READ(task, files);
	struct exit_walk x = {};
	struct fdtable *fdt;

	/* only the last user of the file table: its files are closed right after this */
	if (!files || BPF_CORE_READ(files, count.counter) != 1)
		return 0;
	fdt = BPF_CORE_READ(files, fdt);
	x.fds = BPF_CORE_READ(fdt, fd);
	x.open_fds = BPF_CORE_READ(fdt, open_fds);
	x.max = BPF_CORE_READ(fdt, max_fds);
	bpf_loop(x.max, exit_walk_fd, &x, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_close")
int tp_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	HOOKS_ONLY();
	struct sock *sk = sock_from_fd((int)ctx->args[0]);

	/* UDP has no state tracepoint: a close() of a tracked UDP socket releases its port. */
	if (sk && sk_proto(sk) == IPPROTO_UDP)
		on_release(sk, IPPROTO_UDP, 0);
	return 0;
}
