/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ephbench: the benchmarks of `make bench` (tests/bench/run.sh). The same binary runs on the
 * host and inside the 6.12 test VM (tests/vm/init, eph.mode=bench).
 *
 * Every command prints its figures as lines "BENCH kind=K where=W key=value ..." (a value with
 * spaces is in double quotes and has none inside); "ephbench report" turns a file of such lines
 * into the table README keeps, with the targets of issue 6.
 *
 * Modules: util.c (clock, statistics, BENCH lines), loop.c (the loopback workloads in a
 * private network namespace), tracer.c (runs a tracer, knows when it is attached, stops it),
 * measure.c (what the commands that need a kernel share, and startup; measure_overhead.c,
 * measure_throughput.c, measure_cost.c: overhead, throughput, memory and progcost), replay.c
 * (the aggregation core without a kernel), report.c (the table; report_overhead.c its rows of
 * the loops), main.c (commands).
 */
#ifndef EPHBENCH_H
#define EPHBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BENCH_MAX_CLIENTS 16

/* ---- util.c ---- */

uint64_t now_ns(void);
void sleep_ns(uint64_t ns);
/* Median, minimum and maximum of n values (v is sorted in place). n > 0. */
void stats(double *v, size_t n, double *med, double *min, double *max);
/* Print one "BENCH ..." line: fmt gives the key=value pairs after kind and where. */
void bench_line(const char *kind, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A copy of s fit for a quoted BENCH value: no '"', no control characters, at most len-1. */
void bench_quote(char *dst, size_t len, const char *s);
/* Command-line numbers: 0 or -EINVAL. */
int parse_double(const char *s, double min, double max, double *out);
int parse_uint(const char *s, unsigned int min, unsigned int max, unsigned int *out);

/* ---- loop.c ---- */

/*
 * Enter a new network namespace: lo up, ip_local_port_range 1024 65535, 9000-9999 reserved
 * for the listeners. The namespace the process was in stays reachable through
 * bench_orig_netns() (tracers run there). 0 or -errno.
 */
int bench_netns_enter(void);
int bench_orig_netns(void); /* -1 before bench_netns_enter() */

/*
 * The loop: each client thread connects to its own listener on 127.0.0.1, sets SO_LINGER
 * {1, 0} and closes (an RST: no TIME_WAIT); a server thread per listener accepts and closes.
 * rate: calls per second in total, 0 = as fast as it goes. Its workload may be changed to
 * bind() or to a system call that never touches a socket; "connects" then count those calls.
 */
enum loop_workload {
	LOOP_CONNECT, /* the connect loop (the default) */
	LOOP_BIND,    /* bind(127.0.0.1:0) and close: a port each, no handshake (more events/s) */
	LOOP_SYSCALL, /* syscall(SYS_getppid): what the hooks cost processes without sockets */
};

/* "connect", "bind", "syscall": 0 or -EINVAL. */
int loop_workload_parse(const char *s, enum loop_workload *w);
const char *loop_workload_name(enum loop_workload w);

struct loop;
struct loop_result {
	double total_seconds;	 /* clients started to clients stopped */
	uint64_t total_connects; /* calls completed in that time */
	double seconds;		 /* measured window */
	uint64_t connects;	 /* calls completed in the window */
	uint64_t errors;	 /* failed calls in the window */
	int first_err;		 /* errno of the first failure, 0 if none */
	double rate;		 /* connects / seconds */
	double cpu_s;	    /* CPU time of the loop's threads in the window (kernel included) */
	double watch_cpu_s; /* CPU time of the watched process (the tracer) in the window */
};

int loop__new(unsigned int max_clients, struct loop **out);
/* Run clients for warmup + seconds and measure the last `seconds`, with the CPU time of process
 * watch (0: none) in that window. 0 or -errno. */
int loop__run(struct loop *lp, unsigned int clients, double rate, double seconds, pid_t watch,
	      struct loop_result *res);
void loop__free(struct loop *lp); /* NULL-safe */
void loop__set_workload(struct loop *lp, enum loop_workload w);

/*
 * n connections held open (both ends, by worker processes) to ndest addresses 127.0.0.1..
 * 127.0.0.ndest, on the workers' ports HOLD_PORT... (see loop.c). 0 or -errno, why says more.
 */
struct holds;
int holds__open(unsigned int n, unsigned int ndest, struct holds **out, char *why, size_t len);
void holds__free(struct holds *h); /* NULL-safe: closes every socket */

/* ---- tracer.c ---- */

enum tracer_out {
	OUT_NULL, /* stdout to /dev/null */
	OUT_PIPE, /* stdout to a pipe that the reader counts (fully buffered in the child) */
	OUT_PTY,  /* stdout to a pseudo-terminal (line buffered in the child) */
};

enum tracer_ready {
	READY_STDERR, /* a stderr line contains `match` */
	READY_STDOUT, /* a stdout line contains `match` */
	READY_POLL,   /* the child sleeps in epoll_wait/poll: set up and consuming */
};

/* Copied by tracer__start(); argv is only used before it returns, match must stay valid. */
struct tracer_spec {
	char *const *argv; /* argv[0] is the path */
	enum tracer_out out;
	enum tracer_ready ready;
	const char *match;
	double timeout_s; /* to get ready */
};

struct tracer;

/*
 * Start it (from the original network namespace) and wait until it is ready. 0, or -errno
 * with the reason (its last stderr line, or what went wrong) in why. *out is set either way
 * (free it with tracer__free) unless -ENOMEM.
 */
int tracer__start(const struct tracer_spec *s, struct tracer **out, char *why, size_t len);
pid_t tracer__pid(const struct tracer *t);
double tracer__startup_s(const struct tracer *t); /* fork to ready */
uint64_t tracer__lines(struct tracer *t);	  /* complete stdout lines so far */
/* The last complete stdout line (NUL-terminated, possibly cut to len-1). */
void tracer__last_line(struct tracer *t, char *dst, size_t len);
/* The last non-empty stderr line (with libbpf's CO-RE failure or the line before, if any);
 * the line that made it ready (READY_STDERR/STDOUT). */
void tracer__last_err(struct tracer *t, char *dst, size_t len);
void tracer__ready_line(struct tracer *t, char *dst, size_t len);
bool tracer__alive(struct tracer *t); /* reaps it when it is gone */
/* SIGINT, wait up to timeout_s (then SIGKILL); returns the exit status or -errno. */
int tracer__stop(struct tracer *t, double timeout_s);
void tracer__free(struct tracer *t); /* NULL-safe; kills it if still running */
/* CPU time of every thread of a process so far (schedstat, ns); 0 or -errno. */
int proc_cpu_ns(pid_t pid, uint64_t *ns);
/* Times its main thread went to sleep (voluntary context switches); 0 or -errno. */
int proc_wakeups(pid_t pid, uint64_t *n);
/* kB of VmRSS / VmHWM of a process; 0 or -errno. */
int proc_rss_kb(pid_t pid, uint64_t *rss, uint64_t *hwm);

/* ---- measure*.c, replay.c, report.c: the commands ---- */

int cmd_overhead(int argc, char **argv);
int cmd_throughput(int argc, char **argv);
int cmd_startup(int argc, char **argv);
int cmd_memory(int argc, char **argv);
int cmd_progcost(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_report(int argc, char **argv);

#endif
