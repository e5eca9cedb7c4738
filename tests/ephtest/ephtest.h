/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ephtest: integration test driver for ephtrace.
 *
 * A workload child makes real system calls in a private network namespace and records what the
 * kernel answered (the oracle). ephtrace runs alongside it; its JSON report must match the
 * oracle count for count and port for port.
 *
 * Modules: buf.c (growable buffer), workload.c (the scenarios and the oracle), tracer.c (runs
 * ephtrace with its output on pipes), check.c (parses the JSON and compares), occ.c (the
 * occupancy scenarios: top and status against the kernel's socket table), main.c (CLI).
 */
#ifndef EPHTEST_H
#define EPHTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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

/* ---- workload.c ---- */

/* What the workload did: one of these per system call that can take a port. */
#define OP_CONNECT 1
#define OP_BIND 2
#define OP_SENDMSG 3

/* What ephtrace must report for it. */
#define EXPECT_NONE 0
#define EXPECT_ASSIGN 1
#define EXPECT_FAIL 2

struct orec {
	uint8_t op;	      /* OP_* */
	uint8_t proto;	      /* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t family;	      /* AF_INET or AF_INET6 */
	uint8_t expect;	      /* EXPECT_* */
	bool ephemeral;	      /* the kernel chose (or had to choose) the port */
	bool has_dest;	      /* connect, sendmsg: daddr/dport are set */
	bool has_req;	      /* bind: req_port is set */
	bool has_alt;	      /* alt_addr is an acceptable source address too */
	int32_t ret;	      /* the system call's return value */
	int32_t err;	      /* its errno, 0 on success */
	uint16_t port;	      /* getsockname() port after the call (0 if none) */
	uint16_t dport;	      /* destination port */
	uint16_t req_port;    /* port asked for by bind (0 = any) */
	uint8_t addr[16];     /* getsockname() address after the call */
	uint8_t daddr[16];    /* destination address */
	uint8_t alt_addr[16]; /* UDP connect: the address before the call (autobind binds the
			       * port to the wildcard; connect() then sets the address) */
};

#define ORACLE_MAX 8192
#define WL_MSG_LEN 256

/*
 * The occupancy scenarios (occ.c): a server listens on 127.0.0.1:OCC_HOLD_PORT and
 * :OCC_TW_PORT; a holder keeps OCC_NR_HOLD connections to the first; a closer makes and closes
 * OCC_NR_TW connections to the second (active close: its ports sit in TIME_WAIT) and exits;
 * the forecast's connector connects to the first at FC_RATE per second, keeps every connection
 * and stops at the first EADDRNOTAVAIL. Each role is a workload of its own; the server's
 * creates the network namespace, the others join it.
 */
#define OCC_HOLD_PORT 5000
#define OCC_TW_PORT 6000
#define OCC_NR_HOLD 1000
#define OCC_NR_TW 300
#define FC_RATE 150
#define FC_MAX_CONNECTS 4000 /* the connector gives up after this many without a failure */

/* Progress of an occupancy role, written by the role, read by the driver (__atomic). */
struct occ_progress {
	int32_t listening;     /* server: both listeners are up */
	int32_t done;	       /* holder, connector: all connections made (or the failure came) */
	uint32_t connected;    /* connections made (and kept or closed) */
	int64_t start_wall_ns; /* connector: when its first connect() began (CLOCK_REALTIME) */
	int64_t fail_wall_ns;  /* connector: when the first EADDRNOTAVAIL returned, 0 if none */
	int32_t go;	       /* filler: the driver allows phases up to this one */
	int32_t phase;	       /* filler: the last phase finished */
};

/*
 * hist-fill: the filler fills a range of 4 * HF_QUARTER ports with connections to
 * OCC_HOLD_PORT, a quarter per phase, every one kept; phase HF_PHASES makes HF_FAILS more,
 * which must all fail with EADDRNOTAVAIL.
 */
#define HF_QUARTER 256
#define HF_FAILS 8
#define HF_PHASES 5

/* Shared (MAP_SHARED) between the parent and one workload child. */
struct oracle {
	uint32_t n;
	uint32_t overflow;    /* records that did not fit */
	uint64_t netns;	      /* inode of the child's network namespace */
	int32_t skip;	      /* setup could not run here: msg says why */
	char msg[WL_MSG_LEN]; /* why setup or the workload failed */
	char comm[16];
	struct occ_progress prog;
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
#define SCN_OCC_STATUS 3 /* ephtrace status --json, no BPF */
#define SCN_FORECAST 4	 /* top's exhaust_in_s against the first EADDRNOTAVAIL */
#define SCN_HIST_FILL 5	 /* hist --json: the port search per quarter of a filling range */

/* Which filter ephtrace gets in a scenario (besides --json and --backend). */
#define FILTER_PID 0  /* -p PID of workload 0 */
#define FILTER_COMM 1 /* --comm of workload 0 */
#define FILTER_V4 2   /* -p PID -4 */
#define FILTER_V6 3   /* -p PID -6 */

struct scenario {
	const char *name;
	const char *desc;
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
};

extern const struct scenario scenarios[];
extern const size_t nr_scenarios;

const struct scenario *scenario_find(const char *name);

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

/* 0 when the kernel did what the scenario is about; else msg says what went wrong. */
int oracle_premise(const struct oracle *o, const struct scenario *s, char *msg, size_t len);
/* One JSON line per record into b. */
int oracle_to_json(const struct oracle *o, pid_t pid, struct buf *b);
/* "connect tcp ipv4: 16 assigned, 4 EADDRNOTAVAIL; bind tcp ipv4: 1 assigned" */
int oracle_tally(const struct oracle *o, int family, struct buf *b);
const char *op_name(uint8_t op);
const char *proto_name(uint8_t proto);
const char *family_name(uint8_t family);

/* Bodies of the occupancy roles (see OCC_* above). The server and the holder run until killed. */
int occ_server(struct oracle *o);
int occ_holder(struct oracle *o);
int occ_closer(struct oracle *o);
int fc_connector(struct oracle *o);
int hf_filler(struct oracle *o);

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

#define TRACER_NO_BPF 1 /* run it under a seccomp filter that kills it if it calls bpf() */

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
	const char *json; /* ephtrace's stdout */
};

struct check_out {
	int problems;
	unsigned int assigned; /* expected assigns / fails (after the family filter) */
	unsigned int failed;
	long long dropped; /* from the summary, -1 if none */
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

/* Run one occupancy scenario (kind != SCN_EVENTS) and print its RESULT line. */
enum verdict occ_scenario(const struct scenario *s, const struct occ_opts *op);
/*
 * --workload-only: run the roles, print what the kernel shows (/proc/net/tcp). 0 on success.
 * hist-fill: runs `ephtrace hist` (text) once per phase instead and prints what it printed.
 */
int occ_workload_only(const struct scenario *s, const struct occ_opts *op);

#endif
