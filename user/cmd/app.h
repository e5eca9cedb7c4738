/* SPDX-License-Identifier: GPL-2.0 */
/* What every command that loads BPF shares: start-up, signals, the clock, the intervals of -i
 * and -n (options: cmdline.h). */
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

/*
 * The outputs of -i SECS -n COUNT (top, hist): one every interval_ms, count of them (0: until
 * stopped), and one more, the last, as soon as SIGINT or SIGTERM comes: what the run saw since
 * the previous output is not lost. The loop:
 *
 *	eph_interval__start(&iv);
 *	while (eph_interval__more(&iv)) {
 *		if (eph_interval__left(&iv)) { wait; continue; }
 *		output; iv.done++;
 *	}
 */
struct eph_interval {
	uint64_t interval_ms;
	uint64_t count;
	uint64_t done; /* outputs made */
	uint64_t next; /* when the next is due (eph_now_ms()) */
	bool last;     /* the one due now is the last: a signal came */
};

void eph_interval__start(struct eph_interval *iv);
/* Whether another output is to come: count not reached, and the last not made. */
bool eph_interval__more(const struct eph_interval *iv);
/* ms until the next output is due; 0: it is due now (or a signal asks for the last one), and
 * the one after it is scheduled. */
uint64_t eph_interval__left(struct eph_interval *iv);

#endif
