// SPDX-License-Identifier: GPL-2.0
/*
 * The tracker's jobs: what the event side asks for (job_new), the collecting (job_run: /proc
 * and sock_diag only, on the worker when there is one, never the occupancy) and the applying
 * (job_apply: memory only, on the event side); and the namespaces known and pid lists they
 * keep. See tracker.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "msg.h"
#include "netns.h"
#include "order.h"
#include "procinfo.h"
#include "seeds.h"
#include "sockdiag.h"
#include "strbuf.h"
#include "tracker.h"
#include "tracker_int.h"

/* ---- namespaces known ----------------------------------------------------------------------- */

bool netns_known(const struct eph_tracker *t, uint32_t inode)
{
	return t->nnetns && bsearch(&inode, t->netns, t->nnetns, sizeof(*t->netns), eph_cmp_u32_at);
}

/* Remember the namespaces of a snapshot (their ranges were just read). */
static int netns_remember(struct eph_tracker *t, const struct eph_sockdiag_snap *s)
{
	uint32_t *v;
	size_t i;

	if (s->nns > t->capnetns) {
		v = realloc(t->netns, s->nns * sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->netns = v;
		t->capnetns = s->nns;
	}
	for (i = 0; i < s->nns; i++) /* ascending by inode, as the list was */
		t->netns[i] = s->ns[i].inode;
	t->nnetns = s->nns;
	return 0;
}

/* Forget the namespaces remembered last time that a snapshot no longer has (they are gone). */
static void netns_forget_gone(struct eph_tracker *t, const struct eph_sockdiag_snap *s)
{
	size_t i, j = 0;

	for (i = 0; i < t->nnetns; i++) { /* both ascending by inode */
		while (j < s->nns && s->ns[j].inode < t->netns[i])
			j++;
		if (j == s->nns || s->ns[j].inode != t->netns[i])
			eph_occ__del_netns(t->occ, t->netns[i]);
	}
}

/* ---- pid lists ------------------------------------------------------------------------------ */

/* Sort v and drop its duplicates. */
static void sort_unique(uint32_t *v, size_t *n)
{
	size_t i, k = 0;

	if (!*n)
		return;
	qsort(v, *n, sizeof(*v), eph_cmp_u32_at);
	for (i = 0; i < *n; i++)
		if (!k || v[k - 1] != v[i])
			v[k++] = v[i];
	*n = k;
}

/* pid at the end of v, unless it is there already or v is full. */
int note(uint32_t **v, size_t *n, size_t *cap, uint32_t pid)
{
	if (*n && (*v)[*n - 1] == pid)
		return 0; /* the same process again: the usual case */
	if (*n >= TRACKER_MAX_PIDS)
		return -ENOSPC;
	if (eph_grow((void **)v, cap, *n, sizeof(**v)))
		return -ENOMEM;
	(*v)[(*n)++] = pid;
	if (*n == *cap / 2) /* keep it short when one process after another comes */
		sort_unique(*v, n);
	return 0;
}

static uint32_t *dup_pids(const uint32_t *v, size_t n)
{
	uint32_t *d = malloc((n ? n : 1) * sizeof(*d));

	if (d && n)
		memcpy(d, v, n * sizeof(*d));
	return d;
}

/* ---- jobs ----------------------------------------------------------------------------------- */

void job_free(struct eph_tracker_job *j)
{
	size_t i;

	if (!j)
		return;
	for (i = 0; i < j->nfacts; i++)
		eph_pfact__clear(&j->facts[i]);
	free(j->facts);
	eph_sockdiag_snap__free(j->snap);
	free(j->check);
	free(j->learn);
	free(j->hints);
	free(j->dead);
	free(j);
}

static void find_dead(struct eph_tracker_job *j)
{
	size_t i;

	j->dead = malloc((j->ncheck ? j->ncheck : 1) * sizeof(*j->dead));
	if (!j->dead) {
		j->err = -ENOMEM;
		return;
	}
	for (i = 0; i < j->ncheck; i++) /* pid 0: events in interrupt context; never "gone" */
		if (j->check[i] && kill(j->check[i], 0) && errno == ESRCH)
			j->dead[j->ndead++] = j->check[i];
}

/* Dump every namespace, and learn the owners of the sockets found. */
static void collect_snapshot(struct eph_tracker *t, struct eph_tracker_job *j)
{
	struct eph_sockdiag_opts so = {
		.warn = t->o.warn,
		.portiter = t->portiter,
		.owners = t->owners,
		.hints = j->hints,
		.nhints = j->nhints,
		.whole = j->whole,
		.cancel = t->w ? &t->w->cancel : NULL,
	};
	struct eph_netns_list *l = eph_netns_list__new();
	size_t i;
	int err;

	if (!l) {
		j->err = -errno;
		return;
	}
	err = eph_sockdiag_collect(l, 0, &so, &j->snap);
	eph_netns_list__free(l);
	j->no_buckets = so.no_buckets;
	for (i = 0; !err && j->snap && i < j->snap->nsocks; i++)
		if (j->snap->socks[i].pid)
			err = note(&j->learn, &j->nlearn, &j->caplearn, j->snap->socks[i].pid);
	j->err = err == -ENOSPC ? 0 : err;
}

/* The cgroup and container of the pids to learn. */
static void learn_pids(struct eph_tracker *t, struct eph_tracker_job *j)
{
	size_t i;
	int ret;

	sort_unique(j->learn, &j->nlearn);
	for (i = 0; i < j->nlearn && !j->err; i++) {
		if (eph_grow((void **)&j->facts, &j->capfacts, j->nfacts, sizeof(*j->facts))) {
			j->err = -ENOMEM;
			break;
		}
		ret = eph_procinfo__fact(t->pi, j->learn[i], j->now_ns, &j->facts[j->nfacts]);
		if (ret < 0)
			j->err = ret;
		j->nfacts += ret > 0;
	}
}

/* The collecting side: /proc and sock_diag only, never the occupancy. The processes that
 * exited are found last, so that what the job says of them is as late as its snapshot. */
void job_run(struct eph_tracker *t, struct eph_tracker_job *j)
{
	if (j->resync)
		collect_snapshot(t, j);
	if (!j->err)
		learn_pids(t, j);
	if (!j->err)
		find_dead(j);
}

static bool alive_unless_dead(uint32_t pid, void *ctx)
{
	const struct eph_tracker_job *j = ctx;

	return !j->ndead || !bsearch(&pid, j->dead, j->ndead, sizeof(pid), eph_cmp_u32_at);
}

static void log_resync(const struct eph_tracker *t, const struct eph_tracker_job *j,
		       size_t released)
{
	const struct eph_sockdiag_snap *s = j->snap;
	const struct eph_owners_stats *os = &s->owners;

	eph_note("resync: %zu namespaces, %zu sockets (%zu released meanwhile); owners of %zu "
		 "known, %zu looked for in %zu of %zu processes%s, %zu not found; collected in "
		 "%llu ms (dumps %llu), applied in %.1f ms; %llu followed by cookie (%llu with no "
		 "room)",
		 s->nns, s->nsocks, released, os->carried, os->wanted - os->carried, os->scanned,
		 os->listed, os->whole ? " (all)" : "", os->unfound,
		 (unsigned long long)(t->stats.collect_ns / 1000000),
		 (unsigned long long)((s->dumped_ns - s->start_ns) / 1000000),
		 t->stats.apply_ns / 1e6, (unsigned long long)t->stats.seeds,
		 (unsigned long long)t->stats.seeds_full);
}

/* The kernel side to follow the holds only this snapshot knows (seeds.h). */
static int sync_seeds(struct eph_tracker *t)
{
	size_t n;
	int err;

	err = eph_occ__seed_cookies(t->occ, &t->seedv, &n, &t->capseedv) ?:
	      eph_seeds__sync(t->seeds, t->seedv, n);
	if (err)
		return err;
	t->stats.seeds = eph_seeds__count(t->seeds);
	t->stats.seeds_full = eph_seeds__full(t->seeds);
	return 0;
}

/* The snapshot of a job to the occupancy (the ring buffer drained first). */
static int apply_snapshot(struct eph_tracker *t, struct eph_tracker_job *j, uint64_t start_ns)
{
	struct eph_sockdiag_snap *s = j->snap;
	size_t released = 0;
	int err;

	if (t->nrels < TRACKER_MAX_RELEASES) /* else some are missing: no use */
		released = eph_sockdiag_snap__drop_released(s, t->rels, t->nrels);
	err = eph_sockdiag_apply(t->occ, s, !j->first, s->start_ns);
	eph_occ__snapshot_end(t->occ, s->dumped_ns);
	if (err >= 0) {
		t->no_buckets = j->no_buckets;
		if (!j->first)
			netns_forget_gone(t, s); /* the occupancy core counts the resyncs */
		err = netns_remember(t, s);
	}
	if (err >= 0 && t->seeds)
		err = sync_seeds(t);
	t->stats.resyncs++;
	t->stats.released_meanwhile += released;
	t->stats.collect_ns = s->end_ns - s->start_ns;
	if (t->stats.collect_ns > t->stats.collect_max_ns)
		t->stats.collect_max_ns = t->stats.collect_ns;
	t->stats.apply_ns = eph_now_ns() - start_ns;
	if (t->stats.apply_ns > t->stats.apply_max_ns)
		t->stats.apply_max_ns = t->stats.apply_ns;
	if (t->o.log)
		log_resync(t, j, released);
	return err;
}

/* The applying side: memory only. Returns 0 or -errno. */
int job_apply(struct eph_tracker *t, struct eph_tracker_job *j)
{
	uint64_t start = eph_now_ns();
	size_t i;
	int err = j->err;

	for (i = 0; i < j->nfacts && !err; i++)
		err = eph_pfact__apply(&j->facts[i], t->occ);
	if (j->resync) {
		if (!err && j->snap)
			err = apply_snapshot(t, j, start);
		t->last_sync_ns = j->now_ns;
		t->next_resync_ns = j->now_ns + t->o.resync_ms * 1000000ull;
		/* a collect that took long (many namespaces: each dump walks the whole socket
		 * hash) is followed by a rest as long: at most half a core on resyncs */
		if (j->snap && start + (j->snap->end_ns - j->snap->start_ns) > t->next_resync_ns)
			t->next_resync_ns = start + (j->snap->end_ns - j->snap->start_ns);
		t->resync_out = false;
		t->nrels = 0;
	}
	/* last: a snapshot's owner or a fact of a process that exited since would revive it */
	if (j->ndead)
		eph_occ__check_exited(t->occ, alive_unless_dead, j);
	return err < 0 ? err : 0;
}

struct pidvec {
	uint32_t *v;
	size_t n, cap;
	int err;
};

static bool list_pid(uint32_t pid, void *ctx)
{
	struct pidvec *p = ctx;

	if (pid && !p->err) {
		p->err = eph_grow((void **)&p->v, &p->cap, p->n, sizeof(*p->v));
		if (!p->err)
			p->v[p->n++] = pid;
	}
	return true; /* only listed here: the worker finds out */
}

/*
 * The next job, from the event side's state: the processes not known to have exited, the
 * pids events named (to learn those whose container the occupancy does not know; every one for a
 * resync, as its snapshot may bring new ones), and a resync when asked.
 */
struct eph_tracker_job *job_new(struct eph_tracker *t, uint64_t now_ns, bool check, bool resync,
				bool first)
{
	struct eph_tracker_job *j = calloc(1, sizeof(*j));
	struct pidvec alive = { 0 };
	size_t i;

	if (!j)
		return NULL;
	j->now_ns = now_ns;
	j->resync = resync;
	j->first = first;
	if (check && t->occ)
		eph_occ__check_exited(t->occ, list_pid, &alive);
	j->check = alive.v;
	j->ncheck = alive.n;
	sort_unique(t->pids, &t->npids);
	j->learn = malloc((t->npids + j->ncheck + 1) * sizeof(*j->learn));
	if (alive.err || !j->learn)
		goto out_nomem;
	j->caplearn = t->npids + j->ncheck + 1;
	for (i = 0; i < t->npids; i++)
		if (resync || !t->occ || !eph_occ__container_known(t->occ, t->pids[i], NULL))
			j->learn[j->nlearn++] = t->pids[i];
	for (i = 0; resync && i < j->ncheck; i++)
		j->learn[j->nlearn++] = j->check[i];
	t->npids = 0;
	if (resync) {
		sort_unique(t->hints, &t->nhints);
		j->hints = dup_pids(t->hints, t->nhints);
		if (!j->hints)
			goto out_nomem;
		j->nhints = t->nhints;
		t->nhints = 0;
		j->whole = first || now_ns >= t->next_refresh_ns;
	}
	return j;

out_nomem:
	job_free(j);
	return NULL;
}

/* Owners looked for from nothing now and then: a socket whose owner passed it on keeps the
 * owner it had while that one runs. */
int refresh_owners(struct eph_tracker *t, const struct eph_tracker_job *j)
{
	if (!j->whole)
		return 0;
	eph_owners__free(t->owners);
	t->owners = eph_owners__new();
	t->next_refresh_ns = j->now_ns + TRACKER_REFRESH_MS * 1000000ull;
	return t->owners ? 0 : -ENOMEM;
}
