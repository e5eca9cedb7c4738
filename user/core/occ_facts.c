// SPDX-License-Identifier: GPL-2.0
/*
 * Occupancy: the facts the findings rules (findings.h) stand on, gathered from the holds, the
 * port-search model and the event counts of the rate window.
 *
 * Events counted here, per process or namespace, over the rate window: connect()s on a socket
 * that bind(0) had given its port (the bound_connect event), bind()
 * of a fixed port failing with EADDRINUSE, UDP autobinds failing with EAGAIN. The rest comes
 * from the holds now: who holds most of each destination, which connections hold a port whose
 * bind bucket bind() made, how many UDP sockets own an autobound port.
 */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "findings.h"
#include "occ_int.h"
#include "order.h"

/* ---- counts over the rate window ------------------------------------------------------- */

static void tally_add(const struct eph_occ *occ, struct tally *t, uint64_t ts)
{
	/* the rate bucket of the event being counted is usually the one remembered */
	uint64_t e = ts >= occ->epoch_ns && ts - occ->epoch_ns < occ->bucket_ns ?
			     occ->epoch :
			     ts / occ->bucket_ns;
	unsigned int i = e % EPH_OCC_BUCKETS;

	if (t->epoch[i] > e)
		return; /* older than the window the ring covers */
	if (t->epoch[i] != e) {
		t->epoch[i] = e;
		t->n[i] = 0;
	}
	t->n[i]++;
}

static uint32_t tally_sum(const struct eph_occ *occ, const struct tally *t, uint64_t now)
{
	uint64_t ne = now / occ->bucket_ns, first = 0;
	uint32_t sum = 0;
	unsigned int i;

	if (ne >= EPH_OCC_BUCKETS - 1)
		first = ne - (EPH_OCC_BUCKETS - 1);
	for (i = 0; i < EPH_OCC_BUCKETS; i++)
		if (t->epoch[i] >= first && t->epoch[i] <= ne)
			sum += t->n[i];
	return sum;
}

/* The entry for bind() of a fixed port: the one already counting it, else a free one, else the
 * one counting least now. */
static struct fixed_fail *fixed_slot(const struct eph_occ *occ, struct proc *p,
				     const struct eph_event *ev)
{
	struct fixed_fail *best = &p->fixed[0];
	unsigned int i;

	for (i = 0; i < PROC_MAX_FIXED; i++) {
		struct fixed_fail *f = &p->fixed[i];

		if (f->netns == ev->netns && f->port == ev->req_port && f->proto == ev->proto)
			return f;
		if (tally_sum(occ, &f->t, ev->ts_ns) < tally_sum(occ, &best->t, ev->ts_ns))
			best = f;
	}
	memset(best, 0, sizeof(*best));
	best->netns = ev->netns;
	best->port = ev->req_port;
	best->proto = ev->proto;
	return best;
}

void occ_facts_event(struct eph_occ *occ, const struct eph_event *ev, struct proc *p)
{
	bool tcp_connect = ev->proto == IPPROTO_TCP && ev->op == EPH_OP_CONNECT;

	if (ev->type == EPH_FAIL && ev->err == EAGAIN && ev->proto == IPPROTO_UDP) {
		struct ns *ns = ns_find(occ, ev->netns);

		if (ns)
			tally_add(occ, &ns->udp_eagain, ev->ts_ns);
	}
	if (!p)
		return;
	if (ev->type == EPH_CONNECT && tcp_connect && (ev->flags & EPH_F_EPHEMERAL)) {
		p->conn_netns = ev->netns;
		tally_add(occ, &p->bound_connects, ev->ts_ns);
	} else if (ev->type == EPH_FAIL && ev->err == EADDRINUSE && ev->op == EPH_OP_BIND &&
		   ev->req_port) {
		tally_add(occ, &fixed_slot(occ, p, ev)->t, ev->ts_ns);
	}
}

/* ---- who holds what -------------------------------------------------------------------- */

/* One hold's owner against something it counts towards (a destination, a netns). */
struct pair {
	uint32_t what;
	uint32_t proc; /* 1-based */
	uint32_t netns;
	uint8_t bound; /* TCP: the port's bucket is bind()'s */
	uint8_t __pad[3];
};

static int cmp_pair(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;

	int c = eph_cmp_u64(x->what, y->what) ?: eph_cmp_u64(x->netns, y->netns);

	return c ?: eph_cmp_u64(x->proc, y->proc);
}

struct pairs {
	/* by dest index: TIME_WAIT holds whose life before TIME_WAIT is known, and its sum */
	uint32_t *tw_n;
	uint64_t *tw_life_ns;
	struct pair *dest; /* what: dest index */
	struct pair *conn; /* what: 0; TCP connections by (netns, proc) */
	struct pair *udp;  /* what: ns index; UDP holds with a remote end */
	size_t ndest, nconn, nudp;
};

static void pairs_free(struct pairs *ps)
{
	free(ps->tw_n);
	free(ps->tw_life_ns);
	free(ps->dest);
	free(ps->conn);
	free(ps->udp);
}

static int pairs_build(const struct eph_occ *occ, struct pairs *ps)
{
	uint32_t i;

	memset(ps, 0, sizeof(*ps));
	ps->dest = calloc(occ->holds.top + 1, sizeof(*ps->dest));
	ps->conn = calloc(occ->holds.top + 1, sizeof(*ps->conn));
	ps->udp = calloc(occ->holds.top + 1, sizeof(*ps->udp));
	ps->tw_n = calloc(occ->dests.top + 1, sizeof(*ps->tw_n));
	ps->tw_life_ns = calloc(occ->dests.top + 1, sizeof(*ps->tw_life_ns));
	if (!ps->dest || !ps->conn || !ps->udp || !ps->tw_n || !ps->tw_life_ns)
		return -ENOMEM;
	for (i = 0; i < occ->holds.top; i++) {
		const struct hold *h = hold_rec(occ, i);
		const struct tuple *t = &h->tuple;
		int64_t ni;

		if (!occ->holds.used[i])
			continue;
		if (h->dest && h->tw && h->since_ns && h->tw_ns > h->since_ns) {
			ps->tw_n[h->dest - 1]++;
			ps->tw_life_ns[h->dest - 1] += h->tw_ns - h->since_ns;
		}
		if (!h->proc)
			continue;
		if (h->dest)
			ps->dest[ps->ndest++] = (struct pair){ .what = h->dest, .proc = h->proc };
		if (t->dest.proto == IPPROTO_TCP && h->dest && !h->tw)
			ps->conn[ps->nconn++] = (struct pair){
				.proc = h->proc,
				.netns = t->dest.netns,
				.bound = h->bucket == EPH_BUCKET_BIND,
			};
		if (t->dest.proto == IPPROTO_UDP && (t->dest.dport || h->remote)) {
			ni = eph_tab__find(&occ->nss, 0, &t->dest.netns, hash_u32(t->dest.netns));
			if (ni >= 0)
				ps->udp[ps->nudp++] =
					(struct pair){ .what = ni + 1, .proc = h->proc };
		}
	}
	qsort(ps->dest, ps->ndest, sizeof(*ps->dest), cmp_pair);
	qsort(ps->conn, ps->nconn, sizeof(*ps->conn), cmp_pair);
	qsort(ps->udp, ps->nudp, sizeof(*ps->udp), cmp_pair);
	return 0;
}

/* The first pair of what in a sorted array (or n). (struct pair begins with what, which its
 * order compares first.) */
static size_t pairs_find(const struct pair *p, size_t n, uint32_t what)
{
	return eph_lower_bound(p, n, sizeof(*p), &what, eph_cmp_u32_at);
}

static void who_of(const struct eph_occ *occ, uint32_t proc, struct eph_find_who *w)
{
	const struct proc *p;

	memset(w, 0, sizeof(*w));
	if (!proc)
		return;
	p = eph_tab__rec(&occ->procs, proc - 1);
	w->pid = p->pid;
	memcpy(w->comm, p->comm, sizeof(w->comm));
	if (p->cgroup)
		strncpy(w->cgroup, p->cgroup, sizeof(w->cgroup) - 1);
	if (p->ct)
		w->ct = *p->ct;
}

/* The process with most pairs of what (ties: the lowest record); *total = all of what's. */
static uint32_t top_of(const struct pair *p, size_t n, uint32_t what, uint32_t *held,
		       uint32_t *total)
{
	size_t i = pairs_find(p, n, what), run;
	uint32_t best = 0;

	*held = 0;
	*total = 0;
	while (i < n && p[i].what == what) {
		for (run = 0;
		     i + run < n && p[i + run].what == what && p[i + run].proc == p[i].proc; run++)
			;
		if (run > *held) {
			*held = run;
			best = p[i].proc;
		}
		*total += run;
		i += run;
	}
	return best;
}

/* ---- the facts ------------------------------------------------------------------------- */

struct facts {
	struct eph_find_ns *ns;
	struct eph_find_dest *dests;
	struct eph_find_proc *procs;
	struct eph_find_port *ports;
	size_t nns, ndests, nprocs, nports, cap_procs, cap_ports;
};

static void facts_free(struct facts *fx)
{
	free(fx->ns);
	free(fx->dests);
	free(fx->procs);
	free(fx->ports);
}

static void fact_ns(const struct eph_occ *occ, const struct row *r, uint64_t now,
		    const struct pairs *ps, struct eph_find_ns *out)
{
	const struct ns *ns = r->rec;
	int64_t ni = eph_tab__find(&occ->nss, 0, &ns->netns, hash_u32(ns->netns));
	uint32_t top;

	memset(out, 0, sizeof(*out));
	out->netns = ns->netns;
	out->tw = ns->tw;
	if (!ns->have_range || !r->ps)
		return;
	out->low = ns->low;
	out->high = ns->high;
	out->reserved = ns->reserved;
	out->tcp_usable = r->ps->tcp_usable;
	out->tcp_bound = r->ps->tcp_bound;
	out->tcp_new_left = r->ps->tcp_new_left;
	out->udp_usable = r->ps->udp_usable;
	out->udp_taken = r->ps->udp_taken;
	out->udp_left = r->ps->udp_autobind_left;
	out->udp_eagain = occ->started ? tally_sum(occ, &ns->udp_eagain, now) : 0;
	top = top_of(ps->udp, ps->nudp, ni + 1, &out->udp_top_held, &out->udp_connected);
	who_of(occ, top, &out->udp_top);
}

static void fact_dest(const struct eph_occ *occ, const struct row *r, uint64_t now,
		      const struct pairs *ps, struct eph_find_dest *out)
{
	const struct dest *d = r->rec;
	int64_t di = eph_tab__find(&occ->dests, 0, &d->key, d->hash);
	uint32_t top, total;
	struct slot w;
	double span;

	memset(out, 0, sizeof(*out));
	out->key = d->key;
	out->st = r->st;
	out->mean_hold_s = NAN;
	if (occ->started) {
		ring_sum(occ, d->ring, now, &w, &span);
		out->window_failures = w.fails;
	}
	if (di >= 0 && ps->tw_n[di])
		out->mean_hold_s = (double)ps->tw_life_ns[di] / ps->tw_n[di] / NSEC_PER_SEC;
	top = top_of(ps->dest, ps->ndest, di + 1, &out->top_held, &total);
	who_of(occ, top, &out->top);
	if (r->st.sock_range.sockets) {
		out->socket_low = r->st.sock_range.low;
		out->socket_high = r->st.sock_range.high;
		out->socket_n = r->st.sock_range.sockets;
		out->socket_usable = r->st.sock_range.usable;
		out->socket_left = r->st.sock_range.left;
	}
}

static struct eph_find_proc *fact_proc(struct facts *fx, const struct eph_occ *occ, uint32_t netns,
				       uint32_t proc)
{
	struct eph_find_proc *p;
	size_t i;

	for (i = fx->nprocs; i > 0; i--)
		if (fx->procs[i - 1].netns == netns &&
		    fx->procs[i - 1].who.pid ==
			    ((const struct proc *)eph_tab__rec(&occ->procs, proc - 1))->pid)
			return &fx->procs[i - 1];
	if (eph_grow((void **)&fx->procs, &fx->cap_procs, fx->nprocs + 1, sizeof(*fx->procs)))
		return NULL;
	p = &fx->procs[fx->nprocs++];
	memset(p, 0, sizeof(*p));
	p->netns = netns;
	who_of(occ, proc, &p->who);
	return p;
}

/* Connections by (netns, process) now; connect()s of the window by process. */
static int facts_procs(struct facts *fx, const struct eph_occ *occ, uint64_t now,
		       const struct pairs *ps)
{
	struct eph_find_proc *p = NULL;
	uint32_t i;
	size_t j;

	for (j = 0; j < ps->nconn; j++) {
		const struct pair *c = &ps->conn[j];

		if (!j || c->netns != ps->conn[j - 1].netns || c->proc != ps->conn[j - 1].proc)
			p = fact_proc(fx, occ, c->netns, c->proc);
		if (!p)
			return -ENOMEM;
		p->conns++;
		p->bound_conns += c->bound;
	}
	if (!occ->started)
		return 0;
	for (i = 0; i < occ->procs.top; i++) {
		const struct proc *pr = eph_tab__rec(&occ->procs, i);
		struct slot w;
		double span;
		uint32_t n;

		if (!occ->procs.used[i] || !pr->conn_netns)
			continue;
		n = tally_sum(occ, &pr->bound_connects, now);
		if (!n)
			continue;
		p = fact_proc(fx, occ, pr->conn_netns, i + 1);
		if (!p)
			return -ENOMEM;
		ring_sum(occ, pr->ring, now, &w, &span);
		p->assigns = w.assigns;
		p->bound_connects = n;
	}
	return 0;
}

/* Who else is on a port that bind() could not have (known inside the range only). */
static void port_holders(const struct eph_occ *occ, struct eph_find_port *fp)
{
	const struct ns *ns = ns_find(occ, fp->netns);
	uint32_t i;

	fp->holders_known = ns && ns_port_in_range(ns, fp->port);
	if (!fp->holders_known)
		return;
	for (i = 0; i < occ->holds.top; i++) {
		const struct hold *h = hold_rec(occ, i);

		if (!occ->holds.used[i] || h->tuple.sport != fp->port ||
		    h->tuple.dest.netns != fp->netns || h->tuple.dest.proto != fp->proto)
			continue;
		if (h->tw)
			fp->tw_holders++;
		else
			fp->other_holders++;
	}
}

static int facts_ports(struct facts *fx, const struct eph_occ *occ, uint64_t now)
{
	uint32_t i, k;

	if (!occ->started)
		return 0;
	for (i = 0; i < occ->procs.top; i++) {
		const struct proc *pr = eph_tab__rec(&occ->procs, i);

		if (!occ->procs.used[i])
			continue;
		for (k = 0; k < PROC_MAX_FIXED; k++) {
			const struct fixed_fail *f = &pr->fixed[k];
			struct eph_find_port *fp;
			uint32_t n = f->port ? tally_sum(occ, &f->t, now) : 0;

			if (!n)
				continue;
			if (eph_grow((void **)&fx->ports, &fx->cap_ports, fx->nports + 1,
				     sizeof(*fx->ports)))
				return -ENOMEM;
			fp = &fx->ports[fx->nports++];
			memset(fp, 0, sizeof(*fp));
			fp->netns = f->netns;
			fp->port = f->port;
			fp->proto = f->proto;
			fp->failures = n;
			who_of(occ, i + 1, &fp->who);
			port_holders(occ, fp);
		}
	}
	return 0;
}

static int facts_build(const struct eph_occ *occ, const struct view *v, uint64_t now,
		       struct facts *fx)
{
	struct pairs ps;
	size_t i;
	int err;

	memset(fx, 0, sizeof(*fx));
	err = pairs_build(occ, &ps);
	fx->ns = calloc(v->nns + 1, sizeof(*fx->ns));
	fx->dests = calloc(v->ndests + 1, sizeof(*fx->dests));
	if (!err && (!fx->ns || !fx->dests))
		err = -ENOMEM;
	for (i = 0; !err && i < v->nns; i++)
		fact_ns(occ, &v->ns[i], now, &ps, &fx->ns[fx->nns++]);
	for (i = 0; !err && i < v->ndests; i++)
		fact_dest(occ, &v->dests[i], now, &ps, &fx->dests[fx->ndests++]);
	if (!err)
		err = facts_procs(fx, occ, now, &ps);
	if (!err)
		err = facts_ports(fx, occ, now);
	pairs_free(&ps);
	return err;
}

int occ_findings(const struct eph_occ *occ, const struct view *v, uint64_t now,
		 struct eph_findings *out)
{
	struct eph_find_in in;
	struct facts fx;
	int err;

	err = facts_build(occ, v, now, &fx);
	if (!err) {
		in = (struct eph_find_in){
			.have_events = occ->started,
			.window_s = (uint32_t)(occ->window_ns / NSEC_PER_SEC),
			.ns = fx.ns,
			.nns = fx.nns,
			.dests = fx.dests,
			.ndests = fx.ndests,
			.procs = fx.procs,
			.nprocs = fx.nprocs,
			.ports = fx.ports,
			.nports = fx.nports,
		};
		err = eph_find__run(&in, out);
	}
	if (!err) { /* a namespace's finding with no process: the namespace's owner */
		size_t i;

		for (i = 0; i < out->n; i++) {
			const struct ns *ns = ns_find(occ, out->f[i].netns);

			if (eph_container__none(&out->f[i].who.ct) && ns && ns->owner)
				out->f[i].who.ct = *ns->owner;
		}
	}
	facts_free(&fx);
	return err;
}

int eph_occ__findings(const struct eph_occ *occ, uint64_t now_ns, struct eph_findings *out)
{
	struct view v;
	int err;

	err = view_build(occ, now_ns, &v);
	if (err)
		return err;
	err = occ_findings(occ, &v, now_ns, out);
	view_free(&v);
	return err;
}
