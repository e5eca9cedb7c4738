// SPDX-License-Identifier: GPL-2.0
/*
 * The lifecycle scenarios over TCP (lifecycle.h; lifecycle.c drives them):
 *
 *   syn-blackhole  a netfilter rule of the namespace drops every packet to 127.0.0.1:5999 (nft,
 *                  else iptables; SKIP without either): a non-blocking connect() (EINPROGRESS)
 *                  and a blocking one (in a thread) stay in SYN_SENT; each assign must be in
 *                  ephtrace's output within LC_AWAIT_MS while the socket is still in SYN_SENT,
 *                  before the workload closes the first and shuts the second down (ECONNRESET).
 *                  Then a blocking connect() with TCP_SYNCNT 1 that times out on its own
 *                  (ETIMEDOUT, about 3 s): the same, its release in timer context.
 *   refused        10 connect()s to a closed port, 5 blocking (ECONNREFUSED) and 5 not
 *                  (EINPROGRESS: on loopback the RST came before connect() returned, the socket
 *                  is closed then, getsockname() still names the port): each an assign and a
 *                  release within the call.
 *   rst-close      connections ended by a RST, 4 of each: SO_LINGER 0 close() by us from
 *                  ESTABLISHED, and from FIN_WAIT2 (after shutdown(SHUT_WR)); a RST from the
 *                  peer in ESTABLISHED and in FIN_WAIT2. No TIME_WAIT (checked in
 *                  /proc/net/tcp): a release each, when the RST went or came. Then 2 closed by us
 *                  first with a FIN: TIME_WAIT, no release while the workload runs (when its
 *                  namespace goes, inet_twsk_purge() ends them: fentry and kprobe report those
 *                  releases, allowed after the workload's end). The listener's close: a release.
 *   tfo            TCP Fast Open (net.ipv4.tcp_fastopen 3 in the namespace, a TFO listener): 3
 *                  sendto(MSG_FASTOPEN) and 1 sendmsg(MSG_FASTOPEN) from unbound sockets (the
 *                  first asks for the cookie, the others carry data in the SYN): connect()'s port
 *                  search runs inside the send, so each is an assign with op connect, at the
 *                  send. TCP_FASTOPEN_CONNECT (the cookie cached): connect() takes the port and
 *                  returns 0 with no SYN sent (deferred to the first write()): 2 written
 *                  LC_GAP_MS later, 2 closed and 2 shut down without a write: the assign at
 *                  connect(), the release at the RST, close() or shutdown().
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lifecycle.h"

#ifndef TCP_FASTOPEN_CONNECT
#define TCP_FASTOPEN_CONNECT 30
#endif
#ifndef TCPI_OPT_SYN_DATA
#define TCPI_OPT_SYN_DATA 32
#endif

#define LC_CLOSED_PORT 5001 /* refused: nobody listens */
#define LC_DROP_PORT 5999   /* syn-blackhole: the namespace's netfilter drops what goes there */
#define LC_NR_REFUSED 10
#define LC_NR_RST 4	    /* connections of each RST kind */
#define LC_NR_TW 2	    /* closed with a FIN, into TIME_WAIT */
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

/* ---- refused ---- */

int lc_refused(struct oracle *o)
{
	struct lc_shared *sh = lc_of(o);
	struct lc_port *p;
	int64_t t0, t1;
	struct orec *r;
	int i, fd, err;
	socklen_t len = sizeof(err);
	bool nb;

	lc_ready(o, 1);
	drv_wait_go(o, 1);
	sh->t0 = wall_ns();
	for (i = 0; i < LC_NR_REFUSED; i++) {
		nb = i >= LC_NR_REFUSED / 2;
		fd = socket(AF_INET, SOCK_STREAM | (nb ? SOCK_NONBLOCK : 0), 0);
		if (fd < 0)
			return lc_fail(o, "socket()", errno);
		r = lc_connect(o, fd, LC_CLOSED_PORT, LC_CONNECT, &t0, &t1);
		if (r->err != (nb ? EINPROGRESS : ECONNREFUSED))
			return lc_fail(o,
				       nb ? "non-blocking connect() to a closed port: expected "
					    "EINPROGRESS got" :
					    "connect() to a closed port: expected ECONNREFUSED got",
				       r->err);
		if (nb) { /* the RST came before connect() returned: the socket is closed */
			if (lc_state(fd) != TCP_CLOSE ||
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) || err != ECONNREFUSED)
				return lc_fail(o,
					       "non-blocking connect() to a closed port: not "
					       "refused before it returned",
					       0);
		}
		if (!r->port)
			return lc_fail(o, "getsockname() after a refused connect(): no port", 0);
		p = lc_port_new(o, r, nb ? "non-blocking connect(), refused" : "connect(), refused",
				t0, t1);
		p->back_from = t0; /* the RST came within the call */
		p->back_to = wall_ns();
		close(fd);
	}
	snprintf(sh->note, sizeof(sh->note), "kernel: %d refused before connect() returned",
		 LC_NR_REFUSED);
	drv_done(o, 1);
	return 0;
}

/* ---- rst-close ---- */

#define RC_US 0		  /* SO_LINGER 0 close() by us, ESTABLISHED */
#define RC_US_FIN_WAIT2 1 /* the same after shutdown(SHUT_WR) */
#define RC_PEER 2	  /* the peer's SO_LINGER 0 close(), ESTABLISHED */
#define RC_PEER_FIN_WAIT2 3
#define RC_TIME_WAIT 4 /* close() by us first, with a FIN */

static const char *const rc_what[] = {
	"RST by us (SO_LINGER 0), ESTABLISHED", "RST by us (SO_LINGER 0), FIN_WAIT2",
	"RST by the peer, ESTABLISHED",		"RST by the peer, FIN_WAIT2",
	"FIN by us first: TIME_WAIT, kept",
};

/* One connection of kind k to the listener, ended as k says. */
static int lc_rst_one(struct oracle *o, int lfd, int k)
{
	struct pollfd pfd = { .events = POLLIN };
	int64_t t0, t1, deadline;
	struct lc_port *p;
	struct orec *r;
	int fd, st = 0;
	char ch;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return lc_fail(o, "socket()", errno);
	r = lc_connect(o, fd, LC_LISTEN_PORT, LC_CONNECT, &t0, &t1);
	if (r->ret)
		return lc_fail(o, "connect() to the listener", r->err);
	p = lc_port_new(o, r, rc_what[k], t0, t1);
	pfd.fd = accept(lfd, NULL, NULL);
	if (pfd.fd < 0)
		return lc_fail(o, "accept()", errno);
	if (k == RC_US_FIN_WAIT2 || k == RC_PEER_FIN_WAIT2) {
		if (shutdown(fd, SHUT_WR) || lc_wait_state(fd, TCP_FIN_WAIT2, LC_STATE_MS))
			return lc_fail(o, "shutdown(SHUT_WR): no FIN_WAIT2", errno);
	}
	switch (k) {
	case RC_US:
	case RC_US_FIN_WAIT2:
		lc_close_back(p, fd, true);
		close(pfd.fd);
		break;
	case RC_PEER:
	case RC_PEER_FIN_WAIT2:
		p->back_from = wall_ns();
		drv_rst_close(pfd.fd);
		if (lc_wait_state(fd, TCP_CLOSE, LC_STATE_MS))
			return lc_fail(o, "the peer's RST did not close the socket", ETIMEDOUT);
		p->back_to = wall_ns();
		close(fd);
		break;
	default:
		p->fate = LC_KEPT;
		close(fd);
		if (poll(&pfd, 1, LC_STATE_MS) != 1 || read(pfd.fd, &ch, 1) != 0)
			return lc_fail(o, "the server side: no EOF", ETIMEDOUT);
		close(pfd.fd);
		deadline = now_ms() + LC_STATE_MS;
		while (lc_tcp_entries(p->port, &st) != 1 || st != TCP_TIME_WAIT) {
			if (now_ms() > deadline)
				return lc_fail(o, "closed first with a FIN: no TIME_WAIT", 0);
			usleep(1000);
		}
		return 0;
	}
	return lc_gone(o, p);
}

int lc_rst_close(struct oracle *o)
{
	struct lc_shared *sh = lc_of(o);
	struct lc_port *lp;
	int i, k, lfd;

	lc_ready(o, 1);
	drv_wait_go(o, 1);
	sh->t0 = wall_ns();
	lfd = lc_listener(o, false, &lp);
	if (lfd < 0)
		return -1;
	for (i = 0; i < LC_NR_RST; i++)
		for (k = RC_US; k <= RC_PEER_FIN_WAIT2; k++)
			if (lc_rst_one(o, lfd, k))
				return -1;
	for (i = 0; i < LC_NR_TW; i++)
		if (lc_rst_one(o, lfd, RC_TIME_WAIT))
			return -1;
	lc_close_back(lp, lfd, false);
	sh->end_ns = wall_ns();
	snprintf(sh->note, sizeof(sh->note),
		 "kernel: no socket left on a port ended by a RST, %d in TIME_WAIT", LC_NR_TW);
	drv_done(o, 1);
	return 0;
}

/* ---- tfo ---- */

/* A MSG_FASTOPEN send (how) from a fresh socket: the connection accepted, its byte read, then a
 * RST. *syn_data counts the SYNs that carried the byte. */
static int lc_tfo_send(struct oracle *o, int lfd, int how, unsigned int *syn_data)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	struct lc_port *p;
	int64_t t0, t1;
	struct orec *r;
	int fd, afd;
	char ch;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return lc_fail(o, "socket()", errno);
	r = lc_connect(o, fd, LC_LISTEN_PORT, how, &t0, &t1);
	if (r->ret != 1 || !r->port)
		return lc_fail(o,
			       how == LC_SENDTO ? "sendto(MSG_FASTOPEN)" : "sendmsg(MSG_FASTOPEN)",
			       r->err);
	p = lc_port_new(
		o, r, how == LC_SENDTO ? "sendto(MSG_FASTOPEN), RST" : "sendmsg(MSG_FASTOPEN), RST",
		t0, t1);
	afd = accept(lfd, NULL, NULL);
	if (afd < 0 || read(afd, &ch, 1) != 1)
		return lc_fail(o, "the TFO connection's byte", errno);
	if (!getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) &&
	    (ti.tcpi_options & TCPI_OPT_SYN_DATA))
		(*syn_data)++;
	lc_close_back(p, fd, true);
	close(afd);
	return lc_gone(o, p);
}

#define TFO_WRITE 0    /* the first write() sends the SYN, LC_GAP_MS after connect() */
#define TFO_CLOSE 1    /* close() with no write(): no SYN ever */
#define TFO_SHUTDOWN 2 /* shutdown() with no write() (tcp_disconnect()), then close() */

static const char *const tfo_what[] = {
	"TCP_FASTOPEN_CONNECT, write() later, RST",
	"TCP_FASTOPEN_CONNECT, close() with no write()",
	"TCP_FASTOPEN_CONNECT, shutdown() with no write()",
};

/* TCP_FASTOPEN_CONNECT with a cookie cached: connect() takes the port and returns 0, the SYN
 * waits for the first write() (tcp_fastopen_defer_connect()); how says what comes next. */
static int lc_tfo_deferred(struct oracle *o, int lfd, int how)
{
	struct lc_port *p;
	int64_t t0, t1;
	struct orec *r;
	int fd, afd, one = 1;
	char ch;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return lc_fail(o, "socket()", errno);
	if (setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof(one)))
		return lc_fail(o, "setsockopt(TCP_FASTOPEN_CONNECT)", errno);
	r = lc_connect(o, fd, LC_LISTEN_PORT, LC_CONNECT, &t0, &t1);
	if (r->ret || !r->port)
		return lc_fail(o, "connect() with TCP_FASTOPEN_CONNECT", r->err);
	if (lc_state(fd) != TCP_SYN_SENT)
		return lc_fail(o, "connect() with TCP_FASTOPEN_CONNECT: not deferred (no cookie?)",
			       0);
	p = lc_port_new(o, r, tfo_what[how], t0, t1);
	if (p)
		p->deferred = 1;
	usleep(LC_GAP_MS * 1000);
	if (how == TFO_CLOSE) {
		lc_close_back(p, fd, false);
		return lc_gone(o, p);
	}
	if (how == TFO_SHUTDOWN) {
		p->back_from = wall_ns();
		if (shutdown(fd, SHUT_RDWR))
			return lc_fail(o, "shutdown() of a deferred connection", errno);
		p->back_to = wall_ns();
		close(fd);
		return lc_gone(o, p);
	}
	if (write(fd, "x", 1) != 1)
		return lc_fail(o, "write() after TCP_FASTOPEN_CONNECT", errno);
	afd = accept(lfd, NULL, NULL);
	if (afd < 0 || read(afd, &ch, 1) != 1)
		return lc_fail(o, "the deferred connection's byte", errno);
	lc_close_back(p, fd, true);
	close(afd);
	return lc_gone(o, p);
}

int lc_tfo(struct oracle *o)
{
	struct lc_shared *sh = lc_of(o);
	unsigned int syn_data = 0;
	struct lc_port *lp;
	FILE *f;
	int i, lfd;

	f = fopen("/proc/sys/net/ipv4/tcp_fastopen", "w");
	if (!f || fprintf(f, "3\n") < 0 || fclose(f))
		return lc_fail(o, "net.ipv4.tcp_fastopen = 3 in the namespace", errno);
	lc_ready(o, 1);
	drv_wait_go(o, 1);
	sh->t0 = wall_ns();
	lfd = lc_listener(o, true, &lp);
	if (lfd < 0)
		return -1;
	for (i = 0; i < 3; i++)
		if (lc_tfo_send(o, lfd, LC_SENDTO, &syn_data))
			return -1;
	if (lc_tfo_send(o, lfd, LC_SENDMSG, &syn_data))
		return -1;
	for (i = 0; i < 6; i++) /* the cookie is cached now: each connect() defers */
		if (lc_tfo_deferred(o, lfd, i / 2))
			return -1;
	lc_close_back(lp, lfd, false);
	if (!syn_data)
		return lc_fail(o, "no MSG_FASTOPEN SYN carried data: Fast Open did not happen", 0);
	snprintf(sh->note, sizeof(sh->note),
		 "kernel: %u of 4 MSG_FASTOPEN SYNs carried data (the first asks for the cookie)",
		 syn_data);
	drv_done(o, 1);
	return 0;
}
