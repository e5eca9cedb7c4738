// SPDX-License-Identifier: GPL-2.0
/* The live occupancy: events, and jobs collected apart then applied. See tracker.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "netns.h"
#include "portiter.h"
#include "procinfo.h"
#include "sockdiag.h"
#include "strbuf.h"
#include "tracker.h"

#define TRACKER_CHECK_MS 1000	   /* with a worker: exited processes at most this often */
#define TRACKER_REFRESH_MS 300000  /* owners looked for from nothing (fds passed on) */
#define TRACKER_MAX_PIDS 65536	   /* pids noted between two jobs (more: the next resync) */
#define TRACKER_MAX_RELEASES 65536 /* releases kept while a resync is out */

/* ---- namespaces known ----------------------------------------------------------------------- */

static bool netns_known(const struct eph_tracker *t, uint32_t inode)
{
	size_t lo = 0, hi = t->nnetns;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (t->netns[mid] == inode)
			return true;
		if (t->netns[mid] < inode)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
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

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Sort v and drop its duplicates. */
static void sort_unique(uint32_t *v, size_t *n)
{
	size_t i, k = 0;

	if (!*n)
		return;
	qsort(v, *n, sizeof(*v), cmp_u32);
	for (i = 0; i < *n; i++)
		if (!k || v[k - 1] != v[i])
			v[k++] = v[i];
	*n = k;
}

/* pid at the end of v, unless it is there already or v is full. */
static int note(uint32_t **v, size_t *n, size_t *cap, uint32_t pid)
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

/* The thread that collects jobs, and what it shares with the event side. */
struct eph_tracker_worker {
	pthread_t thread;
	pthread_mutex_t mu; /* protects todo, done and stop */
	pthread_cond_t cv;
	struct eph_tracker_job *todo; /* handed over, not started */
	struct eph_tracker_job *done; /* collected, not yet taken */
	bool stop;
	atomic_bool cancel; /* stop: the collect ends before its next namespace */
	atomic_bool ready;  /* done is set */
	atomic_bool out;    /* a job is handed over and not taken back */
};

/* What the event side asks for, and what the collecting found. */
struct eph_tracker_job {
	uint64_t now_ns;
	bool resync, first, whole;
	uint32_t *check; /* pids not yet known to have exited */
	size_t ncheck;
	uint32_t *learn; /* pids whose cgroup and container are wanted */
	size_t nlearn, caplearn;
	uint32_t *hints; /* pids events named since the last resync */
	size_t nhints;
	/* found */
	uint32_t *dead; /* of check, ascending */
	size_t ndead;
	struct eph_pfact *facts;
	size_t nfacts, capfacts;
	struct eph_sockdiag_snap *snap; /* resync: NULL when it failed (err) */
	uint32_t no_buckets;
	int err;
};

static void job_free(struct eph_tracker_job *j)
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

/* The collecting side: /proc and sock_diag only, never the occupancy. */
static void job_run(struct eph_tracker *t, struct eph_tracker_job *j)
{
	find_dead(j);
	if (!j->err && j->resync)
		collect_snapshot(t, j);
	if (!j->err)
		learn_pids(t, j);
}

static bool alive_unless_dead(uint32_t pid, void *ctx)
{
	const struct eph_tracker_job *j = ctx;

	return !j->ndead || !bsearch(&pid, j->dead, j->ndead, sizeof(pid), cmp_u32);
}

static void log_resync(const struct eph_tracker *t, const struct eph_tracker_job *j,
		       size_t released)
{
	const struct eph_sockdiag_snap *s = j->snap;
	const struct eph_owners_stats *os = &s->owners;

	fprintf(t->o.log,
		"ephtrace: resync: %zu namespaces, %zu sockets (%zu released meanwhile); owners "
		"of %zu known, %zu looked for in %zu of %zu processes%s, %zu not found; "
		"collected in %llu ms (dumps %llu), applied in %.1f ms\n",
		s->nns, s->nsocks, released, os->carried, os->wanted - os->carried, os->scanned,
		os->listed, os->whole ? " (all)" : "", os->unfound,
		(unsigned long long)(t->stats.collect_ns / 1000000),
		(unsigned long long)((s->dumped_ns - s->start_ns) / 1000000),
		t->stats.apply_ns / 1e6);
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
static int job_apply(struct eph_tracker *t, struct eph_tracker_job *j)
{
	uint64_t start = eph_now_ns();
	size_t i;
	int err = j->err;

	if (j->ndead)
		eph_occ__check_exited(t->occ, alive_unless_dead, j);
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
 * pids events named (to learn those the occupancy has no container for; every one for a
 * resync, as its snapshot may bring new ones), and a resync when asked.
 */
static struct eph_tracker_job *job_new(struct eph_tracker *t, uint64_t now_ns, bool check,
				       bool resync, bool first)
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
		if (resync || !t->occ || !eph_occ__container(t->occ, t->pids[i]))
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
static int refresh_owners(struct eph_tracker *t, const struct eph_tracker_job *j)
{
	if (!j->whole)
		return 0;
	eph_owners__free(t->owners);
	t->owners = eph_owners__new();
	t->next_refresh_ns = j->now_ns + TRACKER_REFRESH_MS * 1000000ull;
	return t->owners ? 0 : -ENOMEM;
}

/* ---- the worker ----------------------------------------------------------------------------- */

static void *worker_main(void *arg)
{
	struct eph_tracker *t = arg;
	struct eph_tracker_worker *w = t->w;
	struct eph_tracker_job *j;

	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (!w->todo && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		j = w->todo;
		w->todo = NULL;
		pthread_mutex_unlock(&w->mu);
		if (!j)
			return NULL; /* stopped */
		job_run(t, j);
		pthread_mutex_lock(&w->mu);
		w->done = j;
		atomic_store(&w->ready, true);
		pthread_mutex_unlock(&w->mu);
	}
}

static void worker_post(struct eph_tracker_worker *w, struct eph_tracker_job *j)
{
	pthread_mutex_lock(&w->mu);
	w->todo = j;
	atomic_store(&w->out, true);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* The job the worker finished, or NULL. */
static struct eph_tracker_job *worker_take(struct eph_tracker_worker *w)
{
	struct eph_tracker_job *j;

	if (!atomic_load(&w->ready))
		return NULL;
	pthread_mutex_lock(&w->mu);
	j = w->done;
	w->done = NULL;
	atomic_store(&w->ready, false);
	atomic_store(&w->out, false);
	pthread_mutex_unlock(&w->mu);
	return j;
}

int eph_tracker__start_worker(struct eph_tracker *t)
{
	struct eph_tracker_worker *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	t->w = w;
	err = pthread_create(&w->thread, NULL, worker_main, t);
	if (err) {
		t->w = NULL;
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return -err;
	}
	return 0;
}

static void worker_stop(struct eph_tracker *t)
{
	struct eph_tracker_worker *w = t->w;

	if (!w)
		return;
	atomic_store(&w->cancel, true);
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	job_free(w->todo);
	job_free(w->done);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
	t->w = NULL;
}

/* ---- the event side ------------------------------------------------------------------------- */

/* Hand a job over to the worker, or do it now without one. 0 or -errno. */
static int job_start(struct eph_tracker *t, uint64_t now_ns, bool check, bool resync, bool first)
{
	struct eph_tracker_job *j = job_new(t, now_ns, check, resync, first);
	int err;

	if (!j)
		return -ENOMEM;
	err = refresh_owners(t, j);
	if (err) {
		job_free(j);
		return err;
	}
	if (resync) {
		t->unknown_netns = false; /* the job lists the namespaces after this */
		t->resync_out = true;
		t->nrels = 0;
	}
	if (t->w) {
		worker_post(t->w, j);
		return 0;
	}
	job_run(t, j);
	err = job_apply(t, j);
	job_free(j);
	return err;
}

/* The worker's job, applied if done. 0 or -errno. */
static int job_finish(struct eph_tracker *t)
{
	struct eph_tracker_job *j = t->w ? worker_take(t->w) : NULL;
	int err;

	if (!j)
		return 0;
	err = job_apply(t, j);
	job_free(j);
	return err;
}

/* The port iterator, once: without it the buckets of connected TCP ports stay unknown. */
static void open_portiter(struct eph_tracker *t)
{
	char why[256];

	t->portiter = eph_portiter__open(t->o.verbose, why, sizeof(why));
	if (!t->portiter && t->o.verbose && t->o.warn)
		fprintf(t->o.warn, "ephtrace: port iterator: %s (going on without it)\n", why);
}

int eph_tracker__init(struct eph_tracker *t, const struct eph_tracker_opts *o)
{
	struct eph_occ_opts oo = { .max_ports = o->max_ports, .window_ms = o->window_ms };
	uint64_t now = eph_now_ns();
	int err;

	memset(t, 0, sizeof(*t));
	t->o = *o;
	t->occ = eph_occ__new(&oo);
	t->pi = o->pi;
	if (!t->pi) {
		t->pi = eph_procinfo__new(eph_node_root, 0);
		t->own_pi = true;
	}
	if (!t->occ || !t->pi) {
		eph_tracker__fini(t);
		return -ENOMEM;
	}
	open_portiter(t);
	err = job_start(t, now, false, true, true);
	if (err) {
		eph_tracker__fini(t);
		return err;
	}
	eph_occ__start(t->occ, now);
	return 0;
}

void eph_tracker__fini(struct eph_tracker *t)
{
	worker_stop(t);
	eph_portiter__free(t->portiter);
	eph_occ__free(t->occ);
	if (t->own_pi)
		eph_procinfo__free(t->pi);
	eph_owners__free(t->owners);
	free(t->netns);
	free(t->pids);
	free(t->hints);
	free(t->rels);
	memset(t, 0, sizeof(*t));
}

/* A pid to learn (with a worker) and whose sockets' owners are looked for first. */
static void note_pid(struct eph_tracker *t, uint32_t pid)
{
	int err = 0;

	if (t->w)
		err = note(&t->pids, &t->npids, &t->cappids, pid);
	if (err != -ENOMEM)
		err = note(&t->hints, &t->nhints, &t->caphints, pid) ?: err;
	if (err == -ENOSPC)
		t->stats.pids_unnoted++;
	else if (err)
		t->err = err;
}

/* A release while a resync is out: the snapshot may still show its socket. */
static void keep_release(struct eph_tracker *t, const struct eph_event *ev)
{
	if (t->nrels >= TRACKER_MAX_RELEASES)
		return; /* too many to be of use: see apply_snapshot() */
	if (eph_grow((void **)&t->rels, &t->caprels, t->nrels, sizeof(*t->rels))) {
		t->err = -ENOMEM;
		return;
	}
	t->nrels += eph_sockdiag_release_of(ev, &t->rels[t->nrels]);
}

void eph_tracker__event(struct eph_tracker *t, const struct eph_rec *r)
{
	int err;

	if (!netns_known(t, r->ev.netns))
		t->unknown_netns = true;
	err = eph_occ__event(t->occ, r);
	if (err)
		t->err = err;
	if ((r->ev.type == EPH_ASSIGN || r->ev.type == EPH_FAIL) && r->ev.pid) {
		note_pid(t, r->ev.pid);
		if (!t->w) { /* top, events --explain: no thread, read /proc now */
			err = eph_procinfo__apply(t->pi, t->occ, r->ev.pid, r->ev.ts_ns);
			if (err)
				t->err = err;
		}
	}
	if (r->ev.type == EPH_RELEASE && t->w && t->resync_out)
		keep_release(t, &r->ev);
	if (r->ev.type == EPH_FAIL)
		t->fails[t->nfails++ % EPH_TRACKER_FAILS] = *r;
}

int eph_tracker__record(void *ctx, const void *data, size_t size)
{
	struct eph_tracker *t = ctx;
	struct eph_rec r;

	if (eph_decode(data, size, t->o.mono_to_wall, &r))
		t->bad_records++;
	else
		eph_tracker__event(t, &r);
	return 0;
}

static bool resync_due(const struct eph_tracker *t, uint64_t now_ns)
{
	/* a new namespace is read at once, but at most once a second (it may be gone already) */
	return (t->unknown_netns && now_ns >= t->last_sync_ns + 1000000000ull) ||
	       (t->o.resync_ms && now_ns >= t->next_resync_ns);
}

/* The next job, when the worker is free (or there is none) and something is due. */
static int job_next(struct eph_tracker *t, uint64_t now_ns)
{
	bool check = !t->w || now_ns >= t->next_check_ns, resync = resync_due(t, now_ns);
	int err;

	if ((t->w && atomic_load(&t->w->out)) || !(check || resync || t->npids))
		return 0;
	err = job_start(t, now_ns, check, resync, false);
	if (check)
		t->next_check_ns = now_ns + TRACKER_CHECK_MS * 1000000ull;
	return err;
}

int eph_tracker__tick(struct eph_tracker *t, uint64_t now_ns)
{
	int err;

	err = job_finish(t) ?: job_next(t, now_ns);
	eph_occ__prune(t->occ, now_ns);
	if (!err && t->err)
		err = t->err;
	return err;
}

bool eph_tracker__pending(const struct eph_tracker *t)
{
	return t->w && (atomic_load(&t->w->ready) || (t->npids && !atomic_load(&t->w->out)));
}

int eph_tracker__poll(struct eph_tracker *t, uint64_t now_ns)
{
	int err = job_finish(t) ?: job_next(t, now_ns);

	if (!err && t->err)
		err = t->err;
	return err;
}
