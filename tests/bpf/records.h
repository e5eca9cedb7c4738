/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of tests/bpf/records.c: what a record should be (struct want), the field-by-field
 * comparison with the one that came, and the sockets and namespaces the cases use. A header
 * and not a .c: the Makefile makes a test binary of every .c in tests/bpf/.
 */
#ifndef EPH_TEST_RECORDS_H
#define EPH_TEST_RECORDS_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "event.h"

#define MAX_WANT 32
#define MAX_RECS 64
/*
 * ts_ns is bpf_ktime_get_ns(), the kernel's NMI-safe monotonic clock; it may trail
 * clock_gettime(CLOCK_MONOTONIC) by a little across a timekeeping update: allowed this much
 * outside the call's window.
 */
#define TS_SLACK_NS 100000ull

/* One record a case expects, and what came for it. */
struct want {
	const char *sock; /* the socket's name in the case, for messages */
	uint64_t cookie;  /* SO_COOKIE of the socket: the record's cookie, and how it is found */
	uint8_t type, op, proto;
	uint8_t family; /* 0: AF_INET */
	int32_t err;
	uint16_t sport, dport, req_port, flags;
	uint32_t saddr, daddr; /* IPv4, network order (an IPv6 socket's: "::", 0) */
	uint64_t t0, t1;       /* CLOCK_MONOTONIC before and after the call that makes it */
	int assign;	       /* a release: its assignment's index in want[], else -1 */
	const struct eph_event *rec;
};

/* One case on one backend. */
struct tcase {
	char name[48]; /* "tracepoint-connect" */
	int backend;
	uint32_t netns; /* inode of the case's namespace: its records are those of this netns */
	struct want want[MAX_WANT];
	int nwant;
	bool failed;
	uint32_t tid; /* of the thread that ran the case */
};

/* What the ring buffer brought for the case's namespace (eph_decode()d). */
struct collector {
	uint32_t netns; /* 0: take nothing */
	struct eph_event ev[MAX_RECS];
	bool used[MAX_RECS];
	int n, undecodable, overflow;
};

/* errno left as it was: it is read after the call it brackets */
static uint64_t now_ns(void)
{
	struct timespec ts;
	int err = errno;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	errno = err;
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void tfail(struct tcase *t, const char *fmt, ...)
{
	va_list ap;

	printf("FAIL %s: ", t->name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	t->failed = true;
}

/* "assign/connect of client" */
static const char *want_str(const struct want *w, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s of %s", eph_type_name(w->type) ?: "?",
		 w->op ? eph_op_name(w->op) : "none", w->sock);
	return buf;
}

static void eq(struct tcase *t, const struct want *w, const char *field, long long exp,
	       long long got)
{
	char b[64];

	if (exp != got)
		tfail(t, "%s: field %s: expected %lld, got %lld", want_str(w, b, sizeof(b)), field,
		      exp, got);
}

/* got within [lo, hi] */
static void in_range(struct tcase *t, const struct want *w, const char *field, uint64_t lo,
		     uint64_t hi, uint64_t got)
{
	char b[64];

	if (got < lo || got > hi)
		tfail(t, "%s: field %s: expected %llu..%llu, got %llu", want_str(w, b, sizeof(b)),
		      field, (unsigned long long)lo, (unsigned long long)hi,
		      (unsigned long long)got);
}

static void eq_str(struct tcase *t, const struct want *w, const char *field, const char *exp,
		   const char *got)
{
	char b[64];

	if (strncmp(exp, got, EPH_COMM_LEN))
		tfail(t, "%s: field %s: expected \"%s\", got \"%.16s\"", want_str(w, b, sizeof(b)),
		      field, exp, got);
}

/* An IPv4 address in the first 4 bytes of the 16, the other 12 zero. */
static void eq_addr(struct tcase *t, const struct want *w, const char *field, uint32_t exp,
		    const uint8_t got[16])
{
	uint8_t want16[16] = { 0 };
	char e[INET6_ADDRSTRLEN], g[INET6_ADDRSTRLEN], b[64];

	memcpy(want16, &exp, 4);
	if (!memcmp(want16, got, 16))
		return;
	inet_ntop(AF_INET, want16, e, sizeof(e));
	inet_ntop(AF_INET, got, g, sizeof(g));
	tfail(t, "%s: field %s: expected %s, got %s%s", want_str(w, b, sizeof(b)), field, e, g,
	      memcmp(want16 + 4, got + 4, 12) ? " (and bytes 4-15 not zero)" : "");
}

static const char *flag_names(uint16_t f, char *buf, size_t len)
{
	static const char *const names[] = { "EPHEMERAL", "SEARCH",  "DEST",	      "REQ",
					     "HELD",	  "TW",	     "SADDR",	      "OWNER",
					     "BOUND",	  "NO_PORT", "TW_NO_RELEASE", "V6ONLY" };
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < 16 && off < len; i++)
		if (f & (1u << i))
			off += snprintf(buf + off, len - off, "%s%s", off ? "|" : "",
					i < sizeof(names) / sizeof(names[0]) ? names[i] : "?");
	return off ? buf : "0";
}

static void eq_flags(struct tcase *t, const struct want *w, uint16_t got)
{
	char e[128], g[128], b[64];

	if (w->flags != got)
		tfail(t, "%s: field flags: expected 0x%x (%s), got 0x%x (%s)",
		      want_str(w, b, sizeof(b)), w->flags, flag_names(w->flags, e, sizeof(e)), got,
		      flag_names(got, g, sizeof(g)));
}

/* --- sockets and namespaces -------------------------------------------------------------- */

/* A socket of the case, named for messages; cookie from SO_COOKIE right away, so that every
 * record of it carries that cookie (the kernel makes one on first demand, then keeps it). */
struct sk {
	int fd;
	int family;
	int proto;
	uint64_t cookie;
	const char *name;
	int assign; /* index of its assignment in want[], -1 none */
};

static int sk_open_family(struct sk *s, int family, int type, const char *name)
{
	socklen_t len = sizeof(s->cookie);

	s->fd = socket(family, type | SOCK_CLOEXEC, 0);
	s->family = family;
	s->proto = type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP;
	s->name = name;
	s->assign = -1;
	s->cookie = 0;
	if (s->fd < 0 || getsockopt(s->fd, SOL_SOCKET, SO_COOKIE, &s->cookie, &len))
		return -errno;
	return 0;
}

static int sk_open(struct sk *s, int type, const char *name)
{
	return sk_open_family(s, AF_INET, type, name);
}

static struct sockaddr_in lo_addr(uint16_t port)
{
	return (struct sockaddr_in){ .sin_family = AF_INET,
				     .sin_port = htons(port),
				     .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
}

/* getsockname() or getpeername() (peer): the address, the port in host order; 0.0.0.0:0 when
 * there is none (not connected). An IPv6 socket's address is 0 for "::" (the only one the
 * cases use), 255.255.255.255 (which no record has) for any other. */
static uint16_t sk_name(int fd, bool peer, uint32_t *addr)
{
	struct sockaddr_storage ss = { 0 };
	const struct sockaddr_in6 *sin6 = (const void *)&ss;
	const struct sockaddr_in *sin = (const void *)&ss;
	socklen_t len = sizeof(ss);

	if ((peer ? getpeername : getsockname)(fd, (struct sockaddr *)&ss, &len))
		memset(&ss, 0, sizeof(ss));
	if (ss.ss_family == AF_INET6) {
		*addr = IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr) ? 0 : 0xffffffffu;
		return ntohs(sin6->sin6_port);
	}
	*addr = sin->sin_addr.s_addr;
	return ntohs(sin->sin_port);
}

/* close() with SO_LINGER 0: a TCP socket is reset, nothing lingers or goes to TIME_WAIT. */
static void close_rst(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static int lo_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr))
			err = -errno;
	} else {
		err = -errno;
	}
	close(fd);
	return err;
}

/*
 * This thread into a new network namespace: lo up, ip_local_port_range set (/proc/sys/net is
 * the opener's namespace's; /proc/self would be the main thread's). Its fd in *fd, kept open by the caller until the end, so that no later
 * namespace gets the same inode while a record of this one may still come. 0 or -errno.
 */
static int netns_enter(const char *range, int *fd, uint32_t *inode)
{
	struct stat st;
	int err, rfd;

	if (unshare(CLONE_NEWNET))
		return -errno;
	err = lo_up();
	if (err)
		return err;
	rfd = open("/proc/sys/net/ipv4/ip_local_port_range", O_WRONLY | O_CLOEXEC);
	if (rfd < 0)
		return -errno;
	err = write(rfd, range, strlen(range)) < 0 ? -errno : 0;
	close(rfd);
	if (err)
		return err;
	*fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*fd < 0 || fstat(*fd, &st))
		return -errno;
	*inode = st.st_ino;
	return 0;
}

#endif
