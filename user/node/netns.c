// SPDX-License-Identifier: GPL-2.0
/* Network namespaces and the port range in force in each. See netns.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netns.h"
#include "order.h"

#define SYSCTL_RANGE "/proc/sys/net/ipv4/ip_local_port_range"
#define SYSCTL_RESERVED "/proc/sys/net/ipv4/ip_local_reserved_ports"
#define SYSCTL_TW_REUSE "/proc/sys/net/ipv4/tcp_tw_reuse"
#define SYSCTL_TIMESTAMPS "/proc/sys/net/ipv4/tcp_timestamps"
#define SYSCTL_TW_REUSE_DELAY "/proc/sys/net/ipv4/tcp_tw_reuse_delay" /* not in 6.1, 6.12 */

/* ---- parsers --------------------------------------------------------------------------- */

/* A decimal port 0..65535 at *s; *s moves past it. */
static int parse_port(const char **s, uint32_t *out)
{
	const char *p = *s;
	uint32_t v = 0;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (*p - '0');
		if (v > 65535)
			return -EINVAL;
	}
	*out = v;
	*s = p;
	return 0;
}

static const char *skip_blanks(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* Nothing but an optional newline left. */
static bool at_end(const char *s)
{
	return !*s || (*s == '\n' && !s[1]);
}

int eph_parse_port_range(const char *s, uint16_t *low, uint16_t *high)
{
	uint32_t lo, hi;

	s = skip_blanks(s);
	if (parse_port(&s, &lo))
		return -EINVAL;
	if (*s != ' ' && *s != '\t')
		return -EINVAL;
	s = skip_blanks(s);
	if (parse_port(&s, &hi))
		return -EINVAL;
	s = skip_blanks(s);
	if (!at_end(s) || !lo || lo > hi)
		return -EINVAL;
	*low = lo;
	*high = hi;
	return 0;
}

int eph_parse_reserved_ports(const char *s, uint8_t bitmap[EPH_PORT_BITMAP_BYTES])
{
	uint32_t a, b, p;

	if (at_end(s))
		return 0;
	for (;;) {
		if (parse_port(&s, &a))
			return -EINVAL;
		b = a;
		if (*s == '-') {
			s++;
			if (parse_port(&s, &b) || b < a)
				return -EINVAL;
		}
		for (p = a; p <= b; p++)
			bitmap[p / 8] |= 1u << (p % 8);
		if (at_end(s))
			return 0;
		if (*s != ',')
			return -EINVAL;
		s++;
	}
}

int eph_parse_sysctl_u32(const char *s, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (*s - '0');
		if (v > max)
			return -EINVAL;
	}
	if (!at_end(s))
		return -EINVAL;
	*out = v;
	return 0;
}

uint32_t eph_port_bitmap_count(const uint8_t *bitmap, uint16_t low, uint16_t high)
{
	uint32_t p, n = 0;

	for (p = low; p <= high; p++)
		n += !!(bitmap[p / 8] & (1u << (p % 8)));
	return n;
}

/* ---- discovery ------------------------------------------------------------------------- */

/* (struct eph_netns begins with its inode: the list is ordered as eph_cmp_u32_at orders them) */
const struct eph_netns *eph_netns_list__find(const struct eph_netns_list *l, uint32_t inode)
{
	return l->n ? bsearch(&inode, l->ns, l->n, sizeof(*l->ns), eph_cmp_u32_at) : NULL;
}

/* Insert in inode order unless known. Returns 0 or -ENOMEM. */
static int list_add(struct eph_netns_list *l, uint32_t inode, const char *path)
{
	size_t lo = eph_lower_bound(l->ns, l->n, sizeof(*l->ns), &inode, eph_cmp_u32_at);
	struct eph_netns *ns;
	int fd = -1;

	if (lo < l->n && l->ns[lo].inode == inode)
		return 0;
	if (inode != l->self) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return 0; /* gone, or not ours to look at */
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;

		ns = reallocarray(l->ns, cap, sizeof(*ns));
		if (!ns) {
			if (fd >= 0)
				close(fd);
			return -ENOMEM;
		}
		l->ns = ns;
		l->cap = cap;
	}
	memmove(&l->ns[lo + 1], &l->ns[lo], (l->n - lo) * sizeof(*ns));
	ns = &l->ns[lo];
	ns->inode = inode;
	ns->fd = fd;
	snprintf(ns->path, sizeof(ns->path), "%s", path);
	l->n++;
	return 0;
}

/* The namespace behind path (a /proc/PID/ns/net link or an nsfs bind mount), 0 if none. */
static uint32_t netns_inode(const char *path)
{
	struct stat st;

	if (stat(path, &st) || st.st_ino > UINT32_MAX)
		return 0;
	return st.st_ino;
}

static int scan_proc(struct eph_netns_list *l)
{
	struct dirent *de;
	char path[64];
	uint32_t ino;
	DIR *d;
	int err = 0;

	d = opendir("/proc");
	if (!d)
		return -errno;
	while (!err && (de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%.20s/ns/net", de->d_name);
		ino = netns_inode(path);
		if (ino)
			err = list_add(l, ino, path);
	}
	closedir(d);
	return err;
}

static int scan_dir(struct eph_netns_list *l, const char *dir)
{
	struct dirent *de;
	char path[64];
	uint32_t ino;
	DIR *d;
	int err = 0;

	d = opendir(dir);
	if (!d)
		return 0; /* no named namespaces */
	while (!err && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		ino = netns_inode(path);
		if (ino)
			err = list_add(l, ino, path);
	}
	closedir(d);
	return err;
}

struct eph_netns_list *eph_netns_list__new(void)
{
	struct eph_netns_list *l;
	int err;

	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->self = netns_inode("/proc/self/ns/net");
	if (!l->self) {
		err = -errno;
		goto out_free;
	}
	err = list_add(l, l->self, "/proc/self/ns/net");
	if (!err)
		err = scan_proc(l);
	if (!err)
		err = scan_dir(l, "/run/netns");
	if (!err)
		err = scan_dir(l, "/var/run/netns");
	if (err)
		goto out_free;
	return l;

out_free:
	eph_netns_list__free(l);
	errno = -err;
	return NULL;
}

void eph_netns_list__free(struct eph_netns_list *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->n; i++)
		if (l->ns[i].fd >= 0)
			close(l->ns[i].fd);
	free(l->ns);
	free(l);
}

/* ---- running inside a namespace -------------------------------------------------------- */

struct run_ctx {
	int fd;
	int (*fn)(void *ctx);
	void *ctx;
	int ret;
};

static void *run_thread(void *arg)
{
	struct run_ctx *r = arg;

	if (setns(r->fd, CLONE_NEWNET)) {
		r->ret = -errno;
		return NULL;
	}
	r->ret = r->fn(r->ctx);
	return NULL;
}

int eph_netns__run(const struct eph_netns_list *l, const struct eph_netns *ns, int (*fn)(void *ctx),
		   void *ctx)
{
	struct run_ctx r = { .fd = ns->fd, .fn = fn, .ctx = ctx };
	pthread_t t;
	int err;

	if (ns->inode == l->self)
		return fn(ctx);
	if (ns->fd < 0)
		return -EBADF;
	err = pthread_create(&t, NULL, run_thread, &r);
	if (err)
		return -err;
	pthread_join(t, NULL);
	return r.ret;
}

/* ---- the range in force ---------------------------------------------------------------- */

/* The whole of a (sysctl) file, NUL-terminated, in *out to free. */
static int read_file(const char *path, char **out)
{
	size_t len = 0, cap = 4096;
	char *buf, *p;
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (!buf) {
		err = -ENOMEM;
		goto out_close;
	}
	while ((n = read(fd, buf + len, cap - 1 - len)) > 0) {
		len += n;
		if (len < cap - 1)
			continue;
		p = realloc(buf, cap * 2);
		if (!p) {
			err = -ENOMEM;
			goto out_free;
		}
		buf = p;
		cap *= 2;
	}
	if (n < 0) {
		err = -errno;
		goto out_free;
	}
	buf[len] = '\0';
	*out = buf;
	goto out_close;

out_free:
	free(buf);
out_close:
	close(fd);
	return err;
}

/* A numeric sysctl of at most max. 0 or -errno (-ENOENT: no such sysctl in this kernel). */
static int read_sysctl_u32(const char *path, uint32_t max, uint32_t *out)
{
	char *buf;
	int err;

	err = read_file(path, &buf);
	if (err)
		return err;
	err = eph_parse_sysctl_u32(buf, max, out);
	free(buf);
	return err;
}

/* tcp_tw_reuse and tcp_timestamps (u8 sysctls), tcp_tw_reuse_delay where it exists. */
static int tw_settings_read(struct eph_port_range *r)
{
	uint32_t v;
	int err;

	err = read_sysctl_u32(SYSCTL_TW_REUSE, UINT8_MAX, &v);
	if (err)
		return err;
	r->tw_reuse = v;
	err = read_sysctl_u32(SYSCTL_TIMESTAMPS, UINT8_MAX, &v);
	if (err)
		return err;
	r->timestamps = v;
	err = read_sysctl_u32(SYSCTL_TW_REUSE_DELAY, UINT32_MAX, &r->tw_reuse_delay_ms);
	return err == -ENOENT ? 0 : err;
}

int eph_port_range_read(struct eph_port_range *r)
{
	char *buf;
	int err;

	memset(r, 0, sizeof(*r));
	err = read_file(SYSCTL_RANGE, &buf);
	if (err)
		return err;
	err = eph_parse_port_range(buf, &r->low, &r->high);
	free(buf);
	if (err)
		return err;
	err = read_file(SYSCTL_RESERVED, &buf);
	if (err)
		return err;
	err = eph_parse_reserved_ports(buf, r->reserved);
	free(buf);
	if (err)
		return err;
	r->nreserved = eph_port_bitmap_count(r->reserved, r->low, r->high);
	return tw_settings_read(r);
}

static int read_range_fn(void *ctx)
{
	return eph_port_range_read(ctx);
}

int eph_netns__read_range(const struct eph_netns_list *l, const struct eph_netns *ns,
			  struct eph_port_range *r)
{
	return eph_netns__run(l, ns, read_range_fn, r);
}
