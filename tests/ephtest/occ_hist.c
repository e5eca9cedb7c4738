// SPDX-License-Identifier: GPL-2.0
/*
 * hist-fill (occ.c tells the whole story of its roles): hist --json while the filler fills a
 * range a quarter at a time, then fails; per phase, the intervals that cover it must count the
 * connects the kernel made and refused, and the mean port search must grow over the range's
 * second half. And its --workload-only demo: `ephtrace hist` per phase, what README shows.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "occ.h"

/* ---- hist-fill ---- */

#define HF_INTERVAL "0.25"
#define HF_GROWTH 2.0 /* mean search, second half of the range vs first: at least this */

/* connect()'s port search, IPv4 TCP, by result: count and sum (ns). */
struct hf_tally {
	double ok, ok_sum;
	double fail, fail_sum; /* EADDRNOTAVAIL */
	double other;	       /* another family, protocol or errno */
};

/* What the filler's records [from, to) say the kernel did. */
static void hf_truth(const struct oracle *o, uint32_t from, uint32_t to, struct hf_tally *t)
{
	uint32_t i;

	memset(t, 0, sizeof(*t));
	for (i = from; i < to && i < ORACLE_MAX; i++) {
		if (o->rec[i].op != OP_CONNECT)
			continue;
		if (!o->rec[i].err)
			t->ok++;
		else if (o->rec[i].err == EADDRNOTAVAIL)
			t->fail++;
		else
			t->other++;
	}
}

/* Add one interval's connect_search histograms to t. */
static int hf_add(struct occ_run *r, json_object *snap, struct hf_tally *t)
{
	json_object *a = jarr(snap, "histograms"), *h;
	size_t i, n = a ? json_object_array_length(a) : 0;
	double count, sum;

	if (!a) {
		occ_problem(r, "expected a \"histograms\" array in each hist --json line got none");
		return -1;
	}
	for (i = 0; i < n; i++) {
		h = json_object_array_get_idx(a, i);
		if (!occ_str_is(h, "kind", "connect_search"))
			continue;
		if (jnum(h, "count", &count) != 1 || jnum(h, "sum", &sum) != 1) {
			occ_problem(r, "expected numbers \"count\" and \"sum\" got %s",
				    json_object_to_json_string(h));
			return -1;
		}
		if (!occ_str_is(h, "proto", "tcp") || !occ_str_is(h, "family", "ipv4")) {
			t->other += count;
		} else if (occ_str_is(h, "result", "ok")) {
			t->ok += count;
			t->ok_sum += sum;
		} else if (occ_str_is(h, "result", "EADDRNOTAVAIL")) {
			t->fail += count;
			t->fail_sum += sum;
		} else {
			t->other += count;
		}
	}
	return 0;
}

/* Sum the intervals up to the first one read after after_ns (wall): all of one phase. */
static int hf_collect(struct occ_run *r, size_t *off, int64_t after_ns, struct hf_tally *t)
{
	int64_t deadline = now_ms() + 1000LL * r->op->timeout_s, when;
	const char *line;
	json_object *snap;
	size_t len;
	int err;

	memset(t, 0, sizeof(*t));
	for (;;) {
		line = next_line(&r->t.out, off, &len);
		if (!line) {
			if (now_ms() > deadline || (r->t.exited && r->t.out_fd < 0)) {
				occ_set_reason(r, FAIL, "no hist --json interval within %d s",
					       r->op->timeout_s);
				return -ETIMEDOUT;
			}
			tracer__pump(&r->t, 50);
			continue;
		}
		occ_keep_snapshot(r, line, len);
		snap = occ_parse_snapshot(r, line, len);
		if (!snap)
			return -EIO;
		when = parse_time(jstr(snap, "time"));
		err = hf_add(r, snap, t);
		json_object_put(snap);
		if (err)
			return err;
		if (when < 0) {
			occ_problem(r, "expected an RFC 3339 \"time\" in each interval");
			return -EIO;
		}
		if (when > after_ns)
			return 0;
	}
}

/* Let the filler run phase p and wait until it is done. */
static int hf_phase(struct occ_run *r, int p)
{
	struct oracle *o = r->w[ROLE_HOLDER].o;
	int tmo = 5000 * r->op->timeout_s;
	int64_t deadline = now_ms() + tmo;

	__atomic_store_n(&o->prog.go, p, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&o->prog.phase, __ATOMIC_SEQ_CST) < p) {
		if (occ_role_died(r, ROLE_HOLDER))
			return -EIO;
		if (now_ms() > deadline) {
			occ_set_reason(r, FAIL, "filler: phase %d not done within %d s", p,
				       tmo / 1000);
			return -ETIMEDOUT;
		}
		occ_idle(r, 20);
	}
	return 0;
}

static double hf_mean_us(double sum, double count)
{
	return count ? sum / count / 1000 : 0;
}

/*
 * hist --json every HF_INTERVAL s while the filler fills the range a quarter at a time, then
 * fails HF_FAILS times. Per phase, the intervals that cover it (an interval's time is when the
 * kernel's maps were read) must count exactly the connects the kernel made and refused; with
 * fentry and kprobe, the mean search over the range's second half must be HF_GROWTH times the
 * first half's (connect() tries even ports first: once they are gone, every search walks them).
 * The tracepoint backend sees no successful search (nothing to count there) but times the
 * failed ones.
 */
void occ_scenario_hist_fill(struct occ_run *r)
{
	const char *args[] = { "hist",	    "--json",	    "-i", HF_INTERVAL,
			       "--backend", r->op->backend, NULL };
	int tmo = 5000 * r->op->timeout_s;
	struct oracle *o = r->w[ROLE_HOLDER].o;
	struct hf_tally got[HF_PHASES], want;
	double first, second;
	bool timed_ok;
	uint32_t from;
	size_t off = 0;
	int p;

	workload__release(&r->w[ROLE_SERVER]);
	if (occ_wait_flag(r, ROLE_SERVER, &r->w[ROLE_SERVER].o->prog.listening, tmo, "listening"))
		return;
	if (occ_start_ephtrace(r, args, 0, true))
		return;
	/* the syscall tracepoints see no port search (nor do their stand-ins: --stand-in) */
	timed_ok = strcmp(r->backend, "tracepoint") && !stand_in_group(EPH_STANDIN_TCP_CONNECT);
	workload__release(&r->w[ROLE_HOLDER]);
	/* an interval read once the filler is waiting: what came before is not the filler's */
	if (hf_collect(r, &off, wall_ns(), &got[0]))
		return;
	for (p = 1; p <= HF_PHASES; p++) {
		struct hf_tally *g = &got[p - 1];

		from = __atomic_load_n(&o->n, __ATOMIC_SEQ_CST);
		if (hf_phase(r, p))
			return;
		hf_truth(o, from, __atomic_load_n(&o->n, __ATOMIC_SEQ_CST), &want);
		if (hf_collect(r, &off, wall_ns(), g))
			return;
		if (g->ok != (timed_ok ? want.ok : 0) || g->fail != want.fail || g->other)
			occ_problem(
				r,
				"phase %d: expected connect_search ok %.0f, EADDRNOTAVAIL %.0f, "
				"other 0 got %.0f, %.0f, %.0f (kernel: %.0f connected, %.0f "
				"EADDRNOTAVAIL)",
				p, timed_ok ? want.ok : 0, want.fail, g->ok, g->fail, g->other,
				want.ok, want.fail);
	}
	if (timed_ok) {
		buf_printf(&r->done, "mean search per quarter ");
		for (p = 0; p < HF_PHASES - 1; p++)
			buf_printf(&r->done, "%s%.1f", p ? "/" : "",
				   hf_mean_us(got[p].ok_sum, got[p].ok));
		buf_printf(&r->done, " us (%.0f connects each), ", got[0].ok);
		first = got[0].ok + got[1].ok ?
				(got[0].ok_sum + got[1].ok_sum) / (got[0].ok + got[1].ok) :
				0;
		second = got[2].ok + got[3].ok ?
				 (got[2].ok_sum + got[3].ok_sum) / (got[2].ok + got[3].ok) :
				 0;
		if (!first || !(second >= HF_GROWTH * first))
			occ_problem(r,
				    "expected the mean port search of the range's second half at "
				    "least %.0f times the first half's got %.1f us vs %.1f us",
				    HF_GROWTH, second / 1000, first / 1000);
	} else {
		buf_printf(&r->done, "no successful search timed on this backend (growth not "
				     "checked), ");
	}
	buf_printf(&r->done, "%.0f EADDRNOTAVAIL at %.1f us mean; backend %s",
		   got[HF_PHASES - 1].fail,
		   hf_mean_us(got[HF_PHASES - 1].fail_sum, got[HF_PHASES - 1].fail), r->backend);
	occ_check_backend(r);
	occ_stop_top(r);
}

/*
 * --workload-only hist-fill: `ephtrace hist` (text) for each phase, stopped with SIGINT once
 * the phase is done, so that each printout is that phase alone. What README shows.
 */
int hf_demo(struct occ_run *r)
{
	const char *args[] = { "hist", "-i", "3600", "--backend", r->op->backend, NULL };
	int tmo = 5000 * r->op->timeout_s;
	struct oracle *o = r->w[ROLE_HOLDER].o;
	int p;

	workload__release(&r->w[ROLE_SERVER]);
	if (occ_wait_flag(r, ROLE_SERVER, &r->w[ROLE_SERVER].o->prog.listening, tmo, "listening"))
		return -1;
	workload__release(&r->w[ROLE_HOLDER]);
	for (p = 1; p <= HF_PHASES; p++) {
		uint32_t before = __atomic_load_n(&o->prog.connected, __ATOMIC_SEQ_CST);

		if (r->t_started) {
			tracer__free(&r->t);
			memset(&r->t, 0, sizeof(r->t));
			r->t_started = false;
		}
		if (occ_start_ephtrace(r, args, 0, true))
			return -1;
		if (hf_phase(r, p) || occ_stop_top(r))
			return -1;
		if (p < HF_PHASES)
			printf("# quarter %d: %u connections to 127.0.0.1:%d with %u of %u ports "
			       "already held\n",
			       p, HF_QUARTER, OCC_HOLD_PORT, before, 4 * HF_QUARTER);
		else
			printf("# then %d more connections: the range is full\n", HF_FAILS);
		printf("$ ephtrace hist   # Ctrl-C at the end of the phase\n%s\n",
		       buf_str(&r->t.out));
		fflush(stdout);
	}
	return 0;
}
