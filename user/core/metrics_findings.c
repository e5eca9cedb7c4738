// SPDX-License-Identifier: GPL-2.0
/* Prometheus exposition: the findings' rows (ephtrace_finding), one per distinct label set, cut
 * to the top N. See metrics_int.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_int.h"
#include "order.h"

static const struct family fam_finding = {
	"ephtrace_finding", M_GAUGE, NULL,
	"1 while a finding holds: why a port space fills up (kind), how close it is to running "
	"out (severity), where (netns, target) and who (comm and container; pid with "
	"--pid-labels); see README's findings."
};
/* A finding's labels but pid, as strcmp; pid too with pid_labels. */
static int cmp_finding_labels(const struct eph_metrics_finding *x,
			      const struct eph_metrics_finding *y, bool pid)
{
	int c = strcmp(x->kind, y->kind);

	if (!c)
		c = strcmp(x->severity, y->severity);
	if (!c)
		c = eph_cmp_u64(x->netns, y->netns);
	if (!c)
		c = cmp_who(pid ? x->pid : 0, x->comm, x->ct, pid ? y->pid : 0, y->comm, y->ct);
	if (!c)
		c = strncmp(x->target, y->target, sizeof(x->target));
	return c;
}

struct finding_ref {
	const struct eph_metrics_finding *f;
	size_t i; /* its place in the input */
	bool pid;
};

static int cmp_finding_ref(const void *a, const void *b)
{
	const struct finding_ref *x = a, *y = b;
	int c = cmp_finding_labels(x->f, y->f, x->pid);

	return c ?: eph_cmp_u64(x->i, y->i);
}

/* Which findings to write: not one whose labels an earlier one has (without pid labels, two
 * processes of one name in one netns can each have the same finding). *dup[i] true: left out.
 * 0 or -ENOMEM. */
int finding_dups(const struct eph_metrics_input *in, bool **dup)
{
	struct finding_ref *r;
	size_t i;

	*dup = NULL;
	if (!in->nfindings)
		return 0;
	r = calloc(in->nfindings, sizeof(*r));
	*dup = calloc(in->nfindings, sizeof(**dup));
	if (!r || !*dup) {
		free(r);
		free(*dup);
		*dup = NULL;
		return -ENOMEM;
	}
	for (i = 0; i < in->nfindings; i++)
		r[i] = (struct finding_ref){ &in->findings[i], i, in->pid_labels };
	qsort(r, in->nfindings, sizeof(*r), cmp_finding_ref);
	for (i = 1; i < in->nfindings; i++)
		if (!cmp_finding_labels(r[i - 1].f, r[i].f, in->pid_labels))
			(*dup)[r[i].i] = true;
	free(r);
	return 0;
}

/* The findings, most severe first, at most top of them (dup: left out, see finding_dups);
 * returns how many were left out by top. */
uint64_t write_findings(struct writer *w, const struct eph_metrics_input *in,
			       const bool *dup)
{
	size_t i, n = 0, cut = 0;

	family(w, &fam_finding);
	for (i = 0; i < in->nfindings; i++) {
		const struct eph_metrics_finding *f = &in->findings[i];

		if (dup[i])
			continue;
		if (in->top && n == in->top) {
			cut++;
			continue;
		}
		n++;
		sample(w, "");
		label_str(w, "kind", f->kind);
		label_str(w, "severity", f->severity);
		label_u64(w, "netns", f->netns);
		if (in->pid_labels && f->pid)
			label_u64(w, "pid", f->pid);
		else if (in->pid_labels)
			label_str(w, "pid", "");
		label(w, "comm", f->comm, sizeof(f->comm));
		label(w, "target", f->target, sizeof(f->target));
		ct_labels(w, f->ct);
		value_u64(w, 1);
	}
	return cut;
}
