/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Who keeps a connection to the HTTP endpoint when peers misbehave (slowloris, floods): a
 * table of the server's connections, each with the time it started waiting for its next answer
 * (when it connected, then each time a response was sent in full).
 *
 * - A new connection is always let in. When that puts its client address above max_per_addr
 *   open connections, that address's connection that has waited longest is shut down. When it
 *   puts everyone above max_conns, the connection shut down is of the address with the most
 *   open connections, the one of those that has waited longest. So a peer that holds many
 *   connections without finishing a request gives way to one that just came, and a scraper
 *   with one connection loses it only to a crowd of addresses with one connection each, all
 *   of which came after it while its request was still unanswered.
 * - A connection that has waited deadline_ms for its answer is shut down, whatever it sends
 *   meanwhile (an idle timeout alone is reset by every byte a trickling peer sends).
 *
 * "Shut down" is shutdown(fd, SHUT_RDWR): the server sees the end of the stream and closes the
 * connection itself, in its own thread. The descriptors are the server's: a connection is
 * added when the server has accepted it and removed before the server closes it, and all of it
 * happens under one lock, so a descriptor is never touched once it may have been reused.
 * No libbpf, no HTTP library: used by serve with libmicrohttpd's connection notifications.
 */
#ifndef EPH_HTTPLIMIT_H
#define EPH_HTTPLIMIT_H

#include <stdint.h>
#include <sys/socket.h>

struct eph_httplimit_opts {
	unsigned int max_conns;	   /* open connections kept */
	unsigned int max_per_addr; /* open connections kept per client address */
	unsigned int slots;	   /* connections tracked at most: the server's own hard cap */
	uint64_t deadline_ms;	   /* to get an answer, from the connect or the previous answer */
};

struct eph_httplimit_stats {
	unsigned int open;  /* tracked and not shut down */
	uint64_t evicted;   /* shut down to make room for a newer connection */
	uint64_t expired;   /* shut down at the deadline */
	uint64_t untracked; /* came with every slot taken: not counted, not limited */
};

struct eph_httplimit;
struct eph_httplimit_conn;

/* NULL with errno set (EINVAL: a zero in the options, max_conns above slots; ENOMEM). */
struct eph_httplimit *eph_httplimit__new(const struct eph_httplimit_opts *o);
void eph_httplimit__free(struct eph_httplimit *hl); /* NULL-safe */

/*
 * A connection the server has accepted, on socket fd from peer (AF_INET or AF_INET6; any
 * other family counts as one address), at now_ms (CLOCK_MONOTONIC). Shuts down the ones that
 * have to give way. Returns the connection's handle, or NULL when every slot is taken (then it
 * is neither counted nor limited).
 */
struct eph_httplimit_conn *eph_httplimit__add(struct eph_httplimit *hl, int fd,
					      const struct sockaddr *peer, uint64_t now_ms);
/* A response was sent in full: the connection waits for its next answer from now on. */
void eph_httplimit__answered(struct eph_httplimit *hl, struct eph_httplimit_conn *c,
			     uint64_t now_ms);
/* The server is about to close c's socket (NULL-safe). */
void eph_httplimit__remove(struct eph_httplimit *hl, struct eph_httplimit_conn *c);
/* Shuts down the connections past the deadline at now_ms. Returns how many. */
unsigned int eph_httplimit__expire(struct eph_httplimit *hl, uint64_t now_ms);
void eph_httplimit__stats(struct eph_httplimit *hl, struct eph_httplimit_stats *st);

#endif
