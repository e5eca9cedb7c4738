// SPDX-License-Identifier: GPL-2.0
/*
 * What the scenarios with a driver of their own share (forecast.c, resync.c, twreuse.c): one
 * workload process in a network namespace of its own, run in steps the driver allows; ephtrace
 * top --json beside it, read a snapshot at a time; the verdict and its RESULT line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ephtest.h"

#define SHOW_MAX 4000 /* characters of a line shown under a problem */
/* the bytes of ephtrace's stderr shown after a failure, at most (its end) */
#define DRV_STDERR_SHOWN 16384

void drv_reason(struct drv *d, enum verdict v, const char *fmt, ...)
{
	va_list ap;

	if (d->verdict != PASS)
		return;
	d->verdict = v;
	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
}

void drv_problem(struct drv *d, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	buf_printf(&d->report, "  FAIL %s\n", line);
	drv_reason(d, FAIL, "%s", line);
	d->problems++;
}

/* ---- the workload ---- */

int drv_start_workload(struct drv *d, const char *comm)
{
	int err;

	err = workload__start_role(&d->w, d->s, comm, d->s->run, 0);
	d->w_started = true;
	if (err == -EAGAIN)
		drv_reason(d, SKIP, "%s", d->w.o->msg);
	else if (err)
		drv_reason(d, FAIL, "workload: %s", d->w.o ? d->w.o->msg : strerror(-err));
	else
		workload__release(&d->w);
	return err;
}

/* The workloads of these scenarios never exit on their own: if one did, it failed. */
static bool workload_died(struct drv *d)
{
	char st[64];

	if (!d->w_started || !workload__poll(&d->w))
		return false;
	drv_reason(d, FAIL, "workload %d: %s: %s", (int)d->w.pid,
		   status_text(d->w.status, st, sizeof(st)), d->w.o->msg);
	return true;
}

/* In a test VM (tests/vm/init reads eph.* from the kernel command line)? */
bool drv_in_test_vm(void)
{
	char line[4096] = "";
	FILE *f = fopen("/proc/cmdline", "r");

	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
	}
	return strstr(line, "eph.mode=") != NULL;
}

bool drv_idle(struct drv *d, int ms)
{
	if (d->t_started && (d->t.out_fd >= 0 || d->t.err_fd >= 0))
		tracer__pump(&d->t, ms);
	else
		usleep(ms * 1000);
	return !workload_died(d);
}

int drv_step(struct drv *d, int k, int timeout_ms, const char *what)
{
	struct drv_sync *sync = &d->w.o->sync;
	int64_t deadline = now_ms() + timeout_ms;

	__atomic_store_n(&sync->go, k, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&sync->done, __ATOMIC_SEQ_CST) < k) {
		if (!drv_idle(d, 10))
			return -EIO;
		if (now_ms() > deadline) {
			drv_reason(d, FAIL, "workload: %s not done within %d s", what,
				   timeout_ms / 1000);
			return -ETIMEDOUT;
		}
	}
	return 0;
}

void drv_wait_go(struct oracle *o, int k)
{
	while (__atomic_load_n(&o->sync.go, __ATOMIC_SEQ_CST) < k)
		usleep(1000);
}

void drv_done(struct oracle *o, int k)
{
	__atomic_store_n(&o->sync.done, k, __ATOMIC_SEQ_CST);
}

int drv_sockaddr(const char *addr, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
		return AF_INET6;
	}
	return 0;
}

uint16_t drv_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	return ntohs(((struct sockaddr_in *)&ss)->sin_port); /* where sin6_port is too */
}

int drv_loopback(int fd, uint16_t port, bool do_bind)
{
	struct sockaddr_storage ss;
	socklen_t len;

	drv_sockaddr("127.0.0.1", port, &ss, &len);
	return do_bind ? bind(fd, (struct sockaddr *)&ss, len) :
			 connect(fd, (struct sockaddr *)&ss, len);
}

void drv_rst_close(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

void drv_tick(struct timespec *next, long period_ns)
{
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, next, NULL) == EINTR)
		;
	next->tv_nsec += period_ns;
	while (next->tv_nsec >= 1000000000L) {
		next->tv_nsec -= 1000000000L;
		next->tv_sec++;
	}
}

/* ---- ephtrace top ---- */

int drv_start_ephtrace(struct drv *d, const char *cmd, const char *const *args)
{
	int64_t deadline = now_ms() + 1000LL * d->op->timeout_s;
	char *argv[24], st[64];
	const char *found;
	int n = 0, err;

	argv[n++] = (char *)d->op->ephtrace;
	argv[n++] = (char *)cmd;
	argv[n++] = "--json";
	argv[n++] = "--backend";
	argv[n++] = (char *)d->op->backend;
	while (*args && n < 23)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	err = tracer__start(&d->t, argv);
	if (err) {
		drv_reason(d, FAIL, "cannot start %s: %s", d->op->ephtrace, strerror(-err));
		return err;
	}
	d->t_started = true;
	while (!tracer__attached(&d->t)) {
		if (d->t.exited && d->t.err_fd < 0 && d->t.out_fd < 0) {
			drv_reason(d, FAIL, "ephtrace %s did not attach (%s): %.300s", cmd,
				   status_text(d->t.status, st, sizeof(st)), buf_str(&d->t.err));
			return -EIO;
		}
		if (now_ms() > deadline) {
			drv_reason(d, FAIL,
				   "no \"using backend \" line from ephtrace %s within %d s", cmd,
				   d->op->timeout_s);
			return -ETIMEDOUT;
		}
		if (!drv_idle(d, 100))
			return -EIO;
	}
	found = strstr(buf_str(&d->t.err), "using backend ") + strlen("using backend ");
	snprintf(d->backend, sizeof(d->backend), "%.*s", (int)strcspn(found, " \n()"), found);
	return 0;
}

int drv_start_top(struct drv *d, const char *const *args)
{
	return drv_start_ephtrace(d, "top", args);
}

json_object *drv_snapshot(struct drv *d, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	const char *line;
	json_object *snap;
	char st[64];
	size_t len;

	while (!(line = next_line(&d->t.out, &d->off, &len))) {
		if (d->t.exited && d->t.out_fd < 0) {
			drv_reason(d, FAIL, "ephtrace top exited (%s): %.300s",
				   status_text(d->t.status, st, sizeof(st)), buf_str(&d->t.err));
			return NULL;
		}
		if (now_ms() > deadline) {
			drv_reason(d, FAIL, "no snapshot from ephtrace top within %d ms",
				   timeout_ms);
			return NULL;
		}
		if (!drv_idle(d, 50))
			return NULL;
	}
	free(d->last);
	d->last = strndup(line, len);
	snap = d->last ? json_tokener_parse(d->last) : NULL;
	if (!snap || !json_object_is_type(snap, json_type_object) || snap_time(snap) < 0) {
		drv_problem(d, "expected a JSON object with an RFC 3339 \"time\" per line got %.*s",
			    (int)(len > SHOW_MAX ? SHOW_MAX : len), line);
		json_object_put(snap);
		return NULL;
	}
	return snap;
}

int drv_top_ready(struct drv *d)
{
	json_object *snap = drv_snapshot(d, 5000);

	json_object_put(snap);
	return snap ? 0 : -EIO;
}

int drv_stop_ephtrace(struct drv *d, const char *cmd)
{
	char st[64];
	int err;

	err = tracer__stop(&d->t, 1000 * d->op->timeout_s);
	if (err == -ETIMEDOUT)
		drv_reason(d, FAIL, "ephtrace %s did not exit within %d s of SIGINT", cmd,
			   d->op->timeout_s);
	else if (err)
		drv_reason(d, FAIL, "reading ephtrace's output: %s", strerror(-err));
	else if (!WIFEXITED(d->t.status) || WEXITSTATUS(d->t.status))
		drv_reason(d, FAIL, "expected ephtrace %s to exit 0 after SIGINT got %s", cmd,
			   status_text(d->t.status, st, sizeof(st)));
	return d->verdict == PASS ? 0 : -EIO;
}

int drv_stop_top(struct drv *d)
{
	return drv_stop_ephtrace(d, "top");
}

void drv_check_backend(struct drv *d)
{
	const char *want = d->op->expect_backend;

	if (!want && strcmp(d->op->backend, "auto"))
		want = d->op->backend;
	if (want && strcmp(want, d->backend))
		drv_problem(d, "expected backend %s got \"using backend %s\"", want, d->backend);
}

static void keep_file(const struct drv *d, const char *what, const struct buf *b)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.%s", d->op->keep_dir, d->s->name, what);
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "ephtest: cannot write %s: %s\n", path, strerror(errno));
		return;
	}
	fputs(buf_str(b), f);
	fclose(f);
}

enum verdict drv_finish(struct drv *d, int64_t t0_ms)
{
	enum verdict v;

	if (d->op->keep_dir && d->t_started) {
		keep_file(d, "ephtrace.json", &d->t.out);
		keep_file(d, "ephtrace.stderr", &d->t.err);
	}
	if (d->op->verbose && d->last)
		printf("  last snapshot read:\n    %s\n", d->last);
	if (d->report.len)
		printf("%s", buf_str(&d->report));
	if (d->verdict == FAIL && d->done.len)
		printf("  what the run saw: %s\n", buf_str(&d->done));
	/* its end only, when long (-v's libbpf messages: a VM's serial console is slow) */
	if (d->t_started && (d->op->verbose || d->verdict == FAIL) && d->t.err.len) {
		size_t cut = d->t.err.len > DRV_STDERR_SHOWN ? d->t.err.len - DRV_STDERR_SHOWN : 0;

		printf("  ephtrace stderr%s:\n%s", cut ? " (its end)" : "",
		       buf_str(&d->t.err) + cut);
	}
	if (d->verdict == PASS) {
		snprintf(d->reason, sizeof(d->reason), "%s", buf_str(&d->done));
	} else if (d->problems > 1) {
		char first[sizeof(d->reason)];

		snprintf(first, sizeof(first), "%s", d->reason);
		snprintf(d->reason, sizeof(d->reason), "%d problems, the first: %.400s",
			 d->problems, first);
	}
	printf("RESULT %s %s (%s) %lldms\n", d->s->name, verdict_name(d->verdict), d->reason,
	       (long long)(now_ms() - t0_ms));
	fflush(stdout);
	v = d->verdict;
	if (d->t_started)
		tracer__free(&d->t);
	if (d->w_started)
		workload__free(&d->w);
	buf_free(&d->report);
	buf_free(&d->done);
	free(d->last);
	return v;
}

/* ---- snapshots ---- */

json_object *snap_dest(json_object *snap, uint64_t netns, const char *daddr, int dport)
{
	json_object *a = jarr(snap, "destinations"), *e;
	size_t i, n = a ? json_object_array_length(a) : 0;
	const char *s;
	double v;

	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(a, i);
		s = jstr(e, "daddr");
		if (jnum(e, "netns", &v) == 1 && v == (double)netns && jnum(e, "dport", &v) == 1 &&
		    v == dport && s && !strcmp(s, daddr) && (s = jstr(e, "proto")) &&
		    !strcmp(s, "tcp"))
			return e;
	}
	return NULL;
}

int64_t snap_time(json_object *snap)
{
	return parse_time(jstr(snap, "time"));
}
