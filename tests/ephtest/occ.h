/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The occupancy scenarios (occ.c has the whole story): what their files share. occ.c holds the
 * run (the roles, the kernel's truth from /proc/PID/net/tcp, ephtrace, the driver and the RESULT
 * line), occ_check.c reads and checks a snapshot's JSON, occ_scn.c holds occupancy-live,
 * occupancy-late and status, occ_hist.c hist-fill. The entry points are declared in ephtest.h.
 */
#ifndef EPHTEST_OCC_H
#define EPHTEST_OCC_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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

/* ---- occ.c: the run ---- */

/* The roles' process names (comm), by ROLE_* */
extern const char *const occ_role_comm[NR_ROLES];

/* The first reason wins. */
void occ_set_reason(struct occ_run *r, enum verdict v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void occ_problem(struct occ_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Read ephtrace's output (if it runs) or sleep, for about ms. */
void occ_idle(struct occ_run *r, int ms);
bool occ_role_died(struct occ_run *r, int i);
/* Wait until *flag is set by role i. */
int occ_wait_flag(struct occ_run *r, int i, const int32_t *flag, int timeout_ms, const char *what);
int occ_read_truth(const struct occ_run *r, struct truth *t);
/* The closer exited: wait for its connections' TIME_WAIT, or for their count to stand still. */
int occ_settle(struct occ_run *r, struct truth *t);
/* Server, holder (all its connections made), closer (exited), TIME_WAIT settled. */
int occ_run_workload(struct occ_run *r, struct truth *t);
/* Start ephtrace with args (after the binary); wait for "using backend" if attach. */
int occ_start_ephtrace(struct occ_run *r, const char *const *args, unsigned int flags, bool attach);
void occ_check_backend(struct occ_run *r);
int occ_start_top(struct occ_run *r, bool once);
/* SIGINT to top --json: it must exit 0. */
int occ_stop_top(struct occ_run *r);
/* A one-shot run (top -n 1, status): it must exit 0 on its own. */
int occ_wait_oneshot(struct occ_run *r, const char *what);

/* ---- occ_check.c: reading and checking a snapshot ---- */

/* The expectations on one object of a snapshot; the object is shown under its problems. */
struct expect {
	struct occ_run *r;
	const char *what;
	json_object *obj;
	int problems;
};

bool occ_str_is(json_object *o, const char *key, const char *want);
/* pid 0: the entry of unknown owner (pid null). */
json_object *occ_find_proc(json_object *snap, pid_t pid);
void ex_begin(struct expect *x, struct occ_run *r, const char *what, json_object *obj);
void ex_num(struct expect *x, const char *key, double want);
void ex_bool(struct expect *x, const char *key, bool want);
void ex_str(struct expect *x, const char *key, const char *want);
void ex_end(struct expect *x);
void occ_show_snapshot(struct occ_run *r, const char *line, size_t len);
/* The object, or a problem (with the whole snapshot) when it is missing. */
json_object *occ_need(struct occ_run *r, json_object *o, const char *what, bool *shown);
double occ_usable(const struct scenario *s);
/* What every occupancy snapshot must say (range, :5000 held, :6000 in TIME_WAIT). */
void occ_check_common(struct occ_run *r, json_object *snap, const struct truth *t, bool *shown);
/* TIME_WAIT found at start: no owner (pid null); the closer must not be named. */
void occ_check_unknown_owner(struct occ_run *r, json_object *snap, const struct truth *t,
			     bool *shown);
json_object *occ_parse_snapshot(struct occ_run *r, const char *line, size_t len);
void occ_keep_snapshot(struct occ_run *r, const char *line, size_t len);

/* ---- occ_scn.c, occ_hist.c: the scenarios ---- */

/* top from before the workload */
void occ_scenario_live(struct occ_run *r);
/* top -n 1 after the workload */
void occ_scenario_late(struct occ_run *r);
/* status, bpf() refused */
void occ_scenario_status(struct occ_run *r);
/* hist --json while the filler fills the range */
void occ_scenario_hist_fill(struct occ_run *r);
/* --workload-only hist-fill: `ephtrace hist` (text) per phase */
int hf_demo(struct occ_run *r);

#endif /* EPHTEST_OCC_H */
