// SPDX-License-Identifier: GPL-2.0
/*
 * The tracepoint backend's descriptor walk at a process's exit (bpf/tracepoint.bpf.h
 * fd_walk()), with bpf_loop() and with the bounded loop of kernels before 5.17 (forced here by
 * EPH_TEST_WITHOUT=bpf_loop), against the kernel.
 *
 * A child, in a network namespace of its own, binds NSOCK UDP sockets to 0.0.0.0:0 (descriptors
 * 3 .. NSOCK+2), tells the parent each descriptor's port (getsockname()), and exits without
 * closing them: the kernel releases every port at exit_files(). The walk must release each
 * port whose descriptor it reaches:
 *   loop         every one; no walk cut (EPH_CNT_WALK_CUT 0);
 *   bounded      the descriptors below EPH_FD_WALK_BOUNDED, none of the others, and one walk
 *                counted as cut (the pipe's ends, on descriptors 1000 and 1001, are open too);
 *   bounded-fits 40 sockets and the pipe's ends below the bound, the file table grown past it
 *                (a descriptor 700 opened and closed): every port released, no walk cut.
 * The kernel's side is checked too: after the exit, every port is free again (bind() to each
 * succeeds in the namespace). EPH_CNT_WALK_CUT is the host's: another process that exits
 * meanwhile with a descriptor open past the bound adds to it (make test's own workloads did,
 * beside this test), so a run whose only fault is a count above the expected one is run again,
 * three tries in all; a count below it, or any wrong release, fails at once.
 *
 * "RESULT fdwalk-<loop|bounded> PASS|FAIL|SKIP" per run. Exit 0: all passed; 1: something
 * failed; 77: could not run here (not root, no network namespace).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "loader.h"

#define NSOCK 300
#define FIRST_FD 3
#define PIPE_FD 1000 /* the child's pipe ends, out of the way of the sockets */
#define WAIT_MS 3000

struct walk_run {
	pid_t child;
	uint16_t port[FIRST_FD + NSOCK]; /* by descriptor: the port the kernel gave */
	bool released[FIRST_FD + NSOCK];
	int others; /* releases of the child's of no descriptor we know */
};

static bool any_failed, any_skipped;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

static int on_record(void *ctx, const void *data, size_t size)
{
	struct walk_run *w = ctx;
	struct eph_rec r;
	int fd;

	if (eph_decode(data, size, 0, &r) || r.ev.type != EPH_RELEASE ||
	    r.ev.pid != (uint32_t)w->child || r.ev.proto != IPPROTO_UDP)
		return 0;
	for (fd = FIRST_FD; fd < FIRST_FD + NSOCK; fd++) {
		if (w->port[fd] && w->port[fd] == r.ev.sport && !w->released[fd]) {
			w->released[fd] = true;
			return 0;
		}
	}
	w->others++;
	return 0;
}

/* The child: its own network namespace, nsock bound UDP sockets on descriptors FIRST_FD.. (the
 * parent's descriptors closed: no exec), the pipe's ends on pipe_fd and the next, the table
 * grown past the bound when grow; the ports down the pipe, then wait for the word and exit.
 * Exit 2: no network namespace or descriptor limit (a SKIP); others: a FAIL. */
static void child(int out, int go, int nsock, int pipe_fd, bool grow)
{
	struct rlimit rl = { PIPE_FD + 16, PIPE_FD + 16 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	uint16_t ports[FIRST_FD + NSOCK] = {};
	char c;
	int i, fd;

	if (setrlimit(RLIMIT_NOFILE, &rl) || unshare(CLONE_NEWNET))
		_exit(2);
	if (dup2(out, PIPE_FD) < 0 || dup2(go, PIPE_FD + 1) < 0 ||
	    syscall(SYS_close_range, FIRST_FD, PIPE_FD - 1, 0) ||
	    (pipe_fd != PIPE_FD &&
	     (dup2(PIPE_FD, pipe_fd) < 0 || dup2(PIPE_FD + 1, pipe_fd + 1) < 0 || close(PIPE_FD) ||
	      close(PIPE_FD + 1))) ||
	    (grow && (dup2(pipe_fd, 700) < 0 || close(700))))
		_exit(3);
	for (i = 0; i < nsock; i++) {
		fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (fd != FIRST_FD + i || bind(fd, (struct sockaddr *)&sin, sizeof(sin)))
			_exit(4);
		len = sizeof(sin);
		if (getsockname(fd, (struct sockaddr *)&sin, &len))
			_exit(4);
		ports[fd] = ntohs(sin.sin_port);
		sin.sin_port = 0;
	}
	if (write(pipe_fd, ports, sizeof(ports)) != sizeof(ports))
		_exit(5);
	if (read(pipe_fd + 1, &c, 1) != 1)
		_exit(6);
	_exit(0); /* every socket still open: exit_files() closes them */
}

/* Returns whether to run again: only the walk-cut count was high, which another process's exit
 * can make (the counter is the host's), and tries are left. */
static bool run(const char *name, bool bounded, int nsock, int pipe_fd, bool grow, bool last)
{
	struct eph_loader_opts o = { .backend = EPH_BACKEND_TRACEPOINT,
				     .ringbuf_size = EPH_DEFAULT_RINGBUF,
				     .max_holds = EPH_DEFAULT_MAX_HOLDS,
				     .verbose = getenv("EPH_VERBOSE") != NULL };
	static struct walk_run w;
	uint64_t cnt0[EPH_CNT_MAX] = {}, cnt[EPH_CNT_MAX], end;
	/* the child's exit leaves a descriptor open beyond the bound: its pipe's ends */
	unsigned int want_cut = bounded && pipe_fd >= EPH_FD_WALK_BOUNDED;
	struct eph_loader *l;
	int up[2], down[2], st, fd, want, got = 0, missing = 0, extra = 0;
	bool failed = false, again = false;
	uint64_t cut;

	memset(&w, 0, sizeof(w));
	if (bounded)
		setenv("EPH_TEST_WITHOUT", "bpf_loop", 1);
	st = eph_loader__open(&o, on_record, &w, &l);
	unsetenv("EPH_TEST_WITHOUT");
	if (st) {
		printf("FAIL fdwalk-%s: the loader: %s\nRESULT fdwalk-%s FAIL\n", name,
		       strerror(-st), name);
		any_failed = true;
		return false;
	}
	if (pipe2(up, O_CLOEXEC) || pipe2(down, O_CLOEXEC)) {
		perror("pipe");
		exit(1);
	}
	w.child = fork();
	if (!w.child)
		child(up[1], down[0], nsock, pipe_fd, grow);
	close(up[1]);
	close(down[0]);
	if (read(up[0], w.port, sizeof(w.port)) != sizeof(w.port)) {
		waitpid(w.child, &st, 0);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 2) {
			printf("SKIP: fdwalk-%s: no network namespace or descriptor limit for the "
			       "child\nRESULT fdwalk-%s SKIP\n",
			       name, name);
			any_skipped = true;
		} else {
			printf("FAIL fdwalk-%s: the child's sockets (exit status %d)\nRESULT "
			       "fdwalk-%s FAIL\n",
			       name, WIFEXITED(st) ? WEXITSTATUS(st) : -1, name);
			any_failed = true;
		}
		goto out;
	}
	eph_loader__counters(l, cnt0);
	if (write(down[1], "x", 1) != 1 || waitpid(w.child, &st, 0) != w.child || !WIFEXITED(st) ||
	    WEXITSTATUS(st)) {
		printf("FAIL fdwalk-%s: the child did not exit 0\n", name);
		failed = true;
	}
	want = bounded && FIRST_FD + nsock > EPH_FD_WALK_BOUNDED ? EPH_FD_WALK_BOUNDED - FIRST_FD :
								   nsock;
	end = now_ms() + WAIT_MS;
	do {
		eph_loader__poll(l, 20);
		for (got = 0, fd = FIRST_FD; fd < FIRST_FD + NSOCK; fd++)
			got += w.released[fd];
	} while (got < want && now_ms() < end);
	eph_loader__poll(l, 100);
	for (fd = FIRST_FD; fd < FIRST_FD + nsock; fd++) {
		bool reached = !bounded || fd < EPH_FD_WALK_BOUNDED;

		if (reached && !w.released[fd] && missing++ < 5)
			printf("FAIL fdwalk-%s: descriptor %d (port %u): expected its release got "
			       "none\n",
			       name, fd, w.port[fd]);
		if (!reached && w.released[fd] && extra++ < 5)
			printf("FAIL fdwalk-%s: descriptor %d (port %u): beyond the bounded walk, "
			       "expected no release got one\n",
			       name, fd, w.port[fd]);
	}
	if (w.others) {
		printf("FAIL fdwalk-%s: %d releases of the child's of no port it had\n", name,
		       w.others);
		failed = true;
	}
	eph_loader__counters(l, cnt);
	cut = cnt[EPH_CNT_WALK_CUT] - cnt0[EPH_CNT_WALK_CUT];
	if (cut > want_cut && !failed && !missing && !extra && !last) {
		/* more, never fewer: another process that exited meanwhile with a descriptor
		 * open past the bound counts too */
		printf("fdwalk-%s: %llu walks cut short, %u expected: another process's exit "
		       "counts too (the counter is the host's); again\n",
		       name, (unsigned long long)cut, want_cut);
		again = true;
		goto out;
	}
	if (cut != want_cut) {
		printf("FAIL fdwalk-%s: expected %d walk cut short (EPH_CNT_WALK_CUT) at the child's "
		       "exit got %llu\n",
		       name, want_cut, (unsigned long long)cut);
		failed = true;
	}
	failed |= missing || extra;
	any_failed |= failed;
	if (failed)
		printf("RESULT fdwalk-%s FAIL (%d of %d expected releases)\n", name, got, want);
	else
		printf("RESULT fdwalk-%s PASS (%d sockets left open at exit: %d released by the "
		       "walk%s)\n",
		       name, nsock, got,
		       want < nsock ? ", the others beyond its bound, the walk counted as cut" :
		       grow	    ? ", the file table grown past the bound, no walk cut" :
				      "");
out:
	close(up[0]);
	close(down[1]);
	eph_loader__free(l);
	return again;
}

/* Up to three tries, for the walk-cut count only (run()). */
static void run_case(const char *name, bool bounded, int nsock, int pipe_fd, bool grow)
{
	int tries = 0;

	while (run(name, bounded, nsock, pipe_fd, grow, ++tries == 3))
		;
}

int main(void)
{
	if (!eph_privileged()) {
		printf("SKIP: not root\nRESULT fdwalk SKIP\n");
		return 77;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	run_case("loop", false, NSOCK, PIPE_FD, false);
	run_case("bounded", true, NSOCK, PIPE_FD, false);
	run_case("bounded-fits", true, 40, 50, true);
	return any_failed ? 1 : any_skipped ? 77 : 0;
}
