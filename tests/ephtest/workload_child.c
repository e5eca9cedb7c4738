// SPDX-License-Identifier: GPL-2.0
/*
 * A workload's child process: fork, a network namespace of its own (or another workload's),
 * lo up, the port range, the reserved ports and tcp_tw_reuse, RLIMIT_NOFILE, IPv6 checked; then
 * it waits to be released and runs its body. The parent's side: workload__start(),
 * workload__start_role(), workload__release(), workload__poll(), workload__free().
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ephtest.h"

#define READY_TIMEOUT_MS 30000
/* ---- child setup ---- */

static int lo_up(struct oracle *o)
{
	struct ifreq ifr;
	int fd, ret = -1;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		wl_msg(o, "socket() for ioctl", errno);
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		wl_msg(o, "SIOCGIFFLAGS lo", errno);
		goto out_close;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr)) {
		wl_msg(o, "SIOCSIFFLAGS lo up", errno);
		goto out_close;
	}
	ret = 0;
out_close:
	close(fd);
	return ret;
}

#define RANGE_PATH "/proc/sys/net/ipv4/ip_local_port_range"

/* Only ever called after unshare(CLONE_NEWNET): /proc/sys is the new namespace's. */
static int set_range(struct oracle *o, unsigned int lo, unsigned int hi)
{
	unsigned int got_lo = 0, got_hi = 0;
	char line[64];
	FILE *f;
	int n;

	f = fopen(RANGE_PATH, "w");
	if (!f) {
		wl_msg(o, "open " RANGE_PATH, errno);
		return -1;
	}
	n = fprintf(f, "%u %u\n", lo, hi);
	if (fclose(f) || n < 0) {
		wl_msg(o, "write " RANGE_PATH, errno);
		return -1;
	}
	f = fopen(RANGE_PATH, "r");
	if (!f || !fgets(line, sizeof(line), f) || sscanf(line, "%u %u", &got_lo, &got_hi) != 2 ||
	    got_lo != lo || got_hi != hi) {
		snprintf(o->msg, sizeof(o->msg), "%s reads back %u %u, not %u %u", RANGE_PATH,
			 got_lo, got_hi, lo, hi);
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

/* Write a sysctl of the child's namespace and read it back. */
static int set_sysctl(struct oracle *o, const char *path, const char *value)
{
	char line[128] = "";
	size_t n = strlen(value);
	FILE *f;

	f = fopen(path, "w");
	if (!f) {
		snprintf(o->msg, sizeof(o->msg), "open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fprintf(f, "%s\n", value) < 0 || fclose(f)) {
		snprintf(o->msg, sizeof(o->msg), "write %s: %s", path, strerror(errno));
		return -1;
	}
	f = fopen(path, "r");
	if (!f || !fgets(line, sizeof(line), f) || strncmp(line, value, n) ||
	    (line[n] && line[n] != '\n')) {
		line[strcspn(line, "\n")] = '\0';
		snprintf(o->msg, sizeof(o->msg), "%s reads back '%s', not '%s'", path, line, value);
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

static int raise_nofile(struct oracle *o)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl)) {
		wl_msg(o, "getrlimit(RLIMIT_NOFILE)", errno);
		return -1;
	}
	if (rl.rlim_max < OCC_MAX_FDS)
		rl.rlim_max = OCC_MAX_FDS;
	rl.rlim_cur = OCC_MAX_FDS;
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		wl_msg(o, "setrlimit(RLIMIT_NOFILE, 4096)", errno);
		return -1;
	}
	return 0;
}

static int join_netns(struct oracle *o, pid_t pid)
{
	char path[64];
	int fd, ret;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(o->msg, sizeof(o->msg), "open %s: %s", path, strerror(errno));
		return -1;
	}
	ret = setns(fd, CLONE_NEWNET);
	if (ret)
		snprintf(o->msg, sizeof(o->msg), "setns(%s): %s", path, strerror(errno));
	close(fd);
	return ret;
}

static int check_v6(struct oracle *o)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		wl_msg(o, "no IPv6: socket(AF_INET6)", errno);
		o->skip = 1;
		return -1;
	}
	wl_loopback(AF_INET6, 9, &ss, &len);
	if (bind(fd, (struct sockaddr *)&ss, len)) {
		wl_msg(o, "no IPv6 on lo: bind([::1]:9)", errno);
		o->skip = 1;
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int child_setup(struct oracle *o, const struct scenario *s, const char *comm, pid_t join)
{
	struct stat st;

	if (comm && prctl(PR_SET_NAME, comm)) {
		wl_msg(o, "prctl(PR_SET_NAME)", errno);
		return -1;
	}
	prctl(PR_GET_NAME, o->comm);
	if (s->many_fds && raise_nofile(o))
		return -1;
	if (join > 0) {
		if (join_netns(o, join))
			return -1;
	} else if (unshare(CLONE_NEWNET)) {
		wl_msg(o, "unshare(CLONE_NEWNET)", errno);
		o->skip = errno == EPERM;
		return -1;
	}
	if (stat("/proc/self/ns/net", &st)) {
		wl_msg(o, "stat /proc/self/ns/net", errno);
		return -1;
	}
	o->netns = st.st_ino;
	if (join > 0)
		return 0; /* set up by the workload that created it */
	if (lo_up(o) || set_range(o, s->range_lo, s->range_hi))
		return -1;
	if (s->reserved && set_sysctl(o, "/proc/sys/net/ipv4/ip_local_reserved_ports", s->reserved))
		return -1;
	if (s->no_tw_reuse && set_sysctl(o, "/proc/sys/net/ipv4/tcp_tw_reuse", "0"))
		return -1;
	if (s->tw_reuse && set_sysctl(o, "/proc/sys/net/ipv4/tcp_tw_reuse", s->tw_reuse))
		return -1;
	if (s->needs_v6 && check_v6(o))
		return -1;
	return 0;
}

static void close_others(int keep1, int keep2)
{
	int fd;

	for (fd = 3; fd < 1024; fd++)
		if (fd != keep1 && fd != keep2)
			close(fd);
}

static void child_main(struct oracle *o, const struct scenario *s, const char *comm,
		       int (*run)(struct oracle *o), pid_t join, int ready_fd, int go_fd)
{
	char c;
	ssize_t n;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	close_others(ready_fd, go_fd);
	if (child_setup(o, s, comm, join))
		_exit(1);
	if (write(ready_fd, "R", 1) != 1)
		_exit(1);
	close(ready_fd);
	do {
		n = read(go_fd, &c, 1);
	} while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(2); /* not released: the parent gave up */
	close(go_fd);
	_exit(run(o) ? 1 : 0);
}

static int wait_ready(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;
	int n;

	do {
		n = poll(&pfd, 1, READY_TIMEOUT_MS);
	} while (n < 0 && errno == EINTR);
	if (n == 0)
		return -ETIMEDOUT;
	if (n < 0)
		return -errno;
	return read(fd, &c, 1) == 1 ? 0 : -EIO;
}

int workload__start(struct workload *w, const struct scenario *s, const char *comm)
{
	return workload__start_role(w, s, comm, s->run, 0);
}

int workload__start_role(struct workload *w, const struct scenario *s, const char *comm,
			 int (*run)(struct oracle *o), pid_t join)
{
	int ready[2], go[2], err;

	memset(w, 0, sizeof(*w));
	w->pid = -1;
	w->go_fd = -1;
	w->o = mmap(NULL, sizeof(*w->o), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (w->o == MAP_FAILED) {
		w->o = NULL;
		return -errno;
	}
	if (pipe2(ready, O_CLOEXEC)) {
		err = -errno;
		goto out_unmap;
	}
	if (pipe2(go, O_CLOEXEC)) {
		err = -errno;
		goto out_close_ready;
	}
	fflush(NULL);
	w->pid = fork();
	if (w->pid < 0) {
		err = -errno;
		goto out_close_go;
	}
	if (w->pid == 0)
		child_main(w->o, s, comm, run, join, ready[1], go[0]);
	close(ready[1]);
	close(go[0]);
	w->go_fd = go[1];
	err = wait_ready(ready[0]);
	close(ready[0]);
	if (err) { /* reap it: its message says why */
		kill(w->pid, SIGKILL);
		waitpid(w->pid, &w->status, 0);
		w->exited = true;
		if (!w->o->msg[0])
			snprintf(w->o->msg, sizeof(w->o->msg), "workload setup: %s",
				 strerror(-err));
		return w->o->skip ? -EAGAIN : -EIO;
	}
	return 0;

out_close_go:
	close(go[0]);
	close(go[1]);
out_close_ready:
	close(ready[0]);
	close(ready[1]);
out_unmap:
	munmap(w->o, sizeof(*w->o));
	w->o = NULL;
	return err;
}

int workload__release(struct workload *w)
{
	int ret;

	ret = write(w->go_fd, "G", 1) == 1 ? 0 : -errno;
	close(w->go_fd);
	w->go_fd = -1;
	return ret;
}

bool workload__poll(struct workload *w)
{
	if (w->exited)
		return true;
	if (w->pid > 0 && waitpid(w->pid, &w->status, WNOHANG) == w->pid)
		w->exited = true;
	return w->exited;
}

void workload__free(struct workload *w)
{
	if (!w)
		return;
	if (w->go_fd >= 0) {
		close(w->go_fd);
		w->go_fd = -1;
	}
	if (w->pid > 0 && !w->exited) {
		kill(w->pid, SIGKILL);
		waitpid(w->pid, &w->status, 0);
		w->exited = true;
	}
	if (w->o) {
		munmap(w->o, sizeof(*w->o));
		w->o = NULL;
	}
}
