// SPDX-License-Identifier: GPL-2.0
/*
 * ephtest: run each scenario's workload with ephtrace alongside it and compare ephtrace's JSON
 * with what the kernel answered the workload. One "RESULT" line per scenario, then
 * "ephtest: N passed, M failed". Exit 0 only when every scenario passed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ephtest.h"
#include "opts.h"
#include "preempt.h"

#define COMM_TRACED "ephtest-comm"
#define COMM_DECOY "ephtest-decoy"

/* Everything one scenario run collects; freed by run_free(). */
struct run {
	const struct scenario *s;
	struct workload w[2];
	int nr_w;
	struct tracer t;
	bool t_started;
	struct check_out co;
	enum verdict verdict;
	char reason[512];
	char backend[32]; /* as ephtrace announced it */
};

static void set_reason(struct run *r, enum verdict v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The first FAIL reason wins; a later FAIL only adds to the count. */
static void set_reason(struct run *r, enum verdict v, const char *fmt, ...)
{
	va_list ap;

	if (r->verdict != PASS)
		return;
	r->verdict = v;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

static void print_indented(const char *title, const char *text)
{
	const char *p = text, *nl;

	if (!*text)
		return;
	printf("  %s:\n", title);
	while (*p) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		printf("    %.*s\n", (int)(nl - p), p);
		p = *nl ? nl + 1 : nl;
	}
}

static int start_workloads(struct run *r)
{
	const char *comm;
	int i, err;

	for (i = 0; i < r->s->nr_workloads; i++) {
		comm = NULL;
		if (r->s->filter == FILTER_COMM)
			comm = i == 0 ? COMM_TRACED : COMM_DECOY;
		err = workload__start(&r->w[i], r->s, comm);
		r->nr_w = i + 1;
		if (err == -EAGAIN) {
			set_reason(r, SKIP, "%s", r->w[i].o->msg);
			return err;
		}
		if (err) {
			set_reason(r, FAIL, "workload: %s",
				   r->w[i].o ? r->w[i].o->msg : strerror(-err));
			return err;
		}
	}
	return 0;
}

/* Release the workloads and wait for them, reading ephtrace's output meanwhile. */
static int run_workloads(struct run *r, const struct opts *op)
{
	int64_t deadline = now_ms() + 5000LL * op->timeout_s;
	char st[64], msg[256];
	bool all;
	int i;

	for (i = 0; i < r->nr_w; i++)
		workload__release(&r->w[i]);
	do {
		if (r->t_started)
			tracer__pump(&r->t, 20);
		else
			usleep(20000);
		all = true;
		for (i = 0; i < r->nr_w; i++)
			all &= workload__poll(&r->w[i]);
		if (!all && now_ms() > deadline) {
			set_reason(r, FAIL, "workload did not finish within %d s",
				   5 * op->timeout_s);
			return -ETIMEDOUT;
		}
	} while (!all);
	for (i = 0; i < r->nr_w; i++) {
		if (!WIFEXITED(r->w[i].status) || WEXITSTATUS(r->w[i].status)) {
			set_reason(r, FAIL, "workload %d: %s: %s", (int)r->w[i].pid,
				   status_text(r->w[i].status, st, sizeof(st)), r->w[i].o->msg);
			return -EIO;
		}
		if (oracle_premise(r->w[i].o, r->s, msg, sizeof(msg))) {
			set_reason(r, FAIL, "%s", msg);
			return -EPROTO;
		}
	}
	return 0;
}

static int start_tracer(struct run *r, const struct opts *op)
{
	static char pid_arg[16];
	char *argv[16], st[64];
	const char *found;
	int64_t deadline;
	int n = 0, err;

	argv[n++] = (char *)op->ephtrace;
	argv[n++] = "events";
	argv[n++] = "--json";
	argv[n++] = "--backend";
	argv[n++] = (char *)op->backend;
	snprintf(pid_arg, sizeof(pid_arg), "%d", (int)r->w[0].pid);
	if (r->s->filter == FILTER_COMM) {
		argv[n++] = "--comm";
		argv[n++] = COMM_TRACED;
	} else {
		argv[n++] = "-p";
		argv[n++] = pid_arg;
	}
	if (r->s->filter == FILTER_V4)
		argv[n++] = "-4";
	if (r->s->filter == FILTER_V6)
		argv[n++] = "-6";
	if (r->s->releases)
		argv[n++] = "--releases";
	if (r->s->ringbuf_size) {
		argv[n++] = "--ringbuf-size";
		argv[n++] = (char *)r->s->ringbuf_size;
	}
	argv[n] = NULL;

	err = tracer__start(&r->t, argv);
	if (err) {
		set_reason(r, FAIL, "cannot start %s: %s", op->ephtrace, strerror(-err));
		return err;
	}
	r->t_started = true;
	deadline = now_ms() + 1000LL * op->timeout_s;
	while (!tracer__attached(&r->t)) {
		if (r->t.exited && r->t.err_fd < 0 && r->t.out_fd < 0) {
			set_reason(r, FAIL, "ephtrace did not attach (%s)",
				   status_text(r->t.status, st, sizeof(st)));
			return -EIO;
		}
		if (now_ms() > deadline) {
			set_reason(r, FAIL, "no \"using backend \" line from ephtrace within %d s",
				   op->timeout_s);
			return -ETIMEDOUT;
		}
		err = tracer__pump(&r->t, 100);
		if (err) {
			set_reason(r, FAIL, "reading ephtrace's output: %s", strerror(-err));
			return err;
		}
	}
	found = strstr(buf_str(&r->t.err), "using backend ") + strlen("using backend ");
	snprintf(r->backend, sizeof(r->backend), "%.*s", (int)strcspn(found, " \n()"), found);
	if (getenv("EPH_TEST_PERFBUF") && !strstr(found, "records through the perf buffer"))
		set_reason(r, FAIL, "EPH_TEST_PERFBUF=1 but ephtrace did not say it used the perf "
			   "buffer");
	if (getenv("EPH_TEST_NESTED") && !strstr(buf_str(&r->t.err), "EPH_TEST_NESTED=1: the"))
		set_reason(r, FAIL, "EPH_TEST_NESTED=1 but ephtrace did not say its twins work");
	return 0;
}

static int stop_tracer(struct run *r, const struct opts *op)
{
	char st[64];
	int err;

	err = tracer__stop(&r->t, 1000 * op->timeout_s);
	if (err == -ETIMEDOUT) {
		set_reason(r, FAIL, "ephtrace did not exit within %d s of SIGINT", op->timeout_s);
		return err;
	}
	if (err) {
		set_reason(r, FAIL, "reading ephtrace's output: %s", strerror(-err));
		return err;
	}
	if (!WIFEXITED(r->t.status) || WEXITSTATUS(r->t.status)) {
		set_reason(r, FAIL, "expected ephtrace to exit 0 after SIGINT got %s",
			   status_text(r->t.status, st, sizeof(st)));
		return -EIO;
	}
	return 0;
}

static int compare(struct run *r, const struct opts *op)
{
	struct check_in in = {
		.o = r->w[0].o,
		.pid = r->w[0].pid,
		.family = r->s->filter == FILTER_V4 ? AF_INET :
			  r->s->filter == FILTER_V6 ? AF_INET6 :
						      0,
		.backend = r->backend,
		.burst = r->s->burst,
		.preempted = !strcmp(r->backend, "fentry") && eph_kernel_preempts_progs(NULL, 0),
		.releases = r->s->releases,
		.blind = backend_blind(r->backend),
		.no_send_dest = strstr(buf_str(&r->t.err), "without bpf_task_pt_regs()") != NULL,
		.json = buf_str(&r->t.out),
	};
	const char *want;
	pid_t others[2];
	int i, err;

	for (i = 1; i < r->nr_w; i++)
		others[in.nr_others++] = r->w[i].pid;
	in.others = others;
	want = op->expect_backend	   ? op->expect_backend :
	       strcmp(op->backend, "auto") ? op->backend :
					     NULL;
	if (want && strcmp(want, r->backend)) {
		buf_printf(&r->co.report, "  expected backend %s got \"using backend %s\"\n", want,
			   r->backend);
		set_reason(r, FAIL, "ephtrace attached backend %s, not %s", r->backend, want);
	}
	err = check_run(&in, &r->co);
	if (err) {
		set_reason(r, FAIL, "comparing: %s", strerror(-err));
		return err;
	}
	if (r->co.problems) {
		/* the first one, so that a log's last lines say what went wrong */
		const char *first = buf_str(&r->co.report), *nl;

		first += strspn(first, " ");
		nl = strchr(first, '\n');
		set_reason(r, FAIL, "%d mismatch%s against the oracle, first: %.*s", r->co.problems,
			   r->co.problems == 1 ? "" : "es",
			   (int)(nl ? nl - first : (ptrdiff_t)strlen(first)), first);
	}
	return 0;
}

static void write_file(const struct opts *op, const char *scenario, const char *what,
		       const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.%s", op->keep_dir, scenario, what);
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "ephtest: cannot write %s: %s\n", path, strerror(errno));
		return;
	}
	fputs(text, f);
	fclose(f);
}

static void report(struct run *r, const struct opts *op, int64_t ms)
{
	struct buf oracle = {}, tally = {};
	int i;

	for (i = 0; i < r->nr_w; i++)
		if (r->w[i].o)
			oracle_to_json(r->w[i].o, r->w[i].pid, &oracle);
	if (op->keep && op->keep_dir[0]) {
		write_file(op, r->s->name, "oracle.json", buf_str(&oracle));
		if (r->t_started) {
			write_file(op, r->s->name, "ephtrace.json", buf_str(&r->t.out));
			write_file(op, r->s->name, "ephtrace.stderr", buf_str(&r->t.err));
		}
	}
	if (op->verbose) {
		print_indented("oracle (what the kernel returned)", buf_str(&oracle));
		if (r->t_started)
			print_indented("ephtrace stdout", buf_str(&r->t.out));
	}
	if (r->co.report.len)
		printf("%s", buf_str(&r->co.report));
	if (r->t_started && (op->verbose || r->verdict == FAIL))
		print_indented("ephtrace stderr", buf_str(&r->t.err));
	if (r->verdict == PASS) {
		oracle_tally(r->w[0].o,
			     r->s->filter == FILTER_V4 ? AF_INET :
			     r->s->filter == FILTER_V6 ? AF_INET6 :
							 0,
			     &tally);
		if (r->co.dropped > 0)
			buf_printf(&tally, "; %lld dropped and counted", r->co.dropped);
		if (r->co.missed > 0)
			buf_printf(&tally, " (%lld runs skipped by the kernel, %u events lost)",
				   r->co.missed, r->co.lost);
		if (r->co.unseen)
			buf_printf(&tally,
				   "; %u bind()/UDP failures and UDP connect()s not expected "
				   "and none reported (cgroup backend without --exact-errors)",
				   r->co.unseen);
		snprintf(r->reason, sizeof(r->reason), "%s", buf_str(&tally));
	}
	printf("RESULT %s %s (%s) %lldms\n", r->s->name, verdict_name(r->verdict), r->reason,
	       (long long)ms);
	fflush(stdout);
	buf_free(&tally);
	buf_free(&oracle);
}

static void run_free(struct run *r)
{
	int i;

	tracer__free(&r->t);
	for (i = 0; i < r->nr_w; i++)
		workload__free(&r->w[i]);
	check_out_free(&r->co);
}

static void occ_opts_from(const struct opts *op, struct occ_opts *oo)
{
	*oo = (struct occ_opts){
		.ephtrace = op->ephtrace,
		.backend = op->backend,
		.expect_backend = op->expect_backend,
		.timeout_s = op->timeout_s,
		.verbose = op->verbose,
		.keep_dir = op->keep && op->keep_dir[0] ? op->keep_dir : NULL,
	};
}

static enum verdict run_scenario(const struct scenario *s, const struct opts *op)
{
	int64_t t0 = now_ms();
	struct run r = { .s = s, .verdict = PASS };
	struct occ_opts oo;
	enum verdict v;

	printf("== %s: %s\n", s->name, s->desc);
	fflush(stdout);
	if (s->exact_errors_only &&
	    backend_blind(op->expect_backend ? op->expect_backend : op->backend)) {
		printf("RESULT %s SKIP (the cgroup backend sees bind() and UDP failures and UDP "
		       "connect() with --exact-errors only: run with --exact-errors) 0ms\n",
		       s->name);
		return SKIP;
	}
	if (s->kind == SCN_DRIVEN) {
		occ_opts_from(op, &oo);
		return s->drive(s, &oo);
	}
	if (s->kind == SCN_HEADROOM) {
		occ_opts_from(op, &oo);
		return headroom_scenario(s, &oo);
	}
	if (s->kind != SCN_EVENTS) {
		occ_opts_from(op, &oo);
		return occ_scenario(s, &oo);
	}
	if (start_workloads(&r))
		goto out;
	if (start_tracer(&r, op))
		goto out;
	run_workloads(&r, op);
	if (stop_tracer(&r, op) && !r.t.exited)
		goto out;
	compare(&r, op);
out:
	report(&r, op, now_ms() - t0);
	v = r.verdict;
	run_free(&r);
	return v;
}

/* --workload-only: the oracle alone, as JSON lines on stdout; counts on stderr. */
static int workload_only(const struct scenario *s, const struct opts *op)
{
	struct run r = { .s = s, .verdict = PASS };
	struct buf out = {}, tally = {};
	struct occ_opts oo;
	int i;

	if (s->kind == SCN_DRIVEN) {
		fprintf(stderr, "ephtest: %s has no --workload-only (it runs in steps with top)\n",
			s->name);
		return 2;
	}
	if (s->kind == SCN_HEADROOM) {
		occ_opts_from(op, &oo);
		return headroom_workload_only(s, &oo);
	}
	if (s->kind != SCN_EVENTS) {
		occ_opts_from(op, &oo);
		return occ_workload_only(s, &oo);
	}
	if (!start_workloads(&r))
		run_workloads(&r, op);
	for (i = 0; i < r.nr_w; i++) {
		const struct oracle *o = r.w[i].o;

		if (!o)
			continue;
		oracle_to_json(o, r.w[i].pid, &out);
		tally.len = 0;
		oracle_tally(o, 0, &tally);
		fprintf(stderr, "ephtest: %s pid %d netns %llu: %s\n", s->name, (int)r.w[i].pid,
			(unsigned long long)o->netns, buf_str(&tally));
	}
	fputs(buf_str(&out), stdout);
	if (r.verdict != PASS)
		fprintf(stderr, "ephtest: %s %s: %s\n", s->name, verdict_name(r.verdict), r.reason);
	buf_free(&tally);
	buf_free(&out);
	run_free(&r);
	return r.verdict == PASS ? 0 : 1;
}

struct tally {
	unsigned int passed, failed, skipped;
};

static void count_verdict(enum verdict v, struct tally *n)
{
	if (v == PASS)
		n->passed++;
	else if (v == SKIP)
		n->skipped++;
	else
		n->failed++;
}

int main(int argc, char **argv)
{
	struct opts op = { .ephtrace = "./ephtrace", .backend = "auto", .timeout_s = 60 };
	struct tally n = {};
	unsigned int k;
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (parse_opts(argc, argv, &op))
		return 2;
	hr_random_draw(op.seeded ? op.seed : hr_random_seed());
	if (op.workload_only)
		return workload_only(scenario_find(op.workload_only), &op);
	if (op.keep)
		make_keep_dir(&op);
	for (i = 0; i < nr_scenarios; i++) {
		if (!selected(&op, scenarios[i].name))
			continue;
		count_verdict(run_scenario(&scenarios[i], &op), &n);
		/* --states: more of headroom-random's states, each drawn anew */
		for (k = 1; scenarios[i].hr == &hr_case_random && k < op.states; k++) {
			hr_random_draw(op.seeded ? op.seed + k : hr_random_seed());
			count_verdict(run_scenario(&scenarios[i], &op), &n);
		}
	}
	if (op.then_exact && !tracer_extra_arg) {
		printf("ephtest: again with --exact-errors, what was skipped for want of it\n");
		tracer_extra_arg = "--exact-errors";
	} else {
		op.then_exact = false;
	}
	for (i = 0; op.then_exact && i < nr_scenarios; i++) {
		if (!selected(&op, scenarios[i].name) ||
		    !(scenarios[i].exact_errors_only || scenarios[i].partly_blind))
			continue;
		count_verdict(run_scenario(&scenarios[i], &op), &n);
	}
	if (op.keep && op.keep_dir[0])
		printf("ephtest: files kept in %s\n", op.keep_dir);
	if (n.skipped)
		printf("ephtest: %u skipped\n", n.skipped);
	printf("ephtest: %u passed, %u failed\n", n.passed, n.failed);
	return n.failed || !n.passed ? 1 : 0;
}
