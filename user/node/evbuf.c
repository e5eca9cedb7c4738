// SPDX-License-Identifier: GPL-2.0
/*
 * The events' buffer: BPF ring buffer, or perf buffer where the kernel has none.
 *
 * Perf buffer, what differs (README, "Without the BPF ring buffer"):
 * - one buffer per CPU, each --ringbuf-size / CPUs rounded down to a power of two of pages (at
 *   least one page), so the memory is about the ring buffer's (and a page per CPU); a
 *   record takes 160 bytes, 8 more than in the ring buffer (perf's header, size, padding);
 * - records of different CPUs come in no particular order (within one CPU, in order), and
 *   the consumers want them in order: a release read before its assignment would be ignored
 *   (no hold yet) and the hold kept until the next resync. So the reader puts what it read
 *   in time order (ts_ns) and hands over only the records older than EPH_EVBUF_REORDER_MS
 *   before it started reading: a record younger than that may have one of another CPU
 *   before it that is not in its buffer yet (taken its time, not written out yet); those
 *   wait for the next poll. The end (eph_evbuf__consume, once the programs are detached)
 *   hands over everything;
 * - the reader is woken when a CPU's buffer holds a quarter of its size (perf's
 *   wakeup_watermark, as the ring buffer's BPF_RB_FORCE_WAKEUP at a quarter): the commands
 *   poll with a timeout and take what waits after it, so a quiet stream still flows;
 * - a record that does not fit is counted by the BPF side (bpf_perf_event_output() fails with
 *   -ENOSPC: EPH_CNT_DROPPED, by type), and the kernel reports it again later as lost samples:
 *   those are kept apart (lost) and added to the drops only beyond the BPF side's count
 *   (eph_loader__counters), for kernels whose helper did not report the full buffer.
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "evbuf.h"
#include "order.h"

static uint32_t pow2_floor(uint32_t v)
{
	uint32_t p = 1;

	while (p <= v / 2)
		p *= 2;
	return p;
}

static bool env_forced(void)
{
	const char *v = getenv(EPH_EVBUF_FORCE_ENV);

	return v && *v && strcmp(v, "0");
}

void eph_evbuf__choose(struct eph_evbuf *b, bool force_perf, bool btf_ringbuf, uint32_t size)
{
	long page = sysconf(_SC_PAGESIZE);
	uint32_t pages;

	memset(b, 0, sizeof(*b));
	b->ncpus = libbpf_num_possible_cpus();
	if (b->ncpus < 1)
		b->ncpus = 1;
	if (page <= 0)
		page = 4096;
	b->forced = force_perf || env_forced();
	b->perf = b->forced || !btf_ringbuf ||
		  libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) != 1;
	b->size = size;
	if (b->perf) {
		pages = size / b->ncpus / page;
		b->size = pow2_floor(pages ? pages : 1) * page;
	}
	b->wakeup = b->size / 4;
}

int eph_evbuf__setup(const struct eph_evbuf *b, struct bpf_map *events)
{
	if (!b->perf)
		return bpf_map__set_max_entries(events, b->size);
	return bpf_map__set_type(events, BPF_MAP_TYPE_PERF_EVENT_ARRAY) ?:
	       bpf_map__set_key_size(events, sizeof(int)) ?:
	       bpf_map__set_value_size(events, sizeof(int)) ?:
	       bpf_map__set_max_entries(events, b->ncpus);
}

struct evbuf_held {
	uint64_t seq;
	struct eph_event ev;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* bpf_ktime_get_ns()'s clock */
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int held_cmp(const void *a, const void *b)
{
	const struct evbuf_held *x = a, *y = b;

	return eph_cmp_u64(x->ev.ts_ns, y->ev.ts_ns) ?: eph_cmp_u64(x->seq, y->seq);
}

/* A record read: kept, to be handed over in time order. */
static int hold_back(struct eph_evbuf *b, const void *data, uint32_t size)
{
	struct evbuf_held *h;
	size_t cap;

	if (b->nheld == b->capheld) {
		cap = b->capheld ? 2 * b->capheld : 256;
		h = realloc(b->held, cap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		b->held = h;
		b->capheld = cap;
	}
	h = &b->held[b->nheld++];
	memset(&h->ev, 0, sizeof(h->ev));
	memcpy(&h->ev, data, size < sizeof(h->ev) ? size : sizeof(h->ev));
	h->seq = b->seq++;
	return 0;
}

/* Hand over, in time order, the records not younger than horizon; keep the others. Returns
 * how many went, or fn's error (what is left stays for the next call). */
static int hand_over(struct eph_evbuf *b, uint64_t horizon)
{
	size_t i = 0, j;
	int ret = 0;

	qsort(b->held, b->nheld, sizeof(*b->held), held_cmp);
	for (; i < b->nheld && b->held[i].ev.ts_ns <= horizon; i++) {
		ret = b->fn(b->fn_ctx, &b->held[i].ev, sizeof(b->held[i].ev));
		if (ret < 0) {
			i++;
			break;
		}
	}
	for (j = i; j < b->nheld; j++)
		b->held[j - i] = b->held[j];
	b->nheld -= i;
	return ret < 0 ? ret : (int)i;
}

/* A perf sample: its header, the size of the BPF program's data, the data. */
struct sample {
	struct perf_event_header hdr;
	uint32_t size;
	char data[];
};

struct lost {
	struct perf_event_header hdr;
	uint64_t id;
	uint64_t lost;
};

static enum bpf_perf_event_ret on_perf_event(void *ctx, int cpu, struct perf_event_header *hdr)
{
	struct eph_evbuf *b = ctx;
	uint32_t size;
	int ret;

	(void)cpu;
	if (hdr->type == PERF_RECORD_LOST) {
		b->lost += ((struct lost *)hdr)->lost;
		return LIBBPF_PERF_EVENT_CONT;
	}
	if (hdr->type != PERF_RECORD_SAMPLE)
		return LIBBPF_PERF_EVENT_CONT;
	/* perf pads the data so that it ends 8-byte aligned with its u32 size before it: 148
	 * bytes for a record of 144. The records are struct eph_event; the padding goes. A
	 * shorter one is handed over as it came, for the decoder to refuse. */
	size = ((struct sample *)hdr)->size;
	if (size > sizeof(struct eph_event) && size - sizeof(struct eph_event) < 8)
		size = sizeof(struct eph_event);
	if (size < sizeof(struct eph_event)) {
		ret = b->fn(b->fn_ctx, ((struct sample *)hdr)->data, size);
		return ret < 0 ? LIBBPF_PERF_EVENT_DONE : LIBBPF_PERF_EVENT_CONT;
	}
	if (hold_back(b, ((struct sample *)hdr)->data, size)) {
		b->err = -ENOMEM;
		return LIBBPF_PERF_EVENT_DONE;
	}
	return LIBBPF_PERF_EVENT_CONT;
}

int eph_evbuf__open(struct eph_evbuf *b, int map_fd, eph_record_fn fn, void *fn_ctx)
{
	long page = sysconf(_SC_PAGESIZE);
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_BPF_OUTPUT,
		.sample_type = PERF_SAMPLE_RAW,
		.sample_period = 1,
		.watermark = 1,
	};

	b->fn = fn;
	b->fn_ctx = fn_ctx;
	if (!b->perf) {
		b->rb = ring_buffer__new(map_fd, (ring_buffer_sample_fn)fn, fn_ctx, NULL);
		return b->rb ? 0 : -errno;
	}
	attr.size = sizeof(attr);
	attr.wakeup_watermark = b->wakeup;
	b->pb = perf_buffer__new_raw(map_fd, b->size / (page > 0 ? page : 4096), &attr,
				     on_perf_event, b, NULL);
	return b->pb ? 0 : -errno;
}

/* Perf buffer: wait (timeout_ms >= 0), read every CPU's buffer, hand over in time order what
 * is older than the horizon (all: everything). */
static int perf_read(struct eph_evbuf *b, int timeout_ms, bool all)
{
	uint64_t start = mono_ns(), reorder = EPH_EVBUF_REORDER_MS * 1000000ull;
	int err = 0;

	b->err = 0;
	if (timeout_ms >= 0)
		err = perf_buffer__poll(b->pb, timeout_ms);
	if (err >= 0 && !b->err)
		err = perf_buffer__consume(b->pb);
	if (b->err)
		return b->err;
	/* -EINTR (a signal) included: what was read still goes */
	if (err < 0 && err != -EINTR)
		return err;
	if (all)
		start = UINT64_MAX;
	else
		start = start > reorder ? start - reorder : 0;
	return hand_over(b, start) ?: err;
}

int eph_evbuf__consume(struct eph_evbuf *b)
{
	if (b->rb)
		return ring_buffer__consume(b->rb);
	return b->pb ? perf_read(b, -1, true) : 0;
}

int eph_evbuf__poll(struct eph_evbuf *b, int timeout_ms)
{
	int n, m;

	if (b->pb)
		return perf_read(b, timeout_ms, false);
	if (!b->rb)
		return -EINVAL;
	/* records are submitted without a wakeup until a quarter of the buffer fills up: take
	 * what waits after the timeout too */
	n = ring_buffer__poll(b->rb, timeout_ms);
	if (n < 0)
		return n;
	m = ring_buffer__consume(b->rb);
	return m < 0 ? m : n + m;
}

void eph_evbuf__describe(const struct eph_evbuf *b, char *buf, size_t len)
{
	if (!b->perf)
		snprintf(buf, len, "BPF ring buffer, %u KiB, reader woken at %u KiB", b->size >> 10,
			 b->wakeup >> 10);
	else
		snprintf(buf, len, "perf buffer (%s), %u KiB per CPU x %d, reader woken at %u KiB "
			 "in one", b->forced ? "forced by " EPH_EVBUF_FORCE_ENV "=1" :
			 "no BPF ring buffer in this kernel", b->size >> 10, b->ncpus,
			 b->wakeup >> 10);
}

void eph_evbuf__free(struct eph_evbuf *b)
{
	if (!b)
		return;
	ring_buffer__free(b->rb);
	perf_buffer__free(b->pb);
	free(b->held);
	/* back to what eph_evbuf__choose() made: the choice kept, no reader */
	*b = (struct eph_evbuf){
		.perf = b->perf,
		.forced = b->forced,
		.size = b->size,
		.wakeup = b->wakeup,
		.ncpus = b->ncpus,
	};
}
