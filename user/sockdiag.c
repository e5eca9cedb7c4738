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
	d->ret = d->cb(&s, d->ctx);
	return d->ret ? MNL_CB_STOP : MNL_CB_OK;
}

/* One dump request (family, protocol, every state) and its answer. */
static int dump_one(struct mnl_socket *nl, char *buf, uint8_t family, struct dump_ctx *d)
{
	unsigned int portid = mnl_socket_get_portid(nl);
	struct inet_diag_req_v2 *req;
	struct nlmsghdr *nlh;
	static uint32_t seq;
	ssize_t n;
	int ret;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = family;
	req->sdiag_protocol = d->proto;
	/* every state: also TIME_WAIT, SYN_SENT and, where the kernel has it, bound-inactive */
	req->idiag_states = ~0u;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	while ((n = mnl_socket_recvfrom(nl, buf, DIAG_BUF_SIZE)) > 0) {
		ret = mnl_cb_run(buf, n, nlh->nlmsg_seq, portid, on_diag_msg, d);
		if (ret == MNL_CB_ERROR)
			return d->ret ? d->ret : -errno;
		if (ret == MNL_CB_STOP)
			return d->ret;
	}
	return n < 0 ? -errno : 0;
}

int eph_sockdiag_dump(uint32_t netns, int (*cb)(const struct eph_occ_sock *s, void *ctx), void *ctx)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	static const uint8_t families[] = { AF_INET, AF_INET6 };
	struct dump_ctx d = { .netns = netns, .cb = cb, .ctx = ctx };
	struct mnl_socket *nl;
	unsigned int i, j;
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
	for (i = 0; i < sizeof(protos) && !err; i++) {
		d.proto = protos[i];
		for (j = 0; j < sizeof(families) && !err; j++) {
			err = dump_one(nl, buf, families[j], &d);
			if (err == -ENOENT && protos[i] != IPPROTO_TCP)
				err = 0; /* no udp_diag in this kernel */
		}
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

/* ---- seeding --------------------------------------------------------------------------- */

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

/* Read one namespace into occ (its range and settings) and sv (its sockets). 0 or -errno. */
static int seed_ns(struct eph_occ *occ, const struct eph_netns_list *l, const struct eph_netns *ns,
		   struct sockvec *sv, struct eph_sockdiag_opts *o, bool lists_bound)
{
	size_t before = sv->n;
	struct ns_read *r;
	int err;

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
	} else {
		err = set_settings(occ, ns->inode, &r->range);
		if (!err && r->dump_err) {
			warn_ns(o->warn, ns, "cannot list its sockets", r->dump_err);
			err = r->dump_err;
		}
	}
	if (err) {
		sv->n = before; /* its sockets cannot be classified, or are incomplete */
		if (err != -ENOMEM)
			err = eph_occ__add_netns(occ, ns->inode) ?: err;
	} else {
		note_buckets(o, r, lists_bound);
	}
	free(r);
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

static int sockdiag_apply(struct eph_occ *occ, const struct eph_netns_list *l, uint32_t only_netns,
			  uint64_t now_ns, struct eph_sockdiag_opts *o, bool reconcile)
{
	struct eph_sockdiag_opts none = { 0 };
	struct sockvec sv = { 0 };
	bool lists_bound = eph_sockdiag_kernel_lists_bound();
	struct eph_owners *owners;
	int err, first_err = 0;
	size_t i, nread = 0;

	if (!o)
		o = &none;
	o->no_buckets = 0;
	o->bucket_err = 0;
	o->no_bound = 0;
	for (i = 0; i < l->n; i++) {
		if (only_netns && l->ns[i].inode != only_netns)
			continue;
		err = seed_ns(occ, l, &l->ns[i], &sv, o, lists_bound);
		if (err == -ENOMEM)
			goto out_free;
		if (err && !first_err)
			first_err = err;
		if (!err)
			nread++;
	}
	/* owners after the dump: every socket listed existed before the walk over /proc */
	owners = eph_owners__new();
	if (!owners) {
		err = -ENOMEM;
		goto out_free;
	}
	for (i = 0; i < sv.n; i++)
		eph_owners__fill(owners, &sv.v[i]);
	/* one flag for the whole snapshot: listed only if every namespace read had them */
	eph_occ__set_bound_listed(occ, lists_bound || (nread && !o->no_bound));
	err = reconcile ? eph_occ__reconcile(occ, sv.v, sv.n, now_ns) :
			  eph_occ__seed(occ, sv.v, sv.n, now_ns);
	eph_owners__free(owners);
	if (err >= 0 && !nread)
		err = first_err ? first_err : -ENOENT;
out_free:
	free(sv.v);
	return err;
}

int eph_sockdiag_seed(struct eph_occ *occ, const struct eph_netns_list *l, uint32_t only_netns,
		      uint64_t now_ns, struct eph_sockdiag_opts *o)
{
	return sockdiag_apply(occ, l, only_netns, now_ns, o, false);
}

int eph_sockdiag_reconcile(struct eph_occ *occ, const struct eph_netns_list *l, uint64_t snap_ns,
			   struct eph_sockdiag_opts *o)
{
	return sockdiag_apply(occ, l, 0, snap_ns, o, true);
}
