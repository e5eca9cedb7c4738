// SPDX-License-Identifier: GPL-2.0
/*
 * The table's rows of `ephbench overhead`: per place and loop (connect, bind, getppid()), the
 * loop without tracer ("loop" record), then what each tracer took from its throughput and
 * added to its CPU time per call ("overhead" records, one per tracer).
 */
#include <stdio.h>
#include <string.h>

#include "report.h"

#define HOST_OVERHEAD_PCT 3.0 /* issue 6: the connect loop on the host */

/* A loop as the table names it. Records without workload= are of the connect loop. */
struct workload {
	const char *name; /* workload= of the records */
	const char *label;
	const char *call; /* one call of the loop, in "CPU per ... added" */
	const char *unit; /* the same in rates: "conn/s" */
	bool ns;	  /* CPU times in ns: a call takes well under a microsecond */
};

static const struct workload workloads[] = {
	{ "connect", "connect loop", "connection", "conn", false },
	{ "bind", "bind loop", "bind", "bind", false },
	{ "syscall", "getppid() loop (whole-host tax)", "call", "call", true },
};

static const struct workload *workload_of(const struct rec *r)
{
	const char *name = get(r, "workload") ?: "connect";
	unsigned int i;

	for (i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++)
		if (!strcmp(workloads[i].name, name))
			return &workloads[i];
	return NULL;
}

/* A CPU time given in µs, as the loop's calls are best read: "15.8 us" or "212 ns". */
static void cpu_time(char *dst, size_t len, const struct workload *wl, double us)
{
	if (wl->ns)
		cell(dst, len, "%.0f ns", us * 1e3);
	else
		cell(dst, len, "%.1f us", us);
}

/*
 * Two measures of one overhead record: the throughput lost (1 - on/off) and the CPU time per
 * call added (on/off - 1), each with its median and extremes, in percent.
 */
enum metric {
	THROUGHPUT,
	CPU
};

static double pct(const struct rec *r, enum metric m, const char *which)
{
	char key[32];

	snprintf(key, sizeof(key), "%s%s", m == CPU ? "cpu_ratio" : "ratio", which);
	return m == CPU ? (getd(r, key) - 1) * 100 : (1 - getd(r, key)) * 100;
}

static void tool_name(const struct rec *r, char *dst, size_t len)
{
	if (is(r, "tool", "ephtrace"))
		cell(dst, len, "ephtrace %s (%s)", gets(r, "mode"), gets(r, "backend"));
	else if (is(r, "tool", "hooks"))
		cell(dst, len, "ephtrace's hooks alone, empty programs (%s)", gets(r, "backend"));
	else
		cell(dst, len, "%s", gets(r, "tool"));
}

/*
 * ephtrace against every peer measured at the same place on the same loop, and the host's
 * own limit on the connect loop. Neither: no target.
 */
static void overhead_target(const struct rec *r, enum metric m, struct row *w, const char *where)
{
	const struct workload *wl = workload_of(r);
	double mine = pct(r, m, "");
	char why[CELL] = "", peers[CELL] = "";
	bool limit = !strcmp(where, "host") && wl == &workloads[0], ok = true, any = false;
	unsigned int i;

	for (i = 0; i < nrecs; i++) {
		const struct rec *p = &recs[i];

		if (!is(p, "kind", "overhead") || strcmp(gets(p, "where"), where) ||
		    workload_of(p) != wl || is(p, "tool", "ephtrace") || is(p, "tool", "hooks"))
			continue;
		cell(peers + strlen(peers), sizeof(peers) - strlen(peers), "%s%s",
		     peers[0] ? ", " : "", gets(p, "tool"));
		if (!is(p, "status", "ok"))
			continue;
		any = true;
		if (mine >= pct(p, m, "")) {
			ok = false;
			cell(why + strlen(why), sizeof(why) - strlen(why), "%s>= %s's %.1f %%",
			     why[0] ? ", " : "", gets(p, "tool"), pct(p, m, ""));
		}
	}
	if (!limit && !peers[0])
		return;
	cell(w->target, sizeof(w->target), "%s%s%s", limit ? "<= 3 %" : "",
	     limit && peers[0] ? ", " : "", peers[0] ? "< each peer" : "");
	if (limit && mine > HOST_OVERHEAD_PCT) {
		ok = false;
		cell(why + strlen(why), sizeof(why) - strlen(why), "%s> 3 %%", why[0] ? ", " : "");
	}
	if (!ok)
		cell(w->met, sizeof(w->met), "no: %s", why);
	else if (peers[0] && !any)
		cell(w->met, sizeof(w->met), "%s", limit ? "yes; peers n/a here" : "peers n/a");
	else
		cell(w->met, sizeof(w->met), "yes");
}

static void row_overhead(const struct rec *r, const char *where, enum metric m)
{
	const struct workload *wl = workload_of(r);
	struct row *w = add_row(r, where);
	char name[64], cpu[32], tracer[32];

	tool_name(r, name, sizeof(name));
	if (m == CPU)
		cell(w->figure, sizeof(w->figure), "%s: CPU per %s added, %s", wl->label, wl->call,
		     name);
	else
		cell(w->figure, sizeof(w->figure), "%s: throughput lost, %s", wl->label, name);
	if (na(r, w))
		return;
	/* the lowest throughput ratio is the highest loss */
	cell(w->result, sizeof(w->result), "%.1f %% (%.1f..%.1f, %s rounds%s%s)", pct(r, m, ""),
	     pct(r, m, m == CPU ? "_min" : "_max"), pct(r, m, m == CPU ? "_max" : "_min"),
	     gets(r, "n"), getd(r, "failures") ? "; a failed start: " : "",
	     getd(r, "failures") ? gets(r, "first_failure") : "");
	if (m == CPU) {
		cpu_time(cpu, sizeof(cpu), wl, getd(r, "us_per_conn"));
		cpu_time(tracer, sizeof(tracer), wl, getd(r, "tracer_us_per_conn"));
		cell(w->result + strlen(w->result), sizeof(w->result) - strlen(w->result),
		     "; %s/%s, %s in the tracer process, %.2f wakeups/%s", cpu, wl->unit, tracer,
		     getd(r, "wakeups_per_conn"), wl->unit);
	}
	if (is(r, "tool", "ephtrace"))
		overhead_target(r, m, w, where);
	else if (is(r, "tool", "hooks"))
		cell(w->target, sizeof(w->target), "reference: the floor of these hooks");
}

static void row_loop(const struct rec *r, const char *where)
{
	const struct workload *wl = workload_of(r);
	struct row *w = add_row(r, where);
	char cpu[32];

	cpu_time(cpu, sizeof(cpu), wl, getd(r, "us_per_conn"));
	cell(w->figure, sizeof(w->figure), "%s without tracer, %s client(s)", wl->label,
	     gets(r, "clients"));
	cell(w->result, sizeof(w->result), "%.0f %s/s (%.0f..%.0f), %s CPU/%s; %s s samples",
	     getd(r, "rate"), wl->unit, getd(r, "rate_min"), getd(r, "rate_max"), cpu, wl->unit,
	     gets(r, "duration"));
	if (getd(r, "failures"))
		cell(w->result + strlen(w->result), sizeof(w->result) - strlen(w->result),
		     "; %s sample(s) taken again: %s", gets(r, "failures"),
		     gets(r, "first_failure"));
}

/* Is r a record of kind at where, on loop wl? */
static bool of_loop(const struct rec *r, const char *kind, const char *where,
		    const struct workload *wl)
{
	return is(r, "kind", kind) && !strcmp(gets(r, "where"), where) && workload_of(r) == wl;
}

void add_overhead_rows(const char *where)
{
	unsigned int k, i;

	for (k = 0; k < sizeof(workloads) / sizeof(workloads[0]); k++) {
		const struct workload *wl = &workloads[k];

		for (i = 0; i < nrecs; i++)
			if (of_loop(&recs[i], "loop", where, wl))
				row_loop(&recs[i], where);
		for (i = 0; i < nrecs; i++)
			if (of_loop(&recs[i], "overhead", where, wl))
				row_overhead(&recs[i], where, THROUGHPUT);
		/* the same records again (the n/a ones were shown once already) */
		for (i = 0; i < nrecs; i++)
			if (of_loop(&recs[i], "overhead", where, wl) &&
			    is(&recs[i], "status", "ok"))
				row_overhead(&recs[i], where, CPU);
	}
}
