// SPDX-License-Identifier: GPL-2.0
/* The stats and hists maps read through an iterator. See mapdump.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ephtrace.h"
#include "mapdump.h"
#include "mapdump.skel.h"

#define READ_RECS 256 /* elements per read() */

struct eph_mapdump {
	struct mapdump_bpf *skel;
	struct bpf_link *links[EPH_MAPDUMP_MAX];
	int n;
};

void eph_mapdump__free(struct eph_mapdump *d)
{
	int i;

	if (!d)
		return;
	for (i = 0; i < d->n; i++)
		bpf_link__destroy(d->links[i]);
	mapdump_bpf__destroy(d->skel);
	free(d);
}

struct eph_mapdump *eph_mapdump__open(const int *map_fds, int n, char *why, size_t whylen)
{
	DECLARE_LIBBPF_OPTS(bpf_iter_attach_opts, o);
	union bpf_iter_link_info info;
	struct eph_mapdump *d;
	int e;

	if (n > EPH_MAPDUMP_MAX) {
		errno = EINVAL;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->skel = mapdump_bpf__open();
	if (!d->skel) {
		e = errno;
		snprintf(why, whylen, "cannot open the BPF object: %s", strerror(e));
		goto out;
	}
	if (d->skel->rodata->eph_abi_version != EPH_ABI_VERSION) {
		e = EPROTO;
		snprintf(why, whylen,
			 "the embedded BPF object is of ABI version %u, this ephtrace's is %u: "
			 "rebuild both (make clean && make)",
			 d->skel->rodata->eph_abi_version, EPH_ABI_VERSION);
		goto out;
	}
	e = -mapdump_bpf__load(d->skel);
	if (e) {
		snprintf(why, whylen, "cannot load the iterator program: %s", strerror(e));
		goto out;
	}
	for (; d->n < n; d->n++) {
		memset(&info, 0, sizeof(info));
		info.map.map_fd = map_fds[d->n];
		o.link_info = &info;
		o.link_info_len = sizeof(info);
		d->links[d->n] = bpf_program__attach_iter(d->skel->progs.dump_u64_map, &o);
		if (!d->links[d->n]) {
			e = errno;
			snprintf(why, whylen, "cannot link the iterator to a map: %s", strerror(e));
			goto out;
		}
	}
	return d;

out:
	eph_mapdump__free(d);
	errno = e;
	return NULL;
}

int eph_mapdump__foreach(const struct eph_mapdump *d, int i,
			 int (*fn)(void *ctx, const void *key, uint64_t value), void *ctx)
{
	uint64_t buf[READ_RECS * 2];
	size_t len = 0, k;
	ssize_t n;
	int fd, err = 0;

	if (i < 0 || i >= d->n)
		return -EINVAL;
	fd = bpf_iter_create(bpf_link__fd(d->links[i]));
	if (fd < 0)
		return -errno;
	for (;;) {
		n = read(fd, (char *)buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		len += (size_t)n;
		/* whole elements only; a part waits for the rest */
		for (k = 0; !err && k + 2 * sizeof(*buf) <= len; k += 2 * sizeof(*buf))
			err = fn(ctx, (const char *)buf + k, buf[k / sizeof(*buf) + 1]);
		if (err || !n)
			break;
		memmove(buf, (char *)buf + k, len - k);
		len -= k;
	}
	close(fd);
	return err;
}
