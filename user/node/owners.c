// SPDX-License-Identifier: GPL-2.0
/*
 * Socket inode -> owning process, from /proc, kept from one update to the next so that only
 * the sockets not seen before cost a walk over /proc/PID/fd. See sockdiag.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "order.h"
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
	struct owner_sock *socks; /* the sockets asked for whose owner is known, by inode */
	size_t nsocks, socks_cap;
	struct owner_proc *procs; /* their owners, by pid up to nsorted, then as found */
	size_t nprocs, procs_cap, nsorted;
	uint32_t *listed; /* the pids of the last walk over /proc, ascending */
	size_t nlisted;
	uint64_t *missing; /* inodes no process had at the last whole walk, ascending */
	size_t nmissing, missing_cap;
	uint64_t *unfound; /* inodes the last update looked for and did not find, ascending */
	size_t nunfound, unfound_cap;
	struct eph_owners_stats st;
};

/* One update's search: the inodes it looks for, and who has them. */
struct search {
	const uint64_t *inodes; /* ascending */
	uint32_t *pid;		/* the owner found for each, 0: none yet */
	size_t n, found;
};

static bool has_u64(const uint64_t *v, size_t n, uint64_t x)
{
	return n && bsearch(&x, v, n, sizeof(x), eph_cmp_u64_at);
}

static bool has_u32(const uint32_t *v, size_t n, uint32_t x)
{
	return n && bsearch(&x, v, n, sizeof(x), eph_cmp_u32_at);
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

static const struct owner_proc *find_proc(const struct eph_owners *o, uint32_t pid)
{
	struct owner_proc key = { .pid = pid };
	const struct owner_proc *p = NULL;
	size_t i;

	if (o->nsorted)
		p = bsearch(&key, o->procs, o->nsorted, sizeof(key), eph_cmp_u32_at);
	for (i = o->nsorted; !p && i < o->nprocs; i++) /* the few found by this update */
		if (o->procs[i].pid == pid)
			p = &o->procs[i];
	return p;
}

/* The comm and cgroup of a process that owns a socket now (appended: sort afterwards). */
static int add_proc(struct eph_owners *o, uint32_t pid, int piddir)
{
	char *text, path[CGROUP_PATH_MAX];
	struct owner_proc *p;
	int err;

	err = eph_grow((void **)&o->procs, &o->procs_cap, o->nprocs, sizeof(*o->procs));
	if (err)
		return err;
	text = malloc(CGROUP_PATH_MAX * 2);
	if (!text)
		return -ENOMEM;
	p = &o->procs[o->nprocs];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	if (!read_small(piddir, "comm", p->comm, sizeof(p->comm)))
		p->comm[strcspn(p->comm, "\n")] = '\0';
	if (!read_small(piddir, "cgroup", text, CGROUP_PATH_MAX * 2) &&
	    !eph_parse_cgroup(text, path, sizeof(path))) {
		p->cgroup = strdup(path);
		err = p->cgroup ? 0 : -ENOMEM;
	}
	free(text);
	o->nprocs += !err;
	return err;
}

/* The socket fds of one process: the inodes searched for that it has. */
static int scan_pid(struct eph_owners *o, struct search *s, uint32_t pid, int procfd)
{
	char link[64], name[16];
	size_t before = s->found;
	struct dirent *de;
	int piddir, fdfd, err = 0;
	uint64_t inode;
	ssize_t n;
	DIR *d;

	o->st.scanned++;
	snprintf(name, sizeof(name), "%u", pid);
	piddir = openat(procfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (piddir < 0)
		return 0; /* gone */
	fdfd = openat(piddir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fdfd < 0 ? NULL : fdopendir(fdfd);
	if (!d) { /* gone, or not ours to look at */
		if (fdfd >= 0)
			close(fdfd);
		goto out_close;
	}
	while ((de = readdir(d))) {
		const uint64_t *hit;

		n = readlinkat(fdfd, de->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (eph_parse_socket_link(link, &inode))
			continue;
		hit = s->n ? bsearch(&inode, s->inodes, s->n, sizeof(inode), eph_cmp_u64_at) : NULL;
		if (hit && !s->pid[hit - s->inodes]) {
			s->pid[hit - s->inodes] = pid;
			s->found++;
		}
	}
	closedir(d);
	if (s->found > before && !find_proc(o, pid))
		err = add_proc(o, pid, piddir);
out_close:
	close(piddir);
	return err;
}

/* Every pid of /proc now, ascending. */
static int list_pids(int procfd, uint32_t **out, size_t *n)
{
	size_t cap = 0;
	struct dirent *de;
	int fd, err = 0;
	char *end;
	DIR *d;

	*out = NULL;
	*n = 0;
	fd = dup(procfd);
	d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0; /* no /proc: no owners known */
	}
	while (!err && (de = readdir(d))) {
		unsigned long pid = strtoul(de->d_name, &end, 10);

		if (*end || !pid || pid > UINT32_MAX)
			continue;
		err = eph_grow((void **)out, &cap, *n, sizeof(**out));
		if (!err)
			(*out)[(*n)++] = pid;
	}
	closedir(d);
	if (*n)
		qsort(*out, *n, sizeof(**out), eph_cmp_u32_at);
	return err;
}

/*
 * Look for the inodes of s in the processes of /proc: those not listed last time first (new
 * since), then the hinted ones, then (whole) all the others; each in ascending pid order, so
 * a whole walk from nothing gives each socket the lowest pid that has it. Stops when every
 * inode is found. *walked: every process was looked at.
 */
static int search_proc(struct eph_owners *o, struct search *s, const uint32_t *hints, size_t nhints,
		       bool whole, bool *walked)
{
	uint32_t *pids, *hint = NULL;
	size_t n, nh = 0, i;
	int procfd, pass, err;

	*walked = false;
	procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0)
		return 0;
	err = list_pids(procfd, &pids, &n);
	if (!err && nhints) {
		hint = malloc(nhints * sizeof(*hint));
		err = hint ? 0 : -ENOMEM;
	}
	for (i = 0; !err && i < nhints; i++)
		if (hints[i] && has_u32(pids, n, hints[i]))
			hint[nh++] = hints[i];
	if (nh)
		qsort(hint, nh, sizeof(*hint), eph_cmp_u32_at);
	for (pass = 0; !err && pass < 3 && s->found < s->n; pass++) {
		for (i = 0; !err && i < n && s->found < s->n; i++) {
			bool listed = has_u32(o->listed, o->nlisted, pids[i]);
			bool hinted = has_u32(hint, nh, pids[i]);

			if ((pass == 0 && listed) || (pass == 1 && (!listed || !hinted)) ||
			    (pass == 2 && (!whole || !listed || hinted)))
				continue;
			err = scan_pid(o, s, pids[i], procfd);
		}
		if (pass == 2 && !err && whole)
			*walked = true;
	}
	if (s->found == s->n && whole)
		*walked = true; /* all found: nothing more to learn by walking on */
	free(hint);
	close(procfd);
	if (err) {
		free(pids);
		return err;
	}
	free(o->listed);
	o->listed = pids;
	o->nlisted = n;
	o->st.listed = n;
	return 0;
}

struct eph_owners *eph_owners__new(void)
{
	return calloc(1, sizeof(struct eph_owners));
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
	free(o->listed);
	free(o->missing);
	free(o->unfound);
	free(o);
}

/* Keep the known owners of the inodes still asked for whose process still runs; the rest of
 * want into s (s->inodes points into *rest). */
static int carry_known(struct eph_owners *o, const uint64_t *want, size_t n, uint64_t **rest,
		       struct search *s)
{
	size_t i, j = 0, k = 0, r = 0;
	bool *alive;

	*rest = malloc((n ? n : 1) * sizeof(**rest));
	alive = calloc(o->nprocs + 1, sizeof(*alive));
	if (!*rest || !alive) {
		free(*rest);
		free(alive);
		return -ENOMEM;
	}
	for (i = 0; i < o->nprocs; i++)
		alive[i] = !kill(o->procs[i].pid, 0) || errno == EPERM;
	for (i = 0; i < n; i++) { /* want and socks both ascending by inode */
		const struct owner_proc *p;

		while (j < o->nsocks && o->socks[j].inode < want[i])
			j++;
		p = j < o->nsocks && o->socks[j].inode == want[i] ? find_proc(o, o->socks[j].pid) :
								    NULL;
		if (p && alive[p - o->procs]) {
			o->socks[k++] = o->socks[j++];
			continue;
		}
		if (!has_u64(o->missing, o->nmissing, want[i]))
			(*rest)[r++] = want[i];
	}
	free(alive);
	o->nsocks = k;
	o->st.carried = k;
	s->inodes = *rest;
	s->n = r;
	return 0;
}

/* Forget the inodes of v not in want (gone). */
static void keep_wanted(uint64_t *v, size_t *nv, const uint64_t *want, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < *nv; i++)
		if (has_u64(want, n, v[i]))
			v[k++] = v[i];
	*nv = k;
}

/* The owners found into socks; owners that own nothing any more are forgotten. */
static int merge_found(struct eph_owners *o, const struct search *s)
{
	size_t i, k = 0;
	bool *used;
	int err = 0;

	for (i = 0; !err && i < s->n; i++) {
		if (!s->pid[i])
			continue;
		err = eph_grow((void **)&o->socks, &o->socks_cap, o->nsocks, sizeof(*o->socks));
		if (!err) {
			o->socks[o->nsocks].inode = s->inodes[i];
			o->socks[o->nsocks++].pid = s->pid[i];
		}
	}
	if (o->nsocks)
		qsort(o->socks, o->nsocks, sizeof(*o->socks), eph_cmp_u64_at);
	if (o->nprocs)
		qsort(o->procs, o->nprocs, sizeof(*o->procs), eph_cmp_u32_at);
	o->nsorted = o->nprocs;
	used = calloc(o->nprocs + 1, sizeof(*used));
	if (!used)
		return -ENOMEM;
	for (i = 0; i < o->nsocks; i++) {
		const struct owner_proc *p = find_proc(o, o->socks[i].pid);

		if (p)
			used[p - o->procs] = true;
	}
	for (i = 0; i < o->nprocs; i++) {
		if (used[i])
			o->procs[k++] = o->procs[i];
		else
			free(o->procs[i].cgroup);
	}
	o->nprocs = o->nsorted = k;
	free(used);
	return err;
}

/* What the search did not find: looked for in vain in every process (missing: not again), or
 * only in some (unfound: if still there next time, every process is looked at). */
static int note_unfound(struct eph_owners *o, const struct search *s, bool walked)
{
	uint64_t **dst = walked ? &o->missing : &o->unfound;
	size_t *nd = walked ? &o->nmissing : &o->nunfound, i;
	size_t *cap = walked ? &o->missing_cap : &o->unfound_cap;
	int err = 0;

	o->nunfound = 0;
	for (i = 0; !err && i < s->n; i++) {
		if (s->pid[i])
			continue;
		err = eph_grow((void **)dst, cap, *nd, sizeof(**dst));
		if (!err)
			(*dst)[(*nd)++] = s->inodes[i];
	}
	if (*nd)
		qsort(*dst, *nd, sizeof(**dst), eph_cmp_u64_at);
	o->st.unfound = s->n - s->found;
	return err;
}

/* Whether an inode the last update could not find is asked for again (it lasts: no churn). */
static bool unfound_again(const struct eph_owners *o, const struct search *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (has_u64(o->unfound, o->nunfound, s->inodes[i]))
			return true;
	return false;
}

int eph_owners__update(struct eph_owners *o, const uint64_t *want, size_t n, const uint32_t *hints,
		       size_t nhints, bool whole)
{
	struct search s = { 0 };
	bool walked = false;
	uint64_t *rest;
	int err;

	memset(&o->st, 0, sizeof(o->st));
	o->st.wanted = n;
	keep_wanted(o->missing, &o->nmissing, want, n);
	err = carry_known(o, want, n, &rest, &s);
	if (err)
		return err;
	whole = whole || unfound_again(o, &s);
	s.pid = calloc(s.n + 1, sizeof(*s.pid));
	err = s.pid ? 0 : -ENOMEM;
	if (!err && s.n)
		err = search_proc(o, &s, hints, nhints, whole, &walked);
	o->st.whole = walked;
	err = err ?: merge_found(o, &s);
	err = err ?: note_unfound(o, &s, walked);
	free(s.pid);
	free(rest);
	return err;
}

const struct eph_owners_stats *eph_owners__stats(const struct eph_owners *o)
{
	return &o->st;
}

/* The owner of inode, or NULL. */
static const struct owner_proc *owner_of(const struct eph_owners *o, uint64_t inode)
{
	size_t lo;

	if (!inode)
		return NULL;
	lo = eph_lower_bound(o->socks, o->nsocks, sizeof(*o->socks), &inode, eph_cmp_u64_at);
	if (lo == o->nsocks || o->socks[lo].inode != inode)
		return NULL;
	return find_proc(o, o->socks[lo].pid);
}

bool eph_owners__fill(const struct eph_owners *o, struct eph_occ_sock *s)
{
	const struct owner_proc *p = owner_of(o, s->inode);

	if (!p)
		return false;
	s->pid = p->pid;
	memcpy(s->comm, p->comm, sizeof(s->comm));
	s->cgroup = p->cgroup;
	return true;
}

int eph_owners__fill_copy(const struct eph_owners *o, struct eph_occ_sock *socks, size_t n,
			  char ***paths, size_t *npaths)
{
	char **copy = calloc(o->nprocs + 1, sizeof(*copy));
	size_t i, k = 0;
	int err = 0;

	*paths = copy;
	*npaths = 0;
	if (!copy)
		return -ENOMEM;
	for (i = 0; i < n && !err; i++) {
		const struct owner_proc *p = owner_of(o, socks[i].inode);
		size_t at;

		if (!p)
			continue;
		socks[i].pid = p->pid;
		memcpy(socks[i].comm, p->comm, sizeof(socks[i].comm));
		at = p - o->procs;
		if (p->cgroup && !copy[at]) {
			copy[at] = strdup(p->cgroup);
			err = copy[at] ? 0 : -ENOMEM;
		}
		socks[i].cgroup = copy[at];
	}
	for (i = 0; i < o->nprocs; i++) /* the copies made, first */
		if (copy[i])
			copy[k++] = copy[i];
	*npaths = k;
	return err;
}
