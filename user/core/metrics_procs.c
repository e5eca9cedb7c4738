// SPDX-License-Identifier: GPL-2.0
/*
 * Processes seen in events (struct eph_proc_counts, metrics.h): ports held and failures by
 * errno per pid, the process rows of serve until the occupancy tracker provides its own.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define PC_MAX_ERRNOS 8

struct pc_proc {
	uint32_t pid;
	uint32_t nerrs;
	char comm[EPH_COMM_LEN];
	uint64_t held;
	struct {
		int32_t err;
		uint64_t count;
	} errs[PC_MAX_ERRNOS];
};

struct eph_proc_counts {
	struct pc_proc *procs; /* dense */
	uint32_t n, cap, max;
	uint32_t *slots; /* index into procs + 1; 0 = empty; 2 * max rounded up to a power of 2 */
	uint32_t nslots;
	uint64_t untracked;
};

static uint32_t pc_hash(uint32_t pid, uint32_t nslots)
{
	return (pid * 2654435769u) >> (32 - __builtin_ctz(nslots)); /* Fibonacci hashing */
}

static struct pc_proc *pc_find(const struct eph_proc_counts *pc, uint32_t pid)
{
	uint32_t i = pc_hash(pid, pc->nslots);

	while (pc->slots[i]) {
		struct pc_proc *p = &pc->procs[pc->slots[i] - 1];

		if (p->pid == pid)
			return p;
		i = (i + 1) & (pc->nslots - 1);
	}
	return NULL;
}

static void pc_insert_slot(struct eph_proc_counts *pc, uint32_t idx)
{
	uint32_t i = pc_hash(pc->procs[idx].pid, pc->nslots);

	while (pc->slots[i])
		i = (i + 1) & (pc->nslots - 1);
	pc->slots[i] = idx + 1;
}

struct eph_proc_counts *eph_proc_counts__new(uint32_t max)
{
	struct eph_proc_counts *pc;

	if (!max || max > (1u << 24))
		return NULL;
	pc = calloc(1, sizeof(*pc));
	if (!pc)
		return NULL;
	pc->max = max;
	pc->nslots = 2;
	while (pc->nslots < 2 * max)
		pc->nslots *= 2;
	pc->slots = calloc(pc->nslots, sizeof(*pc->slots));
	if (!pc->slots) {
		free(pc);
		return NULL;
	}
	return pc;
}

void eph_proc_counts__free(struct eph_proc_counts *pc)
{
	if (!pc)
		return;
	free(pc->procs);
	free(pc->slots);
	free(pc);
}

/* The entry of pid, created if there is room; NULL with *err = 0 when the table is full. */
static struct pc_proc *pc_get(struct eph_proc_counts *pc, uint32_t pid, int *err)
{
	struct pc_proc *p = pc_find(pc, pid);

	*err = 0;
	if (p)
		return p;
	if (pc->n == pc->max)
		return NULL;
	if (pc->n == pc->cap) {
		uint32_t cap = pc->cap ? pc->cap * 2 : 64;

		cap = cap > pc->max ? pc->max : cap;
		p = reallocarray(pc->procs, cap, sizeof(*p));
		if (!p) {
			*err = -ENOMEM;
			return NULL;
		}
		pc->procs = p;
		pc->cap = cap;
	}
	p = &pc->procs[pc->n];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	pc_insert_slot(pc, pc->n++);
	return p;
}

/* false when the process already counts PC_MAX_ERRNOS other errnos */
static bool pc_count_failure(struct pc_proc *p, int32_t err)
{
	uint32_t i;

	for (i = 0; i < p->nerrs; i++) {
		if (p->errs[i].err == err) {
			p->errs[i].count++;
			return true;
		}
	}
	if (p->nerrs == PC_MAX_ERRNOS)
		return false;
	p->errs[p->nerrs].err = err;
	p->errs[p->nerrs++].count = 1;
	return true;
}

int eph_proc_counts__add(struct eph_proc_counts *pc, const struct eph_rec *r)
{
	const struct eph_event *ev = &r->ev;
	struct pc_proc *p;
	int err;

	switch (ev->type) {
	case EPH_ASSIGN:
	case EPH_FAIL:
		p = pc_get(pc, ev->pid, &err);
		if (!p) {
			pc->untracked++;
			return err;
		}
		/* the process's latest name wins */
		memcpy(p->comm, eph_proc_comm(ev), EPH_COMM_LEN);
		p->comm[EPH_COMM_LEN - 1] = '\0';
		if (ev->type == EPH_ASSIGN)
			p->held++;
		else if (!pc_count_failure(p, ev->err))
			pc->untracked++;
		return 0;
	case EPH_TIME_WAIT:
		/* The port is still held, and its release will come, unless the backend cannot
		 * see the end of TIME_WAIT (EPH_F_TW, tracepoints): then it is let go now rather
		 * than counted as held for ever. */
		if (!(ev->flags & EPH_F_TW))
			return 0;
		/* fall through */
	case EPH_RELEASE:
		if (!(ev->flags & EPH_F_OWNER))
			return 0;
		p = pc_find(pc, ev->pid);
		if (p && p->held)
			p->held--;
		return 0;
	default:
		return 0;
	}
}

void eph_proc_counts__prune(struct eph_proc_counts *pc, bool (*alive)(uint32_t pid, void *ctx),
			    void *ctx)
{
	uint32_t i, k = 0;

	for (i = 0; i < pc->n; i++) {
		if (!pc->procs[i].held && !alive(pc->procs[i].pid, ctx))
			continue;
		if (k != i)
			pc->procs[k] = pc->procs[i];
		k++;
	}
	if (k == pc->n)
		return;
	pc->n = k;
	memset(pc->slots, 0, pc->nslots * sizeof(*pc->slots));
	for (i = 0; i < pc->n; i++)
		pc_insert_slot(pc, i);
}

uint64_t eph_proc_counts__untracked(const struct eph_proc_counts *pc)
{
	return pc->untracked;
}

int eph_proc_counts__rows(const struct eph_proc_counts *pc, struct eph_metrics_proc **procs,
			  size_t *nprocs, struct eph_metrics_proc_fail **fails, size_t *nfails)
{
	size_t np = 0, nf = 0;
	uint32_t i, j;

	*procs = NULL;
	*fails = NULL;
	*nprocs = *nfails = 0;
	for (i = 0; i < pc->n; i++) {
		np += pc->procs[i].held > 0;
		nf += pc->procs[i].nerrs;
	}
	if (np && !(*procs = calloc(np, sizeof(**procs))))
		return -ENOMEM;
	if (nf && !(*fails = calloc(nf, sizeof(**fails)))) {
		free(*procs);
		*procs = NULL;
		return -ENOMEM;
	}
	for (i = 0; i < pc->n; i++) {
		const struct pc_proc *p = &pc->procs[i];

		if (p->held) {
			struct eph_metrics_proc *o = &(*procs)[(*nprocs)++];

			o->pid = p->pid;
			memcpy(o->comm, p->comm, EPH_COMM_LEN);
			o->held = p->held;
		}
		for (j = 0; j < p->nerrs; j++) {
			struct eph_metrics_proc_fail *o = &(*fails)[(*nfails)++];

			o->pid = p->pid;
			memcpy(o->comm, p->comm, EPH_COMM_LEN);
			o->err = p->errs[j].err;
			o->count = p->errs[j].count;
		}
	}
	return 0;
}
