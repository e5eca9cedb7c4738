// SPDX-License-Identifier: GPL-2.0
/*
 * Port allocation failures by process identity (struct eph_proc_counts, metrics.h): the series
 * of ephtrace_process_port_failures_total, one eph_tab (table.h) keyed by identity. What each
 * process counted before its container was known, and which series it counts into, is kept
 * in its row of the one per-process table, the occupancy's (struct eph_proc_series_ref in
 * each, occ_procs.c); a failure is one add, to the row's pending counts or to its series.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "table.h"

/* The key of a series: exactly what its labels show (strings up to the first NUL, zeros
 * after), so that two series never have the same labels. pod_uid is kept so that a pod's
 * process outside any container still has a container that is not none. */
struct pc_ident {
	uint32_t pid; /* 0 without by_pid */
	uint32_t one; /* always 1: a key is never all zero (eph_tab would not index it) */
	char comm[EPH_COMM_LEN];
	char id[(EPH_CT_ID_LEN + 3) & ~3];
	char pod_uid[(EPH_CT_UID_LEN + 3) & ~3];
	char pod[(EPH_CT_POD_LEN + 3) & ~3];
	char pod_namespace[EPH_CT_NAME_LEN];
	char container[EPH_CT_NAME_LEN];
};

struct pc_series {
	struct pc_ident key;
	uint32_t refs; /* processes that count into it */
	struct eph_errs errs;
};

struct eph_proc_counts {
	struct eph_tab series; /* struct pc_series */
	uint32_t pending;      /* processes with failures waiting for their container */
	uint32_t procs;	       /* processes with a struct eph_proc_series_ref (joined) */
	uint32_t max_procs;
	bool by_pid;
	uint64_t untracked;
};

struct eph_proc_counts *eph_proc_counts__new(uint32_t max, bool by_pid)
{
	static const struct eph_tab_key skey = { .off = offsetof(struct pc_series, key),
						 .len = sizeof(struct pc_ident) };
	struct eph_proc_counts *pc;

	if (!max || max > (1u << 24))
		return NULL;
	pc = calloc(1, sizeof(*pc));
	if (!pc)
		return NULL;
	pc->by_pid = by_pid;
	pc->max_procs = max;
	if (eph_tab__init(&pc->series, sizeof(struct pc_series), &skey, 1, max)) {
		free(pc);
		return NULL;
	}
	return pc;
}

void eph_proc_counts__free(struct eph_proc_counts *pc)
{
	if (!pc)
		return;
	eph_tab__fini(&pc->series);
	free(pc);
}

/* dst (n bytes, zeroed) = src up to its first NUL, at most n - 1 bytes of it */
static void copy_str(char *dst, size_t n, const char *src, size_t srcn)
{
	size_t len = strnlen(src, srcn < n - 1 ? srcn : n - 1);

	memcpy(dst, src, len);
}

static struct pc_series *series_of(const struct eph_proc_counts *pc,
				   const struct eph_proc_series_ref *ref)
{
	return eph_tab__rec(&pc->series, ref->series - 1);
}

/* The process leaves its series (it ends, or its name changed). */
static void unref(struct eph_proc_counts *pc, struct eph_proc_series_ref *ref)
{
	if (!ref->series)
		return;
	series_of(pc, ref)->refs--;
	ref->series = 0;
}

/* What the process's pending failures count is lost: counted in untracked. */
static void drop_pending(struct eph_proc_counts *pc, struct eph_proc_series_ref *ref)
{
	pc->untracked += eph_errs__total(&ref->pending);
	memset(&ref->pending, 0, sizeof(ref->pending));
	if (ref->since_ns) {
		ref->since_ns = 0;
		pc->pending--;
	}
}

int eph_proc_counts__join(struct eph_proc_counts *pc, struct eph_proc_series_ref **ref)
{
	if (pc->procs >= pc->max_procs)
		return -ENOSPC;
	*ref = calloc(1, sizeof(**ref));
	if (!*ref)
		return -ENOMEM;
	pc->procs++;
	return 0;
}

void eph_proc_counts__fail(struct eph_proc_counts *pc, struct eph_proc_series_ref *ref,
			   const char *comm, int32_t err, uint64_t ts_ns)
{
	struct eph_errs *to;

	/* a process that exec()s another name is another identity from then on */
	if (ref->series && strncmp(series_of(pc, ref)->key.comm, comm, EPH_COMM_LEN - 1))
		unref(pc, ref);
	if (ref->series) {
		to = &series_of(pc, ref)->errs;
	} else {
		to = &ref->pending;
		if (!ref->since_ns) {
			ref->since_ns = ts_ns ? ts_ns : 1;
			pc->pending++;
		}
	}
	if (!eph_errs__add(to, err, 1))
		pc->untracked++;
}

void eph_proc_counts__lost(struct eph_proc_counts *pc, uint64_t n)
{
	pc->untracked += n;
}

static void ident_of(const struct eph_proc_counts *pc, uint32_t pid, const char *comm,
		     const struct eph_container *ct, struct pc_ident *id)
{
	memset(id, 0, sizeof(*id));
	id->pid = pc->by_pid ? pid : 0;
	id->one = 1;
	copy_str(id->comm, sizeof(id->comm), comm, EPH_COMM_LEN);
	if (!ct || eph_container__none(ct))
		return;
	/* what the labels show (metrics_rows.c ct_labels): the id, and a pod's names */
	copy_str(id->id, sizeof(id->id), ct->id, sizeof(ct->id));
	copy_str(id->pod_uid, sizeof(id->pod_uid), ct->pod_uid, sizeof(ct->pod_uid));
	if (!ct->pod[0])
		return;
	copy_str(id->pod, sizeof(id->pod), ct->pod, sizeof(ct->pod));
	copy_str(id->pod_namespace, sizeof(id->pod_namespace), ct->pod_namespace,
		 sizeof(ct->pod_namespace));
	copy_str(id->container, sizeof(id->container), ct->container, sizeof(ct->container));
}

int eph_proc_counts__settle(struct eph_proc_counts *pc, struct eph_proc_series_ref *ref,
			    uint32_t pid, const char *comm, const struct eph_container *ct)
{
	struct pc_series *s;
	struct pc_ident id;
	uint32_t hash, j;
	int64_t si;

	if (!ref->since_ns)
		return 0;
	ident_of(pc, pid, comm, ct, &id);
	hash = eph_tab__hash(&id, sizeof(id));
	si = eph_tab__find_n(&pc->series, 0, &id, sizeof(id), hash);
	if (si < 0) {
		si = eph_tab__alloc(&pc->series);
		if (si == -ENOSPC) { /* no room for a series: dropped, counted */
			drop_pending(pc, ref);
			return 0;
		}
		if (si < 0)
			return (int)si;
		s = eph_tab__rec(&pc->series, si);
		s->key = id;
		eph_tab__link(&pc->series, si, &hash);
	}
	s = eph_tab__rec(&pc->series, si);
	for (j = 0; j < ref->pending.n; j++)
		if (!eph_errs__add(&s->errs, ref->pending.v[j].err, ref->pending.v[j].count))
			pc->untracked += ref->pending.v[j].count;
	pc->untracked += ref->pending.other;
	memset(&ref->pending, 0, sizeof(ref->pending));
	ref->since_ns = 0;
	pc->pending--;
	ref->series = si + 1;
	s->refs++;
	return 0;
}

void eph_proc_counts__leave(struct eph_proc_counts *pc, struct eph_proc_series_ref *ref)
{
	if (!ref)
		return;
	drop_pending(pc, ref);
	unref(pc, ref);
	free(ref);
	pc->procs--;
}

void eph_proc_counts__prune(struct eph_proc_counts *pc)
{
	/* kept while the table is under half full, as the destinations' failure counters */
	bool keep = !pc->by_pid && pc->series.len < pc->series.max / 2;
	uint32_t i;

	for (i = 0; !keep && i < pc->series.top; i++) {
		const struct pc_series *s = eph_tab__rec(&pc->series, i);

		if (pc->series.used[i] && !s->refs)
			eph_tab__del(&pc->series, i, NULL);
	}
}

uint64_t eph_proc_counts__untracked(const struct eph_proc_counts *pc)
{
	return pc->untracked;
}

uint32_t eph_proc_counts__pending(const struct eph_proc_counts *pc)
{
	return pc->pending;
}

uint32_t eph_proc_counts__series(const struct eph_proc_counts *pc)
{
	return pc->series.len;
}

int eph_proc_counts__rows(const struct eph_proc_counts *pc, struct eph_metrics_proc_fail **fails,
			  size_t *nfails, struct eph_container **cts)
{
	size_t nf = 0, nc = 0;
	uint32_t i, j;

	*fails = NULL;
	*cts = NULL;
	*nfails = 0;
	for (i = 0; i < pc->series.top; i++) {
		const struct pc_series *s = eph_tab__rec(&pc->series, i);

		if (!pc->series.used[i])
			continue;
		nf += s->errs.n;
		nc += s->errs.n && (s->key.id[0] || s->key.pod_uid[0]);
	}
	if (nf && !(*fails = calloc(nf, sizeof(**fails))))
		return -ENOMEM;
	if (nc && !(*cts = calloc(nc, sizeof(**cts)))) {
		free(*fails);
		*fails = NULL;
		return -ENOMEM;
	}
	nc = 0;
	for (i = 0; i < pc->series.top; i++) {
		const struct pc_series *s = eph_tab__rec(&pc->series, i);
		struct eph_container *ct = NULL;

		if (!pc->series.used[i] || !s->errs.n)
			continue;
		if (s->key.id[0] || s->key.pod_uid[0]) {
			ct = &(*cts)[nc++];
			memcpy(ct->id, s->key.id, sizeof(ct->id) - 1);
			memcpy(ct->pod_uid, s->key.pod_uid, sizeof(ct->pod_uid) - 1);
			memcpy(ct->pod, s->key.pod, sizeof(ct->pod) - 1);
			memcpy(ct->pod_namespace, s->key.pod_namespace,
			       sizeof(ct->pod_namespace) - 1);
			memcpy(ct->container, s->key.container, sizeof(ct->container) - 1);
		}
		for (j = 0; j < s->errs.n; j++) {
			struct eph_metrics_proc_fail *o = &(*fails)[(*nfails)++];

			o->pid = s->key.pid;
			memcpy(o->comm, s->key.comm, EPH_COMM_LEN);
			o->err = s->errs.v[j].err;
			o->count = s->errs.v[j].count;
			o->ct = ct;
		}
	}
	return 0;
}
