/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The file systems the loader needs for attaching only: tracefs (tracepoint ids) and the cgroup
 * v2 root (the cgroup backend's attachments). When one is not mounted, it is mounted in a mount
 * namespace of our own and unmounted again once the programs are attached.
 */
#ifndef EPH_MOUNTS_H
#define EPH_MOUNTS_H

#include <stdbool.h>
#include <stdint.h>

struct eph_mnt {
	bool mounted;  /* by us, on target */
	bool private;  /* in a mount namespace of our own */
	bool made_dir; /* target is a directory we made (removed again) */
	int oldns;     /* where to return, and the root and working directory setns() resets */
	int root;
	int cwd;
	char target[64];
};

#define EPH_MNT_INIT                               \
	{                                          \
		.oldns = -1, .root = -1, .cwd = -1 \
	}

/* Whether all the capabilities of mask (bit n = capability n) are in our effective set. */
bool eph_has_caps(uint64_t mask);

/* tracefs on /sys/kernel/tracing unless it (or debugfs's tracing) is there already. 0 or
 * -errno. */
int eph_tracefs_mount(struct eph_mnt *m);

/*
 * An O_RDONLY fd on the root of the cgroup v2 hierarchy (as our cgroup namespace sees it): an
 * existing cgroup2 mount of it, else a cgroup2 mount attached nowhere (fsmount()), else (before
 * 5.2) cgroup2 mounted privately on a directory of our own. Returns the fd or -errno; *m must be
 * undone with eph_mnt_undo() (the fd stays valid). -EXDEV when the root seen is not the
 * hierarchy's (a cgroup namespace of our own): *id is then the cgroup id seen as root.
 */
int eph_cgroup2_root(struct eph_mnt *m, uint64_t *id);

/*
 * The cgroup id of a cgroup2 directory fd (the kernfs node id that name_to_handle_at() gives,
 * as bpf_get_current_cgroup_id() does): 1 for the hierarchy's real root. 0 if unknown.
 */
uint64_t eph_cgroup_fd_id(int fd);

/* Unmount what was mounted, return to the original mount namespace, remove a made directory. */
void eph_mnt_undo(struct eph_mnt *m);

#endif
