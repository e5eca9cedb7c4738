// SPDX-License-Identifier: GPL-2.0
/*
 * ephtrace status: a one-shot snapshot of the ephemeral ports held in every network namespace,
 * against the range in force there, from sock_diag, sysctls and /proc. The only BPF is the port
 * iterator, when the kernel allows it (it tells which ports bind() reserved); without it status
 * works the same: for a first look, and for hosts where BPF is not allowed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "cli.h"
#include "cmdline.h"
#include "commands.h"
#include "msg.h"
#include "netns.h"
#include "occupancy.h"
#include "portiter.h"
#include "procinfo.h"
#include "sockdiag.h"

#define STATUS_DEFAULT_LIMIT 10

/* clang-format off */
static const char usage[] =
	"Usage: ephtrace status [OPTIONS]\n"
	"Ephemeral ports held now in every network namespace, per destination, bound address and\n"
	"process, against the range in force (ip_local_port_range minus ip_local_reserved_ports).\n"
	"Reads sock_diag, sysctls and /proc once, and loads one BPF iterator when it can, to tell\n"
	"which ports bind() reserved (without it, that is unknown for connected sockets). Rates,\n"
	"failures and forecasts need events: see 'ephtrace top'.\n"
	"\n"
	"  --json               one JSON object (else text for an 80-column terminal)\n"
	"  --netns INODE        only this network namespace (its inode as in NETNS, or NS)\n"
	"  -l, --limit N        text: at most N lines per table (default 10, 0 = all)\n"
	"      --max-ports N    ports tracked at most (default 262144); the rest is 'dropped'\n"
	EPH_NODE_USAGE
	"  -v, --verbose        why the port iterator could not be used, and libbpf's messages\n"
	EPH_HELP_USAGE
	"\n"
	"Root is needed to enter other namespaces, to name the owners of other users' sockets and\n"
	"to load the iterator.\n"
	"TIME_WAIT sockets have no owner any more: they are listed with pid null / '-'.\n"
	"\n"
	"EXAMPLES:\n"
	"  ephtrace status                      # every namespace, the 10 busiest of each table\n"
	"  ephtrace status --json               # the same as one JSON object\n"
	"  ephtrace status --netns 4026531840 -l 0   # one namespace, everything\n";

struct status_opts {
	bool json;
	uint32_t netns;
	uint64_t limit;
	uint32_t max_ports;
	bool verbose;
};

enum {
	OPT_NETNS = 1000,
};

static const struct option longopts[] = {
	EPH_JSON_LONGOPTS,
	{ "netns", required_argument, NULL, OPT_NETNS },
	EPH_OCC_LONGOPTS,
	{ "verbose", no_argument, NULL, 'v' },
	EPH_HELP_LONGOPTS,
	EPH_NODE_LONGOPTS,
	{},
};
/* clang-format on */

/* One of status's own options: 1 = taken, 0 = not one of them, 2 = bad value (printed). */
static int status_opt(void *ctx, int opt, const char *arg, char **argv)
{
	struct status_opts *o = ctx;
	uint64_t v;

	(void)argv;
	switch (opt) {
	case OPT_NETNS:
		if (eph_parse_u64(arg, 1, UINT32_MAX, &v))
			return eph_bad_value("status", "netns inode", arg,
					     "a number from 1 to 4294967295");
		/* the NS column's number: the inode less 0xF0000000 */
		o->netns = v < 0xE0000000u ? v + 0xF0000000u : v;
		return 1;
	case 'v':
		o->verbose = true;
		return 1;
	}
	return 0;
}

/* -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct status_opts *o)
{
	const struct eph_cmdline cl = {
		.cmd = "status",
		.usage = usage,
		.optstring = ":l:vh",
		.longopts = longopts,
		.node_root = true,
		.json = &o->json,
		.limit = &o->limit,
		.max_ports = &o->max_ports,
		.opt = status_opt,
		.ctx = o,
	};

	return eph_cmdline_parse(&cl, argc, argv);
}

/* The port iterator, or NULL (why: with -v only): status works without it. */
static struct eph_portiter *open_portiter(bool verbose)
{
	struct eph_portiter *pi;
	char why[256];

	pi = eph_portiter__open(verbose, why, sizeof(why));
	if (!pi && verbose)
		eph_note("port iterator: %s (going on without it)", why);
	if (pi && verbose && eph_portiter__degraded(pi))
		eph_note("port iterator: %s", eph_portiter__degraded(pi));
	return pi;
}

/* Whether every namespace read had its TCP ports' bind buckets from the iterator. */
static bool buckets_known(const struct eph_sockdiag_opts *so)
{
	return so->portiter && !so->no_buckets;
}

static void report_buckets(const struct status_opts *o, const struct eph_sockdiag_opts *so)
{
	if (!o->verbose || !so->portiter)
		return;
	if (!buckets_known(so))
		eph_note("port iterator: failed in %u network namespaces: %s", so->no_buckets,
			 strerror(-so->bucket_err));
	else if (so->no_bound)
		eph_note("port iterator: no whole walk of the bind hash in %u network namespaces: "
			 "their bound-only TCP sockets are not listed",
			 so->no_bound);
}

struct learn_ctx {
	struct eph_procinfo *pi;
	struct eph_occ *occ;
	uint64_t now;
	int err;
};

static void learn_one(uint32_t pid, void *ctx)
{
	struct learn_ctx *c = ctx;
	int err = eph_procinfo__apply(c->pi, c->occ, pid, c->now);

	if (err)
		c->err = err;
}

/* The owners' containers and pods, and so their namespaces' owners. 0 or -ENOMEM. */
static int learn_owners(struct eph_occ *occ, uint64_t now)
{
	struct learn_ctx c = { .occ = occ, .now = now };

	c.pi = eph_procinfo__new(eph_node_root, 0);
	if (!c.pi)
		return -ENOMEM;
	eph_occ__for_each_proc(occ, learn_one, &c);
	eph_procinfo__free(c.pi);
	return c.err;
}

int cmd_status(int argc, char **argv)
{
	struct status_opts o = { .limit = STATUS_DEFAULT_LIMIT };
	struct eph_sockdiag_opts so = { .warn = true };
	struct eph_occ_opts oo = { 0 };
	struct strbuf sb = STRBUF_INIT;
	struct eph_netns_list *l;
	uint64_t now, wall;
	struct eph_occ *occ;
	int ret, err;

	ret = parse_args(argc, argv, &o);
	if (ret >= 0)
		return ret;
	ret = 1;
	l = eph_netns_list__new();
	if (!l) {
		eph_err("cannot find network namespaces: %s", strerror(errno));
		return 1;
	}
	if (o.netns && !eph_netns_list__find(l, o.netns)) {
		eph_err("network namespace %u not found (no process in it, not in /run/netns, or not "
			"visible without root)",
			o.netns);
		goto out_free_list;
	}
	oo.max_ports = o.max_ports;
	occ = eph_occ__new(&oo);
	if (!occ) {
		eph_err("out of memory");
		goto out_free_list;
	}
	so.portiter = open_portiter(o.verbose);
	now = eph_now_ns();
	wall = eph_wall_ns();
	err = eph_sockdiag_seed(occ, l, o.netns, now, &so);
	if (err) {
		eph_err("no network namespace could be read: %s", strerror(-err));
		goto out_free_occ;
	}
	report_buckets(&o, &so);
	err = learn_owners(occ, now);
	if (err) {
		eph_err("out of memory");
		goto out_free_occ;
	}
	err = o.json ? eph_occ__json(occ, &sb, now, wall, 0) :
		       eph_occ__text(occ, &sb, now, wall, 0, o.limit);
	if (!err && o.json)
		err = sb_putc(&sb, '\n');
	if (err) {
		eph_err("out of memory");
		goto out_free_occ;
	}
	fwrite(sb.buf, 1, sb.len, stdout);
	if (eph_occ__dropped(occ))
		eph_note("%llu ports not tracked (--max-ports)",
			 (unsigned long long)eph_occ__dropped(occ));
	ret = fflush(stdout) ? 1 : 0;
out_free_occ:
	eph_portiter__free(so.portiter);
	eph_occ__free(occ);
out_free_list:
	eph_netns_list__free(l);
	sb_free(&sb);
	return ret;
}
