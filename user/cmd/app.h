/* SPDX-License-Identifier: GPL-2.0 */
/* What every command that loads BPF shares: start-up, signals, the clock (options: cmdline.h). */
#ifndef EPH_APP_H
#define EPH_APP_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "loader.h"

/* Set by SIGINT/SIGTERM. */
extern volatile sig_atomic_t eph_exiting;

/*
 * Set by tests and fuzzers: every command returns right after parsing its options, with the
 * status of the parse (0 when it would run, 2 for bad usage), loading and touching nothing:
 * eph_cmdline_parse() returns 0 instead of "go on".
 */
extern bool eph_parse_only;

/* SIGINT and SIGTERM set eph_exiting, SIGPIPE is ignored. main() calls it first of all for the
 * commands that run until stopped, so that a signal during start-up still ends them cleanly. */
void eph_signals_init(void);

/* Privilege check, open/load/attach, the "using backend" line.
 * Returns 0, or the exit status to return (1) after printing why. */
int eph_start(const struct eph_loader_opts *lo, eph_record_fn fn, void *ctx,
	      struct eph_loader **out);

struct strbuf;

/* sb on stdout, flushed, so that a screen or an interval is out whole: 0 or -errno (-EPIPE:
 * the reader went away). */
int eph_print_stdout(const struct strbuf *sb);

uint64_t eph_now_ms(void);	  /* CLOCK_MONOTONIC, ms */
uint64_t eph_now_ns(void);	  /* CLOCK_MONOTONIC */
uint64_t eph_wall_ns(void);	  /* CLOCK_REALTIME */
/* CLOCK_REALTIME - CLOCK_MONOTONIC, for the kernel's timestamps; taken again every loop so that
 * a step of the wall clock (NTP on a host just booted) is followed */
int64_t eph_mono_to_wall_ns(void);

#endif
