// SPDX-License-Identifier: GPL-2.0
/*
 * ephtrace serve: a scrape's rows, on libmicrohttpd's thread. The BPF maps are read without
 * the lock (only system calls on map fds), the per-process counts and the tracker's rows are
 * copied under it, and the metric rows are made from the copies after it is released, so that
 * the event loop waits only for the copying.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app.h"
#include "event.h"
#include "findings.h"
#include "metrics.h"
#include "serve_int.h"
#include "tracker.h"

struct vec {
	void *v;
	size_t n, cap, sz;
};

static void *vec_push(struct vec *a)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 32;
		void *v = reallocarray(a->v, cap, a->sz);

		if (!v)
			return NULL;
		a->v = v;
		a->cap = cap;
	}
	return memset((char *)a->v + a->n++ * a->sz, 0, a->sz);
}

static int add_stat(void *ctx, const void *key, uint64_t value)
{
	struct eph_metrics_stat *e = vec_push(ctx);

	if (!e)
		return -ENOMEM;
	memcpy(&e->key, key, sizeof(e->key));
	e->value = value;
	return 0;
}

static int add_hist(void *ctx, const void *key, uint64_t value)
{
	int err = eph_hists__add(ctx, key, value);

	return err == -EINVAL ? 0 : err; /* a key from a newer BPF object: skip it */
}

static int add_prog(void *ctx, const char *name, uint64_t run_time_ns, uint64_t run_cnt,
		    uint64_t misses)
{
	struct eph_metrics_prog *e = vec_push(ctx);

	if (!e)
		return -ENOMEM;
	(void)misses; /* ephtrace_bpf_program_runs_missed_total has their sum */
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->run_time_ns = run_time_ns;
	e->run_cnt = run_cnt;
	return 0;
}

static bool sysctl_bpf_stats_on(void)
{
	char c = '0';
	int fd = open("/proc/sys/kernel/bpf_stats_enabled", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (read(fd, &c, 1) != 1)
		c = '0';
	close(fd);
	return c == '1';
}

/* Program rows only while stats are on or were on (a zero would read as "free"). */
static int collect_progs(struct serve *s, struct vec *progs)
{
	const struct eph_metrics_prog *p;
	bool on = s->stats_fd >= 0 || sysctl_bpf_stats_on();
	size_t i;
	int err;

	err = eph_loader__prog_stats(s->l, add_prog, progs);
	if (err)
		return err;
	for (i = 0, p = progs->v; !on && i < progs->n; i++)
		on = p[i].run_cnt || p[i].run_time_ns;
	if (!on)
		progs->n = 0;
	return 0;
}

/* The occupancy tracker's bind scopes as metric rows (the ports held, what the model says is
 * left, and the failures counted since the scope is tracked). */
static int scope_metrics(const struct eph_occ_rows *rows, struct eph_metrics_input *in,
			 struct eph_metrics_scope **scopes)
{
	size_t i;

	*scopes = calloc(rows->nscopes + 1, sizeof(**scopes));
	if (!*scopes)
		return -ENOMEM;
	for (i = 0; i < rows->nscopes; i++) {
		const struct eph_occ_scope_row *r = &rows->scopes[i];
		struct eph_metrics_scope *m = &(*scopes)[i];

		m->netns = r->key.netns;
		m->proto = r->key.proto;
		m->family = r->key.family;
		memcpy(m->addr, r->key.addr, r->key.family == AF_INET ? 4 : 16);
		m->held = r->st.held;
		m->ports_left = r->st.ports_left;
		m->utilization = r->st.utilization;
		m->fail_inuse = r->fail_inuse;
		m->fail_again = r->fail_again;
		m->ct = r->ct;
	}
	in->scopes = *scopes;
	in->nscopes = rows->nscopes;
	return 0;
}

/* The occupancy tracker's rows as metric rows: destinations, namespaces with a known range,
 * and the ports each known process holds, per pid (the writer sums them by comm and container
 * unless --pid-labels; the unknown owner of TIME_WAIT found at start has no pid nor comm: it
 * counts in the destinations, not in a process series). */
static int occ_metrics(const struct eph_occ_rows *rows, struct eph_metrics_input *in,
		       struct eph_metrics_dest **dests, struct eph_metrics_proc **procs,
		       struct eph_metrics_netns **netns)
{
	size_t i, alen;

	*dests = calloc(rows->ndests + 1, sizeof(**dests));
	*procs = calloc(rows->nprocs + 1, sizeof(**procs));
	*netns = calloc(rows->nnetns + 1, sizeof(**netns));
	if (!*dests || !*procs || !*netns)
		return -ENOMEM;
	for (i = 0; i < rows->ndests; i++) {
		const struct eph_occ_dest_row *r = &rows->dests[i];
		struct eph_metrics_dest *d = &(*dests)[in->ndests++];

		alen = r->key.family == AF_INET ? 4 : 16;
		d->netns = r->key.netns;
		d->proto = r->key.proto;
		d->family = r->key.family;
		d->dport = r->key.dport;
		memcpy(d->saddr, r->key.saddr, alen);
		memcpy(d->daddr, r->key.daddr, alen);
		d->held = r->st.held;
		d->ports_left = r->st.ports_left;
		d->utilization = r->st.utilization;
		d->exhaust_in_s = r->st.exhaust_in_s;
		d->failures = r->st.failures;
		d->ct = r->ct;
	}
	for (i = 0; i < rows->nprocs; i++) {
		const struct eph_occ_proc_row *r = &rows->procs[i];
		struct eph_metrics_proc *p;

		if (!r->pid)
			continue;
		p = &(*procs)[in->nprocs++];
		p->pid = r->pid;
		memcpy(p->comm, r->comm, EPH_COMM_LEN);
		p->held = r->st.held;
		p->ct = r->ct;
	}
	for (i = 0; i < rows->nnetns; i++) {
		if (!rows->netns[i].have_range)
			continue; /* absent rather than wrong */
		(*netns)[in->nnetns].netns = rows->netns[i].netns;
		(*netns)[in->nnetns].ct = rows->netns[i].ct;
		(*netns)[in->nnetns].new_left = rows->netns[i].new_left;
		(*netns)[in->nnetns++].usable = rows->netns[i].usable;
	}
	in->dests = *dests;
	in->procs = *procs;
	in->netns = *netns;
	return 0;
}

/* The findings as gauge rows (their strings live as long as fs). */
static int finding_rows(const struct eph_findings *fs, struct eph_metrics_finding **out)
{
	size_t i;

	*out = calloc(fs->n + 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (i = 0; i < fs->n; i++) {
		const struct eph_finding *f = &fs->f[i];
		struct eph_metrics_finding *m = &(*out)[i];
		char a[64];

		m->kind = eph_find_kind_name(f->kind);
		m->severity = eph_find_severity_name(f->severity);
		m->netns = f->netns;
		m->pid = f->who.pid;
		memcpy(m->comm, f->who.comm, sizeof(m->comm));
		m->ct = eph_container__none(&f->who.ct) ? NULL : &f->who.ct;
		if (f->has_dest && !eph_addr_str(f->dest.family, f->dest.daddr, a, sizeof(a)))
			snprintf(m->target, sizeof(m->target),
				 f->dest.family == AF_INET6 ? "[%s]:%u" : "%s:%u", a,
				 f->dest.dport);
		else if (f->kind == EPH_FIND_FIXED_PORT_CONFLICT)
			snprintf(m->target, sizeof(m->target), "%s port %u",
				 eph_proto_name(f->proto), f->port);
	}
	return 0;
}

int build_metrics(struct serve *s, enum eph_metrics_format fmt, struct strbuf *sb)
{
	struct vec stats = { .sz = sizeof(struct eph_metrics_stat) };
	struct vec progs = { .sz = sizeof(struct eph_metrics_prog) };
	struct eph_metrics_proc *procs = NULL;
	struct eph_metrics_proc_fail *fails = NULL;
	struct eph_container *fail_cts = NULL;
	struct eph_metrics_netns *netns = NULL;
	struct eph_metrics_dest *dests = NULL;
	struct eph_metrics_scope *scopes = NULL;
	struct eph_occ_rows rows = { 0 };
	struct eph_findings fs = { 0 };
	struct eph_metrics_finding *finds = NULL;
	struct eph_hists h = EPH_HISTS_INIT;
	uint64_t cnt[EPH_CNT_MAX];
	struct eph_metrics_input in = {
		.version = EPH_VERSION,
		.backend = s->backend,
		.counters = cnt,
		.hists = &h,
		.top = s->top,
		.pid_labels = s->pid_labels,
	};
	int err;

	eph_loader__counters(s->l, cnt);
	err = eph_loader__foreach(s->l, EPH_MAP_STATS, add_stat, &stats);
	if (!err)
		err = eph_loader__foreach(s->l, EPH_MAP_HISTS, add_hist, &h);
	if (!err)
		err = collect_progs(s, &progs);
	if (err)
		goto out_free;
	pthread_mutex_lock(&s->lock);
	err = resolve_procs(s);
	if (!err)
		err = eph_proc_counts__rows(s->procs, &fails, &in.nfails, &fail_cts);
	in.procs_untracked = eph_proc_counts__untracked(s->procs);
	in.resyncs = eph_occ__resyncs(s->t.occ);
	in.resync_released = eph_occ__resync_released(s->t.occ);
	if (!err)
		err = eph_occ__rows(s->t.occ, eph_now_ns(), &rows);
	if (!err)
		err = eph_occ__findings(s->t.occ, eph_now_ns(), &fs);
	pthread_mutex_unlock(&s->lock);
	if (!err)
		err = occ_metrics(&rows, &in, &dests, &procs, &netns);
	if (!err)
		err = scope_metrics(&rows, &in, &scopes);
	if (!err)
		err = finding_rows(&fs, &finds);
	if (err)
		goto out_free;
	in.stats = stats.v;
	in.nstats = stats.n;
	in.progs = progs.v;
	in.nprogs = progs.n;
	in.fails = fails;
	in.findings = finds;
	in.nfindings = fs.n;
	err = eph_metrics_write(sb, &in, fmt);
out_free:
	free(stats.v);
	free(progs.v);
	free(procs);
	free(fails);
	free(fail_cts);
	free(dests);
	free(scopes);
	free(netns);
	eph_occ_rows__free(&rows);
	eph_findings__free(&fs);
	free(finds);
	eph_hists__free(&h);
	return err;
}
