// SPDX-License-Identifier: GPL-2.0
/*
 * Compare ephtrace's JSON lines with the oracle.
 *
 * Every record the oracle expects an event for must be matched by exactly one event of the
 * traced pid with the same event type, op, proto and family, and the same port (assign,
 * bound_connect) or errno (fail); the matched event's other fields, its flags "bound" and
 * "bind_address_no_port" included, must agree with what the kernel told the workload. Events
 * left over are unexpected. The summary line must count the same.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check_int.h"

void problem(struct checker *c, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	buf_printf(&c->out->report, "  %s\n", line);
	c->out->problems++;
}

void show_line(struct checker *c, int lineno, const char *line)
{
	buf_printf(&c->out->report, "      line %d: %s\n", lineno, line);
}

/* ---- matching ---- */

/* What the cgroup backend cannot see without --exact-errors (README, the backend matrix). */
static bool blind_to(const struct orec *r)
{
	return (r->expect == EXPECT_FAIL && (r->op == OP_BIND || r->proto == IPPROTO_UDP)) ||
	       (r->proto == IPPROTO_UDP && r->op == OP_CONNECT);
}

bool wanted(const struct check_in *in, const struct orec *r)
{
	return r->expect != EXPECT_NONE && (!in->family || r->family == in->family) &&
	       !(in->blind && blind_to(r));
}

static bool same_key(const struct orec *r, const struct jev *e, pid_t pid)
{
	if (e->type != r->expect || e->pid != pid || e->op != r->op || e->proto != r->proto ||
	    e->family != r->family)
		return false;
	if (r->expect != EXPECT_FAIL)
		return e->sport == r->port;
	return e->errnum == r->err;
}

/* The errno the event carries: only a fail has one. An assign or bound_connect whose connect()
 * returned EINPROGRESS or ECONNREFUSED happened before that (the SYN went out). */
static int event_err(const struct orec *r)
{
	return r->expect == EXPECT_FAIL ? r->err : 0;
}

static void describe(const struct orec *r, char *buf, size_t len)
{
	char tmp[16], a[INET6_ADDRSTRLEN] = "";

	if (r->expect != EXPECT_FAIL) {
		snprintf(buf, len, "%s %s %s %s port %u", op_name(r->op), proto_name(r->proto),
			 family_name(r->family),
			 r->expect == EXPECT_ASSIGN ? "assign" : "bound_connect", r->port);
	} else {
		if (r->has_dest)
			inet_ntop(r->family, r->daddr, a, sizeof(a));
		snprintf(buf, len, "%s %s %s fail %s (%s %s%s%u)", op_name(r->op),
			 proto_name(r->proto), family_name(r->family),
			 errno_name(r->err, tmp, sizeof(tmp)), r->has_dest ? "to" : "requested", a,
			 r->has_dest ? ":" : "", r->has_dest ? r->dport : r->req_port);
	}
}

static void addr_text(uint8_t family, bool has, const uint8_t *addr, char *buf, size_t len)
{
	if (!has)
		snprintf(buf, len, "null");
	else
		inet_ntop(family, addr, buf, len);
}

static void port_text(bool has, long long port, char *buf, size_t len)
{
	if (has && port >= 0)
		snprintf(buf, len, "%lld", port);
	else
		snprintf(buf, len, "null");
}

/* comm is the thread's name (want), process_comm the process's: the workload's first name. */
static void check_comms(struct checker *c, const char *what, const char *want, const struct jev *e)
{
	const char *pcomm = c->in->o->comm;

	if (!e->comm || strcmp(e->comm, want))
		problem(c, "%s: expected comm \"%s\" got \"%s\"", what, want,
			e->comm ? e->comm : "null");
	if (!e->pcomm || strcmp(e->pcomm, pcomm))
		problem(c, "%s: expected process_comm \"%s\" got \"%s\"", what, pcomm,
			e->pcomm ? e->pcomm : "null");
}

/* Field-by-field comparison of a matched pair. */
static void compare_fields(struct checker *c, const struct orec *r, const struct jev *e)
{
	const struct check_in *in = c->in;
	char what[160], exp[64], got[64], tmp[16];
	int before = c->out->problems;
	const char *ename;
	bool no_dest;

	describe(r, what, sizeof(what));
	/*
	 * A failure has a source address only when the socket was bound. A UDP connect()'s
	 * autobind says the address the connect() chose (the socket's after the call, as
	 * getsockname() says it), not the wildcard the autobind bound first.
	 */
	if ((r->expect != EXPECT_FAIL || r->bound) &&
	    (!e->has_saddr || memcmp(e->saddr, r->addr, 16))) {
		addr_text(r->family, true, r->addr, exp, sizeof(exp));
		addr_text(e->family, e->has_saddr, e->saddr, got, sizeof(got));
		problem(c, "%s: expected saddr %s got %s", what, exp, got);
	}
	/* declared by ephtrace: nothing, rather than anything else */
	no_dest = in->no_send_dest && r->op == OP_SENDMSG && r->proto == IPPROTO_UDP &&
		  !e->has_daddr && e->dport < 0;
	if (!no_dest &&
	    (r->has_dest != e->has_daddr || (r->has_dest && memcmp(e->daddr, r->daddr, 16)))) {
		addr_text(r->family, r->has_dest, r->daddr, exp, sizeof(exp));
		addr_text(e->family, e->has_daddr, e->daddr, got, sizeof(got));
		problem(c, "%s: expected daddr %s got %s", what, exp, got);
	}
	if (!no_dest && (r->has_dest ? r->dport : -1) != e->dport) {
		port_text(r->has_dest, r->dport, exp, sizeof(exp));
		port_text(true, e->dport, got, sizeof(got));
		problem(c, "%s: expected dport %s got %s", what, exp, got);
	}
	if ((r->has_req ? r->req_port : -1) != e->req_port) {
		port_text(r->has_req, r->req_port, exp, sizeof(exp));
		port_text(true, e->req_port, got, sizeof(got));
		problem(c, "%s: expected requested_port %s got %s", what, exp, got);
	}
	if (r->expect == EXPECT_FAIL && r->bound && e->sport != r->port)
		problem(c, "%s: expected sport %u (the bound port) got %lld", what, r->port,
			e->sport);
	if (r->ephemeral != e->ephemeral)
		problem(c, "%s: expected ephemeral %s got %s", what,
			r->ephemeral ? "true" : "false", e->ephemeral ? "true" : "false");
	if (r->bound != e->bound)
		problem(c, "%s: expected bound %s got %s", what, r->bound ? "true" : "false",
			e->bound ? "true" : "false");
	if (r->no_port != e->no_port)
		problem(c, "%s: expected bind_address_no_port %s got %s", what,
			r->no_port ? "true" : "false", e->no_port ? "true" : "false");
	ename = event_err(r) ? errno_name(r->err, tmp, sizeof(tmp)) : NULL;
	if ((ename == NULL) != (e->error == NULL) || (ename && strcmp(ename, e->error)))
		problem(c, "%s: expected error %s got %s", what, ename ? ename : "null",
			e->error ? e->error : "null");
	if (e->errnum != event_err(r))
		problem(c, "%s: expected errno %d got %lld", what, event_err(r), e->errnum);
	if ((unsigned long long)e->netns != c->in->o->netns)
		problem(c, "%s: expected netns %llu (the workload's) got %lld", what,
			(unsigned long long)c->in->o->netns, e->netns);
	if (e->tid != r->tid)
		problem(c, "%s: expected tid %d got %lld", what, (int)r->tid, e->tid);
	check_comms(c, what, oracle_comm(in->o, r->tid), e);
	if (in->backend && (!e->backend || strcmp(e->backend, in->backend)) &&
	    !(stand_in && e->backend && !strcmp(e->backend, "tracepoint")))
		problem(c, "%s: expected backend \"%s\" got \"%s\"", what, in->backend,
			e->backend ? e->backend : "null");
	if (c->out->problems != before)
		show_line(c, e->lineno, e->line);
}

static void match_all(struct checker *c, bool *found)
{
	const struct oracle *o = c->in->o;
	uint32_t i;
	int j;

	for (i = 0; i < o->n; i++) {
		found[i] = false;
		if (!wanted(c->in, &o->rec[i]))
			continue;
		for (j = 0; j < c->nr_evs; j++) {
			if (c->evs[j].matched || !same_key(&o->rec[i], &c->evs[j], c->in->pid))
				continue;
			c->evs[j].matched = true;
			found[i] = true;
			compare_fields(c, &o->rec[i], &c->evs[j]);
			break;
		}
	}
}

/* Per (type, op, proto, family, errno): expected N got M, for every key where they differ. */
static void count_by_key(struct checker *c)
{
	const struct oracle *o = c->in->o;
	uint32_t i, k;
	int j;

	for (i = 0; i < o->n; i++) {
		const struct orec *r = &o->rec[i];
		unsigned int want = 0, got = 0;
		char tmp[16];

		if (!wanted(c->in, r))
			continue;
		for (k = 0; k < i; k++) /* report each key once */
			if (wanted(c->in, &o->rec[k]) && o->rec[k].expect == r->expect &&
			    o->rec[k].op == r->op && o->rec[k].proto == r->proto &&
			    o->rec[k].family == r->family &&
			    (r->expect != EXPECT_FAIL || o->rec[k].err == r->err))
				break;
		if (k < i)
			continue;
		for (k = i; k < o->n; k++)
			want += wanted(c->in, &o->rec[k]) && o->rec[k].expect == r->expect &&
				o->rec[k].op == r->op && o->rec[k].proto == r->proto &&
				o->rec[k].family == r->family &&
				(r->expect != EXPECT_FAIL || o->rec[k].err == r->err);
		for (j = 0; j < c->nr_evs; j++) {
			const struct jev *e = &c->evs[j];

			got += e->type == r->expect && e->pid == c->in->pid && e->op == r->op &&
			       e->proto == r->proto && e->family == r->family &&
			       (r->expect != EXPECT_FAIL || e->errnum == r->err);
		}
		if (want != got)
			problem(c, "%s %s %s %s: expected %u events got %u", op_name(r->op),
				proto_name(r->proto), family_name(r->family),
				r->expect == EXPECT_FAIL   ? errno_name(r->err, tmp, sizeof(tmp)) :
				r->expect == EXPECT_ASSIGN ? "assign" :
							     "bound_connect",
				want, got);
	}
}

static void count_leftovers(struct checker *c, const bool *found)
{
	uint32_t i;
	int j;

	for (i = 0; i < c->in->o->n; i++)
		c->missing += wanted(c->in, &c->in->o->rec[i]) && !found[i];
	for (j = 0; j < c->nr_evs; j++)
		c->unexpected += c->evs[j].type && !c->evs[j].matched;
}

static void list_missing(struct checker *c, const bool *found)
{
	const struct oracle *o = c->in->o;
	unsigned int listed = 0;
	char what[160];
	uint32_t i;

	for (i = 0; i < o->n; i++) {
		if (!wanted(c->in, &o->rec[i]) || found[i])
			continue;
		c->out->problems++;
		if (listed++ < MAX_LISTED) {
			describe(&o->rec[i], what, sizeof(what));
			buf_printf(&c->out->report, "  expected %s got no such event\n", what);
		}
	}
}

static void list_unexpected(struct checker *c)
{
	unsigned int listed = 0;
	int j, k;

	for (j = 0; j < c->nr_evs; j++) {
		const struct jev *e = &c->evs[j];
		const char *who = "";

		if (!e->type || e->matched)
			continue;
		c->out->problems++;
		if (listed++ >= MAX_LISTED)
			continue;
		for (k = 0; k < c->in->nr_others; k++)
			if (e->pid == c->in->others[k])
				who = " (the decoy workload, which the filter must hide)";
		if (e->pid != c->in->pid)
			buf_printf(&c->out->report, "  expected only pid %d got pid %lld%s\n",
				   (int)c->in->pid, e->pid, who);
		else if (c->in->family && e->family != c->in->family)
			buf_printf(&c->out->report, "  expected only %s got a %s event\n",
				   family_name(c->in->family), family_name(e->family));
		else
			buf_printf(&c->out->report, "  expected no such event got\n");
		show_line(c, e->lineno, e->line);
	}
	if (listed > MAX_LISTED)
		buf_printf(&c->out->report, "  ... %u unexpected events in all\n", listed);
}

/*
 * Releases and time_wait moves of the workload name their owner as it was at assignment: one
 * of its threads (its tid, that thread's comm) and the process's name then. With --releases,
 * each port a second thread took comes back in a release that names that thread.
 */
static void check_owners(struct checker *c)
{
	const struct oracle *o = c->in->o;
	unsigned int want = 0, got = 0;
	char what[64];
	uint32_t i;
	int j;

	for (j = 0; j < c->nr_evs; j++) {
		const struct jev *e = &c->evs[j];
		int before = c->out->problems;

		if (!e->owned || e->pid != c->in->pid)
			continue;
		snprintf(what, sizeof(what), "%s of port %lld", e->event, e->sport);
		if (e->tid != c->in->pid && (!o->thread_tid || e->tid != o->thread_tid))
			problem(c, "%s: expected the tid of a thread of pid %d got %lld", what,
				(int)c->in->pid, e->tid);
		check_comms(c, what, oracle_comm(o, (int32_t)e->tid), e);
		if (c->out->problems != before)
			show_line(c, e->lineno, e->line);
		got += o->thread_tid && e->tid == o->thread_tid && !strcmp(e->event, "release");
	}
	if (!c->in->releases || !o->thread_tid)
		return;
	for (i = 0; i < o->n; i++)
		want += wanted(c->in, &o->rec[i]) && o->rec[i].expect == EXPECT_ASSIGN &&
			o->rec[i].tid == o->thread_tid;
	if (want != got)
		problem(c, "expected %u releases owned by thread %s (tid %d) got %u", want,
			o->thread_comm, (int)o->thread_tid, got);
}

int check_run(const struct check_in *in, struct check_out *out)
{
	struct checker c = { .in = in, .out = out };
	unsigned int got_assigned = 0;
	bool *found = NULL, excused;
	uint32_t i;
	int j, err;

	out->problems = 0;
	out->dropped = -1;
	out->missed = 0;
	out->lost = 0;
	out->assigned = 0;
	out->failed = 0;
	out->bound = 0;
	out->unseen = 0;
	for (i = 0; i < in->o->n; i++) {
		const struct orec *r = &in->o->rec[i];

		out->unseen += in->blind && r->expect != EXPECT_NONE &&
			       (!in->family || r->family == in->family) && blind_to(r);
		if (!wanted(in, r))
			continue;
		if (in->o->rec[i].expect == EXPECT_ASSIGN)
			out->assigned++;
		else if (in->o->rec[i].expect == EXPECT_FAIL)
			out->failed++;
		else
			out->bound++;
	}
	err = parse_lines(&c);
	if (err)
		goto out_free;
	found = calloc(in->o->n + 1, sizeof(*found));
	if (!found) {
		err = -ENOMEM;
		goto out_free;
	}
	match_all(&c, found);
	count_leftovers(&c, found);
	for (j = 0; j < c.nr_evs; j++)
		got_assigned += c.evs[j].type == EXPECT_ASSIGN && c.evs[j].pid == in->pid;
	/*
	 * Burst: a full ring buffer may drop events, as long as it says so: what arrived plus
	 * what was dropped must be what happened. Without drops it must be exact.
	 */
	excused = false;
	if (in->burst && c.summary && !in->preempted) {
		long long dropped = -1;

		get_int(c.summary, "dropped", &dropped);
		excused = dropped > 0 && !c.unexpected && (long long)c.missing == dropped;
		if (dropped > 0 && !excused)
			problem(&c, "expected received + dropped == %u got %u + %lld",
				out->assigned + out->failed + out->bound,
				out->assigned + out->failed + out->bound - c.missing, dropped);
	}
	if (in->preempted && c.summary)
		excused = check_skipped(&c);
	c.lossy = excused;
	if (!excused) {
		count_by_key(&c);
		list_missing(&c, found);
	}
	list_unexpected(&c);
	check_owners(&c);
	check_summary(&c, got_assigned);

out_free:
	free(found);
	for (j = 0; j < c.nr_evs; j++)
		json_object_put(c.objs[j]);
	free(c.objs);
	free(c.evs);
	free(c.text);
	return err;
}

void check_out_free(struct check_out *out)
{
	if (out)
		buf_free(&out->report);
}
