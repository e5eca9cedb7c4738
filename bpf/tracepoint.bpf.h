/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The tracepoint backend: syscalls:sys_{enter,exit}_* (the socket behind a file descriptor read
 * with CO-RE) and the raw tracepoints it shares with the cgroup backend (state changes, socket
 * destruction) and keeps for itself (process exit). Included by ephtrace.bpf.c.
 */
#ifndef EPH_TRACEPOINT_BPF_H
#define EPH_TRACEPOINT_BPF_H

/* --- tracepoints (the tracepoint backend; the cgroup backend's raw tracepoints) ------------- */

/*
 * In a fentry/kprobe plan (--backend auto) these programs stand in for the groups of hooks that
 * attach in neither style (the .rodata standin, EPH_STANDIN_*): they do those groups' work only,
 * and their records say "tracepoint". In the tracepoint and cgroup backends they do all the work
 * they are loaded for, in the backend's name.
 */
static __always_inline bool kfunc_plan(void)
{
	return backend == EPH_BACKEND_FENTRY || backend == EPH_BACKEND_KPROBE;
}

static __always_inline bool tp_does(__u32 group)
{
	return !kfunc_plan() || (standin & group);
}

/* ev_reserve_at()'s style for these programs' records */
static __always_inline __u8 tp_style(void)
{
	return kfunc_plan() ? EPH_BACKEND_TRACEPOINT : 0;
}

/* The socket of an open file, or NULL when it is not a socket. */
static __always_inline struct sock *sock_of_file(const struct file *f)
{
	struct socket *sock;

	if ((BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(f, private_data);
	return BPF_CORE_READ(sock, sk);
}

/* The open file behind a file descriptor of the current task, or NULL. */
static __always_inline struct file *file_from_fd(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *f = NULL;

	if (fd < 0 || !fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_core_read(&f, sizeof(f), &fds[fd]))
		return NULL;
	return f;
}

/* The socket behind a file descriptor of the current task, or NULL. */
static __always_inline struct sock *sock_from_fd(long fd)
{
	struct file *f = file_from_fd(fd);

	return f ? sock_of_file(f) : NULL;
}

/* UDP has no state tracepoint: its port goes back when the last reference to the socket's file
 * does (a dup(), a forked child, an SCM_RIGHTS copy keep it). */
static __always_inline void udp_file_closing(void *ctx, const struct file *f)
{
	struct sock *sk = sock_of_file(f);

	if (sk && sk_proto(sk) == IPPROTO_UDP && file_last_ref(f))
		on_release(ctx, sk, IPPROTO_UDP, 0, tp_style());
}

/* sendto()/sendmsg() flags: MSG_FASTOPEN on a TCP socket with no port connects in the call
 * (tcp_sendmsg_fastopen() -> __inet_stream_connect() -> tcp_v4_connect()). */
#define MSG_FASTOPEN 0x20000000

/*
 * A UDP socket with a port: its connect() takes no port, but may move it to another local
 * address (dgram_moved(): the wildcard's socket to the route's source, and back at a
 * connect(AF_UNSPEC)), the UDP port group's to report; and connect(AF_UNSPEC) sends it to
 * __udp_disconnect() (6.1, 6.12), which unhashes the socket unless bind() named its port
 * (SOCK_BINDPORT_LOCK): udp_lib_unhash() sets inet_num to 0, and the port is back, the UDP
 * release group's. The exit (on_sys_exit) tells which from the port and the address the socket
 * has then; c.saddr keeps the address it had at entry.
 */
static __always_inline int udp_bound_connect_enter(struct sock *sk, const void *uaddr)
{
	struct call_ctx c = {};
	__u16 family = AF_INET;

	if (!tp_does(EPH_STANDIN_UDP_PORT) &&
	    (!tp_does(EPH_STANDIN_UDP_RELEASE) ||
	     bpf_probe_read_user(&family, sizeof(family), uaddr) || family != AF_UNSPEC))
		return 0;
	c.sk = (__u64)sk;
	c.op = EPH_OP_CONNECT;
	c.had_port = 1;
	c.ts = bpf_ktime_get_ns();
	sk_local_addr(sk, c.saddr);
	call_put(SLOT_SYSCALL, &c);
	return 0;
}

static __always_inline int on_sys_enter(__u8 op, long fd, const void *uaddr, long flags)
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
	if (op == EPH_OP_SENDMSG && proto == IPPROTO_TCP && (flags & MSG_FASTOPEN) && !c.had_port)
		op = EPH_OP_CONNECT;
	/* Only calls that can choose a port, or fail to: */
	if (op == EPH_OP_SENDMSG && (proto != IPPROTO_UDP || c.had_port))
		return 0;
	if (op == EPH_OP_LISTEN && (proto != IPPROTO_TCP || c.had_port))
		return 0;
	if (op == EPH_OP_CONNECT && proto == IPPROTO_UDP && c.had_port)
		return udp_bound_connect_enter(sk, uaddr);
	/* a fentry/kprobe plan: the groups stood in for only */
	if (!tp_does(proto == IPPROTO_UDP ? EPH_STANDIN_UDP_PORT :
		     op == EPH_OP_CONNECT ? EPH_STANDIN_TCP_CONNECT :
					    EPH_STANDIN_TCP_BIND))
		return 0;
	/* --exact-errors with the cgroup backend: its hooks follow TCP connect() */
	if (op == EPH_OP_CONNECT && proto == IPPROTO_TCP && backend == EPH_BACKEND_CGROUP)
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

static __always_inline int on_sys_exit(void *ctx, long ret)
{
	struct call_ctx *c = call_get(SLOT_SYSCALL);
	struct outcome o = { .style = tp_style() };
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
				emit(ctx, sk, &o, c);
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
					emit_bound_connect(ctx, sk, IPPROTO_TCP, o.flags,
							   ret && ret != -EINPROGRESS ? c : NULL,
							   false, tp_style());
			} else {
				/* SYN_SENT reached in the call, left elsewhere (the SYN timer,
				 * a shutdown() by another thread): a search that failed says
				 * EADDRNOTAVAIL, any other end means it took inet_sport */
				if (!port && !c->closed_port && c->ts_syn && !c->syn_closed &&
				    ret != -EADDRNOTAVAIL)
					c->closed_port = bpf_ntohs(
						BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
				/* ret may be an error that came after the port was chosen:
				 * then the socket was closed already and let the port go */
				if (port || c->closed_port) {
					o.sport = port ? port : c->closed_port;
					emit(ctx, sk, &o, port ? NULL : c);
					if (!port)
						on_release(ctx, sk, IPPROTO_TCP, 0, tp_style());
				}
			}
		} else if (!c->had_port) {
			if (ret == -EAGAIN && !port) {
				o.err = EAGAIN;
				emit(ctx, sk, &o, c);
			} else if (port) {
				emit(ctx, sk, &o, c);
			}
		} else if (!port) { /* connect(AF_UNSPEC) unhashed it (udp_bound_connect_enter) */
			if (tp_does(EPH_STANDIN_UDP_RELEASE))
				on_release(ctx, sk, IPPROTO_UDP, 0, tp_style());
		} else if (tp_does(EPH_STANDIN_UDP_PORT) && dgram_moved(sk, c->saddr)) {
			emit_bound_connect(ctx, sk, IPPROTO_UDP, connect_flags(sk, true), NULL, false,
					   tp_style());
		}
		break;
	case EPH_OP_BIND:
	case EPH_OP_LISTEN:
		o.req_port = c->req_port;
		o.flags = EPH_F_REQ | (c->req_port ? 0 : EPH_F_EPHEMERAL);
		if (ret == -EADDRINUSE) {
			o.err = EADDRINUSE; /* the kernel has reset the address: use the request */
			emit(ctx, sk, &o, c);
		} else if (!ret && !c->had_port && port) {
			emit(ctx, sk, &o, NULL);
		}
		break;
	case EPH_OP_SENDMSG:
		o.flags = EPH_F_EPHEMERAL;
		if (port) {
			emit(ctx, sk, &o, c);
		} else if (ret == -EAGAIN) {
			o.err = EAGAIN;
			emit(ctx, sk, &o, c);
		}
		break;
	}
	call_del(SLOT_SYSCALL);
	return 0;
}

/*
 * The records of the syscalls:sys_{enter,exit}_* events are struct syscall_trace_enter and
 * syscall_trace_exit (kernel/trace/trace.h: the header, then int nr, then the arguments or the
 * return value), not raw_syscalls' trace_event_raw_sys_{enter,exit} (long id). The two agree
 * only while struct trace_entry is 8 bytes: Debian's 6.1 rt kernel adds preempt_lazy_count to
 * it (12 bytes), and there reading ret at raw_syscalls' offset is past the record (the attach
 * fails with EACCES) and args[i] reads the argument after it. CO-RE places both at this kernel's
 * offsets.
 */
#define SYSCALL_TP(name, enter)                                                                \
	HOOK_PROG("tracepoint/syscalls/sys_enter_" #name,                                      \
		  tp_enter_##name(struct syscall_trace_enter *ctx), return enter)

/* Programs tp_enter_NAME: the call's socket, address and length at entry. */
SYSCALL_TP(connect, on_sys_enter(EPH_OP_CONNECT, (int)ctx->args[0], (void *)ctx->args[1], 0))
SYSCALL_TP(bind, on_sys_enter(EPH_OP_BIND, (int)ctx->args[0], (void *)ctx->args[1], 0))
SYSCALL_TP(listen, on_sys_enter(EPH_OP_LISTEN, (int)ctx->args[0], NULL, 0))
SYSCALL_TP(sendto, on_sys_enter(EPH_OP_SENDMSG, (int)ctx->args[0], (void *)ctx->args[4],
				ctx->args[3]))
SYSCALL_TP(sendmsg, on_sys_enter(EPH_OP_SENDMSG, (int)ctx->args[0],
				 msghdr_name((void *)ctx->args[1]), ctx->args[2]))
/* struct mmsghdr starts with its struct user_msghdr */
SYSCALL_TP(sendmmsg, on_sys_enter(EPH_OP_SENDMSG, (int)ctx->args[0],
				  msghdr_name((void *)ctx->args[1]), ctx->args[3]))

/*
 * Their return value: one program for the six, attached by user space (user/node/attach.c,
 * attach_sys_exits) to sys_exit_NAME for each tp_enter_NAME it attaches. The records are
 * alike and the work is the call's context's (the op it saved), not the call's: one copy of
 * on_sys_exit() for the verifier, not six (about 11 000 instructions each, seconds of load
 * on a slow machine). No target in the section: libbpf attaches nothing by itself.
 */
HOOK_PROG("tracepoint", tp_exit_sock(struct syscall_trace_exit *ctx),
	  return on_sys_exit(ctx, ctx->ret))

/* The socket's source address into c (for an event the socket can no longer give it to). */
static __always_inline void read_rcv_saddr(const struct sock *sk, struct call_ctx *c)
{
	sk_local_addr(sk, c->saddr);
	c->has_saddr = 1;
}

/* State changes and socket destruction run in softirq too: each program has a *_nested twin
 * (nest.bpf.h). */
/* Only a move to CLOSE (a release, TIME_WAIT, a connect() that failed) and the start of a
 * connect() matter: the other changes go without reading the socket. */
static __always_inline bool state_change_matters(int oldstate, int newstate)
{
	return newstate == TCP_CLOSE || (oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT);
}

static __always_inline void set_state(void *ctx, const struct sock *sk, int oldstate,
				      int newstate)
{
	struct call_ctx *c;

	if (!state_change_matters(oldstate, newstate))
		return;
	if (sk_proto(sk) != IPPROTO_TCP)
		return;
	if (newstate == TCP_CLOSE && tp_does(EPH_STANDIN_TCP_RELEASE))
		on_tcp_closed(ctx, sk, oldstate, tp_style());
	if (!tp_does(EPH_STANDIN_TCP_CONNECT))
		return;
	/* Only these two changes matter to a connect() in progress: skip the lookup otherwise */
	if (!(oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT) &&
	    !(oldstate == TCP_SYN_SENT && newstate == TCP_CLOSE))
		return;
	/* The connect() in progress in this task, if this is its socket. */
	c = call_get(SLOT_SYSCALL);
	if (!c || c->sk != (__u64)sk || c->op != EPH_OP_CONNECT)
		return;
	if (oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT) {
		c->ts_syn = bpf_ktime_get_ns();
		/* the source address is chosen by now (tcp_v4_connect(): ip_route_connect(),
		 * then SYN_SENT): kept for a connection that ends elsewhere, which resets it */
		read_rcv_saddr(sk, c);
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
		read_rcv_saddr(sk, c);
		if (!c->had_port)
			c->closed_port = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	}
}

/* Raw tracepoint tp's programs name (NEST_FIRST_HIT) and name##_nested (NEST_TWIN_HIT): the same
 * work, and the same hit, by one statement of each, so the twins cannot drift apart. */
#define RAW_TP_TWINS(tp, name, which, hit, work, args...)                                      \
	HOOK_PROG("raw_tp/" #tp, BPF_PROG(name, args), NEST_FIRST_HIT(which, hit, work);       \
		  return 0)                                                                    \
	HOOK_PROG("raw_tp/" #tp, BPF_PROG(name##_nested, args), NEST_TWIN_HIT(which, hit, work); \
		  return 0)

/* tp_set_state, tp_set_state_nested. The twin has no early return for the changes set_state()
 * ignores either: a skipped run of the first is one of its misses whatever the change, and
 * only the twin's count takes it off. */
RAW_TP_TWINS(inet_sock_set_state, tp_set_state, NEST_SET_STATE,
	     nest_state_hit(sk, oldstate, newstate), set_state(ctx, sk, oldstate, newstate),
	     const struct sock *sk, int oldstate, int newstate)
/* tp_destroy_sock, tp_destroy_sock_nested */
RAW_TP_TWINS(tcp_destroy_sock, tp_destroy_sock, NEST_DESTROY_SOCK, (__u64)(unsigned long)sk,
	     on_release(ctx, sk, IPPROTO_TCP, 0, tp_style()), struct sock *sk)

/*
 * A process that exits closes its files without close(), and close_range() closes many: walk
 * the descriptors they close (sched_process_exit runs before exit_files()) and release the UDP
 * ports whose last reference goes. One descriptor per bpf_loop step, the open-fds word read
 * once per 64: the verifier sees the release path once (fast to load). Without bpf_loop (before
 * 5.17) the *_bounded twins of the two programs walk the first EPH_FD_WALK_BOUNDED descriptors
 * of the range with a bounded loop (the verifier sees the path once per step there: the bound
 * keeps their load short under qemu) and count the walks they cut short (EPH_CNT_WALK_CUT).
 * Twins, not a branch: a kernel before 5.13 refuses a program that passes a function's address
 * (bpf_loop's callback) even in code it never runs. The loader loads one of each pair
 * (user/node/attach.c).
 */
struct fd_walk {
	void *ctx; /* the program's, for the records (ev_submit()) */
	struct file **fds;
	unsigned long *open_fds;
	unsigned long word; /* open_fds word of the current 64 descriptors */
	__u32 first;	    /* the first descriptor walked */
	__u32 end;	    /* and the one after the last */
};

static __always_inline long fd_walk_step(__u32 i, struct fd_walk *x)
{
	struct file *f = NULL;
	__u32 fd = x->first + i;

	if (fd >= x->end)
		return 1;
	if ((!i || !(fd & 63)) &&
	    bpf_probe_read_kernel(&x->word, sizeof(x->word), &x->open_fds[fd / 64]))
		return 1;
	if (!((x->word >> (fd & 63)) & 1))
		return 0;
	if (bpf_probe_read_kernel(&f, sizeof(f), &x->fds[fd]) || !f)
		return 0;
	udp_file_closing(x->ctx, f);
	return 0;
}

static long fd_walk_one(__u32 i, void *data)
{
	return fd_walk_step(i, data);
}

/* Whether a descriptor of [lo, x->end) is open: the open-fds words alone, 64 at most (4096
 * descriptors; past them, open is assumed). */
static __always_inline bool fd_open_beyond(struct fd_walk *x, __u32 lo)
{
	__u64 bits;
	__u32 i;

	for (i = 0; i < 64 && lo < x->end; i++) {
		if (bpf_probe_read_kernel(&x->word, sizeof(x->word), &x->open_fds[lo / 64]))
			return true;
		bits = x->word >> (lo & 63);
		if (x->end - lo < 64 - (lo & 63))
			bits &= (1ull << (x->end - lo)) - 1;
		if (bits)
			return true;
		lo = (lo / 64 + 1) * 64;
	}
	return lo < x->end;
}

/* Walk descriptors [first, last] of a file table (last clamped to the table); bounded: without
 * bpf_loop. */
static __always_inline void fd_walk(void *ctx, struct files_struct *files, __u32 first,
				    __u32 last, bool bounded)
{
	struct fdtable *fdt = BPF_CORE_READ(files, fdt);
	struct fd_walk x = { .ctx = ctx, .first = first };
	__u32 max = BPF_CORE_READ(fdt, max_fds), i;

	x.fds = BPF_CORE_READ(fdt, fd);
	x.open_fds = BPF_CORE_READ(fdt, open_fds);
	x.end = last < max ? last + 1 : max;
	if (x.end <= first)
		return;
	if (!bounded) {
		bpf_loop(x.end - first, fd_walk_one, &x, 0);
		return;
	}
	for (i = 0; i < EPH_FD_WALK_BOUNDED; i++)
		if (fd_walk_step(i, &x))
			return;
	if (fd_open_beyond(&x, first + EPH_FD_WALK_BOUNDED))
		count(EPH_CNT_WALK_CUT);
}

static __always_inline int process_exit(void *ctx, bool bounded)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct files_struct *files = BPF_CORE_READ(task, files);

	/* only the last user of the file table: its files are closed right after this */
	if (!files || BPF_CORE_READ(files, count.counter) != 1)
		return 0;
	fd_walk(ctx, files, 0, ~0u, bounded);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(tp_process_exit)
{
	HOOKS_ONLY();
	return process_exit(ctx, false);
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(tp_process_exit_bounded)
{
	HOOKS_ONLY();
	return process_exit(ctx, true);
}

SEC("tracepoint/syscalls/sys_enter_close")
int tp_enter_close(struct syscall_trace_enter *ctx)
{
	HOOKS_ONLY();
	struct file *f = file_from_fd((int)ctx->args[0]);

	if (f)
		udp_file_closing(ctx, f);
	return 0;
}

/*
 * dup2() and dup3() onto an open descriptor close its file (fs/file.c: ksys_dup3() ->
 * do_dup2() -> filp_close(), 6.1 and 6.12): a UDP socket's port goes with its last reference, as
 * at close(). Not when the call fails before: dup3() flags other than O_CLOEXEC or oldfd ==
 * newfd (EINVAL; dup2() then closes nothing), newfd at or above RLIMIT_NOFILE, oldfd not open
 * (EBADF).
 */
#define O_CLOEXEC 02000000 /* x86 and arm64 alike (asm-generic/fcntl.h) */
#define RLIMIT_NOFILE 7

static __always_inline int enter_dup(void *ctx, long oldfd, long newfd, long flags)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file *f;

	if ((flags & ~O_CLOEXEC) || oldfd == newfd || newfd < 0 ||
	    (__u64)newfd >= BPF_CORE_READ(task, signal, rlim[RLIMIT_NOFILE].rlim_cur) ||
	    !file_from_fd(oldfd))
		return 0;
	f = file_from_fd(newfd);
	if (f)
		udp_file_closing(ctx, f);
	return 0;
}

#if defined(__TARGET_ARCH_x86) /* arm64 has dup3() only */
SEC("tracepoint/syscalls/sys_enter_dup2")
int tp_enter_dup2(struct syscall_trace_enter *ctx)
{
	HOOKS_ONLY();
	return enter_dup(ctx, (int)ctx->args[0], (int)ctx->args[1], 0);
}
#endif

SEC("tracepoint/syscalls/sys_enter_dup3")
int tp_enter_dup3(struct syscall_trace_enter *ctx)
{
	HOOKS_ONLY();
	return enter_dup(ctx, (int)ctx->args[0], (int)ctx->args[1], ctx->args[2]);
}

#define CLOSE_RANGE_CLOEXEC (1U << 2)

static __always_inline int enter_close_range(struct syscall_trace_enter *ctx, bool bounded)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct files_struct *files = BPF_CORE_READ(task, files);

	/* CLOSE_RANGE_CLOEXEC closes nothing now; with CLOSE_RANGE_UNSHARE the files stay
	 * referenced by the table unshared from: not their last reference */
	if (!files || (ctx->args[2] & CLOSE_RANGE_CLOEXEC))
		return 0;
	fd_walk(ctx, files, (__u32)ctx->args[0], (__u32)ctx->args[1], bounded);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_close_range")
int tp_enter_close_range(struct syscall_trace_enter *ctx)
{
	HOOKS_ONLY();
	return enter_close_range(ctx, false);
}

SEC("tracepoint/syscalls/sys_enter_close_range")
int tp_enter_close_range_bounded(struct syscall_trace_enter *ctx)
{
	HOOKS_ONLY();
	return enter_close_range(ctx, true);
}

#endif
