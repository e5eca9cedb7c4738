// SPDX-License-Identifier: GPL-2.0
/*
 * The lifecycle scenarios over UDP (lifecycle.h; lifecycle.c drives them):
 *
 *   udp-fork       the workload takes 20 UDP ports with bind(127.0.0.1:0), forks a child that
 *                  keeps the descriptors, and exits: no release then. The child closes 10, then
 *                  exits with the other 10 open: their releases then.
 *   udp-dup        UDP sockets (bind(0)) whose descriptor has a second copy: dup(), dup2(), and
 *                  one sent with SCM_RIGHTS to another process; the original descriptors are
 *                  closed first (no release), the copies LC_GAP_MS later (the releases). Then 5
 *                  consecutive descriptors closed by one close_range(): 5 releases then. Then
 *                  dup2() and dup3() of another socket onto two more: their releases then.
 *   udp-disconnect UDP sockets bound, connect()ed, then disconnected with connect(AF_UNSPEC)
 *                  and closed LC_GAP_MS later: __udp_disconnect() gives a bind(0) port back at
 *                  the disconnect (IPv4 and IPv6), a bind(PORT) one (SOCK_BINDPORT_LOCK) only at
 *                  the close. What the kernel did is read back with getsockname().
 *
 * Every scenario's UDP takes its port with bind(0), which every backend sees (the cgroup
 * backend sees a UDP connect()'s autobind with --exact-errors only).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lifecycle.h"

#ifndef __NR_close_range
#define __NR_close_range 436
#endif

#define LC_NR_FORK 20
#define LC_NR_RANGE 5	   /* sockets closed by one close_range() */
#define LC_DUP2_FD 200	   /* dup2()'s target descriptor */
#define LC_HELPER_MS 60000 /* a helper process gives up waiting after this */

/* ---- udp-fork ---- */

/* Wait until go reaches k, LC_HELPER_MS at most (a helper outlives the driver's care). */
static int lc_helper_go(struct oracle *o, int k)
{
	int64_t deadline = now_ms() + LC_HELPER_MS;

	while (__atomic_load_n(&o->sync.go, __ATOMIC_SEQ_CST) < k) {
		if (now_ms() > deadline)
			return -ETIMEDOUT;
		usleep(1000);
	}
	return 0;
}

/* The child: once its parent is gone, step 1 is done; at step 2 it closes the first half of
 * the ports and exits with the rest open. */
static int lc_fork_child(struct oracle *o, pid_t parent, const int *fds, struct lc_port *const *ps)
{
	int64_t deadline = now_ms() + LC_HELPER_MS;
	int i;

	while (getppid() == parent) {
		if (now_ms() > deadline)
			return lc_helper_fail(o, "udp-fork child: the parent did not exit", 0);
		usleep(1000);
	}
	usleep(LC_GAP_MS * 1000);
	drv_done(o, 1);
	if (lc_helper_go(o, 2))
		return lc_helper_fail(o, "udp-fork child: no step 2", ETIMEDOUT);
	for (i = 0; i < LC_NR_FORK / 2; i++)
		lc_close_back(ps[i], fds[i], false);
	usleep(LC_GAP_MS * 1000);
	for (i = LC_NR_FORK / 2; i < LC_NR_FORK; i++) {
		ps[i]->back_from = wall_ns();
		ps[i]->back_at_exit = 1;
	}
	drv_done(o, 2);
	return 0;
}

int lc_udp_fork(struct oracle *o)
{
	struct lc_shared *sh = lc_of(o);
	struct lc_port *ps[LC_NR_FORK];
	int fds[LC_NR_FORK], i;
	pid_t parent = getpid(), child;

	sh->w_exits = 1;
	lc_ready(o, 2);
	drv_wait_go(o, 1);
	sh->t0 = wall_ns();
	for (i = 0; i < LC_NR_FORK; i++) {
		fds[i] =
			lc_udp_bound(o, AF_INET, 0,
				     i < LC_NR_FORK / 2 ? "UDP bind(0), the child closes it" :
							  "UDP bind(0), the child's exit closes it",
				     &ps[i]);
		if (fds[i] < 0)
			return -1;
	}
	child = fork();
	if (child < 0)
		return lc_fail(o, "fork()", errno);
	if (child == 0)
		_exit(lc_fork_child(o, parent, fds, ps) ? 1 : 0);
	__atomic_store_n(&sh->pid[0], child, __ATOMIC_SEQ_CST);
	snprintf(sh->note, sizeof(sh->note),
		 "the workload exited holding the ports, its child closed %d and exited with %d",
		 LC_NR_FORK / 2, LC_NR_FORK / 2);
	return 0; /* exits: the child's copies keep every port */
}

/* ---- udp-dup ---- */

/* The receiver of a descriptor sent with SCM_RIGHTS: says 'r' once it has it, closes it when
 * told 'c', says 'c'. */
static int lc_scm_helper(struct oracle *o, int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))], ch;
	struct iovec iov = { .iov_base = &ch, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	struct cmsghdr *cm;
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (poll(&pfd, 1, LC_HELPER_MS) != 1 || recvmsg(sock, &m, 0) != 1)
		return lc_helper_fail(o, "SCM_RIGHTS receiver: no descriptor", errno);
	cm = CMSG_FIRSTHDR(&m);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return lc_helper_fail(o, "SCM_RIGHTS receiver: no descriptor in the message", 0);
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	if (write(sock, "r", 1) != 1 || poll(&pfd, 1, LC_HELPER_MS) != 1 || read(sock, &ch, 1) != 1)
		return lc_helper_fail(o, "SCM_RIGHTS receiver: not told to close", errno);
	close(fd);
	return write(sock, "c", 1) == 1 ? 0 : lc_helper_fail(o, "SCM_RIGHTS receiver", errno);
}

static int lc_send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = "";
	struct iovec iov = { .iov_base = "f", .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
	return sendmsg(sock, &m, 0) == 1 ? 0 : -errno;
}

/* One byte from the helper, LC_STATE_MS at most: want. */
static int lc_helper_says(int sock, char want)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	char ch;

	if (poll(&pfd, 1, LC_STATE_MS) != 1 || read(sock, &ch, 1) != 1 || ch != want)
		return -EIO;
	return 0;
}

/* The sockets close_range() closes: LC_NR_RANGE consecutive descriptors. */
static int lc_range_sockets(struct oracle *o, int *first, struct lc_port **ps)
{
	int i, fd;

	for (i = 0; i < LC_NR_RANGE; i++) {
		fd = lc_udp_bound(o, AF_INET, 0, "UDP bind(0), close_range()", &ps[i]);
		if (fd < 0)
			return -1;
		if (i == 0)
			*first = fd;
		else if (fd != *first + i)
			return lc_fail(o, "close_range()'s sockets: descriptors not consecutive",
				       0);
	}
	return 0;
}

/* dup2() and dup3() of a socket without a port onto two UDP sockets' descriptors: their files
 * are closed by the call (do_dup2()), their ports back then. */
static int lc_dup_onto(struct oracle *o)
{
	struct lc_port *p2, *p3;
	int other, a2, a3, r2, r3;

	other = socket(AF_INET, SOCK_DGRAM, 0);
	if (other < 0)
		return lc_fail(o, "socket()", errno);
	a2 = lc_udp_bound(o, AF_INET, 0, "UDP bind(0), dup2() of another onto it", &p2);
	a3 = lc_udp_bound(o, AF_INET, 0, "UDP bind(0), dup3() of another onto it", &p3);
	if (a2 < 0 || a3 < 0)
		return -1;
	usleep(LC_GAP_MS * 1000);
	p2->back_from = wall_ns();
	r2 = dup2(other, a2);
	p2->back_to = wall_ns();
	p3->back_from = wall_ns();
	r3 = dup3(other, a3, O_CLOEXEC);
	p3->back_to = wall_ns();
	if (r2 != a2 || r3 != a3)
		return lc_fail(o, "dup2()/dup3() onto a descriptor", errno);
	close(a2);
	close(a3);
	close(other);
	return 0;
}

int lc_udp_dup(struct oracle *o)
{
	struct lc_shared *sh = lc_of(o);
	struct lc_port *pr[LC_NR_RANGE], *p1, *p2, *p3;
	int sv[2], first = -1, a1, a2, a3, d1, d2, i, status;
	int64_t from, to;
	pid_t h;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return lc_fail(o, "socketpair()", errno);
	h = fork();
	if (h < 0)
		return lc_fail(o, "fork()", errno);
	if (h == 0) {
		close(sv[0]);
		_exit(lc_scm_helper(o, sv[1]) ? 1 : 0);
	}
	close(sv[1]);
	sh->pid[0] = h;
	lc_ready(o, 1);
	drv_wait_go(o, 1);
	sh->t0 = wall_ns();
	/* first, while the descriptors after the socketpair's are free: consecutive ones */
	if (lc_range_sockets(o, &first, pr))
		return -1;
	a1 = lc_udp_bound(o, AF_INET, 0, "UDP bind(0), dup(): the copy closed last", &p1);
	a2 = lc_udp_bound(o, AF_INET, 0, "UDP bind(0), dup2(): the copy closed last", &p2);
	a3 = lc_udp_bound(o, AF_INET, 0, "UDP bind(0), SCM_RIGHTS: the receiver closes", &p3);
	if (a1 < 0 || a2 < 0 || a3 < 0)
		return -1;
	d1 = dup(a1);
	d2 = dup2(a2, LC_DUP2_FD);
	if (d1 < 0 || d2 < 0)
		return lc_fail(o, "dup()/dup2()", errno);
	if (lc_send_fd(sv[0], a3) || lc_helper_says(sv[0], 'r'))
		return lc_fail(o, "sending a descriptor with SCM_RIGHTS", EIO);
	usleep(LC_GAP_MS * 1000);
	close(a1); /* each has a copy still: no release */
	close(a2);
	close(a3);
	usleep(LC_GAP_MS * 1000);
	lc_close_back(p1, d1, false);
	lc_close_back(p2, d2, false);
	p3->back_from = wall_ns();
	if (write(sv[0], "c", 1) != 1 || lc_helper_says(sv[0], 'c'))
		return lc_fail(o, "the SCM_RIGHTS receiver did not close its copy", EIO);
	p3->back_to = wall_ns();
	usleep(LC_GAP_MS * 1000);
	from = wall_ns();
	if (syscall(__NR_close_range, first, first + LC_NR_RANGE - 1, 0))
		return lc_fail(o, "close_range()", errno);
	to = wall_ns();
	for (i = 0; i < LC_NR_RANGE; i++) {
		pr[i]->back_from = from;
		pr[i]->back_to = to;
	}
	if (waitpid(h, &status, 0) != h || !WIFEXITED(status) || WEXITSTATUS(status))
		return lc_fail(o, "the SCM_RIGHTS receiver failed", 0);
	usleep(LC_GAP_MS * 1000);
	if (lc_dup_onto(o))
		return -1;
	snprintf(sh->note, sizeof(sh->note),
		 "originals closed %d ms before the last copies; close_range() of %d; dup2() and "
		 "dup3() onto 2",
		 LC_GAP_MS, LC_NR_RANGE);
	drv_done(o, 1);
	return 0;
}

/* ---- udp-disconnect ---- */

#define LC_DISC_PORT 40050 /* bind(PORT) inside the range, reserved from bind(0): kept */

/* connect(AF_UNSPEC): inet_dgram_connect() -> udp_disconnect() */
static int lc_disconnect(int fd)
{
	struct sockaddr sa = { .sa_family = AF_UNSPEC };

	return connect(fd, &sa, sizeof(sa));
}

/* fd's connect() to loopback, recorded: its autobind's port in the list. 0 or -1 (o->msg). */
static int lc_udp_autobind(struct oracle *o, int fd, int family, const char *what,
			   struct lc_port **pp)
{
	int64_t t0, t1;
	int err;

	t0 = wall_ns();
	err = rec_connect(o, fd, OP_CONNECT, IPPROTO_UDP, family, LC_LISTEN_PORT);
	t1 = wall_ns();
	if (err)
		return lc_fail(o, "UDP connect() to loopback", -err);
	*pp = lc_port_new(o, &o->rec[o->n - 1], what, t0, t1);
	return 0;
}

/* A UDP socket that takes its port by bind(port) (-1: by connect()'s autobind), then connect()s
 * (a bound socket's connect() takes no port: not a record). */
static int lc_disc_socket(struct oracle *o, int family, int port, const char *what,
			  struct lc_port **pp)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	if (port >= 0) {
		fd = lc_udp_bound(o, family, (uint16_t)port, what, pp);
		if (fd < 0)
			return -1;
		wl_loopback(family, LC_LISTEN_PORT, &ss, &len);
		if (connect(fd, (struct sockaddr *)&ss, len))
			return lc_fail(o, "UDP connect() to loopback", errno);
		return fd;
	}
	fd = socket(family, SOCK_DGRAM, 0);
	if (fd < 0)
		return lc_fail(o, "socket(SOCK_DGRAM)", errno);
	return lc_udp_autobind(o, fd, family, what, pp) ? -1 : fd;
}

int lc_udp_disconnect(struct oracle *o)
{
	static const struct {
		int family;
		int port; /* -1: connect()'s autobind */
		const char *what;
	} socks[] = {
		{ AF_INET, 0, "UDP bind(0), connect(AF_UNSPEC)" },
		{ AF_INET6, 0, "UDP [::1] bind(0), connect(AF_UNSPEC)" },
		{ AF_INET, LC_DISC_PORT, "UDP bind(PORT), connect(AF_UNSPEC): kept" },
		{ AF_INET, -1, "UDP connect(), connect(AF_UNSPEC)" },
	};
	enum { N = sizeof(socks) / sizeof(socks[0]), AGAIN = N - 1 };
	struct lc_shared *sh = lc_of(o);
	struct lc_port *ps[N + 1];
	int fds[N], i, back = 0;
	int64_t from, to;

	lc_ready(o, 1);
	drv_wait_go(o, 1);
	sh->t0 = wall_ns();
	for (i = 0; i < N; i++) {
		fds[i] = lc_disc_socket(o, socks[i].family, socks[i].port, socks[i].what, &ps[i]);
		if (fds[i] < 0)
			return -1;
	}
	usleep(LC_GAP_MS * 1000);
	for (i = 0; i < N; i++) {
		from = wall_ns();
		if (lc_disconnect(fds[i]))
			return lc_fail(o, "connect(AF_UNSPEC)", errno);
		to = wall_ns();
		/* what the kernel did: the port is gone (unhashed) or still the socket's */
		if (!drv_local_port(fds[i])) {
			ps[i]->disconnected = 1;
			ps[i]->back_from = from;
			ps[i]->back_to = to;
			back++;
		}
	}
	/* the autobound one connect()s again: a new autobind */
	if (lc_udp_autobind(o, fds[AGAIN], AF_INET, "UDP connect() after connect(AF_UNSPEC)",
			    &ps[N]))
		return -1;
	usleep(LC_GAP_MS * 1000);
	for (i = 0; i < N; i++) {
		from = wall_ns();
		close(fds[i]);
		to = wall_ns();
		if (ps[i]->disconnected) {
			ps[i]->close_from = from;
			ps[i]->close_to = to;
		} else {
			ps[i]->back_from = from;
			ps[i]->back_to = to;
		}
		if (i == AGAIN) {
			ps[N]->back_from = from;
			ps[N]->back_to = to;
		}
	}
	snprintf(sh->note, sizeof(sh->note),
		 "connect(AF_UNSPEC) gave back %d of %d ports, the close %d", back, N, N - back);
	drv_done(o, 1);
	return 0;
}
