// SPDX-License-Identifier: GPL-2.0
/*
 * The per-process summary printed when "ephtrace events" ends.
 *
 * Events arrive at up to millions per second, so adding one is O(1): processes live in a table
 * (table.h) indexed by pid. Sorting by pid happens once, when the summary is printed.
 *
 * It is not kept in the occupancy's process rows (occ_procs.c): its rows outlive them, one per
 * process ever counted for the whole run, and at about 200 bytes against a row's 1 KiB and
 * more (rates, container, cgroup) a long run with many short-lived processes stays small.
 * Its HELD comes from those rows at the end (eph_summary__set_held()).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errs.h"
#include "jsonw.h"
#include "summary.h"
#include "table.h"

/* The key of a process. `one` is always 1: a key is never all zero (eph_tab would not index
 * it), not even pid 0's (interrupt context). */
struct proc_key {
	uint32_t pid;
	uint32_t one;
};

struct proc {
	struct proc_key key;
	char comm[EPH_COMM_LEN];
	uint64_t assigned;
	uint64_t held; /* assignments not yet released, or the tracker's count (set_held) */
	struct eph_errs failed; /* a ninth errno and further ones: "OTHER" */
};

struct eph_summary {
	uint32_t max_procs;	     /* processes itemized at most */
	uint64_t untracked_assigned; /* events of processes beyond max_procs */
	uint64_t untracked_failed;
	uint64_t missed;      /* of the drops, program runs the kernel skipped */
	struct eph_tab procs; /* struct proc, by pid; never deleted: record i is the i-th seen */
};

/* The key of pid into k; returns its hash. */
static uint32_t proc_key(uint32_t pid, struct proc_key *k)
{
	k->pid = pid;
	k->one = 1;
	return eph_tab__hash(k, sizeof(*k));
}

static struct proc *summary_find(const struct eph_summary *s, uint32_t pid)
{
	struct proc_key k;
	uint32_t hash = proc_key(pid, &k);
	int64_t i = eph_tab__find_n(&s->procs, 0, &k, sizeof(k), hash);

	return i < 0 ? NULL : eph_tab__rec(&s->procs, i);
}

struct eph_summary *eph_summary__new(void)
{
	static const struct eph_tab_key key = { .off = offsetof(struct proc, key),
						.len = sizeof(struct proc_key) };
	struct eph_summary *s;

	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->max_procs = EPH_SUMMARY_MAX_PROCS;
	if (eph_tab__init(&s->procs, sizeof(struct proc), &key, 1, s->max_procs)) {
		free(s);
		return NULL;
	}
	return s;
}

void eph_summary__free(struct eph_summary *s)
{
	if (!s)
		return;
	eph_tab__fini(&s->procs);
	free(s);
}

int eph_summary__add(struct eph_summary *s, const struct eph_rec *r)
{
	const struct eph_event *ev = &r->ev;
	struct proc_key k;
	struct proc *p;
	uint32_t hash;
	int64_t i;

	switch (ev->type) {
	case EPH_ASSIGN:
	case EPH_FAIL:
		hash = proc_key(ev->pid, &k);
		i = eph_tab__get_n(&s->procs, 0, &k, sizeof(k), hash, NULL);
		if (i == -ENOSPC) { /* max_procs itemized already */
			if (ev->type == EPH_ASSIGN)
				s->untracked_assigned++;
			else
				s->untracked_failed++;
			return 0;
		}
		if (i < 0)
			return (int)i;
		p = eph_tab__rec(&s->procs, i);
		/* The latest name wins: a process may exec or rename itself. */
		memcpy(p->comm, eph_proc_comm(ev), EPH_COMM_LEN);
		p->comm[EPH_COMM_LEN - 1] = '\0';
		if (ev->type == EPH_ASSIGN) {
			p->assigned++;
			p->held++;
		} else {
			eph_errs__count(&p->failed, ev->err);
		}
		return 0;
	case EPH_RELEASE:
		if (!(ev->flags & EPH_F_OWNER))
			return 0;
		p = summary_find(s, ev->pid);
		if (p && p->held)
			p->held--;
		return 0;
	default:
		return 0; /* EPH_TIME_WAIT: still held; EPH_CONNECT: bind() took the port */
	}
}

void eph_summary__clear_held(struct eph_summary *s)
{
	struct proc *p;
	uint32_t i;

	for (i = 0; i < s->procs.len; i++) {
		p = eph_tab__rec(&s->procs, i);
		p->held = 0;
	}
}

void eph_summary__set_held(struct eph_summary *s, uint32_t pid, uint64_t held)
{
	struct proc *p = summary_find(s, pid);

	if (p)
		p->held = held;
}

static int cmp_proc_pid(const void *a, const void *b)
{
	const struct proc *pa = *(const struct proc *const *)a;
	const struct proc *pb = *(const struct proc *const *)b;

	return pa->key.pid < pb->key.pid ? -1 : pa->key.pid > pb->key.pid;
}

/* Pointers to the processes in pid order; *out is NULL (and 0 returned) when there are none. */
static int summary_sorted(const struct eph_summary *s, const struct proc ***out)
{
	const struct proc **v;
	uint32_t i;

	*out = NULL;
	if (!s->procs.len)
		return 0;
	v = calloc(s->procs.len, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < s->procs.len; i++)
		v[i] = eph_tab__rec(&s->procs, i);
	qsort(v, s->procs.len, sizeof(*v), cmp_proc_pid);
	*out = v;
	return 0;
}

static void proc_json(struct jsonw *w, const struct proc *p)
{
	jsonw_raw(w, "{");
	jsonw_u64(w, "pid", p->key.pid);
	jsonw_str(w, "comm", p->comm, sizeof(p->comm));
	jsonw_u64(w, "assigned", p->assigned);
	eph_errs__json(w, "failed", &p->failed);
	jsonw_u64(w, "held", p->held);
	jsonw_raw(w, "}");
}

void eph_summary__set_missed(struct eph_summary *s, uint64_t missed)
{
	s->missed = missed;
}

int eph_summary__json(const struct eph_summary *s, struct strbuf *sb, uint64_t dropped,
		      const char *backend)
{
	struct jsonw w = { .sb = sb };
	size_t start = sb->len;
	const struct proc **v;
	uint32_t i;

	w.err = summary_sorted(s, &v);
	if (w.err)
		return w.err;
	jsonw_raw(&w, "{");
	jsonw_str(&w, "event", "summary", SIZE_MAX);
	jsonw_key(&w, "processes");
	jsonw_raw(&w, "[");
	for (i = 0; i < s->procs.len; i++) {
		jsonw_elem(&w);
		proc_json(&w, v[i]);
	}
	jsonw_raw(&w, "]");
	if (s->untracked_assigned || s->untracked_failed) {
		jsonw_key(&w, "untracked");
		jsonw_raw(&w, "{");
		jsonw_u64(&w, "assigned", s->untracked_assigned);
		jsonw_u64(&w, "failed", s->untracked_failed);
		jsonw_raw(&w, "}");
	}
	jsonw_u64(&w, "dropped", dropped);
	if (s->missed)
		jsonw_u64(&w, "missed", s->missed);
	jsonw_str(&w, "backend", backend, SIZE_MAX);
	jsonw_raw(&w, "}");
	free(v);
	return jsonw_end(&w, start);
}

#define SUMMARY_TEXT_FMT "%-7s %-16s %10s %10s %10s  %s"

static void text_comm(const char *comm, char out[EPH_COMM_LEN])
{
	size_t i;

	for (i = 0; i < EPH_COMM_LEN - 1 && comm[i]; i++)
		out[i] = comm[i] >= 0x20 && comm[i] < 0x7f ? comm[i] : '?';
	out[i] = '\0';
}

static int proc_text(struct strbuf *sb, const struct proc *p)
{
	char pid[16], comm[EPH_COMM_LEN], assigned[24], failed[24], held[24];
	int err;

	snprintf(pid, sizeof(pid), "%" PRIu32, p->key.pid);
	text_comm(p->comm, comm);
	snprintf(assigned, sizeof(assigned), "%" PRIu64, p->assigned);
	snprintf(failed, sizeof(failed), "%" PRIu64, eph_errs__total(&p->failed));
	snprintf(held, sizeof(held), "%" PRIu64, p->held);
	err = sb_printf(sb, "\n" SUMMARY_TEXT_FMT, pid, comm, assigned, failed, held, "");
	if (!err)
		err = eph_errs__text(sb, &p->failed);
	return err;
}

/*
 * PID COMM ASSIGNED FAILED HELD FAILURES, one line per process (FAILED is the total, FAILURES
 * the count per errno name), then "dropped: N, backend: NAME". Lines are separated by '\n',
 * with none after the last.
 */
int eph_summary__text(const struct eph_summary *s, struct strbuf *sb, uint64_t dropped,
		      const char *backend)
{
	size_t old_len = sb->len;
	const struct proc **v;
	uint32_t i;
	int err;

	err = summary_sorted(s, &v);
	if (err)
		return err;
	err = sb_printf(sb, SUMMARY_TEXT_FMT, "PID", "COMM", "ASSIGNED", "FAILED", "HELD",
			"FAILURES");
	for (i = 0; !err && i < s->procs.len; i++)
		err = proc_text(sb, v[i]);
	if (!err && (s->untracked_assigned || s->untracked_failed))
		err = sb_printf(sb,
				"\nbeyond the first %u processes: %" PRIu64 " assigned, %" PRIu64
				" failed (not itemized)",
				s->max_procs, s->untracked_assigned, s->untracked_failed);
	if (!err)
		err = sb_printf(sb, "\ndropped: %" PRIu64, dropped);
	if (!err && s->missed)
		err = sb_printf(sb, " (%" PRIu64 " runs skipped by the kernel)", s->missed);
	if (!err)
		err = sb_printf(sb, ", backend: %s", backend ? backend : "-");
	free(v);
	if (err)
		sb_truncate(sb, old_len);
	return err;
}
