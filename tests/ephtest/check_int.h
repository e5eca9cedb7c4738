/* SPDX-License-Identifier: GPL-2.0 */
/* What check.c, check_read.c and check_summary.c share: the parsed events and the checker. */
#ifndef EPHTEST_CHECK_INT_H
#define EPHTEST_CHECK_INT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "ephtest.h"

#define MAX_LISTED 20 /* missing / unexpected events listed one by one */

struct jev {
	int lineno;
	const char *line;
	const char *event;
	int type; /* EXPECT_ASSIGN, EXPECT_FAIL, EXPECT_BOUND_CONNECT, or EXPECT_NONE */
	uint8_t op, proto, family;
	long long pid, tid, netns, sport, dport, req_port, errnum;
	const char *comm, *pcomm, *error, *backend;
	bool owned; /* a release or time_wait: pid, tid, comm and process_comm are its owner's */
	bool ephemeral, bound, no_port;
	bool has_saddr, has_daddr;
	uint8_t saddr[16], daddr[16];
	bool matched;
};

struct checker {
	const struct check_in *in;
	struct check_out *out;
	char *text;	    /* copy of the JSON, split into lines */
	json_object **objs; /* one per line, NULL if not JSON */
	struct jev *evs;
	int nr_evs;
	json_object *summary;
	int summary_line;
	const char *summary_text;
	unsigned int missing;
	unsigned int unexpected;
	bool lossy; /* events missing, and excused by the drops the summary counts */
};

void problem(struct checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The offending JSON line under a problem. */
void show_line(struct checker *c, int lineno, const char *line);
/* A string (NULL for null) or an integer (-1 for null) member of o; false if absent or not so. */
bool get_str(json_object *o, const char *key, const char **out);
bool get_int(json_object *o, const char *key, long long *out);
/* Split ephtrace's stdout into lines, decode the events and find the summary (check_read.c). */
int parse_lines(struct checker *c);
/* Whether the oracle record is one the traced workload must be seen making (check.c). */
bool wanted(const struct check_in *in, const struct orec *r);
/* check_summary.c */
void check_summary(struct checker *c, unsigned int got_assigned);
bool check_skipped(struct checker *c);

#endif
