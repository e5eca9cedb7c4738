// SPDX-License-Identifier: GPL-2.0
/*
 * The forecast scenarios: top's exhaust_in_s (user/core/occ_view.c dest_forecast) against the
 * kernel.
 *
 * forecast: a connector connects to 127.0.0.1:5000 at FC_RATE per second and keeps every
 * connection, until the first EADDRNOTAVAIL of a 1000-port range: the truth. Every snapshot
 * from FC_SETTLE_NS into the load until that failure must forecast it within a factor of 2
 * (or of the ports the kernel had left then at FC_RATE, when the connector's own pace moved
 * the failure: fc_load);
 * once the range is full, exhaust_in_s is 0; after the connector closed everything with RST, it
 * is null again within one rate window.
 *
 * forecast-steady: a load that fits: FS_RATE connections per second, each held FS_HOLD_S
 * seconds and closed with RST (nothing in TIME_WAIT), about 60 % of the range. Once its first
 * connections came back (the ramp-up of a load cannot be told from an exhausting one before),
 * every snapshot must show exhaust_in_s null, the held ports near 60 % and ports left.
 */
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ephtest.h"

#define FC_RATE 150
#define FC_MAX_CONNECTS 2000	  /* the range has 1000 ports: a failure comes before */
#define FC_TRACK 1024		  /* connects whose return is timed (done_us): the whole range */
#define FC_SETTLE_NS 3000000000LL /* every snapshot from 3 s into the load is checked */
/* near the failure, one connect's period and the event delay matter more than the factor: a
 * forecast within this of the truth passes too (the RESULT line says how many did) */
#define FC_SLACK_S 0.05
#define FC_WINDOW "4"		 /* top --window: null again within this after the close */
#define FC_FULL_NS 600000000LL	 /* the range stays full this long before the close */
#define FC_AFTER_NS 1500000000LL /* snapshots read after the close + window */
#define FS_RATE 100
#define FS_HOLD_S 6
#define FS_RAMP_NS ((FS_HOLD_S + 2) * 1000000000LL)
#define FS_SECONDS 40	 /* the steady load's length on the host (32 s after the ramp) */
#define FS_SECONDS_VM 20 /* in the test VMs (TCG, one vCPU: every second is slow) */
#define FS_VM_SAYS "20 s, 40 on a host"
#define FS_HELD_LO 0.50 /* held ports, share of the range, once the ramp is over */
#define FS_HELD_HI 0.70
#define FS_MAX_OPEN 2048
#define LISTEN_PORT 5000
#define TOP_INTERVAL "0.5"
#define WAIT_MS(d) (5000 * (d)->op->timeout_s)

/* What the workload and the driver share (oracle priv). */
struct fc_shared {
	int32_t seconds;    /* steady: how long the load runs (set by the driver) */
	uint32_t connected; /* connections made */
	uint32_t closed;    /* steady: connections closed (RST) */
	uint32_t min_open;  /* steady: connections open, least and most after the ramp */
	uint32_t max_open;
	uint32_t late;		/* ticks that began more than one period late */
	int64_t start_wall_ns;	/* when the first connect() began (CLOCK_REALTIME) */
	int64_t fail_wall_ns;	/* when the first EADDRNOTAVAIL returned, 0 if none */
	int64_t close_wall_ns;	/* forecast: when the first RST close began */
	int64_t closed_wall_ns; /* forecast: when the last one returned */
	int64_t stop_wall_ns;	/* steady: when the load stopped */
	uint32_t done_us[FC_TRACK]; /* forecast: when connect() #k returned, us after start_wall_ns */
};

_Static_assert(sizeof(struct fc_shared) <= DRV_PRIV_SIZE, "fc_shared does not fit");

static struct fc_shared *fc_of(struct oracle *o)
{
	return (struct fc_shared *)o->priv;
}

/* ---- the workloads ---- */

static int fds[FS_MAX_OPEN], afds[FS_MAX_OPEN];

static int listener(struct oracle *o)
{
	struct sockaddr_storage ss;
	int fd, one = 1;
	socklen_t len;

	drv_sockaddr("127.0.0.1", LISTEN_PORT, &ss, &len);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 4096)) {
		snprintf(o->msg, sizeof(o->msg), "listener on 127.0.0.1:%d: %s", LISTEN_PORT,
			 strerror(errno));
		return -1;
	}
	return fd;
}

/* A connection to the listener, its server side accepted: 0, or -errno of connect(). */
static int connect_one(struct oracle *o, int lfd, int *fd, int *afd)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int err;

	drv_sockaddr("127.0.0.1", LISTEN_PORT, &ss, &len);
	*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*fd < 0) {
		snprintf(o->msg, sizeof(o->msg), "socket(): %s", strerror(errno));
		return -EIO;
	}
	if (connect(*fd, (struct sockaddr *)&ss, len)) {
		err = -errno;
		close(*fd);
		return err;
	}
	*afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (*afd < 0) {
		snprintf(o->msg, sizeof(o->msg), "accept(): %s", strerror(errno));
		return -EIO;
	}
	return 0;
}

/* Did this tick begin more than a period after its time (next: the following tick's)? */
static bool late(const struct timespec *next)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > next->tv_sec ||
	       (now.tv_sec == next->tv_sec && now.tv_nsec > next->tv_nsec);
}

/*
 * Step 1: FC_RATE connections per second on an absolute schedule, every one kept, until the
 * first EADDRNOTAVAIL. Step 2: all of them closed with RST. Then it waits to be killed.
 */
int fc_connector(struct oracle *o)
{
	struct fc_shared *sh = fc_of(o);
	struct timespec next;
	int lfd, n, err;

	lfd = listener(o);
	if (lfd < 0)
		return -1;
	drv_wait_go(o, 1);
	clock_gettime(CLOCK_MONOTONIC, &next);
	sh->start_wall_ns = wall_ns();
	for (n = 0; n < FC_MAX_CONNECTS; n++) {
		drv_tick(&next, 1000000000L / FC_RATE);
		err = connect_one(o, lfd, &fds[n % FS_MAX_OPEN], &afds[n % FS_MAX_OPEN]);
		if (err == -EADDRNOTAVAIL) {
			sh->fail_wall_ns = wall_ns();
			break;
		}
		if (err) {
			if (err != -EIO)
				snprintf(o->msg, sizeof(o->msg), "connect() #%d: %s", n + 1,
					 strerror(-err));
			return -1;
		}
		if (n < FC_TRACK)
			sh->done_us[n] = (uint32_t)((wall_ns() - sh->start_wall_ns) / 1000);
		__atomic_store_n(&sh->connected, n + 1, __ATOMIC_SEQ_CST);
	}
	drv_done(o, 1);
	drv_wait_go(o, 2);
	sh->close_wall_ns = wall_ns();
	while (n-- > 0) {
		drv_rst_close(fds[n % FS_MAX_OPEN]);
		close(afds[n % FS_MAX_OPEN]);
	}
	sh->closed_wall_ns = wall_ns();
	drv_done(o, 2);
	for (;;)
		pause();
}

/*
 * Step 1: FS_RATE connections per second for sh->seconds, each closed with RST FS_HOLD_S
 * seconds after it was made (the oldest first, at the tick it is due). Then it waits to be
 * killed.
 */
int fc_steady(struct oracle *o)
{
	struct fc_shared *sh = fc_of(o);
	uint32_t head, tail = 0, ticks, hold = FS_HOLD_S * FS_RATE, open;
	struct timespec next;
	int lfd, err;

	lfd = listener(o);
	if (lfd < 0)
		return -1;
	drv_wait_go(o, 1);
	ticks = sh->seconds * FS_RATE;
	sh->min_open = UINT32_MAX;
	clock_gettime(CLOCK_MONOTONIC, &next);
	sh->start_wall_ns = wall_ns();
	for (head = 0; head < ticks; head++) {
		drv_tick(&next, 1000000000L / FS_RATE);
		sh->late += late(&next);
		for (; tail + hold <= head; tail++) { /* made FS_HOLD_S seconds ago */
			drv_rst_close(fds[tail % FS_MAX_OPEN]);
			close(afds[tail % FS_MAX_OPEN]);
			sh->closed++;
		}
		err = connect_one(o, lfd, &fds[head % FS_MAX_OPEN], &afds[head % FS_MAX_OPEN]);
		if (err) {
			if (err != -EIO)
				snprintf(o->msg, sizeof(o->msg), "connect() #%u with %u open: %s",
					 head + 1, head - tail, strerror(-err));
			return -1;
		}
		sh->connected++;
		open = head + 1 - tail;
		if (head >= hold) {
			if (open < sh->min_open)
				sh->min_open = open;
			if (open > sh->max_open)
				sh->max_open = open;
		}
	}
	sh->stop_wall_ns = wall_ns();
	drv_done(o, 1);
	for (;;)
		pause();
}

/* ---- the forecast against the first EADDRNOTAVAIL ---- */

struct fc_tally {
	int checked, ok, slack, full; /* snapshots checked: within the factor, within the slack,
				       * with the range already full */
	int off;		      /* within the factor of the load's own truth only (fc_load) */
	double off_s;		      /* how far that truth was from the failure's, most */
	double lo, hi;		      /* exhaust_in_s / truth of the ok ones, least and most */
	int64_t first_finite;	      /* the first snapshot with a number (wall ns), 0 if none */
	int full_after;		      /* snapshots after the failure, before the close */
	int lagged;		      /* after the close, within the window, not null yet */
	int64_t first_null;	      /* after the close, the first null (wall ns), 0 if none */
};

static double since(int64_t t, int64_t from)
{
	return (t - from) / 1e9;
}

static double lesser(double a, double b)
{
	return a < b ? a : b;
}

static double greater(double a, double b)
{
	return a > b ? a : b;
}

/* The scenario's range: its ports. */
static uint32_t fc_range(const struct drv *d)
{
	return d->s->range_hi - d->s->range_lo + 1;
}

/* The connects that had returned by wall time t: the ports the kernel had granted then. */
static uint32_t fc_made_by(const struct fc_shared *sh, int64_t t)
{
	uint32_t n = 0, max = sh->connected < FC_TRACK ? sh->connected : FC_TRACK;

	while (n < max && sh->start_wall_ns + sh->done_us[n] * 1000LL <= t)
		n++;
	return n;
}

static bool within(double e, double truth)
{
	return e / truth >= 0.5 && e / truth <= 2;
}

/*
 * A snapshot of the load, before the failure. Its truth is when the first EADDRNOTAVAIL came.
 * A guest short of CPU stalls the connector, which then catches up on its schedule in a
 * burst: a forecast from the ports left at the snapshot cannot see that burst coming. So a
 * snapshot is also judged against the load's own truth: the ports the kernel had left at that
 * moment (range less the connects returned by then) at the rate asked, when that differs from
 * the failure's truth by more than two periods (counted in off, the most in off_s).
 */
static void fc_load(struct drv *d, json_object *snap, json_object *dest, struct fc_tally *t)
{
	const struct fc_shared *sh = fc_of(d->w.o);
	int64_t when = snap_time(snap);
	uint32_t range = fc_range(d), made = fc_made_by(sh, when);
	double e, left, truth = since(sh->fail_wall_ns, when), ratio;
	double own = (double)(range - made) / FC_RATE;
	int k = dest ? jnum(dest, "exhaust_in_s", &e) : -1;
	char said[32];

	if (k == 1 && !t->first_finite)
		t->first_finite = when;
	if (when < sh->start_wall_ns + FC_SETTLE_NS)
		return;
	t->checked++;
	if (!dest) {
		drv_problem(d, "snapshot at +%.2fs: no row for 127.0.0.1:%d",
			    since(when, sh->start_wall_ns), LISTEN_PORT);
		return;
	}
	if (jnum(dest, "ports_left", &left) == 1 && left == 0 && k == 1 && e == 0) {
		t->full++; /* between the last connect granted and the one refused */
		return;
	}
	ratio = k == 1 ? e / truth : NAN;
	if (k == 1 && within(e, truth)) {
		t->lo = t->ok ? lesser(t->lo, ratio) : ratio;
		t->hi = t->ok ? greater(t->hi, ratio) : ratio;
		t->ok++;
		return;
	}
	if (k == 1 && e - truth <= FC_SLACK_S && truth - e <= FC_SLACK_S) {
		t->slack++;
		return;
	}
	if (k == 1 && fabs(own - truth) > 2.0 / FC_RATE && within(e, own)) {
		t->off++;
		t->off_s = greater(t->off_s, fabs(own - truth));
		return;
	}
	if (k == 1)
		snprintf(said, sizeof(said), "%.3g", e);
	else
		snprintf(said, sizeof(said), "%s", k ? "no number" : "null");
	drv_problem(d,
		    "snapshot at +%.2fs: expected exhaust_in_s within a factor of 2 of %.3f s (the "
		    "first EADDRNOTAVAIL came at +%.2fs) got %s; the connector had %u connects "
		    "back by then (its schedule: %.0f), %u ports left at %d/s: %.3f s",
		    since(when, sh->start_wall_ns), truth,
		    since(sh->fail_wall_ns, sh->start_wall_ns), said, made,
		    floor(since(when, sh->start_wall_ns) * FC_RATE) + 1, range - made, FC_RATE, own);
	buf_printf(&d->report, "      destination: %s\n", json_object_to_json_string(dest));
}

/* A snapshot after the failure, before the close: the range is full. */
static void fc_full(struct drv *d, json_object *snap, json_object *dest, struct fc_tally *t)
{
	const struct fc_shared *sh = fc_of(d->w.o);
	double e, left;
	int k = dest ? jnum(dest, "exhaust_in_s", &e) : -1;

	t->full_after++;
	if (dest && jnum(dest, "ports_left", &left) == 1 && left == 0 && k == 1 && e == 0)
		return;
	drv_problem(d,
		    "snapshot %.2f s after the first EADDRNOTAVAIL: expected ports_left 0 and "
		    "exhaust_in_s 0 got %s",
		    since(snap_time(snap), sh->fail_wall_ns),
		    dest ? json_object_to_json_string(dest) : "no row");
}

/* After the close: null from one window on (before that it may lag); nothing held at the end. */
static void fc_after(struct drv *d, json_object *snap, json_object *dest, struct fc_tally *t,
		     bool last)
{
	const struct fc_shared *sh = fc_of(d->w.o);
	int64_t when = snap_time(snap), window = atoi(FC_WINDOW) * 1000000000LL;
	double e, held;
	int k = dest ? jnum(dest, "exhaust_in_s", &e) : 0;

	if (k == 0 && !t->first_null)
		t->first_null = when;
	if (k != 0 && when < sh->closed_wall_ns + window)
		t->lagged++;
	else if (k != 0)
		drv_problem(d,
			    "snapshot %.2f s after the connector closed everything (window %s s): "
			    "expected exhaust_in_s null got %s",
			    since(when, sh->closed_wall_ns), FC_WINDOW,
			    json_object_to_json_string(dest));
	if (last && dest && (jnum(dest, "held", &held) != 1 || held != 0))
		drv_problem(d, "expected held 0 once every connection was reset got %s",
			    json_object_to_json_string(dest));
}

/*
 * The snapshots of top up to the first one taken after until_ns, each checked by when it was
 * taken: during the load, once the range is full, after the close (during it: not checked).
 * The close's times are 0 until it began: before that, every snapshot after the failure is one
 * of a full range.
 */
static int fc_read(struct drv *d, int64_t until_ns, struct fc_tally *t)
{
	const struct fc_shared *sh = fc_of(d->w.o);
	json_object *snap, *dest;
	int64_t when;

	do {
		snap = drv_snapshot(d, 5000);
		if (!snap)
			return -EIO;
		when = snap_time(snap);
		dest = snap_dest(snap, d->w.o->netns, "127.0.0.1", LISTEN_PORT);
		if (when >= sh->start_wall_ns && when < sh->fail_wall_ns)
			fc_load(d, snap, dest, t);
		else if (when >= sh->fail_wall_ns &&
			 (!sh->close_wall_ns || when < sh->close_wall_ns))
			fc_full(d, snap, dest, t);
		else if (sh->closed_wall_ns && when >= sh->closed_wall_ns)
			fc_after(d, snap, dest, t, when > until_ns);
		json_object_put(snap);
	} while (when <= until_ns);
	return 0;
}

static void fc_say(struct drv *d, const struct fc_tally *t)
{
	const struct fc_shared *sh = fc_of(d->w.o);
	double load = since(sh->fail_wall_ns, sh->start_wall_ns);

	buf_printf(&d->done,
		   "%d/s asked, %.1f/s done; first EADDRNOTAVAIL at +%.2fs; %d snapshots from "
		   "+%.0fs: exhaust_in_s/truth %.2f-%.2f",
		   FC_RATE, sh->connected / load, load, t->checked, FC_SETTLE_NS / 1e9, t->lo,
		   t->hi);
	if (t->slack)
		buf_printf(&d->done, " (%d more within %.2f s of the truth)", t->slack, FC_SLACK_S);
	if (t->full)
		buf_printf(&d->done, " (%d more with the range already full: 0)", t->full);
	if (t->off)
		buf_printf(&d->done,
			   " (%d more within the factor of the ports left then at %d/s, the "
			   "connector's pace having changed the truth by up to %.2f s)",
			   t->off, FC_RATE, t->off_s);
	buf_printf(&d->done,
		   ", the first number at +%.2fs; full: 0 in %d snapshots; after the RST close: "
		   "null %.2f s later (window %s s, %d snapshots lagged); backend %s",
		   t->first_finite ? since(t->first_finite, sh->start_wall_ns) : -1.0,
		   t->full_after, t->first_null ? since(t->first_null, sh->closed_wall_ns) : -1.0,
		   FC_WINDOW, t->lagged, d->backend);
}

static void run_forecast(struct drv *d)
{
	const char *args[] = { "-i", TOP_INTERVAL, "--window", FC_WINDOW, NULL };
	struct fc_shared *sh = fc_of(d->w.o);
	struct fc_tally t = {};

	if (fc_range(d) > FC_TRACK) {
		drv_reason(d, FAIL, "the range is larger than the %d connects timed", FC_TRACK);
		return;
	}
	if (drv_start_top(d, args) || drv_top_ready(d) || drv_step(d, 1, WAIT_MS(d), "the load"))
		return;
	if (!sh->fail_wall_ns || sh->connected != fc_range(d)) {
		drv_reason(d, FAIL,
			   "workload: %u connections, then %s (expected %u, then EADDRNOTAVAIL)",
			   sh->connected, sh->fail_wall_ns ? "EADDRNOTAVAIL" : "no failure",
			   fc_range(d));
		return;
	}
	/* the range full for a while, then the close; then one window and a bit */
	if (fc_read(d, sh->fail_wall_ns + FC_FULL_NS, &t) ||
	    drv_step(d, 2, WAIT_MS(d), "the close") ||
	    fc_read(d, sh->closed_wall_ns + atoi(FC_WINDOW) * 1000000000LL + FC_AFTER_NS, &t))
		return;
	if (!t.checked)
		drv_problem(d, "no snapshot between +%.0fs and the first EADDRNOTAVAIL",
			    FC_SETTLE_NS / 1e9);
	if (!t.full_after)
		drv_problem(d, "no snapshot between the first EADDRNOTAVAIL and the close");
	if (!t.first_null)
		drv_problem(d, "exhaust_in_s never null after the close");
	fc_say(d, &t);
	drv_check_backend(d);
	drv_stop_top(d);
}

enum verdict fc_drive(const struct scenario *s, const struct occ_opts *op)
{
	struct drv d = { .s = s, .op = op, .verdict = PASS };
	int64_t t0 = now_ms();

	if (!drv_start_workload(&d, "eph-connector"))
		run_forecast(&d);
	return drv_finish(&d, t0);
}

/* ---- a steady load that fits ---- */

#define FS_SHOW 5 /* snapshots shown as problems; the rest are counted */

struct fs_tally {
	int checked, ramp_finite; /* snapshots checked; during the ramp, with a number */
	int bad;		  /* snapshots checked that were wrong */
	double held_lo, held_hi, left_lo;
};

static void fs_check(struct drv *d, json_object *snap, struct fs_tally *t)
{
	const struct fc_shared *sh = fc_of(d->w.o);
	double usable = fc_range(d), e, held, left;
	int64_t when = snap_time(snap);
	json_object *dest = snap_dest(snap, d->w.o->netns, "127.0.0.1", LISTEN_PORT);
	int k;

	if (when < sh->start_wall_ns || when >= sh->stop_wall_ns)
		return;
	k = dest ? jnum(dest, "exhaust_in_s", &e) : -1;
	if (when < sh->start_wall_ns + FS_RAMP_NS) {
		t->ramp_finite += k == 1;
		return;
	}
	if (!dest) {
		drv_problem(d, "snapshot at +%.2fs: no row for 127.0.0.1:%d",
			    since(when, sh->start_wall_ns), LISTEN_PORT);
		return;
	}
	jnum(dest, "held", &held);
	jnum(dest, "ports_left", &left);
	t->held_lo = t->checked ? lesser(t->held_lo, held) : held;
	t->held_hi = t->checked ? greater(t->held_hi, held) : held;
	t->left_lo = t->checked ? lesser(t->left_lo, left) : left;
	t->checked++;
	if ((k != 0 || !(held >= FS_HELD_LO * usable && held <= FS_HELD_HI * usable) ||
	     !(left > 0)) &&
	    t->bad++ < FS_SHOW) {
		drv_problem(d,
			    "snapshot at +%.2fs: expected exhaust_in_s null, held %.0f to %.0f and "
			    "ports_left > 0 got %s",
			    since(when, sh->start_wall_ns), FS_HELD_LO * usable,
			    FS_HELD_HI * usable, json_object_to_json_string(dest));
	}
}

static void run_steady(struct drv *d)
{
	const char *args[] = { "-i", TOP_INTERVAL, NULL };
	struct fc_shared *sh = fc_of(d->w.o);
	struct fs_tally t = {};
	json_object *snap;
	bool vm = drv_in_test_vm();
	int64_t when;

	sh->seconds = vm ? FS_SECONDS_VM : FS_SECONDS;
	if (drv_start_top(d, args) || drv_top_ready(d) ||
	    drv_step(d, 1, WAIT_MS(d) + 1000 * sh->seconds, "the load"))
		return;
	do {
		snap = drv_snapshot(d, 5000);
		if (!snap)
			return;
		fs_check(d, snap, &t);
		when = snap_time(snap);
		json_object_put(snap);
	} while (when < sh->stop_wall_ns);
	if (!t.checked)
		drv_problem(d, "no snapshot after the ramp");
	if (t.bad > FS_SHOW)
		drv_problem(d, "%d more snapshots like these", t.bad - FS_SHOW);
	buf_printf(&d->done,
		   "%d/s held %d s, RST: %u connects in %.1f s%s, %u late ticks, %u-%u open after "
		   "the ramp; %d snapshots from +%.0fs: exhaust_in_s null, held %.0f-%.0f, "
		   "ports_left >= %.0f; %d ramp snapshots with a number; backend %s",
		   FS_RATE, FS_HOLD_S, sh->connected, since(sh->stop_wall_ns, sh->start_wall_ns),
		   vm ? " (in the test VM: " FS_VM_SAYS ")" : "", sh->late, sh->min_open,
		   sh->max_open, t.checked, FS_RAMP_NS / 1e9, t.held_lo, t.held_hi, t.left_lo,
		   t.ramp_finite, d->backend);
	drv_check_backend(d);
	drv_stop_top(d);
}

enum verdict fc_steady_drive(const struct scenario *s, const struct occ_opts *op)
{
	struct drv d = { .s = s, .op = op, .verdict = PASS };
	int64_t t0 = now_ms();

	if (!drv_start_workload(&d, "eph-steady"))
		run_steady(&d);
	return drv_finish(&d, t0);
}
