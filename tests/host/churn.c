// SPDX-License-Identifier: GPL-2.0
/*
 * Port churn for the reliability tests (tests/host/reliability.py), run inside a private network
 * namespace: a TCP server on 127.0.0.1:PORT that accepts and closes, and PROCS short-lived child
 * processes (at most CONC at a time), each making PER connections to it. Sockets are closed
 * with SO_LINGER {1, 0} (a reset: no TIME_WAIT), all at once after HOLD_MS when HOLD_MS > 0.
 * PROCS 0 = until killed. When done prints one line:
 *   procs N connects N failed N elapsed_ms N
 * Usage: churn PORT PROCS PER CONC HOLD_MS
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in dest;

static void *serve(void *arg)
{
	int lfd = *(int *)arg;

	for (;;) {
		int fd = accept(lfd, NULL, NULL);

		if (fd >= 0)
			close(fd);
		else if (errno != EINTR && errno != ECONNABORTED && errno != EMFILE)
			return NULL;
	}
}

static int start_server(void)
{
	static int lfd;
	pthread_t th;
	int one = 1, i;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&dest, sizeof(dest)) || listen(lfd, 4096))
		return -errno;
	for (i = 0; i < 2; i++)
		if (pthread_create(&th, NULL, serve, &lfd))
			return -EAGAIN;
	return 0;
}

static void reset_close(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* One child: returns the number of failed connections (its exit status, at most 255). */
static int child(int per, int hold_ms)
{
	int fds[1024], n = 0, failed = 0, i;

	for (i = 0; i < per; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0 || connect(fd, (struct sockaddr *)&dest, sizeof(dest))) {
			failed++;
			if (fd >= 0)
				close(fd);
			continue;
		}
		if (hold_ms)
			fds[n++] = fd;
		else
			reset_close(fd);
	}
	if (hold_ms) {
		struct timespec ts = { hold_ms / 1000, (hold_ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
		while (n > 0)
			reset_close(fds[--n]);
	}
	return failed > 255 ? 255 : failed;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	long procs, per, conc, hold_ms, started = 0, running = 0, failed = 0, t0;
	struct rlimit rl = { 4096, 4096 };
	int status;

	if (argc != 6) {
		fprintf(stderr, "usage: churn PORT PROCS PER CONC HOLD_MS\n");
		return 2;
	}
	dest.sin_family = AF_INET;
	dest.sin_port = htons(atoi(argv[1]));
	dest.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	procs = atol(argv[2]);
	per = atol(argv[3]);
	conc = atol(argv[4]);
	hold_ms = atol(argv[5]);
	if (per < 1 || per > 1024 || conc < 1 || hold_ms < 0) {
		fprintf(stderr, "churn: bad arguments\n");
		return 2;
	}
	setrlimit(RLIMIT_NOFILE, &rl);
	if (start_server()) {
		fprintf(stderr, "churn: cannot listen on port %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	t0 = now_ms();
	while (!procs || started < procs || running > 0) {
		if ((!procs || started < procs) && running < conc) {
			pid_t pid = fork();

			if (pid == 0)
				_exit(child(per, hold_ms));
			if (pid < 0) {
				perror("churn: fork");
				return 1;
			}
			started++;
			running++;
			continue;
		}
		if (wait(&status) > 0) {
			running--;
			failed += WIFEXITED(status) ? WEXITSTATUS(status) : per;
		}
	}
	printf("procs %ld connects %ld failed %ld elapsed_ms %ld\n", started,
	       started * per - failed, failed, now_ms() - t0);
	return 0;
}
