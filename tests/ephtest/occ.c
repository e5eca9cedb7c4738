// SPDX-License-Identifier: GPL-2.0
/*
 * The occupancy scenarios: ephtrace top and status against what the kernel shows.
 *
 * The workload is split in roles (ephtest.h, workload.c), each a child of ephtest: the server
 * creates the network namespace (range, reserved ports, tcp_tw_reuse 0) and the holder, closer
 * or filler join it. The truth is the namespace's own /proc/PID/net/tcp (the kernel's
 * socket table, read independently of sock_diag, which ephtrace uses): established
 * connections to the holder's port and TIME_WAIT ones to the closer's. The snapshot must
 * agree with it, per destination and per process, and with the range in force.
 *
 * This file holds the run: the roles, the kernel's truth, ephtrace, and the driver that starts
 * them and prints the RESULT line; occ_check.c reads and checks a snapshot, occ_scn.c holds
 * occupancy-live, occupancy-late and status, occ_hist.c hist-fill (occ.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "occ.h"

/* The first reason wins. */
void occ_set_reason(struct occ_run *r, enum verdict v, const char *fmt, ...)
{
	va_list ap;

	if (r->verdict != PASS)
		return;
	r->verdict = v;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

void occ_problem(struct occ_run *r, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	buf_printf(&r->report, "  %s\n", line);
	occ_set_reason(r, FAIL, "%s", line);
	r->problems++;
}

static void print_indented(const char *title, const char *text, size_t len)
{
	const char *p = text, *end = text + len, *nl;

	if (!len)
		return;
	printf("  %s:\n", title);
	while (p < end) {
		nl = memchr(p, '\n', end - p);
		if (!nl)
			nl = end;
		printf("    %.*s\n", (int)(nl - p), p);
		p = nl + 1;
	}
}

static void write_file(const struct occ_opts *op, const char *scenario, const char *what,
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

/* ---- the roles ---- */

const char *const occ_role_comm[NR_ROLES] = { "eph-server", "eph-holder", "eph-closer" };

static int start_role(struct occ_run *r, int i, const char *comm, int (*run)(struct oracle *o))
{
	int err;

	err = workload__start_role(&r->w[i], r->s, comm, run, i ? r->w[ROLE_SERVER].pid : 0);
	if (r->nr_w < i + 1)
		r->nr_w = i + 1;
	if (err == -EAGAIN)
		occ_set_reason(r, SKIP, "%s", r->w[i].o->msg);
	else if (err)
		occ_set_reason(r, FAIL, "%s: %s", comm,
			       r->w[i].o ? r->w[i].o->msg : strerror(-err));
	return err;
}

/* Read ephtrace's output (if it runs) or sleep, for about ms. */
void occ_idle(struct occ_run *r, int ms)
{
	if (r->t_started && !r->t.exited)
		tracer__pump(&r->t, ms);
	else
		usleep(ms * 1000);
}

bool occ_role_died(struct occ_run *r, int i)
{
	char st[64];

	if (!workload__poll(&r->w[i]))
		return false;
	occ_set_reason(r, FAIL, "%s %d: %s: %s", r->w[i].o->comm, (int)r->w[i].pid,
		       status_text(r->w[i].status, st, sizeof(st)), r->w[i].o->msg);
	return true;
}

/* Wait until *flag is set by role i. */
int occ_wait_flag(struct occ_run *r, int i, const int32_t *flag, int timeout_ms, const char *what)
{
	int64_t deadline = now_ms() + timeout_ms;

	while (!__atomic_load_n(flag, __ATOMIC_SEQ_CST)) {
		if (occ_role_died(r, i))
			return -EIO;
		if (now_ms() > deadline) {
			occ_set_reason(
				r, FAIL, "%s: not %s within %d s (%u connections made)",
				r->w[i].o->comm, what, timeout_ms / 1000,
				__atomic_load_n(&r->w[i].o->prog.connected, __ATOMIC_SEQ_CST));
			return -ETIMEDOUT;
		}
		occ_idle(r, 20);
	}
	return 0;
}

/* Wait until role i exited 0. */
static int wait_exit(struct occ_run *r, int i, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	char st[64];

	while (!workload__poll(&r->w[i])) {
		if (now_ms() > deadline) {
			occ_set_reason(
				r, FAIL, "%s: did not finish within %d s (%u connections made)",
				r->w[i].o->comm, timeout_ms / 1000,
				__atomic_load_n(&r->w[i].o->prog.connected, __ATOMIC_SEQ_CST));
			return -ETIMEDOUT;
		}
		occ_idle(r, 20);
	}
	if (!WIFEXITED(r->w[i].status) || WEXITSTATUS(r->w[i].status)) {
		occ_set_reason(r, FAIL, "%s %d: %s: %s", r->w[i].o->comm, (int)r->w[i].pid,
			       status_text(r->w[i].status, st, sizeof(st)), r->w[i].o->msg);
		return -EIO;
	}
	return 0;
}

/* ---- the kernel's truth: /proc/PID/net/tcp of a process in the namespace ---- */

int occ_read_truth(const struct occ_run *r, struct truth *t)
{
	unsigned int laddr, lport, raddr, rport, st;
	uint32_t lo = htonl(INADDR_LOOPBACK);
	char path[64], line[512];
	FILE *f;

	memset(t, 0, sizeof(*t));
	snprintf(path, sizeof(path), "/proc/%d/net/tcp", (int)r->w[ROLE_SERVER].pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " %*u: %x:%x %x:%x %x", &laddr, &lport, &raddr, &rport, &st) != 5)
			continue; /* the header */
		if (raddr != lo || lport < r->s->range_lo || lport > r->s->range_hi)
			continue;
		if (rport == OCC_TW_PORT && st == 6) /* TCP_TIME_WAIT */
			t->tw++;
		else if (rport == OCC_TW_PORT && st == 5) /* TCP_FIN_WAIT2 */
			t->fw2++;
		else if (rport == OCC_TW_PORT)
			t->other++;
		else if (rport == OCC_HOLD_PORT && st == 1) /* TCP_ESTABLISHED */
			t->est++;
	}
	fclose(f);
	return 0;
}

/*
 * Once the closer exited, the server closes its side of each connection when it reads the
 * EOF: then the client's side is in TIME_WAIT. Wait for all of them, or for the count to
 * stand still (on some hosts a few leave TIME_WAIT early: the count is the truth, not 300).
 */
int occ_settle(struct occ_run *r, struct truth *t)
{
	int64_t start = now_ms(), since = start;
	unsigned int last = ~0u;
	int err;

	for (;;) {
		err = occ_read_truth(r, t);
		if (err) {
			occ_set_reason(r, FAIL, "reading /proc/%d/net/tcp: %s",
				       (int)r->w[ROLE_SERVER].pid, strerror(-err));
			return err;
		}
		if (t->tw != last) {
			last = t->tw;
			since = now_ms();
		}
		/* a side still in FIN_WAIT2 waits for the server's close (a busy machine) */
		if (t->tw == OCC_NR_TW || (!t->fw2 && now_ms() - since >= SETTLE_STABLE_MS) ||
		    now_ms() - start >= SETTLE_MAX_MS)
			break;
		occ_idle(r, 50);
	}
	if (t->est != OCC_NR_HOLD || t->tw < TW_MIN || t->tw > OCC_NR_TW) {
		occ_set_reason(
			r, FAIL,
			"workload: the kernel shows %u established to :%d (expected %d) and %u "
			"in TIME_WAIT to :%d (expected %d to %d; %u more in FIN_WAIT2, %u in "
			"another state)",
			t->est, OCC_HOLD_PORT, OCC_NR_HOLD, t->tw, OCC_TW_PORT, TW_MIN, OCC_NR_TW,
			t->fw2, t->other);
		return -EPROTO;
	}
	return 0;
}

/* Server, holder (all its connections made), closer (exited), TIME_WAIT settled. */
int occ_run_workload(struct occ_run *r, struct truth *t)
{
	int tmo = 5000 * r->op->timeout_s;

	workload__release(&r->w[ROLE_SERVER]);
	if (occ_wait_flag(r, ROLE_SERVER, &r->w[ROLE_SERVER].o->prog.listening, tmo, "listening"))
		return -EIO;
	workload__release(&r->w[ROLE_HOLDER]);
	if (occ_wait_flag(r, ROLE_HOLDER, &r->w[ROLE_HOLDER].o->prog.done, tmo, "connected"))
		return -EIO;
	workload__release(&r->w[ROLE_CLOSER]);
	if (wait_exit(r, ROLE_CLOSER, tmo))
		return -EIO;
	return occ_settle(r, t);
}

/* ---- ephtrace ---- */

/* Start ephtrace with args (after the binary); wait for "using backend" if attach. */
int occ_start_ephtrace(struct occ_run *r, const char *const *args, unsigned int flags, bool attach)
{
	char *argv[16], st[64];
	const char *found;
	int64_t deadline;
	int n = 0, err;

	argv[n++] = (char *)r->op->ephtrace;
	while (*args && n < 15)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	err = tracer__start_flags(&r->t, argv, flags);
	if (err) {
		occ_set_reason(r, FAIL, "cannot start %s: %s", r->op->ephtrace, strerror(-err));
		return err;
	}
	r->t_started = true;
	if (!attach)
		return 0;
	deadline = now_ms() + 1000LL * r->op->timeout_s;
	while (!tracer__attached(&r->t)) {
		if (r->t.exited && r->t.err_fd < 0 && r->t.out_fd < 0) {
			occ_set_reason(r, FAIL, "ephtrace did not attach (%s)",
				       status_text(r->t.status, st, sizeof(st)));
			return -EIO;
		}
		if (now_ms() > deadline) {
			occ_set_reason(r, FAIL,
				       "no \"using backend \" line from ephtrace within %d s",
				       r->op->timeout_s);
			return -ETIMEDOUT;
		}
		err = tracer__pump(&r->t, 100);
		if (err) {
			occ_set_reason(r, FAIL, "reading ephtrace's output: %s", strerror(-err));
			return err;
		}
	}
	found = strstr(buf_str(&r->t.err), "using backend ") + strlen("using backend ");
	snprintf(r->backend, sizeof(r->backend), "%.*s", (int)strcspn(found, " \n()"), found);
	return 0;
}

void occ_check_backend(struct occ_run *r)
{
	const char *want = r->op->expect_backend;

	if (!want && strcmp(r->op->backend, "auto"))
		want = r->op->backend;
	if (want && strcmp(want, r->backend))
		occ_problem(r, "expected backend %s got \"using backend %s\"", want, r->backend);
}

int occ_start_top(struct occ_run *r, bool once)
{
	const char *live[] = { "top",	    "--json",	    "-i", TOP_INTERVAL,
			       "--backend", r->op->backend, NULL };
	const char *one[] = { "top",	    "--json",	 "-n",		 "1", "-i",
			      TOP_INTERVAL, "--backend", r->op->backend, NULL };

	return occ_start_ephtrace(r, once ? one : live, 0, true);
}

/* SIGINT to top --json: it must exit 0. */
int occ_stop_top(struct occ_run *r)
{
	char st[64];
	int err;

	err = tracer__stop(&r->t, 1000 * r->op->timeout_s);
	if (err == -ETIMEDOUT)
		occ_set_reason(r, FAIL, "ephtrace did not exit within %d s of SIGINT",
			       r->op->timeout_s);
	else if (err)
		occ_set_reason(r, FAIL, "reading ephtrace's output: %s", strerror(-err));
	else if (!WIFEXITED(r->t.status) || WEXITSTATUS(r->t.status))
		occ_set_reason(r, FAIL, "expected ephtrace to exit 0 after SIGINT got %s",
			       status_text(r->t.status, st, sizeof(st)));
	return r->verdict == PASS ? 0 : -EIO;
}

/* A one-shot run (top -n 1, status): it must exit 0 on its own. */
int occ_wait_oneshot(struct occ_run *r, const char *what)
{
	char st[64];
	int err;

	err = tracer__wait(&r->t, 1000 * r->op->timeout_s);
	if (err == -ETIMEDOUT) {
		occ_set_reason(r, FAIL, "%s did not exit within %d s", what, r->op->timeout_s);
		return err;
	}
	if (err) {
		occ_set_reason(r, FAIL, "reading ephtrace's output: %s", strerror(-err));
		return err;
	}
	if (!WIFEXITED(r->t.status) || WEXITSTATUS(r->t.status)) {
		occ_set_reason(r, FAIL, "expected %s to exit 0 got %s", what,
			       status_text(r->t.status, st, sizeof(st)));
		return -EIO;
	}
	return 0;
}

/* ---- driver ---- */

static int start_roles(struct occ_run *r)
{
	if (start_role(r, ROLE_SERVER, occ_role_comm[ROLE_SERVER], occ_server))
		return -1;
	if (r->s->kind == SCN_HIST_FILL)
		return start_role(r, ROLE_HOLDER, "eph-filler", hf_filler);
	if (start_role(r, ROLE_HOLDER, occ_role_comm[ROLE_HOLDER], occ_holder) ||
	    start_role(r, ROLE_CLOSER, occ_role_comm[ROLE_CLOSER], occ_closer))
		return -1;
	return 0;
}

static void occ_run_free(struct occ_run *r)
{
	int i;

	tracer__free(&r->t);
	for (i = r->nr_w - 1; i >= 0; i--)
		workload__free(&r->w[i]);
	buf_free(&r->report);
	buf_free(&r->done);
}

static void report(struct occ_run *r, int64_t ms)
{
	const struct occ_opts *op = r->op;

	if (op->keep_dir && r->t_started) {
		write_file(op, r->s->name, "ephtrace.json", buf_str(&r->t.out));
		write_file(op, r->s->name, "ephtrace.stderr", buf_str(&r->t.err));
	}
	if (op->verbose && r->snap)
		print_indented("snapshot checked", r->snap, r->snap_len);
	if (r->report.len)
		printf("%s", buf_str(&r->report));
	if (r->t_started && (op->verbose || r->verdict == FAIL))
		print_indented("ephtrace stderr", buf_str(&r->t.err), r->t.err.len);
	if (r->verdict == PASS) {
		snprintf(r->reason, sizeof(r->reason), "%s", buf_str(&r->done));
	} else if (r->problems > 1) {
		char first[sizeof(r->reason)];

		snprintf(first, sizeof(first), "%s", r->reason);
		snprintf(r->reason, sizeof(r->reason), "%d problems, the first: %.400s",
			 r->problems, first);
	}
	printf("RESULT %s %s (%s) %lldms\n", r->s->name, verdict_name(r->verdict), r->reason,
	       (long long)ms);
	fflush(stdout);
}

enum verdict occ_scenario(const struct scenario *s, const struct occ_opts *op)
{
	struct occ_run r = { .s = s, .op = op, .verdict = PASS };
	int64_t t0 = now_ms();
	enum verdict v;

	if (!start_roles(&r)) {
		switch (s->kind) {
		case SCN_OCC_LIVE:
			occ_scenario_live(&r);
			break;
		case SCN_OCC_LATE:
			occ_scenario_late(&r);
			break;
		case SCN_OCC_STATUS:
			occ_scenario_status(&r);
			break;
		case SCN_HIST_FILL:
			occ_scenario_hist_fill(&r);
			break;
		default:
			occ_set_reason(&r, FAIL, "unknown scenario kind %d", s->kind);
		}
	}
	report(&r, now_ms() - t0);
	v = r.verdict;
	occ_run_free(&r);
	return v;
}

int occ_workload_only(const struct scenario *s, const struct occ_opts *op)
{
	struct occ_run r = { .s = s, .op = op, .verdict = PASS };
	int64_t t0 = now_ms();
	struct truth t;

	if (start_roles(&r))
		goto out;
	if (s->kind == SCN_HIST_FILL) {
		if (hf_demo(&r) && r.verdict == PASS)
			occ_set_reason(&r, FAIL, "see above");
		else if (r.verdict == PASS)
			buf_printf(&r.done, "%d phases shown, backend %s", HF_PHASES, r.backend);
		report(&r, now_ms() - t0);
		goto out;
	}
	if (!occ_run_workload(&r, &t))
		fprintf(stderr,
			"ephtest: %s netns %" PRIu64 ": %u established to :%d (holder %d), "
			"%u TIME_WAIT to :%d (closer %d), after %lld ms\n",
			s->name, r.w[ROLE_SERVER].o->netns, t.est, OCC_HOLD_PORT,
			(int)r.w[ROLE_HOLDER].pid, t.tw, OCC_TW_PORT, (int)r.w[ROLE_CLOSER].pid,
			(long long)(now_ms() - t0));
out:
	if (r.verdict != PASS)
		fprintf(stderr, "ephtest: %s %s: %s\n", s->name, verdict_name(r.verdict), r.reason);
	occ_run_free(&r);
	return r.verdict == PASS ? 0 : 1;
}
