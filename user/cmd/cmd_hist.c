// SPDX-License-Identifier: GPL-2.0
/* ephtrace hist: in-kernel log2 histograms of port search, port choice and hold times. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "cli.h"
#include "cmdline.h"
#include "commands.h"
#include "hist.h"
#include "msg.h"

/* clang-format off */
static const char usage[] =
	"Usage: ephtrace hist [OPTIONS]\n"
	"Histograms (log2, nanoseconds) of connect() port search time, bind()/autobind port\n"
	"choice time and port hold time, kept in the kernel; printed every interval. Calls the\n"
	"backend cannot time (tracepoint: a search that succeeds, a bind()) are counted apart.\n"
	"\n"
	"  -i, --interval SECS  print every SECS seconds (default 1)\n"
	"  -n, --count N        stop after N intervals (default: until Ctrl-C)\n"
	"      --cumulative     totals since start instead of per interval\n"
	"      --json           one JSON object per interval\n"
	EPH_LOADER_USAGE
	EPH_HELP_USAGE
	"\n"
	"EXAMPLES:\n"
	"  ephtrace hist                 # every second, what happened in that second\n"
	"  ephtrace hist -i 10 -n 6      # six 10-second intervals\n"
	"  ephtrace hist --cumulative --json -i 60\n";

enum { OPT_CUMULATIVE = 1000 };

static const struct option longopts[] = {
	EPH_INTERVAL_LONGOPTS,
	{ "cumulative", no_argument, NULL, OPT_CUMULATIVE },
	EPH_JSON_LONGOPTS,
	EPH_HELP_LONGOPTS,
	EPH_LOADER_LONGOPTS,
	{},
};
/* clang-format on */

struct hist_opts {
	struct eph_interval iv; /* -i, -n */
	bool json;
	bool cumulative;
};

/* One of hist's own options: 1 = taken, 0 = not one of them. */
static int hist_opt(void *ctx, int opt, const char *arg, char **argv)
{
	struct hist_opts *o = ctx;

	(void)arg;
	(void)argv;
	if (opt != OPT_CUMULATIVE)
		return 0;
	o->cumulative = true;
	return 1;
}

static int parse_args(int argc, char **argv, struct hist_opts *o, struct eph_loader_opts *lo)
{
	const struct eph_cmdline cl = {
		.cmd = "hist",
		.usage = usage,
		.optstring = ":i:n:vh",
		.longopts = longopts,
		.lo = lo,
		.iv = &o->iv,
		.json = &o->json,
		.opt = hist_opt,
		.ctx = o,
	};

	return eph_cmdline_parse(&cl, argc, argv);
}

static int add_entry(void *ctx, const void *key, uint64_t value)
{
	int err = eph_hists__add(ctx, key, value);

	return err == -EINVAL ? 0 : err; /* a key from a newer BPF object: skip it */
}

/* A "stats" entry: the calls the histograms should have timed. */
static int add_calls(void *ctx, const void *key, uint64_t value)
{
	int err = eph_hists__add_calls(ctx, key, value);

	return err == -EINVAL ? 0 : err;
}

/* wall_ns: when the kernel's maps were read, the end of the interval */
static int print_interval(const struct hist_opts *o, const struct eph_hists *h, int64_t wall_ns,
			  struct strbuf *sb)
{
	char tbuf[16];
	int err;

	sb_reset(sb);
	if (o->json) {
		err = eph_hists__json(sb, h, wall_ns) ?: sb_putc(sb, '\n');
	} else {
		time_t now = wall_ns / 1000000000;
		struct tm tm;

		strftime(tbuf, sizeof(tbuf), "%H:%M:%S", localtime_r(&now, &tm));
		err = sb_printf(sb, "%s%s\n", tbuf, h->n ? "" : "  (no port activity)") ?:
			      eph_hists__text(sb, h) ?: sb_putc(sb, '\n');
	}
	return err ?: eph_print_stdout(sb);
}

int cmd_hist(int argc, char **argv)
{
	struct eph_loader_opts lo = EPH_LOADER_OPTS_INIT;
	struct hist_opts o = { .iv = { .interval_ms = 1000 } };
	struct eph_hists now = EPH_HISTS_INIT, before = EPH_HISTS_INIT, delta = EPH_HISTS_INIT;
	struct eph_loader *l = NULL;
	struct strbuf sb = STRBUF_INIT;
	int64_t read_ns;
	int ret, err = 0;

	ret = parse_args(argc, argv, &o, &lo);
	if (ret >= 0)
		return ret;
	lo.no_events = true;
	lo.map_reads = true;
	ret = eph_start(&lo, NULL, NULL, &l);
	if (ret)
		goto out;
	eph_interval__start(&o.iv);
	while (!err && eph_interval__more(&o.iv)) {
		struct timespec pause = { 0, 50 * 1000000 };
		struct eph_hists t;

		if (eph_interval__left(&o.iv)) {
			nanosleep(&pause, NULL);
			continue;
		}
		eph_hists__reset(&now);
		read_ns = eph_wall_ns();
		/* the calls before their times: one counted in both is never "not timed" */
		err = eph_loader__foreach(l, EPH_MAP_STATS, add_calls, &now) ?:
			      eph_loader__foreach(l, EPH_MAP_HISTS, add_entry, &now) ?:
			      eph_hists__diff(&delta, &now, o.cumulative ? NULL : &before) ?:
			      print_interval(&o, &delta, read_ns, &sb);
		t = before; /* keep this reading for the next difference */
		before = now;
		now = t;
		o.iv.done++;
	}
	if (err) {
		eph_err("%s", strerror(-err));
		ret = 1;
	}
out:
	eph_loader__free(l);
	eph_hists__free(&now);
	eph_hists__free(&before);
	eph_hists__free(&delta);
	sb_free(&sb);
	return ret;
}
