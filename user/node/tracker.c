// SPDX-License-Identifier: GPL-2.0
/*
 * The live occupancy: the worker thread that collects jobs, and the event side (events into
 * the occupancy, jobs handed over and applied). The jobs themselves are in tracker_job.c. See
 * tracker.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "loader.h"
#include "msg.h"
#include "portiter.h"
#include "procinfo.h"
#include "seeds.h"
#include "sockdiag.h"
#include "strbuf.h"
#include "tracker.h"
#include "tracker_int.h"

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
	/* What happened while the namespaces were dumped, before the snapshot meets the
	 * occupancy, as with a worker, whose job is applied after the event loop drained the
	 * ring (its releases kept for eph_sockdiag_snap__drop_released()); else top would show
	 * the snapshot without them. Not before the first: the events until then wait for it
	 * (their namespaces' ranges come with it; ev_predates()). */
	err = resync && !first && t->o.loader ? eph_loader__poll(t->o.loader, 0) : 0;
	if (err < 0 && err != -EINTR) {
		job_free(j);
		return err;
	}
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
		eph_note("port iterator: %s (going on without it)", why);
	if (t->portiter && t->o.verbose && t->o.warn && eph_portiter__degraded(t->portiter))
		eph_note("port iterator: %s", eph_portiter__degraded(t->portiter));
}

int eph_tracker__init(struct eph_tracker *t, const struct eph_tracker_opts *o)
{
	struct eph_occ_opts oo = { .max_ports = o->max_ports, .window_ms = o->window_ms };
	int seeds_fd = o->loader ? eph_loader__seeds_fd(o->loader) : -1;
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
	if (seeds_fd >= 0) {
		t->seeds = eph_seeds__new(seeds_fd);
		if (!t->seeds && errno == ENOMEM) {
			eph_tracker__fini(t);
			return -ENOMEM;
		}
		if (!t->seeds && o->warn) /* as before the seeds: not an error */
			eph_note("cannot map the seeds map: %s; the ports of sockets found by "
				 "sock_diag go at the next resync",
				 strerror(errno));
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
	free(t->seedv);
	eph_seeds__free(t->seeds);
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
	if (r->ev.type == EPH_RELEASE && t->resync_out)
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
