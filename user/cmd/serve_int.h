/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the pieces of `ephtrace serve` share: its limits, and the state its three threads see
 * (cmd_serve.c: options, the listener and the event loop; serve_metrics.c: a scrape's rows,
 * gathered on the HTTP thread; serve_http.c: libmicrohttpd's callbacks). Not for other
 * modules: commands.h has cmd_serve().
 */
#ifndef EPH_SERVE_INT_H
#define EPH_SERVE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "httplimit.h"
#include "loader.h"
#include "metrics.h"
#include "strbuf.h"
#include "tracker.h"

/*
 * Default port: 10099. Prometheus keeps a registry of exporter ports (the wiki page "Default
 * port allocations"); its 9100-9999 block is fully allocated since 2023 and new exporters
 * are given ports from 10000 on. 10099 is not claimed there as far as we could check; it has
 * to be registered before a release.
 */
#define SERVE_DEFAULT_LISTEN "127.0.0.1:10099"
#define SERVE_DEFAULT_TOP 20
#define SERVE_MAX_PROCS 16384 /* failure series by process identity kept at once */
#define SERVE_TICK_MS 1000    /* occupancy housekeeping (exited processes, resync when due) */
#define SERVE_RESYNC_MS 5000  /* sock_diag reconciliation of the ports held */
#define SERVE_STALE_MS 5000   /* /healthz fails when the event loop stalls this long */
/*
 * Limits for a hostile network (slowloris, floods, huge headers); README, "ephtrace serve",
 * says what a peer can and cannot do and what tests/host/httpabuse.py measured.
 * - A new connection is always let in. When its address then has more than SERVE_MAX_PER_IP
 *   open connections, its connection that has waited longest for an answer is shut down; when
 *   everyone has more than SERVE_MAX_CONNECTIONS, the longest waiting one of the address with
 *   the most (httplimit.h). With plain caps (libmicrohttpd's), 4 addresses holding 16 slow
 *   connections each locked every scraper out, and 16 from the scraper's own address did too.
 * - SERVE_HARD_*: libmicrohttpd's own caps, above those, only bound what is accepted before
 *   the connections shut down are closed (at SERVE_HARD_CONNECTIONS it stops calling accept(),
 *   the rest waits in the listen backlog; above SERVE_HARD_PER_IP it closes the newcomer).
 * - SERVE_IDLE_TIMEOUT_S is libmicrohttpd's, and every byte received resets it: a peer that
 *   trickles one header byte every few seconds is never idle (0.9.75 has no request deadline).
 *   SERVE_REQUEST_DEADLINE_S bounds the whole wait, from the connect or the previous answer.
 * - SERVE_CONN_MEMORY: libmicrohttpd's pool per connection; the request line and headers, and
 *   the bookkeeping of each header, must fit (else 431: about 16100 bytes, or ~300 headers).
 */
#define SERVE_MAX_CONNECTIONS 64
#define SERVE_MAX_PER_IP 16
#define SERVE_HARD_CONNECTIONS 256
#define SERVE_HARD_PER_IP 32
#define SERVE_IDLE_TIMEOUT_S 10
#define SERVE_REQUEST_DEADLINE_S 15
#define SERVE_CONN_MEMORY 16384
#define SERVE_BACKLOG 1024 /* a full queue drops SYNs: a scraper's connect would wait 1 s */

struct serve {
	struct eph_loader *l;
	struct eph_httplimit *hl; /* connections to the HTTP endpoint */
	const char *backend;
	unsigned int top;
	bool pid_labels;	       /* --pid-labels */
	int stats_fd;		       /* BPF_ENABLE_STATS, or -1 */
	uint64_t bad_records;	       /* malformed ring-buffer records (event loop only) */
	_Atomic uint64_t heartbeat_ms; /* last turn of the event loop */
	pthread_mutex_t lock;	       /* protects what follows */
	struct eph_proc_counts *procs; /* failures by process identity and errno */
	struct eph_tracker t;	       /* ports held: destinations, processes, ranges */
};

struct MHD_Daemon;

/* The /metrics body in fmt: the kernel's maps read here, the tracker's rows under s->lock
 * (serve_metrics.c). 0 or -errno. */
int build_metrics(struct serve *s, enum eph_metrics_format fmt, struct strbuf *sb);
/* The per-process failures whose process's container the tracker knows now go to their
 * series; under s->lock (cmd_serve.c). 0 or -ENOMEM. */
int resolve_procs(struct serve *s);

/* libmicrohttpd on the bound socket fd, its requests answered from s (serve_http.c); the
 * daemon owns fd once started. NULL if it could not start. */
struct MHD_Daemon *start_http(struct serve *s, int fd, bool verbose);

#endif
