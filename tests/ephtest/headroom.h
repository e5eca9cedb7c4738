/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The headroom scenarios (headroom.c has the whole story): what their files share. headroom.c
 * holds the driver (ephtrace's status and top read, then the RESULT line), headroom_cases.c the
 * named states, headroom_state.c builds a case's state in the workload, headroom_depart.c
 * closes part of it (departures), headroom_count.c orders the rows, reads the kernel's socket
 * table and counts what the kernel still grants (the workload's body), and headroom_check.c
 * compares the snapshots with the counts. The cases and the two entry points are declared in
 * ephtest.h (scenarios.c registers them).
 */
#ifndef EPHTEST_HEADROOM_H
#define EPHTEST_HEADROOM_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ephtest.h"

#define HR_NR_LISTEN 3
#define HR_NR_TCP_ADDRS 5
#define HR_NR_UDP_ADDRS 5
#define HR_COUNT_MAX 512	/* sockets per count: more than any range here means a runaway */
#define HR_TW_AGE_MS 2100	/* TIME_WAIT older than 1 s (tcp_tw_reuse 1 and 2: reusable) */
#define HR_INTERVAL "1"		/* top -i */
#define HR_RESYNC "2"		/* top --resync */
#define HR_RESYNC_NEVER "86400" /* ... with departures: no resync while the scenario runs */
#define HR_DEPART_SETTLE_MS 1200 /* after the departures, until top's snapshot may show them */
#define HR_RESYNC_LAG_MS 3100	/* top: a snapshot after a resync that followed the state */
#define HR_STEP_MS 3000		/* one connection or TIME_WAIT of the state within this */
#define HR_UDP_DPORT 5300	/* UDP destinations 5300..5302: nobody listens, UDP does not care */
#define HR_UDP_PROBE_DPORT 5399 /* where the udp_ports_left count connects */
#define HR_NEW_DADDR "127.0.0.3" /* where the new_dest_ports_left count connects: a listener */
#define HR_NEW_DPORT 5000	 /* ... that no socket of the state uses */
#define HR_MAX_SOCKS 4096	/* lines of /proc/self/net/{tcp,udp}{,6} read */
#define HR_SETTLE_MS 2000	/* after a count, how long its sockets may take to be gone */
#define SHOW_MAX 6000		/* characters of a snapshot shown under a problem */

/* TCP states of /proc/net/tcp */
#define ST_ESTABLISHED 1
#define ST_TIME_WAIT 6
#define ST_CLOSE 7 /* bound, not listening or connected: not in /proc/net/tcp */

/* The destinations: a listener on each (outside the range) and the state's clients. */
enum {
	D_LO_5000,
	D_LO_5001,
	D_LO2_5000,
	D_LO_5002,
	D_V6_5000,
	D_SRC2_5000, /* 127.0.0.1:5000 again, from 127.0.0.2 (IP_BIND_ADDRESS_NO_PORT) */
	HR_NR_DESTS
};

/* The clients of a destination in the state. */
struct hr_dest {
	uint8_t est;	/* connect() from fresh sockets, kept */
	uint8_t mapped; /* the same from AF_INET6 sockets to ::ffff:daddr (IPv4, from 127.0.0.1) */
	uint8_t bbc;	/* bind(127.0.0.1:0) (::1 for [::1]:5000), then connect() (no
			 * IP_BIND_ADDRESS_NO_PORT; not from the second source) */
	uint8_t bbc_any; /* ... bind() on the wildcard instead (0.0.0.0, or :: with no
			  * IPV6_V6ONLY): connect() gives the socket its source */
	uint8_t tw;	/* connected, then closed by us first: TIME_WAIT */
	uint16_t fixed; /* one more: bind(127.0.0.1:fixed), then connect(); 0: none */
};

/* A TCP socket bound to a fixed port inside the range (then listening, or not). */
struct hr_fixed {
	const char *addr; /* NULL: none */
	uint16_t port;
	bool dual; /* "::" without IPV6_V6ONLY (else every IPv6 one has it) */
};

struct hr_case {
	struct hr_fixed listen[HR_NR_LISTEN];
	struct hr_fixed bound; /* bound, not listening: a bind scope's hold the allocator did not
				* choose (on a listener's port, from another address) */
	struct hr_dest dest[HR_NR_DESTS];
	uint8_t tcp_bind0[HR_NR_TCP_ADDRS]; /* TCP bind(0) holders on tcp_addr[] (IPv6: dual) */
	uint8_t udp_conn;		    /* UDP connect() (autobind) to 127.0.0.1:5300-5302 */
	uint8_t udp_bind0[HR_NR_UDP_ADDRS]; /* UDP bind(0) on udp_addr[] (IPv6: dual) */
	/* more sockets with SO_REUSEADDR bound to the port of the first bind(0) holder of an
	 * address (which has it too): owners of a port that hold no other */
	uint8_t tcp_shared[HR_NR_TCP_ADDRS];
	uint8_t udp_shared[HR_NR_UDP_ADDRS];
	bool reuse_listen; /* every listener with SO_REUSEADDR (servers set it) */
	bool reuse_bbc;	   /* bind-before-connect clients with SO_REUSEADDR */
	bool aged;	 /* read ephtrace HR_TW_AGE_MS after the last TIME_WAIT */
	bool top_before; /* top runs from before the state (else started after it) */
	/* top from after, never resyncing (HR_RESYNC_NEVER): once it has shown a snapshot, part of
	 * the state goes (headroom_depart.c), and top must follow from events alone */
	bool departures;
};

/* ---- headroom_count.c: addresses, the kernel's socket table, the counts ---- */

struct hr_sock {
	uint8_t proto, family, state;
	uint16_t lport, rport;
	uint8_t laddr[16], raddr[16];
};

/* Every socket of the namespace, as hr_read_socks() left them. */
extern struct hr_sock hr_socks[HR_MAX_SOCKS];

/* Sockets with a local port in the range: TCP not in TIME_WAIT, TCP in TIME_WAIT, UDP. */
struct census {
	unsigned int tcp, tw, udp;
};

int hr_addr_parse(const char *s, uint8_t addr[16]);
void hr_sa_make(int family, const uint8_t addr[16], uint16_t port, struct sockaddr_storage *ss,
		socklen_t *len);
bool hr_is_mapped(const uint8_t addr[16]);
int hr_sock_local(int fd, uint8_t addr[16], uint16_t *port);
const char *hr_addr_text(int family, const uint8_t addr[16], char *buf, size_t len);
const char *hr_row_name(const struct hr_row *r, char *buf, size_t len);
int hr_read_socks(struct oracle *o, pid_t pid);
int hr_take_census(struct oracle *o, const struct scenario *s, struct census *c);
int hr_dest_states(struct oracle *o, const struct scenario *s, const struct hr_row *r,
		   unsigned int *est, unsigned int *tw, unsigned int *other);
/* The workload's body (workload__start_role()). */
int hr_workload(struct oracle *o);

/* ---- headroom_state.c: the workload builds the state ---- */

struct hr_state {
	struct oracle *o;
	const struct scenario *s;
	const struct hr_case *c;
	int lfd[HR_NR_DESTS + HR_NR_LISTEN + 1]; /* every listener, HR_NEW_DADDR's too (drained
						   * after each count) */
	int nr_lfd;
	int dest_lfd[HR_NR_DESTS];
	int dest_row[HR_NR_DESTS]; /* index in o->hr.row, -1 if it has no socket */
	/* what departures close (fds + 1: 0 = none): per destination its first two plain
	 * connections (client, server side), per address its last TCP and UDP bind(0) holder
	 * (no other socket shares its port), the last connected UDP socket */
	int dep_cli[HR_NR_DESTS][2], dep_srv[HR_NR_DESTS][2];
	int dep_tcp[HR_NR_TCP_ADDRS], dep_udp[HR_NR_UDP_ADDRS], dep_udpc;
	/* and a UDP socket bound to 0.0.0.0:0 that they connect() (headroom_depart.c) */
	int move_udp;
	/* what they closed: per destination, by RST and by FIN (into TIME_WAIT) */
	uint8_t gone_rst[HR_NR_DESTS], gone_fin[HR_NR_DESTS];
};

int hr_fail_errno(struct oracle *o, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* 0 or -errno */
int hr_bind_no_port(int fd, int family, const uint8_t addr[16]);
int hr_build_state(struct hr_state *st);
/* Wait until the kernel shows each destination as the state (less its departures) has it; fill
 * its row's held and time_wait. 0 or -1 (o->msg says why). */
int hr_check_dests(struct hr_state *st);
/* An address's scope row, or NULL; the a-th address of proto's bind(0) holders (hr_case). */
struct hr_row *hr_scope_row(struct hr_shared *hr, int proto, const char *addr);
const char *hr_scope_addr(int proto, int a);

/* ---- headroom_depart.c: part of the state goes ---- */

/* Close what st->dep_* names (c->departures), fix the rows, wait for the kernel. 0 or -1. */
int hr_depart(struct hr_state *st);
/* Whether case c's rows have an order of counts where none changes another (with
 * net.ipv4.tcp_tw_reuse tw_reuse, NULL: 2); if not, *why says what stands in the way
 * (headroom_count.c). */
bool hr_countable(const struct hr_case *c, const char *tw_reuse, const char **why);
/* The rows of the state in that order (headroom_count.c). 0, or -1 (o->msg says why). */
int hr_order_rows(struct hr_state *st);

/* ---- headroom.c: the driver ---- */

struct hr_run {
	const struct scenario *s;
	const struct occ_opts *op;
	struct workload w;
	bool w_started;
	struct tracer t;
	bool t_started;
	enum verdict verdict;
	char reason[512];
	struct buf report; /* the rows, the problems and the offending JSON */
	int problems;
	struct buf done; /* what a PASS says */
	char backend[32];
	struct buf table; /* the kernel's sockets in the range before the counts */
	char *top_snap;	  /* the snapshot lines checked (malloc) */
	char *status_snap;
	unsigned int blind; /* TCP rows not comparable: bound-only sockets the snapshot could not
			     * list (kernel < 6.8, bpf() refused) and no event showed */
	bool no_iter;	    /* status went on without its port iterator (bpf() refused) */
	bool no_walk;	    /* ... or with it, but without its walk of the bind hash (no bpf_loop) */
	int64_t ready_ns;   /* wall: snapshots from then on see the state as it is counted */
};

void hr_problem(struct hr_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- headroom_check.c: comparing ---- */

void hr_compare(struct hr_run *r);
void hr_take_table(struct hr_run *r);

#endif /* EPHTEST_HEADROOM_H */
