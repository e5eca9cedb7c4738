// SPDX-License-Identifier: GPL-2.0
/* Private mounts for attaching: tracefs and the cgroup v2 root (see mounts.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mounts.h"
#include "msg.h"

#define TRACEFS "/sys/kernel/tracing"

bool eph_has_caps(uint64_t mask)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};
	uint64_t eff;

	if (syscall(SYS_capget, &hdr, data))
		return geteuid() == 0;
	eff = data[0].effective | ((uint64_t)data[1].effective << 32);
	return (eff & mask) == mask;
}

void eph_mnt_undo(struct eph_mnt *m)
{
	if (m->mounted)
		umount2(m->target, MNT_DETACH); /* what was attached does not need it */
	if (m->private &&
	    (setns(m->oldns, CLONE_NEWNS) || fchdir(m->root) || chroot(".") || fchdir(m->cwd)))
		eph_err("cannot return to the original mount namespace: %s", strerror(errno));
	if (m->made_dir)
		rmdir(m->target);
	if (m->oldns >= 0)
		close(m->oldns);
	if (m->root >= 0)
		close(m->root);
	if (m->cwd >= 0)
		close(m->cwd);
	*m = (struct eph_mnt)EPH_MNT_INIT;
}

/*
 * Mount fstype on target, in a mount namespace of our own when we can: the host never sees it,
 * and if we are killed meanwhile (SIGKILL) the namespace and its mount go with us. Then back to
 * the original namespace (setns() needs CAP_SYS_CHROOT too). Without a namespace of our own
 * (no such capabilities, namespaces forbidden, threads) it is mounted in place.
 */
static int mount_private(struct eph_mnt *m, const char *fstype, const char *target)
{
	int err;

	snprintf(m->target, sizeof(m->target), "%s", target);
	m->oldns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	m->root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	m->cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (eph_has_caps(1ull << CAP_SYS_ADMIN | 1ull << CAP_SYS_CHROOT) && m->oldns >= 0 &&
	    m->root >= 0 && m->cwd >= 0 && !unshare(CLONE_NEWNS)) {
		m->private = true;
		/* what is mounted here must not propagate back to the original namespace */
		if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL)) {
			err = -errno;
			goto out_undo;
		}
	}
	if (mount(fstype, target, fstype, 0, NULL)) {
		err = -errno;
		goto out_undo;
	}
	m->mounted = true;
	return 0;

out_undo:
	eph_mnt_undo(m);
	return err;
}

int eph_tracefs_mount(struct eph_mnt *m)
{
	if (!access(TRACEFS "/events", F_OK) || !access("/sys/kernel/debug/tracing/events", F_OK))
		return 0;
	return mount_private(m, "tracefs", TRACEFS);
}

/* A cgroup2 mount of the hierarchy's root in /proc/self/mountinfo: its mount point, or NULL. */
static char *find_cgroup2_root(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *found = NULL;
	size_t cap = 0;

	if (!f)
		return NULL;
	/* "36 25 0:30 / /sys/fs/cgroup rw,... shared:9 - cgroup2 cgroup2 rw,..." */
	while (!found && getline(&line, &cap, f) > 0) {
		char root[256], point[256], *sep = strstr(line, " - ");

		if (!sep || strncmp(sep + 3, "cgroup2 ", 8))
			continue;
		if (sscanf(line, "%*s %*s %*s %255s %255s", root, point) == 2 &&
		    !strcmp(root, "/") && !strchr(point, '\\')) /* \040 and friends: left alone */
			found = strdup(point);
	}
	free(line);
	fclose(f);
	return found;
}

/*
 * cgroup2 mounted nowhere (fsopen/fsmount, 5.2+): a detached mount, gone with its last fd, so
 * that not even a directory is left if we are killed. -errno when the kernel has no such calls.
 */
static int cgroup2_detached(void)
{
	int fs, mnt, fd, err;

	fs = fsopen("cgroup2", FSOPEN_CLOEXEC);
	if (fs < 0)
		return -errno;
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0)) {
		err = -errno;
		close(fs);
		return err;
	}
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
	err = mnt < 0 ? -errno : 0;
	close(fs);
	if (err)
		return err;
	fd = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = fd < 0 ? -errno : 0;
	close(mnt);
	return err ? err : fd;
}

uint64_t eph_cgroup_fd_id(int fd)
{
	struct {
		struct file_handle h;
		uint64_t id;
	} fh = { .h.handle_bytes = sizeof(uint64_t) };
	int mnt;

	if (name_to_handle_at(fd, "", &fh.h, &mnt, AT_EMPTY_PATH) ||
	    fh.h.handle_bytes != sizeof(uint64_t))
		return 0;
	return fh.id;
}

/* fd, or -EXDEV (closed) when it is not the hierarchy's real root: in a cgroup namespace of
 * its own (a container's, by default on cgroup v2), ephtrace would see only its own subtree. */
static int real_root(int fd, uint64_t *id)
{
	*id = eph_cgroup_fd_id(fd);
	if (*id == 1)
		return fd;
	close(fd);
	return -EXDEV;
}

int eph_cgroup2_root(struct eph_mnt *m, uint64_t *id)
{
	char *point = find_cgroup2_root(), dir[] = "/tmp/ephtrace-cgroup2-XXXXXX";
	int fd, err;

	*id = 0;
	if (point) {
		fd = open(point, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		err = fd < 0 ? -errno : 0;
		free(point);
		return fd < 0 ? err : real_root(fd, id);
	}
	fd = cgroup2_detached();
	if (fd >= 0)
		return real_root(fd, id);
	if (fd != -ENOSYS)
		return fd;
	/* before 5.2: on a directory of our own, privately when we can */
	if (!mkdtemp(dir))
		return -errno;
	err = mount_private(m, "cgroup2", dir);
	if (err) {
		rmdir(dir);
		return err;
	}
	m->made_dir = true;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		eph_mnt_undo(m);
		return err;
	}
	return real_root(fd, id);
}
