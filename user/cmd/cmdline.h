/* SPDX-License-Identifier: GPL-2.0 */
/* A command's command line: the options several commands share, the getopt loop, usage errors. */
#ifndef EPH_CMDLINE_H
#define EPH_CMDLINE_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "loader.h"

enum {
	OPT_BACKEND = 2000,
	OPT_RINGBUF,
	OPT_MAX_HOLDS,
	OPT_BTF,
	OPT_NODE_ROOT,
	OPT_CONTAINER,
	OPT_POD,
	OPT_EXACT_ERRORS,
	OPT_JSON,
	OPT_MAX_PORTS,
};

/* clang-format off */
/* --node-root, for the commands that name containers and pods (events, top, status, serve). */
#define EPH_NODE_LONGOPTS { "node-root", required_argument, NULL, OPT_NODE_ROOT }
#define EPH_NODE_USAGE                                                                     \
	"      --node-root DIR  where the node's /var/log and /run are mounted, to name pods\n" \
	"                       and containers (default /; the DaemonSet uses /host)\n"

/* --container ID and --pod NAME (events, top), with --node-root, where their names are read. */
#define EPH_CT_LONGOPTS                                                                    \
	{ "container", required_argument, NULL, OPT_CONTAINER },                           \
	{ "pod", required_argument, NULL, OPT_POD },                                       \
	EPH_NODE_LONGOPTS
#define EPH_CT_USAGE                                                                       \
	"      --container ID   only this container (its id, or the id's first digits)\n"  \
	"      --pod NAME       only this Kubernetes pod (NAME or NAMESPACE/NAME)\n"      \
	EPH_NODE_USAGE

/* -h, --help (every command; eph_cmdline_parse prints the usage). */
#define EPH_HELP_LONGOPTS { "help", no_argument, NULL, 'h' }
#define EPH_HELP_USAGE "  -h, --help           this text\n"

/* -i SECS, -n COUNT (hist, top). */
#define EPH_INTERVAL_LONGOPTS                                                              \
	{ "interval", required_argument, NULL, 'i' },                                      \
	{ "count", required_argument, NULL, 'n' }

/* --json (events, hist, top, status); each command's usage says what it writes. */
#define EPH_JSON_LONGOPTS { "json", no_argument, NULL, OPT_JSON }

/* -l, --limit N and --max-ports N: the occupancy's text and its table (top, status). */
#define EPH_OCC_LONGOPTS                                                                   \
	{ "limit", required_argument, NULL, 'l' },                                         \
	{ "max-ports", required_argument, NULL, OPT_MAX_PORTS }
/* clang-format on */

/* Long options every BPF command takes (put at the end of a command's table, before {}). */
#define EPH_LOADER_LONGOPTS                                                                \
	{ "backend", required_argument, NULL, OPT_BACKEND },                               \
		{ "ringbuf-size", required_argument, NULL, OPT_RINGBUF },                  \
		{ "max-holds", required_argument, NULL, OPT_MAX_HOLDS },                   \
		{ "btf", required_argument, NULL, OPT_BTF },                               \
		{ "exact-errors", no_argument, NULL, OPT_EXACT_ERRORS },                   \
		{ "verbose", no_argument, NULL, 'v' }

#define EPH_LOADER_USAGE                                                                   \
	"      --backend B      auto (default), fentry, kprobe, cgroup or tracepoint\n"    \
	"      --exact-errors   cgroup backend: add the system call tracepoints for bind()\n" \
	"                       and UDP (their errnos; every system call pays for them)\n" \
	"      --ringbuf-size N ring buffer size, bytes, K/M/G suffix (default 4M, power of 2)\n" \
	"      --max-holds N    ports tracked at once in the kernel (default 65536)\n"     \
	"      --btf FILE       kernel BTF to use instead of /sys/kernel/btf/vmlinux\n"    \
	"  -v, --verbose        libbpf's messages, and the start-up's stages timed\n"

#define EPH_LOADER_OPTS_INIT                                                               \
	{ .backend = EPH_BACKEND_AUTO, .ringbuf_size = EPH_DEFAULT_RINGBUF,                \
	  .max_holds = EPH_DEFAULT_MAX_HOLDS }

struct eph_ct_filter;
struct eph_interval;

/*
 * What a command takes: its own options, through opt(), and the shared ones it names (a NULL
 * pointer, or node_root false: not taken). -h/--help prints usage.
 */
struct eph_cmdline {
	const char *cmd;	       /* in messages: "ephtrace CMD: ..." */
	const char *usage;	       /* -h, --help */
	const char *optstring;	       /* getopt_long's, starting with ':' */
	const struct option *longopts; /* with the shared ones' EPH_*_LONGOPTS */
	struct eph_loader_opts *lo;    /* EPH_LOADER_LONGOPTS */
	struct eph_interval *iv;       /* -i SECONDS, -n COUNT: its interval_ms and count */
	struct eph_ct_filter *ctf;     /* EPH_CT_LONGOPTS: --container, --pod */
	bool node_root;		       /* EPH_NODE_LONGOPTS: --node-root (sets eph_node_root) */
	bool *json;		       /* EPH_JSON_LONGOPTS: --json */
	uint64_t *limit;	       /* EPH_OCC_LONGOPTS: -l N, 0 to 1000000 (0 = all) */
	uint32_t *max_ports;	       /* EPH_OCC_LONGOPTS: --max-ports N, 1 to 16777216 */
	/* One of the command's own options (argv: for the word as given, argv[optind - 1]):
	 * 1 = taken, 0 = not one of them, 2 = bad value (printed). */
	int (*opt)(void *ctx, int opt, const char *arg, char **argv);
	void *ctx;
};

/*
 * Parse argv (argv[0] is the command's name) from the start: -1 to go on, 0 after -h/--help
 * or a good parse with eph_parse_only set (app.h), 2 (EXIT_USAGE) after printing the one line
 * that says what is wrong: an unknown option, a missing or bad value, a word where no more are
 * taken.
 */
int eph_cmdline_parse(const struct eph_cmdline *cl, int argc, char **argv);

/* Usage errors, one line each on stderr; they return 2 (EXIT_USAGE). Values from the command
 * line are quoted with control bytes as \xNN: one line stays one line, and the terminal gets
 * no escape sequence. */
/* "ephtrace CMD: invalid WHAT 'VAL': WHY" */
int eph_bad_value(const char *cmd, const char *what, const char *val, const char *why);
/* getopt_long's ':' and '?' cases (opterr = 0, optstring starting with ':'), naming the
 * option as it was given. */
int eph_bad_option(const char *cmd, int opt, char **argv);
/* A word where no more are taken: "ephtrace CMD: unexpected argument 'ARG'" */
int eph_bad_arg(const char *cmd, const char *arg);
/* "ephtrace: unknown command 'NAME' (see ephtrace --help)" */
int eph_bad_command(const char *name);

#endif
