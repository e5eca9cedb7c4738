// SPDX-License-Identifier: GPL-2.0
/* ephtrace events: the stream of assignments, failures and releases, and a summary at the end. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "app.h"
#include "cli.h"
#include "cmdline.h"
#include "commands.h"
#include "event.h"
#include "filter.h"
#include "procinfo.h"
#include "findings.h"
#include "format.h"
#include "jsonw.h"
#include "loader.h"
#include "msg.h"
#include "summary.h"
#include "tracker.h"

/* clang-format off */
static const char usage[] =
	"Usage: ephtrace events [OPTIONS]\n"
	"Trace every ephemeral port assignment and every port allocation failure. At the end, a\n"
	"summary per process: ports assigned, failures, and ports held then (HELD: the kernel's\n"
	"sockets as top keeps them, TIME_WAIT included).\n"
	"\n"
	"  --json               one JSON object per line (else aligned text columns)\n"
	"  -p, --pid PID        only this process\n"
	"      --comm NAME      only processes with this command name\n"
	"  -4, --ipv4 / -6, --ipv6   only this address family\n"
	"      --tcp / --udp    only this protocol\n"
	"      --failures-only  only failures (EADDRNOTAVAIL, EADDRINUSE, EAGAIN)\n"
	"      --releases       also show ports going back to the pool\n"
	"      --explain        after each failure, the finding that accounts for it\n"
	"  -d, --duration SECS  stop after SECS seconds (default: until Ctrl-C)\n"
	EPH_CT_USAGE
	EPH_LOADER_USAGE
	EPH_HELP_USAGE
	"\n"
	"EXAMPLES:\n"
	"  ephtrace events                      # every assignment and failure\n"
	"  ephtrace events --failures-only -4   # IPv4 failures only\n"
	"  ephtrace events --json -p 1234       # one process, as JSON\n"
	"  ephtrace events --releases -d 10     # include releases, stop after 10 s\n"
	"  ephtrace events --failures-only --explain   # why each failure happened\n"
	"  ephtrace events --container 3f2a9c --json    # one container's ports, as JSON\n";

struct events_ctx {
	struct eph_filter filter;
	bool json;
	int64_t mono_to_wall;
	struct eph_summary *summary;
	struct strbuf sb;
	const char *backend;
	uint64_t bad_records;
	int err;
	bool explain;		 /* --explain */
	bool tracking;		 /* t is running */
	struct eph_tracker t;	 /* the occupancy: the summary's HELD, --explain's findings */
	struct eph_findings fs;	 /* --explain: the findings at the last failure */
	struct eph_procinfo *pi; /* containers and pods of the pids (the tracker's too) */
};

/*
 * --explain: the finding that accounts for a failure, appended to its line: in JSON a member
 * "explain" (null when none does), in text two more lines "  why:" and "  fix:".
 */
static int explain(struct events_ctx *c, const struct eph_rec *r)
{
	const struct eph_finding *f;
	int err;

	if (!c->explain || r->ev.type != EPH_FAIL)
		return 0;
	err = c->tracking ? eph_occ__findings(c->t.occ, r->ev.ts_ns, &c->fs) : 0;
	if (err)
		return err;
	f = c->tracking ? eph_findings__explain(&c->fs, &r->ev) : NULL;
	if (c->json) {
		struct jsonw w = { .sb = &c->sb };

		c->sb.len--; /* the closing brace */
		if (f) {
			jsonw_key(&w, "explain");
			w.err = w.err ?: eph_finding__json(f, &c->sb);
		} else {
			jsonw_null(&w, "explain");
		}
		jsonw_raw(&w, "}");
		return w.err;
	}
	if (!f)
		return sb_puts(&c->sb, "\n  why: no finding accounts for it (yet)");
	return sb_printf(&c->sb, "\n  why: %s (%s): %s\n  fix: %s", eph_find_kind_name(f->kind),
			 eph_find_severity_name(f->severity), f->evidence, f->advice);
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
	if (r.ev.pid) {
		const struct eph_pinfo *p = eph_procinfo__get(c->pi, r.ev.pid, r.ev.ts_ns, NULL);

		r.ct = p ? p->ct : NULL;
	}
	if (c->tracking) /* every event counts for the findings, shown or not */
		eph_tracker__event(&c->t, &r);
	if (r.ev.flags & EPH_F_SEEDED) /* a socket from before: the occupancy's alone */
		return 0;
	if (!eph_filter_scope(&c->filter, &r))
		return 0;
	err = eph_summary__add(c->summary, &r);
	if (err)
		c->err = err;
	if (!eph_filter_show(&c->filter, &r))
		return 0;
	sb_reset(&c->sb);
	/* each record's own backend: fentry and kprobe hooks may mix (user/core/hookplan.h) */
	err = c->json ? eph_format_json(&c->sb, &r, NULL) : eph_format_text(&c->sb, &r);
	if (!err)
		err = explain(c, &r);
	if (!err)
		err = sb_putc(&c->sb, '\n');
	if (err) {
		c->err = err;
		return 0;
	}
	fwrite(c->sb.buf, 1, c->sb.len, stdout);
	return 0;
}

enum {
	OPT_COMM = 1000,
	OPT_TCP,
	OPT_UDP,
	OPT_FAILURES,
	OPT_RELEASES,
	OPT_EXPLAIN,
};

static const struct option longopts[] = {
	EPH_JSON_LONGOPTS,
	{ "pid", required_argument, NULL, 'p' },
	{ "comm", required_argument, NULL, OPT_COMM },
	{ "ipv4", no_argument, NULL, '4' },
	{ "ipv6", no_argument, NULL, '6' },
	{ "tcp", no_argument, NULL, OPT_TCP },
	{ "udp", no_argument, NULL, OPT_UDP },
	{ "failures-only", no_argument, NULL, OPT_FAILURES },
	{ "releases", no_argument, NULL, OPT_RELEASES },
	{ "explain", no_argument, NULL, OPT_EXPLAIN },
	{ "duration", required_argument, NULL, 'd' },
	EPH_HELP_LONGOPTS,
	EPH_LOADER_LONGOPTS,
	EPH_CT_LONGOPTS,
	{},
};
/* clang-format on */

/* What events' own options set: the stream's filter and form, and -d. */
struct events_args {
	struct events_ctx *c;
	uint64_t *duration_ms;
};

/* One of events' own options: 1 = taken, 0 = not one of them, 2 = bad value (printed). */
static int events_opt(void *ctx, int opt, const char *arg, char **argv)
{
	struct events_args *a = ctx;
	struct events_ctx *c = a->c;
	uint64_t v;

	switch (opt) {
	case 'p':
		if (eph_parse_u64(arg, 1, 4194304, &v))
			return eph_bad_value("events", "PID", arg,
					     "a process id from 1 to 4194304");
		c->filter.pid = v;
		return 1;
	case OPT_COMM:
		if (!*arg || strlen(arg) >= EPH_COMM_LEN)
			return eph_bad_value("events", "command name", arg, "1 to 15 bytes");
		strcpy(c->filter.comm, arg);
		return 1;
	case '4':
	case '6':
		if (c->filter.family)
			return eph_bad_value("events", "option", argv[optind - 1],
					     "-4 and -6 exclude each other");
		c->filter.family = opt == '4' ? AF_INET : AF_INET6;
		return 1;
	case OPT_TCP:
	case OPT_UDP:
		if (c->filter.proto)
			return eph_bad_value("events", "option", argv[optind - 1],
					     "--tcp and --udp exclude each other");
		c->filter.proto = opt == OPT_TCP ? IPPROTO_TCP : IPPROTO_UDP;
		return 1;
	case OPT_FAILURES:
		c->filter.failures_only = true;
		return 1;
	case OPT_RELEASES:
		c->filter.releases = true;
		return 1;
	case OPT_EXPLAIN:
		c->explain = true;
		return 1;
	case 'd':
		if (eph_parse_seconds(arg, 31536000, a->duration_ms))
			return eph_bad_value("events", "duration", arg,
					     "seconds, more than 0, at most a year");
		return 1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct events_ctx *c, struct eph_loader_opts *lo,
		      uint64_t *duration_ms)
{
	struct events_args a = { .c = c, .duration_ms = duration_ms };
	const struct eph_cmdline cl = {
		.cmd = "events",
		.usage = usage,
		.optstring = ":p:46d:vh",
		.longopts = longopts,
		.lo = lo,
		.ctf = &c->filter.ct,
		.node_root = true,
		.json = &c->json,
		.opt = events_opt,
		.ctx = &a,
	};

	return eph_cmdline_parse(&cl, argc, argv); /* -1: go on */
}

/* Events of the types this stream shows that the kernel could not hand over (ring full). */
static uint64_t dropped_shown(const struct eph_filter *f, const uint64_t cnt[EPH_CNT_MAX])
{
	/* a program run the kernel skipped may have lost an event of any type */
	uint64_t n = cnt[EPH_CNT_DROP_BASE + EPH_FAIL - 1] + cnt[EPH_CNT_MISSED];

	if (!f->failures_only) {
		n += cnt[EPH_CNT_DROP_BASE + EPH_ASSIGN - 1];
		n += cnt[EPH_CNT_DROP_BASE + EPH_CONNECT - 1];
		if (f->releases)
			n += cnt[EPH_CNT_DROP_BASE + EPH_RELEASE - 1];
	}
	return n;
}

static void set_held(uint32_t pid, uint32_t held, void *ctx)
{
	eph_summary__set_held(ctx, pid, held);
}

/* A reconciliation with sock_diag now, whatever the tracker's interval (0 for a plain events:
 * eph_tracker__tick() does one when it is due, and without a worker does it before it returns). */
static int tracker_resync_now(struct eph_tracker *t)
{
	uint64_t every = t->o.resync_ms;
	int err;

	t->o.resync_ms = 1;
	t->next_resync_ns = 0;
	err = eph_tracker__tick(t, eph_now_ns());
	t->o.resync_ms = every;
	return err;
}

/*
 * The summary's HELD from the tracker: what each process holds now, of the protocol and family
 * shown. A reconciliation first, so that ports that went back without an event (the end of
 * TIME_WAIT on the tracepoint backend) are not counted.
 */
static void held_from_tracker(struct events_ctx *c)
{
	int err;

	err = tracker_resync_now(&c->t);
	if (!err) {
		eph_summary__clear_held(c->summary);
		err = eph_occ__held_by_proc(c->t.occ, c->filter.proto, c->filter.family, set_held,
					    c->summary);
	}
	if (err)
		eph_err("the ports held at the end could not be counted: %s; HELD is the "
			"assignments minus the releases seen",
			strerror(-err));
}

static int print_miss(void *ctx, const char *name, uint64_t run_time_ns, uint64_t run_cnt,
		      uint64_t misses)
{
	(void)run_time_ns, (void)run_cnt;
	if (misses && !eph_loader__twin_name(name))
		return sb_printf(ctx, " %s %llu", name, (unsigned long long)misses);
	return 0;
}

/* Which programs the kernel skipped: the runs counted in MISSED, and so in the drops; the
 * per-program counts include the runs the *_nested twins took instead (nested). The
 * line is built in sb (without memory, the end of it is left out). */
static void print_misses(struct strbuf *sb, struct eph_loader *l, uint64_t missed, uint64_t nested)
{
	int err;

	sb_reset(sb);
	err = eph_loader__prog_stats(l, print_miss, sb);
	if (err)
		sb_printf(sb, " (per program: %s)", strerror(-err));
	if (nested)
		sb_printf(sb, " (of these, %llu taken by the *_nested twins)",
			  (unsigned long long)nested);
	eph_note("the kernel skipped %llu runs of ephtrace's programs (already running on that "
		 "CPU, or a kretprobe's maxactive instances all in use) that nothing took "
		 "instead, each counted as dropped; skipped per program:%s",
		 (unsigned long long)missed, sb->len ? sb->buf : "");
}

/* -v: the calls the kernel side was still following when it stopped (entered, never ended: a
 * connect() still in its port search, or a kretprobe's return that the kernel did not probe
 * and whose thread has not exited yet). */
static void print_calls_left(const struct eph_loader *l)
{
	uint64_t n;
	int err = eph_loader__calls_left(l, &n);

	if (err)
		eph_note("calls left in progress: unknown (%s)", strerror(-err));
	else
		eph_note("calls left in progress: %llu", (unsigned long long)n);
}

static void print_summary(struct events_ctx *c, struct eph_loader *l)
{
	uint64_t cnt[EPH_CNT_MAX] = {}, dropped;

	if (c->tracking)
		held_from_tracker(c);
	eph_loader__counters(l, cnt);
	dropped = dropped_shown(&c->filter, cnt);
	eph_summary__set_missed(c->summary, cnt[EPH_CNT_MISSED]);
	sb_reset(&c->sb);
	if (c->json) {
		if (!eph_summary__json(c->summary, &c->sb, dropped, c->backend) &&
		    !sb_putc(&c->sb, '\n'))
			fwrite(c->sb.buf, 1, c->sb.len, stdout);
	} else if (!eph_summary__text(c->summary, &c->sb, dropped, c->backend) &&
		   !sb_putc(&c->sb, '\n')) {
		fwrite(c->sb.buf, 1, c->sb.len, stderr);
	}
	fflush(stdout);
	if (cnt[EPH_CNT_HOLD_FULL] || cnt[EPH_CNT_CTX_FULL] || cnt[EPH_CNT_STATS_FULL])
		eph_note("kernel tables were full: %llu assignments not tracked for release "
			 "(--max-holds), %llu calls not followed, %llu counts or histogram samples "
			 "lost",
			 (unsigned long long)cnt[EPH_CNT_HOLD_FULL],
			 (unsigned long long)cnt[EPH_CNT_CTX_FULL],
			 (unsigned long long)cnt[EPH_CNT_STATS_FULL]);
	if (cnt[EPH_CNT_WALK_CUT])
		eph_note("%llu descriptor walks (process exits, close_range()) cut short at %d "
			 "descriptors: this kernel has no bpf_loop() (5.17); the UDP ports of the "
			 "descriptors past them were released unseen",
			 (unsigned long long)cnt[EPH_CNT_WALK_CUT], EPH_FD_WALK_BOUNDED);
	if (cnt[EPH_CNT_MISSED])
		print_misses(&c->sb, l, cnt[EPH_CNT_MISSED], cnt[EPH_CNT_NESTED_RUNS]);
	if (cnt[EPH_CNT_DROPPED] > dropped)
		eph_note("%llu events of types not shown were also dropped",
			 (unsigned long long)(cnt[EPH_CNT_DROPPED] - dropped));
	if (c->bad_records)
		eph_note("%llu malformed records ignored", (unsigned long long)c->bad_records);
}

/*
 * The occupancy of every namespace, seeded from sock_diag now that the programs are attached, as
 * top keeps it: the summary's HELD and --explain's findings. Without it, HELD is a running count
 * and failures are shown unexplained. Only --explain reconciles every 5 s (its findings need the
 * kernel's view as it goes); a plain stream does it once, for the summary: a reconciliation
 * dumps every namespace and the stream would wait for it (seconds on a node with many).
 */
static void start_tracking(struct events_ctx *c, struct eph_loader *l)
{
	struct eph_tracker_opts to = { .resync_ms = c->explain ? 5000 : 0,
				       .warn = true,
				       .pi = c->pi,
				       .loader = l };
	int err;

	to.mono_to_wall = c->mono_to_wall;
	err = eph_tracker__init(&c->t, &to);
	if (err) {
		eph_err("cannot read the sockets (sock_diag): %s; the summary's HELD is the "
			"assignments minus the releases seen%s",
			strerror(-err), c->explain ? ", failures are shown without a finding" : "");
		return;
	}
	c->tracking = true;
}

int cmd_events(int argc, char **argv)
{
	struct eph_loader_opts lo = EPH_LOADER_OPTS_INIT;
	struct events_ctx c = { .sb = STRBUF_INIT };
	struct eph_loader *l = NULL;
	uint64_t duration_ms = 0, deadline = 0;
	int ret, err;

	ret = parse_args(argc, argv, &c, &lo, &duration_ms);
	if (ret >= 0)
		return ret;
	c.summary = eph_summary__new();
	c.pi = eph_procinfo__new(eph_node_root, 0);
	if (!c.summary || !c.pi) {
		eph_err("out of memory");
		ret = 1;
		goto out;
	}
	c.mono_to_wall = eph_mono_to_wall_ns();
	lo.seeds = true;
	ret = eph_start(&lo, on_record, &c, &l);
	if (ret)
		goto out;
	c.backend = eph_backend_name(eph_loader__backend(l));
	start_tracking(&c, l);
	if (!c.json) {
		sb_reset(&c.sb);
		if (!eph_format_text_header(&c.sb) && !sb_putc(&c.sb, '\n'))
			fwrite(c.sb.buf, 1, c.sb.len, stdout);
	}
	fflush(stdout);
	if (duration_ms)
		deadline = eph_now_ms() + duration_ms;
	while (!eph_exiting) {
		c.mono_to_wall = eph_mono_to_wall_ns();
		err = eph_loader__poll(l, 100);
		if (err == -EINTR)
			break;
		if (err < 0) {
			eph_err("reading the ring buffer failed: %s", strerror(-err));
			ret = 1;
			break;
		}
		if (fflush(stdout) || ferror(stdout))
			break; /* the reader went away */
		if (deadline && eph_now_ms() >= deadline)
			break;
		if (c.tracking && eph_tracker__tick(&c.t, eph_now_ns()) == -ENOMEM) {
			c.err = -ENOMEM;
			break;
		}
	}
	eph_loader__drain(l); /* detach first, then take what is left: nothing lost */
	print_summary(&c, l);
	if (lo.verbose)
		print_calls_left(l);
	if (c.err) {
		eph_err("out of memory while formatting events");
		ret = 1;
	}
out:
	if (c.tracking)
		eph_tracker__fini(&c.t);
	eph_findings__free(&c.fs);
	eph_loader__free(l);
	eph_summary__free(c.summary);
	eph_procinfo__free(c.pi);
	sb_free(&c.sb);
	return ret;
}
