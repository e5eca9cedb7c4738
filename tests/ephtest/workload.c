// SPDX-License-Identifier: GPL-2.0
/*
 * The workloads' bodies: each runs in a child process, in a network namespace of its own (so
 * the port range can be narrowed without touching the host's; workload_child.c), and records
 * every system call that can take a port together with what the kernel answered. That record is
 * the oracle (oracle.c). Here: the recording of connect() and bind(), the bodies of the basic
 * scenarios (TCP connects and binds, UDP autobinds, burst, a second thread; scenarios.c lists
 * them) and the occupancy roles (server, holder, closer, filler).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ephtest.h"

#define LISTEN_PORT 5000 /* TCP listener: outside every range used here */
#define FIXED_PORT 5555	 /* bind-fixed */
#define UDP_DPORT 6000	 /* UDP destination (nobody listens: UDP does not care) */
#define NR_TRIES 20	 /* calls per exhaustion scenario: 16 ports + 4 failures */
#define NR_BURST 3000
#define BACKLOG 128

/* ---- recording ---- */
void wl_loopback(int family, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = in6addr_loopback;
		*len = sizeof(*sin6);
	}
}

static void sockaddr_bytes(const struct sockaddr_storage *ss, uint8_t addr[16], uint16_t *port)
{
	memset(addr, 0, 16);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		memcpy(addr, &sin->sin_addr, 4);
		*port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		memcpy(addr, &sin6->sin6_addr, 16);
		*port = ntohs(sin6->sin6_port);
	} else {
		*port = 0;
	}
}

/* The socket's local port (0 if none), and its address into addr if not NULL. */
static uint16_t local_port(int fd, uint8_t *addr)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	uint8_t tmp[16];
	uint16_t port;

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	sockaddr_bytes(&ss, addr ? addr : tmp, &port);
	return port;
}

static void rec_dest(struct orec *r, const struct sockaddr_storage *ss)
{
	r->has_dest = true;
	sockaddr_bytes(ss, r->daddr, &r->dport);
}

/* IP_BIND_ADDRESS_NO_PORT is set on fd: its connect() events say bind_address_no_port. */
static bool bind_no_port(int fd)
{
	socklen_t len = sizeof(int);
	int on = 0;

	return !getsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, &len) && on;
}

/*
 * connect() (TCP or UDP) or sendto() (UDP) to loopback:dport. A port is assigned when the
 * socket had none; when none can be found TCP says EADDRNOTAVAIL, UDP autobind EAGAIN.
 */
int rec_connect(struct oracle *o, int fd, uint8_t op, int proto, int family, uint16_t dport)
{
	struct sockaddr_storage ss;
	struct orec *r = rec_new(o, op, proto, family);
	uint16_t before = local_port(fd, NULL);
	socklen_t len;
	int ret;

	wl_loopback(family, dport, &ss, &len);
	rec_dest(r, &ss);
	if (op == OP_SENDMSG)
		ret = sendto(fd, "x", 1, 0, (struct sockaddr *)&ss, len);
	else
		ret = connect(fd, (struct sockaddr *)&ss, len);
	r->ret = ret;
	r->err = ret < 0 ? errno : 0;
	r->port = local_port(fd, r->addr);
	r->ephemeral = true;
	r->no_port = proto == IPPROTO_TCP && op == OP_CONNECT && bind_no_port(fd);
	if (ret >= 0 && before == 0 && r->port != 0)
		r->expect = EXPECT_ASSIGN;
	else if (ret < 0 && before == 0 &&
		 r->err == (proto == IPPROTO_TCP ? EADDRNOTAVAIL : EAGAIN))
		r->expect = EXPECT_FAIL;
	return ret < 0 ? -r->err : 0;
}

/* bind() to loopback:port. No event when IP_BIND_ADDRESS_NO_PORT left the port unset. */
int rec_bind(struct oracle *o, int fd, int proto, int family, uint16_t port)
{
	struct sockaddr_storage ss;
	struct orec *r = rec_new(o, OP_BIND, proto, family);
	socklen_t len;
	int ret;

	wl_loopback(family, port, &ss, &len);
	r->has_req = true;
	r->req_port = port;
	ret = bind(fd, (struct sockaddr *)&ss, len);
	r->ret = ret;
	r->err = ret < 0 ? errno : 0;
	r->port = local_port(fd, r->addr);
	r->ephemeral = port == 0;
	if (ret == 0 && r->port != 0)
		r->expect = EXPECT_ASSIGN;
	else if (ret < 0)
		r->expect = EXPECT_FAIL;
	return ret < 0 ? -r->err : 0;
}

void wl_msg(struct oracle *o, const char *what, int err)
{
	snprintf(o->msg, sizeof(o->msg), "%s: %s", what, strerror(err));
}

static int new_socket(struct oracle *o, int family, int proto)
{
	int fd = socket(family, proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM, proto);

	if (fd < 0)
		wl_msg(o, "socket()", errno);
	return fd;
}

/* A TCP listener on loopback:LISTEN_PORT. Its bind() is recorded: it takes a (fixed) port. */
static int listener(struct oracle *o, int family)
{
	int fd, err;

	fd = new_socket(o, family, IPPROTO_TCP);
	if (fd < 0)
		return -1;
	err = rec_bind(o, fd, IPPROTO_TCP, family, LISTEN_PORT);
	if (err) {
		wl_msg(o, "bind() of the listener", -err);
		goto out_close;
	}
	if (listen(fd, BACKLOG)) {
		wl_msg(o, "listen()", errno);
		goto out_close;
	}
	return fd;

out_close:
	close(fd);
	return -1;
}

static int no_linger(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	return setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

/* ---- scenario bodies (run in the child; every socket stays open until it exits) ---- */

static int tcp_connects(struct oracle *o, int family)
{
	int i, fd;

	if (listener(o, family) < 0)
		return -1;
	for (i = 0; i < NR_TRIES; i++) {
		fd = new_socket(o, family, IPPROTO_TCP);
		if (fd < 0)
			return -1;
		rec_connect(o, fd, OP_CONNECT, IPPROTO_TCP, family, LISTEN_PORT);
	}
	return 0;
}

int run_v4_connect(struct oracle *o)
{
	return tcp_connects(o, AF_INET);
}

int run_v6_connect(struct oracle *o)
{
	return tcp_connects(o, AF_INET6);
}

int run_dual_connect(struct oracle *o)
{
	if (tcp_connects(o, AF_INET))
		return -1;
	return tcp_connects(o, AF_INET6);
}

int run_nobind_connect(struct oracle *o)
{
	int i, fd, one = 1;

	if (listener(o, AF_INET) < 0)
		return -1;
	for (i = 0; i < NR_TRIES; i++) {
		fd = new_socket(o, AF_INET, IPPROTO_TCP);
		if (fd < 0)
			return -1;
		if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one))) {
			wl_msg(o, "setsockopt(IP_BIND_ADDRESS_NO_PORT)", errno);
			return -1;
		}
		if (rec_bind(o, fd, IPPROTO_TCP, AF_INET, 0))
			continue;
		rec_connect(o, fd, OP_CONNECT, IPPROTO_TCP, AF_INET, LISTEN_PORT);
	}
	return 0;
}

static int binds(struct oracle *o, int n, uint16_t port)
{
	int i, fd;

	for (i = 0; i < n; i++) {
		fd = new_socket(o, AF_INET, IPPROTO_TCP);
		if (fd < 0)
			return -1;
		rec_bind(o, fd, IPPROTO_TCP, AF_INET, port);
	}
	return 0;
}

int run_bind0(struct oracle *o)
{
	return binds(o, NR_TRIES, 0);
}

int run_bind_fixed(struct oracle *o)
{
	return binds(o, 3, FIXED_PORT);
}

static int udp_autobinds(struct oracle *o, uint8_t op)
{
	int i, fd;

	for (i = 0; i < NR_TRIES; i++) {
		fd = new_socket(o, AF_INET, IPPROTO_UDP);
		if (fd < 0)
			return -1;
		rec_connect(o, fd, op, IPPROTO_UDP, AF_INET, UDP_DPORT);
	}
	return 0;
}

int run_udp_connect(struct oracle *o)
{
	return udp_autobinds(o, OP_CONNECT);
}

int run_udp_sendto(struct oracle *o)
{
	return udp_autobinds(o, OP_SENDMSG);
}

/* connect + accept + close with SO_LINGER {1,0}: a RST, no TIME_WAIT, the port is free again. */
int run_burst(struct oracle *o)
{
	int i, fd, afd, lfd;

	lfd = listener(o, AF_INET);
	if (lfd < 0)
		return -1;
	for (i = 0; i < NR_BURST; i++) {
		fd = new_socket(o, AF_INET, IPPROTO_TCP);
		if (fd < 0)
			return -1;
		if (rec_connect(o, fd, OP_CONNECT, IPPROTO_TCP, AF_INET, LISTEN_PORT)) {
			close(fd);
			continue;
		}
		afd = accept(lfd, NULL, NULL);
		if (afd < 0) {
			wl_msg(o, "accept()", errno);
			return -1;
		}
		if (no_linger(fd) || no_linger(afd)) {
			wl_msg(o, "setsockopt(SO_LINGER)", errno);
			return -1;
		}
		close(afd);
		close(fd);
	}
	return 0;
}

/*
 * thread-connect: a second thread, named apart from the process (as dig's isc-net-0000 or a
 * JVM's pool threads), makes the connects; the main thread has bound the listener. Events name
 * the thread in comm and the process in process_comm. The main thread then renames itself and
 * resets the thread's connections: their releases name the owner as it was at assignment, the
 * thread and the process's first name, from the hold.
 */
#define THREAD_COMM "eph-worker"
#define RENAMED_COMM "eph-renamed"

struct conn_thread {
	struct oracle *o;
	int fds[NR_TRIES];
	int nfds;
	int err;
};

static void *thread_connects(void *arg)
{
	struct conn_thread *t = arg;
	struct oracle *o = t->o;
	int i, fd;

	if (prctl(PR_SET_NAME, THREAD_COMM)) {
		wl_msg(o, "prctl(PR_SET_NAME) of the thread", errno);
		t->err = -1;
		return NULL;
	}
	prctl(PR_GET_NAME, o->thread_comm);
	o->thread_tid = gettid();
	for (i = 0; i < NR_TRIES; i++) {
		fd = new_socket(o, AF_INET, IPPROTO_TCP);
		if (fd < 0) {
			t->err = -1;
			return NULL;
		}
		t->fds[t->nfds++] = fd;
		rec_connect(o, fd, OP_CONNECT, IPPROTO_TCP, AF_INET, LISTEN_PORT);
	}
	return NULL;
}

int run_thread_connect(struct oracle *o)
{
	struct conn_thread t = { .o = o };
	pthread_t th;
	int i, err;

	if (listener(o, AF_INET) < 0)
		return -1;
	err = pthread_create(&th, NULL, thread_connects, &t);
	if (err) {
		wl_msg(o, "pthread_create()", err);
		return -1;
	}
	pthread_join(th, NULL);
	if (t.err)
		return -1;
	if (prctl(PR_SET_NAME, RENAMED_COMM)) {
		wl_msg(o, "prctl(PR_SET_NAME) of the main thread", errno);
		return -1;
	}
	for (i = 0; i < t.nfds; i++) {
		if (no_linger(t.fds[i])) {
			wl_msg(o, "setsockopt(SO_LINGER)", errno);
			return -1;
		}
		close(t.fds[i]);
	}
	return 0;
}

/* ---- occupancy roles (see ephtest.h): one process each, in the server's namespace ---- */

static int occ_listener(struct oracle *o, uint16_t port)
{
	struct sockaddr_storage ss;
	int fd, one = 1;
	socklen_t len;

	fd = new_socket(o, AF_INET, IPPROTO_TCP);
	if (fd < 0)
		return -1;
	wl_loopback(AF_INET, port, &ss, &len);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 4096)) {
		wl_msg(o, "listener on 127.0.0.1", errno);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Listens on both ports; keeps every connection to OCC_HOLD_PORT; closes a connection to
 * OCC_TW_PORT when the client closed first (read returns 0), so that the client's side ends in
 * TIME_WAIT and the server's does not. Runs until killed.
 */
int occ_server(struct oracle *o)
{
	static struct pollfd pfd[OCC_MAX_FDS];
	int n = 2, i, fd, ready;
	char chunk[512];

	pfd[0] = (struct pollfd){ .fd = occ_listener(o, OCC_HOLD_PORT), .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = occ_listener(o, OCC_TW_PORT), .events = POLLIN };
	if (pfd[0].fd < 0 || pfd[1].fd < 0)
		return -1;
	__atomic_store_n(&o->prog.listening, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		ready = poll(pfd, n, -1);
		if (ready < 0 && errno != EINTR) {
			wl_msg(o, "server: poll()", errno);
			return -1;
		}
		if (ready <= 0)
			continue;
		for (i = n - 1; i >= 2; i--) {
			if (!pfd[i].revents)
				continue;
			if (read(pfd[i].fd, chunk, sizeof(chunk)) > 0)
				continue;
			close(pfd[i].fd); /* EOF (or reset): close our side too */
			pfd[i] = pfd[--n];
		}
		if (pfd[0].revents) { /* kept open: nobody polls it */
			fd = accept(pfd[0].fd, NULL, NULL);
			if (fd < 0 && errno != EINTR && errno != EAGAIN) {
				wl_msg(o, "server: accept()", errno);
				return -1;
			}
		}
		if (pfd[1].revents) {
			fd = accept(pfd[1].fd, NULL, NULL);
			if (fd >= 0 && n < OCC_MAX_FDS)
				pfd[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
			else if (fd >= 0)
				close(fd);
		}
	}
}

/* OCC_NR_HOLD connections to OCC_HOLD_PORT, kept until killed. */
int occ_holder(struct oracle *o)
{
	int i, fd, err;

	for (i = 0; i < OCC_NR_HOLD; i++) {
		fd = new_socket(o, AF_INET, IPPROTO_TCP);
		if (fd < 0)
			return -1;
		err = rec_connect(o, fd, OP_CONNECT, IPPROTO_TCP, AF_INET, OCC_HOLD_PORT);
		if (err) {
			snprintf(o->msg, sizeof(o->msg), "holder: connect() #%d: %s", i + 1,
				 strerror(-err));
			return -1;
		}
		__atomic_store_n(&o->prog.connected, i + 1, __ATOMIC_SEQ_CST);
	}
	__atomic_store_n(&o->prog.done, 1, __ATOMIC_SEQ_CST);
	for (;;)
		pause();
}

/* OCC_NR_TW connections to OCC_TW_PORT, each closed at once (we close first), then exit. */
int occ_closer(struct oracle *o)
{
	int i, fd, err;

	for (i = 0; i < OCC_NR_TW; i++) {
		fd = new_socket(o, AF_INET, IPPROTO_TCP);
		if (fd < 0)
			return -1;
		err = rec_connect(o, fd, OP_CONNECT, IPPROTO_TCP, AF_INET, OCC_TW_PORT);
		if (err) {
			snprintf(o->msg, sizeof(o->msg), "closer: connect() #%d: %s", i + 1,
				 strerror(-err));
			return -1;
		}
		close(fd);
		__atomic_store_n(&o->prog.connected, i + 1, __ATOMIC_SEQ_CST);
	}
	return 0;
}

/*
 * The hist-fill filler: phase p (1..HF_PHASES) starts once the driver raised prog.go to p and
 * ends by setting prog.phase to p. Phases 1-4 make HF_QUARTER connections each, kept; phase
 * HF_PHASES makes HF_FAILS that must fail with EADDRNOTAVAIL (the range is full). Then it keeps
 * its connections until killed.
 */
int hf_filler(struct oracle *o)
{
	int phase, i, n, fd, err;
	uint32_t made = 0;

	for (phase = 1; phase <= HF_PHASES; phase++) {
		n = phase < HF_PHASES ? HF_QUARTER : HF_FAILS;
		while (__atomic_load_n(&o->prog.go, __ATOMIC_SEQ_CST) < phase)
			usleep(1000);
		for (i = 0; i < n; i++) {
			fd = new_socket(o, AF_INET, IPPROTO_TCP);
			if (fd < 0)
				return -1;
			err = rec_connect(o, fd, OP_CONNECT, IPPROTO_TCP, AF_INET, OCC_HOLD_PORT);
			if (phase == HF_PHASES) {
				close(fd);
				if (err == -EADDRNOTAVAIL)
					continue;
				snprintf(o->msg, sizeof(o->msg),
					 "filler: connect() #%d of a full range: expected "
					 "EADDRNOTAVAIL got %s",
					 i + 1, err ? strerror(-err) : "success");
				return -1;
			}
			if (err) {
				snprintf(o->msg, sizeof(o->msg), "filler: connect() #%u: %s",
					 made + 1, strerror(-err));
				return -1;
			}
			__atomic_store_n(&o->prog.connected, ++made, __ATOMIC_SEQ_CST);
		}
		__atomic_store_n(&o->prog.phase, phase, __ATOMIC_SEQ_CST);
	}
	__atomic_store_n(&o->prog.done, 1, __ATOMIC_SEQ_CST);
	for (;;)
		pause();
}
