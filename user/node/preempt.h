/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Whether the running kernel can preempt a BPF trampoline (fentry/fexit) program midway.
 *
 * The trampoline runs each program under rcu_read_lock() and migrate_disable() only
 * (kernel/bpf/trampoline.c, __bpf_prog_enter and, from 6.2, __bpf_prog_enter_recur), behind a
 * per-CPU guard, prog->active, meant to stop recursion. On a kernel that preempts kernel code
 * (PREEMPT_RT, or full preemption) a task can be preempted inside a program; another task that
 * then reaches the same hook on that CPU finds the guard taken and the kernel skips its run
 * (bpf_prog_info.recursion_misses): an event lost, for as long as the first task waits for the
 * CPU. kprobe and kretprobe handlers run with preemption disabled (ftrace_test_recursion_trylock
 * since 5.16, rethook_trampoline_handler), so there a program always finishes before another
 * starts on its CPU. Their guard, the CPU's bpf_prog_active, is also raised by a system call on
 * a BPF map (bpf_disable_instrumentation()), which such a kernel can preempt: ephtrace reads
 * its counters from memory (loader_read.c) so that `top` does not make those calls every second.
 */
#ifndef EPH_PREEMPT_H
#define EPH_PREEMPT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * From the kernel's version string (uname -v: "#1 SMP PREEMPT_RT Debian ...") and, for
 * PREEMPT_DYNAMIC kernels, the mode in /sys/kernel/debug/sched/preempt ("none voluntary
 * (full)"; eph_kernel_preempts_progs() falls back to preempt= on the kernel command line, then
 * to NULL: the build's default, voluntary on Debian, is assumed).
 * True when programs can be preempted; then `why` names the model ("PREEMPT_RT").
 */
bool eph_preempt_parse(const char *uts_version, const char *dyn_modes, char *why, size_t len);
/* The same for the running kernel. */
bool eph_kernel_preempts_progs(char *why, size_t len);

#endif
