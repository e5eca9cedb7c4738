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

#include "ephtest.h"

#define MAX_LISTED 20 /* missing / unexpected events listed one by one */

struct jev {
	int lineno;
	const char *line;
	const char *event;
	int type; /* EXPECT_ASSIGN, EXPECT_FAIL, EXPECT_BOUND_CONNECT, or EXPECT_NONE */
	uint8_t op, proto, family;
	long long pid, tid, netns, sport, dport, req_port, errnum;
	const char *comm, *pcomm, *error, *backend;
	bool owned; /* a release or time_wait: pid, tid, comm and process_comm are its owner's */
	bool ephemeral, bound, no_port;
	bool has_saddr, has_daddr;
	uint8_t saddr[16], daddr[16];
	bool matched;
};

struct checker {
	const struct check_in *in;
	struct check_out *out;
	char *text;	    /* copy of the JSON, split into lines */
	json_object **objs; /* one per line, NULL if not JSON */
	struct jev *evs;
	int nr_evs;
	json_object *summary;
	int summary_line;
	const char *summary_text;
	unsigned int missing;
	unsigned int unexpected;
	bool lossy; /* events missing, and excused by the drops the summary counts */
};

/* clang-format off */
static const char *const event_keys[] = {
	"event", "op", "proto", "family", "pid", "tid", "comm", "process_comm", "cgroup_id",
	"netns", "saddr", "sport", "daddr", "dport", "requested_port", "ephemeral", "bound",
	"bind_address_no_port", "error", "errno", "search_ns", "held_ns", "time", "backend",
};
/* clang-format on */

#define NR_EVENT_KEYS (sizeof(event_keys) / sizeof(event_keys[0]))

static void problem(struct checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct checker *c, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	buf_printf(&c->out->report, "  %s\n", line);
	c->out->problems++;
}

/* The offending JSON line under a problem. */
static void show_line(struct checker *c, int lineno, const char *line)
{
	buf_printf(&c->out->report, "      line %d: %s\n", lineno, line);
}

/* ---- reading one event ---- */

static bool get_str(json_object *o, const char *key, const char **out)
{
	json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v))
		return false;
	if (json_object_is_type(v, json_type_null))
		return true;
	if (!json_object_is_type(v, json_type_string))
		return false;
	*out = json_object_get_string(v);
	return true;
}

/* Integer or null (-1). */
static bool get_int(json_object *o, const char *key, long long *out)
{
	json_object *v;

	*out = -1;
	if (!json_object_object_get_ex(o, key, &v))
		return false;
	if (json_object_is_type(v, json_type_null))
		return true;
	if (!json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return true;
}

static bool get_bool(json_object *o, const char *key, bool *out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_boolean))
		return false;
	*out = json_object_get_boolean(v);
	return true;
}

static bool get_addr(json_object *o, const char *key, uint8_t family, uint8_t addr[16], bool *has)
{
	const char *s;

	*has = false;
	memset(addr, 0, 16);
	if (!get_str(o, key, &s))
		return false;
	if (!s)
		return true;
	if (inet_pton(family, s, addr) != 1)
		return false;
	*has = true;
	return true;
}

static uint8_t parse_op(const char *s)
{
	if (!s)
		return 0;
	if (!strcmp(s, "connect"))
		return OP_CONNECT;
	if (!strcmp(s, "bind"))
		return OP_BIND;
	if (!strcmp(s, "sendmsg"))
		return OP_SENDMSG;
	return 0xff; /* listen and whatever else: matches no oracle record */
}

static uint8_t parse_proto(const char *s)
{
	if (s && !strcmp(s, "tcp"))
		return IPPROTO_TCP;
	if (s && !strcmp(s, "udp"))
		return IPPROTO_UDP;
	return 0;
}

static uint8_t parse_family(const char *s)
{
	if (s && !strcmp(s, "ipv4"))
		return AF_INET;
	if (s && !strcmp(s, "ipv6"))
		return AF_INET6;
	return 0;
}

static int decode_event(struct checker *c, json_object *o, struct jev *e)
{
	const char *op = NULL, *proto = NULL, *family = NULL, *bad = NULL;
	json_object *v;
	size_t i;

	for (i = 0; i < NR_EVENT_KEYS; i++) {
		if (!json_object_object_get_ex(o, event_keys[i], &v)) {
			problem(c, "expected key \"%s\" in every event got an event without it",
				event_keys[i]);
			show_line(c, e->lineno, e->line);
			return -EINVAL;
		}
	}
	if (!get_str(o, "op", &op) || !get_str(o, "proto", &proto) ||
	    !get_str(o, "family", &family))
		bad = "op/proto/family";
	e->op = parse_op(op);
	e->proto = parse_proto(proto);
	e->family = parse_family(family);
	if (!e->family)
		bad = "family";
	else if (!get_addr(o, "saddr", e->family, e->saddr, &e->has_saddr))
		bad = "saddr";
	else if (!get_addr(o, "daddr", e->family, e->daddr, &e->has_daddr))
		bad = "daddr";
	if (!get_int(o, "pid", &e->pid) || !get_int(o, "tid", &e->tid))
		bad = "pid/tid";
	if (!get_int(o, "netns", &e->netns) || !get_int(o, "sport", &e->sport) ||
	    !get_int(o, "dport", &e->dport) || !get_int(o, "requested_port", &e->req_port))
		bad = "netns/sport/dport/requested_port";
	if (!get_int(o, "errno", &e->errnum) || !get_str(o, "error", &e->error))
		bad = "errno/error";
	if (!get_str(o, "comm", &e->comm) || !get_str(o, "process_comm", &e->pcomm) ||
	    !get_str(o, "backend", &e->backend))
		bad = "comm/process_comm/backend";
	if (!get_bool(o, "ephemeral", &e->ephemeral))
		bad = "ephemeral";
	else if (!get_bool(o, "bound", &e->bound))
		bad = "bound";
	else if (!get_bool(o, "bind_address_no_port", &e->no_port))
		bad = "bind_address_no_port";
	if (bad) {
		problem(c, "expected well-typed %s got", bad);
		show_line(c, e->lineno, e->line);
		return -EINVAL;
	}
	return 0;
}

static int parse_lines(struct checker *c)
{
	char *line, *save = NULL;
	int lineno = 0, n = 0, cap = 0;

	c->text = strdup(c->in->json ? c->in->json : "");
	if (!c->text)
		return -ENOMEM;
	for (line = strtok_r(c->text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct jev *e;
		json_object *o;
		const char *event;

		lineno++;
		if (n == cap) {
			json_object **objs;

			cap = cap ? cap * 2 : 256;
			e = realloc(c->evs, cap * sizeof(*e));
			if (!e)
				return -ENOMEM;
			c->evs = e;
			objs = realloc(c->objs, cap * sizeof(*objs));
			if (!objs)
				return -ENOMEM;
			c->objs = objs;
		}
		o = json_tokener_parse(line);
		if (!o || !json_object_is_type(o, json_type_object)) {
			problem(c, "expected a JSON object per line got");
			show_line(c, lineno, line);
			json_object_put(o);
			continue;
		}
		c->objs[n] = o;
		e = &c->evs[n++];
		memset(e, 0, sizeof(*e));
		e->lineno = lineno;
		e->line = line;
		c->nr_evs = n;
		if (!get_str(o, "event", &event) || !event) {
			problem(c, "expected a string \"event\" got");
			show_line(c, lineno, line);
			continue;
		}
		e->event = event;
		if (!strcmp(event, "summary")) {
			c->summary = o;
			c->summary_line = lineno;
			c->summary_text = line;
			continue;
		}
		if (!strcmp(event, "release") || !strcmp(event, "time_wait")) {
			/* not counted here: only their owner is checked (check_owners) */
			e->owned = !decode_event(c, o, e);
			continue;
		}
		if (!strcmp(event, "assign"))
			e->type = EXPECT_ASSIGN;
		else if (!strcmp(event, "fail"))
			e->type = EXPECT_FAIL;
		else if (!strcmp(event, "bound_connect"))
			e->type = EXPECT_BOUND_CONNECT;
		if (!e->type) {
			problem(c, "expected event %s got \"%s\"",
				"assign|fail|bound_connect|release|summary", event);
			show_line(c, lineno, line);
			continue;
		}
		if (decode_event(c, o, e))
			e->type = EXPECT_NONE;
	}
	return 0;
}

/* ---- matching ---- */

/* What the cgroup backend cannot see without --exact-errors (README, the backend matrix). */
static bool blind_to(const struct orec *r)
{
	return (r->expect == EXPECT_FAIL && (r->op == OP_BIND || r->proto == IPPROTO_UDP)) ||
	       (r->proto == IPPROTO_UDP && r->op == OP_CONNECT);
}

static bool wanted(const struct check_in *in, const struct orec *r)
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

	describe(r, what, sizeof(what));
	/* a failure has a source address only when the socket was bound */
	if ((r->expect != EXPECT_FAIL || r->bound) &&
	    (!e->has_saddr || memcmp(e->saddr, r->addr, 16)) &&
	    (!r->has_alt || !e->has_saddr || memcmp(e->saddr, r->alt_addr, 16))) {
		addr_text(r->family, true, r->addr, exp, sizeof(exp));
		if (r->has_alt) {
			size_t l = strlen(exp);

			snprintf(exp + l, sizeof(exp) - l, " or ");
			addr_text(r->family, true, r->alt_addr, exp + l + 4, sizeof(exp) - l - 4);
		}
		addr_text(e->family, e->has_saddr, e->saddr, got, sizeof(got));
		problem(c, "%s: expected saddr %s got %s", what, exp, got);
	}
	if (r->has_dest != e->has_daddr || (r->has_dest && memcmp(e->daddr, r->daddr, 16))) {
		addr_text(r->family, r->has_dest, r->daddr, exp, sizeof(exp));
		addr_text(e->family, e->has_daddr, e->daddr, got, sizeof(got));
		problem(c, "%s: expected daddr %s got %s", what, exp, got);
	}
	if ((r->has_dest ? r->dport : -1) != e->dport) {
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
	if (in->backend && (!e->backend || strcmp(e->backend, in->backend)))
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

/* ---- the summary line ---- */

static long long fails_received(const struct checker *c, int err)
{
	long long n = 0;
	int j;

	for (j = 0; j < c->nr_evs; j++)
		n += c->evs[j].type == EXPECT_FAIL && c->evs[j].pid == c->in->pid &&
		     c->evs[j].errnum == err;
	return n;
}

static void check_failed_map(struct checker *c, json_object *failed)
{
	const struct oracle *o = c->in->o;
	char tmp[16];
	uint32_t i, k;

	for (i = 0; i < o->n; i++) {
		const struct orec *r = &o->rec[i];
		long long want = 0, got = 0;
		const char *name;

		if (!wanted(c->in, r) || r->expect != EXPECT_FAIL)
			continue;
		for (k = 0; k < i; k++)
			if (wanted(c->in, &o->rec[k]) && o->rec[k].expect == EXPECT_FAIL &&
			    o->rec[k].err == r->err)
				break;
		if (k < i)
			continue;
		for (k = i; k < o->n; k++)
			want += wanted(c->in, &o->rec[k]) && o->rec[k].expect == EXPECT_FAIL &&
				o->rec[k].err == r->err;
		if (c->lossy) /* events lost and excused: the summary counts what arrived */
			want = fails_received(c, r->err);
		name = errno_name(r->err, tmp, sizeof(tmp));
		get_int(failed, name, &got);
		if (got < 0)
			got = 0;
		if (got != want)
			problem(c, "summary: expected failed.%s %lld got %lld", name, want, got);
	}
	json_object_object_foreach(failed, key, val)
	{
		bool known = false;

		for (i = 0; i < o->n && !known; i++)
			known = wanted(c->in, &o->rec[i]) && o->rec[i].expect == EXPECT_FAIL &&
				!strcmp(errno_name(o->rec[i].err, tmp, sizeof(tmp)), key);
		if (!known && json_object_get_int64(val) != 0)
			problem(c, "summary: expected no failed.%s got %lld", key,
				(long long)json_object_get_int64(val));
	}
}

static void check_summary(struct checker *c, unsigned int got_assigned)
{
	json_object *procs, *p, *failed;
	long long pid, assigned, dropped;
	const char *backend, *comm;
	int before = c->out->problems;
	unsigned int want;
	bool seen = false;
	size_t i, n;

	if (!c->summary) {
		problem(c, "expected a summary line at the end got none");
		return;
	}
	if (!get_int(c->summary, "dropped", &dropped) || dropped < 0) {
		problem(c, "summary: expected an integer \"dropped\" got");
		show_line(c, c->summary_line, c->summary_text);
		return;
	}
	c->out->dropped = dropped;
	/* With drops (burst, or runs skipped on a preemptible kernel), the summary can only count
	 * what arrived. */
	want = (c->in->burst && dropped) || c->lossy ? got_assigned : c->out->assigned;
	if (dropped && !c->in->burst && !c->in->preempted) /* else check_run() said it */
		problem(c, "summary: expected dropped 0 got %lld", dropped);
	if (c->in->backend && (!get_str(c->summary, "backend", &backend) || !backend ||
			       strcmp(backend, c->in->backend)))
		problem(c, "summary: expected backend \"%s\" got another", c->in->backend);
	if (!json_object_object_get_ex(c->summary, "processes", &procs) ||
	    !json_object_is_type(procs, json_type_array)) {
		problem(c, "summary: expected a \"processes\" array got");
		show_line(c, c->summary_line, c->summary_text);
		return;
	}
	n = json_object_array_length(procs);
	for (i = 0; i < n; i++) {
		p = json_object_array_get_idx(procs, i);
		if (!get_int(p, "pid", &pid) || pid != c->in->pid) {
			problem(c, "summary: expected only pid %d got pid %lld", (int)c->in->pid,
				pid);
			continue;
		}
		seen = true;
		/* the process's name, not that of the thread that made the last call */
		if (!get_str(p, "comm", &comm) || !comm || strcmp(comm, c->in->o->comm))
			problem(c, "summary: expected comm \"%s\" for pid %d got \"%s\"",
				c->in->o->comm, (int)c->in->pid, comm ? comm : "null");
		if (!get_int(p, "assigned", &assigned) || assigned != want)
			problem(c, "summary: expected assigned %u for pid %d got %lld", want,
				(int)c->in->pid, assigned);
		if (!json_object_object_get_ex(p, "failed", &failed) ||
		    !json_object_is_type(failed, json_type_object))
			problem(c, "summary: expected a \"failed\" object for pid %d got none",
				(int)c->in->pid);
		else
			check_failed_map(c, failed);
	}
	if (!seen && (c->out->assigned || c->out->failed))
		problem(c, "summary: expected an entry for pid %d got none", (int)c->in->pid);
	if (c->out->problems != before)
		show_line(c, c->summary_line, c->summary_text);
}

/*
 * fentry on a kernel that preempts its programs (check_in.preempted): the kernel skips the runs
 * that find their program busy on the CPU and ephtrace counts them ("missed", in "dropped").
 * Each lost event had at least one skipped run behind it (one call can lose both its entry and
 * its exit, and the untraced workload's runs count too), so what is missing must be at most
 * what was missed, every drop must be such a run (a non-burst run fills no ring buffer; in a
 * burst each other drop loses exactly one event) and nothing may come that did not happen.
 * Returns whether the losses are so excused.
 */
static bool check_skipped(struct checker *c)
{
	long long dropped = -1, missed = 0;

	get_int(c->summary, "dropped", &dropped);
	if (json_object_object_get_ex(c->summary, "missed", NULL)) /* absent: none */
		get_int(c->summary, "missed", &missed);
	c->out->missed = missed;
	c->out->lost = c->missing;
	if (dropped <= 0 && !c->missing)
		return false;
	if (missed < 0 || dropped < missed || (!c->in->burst && dropped != missed))
		problem(c,
			"expected every drop to be a run the kernel skipped got dropped %lld, "
			"missed %lld",
			dropped, missed);
	/* burst: each record the full ring refused is one event lost, exactly */
	else if ((long long)c->missing > dropped || (long long)c->missing < dropped - missed ||
		 c->unexpected)
		problem(c,
			"expected %lld to %lld events missing (%lld runs the kernel skipped) got "
			"%u missing, %u unexpected",
			dropped - missed, dropped, missed, c->missing, c->unexpected);
	else
		return true;
	return false;
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
