/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The cgroup backend: cgroup socket hooks and sock_ops, attached to the root of the cgroup v2
 * hierarchy, with the raw tracepoints the tracepoint backend also uses (inet_sock_set_state,
 * tcp_destroy_sock). No system call tracepoint: nothing here runs for a process that does not
 * touch a socket. Included by ephtrace.bpf.c after the shared handlers.
 *
 * What each hook sees (Linux 6.1 to 6.18):
 * - inet_sock_set_state CLOSE->SYN_SENT: tcp_v4_connect() is about to search (port 0 still,
 *   or the port bind() gave the socket; inet_sport as an earlier connection left it): the
 *   connect() starts here. (cgroup/connect4/6, before tcp_v4_connect(), would see the same and
 *   cost one more program and one more map update per connection.)
 * - sock_ops BPF_SOCK_OPS_TCP_CONNECT_CB: tcp_connect()'s first step, the search has taken the
 *   port: the assignment, in the connecting task. It asks for the socket's state changes.
 * - sock_ops BPF_SOCK_OPS_STATE_CB, to CLOSE: tcp_set_state(), before it puts the port back
 *   (inet_put_port()) and before inet_sock_set_state: the release, or the move to TIME_WAIT,
 *   of a socket that connect() gave a port, in process context or in softirq. A cgroup
 *   program runs under no per-program recursion guard (bpf_prog_run_array_cg()): a softirq's
 *   run inside a process context's is not skipped.
 * - inet_sock_set_state to CLOSE of a TCP socket with no STATE_CB (a listener, a bound socket
 *   disconnected): its release, in process context (cg_set_state below).
 * - inet_sock_set_state SYN_SENT->CLOSE before TCP_CONNECT_CB: tcp_v4_connect() failed between
 *   the two, which is inet_hash_connect() (EADDRNOTAVAIL; ENOMEM would look the same) or, for a
 *   bound socket, its 4-tuple check. The socket still has its addresses then (the failure path
 *   clears inet_dport after tcp_set_state()).
 * - cgroup/bind4/6 runs before __inet_bind(): the port asked for. cgroup/post_bind4/6: it took
 *   a port (bind(0) or a given port; a bind() of IP_BIND_ADDRESS_NO_PORT takes none and runs no
 *   post_bind); a failed bind() runs no hook after bind4: its EADDRINUSE is seen with
 *   --exact-errors only.
 * - sock_ops BPF_SOCK_OPS_TCP_LISTEN_CB: listen() succeeded; on a socket with no hold, the port
 *   is listen()'s own (autobind).
 * - cgroup/sendmsg4/6: udp_sendmsg() with an address, after inet_send_prepare()'s autobind: a
 *   UDP socket with a port and no hold took it in this call. A failed autobind (EAGAIN) returns
 *   before the hook.
 * - UDP connect() autobinds after cgroup/connect4 and nothing runs after it: its port is seen
 *   by sock_diag (status, and top's and serve's resync), its events and EAGAIN with
 *   --exact-errors only.
 * - cgroup/sock_release: the last reference to a socket's file went (inet_release): a UDP
 *   socket's port goes back (dup(), fork() and SCM_RIGHTS copies keep it until then).
 */
#ifndef EPH_CGROUP_BPF_H
#define EPH_CGROUP_BPF_H

/* --exact-errors: the system call tracepoints report bind(), listen() and UDP (their errnos
 * too); the hooks here then only do TCP connect() and the UDP releases. */
const volatile __u8 exact_errors = 0;

#ifdef EPH_HOOKS_ONLY
#define CG_HOOKS_ONLY() return 1 /* 1: a cgroup program's "let the call go on" */
#else
/* clang-format off */
#define CG_HOOKS_ONLY() do {} while (0)
/* clang-format on */
#endif

/*
 * The kernel address of a cgroup or sock_ops program's socket (struct bpf_sock *), as the other
 * backends key it. The verifier forbids arithmetic on such a pointer, CO-RE reads included, so
 * the value goes through memory as a plain number.
 */
static __always_inline struct sock *sk_of(const struct bpf_sock *bsk)
{
	__u64 in = (__u64)bsk, addr = 0;

	bpf_probe_read_kernel(&addr, sizeof(addr), &in);
	return (struct sock *)addr;
}

/* A TCP connect() in progress, keyed by its socket (sock_ops may not know the current task). */
static __always_inline struct call_ctx *cg_call_get(const struct sock *sk)
{
	__u64 key = (__u64)sk;

	return bpf_map_lookup_elem(&calls, &key);
}

static __always_inline void cg_call_del(const struct sock *sk)
{
	__u64 key = (__u64)sk;

	bpf_map_delete_elem(&calls, &key);
}

static __always_inline bool has_hold(const struct sock *sk)
{
	__u64 key = (__u64)sk;

	return bpf_map_lookup_elem(&holds, &key) != NULL;
}

/*
 * CLOSE->SYN_SENT: tcp_v4_connect()/tcp_v6_connect() is about to search (inet_hash_connect()
 * comes next). The call is kept until TCP_CONNECT_CB or SYN_SENT->CLOSE ends it: both always
 * come, so nothing is left behind.
 */
static __always_inline void on_cg_syn_sent(const struct sock *sk)
{
	struct call_ctx c = { .op = EPH_OP_CONNECT };
	__u64 key = (__u64)sk;

	c.sk = key;
	c.ts = c.ts_syn = bpf_ktime_get_ns();
	c.bound_port = sk_num(sk);
	c.had_port = c.bound_port != 0;
	/* inet_sport as it is before the search (an earlier connection's, or 0) */
	c.closed_port = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	if (bpf_map_update_elem(&calls, &key, &c, BPF_ANY))
		count(EPH_CNT_CTX_FULL);
}

/* inet_sock_set_state, for the cgroup backend: the start and the failed end of a search. */
static __always_inline void on_cg_set_state(void *ctx, const struct sock *sk, int oldstate,
					    int newstate)
{
	struct outcome o = { .op = EPH_OP_CONNECT, .proto = IPPROTO_TCP, .err = EADDRNOTAVAIL };
	struct call_ctx *c;
	__u16 sport;

	if (oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT) {
		on_cg_syn_sent(sk);
		return;
	}
	c = cg_call_get(sk);
	if (!c || c->op != EPH_OP_CONNECT) /* SYN_SENT came before ephtrace was attached */
		return;
	/*
	 * The search sets inet_sport (its failure path leaves it as it was): a new value means it
	 * took a port and the connection ended before tcp_connect(), a connect() of
	 * TCP_FASTOPEN_CONNECT deferred to the first write and closed or shut down before it, or
	 * a failure after the search (ip_route_newports()). Its assignment and its release
	 * (tcp_set_state() has put the port back already), as the other backends see them.
	 */
	sport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	if (!c->had_port && sport && sport != c->closed_port) {
		o.err = 0;
		o.sport = sport;
		o.flags = connect_flags(sk, false);
		emit(ctx, sk, &o, NULL);
		on_release(ctx, sk, IPPROTO_TCP, 0, 0);
		cg_call_del(sk);
		return;
	}
	o.flags = connect_flags(sk, c->had_port) | EPH_F_SEARCH;
	o.now = bpf_ktime_get_ns();
	o.search_ns = o.now - c->ts_syn;
	o.sport = c->bound_port; /* a bind(0) port went back to the pool with the failure */
	emit(ctx, sk, &o, NULL);
	cg_call_del(sk);
}

/* TCP_CONNECT_CB: tcp_connect() starts, the port is chosen (or a bound socket's 4-tuple free). */
static __always_inline void on_cg_tcp_connect(void *ctx, struct sock *sk)
{
	struct outcome o = { .op = EPH_OP_CONNECT, .proto = IPPROTO_TCP, .via_task = 1 };
	struct call_ctx *c = cg_call_get(sk);
	bool had_port;

	if (c && c->op != EPH_OP_CONNECT) /* a failed bind()'s, not this call's */
		c = NULL;
	had_port = c ? c->had_port : has_hold(sk);

	if (had_port) {
		emit_bound_connect(ctx, sk, IPPROTO_TCP, connect_flags(sk, true), NULL, true, 0);
	} else {
		o.flags = connect_flags(sk, false);
		/* TCP_FASTOPEN_CONNECT: tcp_connect() comes at the first write, not in connect():
		 * the time since SYN_SENT is not the search's */
		if (c && !BPF_CORE_READ_BITFIELD_PROBED((struct tcp_sock *)sk, fastopen_connect)) {
			o.now = bpf_ktime_get_ns();
			o.search_ns = o.now - c->ts_syn;
			o.flags |= EPH_F_SEARCH;
		}
		emit(ctx, sk, &o, NULL);
	}
	if (c)
		cg_call_del(sk);
}

/* TCP_LISTEN_CB: a listener with no hold took its port in listen() (a bind() gave it none). */
static __always_inline void on_cg_listen(void *ctx, struct sock *sk)
{
	struct outcome o = { .op = EPH_OP_LISTEN,
			     .proto = IPPROTO_TCP,
			     .flags = EPH_F_REQ | EPH_F_EPHEMERAL,
			     .via_task = 1 };

	/* a failed bind()'s call, if any, goes now: sock_release looks for none on a socket
	 * that has a port */
	cg_call_del(sk);
	if (has_hold(sk) || (sk_userlocks(sk) & SOCK_BINDPORT_LOCK))
		return;
	emit(ctx, sk, &o, NULL);
}

/* bind4/6, before __inet_bind(): the port asked for, which post_bind cannot tell (the kernel
 * sets SOCK_BINDPORT_LOCK after that hook). */
static __always_inline void on_cg_bind(const struct bpf_sock_addr *ctx)
{
	struct sock *sk = sk_of(ctx->sk);
	struct call_ctx c = { .op = EPH_OP_BIND };
	__u64 key = (__u64)sk;

	if (!sk || !proto_traced(sk_proto(sk)) || sk_num(sk))
		return;
	c.sk = key;
	c.ts = bpf_ktime_get_ns();
	c.req_port = bpf_ntohs(ctx->user_port);
	if (bpf_map_update_elem(&calls, &key, &c, BPF_ANY))
		count(EPH_CNT_CTX_FULL);
}

/* post_bind: __inet_bind() took a port, the one asked for or (port 0) one it chose. */
static __always_inline void on_cg_post_bind(void *ctx, const struct bpf_sock *bsk)
{
	struct sock *sk = sk_of(bsk);
	struct outcome o = { .op = EPH_OP_BIND, .flags = EPH_F_REQ };
	struct call_ctx *c;
	__u16 port;

	if (!sk)
		return;
	o.proto = sk_proto(sk);
	port = sk_num(sk);
	if (!proto_traced(o.proto) || !port)
		return;
	c = cg_call_get(sk);
	if (c && c->op == EPH_OP_BIND) {
		o.req_port = c->req_port;
		o.now = bpf_ktime_get_ns();
		o.search_ns = o.now - c->ts;
		o.flags |= EPH_F_SEARCH;
		cg_call_del(sk);
	}
	if (!o.req_port)
		o.flags |= EPH_F_EPHEMERAL;
	emit(ctx, sk, &o, NULL);
}

/* sendmsg with an address: a UDP socket that has a port and no hold was autobound just now. */
static __always_inline void on_cg_sendmsg(struct bpf_sock_addr *ctx, bool v6)
{
	struct outcome o = { .op = EPH_OP_SENDMSG, .proto = IPPROTO_UDP, .flags = EPH_F_EPHEMERAL };
	struct call_ctx dest = { .has_dest = 1 };
	struct sock *sk;

	/* every unconnected send comes here: the cheap tests first, a socket's later sends
	 * find its hold */
	if (ctx->protocol != IPPROTO_UDP)
		return;
	sk = sk_of(ctx->sk);
	if (!sk || has_hold(sk) || !sk_num(sk) || (sk_userlocks(sk) & SOCK_BINDPORT_LOCK))
		return;
	dest.dport = bpf_ntohs(ctx->user_port);
	if (v6) {
		__u32 *d = (__u32 *)dest.daddr;

		d[0] = ctx->user_ip6[0];
		d[1] = ctx->user_ip6[1];
		d[2] = ctx->user_ip6[2];
		d[3] = ctx->user_ip6[3];
	} else {
		*(__u32 *)dest.daddr = ctx->user_ip4;
	}
	emit(ctx, sk, &o, &dest);
}

/*
 * TCP_CONNECT_CB asks for the socket's state changes from then on (BPF_SOCK_OPS_STATE_CB_FLAG:
 * tcp_set_state() calls sock_ops before it puts the port back): its release or its move to
 * TIME_WAIT, in softirq as often as not, comes here rather than to cg_set_state. The hooks-only
 * build asks too, so that its figure counts those runs.
 */
SEC("sockops")
int cg_sockops(struct bpf_sock_ops *ctx)
{
	if (ctx->op == BPF_SOCK_OPS_STATE_CB) {
		CG_HOOKS_ONLY();
		if (ctx->args[1] == BPF_TCP_CLOSE)
			on_tcp_closed(ctx, sk_of(ctx->sk), ctx->args[0], 0);
	} else if (ctx->op == BPF_SOCK_OPS_TCP_CONNECT_CB) {
		bpf_sock_ops_cb_flags_set(ctx, ctx->bpf_sock_ops_cb_flags |
						       BPF_SOCK_OPS_STATE_CB_FLAG);
		CG_HOOKS_ONLY();
		on_cg_tcp_connect(ctx, sk_of(ctx->sk));
	} else if (ctx->op == BPF_SOCK_OPS_TCP_LISTEN_CB && !exact_errors) {
		CG_HOOKS_ONLY();
		on_cg_listen(ctx, sk_of(ctx->sk));
	}
	return 1;
}

/*
 * raw_tp/inet_sock_set_state for this backend: one program, no *_nested twin (nest.bpf.h). All
 * it does happens in process context: connect()'s CLOSE->SYN_SENT and its failed
 * SYN_SENT->CLOSE (tcp_v4_connect(), tcp_v6_connect()), and the move to CLOSE of a TCP socket
 * that holds a port and never reached TCP_CONNECT_CB (a listener's close(), a disconnect of a
 * bound socket). A softirq can interrupt such a run but cannot be interrupted by one, so the
 * runs the kernel's recursion guard skips (__bpf_trace_run()) are softirqs' state changes:
 * their sockets hold nothing, or their change came to sock_ops' STATE_CB first (the hold is
 * gone by the time this tracepoint runs). Its misses are not drops (user/node/loader_read.c).
 * One probe on the tracepoint, not two, also keeps the kernel's direct call to it: with a
 * second one every state change of every TCP socket goes through the tracepoint's iterator.
 */
static __always_inline void cg_state_change(void *ctx, const struct sock *sk, int oldstate,
					    int newstate)
{
	if (newstate == TCP_CLOSE) {
		if (sk_proto(sk) != IPPROTO_TCP)
			return;
		on_tcp_closed(ctx, sk, oldstate, 0);
		if (oldstate == TCP_SYN_SENT)
			on_cg_set_state(ctx, sk, oldstate, newstate);
	} else if (oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT &&
		   sk_proto(sk) == IPPROTO_TCP) {
		on_cg_set_state(ctx, sk, oldstate, newstate);
	}
}

HOOK_PROG("raw_tp/inet_sock_set_state",
	  BPF_PROG(cg_set_state, const struct sock *sk, int oldstate, int newstate),
	  cg_state_change(ctx, sk, oldstate, newstate);
	  return 0)

SEC("cgroup/bind4")
int cg_bind4(struct bpf_sock_addr *ctx)
{
	CG_HOOKS_ONLY();
	on_cg_bind(ctx);
	return 1;
}

SEC("cgroup/bind6")
int cg_bind6(struct bpf_sock_addr *ctx)
{
	CG_HOOKS_ONLY();
	on_cg_bind(ctx);
	return 1;
}

SEC("cgroup/post_bind4")
int cg_post_bind4(struct bpf_sock *sk)
{
	CG_HOOKS_ONLY();
	on_cg_post_bind(sk, sk); /* the socket is the context */
	return 1;
}

SEC("cgroup/post_bind6")
int cg_post_bind6(struct bpf_sock *sk)
{
	CG_HOOKS_ONLY();
	on_cg_post_bind(sk, sk); /* the socket is the context */
	return 1;
}

SEC("cgroup/sendmsg4")
int cg_sendmsg4(struct bpf_sock_addr *ctx)
{
	CG_HOOKS_ONLY();
	on_cg_sendmsg(ctx, false);
	return 1;
}

SEC("cgroup/sendmsg6")
int cg_sendmsg6(struct bpf_sock_addr *ctx)
{
	CG_HOOKS_ONLY();
	on_cg_sendmsg(ctx, true);
	return 1;
}

SEC("cgroup/sock_release")
int cg_sock_release(struct bpf_sock *bsk)
{
	CG_HOOKS_ONLY();
	struct call_ctx *c;
	struct sock *sk;

	/* The cheap tests first, on the context's own fields (no read of the socket; src_port
	 * is post_bind's only): a TCP socket out of CLOSE has nothing here (a connect() ends at
	 * TCP_CONNECT_CB or its state change, a failed bind() before listen() at
	 * TCP_LISTEN_CB, before connect() when SYN_SENT replaces it). */
	if (bsk->protocol != IPPROTO_UDP &&
	    (bsk->protocol != IPPROTO_TCP || bsk->state != BPF_TCP_CLOSE))
		return 1;
	sk = sk_of(bsk);
	if (!sk)
		return 1;
	/* TCP gives its port back through its state changes */
	if (bsk->protocol == IPPROTO_UDP)
		on_release(bsk, sk, IPPROTO_UDP, 0, 0);
	/* a call that never reached its end (a bind() that failed) is left behind: it goes
	 * with the socket (looked up first: a lookup takes no lock, and there rarely is one).
	 * A connect() deferred to a write that never came (TCP_FASTOPEN_CONNECT) is ended by
	 * the close's state change (inet_release() runs this hook before tcp_close()). */
	c = cg_call_get(sk);
	if (c && c->op != EPH_OP_CONNECT)
		cg_call_del(sk);
	return 1;
}

#endif
