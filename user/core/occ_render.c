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
#include "container_out.h"
#include "findings.h"
#include "jsonw.h"
#include "occ_int.h"

/* What a snapshot's writer is given besides the view. */
struct render_args {
	uint64_t now_ns, wall_ns;
	uint64_t extra_dropped; /* the buffer's drops, not counted by occ */
	unsigned int limit;	/* text: rows per table (0: all) */
};

/* v is the writer's: text sorts its rows */
typedef void (*render_fn)(struct jsonw *w, const struct eph_occ *occ, struct view *v,
			  const struct render_args *a);

/* The view at a->now_ns, written by fn at the end of sb; on an error sb is left as it was. */
static int render(const struct eph_occ *occ, struct strbuf *sb, const struct render_args *a,
		  render_fn fn)
{
	struct jsonw w = { .sb = sb };
	size_t start = sb->len;
	struct view v;
	int err;

	err = view_build(occ, a->now_ns, &v);
	if (err)
		return err;
	fn(&w, occ, &v, a);
	view_free(&v);
	return jsonw_end(&w, start);
}

/* ---- JSON ------------------------------------------------------------------------------ */

static void json_ns(struct jsonw *w, const struct eph_occ *occ, const struct row *r)
{
	const struct ns *ns = r->rec;

	(void)occ;
	jsonw_raw(w, "{");
	jsonw_u64(w, "netns", ns->netns);
	jsonw_double(w, "low", ns->have_range ? ns->low : NAN);
	jsonw_double(w, "high", ns->have_range ? ns->high : NAN);
	jsonw_double(w, "reserved", ns->have_range ? ns->reserved : NAN);
	jsonw_double(w, "usable", r->ps ? r->ps->tcp_usable : NAN);
	jsonw_double(w, "taken", r->ps ? r->ps->tcp_taken : NAN);
	jsonw_double(w, "bound", r->ps ? r->ps->tcp_bound : NAN);
	jsonw_double(w, "new_dest_ports_left", r->ps ? r->ps->tcp_new_left : NAN);
	jsonw_double(w, "udp_usable", r->ps ? r->ps->udp_usable : NAN);
	jsonw_double(w, "udp_taken", r->ps ? r->ps->udp_taken : NAN);
	jsonw_double(w, "udp_ports_left", r->ps ? r->ps->udp_autobind_left : NAN);
	jsonw_u64(w, "bucket_unknown", r->assumed);
	jsonw_bool(w, "bound_only_listed", !r->bound_unlisted);
	jsonw_u64(w, "resync_released", ns->resync_released);
	eph_container__json(w, ns->owner);
	jsonw_raw(w, "}");
}

/* "socket_range":{...}, only when sockets of the destination narrow the netns range */
static void json_sock_range(struct jsonw *w, const struct eph_occ_range *sr)
{
	if (!sr->sockets)
		return;
	jsonw_key(w, "socket_range");
	jsonw_raw(w, "{");
	jsonw_u64(w, "low", sr->low);
	jsonw_u64(w, "high", sr->high);
	jsonw_u64(w, "sockets", sr->sockets);
	jsonw_u64(w, "usable", sr->usable);
	jsonw_u64(w, "ports_left", sr->left);
	jsonw_raw(w, "}");
}

/* A destination's or bind scope's space: what it holds, and what the port search leaves. */
static void json_space(struct jsonw *w, const struct eph_occ_stats *st)
{
	jsonw_u64(w, "held", st->held);
	jsonw_u64(w, "time_wait", st->time_wait);
	jsonw_double(w, "usable", st->usable);
	jsonw_double(w, "ports_left", st->ports_left);
	jsonw_double(w, "utilization", st->utilization);
}

static void json_dest(struct jsonw *w, const struct eph_occ *occ, const struct row *r)
{
	const struct dest *d = r->rec;

	jsonw_raw(w, "{");
	jsonw_u64(w, "netns", d->key.netns);
	jsonw_str(w, "proto", eph_proto_name(d->key.proto), SIZE_MAX);
	jsonw_str(w, "family", eph_family_name(d->key.family), SIZE_MAX);
	jsonw_addr(w, "saddr", d->key.family, d->key.saddr);
	jsonw_addr(w, "daddr", d->key.family, d->key.daddr);
	jsonw_u64(w, "dport", d->key.dport);
	json_space(w, &r->st);
	jsonw_double(w, "assign_rate", r->st.assign_rate);
	jsonw_double(w, "failures", occ->started ? (double)r->st.failures : NAN);
	jsonw_double(w, "exhaust_in_s", r->st.exhaust_in_s);
	json_sock_range(w, &r->st.sock_range);
	jsonw_raw(w, "}");
}

static void json_scope(struct jsonw *w, const struct eph_occ *occ, const struct row *r)
{
	const struct scope *s = r->rec;

	(void)occ;
	jsonw_raw(w, "{");
	jsonw_u64(w, "netns", s->key.netns);
	jsonw_str(w, "proto", eph_proto_name(s->key.proto), SIZE_MAX);
	jsonw_str(w, "family", eph_family_name(s->key.family), SIZE_MAX);
	jsonw_addr(w, "addr", s->key.family, s->key.addr);
	json_space(w, &r->st);
	jsonw_raw(w, "}");
}

static void json_failures(struct jsonw *w, const struct eph_occ *occ, const struct proc *p)
{
	if (!occ->started || !p)
		jsonw_null(w, "failures");
	else
		eph_errs__json(w, "failures", &p->errs);
}

static void json_proc(struct jsonw *w, const struct eph_occ *occ, const struct row *r)
{
	const struct proc *p = r->rec;

	jsonw_raw(w, "{");
	jsonw_double(w, "pid", p ? p->pid : NAN);
	jsonw_str(w, "comm", p ? p->comm : NULL, EPH_COMM_LEN);
	jsonw_str(w, "cgroup", p ? p->cgroup : NULL, SIZE_MAX);
	eph_container__json(w, p ? p->ct : NULL);
	jsonw_u64(w, "held", r->st.held);
	jsonw_u64(w, "time_wait", r->st.time_wait);
	jsonw_double(w, "assign_rate", p ? r->st.assign_rate : NAN);
	json_failures(w, occ, p);
	if (p)
		jsonw_bool(w, "exited", p->exited);
	else
		jsonw_null(w, "exited");
	jsonw_raw(w, "}");
}

/* "findings":[...]; "findings_need_events":[kinds] when only a snapshot was seen. */
static void json_findings(struct jsonw *w, const struct eph_occ *occ, const struct view *v,
			  uint64_t now)
{
	struct eph_findings fs = { 0 };
	int k;

	if (!w->err)
		w->err = occ_findings(occ, v, now, &fs);
	jsonw_key(w, "findings");
	if (!w->err)
		w->err = eph_findings__json(&fs, w->sb);
	eph_findings__free(&fs);
	if (occ->started)
		return;
	jsonw_key(w, "findings_need_events");
	jsonw_raw(w, "[");
	for (k = 0; k < EPH_FIND_NKINDS; k++)
		if (!eph_find_kind_from_snapshot(k))
			jsonw_str(w, NULL, eph_find_kind_name(k), 64);
	jsonw_raw(w, "]");
}

/* "key": [ an object per row, by fn ] */
static void json_rows(struct jsonw *w, const char *key, const struct eph_occ *occ,
		      const struct row *rows, size_t n,
		      void (*fn)(struct jsonw *w, const struct eph_occ *occ, const struct row *r))
{
	size_t i;

	jsonw_key(w, key);
	jsonw_raw(w, "[");
	for (i = 0; i < n; i++) {
		jsonw_elem(w);
		fn(w, occ, &rows[i]);
	}
	jsonw_raw(w, "]");
}

static void json_all(struct jsonw *w, const struct eph_occ *occ, struct view *v,
		     const struct render_args *a)
{
	jsonw_raw(w, "{");
	jsonw_time(w, "time", a->wall_ns);
	json_rows(w, "netns", occ, v->ns, v->nns, json_ns);
	json_rows(w, "destinations", occ, v->dests, v->ndests, json_dest);
	json_rows(w, "bind_scopes", occ, v->scopes, v->nscopes, json_scope);
	json_rows(w, "processes", occ, v->procs, v->nprocs, json_proc);
	json_findings(w, occ, v, a->now_ns);
	jsonw_u64(w, "dropped", occ->dropped + a->extra_dropped);
	jsonw_u64(w, "resyncs", occ->resyncs);
	jsonw_u64(w, "resync_released", occ->resync_released);
	jsonw_raw(w, "}");
}

int eph_occ__json(const struct eph_occ *occ, struct strbuf *sb, uint64_t now_ns, uint64_t wall_ns,
		  uint64_t extra_dropped)
{
	const struct render_args a = { now_ns, wall_ns, extra_dropped, 0 };

	return render(occ, sb, &a, json_all);
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

/* A percentage in 4 columns: 32.8, 100; "-" for unknown. */
static void text_pct4(char *dst, size_t len, double pct)
{
	if (isnan(pct))
		snprintf(dst, len, "-");
	else
		snprintf(dst, len, pct >= 99.95 ? "%.0f" : "%.1f", pct);
}

/* A rate in 4 columns: 12.3, 123, 1234, 9.9k, 123k, 1.2M ... 999E; "-" for unknown. */
static void text_rate4(char *dst, size_t len, double r)
{
	static const char units[] = "kMGTPE";
	unsigned int u;

	if (isnan(r)) {
		snprintf(dst, len, "-");
		return;
	}
	if (r < 99.95) {
		snprintf(dst, len, "%.1f", r);
		return;
	}
	if (r < 9999.5) {
		snprintf(dst, len, "%.0f", r);
		return;
	}
	for (u = 0; u < sizeof(units) - 1; u++) {
		r /= 1e3;
		if (r < 9.95) {
			snprintf(dst, len, "%.1f%c", r, units[u]);
			return;
		}
		if (r < 999.5) {
			snprintf(dst, len, "%.0f%c", r, units[u]);
			return;
		}
	}
	snprintf(dst, len, "huge");
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

static void text_more(struct jsonw *w, size_t n, unsigned int limit)
{
	if (limit && n > limit && !w->err)
		w->err = sb_printf(w->sb, "  (%zu more)\n", n - limit);
}

/* What the columns mean, and what the numbers had to assume. */
static void text_legend(struct jsonw *w, const struct view *v)
{
	uint64_t assumed = 0;
	size_t i;

	for (i = 0; i < v->nns; i++)
		assumed += v->ns[i].assumed;
	if (!w->err)
		w->err = sb_puts(
			w->sb, "LEFT: connect()s (bind(0)s for a bound address) the kernel would "
			       "grant now\nNEW: LEFT of a destination with no row (USABLE - BOUND)"
			       "\nUSE%: 1 - LEFT/USABLE   EXH: forecast time until LEFT "
			       "is 0 (-: none)\nNS: netns inode - 4026531840, the same in every "
			       "command; init: the first netns\n");
	if (assumed && !w->err)
		w->err = sb_printf(w->sb,
				   "note: %" PRIu64 " connected TCP socket(s) of unknown origin "
				   "counted as connect()'s\n",
				   assumed);
	if (v->nns && v->ns[0].bound_unlisted && !w->err)
		w->err = sb_puts(w->sb, "note: this kernel (< 6.8) lists no bound-only TCP socket:\n"
					"      BOUND misses those no event saw, LEFT and NEW "
					"count them free\n");
}

/*
 * The NS column: a namespace's nsfs inode less PROC_DYNAMIC_FIRST (0xF0000000, where
 * proc_alloc_inum() starts), so the same short number in every command and for the namespace's
 * whole life; "init" for the initial one where it has a fixed inode below that (6.18:
 * PROC_NET_INIT_INO). Past 9999 (a namespace churn that high), "~" and the last three digits.
 */
#define NS_INUM_FIRST 0xF0000000u

static void ns_label(char *buf, size_t len, uint32_t netns)
{
	uint32_t n = netns - NS_INUM_FIRST;

	if (netns < NS_INUM_FIRST)
		snprintf(buf, len, "init");
	else if (n <= 9999)
		snprintf(buf, len, "%" PRIu32, n);
	else /* 4 columns: "~" and the last 3 digits (NETNS has the whole inode) */
		snprintf(buf, len, "~%03" PRIu32, n % 1000);
}

/* A container for a table, cut to width columns. */
static void text_container(char *dst, size_t width, const struct eph_container *c, bool words)
{
	char s[EPH_CT_TEXT_LEN];

	fit(dst, width, eph_container__text(c, words, s, sizeof(s)));
}

static void text_ns(struct jsonw *w, const struct view *v)
{
	size_t i;

	if (!w->err)
		w->err = sb_printf(w->sb, "%-4s %-10s %-11s %5s %6s %5s %5s %5s %5s %5s %8s\n",
				   "NS", "NETNS", "RANGE", "RSV", "USABLE", "TAKEN", "BOUND", "NEW",
				   "TW", "UDP", "UDP-LEFT");
	for (i = 0; i < v->nns && !w->err; i++) {
		const struct row *r = &v->ns[i];
		const struct ns *ns = r->rec;
		char range[16] = "?", res[16] = "-", usable[16] = "-", taken[16] = "-";
		char bound[16] = "-", fresh[16] = "-", udp[16] = "-", udpleft[16] = "-", nsl[16];

		ns_label(nsl, sizeof(nsl), ns->netns);
		if (ns->have_range) {
			snprintf(range, sizeof(range), "%u-%u", ns->low, ns->high);
			snprintf(res, sizeof(res), "%u", ns->reserved);
		}
		if (r->ps) {
			snprintf(usable, sizeof(usable), "%u", r->ps->tcp_usable);
			snprintf(taken, sizeof(taken), "%u", r->ps->tcp_taken);
			snprintf(bound, sizeof(bound), "%u", r->ps->tcp_bound);
			snprintf(fresh, sizeof(fresh), "%u", r->ps->tcp_new_left);
			snprintf(udp, sizeof(udp), "%u", r->ps->udp_taken);
			snprintf(udpleft, sizeof(udpleft), "%u", r->ps->udp_autobind_left);
		}
		w->err = sb_printf(
			w->sb,
			"%-4s %-10" PRIu32 " %-11s %5s %6s %5s %5s %5s %5" PRIu64 " %5s %8s\n", nsl,
			ns->netns, range, res, usable, taken, bound, fresh, r->tw, udp, udpleft);
		if (ns->owner && !w->err) {
			char who[80];

			text_container(who, 79 - 11, ns->owner, true);
			w->err = sb_printf(w->sb, "%-4s  owner %s\n", "", who);
		}
	}
}

/*
 * A destination whose sockets narrow the range with IP_LOCAL_PORT_RANGE, in two lines of at
 * most 79 columns (the destination cut to what is left):
 * note: 12 sockets to 127.0.0.1:5000 use IP_LOCAL_PORT_RANGE 40010-40029:
 *       3 more connect()s with it (of 20 usable; NS 1)
 */
static void text_sock_range(struct jsonw *w, const struct row *r)
{
	const struct eph_occ_range *sr = &r->st.sock_range;
	const struct dest *d = r->rec;
	char head[32], tail[48], dst[48], nsl[16];
	int room;

	if (!sr->sockets || w->err)
		return;
	ns_label(nsl, sizeof(nsl), d->key.netns);
	snprintf(head, sizeof(head), "note: %" PRIu32 " socket%s to ", sr->sockets,
		 sr->sockets == 1 ? "" : "s");
	snprintf(tail, sizeof(tail),
		 " use%s IP_LOCAL_PORT_RANGE %u-%u:", sr->sockets == 1 ? "s" : "", sr->low,
		 sr->high);
	room = 79 - (int)strlen(head) - (int)strlen(tail);
	text_addr(dst, room < (int)sizeof(dst) - 1 ? room : (int)sizeof(dst) - 1, d->key.family,
		  d->key.daddr, d->key.dport);
	w->err = sb_printf(w->sb,
			   "%s%s%s\n      %" PRIu32 " more connect()%s with it (of %" PRIu32
			   " usable; NS %s)\n",
			   head, dst, tail, sr->left, sr->left == 1 ? "" : "s", sr->usable, nsl);
}

static void text_dests(struct jsonw *w, const struct eph_occ *occ, struct view *v,
		       unsigned int limit)
{
	size_t i;

	qsort(v->dests, v->ndests, sizeof(struct row), cmp_dest_urgent);
	if (!w->err)
		w->err = sb_printf(w->sb, "\n%-4s %-15s %-21s %5s %4s %5s %4s %4s %4s %4s\n", "NS",
				   "SOURCE", "DESTINATION", "HELD", "TW", "LEFT", "USE%", "RATE",
				   "FAIL", "EXH");
	for (i = 0; i < shown(v->ndests, limit) && !w->err; i++) {
		const struct row *r = &v->dests[i];
		const struct dest *d = r->rec;
		char src[16], dst[22], left[16], use[8], rt[16], fail[16], ex[8], nsl[16];

		ns_label(nsl, sizeof(nsl), d->key.netns);
		text_addr(src, 15, d->key.family, d->key.saddr, -1);
		text_addr(dst, 21, d->key.family, d->key.daddr, d->key.dport);
		text_num(left, sizeof(left), r->st.ports_left, "%.0f");
		text_pct4(use, sizeof(use), r->st.utilization * 100);
		text_rate4(rt, sizeof(rt), r->st.assign_rate);
		text_num(fail, sizeof(fail), occ->started ? (double)r->st.failures : NAN, "%.0f");
		text_duration(ex, sizeof(ex), r->st.exhaust_in_s);
		w->err = sb_printf(
			w->sb,
			"%-4s %-15s %-21s %5" PRIu32 " %4" PRIu32 " %5.5s %4s %4s %4.4s %4s\n", nsl,
			src, dst, r->st.held, r->st.time_wait, left, use, rt, fail, ex);
	}
	text_more(w, v->ndests, limit);
	for (i = 0; i < shown(v->ndests, limit); i++)
		text_sock_range(w, &v->dests[i]);
}

static void text_scopes(struct jsonw *w, const struct view *v, unsigned int limit)
{
	size_t i;

	if (!v->nscopes)
		return;
	if (!w->err)
		w->err = sb_printf(w->sb, "\n%-4s %-5s %-39s %5s %5s %6s %5s\n", "NS", "PROTO",
				   "BOUND ADDRESS", "HELD", "TW", "LEFT", "USE%");
	for (i = 0; i < shown(v->nscopes, limit) && !w->err; i++) {
		const struct row *r = &v->scopes[i];
		const struct scope *s = r->rec;
		char addr[40], left[16], use[8], nsl[16];

		ns_label(nsl, sizeof(nsl), s->key.netns);
		text_addr(addr, 39, s->key.family, s->key.addr, -1);
		text_num(left, sizeof(left), r->st.ports_left, "%.0f");
		text_num(use, sizeof(use), r->st.utilization * 100, "%.1f");
		w->err = sb_printf(w->sb, "%-4s %-5s %-39s %5" PRIu32 " %5" PRIu32 " %6.6s %5s\n",
				   nsl, eph_proto_name(s->key.proto), addr, r->st.held,
				   r->st.time_wait, left, use);
	}
	text_more(w, v->nscopes, limit);
}

static void text_procs(struct jsonw *w, const struct eph_occ *occ, const struct view *v,
		       unsigned int limit)
{
	size_t i;

	if (!w->err)
		w->err = sb_printf(w->sb, "\n%-7s %-15s %5s %5s %6s %5s %-4s %s\n", "PID", "COMM",
				   "HELD", "TW", "RATE/s", "FAIL", "EXIT", "CONTAINER|CGROUP");
	for (i = 0; i < shown(v->nprocs, limit) && !w->err; i++) {
		const struct row *r = &v->procs[i];
		const struct proc *p = r->rec;
		char pid[12] = "-", comm[EPH_COMM_LEN] = "(unknown)", rt[16], fail[16];
		char cg[26] = "-"; /* what is left of 79 columns */

		if (p) {
			snprintf(pid, sizeof(pid), "%" PRIu32, p->pid);
			fit(comm, EPH_COMM_LEN - 1, p->comm);
			if (p->ct)
				text_container(cg, sizeof(cg) - 1, p->ct, false);
			else if (p->cgroup)
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

static void text_findings(struct jsonw *w, const struct eph_occ *occ, const struct view *v,
			  uint64_t now, unsigned int limit)
{
	struct eph_findings fs = { 0 };
	int k;

	if (!w->err)
		w->err = occ_findings(occ, v, now, &fs);
	if (!w->err)
		w->err = eph_findings__text(&fs, w->sb, limit);
	eph_findings__free(&fs);
	if (occ->started || w->err)
		return;
	w->err = sb_puts(w->sb, "note: a snapshot cannot show");
	for (k = 0; k < EPH_FIND_NKINDS && !w->err; k++)
		if (!eph_find_kind_from_snapshot(k))
			w->err = sb_printf(w->sb, " %s", eph_find_kind_name(k));
	if (!w->err)
		w->err = sb_puts(w->sb, " (needs events: top, serve)\n");
}

static void text_all(struct jsonw *w, const struct eph_occ *occ, struct view *v,
		     const struct render_args *a)
{
	w->err = eph_format_time(w->sb, a->wall_ns);
	if (!w->err)
		w->err = sb_printf(w->sb, "  dropped %" PRIu64 "%s\n",
				   occ->dropped + a->extra_dropped,
				   occ->started ? "" : "  (snapshot: no rates, no failures)");
	text_legend(w, v);
	text_ns(w, v);
	text_dests(w, occ, v, a->limit);
	text_scopes(w, v, a->limit);
	text_procs(w, occ, v, a->limit);
	text_findings(w, occ, v, a->now_ns, a->limit);
}

int eph_occ__text(const struct eph_occ *occ, struct strbuf *sb, uint64_t now_ns, uint64_t wall_ns,
		  uint64_t extra_dropped, unsigned int limit)
{
	const struct render_args a = { now_ns, wall_ns, extra_dropped, limit };

	return render(occ, sb, &a, text_all);
}
