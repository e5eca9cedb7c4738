// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "netns.h"
#include "portiter.h"
#include "sockdiag.h"
#include "tracker.h"

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

/* Remember the namespaces of list l (their ranges were just read). */
static int netns_remember(struct eph_tracker *t, const struct eph_netns_list *l)
{
	uint32_t *v;
	size_t i;

	if (l->n > t->capnetns) {
		v = realloc(t->netns, l->n * sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->netns = v;
		t->capnetns = l->n;
	}
	for (i = 0; i < l->n; i++) /* the list is ascending by inode */
		t->netns[i] = l->ns[i].inode;
	t->nnetns = l->n;
	return 0;
}

/* Forget the namespaces remembered last time that list l no longer has (they are gone). */
static void netns_forget_gone(struct eph_tracker *t, const struct eph_netns_list *l)
{
	size_t i, j = 0;

	for (i = 0; i < t->nnetns; i++) { /* both ascending by inode */
		while (j < l->n && l->ns[j].inode < t->netns[i])
			j++;
		if (j == l->n || l->ns[j].inode != t->netns[i])
			eph_occ__del_netns(t->occ, t->netns[i]);
	}
}

/* Dump every namespace: seed (first time) or reconcile. */
static int sync_sockets(struct eph_tracker *t, uint64_t now_ns, bool first)
{
	struct eph_sockdiag_opts so = { .warn = t->o.warn, .portiter = t->portiter };
	struct eph_netns_list *l = eph_netns_list__new();
	int err;

	if (!l)
		return -errno;
	err = first ? eph_sockdiag_seed(t->occ, l, 0, now_ns, &so) :
		      eph_sockdiag_reconcile(t->occ, l, now_ns, &so);
	eph_occ__snapshot_end(t->occ, eph_now_ns());
	if (err >= 0) {
		t->no_buckets = so.no_buckets;
		if (!first)
			netns_forget_gone(t, l); /* the occupancy core counts the resyncs */
		err = netns_remember(t, l);
	}
	eph_netns_list__free(l);
	t->unknown_netns = false;
	t->last_sync_ns = now_ns;
	t->next_resync_ns = now_ns + t->o.resync_ms * 1000000ull;
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
	if (!t->occ)
		return -ENOMEM;
	open_portiter(t);
	err = sync_sockets(t, now, true);
	if (err) {
		eph_tracker__fini(t);
		return err;
	}
	eph_occ__start(t->occ, now);
	return 0;
}

void eph_tracker__fini(struct eph_tracker *t)
{
	eph_portiter__free(t->portiter);
	eph_occ__free(t->occ);
	free(t->netns);
	memset(t, 0, sizeof(*t));
}

/* The cgroup v2 path of a process the first time an event names it (events carry only the id). */
static void learn_cgroup(struct eph_tracker *t, uint32_t pid)
{
	char path[64], text[4096], cg[1024];
	unsigned int i, slot = pid % 1024;
	ssize_t n;
	int fd;

	for (i = 0; i < 8; i++) /* a short probe in an open-addressed table */
		if (t->cg_seen[(slot + i) % 1024] == pid)
			return;
	if (t->ncg_seen >= 768) { /* keep it sparse: forget and start over */
		memset(t->cg_seen, 0, sizeof(t->cg_seen));
		t->ncg_seen = 0;
	}
	for (i = 0; i < 8 && t->cg_seen[(slot + i) % 1024]; i++)
		;
	t->cg_seen[(slot + (i % 8)) % 1024] = pid;
	t->ncg_seen++;
	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return; /* gone already */
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return;
	text[n] = '\0';
	if (!eph_parse_cgroup(text, cg, sizeof(cg)) && eph_occ__set_cgroup(t->occ, pid, cg))
		t->err = -ENOMEM;
}

void eph_tracker__event(struct eph_tracker *t, const struct eph_rec *r)
{
	int err;

	if (!netns_known(t, r->ev.netns))
		t->unknown_netns = true;
	err = eph_occ__event(t->occ, r);
	if (err)
		t->err = err;
	if ((r->ev.type == EPH_ASSIGN || r->ev.type == EPH_FAIL) && r->ev.pid)
		learn_cgroup(t, r->ev.pid);
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

static bool pid_alive(uint32_t pid, void *ctx)
{
	(void)ctx;
	return !kill(pid, 0) || errno == EPERM;
}

int eph_tracker__tick(struct eph_tracker *t, uint64_t now_ns)
{
	int err = 0;

	eph_occ__check_exited(t->occ, pid_alive, NULL);
	/* a new namespace is read at once, but at most once a second (it may be gone already) */
	if ((t->unknown_netns && now_ns >= t->last_sync_ns + 1000000000ull) ||
	    (t->o.resync_ms && now_ns >= t->next_resync_ns))
		err = sync_sockets(t, now_ns, false);
	eph_occ__prune(t->occ, now_ns);
	if (!err && t->err)
		err = t->err;
	return err;
}
