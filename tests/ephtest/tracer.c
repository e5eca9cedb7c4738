// SPDX-License-Identifier: GPL-2.0
/* Run ephtrace with stdout and stderr on pipes, keep reading both, stop it with SIGINT. */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ephtest.h"

#if defined(__x86_64__)
#define EPHTEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define EPHTEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

/* In the child before exec: every bpf() system call fails with EPERM, as on a host that does
 * not allow BPF (another architecture than the one built for kills the process). */
static int forbid_bpf(void)
{
#ifdef EPHTEST_AUDIT_ARCH
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, EPHTEST_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_bpf, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(insns) / sizeof(insns[0]), .filter = insns };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		return -errno;
	return 0;
#else
	return -EOPNOTSUPP;
#endif
}

const char *tracer_extra_arg;

/* execv(), with tracer_extra_arg after "--backend B" when both are there. */
static void exec_with_extra(char *const argv[])
{
	char *args[64];
	int i, n = 0;

	for (i = 0; argv[i] && n < 62; i++) {
		args[n++] = argv[i];
		if (tracer_extra_arg && i > 0 && !strcmp(argv[i - 1], "--backend"))
			args[n++] = (char *)tracer_extra_arg;
	}
	args[n] = NULL;
	execv(args[0], args);
}

int tracer__start(struct tracer *t, char *const argv[])
{
	return tracer__start_flags(t, argv, 0);
}

int tracer__start_flags(struct tracer *t, char *const argv[], unsigned int flags)
{
	int out[2], err[2], ret;

	memset(t, 0, sizeof(*t));
	t->pid = -1;
	t->out_fd = -1;
	t->err_fd = -1;
	if (pipe2(out, O_CLOEXEC))
		return -errno;
	if (pipe2(err, O_CLOEXEC)) {
		ret = -errno;
		goto out_close_out;
	}
	fflush(NULL);
	t->pid = fork();
	if (t->pid < 0) {
		ret = -errno;
		goto out_close_err;
	}
	if (t->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (dup2(out[1], STDOUT_FILENO) < 0 || dup2(err[1], STDERR_FILENO) < 0)
			_exit(127);
		ret = flags & TRACER_NO_BPF ? forbid_bpf() : 0;
		if (ret) {
			dprintf(STDERR_FILENO, "ephtest: cannot forbid bpf() with seccomp: %s\n",
				strerror(-ret));
			_exit(127);
		}
		exec_with_extra(argv);
		dprintf(STDERR_FILENO, "ephtest: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	t->out_fd = out[0];
	t->err_fd = err[0];
	return 0;

out_close_err:
	close(err[0]);
	close(err[1]);
out_close_out:
	close(out[0]);
	close(out[1]);
	return ret;
}

/* Read what is there; close the descriptor at EOF. */
static int drain(int *fd, struct buf *b)
{
	char chunk[65536];
	ssize_t n;

	n = read(*fd, chunk, sizeof(chunk));
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (n == 0) {
		close(*fd);
		*fd = -1;
		return 0;
	}
	return buf_add(b, chunk, n);
}

int tracer__pump(struct tracer *t, int timeout_ms)
{
	struct pollfd pfd[2];
	int n = 0, ret, i;

	if (t->out_fd >= 0)
		pfd[n++] = (struct pollfd){ .fd = t->out_fd, .events = POLLIN };
	if (t->err_fd >= 0)
		pfd[n++] = (struct pollfd){ .fd = t->err_fd, .events = POLLIN };
	if (n) {
		ret = poll(pfd, n, timeout_ms);
		if (ret < 0 && errno != EINTR)
			return -errno;
		for (i = 0; ret > 0 && i < n; i++) {
			if (!pfd[i].revents)
				continue;
			if (pfd[i].fd == t->out_fd)
				ret = drain(&t->out_fd, &t->out);
			else
				ret = drain(&t->err_fd, &t->err);
			if (ret)
				return ret;
			ret = 1;
		}
	} else if (!t->exited) {
		usleep(timeout_ms * 1000);
	}
	if (!t->exited && t->pid > 0 && waitpid(t->pid, &t->status, WNOHANG) == t->pid)
		t->exited = true;
	return 0;
}

bool tracer__attached(const struct tracer *t)
{
	return strstr(buf_str(&t->err), "using backend ") != NULL;
}

int tracer__stop(struct tracer *t, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	int err;

	if (t->pid <= 0)
		return -ESRCH;
	if (!t->exited)
		kill(t->pid, SIGINT);
	while (t->out_fd >= 0 || t->err_fd >= 0 || !t->exited) {
		if (now_ms() > deadline) {
			kill(t->pid, SIGKILL);
			waitpid(t->pid, &t->status, 0);
			t->exited = true;
			return -ETIMEDOUT;
		}
		err = tracer__pump(t, 100);
		if (err)
			return err;
	}
	return 0;
}

int tracer__wait(struct tracer *t, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	int err;

	if (t->pid <= 0)
		return -ESRCH;
	while (t->out_fd >= 0 || t->err_fd >= 0 || !t->exited) {
		if (now_ms() > deadline) {
			kill(t->pid, SIGKILL);
			waitpid(t->pid, &t->status, 0);
			t->exited = true;
			return -ETIMEDOUT;
		}
		err = tracer__pump(t, 100);
		if (err)
			return err;
	}
	return 0;
}

void tracer__free(struct tracer *t)
{
	if (!t)
		return;
	if (t->pid > 0 && !t->exited) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, &t->status, 0);
		t->exited = true;
	}
	if (t->out_fd >= 0)
		close(t->out_fd);
	if (t->err_fd >= 0)
		close(t->err_fd);
	t->out_fd = -1;
	t->err_fd = -1;
	buf_free(&t->out);
	buf_free(&t->err);
}
