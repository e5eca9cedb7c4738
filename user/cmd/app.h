/* SPDX-License-Identifier: GPL-2.0 */
/* What every command that loads BPF shares: its options, start-up, signals, the clock. */
#ifndef EPH_APP_H
#define EPH_APP_H

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "loader.h"

/* Set by SIGINT/SIGTERM. */
extern volatile sig_atomic_t eph_exiting;

enum {
	OPT_BACKEND = 2000,
	OPT_RINGBUF,
	OPT_MAX_HOLDS,
	OPT_BTF,
	OPT_NODE_ROOT,
	OPT_CONTAINER,
	OPT_POD,
	OPT_EXACT_ERRORS,
};

/* clang-format off */
/* --node-root, for the commands that name containers and pods (events, top, status, serve). */
#define EPH_NODE_LONGOPTS { "node-root", required_argument, NULL, OPT_NODE_ROOT }
#define EPH_NODE_USAGE                                                                     \
	"      --node-root DIR  where the node's /var/log and /run are mounted, to name pods\n" \
	"                       and containers (default /; the DaemonSet uses /host)\n"

/* --container ID and --pod NAME (events, top). */
#define EPH_CT_LONGOPTS                                                                    \
	{ "container", required_argument, NULL, OPT_CONTAINER },                           \
	{ "pod", required_argument, NULL, OPT_POD }
#define EPH_CT_USAGE                                                                       \
	"      --container ID   only this container (its id, or the id's first digits)\n"  \
	"      --pod NAME       only this Kubernetes pod (NAME or NAMESPACE/NAME)\n"
/* clang-format on */

struct eph_ct_filter;
/* --container/--pod: 1 = taken, 0 = not one of them, 2 = bad value (printed). */
int eph_ct_opt(const char *cmd, int opt, const char *arg, struct eph_ct_filter *f);

/* --node-root DIR: 1 = taken (eph_node_root set), 0 = not it, 2 = bad value (printed). */
int eph_node_opt(const char *cmd, int opt, const char *arg);

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

/* One of the loader options: 1 = taken, 0 = not a loader option, 2 = bad value (printed). */
int eph_loader_opt(const char *cmd, int opt, const char *arg, struct eph_loader_opts *lo);

/* -i SECONDS and -n COUNT of the commands that print every interval: 1 = taken, 0 = not one of
 * them, 2 = bad value (printed). */
int eph_interval_opt(const char *cmd, int opt, const char *arg, uint64_t *interval_ms,
		     uint64_t *count);

/*
 * Set by tests and fuzzers: every command returns right after parsing its options, with the
 * status of the parse (0 when it would run, 2 for bad usage), loading and touching nothing.
 */
extern bool eph_parse_only;

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

/* SIGINT and SIGTERM set eph_exiting, SIGPIPE is ignored. main() calls it first of all for the
 * commands that run until stopped, so that a signal during start-up still ends them cleanly. */
void eph_signals_init(void);

/* Privilege check, open/load/attach, the "using backend" line.
 * Returns 0, or the exit status to return (1) after printing why. */
int eph_start(const struct eph_loader_opts *lo, eph_record_fn fn, void *ctx,
	      struct eph_loader **out);

uint64_t eph_now_ms(void);	  /* CLOCK_MONOTONIC, ms */
uint64_t eph_now_ns(void);	  /* CLOCK_MONOTONIC */
uint64_t eph_wall_ns(void);	  /* CLOCK_REALTIME */
/* CLOCK_REALTIME - CLOCK_MONOTONIC, for the kernel's timestamps; taken again every loop so that
 * a step of the wall clock (NTP on a host just booted) is followed */
int64_t eph_mono_to_wall_ns(void);

#endif
