// SPDX-License-Identifier: GPL-2.0
/*
 * hook-fallback: hooks made unattachable (EPH_TEST_UNATTACHABLE, user/node/attach.c), and
 * ephtrace runs with the rest, saying which hook fell back to what.
 *
 * The workload (a network namespace of its own, a listener on 127.0.0.1:5000) makes, at each
 * step, one TCP connect() to :5000 (inet_hash_connect) and keeps it, one bind(127.0.0.1:0)
 * (inet_csk_get_port) and one UDP sendto() 127.0.0.1:5000 (inet_autobind, udp_lib_get_port),
 * and closes those two (inet_put_port, udp_lib_unhash). Runs of ephtrace, one step each:
 *   1. --backend auto, fentry/inet_csk_get_port unattachable: fentry for every hook but that
 *      one, which is kprobe; stderr's "hooks:" line says so and why; the bind's assign says
 *      "backend":"kprobe", every other record "fentry", with the ports getsockname() gave.
 *   2. --backend auto, inet_csk_get_port, udp_lib_get_port and inet_put_port unattachable in
 *      both styles: their groups (the TCP binds, the UDP ports, the TCP releases) go to the
 *      tracepoint stand-ins (bpf/tracepoint.bpf.h); the bind's and the UDP send's assigns and
 *      the TCP release say "tracepoint", the connect and the UDP release the first style; the
 *      "hooks:" line says why, and which hooks went with their group.
 *   3. --backend auto, every hook unattachable in both styles: fentry and kprobe attach
 *      nowhere, auto goes on to cgroup; -v says why each did not do; the events say "cgroup".
 *   4. --backend fentry, fentry/inet_csk_get_port unattachable: a forced style does not mix;
 *      ephtrace exits 1 naming the program.
 * Needs a kernel where fentry or kprobe attaches (the VM cells; --backend auto): SKIP
 * elsewhere. Where auto tries kprobe first (PREEMPT_RT), runs 1 and 4, fentry's, are left out
 * and run 2 starts from kprobe.
 */
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ephtest.h"

#define HF_DPORT 5000
#define HF_STEPS 3
#define HF_STEP_MS(d) (1000 * (d)->op->timeout_s)
#define HF_ENV "EPH_TEST_UNATTACHABLE"

struct hf_shared {
	uint16_t connect_port[HF_STEPS + 1]; /* per step (1..3): the connect()'s source port */
	uint16_t bind_port[HF_STEPS + 1];    /* the bind(0)'s */
	uint16_t udp_port[HF_STEPS + 1];     /* the UDP send's */
};

_Static_assert(sizeof(struct hf_shared) <= DRV_PRIV_SIZE, "hf_shared does not fit");

static struct hf_shared *hf_of(struct oracle *o)
{
	return (struct hf_shared *)o->priv;
}

/* ---- the workload ---- */

static int hf_fail(struct oracle *o, const char *what)
{
	snprintf(o->msg, sizeof(o->msg), "%s: %s", what, strerror(errno));
	return 1;
}

int hf_workload(struct oracle *o)
{
	struct hf_shared *sh = hf_of(o);
	struct sockaddr_in to = { .sin_family = AF_INET,
				  .sin_port = htons(HF_DPORT),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int lfd, cfd, bfd, ufd, k, one = 1;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    drv_loopback(lfd, HF_DPORT, true) || listen(lfd, 16))
		return hf_fail(o, "listener on 127.0.0.1:5000");
	for (k = 1; k <= HF_STEPS; k++) {
		drv_wait_go(o, k);
		cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (cfd < 0 || drv_loopback(cfd, HF_DPORT, false))
			return hf_fail(o, "connect to 127.0.0.1:5000");
		bfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (bfd < 0 || drv_loopback(bfd, 0, true))
			return hf_fail(o, "bind(127.0.0.1:0)");
		ufd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (ufd < 0 || sendto(ufd, "x", 1, 0, (struct sockaddr *)&to, sizeof(to)) != 1)
			return hf_fail(o, "UDP sendto(127.0.0.1:5000)");
		sh->connect_port[k] = drv_local_port(cfd);
		sh->bind_port[k] = drv_local_port(bfd);
		sh->udp_port[k] = drv_local_port(ufd);
		close(bfd);
		close(ufd);
		drv_done(o, k);
	}
	for (;;)
		pause();
}

/* ---- the driver ---- */

/* The backend of the workload's records of a kind ("assign", "release") for op ("connect",
 * "bind", "sendmsg") and port, and how many there are (*n: more than one means programs of an
 * attempt that failed were left attached). */
static const char *record_backend(struct drv *d, const char *kind, const char *op, uint16_t port,
				  int *n)
{
	static char found[32];
	const struct buf *b = &d->t.out;
	size_t off = 0, len;
	const char *line;

	*n = 0;
	while ((line = next_line(b, &off, &len))) {
		char *copy = strndup(line, len);
		json_object *e = copy ? json_tokener_parse(copy) : NULL;
		double pid, sport;
		const char *ev = e ? jstr(e, "event") : NULL, *eop = e ? jstr(e, "op") : NULL;
		const char *be = e ? jstr(e, "backend") : NULL;

		if (ev && eop && be && !strcmp(ev, kind) && !strcmp(eop, op) &&
		    jnum(e, "pid", &pid) == 1 && pid == d->w.pid && jnum(e, "sport", &sport) == 1 &&
		    sport == port && !(*n)++)
			snprintf(found, sizeof(found), "%s", be);
		json_object_put(e);
		free(copy);
	}
	return *n ? found : NULL;
}

static void want_backend(struct drv *d, int k, const char *kind, const char *op, uint16_t port,
			 const char *want)
{
	int n;
	const char *got = record_backend(d, kind, op, port, &n);

	const struct buf *b = &d->t.out;
	char key[32];
	size_t off = 0, len;
	const char *line;

	if (got && !strcmp(got, want) && n == 1)
		return;
	drv_problem(d, "run %d: expected one %s %s of port %u, backend %s, got %d (%s)", k, op,
		    kind, port, want, n, got ? got : "none");
	snprintf(key, sizeof(key), "\"sport\":%u,", port);
	while ((line = next_line(b, &off, &len)))
		if (memmem(line, len, key, strlen(key)))
			buf_printf(&d->report, "    ephtrace said: %.*s\n", (int)len, line);
}

/* Step k's five records, with the backend each should say: the connect's assign, the bind's
 * assign and release, the UDP send's assign and release. */
static void want_step(struct drv *d, int k, const char *connect, const char *tcp_bind,
		      const char *udp_port, const char *tcp_release, const char *udp_release)
{
	const struct hf_shared *sh = hf_of(d->w.o);

	want_backend(d, k, "assign", "connect", sh->connect_port[k], connect);
	want_backend(d, k, "assign", "bind", sh->bind_port[k], tcp_bind);
	want_backend(d, k, "assign", "sendmsg", sh->udp_port[k], udp_port);
	want_backend(d, k, "release", "bind", sh->bind_port[k], tcp_release);
	want_backend(d, k, "release", "sendmsg", sh->udp_port[k], udp_release);
}

static void want_err(struct drv *d, int k, const char *text)
{
	if (!strstr(buf_str(&d->t.err), text))
		drv_problem(d, "run %d: expected \"%s\" on ephtrace's stderr got: %.600s", k, text,
			    buf_str(&d->t.err));
}

/* One run of `ephtrace events --json --backend B -p PID --releases ARGS` with HF_ENV=unattachable,
 * around step k; leaves d->t's output for the checks. 0, or the reason is set. */
static int hf_events(struct drv *d, int k, const char *backend, const char *unattachable,
		     const char *extra)
{
	struct occ_opts op = *d->op;
	const struct occ_opts *saved = d->op;
	char pid[16];
	const char *args[] = { "-p", pid, "--releases", extra, NULL };
	int err;

	snprintf(pid, sizeof(pid), "%d", (int)d->w.pid);
	op.backend = backend;
	d->op = &op;
	setenv(HF_ENV, unattachable, 1);
	err = drv_start_ephtrace(d, "events", args);
	unsetenv(HF_ENV);
	if (!err)
		err = drv_step(d, k, HF_STEP_MS(d), "a connect(), a bind() and a UDP send") ?:
			      (drv_idle(d, 300) ? drv_stop_ephtrace(d, "events") : -EIO);
	d->op = saved;
	return err;
}

static void hf_done_run(struct drv *d)
{
	tracer__free(&d->t);
	d->t_started = false;
}

/* Every hook's section in a style ("fentry", "kprobe"), comma separated, onto list. */
static void all_hooks(char *list, size_t len, const char *style)
{
	static const char *const fns[] = {
		"inet_hash_connect",	 "inet6_hash_connect",	"inet_csk_get_port",
		"udp_lib_get_port",	 "inet_autobind",	"inet_dgram_connect",
		"inet_put_port",	 "inet_twsk_hashdance", "inet_twsk_hashdance_schedule",
		"inet_twsk_bind_unhash", "udp_lib_unhash",
	};
	size_t i, n = strlen(list);

	for (i = 0; i < sizeof(fns) / sizeof(fns[0]) && n < len; i++)
		n += snprintf(list + n, len - n, "%s%s/%s", n ? "," : "", style, fns[i]);
}

/* 1: one hook falls back to kprobe (fentry first only). 0: go on. */
static int run_kprobe(struct drv *d)
{
	if (hf_events(d, 1, "auto", "fentry/inet_csk_get_port", NULL))
		return -1;
	if (!strcmp(d->backend, "kprobe")) { /* kprobe first: fentry's runs left out */
		hf_done_run(d);
		return 0;
	}
	if (strcmp(d->backend, "fentry")) {
		drv_reason(d, SKIP,
			   "neither fentry nor kprobe attaches here (auto chose %s): the "
			   "fall-backs are theirs",
			   d->backend);
		return -1;
	}
	want_err(d, 1,
		 "inet_csk_get_port kprobe (fentry: failed to attach "
		 "fentry/inet_csk_get_port: No such file or directory (" HF_ENV "))");
	want_err(d, 1, "inet_hash_connect fentry");
	want_step(d, 1, "fentry", "kprobe", "fentry", "fentry", "fentry");
	hf_done_run(d);
	return 0;
}

/* 2: three groups to their tracepoint stand-ins, from the first style (first). 0: go on. */
static int run_stand_in(struct drv *d, const char *first)
{
	static const char *const fns[] = { "inet_csk_get_port", "udp_lib_get_port",
					   "inet_put_port" };
	char list[512] = "", text[256];
	size_t i, n = 0;

	for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		n += snprintf(list + n, sizeof(list) - n, "%sfentry/%s,kprobe/%s", i ? "," : "",
			      fns[i], fns[i]);
	if (hf_events(d, 2, "auto", list, NULL))
		return -1;
	if (strcmp(d->backend, first))
		drv_problem(d, "run 2: expected backend %s got \"using backend %s\"", first,
			    d->backend);
	snprintf(text, sizeof(text),
		 "inet_csk_get_port tracepoint (%skprobe: failed to attach "
		 "kprobe/inet_csk_get_port: No such file or directory (" HF_ENV "))",
		 strcmp(first, "fentry") ? "" :
					   "fentry: failed to attach fentry/inet_csk_get_port: No "
					   "such file or directory (" HF_ENV "); ");
	want_err(d, 2, text);
	want_err(d, 2, "inet_autobind tracepoint (with udp_lib_get_port)");
	want_err(d, 2, "inet_twsk_bind_unhash tracepoint (with inet_put_port)");
	snprintf(text, sizeof(text), "inet_hash_connect %s", first);
	want_err(d, 2, text);
	want_step(d, 2, first, "tracepoint", "tracepoint", "tracepoint", first);
	hf_done_run(d);
	return 0;
}

static void run_fallback(struct drv *d)
{
	const struct hf_shared *sh = hf_of(d->w.o);
	char *argv[] = { (char *)d->op->ephtrace, "events", "--backend", "fentry", NULL };
	char st[64], list[1024] = "", first[32];
	int err;

	if (run_kprobe(d))
		return;
	snprintf(first, sizeof(first), "%s", d->backend);
	if (run_stand_in(d, first))
		return;

	/* 3: every hook in neither style: auto goes on to cgroup, and says why */
	all_hooks(list, sizeof(list), "fentry");
	all_hooks(list, sizeof(list), "kprobe");
	if (hf_events(d, 3, "auto", list, "-v"))
		return;
	if (strcmp(d->backend, "cgroup"))
		drv_problem(d, "run 3: expected backend cgroup got \"using backend %s\"",
			    d->backend);
	if (!strcmp(first, "fentry"))
		want_err(d, 3, "backend fentry: no fentry program could attach");
	want_err(d, 3, "backend kprobe: no kprobe program could attach");
	want_step(d, 3, "cgroup", "cgroup", "cgroup", "cgroup", "cgroup");
	hf_done_run(d);

	if (strcmp(first, "fentry"))
		goto done;
	/* 4: a forced style does not mix */
	setenv(HF_ENV, "fentry/inet_csk_get_port", 1);
	err = tracer__start(&d->t, argv);
	unsetenv(HF_ENV);
	if (err) {
		drv_reason(d, FAIL, "cannot start %s: %s", d->op->ephtrace, strerror(-err));
		return;
	}
	d->t_started = true;
	err = tracer__wait(&d->t, 1000 * d->op->timeout_s);
	if (err || !WIFEXITED(d->t.status) || WEXITSTATUS(d->t.status) != 1)
		drv_problem(d, "run 4: expected --backend fentry to exit 1 got %s",
			    err ? strerror(-err) : status_text(d->t.status, st, sizeof(st)));
	want_err(d, 4, "backend fentry: failed to attach fentry/inet_csk_get_port");
	hf_done_run(d);
done:
	if (!strcmp(first, "fentry"))
		buf_printf(&d->done,
			   "inet_csk_get_port unattachable in fentry: bind (port %u) kprobe; ",
			   sh->bind_port[1]);
	buf_printf(&d->done,
		   "auto, first style %s: three groups in neither style: bind (port %u), UDP "
		   "send (port %u) and TCP release tracepoint, connect (port %u) %s; every "
		   "hook: cgroup%s",
		   first, sh->bind_port[2], sh->udp_port[2], sh->connect_port[2], first,
		   strcmp(first, "fentry") ? "" : "; --backend fentry: exit 1 naming it");
}

enum verdict hf_drive(const struct scenario *s, const struct occ_opts *op)
{
	struct drv d = { .s = s, .op = op, .verdict = PASS };
	int64_t t0 = now_ms();

	if (strcmp(op->backend, "auto"))
		drv_reason(&d, SKIP,
			   "checked with --backend auto (a forced backend does not mix "
			   "styles), here %s",
			   op->backend);
	else if (stand_in)
		drv_reason(&d, SKIP,
			   "ephtest --stand-in makes hooks unattachable in every run: this "
			   "scenario makes its own");
	else if (!drv_start_workload(&d, "eph-hookfb"))
		run_fallback(&d);
	return drv_finish(&d, t0);
}
