// SPDX-License-Identifier: GPL-2.0
/*
 * The events' buffer: BPF ring buffer, or perf buffer where the kernel has none.
 *
 * Perf buffer, what differs (README, "Without the BPF ring buffer"):
 * - one buffer per CPU, each --ringbuf-size / CPUs rounded down to a power of two of pages (at
 *   least one page), so the memory is about the ring buffer's; a record takes 8 bytes more
 *   (perf's header and size);
 * - records of different CPUs come in no particular order; within one CPU, in order;
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
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "evbuf.h"

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

void eph_evbuf__choose(struct eph_evbuf *b, bool force_perf, uint32_t size)
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
	b->perf = b->forced || libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) != 1;
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
	 * bytes for a record of 144. The records are struct eph_event; the padding goes. */
	size = ((struct sample *)hdr)->size;
	if (size > sizeof(struct eph_event) && size - sizeof(struct eph_event) < 8)
		size = sizeof(struct eph_event);
	b->nrec++;
	ret = b->fn(b->fn_ctx, ((struct sample *)hdr)->data, size);
	if (ret < 0) { /* as ring_buffer__poll(): stop, and say why */
		b->err = ret;
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

static int perf_done(struct eph_evbuf *b, int err)
{
	if (b->err)
		return b->err;
	return err < 0 ? err : b->nrec;
}

int eph_evbuf__consume(struct eph_evbuf *b)
{
	if (b->rb)
		return ring_buffer__consume(b->rb);
	if (!b->pb)
		return 0;
	b->err = b->nrec = 0;
	return perf_done(b, perf_buffer__consume(b->pb));
}

int eph_evbuf__poll(struct eph_evbuf *b, int timeout_ms)
{
	int n, m;

	if (!b->rb && !b->pb)
		return -EINVAL;
	/* records are submitted without a wakeup until a quarter of the buffer fills up: take
	 * what waits after the timeout too */
	if (b->rb) {
		n = ring_buffer__poll(b->rb, timeout_ms);
	} else {
		b->err = b->nrec = 0;
		n = perf_done(b, perf_buffer__poll(b->pb, timeout_ms));
	}
	if (n < 0)
		return n;
	m = eph_evbuf__consume(b);
	return m < 0 ? m : n + m;
}

void eph_evbuf__describe(const struct eph_evbuf *b, char *buf, size_t len)
{
	if (!b->perf)
		snprintf(buf, len, "BPF ring buffer, %u KiB, reader woken at %u KiB", b->size >> 10,
			 b->wakeup >> 10);
	else
		snprintf(buf, len, "perf buffer (%s), %u KiB per CPU x %d, reader woken at %u bytes "
			 "per CPU", b->forced ? "forced by " EPH_EVBUF_FORCE_ENV "=1" :
			 "no BPF ring buffer in this kernel", b->size >> 10, b->ncpus, b->wakeup);
}

void eph_evbuf__free(struct eph_evbuf *b)
{
	if (!b)
		return;
	ring_buffer__free(b->rb);
	perf_buffer__free(b->pb);
	b->rb = NULL;
	b->pb = NULL;
}
