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
	     on_dgram_connect_exit(ctx, style), struct socket *sock, struct sockaddr *uaddr,   \
	     int len, int flags)

/* Programs fentry_NAME and fexit_NAME (with ret) */
#define FENTRY_FEXIT(func, name, enter, exit, args...)                                         \
	HOOK_PROG("fentry/" #func, BPF_PROG(fentry_##name, args), return enter)                \
	HOOK_PROG("fexit/" #func, BPF_PROG(fexit_##name, args, int ret), return exit)

ENTRY_EXIT_HOOKS(FENTRY_FEXIT, EPH_BACKEND_FENTRY)

/*
 * The hooks without an exit: releases and TIME_WAIT moves, once for both styles.
 * HOOK(func, name, which, work, args...): which is the hook's NEST_* (fentry's twins below),
 * work the handler's call, with style each record's EPH_BACKEND_*.
 */
#define ENTRY_HOOKS(HOOK, style)                                                               \
	HOOK(inet_put_port, put_port, NEST_PUT_PORT,                                           \
	     on_release(ctx, sk, IPPROTO_TCP, 0, style), struct sock *sk)                      \
	HOOK(inet_twsk_hashdance, twsk_hashdance, NEST_TW, on_time_wait(ctx, sk, tw, style),   \
	     struct inet_timewait_sock *tw, struct sock *sk)                                   \
	HOOK(inet_twsk_hashdance_schedule, twsk_hashdance_schedule, NEST_TW,                   \
	     on_time_wait(ctx, sk, tw, style), struct inet_timewait_sock *tw, struct sock *sk) \
	HOOK(inet_twsk_bind_unhash, twsk_bind_unhash, NEST_TW_UNHASH,                          \
	     on_release(ctx, tw, IPPROTO_TCP, EPH_F_TW, style), struct inet_timewait_sock *tw) \
	HOOK(udp_lib_unhash, udp_unhash, NEST_UDP_UNHASH,                                      \
	     on_release(ctx, sk, IPPROTO_UDP, 0, style), struct sock *sk)

/*
 * They run in softirq too: each has a *_nested twin (nest.bpf.h) that does the same work, for
 * the runs the kernel skipped the first for. One macro defines both, so the two cannot drift
 * apart: programs fentry_NAME (NEST_FIRST) and fentry_NAME_nested (NEST_TWIN).
 */
#define FENTRY_TWINS(func, name, which, work, args...)                                         \
	HOOK_PROG("fentry/" #func, BPF_PROG(fentry_##name, args), NEST_FIRST(which, work);     \
		  return 0)                                                                    \
	HOOK_PROG("fentry/" #func, BPF_PROG(fentry_##name##_nested, args),                     \
		  NEST_TWIN(which, work); return 0)

ENTRY_HOOKS(FENTRY_TWINS, EPH_BACKEND_FENTRY)

/* --- kprobe/kretprobe ---------------------------------------------------------------------- */

/* Programs kprobe_NAME and kretprobe_NAME (ret its only argument) */
#define KPROBE_KRETPROBE(func, name, enter, exit, args...)                                     \
	HOOK_PROG("kprobe/" #func, BPF_KPROBE(kprobe_##name, args), return enter)              \
	HOOK_PROG("kretprobe/" #func, BPF_KRETPROBE(kretprobe_##name, int ret), return exit)

ENTRY_EXIT_HOOKS(KPROBE_KRETPROBE, EPH_BACKEND_KPROBE)

/* Programs kprobe_NAME: a kprobe has no twin (a kprobe that would nest is missed, and counted:
 * user/node/loader_read.c) */
#define KPROBE_ONE(func, name, which, work, args...)                                           \
	HOOK_PROG("kprobe/" #func, BPF_KPROBE(kprobe_##name, args), work; return 0)

ENTRY_HOOKS(KPROBE_ONE, EPH_BACKEND_KPROBE)

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
