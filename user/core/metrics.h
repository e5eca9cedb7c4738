/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Prometheus exposition: the text format 0.0.4 and OpenMetrics 1.0, written from plain structs
 * (kernel counters, the "stats" and "hists" maps, rows per process, destination and network
 * namespace). No libbpf and no HTTP here (see ARCHITECTURE.md): serve_metrics.c gathers,
 * this writes.
 *
 * Every label value is escaped (backslash, double quote, newline) and made valid UTF-8: a
 * byte that does not start or continue a valid UTF-8 sequence becomes U+FFFD, other control
 * bytes their Unicode control pictures (tab U+2409, carriage return U+240D, DEL U+2421), so
 * that no reader splitting lines at '\r' or stopping at control bytes is misled.
 */
#ifndef EPH_METRICS_H
#define EPH_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "container.h"
#include "errs.h"
#include "ephtrace.h"
#include "event.h"
#include "hist.h"
#include "strbuf.h"

enum eph_metrics_format {
	EPH_METRICS_TEXT,	 /* text/plain; version=0.0.4 */
	EPH_METRICS_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
};

#define EPH_METRICS_TEXT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define EPH_METRICS_OPENMETRICS_TYPE "application/openmetrics-text; version=1.0.0; charset=utf-8"

/* Buckets exported for the log2 histograms: slot k (values in [2^k, 2^(k+1)) ns) ends at
 * le = (2^(k+1) - 1) ns, exact for integer nanoseconds. Slots below the first fold into the
 * first bucket, slots above the last only into +Inf: cumulative counts stay exact. */
#define EPH_METRICS_SEARCH_FIRST_SLOT 8 /* le 511 ns */
#define EPH_METRICS_SEARCH_LAST_SLOT 29 /* le 1.073741823 s */
#define EPH_METRICS_HOLD_FIRST_SLOT 20	/* le 2.097151 ms */
#define EPH_METRICS_HOLD_LAST_SLOT 45	/* le 70368.744177663 s (19.5 h) */

/* One entry of the kernel's "stats" map. */
struct eph_metrics_stat {
	struct eph_stat_key key;
	uint64_t value;
};

/* Ports held towards one destination (the occupancy tracker's view). NAN means unknown: the
 * series is left out. exhaust_in_s is exported only when finite. */
struct eph_metrics_dest {
	uint32_t netns;
	uint8_t proto;	/* IPPROTO_TCP / IPPROTO_UDP */
	uint8_t family; /* AF_INET / AF_INET6 */
	uint16_t dport;
	uint8_t saddr[16]; /* network order; AF_INET in the first 4 bytes */
	uint8_t daddr[16];
	uint64_t held;
	double ports_left;   /* connect()s the kernel would still grant (NAN: unknown) */
	double utilization;  /* 1 - ports_left / usable, 0..1 (NAN: range unknown) */
	double exhaust_in_s; /* forecast (NAN or INFINITY: none) */
	uint64_t failures;   /* connect()s that found no port, since the destination is tracked */
	const struct eph_container *ct; /* the namespace's owner (labels), or NULL */
};

/* Ports held in one bind scope (netns, protocol, local address): bind() to port 0, listen()
 * autobind and UDP sockets, where the kernel's choice is per local address. NAN: unknown. */
struct eph_metrics_scope {
	uint32_t netns;
	uint8_t proto;	  /* IPPROTO_TCP / IPPROTO_UDP */
	uint8_t family;	  /* AF_INET / AF_INET6 */
	uint8_t addr[16]; /* network order; AF_INET in the first 4 bytes */
	uint64_t held;
	double ports_left;  /* bind(addr, 0) calls the kernel would still grant (NAN: unknown) */
	double utilization; /* 1 - ports_left / usable, 0..1 (NAN: range unknown) */
	/* since the scope is tracked: no free port for bind() to port 0 or listen() (EADDRINUSE),
	 * for a UDP implicit bind of connect() or sendmsg() (EAGAIN; UDP only) */
	uint64_t fail_inuse;
	uint64_t fail_again;
	const struct eph_container *ct; /* the namespace's owner (labels), or NULL */
};

/* The ephemeral range of one network namespace: ports in range minus reserved ones, and the
 * connect()s a destination with no connection in it yet would get (NAN: not known). */
struct eph_metrics_netns {
	uint32_t netns;
	uint64_t usable;
	double new_left;
	const struct eph_container *ct; /* its owner (labels), or NULL */
};

/* Ports one process holds now. The writer sums the rows of one identity (comm and container
 * labels; pid too with pid_labels) into one series. */
struct eph_metrics_proc {
	uint32_t pid;
	char comm[EPH_COMM_LEN]; /* any bytes; read up to the first NUL */
	uint64_t held;
	const struct eph_container *ct; /* its container (labels), or NULL */
};

/* Port allocation failures of one process identity with one errno (eph_proc_counts__rows);
 * rows of one identity and errno are summed, as above. */
struct eph_metrics_proc_fail {
	uint32_t pid; /* shown only with pid_labels (eph_proc_counts keeps 0 without) */
	char comm[EPH_COMM_LEN];
	int32_t err; /* positive errno */
	uint64_t count;
	const struct eph_container *ct;
};

/* One finding that holds now (findings.h): the gauge is 1 while it does. */
struct eph_metrics_finding {
	const char *kind;     /* "bind_before_connect", ... */
	const char *severity; /* "info", "warning", "critical" */
	uint32_t netns;
	uint32_t pid; /* with pid_labels only; 0: not known (label left empty) */
	char comm[EPH_COMM_LEN];
	char target[64]; /* "127.0.0.1:5000", "tcp port 8080", or "" (the namespace) */
	const struct eph_container *ct;
};

/* One BPF program's own cost (bpf_prog_info.run_time_ns / run_cnt). */
struct eph_metrics_prog {
	char name[32];
	uint64_t run_time_ns;
	uint64_t run_cnt;
};

/*
 * Container labels (container_id; pod, namespace, container for a pod) follow a row's own,
 * on destinations, bind scopes, namespaces, processes, failures and findings; none for the
 * host's. Everything one scrape shows. Arrays may be NULL when their count is 0; rows must be
 * unique by their labels (netns+proto+saddr+daddr+dport; netns+proto+family+addr; netns;
 * program name), except processes, failures and findings: process and failure rows with the
 * same labels are summed into one series, a finding whose labels an earlier one has is left
 * out. A process's labels are comm and its container's, and pid only with pid_labels: a
 * series per pid would come and go with the pids and start again from 0 with each new one.
 * Rows need not be sorted: the output is (same input, same bytes).
 */
struct eph_metrics_input {
	const char *version; /* build_info */
	const char *backend;
	const uint64_t *counters;      /* EPH_CNT_MAX values (eph_loader__counters), or NULL */
	const struct eph_hists *hists; /* cumulative since start, or NULL */
	/* the tables, each with its count below */
	const struct eph_metrics_stat *stats;
	const struct eph_metrics_netns *netns;
	const struct eph_metrics_dest *dests;
	const struct eph_metrics_scope *scopes;
	const struct eph_metrics_proc *procs;
	const struct eph_metrics_proc_fail *fails;
	const struct eph_metrics_finding *findings; /* most severe first */
	const struct eph_metrics_prog *progs;	    /* only when BPF run-time stats are on */
	size_t nstats, nnetns, ndests, nscopes, nprocs, nfails, nfindings, nprogs;
	uint64_t procs_untracked; /* events of processes a full table could not count */
	uint64_t resyncs;	  /* sock_diag reconciliations (eph_occ__resyncs) */
	uint64_t resync_released; /* ports they found released without an event */
	unsigned int top;	  /* at most this many rows per table (0: no limit) */
	bool pid_labels; /* a pid label on process, failure and finding series (serve --pid-labels) */
};

/*
 * Append the whole exposition. Destinations and bind scopes are ranked by utilization then
 * ports held, processes by ports held (only those holding some), failures by count (each after
the sums above); rows past
 * the top N are left out and counted in ephtrace_series_truncated{table}. Failure counters of
 * the common port errors (connect EADDRNOTAVAIL, bind EADDRINUSE, UDP autobind EAGAIN) are
 * always there, 0 until the kernel counts one, so that increase() sees the first failure; so
 * are those of every destination and bind scope shown (a scope near exhaustion ranks high).
 * Returns 0 or -ENOMEM (sb is then left as it was).
 */
int eph_metrics_write(struct strbuf *sb, const struct eph_metrics_input *in,
		      enum eph_metrics_format fmt);

/* A label value between double quotes, escaped and valid UTF-8 (see above). Reads at most n
 * bytes and stops at a NUL. */
int eph_metrics_label_value(struct strbuf *sb, const char *s, size_t n);

/* A float the way Go's strconv.FormatFloat(v, 'g', -1, 64) writes it (what Prometheus and
 * its client libraries use for le): shortest round-trip digits, exponent form below 1e-4 and
 * from 1e6 on ("5.11e-07", "0.5", "1", "1e+06", "+Inf", "-Inf", "NaN"). */
int eph_metrics_float(struct strbuf *sb, double v);

/* Whether an Accept header prefers OpenMetrics: the best q of application/openmetrics-text
 * (any version) is > 0 and not below that of text/plain (or of a wildcard matching it). */
bool eph_metrics_wants_openmetrics(const char *accept);

/*
 * Port allocation failures by process identity, from events: the counters of
 * ephtrace_process_port_failures_total, which must never go back for a series that stays.
 * An identity is the process's name (pcomm, eph_proc_comm()) and its container's labels, and
 * its pid only when made with by_pid (serve --pid-labels): without, every pid of a name in a
 * container counts into one series, which outlives them.
 *
 * The per-process side is a struct eph_proc_series_ref in the row of each process that failed
 * (at most max of them at once), in the one per-process table, the occupancy's
 * (eph_occ__count_series(), occupancy.h), which calls these:
 * - A process's failures are "pending" (not in the rows) until its container is known
 *   (eph_proc_counts__settle() with it), or it is gone or 30 s have passed
 *   (EPH_PROC_PENDING_NS: settled with none, no container labels). Then they move to the
 *   identity's series (at most max), and its further failures go there: a series only grows,
 *   and each failure counts once, in the one series it is shown in.
 * - A series lives while a process counts into it (a row of a live process) and, without
 *   by_pid, after that while the series table is under half full (as destinations keep their
 *   failure counters): only then is a counter dropped, to start again from 0 should the
 *   identity come back. With by_pid a series goes with its pid, as pids do.
 * - Failures of a process the table has no row for (eph_proc_counts__lost()), of a ninth errno
 *   of a series or of a pending process, or pending when no series could be made for them are
 *   counted in untracked.
 */
struct eph_proc_counts;

#define EPH_PROC_PENDING_NS 30000000000ull /* a container still not known: counted without */

/* One process's part (zeroed at first). */
struct eph_proc_series_ref {
	uint32_t series;	 /* index + 1 of the series it counts into; 0: none yet */
	uint64_t since_ns;	 /* its first pending failure (ts_ns); 0: none pending */
	struct eph_errs pending; /* its failures before its series is known */
};

struct eph_proc_counts *eph_proc_counts__new(uint32_t max, bool by_pid); /* NULL: ENOMEM, EINVAL */
void eph_proc_counts__free(struct eph_proc_counts *pc);			 /* NULL-safe */
/* A process's part, made at its first failure (freed by eph_proc_counts__leave()): 0, or
 * -ENOSPC when max processes have one (its failures are then counted in untracked), -ENOMEM. */
int eph_proc_counts__join(struct eph_proc_counts *pc, struct eph_proc_series_ref **ref);
/* A failure err of the process (its latest name comm): into its series, or pending. A new
 * name leaves the series of the old one: the process is then pending again. */
void eph_proc_counts__fail(struct eph_proc_counts *pc, struct eph_proc_series_ref *ref,
			   const char *comm, int32_t err, uint64_t ts_ns);
/* n failures of processes that have no row (a full table): counted in untracked. */
void eph_proc_counts__lost(struct eph_proc_counts *pc, uint64_t n);
/* The pending failures of process pid (comm) to the series of its identity, ct its container
 * (NULL or none: a host process, or never known); it counts into it from then on. Nothing
 * when none is pending; with the series table full they are dropped into untracked. Returns
 * 0 or -ENOMEM. */
int eph_proc_counts__settle(struct eph_proc_counts *pc, struct eph_proc_series_ref *ref,
			    uint32_t pid, const char *comm, const struct eph_container *ct);
/* The process's part goes (its row goes, or it exited): what it has pending is dropped (settle
 * it first), it leaves its series, ref is freed. NULL-safe. */
void eph_proc_counts__leave(struct eph_proc_counts *pc, struct eph_proc_series_ref *ref);
/* The series no process counts into go, by the rules above. */
void eph_proc_counts__prune(struct eph_proc_counts *pc);
uint64_t eph_proc_counts__untracked(const struct eph_proc_counts *pc);
uint32_t eph_proc_counts__pending(const struct eph_proc_counts *pc); /* processes pending */
uint32_t eph_proc_counts__series(const struct eph_proc_counts *pc);  /* series kept */
/* The series as failure rows, one per errno with a count (malloc'ed; NULL when empty), and
 * the containers their ct point to (*cts, malloc'ed, or NULL): the caller frees both.
 * Returns 0 or -ENOMEM. */
int eph_proc_counts__rows(const struct eph_proc_counts *pc, struct eph_metrics_proc_fail **fails,
			  size_t *nfails, struct eph_container **cts);

#endif
