// SPDX-License-Identifier: GPL-2.0
/*
 * The workloads of the findings scenarios (findings.c): real sockets in the scenario's network
 * namespace, each state built in step 1 as struct fd_shared says (its mode), every socket
 * closed with RST in step 2. Everything goes to 127.0.0.1; the listener, when there is one,
 * lives in the same process (its port is a fixed one, outside the range: not ephemeral). The
 * states that keep thousands of connections leave the server's ends in the accept queue: a
 * descriptor each would pass the hard RLIMIT_NOFILE of some hosts (20000 here, and no
 * CAP_SYS_RESOURCE to raise it).
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "findings_scn.h"

#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51
#endif
#define ACCEPT_MS 2000
#define ST_ESTABLISHED 1
#define ST_TIME_WAIT 6

/* The sockets to close with RST in step 2. */
static int *fds, nfds, capfds;
static int lfd = -1;

static int fail(struct oracle *o, const char *what, int port)
{
	snprintf(o->msg, sizeof(o->msg), "%s (port %d): %s", what, port, strerror(errno));
	return -1;
}

static int keep(struct oracle *o, int fd)
{
	int *p;

	if (nfds == capfds) {
		capfds = capfds ? 2 * capfds : 1024;
		p = realloc(fds, capfds * sizeof(*fds));
		if (!p) {
			close(fd);
			errno = ENOMEM;
			return fail(o, "keeping a socket", 0);
		}
		fds = p;
	}
	fds[nfds++] = fd;
	return 0;
}

/* Room for n more descriptors than the scenario's default (RLIMIT_NOFILE; root may raise it). */
static int room_for(struct oracle *o, uint32_t n)
{
	struct rlimit rl;
	rlim_t want = n + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return fail(o, "getrlimit(RLIMIT_NOFILE)", 0);
	if (rl.rlim_cur >= want)
		return 0;
	rl.rlim_cur = want;
	if (rl.rlim_max < want)
		rl.rlim_max = want;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		return fail(o, "setrlimit(RLIMIT_NOFILE)", (int)want);
	return 0;
}

static void saw_port(struct fd_shared *sh, uint16_t port)
{
	if (!sh->port_lo || port < sh->port_lo)
		sh->port_lo = port;
	if (port > sh->port_hi)
		sh->port_hi = port;
}

/* A listener on 127.0.0.1:port whose accept queue holds backlog connections (somaxconn of the
 * namespace raised to it): the states that keep their connections never accept() them, so that
 * the server's ends cost no descriptor. */
static int listener(struct oracle *o, uint16_t port, uint32_t backlog)
{
	int one = 1;
	FILE *f;

	if (backlog > 4096) {
		f = fopen("/proc/sys/net/core/somaxconn", "w");
		if (!f || fprintf(f, "%u\n", backlog) < 0 || fclose(f))
			return fail(o, "raising net.core.somaxconn", (int)backlog);
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    drv_loopback(lfd, port, true) || listen(lfd, backlog > 4096 ? (int)backlog : 4096))
		return fail(o, "listener on 127.0.0.1", port);
	return 0;
}

/* The next connection the listener has (waits up to ACCEPT_MS); its fd or -1. */
static int accept_one(struct oracle *o)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int fd;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0 || errno != EAGAIN)
			break;
		if (poll(&p, 1, ACCEPT_MS) <= 0) {
			errno = ETIMEDOUT;
			break;
		}
	}
	if (fd < 0)
		fail(o, "accept", fd_of(o)->dport);
	return fd;
}

/* A TCP socket with the options of mode; -1 with errno (no_option set for ENOPROTOOPT). */
static int tcp_socket(struct fd_shared *sh, int mode)
{
	uint32_t range = (uint32_t)sh->sr_hi << 16 | sh->sr_lo;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, e;

	if (fd < 0)
		return -1;
	if (mode == FD_CONNS && sh->sr_hi &&
	    setsockopt(fd, IPPROTO_IP, IP_LOCAL_PORT_RANGE, &range, sizeof(range)))
		goto out_close;
	if (mode == FD_NO_PORT &&
	    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)))
		goto out_close;
	if ((mode == FD_BIND0 || mode == FD_NO_PORT || mode == FD_BIND0_RST) &&
	    drv_loopback(fd, 0, true))
		goto out_close;
	return fd;

out_close:
	e = errno;
	if (e == ENOPROTOOPT)
		sh->no_option = e;
	close(fd);
	errno = e;
	return -1;
}

/* One connection to dport as mode says; the client's fd (kept if keep_it), or -1. The
 * server's end is accepted into *afd when afd is not NULL, else left in the accept queue. */
static int tcp_one(struct oracle *o, int mode, bool keep_it, int *afd)
{
	struct fd_shared *sh = fd_of(o);
	int fd = tcp_socket(sh, mode), a;

	if (fd < 0)
		return sh->no_option ? -1 : fail(o, "socket with the options", 0);
	if (drv_loopback(fd, sh->dport, false)) {
		close(fd);
		return fail(o, "connect to 127.0.0.1", sh->dport);
	}
	saw_port(sh, drv_local_port(fd));
	if (keep_it && keep(o, fd))
		return -1;
	if (!afd)
		return fd;
	a = accept_one(o);
	if (a < 0)
		return -1;
	*afd = a;
	return fd;
}

/* Client and server each send one byte and read the other's. */
static int ping(struct oracle *o, int cfd, int sfd)
{
	char c = 'x';

	if (write(cfd, &c, 1) != 1 || read(sfd, &c, 1) != 1 || write(sfd, &c, 1) != 1 ||
	    read(cfd, &c, 1) != 1)
		return fail(o, "a request and its response", drv_local_port(cfd));
	return 0;
}

/* Closed by us first, the peer's FIN read: our end sits in TIME_WAIT when this returns. */
static int close_first(struct oracle *o, int cfd, int sfd)
{
	uint16_t port = drv_local_port(cfd);
	char c;

	if (shutdown(cfd, SHUT_WR) || read(sfd, &c, 1) != 0 || close(sfd) || read(cfd, &c, 1) != 0)
		return fail(o, "closing first", port);
	close(cfd);
	return 0;
}

/* Sockets of /proc/self/net/FILE (tcp or udp) to 127.0.0.1:dport (remote) in state st. */
static uint32_t proc_net_count(const char *file, uint16_t dport, unsigned int st)
{
	unsigned int rp, state;
	char path[64], line[512];
	uint32_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/net/%s", file);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " %*u: %*x:%*x %*x:%x %x", &rp, &state) == 2 && rp == dport &&
		    state == st)
			n++;
	fclose(f);
	return n;
}

static int build_tcp(struct oracle *o, int mode)
{
	struct fd_shared *sh = fd_of(o);
	uint32_t i;
	int fd;

	if (mode != FD_NO_PORT && mode != FD_BIND0_RST && listener(o, sh->dport, sh->count + 16))
		return -1;
	for (i = 0; i < sh->count; i++) {
		fd = tcp_one(o, mode, mode != FD_BIND0_RST, NULL);
		if (fd < 0)
			return sh->no_option ? 0 : -1;
		if (mode == FD_BIND0_RST)
			drv_rst_close(fd);
		sh->made++;
	}
	return 0;
}

static int build_tw_churn(struct oracle *o)
{
	struct fd_shared *sh = fd_of(o);
	int cfd, sfd;
	uint32_t i;

	if (listener(o, sh->dport, 16))
		return -1;
	for (i = 0; i < sh->count; i++) {
		cfd = tcp_one(o, FD_TW_CHURN, false, &sfd);
		if (cfd < 0 || ping(o, cfd, sfd))
			return -1;
		usleep(5000);
		if (close_first(o, cfd, sfd))
			return -1;
		sh->made++;
	}
	return 0;
}

static int build_udp(struct oracle *o)
{
	struct fd_shared *sh = fd_of(o);
	uint32_t i;
	int fd;

	for (i = 0; i < sh->count; i++) {
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return fail(o, "socket(AF_INET, SOCK_DGRAM)", 0);
		if (drv_loopback(fd, sh->dport, false)) {
			close(fd);
			return fail(o, "UDP connect to 127.0.0.1", sh->dport);
		}
		saw_port(sh, drv_local_port(fd));
		if (keep(o, fd))
			return -1;
		sh->made++;
	}
	return 0;
}

static int fixed_bind(struct oracle *o)
{
	struct fd_shared *sh = fd_of(o);
	uint32_t i;
	int fd;

	for (i = 0; i < sh->count; i++) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return fail(o, "socket(AF_INET, SOCK_STREAM)", 0);
		if (drv_loopback(fd, sh->dport, true)) {
			if (!sh->failed++)
				sh->first_err = errno;
			sh->bad += errno != EADDRINUSE;
		} else {
			sh->bad++;
		}
		close(fd);
		usleep(100000);
	}
	return 0;
}

/*
 * A plain client: FD_PLAIN_KEEP connections made once and used all along (a request and its
 * response each tick, in turn), and rate short connections a second for seconds, each with one
 * request, held hold_ms, then closed the usual way (close(); the server closes on EOF).
 */
static int build_plain(struct oracle *o)
{
	struct fd_shared *sh = fd_of(o);
	long period_ns = 1000000000L / sh->rate;
	uint32_t ring = sh->hold_ms * sh->rate / 1000 + 1, ticks = sh->rate * sh->seconds, i;
	int kc[FD_PLAIN_KEEP], ks[FD_PLAIN_KEEP], *rc, *rs, k, err = -1;
	struct timespec next;

	rc = calloc(ring, sizeof(*rc));
	rs = calloc(ring, sizeof(*rs));
	if (!rc || !rs || listener(o, sh->dport, 64))
		goto out_free;
	for (k = 0; k < FD_PLAIN_KEEP; k++) {
		kc[k] = tcp_one(o, FD_PLAIN, true, &ks[k]);
		if (kc[k] < 0 || keep(o, ks[k]))
			goto out_free;
	}
	for (i = 0; i < ring; i++)
		rc[i] = rs[i] = -1;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (i = 0; i < ticks; i++) {
		uint32_t r = i % ring;
		struct timespec now;

		drv_tick(&next, period_ns);
		clock_gettime(CLOCK_MONOTONIC, &now);
		sh->late += now.tv_sec > next.tv_sec ||
			    (now.tv_sec == next.tv_sec && now.tv_nsec > next.tv_nsec);
		if (ping(o, kc[i % FD_PLAIN_KEEP], ks[i % FD_PLAIN_KEEP]))
			goto out_free;
		sh->pings++;
		if (rc[r] >= 0) {
			close(rc[r]);
			close(rs[r]);
		}
		rc[r] = tcp_one(o, FD_PLAIN, false, &rs[r]);
		if (rc[r] < 0 || ping(o, rc[r], rs[r]))
			goto out_free;
		sh->made++;
	}
	for (i = 0; i < ring; i++) /* the last ones stay held: RST in step 2 */
		if (rc[i] >= 0 && (keep(o, rc[i]) || keep(o, rs[i])))
			goto out_free;
	err = 0;
out_free:
	free(rc);
	free(rs);
	return err;
}

static int build(struct oracle *o)
{
	struct fd_shared *sh = fd_of(o);

	if ((sh->mode == FD_CONNS || sh->mode == FD_UDP) && room_for(o, sh->count))
		return -1;
	switch (sh->mode) {
	case FD_BIND0:
	case FD_NO_PORT:
	case FD_BIND0_RST:
	case FD_CONNS:
		return build_tcp(o, sh->mode);
	case FD_TW_CHURN:
		return build_tw_churn(o);
	case FD_UDP:
		return build_udp(o);
	case FD_LISTEN:
		return listener(o, sh->dport, 16);
	case FD_FIXED_BIND:
		return fixed_bind(o);
	case FD_PLAIN:
		return build_plain(o);
	}
	snprintf(o->msg, sizeof(o->msg), "no such mode %d", sh->mode);
	return -1;
}

int fd_workload(struct oracle *o)
{
	struct fd_shared *sh = fd_of(o);
	int i;

	drv_wait_go(o, 1);
	sh->start_wall_ns = wall_ns();
	if (build(o))
		return 1;
	sh->built_wall_ns = wall_ns();
	if (sh->mode == FD_UDP) {
		sh->est = proc_net_count("udp", sh->dport, ST_ESTABLISHED);
	} else {
		sh->est = proc_net_count("tcp", sh->dport, ST_ESTABLISHED);
		sh->tw = proc_net_count("tcp", sh->dport, ST_TIME_WAIT);
	}
	drv_done(o, 1);
	drv_wait_go(o, 2);
	for (i = 0; i < nfds; i++)
		drv_rst_close(fds[i]);
	if (lfd >= 0)
		close(lfd);
	nfds = 0;
	drv_done(o, 2);
	for (;;)
		pause();
}
