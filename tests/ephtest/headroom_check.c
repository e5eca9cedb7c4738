// SPDX-License-Identifier: GPL-2.0
/*
 * The headroom scenarios' comparison (headroom.c tells the whole story): each snapshot's rows
 * (status's and top's JSON) against the kernel's counts, number by number; rows a snapshot cannot
 * see (bound-only sockets with bpf() refused before 6.8) as upper bounds; the table of rows
 * printed; and the kernel's sockets in the range, shown when a row is wrong.
 */
#include <arpa/inet.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "headroom.h"

/* ---- comparing ---- */

static bool str_is(json_object *o, const char *key, const char *want)
{
	const char *s = jstr(o, key);

	return s && !strcmp(s, want);
}

static bool addr_is(json_object *o, const char *key, int family, const uint8_t want[16])
{
	const char *s = jstr(o, key);
	uint8_t a[16];

	return s && hr_addr_parse(s, a) == family && !memcmp(a, want, 16);
}

static bool in_netns(json_object *e, uint64_t netns)
{
	double v;

	return jnum(e, "netns", &v) == 1 && v == (double)netns;
}

/* The snapshot's row for hr row w, or NULL. */
static json_object *find_row(json_object *snap, uint64_t netns, const struct hr_row *w)
{
	const char *table = w->kind == HR_DEST	? "destinations" :
			    w->kind == HR_SCOPE ? "bind_scopes" :
						  "netns";
	json_object *a = jarr(snap, table), *e;
	size_t i, n = a ? json_object_array_length(a) : 0;
	double port;

	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(a, i);
		if (!in_netns(e, netns))
			continue;
		if (w->kind == HR_NETNS_UDP || w->kind == HR_NETNS_NEW)
			return e;
		if (!str_is(e, "proto", proto_name(w->proto)) ||
		    !str_is(e, "family", family_name(w->family)) ||
		    !addr_is(e, w->kind == HR_DEST ? "saddr" : "addr", w->family, w->saddr))
			continue;
		if (w->kind == HR_SCOPE)
			return e;
		if (jnum(e, "dport", &port) == 1 && port == w->dport &&
		    addr_is(e, "daddr", w->family, w->daddr))
			return e;
	}
	return NULL;
}

static const char *num_text(int kind, double v, char *buf, size_t len)
{
	if (kind == 1)
		snprintf(buf, len, "%.10g", v);
	else
		snprintf(buf, len, "%s", kind ? "nothing" : "null");
	return buf;
}

/* One number of a row against the truth; a problem names the row, both numbers and the case. */
static bool check_num(struct hr_run *r, const char *src, const char *name, json_object *e,
		      const char *key, double want, const char *said_as)
{
	char got[32];
	double v;
	int k = jnum(e, key, &v);

	if (k == 1 && v == want)
		return true;
	hr_problem(r, "%s: %s %s: ephtrace said %s %s, %s %.0f", r->s->name, src, name,
		   num_text(k, v, got, sizeof(got)), key, said_as, want);
	buf_printf(&r->report, "      %s row: %s\n", src,
		   json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
	return false;
}

/* No IPv6 row for IPv4-mapped connections: they are IPv4 4-tuples. */
static void check_no_mapped_rows(struct hr_run *r, const char *src, json_object *snap)
{
	json_object *a = jarr(snap, "destinations"), *e;
	size_t i, n = a ? json_object_array_length(a) : 0;
	uint8_t addr[16];
	const char *s;

	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(a, i);
		if (!in_netns(e, r->w.o->netns) || !str_is(e, "family", "ipv6"))
			continue;
		s = jstr(e, "daddr");
		if (s && hr_addr_parse(s, addr) == AF_INET6 && hr_is_mapped(addr)) {
			hr_problem(r,
				   "%s: %s: expected no IPv6 destination for the IPv4-mapped "
				   "connections (they count in the IPv4 row) got one",
				   r->s->name, src);
			buf_printf(&r->report, "      %s row: %s\n", src,
				   json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
		}
	}
}

/* What a snapshot said of a row: -1 where it said no number. */
struct said {
	double left, held;
};

/*
 * Whether a snapshot could not see every port bind() made, and why: its namespace row says the
 * bound-only TCP sockets are not listed (sock_diag dumps them from 6.8; before, status and top
 * find them with their port iterator, unless bpf() is refused or the kernel has none) and no
 * event showed them (status, or top started after the state); or it took connected sockets
 * for connect()'s whose bucket it could not read (bucket_unknown: bind-before-connect and
 * fixed-port connections, which block a port for every destination, without the iterator).
 */
enum blind { SEES_ALL, NO_BOUND_ONLY, NO_BUCKETS };

static enum blind snapshot_blind(struct hr_run *r, json_object *snap, bool events,
				 const char **why)
{
	json_object *ns = jarr(snap, "netns"), *x;
	double inode, unknown;
	size_t i;

	for (i = 0; ns && i < json_object_array_length(ns); i++) {
		json_object *n = json_object_array_get_idx(ns, i);

		if (jnum(n, "netns", &inode) != 1 || inode != r->w.o->netns)
			continue;
		if (!events && r->w.o->hr.nbound &&
		    json_object_object_get_ex(n, "bound_only_listed", &x) &&
		    !json_object_get_boolean(x)) {
			*why = "bound-only sockets are not listed here (bound_only_listed false)";
			return NO_BOUND_ONLY;
		}
		if (jnum(n, "bucket_unknown", &unknown) == 1 && unknown > 0) {
			*why = "connections whose port bind() made are taken for connect()'s here "
			       "(bucket_unknown > 0)";
			return NO_BUCKETS;
		}
	}
	return SEES_ALL;
}

/*
 * A destination that holds no port of the range (its one connection is from a reserved port):
 * ephtrace lists no row for it, and a destination without a row gets what a new one gets, the
 * netns row's new_dest_ports_left (usable less the ports whose bucket bind() made, which
 * connect() skips for every destination).
 */
static void check_rowless_dest(struct hr_run *r, const char *src, const char *name,
			       json_object *snap, const struct hr_row *w, struct said *said)
{
	json_object *ns = jarr(snap, "netns"), *n;
	size_t i;
	double v;

	for (i = 0; ns && i < json_object_array_length(ns); i++) {
		n = json_object_array_get_idx(ns, i);
		if (!in_netns(n, r->w.o->netns) || jnum(n, "new_dest_ports_left", &v) != 1)
			continue;
		said->left = v;
		said->held = 0;
		check_num(r, src, name, n, "new_dest_ports_left", w->granted,
			  "which holds no port of the range and has no row: the kernel granted");
		return;
	}
	hr_problem(r, "%s: %s: expected the netns row's new_dest_ports_left for %s got none",
		   r->s->name, src, name);
}

/*
 * Every row's ports_left against the kernel's count; a destination's held and time_wait against
 * the state (IPv4-mapped connections in the IPv4 row). A bind scope's held is only shown: which
 * sockets ephtrace counts there (listeners, say) is its own definition, not the kernel's.
 */
static void check_snapshot(struct hr_run *r, const char *src, const char *line, bool events,
			   struct said *said)
{
	const struct hr_shared *hr = &r->w.o->hr;
	bool mapped = false, shown = false, blind;
	const char *why = NULL;
	enum blind kind;
	json_object *snap, *e;
	char name[128];
	uint32_t i;
	double v;

	snap = json_tokener_parse(line);
	if (!snap || !json_object_is_type(snap, json_type_object)) {
		hr_problem(r, "%s: %s: expected a JSON object got %.200s", r->s->name, src, line);
		json_object_put(snap);
		return;
	}
	kind = snapshot_blind(r, snap, events, &why);
	blind = kind != SEES_ALL;
	/* without the iterator neither is seen; without its walk (no bpf_loop) the bound-only
	 * sockets are not, the buckets are */
	if (blind && !r->no_iter && !(kind == NO_BOUND_ONLY && r->no_walk)) {
		hr_problem(r,
			   "%s: %s: expected every port bind() made seen (the port iterator reads "
			   "the bound-only sockets and each socket's bucket) got: %s",
			   r->s->name, src, why);
		blind = false;
	}
	for (i = 0; i < hr->nrows; i++) {
		const struct hr_row *w = &hr->row[i];
		const char *key = w->kind == HR_NETNS_UDP ? "udp_ports_left" :
				  w->kind == HR_NETNS_NEW ? "new_dest_ports_left" :
							    "ports_left";

		said[i].left = said[i].held = -1;
		hr_row_name(w, name, sizeof(name));
		e = find_row(snap, r->w.o->netns, w);
		if (!e && blind && w->proto == IPPROTO_TCP) {
			r->blind++; /* a row of bound-only sockets the snapshot cannot list */
			continue;
		}
		if (!e && w->kind == HR_DEST && !w->held && !w->time_wait) {
			check_rowless_dest(r, src, name, snap, w, &said[i]);
			continue;
		}
		if (!e) {
			hr_problem(r,
				   "%s: %s: expected a row for %s got none (the kernel granted %d)",
				   r->s->name, src, name, w->granted);
			if (!shown)
				buf_printf(&r->report, "      %s: %.*s%s\n", src, SHOW_MAX, line,
					   strlen(line) > SHOW_MAX ? "..." : "");
			shown = true;
			continue;
		}
		if (jnum(e, key, &v) == 1)
			said[i].left = v;
		if (jnum(e, "held", &v) == 1)
			said[i].held = v;
		if (blind && w->proto == IPPROTO_TCP) {
			/* it can only miss ports: never fewer left than the kernel grants */
			if (said[i].left < w->granted)
				hr_problem(
					r,
					"%s: %s: %s: expected ports_left >= %d (the kernel granted "
					"that; %s) got %.0f",
					r->s->name, src, name, w->granted, why, said[i].left);
			r->blind++;
		} else {
			check_num(r, src, name, e, key, w->granted, "the kernel granted");
		}
		if (w->kind != HR_DEST)
			continue;
		check_num(r, src, name, e, "held", w->held,
			  w->mapped ? "the state holds (IPv4-mapped included)" : "the state holds");
		check_num(r, src, name, e, "time_wait", w->time_wait, "the state holds");
		mapped |= w->mapped > 0;
	}
	if (mapped)
		check_no_mapped_rows(r, src, snap);
	json_object_put(snap);
}

static void say_number(struct buf *b, double v)
{
	if (v < 0)
		buf_printf(b, " %6s", "-");
	else
		buf_printf(b, " %6.0f", v);
}

/* The table of rows: the kernel's count, what status and top said, what the state holds. */
void hr_compare(struct hr_run *r)
{
	const struct hr_shared *hr = &r->w.o->hr;
	struct said st[HR_MAX_ROWS], top[HR_MAX_ROWS];
	struct buf table = {};
	char name[128];
	uint32_t i;

	check_snapshot(r, "status", r->status_snap, false, st);
	check_snapshot(r, "top", r->top_snap, r->s->hr->top_before, top);
	buf_printf(&table, "  %-40s %6s %6s %6s %5s %4s\n", "ports left in row", "kernel", "status",
		   "top", "held", "tw");
	for (i = 0; i < hr->nrows; i++) {
		const struct hr_row *w = &hr->row[i];

		buf_printf(&table, "  %-40s %6d", hr_row_name(w, name, sizeof(name)), w->granted);
		say_number(&table, st[i].left);
		say_number(&table, top[i].left);
		if (w->kind == HR_NETNS_UDP || w->kind == HR_NETNS_NEW) {
			buf_printf(&table, "\n");
			continue;
		}
		buf_printf(&table, " %5u %4u", w->held, w->time_wait);
		if (w->mapped)
			buf_printf(&table, " (%u IPv4-mapped)", w->mapped);
		if (st[i].held != w->held || top[i].held != w->held)
			buf_printf(&table, " (ephtrace: held %.0f in status, %.0f in top)",
				   st[i].held, top[i].held);
		buf_printf(&table, "\n");
	}
	printf("%s", buf_str(&table));
	buf_free(&table);
}

static const char *tcp_state_name(unsigned int st)
{
	static const char *const names[] = { "?",	  "ESTABLISHED",   "SYN_SENT",
					     "SYN_RECV",  "FIN_WAIT1",	   "FIN_WAIT2",
					     "TIME_WAIT", "CLOSE (bound)", "CLOSE_WAIT",
					     "LAST_ACK",  "LISTEN",	   "CLOSING" };

	return st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

static int cmp_sock(const void *a, const void *b)
{
	const struct hr_sock *x = a, *y = b;

	if (x->lport != y->lport)
		return x->lport < y->lport ? -1 : 1;
	return x->proto - y->proto;
}

/* The workload's sockets with a port in the range, by port: what a mismatch is about. */
void hr_take_table(struct hr_run *r)
{
	char l[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	int i, n = hr_read_socks(r->w.o, r->w.pid);

	if (n < 0) {
		buf_printf(&r->table, "    (%s)\n", r->w.o->msg);
		return;
	}
	for (i = 0; i < (int)r->w.o->hr.nbound && n < HR_MAX_SOCKS; i++) {
		struct hr_sock *k = &hr_socks[n++];

		memset(k, 0, sizeof(*k));
		k->proto = IPPROTO_TCP;
		k->family = r->w.o->hr.bound[i].family;
		k->state = ST_CLOSE;
		k->lport = r->w.o->hr.bound[i].port;
		memcpy(k->laddr, r->w.o->hr.bound[i].addr, 16);
	}
	qsort(hr_socks, n, sizeof(hr_socks[0]), cmp_sock);
	for (i = 0; i < n; i++) {
		const struct hr_sock *k = &hr_socks[i];

		if (k->lport < r->s->range_lo || k->lport > r->s->range_hi)
			continue;
		buf_printf(&r->table, "    %u %s %s", k->lport, proto_name(k->proto),
			   hr_addr_text(k->family, k->laddr, l, sizeof(l)));
		if (k->rport)
			buf_printf(&r->table, " -> %s:%u",
				   hr_addr_text(k->family, k->raddr, d, sizeof(d)), k->rport);
		buf_printf(&r->table, " %s\n",
			   k->proto == IPPROTO_UDP ? (k->rport ? "connected" : "bound") :
						     tcp_state_name(k->state));
	}
}
