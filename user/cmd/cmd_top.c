// SPDX-License-Identifier: GPL-2.0
/*
 * ephtrace top: how close each destination is to running out of ports, who holds them, and
 * the latest failures, refreshed every interval. The default command.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "cli.h"
#include "cmdline.h"
#include "commands.h"
#include "format.h"
#include "msg.h"
#include "tracker.h"

/* clang-format off */
static const char usage[] =
	"Usage: ephtrace top [OPTIONS]   (also: ephtrace with no command)\n"
	"Ports held per destination, bound address and process against the range in force in\n"
	"each network namespace, rates, failures and a forecast of exhaustion, every interval.\n"
	"Sockets that existed before ephtrace started are included (sock_diag at start).\n"
	"\n"
	"  -i, --interval SECS  refresh every SECS seconds (default 1)\n"
	"  -n, --count N        stop after N refreshes (default: until Ctrl-C)\n"
	"      --json           one snapshot object per interval instead of the screen\n"
	"  -l, --limit N        rows per table on the screen (default 5, 0 = all)\n"
	"      --window SECS    window of rates and hold times (default 10)\n"
	"      --resync SECS    reconcile with sock_diag every SECS seconds (default 5)\n"
	"      --max-ports N    ports tracked in user space (default 262144)\n"
	EPH_CT_USAGE
	EPH_LOADER_USAGE
	EPH_HELP_USAGE
	"\n"
	"EXAMPLES:\n"
	"  ephtrace                       # the live screen\n"
	"  ephtrace top -i 5 -l 10        # every 5 s, 10 rows per table\n"
	"  ephtrace top --json -n 1       # one snapshot as JSON\n"
	"  ephtrace top --pod shop/cart-7d9f  # one pod: its processes and its namespace\n";

enum { OPT_WINDOW = 1000, OPT_RESYNC };

static const struct option longopts[] = {
	EPH_INTERVAL_LONGOPTS,
	EPH_JSON_LONGOPTS,
	EPH_OCC_LONGOPTS,
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ "resync", required_argument, NULL, OPT_RESYNC },
	EPH_HELP_LONGOPTS,
	EPH_LOADER_LONGOPTS,
	EPH_CT_LONGOPTS,
	{},
};
/* clang-format on */

struct top_opts {
	struct eph_interval iv; /* -i, -n */
	uint64_t limit;
	bool json;
	struct eph_ct_filter ctf;
	struct eph_tracker_opts to; /* --window, --resync, --max-ports */
};

/* One of top's own options: 1 = taken, 0 = not one of them, 2 = bad value (printed). */
static int top_opt(void *ctx, int opt, const char *arg, char **argv)
{
	struct top_opts *o = ctx;
	uint64_t v;

	(void)argv;
	switch (opt) {
	case OPT_WINDOW:
		if (eph_parse_seconds(arg, 3600, &v) || v < 100)
			return eph_bad_value("top", "window", arg, "seconds, from 0.1 to 3600");
		o->to.window_ms = v;
		return 1;
	case OPT_RESYNC:
		if (eph_parse_seconds(arg, 86400, &o->to.resync_ms) || o->to.resync_ms < 100)
			return eph_bad_value("top", "resync interval", arg,
					     "seconds, from 0.1 to 86400");
		return 1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct top_opts *o, struct eph_loader_opts *lo)
{
	const struct eph_cmdline cl = {
		.cmd = "top",
		.usage = usage,
		.optstring = ":i:n:l:vh",
		.longopts = longopts,
		.lo = lo,
		.iv = &o->iv,
		.ctf = &o->ctf,
		.node_root = true,
		.json = &o->json,
		.limit = &o->limit,
		.max_ports = &o->to.max_ports,
		.opt = top_opt,
		.ctx = o,
	};

	return eph_cmdline_parse(&cl, argc, argv);
}

/* The latest failures, newest first, one line each (at most 79 columns). */
static int latest_failures(struct strbuf *sb, const struct eph_tracker *t,
			   const struct eph_ct_filter *f)
{
	unsigned int i, n = t->nfails < EPH_TRACKER_FAILS ? t->nfails : EPH_TRACKER_FAILS,
			shown = 0;
	int err;

	for (i = 0; i < n; i++) /* of the processes shown (--container, --pod) */
		shown += eph_ct_filter__match(
			f,
			eph_occ__container(
				t->occ, t->fails[(t->nfails - 1 - i) % EPH_TRACKER_FAILS].ev.pid));
	err = sb_printf(sb, "\nLATEST FAILURES%s\n", shown ? "" : ": none");
	for (i = 0; i < n && !err; i++) {
		const struct eph_rec *r = &t->fails[(t->nfails - 1 - i) % EPH_TRACKER_FAILS];
		const struct eph_event *e = &r->ev;
		char addr[48] = "-", ebuf[16], tbuf[16], comm[EPH_COMM_LEN];
		const char *name = eph_proc_comm(e);
		time_t sec = r->wall_ns / 1000000000ull;
		unsigned int k;
		struct tm tm;

		if (!eph_ct_filter__match(f, eph_occ__container(t->occ, e->pid)))
			continue;
		strftime(tbuf, sizeof(tbuf), "%H:%M:%S", localtime_r(&sec, &tm));
		/* any process can name itself an escape sequence: printable ASCII only */
		for (k = 0; k < EPH_COMM_LEN - 1 && name[k]; k++)
			comm[k] = name[k] >= 0x20 && name[k] < 0x7f ? name[k] : '?';
		comm[k] = '\0';
		if (e->flags & EPH_F_DEST)
			eph_addr_str(e->family, e->daddr, addr, sizeof(addr));
		else if (e->flags & EPH_F_SADDR)
			eph_addr_str(e->family, e->saddr, addr, sizeof(addr));
		err = sb_printf(sb, "%s %-7u %-15.15s %-3s %-7s %-.28s:%u %s\n", tbuf, e->pid, comm,
				eph_proto_name(e->proto) ?: "?", eph_op_name(e->op) ?: "-", addr,
				(e->flags & EPH_F_DEST) ? e->dport : e->req_port,
				eph_errno_name(e->err, ebuf, sizeof(ebuf)));
	}
	return err;
}

static int show(const struct top_opts *o, struct eph_tracker *t, struct eph_loader *l,
		struct strbuf *sb, uint64_t now_ns)
{
	uint64_t cnt[EPH_CNT_MAX] = {}, wall = now_ns + t->o.mono_to_wall, dropped;
	bool tty = !o->json && isatty(STDOUT_FILENO);
	int err;

	eph_loader__counters(l, cnt);
	/* also what the kernel tables could not follow: a release or a call that will not come */
	dropped = cnt[EPH_CNT_DROPPED] + cnt[EPH_CNT_HOLD_FULL] + cnt[EPH_CNT_CTX_FULL];
	sb_reset(sb);
	if (o->json) {
		err = eph_occ__json(t->occ, sb, now_ns, wall, dropped) ?: sb_putc(sb, '\n');
	} else {
		err = sb_puts(sb, tty ? "\033[H\033[J" : "\n") ?:
			      sb_printf(sb, "ephtrace top, backend %s, every %.2gs\n",
					eph_backend_name(eph_loader__backend(l)),
					o->iv.interval_ms / 1000.0) ?:
			      eph_occ__text(t->occ, sb, now_ns, wall, dropped, o->limit) ?:
			      latest_failures(sb, t, &o->ctf);
	}
	return err ?: eph_print_stdout(sb);
}

int cmd_top(int argc, char **argv)
{
	struct eph_loader_opts lo = EPH_LOADER_OPTS_INIT;
	struct top_opts o = { .iv = { .interval_ms = 1000 },
			      .limit = 5,
			      .to = { .resync_ms = 5000 } };
	struct eph_tracker t = { 0 };
	struct eph_loader *l = NULL;
	struct strbuf sb = STRBUF_INIT;
	int ret, err = 0;

	ret = parse_args(argc, argv, &o, &lo);
	if (ret >= 0)
		return ret;
	o.to.mono_to_wall = eph_mono_to_wall_ns();
	o.to.warn = true;
	o.to.verbose = lo.verbose;
	/* attach first, then seed: what happens in between waits in the ring buffer */
	lo.seeds = true;
	ret = eph_start(&lo, eph_tracker__record, &t, &l);
	if (ret)
		goto out;
	o.to.loader = l;
	err = eph_tracker__init(&t, &o.to);
	if (err) {
		eph_err("cannot read the sockets of any namespace: %s", strerror(-err));
		ret = 1;
		goto out;
	}
	eph_occ__set_ct_filter(t.occ, &o.ctf);
	eph_interval__start(&o.iv);
	while (!err && eph_interval__more(&o.iv)) {
		uint64_t left = eph_interval__left(&o.iv);

		if (left) {
			err = eph_loader__poll(l, left > 100 ? 100 : (int)left);
			if (err == -EINTR)
				err = 0;
			err = err < 0 ? err : 0;
			continue;
		}
		t.o.mono_to_wall = eph_mono_to_wall_ns();
		err = eph_loader__poll(l, 0); /* everything that happened before this screen */
		err = err < 0 ? err : eph_tracker__tick(&t, eph_now_ns());
		/* and what came while the tick worked (a resync's snapshot applied): the screen is
		 * as of the time it says (a 6.12-rt guest short of CPU once showed a destination
		 * 0.7 s behind, its forecast 2.5 times the truth) */
		err = err ?: eph_loader__poll(l, 0);
		err = err < 0 ? err : show(&o, &t, l, &sb, eph_now_ns());
		o.iv.done++;
	}
	if (err && err != -EPIPE) {
		eph_err("%s", strerror(-err));
		ret = 1;
	}
out:
	eph_loader__free(l);
	if (t.occ)
		eph_tracker__fini(&t);
	sb_free(&sb);
	return ret;
}
