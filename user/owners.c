// SPDX-License-Identifier: GPL-2.0
/* Socket inode -> owning process, from one walk over /proc. See sockdiag.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sockdiag.h"
#include "strbuf.h"

#define CGROUP_PATH_MAX 4096

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

	err = eph_grow((void **)&o->procs, &o->procs_cap, o->nprocs, sizeof(*o->procs));
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
		err = eph_grow((void **)&o->socks, &o->socks_cap, o->nsocks, sizeof(*o->socks));
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
