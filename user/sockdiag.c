// SPDX-License-Identifier: GPL-2.0
/* Sockets and their owners from the kernel, without BPF. See sockdiag.h. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockdiag.h"

/* Big enough for any dump message batch the kernel sends (it sizes them by our buffer). */
#define DIAG_BUF_SIZE 65536
#define CGROUP_PATH_MAX 4096

/* ---- sock_diag ------------------------------------------------------------------------- */

struct dump_ctx {
	uint32_t netns;
	uint8_t proto;
	int (*cb)(const struct eph_occ_sock *s, void *ctx);
	void *ctx;
	int ret;
};

static int on_diag_msg(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *d = data;
	const struct inet_diag_msg *m;
	struct eph_occ_sock s;
	size_t alen;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*m)) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	m = mnl_nlmsg_get_payload(nlh);
	if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
		return MNL_CB_OK;
	alen = m->idiag_family == AF_INET ? 4 : 16;
	memset(&s, 0, sizeof(s));
	s.netns = d->netns;
	s.proto = d->proto;
	s.family = m->idiag_family;
	s.state = m->idiag_state;
	s.sport = ntohs(m->id.idiag_sport);
	s.dport = ntohs(m->id.idiag_dport);
	memcpy(s.saddr, m->id.idiag_src, alen);
	memcpy(s.daddr, m->id.idiag_dst, alen);
	s.cookie = (uint64_t)m->id.idiag_cookie[1] << 32 | m->id.idiag_cookie[0];
	if (m->id.idiag_cookie[0] == INET_DIAG_NOCOOKIE &&
	    m->id.idiag_cookie[1] == INET_DIAG_NOCOOKIE)
		s.cookie = 0;
	s.inode = m->idiag_inode;
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

/* ---- owners ---------------------------------------------------------------------------- */

struct owner_sock {
	uint64_t inode;
	uint32_t pid;
};

struct owner_proc {
	uint32_t pid;
	char comm[EPH_COMM_LEN];
	char *cgroup;
};

struct eph_owners {
	struct owner_sock *socks; /* by inode, then pid */
	size_t nsocks, socks_cap;
	struct owner_proc *procs; /* by pid */
	size_t nprocs, procs_cap;
};

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap ? *cap * 2 : 256;
	void *p;

	if (n < *cap)
		return 0;
	p = reallocarray(*v, c, size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = c;
	return 0;
}

/* A small /proc file into buf (NUL-terminated, possibly cut). */
static int read_small(int dirfd, const char *name, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int owners_add_proc(struct eph_owners *o, uint32_t pid, int piddir)
{
	char *text, path[CGROUP_PATH_MAX];
	struct owner_proc *p;
	int err;

	err = grow((void **)&o->procs, &o->procs_cap, o->nprocs, sizeof(*o->procs));
	if (err)
		return err;
	p = &o->procs[o->nprocs];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	if (!read_small(piddir, "comm", p->comm, sizeof(p->comm)))
		p->comm[strcspn(p->comm, "\n")] = '\0';
	text = malloc(CGROUP_PATH_MAX * 2);
	if (!text)
		return -ENOMEM;
	if (!read_small(piddir, "cgroup", text, CGROUP_PATH_MAX * 2) &&
	    !eph_parse_cgroup(text, path, sizeof(path)))
		p->cgroup = strdup(path);
	free(text);
	o->nprocs++;
	return 0;
}

/* The socket fds of one process. */
static int owners_scan_pid(struct eph_owners *o, uint32_t pid, int piddir)
{
	char link[64];
	struct dirent *de;
	uint64_t inode;
	size_t before = o->nsocks;
	ssize_t n;
	int fdfd, err = 0;
	DIR *d;

	fdfd = openat(piddir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fdfd < 0)
		return 0; /* gone, or not ours to look at */
	d = fdopendir(fdfd);
	if (!d) {
		close(fdfd);
		return 0;
	}
	while (!err && (de = readdir(d))) {
		n = readlinkat(fdfd, de->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (eph_parse_socket_link(link, &inode))
			continue;
		err = grow((void **)&o->socks, &o->socks_cap, o->nsocks, sizeof(*o->socks));
		if (err)
			break;
		o->socks[o->nsocks].inode = inode;
		o->socks[o->nsocks].pid = pid;
		o->nsocks++;
	}
	closedir(d);
	if (!err && o->nsocks > before)
		err = owners_add_proc(o, pid, piddir);
	return err;
}

static int cmp_owner_sock(const void *a, const void *b)
{
	const struct owner_sock *x = a, *y = b;

	if (x->inode != y->inode)
		return x->inode < y->inode ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static int cmp_owner_proc(const void *a, const void *b)
{
	const struct owner_proc *x = a, *y = b;

	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

struct eph_owners *eph_owners__new(void)
{
	struct eph_owners *o;
	struct dirent *de;
	int piddir, err = 0;
	char *end;
	DIR *d;

	o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	d = opendir("/proc");
	if (!d)
		return o; /* no /proc: no owners known */
	while (!err && (de = readdir(d))) {
		unsigned long pid = strtoul(de->d_name, &end, 10);

		if (*end || !pid || pid > UINT32_MAX)
			continue;
		piddir = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (piddir < 0)
			continue;
		err = owners_scan_pid(o, pid, piddir);
		close(piddir);
	}
	closedir(d);
	if (err) {
		eph_owners__free(o);
		return NULL;
	}
	qsort(o->socks, o->nsocks, sizeof(*o->socks), cmp_owner_sock);
	qsort(o->procs, o->nprocs, sizeof(*o->procs), cmp_owner_proc);
	return o;
}

void eph_owners__free(struct eph_owners *o)
{
	size_t i;

	if (!o)
		return;
	for (i = 0; i < o->nprocs; i++)
		free(o->procs[i].cgroup);
	free(o->procs);
	free(o->socks);
	free(o);
}

bool eph_owners__fill(const struct eph_owners *o, struct eph_occ_sock *s)
{
	size_t lo = 0, hi = o->nsocks;
	const struct owner_proc *p;
	struct owner_proc key;

	if (!s->inode)
		return false;
	while (lo < hi) { /* the first entry of this inode: the lowest pid */
		size_t mid = (lo + hi) / 2;

		if (o->socks[mid].inode < s->inode)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == o->nsocks || o->socks[lo].inode != s->inode)
		return false;
	key.pid = o->socks[lo].pid;
	p = bsearch(&key, o->procs, o->nprocs, sizeof(*o->procs), cmp_owner_proc);
	if (!p)
		return false;
	s->pid = p->pid;
	memcpy(s->comm, p->comm, sizeof(s->comm));
	s->cgroup = p->cgroup;
	return true;
}

/* ---- seeding --------------------------------------------------------------------------- */

struct sockvec {
	struct eph_occ_sock *v;
	size_t n, cap;
};

struct ns_read {
	uint32_t netns;
	int range_err;
	int dump_err;
	struct eph_port_range range;
	struct sockvec *socks;
};

static int push_sock(const struct eph_occ_sock *s, void *ctx)
{
	struct sockvec *sv = ctx;
	int err;

	err = grow((void **)&sv->v, &sv->cap, sv->n, sizeof(*sv->v));
	if (err)
		return err;
	sv->v[sv->n++] = *s;
	return 0;
}

/* Runs inside the namespace: its range, then its sockets. */
static int read_ns(void *ctx)
{
	struct ns_read *r = ctx;

	r->range_err = eph_port_range_read(&r->range);
	if (r->range_err)
		return r->range_err;
	r->dump_err = eph_sockdiag_dump(r->netns, push_sock, r->socks);
	return r->dump_err;
}

static void warn_ns(FILE *warn, const struct eph_netns *ns, const char *what, int err)
{
	if (!warn)
		return;
	fprintf(warn, "ephtrace: netns %u (%s): %s: %s%s\n", ns->inode, ns->path, what,
		strerror(-err), err == -EPERM || err == -EACCES ? " (run as root to see it)" : "");
}

/* Read one namespace into occ (its range) and sv (its sockets). 0 or -errno. */
static int seed_ns(struct eph_occ *occ, const struct eph_netns_list *l, const struct eph_netns *ns,
		   struct sockvec *sv, FILE *warn)
{
	size_t before = sv->n;
	struct ns_read *r;
	int err;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->netns = ns->inode;
	r->socks = sv;
	err = eph_netns__run(l, ns, read_ns, r);
	if (err && !r->range_err && !r->dump_err) {
		warn_ns(warn, ns, "cannot enter it", err);
	} else if (r->range_err) {
		warn_ns(warn, ns, "cannot read ip_local_port_range", r->range_err);
		err = r->range_err;
	} else {
		err = eph_occ__set_range(occ, ns->inode, r->range.low, r->range.high,
					 r->range.reserved);
		if (!err && r->dump_err) {
			warn_ns(warn, ns, "cannot list its sockets", r->dump_err);
			err = r->dump_err;
		}
	}
	if (err) {
		sv->n = before; /* its sockets cannot be classified, or are incomplete */
		if (err != -ENOMEM)
			err = eph_occ__add_netns(occ, ns->inode) ?: err;
	}
	free(r);
	return err;
}

static int sockdiag_apply(struct eph_occ *occ, const struct eph_netns_list *l,
			  uint32_t only_netns, uint64_t now_ns, FILE *warn, bool reconcile)
{
	struct sockvec sv = { 0 };
	struct eph_owners *owners;
	int err, first_err = 0;
	size_t i, nread = 0;

	for (i = 0; i < l->n; i++) {
		if (only_netns && l->ns[i].inode != only_netns)
			continue;
		err = seed_ns(occ, l, &l->ns[i], &sv, warn);
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
	err = reconcile ? eph_occ__reconcile(occ, sv.v, sv.n, now_ns)
			: eph_occ__seed(occ, sv.v, sv.n, now_ns);
	eph_owners__free(owners);
	if (err >= 0 && !nread)
		err = first_err ? first_err : -ENOENT;
out_free:
	free(sv.v);
	return err;
}

int eph_sockdiag_seed(struct eph_occ *occ, const struct eph_netns_list *l, uint32_t only_netns,
		      uint64_t now_ns, FILE *warn)
{
	return sockdiag_apply(occ, l, only_netns, now_ns, warn, false);
}

int eph_sockdiag_reconcile(struct eph_occ *occ, const struct eph_netns_list *l,
			   uint64_t snap_ns, FILE *warn)
{
	return sockdiag_apply(occ, l, 0, snap_ns, warn, true);
}
