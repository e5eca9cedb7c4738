// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: ring-buffer records, i.e. whatever a kernel (or a replayed file) could put
 * in front of user space, through everything that consumes them.
 *
 * The whole input is first one record for eph_decode() (any size). Then it is read as a
 * stream: N records of 144 bytes, and what is left over (size % 144) sets the parameters
 * (clock offset, a filter, a port range, the time of the snapshot). Every record that decodes
 * goes to the JSON and text formatters, the filters, the summary of "events", the per-process
 * counts of "serve" and two occupancy objects: a fresh one per input (reproducible) and a
 * long-lived one that sees every input of the run, so that its tables fill, hit their caps
 * and get pruned.
 *
 * Checked, beyond the sanitizers: decode accepts exactly the well-formed records and copies
 * them as they are (comm and pcomm terminated); JSON output is valid JSON (valid UTF-8 strings, numbers
 * and not "nan") with each of the names of the events --json contract once; text lines are
 * printable ASCII (a comm cannot send escape sequences to a terminal); times match gmtime_r();
 * occupancy text lines fit in 79 columns; a shown event is in scope.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "event.h"
#include "filter.h"
#include "format.h"
#include "fuzz_util.h"
#include "metrics.h"
#include "occupancy.h"
#include "strbuf.h"
#include "summary.h"

#define REC_SIZE sizeof(struct eph_event)
#define LONG_MAX_PORTS 512
#define LONG_CHECK_EVERY 512 /* inputs between two looks at the long-lived object */

/* The left-over bytes after the records, zero-filled when short. */
struct params {
	int64_t mono_to_wall;
	uint64_t snap_delta_ns; /* the snapshot is taken this long after the last event */
	uint32_t pid;		/* the filter: struct eph_filter's fields, its bools as bits */
	char comm[EPH_COMM_LEN];
	uint8_t family, proto, bits;
	uint8_t backend_override;
	uint16_t low, high; /* port range of the first record's netns */
	uint8_t with_range;
};

static struct eph_occ *long_occ;
static uint64_t long_runs, long_last_ts;

static bool printable(const char *s, size_t n, bool newlines)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '\n' && newlines)
			continue;
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	}
	return true;
}

static bool well_formed(const struct eph_event *ev)
{
	return ev->type >= EPH_ASSIGN && ev->type <= EPH_CONNECT && ev->op <= EPH_OP_LISTEN &&
	       (ev->proto == IPPROTO_TCP || ev->proto == IPPROTO_UDP) &&
	       (ev->family == AF_INET || ev->family == AF_INET6) &&
	       ev->backend <= EPH_BACKEND_CGROUP &&
	       (ev->type == EPH_FAIL ? ev->err > 0 : ev->err == 0) &&
	       (ev->type != EPH_CONNECT || ev->op == EPH_OP_CONNECT);
}

static void check_decode(const uint8_t *data, size_t size, int64_t mono_to_wall, struct eph_rec *r,
			 bool *ok)
{
	struct eph_rec untouched;
	struct eph_event ev;
	int err;

	memset(r, 0xa5, sizeof(*r));
	untouched = *r;
	err = eph_decode(data, size, mono_to_wall, r);
	*ok = false;
	if (size != REC_SIZE) {
		FUZZ_ASSERT(err == -EINVAL && !memcmp(r, &untouched, sizeof(*r)), data, size);
		return;
	}
	memcpy(&ev, data, sizeof(ev));
	if (!well_formed(&ev)) {
		FUZZ_ASSERT(err == -EINVAL && !memcmp(r, &untouched, sizeof(*r)), data, size);
		return;
	}
	FUZZ_ASSERT(err == 0, data, size);
	ev.comm[EPH_COMM_LEN - 1] = '\0';
	ev.pcomm[EPH_COMM_LEN - 1] = '\0';
	FUZZ_ASSERT(!memcmp(&r->ev, &ev, sizeof(ev)), data, size);
	FUZZ_ASSERT(r->wall_ns == ev.ts_ns + (uint64_t)mono_to_wall, data, size);
	*ok = true;
}

/* The time as gmtime_r() sees it, against eph_format_time(). */
static void check_time(struct strbuf *sb, uint64_t wall_ns)
{
	time_t sec = (time_t)(wall_ns / 1000000000u);
	char want[64];
	struct tm tm;
	size_t n;

	sb_reset(sb);
	FUZZ_ASSERT(!eph_format_time(sb, wall_ns), &wall_ns, sizeof(wall_ns));
	FUZZ_ASSERT(gmtime_r(&sec, &tm), &wall_ns, sizeof(wall_ns));
	n = strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(want + n, sizeof(want) - n, ".%09" PRIu64 "Z", wall_ns % 1000000000u);
	FUZZ_ASSERT(sb->len == strlen(want) && !memcmp(sb->buf, want, sb->len), sb->buf, sb->len);
}

static void check_json_event(struct strbuf *sb, const struct eph_rec *r, const char *backend)
{
	/* clang-format off */
	static const char *const names[] = {
		"event", "op", "proto", "family", "pid", "tid", "comm", "process_comm", "cgroup_id",
		"netns", "saddr", "sport", "daddr", "dport", "requested_port", "ephemeral", "bound",
		"bind_address_no_port", "error", "errno", "search_ns", "held_ns", "time", "backend",
	};
	/* clang-format on */
	char key[32];
	size_t i;

	sb_reset(sb);
	FUZZ_ASSERT(!eph_format_json(sb, r, backend), r, sizeof(*r));
	FUZZ_ASSERT(fuzz_json_valid(sb->buf, sb->len), sb->buf, sb->len);
	FUZZ_ASSERT(sb->buf[0] == '{' && !memchr(sb->buf, '\n', sb->len), sb->buf, sb->len);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *at;

		snprintf(key, sizeof(key), "\"%s\":", names[i]);
		at = strstr(sb->buf, key);
		/* a comm cannot fake a name: its quotes are escaped */
		FUZZ_ASSERT(at && !strstr(at + 1, key), sb->buf, sb->len);
	}
}

static void check_filters(const struct eph_filter *f, const struct eph_rec *r)
{
	static const struct eph_filter all;
	bool scope = eph_filter_scope(f, r), show = eph_filter_show(f, r);

	FUZZ_ASSERT(eph_filter_scope(&all, r), r, sizeof(*r));
	FUZZ_ASSERT(!show || scope, r, sizeof(*r));
	FUZZ_ASSERT(!show || r->ev.type != EPH_TIME_WAIT, r, sizeof(*r));
	FUZZ_ASSERT(!show || !f->failures_only || r->ev.type == EPH_FAIL, r, sizeof(*r));
	FUZZ_ASSERT(!show || r->ev.type != EPH_RELEASE || f->releases, r, sizeof(*r));
	FUZZ_ASSERT(eph_filter_show(&all, r) ==
			    (r->ev.type == EPH_ASSIGN || r->ev.type == EPH_FAIL ||
			     r->ev.type == EPH_CONNECT),
		    r, sizeof(*r));
}

static void check_occ_output(const struct eph_occ *occ, struct strbuf *sb, uint64_t now,
			     uint64_t wall)
{
	const char *line, *end;

	sb_reset(sb);
	FUZZ_ASSERT(!eph_occ__json(occ, sb, now, wall, 7), &now, sizeof(now));
	FUZZ_ASSERT(fuzz_json_valid(sb->buf, sb->len), sb->buf, sb->len);
	sb_reset(sb);
	FUZZ_ASSERT(!eph_occ__text(occ, sb, now, wall, 7, 0), &now, sizeof(now));
	FUZZ_ASSERT(printable(sb->buf, sb->len, true), sb->buf, sb->len);
	FUZZ_ASSERT(sb->len && sb->buf[sb->len - 1] == '\n', sb->buf, sb->len);
	for (line = sb->buf; line < sb->buf + sb->len; line = end + 1) {
		end = memchr(line, '\n', sb->buf + sb->len - line);
		FUZZ_ASSERT(end && end - line <= 79, line, end ? (size_t)(end - line) : 0);
	}
}

/* Everything one decoded record goes through. */
static void consume(const struct eph_rec *r, const struct params *p, const struct eph_filter *f,
		    struct strbuf *sb, struct eph_summary *sum, struct eph_occ *occ)
{
	const char *backend = p->backend_override ? "tracepoint" : NULL;

	check_json_event(sb, r, backend);
	check_time(sb, r->wall_ns);
	sb_reset(sb);
	FUZZ_ASSERT(!eph_format_text(sb, r), r, sizeof(*r));
	FUZZ_ASSERT(printable(sb->buf, sb->len, false), sb->buf, sb->len);
	check_filters(f, r);
	FUZZ_ASSERT(!eph_summary__add(sum, r), r, sizeof(*r));
	FUZZ_ASSERT(!eph_occ__event(occ, r), r, sizeof(*r));
	FUZZ_ASSERT(!eph_occ__event(long_occ, r), r, sizeof(*r));
	long_last_ts = r->ev.ts_ns;
}

static void check_summary(const struct eph_summary *sum, struct strbuf *sb)
{
	sb_reset(sb);
	FUZZ_ASSERT(!eph_summary__json(sum, sb, 3, "kprobe"), NULL, 0);
	FUZZ_ASSERT(fuzz_json_valid(sb->buf, sb->len), sb->buf, sb->len);
	sb_reset(sb);
	FUZZ_ASSERT(!eph_summary__json(sum, sb, 0, NULL), NULL, 0);
	FUZZ_ASSERT(fuzz_json_valid(sb->buf, sb->len), sb->buf, sb->len);
	sb_reset(sb);
	FUZZ_ASSERT(!eph_summary__text(sum, sb, 3, "kprobe"), NULL, 0);
	FUZZ_ASSERT(printable(sb->buf, sb->len, true), sb->buf, sb->len);
}

/* The failure rows of pc: each with a count and an errno, unique by labels. */
static void proc_rows(const struct eph_proc_counts *pc, struct eph_metrics_proc_fail **fails,
		      size_t *nfails, struct eph_container **cts)
{
	size_t i, j;

	FUZZ_ASSERT(!eph_proc_counts__rows(pc, fails, nfails, cts), NULL, 0);
	for (i = 0; i < *nfails; i++) {
		const struct eph_metrics_proc_fail *f = &(*fails)[i];

		FUZZ_ASSERT(f->count > 0 && f->err, f, sizeof(*f));
		for (j = 0; j < i; j++)
			FUZZ_ASSERT(f->pid != (*fails)[j].pid || f->err != (*fails)[j].err ||
					    strcmp(f->comm, (*fails)[j].comm) ||
					    f->ct != (*fails)[j].ct,
				    f, sizeof(*f));
	}
}

/* Some pids' containers known (every third one's: none, a host process), as the tracker
 * learns them. */
static void third_known(uint32_t pid, void *ctx)
{
	if (pid % 3 == 0)
		FUZZ_ASSERT(!eph_occ__set_container(ctx, pid, NULL), &pid, sizeof(pid));
}

static bool odd_pids_alive(uint32_t pid, void *ctx)
{
	(void)ctx;
	return pid & 1;
}

/* Failure counters never go back: a prune leaves each series as it was or takes it away, and
 * what was counted is in the rows, pending or untracked (never more than the failures). */
static void check_proc_counts(struct eph_occ *occ, struct eph_proc_counts *pc, uint64_t nfail,
			      uint64_t now_ns)
{
	struct eph_metrics_proc_fail *a, *b;
	struct eph_container *acts, *bcts;
	size_t na, nb, i, j;
	uint64_t sum = 0;

	eph_occ__for_each_proc(occ, third_known, occ);
	FUZZ_ASSERT(!eph_occ__settle_series(occ, now_ns), NULL, 0);
	proc_rows(pc, &a, &na, &acts);
	for (i = 0; i < na; i++)
		sum += a[i].count;
	FUZZ_ASSERT(sum + eph_proc_counts__untracked(pc) <= nfail, NULL, 0);
	eph_occ__check_exited(occ, odd_pids_alive, NULL);
	FUZZ_ASSERT(!eph_occ__settle_series(occ, now_ns), NULL, 0);
	eph_occ__prune(occ, now_ns);
	proc_rows(pc, &b, &nb, &bcts);
	for (i = 0; i < na; i++) {
		const char *aid = a[i].ct ? a[i].ct->id : "";

		for (j = 0; j < nb; j++) {
			const char *bid = b[j].ct ? b[j].ct->id : "";

			if (a[i].pid == b[j].pid && a[i].err == b[j].err &&
			    !strcmp(a[i].comm, b[j].comm) && !strcmp(aid, bid))
				FUZZ_ASSERT(b[j].count >= a[i].count, &b[j], sizeof(b[j]));
		}
	}
	free(a);
	free(acts);
	free(b);
	free(bcts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eph_occ_opts oo = { .max_ports = 64, .window_ms = 1000 };
	struct params p = { 0 };
	struct eph_filter f;
	struct strbuf sb = STRBUF_INIT;
	struct eph_summary *sum;
	struct eph_proc_counts *pc;
	struct eph_occ *occ;
	size_t nrec = size / REC_SIZE, i;
	uint64_t last_ts = 0, nfail = 0;
	struct eph_rec r;
	bool ok;

	if (!long_occ) {
		struct eph_occ_opts lo = { .max_ports = LONG_MAX_PORTS };

		long_occ = eph_occ__new(&lo);
		if (!long_occ)
			abort();
	}
	if (size % REC_SIZE)
		memcpy(&p, data + nrec * REC_SIZE,
		       size % REC_SIZE < sizeof(p) ? size % REC_SIZE : sizeof(p));

	f.pid = p.pid;
	memcpy(f.comm, p.comm, sizeof(f.comm));
	f.comm[EPH_COMM_LEN - 1] = '\0';
	f.family = p.family;
	f.proto = p.proto;
	f.failures_only = p.bits & 1;
	f.releases = p.bits & 2;

	/* the whole input as one record */
	check_decode(data, size, p.mono_to_wall, &r, &ok);

	sum = eph_summary__new();
	pc = eph_proc_counts__new(16, p.bits & 4);
	occ = eph_occ__new(&oo);
	if (!sum || !pc || !occ)
		abort();
	eph_occ__count_series(occ, pc); /* serve's failure series, through occ's processes */
	for (i = 0; i < nrec; i++) {
		check_decode(data + i * REC_SIZE, REC_SIZE, p.mono_to_wall, &r, &ok);
		if (!ok)
			continue;
		if (p.with_range && !last_ts && r.ev.netns)
			eph_occ__set_range(occ, r.ev.netns, p.low, p.high, NULL);
		consume(&r, &p, &f, &sb, sum, occ);
		nfail += r.ev.type == EPH_FAIL;
		last_ts = r.ev.ts_ns;
	}
	check_summary(sum, &sb);
	check_proc_counts(occ, pc, nfail, last_ts + p.snap_delta_ns);
	check_occ_output(occ, &sb, last_ts + p.snap_delta_ns,
			 last_ts + p.snap_delta_ns + (uint64_t)p.mono_to_wall);
	eph_occ__prune(occ, last_ts + p.snap_delta_ns);
	check_occ_output(occ, &sb, last_ts + p.snap_delta_ns, 0);

	if (++long_runs % LONG_CHECK_EVERY == 0) {
		check_occ_output(long_occ, &sb, long_last_ts, long_last_ts);
		eph_occ__check_exited(long_occ, odd_pids_alive, NULL);
		eph_occ__prune(long_occ, long_last_ts);
	}
	eph_occ__free(occ);
	eph_proc_counts__free(pc);
	eph_summary__free(sum);
	sb_free(&sb);
	return 0;
}
