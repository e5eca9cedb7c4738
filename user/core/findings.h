/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Findings: why a port space is filling up, who does it, and what to change.
 *
 * A rule engine over facts the occupancy core gathers (occ_facts.c: the holds now, the
 * port-search model's answers, and the event counts of a window per process): no libbpf, no
 * system calls, no clock. Each rule is written next to its kind in findings_rules.c and
 * README.md; the thresholds are the EPH_FIND_* constants below.
 *
 * Severity follows the space the finding is about (the headroom model's ports_left):
 * critical when it has run out (ports_left 0, or failures in the window) or the forecast says
 * it will (a finite exhaust_in_s), warning when more than 80 % of it is taken, info otherwise.
 */
#ifndef EPH_FINDINGS_H
#define EPH_FINDINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "occupancy.h"
#include "strbuf.h"

/* Kinds (stable: their names are in JSON, metrics and README). */
enum eph_find_kind {
	EPH_FIND_BIND_BEFORE_CONNECT,
	EPH_FIND_TIME_WAIT_CHURN,
	EPH_FIND_SINGLE_DESTINATION,
	EPH_FIND_NARROW_RANGE,
	EPH_FIND_RANGE_PARITY,
	EPH_FIND_UDP_CONNECTED_CAP,
	EPH_FIND_FIXED_PORT_CONFLICT,
	EPH_FIND_SOCKET_RANGE,
	EPH_FIND_NKINDS
};

enum eph_find_severity {
	EPH_SEV_INFO,
	EPH_SEV_WARNING,
	EPH_SEV_CRITICAL
};

/* Thresholds of the rules. */
#define EPH_FIND_WARN_TAKEN 0.8	      /* warning: more than this share of the space taken */
#define EPH_FIND_BBC_MIN 2	      /* bind_before_connect: sockets or connects at least */
#define EPH_FIND_TW_MIN 20	      /* time_wait_churn: TIME_WAIT 4-tuples at least ... */
#define EPH_FIND_TW_SHARE 0.5	      /* ... and at least this share of the destination's */
#define EPH_FIND_TW_SHORT_S 60.0      /* ... from connections held less than this on average */
#define EPH_FIND_SINGLE_FREE 0.5      /* single_destination: a new destination gets this share */
#define EPH_FIND_NARROW_USABLE 14116  /* narrow_range: fewer usable ports (half the default) */
#define EPH_FIND_NARROW_RSV 0.25      /* ... or reserved ports take this share of the range */
#define EPH_FIND_NARROW_PRESSURE 0.5  /* ... and some space of the netns is this full */
#define EPH_FIND_UDP_CONN_SHARE 0.5   /* udp_connected_cap: connected sockets own this share */
#define EPH_FIND_UDP_LEFT 0.2	      /* ... and autobind has less than this share left */
#define EPH_FIND_FIXED_MIN 3	      /* fixed_port_conflict: EADDRINUSE at least this often */
#define EPH_FIND_SOCKET_LEFT 0.2      /* socket_range: less than this share of it left */
#define EPH_FIND_DEFAULT_USABLE 28232 /* 32768-60999, the kernel's default */

/* Who: a process, where known (pid 0: not known). */
struct eph_find_who {
	uint32_t pid;
	char comm[EPH_COMM_LEN];
	char cgroup[128]; /* "" when not known */
	/* its container or pod (all "" when none or not known); for a finding about a
	 * namespace with no process named, the namespace's owner */
	struct eph_container ct;
};

/* One network namespace. */
struct eph_find_ns {
	uint32_t netns;
	uint16_t low, high;
	uint32_t reserved;     /* reserved ports inside [low, high] */
	uint32_t tcp_usable;   /* the model's (portsearch.h struct eph_ps_netns) */
	uint32_t tcp_bound;    /* ports whose bucket bind()/listen() made: lost to connect() */
	uint32_t tcp_new_left; /* connect()s a destination with no connection yet would get */
	uint32_t udp_usable;
	uint32_t udp_taken;
	uint32_t udp_left;	/* UDP autobinds (connect()/sendto() of unbound sockets) left */
	uint32_t udp_connected; /* UDP holds that a connect() or sendto() autobind made */
	uint32_t udp_eagain;	/* UDP autobinds that failed with EAGAIN in the window */
	struct eph_find_who udp_top; /* the process with most of udp_connected */
	uint32_t udp_top_held;
	struct eph_occ_tw_opts tw;
};

/* One destination (TCP connect()). */
struct eph_find_dest {
	struct eph_occ_dest_key key;
	struct eph_occ_stats st;  /* held, time_wait, usable, ports_left, failures, exhaust_in_s */
	uint64_t window_failures; /* connect() failures in the window */
	double mean_hold_s;	  /* its TIME_WAIT sockets' lives before TIME_WAIT; NAN: unknown */
	struct eph_find_who top;  /* the process holding most of its ports */
	uint32_t top_held;
	/* IP_LOCAL_PORT_RANGE of its sockets (socket_n 0: none narrows the range) */
	uint16_t socket_low, socket_high;
	uint32_t socket_n, socket_usable, socket_left;
};

/* One process in one namespace: how it connects. */
struct eph_find_proc {
	uint32_t netns;
	struct eph_find_who who;
	uint32_t bound_conns; /* TCP connections now whose port bind() took (bucket bind()'s) */
	uint32_t conns;	      /* TCP connections now */
	/* events of the window (have_events) */
	uint32_t assigns;	 /* ports it took (connect(), bind(), ...) */
	uint32_t bound_connects; /* ... on a socket bind(0) had given a port */
};

/* bind() of one fixed port failing with EADDRINUSE (events only). */
struct eph_find_port {
	uint32_t netns;
	uint16_t port;
	uint8_t proto;
	uint8_t __pad;
	struct eph_find_who who; /* the last process that failed */
	uint32_t failures;	 /* in the window */
	bool holders_known;	 /* the port is inside the range: its holds are tracked */
	uint32_t tw_holders;	 /* holders_known: TIME_WAIT sockets on the port now */
	uint32_t other_holders;	 /* holders_known: other sockets on the port now */
};

struct eph_find_in {
	bool have_events;  /* counts of a window are known (top, serve); not for a snapshot */
	uint32_t window_s; /* the window of those counts */
	const struct eph_find_ns *ns;
	size_t nns;
	const struct eph_find_dest *dests;
	size_t ndests;
	const struct eph_find_proc *procs;
	size_t nprocs;
	const struct eph_find_port *ports;
	size_t nports;
};

struct eph_finding {
	enum eph_find_kind kind;
	enum eph_find_severity severity;
	uint32_t netns;
	struct eph_find_who who;
	bool has_dest;
	struct eph_occ_dest_key dest; /* has_dest */
	uint16_t port;		      /* fixed_port_conflict */
	uint8_t proto;		      /* fixed_port_conflict */
	double ports_left;	      /* of the space it is about (NAN: none) */
	double usable;
	char evidence[224];
	char advice[224];
};

struct eph_findings {
	struct eph_finding *f; /* most severe first, then by kind, netns, pid */
	size_t n;
	size_t cap;
};

/* Apply every rule to in; out is emptied first. 0 or -ENOMEM. */
int eph_find__run(const struct eph_find_in *in, struct eph_findings *out);
void eph_findings__free(struct eph_findings *out); /* NULL-safe, leaves it empty */

const char *eph_find_kind_name(enum eph_find_kind k);	      /* "bind_before_connect", ... */
const char *eph_find_severity_name(enum eph_find_severity s); /* "info" "warning" "critical" */
/* Whether a snapshot alone (status) can show this kind; the others need events. */
bool eph_find_kind_from_snapshot(enum eph_find_kind k);

/*
 * The finding that accounts for a failed connect(), bind() or UDP autobind (an EPH_FAIL event),
 * or NULL: for connect() EADDRNOTAVAIL one about its destination (socket_range,
 * single_destination, time_wait_churn), else bind_before_connect (the failing process's own
 * first, for a bound socket), else narrow_range of its netns; for bind() EADDRINUSE of a fixed
 * port fixed_port_conflict on that port, of port 0 bind_before_connect or narrow_range; for UDP
 * EAGAIN udp_connected_cap or narrow_range. Among equals the most severe (fs is sorted so).
 */
const struct eph_finding *eph_findings__explain(const struct eph_findings *fs,
						const struct eph_event *ev);

/* One finding as a JSON object (no newline). */
int eph_finding__json(const struct eph_finding *f, struct strbuf *sb);

/* The findings as a JSON array (no newline): [{"kind","severity","netns","pid","comm",
 * "cgroup","saddr","daddr","dport","port","ports_left","usable","evidence","advice"}]. */
int eph_findings__json(const struct eph_findings *fs, struct strbuf *sb);
/* For a terminal: "FINDINGS" and two lines per finding, at most 79 columns each; limit 0 =
 * all. Nothing when there is none. */
int eph_findings__text(const struct eph_findings *fs, struct strbuf *sb, unsigned int limit);

#endif
