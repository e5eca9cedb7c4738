/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ephtest: integration test driver for ephtrace.
 *
 * A workload child makes real system calls in a private network namespace and records what the
 * kernel answered (the oracle). ephtrace runs alongside it; its JSON report must match the
 * oracle count for count and port for port.
 *
 * Modules: buf.c (growable buffer), workload.c (the basic scenarios' bodies and the recording of
 * calls), oracle.c (the records, their JSON and tally), scenarios.c (the list of scenarios),
 * workload_child.c (a workload's process and namespace), tracer.c (runs ephtrace with its output
 * on pipes), check.c (parses the JSON and compares), occ.c (the occupancy scenarios: top and
 * status against the kernel's socket table; their snapshots checked in occ_check.c, the scenarios
 * in occ_scn.c and occ_hist.c), headroom.c (ports left per row of top and status against what the
 * kernel still grants; its state built in headroom_state.c, counted in headroom_count.c, compared
 * in headroom_check.c), drive.c (what the scenarios with a driver of their own share), forecast.c
 * (exhaust_in_s against the kernel's first EADDRNOTAVAIL, and under a load that fits), resync.c
 * (sock_diag reconciliation on a quiet namespace), twreuse.c (a TIME_WAIT killed by its reuse
 * while its socket's memory holds another connection), sockrange.c (socket_range against
 * connect()s with IP_LOCAL_PORT_RANGE), bindconnect.c (connect() on sockets bind() gave a port:
 * bound_connect), findings.c, findings_check.c, findings_wl.c (each kind of finding for real, and
 * no other), lifecycle.c (a port's life after its assignment: releases and their times), kmiss.c
 * (connect()s a kretprobe could not follow, counted as missed), main.c (CLI).
 */
#ifndef EPHTEST_H
#define EPHTEST_H

#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "ephtrace.h"

#ifndef IP_BIND_ADDRESS_NO_PORT /* Linux 4.2; libc headers older than that */
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

/* ---- buf.c ---- */

struct buf {
	char *p; /* NUL-terminated once anything was appended */
	size_t len;
	size_t cap;
};

int buf_add(struct buf *b, const void *data, size_t n);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *buf_str(const struct buf *b); /* "" when empty */
void buf_free(struct buf *b);

/* Monotonic clock in milliseconds; CLOCK_REALTIME in nanoseconds. */
int64_t now_ms(void);
int64_t wall_ns(void);
/* "EADDRNOTAVAIL" for 99; "E<n>" written into tmp for an errno it has no name for. */
const char *errno_name(int err, char *tmp, size_t len);
/* "exit status 1", "killed by signal 9" for a waitpid() status, written into buf. */
const char *status_text(int status, char *buf, size_t len);

/* ---- the workloads: workload.c, oracle.c, scenarios.c, workload_child.c ---- */

/* What the workload did: one of these per system call that can take a port. */
#define OP_CONNECT 1
#define OP_BIND 2
#define OP_SENDMSG 3

/* What ephtrace must report for it. */
#define EXPECT_NONE 0
#define EXPECT_ASSIGN 1
#define EXPECT_FAIL 2
/* TCP connect() of a socket that had its port from bind(): no port chosen (bound_connect) */
#define EXPECT_BOUND_CONNECT 3

struct orec {
	uint8_t op;	      /* OP_* */
	uint8_t proto;	      /* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t family;	      /* AF_INET or AF_INET6 */
	uint8_t expect;	      /* EXPECT_* */
	bool ephemeral;	      /* the kernel chose (or had to choose) the port */
	bool has_dest;	      /* connect, sendmsg: daddr/dport are set */
	bool has_req;	      /* bind: req_port is set */
	bool bound;	      /* TCP connect: the socket had its port from bind() ("bound") */
	bool no_port;	      /* TCP connect: IP_BIND_ADDRESS_NO_PORT ("bind_address_no_port") */
	int32_t ret;	      /* the system call's return value */
	int32_t err;	      /* its errno, 0 on success (only a fail's event carries it) */
	int32_t tid;	      /* the thread that made it (gettid()) */
	uint16_t port;	      /* getsockname() port after the call (0 if none); a bound
			       * socket's failed connect(): the port it had */
	uint16_t dport;	      /* destination port */
	uint16_t req_port;    /* port asked for by bind (0 = any) */
	uint8_t addr[16];     /* getsockname() address after the call (see port) */
	uint8_t daddr[16];    /* destination address */
};

#define ORACLE_MAX 8192
#define WL_MSG_LEN 256

/*
 * The occupancy scenarios (occ.c): a server listens on 127.0.0.1:OCC_HOLD_PORT and
 * :OCC_TW_PORT; a holder keeps OCC_NR_HOLD connections to the first; a closer makes and closes
 * OCC_NR_TW connections to the second (active close: its ports sit in TIME_WAIT) and exits.
 * Each role is a workload of its own; the server's creates the network namespace, the others
 * join it.
 */
#define OCC_HOLD_PORT 5000
#define OCC_TW_PORT 6000
#define OCC_NR_HOLD 1000
#define OCC_NR_TW 300
/* RLIMIT_NOFILE of the workloads of a scenario with many_fds; the server's connections */
#define OCC_MAX_FDS 4096

/* Progress of an occupancy role, written by the role, read by the driver (__atomic). */
struct occ_progress {
	int32_t listening;  /* server: both listeners are up */
	int32_t done;	    /* holder, filler: all connections made */
	uint32_t connected; /* connections made (and kept or closed) */
	int32_t go;	    /* filler: the driver allows phases up to this one */
	int32_t phase;	    /* filler: the last phase finished */
};

/*
 * hist-fill: the filler fills a range of 4 * HF_QUARTER ports with connections to
 * OCC_HOLD_PORT, a quarter per phase, every one kept; phase HF_PHASES makes HF_FAILS more,
 * which must all fail with EADDRNOTAVAIL.
 */
#define HF_QUARTER 256
#define HF_FAILS 8
#define HF_PHASES 5

/*
 * headroom: the workload builds a state, names the rows of the snapshot it made (hr_row), waits
 * while the driver reads ephtrace, then counts for each row what the kernel still grants.
 */
#define HR_MAX_ROWS 24 /* 6 destinations, 5 + 5 bind scopes, 2 netns rows */
#define HR_MAX_BOUND 64
#define HR_DEST 1      /* a destinations[] row: connect() from fresh sockets */
#define HR_SCOPE 2     /* a bind_scopes[] row: bind(addr:0) from fresh sockets */
#define HR_NETNS_UDP 3 /* the netns row's udp_ports_left: UDP connect() from fresh sockets */
#define HR_NETNS_NEW 4 /* the netns row's new_dest_ports_left: connect() from fresh sockets to a
			* destination no socket of the state uses */

struct hr_row {
	uint8_t kind;	/* HR_* */
	uint8_t proto;	/* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t family; /* AF_INET or AF_INET6 (the row's: IPv4-mapped sockets are AF_INET) */
	uint8_t src_bound; /* HR_DEST: its count binds saddr first (IP_BIND_ADDRESS_NO_PORT) */
	uint16_t dport;	   /* HR_DEST, HR_NETNS_NEW */
	uint8_t saddr[16]; /* HR_DEST: the source the kernel chose; HR_SCOPE: the address */
	uint8_t daddr[16]; /* HR_DEST, HR_NETNS_NEW */
	uint32_t held;	   /* sockets of the state in the row, TIME_WAIT included */
	uint32_t time_wait;
	uint32_t mapped;  /* of which IPv4-mapped IPv6 sockets */
	int32_t granted;  /* what the kernel granted, -1 until counted */
	int32_t stop_err; /* the errno that ended the count */
};

struct hr_shared {
	const struct hr_case *c; /* set by the driver before the release (same address space) */
	int32_t built;		 /* workload: the state is complete, rows named */
	int32_t count;		 /* driver: count now */
	int32_t counted;	 /* workload: every row counted */
	int32_t depart;		 /* driver: the departures now (hr_case.departures) */
	int32_t departed;	 /* workload: they are done, the kernel shows them */
	int64_t departed_wall_ns;
	uint32_t ndeparted;	 /* sockets closed by them */
	uint8_t move_udp;	 /* driver: they move a UDP socket too (a backend that sees it) */
	uint8_t moved_udp;	 /* workload: they did */
	uint8_t bound_kept;	 /* ... not the TCP bind(0) holders: kernel before 6.8 */
	int32_t tw_total;	 /* TIME_WAIT sockets of the state (the kernel's table) */
	int64_t built_wall_ns;	 /* when the state was complete (CLOCK_REALTIME) */
	uint32_t nrows;
	struct hr_row row[HR_MAX_ROWS];
	uint32_t nbound; /* TCP sockets only bound: not in /proc/net/tcp (shown on a failure) */
	struct {
		uint8_t family;
		uint8_t addr[16];
		uint16_t port;
	} bound[HR_MAX_BOUND];
};

/*
 * A scenario with a driver of its own (drive.c) runs its workload in steps: the driver allows
 * step k (go = k), the workload does it and says so (done = k). What else they share is the
 * scenario's own struct, in priv (DRV_PRIV_SIZE bytes, zeroed at the start).
 */
#define DRV_PRIV_SIZE 8192

struct drv_sync {
	int32_t go;
	int32_t done;
};

/* Shared (MAP_SHARED) between the parent and one workload child. */
struct oracle {
	uint32_t n;
	uint32_t overflow;    /* records that did not fit */
	uint64_t netns;	      /* inode of the child's network namespace */
	int32_t skip;	      /* setup could not run here: msg says why */
	char msg[WL_MSG_LEN]; /* why setup or the workload failed */
	char comm[16];	      /* the process's name (its main thread's) */
	int32_t thread_tid;   /* thread-connect: the second thread, named thread_comm; 0 if none */
	char thread_comm[16];
	struct occ_progress prog;
	struct hr_shared hr;
	struct drv_sync sync;
	_Alignas(8) uint8_t priv[DRV_PRIV_SIZE];
	struct orec rec[ORACLE_MAX];
};

struct scenario;

struct workload {
	pid_t pid;
	int go_fd; /* parent's end: one byte releases the child */
	bool exited;
	int status;	  /* waitpid() status once exited */
	struct oracle *o; /* shared with the child */
};

enum verdict {
	PASS,
	FAIL,
	SKIP
};

const char *verdict_name(enum verdict v);

/* What a scenario checks. */
#define SCN_EVENTS 0	 /* ephtrace events against the oracle (check.c) */
#define SCN_OCC_LIVE 1	 /* ephtrace top --json, started before the workload (occ.c) */
#define SCN_OCC_LATE 2	 /* ephtrace top --json -n 1, started after it */
#define SCN_OCC_STATUS 3 /* ephtrace status --json, bpf() refused */
#define SCN_DRIVEN 4	 /* a driver of its own: struct scenario .drive */
#define SCN_HIST_FILL 5	 /* hist --json: the port search per quarter of a filling range */
#define SCN_HEADROOM 6	 /* ports_left of status and top against what the kernel grants */

/* Which filter ephtrace gets in a scenario (besides --json and --backend). */
#define FILTER_PID 0  /* -p PID of workload 0 */
#define FILTER_COMM 1 /* --comm of workload 0 */
#define FILTER_V4 2   /* -p PID -4 */
#define FILTER_V6 3   /* -p PID -6 */

struct occ_opts;

/* ephtest --stand-in FN[,FN...]: those hooked functions are unattachable in both styles in every
 * ephtrace run (EPH_TEST_UNATTACHABLE), so that the tracepoint stand-ins of their groups do their
 * work (user/core/hookplan.h); records may then say "tracepoint". NULL otherwise. */
extern const char *stand_in;
/* Whether a function of that list is of the hook group (EPH_STANDIN_*, eph_hook_group()): the
 * TCP releases (TIME_WAIT ends unseen), the TCP connects (their searches untimed), ... */
bool stand_in_group(unsigned int group);

/* Backends that see no TIME_WAIT socket end (state changes only): top corrects at a resync. */
static inline bool backend_infers_tw(const char *backend)
{
	return !strcmp(backend, "tracepoint") || !strcmp(backend, "cgroup") ||
	       stand_in_group(EPH_STANDIN_TCP_RELEASE);
}

/* ephtest --exact-errors: "--exact-errors", added after "--backend B" to every ephtrace run
 * (tracer.c); NULL otherwise. */
extern const char *tracer_extra_arg;

/* The cgroup backend without --exact-errors: no system call tracepoint, so blind to bind() and
 * UDP failures, UDP connect()'s autobind and connect(AF_UNSPEC) (check_in.blind). */
static inline bool backend_blind(const char *backend)
{
	return !strcmp(backend, "cgroup") && !tracer_extra_arg;
}

struct scenario {
	const char *name;
	const char *desc;
	/* in ephtest --core: the scenarios of each attach path and of what a kernel's flavour or
	 * architecture changes most (the extra VM cells run these alone: make test's time) */
	bool core;
	int nr_workloads; /* 1, or 2 when one is the decoy a filter must hide */
	int filter;	  /* FILTER_* */
	bool burst;	  /* drops are tolerated if counted (see check.c) */
	bool needs_v6;
	unsigned int range_lo, range_hi; /* ip_local_port_range inside the netns */
	const char *ringbuf_size;	 /* --ringbuf-size for ephtrace, NULL for its default */
	int premise_err;		 /* the kernel must return this errno at least once */
	int (*run)(struct oracle *o);	 /* body of the child once released */
	int kind;			 /* SCN_* */
	const char *reserved;		 /* ip_local_reserved_ports inside the netns, or NULL */
	bool no_tw_reuse;		 /* net.ipv4.tcp_tw_reuse = 0 inside the netns */
	bool many_fds;			 /* raise RLIMIT_NOFILE in the children */
	const char *tw_reuse;		 /* net.ipv4.tcp_tw_reuse inside the netns, or NULL */
	bool releases;			 /* events --releases: each release's owner is checked */
	/* what it checks rests on bind() or UDP failures, or UDP connect()s, which the cgroup
	 * backend sees with --exact-errors only (README, the backend matrix): SKIP without */
	bool exact_errors_only;
	/* events of that kind among others: without --exact-errors the others are checked
	 * and those must not come (check_in.blind); --then-exact runs it again with it */
	bool partly_blind;
	const struct hr_case *hr;	 /* SCN_HEADROOM: the state to build (headroom.c) */
	/* SCN_DRIVEN: runs the scenario (run is its workload's body) and prints its RESULT line */
	enum verdict (*drive)(const struct scenario *s, const struct occ_opts *op);
};

/* scenarios.c */
extern struct scenario scenarios[]; /* read-only but for scenario_set_random_range() */
/* headroom-random's range, once drawn (the one scenario whose range is not a constant) */
void scenario_set_random_range(unsigned int hi);
extern const size_t nr_scenarios;

const struct scenario *scenario_find(const char *name);

/* ---- workload_child.c ---- */

/*
 * Fork a workload child: it enters a new network namespace, brings lo up, sets the port range,
 * names itself comm (if not NULL), then waits to be released. Returns 0 once it is ready,
 * -EAGAIN when it cannot run here (w->o->msg says why: a SKIP), other -errno on failure.
 */
int workload__start(struct workload *w, const struct scenario *s, const char *comm);
/* The same for one more role of a scenario: run is its body, and it joins the network namespace
 * of process join (another workload) instead of creating one. */
int workload__start_role(struct workload *w, const struct scenario *s, const char *comm,
			 int (*run)(struct oracle *o), pid_t join);
int workload__release(struct workload *w);
/* Reap the child if it has exited; true when it has. */
bool workload__poll(struct workload *w);
/* Kill (if still running) and reap the child, unmap the oracle. NULL-safe, idempotent. */
void workload__free(struct workload *w);

/* ---- workload.c ---- */

/* The workloads of other files record with these: a zeroed record (op, proto, family set; from
 * oracle.c), and bind() of fd to loopback:port (127.0.0.1 or ::1) with what it got. 0 or -errno. */
struct orec *rec_new(struct oracle *o, uint8_t op, int proto, int family);
int rec_bind(struct oracle *o, int fd, int proto, int family, uint16_t port);
/* connect() (op OP_CONNECT) or sendto() (OP_SENDMSG, UDP) of fd to loopback:dport, with what it
 * got: an assign when the socket had no port. 0 or -errno. */
int rec_connect(struct oracle *o, int fd, uint8_t op, int proto, int family, uint16_t dport);
/* o->msg = "<what>: <strerror(err)>" */
void wl_msg(struct oracle *o, const char *what, int err);
/* loopback:port (127.0.0.1 or ::1) of family into *ss */
void wl_loopback(int family, uint16_t port, struct sockaddr_storage *ss, socklen_t *len);
/* the bodies of the basic scenarios (scenarios.c lists them) */
int run_v4_connect(struct oracle *o);
int run_v6_connect(struct oracle *o);
int run_dual_connect(struct oracle *o);
int run_nobind_connect(struct oracle *o);
int run_bind0(struct oracle *o);
int run_bind_fixed(struct oracle *o);
int run_udp_connect(struct oracle *o);
int run_udp_sendto(struct oracle *o);
int run_burst(struct oracle *o);
int run_thread_connect(struct oracle *o);
/* the bodies of the occupancy roles (see OCC_* above). The server and the holder run until
 * killed. */
int occ_server(struct oracle *o);
int occ_holder(struct oracle *o);
int occ_closer(struct oracle *o);
int hf_filler(struct oracle *o);
/* bindconnect.c: the bodies of bind-connect (127.0.0.1) and bind-connect-v6 (::1) */
int bc_workload(struct oracle *o);
int bc_workload_v6(struct oracle *o);

/* ---- oracle.c ---- */

/* The name of the workload's thread tid: o->thread_comm for its second thread, else o->comm. */
const char *oracle_comm(const struct oracle *o, int32_t tid);
/* 0 when the kernel did what the scenario is about; else msg says what went wrong. */
int oracle_premise(const struct oracle *o, const struct scenario *s, char *msg, size_t len);
/* One JSON line per record into b. */
int oracle_to_json(const struct oracle *o, pid_t pid, struct buf *b);
/* "connect tcp ipv4: 16 assigned, 4 EADDRNOTAVAIL; bind tcp ipv4: 1 assigned" */
int oracle_tally(const struct oracle *o, int family, struct buf *b);
const char *op_name(uint8_t op);
const char *proto_name(uint8_t proto);
const char *family_name(uint8_t family);

/* ---- tracer.c ---- */

struct tracer {
	pid_t pid;
	int out_fd; /* -1 at EOF */
	int err_fd;
	bool exited;
	int status;
	struct buf out; /* all of ephtrace's stdout */
	struct buf err; /* all of its stderr */
};

#define TRACER_NO_BPF 1 /* run it under a seccomp filter that fails bpf() with EPERM */

int tracer__start(struct tracer *t, char *const argv[]);
int tracer__start_flags(struct tracer *t, char *const argv[], unsigned int flags);
/* Wait up to timeout_ms for output, read what there is, reap if exited. */
int tracer__pump(struct tracer *t, int timeout_ms);
bool tracer__attached(const struct tracer *t);
/* SIGINT, then read everything until EOF and exit; SIGKILL after timeout_ms (-ETIMEDOUT). */
int tracer__stop(struct tracer *t, int timeout_ms);
/* Read everything until EOF and exit on its own; SIGKILL after timeout_ms (-ETIMEDOUT). */
int tracer__wait(struct tracer *t, int timeout_ms);
void tracer__free(struct tracer *t);

/* ---- check.c ---- */

struct check_in {
	const struct oracle *o; /* the traced workload's oracle */
	pid_t pid;		/* its pid */
	const pid_t *others;	/* pids that must not appear */
	int nr_others;
	int family;	     /* 0, or only this family is expected */
	const char *backend; /* expected "backend" value, NULL for auto */
	bool burst;
	/* fentry on a kernel that preempts its programs (user/node/preempt.h): runs the kernel
	 * skipped ("missed" in the summary) may lose events, up to that many */
	bool preempted;
	bool releases;	  /* ephtrace ran with --releases */
	/* the cgroup backend without --exact-errors: no bind() or UDP failure, no UDP connect()
	 * is expected (it cannot see them), and none may come */
	bool blind;
	/* ephtrace said the kernel has no bpf_task_pt_regs() (5.15, fentry/kprobe): a UDP send
	 * that bound its socket comes with a null destination, as it said */
	bool no_send_dest;
	const char *json; /* ephtrace's stdout */
};

struct check_out {
	int problems;
	unsigned int assigned; /* expected assigns, fails, bound_connects (family filter applied) */
	unsigned int failed;
	unsigned int bound;
	unsigned int unseen; /* records not expected for check_in.blind */
	long long dropped; /* from the summary, -1 if none */
	long long missed;  /* of which runs the kernel skipped ("missed"), 0 if none */
	unsigned int lost; /* events of the traced workload missing, excused by the drops */
	struct buf report; /* "expected X got Y" lines */
};

int check_run(const struct check_in *in, struct check_out *out);
void check_out_free(struct check_out *out);

/* ---- occ.c ---- */

struct occ_opts {
	const char *ephtrace;
	const char *backend;
	const char *expect_backend; /* NULL: anything */
	int timeout_s;
	bool verbose;
	const char *keep_dir; /* NULL: keep nothing */
};

/* JSON of a snapshot (occ_check.c; also used by headroom.c). jnum: 1 = a number in *v, 0 =
 * null, -1 = missing or not a number. parse_time: RFC 3339 "time" in ns since the epoch, -1 if
 * it is not that. next_line: the next complete line of b from *off (its length in *len), or
 * NULL. */
struct json_object;
int jnum(struct json_object *o, const char *key, double *v);
const char *jstr(struct json_object *o, const char *key);
struct json_object *jarr(struct json_object *o, const char *key);
int64_t parse_time(const char *s);
const char *next_line(const struct buf *b, size_t *off, size_t *len);

/* Run one occupancy scenario (kind != SCN_EVENTS) and print its RESULT line. */
enum verdict occ_scenario(const struct scenario *s, const struct occ_opts *op);
/*
 * --workload-only: run the roles, print what the kernel shows (/proc/net/tcp). 0 on success.
 * hist-fill: runs `ephtrace hist` (text) once per phase instead and prints what it printed.
 */
int occ_workload_only(const struct scenario *s, const struct occ_opts *op);

/* ---- headroom.c ---- */

/* The states of the headroom scenarios (struct scenario .hr). */
struct hr_case;
extern const struct hr_case hr_case_basic, hr_case_twreuse0, hr_case_twreuse1, hr_case_odd,
	hr_case_odd_low, hr_case_reserved, hr_case_departed;
/* headroom_random.c: headroom-random's state and sysctls, drawn by hr_random_draw(seed) before
 * any workload starts (ephtest --seed N, else hr_random_seed(): the clock and the pid) */
#define HR_RANDOM_LO 40000	/* its range starts here (scenarios.c)... */
#define HR_RANDOM_MAX_SIZE 81	/* ...and holds 56 to 81 ports, drawn (hr_random_draw()) */
extern struct hr_case hr_case_random;
extern char hr_random_tw_reuse[2], hr_random_reserved[64], hr_random_desc[768];
extern uint64_t hr_random_drawn; /* the seed of that state */
uint64_t hr_random_seed(void);
void hr_random_draw(uint64_t seed);

/* Run one headroom scenario and print its RESULT line. */
enum verdict headroom_scenario(const struct scenario *s, const struct occ_opts *op);
/* --workload-only: build the state and print what the kernel grants per row. 0 on success. */
int headroom_workload_only(const struct scenario *s, const struct occ_opts *op);

/* ---- forecast.c, resync.c, twreuse.c, sockrange.c: scenarios with a driver of their own ---- */

/* The drivers (struct scenario .drive) and the workloads (.run). */
enum verdict fc_drive(const struct scenario *s, const struct occ_opts *op);
enum verdict fc_steady_drive(const struct scenario *s, const struct occ_opts *op);
int fc_connector(struct oracle *o);
int fc_steady(struct oracle *o);
enum verdict rq_drive(const struct scenario *s, const struct occ_opts *op);
int rq_workload(struct oracle *o);
enum verdict tw_drive(const struct scenario *s, const struct occ_opts *op);
int tw_workload(struct oracle *o);
enum verdict sr_drive(const struct scenario *s, const struct occ_opts *op);
int sr_workload(struct oracle *o);
/* hookfallback.c: a hook made unattachable, the others go on */
enum verdict hf_drive(const struct scenario *s, const struct occ_opts *op);
int hf_workload(struct oracle *o);

/* kmiss.c: connect()s a kretprobe could not follow (maxactive) counted as missed */
enum verdict km_drive(const struct scenario *s, const struct occ_opts *op);
int km_workload(struct oracle *o);

/* lifecycle.c: events --releases against when the kernel took and gave back each port */
enum verdict lc_drive(const struct scenario *s, const struct occ_opts *op);
int lc_syn_blackhole(struct oracle *o);
int lc_refused(struct oracle *o);
int lc_rst_close(struct oracle *o);
int lc_tfo(struct oracle *o);
int lc_udp_fork(struct oracle *o);
int lc_udp_dup(struct oracle *o);
int lc_udp_disconnect(struct oracle *o);

/* findings.c (findings_check.c, findings_wl.c): each kind of finding for real (find-*) */
enum verdict fd_drive(const struct scenario *s, const struct occ_opts *op);
int fd_workload(struct oracle *o);

/* ---- drive.c ---- */

/*
 * One run of a scenario with a driver of its own (SCN_DRIVEN): its workload (one process, in a
 * network namespace of its own, made by workload_child.c from the scenario's settings),
 * ephtrace, and what the checks found.
 */
struct drv {
	const struct scenario *s;
	const struct occ_opts *op;
	struct workload w;
	bool w_started;
	struct tracer t;
	bool t_started;
	enum verdict verdict;
	char reason[512];
	int problems;
	struct buf report; /* the problems, each with the JSON it is about */
	struct buf done;   /* what a PASS says (under a FAIL: what the run saw) */
	char backend[32];  /* as ephtrace announced it */
	size_t off;	   /* where the next snapshot line of t.out starts */
	char *last;	   /* the last snapshot line read (malloc), shown with -v */
};

/* The first reason wins. */
void drv_reason(struct drv *d, enum verdict v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A FAIL: counted, and its line in the report. */
void drv_problem(struct drv *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Start the workload (s->run) as comm and release it; 0, or the reason (SKIP or FAIL) is set. */
int drv_start_workload(struct drv *d, const char *comm);
/* Allow step k of the workload and wait until it is done, reading ephtrace meanwhile. */
int drv_step(struct drv *d, int k, int timeout_ms, const char *what);
/* `ephtrace CMD --json --backend B` and args (NULL-terminated); waits until it attached.
 * drv_start_top(): CMD top. */
int drv_start_ephtrace(struct drv *d, const char *cmd, const char *const *args);
int drv_start_top(struct drv *d, const char *const *args);
/* The next snapshot of top (waits up to timeout_ms); NULL when none came: the reason is set. */
struct json_object *drv_snapshot(struct drv *d, int timeout_ms);
/* Read top's first snapshot: its start-up (the sock_diag pass) is over, what comes next is seen
 * as events. */
int drv_top_ready(struct drv *d);
/* SIGINT to `ephtrace CMD`: it must exit 0 within the timeout (else the reason is set, -EIO).
 * drv_stop_top(): CMD top. */
int drv_stop_ephtrace(struct drv *d, const char *cmd);
int drv_stop_top(struct drv *d);
/* Read ephtrace's output for about ms; false (the reason set) if the workload died. */
bool drv_idle(struct drv *d, int ms);
/* The backend announced is the one asked for (or --expect-backend's). */
void drv_check_backend(struct drv *d);
/* Print the RESULT line (and with -v the last snapshot), free everything; the verdict. */
enum verdict drv_finish(struct drv *d, int64_t t0_ms);
/* In a test VM (tests/vm/init reads eph.* from the kernel command line)? */
bool drv_in_test_vm(void);

/* In the workload: wait until step k is allowed; say that step k is done. */
void drv_wait_go(struct oracle *o, int k);
void drv_done(struct oracle *o, int k);
/* In the workload: an address ("127.0.0.1", "::1", "::ffff:127.0.0.1") and port; its family. */
int drv_sockaddr(const char *addr, uint16_t port, struct sockaddr_storage *ss, socklen_t *len);
/* In the workload: a socket's local port (getsockname(); 0 if it has none or on error). */
uint16_t drv_local_port(int fd);
/* In the workload: bind() (do_bind) or connect() fd to 127.0.0.1:port; 0 or -1 with errno. */
int drv_loopback(int fd, uint16_t port, bool do_bind);
/* In the workload: close with a RST (SO_LINGER 0): the port is free at once, no TIME_WAIT. */
void drv_rst_close(int fd);
/* In the workload: sleep until *next, then move it period_ns on (a schedule without drift). */
void drv_tick(struct timespec *next, long period_ns);

/* The snapshot's TCP destination row of netns to daddr:dport (any source), or NULL. */
struct json_object *snap_dest(struct json_object *snap, uint64_t netns, const char *daddr,
			      int dport);
/* The snapshot's "time" in ns since the epoch, -1 if it has none. */
int64_t snap_time(struct json_object *snap);

#endif
