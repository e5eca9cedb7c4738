// SPDX-License-Identifier: GPL-2.0
/* The port iterator: load once, read per network namespace. See portiter.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "msg.h"
#include "portiter.h"
#include "portiter.skel.h"
#include "sockdiag.h"

#define READ_RECS 256 /* records per read() */
/* The walk's ring buffer: 32768 BOUND records of 56 bytes (and 8 of header each). A walk with
 * more bound-only sockets has no WALKED record: the caller is told its list is not whole. */
#ifndef WALK_RING_SIZE /* (a test build can make it smaller) */
#define WALK_RING_SIZE (2u << 20)
#endif

struct eph_portiter {
	struct portiter_bpf *skel;
	struct bpf_link *link;
	struct ring_buffer *ring; /* the bind hash walk's records; NULL: no walk on this kernel */
	/* the pass being read: where the ring's records go (NULL: dropped), the BOUND ones so
	 * far, and cb's non-zero return */
	int (*cb)(const struct eph_portiter_rec *rec, void *ctx);
	void *ctx;
	uint32_t nbound;
	int cb_ret;
	bool nowalk; /* portiter_tcp_nowalk: no walk of the bind hash (a kernel without bpf_loop) */
	char nowalk_why[256];
	char degraded[512];
};

static bool print_verbose;

static int portiter_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	return print_verbose ? vfprintf(stderr, fmt, ap) : 0;
}

static void say_why(char *err, size_t errlen, const char *what, int e)
{
	snprintf(err, errlen, "%s: %s%s", what, strerror(e),
		 e == EPERM || e == EACCES ? " (needs root, or CAP_BPF and CAP_PERFMON)" : "");
}

/* One record of the walk's ring buffer to the pass's cb. A WALKED record goes only when every
 * BOUND record before it came. */
static int on_ring_rec(void *ctx, void *data, size_t size)
{
	struct eph_portiter *pi = ctx;
	struct eph_portiter_rec rec;

	if (!pi->cb || size < sizeof(rec))
		return 0;
	memcpy(&rec, data, sizeof(rec));
	if (rec.kind == EPH_PORTITER_REC_BOUND)
		pi->nbound++;
	else if (rec.kind != EPH_PORTITER_REC_WALKED || rec.count != pi->nbound)
		return 0;
	pi->cb_ret = pi->cb(&rec, pi->ctx);
	return pi->cb_ret ? -ECANCELED : 0;
}

/* Whether the program walks the bind hash: where sock_diag lists no bound-only socket, and the
 * program is the one that can. Its ring buffer is sized for it, else one page. */
static int set_walk(struct eph_portiter *pi, bool nowalk)
{
	bool walk = !nowalk && !eph_sockdiag_kernel_lists_bound();
	long page = sysconf(_SC_PAGESIZE);

	pi->skel->rodata->walk_bind_hash = walk;
	return bpf_map__set_max_entries(pi->skel->maps.bound_socks,
					walk ? WALK_RING_SIZE : (page > 0 ? page : 4096));
}

/* What the iterator needs of the kernel before its program is tried: a BPF ring buffer (for the
 * walk's records; a kernel without one, before 5.8, lacks what the program needs anyway) and
 * kernel BTF. 0 or -errno, with err saying why. Not the events' perf-buffer fallback
 * (evbuf.c), and EPH_TEST_PERFBUF does not touch it: where the ring buffer exists, the
 * iterator uses it. */
static int portiter_probe(char *err, size_t errlen)
{
	int e = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL);

	if (e <= 0) { /* libbpf says 0 for any failure: was it bpf() itself (denied)? */
		int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 4, 1, NULL);

		if (fd < 0 || e < 0) {
			e = fd < 0 ? errno : -e;
			say_why(err, errlen, "cannot probe for the BPF ring buffer", e);
			return -e;
		}
		close(fd);
	}
	if (e == 0) {
		snprintf(err, errlen, "no BPF ring buffer in this kernel (5.8+; the iterator "
			 "needs 5.9)");
		return -EOPNOTSUPP;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		e = errno;
		snprintf(err, errlen, "no kernel BTF (/sys/kernel/btf/vmlinux: %s)", strerror(e));
		return -e;
	}
	return 0;
}

/* open -> configure -> load -> attach one of the two programs: portiter_tcp, or without the walk
 * portiter_tcp_nowalk. On failure err says which step and why; 0 or -errno. */
static int portiter_load(struct eph_portiter *pi, bool nowalk, char *err, size_t errlen)
{
	struct bpf_program *prog;
	int e;

	pi->skel = portiter_bpf__open();
	if (!pi->skel) {
		e = errno;
		say_why(err, errlen, "cannot open the BPF object", e);
		return -e;
	}
	if (pi->skel->rodata->eph_abi_version != EPH_ABI_VERSION) {
		/* a build error, not a limit of this kernel: said even without -v */
		snprintf(err, errlen,
			 "the embedded BPF object is of ABI version %u, this ephtrace's is %u "
			 "(include/ephtrace.h): they come from different builds; rebuild both "
			 "(make clean && make)",
			 pi->skel->rodata->eph_abi_version, EPH_ABI_VERSION);
		eph_err("port iterator: %s", err);
		return -EPROTO;
	}
	prog = nowalk ? pi->skel->progs.portiter_tcp_nowalk : pi->skel->progs.portiter_tcp;
	bpf_program__set_autoload(nowalk ? pi->skel->progs.portiter_tcp :
					   pi->skel->progs.portiter_tcp_nowalk,
				  false);
	e = -set_walk(pi, nowalk);
	if (e) {
		say_why(err, errlen, "cannot size the ring buffer", e);
		return -e;
	}
	e = -portiter_bpf__load(pi->skel);
	if (e) {
		say_why(err, errlen, "cannot load the iterator program", e);
		return -e;
	}
	pi->link = bpf_program__attach_iter(prog, NULL);
	if (!pi->link) {
		e = errno;
		say_why(err, errlen, "cannot create the iterator link", e);
		return -e;
	}
	pi->nowalk = nowalk;
	if (!pi->skel->rodata->walk_bind_hash)
		return 0;
	pi->ring = ring_buffer__new(bpf_map__fd(pi->skel->maps.bound_socks), on_ring_rec, pi, NULL);
	if (!pi->ring) {
		e = errno;
		say_why(err, errlen, "cannot map the ring buffer", e);
		return -e;
	}
	return 0;
}

/* What portiter_load() made, gone from the kernel; pi ready for another load. */
static void portiter_unload(struct eph_portiter *pi)
{
	ring_buffer__free(pi->ring);
	bpf_link__destroy(pi->link);
	portiter_bpf__destroy(pi->skel);
	pi->ring = NULL;
	pi->link = NULL;
	pi->skel = NULL;
}

/*
 * The program with the walk where it loads (5.17+: bpf_loop), else the one without: a kernel
 * from 5.9 still gets the buckets of the sockets sock_diag lists. EPH_TEST_WITHOUT=bpf_loop
 * takes the second at once (tests of older kernels' path, as the loader does).
 */
static int portiter_start(struct eph_portiter *pi, char *err, size_t errlen)
{
	char first[256];
	__u32 without;
	int e;

	e = portiter_probe(err, errlen);
	if (e)
		return e;
	e = eph_test_without(&without, err, errlen);
	if (e)
		return e;
	if (!(without & EPH_WITHOUT_LOOP)) {
		e = portiter_load(pi, false, first, sizeof(first));
		if (!e)
			return 0;
		if (e == -EPROTO || e == -EPERM || e == -EACCES) {
			snprintf(err, errlen, "%s", first);
			return e;
		}
		portiter_unload(pi);
	}
	e = portiter_load(pi, true, err, errlen);
	if (e && !(without & EPH_WITHOUT_LOOP)) /* the first one's reason tells more */
		snprintf(err, errlen, "%s", first);
	if (!e) /* a kernel before 5.17 refuses bpf_loop; what this one said, with -v */
		snprintf(pi->nowalk_why, sizeof(pi->nowalk_why), "%s",
			 without & EPH_WITHOUT_LOOP ? "EPH_TEST_WITHOUT=bpf_loop" : first);
	return e;
}

struct eph_portiter *eph_portiter__open(bool verbose, char *err, size_t errlen)
{
	libbpf_print_fn_t old_print;
	struct eph_portiter *pi;
	int ret;

	pi = calloc(1, sizeof(*pi));
	if (!pi) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	print_verbose = verbose;
	old_print = libbpf_set_print(portiter_print);
	ret = portiter_start(pi, err, errlen);
	libbpf_set_print(old_print);
	if (ret) {
		eph_portiter__free(pi);
		return NULL;
	}
	return pi;
}

/* The whole records of buf[0, *len) to cb; what is left of a cut record moves to the front. */
static int feed(char *buf, size_t *len, int (*cb)(const struct eph_portiter_rec *, void *),
		void *ctx)
{
	struct eph_portiter_rec rec;
	size_t off;
	int ret = 0;

	for (off = 0; off + sizeof(rec) <= *len && !ret; off += sizeof(rec)) {
		memcpy(&rec, buf + off, sizeof(rec));
		ret = cb(&rec, ctx);
	}
	memmove(buf, buf + off, *len - off);
	*len -= off;
	return ret;
}

/* The walk's records of the pass just read, to cb. 0, cb's non-zero return, or -errno. */
static int read_ring(struct eph_portiter *pi,
		     int (*cb)(const struct eph_portiter_rec *rec, void *ctx), void *ctx)
{
	int n;

	pi->cb = cb;
	pi->ctx = ctx;
	pi->nbound = 0;
	pi->cb_ret = 0;
	n = ring_buffer__consume(pi->ring);
	pi->cb = NULL;
	if (pi->cb_ret)
		return pi->cb_ret;
	return n < 0 ? n : 0;
}

bool eph_portiter__walks(const struct eph_portiter *pi)
{
	return pi->ring;
}

int eph_portiter__read(struct eph_portiter *pi, unsigned int walk,
		       int (*cb)(const struct eph_portiter_rec *rec, void *ctx), void *ctx)
{
	char buf[READ_RECS * sizeof(struct eph_portiter_rec)];
	size_t len = 0;
	ssize_t n;
	int fd, ret = 0;

	if (pi->ring)
		ring_buffer__consume(pi->ring); /* what a pass cut short left: dropped (no cb) */
	/* read by the program when its walk begins */
	pi->skel->data->walk_scope = walk;
	fd = bpf_iter_create(bpf_link__fd(pi->link));
	if (fd < 0)
		return -errno;
	while (!ret) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (!n)
			break;
		len += n;
		ret = feed(buf, &len, cb, ctx);
	}
	if (!ret && len)
		ret = -EBADMSG; /* a record cut short */
	close(fd);
	if (!ret && pi->ring)
		ret = read_ring(pi, cb, ctx); /* written when the iterator's walk ended */
	return ret;
}

const char *eph_portiter__degraded(struct eph_portiter *pi)
{
	if (!pi->nowalk || eph_sockdiag_kernel_lists_bound())
		return NULL;
	snprintf(pi->degraded, sizeof(pi->degraded),
		 "without its walk of the bind hash (it needs bpf_loop(), 5.17; %s): TCP sockets "
		 "only bound are not listed (sock_diag lists them from 6.8)",
		 pi->nowalk_why);
	return pi->degraded;
}

void eph_portiter__free(struct eph_portiter *pi)
{
	if (!pi)
		return;
	portiter_unload(pi);
	free(pi);
}
