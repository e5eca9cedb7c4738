// SPDX-License-Identifier: GPL-2.0
/*
 * kretprobe-miss: connect()s the kernel's kretprobe could not follow are counted as missed.
 *
 * A kretprobe has maxactive instances (max(10, 2 * num_possible_cpus()) by default,
 * register_kretprobe() in kernel/kprobes.c): a call that finds them all in use is not probed
 * on return, and its event is lost; the kernel counts it in the probe's nmissed, which
 * bpf_link_info gives from 6.7 (perf_event.kprobe.missed) and ephtrace adds to "missed".
 * inet_hash_connect()'s port search calls cond_resched() for each taken port it passes over,
 * so tasks preempted in a long search pile up inside it.
 *
 * The workload (a network namespace of its own, ports KM_LO-KM_HI, a listener on
 * 0.0.0.0:KM_DPORT) binds the first KM_HELD ports, and each connect() goes to an address of its
 * own (127.1.0.1, 127.1.0.2, ...): a search starts where the last one to the same destination
 * ended (table_perturb in __inet_hash_connect()), so connect()s to one destination would find a
 * free port at once after the first; to each its own, a search starts anywhere in the range
 * and walks past up to KM_HELD taken ports. Two runs of ephtrace events -p PID -v:
 *   1. KM_FEW threads, KM_FEW_EACH connect()s each: never more tasks in the search than any
 *      kretprobe has instances, so "missed" must be 0 and every connect() an assign.
 *   2. KM_WAVES times KM_MANY threads released at once, one connect() each (how many tasks
 *      pile up depends on where the ticks fall: several waves make a miss likelier; one wave
 *      on the backends without a kretprobe, where the others only added time): every
 *      connect() is an assign
 *      received (its port what getsockname() gave) or one run counted in "missed", and
 *      "dropped" is only those (connects made == assigns received + missed).
 * With --backend kprobe, run 2 must have missed something (else SKIP: no miss happened); a
 * kernel that does not report a kprobe's misses (before 6.7: ephtrace -v says so) loses them
 * uncounted: SKIP, saying how many. Other backends have no kretprobe: run 2 must be exact, but
 * for fentry on a kernel that preempts its programs (PREEMPT_RT, preempt=full: README, "Kernel
 * flavours"), where a task preempted inside a program makes the kernel skip the same program's
 * runs of other tasks on its CPU (prog->active): there both runs may miss, every event lost
 * being a run counted (connects made <= assigns received + missed: a connect() whose fentry and
 * fexit runs were both skipped counts twice), as ephtest allows in every scenario.
 * With fentry and kprobe, after each run (its threads have exited), ephtrace -v's "calls left in
 * progress" must be 0: the context an entry program left for a return the kernel did not probe
 * goes when its thread exits (kf_thread_exit in bpf/kfunc.bpf.h).
 */
#include <errno.h>
#include <json-c/json.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ephtest.h"
#include "preempt.h"

#define KM_DPORT 5000
#define KM_DADDR 0x7f010000 /* 127.1.0.0: each connect() to an address of its own */
#define KM_LO 10000	    /* the scenario's ip_local_port_range */
#define KM_HI 61999
#define KM_HELD 50000 /* KM_LO.. bound: taken, the search walks past them */
#define KM_FEW 4      /* fewer than the fewest instances a kretprobe has (10) */
#define KM_FEW_EACH 10
#define KM_MANY 256
#define KM_WAVES 4 /* of KM_MANY threads, one after the other */
#define KM_ROUND_MAX (KM_MANY * KM_WAVES)
#define KM_SPARE (KM_ROUND_MAX + 1024) /* descriptors beside the ports held */
#define KM_STEP_MS(d) (5000 * (d)->op->timeout_s) /* a workload's time (--timeout: 5x) */
#define KM_NOT_TOLD "does not report a kprobe's misses"
#define KM_CALLS_LEFT "calls left in progress: "

/* One round of connect()s, as the workload saw them. */
struct km_round {
	uint32_t next;	 /* connect()s begun: the next one's destination (km_dest) */
	uint32_t made;	 /* connect()s */
	uint32_t ok;	 /* of which succeeded: port[0..ok) */
	int32_t err;	 /* the errno of a failed one, 0 if none failed */
	uint64_t sum_ns; /* time in connect() */
	uint64_t max_ns;
	uint16_t port[KM_ROUND_MAX];
};

struct km_shared {
	uint32_t held;	/* ports bound: KM_HELD, or what RLIMIT_NOFILE allows */
	uint32_t waves; /* run 2's: KM_WAVES with kprobe, where they make a miss likelier; one
			 * elsewhere (it must be exact there: the others add only time) */
	struct km_round round[2];
};

_Static_assert(sizeof(struct km_shared) <= DRV_PRIV_SIZE, "km_shared does not fit");
_Static_assert(KM_FEW *KM_FEW_EACH <= KM_ROUND_MAX, "the first round fits");
_Static_assert(KM_HELD + KM_FEW * KM_FEW_EACH + KM_ROUND_MAX < KM_HI - KM_LO + 1,
	       "every connect() finds a free port");

static struct km_shared *km_of(struct oracle *o)
{
	return (struct km_shared *)o->priv;
}

/* ---- the workload ---- */

static int km_fail(struct oracle *o, const char *what, int err)
{
	snprintf(o->msg, sizeof(o->msg), "%s: %s", what, strerror(err));
	return 1;
}

struct km_thread {
	struct km_round *r;
	pthread_barrier_t *start;
	int each;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* The destination of the round's connect() n: 127.1.0.1 + n, port KM_DPORT (the listener's
 * wildcard address takes them all). */
static void km_dest(uint32_t n, struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(KM_DPORT);
	sin->sin_addr.s_addr = htonl(KM_DADDR + 1 + n);
}

/* each connect()s, sockets kept (their ports stay taken), recorded in the round */
static void *km_connects(void *arg)
{
	const struct km_thread *t = arg;
	struct km_round *r = t->r;
	struct sockaddr_in sin;
	uint64_t t0, ns;
	int i, fd, ret, err;

	pthread_barrier_wait(t->start);
	for (i = 0; i < t->each; i++) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			__atomic_store_n(&r->err, errno, __ATOMIC_SEQ_CST);
			continue;
		}
		km_dest(__atomic_fetch_add(&r->next, 1, __ATOMIC_SEQ_CST), &sin);
		t0 = mono_ns();
		ret = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
		err = errno;
		ns = mono_ns() - t0;
		__atomic_fetch_add(&r->made, 1, __ATOMIC_SEQ_CST);
		__atomic_fetch_add(&r->sum_ns, ns, __ATOMIC_SEQ_CST);
		for (t0 = __atomic_load_n(&r->max_ns, __ATOMIC_SEQ_CST); ns > t0;)
			if (__atomic_compare_exchange_n(&r->max_ns, &t0, ns, false,
							__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
				break;
		if (ret)
			__atomic_store_n(&r->err, err, __ATOMIC_SEQ_CST);
		else
			r->port[__atomic_fetch_add(&r->ok, 1, __ATOMIC_SEQ_CST)] =
				drv_local_port(fd);
	}
	return NULL;
}

/* nthreads threads, each connect()s, started together */
static int km_round_run(struct oracle *o, struct km_round *r, int nthreads, int each)
{
	pthread_t th[KM_MANY];
	pthread_barrier_t start;
	pthread_attr_t attr;
	struct km_thread t = { .r = r, .start = &start, .each = each };
	int i, n, err;

	err = pthread_barrier_init(&start, NULL, nthreads + 1);
	if (err)
		return km_fail(o, "pthread_barrier_init()", err);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (n = 0; n < nthreads; n++) {
		err = pthread_create(&th[n], &attr, km_connects, &t);
		if (err)
			break;
	}
	pthread_attr_destroy(&attr);
	if (err) /* the threads made wait for the rest: abandon them with the workload */
		return km_fail(o, "pthread_create()", err);
	pthread_barrier_wait(&start);
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);
	return 0;
}

/* Room for the ports held: KM_HELD, or as many as a host that does not let root raise the
 * hard RLIMIT_NOFILE allows (0: none). -1 on failure. */
static int km_room(struct oracle *o)
{
	struct rlimit rl = { KM_HELD + KM_SPARE, KM_HELD + KM_SPARE };

	if (!setrlimit(RLIMIT_NOFILE, &rl))
		return KM_HELD;
	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		if (!setrlimit(RLIMIT_NOFILE, &rl))
			return rl.rlim_cur > KM_SPARE ? (int)(rl.rlim_cur - KM_SPARE) : 0;
	}
	km_fail(o, "RLIMIT_NOFILE for the ports held", errno);
	return -1;
}

int km_workload(struct oracle *o)
{
	struct km_shared *sh = km_of(o);
	struct sockaddr_in any;
	int lfd, fd, port, room, wave, one = 1;

	drv_wait_go(o, 1);
	room = km_room(o);
	if (room < 0)
		return 1;
	sh->held = room;
	km_dest(0, &any);
	any.sin_addr.s_addr = htonl(INADDR_ANY);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&any, sizeof(any)) || listen(lfd, 4096))
		return km_fail(o, "listener on 0.0.0.0:5000", errno);
	for (port = KM_LO; port < KM_LO + (int)sh->held; port++) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || drv_loopback(fd, port, true))
			return km_fail(o, "bind() of the ports held", errno);
	}
	drv_done(o, 1);
	drv_wait_go(o, 2);
	if (km_round_run(o, &sh->round[0], KM_FEW, KM_FEW_EACH))
		return 1;
	drv_done(o, 2);
	drv_wait_go(o, 3);
	for (wave = 0; wave < (int)sh->waves; wave++)
		if (km_round_run(o, &sh->round[1], KM_MANY, 1))
			return 1;
	drv_done(o, 3);
	for (;;)
		pause();
}

/* ---- the driver ---- */

/* What one run of ephtrace reported for the round. */
struct km_seen {
	unsigned int assigns;	   /* the workload's connect assigns whose port a connect() got */
	unsigned int fails;	   /* its connect fails */
	unsigned int unexpected;   /* its assigns of another port, or of one port twice */
	long long dropped, missed; /* the summary's; -1 when there was none */
	bool not_told;		   /* -v: the kernel does not report a kprobe's misses */
	long long calls_left;	   /* -v: "calls left in progress: N" at the end; -1: none */
};

static void km_read_event(struct drv *d, json_object *e, const struct km_round *r, bool *got,
			  struct km_seen *s)
{
	const char *ev = jstr(e, "event"), *op = jstr(e, "op");
	double pid, sport;
	uint32_t i;
	long long v;

	if (ev && !strcmp(ev, "summary")) {
		json_object *m;

		s->dropped =
			json_object_object_get_ex(e, "dropped", &m) ? json_object_get_int64(m) : -1;
		v = json_object_object_get_ex(e, "missed", &m) ? json_object_get_int64(m) : 0;
		s->missed = v;
		return;
	}
	if (!ev || !op || strcmp(op, "connect") || jnum(e, "pid", &pid) != 1 || pid != d->w.pid)
		return;
	if (!strcmp(ev, "fail")) {
		s->fails++;
		return;
	}
	if (strcmp(ev, "assign") || jnum(e, "sport", &sport) != 1)
		return;
	/* a port can serve several destinations: each connect() once */
	for (i = 0; i < r->ok && (r->port[i] != sport || got[i]); i++)
		;
	if (i == r->ok || got[i]) {
		s->unexpected++;
		return;
	}
	got[i] = true;
	s->assigns++;
}

static int km_read(struct drv *d, const struct km_round *r, struct km_seen *s)
{
	bool got[KM_ROUND_MAX] = {};
	size_t off = 0, len;
	const char *line;

	memset(s, 0, sizeof(*s));
	s->dropped = -1;
	while ((line = next_line(&d->t.out, &off, &len))) {
		char *copy = strndup(line, len);
		json_object *e = copy ? json_tokener_parse(copy) : NULL;

		if (!copy)
			return -ENOMEM;
		if (e)
			km_read_event(d, e, r, got, s);
		json_object_put(e);
		free(copy);
	}
	s->not_told = strstr(buf_str(&d->t.err), KM_NOT_TOLD) != NULL;
	line = strstr(buf_str(&d->t.err), KM_CALLS_LEFT);
	s->calls_left = line ? strtoll(line + strlen(KM_CALLS_LEFT), NULL, 10) : -1;
	return 0;
}

/* `ephtrace events -p PID -v` around step k; its output read into s. 0, or the reason is set. */
static int km_events(struct drv *d, int k, const struct km_round *r, struct km_seen *s)
{
	char pid[16];
	const char *args[] = { "-p", pid, "-v", NULL };
	int err;

	snprintf(pid, sizeof(pid), "%d", (int)d->w.pid);
	err = drv_start_ephtrace(d, "events", args);
	if (!err)
		err = drv_step(d, k, KM_STEP_MS(d), "a round of connect()s") ?:
			      (drv_idle(d, 300) ? drv_stop_ephtrace(d, "events") : -EIO);
	if (!err) {
		drv_check_backend(d);
		err = km_read(d, r, s);
		if (err)
			drv_reason(d, FAIL, "reading ephtrace's events: %s", strerror(-err));
	}
	if (d->t_started && !err) {
		if (d->op->verbose)
			printf("  ephtrace stderr (step %d):\n%s", k, buf_str(&d->t.err));
		tracer__free(&d->t);
		d->t_started = false;
	}
	return err;
}

static void km_say_round(struct drv *d, const char *name, const struct km_round *r,
			 const struct km_seen *s)
{
	buf_printf(&d->done,
		   "%s%s: %u connects made (%u failed), %u assigns + %u fails received, "
		   "missed %lld, dropped %lld, calls left %lld; connect() %.0f us on average, "
		   "%.0f us at most",
		   d->done.len ? "; " : "", name, r->made, r->made - r->ok, s->assigns, s->fails,
		   s->missed, s->dropped, s->calls_left, r->made ? r->sum_ns / 1e3 / r->made : 0.0,
		   r->max_ns / 1e3);
}

/* fentry and kprobe key the calls they follow by thread: in the VMs nothing else runs, so once
 * the workload's threads have exited none is left. (On the host, other processes' calls in
 * progress would count too.) */
static bool km_keyed_by_thread(const struct drv *d)
{
	return !strcmp(d->backend, "kprobe") || !strcmp(d->backend, "fentry");
}

/* fentry where the kernel skips a preempted program's runs of other tasks (see the top);
 * d->backend is the one ephtrace said it used. */
static bool km_preempted(const struct drv *d)
{
	return !strcmp(d->backend, "fentry") && eph_kernel_preempts_progs(NULL, 0);
}

/* What every run must show: a summary, nothing that did not happen, and what is missing at
 * most what was missed: exactly, but for fentry on a kernel that preempts its programs, where
 * "missed" counts skipped runs, which can be more than the events lost (a connect()'s fentry and
 * fexit runs both skipped; a skipped run of a release program). The number of events missing,
 * or -1 after a problem. */
static long long km_common(struct drv *d, const char *name, const struct km_round *r,
			   const struct km_seen *s)
{
	long long missing = (long long)r->made - s->assigns - s->fails;
	bool upper = s->not_told || km_preempted(d);

	if (!r->made)
		drv_problem(d, "%s: the workload made no connect(): %s", name,
			    r->err ? strerror(r->err) : "no error");
	else if (s->dropped < 0)
		drv_problem(d, "%s: expected a summary line got none", name);
	else if (s->unexpected)
		drv_problem(d,
			    "%s: expected only assigns of the ports connect() got, got %u "
			    "others",
			    name, s->unexpected);
	else if (s->dropped != s->missed)
		drv_problem(d,
			    "%s: expected every drop to be a missed run got dropped %lld, "
			    "missed %lld",
			    name, s->dropped, s->missed);
	else if (missing < 0 || (!upper && missing != s->missed))
		drv_problem(d,
			    "%s: expected connects made == assigns received + missed got %u "
			    "== %u + %lld",
			    name, r->made, s->assigns + s->fails, s->missed);
	else if (!s->not_told && missing > s->missed)
		drv_problem(d,
			    "%s: expected connects made <= assigns received + missed (runs the "
			    "kernel skipped) got %u > %u + %lld",
			    name, r->made, s->assigns + s->fails, s->missed);
	else if (km_keyed_by_thread(d) && s->calls_left != 0)
		drv_problem(d,
			    "%s: the workload's threads have all exited: expected calls left "
			    "in progress 0 (a missed return's context goes with its thread) "
			    "got %lld",
			    name, s->calls_left);
	else
		return missing;
	return -1;
}

/* A kretprobe's default instances: max(10, 2 * possible CPUs); 0 when unknown. */
static int km_maxactive(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	int lo, hi, n = 0, c;

	if (!f)
		return 0;
	while ((c = fscanf(f, "%d-%d", &lo, &hi)) >= 1) {
		n += c == 2 ? hi - lo + 1 : 1;
		if (fgetc(f) != ',')
			break;
	}
	fclose(f);
	return n ? (2 * n > 10 ? 2 * n : 10) : 0;
}

static void km_run(struct drv *d)
{
	const struct km_shared *sh = km_of(d->w.o);
	struct km_seen few, many;
	long long missing;
	bool preempted;

	if (drv_step(d, 1, KM_STEP_MS(d), "the listener and the ports held"))
		return;
	/* 1: fewer tasks than instances: nothing may be missed */
	if (km_events(d, 2, &sh->round[0], &few))
		return;
	km_say_round(d, "few", &sh->round[0], &few);
	missing = km_common(d, "few", &sh->round[0], &few);
	preempted = km_preempted(d);
	if (missing >= 0 && (missing || few.missed) && !preempted)
		drv_problem(d,
			    "few: %d threads, fewer than a kretprobe's instances: expected "
			    "missed 0 and every connect an assign got missed %lld, %lld missing",
			    KM_FEW, few.missed, missing);
	if (d->verdict != PASS)
		return;
	/* 2: many at once */
	km_of(d->w.o)->waves = strcmp(d->backend, "kprobe") ? 1 : KM_WAVES;
	if (km_events(d, 3, &sh->round[1], &many))
		return;
	km_say_round(d, "many", &sh->round[1], &many);
	buf_printf(&d->done, "; %u ports held, a kretprobe's default maxactive here %d", sh->held,
		   km_maxactive());
	missing = km_common(d, "many", &sh->round[1], &many);
	if (missing < 0)
		return;
	if (preempted) {
		buf_printf(&d->done, "; fentry on a kernel that preempts its programs: %lld + %lld "
			   "runs skipped and counted, %lld + %lld events lost", few.missed,
			   many.missed, (long long)sh->round[0].made - few.assigns - few.fails, missing);
	} else if (strcmp(d->backend, "kprobe")) {
		if (missing || many.missed)
			drv_problem(d,
				    "many: backend %s has no kretprobe: expected missed 0 and "
				    "every connect an assign got missed %lld, %lld missing",
				    d->backend, many.missed, missing);
	} else if (many.not_told) {
		drv_reason(d, SKIP,
			   "this kernel does not report a kprobe's misses: %lld of %u "
			   "connects lost uncounted (ephtrace -v said so); %s",
			   missing, sh->round[1].made, buf_str(&d->done));
	} else if (!many.missed) {
		drv_reason(d, SKIP,
			   "no kretprobe miss happened (%d waves of %d threads at once, each "
			   "search past up to %u ports taken); %s",
			   KM_WAVES, KM_MANY, sh->held, buf_str(&d->done));
	}
}

enum verdict km_drive(const struct scenario *s, const struct occ_opts *op)
{
	struct drv d = { .s = s, .op = op, .verdict = PASS };
	int64_t t0 = now_ms();

	if (!drv_start_workload(&d, "eph-kmiss"))
		km_run(&d);
	return drv_finish(&d, t0);
}
