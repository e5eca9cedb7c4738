// SPDX-License-Identifier: GPL-2.0
/*
 * The table of `make bench`: one row per figure, with the target of issue 6 and whether it was
 * met, as an aligned Markdown table (README keeps it as printed), and the same rows as JSON.
 * The rows of the loops (`ephbench overhead`) are made in report_overhead.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ephbench.h"
#include "report.h"

#define STARTUP_MS 150.0
#define REPLAY_PER_S 10e6
#define SOAK_SCRAPE_MS 1000.0 /* issue 14: the longest scrape of the serve soak */

struct rec recs[MAX_RECS];
unsigned int nrecs;
static struct row rows[MAX_ROWS];
static unsigned int nrows;

/* "BENCH k=v k="v w" ..." (anything before BENCH is skipped: a VM's console may add some). */
static int parse_line(char *line)
{
	struct rec *r;
	char *p = strstr(line, "BENCH ");

	if (!p)
		return 0;
	if (nrecs == MAX_RECS)
		return -ENOSPC;
	r = &recs[nrecs];
	p += strlen("BENCH ");
	while (*p && r->n < MAX_KV) {
		char *eq;

		while (*p == ' ')
			p++;
		eq = strchr(p, '=');
		if (!*p || !eq)
			break;
		*eq = '\0';
		r->key[r->n] = p;
		p = eq + 1;
		if (*p == '"') {
			r->val[r->n] = ++p;
			p = strchr(p, '"');
			if (!p)
				return -EINVAL;
		} else {
			r->val[r->n] = p;
			p += strcspn(p, " \r\n");
		}
		r->n++;
		if (*p)
			*p++ = '\0';
	}
	if (get(r, "kind") && get(r, "where"))
		nrecs++;
	return 0;
}

void cell(char *dst, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, len, fmt, ap);
	va_end(ap);
}

struct row *add_row(const struct rec *r, const char *where)
{
	struct row *w = &rows[nrows++];

	memset(w, 0, sizeof(*w));
	w->rec = r;
	snprintf(w->where, sizeof(w->where), "%s", where);
	snprintf(w->target, sizeof(w->target), "-");
	snprintf(w->met, sizeof(w->met), "-");
	return w;
}

bool na(const struct rec *r, struct row *w)
{
	if (is(r, "status", "ok"))
		return false;
	cell(w->result, sizeof(w->result), "n/a: %s", gets(r, "error"));
	return true;
}

static void row_throughput(const struct rec *r, const char *where)
{
	struct row *w = add_row(r, where);

	cell(w->figure, sizeof(w->figure), "events/s taken with 0 drops (%s)", gets(r, "backend"));
	if (na(r, w))
		return;
	if (is(r, "bound", "lower")) {
		cell(w->result, sizeof(w->result),
		     ">= %.0f (no drop even at the loop's top speed, %s clients)",
		     getd(r, "events_per_s"), gets(r, "clients"));
		return;
	}
	cell(w->result, sizeof(w->result),
	     "%.0f (%s clients); %s dropped at %.0f/s with %s clients%s", getd(r, "events_per_s"),
	     gets(r, "clients"), gets(r, "dropped"), getd(r, "drop_events_per_s"),
	     gets(r, "drop_clients"), getd(r, "drop_offered") ? " paced" : "");
}

static void row_replay(const struct rec *r, const char *where)
{
	struct row *w = add_row(r, where);
	double v = getd(r, "events_per_s");

	cell(w->figure, sizeof(w->figure), "aggregation core, events/s on 1 core (replay)");
	if (na(r, w))
		return;
	cell(w->result, sizeof(w->result), "%.2f M (%.2f..%.2f; %s pids, %s dests, %s held)",
	     v / 1e6, getd(r, "min") / 1e6, getd(r, "max") / 1e6, gets(r, "pids"), gets(r, "dests"),
	     gets(r, "live"));
	cell(w->target, sizeof(w->target), ">= 10 M");
	cell(w->met, sizeof(w->met), "%s", v >= REPLAY_PER_S ? "yes" : "no");
}

static void row_corememory(const struct rec *r, const char *where)
{
	struct row *w = add_row(r, where);
	double b = getd(r, "bytes"), n = getd(r, "holds");

	cell(w->figure, sizeof(w->figure), "occupancy core heap, %s holds (replay)",
	     gets(r, "holds"));
	if (na(r, w))
		return;
	cell(w->result, sizeof(w->result), "%.1f MiB (%.0f B per hold)", b / 1048576, b / n);
}

static void row_startup(const struct rec *r, const char *where)
{
	struct row *w = add_row(r, where);
	bool eph = is(r, "tool", "ephtrace");
	unsigned int i;

	if (eph)
		cell(w->figure, sizeof(w->figure), "start-up to attached: ephtrace (%s)",
		     gets(r, "backend"));
	else
		cell(w->figure, sizeof(w->figure), "start-up to header line: %s", gets(r, "tool"));
	if (na(r, w))
		return;
	cell(w->result, sizeof(w->result), "%.0f ms (%.0f..%.0f, %s runs)", getd(r, "ms"),
	     getd(r, "ms_min"), getd(r, "ms_max"), gets(r, "n"));
	if (!eph)
		return;
	if (!strcmp(where, "host")) {
		cell(w->target, sizeof(w->target), "< 150 ms");
		cell(w->met, sizeof(w->met), "%s", getd(r, "ms") < STARTUP_MS ? "yes" : "no");
		return;
	}
	for (i = 0; i < nrecs; i++) {
		const struct rec *p = &recs[i];

		if (!is(p, "kind", "startup") || strcmp(gets(p, "where"), where) ||
		    !is(p, "tool", "tcpconnect"))
			continue;
		cell(w->target, sizeof(w->target), "< tcpconnect");
		if (!is(p, "status", "ok"))
			cell(w->met, sizeof(w->met), "tcpconnect n/a");
		else
			cell(w->met, sizeof(w->met), "%s",
			     getd(r, "ms") < getd(p, "ms") ? "yes" : "no");
	}
}

static void row_memory(const struct rec *r, const char *where)
{
	struct row *w = add_row(r, where);
	double rss = getd(r, "rss_kb"), idle = getd(r, "idle_rss_kb");

	cell(w->figure, sizeof(w->figure), "RSS of ephtrace top, %s ports held (%s, --max-holds %s)",
	     gets(r, "ports"), gets(r, "backend"), gets(r, "max_holds"));
	if (na(r, w))
		return;
	cell(w->result, sizeof(w->result),
	     "%.1f MiB (idle %.1f MiB; +%.0f B per port; peak %.1f MiB); it shows %s held, "
	     "dropped %s",
	     rss / 1024, idle / 1024, (rss - idle) * 1024 / getd(r, "ports"),
	     getd(r, "hwm_kb") / 1024, gets(r, "held"), gets(r, "dropped"));
}

static void row_vm(const struct rec *r, const char *where)
{
	struct row *w = add_row(r, where);

	cell(w->figure, sizeof(w->figure), "the guest's run");
	na(r, w);
}

static void row_progcost(const struct rec *r, const char *where)
{
	struct row *w = add_row(r, where);

	cell(w->figure, sizeof(w->figure), "BPF time per connection, bpf_stats on (%s)",
	     gets(r, "backend"));
	if (na(r, w))
		return;
	cell(w->result, sizeof(w->result), "%.0f ns, %.1f runs (runs x ns): %s",
	     getd(r, "ns_per_conn"), getd(r, "runs_per_conn"), gets(r, "progs"));
}

/* The serve soak (tests/host/soak.py): scrapes and /healthz, then resyncs and drops. */
static void row_soak(const struct rec *r, const char *where)
{
	struct row *w = add_row(r, where);
	bool ok;

	cell(w->figure, sizeof(w->figure),
	     "serve soak: scrape p50 / p99 / max, /healthz (%s netns, %s procs, %s held, %s "
	     "connect/s for %s s, scrapes every 0.5 s)",
	     gets(r, "ns"), gets(r, "procs"), gets(r, "held"), gets(r, "rate"), gets(r, "secs"));
	if (na(r, w))
		return;
	cell(w->result, sizeof(w->result),
	     "%.0f / %.0f / %.0f ms (%s scrapes); /healthz %s polls, %s not 200", getd(r, "p50_ms"),
	     getd(r, "p99_ms"), getd(r, "max_ms"), gets(r, "scrapes"), gets(r, "healthz"),
	     gets(r, "non200"));
	cell(w->target, sizeof(w->target), "max < 1 s, /healthz only 200");
	ok = getd(r, "max_ms") < SOAK_SCRAPE_MS && !getd(r, "non200");
	cell(w->met, sizeof(w->met), "%s", ok ? "yes" : "no");

	w = add_row(r, where);
	cell(w->figure, sizeof(w->figure), "serve soak: resync (off the loop), drops, series");
	cell(w->result, sizeof(w->result),
	     "%s resyncs: collected in %.0f ms median (%.0f max), applied under the lock in %.1f "
	     "ms max; %.0f events dropped; at most %s series, %s counter decreases",
	     gets(r, "resyncs"), getd(r, "resync_p50_ms"), getd(r, "resync_max_ms"),
	     getd(r, "apply_max_ms"), getd(r, "drops"), gets(r, "series_max"),
	     gets(r, "decreases"));
	cell(w->target, sizeof(w->target), "0 drops, 0 decreases");
	ok = !getd(r, "drops") && !getd(r, "decreases");
	cell(w->met, sizeof(w->met), "%s", ok ? "yes" : "no");
}

static const struct {
	const char *kind;
	void (*fn)(const struct rec *r, const char *where);
} kinds[] = {
	{ "vm", row_vm },
	{ "overhead", NULL }, /* add_overhead_rows(): a place's loops, each with its tracers */
	{ "progcost", row_progcost },
	{ "throughput", row_throughput },
	{ "replay", row_replay },
	{ "corememory", row_corememory },
	{ "startup", row_startup },
	{ "memory", row_memory },
	{ "soak", row_soak },
};

static void add_rows(const char *kind, void (*fn)(const struct rec *r, const char *where),
		     const char *where)
{
	unsigned int i;

	for (i = 0; i < nrecs; i++)
		if (is(&recs[i], "kind", kind) && !strcmp(gets(&recs[i], "where"), where))
			fn(&recs[i], where);
}

static void print_sep(FILE *f, const int *wd)
{
	int i, j;

	for (i = 0; i < 5; i++) {
		fputs(i ? "-|-" : "|-", f);
		for (j = 0; j < wd[i]; j++)
			fputc('-', f);
	}
	fputs("-|\n", f);
}

static void print_table(FILE *f)
{
	static const char *const head[5] = { "figure", "where", "result", "target", "met" };
	int wd[5];
	unsigned int i, c;

	for (c = 0; c < 5; c++)
		wd[c] = strlen(head[c]);
	for (i = 0; i < nrows; i++) {
		const char *v[5] = { rows[i].figure, rows[i].where, rows[i].result, rows[i].target,
				     rows[i].met };

		for (c = 0; c < 5; c++)
			if ((int)strlen(v[c]) > wd[c])
				wd[c] = strlen(v[c]);
	}
	fprintf(f, "| %-*s | %-*s | %-*s | %-*s | %-*s |\n", wd[0], head[0], wd[1], head[1], wd[2],
		head[2], wd[3], head[3], wd[4], head[4]);
	print_sep(f, wd);
	for (i = 0; i < nrows; i++)
		fprintf(f, "| %-*s | %-*s | %-*s | %-*s | %-*s |\n", wd[0], rows[i].figure, wd[1],
			rows[i].where, wd[2], rows[i].result, wd[3], rows[i].target, wd[4],
			rows[i].met);
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void print_json(FILE *f)
{
	unsigned int i, k;

	fputs("{\"context\":[", f);
	for (i = 0, k = 0; i < nrecs; i++) {
		unsigned int j;

		if (!is(&recs[i], "kind", "meta"))
			continue;
		fputs(k++ ? ",{" : "{", f);
		for (j = 0; j < recs[i].n; j++) {
			fputs(j ? "," : "", f);
			json_str(f, recs[i].key[j]);
			fputc(':', f);
			json_str(f, recs[i].val[j]);
		}
		fputc('}', f);
	}
	fputs("],\"figures\":[", f);
	for (i = 0; i < nrows; i++) {
		const struct rec *r = rows[i].rec;
		unsigned int j;

		fputs(i ? ",\n{" : "\n{", f);
		fputs("\"figure\":", f);
		json_str(f, rows[i].figure);
		fputs(",\"where\":", f);
		json_str(f, rows[i].where);
		fputs(",\"result\":", f);
		json_str(f, rows[i].result);
		fputs(",\"target\":", f);
		json_str(f, rows[i].target);
		fputs(",\"met\":", f);
		json_str(f, rows[i].met);
		fputs(",\"raw\":{", f);
		for (j = 0; j < r->n; j++) {
			char *end;

			fputs(j ? "," : "", f);
			json_str(f, r->key[j]);
			fputc(':', f);
			strtod(r->val[j], &end);
			if (r->val[j][0] && !*end && strcmp(r->key[j], "where"))
				fputs(r->val[j], f);
			else
				json_str(f, r->val[j]);
		}
		fputs("}}", f);
	}
	fputs("\n]}\n", f);
}

int cmd_report(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", required_argument, NULL, 'j' },
		{},
	};
	const char *json = NULL, *wheres[MAX_RECS];
	static char lines[MAX_RECS][4096];
	unsigned int nl = 0, nwheres = 1, i, k;
	int opt;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (opt != 'j') {
			fprintf(stderr, "Usage: ephbench report [--json FILE] [RESULTS-FILE...]\n");
			return 2;
		}
		json = optarg;
	}
	for (i = optind; i < (unsigned int)argc || i == (unsigned int)optind; i++) {
		bool in = optind == argc; /* no file: stdin */
		FILE *f = in ? stdin : fopen(argv[i], "re");

		if (!f) {
			fprintf(stderr, "ephbench report: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		while (nl < MAX_RECS && fgets(lines[nl], sizeof(lines[nl]), f)) {
			if (parse_line(lines[nl])) {
				fprintf(stderr, "ephbench report: bad line: %s\n", lines[nl]);
				return 1;
			}
			nl++;
		}
		if (!in)
			fclose(f);
		if (in)
			break;
	}
	/* rows by kind (in the order of kinds[]), then by place (host first) */
	wheres[0] = "host";
	for (i = 0; i < nrecs; i++) {
		const char *w = gets(&recs[i], "where");

		for (k = 0; k < nwheres && strcmp(wheres[k], w); k++)
			;
		if (k == nwheres && nwheres < MAX_RECS && strcmp(w, "run"))
			wheres[nwheres++] = w;
	}
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		for (unsigned int p = 0; p < nwheres; p++) {
			if (kinds[k].fn)
				add_rows(kinds[k].kind, kinds[k].fn, wheres[p]);
			else
				add_overhead_rows(wheres[p]);
		}
	}
	for (i = 0; i < nrecs; i++) {
		const struct rec *r = &recs[i];
		unsigned int j;

		if (!is(r, "kind", "meta"))
			continue;
		printf("%s:", gets(r, "where"));
		for (j = 0; j < r->n; j++)
			if (strcmp(r->key[j], "kind") && strcmp(r->key[j], "where"))
				printf(" %s=%s", r->key[j], r->val[j]);
		putchar('\n');
	}
	putchar('\n');
	print_table(stdout);
	if (json) {
		FILE *f = fopen(json, "we");

		if (!f) {
			fprintf(stderr, "ephbench report: %s: %s\n", json, strerror(errno));
			return 1;
		}
		print_json(f);
		if (fclose(f)) {
			fprintf(stderr, "ephbench report: %s: %s\n", json, strerror(errno));
			return 1;
		}
	}
	return 0;
}
