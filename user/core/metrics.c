// SPDX-License-Identifier: GPL-2.0
/*
 * Prometheus exposition: the families of the kernel's counters ("stats" map) and histograms
 * ("hists" map) and of ephtrace itself, and eph_metrics_write, which writes them around the
 * rows (metrics_rows.c). The writer is metrics_format.c's; see metrics_int.h.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "metrics_int.h"
#include "order.h"

/* ---- kernel counters by outcome ("stats" map) ---- */

static void labels_op_proto_family(struct writer *w, uint8_t op, uint8_t proto, uint8_t fam)
{
	struct name_buf b;

	label_str(w, "op", or_number(eph_op_name(op), op, &b));
	label_str(w, "proto", or_number(eph_proto_name(proto), proto, &b));
	label_str(w, "family", or_number(eph_family_name(fam), fam, &b));
}

static const struct family fam_assign = {
	"ephtrace_port_assignments", M_COUNTER, NULL,
	"Ports assigned (by the kernel's choice or the caller's), by system call, protocol and "
	"address family."
};
static const struct family fam_fail = {
	"ephtrace_port_failures", M_COUNTER, NULL,
	"Port allocations that failed, by system call, protocol, address family and errno."
};

/* Failures always exported, 0 until the kernel counts one. */
static const struct eph_stat_key common_failures[] = {
	{ EPH_FAIL, EPH_OP_CONNECT, IPPROTO_TCP, AF_INET, EADDRNOTAVAIL, 0 },
	{ EPH_FAIL, EPH_OP_CONNECT, IPPROTO_TCP, AF_INET6, EADDRNOTAVAIL, 0 },
	{ EPH_FAIL, EPH_OP_BIND, IPPROTO_TCP, AF_INET, EADDRINUSE, 0 },
	{ EPH_FAIL, EPH_OP_BIND, IPPROTO_TCP, AF_INET6, EADDRINUSE, 0 },
	{ EPH_FAIL, EPH_OP_BIND, IPPROTO_UDP, AF_INET, EADDRINUSE, 0 },
	{ EPH_FAIL, EPH_OP_BIND, IPPROTO_UDP, AF_INET6, EADDRINUSE, 0 },
	{ EPH_FAIL, EPH_OP_CONNECT, IPPROTO_UDP, AF_INET, EAGAIN, 0 },
	{ EPH_FAIL, EPH_OP_CONNECT, IPPROTO_UDP, AF_INET6, EAGAIN, 0 },
	{ EPH_FAIL, EPH_OP_SENDMSG, IPPROTO_UDP, AF_INET, EAGAIN, 0 },
	{ EPH_FAIL, EPH_OP_SENDMSG, IPPROTO_UDP, AF_INET6, EAGAIN, 0 },
};

static int cmp_stat(const void *a, const void *b)
{
	const struct eph_stat_key *x = &((const struct eph_metrics_stat *)a)->key;
	const struct eph_stat_key *y = &((const struct eph_metrics_stat *)b)->key;

	int c = eph_cmp_u64(x->op, y->op) ?: eph_cmp_u64(x->proto, y->proto);

	return c ?: eph_cmp_u64(x->family, y->family) ?: eph_cmp_u64(x->err, y->err);
}

int copy_rows(const void *rows, size_t n, size_t sz, int (*cmp)(const void *, const void *),
	      void **out)
{
	*out = NULL;
	if (!n)
		return 0;
	*out = calloc(n, sz);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, rows, n * sz);
	if (cmp)
		qsort(*out, n, sz, cmp);
	return 0;
}

size_t sort_merge(void *v, size_t n, size_t sz, int (*cmp)(const void *, const void *),
		  void (*add)(void *into, const void *from))
{
	char *row = v;
	size_t i, k = 0;

	if (!n)
		return 0;
	qsort(v, n, sz, cmp);
	for (i = 0; i < n; i++) {
		if (k && !cmp(row + (k - 1) * sz, row + i * sz))
			add(row + (k - 1) * sz, row + i * sz);
		else if (k++ != i)
			memcpy(row + (k - 1) * sz, row + i * sz, sz);
	}
	return k;
}

static void add_stat(void *into, const void *from)
{
	((struct eph_metrics_stat *)into)->value += ((const struct eph_metrics_stat *)from)->value;
}

/* The entries of one type, sorted, with equal label sets merged (plus the common failures). */
static int collect_stats(const struct eph_metrics_input *in, uint8_t type,
			 struct eph_metrics_stat **out, size_t *n)
{
	size_t extra = type == EPH_FAIL ? sizeof(common_failures) / sizeof(common_failures[0]) : 0;
	struct eph_metrics_stat *v;
	size_t i, k = 0;

	v = calloc(in->nstats + extra + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < extra; i++)
		v[k++].key = common_failures[i];
	for (i = 0; i < in->nstats; i++) {
		if (in->stats[i].key.type != type)
			continue;
		v[k] = in->stats[i];
		v[k].key.__pad = 0;
		if (type == EPH_ASSIGN)
			v[k].key.err = 0; /* not a label of assignments */
		k++;
	}
	*n = sort_merge(v, k, sizeof(*v), cmp_stat, add_stat);
	*out = v;
	return 0;
}

/* The family of one type of outcome: a counter per op, proto and family, and per errno for
 * failures. */
static int write_stat_family(struct writer *w, const struct eph_metrics_input *in, uint8_t type,
			     const struct family *fam)
{
	struct eph_metrics_stat *v;
	size_t i, n;
	int err;

	err = collect_stats(in, type, &v, &n);
	if (err)
		return err;
	family(w, fam);
	for (i = 0; i < n; i++) {
		sample(w, "_total");
		labels_op_proto_family(w, v[i].key.op, v[i].key.proto, v[i].key.family);
		if (type == EPH_FAIL)
			label_errno(w, "error", v[i].key.err);
		value_u64(w, v[i].value);
	}
	free(v);
	return 0;
}

static int write_stats(struct writer *w, const struct eph_metrics_input *in)
{
	return write_stat_family(w, in, EPH_ASSIGN, &fam_assign) ?:
		       write_stat_family(w, in, EPH_FAIL, &fam_fail);
}

/* ---- histograms ("hists" map) ---- */

static const struct family fam_search = {
	"ephtrace_port_search_duration_seconds", M_HISTOGRAM, "seconds",
	"Time the kernel spent choosing a local port: connect() port search (inet_hash_connect), "
	"bind()/listen()/autobind port choice; by result (ok or the errno)."
};
static const struct family fam_hold = {
	"ephtrace_port_hold_duration_seconds", M_HISTOGRAM, "seconds",
	"Time from a port's assignment to its release, TIME_WAIT included, for ports released "
	"since ephtrace started."
};

struct mhist {
	struct eph_hist_key key; /* slot 0; result 0 for hold times */
	uint64_t slots[EPH_HIST_SLOTS];
	uint64_t count, sum_ns;
};

static int cmp_mhist(const void *a, const void *b)
{
	return eph_hist_key_cmp(&((const struct mhist *)a)->key, &((const struct mhist *)b)->key);
}

/* The histograms by label set: hold times have no result label, so those are merged. */
static int collect_hists(const struct eph_hists *h, struct mhist **out, size_t *n)
{
	struct mhist *v;
	size_t i, j, s;

	*n = 0;
	v = calloc(h ? h->n + 1 : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; h && i < h->n; i++) {
		const struct eph_hist *e = &h->v[i];
		struct mhist key = { .key = e->key };

		if (key.key.kind == EPH_HIST_HOLD)
			key.key.result = 0;
		for (j = 0; j < *n && cmp_mhist(&v[j], &key); j++)
			;
		if (j == *n)
			v[(*n)++] = key;
		for (s = 0; s < EPH_HIST_SLOTS; s++)
			v[j].slots[s] += e->slots[s];
		v[j].count += e->count;
		v[j].sum_ns += e->sum_ns;
	}
	qsort(v, *n, sizeof(*v), cmp_mhist);
	*out = v;
	return 0;
}

static void hist_labels(struct writer *w, const struct mhist *m)
{
	const struct eph_hist_key *k = &m->key;
	struct name_buf b;

	if (k->kind != EPH_HIST_HOLD)
		label_str(w, "op", k->kind == EPH_HIST_CONNECT ? "connect" : "bind");
	label_str(w, "proto", or_number(eph_proto_name(k->proto), k->proto, &b));
	label_str(w, "family", or_number(eph_family_name(k->family), k->family, &b));
	if (k->kind == EPH_HIST_HOLD)
		return; /* a hold time has no result */
	if (k->result)
		label_errno(w, "result", k->result);
	else
		label_str(w, "result", "ok");
}

static void write_hist(struct writer *w, const struct mhist *m, unsigned int first,
		       unsigned int last)
{
	uint64_t cum = 0;
	unsigned int s;

	for (s = 0; s < first; s++)
		cum += m->slots[s];
	for (s = first; s <= last; s++) {
		cum += m->slots[s];
		sample(w, "_bucket");
		hist_labels(w, m);
		label_float(w, "le", (double)((2ull << s) - 1) / 1e9);
		value_u64(w, cum);
	}
	sample(w, "_bucket");
	hist_labels(w, m);
	label_str(w, "le", "+Inf");
	value_u64(w, m->count);
	sample(w, "_sum");
	hist_labels(w, m);
	value_seconds(w, m->sum_ns);
	sample(w, "_count");
	hist_labels(w, m);
	value_u64(w, m->count);
}

static int write_hists(struct writer *w, const struct eph_metrics_input *in)
{
	struct mhist *v;
	size_t i, n;
	int err;

	err = collect_hists(in->hists, &v, &n);
	if (err)
		return err;
	family(w, &fam_search);
	for (i = 0; i < n; i++)
		if (v[i].key.kind == EPH_HIST_CONNECT || v[i].key.kind == EPH_HIST_BIND)
			write_hist(w, &v[i], EPH_METRICS_SEARCH_FIRST_SLOT,
				   EPH_METRICS_SEARCH_LAST_SLOT);
	family(w, &fam_hold);
	for (i = 0; i < n; i++)
		if (v[i].key.kind == EPH_HIST_HOLD)
			write_hist(w, &v[i], EPH_METRICS_HOLD_FIRST_SLOT,
				   EPH_METRICS_HOLD_LAST_SLOT);
	free(v);
	return 0;
}

/* ---- ephtrace itself: drops, full tables, build, BPF programs' cost ---- */

static const struct family fam_dropped = {
	"ephtrace_events_dropped", M_COUNTER, NULL,
	"Events the kernel could not hand to ephtrace: the ring buffer was full (the counters and "
	"histograms still count those), or a program's run was skipped "
	"(ephtrace_bpf_program_runs_missed_total)."
};
static const struct family fam_missed = {
	"ephtrace_bpf_program_runs_missed", M_COUNTER, NULL,
	"Runs of ephtrace's BPF programs the kernel skipped (bpf_prog_info recursion_misses: a "
	"program re-entered on the same CPU; and a kprobe's misses, bpf_link_info "
	"perf_event.kprobe.missed: a kretprobe whose maxactive instances were all in use; kprobe "
	"and system call tracepoint programs' counted from Linux 6.7) and no twin program took "
	"instead; each may have lost an event, and is in ephtrace_events_dropped_total too."
};
static const struct family fam_table_full = {
	"ephtrace_kernel_table_full", M_COUNTER, NULL,
	"Assignments not tracked until release (table holds, see --max-holds), calls not followed "
	"(table syscalls) and in-kernel counts or histogram samples lost (table stats) because a "
	"kernel table was full."
};
static const struct family fam_resyncs = {
	"ephtrace_resyncs", M_COUNTER, NULL,
	"Reconciliations of ephtrace's view with the kernel's socket table (sock_diag)."
};
static const struct family fam_resync_released = {
	"ephtrace_resync_released_ports", M_COUNTER, NULL,
	"Ports a reconciliation found back in the pool though no event said so: the end of "
	"TIME_WAIT on the tracepoint backend, or dropped events (how far events and the kernel "
	"drift apart)."
};
static const struct family fam_build = { "ephtrace_build", M_INFO, NULL,
					 "ephtrace's version and the BPF backend in use." };
static const struct family fam_prog_time = {
	"ephtrace_bpf_program_run_seconds", M_COUNTER, "seconds",
	"Time spent in each of ephtrace's BPF programs (bpf_prog_info run_time_ns; counted while "
	"kernel.bpf_stats_enabled is on)."
};
static const struct family fam_prog_runs = {
	"ephtrace_bpf_program_runs", M_COUNTER, NULL,
	"Runs of each of ephtrace's BPF programs (bpf_prog_info run_cnt; counted while "
	"kernel.bpf_stats_enabled is on)."
};

/* By name, to its last byte but one (written as a string with that byte cut). */
static int cmp_prog(const void *a, const void *b)
{
	const struct eph_metrics_prog *x = a, *y = b;

	return strncmp(x->name, y->name, sizeof(x->name) - 1);
}

static int write_self(struct writer *w, const struct eph_metrics_input *in)
{
	struct eph_metrics_prog *v = NULL;
	size_t i;

	if (in->counters) {
		family(w, &fam_dropped);
		sample(w, "_total");
		value_u64(w, in->counters[EPH_CNT_DROPPED]);
		family(w, &fam_missed);
		sample(w, "_total");
		value_u64(w, in->counters[EPH_CNT_MISSED]);
		family(w, &fam_table_full);
		sample(w, "_total");
		label_str(w, "table", "holds");
		value_u64(w, in->counters[EPH_CNT_HOLD_FULL]);
		sample(w, "_total");
		label_str(w, "table", "syscalls");
		value_u64(w, in->counters[EPH_CNT_CTX_FULL]);
		sample(w, "_total");
		label_str(w, "table", "stats");
		value_u64(w, in->counters[EPH_CNT_STATS_FULL]);
		family(w, &fam_resyncs);
		sample(w, "_total");
		value_u64(w, in->resyncs);
		family(w, &fam_resync_released);
		sample(w, "_total");
		value_u64(w, in->resync_released);
	}
	family(w, &fam_build);
	sample(w, "_info");
	label_str(w, "version", in->version ? in->version : "unknown");
	label_str(w, "backend", in->backend ? in->backend : "none");
	value_u64(w, 1);
	if (copy_rows(in->progs, in->nprogs, sizeof(*v), cmp_prog, (void **)&v))
		return -ENOMEM;
	if (!v)
		return 0;
	for (i = 0; i < in->nprogs; i++)
		v[i].name[sizeof(v[i].name) - 1] = '\0';
	family(w, &fam_prog_time);
	for (i = 0; i < in->nprogs; i++) {
		sample(w, "_total");
		label_str(w, "program", v[i].name);
		value_seconds(w, v[i].run_time_ns);
	}
	family(w, &fam_prog_runs);
	for (i = 0; i < in->nprogs; i++) {
		sample(w, "_total");
		label_str(w, "program", v[i].name);
		value_u64(w, v[i].run_cnt);
	}
	free(v);
	return 0;
}

int eph_metrics_write(struct strbuf *sb, const struct eph_metrics_input *in,
		      enum eph_metrics_format fmt)
{
	struct writer w = { .sb = sb, .om = fmt == EPH_METRICS_OPENMETRICS };
	size_t old = sb->len;
	int err;

	err = write_stats(&w, in);
	if (!err)
		err = write_hists(&w, in);
	if (!err)
		err = write_rows(&w, in);
	if (!err)
		err = write_self(&w, in);
	if (!err && w.om)
		put(&w, "# EOF\n");
	err = err ?: w.err;
	if (err)
		sb_truncate(sb, old);
	return err;
}
