// SPDX-License-Identifier: GPL-2.0
/*
 * The one per-process table (occupancy.h): a row per process that holds ports, failed, or was
 * seen within the window, with what every command reads of it: what it holds (top, status,
 * serve's process gauges, the events summary's HELD), its failures by errno, its cgroup and
 * container, whether it exited, and serve's failure series (struct eph_proc_series_ref,
 * metrics.h: the counters go on from a pid to the next of the same identity).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "occ_int.h"

/* dst = the characters of src (a comm field, EPH_COMM_LEN bytes) up to its first NUL, at most
 * EPH_COMM_LEN - 1 of them, and zeros after. Once per event: a word at a time where it can. */
static void copy_comm(char dst[EPH_COMM_LEN], const char src[EPH_COMM_LEN])
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && EPH_COMM_LEN == 16
	const uint64_t ones = 0x0101010101010101ull, highs = ones << 7;
	uint64_t w[2], z;

	memcpy(w, src, sizeof(w));
	w[1] &= ~(0xffull << 56); /* the last byte is always NUL */
	/* the lowest 0x80 of z marks the first zero byte (higher ones may be false) */
	z = (w[0] - ones) & ~w[0] & highs;
	if (z) {
		w[0] &= ((z & -z) >> 7) - 1;
		w[1] = 0;
	} else {
		z = (w[1] - ones) & ~w[1] & highs;
		w[1] &= ((z & -z) >> 7) - 1;
	}
	memcpy(dst, w, sizeof(w));
#else
	size_t n = strnlen(src, EPH_COMM_LEN - 1);

	memcpy(dst, src, n);
	memset(dst + n, 0, EPH_COMM_LEN - n);
#endif
}

static void proc_leave_series(struct eph_occ *occ, struct proc *p);

/*
 * An event (or a socket's owner) of a pid whose row says it exited: the pid was reused, as the
 * kernel does once it has gone round its pid space. What was the old process's own goes: its
 * failure series part (what waits there for a container settled first, with the old name and
 * what was known of its container, as its exit would have) and its container, to be learnt
 * anew (the tracker asks for pids whose container the table does not know). What the pid
 * holds stays with it: a TIME_WAIT of the old process is counted under the pid, as before. A
 * late event of the old process comes here too: the next check of exits marks it again.
 */
static int proc_revive(struct eph_occ *occ, struct proc *p)
{
	int err = 0;

	if (p->sref && occ->pc)
		err = eph_proc_counts__settle(occ->pc, p->sref, p->pid, p->comm,
					      p->ct_known ? p->ct : NULL);
	if (p->sref)
		proc_leave_series(occ, p);
	free(p->ct);
	p->ct = NULL;
	p->ct_known = false;
	p->exited = false;
	return err;
}

/* The process pid, created when new; comm (if not empty) and cgroup (if not NULL) update it.
 * A comm says the pid runs (an event, a socket's owner): a row marked exited is revived. */
int64_t proc_get(struct eph_occ *occ, uint32_t pid, const char *comm, const char *cgroup)
{
	int64_t i = eph_tab__get_n(&occ->procs, 0, &pid, sizeof(pid), hash_u32(pid), NULL);
	struct proc *p;

	if (i < 0)
		return i;
	p = eph_tab__rec(&occ->procs, i);
	if (p->exited && comm && comm[0] && proc_revive(occ, p) == -ENOMEM)
		return -ENOMEM;
	if (comm && comm[0])
		copy_comm(p->comm, comm);
	if (cgroup && (!p->cgroup || strcmp(p->cgroup, cgroup))) {
		char *c = strdup(cgroup);

		if (!c)
			return -ENOMEM;
		free(p->cgroup);
		p->cgroup = c;
	}
	return i;
}

/* ---- holds ----------------------------------------------------------------------------- */

/* The hashes of k->tuple, of its destination and of a hold's ids. */
/* ---- processes ------------------------------------------------------------------------- */

int eph_occ__set_cgroup(struct eph_occ *occ, uint32_t pid, const char *path)
{
	int64_t i;

	if (!pid || !path)
		return -EINVAL;
	i = proc_get(occ, pid, NULL, path);
	if (i == -ENOSPC)
		occ->dropped++;
	return i < 0 ? (int)i : 0;
}

/* What a process record owns (not the record). */
void proc_free(struct proc *p)
{
	free(p->cgroup);
	free(p->ct);
	free(p->sref); /* eph_occ__free(): the series table need not know */
	p->cgroup = NULL;
	p->ct = NULL;
	p->sref = NULL;
}

/* A copy of c, or NULL for none; *slot is replaced only when it differs. */
static int set_container(struct eph_container **slot, const struct eph_container *c)
{
	struct eph_container *n = NULL;

	if (c && !eph_container__none(c)) {
		if (*slot && !memcmp(*slot, c, sizeof(*c)))
			return 0;
		n = malloc(sizeof(*n));
		if (!n)
			return -ENOMEM;
		*n = *c;
	}
	free(*slot);
	*slot = n;
	return 0;
}

int eph_occ__set_container(struct eph_occ *occ, uint32_t pid, const struct eph_container *c)
{
	struct proc *p;
	int64_t i;
	int err;

	if (!pid)
		return -EINVAL;
	i = proc_get(occ, pid, NULL, NULL);
	if (i == -ENOSPC)
		occ->dropped++;
	if (i < 0)
		return i == -ENOSPC ? 0 : (int)i;
	p = eph_tab__rec(&occ->procs, i);
	err = set_container(&p->ct, c);
	if (!err)
		p->ct_known = true;
	return err;
}

/*
 * The container c (not none) uses netns. The first one seen owns it; another container of the
 * same pod leaves the pod as owner (container fields cleared); a container of another pod or
 * none keeps the first (a namespace is owned by whoever created it; the others joined).
 */
int eph_occ__claim_netns(struct eph_occ *occ, uint32_t netns, const struct eph_container *c)
{
	struct eph_container *o;
	int64_t i;

	if (!netns || !c || eph_container__none(c))
		return -EINVAL;
	i = ns_lookup(occ, netns);
	if (i < 0)
		return i == -ENOSPC ? 0 : (int)i;
	o = ((struct ns *)eph_tab__rec(&occ->nss, i))->owner;
	if (!o)
		return set_container(&((struct ns *)eph_tab__rec(&occ->nss, i))->owner, c);
	if (o->pod_uid[0] && !strcmp(o->pod_uid, c->pod_uid) && strcmp(o->id, c->id)) {
		o->id[0] = '\0';
		o->container[0] = '\0';
		o->runtime[0] = '\0';
	}
	return 0;
}

const struct eph_container *eph_occ__container(const struct eph_occ *occ, uint32_t pid)
{
	int64_t i = eph_tab__find(&occ->procs, 0, &pid, hash_u32(pid));

	return i < 0 ? NULL : ((const struct proc *)eph_tab__rec(&occ->procs, i))->ct;
}

bool eph_occ__container_known(const struct eph_occ *occ, uint32_t pid,
			      const struct eph_container **ct)
{
	int64_t i = eph_tab__find(&occ->procs, 0, &pid, hash_u32(pid));
	const struct proc *p;

	if (i < 0)
		return false;
	p = eph_tab__rec(&occ->procs, i);
	if (ct)
		*ct = p->ct;
	return p->ct_known;
}

const struct eph_container *eph_occ__netns_owner(const struct eph_occ *occ, uint32_t netns)
{
	const struct ns *ns = ns_find(occ, netns);

	return ns ? ns->owner : NULL;
}

void eph_occ__set_ct_filter(struct eph_occ *occ, const struct eph_ct_filter *f)
{
	occ->ctf = *f;
}

void eph_occ__for_each_proc(const struct eph_occ *occ, void (*fn)(uint32_t pid, void *ctx),
			    void *ctx)
{
	uint32_t i;

	for (i = 0; i < occ->procs.top; i++)
		if (occ->procs.used[i])
			fn(((const struct proc *)eph_tab__rec(&occ->procs, i))->pid, ctx);
}

void eph_occ__proc_exited(struct eph_occ *occ, uint32_t pid)
{
	int64_t i = eph_tab__find(&occ->procs, 0, &pid, hash_u32(pid));

	if (i >= 0)
		((struct proc *)eph_tab__rec(&occ->procs, i))->exited = true;
}

void eph_occ__check_exited(struct eph_occ *occ, bool (*alive)(uint32_t pid, void *ctx), void *ctx)
{
	uint32_t i;

	for (i = 0; i < occ->procs.top; i++) {
		struct proc *p = eph_tab__rec(&occ->procs, i);

		if (occ->procs.used[i] && !p->exited && !alive(p->pid, ctx))
			p->exited = true;
	}
}

/* ---- serve's failure series ---------------------------------------------------------- */

void eph_occ__count_series(struct eph_occ *occ, struct eph_proc_counts *pc)
{
	occ->pc = pc;
}

int proc_count_failure(struct eph_occ *occ, struct proc *p, int32_t err, uint64_t ts)
{
	int ret;

	eph_errs__count(&p->errs, err);
	if (!occ->pc)
		return 0;
	if (!p->sref) {
		ret = eph_proc_counts__join(occ->pc, &p->sref);
		if (ret == -ENOSPC) /* max processes counted at once: untracked */
			eph_proc_counts__lost(occ->pc, 1);
		if (ret)
			return ret == -ENOSPC ? 0 : ret;
	}
	eph_proc_counts__fail(occ->pc, p->sref, p->comm, err, ts);
	return 0;
}

/* The row's part of the failure series goes: it is gone, or exited (its series stays). */
static void proc_leave_series(struct eph_occ *occ, struct proc *p)
{
	if (occ->pc)
		eph_proc_counts__leave(occ->pc, p->sref);
	p->sref = NULL;
}

int eph_occ__settle_series(struct eph_occ *occ, uint64_t now_ns)
{
	uint32_t i;
	int err;

	for (i = 0; occ->pc && eph_proc_counts__pending(occ->pc) && i < occ->procs.top; i++) {
		struct proc *p = eph_tab__rec(&occ->procs, i);
		bool late;

		if (!occ->procs.used[i] || !p->sref || !p->sref->since_ns)
			continue;
		late = p->exited || now_ns >= p->sref->since_ns + EPH_PROC_PENDING_NS;
		if (!p->ct_known && !late)
			continue;
		/* never known by then: counted without container labels */
		err = eph_proc_counts__settle(occ->pc, p->sref, p->pid, p->comm,
					      p->ct_known ? p->ct : NULL);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Rows of processes with nothing held and no activity since horizon go, but those serve's
 * failure series need: a live process counting into a series, one whose failures wait for its
 * container.
 */
void procs_prune(struct eph_occ *occ, uint64_t horizon)
{
	uint32_t i;

	for (i = 0; i < occ->procs.top; i++) {
		struct proc *p = eph_tab__rec(&occ->procs, i);

		if (!occ->procs.used[i])
			continue;
		/* an exited process leaves its series at once (with pid labels the series goes
		 * with it), though its row may stay for its TIME_WAIT ports */
		if (p->sref && p->exited && !p->sref->since_ns)
			proc_leave_series(occ, p);
		if (p->held || p->last_ns > horizon)
			continue;
		if (p->sref && ((p->sref->series && !p->exited) || p->sref->since_ns))
			continue;
		proc_leave_series(occ, p);
		proc_free(p);
		eph_tab__del(&occ->procs, i, NULL);
	}
	if (occ->pc)
		eph_proc_counts__prune(occ->pc);
}
