// SPDX-License-Identifier: GPL-2.0
/*
 * The lifecycle scenario syn-blackhole (lifecycle.h; lifecycle.c drives it, lifecycle_tcp.c has
 * the other TCP ones):
 *
 *   syn-blackhole  a netfilter rule of the namespace drops every packet to 127.0.0.1:5999 (nft,
 *                  else iptables; SKIP without either): a non-blocking connect() (EINPROGRESS)
 *                  and a blocking one (in a thread) stay in SYN_SENT; each assign must be in
 *                  ephtrace's output within LC_AWAIT_MS while the socket is still in SYN_SENT,
 *                  before the workload closes the first and shuts the second down (ECONNRESET).
 *                  Then a blocking connect() with TCP_SYNCNT 1 that times out on its own
 *                  (ETIMEDOUT, about 3 s): the same, its release in timer context.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lifecycle.h"

#define LC_DROP_PORT 5999   /* syn-blackhole: the namespace's netfilter drops what goes there */
#define LC_TIMEOUT_MS 10000 /* a connect() with TCP_SYNCNT 1 times out after about 3 s */

/* ---- syn-blackhole ---- */

/* An executable named name: in $PATH, else in the sbin directories (a PATH without them). */
static int lc_find_tool(const char *name, char *path, size_t len)
{
	static const char *const dirs[] = { "/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin",
					    "/bin" };
	const char *env = getenv("PATH"), *p, *end;
	size_t i;

	for (p = env; p && *p; p = *end ? end + 1 : end) {
		end = strchr(p, ':');
		if (!end)
			end = p + strlen(p);
		snprintf(path, len, "%.*s/%s", (int)(end - p), p, name);
		if (end > p && !access(path, X_OK))
			return 0;
	}
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, len, "%s/%s", dirs[i], name);
		if (!access(path, X_OK))
			return 0;
	}
	return -ENOENT;
}

/* Run argv (argv[0] a path) with its output in out; its exit status, or -errno. */
static int lc_run(char *const argv[], char *out, size_t len)
{
	int pfd[2], status, n = 0;
	ssize_t got;
	pid_t pid;

	out[0] = '\0';
	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -errno;
	}
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		dup2(pfd[1], STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	while (len > 1 && (got = read(pfd[0], out + n, len - 1 - n)) > 0)
		n += got;
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
	close(pfd[0]);
	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/*
 * Every packet to 127.0.0.1:LC_DROP_PORT dropped on output, by a rule of this network namespace
 * only: nft, else iptables. 0; or -1 with o->skip set when neither is there or works (o->msg
 * says why).
 */
static int lc_drop_syns(struct oracle *o)
{
	char nft[256], ipt[256], out[160], why[WL_MSG_LEN] = "";
	char *const nft_table[] = { nft, "add", "table", "inet", "ephtest", NULL };
	char *const nft_chain[] = { nft,
				    "add",
				    "chain",
				    "inet",
				    "ephtest",
				    "out",
				    "{ type filter hook output priority 0 ; }",
				    NULL };
	char *const nft_rule[] = { nft,	    "add",	 "rule", "inet",  "ephtest", "out",  "ip",
				   "daddr", "127.0.0.1", "tcp",	 "dport", "5999",    "drop", NULL };
	char *const ipt_rule[] = { ipt,		"-w",	   "-A",   "OUTPUT", "-p",   "tcp", "-d",
				   "127.0.0.1", "--dport", "5999", "-j",     "DROP", NULL };
	int err;

	if (!lc_find_tool("nft", nft, sizeof(nft))) {
		err = lc_run(nft_table, out, sizeof(out));
		if (!err)
			err = lc_run(nft_chain, out, sizeof(out));
		if (!err)
			err = lc_run(nft_rule, out, sizeof(out));
		if (!err)
			return 0;
		snprintf(why, sizeof(why), "nft failed (%d: %.60s)", err, out);
	}
	if (!lc_find_tool("iptables", ipt, sizeof(ipt))) {
		err = lc_run(ipt_rule, out, sizeof(out));
		if (!err)
			return 0;
		snprintf(why + strlen(why), sizeof(why) - strlen(why),
			 "%siptables failed (%d: %.60s)", why[0] ? ", " : "", err, out);
	}
	snprintf(o->msg, sizeof(o->msg), "no netfilter in the namespace to drop SYNs with: %s",
		 why[0] ? why : "neither nft nor iptables found");
	o->skip = 1;
	return -1;
}

/* A second thread that makes blocking connect()s, one per job, so that the workload can watch
 * the socket while the call blocks. */
struct lc_worker {
	struct oracle *o;
	int fd;
	struct orec *r;	 /* the job's record, made by the thread */
	int64_t t0;	 /* before its connect() */
	int32_t job;	 /* workload: jobs asked for */
	int32_t started; /* thread: jobs whose connect() was called */
	int32_t done;	 /* thread: jobs whose connect() returned */
	int32_t quit;
};

static void *lc_worker_main(void *arg)
{
	struct lc_worker *w = arg;
	struct sockaddr_in sin;
	int k = 0, ret, err;

	prctl(PR_GET_NAME, w->o->thread_comm);
	__atomic_store_n(&w->o->thread_tid, gettid(), __ATOMIC_SEQ_CST);
	lc_dest(LC_DROP_PORT, &sin);
	for (;;) {
		while (__atomic_load_n(&w->job, __ATOMIC_SEQ_CST) == k &&
		       !__atomic_load_n(&w->quit, __ATOMIC_SEQ_CST))
			usleep(1000);
		if (__atomic_load_n(&w->quit, __ATOMIC_SEQ_CST))
			return NULL;
		k++;
		w->r = lc_rec_connect(w->o, LC_DROP_PORT);
		w->t0 = wall_ns();
		__atomic_store_n(&w->started, k, __ATOMIC_SEQ_CST);
		ret = connect(w->fd, (struct sockaddr *)&sin, sizeof(sin));
		err = errno;
		w->r->ret = ret;
		w->r->err = ret < 0 ? err : 0;
		__atomic_store_n(&w->done, k, __ATOMIC_SEQ_CST);
	}
}

/* Wait until the worker's counter *what reaches k, ms at most. */
static int lc_worker_wait(int32_t *what, int k, int ms)
{
	int64_t deadline = now_ms() + ms;

	while (__atomic_load_n(what, __ATOMIC_SEQ_CST) < k) {
		if (now_ms() > deadline)
			return -ETIMEDOUT;
		usleep(1000);
	}
	return 0;
}

/*
 * A blocking connect() to the dropped port, in the worker thread (syncnt: TCP_SYNCNT, 0 for
 * the namespace's default): once the socket is in SYN_SENT with its port, that port is
 * recorded, its assign awaited by the driver after step.
 */
static struct lc_port *lc_blocking_syn(struct oracle *o, struct lc_worker *w, const char *what,
				       int step, int syncnt)
{
	struct lc_port *p;
	int k = w->job + 1;

	w->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (w->fd < 0) {
		lc_fail(o, "socket()", errno);
		return NULL;
	}
	if (syncnt && setsockopt(w->fd, IPPROTO_TCP, TCP_SYNCNT, &syncnt, sizeof(syncnt))) {
		lc_fail(o, "setsockopt(TCP_SYNCNT)", errno);
		return NULL;
	}
	__atomic_store_n(&w->job, k, __ATOMIC_SEQ_CST);
	if (lc_worker_wait(&w->started, k, LC_STATE_MS) ||
	    lc_wait_state(w->fd, TCP_SYN_SENT, LC_STATE_MS)) {
		lc_fail(o, "a blocking connect() to the dropped port never reached SYN_SENT", 0);
		return NULL;
	}
	w->r->port = lc_local(w->fd, w->r->addr);
	w->r->expect = w->r->port ? EXPECT_ASSIGN : EXPECT_NONE;
	p = lc_port_new(o, w->r, what, w->t0, wall_ns());
	p->await_step = step;
	p->fd = w->fd;
	return p;
}

/* The end of a worker's blocking connect(): it must return err. */
static int lc_blocking_end(struct oracle *o, struct lc_worker *w, struct lc_port *p, int err,
			   int ms)
{
	char msg[128];

	if (lc_worker_wait(&w->done, w->job, ms))
		return lc_fail(o, "a blocking connect() in SYN_SENT did not return", ETIMEDOUT);
	p->back_to = wall_ns();
	if (w->r->err != err) {
		snprintf(msg, sizeof(msg), "%s: expected %s got", p->what, strerror(err));
		return lc_fail(o, msg, w->r->err);
	}
	return 0;
}

int lc_syn_blackhole(struct oracle *o)
{
	struct lc_shared *sh = lc_of(o);
	struct lc_worker w = { .o = o, .fd = -1 };
	struct lc_port *a, *b, *c;
	int64_t t0, t1;
	struct orec *r;
	pthread_t th;
	int fd, err;

	if (lc_drop_syns(o)) {
		lc_ready(o, 0);
		return o->skip ? 0 : -1;
	}
	err = pthread_create(&th, NULL, lc_worker_main, &w);
	if (err)
		return lc_fail(o, "pthread_create()", err);
	lc_ready(o, 4);
	drv_wait_go(o, 1);
	sh->t0 = wall_ns();
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return lc_fail(o, "socket()", errno);
	r = lc_connect(o, fd, LC_DROP_PORT, LC_CONNECT, &t0, &t1);
	if (r->err != EINPROGRESS)
		return lc_fail(o,
			       "non-blocking connect() to the dropped port: expected EINPROGRESS "
			       "got",
			       r->err);
	if (lc_state(fd) != TCP_SYN_SENT || !r->port)
		return lc_fail(o, "non-blocking connect() to the dropped port: not in SYN_SENT", 0);
	a = lc_port_new(o, r, "non-blocking connect(), SYN dropped", t0, t1);
	a->await_step = 1;
	a->fd = fd;
	b = lc_blocking_syn(o, &w, "blocking connect(), SYN dropped", 1, 0);
	if (!b)
		return -1;
	drv_done(o, 1);

	/* the driver has looked for both assigns: close one, shut the other down */
	drv_wait_go(o, 2);
	a->still_syn = lc_state(a->fd) == TCP_SYN_SENT;
	b->still_syn = lc_state(b->fd) == TCP_SYN_SENT;
	lc_close_back(a, a->fd, false);
	b->back_from = wall_ns();
	if (shutdown(b->fd, SHUT_RDWR))
		return lc_fail(o, "shutdown() of a socket in SYN_SENT", errno);
	if (lc_blocking_end(o, &w, b, ECONNRESET, LC_STATE_MS))
		return -1;
	close(b->fd);
	drv_done(o, 2);

	drv_wait_go(o, 3);
	c = lc_blocking_syn(o, &w, "blocking connect(), TCP_SYNCNT 1, timed out", 3, 1);
	if (!c)
		return -1;
	drv_done(o, 3);

	/* the driver has looked for its assign: it times out on its own */
	drv_wait_go(o, 4);
	c->still_syn = lc_state(c->fd) == TCP_SYN_SENT;
	c->back_from = wall_ns();
	if (lc_blocking_end(o, &w, c, ETIMEDOUT, LC_TIMEOUT_MS))
		return -1;
	close(c->fd);
	__atomic_store_n(&w.quit, 1, __ATOMIC_SEQ_CST);
	pthread_join(th, NULL);
	snprintf(sh->note, sizeof(sh->note),
		 "kernel: SYN_SENT until closed (EINPROGRESS), shut down (ECONNRESET), timed out "
		 "(ETIMEDOUT, %.1f s)",
		 (c->back_to - c->took_from) / 1e9);
	drv_done(o, 4);
	return 0;
}
