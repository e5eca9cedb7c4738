// SPDX-License-Identifier: GPL-2.0
/*
 * Findings: the names of kinds and severities, running the rules (findings_rules.c) and
 * ordering what they found, and which finding accounts for a failure.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "findings_int.h"
#include "order.h"

static const char *const kind_names[EPH_FIND_NKINDS] = {
	[EPH_FIND_BIND_BEFORE_CONNECT] = "bind_before_connect",
	[EPH_FIND_TIME_WAIT_CHURN] = "time_wait_churn",
	[EPH_FIND_SINGLE_DESTINATION] = "single_destination",
	[EPH_FIND_NARROW_RANGE] = "narrow_range",
	[EPH_FIND_RANGE_PARITY] = "range_parity",
	[EPH_FIND_UDP_CONNECTED_CAP] = "udp_connected_cap",
	[EPH_FIND_FIXED_PORT_CONFLICT] = "fixed_port_conflict",
	[EPH_FIND_SOCKET_RANGE] = "socket_range",
};

const char *eph_find_kind_name(enum eph_find_kind k)
{
	return (unsigned int)k < EPH_FIND_NKINDS ? kind_names[k] : NULL;
}

const char *eph_find_severity_name(enum eph_find_severity s)
{
	switch (s) {
	case EPH_SEV_INFO:
		return "info";
	case EPH_SEV_WARNING:
		return "warning";
	case EPH_SEV_CRITICAL:
		return "critical";
	}
	return NULL;
}

bool eph_find_kind_from_snapshot(enum eph_find_kind k)
{
	return k != EPH_FIND_FIXED_PORT_CONFLICT;
}

void eph_findings__free(struct eph_findings *out)
{
	if (!out)
		return;
	free(out->f);
	memset(out, 0, sizeof(*out));
}

static int cmp_finding(const void *a, const void *b)
{
	const struct eph_finding *x = a, *y = b;

	/* most severe first */
	int c = eph_cmp_u64(y->severity, x->severity) ?: eph_cmp_u64(x->kind, y->kind);

	c = c ?: eph_cmp_u64(x->netns, y->netns) ?: eph_cmp_u64(x->who.pid, y->who.pid);
	c = c ?: eph_cmp_u64(x->port, y->port);
	return c ?: memcmp(&x->dest, &y->dest, sizeof(x->dest));
}

/* The rules (findings_int.h), in the order they run. */
static int (*const rules[])(const struct eph_find_in *in, struct eph_findings *out) = {
	rule_bind_before_connect,
	rule_dests,
	rule_range,
	rule_udp,
	rule_fixed_port,
};

int eph_find__run(const struct eph_find_in *in, struct eph_findings *out)
{
	size_t i;
	int err;

	out->n = 0;
	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		err = rules[i](in, out);
		if (err)
			return err;
	}
	if (out->n)
		qsort(out->f, out->n, sizeof(*out->f), cmp_finding);
	return 0;
}

/* ---- which finding accounts for a failure ---------------------------------------------- */

/* Whether a finding is about the destination of a failed connect() (the source address is
 * compared only when the event has it). */
static bool about_dest(const struct eph_finding *f, const struct eph_event *ev)
{
	size_t alen = ev->family == AF_INET ? 4 : 16;

	if (!f->has_dest || !(ev->flags & EPH_F_DEST) || f->dest.netns != ev->netns ||
	    f->dest.family != ev->family || f->dest.dport != ev->dport ||
	    memcmp(f->dest.daddr, ev->daddr, alen))
		return false;
	return !(ev->flags & EPH_F_SADDR) || !memcmp(f->dest.saddr, ev->saddr, alen);
}

/* The first finding (the most severe) of kind in ev's netns that match() accepts. */
static const struct eph_finding *first(const struct eph_findings *fs, const struct eph_event *ev,
				       enum eph_find_kind kind,
				       bool (*match)(const struct eph_finding *,
						     const struct eph_event *))
{
	size_t i;

	for (i = 0; i < fs->n; i++)
		if (fs->f[i].kind == kind && fs->f[i].netns == ev->netns &&
		    (!match || match(&fs->f[i], ev)))
			return &fs->f[i];
	return NULL;
}

static bool same_pid(const struct eph_finding *f, const struct eph_event *ev)
{
	return f->who.pid == ev->pid;
}

static bool same_port(const struct eph_finding *f, const struct eph_event *ev)
{
	return f->port == ev->req_port && f->proto == ev->proto;
}

static const struct eph_finding *explain_connect(const struct eph_findings *fs,
						 const struct eph_event *ev)
{
	static const enum eph_find_kind dest_kinds[] = { EPH_FIND_SOCKET_RANGE,
							 EPH_FIND_SINGLE_DESTINATION,
							 EPH_FIND_TIME_WAIT_CHURN };
	const struct eph_finding *f = NULL, *g;
	size_t i;

	if (ev->flags & EPH_F_BOUND) { /* its own bind() chose the port */
		f = first(fs, ev, EPH_FIND_BIND_BEFORE_CONNECT, same_pid);
		if (f)
			return f;
	}
	for (i = 0; i < sizeof(dest_kinds) / sizeof(dest_kinds[0]); i++) {
		g = first(fs, ev, dest_kinds[i], about_dest);
		if (g && (!f || g->severity > f->severity))
			f = g;
	}
	if (f)
		return f;
	f = first(fs, ev, EPH_FIND_BIND_BEFORE_CONNECT, NULL);
	return f ? f : first(fs, ev, EPH_FIND_NARROW_RANGE, NULL);
}

const struct eph_finding *eph_findings__explain(const struct eph_findings *fs,
						const struct eph_event *ev)
{
	const struct eph_finding *f;

	if (ev->type != EPH_FAIL)
		return NULL;
	if (ev->err == EADDRNOTAVAIL && ev->op == EPH_OP_CONNECT && ev->proto == IPPROTO_TCP)
		return explain_connect(fs, ev);
	if (ev->err == EADDRINUSE && ev->req_port)
		return first(fs, ev, EPH_FIND_FIXED_PORT_CONFLICT, same_port);
	if (ev->err == EADDRINUSE && ev->proto == IPPROTO_TCP) {
		f = first(fs, ev, EPH_FIND_BIND_BEFORE_CONNECT, NULL);
		return f ? f : first(fs, ev, EPH_FIND_NARROW_RANGE, NULL);
	}
	if (ev->err == EAGAIN && ev->proto == IPPROTO_UDP) {
		f = first(fs, ev, EPH_FIND_UDP_CONNECTED_CAP, NULL);
		return f ? f : first(fs, ev, EPH_FIND_NARROW_RANGE, NULL);
	}
	return NULL;
}
