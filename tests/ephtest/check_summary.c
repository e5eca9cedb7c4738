// SPDX-License-Identifier: GPL-2.0
/* The summary line, and the losses a preemptible kernel excuses (check.c). */
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

void check_summary(struct checker *c, unsigned int got_assigned)
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
bool check_skipped(struct checker *c)
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
