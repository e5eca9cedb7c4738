// SPDX-License-Identifier: GPL-2.0
/* Which events a command looks at (scope) and which it prints (show). */
#include <string.h>

#include "filter.h"

bool eph_filter_scope(const struct eph_filter *f, const struct eph_rec *r)
{
	const struct eph_event *ev = &r->ev;

	if (f->pid && ev->pid != f->pid)
		return false;
	if (f->comm[0] && strncmp(ev->comm, f->comm, EPH_COMM_LEN) &&
	    strncmp(eph_proc_comm(ev), f->comm, EPH_COMM_LEN))
		return false;
	if (f->family && ev->family != f->family)
		return false;
	if (f->proto && ev->proto != f->proto)
		return false;
	return eph_ct_filter__match(&f->ct, r->ct);
}

bool eph_filter_show(const struct eph_filter *f, const struct eph_rec *r)
{
	if (!eph_filter_scope(f, r))
		return false;
	switch (r->ev.type) {
	case EPH_ASSIGN:
	case EPH_CONNECT: /* no port chosen, but the socket's port now serves a destination */
		return !f->failures_only;
	case EPH_FAIL:
		return true;
	case EPH_RELEASE:
		return f->releases && !f->failures_only;
	default:
		return false; /* EPH_TIME_WAIT: the port is still held, nothing to show */
	}
}
