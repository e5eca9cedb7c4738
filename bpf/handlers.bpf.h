/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The handlers of the kernel functions fentry and kprobe attach to (the port allocators and
 * their callers), each an entry half that keeps the call and an exit half that reports it.
 * Included by ephtrace.bpf.c.
 */
#ifndef EPH_HANDLERS_BPF_H
#define EPH_HANDLERS_BPF_H

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

static __always_inline int on_hash_connect_exit(void *ctx, int ret, __u8 style)
{
	struct call_ctx *c = call_get(SLOT_HASH_CONNECT);
	struct outcome o = { .op = EPH_OP_CONNECT, .proto = IPPROTO_TCP, .style = style };
	struct sock *sk;

	if (!c)
		return 0;
	sk = (struct sock *)c->sk;
	o.now = bpf_ktime_get_ns();
	o.search_ns = o.now - c->ts;
	o.flags = connect_flags(sk, c->had_port);
	o.err = ret < 0 ? -ret : 0;
	/* A socket that already had a port only has its 4-tuple checked: no assignment. */
	if (o.err || !c->had_port) {
		o.flags |= EPH_F_SEARCH;
		emit(ctx, sk, &o, NULL);
	} else {
		emit_bound_connect(ctx, sk, IPPROTO_TCP, o.flags, NULL, false, style);
	}
	call_del(SLOT_HASH_CONNECT);
	return 0;
}

/*
 * inet_csk_get_port (TCP) and udp_lib_get_port (UDP): bind(), listen(), UDP autobind. What its
 * record will say (op, the errno of a failure, flags) is decided here and kept in the call's
 * map value: read back at the exit, where the verifier does not know them, they do not make it
 * walk emit() once for each combination of constants, as it did when the exit chose them (each
 * exit program 6 586 instructions walked on 6.12 fentry, now 3 037; 10 699 on 6.1 kprobe, now
 * 4 194).
 */
static __always_inline int on_get_port_enter(struct sock *sk, __u16 snum)
{
	struct call_ctx c = {}, *ab;

	if (!proto_traced(sk_proto(sk)))
		return 0;
	c.sk = (__u64)sk;
	c.ts = bpf_ktime_get_ns();
	c.req_port = snum;
	c.had_port = sk_num(sk) != 0;
	c.state = BPF_CORE_READ(sk, __sk_common.skc_state);
	c.ev_flags = EPH_F_SEARCH | (snum ? 0 : EPH_F_EPHEMERAL);
	ab = call_get(SLOT_AUTOBIND);
	if (ab && ab->sk == c.sk) {
		c.op = ab->op;
		c.fail_err = EAGAIN; /* inet_autobind() turns any failure into -EAGAIN */
	} else {
		c.op = c.state == TCP_LISTEN ? EPH_OP_LISTEN : EPH_OP_BIND;
		c.fail_err = EADDRINUSE; /* udp_lib_get_port() returns 1 */
		c.ev_flags |= EPH_F_REQ;
	}
	call_put(SLOT_GET_PORT, &c);
	return 0;
}

/*
 * A UDP connect()'s autobind took a port: its record waits for inet_dgram_connect()'s end, when
 * the socket has the source address the connect() chose (ip4_datagram_connect() and
 * ip6_datagram_connect() set it and move the socket there: udp_v4_rehash(), udp_v6_rehash()),
 * so that it counts in that address's bind scope from the start, as sock_diag will show it.
 * A failure (EAGAIN) is reported at once. True when it waits.
 */
static __always_inline bool dgram_connect_later(const struct call_ctx *c, const struct outcome *o)
{
	struct call_ctx *d;

	if (o->err || o->op != EPH_OP_CONNECT || o->proto != IPPROTO_UDP)
		return false;
	d = call_get(SLOT_DGRAM);
	if (!d || d->sk != c->sk)
		return false;
	d->search_ns = o->search_ns;
	d->assigned = 1;
	return true;
}

static __always_inline int on_get_port_exit(void *ctx, int ret, __u8 style)
{
	struct call_ctx *c = call_get(SLOT_GET_PORT), *dest;
	struct sock *sk;
	struct outcome o = { .style = style };

	if (!c)
		return 0;
	sk = (struct sock *)c->sk;
	o.proto = sk_proto(sk);
	o.now = bpf_ktime_get_ns();
	o.search_ns = o.now - c->ts;
	o.req_port = c->req_port;
	o.flags = c->ev_flags;
	o.op = c->op;
	o.err = ret ? c->fail_err : 0;
	/* the addresses of the connect() or send that autobinds; else c's: none (has_dest 0),
	 * and a pointer either way, which the verifier then walks emit() with once */
	dest = call_get(SLOT_AUTOBIND);
	if (!dest || dest->sk != c->sk)
		dest = c;
	/* listen() re-checks the port a bind() already took: only its failure is news. */
	if ((!c->had_port || o.err) && !dgram_connect_later(c, &o))
		emit(ctx, sk, &o, dest);
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
 * (the user registers of the task). Only on this rare path; io_uring sends have none, nor do
 * kernels without bpf_task_pt_regs() (before 5.15: the record's destination is null).
 */
static __always_inline void send_dest(struct call_ctx *c)
{
#ifdef SYSCALL_NR
	struct pt_regs *regs;
	const void *addr = NULL;
	long nr;

	if (!HAVE_TASK_PT_REGS || !HAVE_TASK_BTF)
		return;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	nr = SYSCALL_NR(regs);

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

/* inet_dgram_connect: remember where a UDP connect() goes, for its autobind; of a socket that
 * has its port already, the local address it has (dgram_moved()). */
static __always_inline int on_dgram_connect_enter(struct socket *sock, struct sockaddr *uaddr)
{
	struct sock *sk = BPF_CORE_READ(sock, sk);
	struct call_ctx c = {};

	if (sk_proto(sk) != IPPROTO_UDP) /* inet_dgram_connect serves raw and ICMP sockets too */
		return 0;
	c.sk = (__u64)sk;
	if (sk_num(sk)) {
		c.had_port = 1;
		sk_local_addr(sk, c.saddr);
	} else {
		read_sockaddr(&c, uaddr, false);
	}
	call_put(SLOT_DGRAM, &c);
	return 0;
}

/* inet_dgram_connect's end: the record of its autobind (dgram_connect_later()), the source
 * address chosen (or still the wildcard, when the connect() failed after the autobind); or the
 * move of a socket that had its port to another local address. */
static __always_inline int on_dgram_connect_exit(void *ctx, __u8 style)
{
	struct call_ctx *d = call_get(SLOT_DGRAM);
	struct outcome o = { .op = EPH_OP_CONNECT,
			     .proto = IPPROTO_UDP,
			     .flags = EPH_F_SEARCH | EPH_F_EPHEMERAL,
			     .style = style };
	struct sock *sk;

	if (!d)
		return 0;
	sk = (struct sock *)d->sk;
	if (d->had_port) {
		if (dgram_moved(sk, d->saddr))
			emit_bound_connect(ctx, sk, IPPROTO_UDP, connect_flags(sk, true), NULL, false,
					   style);
	} else if (d->assigned) {
		o.search_ns = d->search_ns;
		emit(ctx, sk, &o, d);
	}
	call_del(SLOT_DGRAM);
	return 0;
}

#endif
