/* SPDX-License-Identifier: GPL-2.0 */
/* ephtest's command line: its options, --help, --list, and which scenarios it selected. */
#ifndef EPHTEST_OPTS_H
#define EPHTEST_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define MAX_SELECTED 64

struct opts {
	const char *ephtrace;
	const char *backend;
	const char *expect_backend; /* what --backend auto must choose; NULL: anything */
	const char *selected[MAX_SELECTED];
	int nr_selected;
	bool core; /* --core: the scenarios marked core only */
	const char *workload_only;
	int timeout_s;
	bool keep;
	bool verbose;
	bool then_exact; /* --then-exact */
	char keep_dir[256];
	uint64_t seed; /* --seed: headroom-random's state */
	bool seeded;
	unsigned int states; /* --states: headroom-random draws this many states (1) */
};

void usage(FILE *f);
/* 0, or -EINVAL after saying why on stderr; --help and --list print and exit 0. Options that
 * go to every ephtrace started (--perfbuf, --nested, --exact-errors) are set here. */
int parse_opts(int argc, char **argv, struct opts *op);
/* Whether the scenario NAME is to run: --core, --scenario. */
bool selected(const struct opts *op, const char *name);
/* --keep: a fresh directory under $TMPDIR (keep_dir empty when it could not be made). */
void make_keep_dir(struct opts *op);

#endif
