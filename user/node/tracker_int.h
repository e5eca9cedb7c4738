/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the tracker's files share (tracker.c: the worker thread and the event side;
 * tracker_job.c: the jobs, collected and applied). Not for other modules: they use tracker.h.
 */
#ifndef EPH_TRACKER_INT_H
#define EPH_TRACKER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "procinfo.h"
#include "tracker.h"

#define TRACKER_CHECK_MS 1000	   /* with a worker: exited processes at most this often */
#define TRACKER_REFRESH_MS 300000  /* owners looked for from nothing (fds passed on) */
#define TRACKER_MAX_PIDS 65536	   /* pids noted between two jobs (more: the next resync) */
#define TRACKER_MAX_RELEASES 65536 /* releases kept while a resync is out */

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

/* tracker_job.c */
bool netns_known(const struct eph_tracker *t, uint32_t inode);
int note(uint32_t **v, size_t *n, size_t *cap, uint32_t pid);
void job_free(struct eph_tracker_job *j);
void job_run(struct eph_tracker *t, struct eph_tracker_job *j);
int job_apply(struct eph_tracker *t, struct eph_tracker_job *j);
struct eph_tracker_job *job_new(struct eph_tracker *t, uint64_t now_ns, bool check, bool resync,
				bool first);
int refresh_owners(struct eph_tracker *t, const struct eph_tracker_job *j);

#endif
