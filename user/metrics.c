// SPDX-License-Identifier: GPL-2.0
/*
 * Prometheus exposition (text 0.0.4 and OpenMetrics 1.0) from plain structs.
 *
 * The two formats differ in little: OpenMetrics names a counter's family without "_total"
 * (its samples keep it), has UNIT lines, an "info" type, and ends with "# EOF". Both escape
 * label values the same way. A family's HELP/TYPE lines are written before its first sample,
 * so a family without samples leaves no trace.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "metrics.h"

enum mtype {
	M_COUNTER,
	M_GAUGE,
	M_HISTOGRAM,
	M_INFO
};

struct family {
	const char *name; /* a counter's without "_total", an info's without "_info" */
	enum mtype type;
	const char *unit; /* OpenMetrics UNIT, or NULL */
	const char *help;
};

/* Errors are sticky: every step does nothing once one failed, the caller checks at the end. */
struct writer {
	struct strbuf *sb;
	bool om;
	int err;
	const struct family *pending; /* header not written yet */
	const char *name;	      /* family of the sample being written */
	unsigned int nlabels;	      /* labels of the sample being written */
};

static void put(struct writer *w, const char *s)
{
	if (!w->err)
		w->err = sb_puts(w->sb, s);
}

static void put_u64(struct writer *w, uint64_t v)
{
	if (!w->err)
		w->err = sb_printf(w->sb, "%" PRIu64, v);
}

/* HELP text: backslash and newline escaped (and double quote in OpenMetrics). */
static void put_help(struct writer *w, const char *s)
{
	for (; *s && !w->err; s++) {
		if (*s == '\\')
			put(w, "\\\\");
		else if (*s == '\n')
			put(w, "\\n");
		else if (*s == '"' && w->om)
			put(w, "\\\"");
		else
			w->err = sb_putc(w->sb, *s);
	}
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if there is none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0; /* continuation byte, overlong lead (c0 c1) or beyond U+10FFFF */
	if (s[0] == 0xe0)
		lo = 0xa0; /* overlong */
	else if (s[0] == 0xed)
		hi = 0x9f; /* surrogates */
	else if (s[0] == 0xf0)
		lo = 0x90; /* overlong */
	else if (s[0] == 0xf4)
		hi = 0x8f; /* above U+10FFFF */
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* U+2400 + c for a C0 control byte, U+2421 for DEL: visible, and safe for readers that also
 * split lines at '\r' or choke on control bytes. */
static int control_picture(struct strbuf *sb, unsigned char c)
{
	unsigned int cp = c == 0x7f ? 0x2421 : 0x2400 + c;
	char u[3] = { (char)(0xe0 | cp >> 12), (char)(0x80 | ((cp >> 6) & 0x3f)),
		      (char)(0x80 | (cp & 0x3f)) };

	return sb_append(sb, u, 3);
}

int eph_metrics_label_value(struct strbuf *sb, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t old = sb->len, i = 0;
	int err;

	n = s ? strnlen(s, n) : 0;
	err = sb_putc(sb, '"');
	while (!err && i < n) {
		size_t len = utf8_len(p + i, n - i);

		if (p[i] == '\\')
			err = sb_append(sb, "\\\\", 2);
		else if (p[i] == '"')
			err = sb_append(sb, "\\\"", 2);
		else if (p[i] == '\n')
			err = sb_append(sb, "\\n", 2);
		else if (p[i] < 0x20 || p[i] == 0x7f)
			err = control_picture(sb, p[i]);
		else if (!len)
			err = sb_append(sb, "\xef\xbf\xbd", 3); /* U+FFFD for the stray byte */
		else
			err = sb_append(sb, s + i, len);
		i += len ? len : 1;
	}
	err = err ?: sb_putc(sb, '"');
	if (err) {
		sb->len = old;
		if (sb->buf)
			sb->buf[old] = '\0';
	}
	return err;
}

/* Go's strconv.FormatFloat(v, 'g', -1, 64) into buf (at least 32 bytes). */
static void format_float(char *buf, size_t len, double v)
{
	int prec, exp;

	if (isnan(v)) {
		snprintf(buf, len, "NaN");
		return;
	}
	if (isinf(v) || v == 0) {
		snprintf(buf, len, "%s",
			 isinf(v) ? (v > 0 ? "+Inf" : "-Inf") : (signbit(v) ? "-0" : "0"));
		return;
	}
	/* The fewest significant digits that read back as the same double. */
	for (prec = 0; prec < 17; prec++) {
		snprintf(buf, len, "%.*e", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	exp = atoi(strchr(buf, 'e') + 1);
	if (exp < -4 || exp >= 6) /* Go's rule for the shortest form: %e outside [1e-4, 1e6) */
		return;
	snprintf(buf, len, "%.*f", prec - exp > 0 ? prec - exp : 0, v);
}

int eph_metrics_float(struct strbuf *sb, double v)
{
	char buf[40];

	format_float(buf, sizeof(buf), v);
	return sb_puts(sb, buf);
}

/* Integer nanoseconds as exact decimal seconds: 1500000000 -> "1.5", 12 -> "0.000000012". */
static void put_ns_as_seconds(struct writer *w, uint64_t ns)
{
	char frac[16];
	int i;

	if (w->err)
		return;
	snprintf(frac, sizeof(frac), "%09" PRIu64, ns % 1000000000);
	for (i = 8; i >= 0 && frac[i] == '0'; i--)
		frac[i] = '\0';
	w->err = sb_printf(w->sb, "%" PRIu64 "%s%s", ns / 1000000000, frac[0] ? "." : "", frac);
}

static void header(struct writer *w, const struct family *f)
{
	const char *type = "counter", *suffix = "";

	switch (f->type) {
	case M_COUNTER:
		suffix = w->om ? "" : "_total";
		break;
	case M_GAUGE:
		type = "gauge";
		break;
	case M_HISTOGRAM:
		type = "histogram";
		break;
	case M_INFO: /* text 0.0.4 has no info type: a gauge named ..._info, always 1 */
		type = w->om ? "info" : "gauge";
		suffix = w->om ? "" : "_info";
		break;
	}
	put(w, "# HELP ");
	put(w, f->name);
	put(w, suffix);
	put(w, " ");
	put_help(w, f->help);
	put(w, "\n# TYPE ");
	put(w, f->name);
	put(w, suffix);
	put(w, " ");
	put(w, type);
	put(w, "\n");
	if (w->om && f->unit) {
		put(w, "# UNIT ");
		put(w, f->name);
		put(w, " ");
		put(w, f->unit);
		put(w, "\n");
	}
}

static void family(struct writer *w, const struct family *f)
{
	w->pending = f;
	w->name = f->name;
}

/* Start a sample of the current family: its name plus suffix ("_total", "_bucket", ...). */
static void sample(struct writer *w, const char *suffix)
{
	if (w->pending) {
		header(w, w->pending);
		w->pending = NULL;
	}
	put(w, w->name);
	put(w, suffix);
	w->nlabels = 0;
}

static void label(struct writer *w, const char *name, const char *value, size_t n)
{
	put(w, w->nlabels++ ? "," : "{");
	put(w, name);
	put(w, "=");
	if (!w->err)
		w->err = eph_metrics_label_value(w->sb, value, n);
}

static void label_str(struct writer *w, const char *name, const char *value)
{
	label(w, name, value, strlen(value));
}

static void label_u64(struct writer *w, const char *name, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	label_str(w, name, buf);
}

static void label_float(struct writer *w, const char *name, double v)
{
	char buf[40];

	format_float(buf, sizeof(buf), v);
	label_str(w, name, buf);
}

/* End the labels, then " value\n". */
static void value_begin(struct writer *w)
{
	put(w, w->nlabels ? "} " : " ");
}

static void value_u64(struct writer *w, uint64_t v)
{
	value_begin(w);
	put_u64(w, v);
	put(w, "\n");
}

static void value_float(struct writer *w, double v)
{
	value_begin(w);
	if (!w->err)
		w->err = eph_metrics_float(w->sb, v);
	put(w, "\n");
}

static void value_seconds(struct writer *w, uint64_t ns)
{
	value_begin(w);
	put_ns_as_seconds(w, ns);
	put(w, "\n");
}

/* Names of kernel values, or the number when a newer BPF object sends one we do not know. */
struct name_buf {
	char s[24];
};

static const char *or_number(const char *name, unsigned int v, struct name_buf *b)
{
	if (name)
		return name;
	snprintf(b->s, sizeof(b->s), "%u", v);
	return b->s;
}

static void labels_op_proto_family(struct writer *w, uint8_t op, uint8_t proto, uint8_t fam)
{
	struct name_buf b;

	label_str(w, "op", or_number(eph_op_name(op), op, &b));
	label_str(w, "proto", or_number(eph_proto_name(proto), proto, &b));
	label_str(w, "family", or_number(eph_family_name(fam), fam, &b));
}

static void label_errno(struct writer *w, const char *name, int err)
{
	char buf[16];

	label_str(w, name, eph_errno_name(err, buf, sizeof(buf)));
}

/* ---- kernel counters by outcome ("stats" map) ---- */

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

	if (x->op != y->op)
		return x->op - y->op;
	if (x->proto != y->proto)
		return x->proto - y->proto;
	if (x->family != y->family)
		return x->family - y->family;
	return x->err - y->err;
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
	qsort(v, k, sizeof(*v), cmp_stat);
	for (i = 0, *n = 0; i < k; i++) {
		if (*n && !cmp_stat(&v[*n - 1], &v[i]))
			v[*n - 1].value += v[i].value;
		else
			v[(*n)++] = v[i];
	}
	*out = v;
	return 0;
}

static int write_stats(struct writer *w, const struct eph_metrics_input *in)
{
	struct eph_metrics_stat *v;
	size_t i, n;
	int err;

	err = collect_stats(in, EPH_ASSIGN, &v, &n);
	if (err)
		return err;
	family(w, &fam_assign);
	for (i = 0; i < n; i++) {
		sample(w, "_total");
		labels_op_proto_family(w, v[i].key.op, v[i].key.proto, v[i].key.family);
		value_u64(w, v[i].value);
	}
	free(v);
	err = collect_stats(in, EPH_FAIL, &v, &n);
	if (err)
		return err;
	family(w, &fam_fail);
	for (i = 0; i < n; i++) {
		sample(w, "_total");
		labels_op_proto_family(w, v[i].key.op, v[i].key.proto, v[i].key.family);
		label_errno(w, "error", v[i].key.err);
		value_u64(w, v[i].value);
	}
	free(v);
	return 0;
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
	uint8_t kind, proto, family, result;
	uint64_t slots[EPH_HIST_SLOTS];
	uint64_t count, sum_ns;
};

static int cmp_mhist(const void *a, const void *b)
{
	const struct mhist *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind - y->kind;
	if (x->proto != y->proto)
		return x->proto - y->proto;
	if (x->family != y->family)
		return x->family - y->family;
	return x->result - y->result;
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
		struct mhist key = { .kind = e->key.kind,
				     .proto = e->key.proto,
				     .family = e->key.family,
				     .result = e->key.result };

		if (key.kind == EPH_HIST_HOLD)
			key.result = 0;
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
	struct name_buf b;

	if (m->kind != EPH_HIST_HOLD) {
		label_str(w, "op", m->kind == EPH_HIST_CONNECT ? "connect" : "bind");
		label_str(w, "proto", or_number(eph_proto_name(m->proto), m->proto, &b));
		label_str(w, "family", or_number(eph_family_name(m->family), m->family, &b));
		if (m->result)
			label_errno(w, "result", m->result);
		else
			label_str(w, "result", "ok");
	} else {
		label_str(w, "proto", or_number(eph_proto_name(m->proto), m->proto, &b));
		label_str(w, "family", or_number(eph_family_name(m->family), m->family, &b));
	}
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
		if (v[i].kind == EPH_HIST_CONNECT || v[i].kind == EPH_HIST_BIND)
			write_hist(w, &v[i], EPH_METRICS_SEARCH_FIRST_SLOT,
				   EPH_METRICS_SEARCH_LAST_SLOT);
	family(w, &fam_hold);
	for (i = 0; i < n; i++)
		if (v[i].kind == EPH_HIST_HOLD)
			write_hist(w, &v[i], EPH_METRICS_HOLD_FIRST_SLOT,
				   EPH_METRICS_HOLD_LAST_SLOT);
	free(v);
	return 0;
}

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
static const struct family fam_proc_held = {
	"ephtrace_process_ports_held", M_GAUGE, NULL,
	"Ports a process took since ephtrace started and holds now, for the processes holding "
	"most. TIME_WAIT is included where the backend sees its end (fentry, kprobe), not on the "
	"tracepoint backend."
};
static const struct family fam_proc_fail = {
	"ephtrace_process_port_failures", M_COUNTER, NULL,
	"Port allocation failures of a process by errno, since ephtrace started, for the "
	"processes with most."
};
static const struct family fam_finding = {
	"ephtrace_finding", M_GAUGE, NULL,
	"1 while a finding holds: why a port space fills up (kind), how close it is to running "
	"out (severity), where (netns, target) and who (pid, comm); see README's findings."
};
static const struct family fam_truncated = {
	"ephtrace_series_truncated", M_GAUGE, NULL,
	"Rows left out of this scrape by the --top limit, by table (destination, bind_scope, "
	"process, process_failure, finding)."
};
static const struct family fam_untracked = {
	"ephtrace_process_events_untracked", M_COUNTER, NULL,
	"Events not counted per process because the process table was full."
};

static int cmp_addr(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, 16);
}

static int cmp_dest(const void *a, const void *b)
{
	const struct eph_metrics_dest *x = *(const struct eph_metrics_dest *const *)a;
	const struct eph_metrics_dest *y = *(const struct eph_metrics_dest *const *)b;
	double ux = isnan(x->utilization) ? -1 : x->utilization;
	double uy = isnan(y->utilization) ? -1 : y->utilization;

	if (ux != uy)
		return ux > uy ? -1 : 1;
	if (x->held != y->held)
		return x->held > y->held ? -1 : 1;
	if (x->netns != y->netns)
		return x->netns < y->netns ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto - y->proto;
	if (x->family != y->family)
		return x->family - y->family;
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
	double ux = isnan(x->utilization) ? -1 : x->utilization;
	double uy = isnan(y->utilization) ? -1 : y->utilization;

	if (ux != uy)
		return ux > uy ? -1 : 1;
	if (x->held != y->held)
		return x->held > y->held ? -1 : 1;
	if (x->netns != y->netns)
		return x->netns < y->netns ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto - y->proto;
	if (x->family != y->family)
		return x->family - y->family;
	return cmp_addr(x->addr, y->addr);
}

static int cmp_proc(const void *a, const void *b)
{
	const struct eph_metrics_proc *x = *(const struct eph_metrics_proc *const *)a;
	const struct eph_metrics_proc *y = *(const struct eph_metrics_proc *const *)b;

	if (x->held != y->held)
		return x->held > y->held ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static int cmp_fail(const void *a, const void *b)
{
	const struct eph_metrics_proc_fail *x = *(const struct eph_metrics_proc_fail *const *)a;
	const struct eph_metrics_proc_fail *y = *(const struct eph_metrics_proc_fail *const *)b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->err - y->err;
}

static int cmp_netns(const void *a, const void *b)
{
	const struct eph_metrics_netns *x = a, *y = b;

	return x->netns < y->netns ? -1 : x->netns > y->netns;
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
static void ct_labels(struct writer *w, const struct eph_container *c)
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

static void dest_labels(struct writer *w, const struct eph_metrics_dest *d)
{
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

static void write_dests(struct writer *w, const struct eph_metrics_dest *const *v, size_t n)
{
	size_t i;

	family(w, &fam_dest_held);
	for (i = 0; i < n; i++) {
		sample(w, "");
		dest_labels(w, v[i]);
		value_u64(w, v[i]->held);
	}
	family(w, &fam_dest_left);
	for (i = 0; i < n; i++) {
		if (isnan(v[i]->ports_left))
			continue;
		sample(w, "");
		dest_labels(w, v[i]);
		value_float(w, v[i]->ports_left);
	}
	family(w, &fam_dest_util);
	for (i = 0; i < n; i++) {
		if (isnan(v[i]->utilization))
			continue;
		sample(w, "");
		dest_labels(w, v[i]);
		value_float(w, v[i]->utilization);
	}
	family(w, &fam_dest_exhaust);
	for (i = 0; i < n; i++) {
		if (!isfinite(v[i]->exhaust_in_s) || v[i]->exhaust_in_s < 0)
			continue;
		sample(w, "");
		dest_labels(w, v[i]);
		value_float(w, v[i]->exhaust_in_s);
	}
	family(w, &fam_dest_fail);
	for (i = 0; i < n; i++) {
		sample(w, "_total");
		dest_labels(w, v[i]);
		value_u64(w, v[i]->failures);
	}
}

static void scope_labels(struct writer *w, const struct eph_metrics_scope *s)
{
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
	size_t i;

	family(w, &fam_scope_held);
	for (i = 0; i < n; i++) {
		sample(w, "");
		scope_labels(w, v[i]);
		value_u64(w, v[i]->held);
	}
	family(w, &fam_scope_left);
	for (i = 0; i < n; i++) {
		if (isnan(v[i]->ports_left))
			continue;
		sample(w, "");
		scope_labels(w, v[i]);
		value_float(w, v[i]->ports_left);
	}
	family(w, &fam_scope_util);
	for (i = 0; i < n; i++) {
		if (isnan(v[i]->utilization))
			continue;
		sample(w, "");
		scope_labels(w, v[i]);
		value_float(w, v[i]->utilization);
	}
	family(w, &fam_scope_fail);
	for (i = 0; i < n; i++)
		write_scope_fails(w, v[i]);
}

static int write_netns(struct writer *w, const struct eph_metrics_input *in)
{
	struct eph_metrics_netns *v;
	size_t i;

	if (!in->nnetns)
		return 0;
	v = calloc(in->nnetns, sizeof(*v));
	if (!v)
		return -ENOMEM;
	memcpy(v, in->netns, in->nnetns * sizeof(*v));
	qsort(v, in->nnetns, sizeof(*v), cmp_netns);
	family(w, &fam_range);
	for (i = 0; i < in->nnetns; i++) {
		sample(w, "");
		label_u64(w, "netns", v[i].netns);
		ct_labels(w, v[i].ct);
		value_u64(w, v[i].usable);
	}
	free(v);
	return 0;
}

static void write_procs(struct writer *w, const struct eph_metrics_proc *const *p, size_t np,
			const struct eph_metrics_proc_fail *const *f, size_t nf)
{
	size_t i;

	family(w, &fam_proc_held);
	for (i = 0; i < np; i++) {
		sample(w, "");
		label_u64(w, "pid", p[i]->pid);
		label(w, "comm", p[i]->comm, sizeof(p[i]->comm));
		ct_labels(w, p[i]->ct);
		value_u64(w, p[i]->held);
	}
	family(w, &fam_proc_fail);
	for (i = 0; i < nf; i++) {
		sample(w, "_total");
		label_u64(w, "pid", f[i]->pid);
		label(w, "comm", f[i]->comm, sizeof(f[i]->comm));
		ct_labels(w, f[i]->ct);
		label_errno(w, "error", f[i]->err);
		value_u64(w, f[i]->count);
	}
}

/* The findings, most severe first, at most top of them; returns how many were left out. */
static uint64_t write_findings(struct writer *w, const struct eph_metrics_input *in)
{
	size_t i, n = in->top && in->nfindings > in->top ? in->top : in->nfindings;

	family(w, &fam_finding);
	for (i = 0; i < n; i++) {
		const struct eph_metrics_finding *f = &in->findings[i];

		sample(w, "");
		label_str(w, "kind", f->kind);
		label_str(w, "severity", f->severity);
		label_u64(w, "netns", f->netns);
		if (f->pid)
			label_u64(w, "pid", f->pid);
		else
			label_str(w, "pid", "");
		label(w, "comm", f->comm, sizeof(f->comm));
		label(w, "target", f->target, sizeof(f->target));
		ct_labels(w, f->ct);
		value_u64(w, 1);
	}
	return in->nfindings - n;
}

static void write_truncated(struct writer *w, const char *table, uint64_t cut)
{
	sample(w, "");
	label_str(w, "table", table);
	value_u64(w, cut);
}

static int write_rows(struct writer *w, const struct eph_metrics_input *in)
{
	const void **d = NULL, **sc = NULL, **p = NULL, **f = NULL;
	size_t nd = 0, nsc = 0, np = 0, nf = 0;
	uint64_t cut_d = 0, cut_sc = 0, cut_p = 0, cut_f = 0, cut_find;
	int err;

	err = rank(in->dests, in->ndests, sizeof(*in->dests), keep_all, cmp_dest, in->top, &d, &nd,
		   &cut_d);
	if (!err)
		err = rank(in->scopes, in->nscopes, sizeof(*in->scopes), keep_all, cmp_scope,
			   in->top, &sc, &nsc, &cut_sc);
	if (!err)
		err = rank(in->procs, in->nprocs, sizeof(*in->procs), keep_proc, cmp_proc, in->top,
			   &p, &np, &cut_p);
	if (!err)
		err = rank(in->fails, in->nfails, sizeof(*in->fails), keep_fail, cmp_fail, in->top,
			   &f, &nf, &cut_f);
	if (!err)
		err = write_netns(w, in);
	if (err)
		goto out_free;
	write_dests(w, (const struct eph_metrics_dest *const *)d, nd);
	write_scopes(w, (const struct eph_metrics_scope *const *)sc, nsc);
	write_procs(w, (const struct eph_metrics_proc *const *)p, np,
		    (const struct eph_metrics_proc_fail *const *)f, nf);
	cut_find = write_findings(w, in);
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
	free(d);
	free(sc);
	free(p);
	free(f);
	return err;
}

/* ---- ephtrace itself: drops, full tables, build, BPF programs' cost ---- */

static const struct family fam_dropped = {
	"ephtrace_events_dropped", M_COUNTER, NULL,
	"Events the kernel could not hand to ephtrace because the ring buffer was full (the "
	"counters and histograms still count them)."
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

static int cmp_prog(const void *a, const void *b)
{
	return strcmp(((const struct eph_metrics_prog *)a)->name,
		      ((const struct eph_metrics_prog *)b)->name);
}

static int write_self(struct writer *w, const struct eph_metrics_input *in)
{
	struct eph_metrics_prog *v = NULL;
	size_t i;

	if (in->counters) {
		family(w, &fam_dropped);
		sample(w, "_total");
		value_u64(w, in->counters[EPH_CNT_DROPPED]);
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
	if (!in->nprogs)
		return 0;
	v = calloc(in->nprogs, sizeof(*v));
	if (!v)
		return -ENOMEM;
	memcpy(v, in->progs, in->nprogs * sizeof(*v));
	for (i = 0; i < in->nprogs; i++)
		v[i].name[sizeof(v[i].name) - 1] = '\0';
	qsort(v, in->nprogs, sizeof(*v), cmp_prog);
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
	if (err) {
		sb->len = old;
		if (sb->buf)
			sb->buf[old] = '\0';
	}
	return err;
}

/* ---- content negotiation ---- */

static const char *skip_ws(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	return s;
}

static const char *trim_end(const char *s, const char *end)
{
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return end;
}

static bool token_is(const char *s, const char *end, const char *token)
{
	size_t n = strlen(token);

	return (size_t)(end - s) == n && !strncasecmp(s, token, n);
}

/* The q parameter of one media range (1 when absent, 0 when malformed). */
static double media_q(const char *params, const char *end)
{
	while (params < end) {
		const char *semi = memchr(params, ';', end - params), *p;

		semi = semi ? semi : end;
		p = skip_ws(params, semi);
		if (semi - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
			char buf[16] = "";
			size_t n = trim_end(p + 2, semi) - (p + 2);
			char *e;
			double q;

			if (!n || n >= sizeof(buf))
				return 0;
			memcpy(buf, p + 2, n);
			q = strtod(buf, &e);
			if (*e || isnan(q) || q < 0)
				return 0;
			return q > 1 ? 1 : q;
		}
		params = semi < end ? semi + 1 : end;
	}
	return 1;
}

bool eph_metrics_wants_openmetrics(const char *accept)
{
	double q_om = 0, q_text = 0;
	const char *s = accept;

	if (!s)
		return false;
	while (*s) {
		const char *end = strchr(s, ','), *semi, *type_end;
		double q;

		end = end ? end : s + strlen(s);
		semi = memchr(s, ';', end - s);
		type_end = semi ? semi : end;
		s = skip_ws(s, type_end);
		type_end = trim_end(s, type_end);
		q = media_q(semi ? semi + 1 : end, end);
		if (token_is(s, type_end, "application/openmetrics-text"))
			q_om = q > q_om ? q : q_om;
		else if (token_is(s, type_end, "text/plain") || token_is(s, type_end, "text/*") ||
			 token_is(s, type_end, "*/*"))
			q_text = q > q_text ? q : q_text;
		s = *end ? end + 1 : end;
	}
	return q_om > 0 && q_om >= q_text;
}

/* ---- processes from events ---- */

#define PC_MAX_ERRNOS 8

struct pc_proc {
	uint32_t pid;
	uint32_t nerrs;
	char comm[EPH_COMM_LEN];
	uint64_t held;
	struct {
		int32_t err;
		uint64_t count;
	} errs[PC_MAX_ERRNOS];
};

struct eph_proc_counts {
	struct pc_proc *procs; /* dense */
	uint32_t n, cap, max;
	uint32_t *slots; /* index into procs + 1; 0 = empty; 2 * max rounded up to a power of 2 */
	uint32_t nslots;
	uint64_t untracked;
};

static uint32_t pc_hash(uint32_t pid, uint32_t nslots)
{
	return (pid * 2654435769u) >> (32 - __builtin_ctz(nslots)); /* Fibonacci hashing */
}

static struct pc_proc *pc_find(const struct eph_proc_counts *pc, uint32_t pid)
{
	uint32_t i = pc_hash(pid, pc->nslots);

	while (pc->slots[i]) {
		struct pc_proc *p = &pc->procs[pc->slots[i] - 1];

		if (p->pid == pid)
			return p;
		i = (i + 1) & (pc->nslots - 1);
	}
	return NULL;
}

static void pc_insert_slot(struct eph_proc_counts *pc, uint32_t idx)
{
	uint32_t i = pc_hash(pc->procs[idx].pid, pc->nslots);

	while (pc->slots[i])
		i = (i + 1) & (pc->nslots - 1);
	pc->slots[i] = idx + 1;
}

struct eph_proc_counts *eph_proc_counts__new(uint32_t max)
{
	struct eph_proc_counts *pc;

	if (!max || max > (1u << 24))
		return NULL;
	pc = calloc(1, sizeof(*pc));
	if (!pc)
		return NULL;
	pc->max = max;
	pc->nslots = 2;
	while (pc->nslots < 2 * max)
		pc->nslots *= 2;
	pc->slots = calloc(pc->nslots, sizeof(*pc->slots));
	if (!pc->slots) {
		free(pc);
		return NULL;
	}
	return pc;
}

void eph_proc_counts__free(struct eph_proc_counts *pc)
{
	if (!pc)
		return;
	free(pc->procs);
	free(pc->slots);
	free(pc);
}

/* The entry of pid, created if there is room; NULL with *err = 0 when the table is full. */
static struct pc_proc *pc_get(struct eph_proc_counts *pc, uint32_t pid, int *err)
{
	struct pc_proc *p = pc_find(pc, pid);

	*err = 0;
	if (p)
		return p;
	if (pc->n == pc->max)
		return NULL;
	if (pc->n == pc->cap) {
		uint32_t cap = pc->cap ? pc->cap * 2 : 64;

		cap = cap > pc->max ? pc->max : cap;
		p = reallocarray(pc->procs, cap, sizeof(*p));
		if (!p) {
			*err = -ENOMEM;
			return NULL;
		}
		pc->procs = p;
		pc->cap = cap;
	}
	p = &pc->procs[pc->n];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	pc_insert_slot(pc, pc->n++);
	return p;
}

/* false when the process already counts PC_MAX_ERRNOS other errnos */
static bool pc_count_failure(struct pc_proc *p, int32_t err)
{
	uint32_t i;

	for (i = 0; i < p->nerrs; i++) {
		if (p->errs[i].err == err) {
			p->errs[i].count++;
			return true;
		}
	}
	if (p->nerrs == PC_MAX_ERRNOS)
		return false;
	p->errs[p->nerrs].err = err;
	p->errs[p->nerrs++].count = 1;
	return true;
}

int eph_proc_counts__add(struct eph_proc_counts *pc, const struct eph_rec *r)
{
	const struct eph_event *ev = &r->ev;
	struct pc_proc *p;
	int err;

	switch (ev->type) {
	case EPH_ASSIGN:
	case EPH_FAIL:
		p = pc_get(pc, ev->pid, &err);
		if (!p) {
			pc->untracked++;
			return err;
		}
		/* the process's latest name wins */
		memcpy(p->comm, eph_proc_comm(ev), EPH_COMM_LEN);
		p->comm[EPH_COMM_LEN - 1] = '\0';
		if (ev->type == EPH_ASSIGN)
			p->held++;
		else if (!pc_count_failure(p, ev->err))
			pc->untracked++;
		return 0;
	case EPH_TIME_WAIT:
		/* The port is still held, and its release will come, unless the backend cannot
		 * see the end of TIME_WAIT (EPH_F_TW, tracepoints): then it is let go now rather
		 * than counted as held for ever. */
		if (!(ev->flags & EPH_F_TW))
			return 0;
		/* fall through */
	case EPH_RELEASE:
		if (!(ev->flags & EPH_F_OWNER))
			return 0;
		p = pc_find(pc, ev->pid);
		if (p && p->held)
			p->held--;
		return 0;
	default:
		return 0;
	}
}

void eph_proc_counts__prune(struct eph_proc_counts *pc, bool (*alive)(uint32_t pid, void *ctx),
			    void *ctx)
{
	uint32_t i, k = 0;

	for (i = 0; i < pc->n; i++) {
		if (!pc->procs[i].held && !alive(pc->procs[i].pid, ctx))
			continue;
		if (k != i)
			pc->procs[k] = pc->procs[i];
		k++;
	}
	if (k == pc->n)
		return;
	pc->n = k;
	memset(pc->slots, 0, pc->nslots * sizeof(*pc->slots));
	for (i = 0; i < pc->n; i++)
		pc_insert_slot(pc, i);
}

uint64_t eph_proc_counts__untracked(const struct eph_proc_counts *pc)
{
	return pc->untracked;
}

int eph_proc_counts__rows(const struct eph_proc_counts *pc, struct eph_metrics_proc **procs,
			  size_t *nprocs, struct eph_metrics_proc_fail **fails, size_t *nfails)
{
	size_t np = 0, nf = 0;
	uint32_t i, j;

	*procs = NULL;
	*fails = NULL;
	*nprocs = *nfails = 0;
	for (i = 0; i < pc->n; i++) {
		np += pc->procs[i].held > 0;
		nf += pc->procs[i].nerrs;
	}
	if (np && !(*procs = calloc(np, sizeof(**procs))))
		return -ENOMEM;
	if (nf && !(*fails = calloc(nf, sizeof(**fails)))) {
		free(*procs);
		*procs = NULL;
		return -ENOMEM;
	}
	for (i = 0; i < pc->n; i++) {
		const struct pc_proc *p = &pc->procs[i];

		if (p->held) {
			struct eph_metrics_proc *o = &(*procs)[(*nprocs)++];

			o->pid = p->pid;
			memcpy(o->comm, p->comm, EPH_COMM_LEN);
			o->held = p->held;
		}
		for (j = 0; j < p->nerrs; j++) {
			struct eph_metrics_proc_fail *o = &(*fails)[(*nfails)++];

			o->pid = p->pid;
			memcpy(o->comm, p->comm, EPH_COMM_LEN);
			o->err = p->errs[j].err;
			o->count = p->errs[j].count;
		}
	}
	return 0;
}
