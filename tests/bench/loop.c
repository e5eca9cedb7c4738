// SPDX-License-Identifier: GPL-2.0
/* The loopback workloads, in a network namespace of their own. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ephbench.h"

#define LOOP_PORT 9000 /* listener i: 127.0.0.1:LOOP_PORT+i */
#define HOLD_PORT 9500 /* the holds' listener, on every address */
#define WARMUP_NS 100000000ull

static int orig_netns = -1;

int bench_orig_netns(void)
{
	return orig_netns;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;
	size_t n = strlen(text);

	if (fd < 0)
		return -errno;
	if (write(fd, text, n) != (ssize_t)n)
		err = -errno;
	close(fd);
	return err;
}

int bench_netns_enter(void)
{
	struct ifreq ifr = { 0 };
	int fd, err;

	if (orig_netns >= 0)
		return 0;
	fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (unshare(CLONE_NEWNET)) {
		err = -errno;
		goto out_close_ns;
	}
	orig_netns = fd;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strcpy(ifr.ifr_name, "lo");
	ifr.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
	err = ioctl(fd, SIOCSIFFLAGS, &ifr) ? -errno : 0;
	close(fd);
	/* /proc/sys/net is the namespace of the thread that opens it: this new one. The
	 * listeners' ports are kept out of the range (a listener binds after connections). */
	return err									  ?:
		       write_file("/proc/sys/net/ipv4/ip_local_port_range", "1024 65535") ?:
		       write_file("/proc/sys/net/ipv4/ip_local_reserved_ports", "9000-9999");

out_close_ns:
	close(fd);
	return err;
}

/* ---- the loop: connect, bind or getppid() ---- */

static const char *const workload_names[] = {
	[LOOP_CONNECT] = "connect",
	[LOOP_BIND] = "bind",
	[LOOP_SYSCALL] = "syscall",
};

int loop_workload_parse(const char *s, enum loop_workload *w)
{
	unsigned int i;

	for (i = 0; i < sizeof(workload_names) / sizeof(workload_names[0]); i++) {
		if (!strcmp(s, workload_names[i])) {
			*w = i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *loop_workload_name(enum loop_workload w)
{
	return workload_names[w];
}

struct loop_client {
	pthread_t th;
	struct loop *lp;
	unsigned int idx;
	uint64_t interval_ns; /* 0: as fast as it goes */
	_Atomic uint64_t done;
	_Atomic uint64_t errors;
	_Atomic int first_err;
};

struct loop_server {
	pthread_t th;
	struct loop *lp;
	int fd;
};

struct loop {
	unsigned int max;
	enum loop_workload workload;
	atomic_bool stop;
	int lfd[BENCH_MAX_CLIENTS];
	struct sockaddr_in addr[BENCH_MAX_CLIENTS];
	struct loop_client cl[BENCH_MAX_CLIENTS];
	struct loop_server sv[BENCH_MAX_CLIENTS];
};

/* A blocking listener whose accept() gives up every 50 ms (to see the stop flag). */
static int listener(const struct sockaddr_in *a)
{
	struct timeval tv = { .tv_usec = 50000 };
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    bind(fd, (const struct sockaddr *)a, sizeof(*a)) || listen(fd, 4096)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int loop__new(unsigned int max_clients, struct loop **out)
{
	struct loop *lp;
	unsigned int i;
	int err;

	if (!max_clients || max_clients > BENCH_MAX_CLIENTS)
		return -EINVAL;
	lp = calloc(1, sizeof(*lp));
	if (!lp)
		return -ENOMEM;
	lp->max = max_clients;
	for (i = 0; i < BENCH_MAX_CLIENTS; i++)
		lp->lfd[i] = -1;
	for (i = 0; i < max_clients; i++) {
		lp->addr[i].sin_family = AF_INET;
		lp->addr[i].sin_port = htons(LOOP_PORT + i);
		lp->addr[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		lp->lfd[i] = listener(&lp->addr[i]);
		if (lp->lfd[i] < 0) {
			err = lp->lfd[i];
			goto out_free;
		}
	}
	*out = lp;
	return 0;

out_free:
	loop__free(lp);
	return err;
}

void loop__set_workload(struct loop *lp, enum loop_workload w)
{
	lp->workload = w;
}

void loop__free(struct loop *lp)
{
	unsigned int i;

	if (!lp)
		return;
	for (i = 0; i < BENCH_MAX_CLIENTS; i++)
		if (lp->lfd[i] >= 0)
			close(lp->lfd[i]);
	free(lp);
}

static void *server_main(void *arg)
{
	struct loop_server *sv = arg;

	while (!atomic_load_explicit(&sv->lp->stop, memory_order_relaxed)) {
		int fd = accept4(sv->fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

/* Sleep until t (CLOCK_MONOTONIC ns). */
static void sleep_until(uint64_t t)
{
	struct timespec ts = { .tv_sec = t / 1000000000ull, .tv_nsec = t % 1000000000ull };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* One call of the workload by client idx: 0, or the errno of its failure. */
static int client_call(struct loop *lp, unsigned int idx)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct sockaddr_in any = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd, err;

	if (lp->workload == LOOP_SYSCALL) {
		/* the raw call: no libc cache in between, never fails */
		syscall(SYS_getppid);
		return 0;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	/* close() then sends an RST: the port is free at once, no TIME_WAIT */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	if (lp->workload == LOOP_BIND)
		err = bind(fd, (const struct sockaddr *)&any, sizeof(any)) ? errno : 0;
	else
		err = connect(fd, (const struct sockaddr *)&lp->addr[idx], sizeof(lp->addr[idx])) ?
			      errno :
			      0;
	close(fd);
	return err;
}

static void *client_main(void *arg)
{
	struct loop_client *c = arg;
	struct loop *lp = c->lp;
	uint64_t next = now_ns();

	while (!atomic_load_explicit(&lp->stop, memory_order_relaxed)) {
		int err, expected = 0;

		if (c->interval_ns) {
			uint64_t t = now_ns();

			next += c->interval_ns;
			if (t < next)
				sleep_until(next);
			else if (t > next + 50000000ull)
				next = t; /* fell behind: do not make up for it in a burst */
		}
		err = client_call(lp, c->idx);
		if (err) {
			atomic_compare_exchange_strong(&c->first_err, &expected, err);
			atomic_fetch_add_explicit(&c->errors, 1, memory_order_relaxed);
		} else {
			atomic_fetch_add_explicit(&c->done, 1, memory_order_relaxed);
		}
	}
	return NULL;
}

static void loop_count(struct loop *lp, unsigned int n, uint64_t *done, uint64_t *errors)
{
	unsigned int i;

	*done = *errors = 0;
	for (i = 0; i < n; i++) {
		*done += atomic_load_explicit(&lp->cl[i].done, memory_order_relaxed);
		*errors += atomic_load_explicit(&lp->cl[i].errors, memory_order_relaxed);
	}
}

/* CPU time of the loop's threads so far, ns. */
static uint64_t loop_cpu_ns(struct loop *lp, unsigned int n)
{
	uint64_t sum = 0;
	unsigned int i;

	for (i = 0; i < n; i++) {
		pthread_t th[2] = { lp->cl[i].th, lp->sv[i].th };
		unsigned int j;

		for (j = 0; j < 2; j++) {
			struct timespec ts;
			clockid_t cid;

			if (!pthread_getcpuclockid(th[j], &cid) && !clock_gettime(cid, &ts))
				sum += ts.tv_sec * 1000000000ull + ts.tv_nsec;
		}
	}
	return sum;
}

int loop__run(struct loop *lp, unsigned int clients, double rate, double seconds, pid_t watch,
	      struct loop_result *res)
{
	uint64_t d0, e0, d1, e1, t0, t1, c0, c1, w0 = 0, w1 = 0, start = now_ns();
	unsigned int i, nsv = 0, ncl = 0;
	int err = 0;

	if (!clients || clients > lp->max)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	atomic_store(&lp->stop, false);
	for (; nsv < clients; nsv++) {
		lp->sv[nsv] = (struct loop_server){ .lp = lp, .fd = lp->lfd[nsv] };
		err = -pthread_create(&lp->sv[nsv].th, NULL, server_main, &lp->sv[nsv]);
		if (err)
			goto out_stop;
	}
	for (; ncl < clients; ncl++) {
		struct loop_client *c = &lp->cl[ncl];

		c->lp = lp;
		c->idx = ncl;
		c->interval_ns = rate > 0 ? (uint64_t)(1e9 * clients / rate) : 0;
		atomic_store(&c->done, 0);
		atomic_store(&c->errors, 0);
		atomic_store(&c->first_err, 0);
		err = -pthread_create(&c->th, NULL, client_main, c);
		if (err)
			goto out_stop;
	}
	sleep_ns(WARMUP_NS);
	if (watch)
		proc_cpu_ns(watch, &w0);
	c0 = loop_cpu_ns(lp, clients);
	loop_count(lp, clients, &d0, &e0);
	t0 = now_ns();
	sleep_ns(seconds * 1e9);
	loop_count(lp, clients, &d1, &e1);
	t1 = now_ns();
	c1 = loop_cpu_ns(lp, clients);
	if (watch)
		proc_cpu_ns(watch, &w1);
	res->cpu_s = (c1 - c0) / 1e9;
	res->watch_cpu_s = w1 > w0 ? (w1 - w0) / 1e9 : 0;
	res->seconds = (t1 - t0) / 1e9;
	res->connects = d1 - d0;
	res->errors = e1 - e0;
	res->rate = res->connects / res->seconds;
out_stop:
	atomic_store(&lp->stop, true);
	for (i = 0; i < ncl; i++) {
		pthread_join(lp->cl[i].th, NULL);
		if (!res->first_err)
			res->first_err = atomic_load(&lp->cl[i].first_err);
	}
	for (i = 0; i < nsv; i++)
		pthread_join(lp->sv[i].th, NULL);
	loop_count(lp, ncl, &res->total_connects, &e1);
	res->total_seconds = (now_ns() - start) / 1e9;
	return err;
}

/* ---- connections held open ---- */

/*
 * Both ends of every connection are file descriptors, and RLIMIT_NOFILE may not be raised
 * (no CAP_SYS_RESOURCE in a container): the connections are spread over worker processes,
 * each with a listener of its own (HOLD_PORT + worker) and at most HOLDS_PER_WORKER of them.
 */
#define HOLDS_PER_WORKER 4000
#define MAX_WORKERS 250

/* One worker's connections. */
struct holdset {
	int lfd;
	int *cfd; /* client ends */
	int *sfd; /* server ends (written by the acceptor) */
	unsigned int n;
	unsigned int nc;
	_Atomic unsigned int ns;
	atomic_bool stop;
	pthread_t th;
	bool thread;
};

struct holds {
	unsigned int nworkers;
	pid_t pid[MAX_WORKERS];
	int fd[MAX_WORKERS]; /* a pipe to each: it exits when its end closes */
};

static void *acceptor_main(void *arg)
{
	struct holdset *h = arg;

	while (!atomic_load(&h->stop) && atomic_load(&h->ns) < h->n) {
		int fd = accept4(h->lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd >= 0)
			h->sfd[atomic_fetch_add(&h->ns, 1)] = fd;
		else if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
			break;
	}
	return NULL;
}

static void holdset_free(struct holdset *h)
{
	unsigned int i;

	if (h->thread) {
		atomic_store(&h->stop, true);
		pthread_join(h->th, NULL);
	}
	for (i = 0; i < h->nc; i++)
		close(h->cfd[i]);
	for (i = 0; i < atomic_load(&h->ns); i++)
		close(h->sfd[i]);
	if (h->lfd >= 0)
		close(h->lfd);
	free(h->cfd);
	free(h->sfd);
}

/* n connections to port, from destination first_dest on, round robin over ndest. */
static int holdset_open(struct holdset *h, unsigned int n, uint16_t port, unsigned int first_dest,
			unsigned int ndest, char *why, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	uint64_t deadline;
	int err;

	memset(h, 0, sizeof(*h));
	h->n = n;
	h->lfd = -1;
	h->cfd = calloc(n, sizeof(int));
	h->sfd = calloc(n, sizeof(int));
	if (!h->cfd || !h->sfd) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	a.sin_addr.s_addr = htonl(INADDR_ANY);
	h->lfd = listener(&a);
	if (h->lfd < 0) {
		snprintf(why, len, "listen on port %u: %s", port, strerror(-h->lfd));
		return h->lfd;
	}
	err = -pthread_create(&h->th, NULL, acceptor_main, h);
	if (err) {
		snprintf(why, len, "pthread_create: %s", strerror(-err));
		return err;
	}
	h->thread = true;
	for (; h->nc < n; h->nc++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			snprintf(why, len, "socket #%u: %s", h->nc + 1, strerror(errno));
			return -errno;
		}
		/* at the end, close() sends an RST: no TIME_WAIT left behind */
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK + (first_dest + h->nc) % ndest);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
			err = -errno;
			close(fd);
			snprintf(why, len, "connect #%u to %s:%u: %s", h->nc + 1,
				 inet_ntoa(a.sin_addr), port, strerror(-err));
			return err;
		}
		h->cfd[h->nc] = fd;
	}
	deadline = now_ns() + 10000000000ull;
	while (atomic_load(&h->ns) < n && now_ns() < deadline)
		sleep_ns(1000000);
	if (atomic_load(&h->ns) < n) {
		snprintf(why, len, "only %u of %u connections accepted", atomic_load(&h->ns), n);
		return -ETIMEDOUT;
	}
	return 0;
}

/* A worker: open, say "ok" or why not on fd, hold until fd reaches its end. */
static void worker(int fd, unsigned int n, uint16_t port, unsigned int first_dest,
		   unsigned int ndest)
{
	struct holdset h;
	char why[256] = "ok";
	int err;
	char c;

	err = holdset_open(&h, n, port, first_dest, ndest, why, sizeof(why));
	if (write(fd, why, strlen(why) + 1) < 0)
		err = -errno;
	while (!err && read(fd, &c, 1) > 0)
		;
	holdset_free(&h);
	_exit(err ? 1 : 0);
}

int holds__open(unsigned int n, unsigned int ndest, struct holds **out, char *why, size_t len)
{
	unsigned int w, per, done = 0, most = HOLDS_PER_WORKER;
	struct holds *h;
	struct rlimit rl;
	int err = 0;

	*out = NULL;
	/* the soft limit may go up to the hard one without privileges */
	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < 2 * most + 64)
			most = rl.rlim_cur > 128 ? (rl.rlim_cur - 64) / 2 : 32;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->nworkers = (n + most - 1) / most;
	if (h->nworkers > MAX_WORKERS) {
		free(h);
		snprintf(why, len, "at most %u connections", MAX_WORKERS * most);
		return -E2BIG;
	}
	per = (n + h->nworkers - 1) / h->nworkers;
	for (w = 0; w < h->nworkers; w++)
		h->fd[w] = -1;
	/* the workers connect one after the other: one core each would be more than we have */
	for (w = 0; w < h->nworkers && !err; w++) {
		unsigned int k = n - done < per ? n - done : per;
		char msg[256] = "";
		int p[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p)) {
			err = -errno;
			snprintf(why, len, "socketpair: %s", strerror(-err));
			break;
		}
		h->pid[w] = fork();
		if (!h->pid[w]) {
			close(p[0]);
			worker(p[1], k, HOLD_PORT + w, done, ndest);
		}
		close(p[1]);
		h->fd[w] = p[0];
		if (h->pid[w] < 0) {
			err = -errno;
			h->pid[w] = 0;
			snprintf(why, len, "fork: %s", strerror(-err));
			break;
		}
		if (read(p[0], msg, sizeof(msg) - 1) <= 0 || strcmp(msg, "ok")) {
			err = -EIO;
			snprintf(why, len, "worker %u: %s", w + 1, msg[0] ? msg : "died");
		}
		done += k;
	}
	if (err) {
		holds__free(h);
		return err;
	}
	*out = h;
	return 0;
}

void holds__free(struct holds *h)
{
	unsigned int w;

	if (!h)
		return;
	for (w = 0; w < h->nworkers; w++)
		if (h->fd[w] >= 0)
			close(h->fd[w]);
	for (w = 0; w < h->nworkers; w++)
		if (h->pid[w] > 0)
			waitpid(h->pid[w], NULL, 0);
	free(h);
}
