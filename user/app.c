// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "cli.h"
#include "commands.h"
#include "event.h"

volatile sig_atomic_t eph_exiting;

static void on_signal(int sig)
{
	(void)sig;
	eph_exiting = 1;
}

int eph_bad_value(const char *cmd, const char *what, const char *val, const char *why)
{
	fprintf(stderr, "ephtrace %s: invalid %s '%s': %s\n", cmd, what, val, why);
	return EXIT_USAGE;
}

int eph_bad_option(const char *cmd, int opt, char **argv)
{
	if (opt == ':')
		fprintf(stderr, "ephtrace %s: option '%s' needs a value\n", cmd, argv[optind - 1]);
	else
		fprintf(stderr, "ephtrace %s: unknown option '%s' (see ephtrace %s --help)\n", cmd,
			argv[optind - 1], cmd);
	return EXIT_USAGE;
}

int eph_loader_opt(const char *cmd, int opt, const char *arg, struct eph_loader_opts *lo)
{
	uint64_t v;

	switch (opt) {
	case OPT_BACKEND:
		lo->backend = eph_backend_parse(arg);
		if (lo->backend < 0)
			return eph_bad_value(cmd, "backend", arg, "auto, fentry, kprobe or tracepoint");
		return 1;
	case OPT_RINGBUF:
		if (eph_parse_size(arg, 4096, 1u << 30, &v) || (v & (v - 1)))
			return eph_bad_value(cmd, "ring buffer size", arg,
					     "a power of two from 4K to 1G");
		lo->ringbuf_size = v;
		return 1;
	case OPT_MAX_HOLDS:
		if (eph_parse_u64(arg, 64, 16777216, &v))
			return eph_bad_value(cmd, "max holds", arg, "a number from 64 to 16777216");
		lo->max_holds = v;
		return 1;
	case OPT_BTF:
		if (!*arg)
			return eph_bad_value(cmd, "BTF file", arg, "empty");
		lo->btf_path = arg;
		return 1;
	case 'v':
		lo->verbose = true;
		return 1;
	}
	return 0;
}

void eph_signals_init(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int eph_start(const char *cmd, const struct eph_loader_opts *lo, eph_record_fn fn, void *ctx,
	      struct eph_loader **out)
{
	if (!eph_privileged()) {
		fprintf(stderr, "ephtrace %s: permission denied: ephtrace needs root, or the "
				"capabilities CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN on kernels "
				"before 5.8)\n", cmd);
		return 1;
	}
	if (eph_loader__open(lo, fn, ctx, out))
		return 1;
	fprintf(stderr, "ephtrace: using backend %s (%d programs attached)\n",
		eph_backend_name(eph_loader__backend(*out)), eph_loader__nr_links(*out));
	return 0;
}

uint64_t eph_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

int64_t eph_mono_to_wall_ns(void)
{
	struct timespec rt, mono;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	return (int64_t)(rt.tv_sec - mono.tv_sec) * 1000000000ll + (rt.tv_nsec - mono.tv_nsec);
}
