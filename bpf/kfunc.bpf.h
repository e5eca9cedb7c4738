/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fentry/fexit and kprobe/kretprobe wrappers: one SEC() program per hook and style, each
 * calling a handler of handlers.bpf.h. Included by ephtrace.bpf.c. Each passes its own style
 * to the records it fills: the loader may mix the two, one per hook (user/core/hookplan.h).
 */
#ifndef EPH_KFUNC_BPF_H
#define EPH_KFUNC_BPF_H

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
	return on_hash_connect_exit(ctx, ret, EPH_BACKEND_FENTRY);
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
	return on_hash_connect_exit(ctx, ret, EPH_BACKEND_FENTRY);
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
	return on_get_port_exit(ctx, ret, EPH_BACKEND_FENTRY);
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
	return on_get_port_exit(ctx, ret, EPH_BACKEND_FENTRY);
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

/*
 * Releases and TIME_WAIT moves run in softirq too: each has a *_nested twin (nest.bpf.h) that
 * does the same work, for the runs the kernel skipped the first for. One macro defines both, so
 * the two cannot drift apart: FENTRY_TWINS(func, name, which, work, args...) makes
 * fentry/func programs name (NEST_FIRST) and name##_nested (NEST_TWIN).
 */
#define FENTRY_TWINS(func, name, which, work, args...)                                         \
	SEC("fentry/" #func)                                                                   \
	int BPF_PROG(name, args)                                                               \
	{                                                                                      \
		HOOKS_ONLY();                                                                  \
		NEST_FIRST(which, work);                                                       \
		return 0;                                                                      \
	}                                                                                      \
	SEC("fentry/" #func)                                                                   \
	int BPF_PROG(name##_nested, args)                                                      \
	{                                                                                      \
		HOOKS_ONLY();                                                                  \
		NEST_TWIN(which, work);                                                        \
		return 0;                                                                      \
	}

/* fentry_put_port, fentry_put_port_nested */
FENTRY_TWINS(inet_put_port, fentry_put_port, NEST_PUT_PORT,
	     on_release(ctx, sk, IPPROTO_TCP, 0, EPH_BACKEND_FENTRY), struct sock *sk)
/* fentry_twsk_hashdance, fentry_twsk_hashdance_nested */
FENTRY_TWINS(inet_twsk_hashdance, fentry_twsk_hashdance, NEST_TW,
	     on_time_wait(ctx, sk, tw, EPH_BACKEND_FENTRY), struct inet_timewait_sock *tw,
	     struct sock *sk)
/* fentry_twsk_hashdance_schedule, fentry_twsk_hashdance_schedule_nested */
FENTRY_TWINS(inet_twsk_hashdance_schedule, fentry_twsk_hashdance_schedule, NEST_TW,
	     on_time_wait(ctx, sk, tw, EPH_BACKEND_FENTRY), struct inet_timewait_sock *tw,
	     struct sock *sk)
/* fentry_twsk_bind_unhash, fentry_twsk_bind_unhash_nested */
FENTRY_TWINS(inet_twsk_bind_unhash, fentry_twsk_bind_unhash, NEST_TW_UNHASH,
	     on_release(ctx, tw, IPPROTO_TCP, EPH_F_TW, EPH_BACKEND_FENTRY),
	     struct inet_timewait_sock *tw)
/* fentry_udp_unhash, fentry_udp_unhash_nested */
FENTRY_TWINS(udp_lib_unhash, fentry_udp_unhash, NEST_UDP_UNHASH,
	     on_release(ctx, sk, IPPROTO_UDP, 0, EPH_BACKEND_FENTRY), struct sock *sk)

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
	return on_hash_connect_exit(ctx, ret, EPH_BACKEND_KPROBE);
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
	return on_hash_connect_exit(ctx, ret, EPH_BACKEND_KPROBE);
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
	return on_get_port_exit(ctx, ret, EPH_BACKEND_KPROBE);
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
	return on_get_port_exit(ctx, ret, EPH_BACKEND_KPROBE);
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
	on_release(ctx, sk, IPPROTO_TCP, 0, EPH_BACKEND_KPROBE);
	return 0;
}

SEC("kprobe/inet_twsk_hashdance")
int BPF_KPROBE(kprobe_twsk_hashdance, struct inet_timewait_sock *tw, struct sock *sk)
{
	HOOKS_ONLY();
	on_time_wait(ctx, sk, tw, EPH_BACKEND_KPROBE);
	return 0;
}

SEC("kprobe/inet_twsk_hashdance_schedule")
int BPF_KPROBE(kprobe_twsk_hashdance_schedule, struct inet_timewait_sock *tw, struct sock *sk)
{
	HOOKS_ONLY();
	on_time_wait(ctx, sk, tw, EPH_BACKEND_KPROBE);
	return 0;
}

SEC("kprobe/inet_twsk_bind_unhash")
int BPF_KPROBE(kprobe_twsk_bind_unhash, struct inet_timewait_sock *tw)
{
	HOOKS_ONLY();
	on_release(ctx, tw, IPPROTO_TCP, EPH_F_TW, EPH_BACKEND_KPROBE);
	return 0;
}

SEC("kprobe/udp_lib_unhash")
int BPF_KPROBE(kprobe_udp_unhash, struct sock *sk)
{
	HOOKS_ONLY();
	on_release(ctx, sk, IPPROTO_UDP, 0, EPH_BACKEND_KPROBE);
	return 0;
}

/* --- both styles ------------------------------------------------------------------------------ */

/*
 * A thread's end: its calls still in the table go with it. A kretprobe that found its maxactive
 * instances in use never runs its program (counted as missed), so the entry's context of that
 * call stays behind; the thread's next call of the same hook would overwrite it, but a thread
 * that exits first would leave it for good, and enough of them fill the table (then counted as
 * calls not followed). do_exit() runs this tracepoint for every thread (kernel/exit.c, 6.1 and
 * 6.12), in the thread itself, so the keys are its own.
 */
SEC("raw_tp/sched_process_exit")
int BPF_PROG(kf_thread_exit)
{
	HOOKS_ONLY();
	call_del(SLOT_HASH_CONNECT);
	call_del(SLOT_GET_PORT);
	call_del(SLOT_AUTOBIND);
	call_del(SLOT_DGRAM);
	return 0;
}

#endif
