// SPDX-License-Identifier: GPL-2.0
/*
 * Sockets from the kernel: the sock_diag dumps (NETLINK_SOCK_DIAG, libmnl) of the calling
 * thread's namespace, one answer parsed, and whether this kernel's dump lists the TCP sockets
 * only bound. See sockdiag.h; the bind buckets are in sockdiag_bucket.c, a snapshot of every
 * namespace in sockdiag_snap.c, giving one to an occupancy in sockdiag_apply.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>

#include "sockdiag.h"

/* Big enough for any dump message batch the kernel sends (it sizes them by our buffer). */
#define DIAG_BUF_SIZE 65536

/* ---- sock_diag ------------------------------------------------------------------------- */

struct dump_ctx {
	uint32_t netns;
	uint8_t proto;
	int (*cb)(const struct eph_occ_sock *s, void *ctx);
	void *ctx;
	size_t given; /* sockets given to cb */
	int ret;
};

/* idiag_timer of a TIME_WAIT socket (the timewait timer): idiag_expires is its time left */
#define DIAG_TIMER_TIME_WAIT 3

/* The attributes inet_diag sends unasked: INET_DIAG_SKV6ONLY. */
static void parse_attrs(const struct nlmsghdr *nlh, struct eph_occ_sock *s)
{
	const char *tail = mnl_nlmsg_get_payload_tail(nlh);
	const struct nlattr *a;

	for (a = mnl_nlmsg_get_payload_offset(nlh, sizeof(struct inet_diag_msg));
	     mnl_attr_ok(a, tail - (const char *)a); a = mnl_attr_next(a))
		if (mnl_attr_get_type(a) == INET_DIAG_SKV6ONLY && mnl_attr_get_payload_len(a) >= 1)
			s->v6only = !!mnl_attr_get_u8(a);
}

int eph_sockdiag_parse(const struct nlmsghdr *nlh, uint8_t proto, struct eph_occ_sock *s)
{
	const struct inet_diag_msg *m;
	size_t alen;

	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN || mnl_nlmsg_get_payload_len(nlh) < sizeof(*m))
		return -EBADMSG;
	m = mnl_nlmsg_get_payload(nlh);
	if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
		return -EAFNOSUPPORT;
	alen = m->idiag_family == AF_INET ? 4 : 16;
	memset(s, 0, sizeof(*s));
	s->proto = proto;
	s->family = m->idiag_family;
	s->state = m->idiag_state;
	s->sport = ntohs(m->id.idiag_sport);
	s->dport = ntohs(m->id.idiag_dport);
	memcpy(s->saddr, m->id.idiag_src, alen);
	memcpy(s->daddr, m->id.idiag_dst, alen);
	s->cookie = (uint64_t)m->id.idiag_cookie[1] << 32 | m->id.idiag_cookie[0];
	if (m->id.idiag_cookie[0] == INET_DIAG_NOCOOKIE &&
	    m->id.idiag_cookie[1] == INET_DIAG_NOCOOKIE)
		s->cookie = 0;
	s->inode = m->idiag_inode;
	/* TIME_WAIT sockets, also those closed in FIN_WAIT2 (state 5, the same timer); one due
	 * now says 1 ms, as 0 means unknown */
	if (proto == IPPROTO_TCP && m->idiag_timer == DIAG_TIMER_TIME_WAIT)
		s->tw_left_ms = m->idiag_expires ? m->idiag_expires : 1;
	parse_attrs(nlh, s);
	return 0;
}

static int on_diag_msg(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *d = data;
	struct eph_occ_sock s;
	int err;

	err = eph_sockdiag_parse(nlh, d->proto, &s);
	if (err == -EAFNOSUPPORT)
		return MNL_CB_OK;
	if (err) {
		errno = -err;
		return MNL_CB_ERROR;
	}
	s.netns = d->netns;
	d->given++;
	d->ret = d->cb(&s, d->ctx);
	return d->ret ? MNL_CB_STOP : MNL_CB_OK;
}

/* A dump request of type (its header in buf) with room for the request itself. */
static struct nlmsghdr *dump_header(char *buf, uint16_t type)
{
	static uint32_t seq;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++seq;
	return nlh;
}

/* Send the request in buf, and read its answer into d. */
static int dump_run(struct mnl_socket *nl, char *buf, struct dump_ctx *d)
{
	unsigned int portid = mnl_socket_get_portid(nl);
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	uint32_t seq = nlh->nlmsg_seq;
	ssize_t n;
	int ret;

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	while ((n = mnl_socket_recvfrom(nl, buf, DIAG_BUF_SIZE)) > 0) {
		ret = mnl_cb_run(buf, n, seq, portid, on_diag_msg, d);
		if (ret == MNL_CB_ERROR)
			return d->ret ? d->ret : -errno;
		if (ret == MNL_CB_STOP)
			return d->ret;
	}
	return n < 0 ? -errno : 0;
}

/* One dump request (family, protocol, every state) and its answer. */
static int dump_one(struct mnl_socket *nl, char *buf, uint8_t family, struct dump_ctx *d)
{
	struct nlmsghdr *nlh = dump_header(buf, SOCK_DIAG_BY_FAMILY);
	struct inet_diag_req_v2 *req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));

	req->sdiag_family = family;
	req->sdiag_protocol = d->proto;
	/* every state: also TIME_WAIT, SYN_SENT and, where the kernel has it, bound-inactive */
	req->idiag_states = ~0u;
	return dump_run(nl, buf, d);
}

/*
 * Every TCP socket, IPv4 and IPv6, in one request: the older TCPDIAG_GETSOCK message asks
 * with no family (AF_UNSPEC), which SOCK_DIAG_BY_FAMILY cannot. Each dump walks the kernel's
 * whole established hash, every namespace's sockets, so one walk instead of two saves a
 * third of a namespace's read where many namespaces hold many sockets.
 */
static int dump_tcp(struct mnl_socket *nl, char *buf, struct dump_ctx *d)
{
	struct nlmsghdr *nlh = dump_header(buf, TCPDIAG_GETSOCK);
	struct inet_diag_req *req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));

	req->idiag_family = AF_UNSPEC;
	req->idiag_states = ~0u;
	return dump_run(nl, buf, d);
}

int eph_sockdiag_dump(uint32_t netns, int (*cb)(const struct eph_occ_sock *s, void *ctx), void *ctx)
{
	static const uint8_t families[] = { AF_INET, AF_INET6 };
	struct dump_ctx d = { .netns = netns, .cb = cb, .ctx = ctx };
	struct mnl_socket *nl;
	unsigned int j;
	char *buf;
	int err = 0;

	buf = malloc(DIAG_BUF_SIZE);
	if (!buf)
		return -ENOMEM;
	nl = mnl_socket_open(NETLINK_SOCK_DIAG);
	if (!nl) {
		err = -errno;
		goto out_free_buf;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto out_close;
	}
	d.proto = IPPROTO_TCP;
	err = dump_tcp(nl, buf, &d);
	if (err && !d.given) /* refused: a family at a time */
		err = dump_one(nl, buf, AF_INET, &d) ?: dump_one(nl, buf, AF_INET6, &d);
	d.proto = IPPROTO_UDP;
	for (j = 0; j < sizeof(families) && !err; j++) {
		err = dump_one(nl, buf, families[j], &d);
		if (err == -ENOENT)
			err = 0; /* no udp_diag in this kernel */
	}
out_close:
	mnl_socket_close(nl);
out_free_buf:
	free(buf);
	return err;
}

/* Whether this kernel's sock_diag dumps bound-only TCP sockets (TCPF_BOUND_INACTIVE, Linux 6.8,
 * commit 91051f003948): a request bit older kernels ignore, so the version tells. */
bool eph_sockdiag_lists_bound(const char *release)
{
	unsigned int major = 0, minor = 0;

	if (sscanf(release, "%u.%u", &major, &minor) != 2)
		return true; /* unknown: assume the present */
	return major > 6 || (major == 6 && minor >= 8);
}

bool eph_sockdiag_kernel_lists_bound(void)
{
	struct utsname u;

	return uname(&u) || eph_sockdiag_lists_bound(u.release);
}
