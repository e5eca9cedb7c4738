/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by every backend: filling a record (ring buffer, or perf buffer where there is none),
 * the holds (who owns which port now, released or moved into TIME_WAIT), and the assignment or
 * failure of a port search (emit()). Whatever sends a record takes the program's ctx, which
 * bpf_perf_event_output() needs.
 * Included by ephtrace.bpf.c.
 */
#ifndef EPH_EVENTS_BPF_H
#define EPH_EVENTS_BPF_H

/* --- filling events ------------------------------------------------------------------------ */

/*
 * The ring buffer when the kernel has one and the loader did not force the perf buffer: both
 * known at load time (CO-RE relocation, rodata), so the verifier walks one path only and never
 * sees a ring-buffer helper on the perf event array, nor (before 5.8) a helper it does not know.
 */
#define USE_RINGBUF (bpf_core_type_exists(struct bpf_ringbuf) && !perfbuf)

/* The perf path: the next free per-CPU record (NULL: EV_NEST levels in use). The depth is read
 * and written apart, not atomically: a program that interrupts this one between the two leaves
 * it as it found it before this one goes on. */
static __always_inline struct eph_event *ev_slot_get(void)
{
	__u32 zero = 0, d, *depth = bpf_map_lookup_elem(&ev_depth, &zero);
	struct eph_event *e;

	if (!depth)
		return NULL;
	d = *depth;
	if (d >= EV_NEST)
		return NULL;
	e = bpf_map_lookup_elem(&ev_heap, &d);
	if (e)
		*depth = d + 1;
	return e;
}

static __always_inline void ev_slot_put(void)
{
	__u32 zero = 0, *depth = bpf_map_lookup_elem(&ev_depth, &zero);

	if (depth && *depth)
		*depth -= 1;
}

/*
 * A record stamped now, or at `now` (0: read the clock) when the caller has just read it.
 * style: the EPH_BACKEND_* of the program filling it, when it may differ from the backend's
 * (fentry and kprobe programs mix, one style per hook); 0: the backend's.
 */
static __always_inline struct eph_event *ev_reserve_at(__u8 type, __u64 now, __u8 style)
{
	struct eph_event *e;

	if (no_events)
		return NULL;
	if (USE_RINGBUF)
		e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	else
		e = ev_slot_get();
	if (!e) {
		count(EPH_CNT_DROPPED);
		count(EPH_CNT_DROP_BASE + type - 1);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = type;
	e->backend = style ?: backend;
	e->ts_ns = now ?: bpf_ktime_get_ns();
	return e;
}

/*
 * ctx: the program's context, which bpf_perf_event_output() wants. A record the perf buffer
 * refuses (its CPU's buffer full: -ENOSPC; or no reader on this CPU) is a drop, counted as a
 * ring-buffer reserve failure is; perf_full counts the -ENOSPC ones, which the kernel also
 * reports to the reader as lost samples (user/node/evbuf.c counts those once, not twice).
 */
static __always_inline void ev_submit(void *ctx, struct eph_event *e)
{
	__u64 flags = 0;
	long err;

	if (USE_RINGBUF) {
		if (wakeup_bytes)
			flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ?
					BPF_RB_FORCE_WAKEUP :
					BPF_RB_NO_WAKEUP;
		bpf_ringbuf_submit(e, flags);
		return;
	}
	err = bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, e, sizeof(*e));
	if (err) {
		count(EPH_CNT_DROPPED);
		count(EPH_CNT_DROP_BASE + e->type - 1);
		if (err == -ENOSPC)
			__sync_fetch_and_add(&perf_full, 1);
	}
	ev_slot_put();
}

/*
 * bpf_get_current_task_btf() (5.11; every program type's since it is in bpf_base_func_proto)
 * gives a pointer the program reads with plain loads instead of one helper call per field: 4
 * calls fewer for the process name, 8 for sock_ops' ids. Kernels without it read through
 * bpf_get_current_task() and bpf_probe_read_kernel() (CO-RE: the enum says which).
 */
#define HAVE_TASK_BTF bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf)
/* bpf_task_pt_regs() (5.15): a task's user registers, for a sendto()'s destination */
#define HAVE_TASK_PT_REGS                                                    \
	(bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_task_pt_regs) && \
	 !(without & EPH_WITHOUT_TASK_PT_REGS))

/* The process's name: the comm of the current thread group's leader, as the kernel has it now
 * (a thread's own name is bpf_get_current_comm()'s). */
static __always_inline void get_current_pcomm(char pcomm[EPH_COMM_LEN])
{
	struct task_struct *task, *leader;

	if (HAVE_TASK_BTF) {
		leader = bpf_get_current_task_btf()->group_leader;
		__builtin_memcpy(pcomm, leader->comm, EPH_COMM_LEN);
		return;
	}
	task = (struct task_struct *)bpf_get_current_task();
	leader = BPF_CORE_READ(task, group_leader);
	bpf_core_read_str(pcomm, EPH_COMM_LEN, &leader->comm);
}

/* Who runs now: the task helpers, or (via_task) the task_struct itself, for sock_ops, which
 * has no task helper on 6.1 (no bpf_get_current_comm() on 6.12 either) but runs TCP_CONNECT_CB
 * and TCP_LISTEN_CB in the task that called. */
static __always_inline void current_ids(__u32 *pid, __u32 *tid, __u64 *cgroup_id,
					char comm[EPH_COMM_LEN], bool via_task)
{
	struct task_struct *task;
	__u64 id;

	if (via_task && HAVE_TASK_BTF) {
		task = bpf_get_current_task_btf();
		*pid = task->tgid;
		*tid = task->pid;
		*cgroup_id = task->cgroups->dfl_cgrp->kn->id;
		__builtin_memcpy(comm, task->comm, EPH_COMM_LEN);
		return;
	}
	if (via_task) {
		task = (struct task_struct *)bpf_get_current_task();
		*pid = BPF_CORE_READ(task, tgid);
		*tid = BPF_CORE_READ(task, pid);
		*cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
		bpf_core_read_str(comm, EPH_COMM_LEN, &task->comm);
		return;
	}
	id = bpf_get_current_pid_tgid();
	*pid = id >> 32;
	*tid = (__u32)id;
	*cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(comm, EPH_COMM_LEN);
}

static __always_inline void fill_task(struct eph_event *e, bool via_task)
{
	current_ids(&e->pid, &e->tid, &e->cgroup_id, e->comm, via_task);
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

/*
 * sock_common's fields are read in one go: from its start to skc_cookie's end, which holds
 * every field fill_common() wants (addresses, ports, family; 96 bytes on 6.x) but the netns.
 * Each CO-RE read is a helper call, and a record wanted seven of them. The copy is read through
 * the same CO-RE offsets as the socket (the kernel's layout, relocated at load). A kernel whose
 * sock_common would not fit the copy gets the field-by-field reads (fill_common_slow()), never
 * fields left empty.
 */
#define SKC_COPY 128

static __always_inline void fill_common_slow(struct eph_event *e, const struct sock_common *skc,
					     bool dest)
{
	e->family = BPF_CORE_READ(skc, skc_family);
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
		if (BPF_CORE_READ_BITFIELD_PROBED(skc, skc_ipv6only))
			e->flags |= EPH_F_V6ONLY;
	}
	if (dest)
		e->dport = bpf_ntohs(BPF_CORE_READ(skc, skc_dport));
}

/* Works for a full socket and for a TIME_WAIT socket: both start with struct sock_common. */
static __always_inline void fill_common(struct eph_event *e, const struct sock_common *skc,
					bool dest)
{
	__u32 end = bpf_core_field_offset(struct sock_common, skc_cookie) + 8;
	__u8 copy[SKC_COPY];
	const struct sock_common *c = (const void *)copy;

	e->netns = BPF_CORE_READ(skc, skc_net.net, ns.inum);
	e->flags |= EPH_F_SADDR | (dest ? EPH_F_DEST : 0);
	if (end > SKC_COPY || bpf_probe_read_kernel(copy, end, skc)) {
		fill_common_slow(e, skc, dest);
		return;
	}
	e->family = c->skc_family;
	e->sport = c->skc_num;
	e->cookie = c->skc_cookie.counter;
	if (e->family == AF_INET) {
		__builtin_memcpy(e->saddr, &c->skc_rcv_saddr, 4);
		if (dest)
			__builtin_memcpy(e->daddr, &c->skc_daddr, 4);
	} else {
		__builtin_memcpy(e->saddr, &c->skc_v6_rcv_saddr, 16);
		if (dest)
			__builtin_memcpy(e->daddr, &c->skc_v6_daddr, 16);
		if (BPF_CORE_READ_BITFIELD(c, skc_ipv6only))
			e->flags |= EPH_F_V6ONLY;
	}
	if (dest)
		e->dport = bpf_ntohs(c->skc_dport);
}

/* The addresses a call kept for an event the socket can no longer give them to (NULL: none). */
static __always_inline void fill_call_addrs(struct eph_event *e, const struct call_ctx *dest)
{
	if (dest && dest->has_dest) {
		__builtin_memcpy(e->daddr, dest->daddr, sizeof(e->daddr));
		e->dport = dest->dport;
		e->flags |= EPH_F_DEST;
	}
	if (dest && dest->has_saddr)
		__builtin_memcpy(e->saddr, dest->saddr, sizeof(e->saddr));
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
				     struct hold *h, bool via_task, __u64 now)
{
	__u64 key = (__u64)sk;

	h->ts = now;
	h->sock_id = key;
	current_ids(&h->pid, &h->tid, &h->cgroup_id, h->comm, via_task);
	h->sport = port;
	h->op = op;
	h->flags = flags;
	get_current_pcomm(h->pcomm);
	if (bpf_map_update_elem(&holds, &key, h, BPF_ANY))
		count(EPH_CNT_HOLD_FULL);
}

/*
 * The key of cookie's slot in the "seeds" table in use, or 0 (include/ephtrace.h, EPH_SEED_*).
 * A global function: the verifier checks it once, on its own, and its callers see one unknown
 * result. Inlined, each of the 16 probes' exits was a state of its own through the rest of every
 * caller (fentry programs' verified instructions doubled, tracepoint's 5.10 load took 8 s).
 */
__noinline int seed_key(__u64 cookie)
{
	__u32 k = 0, base, start, i;
	__u64 *v = bpf_map_lookup_elem(&seeds, &k);

	if (!v || !cookie)
		return 0;
	base = 1 + (__u32)(*v & 1) * (seed_mask + 1);
	start = eph_seed_slot(cookie, seed_mask);
	for (i = 0; i < EPH_SEED_PROBES; i++) {
		k = base + ((start + i) & seed_mask);
		v = bpf_map_lookup_elem(&seeds, &k);
		if (!v || !*v)
			return 0;
		if ((*v & ~EPH_SEED_DONE) == cookie)
			return k;
	}
	return 0;
}

/*
 * A socket a snapshot found (user space seeded its cookie: user/node/seeds.c), or the TIME_WAIT
 * socket of one (a hold with op 0, below): its move into TIME_WAIT and the release of its port
 * are sent with EPH_F_SEEDED (no owner, no hold time), so that top and serve let the port go at
 * once instead of at their next resync. Once (seed_done()): a full socket's port that went to
 * its TIME_WAIT socket is put back later too (tcp_done()'s inet_put_port()). *slot: the
 * cookie's in the table (none while the socket has no cookie yet: no snapshot saw it).
 */
static __always_inline bool seeded(const void *obj, __u64 **slot)
{
	__u64 cookie;
	__u32 k;

	if (!use_seeds)
		return false;
	cookie = BPF_CORE_READ((const struct sock_common *)obj, skc_cookie.counter);
	k = seed_key(cookie);
	*slot = k ? bpf_map_lookup_elem(&seeds, &k) : NULL;
	return *slot && !(**slot & EPH_SEED_DONE);
}

/* Reported: user space carries the mark into the next table while it gives the cookie. */
static __always_inline void seed_done(__u64 *slot)
{
	*slot |= EPH_SEED_DONE;
}

/*
 * A full TCP socket already in CLOSE with no port (tcp_destroy_sock after its port went back or
 * to a TIME_WAIT socket, which has its cookie too): nothing to release. Every other release
 * comes before the socket's state is stored as CLOSE (tcp_set_state(): inet_put_port() and its
 * callbacks first, the inet_sock_set_state tracepoint from inet_sk_state_store() just before
 * the store), or with its port still set (tcp_destroy_sock of a port bind() kept).
 */
static __always_inline bool port_gone(const void *obj, __u8 proto, __u16 flags)
{
	return proto == IPPROTO_TCP && !(flags & EPH_F_TW) &&
	       BPF_CORE_READ((const struct sock_common *)obj, skc_state) == TCP_CLOSE &&
	       !sk_num(obj);
}

/* A seeded socket's TIME_WAIT move (tw: its TIME_WAIT socket, NULL when not visible) or release;
 * port: the socket's, 0 to read it. */
static __always_inline void on_seeded(void *ctx, const void *obj, const void *tw, __u8 type,
				      __u8 proto, __u16 flags, __u16 port, __u8 style)
{
	struct hold h = {};
	struct eph_event *e;
	__u64 twkey = (__u64)tw;

	/* a full socket's inet_num is 0 once inet_put_port() or udp_lib_unhash() ran (the
	 * tracepoints come after it); inet_sport stays */
	if (!port)
		port = sk_num(obj);
	if (!port && !(flags & EPH_F_TW))
		port = bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)obj, inet_sport));
	e = ev_reserve_at(type, 0, style);
	if (e) {
		fill_common(e, obj, proto == IPPROTO_TCP);
		e->sport = port;
		e->proto = proto;
		e->flags |= EPH_F_SEEDED | flags;
		ev_submit(ctx, e);
	}
	/* the TIME_WAIT socket is followed as a taken port is, op 0 saying it is seeded: its end,
	 * and not a later call about the full socket, is the release */
	if (type == EPH_TIME_WAIT && tw) {
		h.ts = bpf_ktime_get_ns();
		h.sport = port;
		if (bpf_map_update_elem(&holds, &twkey, &h, BPF_ANY))
			count(EPH_CNT_HOLD_FULL);
	}
}

/* A tracked port goes back to the pool: one release event, with how long it was held. */
static __always_inline void on_release(void *ctx, const void *obj, __u8 proto, __u16 extra_flags,
				       __u8 style)
{
	__u64 key = (__u64)obj, now, *slot;
	struct hold *h = bpf_map_lookup_elem(&holds, &key);
	struct eph_event *e;

	if (!h) {
		if (seeded(obj, &slot)) {
			if (!port_gone(obj, proto, extra_flags))
				on_seeded(ctx, obj, NULL, EPH_RELEASE, proto, extra_flags, 0, style);
			seed_done(slot);
		}
		return;
	}
	if (!h->op) { /* a seeded socket's TIME_WAIT socket */
		on_seeded(ctx, obj, NULL, EPH_RELEASE, proto, extra_flags, h->sport, style);
		bpf_map_delete_elem(&holds, &key);
		return;
	}
	count(EPH_CNT_RELEASE);
	now = bpf_ktime_get_ns();
	hist_add(EPH_HIST_HOLD, proto, BPF_CORE_READ((const struct sock_common *)obj, skc_family),
		 0, now - h->ts);
	e = ev_reserve_at(EPH_RELEASE, now, style);
	if (e) {
		fill_owner(e, h);
		fill_common(e, obj, proto == IPPROTO_TCP);
		e->sport = h->sport;
		e->proto = proto;
		e->op = h->op;
		e->sock_id = h->sock_id;
		e->held_ns = e->ts_ns - h->ts;
		e->flags |= EPH_F_HELD | extra_flags | (h->flags & EPH_F_EPHEMERAL);
		ev_submit(ctx, e);
	}
	bpf_map_delete_elem(&holds, &key);
}

/* A TCP socket's port passes to its TIME_WAIT socket (tw == NULL: not visible, tracepoints). */
static __always_inline void on_time_wait(void *ctx, const struct sock *sk, const void *tw,
					 __u8 style)
{
	__u64 key = (__u64)sk, twkey = (__u64)tw, *slot;
	struct hold *h = bpf_map_lookup_elem(&holds, &key);
	struct eph_event *e;

	if (!h) {
		if (seeded(sk, &slot)) {
			on_seeded(ctx, sk, tw, EPH_TIME_WAIT, IPPROTO_TCP,
				  tw ? 0 : EPH_F_TW_NO_RELEASE, 0, style);
			seed_done(slot);
		}
		return;
	}
	count(EPH_CNT_TIME_WAIT);
	e = ev_reserve_at(EPH_TIME_WAIT, 0, style);
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
			e->flags |= EPH_F_TW_NO_RELEASE; /* the end of TIME_WAIT will not be seen */
		ev_submit(ctx, e);
	}
	if (tw && bpf_map_update_elem(&holds, &twkey, h, BPF_ANY))
		count(EPH_CNT_HOLD_FULL);
	bpf_map_delete_elem(&holds, &key);
}

/*
 * A TCP socket moves to CLOSE (tcp_set_state(): sock_ops' BPF_SOCK_OPS_STATE_CB before the
 * port goes back, inet_sock_set_state after). From FIN_WAIT1/2 or CLOSING, unless aborted,
 * its port passes to a TIME_WAIT socket; otherwise it goes back to the pool, unless bind()
 * named it (SOCK_BINDPORT_LOCK: kept until the socket is destroyed, tcp_destroy_sock). style:
 * ev_reserve_at()'s.
 */
static __always_inline void on_tcp_closed(void *ctx, const struct sock *sk, int oldstate,
					  __u8 style)
{
	if ((oldstate == TCP_FIN_WAIT1 || oldstate == TCP_FIN_WAIT2 || oldstate == TCP_CLOSING) &&
	    !tcp_close_aborted(sk))
		on_time_wait(ctx, sk, NULL, style);
	else if (!(sk_userlocks(sk) & SOCK_BINDPORT_LOCK))
		on_release(ctx, sk, IPPROTO_TCP, 0, style);
}

/* --- assignment and failure ---------------------------------------------------------------- */

struct outcome {
	__u64 search_ns;
	__u64 now; /* the clock, if the caller has just read it (0: emit() reads it) */
	__s32 err;
	__u16 req_port;
	__u16 sport; /* the port taken, when the socket no longer shows it; 0 = read it */
	__u16 flags; /* EPH_F_EPHEMERAL, EPH_F_SEARCH, EPH_F_REQ */
	__u8 op;
	__u8 proto;
	__u8 via_task; /* sock_ops: read the task from its task_struct (current_ids()) */
	__u8 style;    /* ev_reserve_at()'s */
};

static __always_inline void emit(void *ctx, const struct sock *sk, const struct outcome *o,
				 const struct call_ctx *dest)
{
	struct eph_event *e;
	bool sk_dest = o->op == EPH_OP_CONNECT && o->proto == IPPROTO_TCP;
	struct hold h = {};
	__u64 now = o->now ?: bpf_ktime_get_ns();

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
		hold_add(sk, port, o->op, o->flags & EPH_F_EPHEMERAL, &h, o->via_task, now);
	e = ev_reserve_at(o->err ? EPH_FAIL : EPH_ASSIGN, now, o->style);
	if (!e)
		return;
	if (o->err) {
		fill_task(e, o->via_task);
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
	fill_call_addrs(e, dest);
	ev_submit(ctx, e);
}

/* A socket's local address (skc_rcv_saddr, or skc_v6_rcv_saddr) into addr: 4 or 16 bytes. */
static __always_inline void sk_local_addr(const struct sock *sk, __u8 addr[16])
{
	if (BPF_CORE_READ(sk, __sk_common.skc_family) == AF_INET)
		bpf_core_read(addr, 4, &sk->__sk_common.skc_rcv_saddr);
	else
		bpf_core_read(addr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
}

/*
 * A UDP socket that had its port before a connect(): whether the connect() moved it to another
 * local address. __ip4_datagram_connect() and __ip6_datagram_connect() give a socket bound to
 * the wildcard the source address of the route and rehash it there (udp_v4_rehash(),
 * udp_v6_rehash()); connect(AF_UNSPEC) (__udp_disconnect()) puts one that bind() did not give
 * an address (no SOCK_BINDADDR_LOCK) back on the wildcard, unhashed unless bind() named its
 * port. The port's bind scope is its local address: no record would leave its hold on the old
 * one until a resync. was: the address at entry (sk_local_addr()).
 */
static __always_inline bool dgram_moved(const struct sock *sk, const __u8 was[16])
{
	__u64 now[2] = {}, then[2];

	if (!sk_num(sk))
		return false; /* unhashed: a release */
	sk_local_addr(sk, (__u8 *)now);
	__builtin_memcpy(then, was, sizeof(then));
	return now[0] != then[0] || now[1] != then[1];
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
 * A socket that had its port connect()ed, no port chosen, so no assignment: counted in "stats"
 * under its own type. TCP: a socket bind() had given its port; the port serves this 4-tuple too
 * now, and the socket's hold (the bind's, same key) stays as it is. UDP: the connect() (or
 * connect(AF_UNSPEC)) moved the socket to another local address (dgram_moved()): its record has
 * the address it has now, and its destination while it has one. dest: the addresses to report
 * when the socket no longer has them (NULL: read them from the socket).
 */
static __always_inline void emit_bound_connect(void *ctx, const struct sock *sk, __u8 proto,
					       __u16 flags, const struct call_ctx *dest,
					       bool via_task, __u8 style)
{
	struct eph_stat_key key = { .type = EPH_CONNECT, .op = EPH_OP_CONNECT, .proto = proto };
	struct eph_event *e;

	key.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	map_add(&stats, &key, 1);
	e = ev_reserve_at(EPH_CONNECT, 0, style);
	if (!e)
		return;
	fill_task(e, via_task);
	fill_common(e, (const struct sock_common *)sk,
		    !dest && (proto == IPPROTO_TCP || BPF_CORE_READ(sk, __sk_common.skc_dport)));
	e->proto = proto;
	e->op = EPH_OP_CONNECT;
	e->sock_id = (__u64)sk;
	e->flags |= flags;
	fill_call_addrs(e, dest);
	ev_submit(ctx, e);
}

#endif
