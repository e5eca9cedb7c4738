// SPDX-License-Identifier: GPL-2.0
/*
 * A snapshot of what the kernel holds: every namespace's range and sockets, read inside it,
 * then the owners of the sockets on a port of its range, without touching an occupancy (a
 * worker thread takes it while events go on). See sockdiag.h.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "msg.h"
#include "portiter.h"
#include "sockdiag.h"
#include "sockdiag_int.h"
#include "strbuf.h"

/* ---- collecting a snapshot --------------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

struct sockvec {
	struct eph_occ_sock *v;
	size_t n, cap;
};

struct ns_read {
	uint32_t netns;
	struct eph_portiter *portiter;
	bool walk_later; /* the snapshot walks the bind hash once, for every namespace */
	int range_err;
	int dump_err;
	int bucket_err;
	bool bound_listed; /* the iterator found its bound-only sockets */
	struct eph_port_range range;
	struct sockvec *socks;
};

static int push_sock(const struct eph_occ_sock *s, void *ctx)
{
	struct sockvec *sv = ctx;
	int err;

	err = eph_grow((void **)&sv->v, &sv->cap, sv->n, sizeof(*sv->v));
	if (err)
		return err;
	sv->v[sv->n++] = *s;
	return 0;
}

/* Runs inside the namespace: its range, its sockets, then their bind buckets and, before 6.8,
 * the bound-only sockets sock_diag does not list (unless the snapshot walks once for all). */
static int read_ns(void *ctx)
{
	struct ns_read *r = ctx;
	struct eph_sockdiag_bound bound = { .add = push_sock, .ctx = r->socks, .netns = r->netns };
	size_t before = r->socks->n;

	r->range_err = eph_port_range_read(&r->range);
	if (r->range_err)
		return r->range_err;
	r->dump_err = eph_sockdiag_dump(r->netns, push_sock, r->socks);
	if (r->dump_err)
		return r->dump_err;
	/* with walk_later, the buckets alone: this pass walks nothing */
	r->bucket_err =
		eph_sockdiag_fill_bound(r->portiter, r->socks->v + before, r->socks->n - before,
					r->walk_later ? NULL : &bound);
	r->bound_listed = bound.listed;
	return 0;
}

static void warn_ns(bool warn, const struct eph_netns *ns, const char *what, int err)
{
	if (!warn)
		return;
	eph_err("netns %u (%s): %s: %s%s", ns->inode, ns->path, what, strerror(-err),
		err == -EPERM || err == -EACCES ? " (run as root to see it)" : "");
}

/* Whether the port iterator gave the buckets of a namespace read. */
static void note_buckets(struct eph_sockdiag_opts *o, const struct ns_read *r)
{
	if (o->portiter && !r->bucket_err)
		return;
	o->no_buckets++;
	if (r->bucket_err && !o->bucket_err)
		o->bucket_err = r->bucket_err;
}

/* Read one namespace: its settings into out, its sockets into sv (none when it failed: they
 * could not be classified, or are incomplete); *bound_listed: its bound-only sockets are known
 * (or will be, from the snapshot's walk: walk_later). 0, or -ENOMEM (out->err: how it failed). */
static int read_one(const struct eph_netns_list *l, const struct eph_netns *ns, struct sockvec *sv,
		    struct eph_sockdiag_opts *o, bool walk_later, struct eph_sockdiag_ns *out,
		    bool *bound_listed)
{
	size_t before = sv->n;
	struct ns_read *r;
	int err;

	out->inode = ns->inode;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->netns = ns->inode;
	r->portiter = o->portiter;
	r->walk_later = walk_later;
	r->socks = sv;
	err = eph_netns__run(l, ns, read_ns, r);
	if (err && !r->range_err && !r->dump_err) {
		warn_ns(o->warn, ns, "cannot enter it", err);
	} else if (r->range_err) {
		warn_ns(o->warn, ns, "cannot read ip_local_port_range", r->range_err);
		err = r->range_err;
	} else if (r->dump_err) {
		warn_ns(o->warn, ns, "cannot list its sockets", r->dump_err);
		err = r->dump_err;
	}
	if (!err) {
		out->range = malloc(sizeof(*out->range));
		if (out->range)
			*out->range = r->range;
		else
			err = -ENOMEM;
	}
	if (err) {
		sv->n = before;
		out->err = err;
	} else {
		note_buckets(o, r);
		*bound_listed = r->bound_listed;
	}
	free(r);
	return err == -ENOMEM ? err : 0;
}

/* The inodes whose owners matter: sockets on a port of their namespace's range. Ascending,
 * without duplicates. */
static int wanted_inodes(const struct eph_sockdiag_snap *s, uint64_t **out, size_t *n)
{
	const struct eph_sockdiag_ns *ns = NULL;
	size_t i, k = 0;

	*out = malloc((s->nsocks + 1) * sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (i = 0; i < s->nsocks; i++) {
		const struct eph_occ_sock *sk = &s->socks[i];

		if (!ns || ns->inode != sk->netns) /* the sockets come namespace by namespace */
			for (ns = s->ns; ns < s->ns + s->nns && ns->inode != sk->netns; ns++)
				;
		if (!sk->inode || ns == s->ns + s->nns || !ns->range ||
		    sk->sport < ns->range->low || sk->sport > ns->range->high)
			continue;
		(*out)[k++] = sk->inode;
	}
	if (k)
		qsort(*out, k, sizeof(**out), cmp_u64);
	*n = 0;
	for (i = 0; i < k; i++)
		if (!*n || (*out)[*n - 1] != (*out)[i])
			(*out)[(*n)++] = (*out)[i];
	return 0;
}

/* The owners of the snapshot's sockets, from o->owners (or a whole walk of its own). */
static int find_owners(struct eph_sockdiag_snap *s, const struct eph_sockdiag_opts *o)
{
	struct eph_owners *owners = o->owners ?: eph_owners__new();
	uint64_t *want;
	size_t n;
	int err;

	if (!owners)
		return -ENOMEM;
	err = wanted_inodes(s, &want, &n);
	if (!err)
		err = eph_owners__update(owners, want, n, o->hints, o->nhints,
					 o->whole || !o->owners);
	if (!err)
		err = eph_owners__fill_copy(owners, s->socks, s->nsocks, &s->paths, &s->npaths);
	s->owners = *eph_owners__stats(owners);
	if (!o->owners)
		eph_owners__free(owners);
	free(want);
	return err;
}

/* A namespace read: where its sockets are in the snapshot's vector, and whether its bound-only
 * TCP sockets are known. */
struct ns_socks {
	const struct eph_netns *ns;
	size_t first, n;
	bool read, bound_listed;
};

struct own_walk {
	struct eph_portiter *pi;
	struct eph_sockdiag_walk *w;
	int err;
};

/* Runs inside a namespace: its own walk of the bind hash. */
static int read_own_walk(void *ctx)
{
	struct own_walk *ow = ctx;

	ow->err = eph_sockdiag_walk__read(ow->pi, false, ow->w);
	return 0;
}

/* The bound-only sockets of nss's namespace to the snapshot, from all (a whole walk of every
 * namespace), else from a walk of its own. 0 or -errno. */
static int add_walked(const struct eph_netns_list *l, struct eph_portiter *pi,
		      const struct eph_sockdiag_walk *all, struct sockvec *sv, struct ns_socks *nss)
{
	struct eph_sockdiag_bound bound = { .add = push_sock, .ctx = sv, .netns = nss->ns->inode };
	struct eph_sockdiag_walk own = { 0 };
	struct own_walk ow = { .pi = pi, .w = &own };
	int err = 0;

	if (!all->whole)
		err = eph_netns__run(l, nss->ns, read_own_walk, &ow) ?: ow.err;
	if (!err)
		err = eph_sockdiag_walk__add(all->whole ? all : &own, sv->v + nss->first, nss->n,
					     &bound);
	nss->bound_listed = !err && bound.listed;
	eph_sockdiag_walk__clear(&own);
	return err;
}

/* The snapshot's one walk of the bind hash (eph_sockdiag_walk), after every namespace's dump:
 * each namespace read gets its bound-only sockets from it, or from a walk of its own when that
 * one was not whole. 0 or -ENOMEM (a walk the kernel refused leaves a namespace's bound-only
 * sockets unknown: bound_listed false). */
static int walk_once(const struct eph_netns_list *l, struct eph_portiter *pi, size_t nns,
		     struct sockvec *sv, struct ns_socks *nss)
{
	struct eph_sockdiag_walk all = { 0 };
	size_t i;
	int err;

	err = eph_sockdiag_walk__read(pi, true, &all);
	for (i = 0; i < nns && err != -ENOMEM; i++)
		if (nss[i].read)
			err = add_walked(l, pi, &all, sv, &nss[i]);
	eph_sockdiag_walk__clear(&all);
	return err == -ENOMEM ? err : 0;
}

int eph_sockdiag_collect(const struct eph_netns_list *l, uint32_t only_netns,
			 struct eph_sockdiag_opts *o, struct eph_sockdiag_snap **out)
{
	struct eph_sockdiag_snap *s;
	struct sockvec sv = { 0 };
	struct ns_socks *nss;
	bool walk_later;
	size_t i;
	int err = 0;

	o->no_buckets = 0;
	o->bucket_err = 0;
	o->no_bound = 0;
	*out = s = calloc(1, sizeof(*s));
	nss = calloc(l->n + 1, sizeof(*nss));
	if (s)
		s->ns = calloc(l->n + 1, sizeof(*s->ns));
	if (!s || !s->ns || !nss) {
		eph_sockdiag_snap__free(s);
		free(nss);
		*out = NULL;
		return -ENOMEM;
	}
	s->lists_bound = eph_sockdiag_kernel_lists_bound();
	/* before 6.8, one walk of the bind hash for every namespace, unless one is read */
	walk_later = !only_netns && o->portiter && eph_portiter__walks(o->portiter);
	s->start_ns = now_ns();
	for (i = 0; i < l->n && !err; i++) {
		struct ns_socks *ns = &nss[s->nns];

		if (only_netns && l->ns[i].inode != only_netns)
			continue;
		if (o->cancel && atomic_load(o->cancel)) {
			err = -ECANCELED;
			break;
		}
		ns->ns = &l->ns[i];
		ns->first = sv.n;
		err = read_one(l, &l->ns[i], &sv, o, walk_later, &s->ns[s->nns], &ns->bound_listed);
		ns->n = sv.n - ns->first;
		ns->read = !s->ns[s->nns++].err;
	}
	if (!err && walk_later)
		err = walk_once(l, o->portiter, s->nns, &sv, nss);
	s->dumped_ns = now_ns();
	for (i = 0; i < s->nns; i++)
		o->no_bound += nss[i].read && !s->lists_bound && !nss[i].bound_listed;
	free(nss);
	s->no_bound = o->no_bound;
	s->socks = sv.v;
	s->nsocks = sv.n;
	/* owners after the dump: every socket listed existed before the walk over /proc */
	if (!err)
		err = find_owners(s, o);
	s->end_ns = now_ns();
	if (err) {
		eph_sockdiag_snap__free(s);
		*out = NULL;
	}
	return err;
}

void eph_sockdiag_snap__free(struct eph_sockdiag_snap *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->nns; i++)
		free(s->ns[i].range);
	for (i = 0; i < s->npaths; i++)
		free(s->paths[i]);
	free(s->paths);
	free(s->ns);
	free(s->socks);
	free(s);
}
