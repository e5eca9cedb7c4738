// SPDX-License-Identifier: GPL-2.0
/* Sockets, their owners and their bind buckets, from the kernel. See sockdiag.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>

#include "portiter.h"
#include "sockdiag.h"
#include "strbuf.h"

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

/* ---- bind buckets (the port iterator) ------------------------------------------------- */

struct bucket_recs {
	struct eph_portiter_rec *by_cookie; /* what the iterator gave, sorted by cookie */
	struct eph_portiter_rec *by_key;    /* the same by family, port, state; made on a miss */
	size_t n, cap;
	struct eph_portiter_rec *bound; /* the bound-only sockets of the bind hash walk */
	size_t nbound, bound_cap;
	bool walked; /* its WALKED record came: bound is all of them */
};

static int push_rec(const struct eph_portiter_rec *rec, void *ctx)
{
	struct bucket_recs *b = ctx;
	int err;

	if (rec->kind == EPH_PORTITER_REC_WALKED) {
		b->walked = true;
		return 0;
	}
	if (rec->kind == EPH_PORTITER_REC_BOUND) {
		err = eph_grow((void **)&b->bound, &b->bound_cap, b->nbound, sizeof(*b->bound));
		if (!err)
			b->bound[b->nbound++] = *rec;
		return err;
	}
	err = eph_grow((void **)&b->by_cookie, &b->cap, b->n, sizeof(*b->by_cookie));
	if (err)
		return err;
	b->by_cookie[b->n++] = *rec;
	return 0;
}

static int cmp_rec_cookie(const void *a, const void *b)
{
	const struct eph_portiter_rec *x = a, *y = b;

	return x->cookie < y->cookie ? -1 : x->cookie > y->cookie;
}

static int cmp_rec_key(const void *a, const void *b)
{
	const struct eph_portiter_rec *x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (x->sport != y->sport)
		return x->sport < y->sport ? -1 : 1;
	return x->state < y->state ? -1 : x->state > y->state;
}

/* The only record with the family, port and state of key, else NULL. */
static const struct eph_portiter_rec *find_by_key(struct bucket_recs *b,
						  const struct eph_portiter_rec *key)
{
	size_t lo = 0, hi = b->n;

	if (!b->by_key) {
		b->by_key = malloc(b->n * sizeof(*b->by_key));
		if (!b->by_key)
			return NULL;
		memcpy(b->by_key, b->by_cookie, b->n * sizeof(*b->by_key));
		qsort(b->by_key, b->n, sizeof(*b->by_key), cmp_rec_key);
	}
	while (lo < hi) { /* the first one not below key */
		size_t mid = (lo + hi) / 2;

		if (cmp_rec_key(&b->by_key[mid], key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == b->n || cmp_rec_key(&b->by_key[lo], key))
		return NULL;
	if (lo + 1 < b->n && !cmp_rec_key(&b->by_key[lo + 1], key))
		return NULL; /* ambiguous */
	return &b->by_key[lo];
}

/* The iterator's record of a sock_diag socket: by cookie, else the only one with its family,
 * port and state; NULL when none is. */
static const struct eph_portiter_rec *sock_rec(struct bucket_recs *b, const struct eph_occ_sock *s)
{
	struct eph_portiter_rec key = { .cookie = s->cookie };
	const struct eph_portiter_rec *r = NULL;

	if (!b->n)
		return NULL;
	if (s->cookie)
		r = bsearch(&key, b->by_cookie, b->n, sizeof(key), cmp_rec_cookie);
	if (!r) {
		key.family = s->family;
		key.sport = s->sport;
		key.state = s->state;
		r = find_by_key(b, &key);
	}
	return r;
}

static uint8_t sock_bucket(const struct eph_occ_sock *s, const struct eph_portiter_rec *r)
{
	if (s->state == TCP_LISTEN || s->state == TCP_CLOSE || s->state == EPH_TCP_BOUND_INACTIVE)
		return EPH_BUCKET_BIND;
	if (!r)
		return EPH_BUCKET_UNKNOWN;
	return r->bucket == EPH_PORTITER_BIND	 ? EPH_BUCKET_BIND :
	       r->bucket == EPH_PORTITER_CONNECT ? EPH_BUCKET_CONNECT :
						   EPH_BUCKET_UNKNOWN;
}

/* A TCP socket's bucket, and its IP_LOCAL_PORT_RANGE as it set it (raw: the model applies the
 * netns range). Listeners and bound-only sockets (in no table the iterator walks) need no
 * record: their bucket is bind()'s, and no connect() of theirs is modelled. */
static void sock_fill(struct bucket_recs *b, struct eph_occ_sock *s)
{
	const struct eph_portiter_rec *r = NULL;

	if (s->state != TCP_LISTEN && s->state != TCP_CLOSE && s->state != EPH_TCP_BOUND_INACTIVE)
		r = sock_rec(b, s);
	s->bucket = sock_bucket(s, r);
	s->range_lo = r ? r->range_lo : 0;
	s->range_hi = r ? r->range_hi : 0;
}

/* ---- bound-only sockets (the port iterator's walk of the bind hash, before 6.8) ------------ */

static int cmp_u64(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

/* The cookies of the TCP sockets sock_diag listed, sorted (made them: it lists none without);
 * *cookies NULL when there are none. 0 or -ENOMEM. */
static int listed_cookies(const struct eph_occ_sock *socks, size_t n, uint64_t **cookies,
			  size_t *nc)
{
	size_t i;

	*cookies = NULL;
	*nc = 0;
	for (i = 0; i < n; i++) {
		if (socks[i].proto != IPPROTO_TCP || !socks[i].cookie)
			continue;
		if (!*cookies) {
			*cookies = malloc((n - i) * sizeof(**cookies));
			if (!*cookies)
				return -ENOMEM;
		}
		(*cookies)[(*nc)++] = socks[i].cookie;
	}
	if (*nc)
		qsort(*cookies, *nc, sizeof(**cookies), cmp_u64);
	return 0;
}

/* A BOUND record as sock_diag 6.8+ lists the socket: TCP_CLOSE, no remote end. */
static void bound_sock(const struct eph_portiter_rec *r, uint32_t netns, struct eph_occ_sock *s)
{
	memset(s, 0, sizeof(*s));
	s->cookie = r->cookie;
	s->inode = r->inode;
	s->netns = netns;
	s->proto = IPPROTO_TCP;
	s->family = r->family;
	s->state = TCP_CLOSE;
	s->sport = r->sport;
	memcpy(s->saddr, r->addr, r->family == AF_INET ? 4 : 16);
	s->bucket = r->bucket == EPH_PORTITER_CONNECT ? EPH_BUCKET_CONNECT : EPH_BUCKET_BIND;
	s->v6only = r->family == AF_INET6 && r->v6only;
}

/* The walk's sockets that sock_diag did not list (cookies, sorted) to bound->add. */
static int add_bound(const struct bucket_recs *b, const uint64_t *cookies, size_t nc,
		     struct eph_sockdiag_bound *bound)
{
	struct eph_occ_sock s;
	size_t i;
	int err;

	for (i = 0; i < b->nbound; i++) {
		const struct eph_portiter_rec *r = &b->bound[i];

		if (r->family != AF_INET && r->family != AF_INET6)
			continue;
		if (r->cookie && nc && bsearch(&r->cookie, cookies, nc, sizeof(*cookies), cmp_u64))
			continue; /* listed by sock_diag meanwhile (connected or listening now) */
		bound_sock(r, bound->netns, &s);
		err = bound->add(&s, bound->ctx);
		if (err)
			return err;
	}
	return 0;
}

int eph_sockdiag_fill_bound(struct eph_portiter *pi, struct eph_occ_sock *socks, size_t n,
			    struct eph_sockdiag_bound *bound)
{
	struct bucket_recs b = { 0 };
	uint64_t *cookies = NULL;
	size_t i, nc = 0;
	int err = 0;

	if (bound)
		bound->listed = false;
	if (pi)
		err = eph_portiter__read(pi, push_rec, &b);
	if (err)
		b.n = b.nbound = 0; /* a partial pass: sockets it missed would look unknown */
	if (b.n)
		qsort(b.by_cookie, b.n, sizeof(*b.by_cookie), cmp_rec_cookie);
	for (i = 0; i < n; i++)
		if (socks[i].proto == IPPROTO_TCP)
			sock_fill(&b, &socks[i]);
	if (!err && bound && b.walked) {
		err = listed_cookies(socks, n, &cookies, &nc);
		/* socks is not used after this: add may move it */
		err = err ?: add_bound(&b, cookies, nc, bound);
		bound->listed = !err;
	}
	free(cookies);
	free(b.by_cookie);
	free(b.by_key);
	free(b.bound);
	return err;
}

int eph_sockdiag_fill_buckets(struct eph_portiter *pi, struct eph_occ_sock *socks, size_t n)
{
	return eph_sockdiag_fill_bound(pi, socks, n, NULL);
}

/* ---- collecting a snapshot --------------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

struct sockvec {
	struct eph_occ_sock *v;
	size_t n, cap;
};

struct ns_read {
	uint32_t netns;
	struct eph_portiter *portiter;
	int range_err;
	int dump_err;
	int bucket_err;
	bool bound_listed; /* the iterator found its bound-only sockets */
	struct eph_port_range range;
	struct sockvec *socks;
};

static int push_sock(const struct eph_occ_sock *s, void *ctx)
{
	struct sockvec *sv = ctx;
	int err;

	err = eph_grow((void **)&sv->v, &sv->cap, sv->n, sizeof(*sv->v));
	if (err)
		return err;
	sv->v[sv->n++] = *s;
	return 0;
}

/* Runs inside the namespace: its range, its sockets, then their bind buckets and, before 6.8,
 * the bound-only sockets sock_diag does not list. */
static int read_ns(void *ctx)
{
	struct ns_read *r = ctx;
	struct eph_sockdiag_bound bound = { .add = push_sock, .ctx = r->socks, .netns = r->netns };
	size_t before = r->socks->n;

	r->range_err = eph_port_range_read(&r->range);
	if (r->range_err)
		return r->range_err;
	r->dump_err = eph_sockdiag_dump(r->netns, push_sock, r->socks);
	if (r->dump_err)
		return r->dump_err;
	r->bucket_err = eph_sockdiag_fill_bound(r->portiter, r->socks->v + before,
						r->socks->n - before, &bound);
	r->bound_listed = bound.listed;
	return 0;
}

static void warn_ns(FILE *warn, const struct eph_netns *ns, const char *what, int err)
{
	if (!warn)
		return;
	fprintf(warn, "ephtrace: netns %u (%s): %s: %s%s\n", ns->inode, ns->path, what,
		strerror(-err), err == -EPERM || err == -EACCES ? " (run as root to see it)" : "");
}

/* Whether the port iterator gave the buckets of a namespace read, and its bound-only sockets
 * where sock_diag lists none. */
static void note_buckets(struct eph_sockdiag_opts *o, const struct ns_read *r, bool lists_bound)
{
	if (!lists_bound && !r->bound_listed)
		o->no_bound++;
	if (o->portiter && !r->bucket_err)
		return;
	o->no_buckets++;
	if (r->bucket_err && !o->bucket_err)
		o->bucket_err = r->bucket_err;
}

/* Read one namespace: its settings into out, its sockets into sv (none when it failed: they
 * could not be classified, or are incomplete). 0, or -ENOMEM (out->err: how it failed). */
static int read_one(const struct eph_netns_list *l, const struct eph_netns *ns, struct sockvec *sv,
		    struct eph_sockdiag_opts *o, bool lists_bound, struct eph_sockdiag_ns *out)
{
	size_t before = sv->n;
	struct ns_read *r;
	int err;

	out->inode = ns->inode;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->netns = ns->inode;
	r->portiter = o->portiter;
	r->socks = sv;
	err = eph_netns__run(l, ns, read_ns, r);
	if (err && !r->range_err && !r->dump_err) {
		warn_ns(o->warn, ns, "cannot enter it", err);
	} else if (r->range_err) {
		warn_ns(o->warn, ns, "cannot read ip_local_port_range", r->range_err);
		err = r->range_err;
	} else if (r->dump_err) {
		warn_ns(o->warn, ns, "cannot list its sockets", r->dump_err);
		err = r->dump_err;
	}
	if (!err) {
		out->range = malloc(sizeof(*out->range));
		if (out->range)
			*out->range = r->range;
		else
			err = -ENOMEM;
	}
	if (err) {
		sv->n = before;
		out->err = err;
	} else {
		note_buckets(o, r, lists_bound);
	}
	free(r);
	return err == -ENOMEM ? err : 0;
}

/* The inodes whose owners matter: sockets on a port of their namespace's range. Ascending,
 * without duplicates. */
static int wanted_inodes(const struct eph_sockdiag_snap *s, uint64_t **out, size_t *n)
{
	const struct eph_sockdiag_ns *ns = NULL;
	size_t i, k = 0;

	*out = malloc((s->nsocks + 1) * sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (i = 0; i < s->nsocks; i++) {
		const struct eph_occ_sock *sk = &s->socks[i];

		if (!ns || ns->inode != sk->netns) /* the sockets come namespace by namespace */
			for (ns = s->ns; ns < s->ns + s->nns && ns->inode != sk->netns; ns++)
				;
		if (!sk->inode || ns == s->ns + s->nns || !ns->range ||
		    sk->sport < ns->range->low || sk->sport > ns->range->high)
			continue;
		(*out)[k++] = sk->inode;
	}
	if (k)
		qsort(*out, k, sizeof(**out), cmp_u64);
	*n = 0;
	for (i = 0; i < k; i++)
		if (!*n || (*out)[*n - 1] != (*out)[i])
			(*out)[(*n)++] = (*out)[i];
	return 0;
}

/* The owners of the snapshot's sockets, from o->owners (or a whole walk of its own). */
static int find_owners(struct eph_sockdiag_snap *s, const struct eph_sockdiag_opts *o)
{
	struct eph_owners *owners = o->owners ?: eph_owners__new();
	uint64_t *want;
	size_t n;
	int err;

	if (!owners)
		return -ENOMEM;
	err = wanted_inodes(s, &want, &n);
	if (!err)
		err = eph_owners__update(owners, want, n, o->hints, o->nhints,
					 o->whole || !o->owners);
	if (!err)
		err = eph_owners__fill_copy(owners, s->socks, s->nsocks, &s->paths, &s->npaths);
	s->owners = *eph_owners__stats(owners);
	if (!o->owners)
		eph_owners__free(owners);
	free(want);
	return err;
}

int eph_sockdiag_collect(const struct eph_netns_list *l, uint32_t only_netns,
			 struct eph_sockdiag_opts *o, struct eph_sockdiag_snap **out)
{
	struct eph_sockdiag_snap *s;
	struct sockvec sv = { 0 };
	size_t i;
	int err = 0;

	o->no_buckets = 0;
	o->bucket_err = 0;
	o->no_bound = 0;
	*out = s = calloc(1, sizeof(*s));
	if (s)
		s->ns = calloc(l->n + 1, sizeof(*s->ns));
	if (!s || !s->ns) {
		eph_sockdiag_snap__free(s);
		*out = NULL;
		return -ENOMEM;
	}
	s->lists_bound = eph_sockdiag_kernel_lists_bound();
	s->start_ns = now_ns();
	for (i = 0; i < l->n && !err; i++) {
		if (only_netns && l->ns[i].inode != only_netns)
			continue;
		if (o->cancel && atomic_load(o->cancel))
			err = -ECANCELED;
		else
			err = read_one(l, &l->ns[i], &sv, o, s->lists_bound, &s->ns[s->nns++]);
	}
	s->dumped_ns = now_ns();
	s->no_bound = o->no_bound;
	s->socks = sv.v;
	s->nsocks = sv.n;
	/* owners after the dump: every socket listed existed before the walk over /proc */
	if (!err)
		err = find_owners(s, o);
	s->end_ns = now_ns();
	if (err) {
		eph_sockdiag_snap__free(s);
		*out = NULL;
	}
	return err;
}

void eph_sockdiag_snap__free(struct eph_sockdiag_snap *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->nns; i++)
		free(s->ns[i].range);
	for (i = 0; i < s->npaths; i++)
		free(s->paths[i]);
	free(s->paths);
	free(s->ns);
	free(s->socks);
	free(s);
}

/* ---- releases seen while a snapshot was taken ----------------------------------------------- */

static bool v4mapped(const uint8_t *a)
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(a, prefix, sizeof(prefix));
}

/* An IPv4-mapped IPv6 address as IPv4 (the first 4 bytes), as the occupancy counts it. */
static void unmap(uint8_t *a)
{
	memmove(a, a + 12, 4);
	memset(a + 4, 0, 12);
}

bool eph_sockdiag_release_of(const struct eph_event *ev, struct eph_sockdiag_release *r)
{
	size_t alen = ev->family == AF_INET ? 4 : 16;

	if (ev->type != EPH_RELEASE)
		return false;
	memset(r, 0, sizeof(*r));
	r->ts_ns = ev->ts_ns;
	r->cookie = ev->cookie;
	r->netns = ev->netns;
	r->proto = ev->proto;
	r->family = ev->family;
	r->sport = ev->sport;
	r->has_saddr = !!(ev->flags & EPH_F_SADDR);
	r->has_daddr = !!(ev->flags & EPH_F_DEST);
	if (r->has_saddr)
		memcpy(r->saddr, ev->saddr, alen);
	if (r->has_daddr) {
		memcpy(r->daddr, ev->daddr, alen);
		r->dport = ev->dport;
	}
	if (ev->family == AF_INET6 && v4mapped(r->has_daddr ? r->daddr : r->saddr)) {
		r->family = AF_INET;
		unmap(r->saddr);
		unmap(r->daddr);
	}
	return true;
}

static int cmp_release(const void *a, const void *b)
{
	const struct eph_sockdiag_release *x = a, *y = b;

	if (x->netns != y->netns)
		return x->netns < y->netns ? -1 : 1;
	return x->sport < y->sport ? -1 : x->sport > y->sport;
}

/* Whether release r is about socket s (its family and addresses as r has them). */
static bool release_matches(const struct eph_sockdiag_release *r, const struct eph_occ_sock *s,
			    uint8_t family, const uint8_t *saddr, const uint8_t *daddr)
{
	static const uint8_t any[16];

	if (r->proto != s->proto || r->family != family)
		return false;
	if (r->cookie && s->cookie)
		return r->cookie == s->cookie;
	if (r->has_daddr && (r->dport != s->dport || memcmp(r->daddr, daddr, 16)))
		return false;
	/* a socket bound to the wildcard address releases it as such */
	return !r->has_saddr || !memcmp(r->saddr, saddr, 16) || !memcmp(r->saddr, any, 16);
}

/* Whether a release of rel (sorted by netns, port) at or after from is about s. */
static bool released(const struct eph_sockdiag_release *rel, size_t n, uint64_t from,
		     const struct eph_occ_sock *s)
{
	struct eph_sockdiag_release key = { .netns = s->netns, .sport = s->sport };
	uint8_t saddr[16] = { 0 }, daddr[16] = { 0 }, family = s->family;
	size_t lo = 0, hi = n, alen = s->family == AF_INET ? 4 : 16;

	while (lo < hi) { /* the first release of (netns, port) */
		size_t mid = (lo + hi) / 2;

		if (cmp_release(&rel[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == n || cmp_release(&rel[lo], &key))
		return false;
	memcpy(saddr, s->saddr, alen);
	memcpy(daddr, s->daddr, alen);
	if (family == AF_INET6 && v4mapped(s->dport ? daddr : saddr)) {
		family = AF_INET;
		unmap(saddr);
		unmap(daddr);
	}
	for (; lo < n && !cmp_release(&rel[lo], &key); lo++)
		if (rel[lo].ts_ns >= from && release_matches(&rel[lo], s, family, saddr, daddr))
			return true;
	return false;
}

size_t eph_sockdiag_snap__drop_released(struct eph_sockdiag_snap *s,
					struct eph_sockdiag_release *rel, size_t n)
{
	size_t i, k = 0;

	if (!n)
		return 0;
	qsort(rel, n, sizeof(*rel), cmp_release);
	for (i = 0; i < s->nsocks; i++)
		if (!released(rel, n, s->start_ns, &s->socks[i]))
			s->socks[k++] = s->socks[i];
	n = s->nsocks - k;
	s->nsocks = k;
	return n;
}

/* ---- giving a snapshot to an occupancy ------------------------------------------------------ */

/* The range and the TIME_WAIT settings of a namespace read, into occ. 0 or -errno. */
static int set_settings(struct eph_occ *occ, uint32_t netns, const struct eph_port_range *r)
{
	int err;

	err = eph_occ__set_range(occ, netns, r->low, r->high, r->reserved);
	if (err)
		return err;
	return eph_occ__set_tw_opts(occ, netns,
				    &(struct eph_occ_tw_opts){
					    .tw_reuse = r->tw_reuse,
					    .timestamps = r->timestamps != 0,
					    .reuse_delay_ms = r->tw_reuse_delay_ms,
				    });
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

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The sockets of s without those of the namespaces in bad (ascending; none: s's own). */
static int socks_without(const struct eph_sockdiag_snap *s, const uint32_t *bad, size_t nbad,
			 struct eph_occ_sock **out, size_t *n)
{
	size_t i;

	*out = s->socks;
	*n = s->nsocks;
	if (!nbad)
		return 0;
	*out = malloc((s->nsocks + 1) * sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (i = 0, *n = 0; i < s->nsocks; i++)
		if (!bsearch(&s->socks[i].netns, bad, nbad, sizeof(*bad), cmp_u32))
			(*out)[(*n)++] = s->socks[i];
	return 0;
}

int eph_sockdiag_apply(struct eph_occ *occ, const struct eph_sockdiag_snap *s, bool reconcile,
		       uint64_t snap_ns)
{
	struct eph_occ_sock *socks;
	uint32_t *bad = NULL;
	size_t i, n, nbad = 0, nread = 0;
	int err = 0, first_err = 0;

	for (i = 0; i < s->nns && !err; i++) {
		const struct eph_sockdiag_ns *ns = &s->ns[i];
		int e = ns->err;

		if (!e)
			e = set_settings(occ, ns->inode, ns->range);
		if (e && e != -ENOMEM) {
			if (!ns->err) { /* its sockets must go: their namespace has no range */
				bad = bad ?: calloc(s->nns, sizeof(*bad));
				if (!bad)
					return -ENOMEM;
				bad[nbad++] = ns->inode;
			}
			e = eph_occ__add_netns(occ, ns->inode) ?: e;
		}
		if (e == -ENOMEM)
			err = e;
		else if (e && !first_err)
			first_err = e;
		nread += !e;
	}
	err = err ?: socks_without(s, bad, nbad, &socks, &n);
	if (err)
		goto out_free;
	/* one flag for the whole snapshot: listed only if every namespace read had them */
	eph_occ__set_bound_listed(occ, s->lists_bound || (nread && !s->no_bound));
	err = reconcile ? eph_occ__reconcile(occ, socks, n, snap_ns) :
			  eph_occ__seed(occ, socks, n, snap_ns);
	if (socks != s->socks)
		free(socks);
	if (err >= 0 && !nread)
		err = first_err ? first_err : -ENOENT;
out_free:
	free(bad);
	return err;
}

int eph_sockdiag_seed(struct eph_occ *occ, const struct eph_netns_list *l, uint32_t only_netns,
		      uint64_t now_ns, struct eph_sockdiag_opts *o)
{
	struct eph_sockdiag_opts none = { 0 };
	struct eph_sockdiag_snap *s;
	int err;

	err = eph_sockdiag_collect(l, only_netns, o ?: &none, &s);
	if (!err)
		err = eph_sockdiag_apply(occ, s, false, now_ns);
	eph_sockdiag_snap__free(s);
	return err;
}

int eph_sockdiag_reconcile(struct eph_occ *occ, const struct eph_netns_list *l, uint64_t snap_ns,
			   struct eph_sockdiag_opts *o)
{
	struct eph_sockdiag_opts none = { 0 };
	struct eph_sockdiag_snap *s;
	int err;

	err = eph_sockdiag_collect(l, 0, o ?: &none, &s);
	if (!err)
		err = eph_sockdiag_apply(occ, s, true, snap_ns);
	eph_sockdiag_snap__free(s);
	return err;
}
