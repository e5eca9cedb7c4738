// SPDX-License-Identifier: GPL-2.0
/*
 * The workloads: each runs in a child process, in a network namespace of its own (so the port
 * range can be narrowed without touching the host's), and records every system call that can
 * take a port together with what the kernel answered. That record is the oracle.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ephtest.h"

#define LISTEN_PORT 5000 /* TCP listener: outside every range used here */
#define FIXED_PORT 5555	 /* bind-fixed */
#define UDP_DPORT 6000	 /* UDP destination (nobody listens: UDP does not care) */
#define NR_TRIES 20	 /* calls per exhaustion scenario: 16 ports + 4 failures */
#define NR_BURST 3000
#define BACKLOG 128
#define READY_TIMEOUT_MS 30000

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

/* ---- recording ---- */

static struct orec scratch; /* where records go once the oracle is full */

struct orec *rec_new(struct oracle *o, uint8_t op, int proto, int family)
{
	struct orec *r;

	if (o->n >= ORACLE_MAX) {
		o->overflow++;
		r = &scratch;
	} else {
		r = &o->rec[o->n++];
	}
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->proto = proto;
	r->family = family;
	r->tid = gettid();
	return r;
}

const char *oracle_comm(const struct oracle *o, int32_t tid)
{
	return o->thread_tid && tid == o->thread_tid ? o->thread_comm : o->comm;
}

static void loopback(int family, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
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
static int rec_connect(struct oracle *o, int fd, uint8_t op, int proto, int family, uint16_t dport)
{
	struct sockaddr_storage ss;
	struct orec *r = rec_new(o, op, proto, family);
	uint16_t before = local_port(fd, r->alt_addr);
	socklen_t len;
	int ret;

	loopback(family, dport, &ss, &len);
	rec_dest(r, &ss);
	if (op == OP_SENDMSG)
		ret = sendto(fd, "x", 1, 0, (struct sockaddr *)&ss, len);
	else
		ret = connect(fd, (struct sockaddr *)&ss, len);
	r->ret = ret;
	r->err = ret < 0 ? errno : 0;
	r->port = local_port(fd, r->addr);
	r->has_alt = op == OP_CONNECT && proto == IPPROTO_UDP;
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

	loopback(family, port, &ss, &len);
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

static void wl_msg(struct oracle *o, const char *what, int err)
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

static int run_v4_connect(struct oracle *o)
{
	return tcp_connects(o, AF_INET);
}

static int run_v6_connect(struct oracle *o)
{
	return tcp_connects(o, AF_INET6);
}

static int run_dual_connect(struct oracle *o)
{
	if (tcp_connects(o, AF_INET))
		return -1;
	return tcp_connects(o, AF_INET6);
}

static int run_nobind_connect(struct oracle *o)
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

static int run_bind0(struct oracle *o)
{
	return binds(o, NR_TRIES, 0);
}

static int run_bind_fixed(struct oracle *o)
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

static int run_udp_connect(struct oracle *o)
{
	return udp_autobinds(o, OP_CONNECT);
}

static int run_udp_sendto(struct oracle *o)
{
	return udp_autobinds(o, OP_SENDMSG);
}

/* connect + accept + close with SO_LINGER {1,0}: a RST, no TIME_WAIT, the port is free again. */
static int run_burst(struct oracle *o)
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

static int run_thread_connect(struct oracle *o)
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

#define OCC_MAX_FDS 4096

static int occ_listener(struct oracle *o, uint16_t port)
{
	struct sockaddr_storage ss;
	int fd, one = 1;
	socklen_t len;

	fd = new_socket(o, AF_INET, IPPROTO_TCP);
	if (fd < 0)
		return -1;
	loopback(AF_INET, port, &ss, &len);
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

/* Every scenario runs in a fresh network namespace; filter defaults to -p PID. */
const struct scenario scenarios[] = {
	{
		.name = "v4-connect",
		.core = true,
		.desc = "20 TCP connects to 127.0.0.1, 16 ports: 4 EADDRNOTAVAIL",
		.nr_workloads = 1,
		.range_lo = 40000,
		.range_hi = 40015,
		.premise_err = EADDRNOTAVAIL,
		.run = run_v4_connect,
	},
	{
		.name = "v6-connect",
		.core = true,
		.desc = "20 TCP connects to ::1, 16 ports: 4 EADDRNOTAVAIL",
		.nr_workloads = 1,
		.needs_v6 = true,
		.range_lo = 40000,
		.range_hi = 40015,
		.premise_err = EADDRNOTAVAIL,
		.run = run_v6_connect,
	},
	{
		.name = "nobind-connect",
		.desc = "IP_BIND_ADDRESS_NO_PORT + bind(127.0.0.1:0) + connect, 20 times",
		.nr_workloads = 1,
		.range_lo = 40000,
		.range_hi = 40015,
		.premise_err = EADDRNOTAVAIL,
		.run = run_nobind_connect,
	},
	{
		.name = "bind-connect",
		.core = true,
		.desc = "connect() after bind(): bound_connect, no_port, 4-tuple taken, O_NONBLOCK",
		.nr_workloads = 1,
		.range_lo = 40000,
		.range_hi = 40063,
		.premise_err = EADDRNOTAVAIL,
		.run = bc_workload,
	},
	{
		.name = "bind-connect-v6",
		.desc = "bind-connect on ::1 (inet6_hash_connect)",
		.nr_workloads = 1,
		.needs_v6 = true,
		.range_lo = 40000,
		.range_hi = 40063,
		.premise_err = EADDRNOTAVAIL,
		.run = bc_workload_v6,
	},
	{
		.name = "bind0",
		.core = true,
		.partly_blind = true,
		.desc = "20 TCP bind(127.0.0.1:0), 16 ports: 4 EADDRINUSE",
		.nr_workloads = 1,
		.range_lo = 40000,
		.range_hi = 40015,
		.premise_err = EADDRINUSE,
		.run = run_bind0,
	},
	{
		.name = "bind-fixed",
		.partly_blind = true,
		.desc = "3 TCP bind(127.0.0.1:5555): 2 EADDRINUSE",
		.nr_workloads = 1,
		.range_lo = 40000,
		.range_hi = 40015,
		.premise_err = EADDRINUSE,
		.run = run_bind_fixed,
	},
	{
		.name = "udp-connect",
		.core = true,
		.partly_blind = true,
		.desc = "20 UDP connects (autobind), 16 ports: 4 EAGAIN",
		.nr_workloads = 1,
		.range_lo = 40000,
		.range_hi = 40015,
		.premise_err = EAGAIN,
		.run = run_udp_connect,
	},
	{
		.name = "udp-sendto",
		.core = true,
		.partly_blind = true,
		.desc = "20 UDP sendto from unbound sockets, 16 ports: 4 EAGAIN",
		.nr_workloads = 1,
		.range_lo = 40000,
		.range_hi = 40015,
		.premise_err = EAGAIN,
		.run = run_udp_sendto,
	},
	{
		.name = "thread-connect",
		.desc = "v4-connect from a thread of its own name; its releases by the main thread",
		.nr_workloads = 1,
		.range_lo = 40000,
		.range_hi = 40015,
		.premise_err = EADDRNOTAVAIL,
		.releases = true,
		.run = run_thread_connect,
	},
	{
		.name = "filter-pid",
		.core = true,
		.desc = "-p: two workloads, only the traced pid is reported",
		.nr_workloads = 2,
		.range_lo = 40000,
		.range_hi = 40015,
		.premise_err = EADDRNOTAVAIL,
		.run = run_v4_connect,
	},
	{
		.name = "filter-comm",
		.core = true,
		.desc = "--comm: two workloads, only the named one is reported",
		.nr_workloads = 2,
		.filter = FILTER_COMM,
		.range_lo = 40000,
		.range_hi = 40015,
		.premise_err = EADDRNOTAVAIL,
		.run = run_v4_connect,
	},
	{
		.name = "filter-v4",
		.desc = "-4: IPv4 and IPv6 connects, only IPv4 is reported",
		.nr_workloads = 1,
		.filter = FILTER_V4,
		.needs_v6 = true,
		.range_lo = 40000,
		.range_hi = 40015,
		.premise_err = EADDRNOTAVAIL,
		.run = run_dual_connect,
	},
	{
		.name = "filter-v6",
		.desc = "-6: IPv4 and IPv6 connects, only IPv6 is reported",
		.nr_workloads = 1,
		.filter = FILTER_V6,
		.needs_v6 = true,
		.range_lo = 40000,
		.range_hi = 40015,
		.premise_err = EADDRNOTAVAIL,
		.run = run_dual_connect,
	},
	{
		.name = "burst",
		.desc = "3000 connect + RST close cycles, 1000 ports: every assignment or a drop",
		.nr_workloads = 1,
		.burst = true,
		.range_lo = 40000,
		.range_hi = 40999,
		.run = run_burst,
	},
	{
		.name = "burst-small-ring",
		.core = true,
		.desc = "burst with a one-page ring buffer: drops must be counted, not lost",
		.nr_workloads = 1,
		.burst = true,
		.range_lo = 40000,
		.range_hi = 40999,
		.ringbuf_size = "4096",
		.run = run_burst,
	},
	{
		.name = "occupancy-live",
		.core = true,
		.desc = "top --json from before: 1000 held to :5000, 300 TIME_WAIT to :6000",
		.kind = SCN_OCC_LIVE,
		.range_lo = 40000,
		.range_hi = 41999,
		.reserved = "40100-40199",
		.no_tw_reuse = true,
		.many_fds = true,
		.run = occ_server,
	},
	{
		.name = "occupancy-late",
		.desc = "top --json -n 1 started after the workload: seeded from sock_diag",
		.kind = SCN_OCC_LATE,
		.range_lo = 40000,
		.range_hi = 41999,
		.reserved = "40100-40199",
		.no_tw_reuse = true,
		.many_fds = true,
		.run = occ_server,
	},
	{
		.name = "status",
		.core = true,
		.desc = "status --json with bpf() refused, on the occupancy workload",
		.kind = SCN_OCC_STATUS,
		.range_lo = 40000,
		.range_hi = 41999,
		.reserved = "40100-40199",
		.no_tw_reuse = true,
		.many_fds = true,
		.run = occ_server,
	},
	{
		.name = "forecast",
		.desc = "150 connects/s kept, 1000 ports: exhaust_in_s vs the first EADDRNOTAVAIL",
		.kind = SCN_DRIVEN,
		.range_lo = 40000,
		.range_hi = 40999,
		.no_tw_reuse = true,
		.many_fds = true,
		.run = fc_connector,
		.drive = fc_drive,
	},
	{
		.name = "forecast-steady",
		.desc = "100 connects/s held 6 s, RST: 60 % of 1000 ports, exhaust_in_s null",
		.kind = SCN_DRIVEN,
		.range_lo = 40000,
		.range_hi = 40999,
		.no_tw_reuse = true,
		.many_fds = true,
		.run = fc_steady,
		.drive = fc_steady_drive,
	},
	{
		.name = "resync-quiet",
		.desc = "~1000 sockets of every kind, then 6 s quiet: sock_diag resyncs release none",
		.kind = SCN_DRIVEN,
		.needs_v6 = true,
		.range_lo = 40000,
		.range_hi = 42999,
		.many_fds = true,
		.run = rq_workload,
		.drive = rq_drive,
	},
	{
		.name = "tw-slab-reuse",
		.core = true,
		.desc = "TIME_WAIT killed by its reuse while its socket's memory holds another one",
		.kind = SCN_DRIVEN,
		.range_lo = 40000,
		.range_hi = 40999,
		.tw_reuse = "1",
		.run = tw_workload,
		.drive = tw_drive,
	},
	{
		.name = "hist-fill",
		.desc = "hist --json: connect's port search per quarter of a 1024-port range filling",
		.kind = SCN_HIST_FILL,
		.range_lo = 40000,
		.range_hi = 40000 + 4 * HF_QUARTER - 1,
		.no_tw_reuse = true,
		.many_fds = true,
		.run = occ_server,
	},
	{
		.name = "headroom",
		.core = true,
		.desc = "ports_left of status and top (from before) vs the kernel; tw_reuse 2",
		.kind = SCN_HEADROOM,
		.needs_v6 = true,
		.range_lo = 40000,
		.range_hi = 40063,
		.tw_reuse = "2",
		.hr = &hr_case_basic,
	},
	{
		.name = "headroom-twreuse0",
		.desc = "ports_left, tw_reuse 0, fresh TIME_WAIT, top from after",
		.kind = SCN_HEADROOM,
		.needs_v6 = true,
		.range_lo = 40000,
		.range_hi = 40063,
		.tw_reuse = "0",
		.hr = &hr_case_twreuse0,
	},
	{
		.name = "headroom-twreuse1",
		.desc = "ports_left, tw_reuse 1, TIME_WAIT older than 1 s, top from before",
		.kind = SCN_HEADROOM,
		.needs_v6 = true,
		.range_lo = 40000,
		.range_hi = 40063,
		.tw_reuse = "1",
		.hr = &hr_case_twreuse1,
	},
	{
		.name = "headroom-odd",
		.desc = "ports_left in an odd-sized range (63 ports), listeners on both its ends",
		.kind = SCN_HEADROOM,
		.needs_v6 = true,
		.range_lo = 40000,
		.range_hi = 40062,
		.tw_reuse = "2",
		.hr = &hr_case_odd,
	},
	{
		.name = "headroom-odd-low",
		.desc = "ports_left in the odd-sized range with its first port bound, its last free",
		.kind = SCN_HEADROOM,
		.needs_v6 = true,
		.range_lo = 40000,
		.range_hi = 40062,
		.tw_reuse = "0",
		.hr = &hr_case_odd_low,
	},
	{
		.name = "headroom-reserved",
		.desc = "ports_left with reserved ports in the range, a listener on one of them",
		.kind = SCN_HEADROOM,
		.needs_v6 = true,
		.range_lo = 40000,
		.range_hi = 40063,
		.reserved = "40010-40013,40040,40051",
		.tw_reuse = "0",
		.hr = &hr_case_reserved,
	},
	{
		.name = "sockrange",
		.desc = "socket_range of status vs connect()s with the same IP_LOCAL_PORT_RANGE",
		.kind = SCN_DRIVEN,
		.range_lo = 40000,
		.range_hi = 40063,
		.reserved = "40015,40050",
		.tw_reuse = "0",
		.run = sr_workload,
		.drive = sr_drive,
	},
	{
		.name = "hook-fallback",
		.core = true,
		.desc = "auto with one hook unattachable: it alone falls back (fentry -> kprobe)",
		.kind = SCN_DRIVEN,
		.range_lo = 40000,
		.range_hi = 40063,
		.run = hf_workload,
		.drive = hf_drive,
	},
	{
		.name = "kretprobe-miss",
		.desc = "4 x 256 threads connect at once through long port searches: each connect "
			"an assign or a counted miss (kprobe: maxactive); 4 threads: none missed",
		.kind = SCN_DRIVEN,
		.many_fds = true,
		.range_lo = 10000,
		.range_hi = 61999,
		.run = km_workload,
		.drive = km_drive,
	},
	/* a port's life after its assignment (lifecycle.c): releases, in time */
	{
		.name = "syn-blackhole",
		.desc = "connect()s whose SYNs a netfilter rule drops: assign seen in SYN_SENT",
		.kind = SCN_DRIVEN,
		.range_lo = 40000,
		.range_hi = 40063,
		.releases = true,
		.run = lc_syn_blackhole,
		.drive = lc_drive,
	},
	{
		.name = "refused",
		.core = true,
		.desc = "10 connect()s to a closed port, 5 non-blocking: an assign and a release each",
		.kind = SCN_DRIVEN,
		.range_lo = 40000,
		.range_hi = 40063,
		.releases = true,
		.run = lc_refused,
		.drive = lc_drive,
	},
	{
		.name = "rst-close",
		.core = true,
		.desc = "connections ended by RSTs (ours, the peer's, from FIN_WAIT2): no TIME_WAIT",
		.kind = SCN_DRIVEN,
		.range_lo = 40000,
		.range_hi = 40063,
		.releases = true,
		.run = lc_rst_close,
		.drive = lc_drive,
	},
	{
		.name = "tfo",
		.core = true,
		.desc = "TCP Fast Open: MSG_FASTOPEN sends and TCP_FASTOPEN_CONNECT connect()s",
		.kind = SCN_DRIVEN,
		.range_lo = 40000,
		.range_hi = 40063,
		.releases = true,
		.run = lc_tfo,
		.drive = lc_drive,
	},
	{
		.name = "udp-fork",
		.core = true,
		.desc = "20 UDP ports kept by a child after the workload exits: released by the child",
		.kind = SCN_DRIVEN,
		.range_lo = 40000,
		.range_hi = 40063,
		.releases = true,
		.run = lc_udp_fork,
		.drive = lc_drive,
	},
	{
		.name = "udp-dup",
		.core = true,
		.desc = "UDP fds copied by dup(), dup2(), SCM_RIGHTS; close_range(): the last close",
		.kind = SCN_DRIVEN,
		.range_lo = 40000,
		.range_hi = 40063,
		.releases = true,
		.run = lc_udp_dup,
		.drive = lc_drive,
	},
	/* the findings scenarios (findings.c): each kind for real, and no other */
	{
		.name = "find-bbc",
		.desc = "bind(0)+connect() x50, x50 IP_BIND_ADDRESS_NO_PORT: bind_before_connect",
		.kind = SCN_DRIVEN,
		.range_lo = 32768,
		.range_hi = 60999,
		.run = fd_workload,
		.drive = fd_drive,
	},
	{
		.name = "find-twchurn",
		.desc = "200 short connections closed by us first: time_wait_churn",
		.kind = SCN_DRIVEN,
		.range_lo = 32768,
		.range_hi = 60999,
		.tw_reuse = "2",
		.run = fd_workload,
		.drive = fd_drive,
	},
	{
		.name = "find-single",
		.desc = "12000 connections to one destination, 14200 ports: single_destination",
		.kind = SCN_DRIVEN,
		.range_lo = 40000,
		.range_hi = 54199,
		.many_fds = true,
		.run = fd_workload,
		.drive = fd_drive,
	},
	{
		.name = "find-narrow",
		.desc = "600 connections, 1000 ports: narrow_range",
		.kind = SCN_DRIVEN,
		.range_lo = 40000,
		.range_hi = 40999,
		.many_fds = true,
		.run = fd_workload,
		.drive = fd_drive,
	},
	{
		.name = "find-parity",
		.desc = "10 connections, range 40000-40998: range_parity",
		.kind = SCN_DRIVEN,
		.range_lo = 40000,
		.range_hi = 40998,
		.run = fd_workload,
		.drive = fd_drive,
	},
	{
		.name = "find-udpcap",
		.exact_errors_only = true,
		.desc = "12000 connected UDP sockets, 14200 ports: udp_connected_cap",
		.kind = SCN_DRIVEN,
		.range_lo = 40000,
		.range_hi = 54199,
		.many_fds = true,
		.run = fd_workload,
		.drive = fd_drive,
	},
	{
		.name = "find-fixedport",
		.exact_errors_only = true,
		.desc = "bind() of a port a listener holds, 5 times: fixed_port_conflict",
		.kind = SCN_DRIVEN,
		.range_lo = 32768,
		.range_hi = 60999,
		.run = fd_workload,
		.drive = fd_drive,
	},
	{
		.name = "find-socketrange",
		.desc = "18 connections with a 20-port IP_LOCAL_PORT_RANGE: socket_range",
		.kind = SCN_DRIVEN,
		.range_lo = 40000,
		.range_hi = 44999,
		.run = fd_workload,
		.drive = fd_drive,
	},
	{
		.name = "find-plain",
		.desc = "keep-alive and 3000 short connections over 20 s: nothing above info",
		.kind = SCN_DRIVEN,
		.range_lo = 32768,
		.range_hi = 60999,
		.tw_reuse = "2",
		.many_fds = true,
		.run = fd_workload,
		.drive = fd_drive,
	},
};

const size_t nr_scenarios = sizeof(scenarios) / sizeof(scenarios[0]);

const struct scenario *scenario_find(const char *name)
{
	size_t i;

	for (i = 0; i < nr_scenarios; i++)
		if (!strcmp(scenarios[i].name, name))
			return &scenarios[i];
	return NULL;
}

/* ---- child setup ---- */

static int lo_up(struct oracle *o)
{
	struct ifreq ifr;
	int fd, ret = -1;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		wl_msg(o, "socket() for ioctl", errno);
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		wl_msg(o, "SIOCGIFFLAGS lo", errno);
		goto out_close;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr)) {
		wl_msg(o, "SIOCSIFFLAGS lo up", errno);
		goto out_close;
	}
	ret = 0;
out_close:
	close(fd);
	return ret;
}

#define RANGE_PATH "/proc/sys/net/ipv4/ip_local_port_range"

/* Only ever called after unshare(CLONE_NEWNET): /proc/sys is the new namespace's. */
static int set_range(struct oracle *o, unsigned int lo, unsigned int hi)
{
	unsigned int got_lo = 0, got_hi = 0;
	char line[64];
	FILE *f;
	int n;

	f = fopen(RANGE_PATH, "w");
	if (!f) {
		wl_msg(o, "open " RANGE_PATH, errno);
		return -1;
	}
	n = fprintf(f, "%u %u\n", lo, hi);
	if (fclose(f) || n < 0) {
		wl_msg(o, "write " RANGE_PATH, errno);
		return -1;
	}
	f = fopen(RANGE_PATH, "r");
	if (!f || !fgets(line, sizeof(line), f) || sscanf(line, "%u %u", &got_lo, &got_hi) != 2 ||
	    got_lo != lo || got_hi != hi) {
		snprintf(o->msg, sizeof(o->msg), "%s reads back %u %u, not %u %u", RANGE_PATH,
			 got_lo, got_hi, lo, hi);
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

/* Write a sysctl of the child's namespace and read it back. */
static int set_sysctl(struct oracle *o, const char *path, const char *value)
{
	char line[128] = "";
	size_t n = strlen(value);
	FILE *f;

	f = fopen(path, "w");
	if (!f) {
		snprintf(o->msg, sizeof(o->msg), "open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fprintf(f, "%s\n", value) < 0 || fclose(f)) {
		snprintf(o->msg, sizeof(o->msg), "write %s: %s", path, strerror(errno));
		return -1;
	}
	f = fopen(path, "r");
	if (!f || !fgets(line, sizeof(line), f) || strncmp(line, value, n) ||
	    (line[n] && line[n] != '\n')) {
		line[strcspn(line, "\n")] = '\0';
		snprintf(o->msg, sizeof(o->msg), "%s reads back '%s', not '%s'", path, line, value);
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

static int raise_nofile(struct oracle *o)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl)) {
		wl_msg(o, "getrlimit(RLIMIT_NOFILE)", errno);
		return -1;
	}
	if (rl.rlim_max < OCC_MAX_FDS)
		rl.rlim_max = OCC_MAX_FDS;
	rl.rlim_cur = OCC_MAX_FDS;
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		wl_msg(o, "setrlimit(RLIMIT_NOFILE, 4096)", errno);
		return -1;
	}
	return 0;
}

static int join_netns(struct oracle *o, pid_t pid)
{
	char path[64];
	int fd, ret;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(o->msg, sizeof(o->msg), "open %s: %s", path, strerror(errno));
		return -1;
	}
	ret = setns(fd, CLONE_NEWNET);
	if (ret)
		snprintf(o->msg, sizeof(o->msg), "setns(%s): %s", path, strerror(errno));
	close(fd);
	return ret;
}

static int check_v6(struct oracle *o)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		wl_msg(o, "no IPv6: socket(AF_INET6)", errno);
		o->skip = 1;
		return -1;
	}
	loopback(AF_INET6, 9, &ss, &len);
	if (bind(fd, (struct sockaddr *)&ss, len)) {
		wl_msg(o, "no IPv6 on lo: bind([::1]:9)", errno);
		o->skip = 1;
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int child_setup(struct oracle *o, const struct scenario *s, const char *comm, pid_t join)
{
	struct stat st;

	if (comm && prctl(PR_SET_NAME, comm)) {
		wl_msg(o, "prctl(PR_SET_NAME)", errno);
		return -1;
	}
	prctl(PR_GET_NAME, o->comm);
	if (s->many_fds && raise_nofile(o))
		return -1;
	if (join > 0) {
		if (join_netns(o, join))
			return -1;
	} else if (unshare(CLONE_NEWNET)) {
		wl_msg(o, "unshare(CLONE_NEWNET)", errno);
		o->skip = errno == EPERM;
		return -1;
	}
	if (stat("/proc/self/ns/net", &st)) {
		wl_msg(o, "stat /proc/self/ns/net", errno);
		return -1;
	}
	o->netns = st.st_ino;
	if (join > 0)
		return 0; /* set up by the workload that created it */
	if (lo_up(o) || set_range(o, s->range_lo, s->range_hi))
		return -1;
	if (s->reserved && set_sysctl(o, "/proc/sys/net/ipv4/ip_local_reserved_ports", s->reserved))
		return -1;
	if (s->no_tw_reuse && set_sysctl(o, "/proc/sys/net/ipv4/tcp_tw_reuse", "0"))
		return -1;
	if (s->tw_reuse && set_sysctl(o, "/proc/sys/net/ipv4/tcp_tw_reuse", s->tw_reuse))
		return -1;
	if (s->needs_v6 && check_v6(o))
		return -1;
	return 0;
}

static void close_others(int keep1, int keep2)
{
	int fd;

	for (fd = 3; fd < 1024; fd++)
		if (fd != keep1 && fd != keep2)
			close(fd);
}

static void child_main(struct oracle *o, const struct scenario *s, const char *comm,
		       int (*run)(struct oracle *o), pid_t join, int ready_fd, int go_fd)
{
	char c;
	ssize_t n;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	close_others(ready_fd, go_fd);
	if (child_setup(o, s, comm, join))
		_exit(1);
	if (write(ready_fd, "R", 1) != 1)
		_exit(1);
	close(ready_fd);
	do {
		n = read(go_fd, &c, 1);
	} while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(2); /* not released: the parent gave up */
	close(go_fd);
	_exit(run(o) ? 1 : 0);
}

static int wait_ready(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;
	int n;

	do {
		n = poll(&pfd, 1, READY_TIMEOUT_MS);
	} while (n < 0 && errno == EINTR);
	if (n == 0)
		return -ETIMEDOUT;
	if (n < 0)
		return -errno;
	return read(fd, &c, 1) == 1 ? 0 : -EIO;
}

int workload__start(struct workload *w, const struct scenario *s, const char *comm)
{
	return workload__start_role(w, s, comm, s->run, 0);
}

int workload__start_role(struct workload *w, const struct scenario *s, const char *comm,
			 int (*run)(struct oracle *o), pid_t join)
{
	int ready[2], go[2], err;

	memset(w, 0, sizeof(*w));
	w->pid = -1;
	w->go_fd = -1;
	w->o = mmap(NULL, sizeof(*w->o), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (w->o == MAP_FAILED) {
		w->o = NULL;
		return -errno;
	}
	if (pipe2(ready, O_CLOEXEC)) {
		err = -errno;
		goto out_unmap;
	}
	if (pipe2(go, O_CLOEXEC)) {
		err = -errno;
		goto out_close_ready;
	}
	fflush(NULL);
	w->pid = fork();
	if (w->pid < 0) {
		err = -errno;
		goto out_close_go;
	}
	if (w->pid == 0)
		child_main(w->o, s, comm, run, join, ready[1], go[0]);
	close(ready[1]);
	close(go[0]);
	w->go_fd = go[1];
	err = wait_ready(ready[0]);
	close(ready[0]);
	if (err) { /* reap it: its message says why */
		kill(w->pid, SIGKILL);
		waitpid(w->pid, &w->status, 0);
		w->exited = true;
		if (!w->o->msg[0])
			snprintf(w->o->msg, sizeof(w->o->msg), "workload setup: %s",
				 strerror(-err));
		return w->o->skip ? -EAGAIN : -EIO;
	}
	return 0;

out_close_go:
	close(go[0]);
	close(go[1]);
out_close_ready:
	close(ready[0]);
	close(ready[1]);
out_unmap:
	munmap(w->o, sizeof(*w->o));
	w->o = NULL;
	return err;
}

int workload__release(struct workload *w)
{
	int ret;

	ret = write(w->go_fd, "G", 1) == 1 ? 0 : -errno;
	close(w->go_fd);
	w->go_fd = -1;
	return ret;
}

bool workload__poll(struct workload *w)
{
	if (w->exited)
		return true;
	if (w->pid > 0 && waitpid(w->pid, &w->status, WNOHANG) == w->pid)
		w->exited = true;
	return w->exited;
}

void workload__free(struct workload *w)
{
	if (!w)
		return;
	if (w->go_fd >= 0) {
		close(w->go_fd);
		w->go_fd = -1;
	}
	if (w->pid > 0 && !w->exited) {
		kill(w->pid, SIGKILL);
		waitpid(w->pid, &w->status, 0);
		w->exited = true;
	}
	if (w->o) {
		munmap(w->o, sizeof(*w->o));
		w->o = NULL;
	}
}

/* ---- names and JSON ---- */

const char *op_name(uint8_t op)
{
	switch (op) {
	case OP_CONNECT:
		return "connect";
	case OP_BIND:
		return "bind";
	case OP_SENDMSG:
		return "sendmsg";
	}
	return "?";
}

const char *proto_name(uint8_t proto)
{
	return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : "?";
}

const char *family_name(uint8_t family)
{
	return family == AF_INET ? "ipv4" : family == AF_INET6 ? "ipv6" : "?";
}

static const char *expect_name(uint8_t expect)
{
	switch (expect) {
	case EXPECT_ASSIGN:
		return "assign";
	case EXPECT_FAIL:
		return "fail";
	case EXPECT_BOUND_CONNECT:
		return "bound_connect";
	}
	return "none";
}

int oracle_to_json(const struct oracle *o, pid_t pid, struct buf *b)
{
	char addr[INET6_ADDRSTRLEN], daddr[INET6_ADDRSTRLEN], tmp[16];
	const struct orec *r;
	uint32_t i;
	int err = 0;

	for (i = 0; i < o->n && !err; i++) {
		r = &o->rec[i];
		inet_ntop(r->family, r->addr, addr, sizeof(addr));
		inet_ntop(r->family, r->daddr, daddr, sizeof(daddr));
		err = buf_printf(b,
				 "{\"pid\":%d,\"tid\":%d,\"comm\":\"%s\",\"process_comm\":\"%s\","
				 "\"netns\":%llu,\"op\":\"%s\",\"proto\":\"%s\",\"family\":\"%s\","
				 "\"ret\":%d,\"errno\":%d,",
				 (int)pid, (int)r->tid, oracle_comm(o, r->tid), o->comm,
				 (unsigned long long)o->netns, op_name(r->op), proto_name(r->proto),
				 family_name(r->family), r->ret, r->err);
		if (err)
			break;
		if (r->err)
			err = buf_printf(b, "\"error\":\"%s\",",
					 errno_name(r->err, tmp, sizeof(tmp)));
		else
			err = buf_printf(b, "\"error\":null,");
		if (!err)
			err = buf_printf(b, "\"port\":%u,\"addr\":\"%s\",", r->port, addr);
		if (!err && r->has_dest)
			err = buf_printf(b, "\"daddr\":\"%s\",\"dport\":%u,", daddr, r->dport);
		else if (!err)
			err = buf_printf(b, "\"daddr\":null,\"dport\":null,");
		if (!err && r->has_req)
			err = buf_printf(b, "\"requested_port\":%u,", r->req_port);
		else if (!err)
			err = buf_printf(b, "\"requested_port\":null,");
		if (!err)
			err = buf_printf(b, "\"ephemeral\":%s,\"bound\":%s,\"no_port\":%s,",
					 r->ephemeral ? "true" : "false",
					 r->bound ? "true" : "false",
					 r->no_port ? "true" : "false");
		if (!err)
			err = buf_printf(b, "\"expect\":\"%s\"}\n", expect_name(r->expect));
	}
	return err;
}

/*
 * Did the kernel do what the scenario is about? At least one port taken; failures only with
 * the scenario's errno, and at least one of them (none at all when it names no errno).
 * A record that expects an assign or bound_connect took its port, or found its 4-tuple free:
 * its errno (a connect() still in progress, or refused after its SYN) is no failure to take one.
 */
int oracle_premise(const struct oracle *o, const struct scenario *s, char *msg, size_t len)
{
	unsigned int assigned = 0, failed = 0;
	char tmp[16], tmp2[16];
	uint32_t i;

	if (o->overflow) {
		snprintf(msg, len, "oracle full: %u records lost", o->overflow);
		return -ENOSPC;
	}
	for (i = 0; i < o->n; i++) {
		const struct orec *r = &o->rec[i];

		if (r->err && r->err != s->premise_err && r->expect != EXPECT_ASSIGN &&
		    r->expect != EXPECT_BOUND_CONNECT) {
			snprintf(msg, len, "workload: %s %s %s returned %s, expected only %s",
				 op_name(r->op), proto_name(r->proto), family_name(r->family),
				 errno_name(r->err, tmp, sizeof(tmp)),
				 s->premise_err ? errno_name(s->premise_err, tmp2, sizeof(tmp2)) :
						  "success");
			return -EPROTO;
		}
		assigned += r->expect == EXPECT_ASSIGN;
		failed += r->expect == EXPECT_FAIL;
	}
	if (!assigned) {
		snprintf(msg, len, "workload: no port was assigned at all");
		return -EPROTO;
	}
	if (s->premise_err && !failed) {
		snprintf(msg, len,
			 "workload: the kernel never returned %s: the range was not exhausted",
			 errno_name(s->premise_err, tmp, sizeof(tmp)));
		return -EPROTO;
	}
	return 0;
}

int oracle_tally(const struct oracle *o, int family, struct buf *b)
{
	const struct orec *r, *q;
	uint32_t i, k, assigned, failed, bound;
	const char *sep = "";
	char tmp[16];
	int err = 0;

	for (i = 0; i < o->n && !err; i++) {
		r = &o->rec[i];
		if (r->expect == EXPECT_NONE || (family && r->family != family))
			continue;
		for (k = 0; k < i; k++) { /* each (op, proto, family) once */
			q = &o->rec[k];
			if (q->expect != EXPECT_NONE && q->op == r->op && q->proto == r->proto &&
			    q->family == r->family)
				break;
		}
		if (k < i)
			continue;
		assigned = failed = bound = 0;
		for (k = i; k < o->n; k++) {
			q = &o->rec[k];
			if (q->op != r->op || q->proto != r->proto || q->family != r->family)
				continue;
			assigned += q->expect == EXPECT_ASSIGN;
			failed += q->expect == EXPECT_FAIL;
			bound += q->expect == EXPECT_BOUND_CONNECT;
		}
		err = buf_printf(b, "%s%s %s %s: %u assigned", sep, op_name(r->op),
				 proto_name(r->proto), family_name(r->family), assigned);
		if (bound && !err)
			err = buf_printf(b, ", %u bound_connect", bound);
		/* Scenarios fail with one errno only (oracle_premise). */
		for (k = i; k < o->n && failed && !err; k++) {
			if (o->rec[k].expect == EXPECT_FAIL && o->rec[k].op == r->op &&
			    o->rec[k].proto == r->proto && o->rec[k].family == r->family) {
				err = buf_printf(b, ", %u %s", failed,
						 errno_name(o->rec[k].err, tmp, sizeof(tmp)));
				break;
			}
		}
		sep = "; ";
	}
	return err;
}
