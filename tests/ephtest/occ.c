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
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ephtest.h"

#define ROLE_SERVER 0
#define ROLE_HOLDER 1 /* also hist-fill's filler */
#define ROLE_CLOSER 2
#define NR_ROLES 3

#define TW_MIN 200	      /* the scenario happened: most of the OCC_NR_TW are in TIME_WAIT */
#define SETTLE_STABLE_MS 2000 /* TIME_WAIT count unchanged this long: settled */
#define SETTLE_MAX_MS 20000   /* TIME_WAIT lasts 60 s: the snapshot must come well before */
#define TOP_INTERVAL "0.5"
#define SNAP_TRIES 3  /* snapshots tried while the kernel's count moves under them */
#define SHOW_MAX 6000 /* characters of a snapshot shown under a problem */
/* top resyncs with sock_diag every 5 s (its default --resync), at its first refresh after that */
#define TP_RESYNC_WAIT_NS 6000000000LL

struct truth {
	unsigned int tw;    /* TIME_WAIT, from a port in range to 127.0.0.1:OCC_TW_PORT */
	unsigned int est;   /* ESTABLISHED, from a port in range to 127.0.0.1:OCC_HOLD_PORT */
	unsigned int fw2;   /* FIN_WAIT2 to :OCC_TW_PORT: the server has not closed its side yet */
	unsigned int other; /* to :OCC_TW_PORT in any other state */
};

struct occ_run {
	const struct scenario *s;
	const struct occ_opts *op;
	struct workload w[NR_ROLES];
	int nr_w;
	struct tracer t;
	bool t_started;
	enum verdict verdict;
	char reason[512];
	struct buf report; /* "expected X got Y" lines and the offending JSON */
	int problems;
	struct buf done;  /* what a PASS says */
	char backend[32]; /* as ephtrace announced it */
	const char *snap; /* the snapshot line checked */
	size_t snap_len;
};

static void set_reason(struct occ_run *r, enum verdict v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The first reason wins. */
static void set_reason(struct occ_run *r, enum verdict v, const char *fmt, ...)
{
	va_list ap;

	if (r->verdict != PASS)
		return;
	r->verdict = v;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

static void problem(struct occ_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct occ_run *r, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	buf_printf(&r->report, "  %s\n", line);
	set_reason(r, FAIL, "%s", line);
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

static const char *const role_comm[NR_ROLES] = { "eph-server", "eph-holder", "eph-closer" };

static int start_role(struct occ_run *r, int i, const char *comm, int (*run)(struct oracle *o))
{
	int err;

	err = workload__start_role(&r->w[i], r->s, comm, run, i ? r->w[ROLE_SERVER].pid : 0);
	if (r->nr_w < i + 1)
		r->nr_w = i + 1;
	if (err == -EAGAIN)
		set_reason(r, SKIP, "%s", r->w[i].o->msg);
	else if (err)
		set_reason(r, FAIL, "%s: %s", comm, r->w[i].o ? r->w[i].o->msg : strerror(-err));
	return err;
}

/* Read ephtrace's output (if it runs) or sleep, for about ms. */
static void idle(struct occ_run *r, int ms)
{
	if (r->t_started && !r->t.exited)
		tracer__pump(&r->t, ms);
	else
		usleep(ms * 1000);
}

static bool role_died(struct occ_run *r, int i)
{
	char st[64];

	if (!workload__poll(&r->w[i]))
		return false;
	set_reason(r, FAIL, "%s %d: %s: %s", r->w[i].o->comm, (int)r->w[i].pid,
		   status_text(r->w[i].status, st, sizeof(st)), r->w[i].o->msg);
	return true;
}

/* Wait until *flag is set by role i. */
static int wait_flag(struct occ_run *r, int i, const int32_t *flag, int timeout_ms,
		     const char *what)
{
	int64_t deadline = now_ms() + timeout_ms;

	while (!__atomic_load_n(flag, __ATOMIC_SEQ_CST)) {
		if (role_died(r, i))
			return -EIO;
		if (now_ms() > deadline) {
			set_reason(r, FAIL, "%s: not %s within %d s (%u connections made)",
				   r->w[i].o->comm, what, timeout_ms / 1000,
				   __atomic_load_n(&r->w[i].o->prog.connected, __ATOMIC_SEQ_CST));
			return -ETIMEDOUT;
		}
		idle(r, 20);
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
			set_reason(r, FAIL, "%s: did not finish within %d s (%u connections made)",
				   r->w[i].o->comm, timeout_ms / 1000,
				   __atomic_load_n(&r->w[i].o->prog.connected, __ATOMIC_SEQ_CST));
			return -ETIMEDOUT;
		}
		idle(r, 20);
	}
	if (!WIFEXITED(r->w[i].status) || WEXITSTATUS(r->w[i].status)) {
		set_reason(r, FAIL, "%s %d: %s: %s", r->w[i].o->comm, (int)r->w[i].pid,
			   status_text(r->w[i].status, st, sizeof(st)), r->w[i].o->msg);
		return -EIO;
	}
	return 0;
}

/* ---- the kernel's truth: /proc/PID/net/tcp of a process in the namespace ---- */

static int read_truth(const struct occ_run *r, struct truth *t)
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
static int settle(struct occ_run *r, struct truth *t)
{
	int64_t start = now_ms(), since = start;
	unsigned int last = ~0u;
	int err;

	for (;;) {
		err = read_truth(r, t);
		if (err) {
			set_reason(r, FAIL, "reading /proc/%d/net/tcp: %s",
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
		idle(r, 50);
	}
	if (t->est != OCC_NR_HOLD || t->tw < TW_MIN || t->tw > OCC_NR_TW) {
		set_reason(r, FAIL,
			   "workload: the kernel shows %u established to :%d (expected %d) and %u "
			   "in TIME_WAIT to :%d (expected %d to %d; %u more in FIN_WAIT2, %u in "
			   "another state)",
			   t->est, OCC_HOLD_PORT, OCC_NR_HOLD, t->tw, OCC_TW_PORT, TW_MIN,
			   OCC_NR_TW, t->fw2, t->other);
		return -EPROTO;
	}
	return 0;
}

/* Server, holder (all its connections made), closer (exited), TIME_WAIT settled. */
static int run_workload(struct occ_run *r, struct truth *t)
{
	int tmo = 5000 * r->op->timeout_s;

	workload__release(&r->w[ROLE_SERVER]);
	if (wait_flag(r, ROLE_SERVER, &r->w[ROLE_SERVER].o->prog.listening, tmo, "listening"))
		return -EIO;
	workload__release(&r->w[ROLE_HOLDER]);
	if (wait_flag(r, ROLE_HOLDER, &r->w[ROLE_HOLDER].o->prog.done, tmo, "connected"))
		return -EIO;
	workload__release(&r->w[ROLE_CLOSER]);
	if (wait_exit(r, ROLE_CLOSER, tmo))
		return -EIO;
	return settle(r, t);
}

/* ---- ephtrace ---- */

/* Start ephtrace with args (after the binary); wait for "using backend" if attach. */
static int start_ephtrace(struct occ_run *r, const char *const *args, unsigned int flags,
			  bool attach)
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
		set_reason(r, FAIL, "cannot start %s: %s", r->op->ephtrace, strerror(-err));
		return err;
	}
	r->t_started = true;
	if (!attach)
		return 0;
	deadline = now_ms() + 1000LL * r->op->timeout_s;
	while (!tracer__attached(&r->t)) {
		if (r->t.exited && r->t.err_fd < 0 && r->t.out_fd < 0) {
			set_reason(r, FAIL, "ephtrace did not attach (%s)",
				   status_text(r->t.status, st, sizeof(st)));
			return -EIO;
		}
		if (now_ms() > deadline) {
			set_reason(r, FAIL, "no \"using backend \" line from ephtrace within %d s",
				   r->op->timeout_s);
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
	return 0;
}

static void check_backend(struct occ_run *r)
{
	const char *want = r->op->expect_backend;

	if (!want && strcmp(r->op->backend, "auto"))
		want = r->op->backend;
	if (want && strcmp(want, r->backend))
		problem(r, "expected backend %s got \"using backend %s\"", want, r->backend);
}

static int start_top(struct occ_run *r, bool once)
{
	const char *live[] = { "top",	    "--json",	    "-i", TOP_INTERVAL,
			       "--backend", r->op->backend, NULL };
	const char *one[] = { "top",	    "--json",	 "-n",		 "1", "-i",
			      TOP_INTERVAL, "--backend", r->op->backend, NULL };

	return start_ephtrace(r, once ? one : live, 0, true);
}

/* SIGINT to top --json: it must exit 0. */
static int stop_top(struct occ_run *r)
{
	char st[64];
	int err;

	err = tracer__stop(&r->t, 1000 * r->op->timeout_s);
	if (err == -ETIMEDOUT)
		set_reason(r, FAIL, "ephtrace did not exit within %d s of SIGINT",
			   r->op->timeout_s);
	else if (err)
		set_reason(r, FAIL, "reading ephtrace's output: %s", strerror(-err));
	else if (!WIFEXITED(r->t.status) || WEXITSTATUS(r->t.status))
		set_reason(r, FAIL, "expected ephtrace to exit 0 after SIGINT got %s",
			   status_text(r->t.status, st, sizeof(st)));
	return r->verdict == PASS ? 0 : -EIO;
}

/* A one-shot run (top -n 1, status): it must exit 0 on its own. */
static int wait_oneshot(struct occ_run *r, const char *what)
{
	char st[64];
	int err;

	err = tracer__wait(&r->t, 1000 * r->op->timeout_s);
	if (err == -ETIMEDOUT) {
		set_reason(r, FAIL, "%s did not exit within %d s", what, r->op->timeout_s);
		return err;
	}
	if (err) {
		set_reason(r, FAIL, "reading ephtrace's output: %s", strerror(-err));
		return err;
	}
	if (!WIFEXITED(r->t.status) || WEXITSTATUS(r->t.status)) {
		set_reason(r, FAIL, "expected %s to exit 0 got %s", what,
			   status_text(r->t.status, st, sizeof(st)));
		return -EIO;
	}
	return 0;
}

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

static bool str_is(json_object *o, const char *key, const char *want)
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
		    p == dport && str_is(e, "proto", "tcp") && str_is(e, "family", "ipv4") &&
		    str_is(e, "saddr", "127.0.0.1") && str_is(e, "daddr", "127.0.0.1"))
			return e;
	}
	return NULL;
}

/* pid 0: the entry of unknown owner (pid null). */
static json_object *find_proc(json_object *snap, pid_t pid)
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

/* The expectations on one object of a snapshot; the object is shown under its problems. */
struct expect {
	struct occ_run *r;
	const char *what;
	json_object *obj;
	int problems;
};

static void ex_begin(struct expect *x, struct occ_run *r, const char *what, json_object *obj)
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
	problem(x->r, "%s: %s", x->what, line);
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

static void ex_num(struct expect *x, const char *key, double want)
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

static void ex_bool(struct expect *x, const char *key, bool want)
{
	json_object *v = NULL;

	if (json_object_object_get_ex(x->obj, key, &v) &&
	    json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v) == want)
		return;
	ex_problem(x, "expected %s %s got %s", key, want ? "true" : "false",
		   v ? json_object_to_json_string(v) : "none");
}

static void ex_str(struct expect *x, const char *key, const char *want)
{
	const char *s = jstr(x->obj, key);

	if (!s || strcmp(s, want))
		ex_problem(x, "expected %s \"%s\" got %s%s%s", key, want, s ? "\"" : "",
			   s ? s : "none", s ? "\"" : "");
}

static void ex_end(struct expect *x)
{
	if (x->problems)
		buf_printf(&x->r->report, "      %s: %s\n", x->what,
			   json_object_to_json_string_ext(x->obj, JSON_C_TO_STRING_PLAIN));
}

static void show_snapshot(struct occ_run *r, const char *line, size_t len)
{
	buf_printf(&r->report, "      snapshot: %.*s%s\n", (int)(len > SHOW_MAX ? SHOW_MAX : len),
		   line, len > SHOW_MAX ? "..." : "");
}

/* The object, or a problem (with the whole snapshot) when it is missing. */
static json_object *need(struct occ_run *r, json_object *o, const char *what, bool *shown)
{
	if (o)
		return o;
	problem(r, "expected %s in the snapshot got none", what);
	if (!*shown)
		show_snapshot(r, r->snap, r->snap_len);
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
		show_snapshot(r, r->snap, r->snap_len);
}

/* Ports of the scenario's ip_local_reserved_ports ("A-B", inside the range). */
static unsigned int reserved_ports(const struct scenario *s)
{
	unsigned int a, b;

	if (s->reserved && sscanf(s->reserved, "%u-%u", &a, &b) == 2 && b >= a)
		return b - a + 1;
	return 0;
}

static double usable(const struct scenario *s)
{
	return s->range_hi - s->range_lo + 1 - reserved_ports(s);
}

static void check_netns(struct occ_run *r, json_object *snap, uint64_t netns, bool *shown)
{
	json_object *e;
	struct expect x;

	e = need(r, find_netns(snap, netns), "the workload's netns", shown);
	if (!e)
		return;
	ex_begin(&x, r, "netns", e);
	ex_num(&x, "low", r->s->range_lo);
	ex_num(&x, "high", r->s->range_hi);
	ex_num(&x, "reserved", reserved_ports(r->s));
	ex_num(&x, "usable", usable(r->s));
	ex_end(&x);
}

/*
 * What every occupancy snapshot must say: the range; :5000 held by the holder; :6000 in
 * TIME_WAIT as the kernel shows it; the server (listeners, accepted sockets) holds nothing.
 * Who holds the TIME_WAIT ports depends on the kind (checked by the caller).
 */
static void check_common(struct occ_run *r, json_object *snap, const struct truth *t, bool *shown)
{
	uint64_t netns = r->w[ROLE_SERVER].o->netns;
	json_object *e;
	struct expect x;

	check_top_level(r, snap);
	check_netns(r, snap, netns, shown);
	e = need(r, find_dest(snap, netns, OCC_HOLD_PORT), "destination 127.0.0.1:5000", shown);
	if (e) {
		ex_begin(&x, r, "destination :5000", e);
		ex_num(&x, "held", t->est);
		ex_num(&x, "time_wait", 0);
		ex_num(&x, "usable", usable(r->s));
		ex_range(&x, "utilization", t->est / usable(r->s), 0, 1e-5);
		if (r->s->kind == SCN_OCC_STATUS) { /* no events: no rates */
			ex_null(&x, "assign_rate");
			ex_null(&x, "failures");
			ex_null(&x, "exhaust_in_s");
		} else {
			ex_num(&x, "failures", 0);
		}
		ex_end(&x);
	}
	e = need(r, find_dest(snap, netns, OCC_TW_PORT), "destination 127.0.0.1:6000", shown);
	if (e) {
		ex_begin(&x, r, "destination :6000", e);
		ex_num(&x, "held", t->tw);
		ex_num(&x, "time_wait", t->tw);
		ex_num(&x, "usable", usable(r->s));
		ex_end(&x);
	}
	e = need(r, find_proc(snap, r->w[ROLE_HOLDER].pid), "the holder's process", shown);
	if (e) {
		ex_begin(&x, r, "holder", e);
		ex_num(&x, "held", t->est);
		ex_num(&x, "time_wait", 0);
		ex_bool(&x, "exited", false);
		ex_str(&x, "comm", role_comm[ROLE_HOLDER]);
		if (!jstr(e, "cgroup") || jstr(e, "cgroup")[0] != '/')
			ex_problem(&x, "expected cgroup a path got %s",
				   jstr(e, "cgroup") ?: "none");
		ex_end(&x);
	}
	e = find_proc(snap, r->w[ROLE_SERVER].pid);
	if (e) {
		problem(r, "expected the server (listeners, accepted sockets) to hold nothing got");
		buf_printf(&r->report, "      server: %s\n", json_object_to_json_string(e));
	}
}

/* TIME_WAIT found at start: no owner (pid null); the closer must not be named. */
static void check_unknown_owner(struct occ_run *r, json_object *snap, const struct truth *t,
				bool *shown)
{
	uint64_t netns = r->w[ROLE_SERVER].o->netns;
	double elsewhere = held_elsewhere(snap, netns);
	json_object *e;
	struct expect x;

	e = find_proc(snap, r->w[ROLE_CLOSER].pid);
	if (e) {
		problem(r, "expected the closer's TIME_WAIT ports with no owner (found at start) "
			   "got them attributed to it");
		buf_printf(&r->report, "      closer: %s\n", json_object_to_json_string(e));
	}
	e = need(r, find_proc(snap, 0), "a process entry with pid null (TIME_WAIT, no owner)",
		 shown);
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

static json_object *parse_snapshot(struct occ_run *r, const char *line, size_t len)
{
	json_object *o;
	char *copy;

	copy = strndup(line, len);
	if (!copy)
		return NULL;
	o = json_tokener_parse(copy);
	free(copy);
	if (!o || !json_object_is_type(o, json_type_object)) {
		problem(r, "expected a JSON object per line got");
		show_snapshot(r, line, len);
		json_object_put(o);
		return NULL;
	}
	return o;
}

static void keep_snapshot(struct occ_run *r, const char *line, size_t len)
{
	r->snap = line;
	r->snap_len = len;
}

/* ---- the scenarios ---- */

static void say_held(struct occ_run *r, const struct truth *t)
{
	buf_printf(&r->done,
		   "netns usable %.0f; :5000 held %u by pid %d; :6000 %u TIME_WAIT "
		   "(kernel: %u)",
		   usable(r->s), t->est, (int)r->w[ROLE_HOLDER].pid, t->tw, t->tw);
}

/*
 * top from before the workload: the first snapshot taken after the workload settled, while the
 * kernel's count stands still around it. The closer (exited) keeps its TIME_WAIT ports.
 * The tracepoint backend does not see a TIME_WAIT socket go (and the kernel sometimes ends a
 * few early, see settle()): it learns it at its next sock_diag resync, so there the snapshot
 * must be one taken after a resync that followed the settling.
 */
static void scenario_live(struct occ_run *r)
{
	int64_t deadline, after, lag;
	struct truth t, t2;
	json_object *snap = NULL;
	size_t off = 0, len;
	const char *line;
	struct expect x;
	bool shown = false;
	json_object *e;
	int tries = 0, err;

	if (start_top(r, false))
		return;
	if (run_workload(r, &t))
		return;
	lag = backend_infers_tw(r->backend) ? TP_RESYNC_WAIT_NS : 0;
	after = wall_ns() + lag;
	deadline = now_ms() + lag / 1000000 + 1000LL * r->op->timeout_s;
	for (;;) {
		line = next_line(&r->t.out, &off, &len);
		if (!line) {
			if (r->t.exited && r->t.out_fd < 0) {
				set_reason(r, FAIL, "ephtrace top exited before a snapshot came");
				return;
			}
			if (now_ms() > deadline) {
				set_reason(r, FAIL, "no snapshot from ephtrace top within %d s",
					   r->op->timeout_s);
				return;
			}
			tracer__pump(&r->t, 100);
			continue;
		}
		keep_snapshot(r, line, len);
		snap = parse_snapshot(r, line, len);
		if (!snap)
			return;
		if (parse_time(jstr(snap, "time")) >= after) {
			err = read_truth(r, &t2);
			if (err) {
				set_reason(r, FAIL, "reading /proc/%d/net/tcp: %s",
					   (int)r->w[ROLE_SERVER].pid, strerror(-err));
				goto out;
			}
			if (t2.tw == t.tw && t2.est == t.est)
				break;
			if (++tries >= SNAP_TRIES) {
				set_reason(
					r, FAIL,
					"the kernel's count kept moving (%u then %u in TIME_WAIT)",
					t.tw, t2.tw);
				goto out;
			}
			t = t2; /* it moved under this snapshot: take the next one */
			after = wall_ns() + lag;
		}
		json_object_put(snap);
		snap = NULL;
	}
	say_held(r, &t);
	check_common(r, snap, &t, &shown);
	e = need(r, find_proc(snap, r->w[ROLE_CLOSER].pid), "the closer's process", &shown);
	if (e) {
		ex_begin(&x, r, "closer", e);
		ex_num(&x, "held", t.tw);
		ex_num(&x, "time_wait", t.tw);
		ex_bool(&x, "exited", true);
		ex_str(&x, "comm", role_comm[ROLE_CLOSER]);
		ex_end(&x);
	}
	buf_printf(&r->done, "; closer pid %d exited, holds them; backend %s",
		   (int)r->w[ROLE_CLOSER].pid, r->backend);
	check_backend(r);
	stop_top(r);
out:
	json_object_put(snap);
}

/* A one-shot run after the workload settled; retried while the kernel's count moves. */
static json_object *oneshot(struct occ_run *r, const char *const *args, unsigned int flags,
			    const char *what, struct truth *t)
{
	json_object *snap = NULL;
	size_t off, len;
	const char *line;
	struct truth t2;
	int tries, err;

	for (tries = 0; tries < SNAP_TRIES; tries++) {
		if (r->t_started)
			tracer__free(&r->t);
		r->t_started = false;
		if (start_ephtrace(r, args, flags, false) || wait_oneshot(r, what))
			return NULL;
		err = read_truth(r, &t2);
		if (err) {
			set_reason(r, FAIL, "reading /proc/%d/net/tcp: %s",
				   (int)r->w[ROLE_SERVER].pid, strerror(-err));
			return NULL;
		}
		if (t2.tw == t->tw && t2.est == t->est)
			break;
		*t = t2;
	}
	if (tries == SNAP_TRIES) {
		set_reason(r, FAIL, "the kernel's count kept moving (%u in TIME_WAIT)", t->tw);
		return NULL;
	}
	off = 0;
	line = next_line(&r->t.out, &off, &len);
	if (!line || off != r->t.out.len) {
		problem(r, "expected one snapshot line from %s got %s", what,
			line ? "more" : "none");
		show_snapshot(r, buf_str(&r->t.out), r->t.out.len);
		return NULL;
	}
	keep_snapshot(r, line, len);
	snap = parse_snapshot(r, line, len);
	return snap;
}

/* top -n 1 after the workload: seeded from sock_diag, owners from /proc. */
static void scenario_late(struct occ_run *r)
{
	const char *args[] = { "top",	     "--json",	  "-n",		  "1", "-i",
			       TOP_INTERVAL, "--backend", r->op->backend, NULL };
	json_object *snap;
	bool shown = false;
	struct truth t;

	if (run_workload(r, &t))
		return;
	snap = oneshot(r, args, 0, "ephtrace top -n 1", &t);
	if (!snap)
		return;
	if (!tracer__attached(&r->t)) {
		problem(r, "expected a \"using backend\" line from top got none");
	} else {
		const char *found = strstr(buf_str(&r->t.err), "using backend ") + 14;

		snprintf(r->backend, sizeof(r->backend), "%.*s", (int)strcspn(found, " \n()"),
			 found);
		check_backend(r);
	}
	say_held(r, &t);
	check_common(r, snap, &t, &shown);
	check_unknown_owner(r, snap, &t, &shown);
	buf_printf(&r->done, "; backend %s", r->backend);
	json_object_put(snap);
}

/* status: the same, with BPF refused (a seccomp filter fails every bpf() call with EPERM): it
 * goes on without its port iterator. */
static void scenario_status(struct occ_run *r)
{
	char netns[32];
	const char *args[] = { "status", "--json", "--netns", netns, NULL };
	json_object *snap;
	bool shown = false;
	struct truth t;

	if (run_workload(r, &t))
		return;
	snprintf(netns, sizeof(netns), "%" PRIu64, r->w[ROLE_SERVER].o->netns);
	snap = oneshot(r, args, TRACER_NO_BPF, "ephtrace status", &t);
	if (!snap)
		return;
	if (tracer__attached(&r->t))
		problem(r, "expected status to load no BPF got a \"using backend\" line");
	say_held(r, &t);
	check_common(r, snap, &t, &shown);
	check_unknown_owner(r, snap, &t, &shown);
	buf_printf(&r->done, "; bpf() refused with EPERM (seccomp): went on without it");
	json_object_put(snap);
}

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
		problem(r, "expected a \"histograms\" array in each hist --json line got none");
		return -1;
	}
	for (i = 0; i < n; i++) {
		h = json_object_array_get_idx(a, i);
		if (!str_is(h, "kind", "connect_search"))
			continue;
		if (jnum(h, "count", &count) != 1 || jnum(h, "sum", &sum) != 1) {
			problem(r, "expected numbers \"count\" and \"sum\" got %s",
				json_object_to_json_string(h));
			return -1;
		}
		if (!str_is(h, "proto", "tcp") || !str_is(h, "family", "ipv4")) {
			t->other += count;
		} else if (str_is(h, "result", "ok")) {
			t->ok += count;
			t->ok_sum += sum;
		} else if (str_is(h, "result", "EADDRNOTAVAIL")) {
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
				set_reason(r, FAIL, "no hist --json interval within %d s",
					   r->op->timeout_s);
				return -ETIMEDOUT;
			}
			tracer__pump(&r->t, 50);
			continue;
		}
		keep_snapshot(r, line, len);
		snap = parse_snapshot(r, line, len);
		if (!snap)
			return -EIO;
		when = parse_time(jstr(snap, "time"));
		err = hf_add(r, snap, t);
		json_object_put(snap);
		if (err)
			return err;
		if (when < 0) {
			problem(r, "expected an RFC 3339 \"time\" in each interval");
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
		if (role_died(r, ROLE_HOLDER))
			return -EIO;
		if (now_ms() > deadline) {
			set_reason(r, FAIL, "filler: phase %d not done within %d s", p, tmo / 1000);
			return -ETIMEDOUT;
		}
		idle(r, 20);
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
static void scenario_hist_fill(struct occ_run *r)
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
	if (wait_flag(r, ROLE_SERVER, &r->w[ROLE_SERVER].o->prog.listening, tmo, "listening"))
		return;
	if (start_ephtrace(r, args, 0, true))
		return;
	timed_ok = strcmp(r->backend, "tracepoint");
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
			problem(r,
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
			problem(r,
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
	check_backend(r);
	stop_top(r);
}

/*
 * --workload-only hist-fill: `ephtrace hist` (text) for each phase, stopped with SIGINT once
 * the phase is done, so that each printout is that phase alone. What README shows.
 */
static int hf_demo(struct occ_run *r)
{
	const char *args[] = { "hist", "-i", "3600", "--backend", r->op->backend, NULL };
	int tmo = 5000 * r->op->timeout_s;
	struct oracle *o = r->w[ROLE_HOLDER].o;
	int p;

	workload__release(&r->w[ROLE_SERVER]);
	if (wait_flag(r, ROLE_SERVER, &r->w[ROLE_SERVER].o->prog.listening, tmo, "listening"))
		return -1;
	workload__release(&r->w[ROLE_HOLDER]);
	for (p = 1; p <= HF_PHASES; p++) {
		uint32_t before = __atomic_load_n(&o->prog.connected, __ATOMIC_SEQ_CST);

		if (r->t_started) {
			tracer__free(&r->t);
			memset(&r->t, 0, sizeof(r->t));
			r->t_started = false;
		}
		if (start_ephtrace(r, args, 0, true))
			return -1;
		if (hf_phase(r, p) || stop_top(r))
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

/* ---- driver ---- */

static int start_roles(struct occ_run *r)
{
	if (start_role(r, ROLE_SERVER, role_comm[ROLE_SERVER], occ_server))
		return -1;
	if (r->s->kind == SCN_HIST_FILL)
		return start_role(r, ROLE_HOLDER, "eph-filler", hf_filler);
	if (start_role(r, ROLE_HOLDER, role_comm[ROLE_HOLDER], occ_holder) ||
	    start_role(r, ROLE_CLOSER, role_comm[ROLE_CLOSER], occ_closer))
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
			scenario_live(&r);
			break;
		case SCN_OCC_LATE:
			scenario_late(&r);
			break;
		case SCN_OCC_STATUS:
			scenario_status(&r);
			break;
		case SCN_HIST_FILL:
			scenario_hist_fill(&r);
			break;
		default:
			set_reason(&r, FAIL, "unknown scenario kind %d", s->kind);
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
			set_reason(&r, FAIL, "see above");
		else if (r.verdict == PASS)
			buf_printf(&r.done, "%d phases shown, backend %s", HF_PHASES, r.backend);
		report(&r, now_ms() - t0);
		goto out;
	}
	if (!run_workload(&r, &t))
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
