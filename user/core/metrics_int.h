/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The metrics writer's own types and the functions its files share (metrics_format.c: the
 * syntax of the formats, samples, labels and values; metrics.c: the kernel's counters and
 * histograms, ephtrace's own families, eph_metrics_write; metrics_rows.c: the rows of
 * destinations, bind scopes, namespaces and processes; metrics_findings.c: the findings'). Not
 * for other modules: they
 * use metrics.h.
 */
#ifndef EPH_METRICS_INT_H
#define EPH_METRICS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

enum mtype {
	M_COUNTER,
	M_GAUGE,
	M_HISTOGRAM,
	M_INFO
};

struct family {
	const char *name; /* a counter's without "_total", an info's without "_info" */
	enum mtype type;
	const char *unit; /* OpenMetrics UNIT, or NULL */
	const char *help;
};

/* Errors are sticky: every step does nothing once one failed, the caller checks at the end. */
struct writer {
	struct strbuf *sb;
	bool om;
	int err;
	const struct family *pending; /* header not written yet */
	const char *name;	      /* family of the sample being written */
	unsigned int nlabels;	      /* labels of the sample being written */
};

/* Names of kernel values, or the number when a newer BPF object sends one we do not know. */
struct name_buf {
	char s[24];
};

const char *or_number(const char *name, unsigned int v, struct name_buf *b);

/* ---- the writer (metrics_format.c) ---- */

void put(struct writer *w, const char *s);
/* The family of the samples that follow: its HELP/TYPE lines come before the first one. */
void family(struct writer *w, const struct family *f);
/* Start a sample of the current family: its name plus suffix ("_total", "_bucket", ...). */
void sample(struct writer *w, const char *suffix);
/* Labels of the sample (a value of at most n bytes, to its first NUL). */
void label(struct writer *w, const char *name, const char *value, size_t n);
void label_str(struct writer *w, const char *name, const char *value);
void label_u64(struct writer *w, const char *name, uint64_t v);
void label_float(struct writer *w, const char *name, double v);
void label_errno(struct writer *w, const char *name, int err);
/* End the labels, then " value\n" (value_seconds: integer nanoseconds as exact seconds). */
void value_u64(struct writer *w, uint64_t v);
void value_float(struct writer *w, double v);
void value_seconds(struct writer *w, uint64_t ns);

/* ---- tables of rows (metrics.c) ---- */

/* A copy of the n rows of sz bytes at rows in *out, sorted by cmp unless it is NULL; the caller
 * frees it (NULL when n is 0). 0 or -ENOMEM. */
int copy_rows(const void *rows, size_t n, size_t sz, int (*cmp)(const void *, const void *),
	      void **out);
/* Sort the n rows of sz bytes at v by cmp and merge each run of equal ones into its first with
 * add(into, from); returns how many rows are left, in order at the start of v. */
size_t sort_merge(void *v, size_t n, size_t sz, int (*cmp)(const void *, const void *),
		  void (*add)(void *into, const void *from));

/* ---- rows (metrics_rows.c) ---- */

/* Destinations, bind scopes, namespaces, processes and findings (top N of each), the rows
 * each table left out, the events no process was counted for. 0 or -ENOMEM. */
int write_rows(struct writer *w, const struct eph_metrics_input *in);
/* A process series' labels in order: pid (pass 0 for both to leave it out), comm, container. */
int cmp_who(uint32_t xpid, const char *xcomm, const struct eph_container *xct, uint32_t ypid,
	    const char *ycomm, const struct eph_container *yct);
/* A row's container and pod labels (empty for a host process). */
void ct_labels(struct writer *w, const struct eph_container *c);

/* ---- findings' rows (metrics_findings.c) ---- */

/* Which findings to write: not one whose labels an earlier one has (without pid labels, two
 * processes of one name in one netns can each have the same finding). *dup[i] true: left out.
 * 0 or -ENOMEM. */
int finding_dups(const struct eph_metrics_input *in, bool **dup);
/* The findings, most severe first, at most top of them (dup: left out); returns how many were
 * left out by top. */
uint64_t write_findings(struct writer *w, const struct eph_metrics_input *in, const bool *dup);

#endif
