/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The lifecycle scenarios: a port's life after its assignment. `ephtrace events --json
 * --releases` against what the kernel did, in time as well as in count (issue 14): each assign
 * while the call that took the port ran, one release when the kernel gave it back, none while
 * the workload runs for a port kept in TIME_WAIT. lifecycle.c drives (lifecycle_check.c checks
 * what ephtrace printed), lifecycle_wl.c records the workload's calls, lifecycle_syn.c,
 * lifecycle_tcp.c and lifecycle_udp.c are the scenarios. What they share: the ports the
 * workload took, in its struct oracle .priv, the helpers that record them, and what the
 * driver's two files share. The scenario bodies and lc_drive() are declared in ephtest.h
 * (scenarios.c registers them).
 */
#ifndef EPHTEST_LIFECYCLE_H
#define EPHTEST_LIFECYCLE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ephtest.h"

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif

#define LC_LISTEN_PORT 5000 /* outside the range */
#define LC_MAX_PORTS 48
#define LC_MAX_PIDS 2
#define LC_GAP_MS 300	 /* between a copy's close() and the last one's */
#define LC_AWAIT_MS 1500 /* syn-blackhole: how long an assign may take to be reported */
#define LC_STATE_MS 3000 /* a state change on loopback takes far less */

/* A port's fate. LC_KEPT: in TIME_WAIT, no release while the workload runs; the namespace's
 * cleanup after its end may release it (inet_twsk_purge()), which fentry and kprobe report. */
#define LC_BACK 1 /* one release, in [back_from, back_to] */
#define LC_KEPT 2

/* One port the workload took (shared between the workload's processes and the driver). */
struct lc_port {
	int64_t took_from, took_to; /* wall ns around the call that took it */
	int64_t back_from, back_to; /* LC_BACK: wall ns around what gave it back */
	/* disconnected: wall ns around the socket's close, where a backend blind to
	 * connect(AF_UNSPEC) reports the release (lc_back_window()) */
	int64_t close_from, close_to;
	int32_t rec;		    /* its record in the oracle, -1 if none */
	int32_t fd;		    /* the workload's descriptor (syn-blackhole) */
	uint16_t port;
	uint8_t proto;
	uint8_t fate;	      /* LC_BACK or LC_KEPT */
	uint8_t await_step;   /* its assign must be in ephtrace's output once step await_step is
			       * done, before the next one starts (0: not checked) */
	uint8_t seen;	      /* driver: it was */
	uint8_t still_syn;    /* workload: the socket was in SYN_SENT still when the next began */
	uint8_t back_at_exit; /* back_to is the exit of helper pid[0], which the driver sets */
	uint8_t released;     /* driver: a release was matched to it */
	uint8_t deferred;     /* TCP_FASTOPEN_CONNECT: tcp_connect() waits for the first write */
	uint8_t disconnected; /* UDP: given back by connect(AF_UNSPEC), before the close */
	uint8_t __pad[5];
	char what[64]; /* how it was taken and given back, for the report */
};

struct lc_shared {
	int32_t ready;		  /* setup done: nsteps set, or o->skip with o->msg */
	int32_t nsteps;		  /* steps the driver allows, one after the other */
	int32_t failed;		  /* a helper process failed: o->msg says why */
	int32_t w_exits;	  /* the workload's process exits before the last step is done */
	int32_t pid[LC_MAX_PIDS]; /* helper processes: waited for, killed on a failure */
	uint32_t nports;
	uint32_t overflow; /* ports that did not fit */
	int64_t t0;	   /* wall ns at step 1: the report's times are from here */
	int64_t end_ns;	   /* wall ns after the workload's last call: LC_KEPT ports may go after */
	char note[160];	   /* what the kernel did beyond the tally */
	struct lc_port port[LC_MAX_PORTS];
};

_Static_assert(sizeof(struct lc_shared) <= DRV_PRIV_SIZE, "lc_shared does not fit");

static inline struct lc_shared *lc_of(const struct oracle *o)
{
	return (struct lc_shared *)o->priv;
}

/* ---- the workload's recording (lifecycle_wl.c), for the scenarios ---- */

#define LC_CONNECT 0
#define LC_SENDTO 1  /* sendto(MSG_FASTOPEN) */
#define LC_SENDMSG 2 /* sendmsg(MSG_FASTOPEN) */

int lc_fail(struct oracle *o, const char *what, int err);
int lc_helper_fail(struct oracle *o, const char *what, int err);
void lc_ready(struct oracle *o, int nsteps);
struct lc_port *lc_port_new(struct oracle *o, const struct orec *r, const char *what, int64_t from,
			    int64_t to);
void lc_dest(uint16_t port, struct sockaddr_in *sin);
uint16_t lc_local(int fd, uint8_t addr[16]);
int lc_state(int fd);
int lc_wait_state(int fd, int st, int ms);
int lc_tcp_entries(uint16_t lport, int *st);
int lc_gone(struct oracle *o, const struct lc_port *p);
struct orec *lc_rec_connect(struct oracle *o, uint16_t dport);
struct orec *lc_connect(struct oracle *o, int fd, uint16_t dport, int how, int64_t *t0,
			int64_t *t1);
int lc_udp_bound(struct oracle *o, int family, uint16_t port, const char *what,
		 struct lc_port **pp);
int lc_listener(struct oracle *o, bool tfo, struct lc_port **pp);
void lc_close_back(struct lc_port *p, int fd, bool rst);

/* ---- the driver (lifecycle.c, lifecycle_check.c) ---- */

struct lc_run {
	struct drv d;
	struct lc_shared *sh;
	int pidfd[LC_MAX_PIDS]; /* opened while the helper was alive: -1 none */
	int64_t t0;		/* of the run, for the RESULT line */
};

struct lc_ev {
	const char *line; /* in the tracer's output */
	size_t len;
	char event[16];
	char op[16];
	uint8_t proto;
	long long pid, sport;
	int64_t time_ns;
};

struct lc_ev *lc_events(const struct drv *d, size_t *n);
const struct lc_ev *lc_find_assign(const struct lc_ev *evs, size_t n, pid_t pid,
				   const struct lc_port *p);
void lc_check(struct lc_run *lr);

#endif
