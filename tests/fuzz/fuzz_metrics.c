// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the Prometheus/OpenMetrics writer (user/core/metrics.h). The first byte picks
 * what the rest of the input is:
 *   0  bytes for eph_metrics_label_value()
 *   1  an Accept header for eph_metrics_wants_openmetrics()
 *   2  a double for eph_metrics_float()
 *   3  a whole scrape: counters, stats, histograms, netns, destinations, processes with any
 *      comm bytes, failures, BPF programs with any names, version and backend strings.
 *
 * Checked: a label value is quoted, its escapes are only \\ \" \n, it holds no raw control
 * byte and is valid UTF-8, and unescaped it is exactly what the input maps to (valid UTF-8 as
 * is, control bytes as control pictures, other bytes as U+FFFD) — worked out here on its own.
 * A float reads back as the same double, in Go's 'g' form with the fewest digits. A scrape is
 * well formed line by line (HELP/TYPE/UNIT, samples "name{l="v",...} value", "# EOF" last in
 * OpenMetrics), valid UTF-8, each process's comm label is its comm, and the bytes do not
 * depend on the order of the input rows or on a second run.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_util.h"
#include "hist.h"
#include "metrics.h"
#include "strbuf.h"

#define MAX_ROWS 16

/* ---- reading the input ---- */

struct rd {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct rd *r, size_t k)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < k && r->n; i++, r->p++, r->n--)
		v |= (uint64_t)*r->p << (8 * i);
	return v;
}

static void take_bytes(struct rd *r, void *dst, size_t k)
{
	size_t n = k < r->n ? k : r->n;

	memset(dst, 0, k);
	memcpy(dst, r->p, n);
	r->p += n;
	r->n -= n;
}

static double take_double(struct rd *r)
{
	uint64_t bits = take(r, 8);
	double v;

	memcpy(&v, &bits, sizeof(v));
	return v;
}

/* ---- label values ---- */

static void put_cp(char *out, size_t *o, uint32_t cp)
{
	if (cp < 0x80) {
		out[(*o)++] = (char)cp;
	} else if (cp < 0x800) {
		out[(*o)++] = (char)(0xc0 | cp >> 6);
		out[(*o)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		out[(*o)++] = (char)(0xe0 | cp >> 12);
		out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[(*o)++] = (char)(0x80 | (cp & 0x3f));
	}
}

/* What a label value should read as, once unescaped (out: at least 3 * n bytes). */
static size_t ref_label(const char *s, size_t n, char *out)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0, o = 0, len;
	uint32_t cp;

	n = strnlen(s, n);
	while (i < n) {
		if (p[i] == '\n' || p[i] == '\\' || p[i] == '"') {
			out[o++] = (char)p[i++]; /* escaped, and read back as itself */
			continue;
		}
		if (p[i] < 0x20 || p[i] == 0x7f) { /* control pictures: U+2400 + c, U+2421 */
			put_cp(out, &o, p[i] == 0x7f ? 0x2421 : 0x2400 + p[i]);
			i++;
			continue;
		}
		len = fuzz_utf8_decode(p + i, n - i, &cp);
		if (!len) {
			put_cp(out, &o, 0xfffd);
			i++;
			continue;
		}
		memcpy(out + o, p + i, len);
		o += len;
		i += len;
	}
	return o;
}

/*
 * Read a quoted label value at s (up to end): *used = bytes taken, quotes included; the
 * unescaped value into out (as long as the quoted one). False when it is not well formed.
 */
static bool read_label(const char *s, const char *end, size_t *used, char *out, size_t *outn)
{
	const char *p = s;
	size_t o = 0;

	if (p == end || *p++ != '"')
		return false;
	while (p < end && *p != '"') {
		unsigned char c = *p++;

		if (c == '\n' || c < 0x20 || c == 0x7f)
			return false;
		if (c == '\\') {
			if (p == end || !strchr("\\\"n", *p))
				return false;
			c = *p == 'n' ? '\n' : *p;
			p++;
		}
		out[o++] = (char)c;
	}
	if (p == end)
		return false;
	*used = p + 1 - s;
	*outn = o;
	return fuzz_utf8_valid(out, o);
}

static void check_label(const char *s, size_t n)
{
	struct strbuf sb = STRBUF_INIT;
	char *want = malloc(3 * n + 1), *got;
	size_t wn = ref_label(s, n, want), gn, used;

	FUZZ_ASSERT(!eph_metrics_label_value(&sb, s, n), s, n);
	got = malloc(sb.len + 1);
	if (!want || !got)
		abort();
	FUZZ_ASSERT(fuzz_utf8_valid(sb.buf, sb.len), sb.buf, sb.len);
	FUZZ_ASSERT(read_label(sb.buf, sb.buf + sb.len, &used, got, &gn) && used == sb.len, sb.buf,
		    sb.len);
	FUZZ_ASSERT(gn == wn && !memcmp(got, want, gn), sb.buf, sb.len);
	free(want);
	free(got);
	sb_free(&sb);
}

/* ---- Accept ---- */

static void check_accept(const char *s)
{
	bool om = eph_metrics_wants_openmetrics(s);
	const char *p;
	bool mentioned = false;

	for (p = s; *p && !mentioned; p++)
		mentioned = !strncasecmp(p, "openmetrics", 11);
	FUZZ_ASSERT(!om || mentioned, s, strlen(s));
}

/* ---- floats ---- */

/* Go's strconv.FormatFloat(v, 'g', -1, 64), checked by its properties. */
static void check_float(double v)
{
	struct strbuf sb = STRBUF_INIT;
	char *end, digits[32], tmp[40];
	size_t nd = 0, i;
	const char *e;
	int exp;

	FUZZ_ASSERT(!eph_metrics_float(&sb, v), &v, sizeof(v));
	if (isnan(v)) {
		FUZZ_ASSERT(!strcmp(sb.buf, "NaN"), sb.buf, sb.len);
		goto out;
	}
	if (isinf(v)) {
		FUZZ_ASSERT(!strcmp(sb.buf, v > 0 ? "+Inf" : "-Inf"), sb.buf, sb.len);
		goto out;
	}
	FUZZ_ASSERT(strtod(sb.buf, &end) == v && !*end, sb.buf, sb.len);
	FUZZ_ASSERT(!strchr(sb.buf, 'E') && !strchr(sb.buf, ' ') && sb.buf[0] != '+', sb.buf,
		    sb.len);
	/* the significant digits, and that one fewer would not read back */
	e = strchr(sb.buf, 'e');
	for (i = 0; sb.buf + i < (e ? e : sb.buf + sb.len); i++) {
		if (sb.buf[i] >= '0' && sb.buf[i] <= '9' && (nd || sb.buf[i] != '0'))
			digits[nd++] = sb.buf[i];
		FUZZ_ASSERT(nd < sizeof(digits), sb.buf, sb.len);
	}
	while (nd && digits[nd - 1] == '0')
		nd--;
	if (nd > 1) {
		snprintf(tmp, sizeof(tmp), "%.*e", (int)nd - 2, v);
		FUZZ_ASSERT(strtod(tmp, NULL) != v, sb.buf, sb.len);
	}
	/* exponent form exactly when the decimal exponent is below -4 or from 6 on */
	if (v != 0) {
		snprintf(tmp, sizeof(tmp), "%.*e", nd ? (int)nd - 1 : 0, v);
		exp = atoi(strchr(tmp, 'e') + 1);
		FUZZ_ASSERT(!e == (exp >= -4 && exp < 6), sb.buf, sb.len);
		if (e)
			FUZZ_ASSERT((e[1] == '+' || e[1] == '-') && strlen(e + 2) >= 2, sb.buf,
				    sb.len);
	}
out:
	sb_free(&sb);
}

/* ---- a whole scrape ---- */

struct scrape {
	uint64_t counters[EPH_CNT_MAX];
	struct eph_metrics_stat stats[MAX_ROWS];
	struct eph_hists hists;
	struct eph_metrics_netns netns[MAX_ROWS];
	struct eph_metrics_dest dests[MAX_ROWS];
	struct eph_metrics_proc procs[MAX_ROWS];
	struct eph_metrics_proc_fail fails[MAX_ROWS];
	struct eph_metrics_prog progs[MAX_ROWS];
	char version[17], backend[17];
	struct eph_metrics_input in;
};

/* The comm of every pid that has one (procs and fails agree by construction). */
static const char *comm_of(const struct scrape *sc, uint32_t pid)
{
	size_t i;

	for (i = 0; i < sc->in.nprocs; i++)
		if (sc->procs[i].pid == pid)
			return sc->procs[i].comm;
	for (i = 0; i < sc->in.nfails; i++)
		if (sc->fails[i].pid == pid)
			return sc->fails[i].comm;
	return NULL;
}

/* Whether a comm label's value (vn bytes) is that of a process or failure row. */
static bool comm_listed(const struct scrape *sc, const char *v, size_t vn)
{
	char exp[3 * EPH_COMM_LEN];
	size_t i;

	for (i = 0; i < sc->in.nprocs; i++)
		if (ref_label(sc->procs[i].comm, EPH_COMM_LEN, exp) == vn && !memcmp(exp, v, vn))
			return true;
	for (i = 0; i < sc->in.nfails; i++)
		if (ref_label(sc->fails[i].comm, EPH_COMM_LEN, exp) == vn && !memcmp(exp, v, vn))
			return true;
	return false;
}

/* Rows unique by their labels, as eph_metrics_write() asks: the row index is in each key. */
static void build(struct rd *r, struct scrape *sc)
{
	struct eph_metrics_input *in = &sc->in;
	struct eph_hist_key hk;
	size_t i, n;

	in->top = take(r, 1) % 8;
	in->pid_labels = take(r, 1) & 1;
	if (take(r, 1) & 1) {
		for (i = 0; i < EPH_CNT_MAX; i++)
			sc->counters[i] = take(r, 8);
		in->counters = sc->counters;
	}
	in->nstats = take(r, 1) % MAX_ROWS;
	for (i = 0; i < in->nstats; i++) {
		take_bytes(r, &sc->stats[i].key, sizeof(sc->stats[i].key));
		sc->stats[i].value = take(r, 8);
	}
	n = take(r, 1) % MAX_ROWS;
	for (i = 0; i < n; i++) {
		take_bytes(r, &hk, sizeof(hk));
		if (eph_hists__add(&sc->hists, &hk, take(r, 8)) == -ENOMEM)
			abort();
	}
	in->hists = take(r, 1) & 1 ? &sc->hists : NULL;
	in->nnetns = take(r, 1) % MAX_ROWS;
	for (i = 0; i < in->nnetns; i++) {
		sc->netns[i].netns = (uint32_t)take(r, 3) << 8 | i;
		sc->netns[i].usable = take(r, 4);
	}
	in->ndests = take(r, 1) % MAX_ROWS;
	for (i = 0; i < in->ndests; i++) {
		struct eph_metrics_dest *d = &sc->dests[i];

		d->netns = (uint32_t)take(r, 3) << 8 | i;
		d->proto = take(r, 1);
		d->family = take(r, 1);
		d->dport = take(r, 2);
		take_bytes(r, d->saddr, 16);
		take_bytes(r, d->daddr, 16);
		d->held = take(r, 8);
		d->ports_left = take_double(r);
		d->utilization = take_double(r);
		d->exhaust_in_s = take_double(r);
	}
	in->nprocs = take(r, 1) % MAX_ROWS;
	for (i = 0; i < in->nprocs; i++) {
		sc->procs[i].pid = (uint32_t)take(r, 3) << 8 | i;
		take_bytes(r, sc->procs[i].comm, EPH_COMM_LEN);
		sc->procs[i].held = take(r, 8);
	}
	in->nfails = take(r, 1) % MAX_ROWS;
	for (i = 0; i < in->nfails; i++) {
		struct eph_metrics_proc_fail *f = &sc->fails[i];
		uint64_t which = take(r, 1);

		if (in->nprocs && which & 1) { /* a failure of a process that holds ports */
			f->pid = sc->procs[which / 2 % in->nprocs].pid;
			memcpy(f->comm, sc->procs[which / 2 % in->nprocs].comm, EPH_COMM_LEN);
		} else {
			f->pid = (uint32_t)take(r, 3) << 8 | 0x80 | i;
			take_bytes(r, f->comm, EPH_COMM_LEN);
		}
		f->err = 1 + (int32_t)((take(r, 1) << 4) | i); /* positive, unique per pid */
		f->count = take(r, 8);
	}
	in->nprogs = take(r, 1) % MAX_ROWS;
	for (i = 0; i < in->nprogs; i++) {
		take_bytes(r, sc->progs[i].name, sizeof(sc->progs[i].name));
		sc->progs[i].name[0] = (char)('a' + i);
		sc->progs[i].name[sizeof(sc->progs[i].name) - 1] = '\0';
		sc->progs[i].run_time_ns = take(r, 8);
		sc->progs[i].run_cnt = take(r, 8);
	}
	in->procs_untracked = take(r, 8);
	take_bytes(r, sc->version, 16);
	take_bytes(r, sc->backend, 16);
	in->version = sc->version;
	in->backend = take(r, 1) & 1 ? sc->backend : NULL;
	in->stats = sc->stats;
	in->netns = sc->netns;
	in->dests = sc->dests;
	in->procs = sc->procs;
	in->fails = sc->fails;
	in->progs = sc->progs;
}

#define REVERSE(a, n)                                    \
	do {                                             \
		size_t i_, n_ = (n);                     \
		for (i_ = 0; i_ < n_ / 2; i_++) {        \
			__typeof__((a)[0]) t_ = (a)[i_]; \
			(a)[i_] = (a)[n_ - 1 - i_];      \
			(a)[n_ - 1 - i_] = t_;           \
		}                                        \
	} while (0)

static bool is_name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

static bool is_number(const char *s, size_t n)
{
	char buf[64], *end;

	if (!n || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (!strcmp(buf, "+Inf") || !strcmp(buf, "-Inf") || !strcmp(buf, "NaN"))
		return true;
	if (strchr(buf, 'n') || strchr(buf, 'N') || strchr(buf, 'x') || strchr(buf, 'X'))
		return false; /* strtod would take "nan", "inf", hex */
	strtod(buf, &end);
	return !*end;
}

/* One sample line (without '\n'): name, labels, one space, a value. */
static void check_sample(const struct scrape *sc, const char *s, size_t n, char *buf)
{
	const char *p = s, *end = s + n, *comm = NULL;
	size_t used, vn;
	bool have_pid = false;
	uint32_t pid = 0;

	FUZZ_ASSERT(p < end && is_name_char(*p, true), s, n);
	while (p < end && is_name_char(*p, false))
		p++;
	if (p < end && *p == '{') {
		do {
			const char *name = ++p;

			while (p < end && is_name_char(*p, p == name) && *p != ':')
				p++;
			FUZZ_ASSERT(p > name && p < end && *p == '=', s, n);
			FUZZ_ASSERT(read_label(p + 1, end, &used, buf, &vn), s, n);
			if (p - name == 3 && !memcmp(name, "pid", 3)) {
				buf[vn] = '\0';
				pid = strtoul(buf, NULL, 10);
				have_pid = true;
			}
			if (p - name == 4 && !memcmp(name, "comm", 4))
				comm = p + 1;
			p += 1 + used;
		} while (p < end && *p == ',');
		FUZZ_ASSERT(p < end && *p == '}', s, n);
		p++;
	}
	FUZZ_ASSERT(p < end && *p == ' ' && is_number(p + 1, end - p - 1), s, n);
	FUZZ_ASSERT(!have_pid || sc->in.pid_labels, s, n);
	if (comm && have_pid) { /* the comm of that pid, as ref_label() maps it */
		const char *want = comm_of(sc, pid);
		char exp[3 * EPH_COMM_LEN];
		size_t en;

		FUZZ_ASSERT(want, s, n);
		en = ref_label(want, EPH_COMM_LEN, exp);
		FUZZ_ASSERT(read_label(comm, end, &used, buf, &vn), s, n);
		FUZZ_ASSERT(vn == en && !memcmp(buf, exp, en), s, n);
	} else if (comm) { /* without pid labels: the comm of one of the rows */
		FUZZ_ASSERT(!sc->in.pid_labels, s, n);
		FUZZ_ASSERT(read_label(comm, end, &used, buf, &vn), s, n);
		FUZZ_ASSERT(comm_listed(sc, buf, vn), s, n);
	}
}

static void check_exposition(const struct scrape *sc, const char *s, size_t n, bool om)
{
	const char *line = s, *nl, *end = s + n;
	char *buf = malloc(n + 1);
	bool eof = false;

	if (!buf)
		abort();
	FUZZ_ASSERT(fuzz_utf8_valid(s, n), s, n);
	FUZZ_ASSERT(n && s[n - 1] == '\n', s, n);
	for (; line < end; line = nl + 1) {
		size_t len;

		nl = memchr(line, '\n', end - line);
		len = nl - line;
		FUZZ_ASSERT(!eof, line, len); /* nothing after "# EOF" */
		if (len == 5 && !memcmp(line, "# EOF", 5)) {
			FUZZ_ASSERT(om, line, len);
			eof = true;
		} else if (len > 7 && (!memcmp(line, "# HELP ", 7) || !memcmp(line, "# TYPE ", 7) ||
				       (om && !memcmp(line, "# UNIT ", 7)))) {
			FUZZ_ASSERT(is_name_char(line[7], true), line, len);
		} else {
			check_sample(sc, line, len, buf);
		}
	}
	FUZZ_ASSERT(eof == om, s, n);
	free(buf);
}

static void check_scrape(struct rd *r)
{
	struct scrape *sc = calloc(1, sizeof(*sc));
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	enum eph_metrics_format fmt;

	if (!sc)
		abort();
	fmt = take(r, 1) & 1 ? EPH_METRICS_OPENMETRICS : EPH_METRICS_TEXT;
	build(r, sc);
	FUZZ_ASSERT(!eph_metrics_write(&a, &sc->in, fmt), NULL, 0);
	check_exposition(sc, a.buf, a.len, fmt == EPH_METRICS_OPENMETRICS);
	/* the same rows in another order: the same bytes */
	REVERSE(sc->stats, sc->in.nstats);
	REVERSE(sc->netns, sc->in.nnetns);
	REVERSE(sc->dests, sc->in.ndests);
	REVERSE(sc->procs, sc->in.nprocs);
	REVERSE(sc->fails, sc->in.nfails);
	REVERSE(sc->progs, sc->in.nprogs);
	FUZZ_ASSERT(!eph_metrics_write(&b, &sc->in, fmt), NULL, 0);
	FUZZ_ASSERT(a.len == b.len && !memcmp(a.buf, b.buf, a.len), b.buf, b.len);
	eph_hists__free(&sc->hists);
	sb_free(&a);
	sb_free(&b);
	free(sc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd r = { data, size };
	char *s;

	if (!size)
		return 0;
	switch (take(&r, 1) % 4) {
	case 0:
		check_label((const char *)r.p, r.n);
		break;
	case 1:
		s = strndup((const char *)r.p, r.n);
		if (!s)
			abort();
		check_accept(s);
		free(s);
		break;
	case 2:
		check_float(take_double(&r));
		break;
	default:
		check_scrape(&r);
		break;
	}
	return 0;
}
