// SPDX-License-Identifier: GPL-2.0
/*
 * Findings: the rules. Each names the kernel mechanism it stands on; README.md has one section
 * per kind with the same words. findings.c runs them; see findings_int.h.
 */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "findings_int.h"
#include "portsearch.h"

/* Severity of a space from its headroom: run out or failing, forecast to run out, > 80 %. */
static enum eph_find_severity sev_space(double left, double usable, double exhaust_in_s,
					uint64_t failures)
{
	if (left == 0 || failures || isfinite(exhaust_in_s))
		return EPH_SEV_CRITICAL;
	if (usable > 0 && left >= 0 && 1 - left / usable > EPH_FIND_WARN_TAKEN)
		return EPH_SEV_WARNING;
	return EPH_SEV_INFO;
}

static enum eph_find_severity sev_max(enum eph_find_severity a, enum eph_find_severity b)
{
	return a > b ? a : b;
}

static enum eph_find_severity sev_dest(const struct eph_find_dest *d)
{
	return sev_space(d->st.ports_left, d->st.usable, d->st.exhaust_in_s, d->window_failures);
}

static struct eph_finding *add(struct eph_findings *out, enum eph_find_kind kind, uint32_t netns)
{
	struct eph_finding *f;

	if (eph_grow((void **)&out->f, &out->cap, out->n + 1, sizeof(*out->f)))
		return NULL;
	f = &out->f[out->n++];
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->netns = netns;
	f->ports_left = NAN;
	f->usable = NAN;
	return f;
}

static void say(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static void dest_text(const struct eph_occ_dest_key *k, char *buf, size_t len)
{
	char a[64];

	if (eph_addr_str(k->family, k->daddr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, len, k->family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, k->dport);
}

/* A finding about destination d, its space's numbers filled in; NULL when out of memory. */
static struct eph_finding *add_dest(struct eph_findings *out, enum eph_find_kind kind,
				    const struct eph_find_dest *d)
{
	struct eph_finding *f = add(out, kind, d->key.netns);

	if (!f)
		return NULL;
	f->has_dest = true;
	f->dest = d->key;
	f->who = d->top;
	f->ports_left = d->st.ports_left;
	f->usable = d->st.usable;
	return f;
}

static const struct eph_find_ns *ns_of(const struct eph_find_in *in, uint32_t netns)
{
	size_t i;

	for (i = 0; i < in->nns; i++)
		if (in->ns[i].netns == netns)
			return &in->ns[i];
	return NULL;
}

/*
 * bind_before_connect: connect() on a socket whose port bind() chose. bind(0) makes the port's
 * bind bucket (fastreuse >= 0), and __inet_hash_connect() skips such a port for every
 * destination: the port is lost to the whole netns, not to one 4-tuple. Seen now (connections
 * whose bucket bind() made, port iterator or events) or in the window (connect() events on a
 * socket bind(0) had given a port, without IP_BIND_ADDRESS_NO_PORT).
 */
int rule_bind_before_connect(const struct eph_find_in *in, struct eph_findings *out)
{
	size_t i, j;

	for (i = 0; i < in->nprocs; i++) {
		const struct eph_find_proc *p = &in->procs[i];
		const struct eph_find_ns *ns = ns_of(in, p->netns);
		uint32_t seen = in->have_events ? p->bound_connects : 0;
		struct eph_finding *f;

		if (!ns || (p->bound_conns < EPH_FIND_BBC_MIN && seen < EPH_FIND_BBC_MIN))
			continue;
		f = add(out, EPH_FIND_BIND_BEFORE_CONNECT, p->netns);
		if (!f)
			return -ENOMEM;
		f->who = p->who;
		f->ports_left = ns->tcp_new_left;
		f->usable = ns->tcp_usable;
		f->severity = sev_space(f->ports_left, f->usable, NAN, 0);
		for (j = 0; j < in->ndests; j++)
			if (in->dests[j].key.netns == p->netns &&
			    in->dests[j].top.pid == p->who.pid)
				f->severity = sev_max(f->severity, sev_dest(&in->dests[j]));
		if (seen)
			say(f->evidence, sizeof(f->evidence),
			    "%u connect()s in %u s came after bind(0) took the port (of %u ports "
			    "it took); %u of %u connections hold such ports now, %u of %u usable "
			    "ports are bind()'s",
			    seen, in->window_s, p->assigns, p->bound_conns, p->conns, ns->tcp_bound,
			    ns->tcp_usable);
		else
			say(f->evidence, sizeof(f->evidence),
			    "%u of %u connections hold a port bind() took before connect(); %u of "
			    "%u usable ports are bind()'s",
			    p->bound_conns, p->conns, ns->tcp_bound, ns->tcp_usable);
		say(f->advice, sizeof(f->advice),
		    "Set IP_BIND_ADDRESS_NO_PORT before bind() (Linux 4.2+), or do not bind() "
		    "before connect(): a port bind() takes is lost to every destination.");
	}
	return 0;
}

/* Whether connect() may take over this destination's TIME_WAIT 4-tuples (tcp_twsk_unique). */
static const char *tw_advice(const struct eph_find_ns *ns, const struct eph_occ_dest_key *k)
{
	bool loop = eph_ps_loopback(k->family, k->saddr) || eph_ps_loopback(k->family, k->daddr);

	if (!ns->tw.timestamps)
		return "Reuse connections (keep-alive, pooling); TIME_WAIT reuse needs TCP "
		       "timestamps: set net.ipv4.tcp_timestamps=1.";
	if (ns->tw.tw_reuse == 0 || (ns->tw.tw_reuse == 2 && !loop))
		return "Reuse connections (keep-alive, pooling) or let the server close first; "
		       "or set net.ipv4.tcp_tw_reuse=1 so connect() reuses TIME_WAIT after 1 s.";
	return "connect() already reuses TIME_WAIT older than 1 s here: reuse connections "
	       "(keep-alive, pooling) or let the server close first.";
}

/*
 * time_wait_churn: most of a destination's taken 4-tuples are TIME_WAIT (the side that closes
 * first keeps the 4-tuple for 60 s, TCP_TIMEWAIT_LEN), from connections that lived short.
 */
static int dest_time_wait_churn(const struct eph_find_dest *d, const struct eph_find_ns *ns,
				struct eph_findings *out)
{
	char dst[80], hold[48] = "";
	struct eph_finding *f;

	if (!ns || d->key.proto != IPPROTO_TCP || d->st.time_wait < EPH_FIND_TW_MIN ||
	    d->st.time_wait < EPH_FIND_TW_SHARE * d->st.held)
		return 0;
	if (d->mean_hold_s >= EPH_FIND_TW_SHORT_S)
		return 0; /* long-lived connections: the rate is low */
	f = add_dest(out, EPH_FIND_TIME_WAIT_CHURN, d);
	if (!f)
		return -ENOMEM;
	f->severity = sev_dest(d);
	dest_text(&d->key, dst, sizeof(dst));
	if (!isnan(d->mean_hold_s))
		say(hold, sizeof(hold),
		    d->mean_hold_s < 0.1 ? " after %.3f s of life on average" :
					   " after %.1f s of life on average",
		    d->mean_hold_s);
	say(f->evidence, sizeof(f->evidence),
	    "%u of the %u 4-tuples taken to %s are TIME_WAIT%s; tcp_tw_reuse=%u", d->st.time_wait,
	    d->st.held, dst, hold, ns->tw.tw_reuse);
	say(f->advice, sizeof(f->advice), "%s", tw_advice(ns, &d->key));
	return 0;
}

/*
 * single_destination: one (source, destination address, port) space near its limit while a
 * new destination would still get most of the range: the limit is the 4-tuple, not the range.
 */
static int dest_single(const struct eph_find_dest *d, const struct eph_find_ns *ns,
		       struct eph_findings *out)
{
	struct eph_finding *f;
	char dst[80];

	if (!ns || d->key.proto != IPPROTO_TCP || !(d->st.usable > 0) || isnan(d->st.ports_left))
		return 0;
	if (d->st.ports_left > (1 - EPH_FIND_WARN_TAKEN) * d->st.usable && !d->window_failures)
		return 0;
	if (d->st.time_wait >= EPH_FIND_TW_SHARE * d->st.held ||
	    ns->tcp_new_left < EPH_FIND_SINGLE_FREE * ns->tcp_usable)
		return 0; /* time_wait_churn, or the range itself */
	f = add_dest(out, EPH_FIND_SINGLE_DESTINATION, d);
	if (!f)
		return -ENOMEM;
	f->severity = sev_dest(d);
	dest_text(&d->key, dst, sizeof(dst));
	say(f->evidence, sizeof(f->evidence),
	    "%.0f of %.0f ports to %s are gone (%u held), while a new destination would get %u",
	    d->st.usable - d->st.ports_left, d->st.usable, dst, d->st.held, ns->tcp_new_left);
	say(f->advice, sizeof(f->advice),
	    "Spread over more destination addresses or ports, or more source addresses "
	    "(IP_BIND_ADDRESS_NO_PORT + bind(addr, 0)), or widen ip_local_port_range.");
	return 0;
}

/* The fullest space of a netns: its most used destination, or UDP autobind. */
static double ns_pressure(const struct eph_find_in *in, const struct eph_find_ns *ns,
			  enum eph_find_severity *sev, char *what, size_t len)
{
	double worst = 0;
	size_t i;

	*sev = EPH_SEV_INFO;
	if (ns->udp_usable) {
		worst = 1 - (double)ns->udp_left / ns->udp_usable;
		*sev = sev_space(ns->udp_left, ns->udp_usable, NAN, ns->udp_eagain);
		snprintf(what, len, "UDP autobind");
	}
	for (i = 0; i < in->ndests; i++) {
		const struct eph_find_dest *d = &in->dests[i];
		double u;

		if (d->key.netns != ns->netns || !(d->st.usable > 0) || isnan(d->st.ports_left))
			continue;
		u = 1 - d->st.ports_left / d->st.usable;
		*sev = sev_max(*sev, sev_dest(d));
		if (u > worst) {
			worst = u;
			dest_text(&d->key, what, len);
		}
	}
	return worst;
}

/*
 * narrow_range: the range is far below the default 28 232 ports, or reserved ports take a
 * large share of it, and something in the netns is at least half full because of it.
 * range_parity: both ends have the same parity (the kernel warns: "prefer different parity for
 * start/end values"); connect() and bind(0) scan an even count per call.
 */
int rule_range(const struct eph_find_in *in, struct eph_findings *out)
{
	size_t i;

	for (i = 0; i < in->nns; i++) {
		const struct eph_find_ns *ns = &in->ns[i];
		uint32_t count = (uint32_t)ns->high - ns->low + 1;
		enum eph_find_severity sev;
		struct eph_finding *f;
		char what[80] = "";
		double p;

		if (!ns->high)
			continue;
		if ((ns->low & 1) == (ns->high & 1)) {
			f = add(out, EPH_FIND_RANGE_PARITY, ns->netns);
			if (!f)
				return -ENOMEM;
			f->usable = ns->tcp_usable;
			say(f->evidence, sizeof(f->evidence),
			    "ip_local_port_range %u-%u: both ends are %s (%u ports)", ns->low,
			    ns->high, ns->low & 1 ? "odd" : "even", count);
			say(f->advice, sizeof(f->advice),
			    "Give the range ends of different parity (e.g. 32768 60999), as the "
			    "kernel asks when the range is set.");
		}
		p = ns_pressure(in, ns, &sev, what, sizeof(what));
		if (p < EPH_FIND_NARROW_PRESSURE || (ns->tcp_usable >= EPH_FIND_NARROW_USABLE &&
						     ns->reserved < EPH_FIND_NARROW_RSV * count))
			continue;
		f = add(out, EPH_FIND_NARROW_RANGE, ns->netns);
		if (!f)
			return -ENOMEM;
		f->severity = sev;
		f->usable = ns->tcp_usable;
		say(f->evidence, sizeof(f->evidence),
		    "range %u-%u leaves %u usable ports (%u reserved), %.1f %% of the default "
		    "%u; %s is %.0f %% used",
		    ns->low, ns->high, ns->tcp_usable, ns->reserved,
		    100.0 * ns->tcp_usable / EPH_FIND_DEFAULT_USABLE, EPH_FIND_DEFAULT_USABLE, what,
		    100 * p);
		if (ns->reserved >= EPH_FIND_NARROW_RSV * count)
			say(f->advice, sizeof(f->advice),
			    "Release reserved ports (net.ipv4.ip_local_reserved_ports) or move them "
			    "out of ip_local_port_range.");
		else
			say(f->advice, sizeof(f->advice),
			    "Widen net.ipv4.ip_local_port_range (the default is 32768 60999).");
	}
	return 0;
}

/*
 * udp_connected_cap: UDP sockets connected (or sending) from no bound port each autobind a
 * port of their own on the wildcard address (udp_lib_get_port never shares one), so their
 * number is capped by the range; EAGAIN when it is out.
 */
int rule_udp(const struct eph_find_in *in, struct eph_findings *out)
{
	size_t i;

	for (i = 0; i < in->nns; i++) {
		const struct eph_find_ns *ns = &in->ns[i];
		uint32_t eagain = in->have_events ? ns->udp_eagain : 0;
		struct eph_finding *f;

		if (!ns->udp_usable || !ns->udp_connected)
			continue;
		if (!eagain && (ns->udp_connected < EPH_FIND_UDP_CONN_SHARE * ns->udp_taken ||
				ns->udp_left >= EPH_FIND_UDP_LEFT * ns->udp_usable))
			continue;
		f = add(out, EPH_FIND_UDP_CONNECTED_CAP, ns->netns);
		if (!f)
			return -ENOMEM;
		f->who = ns->udp_top;
		f->ports_left = ns->udp_left;
		f->usable = ns->udp_usable;
		f->severity = sev_space(ns->udp_left, ns->udp_usable, NAN, eagain);
		say(f->evidence, sizeof(f->evidence),
		    "%u UDP sockets own an autobound port (%u of them pid %u), %u of %u usable "
		    "ports left; %u EAGAIN in %u s",
		    ns->udp_connected, ns->udp_top_held, ns->udp_top.pid, ns->udp_left,
		    ns->udp_usable, eagain, in->window_s);
		say(f->advice, sizeof(f->advice),
		    "Send from a few unconnected sockets (sendto()), or bind the sockets to one "
		    "shared port with SO_REUSEPORT, or widen ip_local_port_range.");
	}
	return 0;
}

/*
 * fixed_port_conflict: bind() of one fixed port failing with EADDRINUSE again and again: a
 * restart racing its own TIME_WAIT without SO_REUSEADDR, or another socket on the port.
 */
int rule_fixed_port(const struct eph_find_in *in, struct eph_findings *out)
{
	size_t i;

	if (!in->have_events)
		return 0;
	for (i = 0; i < in->nports; i++) {
		const struct eph_find_port *p = &in->ports[i];
		struct eph_finding *f;

		if (p->failures < EPH_FIND_FIXED_MIN)
			continue;
		f = add(out, EPH_FIND_FIXED_PORT_CONFLICT, p->netns);
		if (!f)
			return -ENOMEM;
		f->who = p->who;
		f->port = p->port;
		f->proto = p->proto;
		f->ports_left = 0;
		f->usable = 1;
		f->severity = EPH_SEV_CRITICAL; /* the space, one port, is out */
		if (p->holders_known)
			say(f->evidence, sizeof(f->evidence),
			    "%u bind()s of %s port %u failed with EADDRINUSE in %u s; %u TIME_WAIT "
			    "and %u other sockets hold it now",
			    p->failures, eph_proto_name(p->proto), p->port, in->window_s,
			    p->tw_holders, p->other_holders);
		else
			say(f->evidence, sizeof(f->evidence),
			    "%u bind()s of %s port %u failed with EADDRINUSE in %u s (a port "
			    "outside the range: its holders are not tracked)",
			    p->failures, eph_proto_name(p->proto), p->port, in->window_s);
		if (!p->holders_known)
			say(f->advice, sizeof(f->advice),
			    "If the port's own TIME_WAIT sockets block a restart, set SO_REUSEADDR "
			    "before bind(); else find the holder: ss -tanp 'sport = :%u'.",
			    p->port);
		else if (p->tw_holders && !p->other_holders)
			say(f->advice, sizeof(f->advice),
			    "Set SO_REUSEADDR before bind(): then the port's TIME_WAIT sockets do "
			    "not block a restart.");
		else
			say(f->advice, sizeof(f->advice),
			    "Another socket holds port %u: stop it, or pick another port "
			    "(SO_REUSEADDR does not help against a live socket).",
			    p->port);
	}
	return 0;
}

/* socket_range: sockets narrowed by IP_LOCAL_PORT_RANGE whose own range is near its end. */
static int dest_socket_range(const struct eph_find_dest *d, const struct eph_find_ns *ns,
			     struct eph_findings *out)
{
	struct eph_finding *f;
	char dst[80];

	(void)ns;
	if (!d->socket_n || !d->socket_usable ||
	    (d->socket_left >= EPH_FIND_SOCKET_LEFT * d->socket_usable && !d->window_failures))
		return 0;
	f = add_dest(out, EPH_FIND_SOCKET_RANGE, d);
	if (!f)
		return -ENOMEM;
	f->ports_left = d->socket_left;
	f->usable = d->socket_usable;
	f->severity = sev_space(d->socket_left, d->socket_usable, NAN, d->window_failures);
	dest_text(&d->key, dst, sizeof(dst));
	say(f->evidence, sizeof(f->evidence),
	    "%u sockets to %s use IP_LOCAL_PORT_RANGE %u-%u: %u of its %u usable ports left, "
	    "%.0f to a socket without it",
	    d->socket_n, dst, d->socket_low, d->socket_high, d->socket_left, d->socket_usable,
	    d->st.ports_left);
	say(f->advice, sizeof(f->advice),
	    "Widen the IP_LOCAL_PORT_RANGE the application sets on its sockets, or drop it to use "
	    "the netns range.");
	return 0;
}

/* The rules about one destination (above), for each destination with its netns's row. */
int rule_dests(const struct eph_find_in *in, struct eph_findings *out)
{
	static int (*const rules[])(const struct eph_find_dest *d, const struct eph_find_ns *ns,
				    struct eph_findings *out) = {
		dest_time_wait_churn,
		dest_single,
		dest_socket_range,
	};
	size_t i, k;
	int err;

	for (i = 0; i < in->ndests; i++) {
		const struct eph_find_dest *d = &in->dests[i];
		const struct eph_find_ns *ns = ns_of(in, d->key.netns);

		for (k = 0; k < sizeof(rules) / sizeof(rules[0]); k++) {
			err = rules[k](d, ns, out);
			if (err)
				return err;
		}
	}
	return 0;
}
