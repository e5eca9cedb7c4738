// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "app.h"
#include "event.h"
#include "msg.h"
#include "strbuf.h"

volatile sig_atomic_t eph_exiting;
bool eph_parse_only;

static void on_signal(int sig)
{
	(void)sig;
	eph_exiting = 1;
}

void eph_signals_init(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t set;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* A blocked mask survives exec: a launcher that blocks them would make us unstoppable. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

int eph_start(const struct eph_loader_opts *lo, eph_record_fn fn, void *ctx,
	      struct eph_loader **out)
{
	if (!eph_privileged()) {
		eph_err("permission denied: ephtrace needs root, or the capabilities CAP_BPF and "
			"CAP_PERFMON (CAP_SYS_ADMIN on kernels before 5.8)");
		return 1;
	}
	if (eph_loader__open(lo, fn, ctx, out))
		return 1;
	eph_note("using backend %s (%d programs attached%s)",
		 eph_backend_name(eph_loader__backend(*out)), eph_loader__nr_progs(*out),
		 fn && eph_loader__perfbuf(*out) ? ", records through the perf buffer" : "");
	return 0;
}

int eph_print_stdout(const struct strbuf *sb)
{
	fwrite(sb->buf, 1, sb->len, stdout);
	return fflush(stdout) ? -errno : 0;
}

uint64_t eph_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

uint64_t eph_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

uint64_t eph_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int64_t eph_mono_to_wall_ns(void)
{
	struct timespec rt, mono;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	return (int64_t)(rt.tv_sec - mono.tv_sec) * 1000000000ll + (rt.tv_nsec - mono.tv_nsec);
}

void eph_interval__start(struct eph_interval *iv)
{
	iv->done = 0;
	iv->last = false;
	iv->next = eph_now_ms() + iv->interval_ms;
}

bool eph_interval__more(const struct eph_interval *iv)
{
	return !iv->last && (!iv->count || iv->done < iv->count);
}

uint64_t eph_interval__left(struct eph_interval *iv)
{
	uint64_t now = eph_now_ms();

	iv->last = eph_exiting;
	if (!iv->last && now < iv->next)
		return iv->next - now;
	/* from the schedule, not from now: a late output does not delay the ones after it */
	iv->next += iv->interval_ms;
	return 0;
}
