/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The events' buffer: the BPF ring buffer, or a perf buffer (one per CPU) on kernels without it
 * (before 5.8), as bcc's libbpf-tools do (compat.c's bpf_buffer). Chosen and sized before the
 * load, read after it; the records go to the same eph_record_fn either way.
 */
#ifndef EPH_EVBUF_H
#define EPH_EVBUF_H

#include <stdbool.h>
#include <stdint.h>

#include "loader.h"

struct bpf_map;
struct ring_buffer;
struct perf_buffer;

/* Set for a test to take the perf-buffer path on a kernel that has the ring buffer. */
#define EPH_EVBUF_FORCE_ENV "EPH_TEST_PERFBUF"
/* Perf buffer: how long a record may take from its time stamp to its CPU's buffer. */
#define EPH_EVBUF_REORDER_MS 5

struct evbuf_held;

struct eph_evbuf {
	bool perf;	     /* the perf buffer, not the ring buffer */
	bool forced;	     /* perf because EPH_TEST_PERFBUF=1 (else: no ring buffer here) */
	uint32_t size;	     /* ring buffer bytes; perf: bytes per CPU */
	uint32_t wakeup;     /* bytes waiting before the reader is woken */
	int ncpus;
	struct ring_buffer *rb;
	struct perf_buffer *pb;
	eph_record_fn fn;
	void *fn_ctx;
	int err;	     /* perf: an error while reading (-ENOMEM) */
	uint64_t lost;	     /* perf: samples the kernel reported lost (PERF_RECORD_LOST) */
	/* perf: records read, not handed over yet: put in time order first (evbuf.c) */
	struct evbuf_held *held;
	size_t nheld, capheld;
	uint64_t seq;	     /* arrival order, among records of the same time */
};

/* Which buffer: the perf buffer when asked (force_perf, EPH_TEST_PERFBUF=1) or when the kernel
 * has no BPF ring buffer (none to create, or none in its BTF: btf_ringbuf false, where the
 * BPF side's CO-RE test takes the perf path). size is --ringbuf-size. */
void eph_evbuf__choose(struct eph_evbuf *b, bool force_perf, bool btf_ringbuf, uint32_t size);
/* Before the load: make the map what was chosen, sized. 0 or -errno. */
int eph_evbuf__setup(const struct eph_evbuf *b, struct bpf_map *events);
/* After the load: the reader. 0 or -errno. */
int eph_evbuf__open(struct eph_evbuf *b, int map_fd, eph_record_fn fn, void *fn_ctx);
/* Wait up to timeout_ms, then take what waits: records handed over or -errno. The perf buffer
 * keeps back the records of the last EPH_EVBUF_REORDER_MS for the next call (evbuf.c). */
int eph_evbuf__poll(struct eph_evbuf *b, int timeout_ms);
/* Take everything that waits, without waiting (nothing kept back): for the end, when no
 * program writes any more. */
int eph_evbuf__consume(struct eph_evbuf *b);
/* Which buffer, its size and wakeup, for -v. */
void eph_evbuf__describe(const struct eph_evbuf *b, char *buf, size_t len);
void eph_evbuf__free(struct eph_evbuf *b); /* the reader only (b as chosen); NULL-safe */

#endif
