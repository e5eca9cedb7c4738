// SPDX-License-Identifier: GPL-2.0
/*
 * Occupancy: a snapshot as JSON and as text for a terminal.
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

#include "format.h"
#include "occ_int.h"

/* ---- JSON ------------------------------------------------------------------------------ */

struct jw {
	struct strbuf *sb;
	int err;
};

static void jw_raw(struct jw *w, const char *s)
{
	if (!w->err)
		w->err = sb_puts(w->sb, s);
}

/* ",\"name\":" or "\"name\":" after an opening brace */
static void jw_key(struct jw *w, const char *name)
{
	if (w->err)
		return;
	if (w->sb->len && w->sb->buf[w->sb->len - 1] != '{')
		w->err = sb_putc(w->sb, ',');
	if (!w->err)
		w->err = sb_printf(w->sb, "\"%s\":", name);
}

static void jw_u64(struct jw *w, const char *name, uint64_t v)
{
	jw_key(w, name);
	if (!w->err)
		w->err = sb_printf(w->sb, "%" PRIu64, v);
}

static void jw_double(struct jw *w, const char *name, double v)
{
	jw_key(w, name);
	if (w->err)
		return;
	if (isnan(v) || isinf(v))
		w->err = sb_puts(w->sb, "null");
	else if (v == floor(v) && fabs(v) < 1e15)
		w->err = sb_printf(w->sb, "%.0f", v);
	else
		w->err = sb_printf(w->sb, "%.6g", v);
}

static void jw_str(struct jw *w, const char *name, const char *s, size_t n)
{
	jw_key(w, name);
	if (!w->err)
		w->err = s ? sb_json_str(w->sb, s, n) : sb_puts(w->sb, "null");
}

static void jw_addr(struct jw *w, const char *name, uint8_t family, const uint8_t *addr)
{
	char buf[64];

	if (eph_addr_str(family, addr, buf, sizeof(buf)))
		jw_str(w, name, NULL, 0);
	else
		jw_str(w, name, buf, sizeof(buf));
}

static void json_ns(struct jw *w, const struct row *r)
{
	const struct ns *ns = r->rec;

	jw_raw(w, "{");
	jw_u64(w, "netns", ns->netns);
	jw_double(w, "low", ns->have_range ? ns->low : NAN);
	jw_double(w, "high", ns->have_range ? ns->high : NAN);
	jw_double(w, "reserved", ns->have_range ? ns->reserved : NAN);
	jw_double(w, "usable", r->ps ? r->ps->tcp_usable : NAN);
	jw_double(w, "taken", r->ps ? r->ps->tcp_taken : NAN);
	jw_double(w, "bound", r->ps ? r->ps->tcp_bound : NAN);
	jw_double(w, "udp_usable", r->ps ? r->ps->udp_usable : NAN);
	jw_double(w, "udp_taken", r->ps ? r->ps->udp_taken : NAN);
	jw_double(w, "udp_ports_left", r->ps ? r->ps->udp_autobind_left : NAN);
	jw_u64(w, "bucket_unknown", r->assumed);
	jw_key(w, "bound_only_listed");
	jw_raw(w, r->bound_unlisted ? "false" : "true");
	jw_raw(w, "}");
}

static void json_dest(struct jw *w, const struct eph_occ *occ, const struct row *r)
{
	const struct dest *d = r->rec;

	jw_raw(w, "{");
	jw_u64(w, "netns", d->key.netns);
	jw_str(w, "proto", eph_proto_name(d->key.proto), SIZE_MAX);
	jw_str(w, "family", eph_family_name(d->key.family), SIZE_MAX);
	jw_addr(w, "saddr", d->key.family, d->key.saddr);
	jw_addr(w, "daddr", d->key.family, d->key.daddr);
	jw_u64(w, "dport", d->key.dport);
	jw_u64(w, "held", r->st.held);
	jw_u64(w, "time_wait", r->st.time_wait);
	jw_double(w, "usable", r->st.usable);
	jw_double(w, "ports_left", r->st.ports_left);
	jw_double(w, "utilization", r->st.utilization);
	jw_double(w, "assign_rate", r->st.assign_rate);
	jw_double(w, "failures", occ->started ? (double)r->st.failures : NAN);
	jw_double(w, "exhaust_in_s", r->st.exhaust_in_s);
	jw_raw(w, "}");
}

static void json_scope(struct jw *w, const struct row *r)
{
	const struct scope *s = r->rec;

	jw_raw(w, "{");
	jw_u64(w, "netns", s->key.netns);
	jw_str(w, "proto", eph_proto_name(s->key.proto), SIZE_MAX);
	jw_str(w, "family", eph_family_name(s->key.family), SIZE_MAX);
	jw_addr(w, "addr", s->key.family, s->key.addr);
	jw_u64(w, "held", r->st.held);
	jw_u64(w, "time_wait", r->st.time_wait);
	jw_double(w, "usable", r->st.usable);
	jw_double(w, "ports_left", r->st.ports_left);
	jw_double(w, "utilization", r->st.utilization);
	jw_raw(w, "}");
}

static void json_failures(struct jw *w, const struct eph_occ *occ, const struct proc *p)
{
	char name[24];
	uint32_t i;

	jw_key(w, "failures");
	if (!occ->started || !p) {
		jw_raw(w, "null");
		return;
	}
	jw_raw(w, "{");
	for (i = 0; i < p->nerrs; i++) {
		jw_key(w, eph_errno_name(p->errs[i].err, name, sizeof(name)));
		if (!w->err)
			w->err = sb_printf(w->sb, "%" PRIu64, p->errs[i].count);
	}
	if (p->failures_other)
		jw_u64(w, "OTHER", p->failures_other);
	jw_raw(w, "}");
}

static void json_proc(struct jw *w, const struct eph_occ *occ, const struct row *r)
{
	const struct proc *p = r->rec;

	jw_raw(w, "{");
	jw_double(w, "pid", p ? p->pid : NAN);
	jw_str(w, "comm", p ? p->comm : NULL, EPH_COMM_LEN);
	jw_str(w, "cgroup", p ? p->cgroup : NULL, SIZE_MAX);
	jw_u64(w, "held", r->st.held);
	jw_u64(w, "time_wait", r->st.time_wait);
	jw_double(w, "assign_rate", p ? r->st.assign_rate : NAN);
	json_failures(w, occ, p);
	jw_key(w, "exited");
	jw_raw(w, !p ? "null" : p->exited ? "true" : "false");
	jw_raw(w, "}");
}

int eph_occ__json(const struct eph_occ *occ, struct strbuf *sb, uint64_t now_ns, uint64_t wall_ns,
		  uint64_t extra_dropped)
{
	struct jw w = { .sb = sb };
	size_t old_len = sb->len, i;
	struct view v;
	int err;

	err = view_build(occ, now_ns, &v);
	if (err)
		return err;
	jw_raw(&w, "{\"time\":\"");
	if (!w.err)
		w.err = eph_format_time(sb, wall_ns);
	jw_raw(&w, "\",\"netns\":[");
	for (i = 0; i < v.nns; i++) {
		jw_raw(&w, i ? "," : "");
		json_ns(&w, &v.ns[i]);
	}
	jw_raw(&w, "],\"destinations\":[");
	for (i = 0; i < v.ndests; i++) {
		jw_raw(&w, i ? "," : "");
		json_dest(&w, occ, &v.dests[i]);
	}
	jw_raw(&w, "],\"bind_scopes\":[");
	for (i = 0; i < v.nscopes; i++) {
		jw_raw(&w, i ? "," : "");
		json_scope(&w, &v.scopes[i]);
	}
	jw_raw(&w, "],\"processes\":[");
	for (i = 0; i < v.nprocs; i++) {
		jw_raw(&w, i ? "," : "");
		json_proc(&w, occ, &v.procs[i]);
	}
	jw_raw(&w, "]");
	jw_u64(&w, "dropped", occ->dropped + extra_dropped);
	jw_u64(&w, "resyncs", occ->resyncs);
	jw_u64(&w, "resync_released", occ->resync_released);
	jw_raw(&w, "}");
	view_free(&v);
	if (w.err) {
		sb->len = old_len;
		if (sb->buf)
			sb->buf[old_len] = '\0';
	}
	return w.err;
}

/* ---- text ------------------------------------------------------------------------------ */

/* s cut to width columns, keeping its end (a '~' marks the cut); non-printable bytes as '?'. */
static void fit(char *dst, size_t width, const char *s)
{
	size_t n = strlen(s), i, skip = 0;

	if (n > width) {
		skip = n - width + 1;
		*dst++ = '~';
	}
	for (i = skip; i < n; i++)
		*dst++ = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	*dst = '\0';
}

static void text_addr(char *dst, size_t width, uint8_t family, const uint8_t *addr, int port)
{
	char a[64], ps[8] = "", full[80];

	if (eph_addr_str(family, addr, a, sizeof(a)))
		strcpy(a, "?");
	if (port >= 0) {
		snprintf(ps, sizeof(ps), ":%d", port);
		if (family == AF_INET6) {
			snprintf(full, sizeof(full), "[%s]", a);
			strcpy(a, full);
		}
		fit(dst, width - strlen(ps), a);
		strcat(dst, ps);
		return;
	}
	fit(dst, width, a);
}

/* 12s, 5m, 3h, 2d; "now" for 0; "-" for unknown */
static void text_duration(char *dst, size_t len, double s)
{
	if (isnan(s))
		snprintf(dst, len, "-");
	else if (s <= 0)
		snprintf(dst, len, "now");
	else if (s < 100)
		snprintf(dst, len, "%.0fs", ceil(s));
	else if (s < 6000)
		snprintf(dst, len, "%.0fm", ceil(s / 60));
	else if (s < 360000)
		snprintf(dst, len, "%.0fh", ceil(s / 3600));
	else if (s < 8640000)
		snprintf(dst, len, "%.0fd", ceil(s / 86400));
	else
		snprintf(dst, len, ">99d");
}

static void text_num(char *dst, size_t len, double v, const char *fmt)
{
	if (isnan(v))
		snprintf(dst, len, "-");
	else
		snprintf(dst, len, fmt, v);
}

static size_t shown(size_t n, unsigned int limit)
{
	return limit && n > limit ? limit : n;
}

static void text_more(struct jw *w, size_t n, unsigned int limit)
{
	if (limit && n > limit && !w->err)
		w->err = sb_printf(w->sb, "  (%zu more)\n", n - limit);
}

/* What the columns mean, in two lines, and what the numbers had to assume. */
static void text_legend(struct jw *w, const struct view *v)
{
	uint64_t assumed = 0;
	size_t i;

	for (i = 0; i < v->nns; i++)
		assumed += v->ns[i].assumed;
	if (!w->err)
		w->err = sb_puts(w->sb,
				 "LEFT: connect()s (bind(0)s for a bound address) the kernel would "
				 "grant now\nUSE%: 1 - LEFT/USABLE   EXH: forecast time until LEFT "
				 "is 0 (-: none)\n");
	if (assumed && !w->err)
		w->err = sb_printf(w->sb,
				   "note: %" PRIu64 " connected TCP socket(s) of unknown origin "
				   "counted as connect()'s\n",
				   assumed);
	if (v->nns && v->ns[0].bound_unlisted && !w->err)
		w->err = sb_puts(w->sb, "note: this kernel (< 6.8) lists no bound-only TCP socket: "
					"LEFT misses those no event saw\n");
}

static void text_ns(struct jw *w, const struct view *v)
{
	size_t i;

	if (!w->err)
		w->err = sb_printf(w->sb, "%-2s %-10s %-11s %5s %6s %6s %6s %6s %6s %8s\n", "NS",
				   "NETNS", "RANGE", "RSV", "USABLE", "TAKEN", "BOUND", "TW", "UDP",
				   "UDP-LEFT");
	for (i = 0; i < v->nns && !w->err; i++) {
		const struct row *r = &v->ns[i];
		const struct ns *ns = r->rec;
		char range[16] = "?", res[16] = "-", usable[16] = "-", taken[16] = "-";
		char bound[16] = "-", udp[16] = "-", udpleft[16] = "-";

		if (ns->have_range) {
			snprintf(range, sizeof(range), "%u-%u", ns->low, ns->high);
			snprintf(res, sizeof(res), "%u", ns->reserved);
		}
		if (r->ps) {
			snprintf(usable, sizeof(usable), "%u", r->ps->tcp_usable);
			snprintf(taken, sizeof(taken), "%u", r->ps->tcp_taken);
			snprintf(bound, sizeof(bound), "%u", r->ps->tcp_bound);
			snprintf(udp, sizeof(udp), "%u", r->ps->udp_taken);
			snprintf(udpleft, sizeof(udpleft), "%u", r->ps->udp_autobind_left);
		}
		w->err = sb_printf(
			w->sb, "%-2zu %-10" PRIu32 " %-11s %5s %6s %6s %6s %6" PRIu64 " %6s %8s\n",
			i + 1, ns->netns, range, res, usable, taken, bound, r->tw, udp, udpleft);
	}
}

static void text_dests(struct jw *w, const struct eph_occ *occ, struct view *v, unsigned int limit)
{
	size_t i;

	qsort(v->dests, v->ndests, sizeof(struct row), cmp_dest_urgent);
	if (!w->err)
		w->err = sb_printf(w->sb, "\n%-2s %-15s %-21s %5s %4s %5s %5s %5s %4s %4s\n", "NS",
				   "SOURCE", "DESTINATION", "HELD", "TW", "LEFT", "USE%", "RATE",
				   "FAIL", "EXH");
	for (i = 0; i < shown(v->ndests, limit) && !w->err; i++) {
		const struct row *r = &v->dests[i];
		const struct dest *d = r->rec;
		char src[16], dst[22], left[16], use[8], rt[16], fail[16], ex[8];

		text_addr(src, 15, d->key.family, d->key.saddr, -1);
		text_addr(dst, 21, d->key.family, d->key.daddr, d->key.dport);
		text_num(left, sizeof(left), r->st.ports_left, "%.0f");
		text_num(use, sizeof(use), r->st.utilization * 100, "%.1f");
		text_num(rt, sizeof(rt), r->st.assign_rate,
			 r->st.assign_rate < 1e3 ? "%.1f" : "%.0f");
		text_num(fail, sizeof(fail), occ->started ? (double)r->st.failures : NAN, "%.0f");
		text_duration(ex, sizeof(ex), r->st.exhaust_in_s);
		w->err = sb_printf(w->sb,
				   "%-2" PRIu32 " %-14s %-21s %5" PRIu32 " %4" PRIu32
				   " %5.5s %5s %5.5s %4.4s %4s\n",
				   r->nsno, src, dst, r->st.held, r->st.time_wait, left, use, rt,
				   fail, ex);
	}
	text_more(w, v->ndests, limit);
}

static void text_scopes(struct jw *w, const struct view *v, unsigned int limit)
{
	size_t i;

	if (!v->nscopes)
		return;
	if (!w->err)
		w->err = sb_printf(w->sb, "\n%-2s %-5s %-39s %5s %5s %6s %5s\n", "NS", "PROTO",
				   "BOUND ADDRESS", "HELD", "TW", "LEFT", "USE%");
	for (i = 0; i < shown(v->nscopes, limit) && !w->err; i++) {
		const struct row *r = &v->scopes[i];
		const struct scope *s = r->rec;
		char addr[40], left[16], use[8];

		text_addr(addr, 39, s->key.family, s->key.addr, -1);
		text_num(left, sizeof(left), r->st.ports_left, "%.0f");
		text_num(use, sizeof(use), r->st.utilization * 100, "%.1f");
		w->err = sb_printf(w->sb,
				   "%-2" PRIu32 " %-5s %-39s %5" PRIu32 " %5" PRIu32 " %6.6s %5s\n",
				   r->nsno, eph_proto_name(s->key.proto), addr, r->st.held,
				   r->st.time_wait, left, use);
	}
	text_more(w, v->nscopes, limit);
}

static void text_procs(struct jw *w, const struct eph_occ *occ, const struct view *v,
		       unsigned int limit)
{
	size_t i;

	if (!w->err)
		w->err = sb_printf(w->sb, "\n%-7s %-15s %5s %5s %6s %5s %-4s %s\n", "PID", "COMM",
				   "HELD", "TW", "RATE/s", "FAIL", "EXIT", "CGROUP");
	for (i = 0; i < shown(v->nprocs, limit) && !w->err; i++) {
		const struct row *r = &v->procs[i];
		const struct proc *p = r->rec;
		char pid[12] = "-", comm[EPH_COMM_LEN] = "(unknown)", rt[16], fail[16];
		char cg[26] = "-"; /* what is left of 79 columns */

		if (p) {
			snprintf(pid, sizeof(pid), "%" PRIu32, p->pid);
			fit(comm, EPH_COMM_LEN - 1, p->comm);
			if (p->cgroup)
				fit(cg, sizeof(cg) - 1, p->cgroup);
		}
		text_num(rt, sizeof(rt), r->st.assign_rate,
			 r->st.assign_rate < 1e4 ? "%.1f" : "%.0f");
		text_num(fail, sizeof(fail), occ->started && p ? (double)r->st.failures : NAN,
			 "%.0f");
		w->err = sb_printf(w->sb,
				   "%-7s %-15s %5" PRIu32 " %5" PRIu32 " %6.6s %5.5s %-4s %s\n",
				   pid, comm, r->st.held, r->st.time_wait, rt, fail,
				   !p	     ? "-" :
				   p->exited ? "yes" :
					       "no",
				   cg);
	}
	text_more(w, v->nprocs, limit);
}

int eph_occ__text(const struct eph_occ *occ, struct strbuf *sb, uint64_t now_ns, uint64_t wall_ns,
		  uint64_t extra_dropped, unsigned int limit)
{
	struct jw w = { .sb = sb };
	size_t old_len = sb->len;
	struct view v;
	int err;

	err = view_build(occ, now_ns, &v);
	if (err)
		return err;
	w.err = eph_format_time(sb, wall_ns);
	if (!w.err)
		w.err = sb_printf(sb, "  dropped %" PRIu64 "%s\n", occ->dropped + extra_dropped,
				  occ->started ? "" : "  (snapshot: no rates, no failures)");
	text_legend(&w, &v);
	text_ns(&w, &v);
	text_dests(&w, occ, &v, limit);
	text_scopes(&w, &v, limit);
	text_procs(&w, occ, &v, limit);
	view_free(&v);
	if (w.err) {
		sb->len = old_len;
		if (sb->buf)
			sb->buf[old_len] = '\0';
	}
	return w.err;
}
