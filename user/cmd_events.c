// SPDX-License-Identifier: GPL-2.0
/* ephtrace events: the stream of assignments, failures and releases, and a summary at the end. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "event.h"
#include "filter.h"
#include "format.h"
#include "loader.h"
#include "summary.h"

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

static const char usage[] =
	"Usage: ephtrace events [OPTIONS]\n"
	"Trace every ephemeral port assignment and every port allocation failure.\n"
	"\n"
	"  --json               one JSON object per line (else aligned text columns)\n"
	"  -p, --pid PID        only this process\n"
	"      --comm NAME      only processes with this command name\n"
	"  -4, --ipv4 / -6, --ipv6   only this address family\n"
	"      --tcp / --udp    only this protocol\n"
	"      --failures-only  only failures (EADDRNOTAVAIL, EADDRINUSE, EAGAIN)\n"
	"      --releases       also show ports going back to the pool\n"
	"      --backend B      auto (default), fentry, kprobe or tracepoint\n"
	"  -d, --duration SECS  stop after SECS seconds (default: until Ctrl-C)\n"
	"      --ringbuf-size N ring buffer size, bytes, K/M/G suffix (default 4M, power of 2)\n"
	"      --max-holds N    ports tracked at once in the kernel (default 65536)\n"
	"      --btf FILE       kernel BTF to use instead of /sys/kernel/btf/vmlinux\n"
	"  -v, --verbose        show libbpf's messages\n"
	"  -h, --help           this text\n"
	"\n"
	"EXAMPLES:\n"
	"  ephtrace events                      # every assignment and failure\n"
	"  ephtrace events --failures-only -4   # IPv4 failures only\n"
	"  ephtrace events --json -p 1234       # one process, as JSON\n"
	"  ephtrace events --releases -d 10     # include releases, stop after 10 s\n";

struct events_ctx {
	struct eph_filter filter;
	bool json;
	int64_t mono_to_wall;
	struct eph_summary *summary;
	struct strbuf sb;
	const char *backend;
	uint64_t bad_records;
	int err;
};

static int64_t mono_to_wall_ns(void)
{
	struct timespec rt, mono;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	return (int64_t)(rt.tv_sec - mono.tv_sec) * 1000000000ll + (rt.tv_nsec - mono.tv_nsec);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

static int on_record(void *ctx, const void *data, size_t size)
{
	struct events_ctx *c = ctx;
	struct eph_rec r;
	int err;

	if (eph_decode(data, size, c->mono_to_wall, &r)) {
		c->bad_records++;
		return 0;
	}
	if (!eph_filter_scope(&c->filter, &r))
		return 0;
	err = eph_summary__add(c->summary, &r);
	if (err)
		c->err = err;
	if (!eph_filter_show(&c->filter, &r))
		return 0;
	sb_reset(&c->sb);
	err = c->json ? eph_format_json(&c->sb, &r, c->backend) : eph_format_text(&c->sb, &r);
	if (!err)
		err = sb_putc(&c->sb, '\n');
	if (err) {
		c->err = err;
		return 0;
	}
	fwrite(c->sb.buf, 1, c->sb.len, stdout);
	return 0;
}

static int bad_value(const char *opt, const char *val, const char *what)
{
	fprintf(stderr, "ephtrace events: invalid %s '%s': %s\n", opt, val, what);
	return EXIT_USAGE;
}

enum {
	OPT_JSON = 1000,
	OPT_COMM,
	OPT_TCP,
	OPT_UDP,
	OPT_FAILURES,
	OPT_RELEASES,
	OPT_BACKEND,
	OPT_RINGBUF,
	OPT_MAX_HOLDS,
	OPT_BTF,
};

static const struct option longopts[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "pid", required_argument, NULL, 'p' },
	{ "comm", required_argument, NULL, OPT_COMM },
	{ "ipv4", no_argument, NULL, '4' },
	{ "ipv6", no_argument, NULL, '6' },
	{ "tcp", no_argument, NULL, OPT_TCP },
	{ "udp", no_argument, NULL, OPT_UDP },
	{ "failures-only", no_argument, NULL, OPT_FAILURES },
	{ "releases", no_argument, NULL, OPT_RELEASES },
	{ "backend", required_argument, NULL, OPT_BACKEND },
	{ "duration", required_argument, NULL, 'd' },
	{ "ringbuf-size", required_argument, NULL, OPT_RINGBUF },
	{ "max-holds", required_argument, NULL, OPT_MAX_HOLDS },
	{ "btf", required_argument, NULL, OPT_BTF },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{},
};

static int parse_args(int argc, char **argv, struct events_ctx *c, struct eph_loader_opts *lo,
		      uint64_t *duration_ms)
{
	uint64_t v;
	int opt;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":p:46d:vh", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_JSON:
			c->json = true;
			break;
		case 'p':
			if (eph_parse_u64(optarg, 1, 4194304, &v))
				return bad_value("PID", optarg, "a process id from 1 to 4194304");
			c->filter.pid = v;
			break;
		case OPT_COMM:
			if (!*optarg || strlen(optarg) >= EPH_COMM_LEN)
				return bad_value("command name", optarg, "1 to 15 bytes");
			strcpy(c->filter.comm, optarg);
			break;
		case '4':
		case '6':
			if (c->filter.family)
				return bad_value("option", argv[optind - 1], "-4 and -6 exclude each other");
			c->filter.family = opt == '4' ? AF_INET : AF_INET6;
			break;
		case OPT_TCP:
		case OPT_UDP:
			if (c->filter.proto)
				return bad_value("option", argv[optind - 1], "--tcp and --udp exclude each other");
			c->filter.proto = opt == OPT_TCP ? IPPROTO_TCP : IPPROTO_UDP;
			break;
		case OPT_FAILURES:
			c->filter.failures_only = true;
			break;
		case OPT_RELEASES:
			c->filter.releases = true;
			break;
		case OPT_BACKEND:
			lo->backend = eph_backend_parse(optarg);
			if (lo->backend < 0)
				return bad_value("backend", optarg, "auto, fentry, kprobe or tracepoint");
			break;
		case 'd':
			if (eph_parse_seconds(optarg, 31536000, duration_ms))
				return bad_value("duration", optarg, "seconds, more than 0, at most a year");
			break;
		case OPT_RINGBUF:
			if (eph_parse_size(optarg, 4096, 1u << 30, &v) || (v & (v - 1)))
				return bad_value("ring buffer size", optarg,
						 "a power of two from 4K to 1G");
			lo->ringbuf_size = v;
			break;
		case OPT_MAX_HOLDS:
			if (eph_parse_u64(optarg, 64, 16777216, &v))
				return bad_value("max holds", optarg, "a number from 64 to 16777216");
			lo->max_holds = v;
			break;
		case OPT_BTF:
			if (!*optarg)
				return bad_value("BTF file", optarg, "empty");
			lo->btf_path = optarg;
			break;
		case 'v':
			lo->verbose = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case ':':
			fprintf(stderr, "ephtrace events: option '%s' needs a value\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "ephtrace events: unknown option '%s' (see ephtrace events --help)\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ephtrace events: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	return -1; /* go on */
}

static void print_summary(struct events_ctx *c, struct eph_loader *l)
{
	uint64_t cnt[EPH_CNT_MAX] = {};

	if (eph_loader__counters(l, cnt))
		fprintf(stderr, "ephtrace: cannot read the kernel counters: %s\n", strerror(errno));
	sb_reset(&c->sb);
	if (c->json) {
		if (!eph_summary__json(c->summary, &c->sb, cnt[EPH_CNT_DROPPED], c->backend) &&
		    !sb_putc(&c->sb, '\n'))
			fwrite(c->sb.buf, 1, c->sb.len, stdout);
	} else if (!eph_summary__text(c->summary, &c->sb, cnt[EPH_CNT_DROPPED], c->backend) &&
		   !sb_putc(&c->sb, '\n')) {
		fwrite(c->sb.buf, 1, c->sb.len, stderr);
	}
	fflush(stdout);
	if (cnt[EPH_CNT_HOLD_FULL] || cnt[EPH_CNT_CTX_FULL])
		fprintf(stderr,
			"ephtrace: kernel tables were full: %llu assignments not tracked for release "
			"(--max-holds), %llu calls not followed\n",
			(unsigned long long)cnt[EPH_CNT_HOLD_FULL],
			(unsigned long long)cnt[EPH_CNT_CTX_FULL]);
	if (c->bad_records)
		fprintf(stderr, "ephtrace: %llu malformed records ignored\n",
			(unsigned long long)c->bad_records);
}

int cmd_events(int argc, char **argv)
{
	struct eph_loader_opts lo = {
		.backend = EPH_BACKEND_AUTO,
		.ringbuf_size = EPH_DEFAULT_RINGBUF,
		.max_holds = EPH_DEFAULT_MAX_HOLDS,
	};
	struct events_ctx c = { .sb = STRBUF_INIT };
	struct eph_loader *l = NULL;
	uint64_t duration_ms = 0, deadline = 0;
	struct sigaction sa = { .sa_handler = on_signal };
	int ret, err;

	ret = parse_args(argc, argv, &c, &lo, &duration_ms);
	if (ret >= 0)
		return ret;
	if (!eph_privileged()) {
		fprintf(stderr, "ephtrace: permission denied: ephtrace needs root, or the "
				"capabilities CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN on kernels "
				"before 5.8)\n");
		return 1;
	}
	c.summary = eph_summary__new();
	if (!c.summary)
		return 1;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	c.mono_to_wall = mono_to_wall_ns();

	err = eph_loader__open(&lo, on_record, &c, &l);
	if (err) {
		ret = 1;
		goto out;
	}
	c.backend = eph_backend_name(eph_loader__backend(l));
	fprintf(stderr, "ephtrace: using backend %s (%d programs attached)\n", c.backend,
		eph_loader__nr_links(l));
	if (!c.json) {
		sb_reset(&c.sb);
		if (!eph_format_text_header(&c.sb) && !sb_putc(&c.sb, '\n'))
			fwrite(c.sb.buf, 1, c.sb.len, stdout);
	}
	fflush(stdout);
	if (duration_ms)
		deadline = now_ms() + duration_ms;
	ret = 0;
	while (!exiting) {
		err = eph_loader__poll(l, 100);
		if (err == -EINTR)
			break;
		if (err < 0) {
			fprintf(stderr, "ephtrace: reading the ring buffer failed: %s\n",
				strerror(-err));
			ret = 1;
			break;
		}
		if (fflush(stdout) || ferror(stdout))
			break; /* the reader went away */
		if (deadline && now_ms() >= deadline)
			break;
	}
	eph_loader__drain(l); /* detach first, then take what is left: nothing lost */
	print_summary(&c, l);
	if (c.err) {
		fprintf(stderr, "ephtrace: out of memory while formatting events\n");
		ret = 1;
	}
out:
	eph_loader__free(l);
	eph_summary__free(c.summary);
	sb_free(&c.sb);
	return ret;
}
