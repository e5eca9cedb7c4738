// SPDX-License-Identifier: GPL-2.0
/*
 * The occupancy scenarios' snapshots (occ.c tells the whole story): reading the JSON of top and
 * status (numbers, strings, arrays, times, the rows of a namespace, a destination or a
 * process), the expectations on one object of it (struct expect: each problem shows the
 * object), what every snapshot must say (the range, the holder's connections, the closer's
 * TIME_WAIT, the unknown owner), and one snapshot line parsed and kept.
 */
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "occ.h"

/* ---- reading a snapshot ---- */

/* 1: a number in *v; 0: null; -1: missing or not a number. */
int jnum(json_object *o, const char *key, double *v)
{
	json_object *x;

	*v = NAN;
	if (!o || !json_object_object_get_ex(o, key, &x))
		return -1;
	if (json_object_is_type(x, json_type_null))
		return 0;
	if (!json_object_is_type(x, json_type_int) && !json_object_is_type(x, json_type_double))
		return -1;
	*v = json_object_get_double(x);
	return 1;
}

const char *jstr(json_object *o, const char *key)
{
	json_object *x;

	if (!o || !json_object_object_get_ex(o, key, &x) ||
	    !json_object_is_type(x, json_type_string))
		return NULL;
	return json_object_get_string(x);
}

json_object *jarr(json_object *o, const char *key)
{
	json_object *x;

	if (!o || !json_object_object_get_ex(o, key, &x) ||
	    !json_object_is_type(x, json_type_array))
		return NULL;
	return x;
}

/* "2026-11-24T06:01:44.375051095Z" in ns since the epoch; -1 if it is not that. */
int64_t parse_time(const char *s)
{
	char frac[16] = "";
	struct tm tm = {};
	int64_t ns;
	size_t i;

	if (!s || sscanf(s, "%d-%d-%dT%d:%d:%d.%9[0-9]Z", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			 &tm.tm_hour, &tm.tm_min, &tm.tm_sec, frac) != 7)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	for (i = strlen(frac); i < 9; i++)
		frac[i] = '0';
	frac[9] = '\0';
	ns = strtoll(frac, NULL, 10);
	return (int64_t)timegm(&tm) * 1000000000 + ns;
}

static json_object *find_netns(json_object *snap, uint64_t netns)
{
	json_object *a = jarr(snap, "netns"), *e;
	size_t i, n = a ? json_object_array_length(a) : 0;
	double v;

	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(a, i);
		if (jnum(e, "netns", &v) == 1 && v == (double)netns)
			return e;
	}
	return NULL;
}

bool occ_str_is(json_object *o, const char *key, const char *want)
{
	const char *s = jstr(o, key);

	return s && !strcmp(s, want);
}

static json_object *find_dest(json_object *snap, uint64_t netns, int dport)
{
	json_object *a = jarr(snap, "destinations"), *e;
	size_t i, n = a ? json_object_array_length(a) : 0;
	double v, p;

	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(a, i);
		if (jnum(e, "netns", &v) == 1 && v == (double)netns && jnum(e, "dport", &p) == 1 &&
		    p == dport && occ_str_is(e, "proto", "tcp") &&
		    occ_str_is(e, "family", "ipv4") && occ_str_is(e, "saddr", "127.0.0.1") &&
		    occ_str_is(e, "daddr", "127.0.0.1"))
			return e;
	}
	return NULL;
}

/* pid 0: the entry of unknown owner (pid null). */
json_object *occ_find_proc(json_object *snap, pid_t pid)
{
	json_object *a = jarr(snap, "processes"), *e;
	size_t i, n = a ? json_object_array_length(a) : 0;
	double v;
	int k;

	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(a, i);
		k = jnum(e, "pid", &v);
		if ((pid && k == 1 && v == pid) || (!pid && k == 0))
			return e;
	}
	return NULL;
}

/* Ports held, in every destination and bind scope of namespaces other than ours. */
static double held_elsewhere(json_object *snap, uint64_t netns)
{
	static const char *const tables[] = { "destinations", "bind_scopes" };
	double sum = 0, v, held;
	size_t t, i, n;

	for (t = 0; t < 2; t++) {
		json_object *a = jarr(snap, tables[t]);

		n = a ? json_object_array_length(a) : 0;
		for (i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(a, i);

			if (jnum(e, "netns", &v) == 1 && v != (double)netns &&
			    jnum(e, "held", &held) == 1)
				sum += held;
		}
	}
	return sum;
}

/* ---- checking a snapshot ---- */

void ex_begin(struct expect *x, struct occ_run *r, const char *what, json_object *obj)
{
	*x = (struct expect){ .r = r, .what = what, .obj = obj };
}

static void ex_problem(struct expect *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void ex_problem(struct expect *x, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	occ_problem(x->r, "%s: %s", x->what, line);
	x->problems++;
}

static const char *num_text(int kind, double v, char *buf, size_t len)
{
	if (kind == 1)
		snprintf(buf, len, "%.10g", v);
	else
		snprintf(buf, len, "%s", kind ? "no number" : "null");
	return buf;
}

/* Number within tol of want, or within [want, want_hi] when want_hi > want. */
static void ex_range(struct expect *x, const char *key, double want, double want_hi, double tol)
{
	char got[64], exp[64];
	double v;
	int k = jnum(x->obj, key, &v);

	if (want_hi < want)
		want_hi = want;
	if (k == 1 && v >= want - tol && v <= want_hi + tol)
		return;
	if (want_hi > want)
		snprintf(exp, sizeof(exp), "%.10g to %.10g", want, want_hi);
	else if (tol)
		snprintf(exp, sizeof(exp), "%.10g (+-%g)", want, tol);
	else
		snprintf(exp, sizeof(exp), "%.10g", want);
	ex_problem(x, "expected %s %s got %s", key, exp, num_text(k, v, got, sizeof(got)));
}

void ex_num(struct expect *x, const char *key, double want)
{
	ex_range(x, key, want, want, 0);
}

static void ex_null(struct expect *x, const char *key)
{
	char got[64];
	double v;
	int k = jnum(x->obj, key, &v);

	if (k != 0)
		ex_problem(x, "expected %s null got %s", key,
			   k == 1 ? num_text(k, v, got, sizeof(got)) : "not null");
}

void ex_bool(struct expect *x, const char *key, bool want)
{
	json_object *v = NULL;

	if (json_object_object_get_ex(x->obj, key, &v) &&
	    json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v) == want)
		return;
	ex_problem(x, "expected %s %s got %s", key, want ? "true" : "false",
		   v ? json_object_to_json_string(v) : "none");
}

void ex_str(struct expect *x, const char *key, const char *want)
{
	const char *s = jstr(x->obj, key);

	if (!s || strcmp(s, want))
		ex_problem(x, "expected %s \"%s\" got %s%s%s", key, want, s ? "\"" : "",
			   s ? s : "none", s ? "\"" : "");
}

void ex_end(struct expect *x)
{
	if (x->problems)
		buf_printf(&x->r->report, "      %s: %s\n", x->what,
			   json_object_to_json_string_ext(x->obj, JSON_C_TO_STRING_PLAIN));
}

void occ_show_snapshot(struct occ_run *r, const char *line, size_t len)
{
	buf_printf(&r->report, "      snapshot: %.*s%s\n", (int)(len > SHOW_MAX ? SHOW_MAX : len),
		   line, len > SHOW_MAX ? "..." : "");
}

/* The object, or a problem (with the whole snapshot) when it is missing. */
json_object *occ_need(struct occ_run *r, json_object *o, const char *what, bool *shown)
{
	if (o)
		return o;
	occ_problem(r, "expected %s in the snapshot got none", what);
	if (!*shown)
		occ_show_snapshot(r, r->snap, r->snap_len);
	*shown = true;
	return NULL;
}

static void check_top_level(struct occ_run *r, json_object *snap)
{
	static const char *const keys[] = { "time",	   "netns",	"destinations",
					    "bind_scopes", "processes", "dropped" };
	struct expect x;
	size_t i;

	ex_begin(&x, r, "snapshot", snap);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!json_object_object_get_ex(snap, keys[i], NULL))
			ex_problem(&x, "expected key \"%s\" got none", keys[i]);
	if (parse_time(jstr(snap, "time")) < 0)
		ex_problem(&x, "expected \"time\" in RFC 3339 (UTC, ns) got %s",
			   jstr(snap, "time") ?: "none");
	ex_num(&x, "dropped", 0);
	if (x.problems)
		occ_show_snapshot(r, r->snap, r->snap_len);
}

/* Ports of the scenario's ip_local_reserved_ports ("A-B", inside the range). */
static unsigned int reserved_ports(const struct scenario *s)
{
	unsigned int a, b;

	if (s->reserved && sscanf(s->reserved, "%u-%u", &a, &b) == 2 && b >= a)
		return b - a + 1;
	return 0;
}

double occ_usable(const struct scenario *s)
{
	return s->range_hi - s->range_lo + 1 - reserved_ports(s);
}

static void check_netns(struct occ_run *r, json_object *snap, uint64_t netns, bool *shown)
{
	json_object *e;
	struct expect x;

	e = occ_need(r, find_netns(snap, netns), "the workload's netns", shown);
	if (!e)
		return;
	ex_begin(&x, r, "netns", e);
	ex_num(&x, "low", r->s->range_lo);
	ex_num(&x, "high", r->s->range_hi);
	ex_num(&x, "reserved", reserved_ports(r->s));
	ex_num(&x, "usable", occ_usable(r->s));
	ex_end(&x);
}

/*
 * What every occupancy snapshot must say: the range; :5000 held by the holder; :6000 in
 * TIME_WAIT as the kernel shows it; the server (listeners, accepted sockets) holds nothing.
 * Who holds the TIME_WAIT ports depends on the kind (checked by the caller).
 */
void occ_check_common(struct occ_run *r, json_object *snap, const struct truth *t, bool *shown)
{
	uint64_t netns = r->w[ROLE_SERVER].o->netns;
	json_object *e;
	struct expect x;

	check_top_level(r, snap);
	check_netns(r, snap, netns, shown);
	e = occ_need(r, find_dest(snap, netns, OCC_HOLD_PORT), "destination 127.0.0.1:5000", shown);
	if (e) {
		ex_begin(&x, r, "destination :5000", e);
		ex_num(&x, "held", t->est);
		ex_num(&x, "time_wait", 0);
		ex_num(&x, "usable", occ_usable(r->s));
		ex_range(&x, "utilization", t->est / occ_usable(r->s), 0, 1e-5);
		if (r->s->kind == SCN_OCC_STATUS) { /* no events: no rates */
			ex_null(&x, "assign_rate");
			ex_null(&x, "failures");
			ex_null(&x, "exhaust_in_s");
		} else {
			ex_num(&x, "failures", 0);
		}
		ex_end(&x);
	}
	e = occ_need(r, find_dest(snap, netns, OCC_TW_PORT), "destination 127.0.0.1:6000", shown);
	if (e) {
		ex_begin(&x, r, "destination :6000", e);
		ex_num(&x, "held", t->tw);
		ex_num(&x, "time_wait", t->tw);
		ex_num(&x, "usable", occ_usable(r->s));
		ex_end(&x);
	}
	e = occ_need(r, occ_find_proc(snap, r->w[ROLE_HOLDER].pid), "the holder's process", shown);
	if (e) {
		ex_begin(&x, r, "holder", e);
		ex_num(&x, "held", t->est);
		ex_num(&x, "time_wait", 0);
		ex_bool(&x, "exited", false);
		ex_str(&x, "comm", occ_role_comm[ROLE_HOLDER]);
		if (!jstr(e, "cgroup") || jstr(e, "cgroup")[0] != '/')
			ex_problem(&x, "expected cgroup a path got %s",
				   jstr(e, "cgroup") ?: "none");
		ex_end(&x);
	}
	e = occ_find_proc(snap, r->w[ROLE_SERVER].pid);
	if (e) {
		occ_problem(
			r, "expected the server (listeners, accepted sockets) to hold nothing got");
		buf_printf(&r->report, "      server: %s\n", json_object_to_json_string(e));
	}
}

/* TIME_WAIT found at start: no owner (pid null); the closer must not be named. */
void occ_check_unknown_owner(struct occ_run *r, json_object *snap, const struct truth *t,
			     bool *shown)
{
	uint64_t netns = r->w[ROLE_SERVER].o->netns;
	double elsewhere = held_elsewhere(snap, netns);
	json_object *e;
	struct expect x;

	e = occ_find_proc(snap, r->w[ROLE_CLOSER].pid);
	if (e) {
		occ_problem(r,
			    "expected the closer's TIME_WAIT ports with no owner (found at start) "
			    "got them attributed to it");
		buf_printf(&r->report, "      closer: %s\n", json_object_to_json_string(e));
	}
	e = occ_need(r, occ_find_proc(snap, 0),
		     "a process entry with pid null (TIME_WAIT, no owner)", shown);
	if (!e)
		return;
	/* Exact, unless other namespaces hold ports too: theirs may have no owner either. */
	ex_begin(&x, r, "pid null", e);
	ex_range(&x, "held", t->tw, t->tw + elsewhere, 0);
	ex_range(&x, "time_wait", t->tw, t->tw + elsewhere, 0);
	ex_null(&x, "comm");
	ex_null(&x, "exited");
	ex_end(&x);
	buf_printf(&r->done, "; pid null %s TIME_WAIT",
		   elsewhere ? "holds the" : "holds exactly the");
}

/* ---- one snapshot line ---- */

/* The next complete line from *off, or NULL. */
const char *next_line(const struct buf *b, size_t *off, size_t *len)
{
	const char *p = buf_str(b) + *off, *nl;

	if (*off >= b->len)
		return NULL;
	nl = memchr(p, '\n', b->len - *off);
	if (!nl)
		return NULL;
	*len = nl - p;
	*off += *len + 1;
	return p;
}

json_object *occ_parse_snapshot(struct occ_run *r, const char *line, size_t len)
{
	json_object *o;
	char *copy;

	copy = strndup(line, len);
	if (!copy)
		return NULL;
	o = json_tokener_parse(copy);
	free(copy);
	if (!o || !json_object_is_type(o, json_type_object)) {
		occ_problem(r, "expected a JSON object per line got");
		occ_show_snapshot(r, line, len);
		json_object_put(o);
		return NULL;
	}
	return o;
}

void occ_keep_snapshot(struct occ_run *r, const char *line, size_t len)
{
	r->snap = line;
	r->snap_len = len;
}
