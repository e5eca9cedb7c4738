// SPDX-License-Identifier: GPL-2.0
/* A tracer (ephtrace, tcpconnect, bindsnoop) as a child process: started, watched, stopped. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "ephbench.h"

#define LINE_CAP (256 * 1024) /* a longer stdout line is cut (and still counted) */
#define ERR_CAP 1024

struct tracer {
	pid_t pid; /* 0 once reaped */
	int status;
	int out_fd; /* our end of its stdout (-1: /dev/null) */
	int err_fd; /* our end of its stderr */
	pthread_t reader;
	bool reader_started;
	atomic_bool quit;
	struct tracer_spec spec;
	uint64_t start_ns;
	_Atomic uint64_t ready_ns; /* 0 until ready */

	pthread_mutex_t mu; /* the fields below */
	uint64_t lines;
	char *cur, *last; /* line being read, last complete one */
	size_t cur_len;
	char ecur[ERR_CAP];
	size_t ecur_len;
	char elast[ERR_CAP];
	char eprev[ERR_CAP]; /* the line before it */
	char ekey[ERR_CAP];
	char ready_line[ERR_CAP];
};

pid_t tracer__pid(const struct tracer *t)
{
	return t->pid;
}

double tracer__startup_s(const struct tracer *t)
{
	uint64_t r = atomic_load(&t->ready_ns);

	return r ? (r - t->start_ns) / 1e9 : 0;
}

uint64_t tracer__lines(struct tracer *t)
{
	uint64_t n;

	pthread_mutex_lock(&t->mu);
	n = t->lines;
	pthread_mutex_unlock(&t->mu);
	return n;
}

void tracer__last_line(struct tracer *t, char *dst, size_t len)
{
	pthread_mutex_lock(&t->mu);
	snprintf(dst, len, "%s", t->last);
	pthread_mutex_unlock(&t->mu);
}

void tracer__last_err(struct tracer *t, char *dst, size_t len)
{
	pthread_mutex_lock(&t->mu);
	if (t->ekey[0])
		snprintf(dst, len, "%.400s (%.400s)", t->elast, t->ekey);
	else if (t->eprev[0] && strncmp(t->eprev, "libbpf: ", 8))
		snprintf(dst, len, "%.400s; before: %.400s", t->elast, t->eprev);
	else
		snprintf(dst, len, "%s", t->elast);
	pthread_mutex_unlock(&t->mu);
}

static int reap(struct tracer *t, bool block)
{
	int st;
	pid_t r;

	if (!t->pid)
		return 1;
	r = waitpid(t->pid, &st, block ? 0 : WNOHANG);
	if (r != t->pid)
		return 0;
	t->pid = 0;
	t->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return 1;
}

void tracer__ready_line(struct tracer *t, char *dst, size_t len)
{
	pthread_mutex_lock(&t->mu);
	snprintf(dst, len, "%s", t->ready_line);
	pthread_mutex_unlock(&t->mu);
}

bool tracer__alive(struct tracer *t)
{
	return !reap(t, false);
}

/* Called with mu held. */
static void mark_ready(struct tracer *t, const char *line)
{
	if (atomic_load(&t->ready_ns) || !strstr(line, t->spec.match))
		return;
	snprintf(t->ready_line, sizeof(t->ready_line), "%s", line);
	atomic_store(&t->ready_ns, now_ns());
}

/* stdout bytes: count lines, keep the last one, look for the match if asked. */
static void take_out(struct tracer *t, const char *p, size_t n)
{
	bool want = t->spec.ready == READY_STDOUT;

	pthread_mutex_lock(&t->mu);
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t seg = nl ? (size_t)(nl - p) : n, room = LINE_CAP - 1 - t->cur_len;

		memcpy(t->cur + t->cur_len, p, seg < room ? seg : room);
		t->cur_len += seg < room ? seg : room;
		if (!nl)
			break;
		t->cur[t->cur_len] = '\0';
		if (t->cur_len && t->cur[t->cur_len - 1] == '\r')
			t->cur[t->cur_len - 1] = '\0'; /* a pty's line end */
		if (want)
			mark_ready(t, t->cur);
		t->lines++;
		{
			char *tmp = t->last;

			t->last = t->cur;
			t->cur = tmp;
			t->cur_len = 0;
		}
		p = nl + 1;
		n -= seg + 1;
	}
	pthread_mutex_unlock(&t->mu);
}

static void take_err(struct tracer *t, const char *p, size_t n)
{
	pthread_mutex_lock(&t->mu);
	for (; n; p++, n--) {
		if (*p != '\n') {
			if (t->ecur_len < ERR_CAP - 1)
				t->ecur[t->ecur_len++] = *p;
			continue;
		}
		t->ecur[t->ecur_len] = '\0';
		/* libbpf's reason for a refused program is worth more than the last words */
		if (!t->ekey[0] && strstr(t->ecur, "failed to resolve CO-RE relocation"))
			memcpy(t->ekey, t->ecur, t->ecur_len + 1);
		if (t->ecur_len) {
			memcpy(t->eprev, t->elast, sizeof(t->eprev));
			memcpy(t->elast, t->ecur, t->ecur_len + 1);
			if (t->spec.ready == READY_STDERR)
				mark_ready(t, t->ecur);
		}
		t->ecur_len = 0;
	}
	pthread_mutex_unlock(&t->mu);
}

static void *reader_main(void *arg)
{
	struct tracer *t = arg;
	static __thread char buf[65536];
	bool out_open = t->out_fd >= 0, err_open = true;

	while ((out_open || err_open) && !atomic_load(&t->quit)) {
		struct pollfd p[2] = { { .fd = out_open ? t->out_fd : -1, .events = POLLIN },
				       { .fd = err_open ? t->err_fd : -1, .events = POLLIN } };
		ssize_t n;

		if (poll(p, 2, 100) <= 0)
			continue;
		if (p[0].revents) {
			n = read(t->out_fd, buf, sizeof(buf));
			if (n > 0)
				take_out(t, buf, n);
			else if (n == 0 || errno != EINTR)
				out_open = false; /* EOF; a pty gives EIO once the child is gone */
		}
		if (p[1].revents) {
			n = read(t->err_fd, buf, sizeof(buf));
			if (n > 0)
				take_err(t, buf, n);
			else if (n == 0 || errno != EINTR)
				err_open = false;
		}
	}
	return NULL;
}

/* Is it asleep in epoll_wait, epoll_pwait, epoll_pwait2, poll or ppoll (x86-64 numbers)? */
static bool polling(pid_t pid)
{
	char path[64], buf[32] = "";
	ssize_t n;
	int fd;
	long nr;

	snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || buf[0] < '0' || buf[0] > '9')
		return false; /* "running" */
	buf[n] = '\0';
	nr = strtol(buf, NULL, 10);
	return nr == 232 || nr == 281 || nr == 441 || nr == 7 || nr == 271;
}

static int open_pty(int *master, int *slave)
{
	struct termios tio;
	char name[64];

	*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master < 0)
		return -errno;
	if (grantpt(*master) || unlockpt(*master) || ptsname_r(*master, name, sizeof(name)))
		goto out_close_master;
	*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave < 0)
		goto out_close_master;
	if (!tcgetattr(*slave, &tio)) {
		cfmakeraw(&tio);
		tcsetattr(*slave, TCSANOW, &tio);
	}
	return 0;

out_close_master:
	close(*master);
	return -errno;
}

/* The child: its namespace, its stdio, then exec. Only async-signal-safe calls. */
static void child(const struct tracer_spec *s, int in, int out, int err)
{
	static const char setns_failed[] = "ephbench: cannot return to the original netns\n";
	static const char exec_failed[] = "ephbench: cannot execute the tracer\n";
	sigset_t none;

	if (bench_orig_netns() >= 0 && setns(bench_orig_netns(), CLONE_NEWNET)) {
		if (write(err, setns_failed, sizeof(setns_failed) - 1) < 0)
			_exit(125);
		_exit(126);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(126);
	execv(s->argv[0], s->argv);
	if (write(2, exec_failed, sizeof(exec_failed) - 1) < 0)
		_exit(127);
	_exit(127);
}

static int wait_ready(struct tracer *t, char *why, size_t len)
{
	const struct tracer_spec *s = &t->spec;
	uint64_t deadline = t->start_ns + (uint64_t)(s->timeout_s * 1e9);

	for (;;) {
		if (s->ready == READY_POLL && t->pid && polling(t->pid))
			atomic_store(&t->ready_ns, now_ns());
		if (atomic_load(&t->ready_ns))
			return 0;
		if (reap(t, false)) {
			char e[ERR_CAP];

			sleep_ns(100000000); /* let the reader take its last words */
			tracer__last_err(t, e, sizeof(e));
			if (e[0])
				snprintf(why, len, "%s", e);
			else
				snprintf(why, len, "exited with status %d before it was ready",
					 t->status);
			return -ECHILD;
		}
		if (now_ns() > deadline) {
			snprintf(why, len, "not ready after %.0f s", s->timeout_s);
			return -ETIMEDOUT;
		}
		sleep_ns(200000);
	}
}

int tracer__start(const struct tracer_spec *s, struct tracer **out, char *why, size_t len)
{
	int in = -1, out_w = -1, errp[2] = { -1, -1 }, err;
	struct tracer *t;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cur = malloc(LINE_CAP);
	t->last = calloc(1, LINE_CAP);
	if (!t->cur || !t->last) {
		free(t->cur);
		free(t->last);
		free(t);
		return -ENOMEM;
	}
	pthread_mutex_init(&t->mu, NULL);
	t->spec = *s; /* argv is used before this returns, match is a literal */
	t->out_fd = -1;
	t->err_fd = -1;
	*out = t;

	in = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (in < 0 || pipe2(errp, O_CLOEXEC)) {
		err = -errno;
		snprintf(why, len, "/dev/null or pipe: %s", strerror(-err));
		goto out_close;
	}
	t->err_fd = errp[0];
	if (s->out == OUT_PIPE) {
		int p[2];

		if (pipe2(p, O_CLOEXEC)) {
			err = -errno;
			snprintf(why, len, "pipe: %s", strerror(-err));
			goto out_close;
		}
		fcntl(p[0], F_SETPIPE_SZ, 1 << 20); /* best effort: fewer stalls of the writer */
		t->out_fd = p[0];
		out_w = p[1];
	} else if (s->out == OUT_PTY) {
		err = open_pty(&t->out_fd, &out_w);
		if (err) {
			snprintf(why, len, "pseudo-terminal: %s", strerror(-err));
			goto out_close;
		}
	}
	t->start_ns = now_ns();
	t->pid = fork();
	if (t->pid < 0) {
		err = -errno;
		t->pid = 0;
		snprintf(why, len, "fork: %s", strerror(-err));
		goto out_close;
	}
	if (!t->pid)
		child(s, in, out_w >= 0 ? out_w : in, errp[1]);
	err = -pthread_create(&t->reader, NULL, reader_main, t);
	if (err) {
		snprintf(why, len, "pthread_create: %s", strerror(-err));
		goto out_close;
	}
	t->reader_started = true;
	err = 0;
out_close:
	if (in >= 0)
		close(in);
	if (out_w >= 0)
		close(out_w);
	if (errp[1] >= 0)
		close(errp[1]);
	return err ?: wait_ready(t, why, len);
}

int tracer__stop(struct tracer *t, double timeout_s)
{
	uint64_t deadline = now_ns() + (uint64_t)(timeout_s * 1e9);

	if (t->pid) {
		kill(t->pid, SIGINT);
		while (!reap(t, false) && now_ns() < deadline)
			sleep_ns(1000000);
		if (t->pid) {
			kill(t->pid, SIGKILL);
			reap(t, true);
		}
	}
	if (t->reader_started) {
		int busy;

		/* its output ends with it, unless something else holds the pipe */
		deadline = now_ns() + 2000000000ull;
		while ((busy = pthread_tryjoin_np(t->reader, NULL)) && now_ns() < deadline)
			sleep_ns(1000000);
		if (busy) {
			atomic_store(&t->quit, true);
			pthread_join(t->reader, NULL);
		}
		t->reader_started = false;
	}
	return t->status;
}

void tracer__free(struct tracer *t)
{
	if (!t)
		return;
	if (t->pid || t->reader_started)
		tracer__stop(t, 2);
	if (t->out_fd >= 0)
		close(t->out_fd);
	if (t->err_fd >= 0)
		close(t->err_fd);
	pthread_mutex_destroy(&t->mu);
	free(t->cur);
	free(t->last);
	free(t);
}

int proc_cpu_ns(pid_t pid, uint64_t *ns)
{
	char path[64], buf[128];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return -errno;
	*ns = 0;
	while ((de = readdir(d))) {
		ssize_t n;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/schedstat", pid, de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue; /* the thread just ended */
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			*ns += strtoull(buf, NULL, 10); /* first field: time on the CPU */
		}
	}
	closedir(d);
	return 0;
}

int proc_wakeups(pid_t pid, uint64_t *n)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	*n = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;

		if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1)
			*n = v;
	}
	fclose(f);
	return 0;
}

int proc_rss_kb(pid_t pid, uint64_t *rss, uint64_t *hwm)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	*rss = *hwm = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;

		if (sscanf(line, "VmRSS: %llu", &v) == 1)
			*rss = v;
		else if (sscanf(line, "VmHWM: %llu", &v) == 1)
			*hwm = v;
	}
	fclose(f);
	return *rss ? 0 : -ENOENT;
}
