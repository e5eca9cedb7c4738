// SPDX-License-Identifier: GPL-2.0
/*
 * Port allocation failures by process identity (struct eph_proc_counts, metrics.h): the rows
 * of ephtrace_process_port_failures_total. Two tables of eph_tab (table.h):
 * - entries, by (pid, comm): what a pid counted before its container was known (pending), or
 *   the series its failures go to;
 * - series, by identity (pid with by_pid, comm, the container's labels): the counters.
 * A failure is one lookup of its entry and one add, to the entry or to its series.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "table.h"

#define PC_MAX_ERRNOS 8

struct pc_err {
	int32_t err;
	uint32_t __pad;
	uint64_t count;
};

/* The key of an entry. `one` is always 1: a key is never all zero (eph_tab would not index
 * it), not even for pid 0 (interrupt context) with no name. */
struct pc_pid_key {
	uint32_t pid;
	uint32_t one;
	char comm[EPH_COMM_LEN]; /* up to the first NUL, zeros after */
};

struct pc_entry {
	struct pc_pid_key key;
	uint32_t series;   /* index + 1 of its series; 0: pending */
	uint32_t nerrs;	   /* pending failures, before the series is known */
	uint64_t since_ns; /* the first pending failure (ts_ns) */
	struct pc_err errs[PC_MAX_ERRNOS];
};

/* The key of a series: exactly what its labels show (strings up to the first NUL, zeros
 * after), so that two series never have the same labels. pod_uid is kept so that a pod's
 * process outside any container still has a container that is not none. */
struct pc_ident {
	uint32_t pid; /* 0 without by_pid */
	uint32_t one;
	char comm[EPH_COMM_LEN];
	char id[(EPH_CT_ID_LEN + 3) & ~3];
	char pod_uid[(EPH_CT_UID_LEN + 3) & ~3];
	char pod[(EPH_CT_POD_LEN + 3) & ~3];
	char pod_namespace[EPH_CT_NAME_LEN];
	char container[EPH_CT_NAME_LEN];
};

struct pc_series {
	struct pc_ident key;
	uint32_t refs; /* entries that count into it */
	uint32_t nerrs;
	struct pc_err errs[PC_MAX_ERRNOS];
};

struct eph_proc_counts {
	struct eph_tab entries; /* struct pc_entry */
	struct eph_tab series;	/* struct pc_series */
	uint32_t pending;	/* entries with series 0 */
	bool by_pid;
	uint64_t untracked;
};

struct eph_proc_counts *eph_proc_counts__new(uint32_t max, bool by_pid)
{
	static const struct eph_tab_key ekey = { .off = offsetof(struct pc_entry, key),
						 .len = sizeof(struct pc_pid_key) };
	static const struct eph_tab_key skey = { .off = offsetof(struct pc_series, key),
						 .len = sizeof(struct pc_ident) };
	struct eph_proc_counts *pc;

	if (!max || max > (1u << 24))
		return NULL;
	pc = calloc(1, sizeof(*pc));
	if (!pc)
		return NULL;
	pc->by_pid = by_pid;
	if (eph_tab__init(&pc->entries, sizeof(struct pc_entry), &ekey, 1, max) ||
	    eph_tab__init(&pc->series, sizeof(struct pc_series), &skey, 1, max)) {
		eph_proc_counts__free(pc);
		return NULL;
	}
	return pc;
}

void eph_proc_counts__free(struct eph_proc_counts *pc)
{
	if (!pc)
		return;
	eph_tab__fini(&pc->entries);
	eph_tab__fini(&pc->series);
	free(pc);
}

/* dst (n bytes, zeroed) = src up to its first NUL, at most n - 1 bytes of it */
static void copy_str(char *dst, size_t n, const char *src, size_t srcn)
{
	size_t len = strnlen(src, srcn < n - 1 ? srcn : n - 1);

	memcpy(dst, src, len);
}

/* Count err in errs (n of them); false when PC_MAX_ERRNOS others are there. */
static bool count_err(struct pc_err *errs, uint32_t *n, int32_t err, uint64_t count)
{
	uint32_t i;

	for (i = 0; i < *n; i++) {
		if (errs[i].err == err) {
			errs[i].count += count;
			return true;
		}
	}
	if (*n == PC_MAX_ERRNOS)
		return false;
	errs[*n].err = err;
	errs[(*n)++].count = count;
	return true;
}

int eph_proc_counts__add(struct eph_proc_counts *pc, const struct eph_rec *r)
{
	const struct eph_event *ev = &r->ev;
	struct pc_pid_key k;
	struct pc_entry *e;
	uint32_t hash;
	int64_t i;

	if (ev->type != EPH_FAIL)
		return 0;
	memset(&k, 0, sizeof(k));
	k.pid = ev->pid;
	k.one = 1;
	copy_str(k.comm, sizeof(k.comm), eph_proc_comm(ev), EPH_COMM_LEN);
	hash = eph_tab__hash(&k, sizeof(k));
	i = eph_tab__find_n(&pc->entries, 0, &k, sizeof(k), hash);
	if (i < 0) {
		i = eph_tab__alloc(&pc->entries);
		if (i < 0) {
			pc->untracked++;
			return i == -ENOSPC ? 0 : (int)i;
		}
		e = eph_tab__rec(&pc->entries, i);
		e->key = k;
		e->since_ns = ev->ts_ns;
		eph_tab__link(&pc->entries, i, &hash);
		pc->pending++;
	}
	e = eph_tab__rec(&pc->entries, i);
	if (e->series) {
		struct pc_series *s = eph_tab__rec(&pc->series, e->series - 1);

		if (!count_err(s->errs, &s->nerrs, ev->err, 1))
			pc->untracked++;
	} else if (!count_err(e->errs, &e->nerrs, ev->err, 1)) {
		pc->untracked++;
	}
	return 0;
}

static void ident_of(const struct eph_proc_counts *pc, const struct pc_entry *e,
		     const struct eph_container *ct, struct pc_ident *id)
{
	memset(id, 0, sizeof(*id));
	id->pid = pc->by_pid ? e->key.pid : 0;
	id->one = 1;
	memcpy(id->comm, e->key.comm, sizeof(id->comm));
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

/*
 * Entry i's pending failures into the series of its identity (ct: its container, NULL when
 * none or not known), which it counts into from now on. -ENOSPC when the series table is
 * full (the entry stays pending), or -ENOMEM.
 */
static int settle(struct eph_proc_counts *pc, uint32_t i, const struct eph_container *ct)
{
	struct pc_entry *e = eph_tab__rec(&pc->entries, i);
	struct pc_series *s;
	struct pc_ident id;
	uint32_t hash, j;
	int64_t si;

	ident_of(pc, e, ct, &id);
	hash = eph_tab__hash(&id, sizeof(id));
	si = eph_tab__find_n(&pc->series, 0, &id, sizeof(id), hash);
	if (si < 0) {
		si = eph_tab__alloc(&pc->series);
		if (si < 0)
			return (int)si;
		s = eph_tab__rec(&pc->series, si);
		s->key = id;
		eph_tab__link(&pc->series, si, &hash);
	}
	s = eph_tab__rec(&pc->series, si);
	for (j = 0; j < e->nerrs; j++)
		if (!count_err(s->errs, &s->nerrs, e->errs[j].err, e->errs[j].count))
			pc->untracked += e->errs[j].count;
	e->nerrs = 0;
	e->series = si + 1;
	s->refs++;
	pc->pending--;
	return 0;
}

/* Entry i's pending failures, when no series can take them. */
static void drop_pending(struct eph_proc_counts *pc, struct pc_entry *e)
{
	uint32_t j;

	for (j = 0; j < e->nerrs; j++)
		pc->untracked += e->errs[j].count;
	e->nerrs = 0;
}

int eph_proc_counts__resolve(struct eph_proc_counts *pc,
			     int (*lookup)(uint32_t pid, void *ctx,
					   const struct eph_container **ct),
			     void *ctx)
{
	uint32_t i;
	int err;

	for (i = 0; pc->pending && i < pc->entries.top; i++) {
		const struct pc_entry *e = eph_tab__rec(&pc->entries, i);
		const struct eph_container *ct = NULL;

		if (!pc->entries.used[i] || e->series || lookup(e->key.pid, ctx, &ct) != 1)
			continue;
		err = settle(pc, i, ct);
		if (err == -ENOMEM)
			return err;
	}
	return 0;
}

int eph_proc_counts__prune(struct eph_proc_counts *pc, uint64_t now_ns,
			   bool (*alive)(uint32_t pid, void *ctx), void *ctx)
{
	uint32_t i;
	bool keep;
	int err;

	for (i = 0; i < pc->entries.top; i++) {
		struct pc_entry *e = eph_tab__rec(&pc->entries, i);
		bool gone;

		if (!pc->entries.used[i])
			continue;
		gone = !alive(e->key.pid, ctx);
		if (!e->series && (gone || now_ns >= e->since_ns + EPH_PROC_PENDING_NS)) {
			/* its container was never known: counted without */
			err = settle(pc, i, NULL);
			if (err == -ENOMEM)
				return err;
			if (err) { /* no room for a series: dropped, counted */
				drop_pending(pc, e);
				if (!gone)
					continue; /* its next failures: pending again */
				pc->pending--;
				eph_tab__del(&pc->entries, i, NULL);
				continue;
			}
		}
		if (!gone)
			continue;
		((struct pc_series *)eph_tab__rec(&pc->series, e->series - 1))->refs--;
		eph_tab__del(&pc->entries, i, NULL);
	}
	/* kept while the table is under half full, as the destinations' failure counters */
	keep = !pc->by_pid && pc->series.len < pc->series.max / 2;
	for (i = 0; !keep && i < pc->series.top; i++) {
		const struct pc_series *s = eph_tab__rec(&pc->series, i);

		if (pc->series.used[i] && !s->refs)
			eph_tab__del(&pc->series, i, NULL);
	}
	return 0;
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
		nf += s->nerrs;
		nc += s->nerrs && (s->key.id[0] || s->key.pod_uid[0]);
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

		if (!pc->series.used[i] || !s->nerrs)
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
		for (j = 0; j < s->nerrs; j++) {
			struct eph_metrics_proc_fail *o = &(*fails)[(*nfails)++];

			o->pid = s->key.pid;
			memcpy(o->comm, s->key.comm, EPH_COMM_LEN);
			o->err = s->errs[j].err;
			o->count = s->errs[j].count;
			o->ct = ct;
		}
	}
	return 0;
}
