// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "hist.h"
#include "jsonw.h"
#include "order.h"

const char *eph_hist_kind_name(uint8_t kind)
{
	switch (kind) {
	case EPH_HIST_CONNECT:
		return "connect_search";
	case EPH_HIST_BIND:
		return "bind_search";
	case EPH_HIST_HOLD:
		return "hold";
	}
	return NULL;
}

static const char *kind_title(uint8_t kind)
{
	switch (kind) {
	case EPH_HIST_CONNECT:
		return "connect() port search";
	case EPH_HIST_BIND:
		return "bind()/autobind port choice";
	default:
		return "port hold time";
	}
}

int eph_hist_key_cmp(const struct eph_hist_key *a, const struct eph_hist_key *b)
{
	int c = eph_cmp_u64(a->kind, b->kind) ?: eph_cmp_u64(a->proto, b->proto);

	return c ?: eph_cmp_u64(a->family, b->family) ?: eph_cmp_u64(a->result, b->result);
}

static struct eph_hist *find_or_add(struct eph_hists *h, const struct eph_hist_key *k)
{
	struct eph_hist *n;
	size_t i;

	for (i = 0; i < h->n; i++) /* a handful of histograms: a scan is enough */
		if (!eph_hist_key_cmp(&h->v[i].key, k))
			return &h->v[i];
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 8;

		n = realloc(h->v, cap * sizeof(*n));
		if (!n)
			return NULL;
		h->v = n;
		h->cap = cap;
	}
	n = &h->v[h->n++];
	memset(n, 0, sizeof(*n));
	n->key = *k;
	n->key.slot = 0;
	return n;
}

int eph_hists__add(struct eph_hists *h, const struct eph_hist_key *k, uint64_t value)
{
	struct eph_hist *e;

	if (!eph_hist_kind_name(k->kind) || (k->slot >= EPH_HIST_SLOTS && k->slot != EPH_HIST_SUM))
		return -EINVAL;
	e = find_or_add(h, k);
	if (!e)
		return -ENOMEM;
	if (k->slot == EPH_HIST_SUM) {
		e->sum_ns += value;
	} else {
		e->slots[k->slot] += value;
		e->count += value;
	}
	return 0;
}

/* The histogram kind that times the port choice of a system call. */
static uint8_t stat_kind(const struct eph_stat_key *k)
{
	return k->op == EPH_OP_CONNECT && k->proto == IPPROTO_TCP ? EPH_HIST_CONNECT :
								    EPH_HIST_BIND;
}

int eph_hists__add_calls(struct eph_hists *h, const struct eph_stat_key *k, uint64_t value)
{
	struct eph_hist_key hk = { .proto = k->proto, .family = k->family };
	struct eph_hist *e;

	if (k->type == EPH_CONNECT)
		return 0; /* no port chosen: nothing to time */
	if ((k->type != EPH_ASSIGN && k->type != EPH_FAIL) || k->err > UINT8_MAX)
		return -EINVAL;
	hk.kind = stat_kind(k);
	hk.result = k->type == EPH_FAIL ? k->err : 0;
	e = find_or_add(h, &hk);
	if (!e)
		return -ENOMEM;
	e->calls += value;
	return 0;
}

void eph_hists__reset(struct eph_hists *h)
{
	h->n = 0;
}

void eph_hists__free(struct eph_hists *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}

/* Calls of a reading that no bucket counts (0 when its calls were not read). */
static uint64_t untimed_of(const struct eph_hist *e)
{
	return e->calls > e->count ? e->calls - e->count : 0;
}

static int cmp_hist(const void *a, const void *b)
{
	return eph_hist_key_cmp(&((const struct eph_hist *)a)->key,
				&((const struct eph_hist *)b)->key);
}

int eph_hists__diff(struct eph_hists *out, const struct eph_hists *now,
		    const struct eph_hists *before)
{
	size_t i, j, s;

	eph_hists__reset(out);
	for (i = 0; i < now->n; i++) {
		const struct eph_hist *a = &now->v[i], *b = NULL;
		struct eph_hist *d;

		uint64_t ua = untimed_of(a), ub = 0;

		for (j = 0; before && j < before->n; j++)
			if (!eph_hist_key_cmp(&before->v[j].key, &a->key))
				b = &before->v[j];
		if (b)
			ub = untimed_of(b);
		if (b ? b->count == a->count && ub >= ua : !a->count && !ua)
			continue;
		d = find_or_add(out, &a->key);
		if (!d)
			return -ENOMEM;
		for (s = 0; s < EPH_HIST_SLOTS; s++)
			d->slots[s] = a->slots[s] - (b ? b->slots[s] : 0);
		d->count = a->count - (b ? b->count : 0);
		d->sum_ns = a->sum_ns - (b ? b->sum_ns : 0);
		d->calls = a->calls > (b ? b->calls : 0) ? a->calls - (b ? b->calls : 0) : 0;
		d->untimed = ua > ub ? ua - ub : 0;
	}
	qsort(out->v, out->n, sizeof(*out->v), cmp_hist);
	return 0;
}

static int stars(struct strbuf *sb, uint64_t val, uint64_t max, int width)
{
	int i, n = max ? (int)((val * width + max - 1) / max) : 0;
	int err = 0;

	if (n > width)
		n = width;
	for (i = 0; i < width && !err; i++)
		err = sb_putc(sb, i < n ? '*' : ' ');
	return err;
}

int eph_log2_text(struct strbuf *sb, const uint64_t *slots, unsigned int n, const char *unit)
{
	int first = -1, last = -1, width, err;
	uint64_t max = 0;
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (slots[i] && first < 0)
			first = i;
		if (slots[i])
			last = i;
		if (slots[i] > max)
			max = slots[i];
	}
	if (last < 0)
		return 0;
	/* Unlike bcc, start at the first bucket in use: nanosecond scales have long empty heads. */
	width = last <= 32 ? 10 : 20;
	err = sb_printf(sb, "%*s%-*s : count    distribution\n", width - 5, "", width + 9, unit);
	for (i = first; !err && i <= (unsigned int)last; i++) {
		uint64_t low = (uint64_t)1 << i, high = ((uint64_t)2 << i) - 1;

		if (i == 0)
			low = 0; /* slot 0 also holds 0 */
		err = sb_printf(sb, "%*" PRIu64 " -> %-*" PRIu64 " : %-8" PRIu64 " |", width, low,
				width, high, slots[i]) ?:
			      stars(sb, slots[i], max, last <= 32 ? 40 : 20) ?: sb_puts(sb, "|\n");
	}
	return err;
}

/* Why a call counted by the kernel has no time: the backend's hooks (the tracepoint backend has
 * none between the start and the end of a search that succeeds, nor around bind()). */
#define UNTIMED_WHY " (this backend cannot see where the search ends)"

static const char *result_name(uint8_t result, char *buf, size_t len)
{
	return result ? eph_errno_name(result, buf, len) : "ok";
}

int eph_hists__text(struct strbuf *sb, const struct eph_hists *h)
{
	char ebuf[16];
	size_t i;
	int err = 0;

	for (i = 0; i < h->n && !err; i++) {
		const struct eph_hist *e = &h->v[i];
		const char *proto = eph_proto_name(e->key.proto), *fam = eph_family_name(e->key.family);

		err = sb_printf(sb, "\n%s, %s %s", kind_title(e->key.kind), proto ? proto : "?",
				fam ? fam : "?");
		if (!err && e->key.kind != EPH_HIST_HOLD)
			err = sb_printf(sb, ", %s", result_name(e->key.result, ebuf, sizeof(ebuf)));
		if (!err && e->count)
			err = sb_printf(sb, ": %" PRIu64 " calls, mean %.1f us", e->count,
					e->sum_ns / 1000.0 / e->count);
		if (!err && e->untimed)
			err = sb_printf(sb,
					e->count ? "; %" PRIu64 " more not timed%s" :
						   ": %" PRIu64 " calls, not timed%s",
					e->untimed, UNTIMED_WHY);
		if (!err)
			err = sb_putc(sb, '\n');
		if (!err)
			err = eph_log2_text(sb, e->slots, EPH_HIST_SLOTS, "nsecs");
	}
	return err;
}

/* One histogram: {"kind",...,"buckets":[{"low","high","count"}]}, non-empty buckets only. */
static void json_hist(struct jsonw *w, const struct eph_hist *e)
{
	char ebuf[16];
	const char *result = NULL;
	size_t s;

	if (e->key.kind != EPH_HIST_HOLD)
		result = result_name(e->key.result, ebuf, sizeof(ebuf));
	jsonw_raw(w, "{");
	jsonw_str(w, "kind", eph_hist_kind_name(e->key.kind), SIZE_MAX);
	jsonw_str(w, "proto", eph_proto_name(e->key.proto), SIZE_MAX);
	jsonw_str(w, "family", eph_family_name(e->key.family), SIZE_MAX);
	jsonw_str(w, "result", result, SIZE_MAX);
	jsonw_str(w, "unit", "ns", SIZE_MAX);
	jsonw_u64(w, "count", e->count);
	jsonw_u64(w, "sum", e->sum_ns);
	jsonw_u64(w, "untimed", e->untimed);
	jsonw_key(w, "buckets");
	jsonw_raw(w, "[");
	for (s = 0; s < EPH_HIST_SLOTS; s++) {
		if (!e->slots[s])
			continue;
		jsonw_elem(w);
		jsonw_raw(w, "{");
		jsonw_u64(w, "low", s ? 1ull << s : 0);
		jsonw_u64(w, "high", (2ull << s) - 1);
		jsonw_u64(w, "count", e->slots[s]);
		jsonw_raw(w, "}");
	}
	jsonw_raw(w, "]}");
}

int eph_hists__json(struct strbuf *sb, const struct eph_hists *h, uint64_t wall_ns)
{
	struct jsonw w = { .sb = sb };
	size_t i, start = sb->len;

	jsonw_raw(&w, "{");
	jsonw_time(&w, "time", wall_ns);
	jsonw_key(&w, "histograms");
	jsonw_raw(&w, "[");
	for (i = 0; i < h->n; i++) {
		jsonw_elem(&w);
		json_hist(&w, &h->v[i]);
	}
	jsonw_raw(&w, "]}");
	return jsonw_end(&w, start);
}
