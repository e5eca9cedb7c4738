// SPDX-License-Identifier: GPL-2.0
/*
 * Prometheus exposition: the rows of destinations, bind scopes, namespaces, processes and
 * findings (those in metrics_findings.c), each table ranked and cut to the top N, and how many
 * rows each left out. See metrics_int.h.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_int.h"
#include "order.h"

/* ---- rows: destinations, bind scopes, namespaces, processes (top N of each) ---- */

static const struct family fam_dest_held = {
	"ephtrace_destination_ports_held", M_GAUGE, NULL,
	"Local ports held now (TIME_WAIT included) towards one destination."
};
static const struct family fam_dest_left = {
	"ephtrace_destination_ports_left", M_GAUGE, NULL,
	"connect() calls to one destination that the kernel would still grant now (ephtrace's "
	"model of its port search: bind() ports, TIME_WAIT reuse, the even count, reserved "
	"ports); 0 = the next one fails with EADDRNOTAVAIL."
};
static const struct family fam_dest_util = {
	"ephtrace_destination_port_utilization_ratio", M_GAUGE, NULL,
	"1 - ports left / usable ephemeral ports towards one destination (1 = exhausted)."
};
static const struct family fam_dest_exhaust = {
	"ephtrace_destination_exhaustion_seconds", M_GAUGE, "seconds",
	"Forecast time until no local port is left towards one destination, at the current "
	"assignment rate and hold times (only when the forecast is finite)."
};
static const struct family fam_dest_fail = {
	"ephtrace_destination_port_failures", M_COUNTER, NULL,
	"connect() calls to one destination that failed with EADDRNOTAVAIL (no free local port; "
	"on a socket bind() gave its port, its 4-tuple taken), since ephtrace tracks the "
	"destination."
};
static const struct family fam_scope_held = {
	"ephtrace_bind_scope_ports_held", M_GAUGE, NULL,
	"Local ports held now (TIME_WAIT included) in one bind scope (netns, protocol, local "
	"address): ports that bind() to port 0, listen() and UDP sockets took."
};
static const struct family fam_scope_left = {
	"ephtrace_bind_scope_ports_left", M_GAUGE, NULL,
	"bind() calls to port 0 on one local address (UDP: also the implicit binds of connect() "
	"and sendmsg()) that the kernel would still grant now (ephtrace's model of its port "
	"choice); 0 = the next one fails with EADDRINUSE (EAGAIN for a UDP implicit bind)."
};
static const struct family fam_scope_util = {
	"ephtrace_bind_scope_port_utilization_ratio", M_GAUGE, NULL,
	"1 - ports left / usable ephemeral ports in one bind scope (1 = exhausted)."
};
static const struct family fam_scope_fail = {
	"ephtrace_bind_scope_port_failures", M_COUNTER, NULL,
	"Port choices that found no free port in one bind scope, since ephtrace tracks the scope: "
	"bind() to port 0 and listen() (EADDRINUSE), UDP implicit binds of connect() and "
	"sendmsg() (EAGAIN)."
};
static const struct family fam_range = {
	"ephtrace_port_range_usable", M_GAUGE, NULL,
	"Ephemeral ports of a network namespace: ip_local_port_range minus "
	"ip_local_reserved_ports."
};
static const struct family fam_new_left = {
	"ephtrace_new_destination_ports_left", M_GAUGE, NULL,
	"connect() calls to a destination that holds no port of the range yet that the kernel "
	"would grant now: the usable ports less those whose bucket bind() or listen() made, which "
	"connect() skips for every destination (ephtrace's model of its port search)."
};
static const struct family fam_proc_held = {
	"ephtrace_process_ports_held", M_GAUGE, NULL,
	"Ports the processes of one name (comm) in one container (none: the host's) took since "
	"ephtrace started and hold now, summed over their pids (per pid with --pid-labels), for "
	"those holding most. TIME_WAIT is included where the backend sees its end (fentry, "
	"kprobe), not on the tracepoint backend."
};
static const struct family fam_proc_fail = {
	"ephtrace_process_port_failures", M_COUNTER, NULL,
	"Port allocation failures of the processes of one name (comm) in one container (none: "
	"the host's) by errno, summed over their pids, exited ones included (per pid with "
	"--pid-labels), since ephtrace started, for those with most."
};
static const struct family fam_truncated = {
	"ephtrace_series_truncated", M_GAUGE, NULL,
	"Rows left out of this scrape by the --top limit, by table (destination, bind_scope, "
	"process, process_failure, finding)."
};
static const struct family fam_untracked = {
	"ephtrace_process_events_untracked", M_COUNTER, NULL,
	"Port allocation failures not counted in a process series because a table was full "
	"(pids, series, or the 8 errnos of one)."
};

static int cmp_addr(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, 16);
}

/* The order both tables rank by first: most used (unknown last), most held, then netns,
 * protocol, family; 0 when those are equal. */
static int cmp_usage(double xu, double yu, uint64_t xheld, uint64_t yheld, uint32_t xnetns,
		     uint32_t ynetns, uint8_t xproto, uint8_t yproto, uint8_t xfam, uint8_t yfam)
{
	double ux = isnan(xu) ? -1 : xu, uy = isnan(yu) ? -1 : yu;
	int c = eph_cmp_u64(yheld, xheld) ?: eph_cmp_u64(xnetns, ynetns);

	if (ux != uy)
		return ux > uy ? -1 : 1;
	return c ?: eph_cmp_u64(xproto, yproto) ?: eph_cmp_u64(xfam, yfam);
}

static int cmp_dest(const void *a, const void *b)
{
	const struct eph_metrics_dest *x = *(const struct eph_metrics_dest *const *)a;
	const struct eph_metrics_dest *y = *(const struct eph_metrics_dest *const *)b;
	int c = cmp_usage(x->utilization, y->utilization, x->held, y->held, x->netns, y->netns,
			  x->proto, y->proto, x->family, y->family);

	if (c)
		return c;
	if (cmp_addr(x->daddr, y->daddr))
		return cmp_addr(x->daddr, y->daddr);
	if (x->dport != y->dport)
		return x->dport - y->dport;
	return cmp_addr(x->saddr, y->saddr);
}

static int cmp_scope(const void *a, const void *b)
{
	const struct eph_metrics_scope *x = *(const struct eph_metrics_scope *const *)a;
	const struct eph_metrics_scope *y = *(const struct eph_metrics_scope *const *)b;
	int c = cmp_usage(x->utilization, y->utilization, x->held, y->held, x->netns, y->netns,
			  x->proto, y->proto, x->family, y->family);

	return c ? c : cmp_addr(x->addr, y->addr);
}

/* Whether two containers show the same labels (ct_labels), as strcmp. */
static int cmp_ct(const struct eph_container *x, const struct eph_container *y)
{
	static const struct eph_container none;
	int c;

	x = x && !eph_container__none(x) ? x : &none;
	y = y && !eph_container__none(y) ? y : &none;
	c = strncmp(x->id, y->id, sizeof(x->id));
	if (c || (!x->pod[0] && !y->pod[0]))
		return c;
	if (!x->pod[0] || !y->pod[0])
		return x->pod[0] ? 1 : -1;
	c = strncmp(x->pod, y->pod, sizeof(x->pod));
	if (!c)
		c = strncmp(x->pod_namespace, y->pod_namespace, sizeof(x->pod_namespace));
	if (!c)
		c = strncmp(x->container, y->container, sizeof(x->container));
	return c;
}

/* A process series' labels: pid (0 unless pid_labels: see sum_procs), comm, container. */
int cmp_who(uint32_t xpid, const char *xcomm, const struct eph_container *xct, uint32_t ypid,
	    const char *ycomm, const struct eph_container *yct)
{
	int c;

	c = eph_cmp_u64(xpid, ypid) ?: strncmp(xcomm, ycomm, EPH_COMM_LEN);
	return c ?: cmp_ct(xct, yct);
}

static int cmp_proc_who(const void *a, const void *b)
{
	const struct eph_metrics_proc *x = a, *y = b;

	return cmp_who(x->pid, x->comm, x->ct, y->pid, y->comm, y->ct);
}

static int cmp_fail_who(const void *a, const void *b)
{
	const struct eph_metrics_proc_fail *x = a, *y = b;
	int c = cmp_who(x->pid, x->comm, x->ct, y->pid, y->comm, y->ct);

	return c ? c : x->err - y->err;
}

static int cmp_proc(const void *a, const void *b)
{
	const struct eph_metrics_proc *x = *(const struct eph_metrics_proc *const *)a;
	const struct eph_metrics_proc *y = *(const struct eph_metrics_proc *const *)b;

	return eph_cmp_u64(y->held, x->held) ?: cmp_proc_who(x, y);
}

static int cmp_fail(const void *a, const void *b)
{
	const struct eph_metrics_proc_fail *x = *(const struct eph_metrics_proc_fail *const *)a;
	const struct eph_metrics_proc_fail *y = *(const struct eph_metrics_proc_fail *const *)b;

	return eph_cmp_u64(y->count, x->count) ?: cmp_fail_who(x, y);
}

static void add_proc(void *into, const void *from)
{
	((struct eph_metrics_proc *)into)->held += ((const struct eph_metrics_proc *)from)->held;
}

static void add_fail(void *into, const void *from)
{
	((struct eph_metrics_proc_fail *)into)->count +=
		((const struct eph_metrics_proc_fail *)from)->count;
}

static int cmp_netns(const void *a, const void *b)
{
	const struct eph_metrics_netns *x = *(const struct eph_metrics_netns *const *)a;
	const struct eph_metrics_netns *y = *(const struct eph_metrics_netns *const *)b;

	return eph_cmp_u64(x->netns, y->netns);
}

/*
 * Pointers to the n rows of size sz that keep(row) accepts, ranked by cmp, cut to top.
 * *kept is how many are shown, *cut how many were left out. *out NULL when none is kept.
 */
static int rank(const void *rows, size_t n, size_t sz, bool (*keep)(const void *row),
		int (*cmp)(const void *, const void *), unsigned int top, const void ***out,
		size_t *kept, uint64_t *cut)
{
	const void **v;
	size_t i, k = 0;

	*out = NULL;
	*kept = 0;
	*cut = 0;
	if (!n)
		return 0;
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const void *row = (const char *)rows + i * sz;

		if (keep(row))
			v[k++] = row;
	}
	qsort(v, k, sizeof(*v), cmp);
	*kept = top && k > top ? top : k;
	*cut = k - *kept;
	*out = v;
	return 0;
}

static bool keep_all(const void *row)
{
	(void)row;
	return true;
}

static bool keep_proc(const void *row)
{
	return ((const struct eph_metrics_proc *)row)->held > 0;
}

static bool keep_fail(const void *row)
{
	return ((const struct eph_metrics_proc_fail *)row)->count > 0;
}

/* A container's labels, the kube-state-metrics/cAdvisor names for pods: none for a host
 * process. */
void ct_labels(struct writer *w, const struct eph_container *c)
{
	if (!c || eph_container__none(c))
		return;
	if (c->id[0])
		label(w, "container_id", c->id, sizeof(c->id));
	if (c->pod[0]) {
		label(w, "pod", c->pod, sizeof(c->pod));
		label(w, "namespace", c->pod_namespace, sizeof(c->pod_namespace));
		label(w, "container", c->container, sizeof(c->container));
	}
}

static void dest_labels(struct writer *w, const void *row)
{
	const struct eph_metrics_dest *d = row;
	char saddr[48] = "?", daddr[48] = "?";
	struct name_buf b;

	eph_addr_str(d->family, d->saddr, saddr, sizeof(saddr));
	eph_addr_str(d->family, d->daddr, daddr, sizeof(daddr));
	label_u64(w, "netns", d->netns);
	label_str(w, "proto", or_number(eph_proto_name(d->proto), d->proto, &b));
	label_str(w, "saddr", saddr);
	label_str(w, "daddr", daddr);
	label_u64(w, "dport", d->dport);
	ct_labels(w, d->ct);
}

/*
 * One family of a table's rows: a sample per row, labelled by labels(), whose value is the row's
 * field at off: a uint64_t (V_U64), or a double written only when known (V_KNOWN: not NaN) or
 * when a finite time ahead (V_AHEAD: finite and >= 0).
 */
enum vkind {
	V_U64,
	V_KNOWN,
	V_AHEAD
};

struct row_family {
	const struct family *f;
	const char *suffix;
	size_t off;
	enum vkind kind;
};

typedef void (*row_labels_fn)(struct writer *w, const void *row);

static void write_family_rows(struct writer *w, const struct row_family *rf, const void *const *v,
			      size_t n, row_labels_fn labels)
{
	size_t i;
	double x;

	family(w, rf->f);
	for (i = 0; i < n; i++) {
		const char *field = (const char *)v[i] + rf->off;

		if (rf->kind != V_U64) {
			memcpy(&x, field, sizeof(x));
			if (rf->kind == V_KNOWN ? isnan(x) : !isfinite(x) || x < 0)
				continue;
		}
		sample(w, rf->suffix);
		labels(w, v[i]);
		if (rf->kind == V_U64) {
			uint64_t u;

			memcpy(&u, field, sizeof(u));
			value_u64(w, u);
		} else {
			value_float(w, x);
		}
	}
}

/* Each family of fams over the rows v, in that order. */
static void write_families(struct writer *w, const struct row_family *fams, size_t nfams,
			   const void *const *v, size_t n, row_labels_fn labels)
{
	size_t i;

	for (i = 0; i < nfams; i++)
		write_family_rows(w, &fams[i], v, n, labels);
}

static void write_dests(struct writer *w, const struct eph_metrics_dest *const *v, size_t n)
{
	static const struct row_family fams[] = {
		{ &fam_dest_held, "", offsetof(struct eph_metrics_dest, held), V_U64 },
		{ &fam_dest_left, "", offsetof(struct eph_metrics_dest, ports_left), V_KNOWN },
		{ &fam_dest_util, "", offsetof(struct eph_metrics_dest, utilization), V_KNOWN },
		{ &fam_dest_exhaust, "", offsetof(struct eph_metrics_dest, exhaust_in_s), V_AHEAD },
		{ &fam_dest_fail, "_total", offsetof(struct eph_metrics_dest, failures), V_U64 },
	};

	write_families(w, fams, sizeof(fams) / sizeof(fams[0]), (const void *const *)v, n,
		       dest_labels);
}

static void scope_labels(struct writer *w, const void *row)
{
	const struct eph_metrics_scope *s = row;
	char addr[48] = "?";
	struct name_buf b;

	eph_addr_str(s->family, s->addr, addr, sizeof(addr));
	label_u64(w, "netns", s->netns);
	label_str(w, "proto", or_number(eph_proto_name(s->proto), s->proto, &b));
	label_str(w, "family", or_number(eph_family_name(s->family), s->family, &b));
	label_str(w, "addr", addr);
	ct_labels(w, s->ct);
}

/* The failure counters of a scope: EADDRINUSE always, EAGAIN for UDP (its implicit binds). */
static void write_scope_fails(struct writer *w, const struct eph_metrics_scope *s)
{
	sample(w, "_total");
	scope_labels(w, s);
	label_errno(w, "error", EADDRINUSE);
	value_u64(w, s->fail_inuse);
	if (s->proto != IPPROTO_UDP)
		return;
	sample(w, "_total");
	scope_labels(w, s);
	label_errno(w, "error", EAGAIN);
	value_u64(w, s->fail_again);
}

static void write_scopes(struct writer *w, const struct eph_metrics_scope *const *v, size_t n)
{
	static const struct row_family fams[] = {
		{ &fam_scope_held, "", offsetof(struct eph_metrics_scope, held), V_U64 },
		{ &fam_scope_left, "", offsetof(struct eph_metrics_scope, ports_left), V_KNOWN },
		{ &fam_scope_util, "", offsetof(struct eph_metrics_scope, utilization), V_KNOWN },
	};
	size_t i;

	write_families(w, fams, sizeof(fams) / sizeof(fams[0]), (const void *const *)v, n,
		       scope_labels);
	family(w, &fam_scope_fail);
	for (i = 0; i < n; i++)
		write_scope_fails(w, v[i]);
}

static void netns_labels(struct writer *w, const void *row)
{
	const struct eph_metrics_netns *n = row;

	label_u64(w, "netns", n->netns);
	ct_labels(w, n->ct);
}

static void write_netns(struct writer *w, const struct eph_metrics_netns *const *v, size_t n)
{
	static const struct row_family fams[] = {
		{ &fam_range, "", offsetof(struct eph_metrics_netns, usable), V_U64 },
		{ &fam_new_left, "", offsetof(struct eph_metrics_netns, new_left), V_KNOWN },
	};

	write_families(w, fams, sizeof(fams) / sizeof(fams[0]), (const void *const *)v, n,
		       netns_labels);
}

/*
 * The rows of in->procs and in->fails summed by series: one per comm and container (and pid
 * with pid_labels; without, the copies' pid is 0), failures per errno too. New arrays, which
 * the caller frees (NULL when empty). 0 or -ENOMEM.
 */
static int sum_procs(const struct eph_metrics_input *in, struct eph_metrics_proc **procs,
		     size_t *np, struct eph_metrics_proc_fail **fails, size_t *nf)
{
	struct eph_metrics_proc *p;
	struct eph_metrics_proc_fail *f;
	size_t i;

	*np = *nf = 0;
	*fails = NULL;
	if (copy_rows(in->procs, in->nprocs, sizeof(*p), NULL, (void **)procs))
		return -ENOMEM;
	if (copy_rows(in->fails, in->nfails, sizeof(*f), NULL, (void **)fails)) {
		free(*procs);
		*procs = NULL;
		return -ENOMEM;
	}
	p = *procs;
	f = *fails;
	for (i = 0; !in->pid_labels && i < in->nprocs; i++)
		p[i].pid = 0;
	for (i = 0; !in->pid_labels && i < in->nfails; i++)
		f[i].pid = 0;
	*np = sort_merge(p, in->nprocs, sizeof(*p), cmp_proc_who, add_proc);
	*nf = sort_merge(f, in->nfails, sizeof(*f), cmp_fail_who, add_fail);
	return 0;
}

static void proc_labels(struct writer *w, bool pid, uint32_t id, const char *comm,
			const struct eph_container *ct)
{
	if (pid)
		label_u64(w, "pid", id);
	label(w, "comm", comm, EPH_COMM_LEN);
	ct_labels(w, ct);
}

static void write_procs(struct writer *w, bool pid, const struct eph_metrics_proc *const *p,
			size_t np, const struct eph_metrics_proc_fail *const *f, size_t nf)
{
	size_t i;

	family(w, &fam_proc_held);
	for (i = 0; i < np; i++) {
		sample(w, "");
		proc_labels(w, pid, p[i]->pid, p[i]->comm, p[i]->ct);
		value_u64(w, p[i]->held);
	}
	family(w, &fam_proc_fail);
	for (i = 0; i < nf; i++) {
		sample(w, "_total");
		proc_labels(w, pid, f[i]->pid, f[i]->comm, f[i]->ct);
		label_errno(w, "error", f[i]->err);
		value_u64(w, f[i]->count);
	}
}

static void write_truncated(struct writer *w, const char *table, uint64_t cut)
{
	sample(w, "");
	label_str(w, "table", table);
	value_u64(w, cut);
}

int write_rows(struct writer *w, const struct eph_metrics_input *in)
{
	const void **ns = NULL, **d = NULL, **sc = NULL, **p = NULL, **f = NULL;
	struct eph_metrics_proc *procs = NULL;
	struct eph_metrics_proc_fail *fails = NULL;
	size_t nns = 0, nd = 0, nsc = 0, np = 0, nf = 0, nprocs = 0, nfails = 0;
	uint64_t cut_ns = 0, cut_d = 0, cut_sc = 0, cut_p = 0, cut_f = 0, cut_find;
	bool *dup = NULL;
	int err;

	err = sum_procs(in, &procs, &nprocs, &fails, &nfails);
	if (!err)
		err = finding_dups(in, &dup);
	if (!err)
		err = rank(in->dests, in->ndests, sizeof(*in->dests), keep_all, cmp_dest, in->top,
			   &d, &nd, &cut_d);
	if (!err)
		err = rank(in->scopes, in->nscopes, sizeof(*in->scopes), keep_all, cmp_scope,
			   in->top, &sc, &nsc, &cut_sc);
	if (!err)
		err = rank(procs, nprocs, sizeof(*procs), keep_proc, cmp_proc, in->top, &p, &np,
			   &cut_p);
	if (!err)
		err = rank(fails, nfails, sizeof(*fails), keep_fail, cmp_fail, in->top, &f, &nf,
			   &cut_f);
	if (!err) /* every namespace, by inode */
		err = rank(in->netns, in->nnetns, sizeof(*in->netns), keep_all, cmp_netns, 0, &ns,
			   &nns, &cut_ns);
	if (err)
		goto out_free;
	write_netns(w, (const struct eph_metrics_netns *const *)ns, nns);
	write_dests(w, (const struct eph_metrics_dest *const *)d, nd);
	write_scopes(w, (const struct eph_metrics_scope *const *)sc, nsc);
	write_procs(w, in->pid_labels, (const struct eph_metrics_proc *const *)p, np,
		    (const struct eph_metrics_proc_fail *const *)f, nf);
	cut_find = write_findings(w, in, dup);
	family(w, &fam_truncated);
	write_truncated(w, "destination", cut_d);
	write_truncated(w, "bind_scope", cut_sc);
	write_truncated(w, "process", cut_p);
	write_truncated(w, "process_failure", cut_f);
	write_truncated(w, "finding", cut_find);
	family(w, &fam_untracked);
	sample(w, "_total");
	value_u64(w, in->procs_untracked);
out_free:
	free(ns);
	free(d);
	free(sc);
	free(p);
	free(f);
	free(procs);
	free(fails);
	free(dup);
	return err;
}
