/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fentry/fexit and kprobe/kretprobe wrappers: one SEC() program per hook and style, each
 * calling a handler of handlers.bpf.h. Included by ephtrace.bpf.c. Each passes its own style
 * to the records it fills: the loader may mix the two, one per hook (user/core/hookplan.h).
 */
#ifndef EPH_KFUNC_BPF_H
#define EPH_KFUNC_BPF_H

/* --- fentry/fexit ---------------------------------------------------------------------------- */

/*
 * The hooks with an entry and an exit, each a call of its handler, once for both styles:
 * HOOK(func, name, enter, exit, args...) for kernel function func, whose arguments are args
 * (all of them: fexit's ret comes after the last); style is each record's EPH_BACKEND_*.
 */
#define ENTRY_EXIT_HOOKS(HOOK, style)                                                          \
	HOOK(inet_hash_connect, hash_connect, on_hash_connect_enter(sk),                       \
	     on_hash_connect_exit(ctx, ret, style), struct inet_timewait_death_row *dr,        \
	     struct sock *sk)                                                                  \
	HOOK(inet6_hash_connect, hash6_connect, on_hash_connect_enter(sk),                     \
	     on_hash_connect_exit(ctx, ret, style), struct inet_timewait_death_row *dr,        \
	     struct sock *sk)                                                                  \
	HOOK(inet_csk_get_port, csk_get_port, on_get_port_enter(sk, snum),                     \
	     on_get_port_exit(ctx, ret, style), struct sock *sk, unsigned short snum)          \
	HOOK(udp_lib_get_port, udp_get_port, on_get_port_enter(sk, snum),                      \
	     on_get_port_exit(ctx, ret, style), struct sock *sk, unsigned short snum,          \
	     unsigned int hash2)                                                               \
	HOOK(inet_autobind, autobind, on_autobind_enter(sk), on_autobind_exit(), struct sock *sk) \
	HOOK(inet_dgram_connect, dgram_connect, on_dgram_connect_enter(sock, uaddr),           \
	     on_dgram_connect_exit(), struct socket *sock, struct sockaddr *uaddr, int len,    \
	     int flags)

/* Programs fentry_NAME and fexit_NAME (with ret) */
#define FENTRY_FEXIT(func, name, enter, exit, args...)                                         \
	HOOK_PROG("fentry/" #func, BPF_PROG(fentry_##name, args), return enter)                \
	HOOK_PROG("fexit/" #func, BPF_PROG(fexit_##name, args, int ret), return exit)

ENTRY_EXIT_HOOKS(FENTRY_FEXIT, EPH_BACKEND_FENTRY)

/*
 * Releases and TIME_WAIT moves run in softirq too: each has a *_nested twin (nest.bpf.h) that
 * does the same work, for the runs the kernel skipped the first for. One macro defines both, so
 * the two cannot drift apart: FENTRY_TWINS(func, name, which, work, args...) makes
 * fentry/func programs name (NEST_FIRST) and name##_nested (NEST_TWIN).
 */
#define FENTRY_TWINS(func, name, which, work, args...)                                         \
	HOOK_PROG("fentry/" #func, BPF_PROG(name, args), NEST_FIRST(which, work); return 0)    \
	HOOK_PROG("fentry/" #func, BPF_PROG(name##_nested, args), NEST_TWIN(which, work);      \
		  return 0)

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

/* Programs kprobe_NAME and kretprobe_NAME (ret its only argument) */
#define KPROBE_KRETPROBE(func, name, enter, exit, args...)                                     \
	HOOK_PROG("kprobe/" #func, BPF_KPROBE(kprobe_##name, args), return enter)              \
	HOOK_PROG("kretprobe/" #func, BPF_KRETPROBE(kretprobe_##name, int ret), return exit)

ENTRY_EXIT_HOOKS(KPROBE_KRETPROBE, EPH_BACKEND_KPROBE)

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
