// SPDX-License-Identifier: GPL-2.0
/*
 * The load of the serve soak (tests/host/soak.py): a node's worth of pods, on loopback only.
 *
 * NS private network namespaces (unshare), each with a listener on 127.0.0.1:5000 and PROCS
 * processes holding CONNS connections each to it (the namespace's first process, its leader,
 * accepts and holds the other ends). When every namespace is ready it prints
 *   ready ns N procs N held N accepted N ms N
 * and waits for a line on stdin. "churn" then runs, in the first namespace, RATE connect()s a
 * second for SECS seconds spread over DESTS listeners (127.0.0.1:6000 and up), by short-lived
 * processes (WORKERS at a time, each for one second: new pids all along), each socket closed
 * with a reset except every TW_EVERY-th, closed normally (TIME_WAIT, whoever closes first);
 * then it prints
 *   churn connects N failed N procs N elapsed_ms N late_ms N
 * (late_ms: how far behind its schedule the slowest worker ended). End of stdin ends it all:
 * every process of the load dies with its parent (PR_SET_PDEATHSIG).
 *
 * Usage: soak NS PROCS CONNS RATE SECS DESTS WORKERS TW_EVERY
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HOLD_PORT 5000
#define CHURN_PORT 6000
#define MAX_DESTS 64
#define READY_TIMEOUT_MS 60000

struct opts {
	int ns, procs, conns, rate, secs, dests, workers, tw_every;
};

struct ready_msg {
	int accepted;
	int failed;
};

struct worker_msg {
	long connects;
	long failed;
	long late_ms;
};

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* Die with the parent; false when it is gone already. */
static int die_with_parent(pid_t parent, const char *name)
{
	prctl(PR_SET_NAME, name);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL))
		return -1;
	return getppid() == parent ? 0 : -1;
}

static int lo_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		err = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (!err && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		err = -errno;
	close(fd);
	return err;
}

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int listen_on(int port)
{
	struct sockaddr_in a = loopback(port);
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4096)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* CONNS connections to the namespace's listener, held until killed. Exit status: failures. */
static int connect_n(int n)
{
	struct sockaddr_in a = loopback(HOLD_PORT);
	int i, failed = 0;

	for (i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
			failed++;
			if (fd >= 0)
				close(fd);
		}
	}
	return failed;
}

static void holder(pid_t leader, int conns)
{
	if (die_with_parent(leader, "soak-hold"))
		_exit(1);
	connect_n(conns);
	for (;;)
		pause();
}

/* Accept until every connection of the namespace is in, or the time is up. */
static int accept_all(int lfd, int want)
{
	long end = now_ms() + READY_TIMEOUT_MS;
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int got = 0;

	while (got < want && now_ms() < end) {
		if (poll(&p, 1, 1000) <= 0)
			continue;
		if (accept4(lfd, NULL, NULL, SOCK_CLOEXEC) >= 0)
			got++;
	}
	return got;
}

static void leader(pid_t ctl, const struct opts *o, int ready_fd)
{
	struct ready_msg m = { 0 };
	pid_t self = getpid();
	int lfd, i;

	if (die_with_parent(ctl, "soak-lead"))
		_exit(1);
	if (unshare(CLONE_NEWNET) || lo_up() || (lfd = listen_on(HOLD_PORT)) < 0) {
		m.failed = -1;
		goto out;
	}
	for (i = 1; i < o->procs; i++) {
		pid_t pid = fork();

		if (pid == 0)
			holder(self, o->conns);
		if (pid < 0)
			m.failed += o->conns;
	}
	m.failed += connect_n(o->conns);
	m.accepted = accept_all(lfd, o->procs * o->conns - m.failed);
out:
	if (write(ready_fd, &m, sizeof(m)) != sizeof(m))
		_exit(1);
	close(ready_fd);
	for (;;)
		pause();
}

/* ---- churn ------------------------------------------------------------------------------ */

static int listeners[MAX_DESTS];
static int nlisteners;

static void *accept_loop(void *arg)
{
	struct pollfd p[MAX_DESTS];
	int i;

	(void)arg;
	for (i = 0; i < nlisteners; i++) {
		p[i].fd = listeners[i];
		p[i].events = POLLIN;
	}
	for (;;) {
		if (poll(p, nlisteners, -1) <= 0)
			continue;
		for (i = 0; i < nlisteners; i++) {
			int fd;

			if (!(p[i].revents & POLLIN))
				continue;
			fd = accept4(p[i].fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (fd >= 0)
				close(fd);
		}
	}
	return NULL;
}

static void close_socket(int fd, bool reset)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (reset)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static void sleep_until(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/* One second of churn: n connect()s evenly paced from start_ms, the k-th to destination
 * (first + k) % dests. */
static void worker(pid_t parent, const struct opts *o, int n, long first, long start_ms, int out)
{
	struct worker_msg m = { 0 };
	long k;

	if (die_with_parent(parent, "soak-churn"))
		_exit(1);
	for (k = 0; k < n; k++) {
		struct sockaddr_in a = loopback(CHURN_PORT + (first + k) % o->dests);
		int fd;

		sleep_until(start_ms + k * 1000L / n);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
			m.failed++;
			if (fd >= 0)
				close(fd);
			continue;
		}
		m.connects++;
		close_socket(fd, (first + k) % o->tw_every != 0);
	}
	m.late_ms = now_ms() - (start_ms + 1000);
	if (write(out, &m, sizeof(m)) != sizeof(m))
		_exit(1);
	_exit(0);
}

/* The churn, run in a child that entered the first namespace. */
static void churn(pid_t ctl, const struct opts *o, pid_t ns0, int out)
{
	struct worker_msg sum = { 0 }, m;
	long t0, late = 0, seq = 0, procs = 0;
	int per = o->rate / o->workers, i, s, pipefd[2], nsfd;
	char path[64];
	pthread_t th;

	if (die_with_parent(ctl, "soak-churn"))
		_exit(1);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", ns0);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) || pipe(pipefd))
		_exit(1);
	for (i = 0; i < o->dests; i++)
		if ((listeners[nlisteners++] = listen_on(CHURN_PORT + i)) < 0)
			_exit(1);
	for (i = 0; i < 2; i++)
		if (pthread_create(&th, NULL, accept_loop, NULL))
			_exit(1);
	t0 = now_ms();
	/* each second, WORKERS new processes, each for that second */
	for (s = 0; s < o->secs; s++) {
		for (i = 0; i < o->workers; i++) {
			pid_t pid = fork();

			if (pid == 0)
				worker(getppid(), o, per, seq, t0 + s * 1000L, pipefd[1]);
			if (pid > 0)
				procs++;
			seq += per;
		}
		sleep_until(t0 + (s + 1) * 1000L);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
	close(pipefd[1]);
	while (read(pipefd[0], &m, sizeof(m)) == sizeof(m)) {
		sum.connects += m.connects;
		sum.failed += m.failed;
		if (m.late_ms > late)
			late = m.late_ms;
	}
	while (wait(NULL) > 0)
		;
	dprintf(out, "churn connects %ld failed %ld procs %ld elapsed_ms %ld late_ms %ld\n",
		sum.connects, sum.failed, procs, now_ms() - t0, late);
	_exit(0);
}

static int parse(int argc, char **argv, struct opts *o)
{
	int *v[] = { &o->ns,   &o->procs, &o->conns,   &o->rate,
		     &o->secs, &o->dests, &o->workers, &o->tw_every };
	unsigned int i;

	if (argc != 9)
		return -1;
	for (i = 0; i < 8; i++)
		*v[i] = atoi(argv[i + 1]);
	if (o->ns < 1 || o->procs < 1 || o->conns < 0 || o->conns > 200 || o->rate < 0 ||
	    o->secs < 0 || o->dests < 1 || o->dests > MAX_DESTS || o->workers < 1 ||
	    o->tw_every < 1)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct rlimit rl = { 65536, 65536 };
	struct ready_msg m, sum = { 0 };
	pid_t self = getpid(), ns0 = 0;
	int i, pipefd[2], ready = 0;
	char line[64];
	struct opts o;
	long t0;

	if (parse(argc, argv, &o)) {
		fprintf(stderr,
			"usage: soak NS PROCS CONNS(<=200) RATE SECS DESTS WORKERS TW_EVERY\n");
		return 2;
	}
	setrlimit(RLIMIT_NOFILE, &rl);
	signal(SIGPIPE, SIG_IGN);
	if (pipe(pipefd))
		return 1;
	t0 = now_ms();
	for (i = 0; i < o.ns; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			close(pipefd[0]);
			leader(self, &o, pipefd[1]);
		}
		if (pid < 0) {
			perror("soak: fork");
			return 1;
		}
		if (!i)
			ns0 = pid;
	}
	close(pipefd[1]);
	while (ready < o.ns && read(pipefd[0], &m, sizeof(m)) == sizeof(m)) {
		ready++;
		if (m.failed < 0) {
			fprintf(stderr, "soak: a namespace could not be set up\n");
			return 1;
		}
		sum.accepted += m.accepted;
		sum.failed += m.failed;
	}
	printf("ready ns %d procs %d held %d accepted %d ms %ld\n", ready, ready * o.procs,
	       ready * o.procs * o.conns - sum.failed, sum.accepted, now_ms() - t0);
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		pid_t pid;

		if (strcmp(line, "churn\n"))
			continue;
		pid = fork();
		if (pid == 0)
			churn(self, &o, ns0, STDOUT_FILENO);
		if (pid > 0)
			waitpid(pid, NULL, 0);
		fflush(stdout);
	}
	return 0;
}
