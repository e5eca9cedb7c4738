/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Inside `ephbench report`: the BENCH records read and the rows of the table. report.c reads
 * the records, makes most rows and prints the table and its JSON; report_overhead.c makes the
 * rows of the loops (`ephbench overhead`: a loop without tracer, then what each tracer costs).
 */
#ifndef EPHBENCH_REPORT_H
#define EPHBENCH_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RECS 256
#define MAX_ROWS (2 * MAX_RECS) /* a record makes at most two rows */
#define MAX_KV 32
#define CELL 160

/* One BENCH line: its key=value pairs, pointing into the line. */
struct rec {
	unsigned int n;
	char *key[MAX_KV];
	char *val[MAX_KV];
};

struct row {
	char figure[CELL];
	char where[32];
	char result[CELL];
	char target[CELL];
	char met[CELL];
	const struct rec *rec;
};

extern struct rec recs[MAX_RECS];
extern unsigned int nrecs;

static inline const char *get(const struct rec *r, const char *key)
{
	unsigned int i;

	for (i = 0; i < r->n; i++)
		if (!strcmp(r->key[i], key))
			return r->val[i];
	return NULL;
}

static inline const char *gets(const struct rec *r, const char *key)
{
	return get(r, key) ?: "";
}

static inline double getd(const struct rec *r, const char *key)
{
	const char *v = get(r, key);

	return v ? strtod(v, NULL) : 0;
}

static inline bool is(const struct rec *r, const char *key, const char *value)
{
	return !strcmp(gets(r, key), value);
}

void cell(char *dst, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A new row of record r at where: target and met "-". */
struct row *add_row(const struct rec *r, const char *where);
/* A record whose status is not ok: its error as the result, true. */
bool na(const struct rec *r, struct row *w);

/* ---- report_overhead.c ---- */

/* The rows of the loops measured at where, a workload after the other: the loop without
 * tracer, the throughput each tracer took from it, the CPU time each added to a call. */
void add_overhead_rows(const char *where);

#endif
