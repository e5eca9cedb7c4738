// SPDX-License-Identifier: GPL-2.0
/*
 * hook-fallback: one hook made unattachable (EPH_TEST_UNATTACHABLE, user/node/attach.c), and
 * ephtrace runs with the rest, saying which hook fell back.
 *
 * The workload (a network namespace of its own, a listener on 127.0.0.1:5000) makes, at each
 * step, one TCP connect() to :5000 (inet_hash_connect) and one bind(127.0.0.1:0)
 * (inet_csk_get_port), and keeps both sockets. Three runs of ephtrace, one step each:
 *   1. --backend auto, fentry/inet_csk_get_port unattachable: fentry for every hook but that
 *      one, which is kprobe; stderr's "hooks:" line says so and why; the connect's assign says
 *      "backend":"fentry", the bind's "kprobe", with the ports getsockname() gave.
 *   2. --backend auto, that hook unattachable in both styles: fentry and kprobe are incomplete,
 *      auto goes on to cgroup; -v says why each did not do; the events say "cgroup".
 *   3. --backend fentry, fentry/inet_csk_get_port unattachable: a forced style does not mix;
 *      ephtrace exits 1 naming the program.
 * Needs a kernel where fentry attaches (the VM cells; --backend auto): SKIP elsewhere.
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
#define HF_RUNS 3
#define HF_STEP_MS(d) (1000 * (d)->op->timeout_s)
#define HF_ENV "EPH_TEST_UNATTACHABLE"

struct hf_shared {
	uint16_t connect_port[HF_RUNS + 1]; /* per step (1..3): the connect()'s source port */
	uint16_t bind_port[HF_RUNS + 1];    /* and the bind(0)'s */
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
	int lfd, cfd, bfd, k, one = 1;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    drv_loopback(lfd, HF_DPORT, true) || listen(lfd, 16))
		return hf_fail(o, "listener on 127.0.0.1:5000");
	for (k = 1; k <= HF_RUNS; k++) {
		drv_wait_go(o, k);
		cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (cfd < 0 || drv_loopback(cfd, HF_DPORT, false))
			return hf_fail(o, "connect to 127.0.0.1:5000");
		bfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (bfd < 0 || drv_loopback(bfd, 0, true))
			return hf_fail(o, "bind(127.0.0.1:0)");
		sh->connect_port[k] = drv_local_port(cfd);
		sh->bind_port[k] = drv_local_port(bfd);
		drv_done(o, k);
	}
	for (;;)
		pause();
}

/* ---- the driver ---- */

/* The backend of the workload's assigns for op ("connect", "bind") from port, and how many
 * there are (*n: more than one means programs of an attempt that failed were left attached). */
static const char *assign_backend(struct drv *d, const char *op, uint16_t port, int *n)
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

		if (ev && eop && be && !strcmp(ev, "assign") && !strcmp(eop, op) &&
		    jnum(e, "pid", &pid) == 1 && pid == d->w.pid && jnum(e, "sport", &sport) == 1 &&
		    sport == port && !(*n)++)
			snprintf(found, sizeof(found), "%s", be);
		json_object_put(e);
		free(copy);
	}
	return *n ? found : NULL;
}

static void want_backend(struct drv *d, int k, const char *op, uint16_t port, const char *want)
{
	int n;
	const char *got = assign_backend(d, op, port, &n);

	if (!got || strcmp(got, want) || n != 1)
		drv_problem(d, "run %d: expected one %s assign of port %u, backend %s, got %d (%s)",
			    k, op, port, want, n, got ? got : "none");
}

static void want_err(struct drv *d, int k, const char *text)
{
	if (!strstr(buf_str(&d->t.err), text))
		drv_problem(d, "run %d: expected \"%s\" on ephtrace's stderr got: %.600s", k, text,
			    buf_str(&d->t.err));
}

/* One run of `ephtrace events --json --backend B ARGS -p PID` with HF_ENV=unattachable, around
 * step k; leaves d->t's output for the checks. 0, or the reason is set. */
static int hf_events(struct drv *d, int k, const char *backend, const char *unattachable,
		     const char *extra)
{
	struct occ_opts op = *d->op;
	const struct occ_opts *saved = d->op;
	char pid[16];
	const char *args[] = { "-p", pid, extra, NULL };
	int err;

	snprintf(pid, sizeof(pid), "%d", (int)d->w.pid);
	op.backend = backend;
	d->op = &op;
	setenv(HF_ENV, unattachable, 1);
	err = drv_start_ephtrace(d, "events", args);
	unsetenv(HF_ENV);
	if (!err)
		err = drv_step(d, k, HF_STEP_MS(d), "a connect() and a bind()") ?:
			      (drv_idle(d, 300) ? drv_stop_ephtrace(d, "events") : -EIO);
	d->op = saved;
	return err;
}

static void hf_done_run(struct drv *d)
{
	tracer__free(&d->t);
	d->t_started = false;
}

static void run_fallback(struct drv *d)
{
	const struct hf_shared *sh = hf_of(d->w.o);
	char *argv[] = { (char *)d->op->ephtrace, "events", "--backend", "fentry", NULL };
	char st[64];
	int err;

	/* 1: one hook falls back to kprobe */
	if (hf_events(d, 1, "auto", "fentry/inet_csk_get_port", NULL))
		return;
	if (strcmp(d->backend, "fentry")) {
		drv_reason(d, SKIP,
			   "fentry does not attach here (auto chose %s): the fall-back of "
			   "one hook to kprobe is fentry's",
			   d->backend);
		return;
	}
	want_err(d, 1,
		 "inet_csk_get_port kprobe (fentry: failed to attach "
		 "fentry/inet_csk_get_port: No such file or directory (" HF_ENV "))");
	want_err(d, 1, "inet_hash_connect fentry");
	want_backend(d, 1, "connect", sh->connect_port[1], "fentry");
	want_backend(d, 1, "bind", sh->bind_port[1], "kprobe");
	hf_done_run(d);

	/* 2: that hook in neither style: auto goes on to cgroup, and says why */
	if (hf_events(d, 2, "auto", "fentry/inet_csk_get_port,kprobe/inet_csk_get_port", "-v"))
		return;
	if (strcmp(d->backend, "cgroup"))
		drv_problem(d, "run 2: expected backend cgroup got \"using backend %s\"",
			    d->backend);
	want_err(d, 2, "backend fentry: failed to attach kprobe/inet_csk_get_port");
	want_err(d, 2, "backend kprobe: failed to attach kprobe/inet_csk_get_port");
	want_backend(d, 2, "connect", sh->connect_port[2], "cgroup");
	want_backend(d, 2, "bind", sh->bind_port[2], "cgroup");
	hf_done_run(d);

	/* 3: a forced style does not mix */
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
		drv_problem(d, "run 3: expected --backend fentry to exit 1 got %s",
			    err ? strerror(-err) : status_text(d->t.status, st, sizeof(st)));
	want_err(d, 3, "backend fentry: failed to attach fentry/inet_csk_get_port");
	hf_done_run(d);
	buf_printf(
		&d->done,
		"auto with fentry/inet_csk_get_port unattachable: connect (port %u) fentry, bind "
		"(port %u) kprobe, said on stderr; unattachable in both styles: cgroup; "
		"--backend fentry: exit 1 naming it",
		sh->connect_port[1], sh->bind_port[1]);
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
	else if (!drv_start_workload(&d, "eph-hookfb"))
		run_fallback(&d);
	return drv_finish(&d, t0);
}
