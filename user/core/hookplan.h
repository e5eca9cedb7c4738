/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The hook plan: which style (fentry/fexit, kprobe/kretprobe or a tracepoint stand-in) each
 * kernel function ephtrace hooks is traced with. With --backend auto, a hook whose fentry
 * program cannot be loaded or attached falls back to its kprobe pair alone, as libbpf-tools does
 * with fentry_can_attach(); the other hooks keep fentry. A hook whose kprobe fails too falls
 * back to the tracepoint backend's programs, with the rest of its group (EPH_STANDIN_*,
 * include/ephtrace.h: the hooks of a group share one call's bookkeeping, so one of them alone
 * cannot move). Pure bookkeeping on the programs' section names: the loader
 * (user/node/loader.c) tries, this remembers and explains.
 */
#ifndef EPH_HOOKPLAN_H
#define EPH_HOOKPLAN_H

#include <stdbool.h>
#include <stddef.h>

#define EPH_MAX_HOOKS 24

struct eph_hook {
	char fn[64];   /* the kernel function */
	int style;     /* EPH_BACKEND_FENTRY, _KPROBE or _TRACEPOINT (stood in for); 0: left out */
	char why[480]; /* why it is not in the plan's first style ("" when it is): "STYLE: why"
			* per style that failed, "; " between */
};

struct eph_hookplan {
	struct eph_hook hooks[EPH_MAX_HOOKS];
	int n;
	int style; /* the first style tried for every hook */
	bool mix;  /* a hook may fall back (--backend auto) */
};

/* The style of a hook program's section ("fentry/fn", "fexit/fn", "kprobe/fn", "kretprobe/fn")
 * and its function (*fn); 0 for any other section. */
int eph_hook_section(const char *sec, const char **fn);

void eph_hookplan_init(struct eph_hookplan *p, int style, bool mix);
/* Add the hook of a program's section (once per function); 0, or -E2BIG / -EINVAL. */
int eph_hookplan_add(struct eph_hookplan *p, const char *sec);
struct eph_hook *eph_hookplan_find(struct eph_hookplan *p, const char *fn);
/* Whether the program of this section is to be loaded: a hook section whose style is its
 * hook's current one. Other sections: false. */
bool eph_hookplan_wants(const struct eph_hookplan *p, const char *sec);
/* Leave a hook out (an optional function this kernel lacks). */
void eph_hookplan_leave_out(struct eph_hookplan *p, const char *fn, const char *why);
/* The program of `sec` failed (why): its hook falls back, from fentry to kprobe, from kprobe
 * to the tracepoint stand-in of its group (every hook of the group moves). 0 when it did, or
 * had already (a program of a style the hook has left); -EPERM when the plan does not mix,
 * -ENOENT when there is nothing to fall back to. */
int eph_hookplan_fall_back(struct eph_hookplan *p, const char *sec, const char *why);
/* The EPH_STANDIN_* group of a hooked function (0: none known). */
unsigned int eph_hook_group(const char *fn);
/* The groups stood in for: the .rodata standin. */
unsigned int eph_hookplan_standin(const struct eph_hookplan *p);
/* Hooks in the given style. */
int eph_hookplan_count(const struct eph_hookplan *p, int style);
/* Whether some hook is not in the plan's first style (left-out hooks aside). */
bool eph_hookplan_mixed(const struct eph_hookplan *p);
/* The backend the plan amounts to: fentry when any hook is fentry, else kprobe when any is,
 * else tracepoint. */
int eph_hookplan_backend(const struct eph_hookplan *p);
/* "inet_hash_connect fentry, inet_csk_get_port kprobe (fentry: WHY), ..." into buf (always
 * terminated); returns the length it needed. */
size_t eph_hookplan_describe(const struct eph_hookplan *p, char *buf, size_t len);

#endif
