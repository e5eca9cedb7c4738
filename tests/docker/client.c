// SPDX-License-Identifier: GPL-2.0
/*
 * The workload of the container tests (tests/host/docker.sh, tests/host/pods.sh): built static
 * for an image FROM scratch, where it runs as PID 1 in a container's own network namespace.
 *
 * It listens on 127.0.0.1:PORT, then connect()s to it, blocking, one socket after the other
 * (accepting each connection, so the queue never fills), until the range is used up
 * (EADDRNOTAVAIL) or MAX connections are made; after the first EADDRNOTAVAIL it tries EXTRA
 * more times, each on a new socket. Then it holds every socket until SIGTERM or SIGINT (or EOF
 * on stdin with -s), closes them all with a reset (SO_LINGER {1, 0}: no TIME_WAIT) and exits 0.
 * As PID 1 the kernel ignores any signal it has no handler for: SIGTERM is handled here.
 *
 * Output, one record a line, flushed as it goes (docker logs reads it):
 *   listen PORT
 *   port P              a connect() that succeeded, P from getsockname()
 *   fail ERRNO NAME     a connect() that failed (NAME: EADDRNOTAVAIL, ...)
 *   done taken N failed N
 *   closed N            sockets reset on the way out
 * Exit 0, or 1 when it could not set up (the reason on stderr).
 *
 * Usage: client [-p PORT] [-n MAX] [-x EXTRA] [-s] [-l]
 *   -l brings the loopback interface up first (a namespace made by `unshare -n`).
 */
#define _GNU_SOURCE /* accept4, ppoll */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_SOCKS 4096

struct opts {
	int port;
	int max;   /* connections to make at most; 0: until EADDRNOTAVAIL */
	int extra; /* attempts after the first EADDRNOTAVAIL */
	bool stdin_eof;
	bool lo_up;
};

static volatile sig_atomic_t stop;
static int socks[2 * MAX_SOCKS]; /* the clients and the accepted ends */
static int nsocks;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static const char *errno_name(int err)
{
	switch (err) {
	case EADDRNOTAVAIL:
		return "EADDRNOTAVAIL";
	case EADDRINUSE:
		return "EADDRINUSE";
	case EAGAIN:
		return "EAGAIN";
	case ECONNREFUSED:
		return "ECONNREFUSED";
	case EMFILE:
		return "EMFILE";
	case ETIMEDOUT:
		return "ETIMEDOUT";
	default:
		return "other";
	}
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	int c;

	*o = (struct opts){ .port = 5000, .extra = 2 };
	while ((c = getopt(argc, argv, "p:n:x:sl")) != -1) {
		switch (c) {
		case 'p':
			if (parse_int(optarg, 1, 65535, &o->port))
				return -EINVAL;
			break;
		case 'n':
			if (parse_int(optarg, 0, MAX_SOCKS, &o->max))
				return -EINVAL;
			break;
		case 'x':
			if (parse_int(optarg, 0, 1000, &o->extra))
				return -EINVAL;
			break;
		case 's':
			o->stdin_eof = true;
			break;
		case 'l':
			o->lo_up = true;
			break;
		default:
			return -EINVAL;
		}
	}
	return optind == argc ? 0 : -EINVAL;
}

static int set_lo_up(void)
{
	struct ifreq ifr = { 0 };
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr))
		err = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (!err && ioctl(fd, SIOCSIFFLAGS, &ifr))
		err = -errno;
	close(fd);
	return err;
}

static int listen_on(const struct sockaddr_in *addr)
{
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) || listen(fd, 4096)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* One connection to addr, and its accepted end. Returns the local port or -errno. */
static int connect_one(int lfd, const struct sockaddr_in *addr)
{
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	int fd, afd, err;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)))
		goto out_close;
	if (getsockname(fd, (struct sockaddr *)&me, &len))
		goto out_close;
	afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (afd < 0)
		goto out_close;
	socks[nsocks++] = fd;
	socks[nsocks++] = afd;
	return ntohs(me.sin_port);
out_close:
	err = -errno;
	close(fd);
	return err;
}

/* Connects until the range is used up; prints every port and failure. */
static void exhaust(int lfd, const struct sockaddr_in *addr, const struct opts *o)
{
	int taken = 0, failed = 0, extra = -1;

	while (!stop && nsocks < 2 * MAX_SOCKS && (!o->max || taken < o->max) && extra != 0) {
		int r = connect_one(lfd, addr);

		if (r == -EINTR && stop)
			break;
		if (r >= 0) {
			taken++;
			printf("port %d\n", r);
		} else {
			failed++;
			printf("fail %d %s\n", -r, errno_name(-r));
			if (r != -EADDRNOTAVAIL)
				break;
			extra = extra < 0 ? o->extra : extra - 1;
		}
		fflush(stdout);
	}
	printf("done taken %d failed %d\n", taken, failed);
	fflush(stdout);
}

/* Until SIGTERM or SIGINT (blocked outside ppoll: none is lost), or EOF on stdin with -s. */
static void hold(const struct opts *o, const sigset_t *unblocked)
{
	struct pollfd pfd = { .fd = o->stdin_eof ? 0 : -1, .events = POLLIN };
	char buf[256];

	while (!stop) {
		if (ppoll(&pfd, 1, NULL, unblocked) < 0)
			continue; /* EINTR: the handler set stop */
		if (pfd.revents && read(0, buf, sizeof(buf)) <= 0)
			break;
	}
}

static void reset_all(void)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int i;

	for (i = 0; i < nsocks; i++) {
		setsockopt(socks[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(socks[i]);
	}
	printf("closed %d\n", nsocks);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, old;
	struct opts o;
	int lfd, err;

	if (parse_opts(argc, argv, &o)) {
		fprintf(stderr, "usage: client [-p PORT] [-n MAX] [-x EXTRA] [-s] [-l]\n");
		return 1;
	}
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (o.lo_up && (err = set_lo_up())) {
		fprintf(stderr, "client: cannot bring lo up: %s\n", strerror(-err));
		return 1;
	}
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = htons(o.port);
	lfd = listen_on(&addr);
	if (lfd < 0) {
		fprintf(stderr, "client: cannot listen on 127.0.0.1:%d: %s\n", o.port,
			strerror(-lfd));
		return 1;
	}
	printf("listen %d\n", o.port);
	fflush(stdout);

	/* the signals stay deliverable during the connects (a stop ends the loop) */
	sigprocmask(SIG_SETMASK, &old, NULL);
	exhaust(lfd, &addr, &o);
	sigprocmask(SIG_BLOCK, &block, NULL);
	hold(&o, &old);
	reset_all();
	close(lfd);
	return 0;
}
