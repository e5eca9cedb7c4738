// SPDX-License-Identifier: GPL-2.0
/* Per-pid facts from /proc, cached. See procinfo.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "procinfo.h"
#include "sockdiag.h"
#include "table.h"

#define CGROUP_TEXT_MAX 8192

const char *eph_node_root;

struct eph_procinfo {
	struct eph_tab pids; /* struct eph_pinfo, by pid */
	struct eph_containers *cs;
	uint32_t init_netns;
	uint32_t max;
};

static uint32_t pid_hash(uint32_t pid)
{
	return eph_tab__hash(&pid, sizeof(pid));
}

static uint32_t netns_of(const char *path)
{
	struct stat st;

	if (stat(path, &st) || st.st_ino > UINT32_MAX)
		return 0;
	return st.st_ino;
}

struct eph_procinfo *eph_procinfo__new(const char *node_root, uint32_t max)
{
	static const struct eph_tab_key key = { .off = offsetof(struct eph_pinfo, pid),
						.len = sizeof(uint32_t) };
	struct eph_procinfo *pi = calloc(1, sizeof(*pi));

	if (!pi)
		return NULL;
	pi->max = max ? max : EPH_PI_DEFAULT_MAX;
	pi->cs = eph_containers__new(node_root ? node_root : "", NULL, 0);
	if (!pi->cs || eph_tab__init(&pi->pids, sizeof(struct eph_pinfo), &key, 1, pi->max)) {
		eph_procinfo__free(pi);
		errno = ENOMEM;
		return NULL;
	}
	/* PID 1's; where it cannot be read, ephtrace's own (it runs in the node's: hostNetwork) */
	pi->init_netns = netns_of("/proc/1/ns/net") ?: netns_of("/proc/self/ns/net");
	return pi;
}

static void pinfo_clear(struct eph_pinfo *p)
{
	free(p->cgroup);
	free(p->ct);
	p->cgroup = NULL;
	p->ct = NULL;
}

void eph_procinfo__free(struct eph_procinfo *pi)
{
	uint32_t i;

	if (!pi)
		return;
	for (i = 0; i < pi->pids.top; i++)
		if (pi->pids.used[i])
			pinfo_clear(eph_tab__rec(&pi->pids, i));
	eph_tab__fini(&pi->pids);
	eph_containers__free(pi->cs);
	free(pi);
}

/* Full: forget the pids not asked for in the last TTL; if that frees less than a quarter,
 * forget all but the current one's slot (the cache only saves /proc reads). */
static void evict(struct eph_procinfo *pi, uint64_t now_ns)
{
	uint64_t horizon = now_ns > EPH_PI_TTL_NS ? now_ns - EPH_PI_TTL_NS : 0;
	uint32_t i, before = pi->pids.len;
	bool all = false;

again:
	for (i = 0; i < pi->pids.top; i++) {
		struct eph_pinfo *p = eph_tab__rec(&pi->pids, i);

		if (pi->pids.used[i] && (all || p->used_ns <= horizon)) {
			pinfo_clear(p);
			eph_tab__del(&pi->pids, i, NULL);
		}
	}
	if (!all && before - pi->pids.len < before / 4) {
		all = true;
		goto again;
	}
}

/* Read /proc/PID: 0, -ENOENT (gone: p unchanged) or -ENOMEM. */
static int learn(struct eph_procinfo *pi, struct eph_pinfo *p, uint64_t now_ns)
{
	char path[64], *text, cg[4096];
	struct eph_container c;
	int err;

	text = malloc(CGROUP_TEXT_MAX);
	if (!text)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/%u/cgroup", p->pid);
	err = eph_read_text(path, text, CGROUP_TEXT_MAX);
	if (err) {
		free(text);
		return -ENOENT;
	}
	pinfo_clear(p);
	if (!eph_parse_cgroup(text, cg, sizeof(cg))) {
		p->cgroup = strdup(cg);
		if (!p->cgroup)
			goto out_nomem;
	}
	err = eph_containers__resolve(pi->cs, text, now_ns, &c);
	if (err == -ENOMEM)
		goto out_nomem;
	if (!err && !eph_container__none(&c)) {
		p->ct = malloc(sizeof(*p->ct));
		if (!p->ct)
			goto out_nomem;
		*p->ct = c;
	}
	snprintf(path, sizeof(path), "/proc/%u/ns/net", p->pid);
	p->netns = netns_of(path);
	p->learned_ns = now_ns;
	p->known = true;
	free(text);
	return 0;

out_nomem:
	free(text);
	return -ENOMEM;
}

const struct eph_pinfo *eph_procinfo__get(struct eph_procinfo *pi, uint32_t pid, uint64_t now_ns,
					  bool *fresh)
{
	uint32_t hash = pid_hash(pid);
	struct eph_pinfo *p;
	int64_t i;

	if (fresh)
		*fresh = false;
	if (!pid)
		return NULL;
	i = eph_tab__find(&pi->pids, 0, &pid, hash);
	if (i < 0) {
		if (pi->pids.len >= pi->max)
			evict(pi, now_ns);
		i = eph_tab__alloc(&pi->pids);
		if (i < 0)
			return NULL;
		p = eph_tab__rec(&pi->pids, i);
		p->pid = pid;
		eph_tab__link(&pi->pids, i, &hash);
	}
	p = eph_tab__rec(&pi->pids, i);
	p->used_ns = now_ns;
	if (!p->learned_ns || now_ns >= p->learned_ns + EPH_PI_TTL_NS) {
		int err = learn(pi, p, now_ns);

		if (err == -ENOMEM)
			return NULL;
		if (!err && fresh)
			*fresh = true;
		if (err) /* gone: keep what was known; do not try again before the TTL */
			p->learned_ns = now_ns;
	}
	return p;
}

/* The namespace p's container owns: not the node's own (a hostNetwork pod's). */
static uint32_t claim_of(const struct eph_procinfo *pi, const struct eph_pinfo *p)
{
	return p->ct && p->netns != pi->init_netns ? p->netns : 0;
}

int eph_procinfo__fact(struct eph_procinfo *pi, uint32_t pid, uint64_t now_ns, struct eph_pfact *f)
{
	const struct eph_pinfo *p;
	bool fresh;

	memset(f, 0, sizeof(*f));
	if (!pid)
		return 0;
	p = eph_procinfo__get(pi, pid, now_ns, &fresh);
	if (!p)
		return -ENOMEM;
	if (!fresh && !p->known)
		return 0;
	f->pid = pid;
	f->fresh = fresh;
	f->claim_netns = claim_of(pi, p);
	if (p->cgroup && !(f->cgroup = strdup(p->cgroup)))
		goto out_nomem;
	if (p->ct && !(f->ct = malloc(sizeof(*f->ct))))
		goto out_nomem;
	if (p->ct)
		*f->ct = *p->ct;
	return 1;

out_nomem:
	eph_pfact__clear(f);
	return -ENOMEM;
}

/* What pid's facts give the occupancy: its cgroup and container, and claim_netns (0: none) for
 * the container. Only when /proc was read now (fresh), or when an occupancy that pruned the
 * process and met it again has lost the container it was given (or that it has none). */
static int occ_apply(struct eph_occ *occ, uint32_t pid, bool fresh, const char *cgroup,
		     const struct eph_container *ct, uint32_t claim_netns)
{
	int err;

	if (!fresh && eph_occ__container_known(occ, pid, NULL))
		return 0;
	if (cgroup) {
		err = eph_occ__set_cgroup(occ, pid, cgroup);
		if (err)
			return err;
	}
	err = eph_occ__set_container(occ, pid, ct);
	if (!err && claim_netns)
		err = eph_occ__claim_netns(occ, claim_netns, ct);
	return err == -EINVAL ? 0 : err;
}

int eph_pfact__apply(const struct eph_pfact *f, struct eph_occ *occ)
{
	if (!f->pid)
		return 0;
	return occ_apply(occ, f->pid, f->fresh, f->cgroup, f->ct, f->claim_netns);
}

void eph_pfact__clear(struct eph_pfact *f)
{
	if (!f)
		return;
	free(f->cgroup);
	free(f->ct);
	memset(f, 0, sizeof(*f));
}

int eph_procinfo__apply(struct eph_procinfo *pi, struct eph_occ *occ, uint32_t pid, uint64_t now_ns)
{
	const struct eph_pinfo *p;
	bool fresh;

	p = eph_procinfo__get(pi, pid, now_ns, &fresh);
	if (!p)
		return pid ? -ENOMEM : 0;
	if (!p->known)
		return 0; /* gone before it could be read: nothing to say */
	return occ_apply(occ, pid, fresh, p->cgroup, p->ct, claim_of(pi, p));
}

uint32_t eph_procinfo__init_netns(const struct eph_procinfo *pi)
{
	return pi->init_netns;
}

uint32_t eph_procinfo__count(const struct eph_procinfo *pi)
{
	return pi->pids.len;
}

size_t eph_procinfo__containers(const struct eph_procinfo *pi)
{
	return eph_containers__count(pi->cs);
}
