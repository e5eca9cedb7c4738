// SPDX-License-Identifier: GPL-2.0
/*
 * Occupancy: the numbers of a snapshot (stats, the forecast, the port-search model) and
 * the rows for exporters.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "container_out.h"
#include "occ_int.h"
#include "order.h"

/* ---- numbers --------------------------------------------------------------------------- */

#define FORECAST_MARGIN 0.9 /* the need must pass this share of what the destination can have */
#define FORECAST_REACH 2.0  /* no release seen: project at most this many times the stretch */

static void stats_init(struct eph_occ_stats *st, uint32_t held, uint32_t tw)
{
	memset(st, 0, sizeof(*st));
	st->held = held;
	st->time_wait = tw;
	st->usable = NAN;
	st->ports_left = NAN;
	st->utilization = NAN;
	st->assign_rate = NAN;
	st->need = NAN;
	st->exhaust_in_s = NAN;
}

/* The model's answer for an entry of netns: usable (what the kernel's search scans), left. */
static void stats_left(struct eph_occ_stats *st, const struct eph_occ *occ,
		       const struct occ_model *m, uint32_t netns, bool udp, uint32_t left)
{
	int64_t ni = eph_tab__find(&occ->nss, 0, &netns, hash_u32(netns));
	const struct eph_ps_netns *ps;

	if (ni < 0 || !m->ns_done[ni])
		return;
	ps = &m->ns[ni];
	st->usable = udp ? ps->udp_usable : ps->tcp_usable;
	st->ports_left = left;
	if (st->usable > 0)
		st->utilization = 1 - left / st->usable;
}

/*
 * The forecast of a destination, from the window's assignments and releases measured over the
 * current stretch of activity (from its first assignment after a quiet window, so that the
 * idle time before a load does not dilute its rate):
 * - none left now: 0;
 * - otherwise nothing unless ports are taken faster than they come back (net rate g > 0),
 *   over at least a second, and the load cannot fit:
 *   - with releases of known hold time in the window, Little's law gives the steady-state
 *     need, rate x mean hold time; it must pass FORECAST_MARGIN of what this destination can
 *     have (its own ports now + ports_left);
 *   - with none yet (the hold time is unknown, and at least as long as the stretch), the
 *     linear projection left / g is trusted only up to FORECAST_REACH times the stretch
 *     observed so far;
 *   then the time until none is left is ports_left / g.
 */
static void dest_forecast(const struct eph_occ *occ, const struct dest *d, uint64_t now,
			  uint32_t taken, struct eph_occ_stats *st)
{
	double span, stretch, g, left = st->ports_left;
	struct slot w;

	if (left == 0)
		st->exhaust_in_s = 0;
	if (!occ->started)
		return;
	ring_sum(occ, d->ring, now, &w, &span);
	if (d->active_ns && now > d->active_ns && (now - d->active_ns) / 1e9 < span)
		span = (now - d->active_ns) / 1e9;
	st->assign_rate = rate(w.assigns, span);
	if (w.dur_n)
		st->need = st->assign_rate * ((double)w.dur_ns / w.dur_n / NSEC_PER_SEC);
	else
		st->need = w.assigns ? INFINITY : 0;
	if (isnan(left) || left == 0 || span < 1)
		return;
	g = st->assign_rate - rate(w.releases, span);
	if (g <= 0)
		return;
	stretch = d->active_ns && now > d->active_ns ? (now - d->active_ns) / 1e9 : span;
	if (w.dur_n ? st->need <= FORECAST_MARGIN * (taken + left) :
		      left / g > FORECAST_REACH * stretch)
		return;
	st->exhaust_in_s = left / g;
}

static void dest_stats(const struct eph_occ *occ, const struct occ_model *m, uint32_t di,
		       uint64_t now, struct eph_occ_stats *st)
{
	const struct dest *d = eph_tab__rec(&occ->dests, di);

	stats_init(st, d->held, d->tw);
	stats_left(st, occ, m, d->key.netns, false, m->dest_left[di]);
	st->sock_range = m->dest_range[di];
	st->failures = d->failures;
	dest_forecast(occ, d, now, m->dest_taken[di], st);
}

static void scope_stats(const struct eph_occ *occ, const struct occ_model *m, uint32_t si,
			struct eph_occ_stats *st)
{
	const struct scope *s = eph_tab__rec(&occ->scopes, si);

	stats_init(st, s->held, s->tw);
	stats_left(st, occ, m, s->key.netns, s->key.proto == IPPROTO_UDP, m->scope_left[si]);
	st->failures = s->fail_inuse + s->fail_again;
}

static void proc_stats(const struct eph_occ *occ, const struct proc *p, uint64_t now,
		       struct eph_occ_stats *st)
{
	struct slot w;
	double span;

	stats_init(st, p->held, p->tw);
	st->failures = eph_errs__total(&p->errs);
	st->exited = p->exited;
	if (!occ->started)
		return;
	ring_sum(occ, p->ring, now, &w, &span);
	st->assign_rate = rate(w.assigns, span);
}

int eph_occ__dest(const struct eph_occ *occ, const struct eph_occ_dest_key *key, uint64_t now_ns,
		  struct eph_occ_stats *out)
{
	int64_t i = eph_tab__find(&occ->dests, 0, key, hash_dest(key));
	struct occ_model m;

	if (i < 0)
		return -ENOENT;
	if (occ_model_build(occ, now_ns, &m))
		return -ENOMEM;
	dest_stats(occ, &m, i, now_ns, out);
	occ_model_free(&m);
	return 0;
}

int eph_occ__scope(const struct eph_occ *occ, const struct eph_occ_scope_key *key, uint64_t now_ns,
		   struct eph_occ_stats *out)
{
	int64_t i = eph_tab__find(&occ->scopes, 0, key, eph_tab__hash(key, sizeof(*key)));
	struct occ_model m;

	if (i < 0)
		return -ENOENT;
	if (occ_model_build(occ, now_ns, &m))
		return -ENOMEM;
	scope_stats(occ, &m, i, out);
	occ_model_free(&m);
	return 0;
}

int eph_occ__proc(const struct eph_occ *occ, uint32_t pid, uint64_t now_ns,
		  struct eph_occ_stats *out)
{
	int64_t i;

	if (!pid) {
		if (!occ->anon_held)
			return -ENOENT;
		stats_init(out, occ->anon_held, occ->anon_tw);
		return 0;
	}
	i = eph_tab__find(&occ->procs, 0, &pid, hash_u32(pid));
	if (i < 0)
		return -ENOENT;
	proc_stats(occ, eph_tab__rec(&occ->procs, i), now_ns, out);
	return 0;
}

/* ---- snapshot -------------------------------------------------------------------------- */

static int cmp_double_desc(double a, double b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) - isnan(b); /* unknown last */
	return a > b ? -1 : a < b;
}

static int cmp_ns(const void *a, const void *b)
{
	const struct ns *x = ((const struct row *)a)->rec, *y = ((const struct row *)b)->rec;

	return eph_cmp_u64(x->netns, y->netns);
}

/* Where a key is: netns, proto, family, the order both keys start with. */
static int cmp_where(uint32_t xnetns, uint8_t xproto, uint8_t xfamily, uint32_t ynetns,
		     uint8_t yproto, uint8_t yfamily)
{
	int c = eph_cmp_u64(xnetns, ynetns) ?: eph_cmp_u64(xproto, yproto);

	return c ?: eph_cmp_u64(xfamily, yfamily);
}

/* Keys in a readable order: where, addresses (network order), port. */
static int cmp_dest_key(const struct eph_occ_dest_key *a, const struct eph_occ_dest_key *b)
{
	int c = cmp_where(a->netns, a->proto, a->family, b->netns, b->proto, b->family);

	if (!c)
		c = memcmp(a->saddr, b->saddr, sizeof(a->saddr));
	if (!c)
		c = memcmp(a->daddr, b->daddr, sizeof(a->daddr));
	return c ?: eph_cmp_u64(a->dport, b->dport);
}

static int cmp_scope_key(const struct eph_occ_scope_key *a, const struct eph_occ_scope_key *b)
{
	int c = cmp_where(a->netns, a->proto, a->family, b->netns, b->proto, b->family);

	return c ?: memcmp(a->addr, b->addr, sizeof(a->addr));
}

/* Utilization, then held, descending. */
static int cmp_usage(const struct row *x, const struct row *y)
{
	int c = cmp_double_desc(x->st.utilization, y->st.utilization);

	if (!c)
		c = eph_cmp_u64(y->st.held, x->st.held);
	return c;
}

static int cmp_dest(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	return cmp_usage(x, y) ?: cmp_dest_key(x->rec, y->rec);
}

/* Nearest exhaustion first: known forecasts ascending, then by utilization. */
int cmp_dest_urgent(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (isnan(x->st.exhaust_in_s) != isnan(y->st.exhaust_in_s))
		return isnan(x->st.exhaust_in_s) ? 1 : -1;
	if (!isnan(x->st.exhaust_in_s) && x->st.exhaust_in_s != y->st.exhaust_in_s)
		return x->st.exhaust_in_s < y->st.exhaust_in_s ? -1 : 1;
	return cmp_dest(a, b);
}

static int cmp_scope(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	return cmp_usage(x, y) ?: cmp_scope_key(x->rec, y->rec);
}

static int cmp_proc(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	uint32_t px, py;

	if (!x->rec || !y->rec)
		return !x->rec - !y->rec; /* the unknown owner last */
	if (x->st.held != y->st.held)
		return eph_cmp_u64(y->st.held, x->st.held);
	px = ((const struct proc *)x->rec)->pid;
	py = ((const struct proc *)y->rec)->pid;
	return eph_cmp_u64(px, py);
}

void view_free(struct view *v)
{
	occ_model_free(&v->model);
	free(v->ns);
	free(v->dests);
	free(v->scopes);
	free(v->procs);
}

/* A netns row against a netns (the rows are in netns order). */
static int cmp_ns_row(const void *row, const void *netns)
{
	const struct ns *ns = ((const struct row *)row)->rec;

	return eph_cmp_u64(ns->netns, *(const uint32_t *)netns);
}

static uint32_t view_nsno(const struct view *v, uint32_t netns)
{
	size_t i = eph_lower_bound(v->ns, v->nns, sizeof(*v->ns), &netns, cmp_ns_row);

	return i < v->nns && cmp_ns_row(&v->ns[i], &netns) == 0 ? (uint32_t)i + 1 : 0;
}

/* The next of the n rows, for rec whose container is ct; NULL when --container or --pod
 * (occ->ctf) leaves ct out. */
static struct row *view_add_shown(const struct eph_occ *occ, struct row *rows, size_t *n,
				  const void *rec, const struct eph_container *ct)
{
	struct row *r;

	if (!eph_ct_filter__match(&occ->ctf, ct))
		return NULL;
	r = &rows[(*n)++];
	r->rec = rec;
	return r;
}

/* The next of the n rows, for rec in netns, its ports counted in the namespace's row; NULL
 * when filtered and the namespace is not shown. */
static struct row *view_add(struct view *v, struct row *rows, size_t *n, bool filtered,
			    const void *rec, uint32_t netns, uint32_t held, uint32_t tw)
{
	uint32_t nsno = view_nsno(v, netns);
	struct row *r;

	if (filtered && !nsno)
		return NULL;
	r = &rows[(*n)++];
	r->rec = rec;
	r->nsno = nsno;
	if (nsno) {
		v->ns[nsno - 1].held += held;
		v->ns[nsno - 1].tw += tw;
	}
	return r;
}

/* With --container or --pod (occ->ctf): only the processes of what it names, and the
 * namespaces it owns with their destinations and bind scopes. */
int view_build(const struct eph_occ *occ, uint64_t now, struct view *v)
{
	bool filtered = !eph_ct_filter__any(&occ->ctf);
	uint32_t i;

	memset(v, 0, sizeof(*v));
	v->ns = calloc(occ->nss.len + 1, sizeof(struct row));
	v->dests = calloc(occ->dests.len + 1, sizeof(struct row));
	v->scopes = calloc(occ->scopes.len + 1, sizeof(struct row));
	v->procs = calloc(occ->procs.len + 2, sizeof(struct row));
	if (!v->ns || !v->dests || !v->scopes || !v->procs ||
	    occ_model_build(occ, now, &v->model)) {
		view_free(v);
		return -ENOMEM;
	}
	for (i = 0; i < occ->nss.top; i++) {
		const struct ns *ns = eph_tab__rec(&occ->nss, i);
		struct row *r = NULL;

		if (occ->nss.used[i])
			r = view_add_shown(occ, v->ns, &v->nns, ns, ns->owner);
		if (!r)
			continue;
		r->ps = v->model.ns_done[i] ? &v->model.ns[i] : NULL;
		r->assumed = v->model.ns_assumed[i];
		r->bound_unlisted = occ->bound_unlisted;
	}
	qsort(v->ns, v->nns, sizeof(struct row), cmp_ns);
	for (i = 0; i < occ->dests.top; i++) {
		const struct dest *d = eph_tab__rec(&occ->dests, i);
		struct row *r = NULL;

		if (occ->dests.used[i])
			r = view_add(v, v->dests, &v->ndests, filtered, d, d->key.netns, d->held,
				     d->tw);
		if (r)
			dest_stats(occ, &v->model, i, now, &r->st);
	}
	for (i = 0; i < occ->scopes.top; i++) {
		const struct scope *s = eph_tab__rec(&occ->scopes, i);
		struct row *r = NULL;

		if (occ->scopes.used[i])
			r = view_add(v, v->scopes, &v->nscopes, filtered, s, s->key.netns, s->held,
				     s->tw);
		if (r)
			scope_stats(occ, &v->model, i, &r->st);
	}
	for (i = 0; i < occ->procs.top; i++) {
		const struct proc *p = eph_tab__rec(&occ->procs, i);
		struct row *r = NULL;

		if (occ->procs.used[i])
			r = view_add_shown(occ, v->procs, &v->nprocs, p, p->ct);
		if (r)
			proc_stats(occ, p, now, &r->st);
	}
	if (occ->anon_held && !filtered)
		stats_init(&v->procs[v->nprocs++].st, occ->anon_held, occ->anon_tw);
	qsort(v->dests, v->ndests, sizeof(struct row), cmp_dest);
	qsort(v->scopes, v->nscopes, sizeof(struct row), cmp_scope);
	qsort(v->procs, v->nprocs, sizeof(struct row), cmp_proc);
	return 0;
}

/* ---- rows for exporters ---------------------------------------------------------------- */

void eph_occ_rows__free(struct eph_occ_rows *rows)
{
	if (!rows)
		return;
	free(rows->dests);
	free(rows->scopes);
	free(rows->procs);
	free(rows->netns);
	free(rows->cts);
	memset(rows, 0, sizeof(*rows));
}

const struct eph_container *eph_occ_rows__container(const struct eph_occ_rows *rows, uint32_t pid)
{
	size_t i;

	for (i = 0; i < rows->nprocs; i++)
		if (rows->procs[i].pid == pid)
			return rows->procs[i].ct;
	return NULL;
}

/* c's copy in rows->cts (room for every namespace and process was made), NULL for none. */
static const struct eph_container *rows_ct(struct eph_occ_rows *rows, const struct eph_container *c)
{
	size_t i;

	if (!c || eph_container__none(c))
		return NULL;
	for (i = 0; i < rows->ncts; i++)
		if (!memcmp(&rows->cts[i], c, sizeof(*c)))
			return &rows->cts[i];
	rows->cts[rows->ncts] = *c;
	return &rows->cts[rows->ncts++];
}

int eph_occ__rows(const struct eph_occ *occ, uint64_t now_ns, struct eph_occ_rows *rows)
{
	struct view v;
	size_t i;
	int err;

	memset(rows, 0, sizeof(*rows));
	err = view_build(occ, now_ns, &v);
	if (err)
		return err;
	rows->dests = calloc(v.ndests + 1, sizeof(*rows->dests));
	rows->scopes = calloc(v.nscopes + 1, sizeof(*rows->scopes));
	rows->procs = calloc(v.nprocs + 1, sizeof(*rows->procs));
	rows->netns = calloc(v.nns + 1, sizeof(*rows->netns));
	rows->cts = calloc(v.nns + v.nprocs + 1, sizeof(*rows->cts));
	if (!rows->dests || !rows->scopes || !rows->procs || !rows->netns || !rows->cts) {
		eph_occ_rows__free(rows);
		view_free(&v);
		return -ENOMEM;
	}
	for (i = 0; i < v.ndests; i++) {
		rows->dests[i].key = ((const struct dest *)v.dests[i].rec)->key;
		rows->dests[i].st = v.dests[i].st;
		if (v.dests[i].nsno)
			rows->dests[i].ct = rows_ct(
				rows, ((const struct ns *)v.ns[v.dests[i].nsno - 1].rec)->owner);
	}
	for (i = 0; i < v.nscopes; i++) {
		const struct scope *sc = v.scopes[i].rec;
		struct eph_occ_scope_row *r = &rows->scopes[i];

		r->key = sc->key;
		r->st = v.scopes[i].st;
		r->fail_inuse = sc->fail_inuse;
		r->fail_again = sc->fail_again;
		if (v.scopes[i].nsno)
			r->ct = rows_ct(rows,
					((const struct ns *)v.ns[v.scopes[i].nsno - 1].rec)->owner);
	}
	for (i = 0; i < v.nprocs; i++) {
		const struct proc *p = v.procs[i].rec;

		if (p) {
			rows->procs[i].pid = p->pid;
			memcpy(rows->procs[i].comm, p->comm, EPH_COMM_LEN);
			rows->procs[i].ct = rows_ct(rows, p->ct);
		}
		rows->procs[i].st = v.procs[i].st;
	}
	for (i = 0; i < v.nns; i++) {
		const struct ns *ns = v.ns[i].rec;

		rows->netns[i] = (struct eph_occ_netns_row){
			.netns = ns->netns,
			.have_range = ns->have_range,
			.low = ns->low,
			.high = ns->high,
			.reserved = ns->reserved,
			.usable = ns_usable(ns),
			.new_left = v.ns[i].ps ? v.ns[i].ps->tcp_new_left : NAN,
			.ct = rows_ct(rows, ns->owner),
		};
	}
	rows->ndests = v.ndests;
	rows->nscopes = v.nscopes;
	rows->nprocs = v.nprocs;
	rows->nnetns = v.nns;
	view_free(&v);
	return 0;
}

int eph_occ__held_by_proc(const struct eph_occ *occ, uint8_t proto, uint8_t family,
			  void (*fn)(uint32_t pid, uint32_t held, void *ctx), void *ctx)
{
	uint32_t *held, i;

	held = calloc(occ->procs.top + 1, sizeof(*held));
	if (!held)
		return -ENOMEM;
	for (i = 0; i < occ->holds.top; i++) {
		const struct hold *h = hold_rec(occ, i);

		if (!occ->holds.used[i] || !h->proc || (proto && h->tuple.dest.proto != proto) ||
		    (family && h->tuple.dest.family != family))
			continue;
		held[h->proc - 1]++;
	}
	for (i = 0; i < occ->procs.top; i++)
		if (held[i])
			fn(((const struct proc *)eph_tab__rec(&occ->procs, i))->pid, held[i], ctx);
	free(held);
	return 0;
}
