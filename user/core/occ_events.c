// SPDX-License-Identifier: GPL-2.0
/*
 * Occupancy: one decoded event at a time (the hot path).
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

#include "occ_int.h"

/* ---- events ---------------------------------------------------------------------------- */

void eph_occ__start(struct eph_occ *occ, uint64_t now_ns)
{
	occ->started = true;
	occ->start_ns = now_ns;
}

/*
 * The 4-tuple of an event (netns, proto, family; the addresses and remote port it knows, zeros
 * for the rest; its port) and hash_dest() of its destination, both from the same words: the
 * hash does not wait for the tuple to be written and read back. A UDP sendmsg()'s autobind
 * knows the datagram's destination, not the socket's (it has none: the snapshots show it so).
 */
static uint32_t ev_tuple(const struct eph_event *ev, struct tuple *t)
{
	static const uint8_t first4[8] = { 0xff, 0xff, 0xff, 0xff }; /* an IPv4 address's bytes */
	bool v4 = ev->family == AF_INET, src = ev->flags & EPH_F_SADDR;
	bool dest =
		(ev->flags & EPH_F_DEST) && !(ev->proto == IPPROTO_UDP && ev->op == EPH_OP_SENDMSG);
	uint64_t m0 = v4 ? eph_tab__load64(first4) : UINT64_MAX, m1 = v4 ? 0 : UINT64_MAX;
	uint64_t sa[2] = { 0, 0 }, da[2] = { 0, 0 };

	if (src) {
		sa[0] = eph_tab__load64(ev->saddr) & m0;
		sa[1] = eph_tab__load64(ev->saddr + 8) & m1;
	}
	if (dest) {
		da[0] = eph_tab__load64(ev->daddr) & m0;
		da[1] = eph_tab__load64(ev->daddr + 8) & m1;
	}
	t->dest.netns = ev->netns;
	t->dest.proto = ev->proto;
	t->dest.family = ev->family;
	t->dest.dport = dest ? ev->dport : 0;
	memcpy(t->dest.saddr, sa, sizeof(sa));
	memcpy(t->dest.daddr, da, sizeof(da));
	t->sport = ev->sport;
	memset(t->__pad, 0, sizeof(t->__pad));
	return hash_dest_of(dest_head(t->dest.netns, t->dest.proto, t->dest.family, t->dest.dport),
			    sa[0], sa[1], da[0], da[1]);
}

/* TCP ports with a known remote go to a destination; the rest (bind, listen, UDP) to a scope. */
static bool ev_to_dest(const struct eph_event *ev)
{
	return ev->proto == IPPROTO_TCP && (ev->flags & EPH_F_DEST) && ev->dport &&
	       ev->op != EPH_OP_BIND && ev->op != EPH_OP_LISTEN;
}

/*
 * The keys of an event and their hashes, once per event. The index slots they fall on (and the
 * destination's and owner's, for an assignment) are fetched ahead, so that the cache misses of
 * one event overlap instead of following one another.
 */
static void ev_keys(const struct eph_occ *occ, const struct eph_event *ev, struct hold_keys *k)
{
	unsigned int i;

	k->dest_hash = ev_tuple(ev, &k->tuple);
	k->hash[HOLD_BY_SOCK] = ev->sock_id ? hash_u64(ev->sock_id) : 0;
	k->hash[HOLD_BY_COOKIE] = ev->cookie ? hash_u64(ev->cookie) : 0;
	k->hash[HOLD_BY_TUPLE] = hash_tuple_of(k->dest_hash, ev->sport);
	for (i = 0; i < EPH_TAB_KEYS; i++)
		eph_tab__prefetch(&occ->holds, i, k->hash[i]);
	if (ev->type == EPH_ASSIGN || ev->type == EPH_CONNECT) {
		eph_tab__prefetch(&occ->dests, 0, k->dest_hash);
		eph_tab__prefetch(&occ->procs, 0, hash_u32(ev->pid));
	}
}

/* The hold an event is about: by sock_id, by cookie, else a snapshot hold with its 4-tuple. */
static int64_t ev_find(const struct eph_occ *occ, const struct eph_event *ev,
		       const struct hold_keys *k)
{
	int64_t i;

	if (ev->sock_id) {
		i = eph_tab__find_n(&occ->holds, HOLD_BY_SOCK, &ev->sock_id, 8,
				    k->hash[HOLD_BY_SOCK]);
		if (i >= 0)
			return i;
	}
	if (ev->cookie) {
		i = eph_tab__find_n(&occ->holds, HOLD_BY_COOKIE, &ev->cookie, 8,
				    k->hash[HOLD_BY_COOKIE]);
		if (i >= 0)
			return i;
	}
	i = eph_tab__find_n(&occ->holds, HOLD_BY_TUPLE, &k->tuple, sizeof(k->tuple),
			    k->hash[HOLD_BY_TUPLE]);
	return i >= 0 && !hold_rec(occ, i)->sock_id ? i : -1;
}

/* The TIME_WAIT hold an end of TIME_WAIT is about: by cookie or 4-tuple, never by sock_id (the
 * kernel hands the address of the socket that went to TIME_WAIT to the next one at once). */
static int64_t ev_find_tw(const struct eph_occ *occ, const struct eph_event *ev,
			  const struct hold_keys *k)
{
	int64_t i = -1;

	if (ev->cookie)
		i = eph_tab__find_n(&occ->holds, HOLD_BY_COOKIE, &ev->cookie, 8,
				    k->hash[HOLD_BY_COOKIE]);
	if (i < 0 || !hold_rec(occ, i)->tw)
		i = eph_tab__find_n(&occ->holds, HOLD_BY_TUPLE, &k->tuple, sizeof(k->tuple),
				    k->hash[HOLD_BY_TUPLE]);
	return i >= 0 && hold_rec(occ, i)->tw ? i : -1;
}

/* The bind bucket an assignment makes: connect()'s, or bind()'s and listen()'s. */
static uint8_t ev_bucket(const struct eph_event *ev)
{
	if (ev->proto != IPPROTO_TCP)
		return EPH_BUCKET_UNKNOWN;
	return ev->op == EPH_OP_CONNECT ? EPH_BUCKET_CONNECT : EPH_BUCKET_BIND;
}

/*
 * A bind() or UDP event older than the end of the latest snapshot's dump, about a socket no
 * hold stands for under the event's keys: the snapshot already has that socket under the keys
 * it has now (a bind() before connect() shows connected, a UDP autobind with the source
 * connect() gave it), or it was gone by then (or made after the dump passed its slot: the next
 * one finds it). Not a TCP connect(): its keys are the snapshot's. A port bind() took, on a
 * kernel whose snapshots cannot list bound-only sockets: only when the snapshot shows it.
 */
static bool ev_predates(const struct eph_occ *occ, const struct eph_event *ev)
{
	if (ev->ts_ns >= occ->snap_end_ns || ev_to_dest(ev))
		return false;
	if (occ->bound_unlisted && ev->proto == IPPROTO_TCP && ev_bucket(ev) == EPH_BUCKET_BIND)
		return snap_shows(occ, ev->netns, ev->sport, ev->family, ev->saddr,
				  ev->flags & EPH_F_V6ONLY);
	return true;
}

static bool ev_counts(struct eph_occ *occ, const struct eph_event *ev)
{
	if (!ev->sport)
		return false;
	return (ev->flags & EPH_F_EPHEMERAL) ||
	       ns_port_in_range(ns_find(occ, ev->netns), ev->sport);
}

static int64_t ev_owner(struct eph_occ *occ, const struct eph_event *ev)
{
	if (!ev->pid)
		return -1;
	return proc_get(occ, ev->pid, eph_proc_comm(ev), NULL);
}

/* A hold the event's socket takes now: hs's keys, its socket and owner, held since the event. */
static void ev_hold_spec(struct hold_spec *hs, const struct eph_event *ev, bool to_dest,
			 uint8_t bucket)
{
	hs->to_dest = to_dest;
	hs->bucket = bucket;
	hs->sock_id = ev->sock_id;
	hs->cookie = ev->cookie;
	hs->since_ns = ev->ts_ns;
	hs->now_ns = ev->ts_ns;
	hs->pid = ev->pid;
	hs->comm = eph_proc_comm(ev);
	hs->v6only = !!(ev->flags & EPH_F_V6ONLY);
}

/*
 * The snapshot's hold of a UDP connect()'s socket as a dump over before the event came saw it:
 * between the autobind and ip4_datagram_connect()'s rehash (its port on the wildcard), or after
 * the rehash (on the source address chosen), its destination not set yet (fentry and kprobe
 * report the autobind at inet_dgram_connect()'s end, the tracepoint backend at the system
 * call's: both with the source address the connect() chose, from the socket then). -1 when none.
 */
static int64_t snap_unconnected(const struct eph_occ *occ, const struct eph_event *ev,
				const struct hold_keys *k)
{
	struct tuple t = k->tuple;
	int64_t hi;
	int i;

	if (ev->proto != IPPROTO_UDP || ev->op != EPH_OP_CONNECT || !t.dest.dport)
		return -1;
	t.dest.dport = 0;
	memset(t.dest.daddr, 0, sizeof(t.dest.daddr));
	for (i = 0; i < 2; i++) {
		if (i)
			memset(t.dest.saddr, 0, sizeof(t.dest.saddr));
		hi = eph_tab__find(&occ->holds, HOLD_BY_TUPLE, &t, hash_tuple(&t));
		if (hi >= 0 && !hold_rec(occ, hi)->since_ns)
			return hi;
	}
	return -1;
}

static int ev_assign(struct eph_occ *occ, const struct eph_event *ev, const struct hold_keys *k)
{
	struct hold_spec hs = { .k = *k };
	struct hold *h;
	int64_t hi, pi;

	if (!ev_counts(occ, ev))
		return 0;
	hi = ev->sock_id ? eph_tab__find_n(&occ->holds, HOLD_BY_SOCK, &ev->sock_id, 8,
					   k->hash[HOLD_BY_SOCK]) :
			   -1;
	if (hi >= 0 && memcmp(&hold_rec(occ, hi)->tuple, &k->tuple, sizeof(k->tuple)))
		hold_del(occ, hi, false, ev->ts_ns, -1); /* its release was missed */
	else if (hi >= 0)
		return 0; /* the same assignment reported twice */
	hi = eph_tab__find_n(&occ->holds, HOLD_BY_TUPLE, &k->tuple, sizeof(k->tuple),
			     k->hash[HOLD_BY_TUPLE]);
	if (hi < 0 && (hi = snap_unconnected(occ, ev, k)) >= 0 &&
	    hold_retarget(occ, hi, k, false) == -ENOMEM)
		return -ENOMEM; /* the event's keys are the newer */
	/* a TIME_WAIT hold on this 4-tuple is recycled (tcp_tw_reuse), never adopted */
	if (hi >= 0 && !hold_rec(occ, hi)->sock_id && !hold_rec(occ, hi)->tw) {
		/* found by the snapshot before its assignment event was read: adopt it */
		pi = ev_owner(occ, ev);
		if (pi == -ENOMEM)
			return -ENOMEM;
		h = hold_rec(occ, hi);
		if (!h->proc && pi >= 0)
			hold_set_owner(occ, h, pi + 1);
		h->since_ns = ev->ts_ns;
		h->bucket = ev_bucket(ev);
		hold_set_id(occ, hi, HOLD_BY_SOCK, ev->sock_id);
		hold_set_id(occ, hi, HOLD_BY_COOKIE, ev->cookie);
		count_assign(occ, hold_rec(occ, hi), ev->ts_ns);
		return 0;
	}
	if (hi >= 0)
		hold_del(occ, hi, false, ev->ts_ns, -1); /* same 4-tuple: the old one is gone */
	else if (ev_predates(occ, ev))
		return 0;
	ev_hold_spec(&hs, ev, ev_to_dest(ev), ev_bucket(ev));
	hi = hold_add(occ, &hs);
	if (hi == -ENOMEM)
		return -ENOMEM;
	if (hi >= 0) {
		count_assign(occ, hold_rec(occ, hi), ev->ts_ns);
	}
	return 0;
}

static int ev_time_wait(struct eph_occ *occ, const struct eph_event *ev, const struct hold_keys *k)
{
	bool owner = (ev->flags & EPH_F_OWNER) && ev->pid;
	struct hold_spec hs = { .k = *k };
	int64_t hi, pi;

	hi = ev_find(occ, ev, k);
	if (hi >= 0) {
		struct hold *h = hold_rec(occ, hi);

		if (!h->proc && owner) {
			pi = ev_owner(occ, ev);
			if (pi == -ENOMEM)
				return -ENOMEM;
			if (pi >= 0)
				hold_set_owner(occ, hold_rec(occ, hi), pi + 1);
		}
		hold_set_tw(occ, hold_rec(occ, hi), ev->ts_ns);
		hold_set_id(occ, hi, HOLD_BY_COOKIE, ev->cookie);
		hold_forget_sock(occ, hi);
		return 0;
	}
	if (!ev_counts(occ, ev) || ev_predates(occ, ev))
		return 0;
	/* a hold that was not seen being taken (e.g. before the snapshot) */
	hs.to_dest = ev_to_dest(ev);
	hs.tw = true;
	hs.tw_ns = ev->ts_ns;
	hs.cookie = ev->cookie; /* not sock_id: that socket object is gone (not linked: 0) */
	hs.now_ns = ev->ts_ns;
	hs.v6only = !!(ev->flags & EPH_F_V6ONLY);
	if (owner) {
		hs.pid = ev->pid;
		hs.comm = eph_proc_comm(ev);
	}
	hi = hold_add(occ, &hs);
	return hi == -ENOMEM ? -ENOMEM : 0;
}

/*
 * connect() on a socket whose port bind() chose: no port taken, but the port now serves this
 * 4-tuple. The socket's hold (by sock_id, then cookie; or a snapshot's on this 4-tuple) moves
 * from its bind scope to the destination, with its owner, times and bind() bucket, as a snapshot
 * would move it (sock_find, hold_retarget). A hold not known yet (bound before ephtrace looked,
 * or lost) is made from the event: held since then, as far as we know.
 */
/*
 * A UDP socket with a port that connect() moved to another local address (bpf/events.bpf.h,
 * dgram_moved()): its hold goes to that address's bind scope (the wildcard's, after a
 * connect(AF_UNSPEC)), as a snapshot would show it.
 */
static int ev_dgram_moved(struct eph_occ *occ, const struct eph_event *ev,
			  const struct hold_keys *k)
{
	int64_t hi;
	int err;

	if (!ev_counts(occ, ev))
		return 0;
	hi = ev_find(occ, ev, k);
	if (hi < 0)
		return 0; /* not a port we track (a fixed one outside the range, or unseen) */
	err = hold_retarget(occ, hi, k, false);
	return err == -ENOMEM ? err : 0;
}

static int ev_connect(struct eph_occ *occ, const struct eph_event *ev, const struct hold_keys *k)
{
	struct hold_spec hs = { .k = *k };
	int64_t hi, ti, pi;
	struct hold *h;
	int err;

	if (ev->proto == IPPROTO_UDP)
		return ev_dgram_moved(occ, ev, k);
	if (!ev_counts(occ, ev) || !ev_to_dest(ev))
		return 0;
	hi = ev_find(occ, ev, k);
	ti = eph_tab__find_n(&occ->holds, HOLD_BY_TUPLE, &k->tuple, sizeof(k->tuple),
			     k->hash[HOLD_BY_TUPLE]);
	if (ti >= 0 && ti != hi)
		hold_del(occ, ti, false, ev->ts_ns, -1); /* the 4-tuple's last holder is gone */
	if (hi < 0) {
		ev_hold_spec(&hs, ev, true, EPH_BUCKET_BIND);
		hi = hold_add(occ, &hs);
		return hi == -ENOMEM ? -ENOMEM : 0;
	}
	if (hi != ti || !hold_rec(occ, hi)->dest) {
		err = hold_retarget(occ, hi, k, true);
		if (err == -ENOMEM)
			return err;
		if (err)
			return 0; /* -ENOSPC, counted as dropped: it stays where it was */
	}
	hold_set_id(occ, hi, HOLD_BY_SOCK, ev->sock_id);
	hold_set_id(occ, hi, HOLD_BY_COOKIE, ev->cookie);
	h = hold_rec(occ, hi);
	if (h->bucket == EPH_BUCKET_UNKNOWN)
		h->bucket = EPH_BUCKET_BIND;
	touch(&((struct dest *)eph_tab__rec(&occ->dests, h->dest - 1))->last_ns, ev->ts_ns);
	if (!h->proc && ev->pid) {
		pi = ev_owner(occ, ev);
		if (pi == -ENOMEM)
			return -ENOMEM;
		if (pi >= 0)
			hold_set_owner(occ, hold_rec(occ, hi), pi + 1);
	}
	return 0;
}

static int ev_release(struct eph_occ *occ, const struct eph_event *ev, const struct hold_keys *k)
{
	int64_t hi = ev->flags & EPH_F_TW ? ev_find_tw(occ, ev, k) : ev_find(occ, ev, k), dur = -1;
	const struct hold *h;

	if (hi < 0)
		return 0; /* not a port we track (a server's, a fixed one, or before we looked) */
	h = hold_rec(occ, hi);
	if (ev->flags & EPH_F_HELD)
		dur = ev->held_ns;
	else if (h->since_ns && ev->ts_ns >= h->since_ns)
		dur = ev->ts_ns - h->since_ns;
	hold_del(occ, hi, true, ev->ts_ns, dur);
	return 0;
}

/* A failure of the kernel's own choice of a port in a bind scope: bind() to port 0 or listen()
 * (EADDRINUSE), a UDP implicit bind (EAGAIN). Not a fixed port's conflict. */
static bool ev_scope_fail(const struct eph_event *ev)
{
	if (ev->err == EAGAIN)
		return ev->proto == IPPROTO_UDP;
	return ev->err == EADDRINUSE && (ev->flags & EPH_F_EPHEMERAL) &&
	       (ev->op == EPH_OP_BIND || ev->op == EPH_OP_LISTEN);
}

static int ev_fail(struct eph_occ *occ, const struct eph_event *ev)
{
	struct tuple t;
	int64_t i;

	if (!ev->pid && occ->pc) /* interrupt context: no process to count it for */
		eph_proc_counts__lost(occ->pc, 1);
	if (ev->pid) {
		i = ev_owner(occ, ev);
		if (i == -ENOMEM)
			return -ENOMEM;
		if (i < 0) {
			occ->dropped++;
			if (occ->pc)
				eph_proc_counts__lost(occ->pc, 1);
		} else {
			struct proc *p = eph_tab__rec(&occ->procs, i);

			if (proc_count_failure(occ, p, ev->err, ev->ts_ns))
				return -ENOMEM;
			touch(&p->last_ns, ev->ts_ns);
		}
	}
	if (ev_scope_fail(ev)) {
		ev_tuple(ev, &t);
		i = count_scope_fail(occ, &t, ev->err, ev->ts_ns);
		return i == -ENOMEM ? -ENOMEM : 0;
	}
	if (ev->proto != IPPROTO_TCP || ev->op != EPH_OP_CONNECT || !(ev->flags & EPH_F_DEST))
		return 0;
	i = dest_get(occ, &t.dest, ev_tuple(ev, &t));
	if (i == -ENOMEM)
		return -ENOMEM;
	if (i < 0) {
		occ->dropped++;
	} else {
		struct dest *d = eph_tab__rec(&occ->dests, i);

		d->failures++;
		count_fail(occ, d, ev->ts_ns);
		touch(&d->last_ns, ev->ts_ns);
	}
	return 0;
}

/* Events the findings count (occ_facts.c): bound connect()s, bind() EADDRINUSE, UDP EAGAIN
 * (ports taken are in the owner's rate window already). */
static bool ev_for_facts(const struct eph_event *ev)
{
	if (ev->type == EPH_FAIL)
		return ev->err == EADDRINUSE || (ev->err == EAGAIN && ev->proto == IPPROTO_UDP);
	return ev->type == EPH_CONNECT;
}

static void ev_facts(struct eph_occ *occ, const struct eph_event *ev)
{
	int64_t pi = ev->pid ? eph_tab__find_n(&occ->procs, 0, &ev->pid, sizeof(ev->pid),
					       hash_u32(ev->pid)) :
			       -1;

	occ_facts_event(occ, ev, pi >= 0 ? eph_tab__rec(&occ->procs, pi) : NULL);
}

static int ev_apply(struct eph_occ *occ, const struct eph_event *ev, const struct hold_keys *k)
{
	switch (ev->type) {
	case EPH_ASSIGN:
		return ev_assign(occ, ev, k);
	case EPH_TIME_WAIT:
		return ev_time_wait(occ, ev, k);
	case EPH_RELEASE:
		return ev_release(occ, ev, k);
	case EPH_CONNECT:
		return ev_connect(occ, ev, k);
	case EPH_FAIL:
		return ev_fail(occ, ev);
	default:
		return 0;
	}
}

int eph_occ__event(struct eph_occ *occ, const struct eph_rec *r)
{
	const struct eph_event *ev = &r->ev;
	struct eph_event v4;
	struct hold_keys k;
	int64_t i;
	int err;

	/* an IPv6 socket talking IPv4 (tcp_v6_connect() hands it to tcp_v4_connect()) lives in
	 * the IPv4 4-tuple space: counted there */
	if (ev->family == AF_INET6 &&
	    occ_v4mapped((ev->flags & EPH_F_DEST) ? ev->daddr : ev->saddr)) {
		v4 = *ev;
		v4.family = AF_INET;
		occ_unmap(v4.saddr);
		occ_unmap(v4.daddr);
		ev = &v4;
	}
	if (!occ->started)
		eph_occ__start(occ, ev->ts_ns);
	if (ev->type != EPH_FAIL)
		ev_keys(occ, ev, &k);
	if (ev->netns) {
		i = ns_get(occ, ev->netns);
		if (i == -ENOMEM)
			return -ENOMEM;
	}
	err = ev_apply(occ, ev, &k);
	if (!err && ev_for_facts(ev))
		ev_facts(occ, ev);
	return err;
}
