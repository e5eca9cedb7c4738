// SPDX-License-Identifier: GPL-2.0
/* Connection limits with eviction and a per-request deadline. See httplimit.h. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "httplimit.h"

/* A client address with connections in the table. */
struct eph_httplimit_addr {
	sa_family_t family;
	uint8_t addr[16];     /* IPv4: the first 4 bytes */
	unsigned int open;    /* its connections not shut down */
	unsigned int tracked; /* its connections in the table; 0: a free entry */
};

struct eph_httplimit_conn {
	int fd;	   /* -1: free slot */
	bool shut; /* shut down, the server has not closed it yet */
	struct eph_httplimit_addr *from;
	uint64_t since_ms; /* connected, or its last answer sent */
};

struct eph_httplimit {
	pthread_mutex_t lock; /* protects all that follows */
	struct eph_httplimit_conn *c;
	struct eph_httplimit_addr *addrs; /* as many as slots: one per connection at most */
	unsigned int nslots;
	unsigned int max_conns;
	unsigned int max_per_addr;
	uint64_t deadline_ms;
	struct eph_httplimit_stats st;
};

struct eph_httplimit *eph_httplimit__new(const struct eph_httplimit_opts *o)
{
	struct eph_httplimit *hl;
	unsigned int i;

	if (!o->max_conns || !o->max_per_addr || !o->slots || !o->deadline_ms ||
	    o->max_conns > o->slots) {
		errno = EINVAL;
		return NULL;
	}
	hl = calloc(1, sizeof(*hl));
	if (!hl)
		return NULL;
	hl->c = calloc(o->slots, sizeof(*hl->c));
	if (!hl->c)
		goto out_free;
	hl->addrs = calloc(o->slots, sizeof(*hl->addrs));
	if (!hl->addrs)
		goto out_free_conns;
	for (i = 0; i < o->slots; i++)
		hl->c[i].fd = -1;
	pthread_mutex_init(&hl->lock, NULL);
	hl->nslots = o->slots;
	hl->max_conns = o->max_conns;
	hl->max_per_addr = o->max_per_addr;
	hl->deadline_ms = o->deadline_ms;
	return hl;

out_free_conns:
	free(hl->c);
out_free:
	free(hl);
	return NULL;
}

void eph_httplimit__free(struct eph_httplimit *hl)
{
	if (!hl)
		return;
	pthread_mutex_destroy(&hl->lock);
	free(hl->addrs);
	free(hl->c);
	free(hl);
}

/* The entry of peer's address, made if needed (there is always a free one: a free slot). */
static struct eph_httplimit_addr *addr_get(struct eph_httplimit *hl, const struct sockaddr *peer)
{
	struct eph_httplimit_addr key = { .family = peer ? peer->sa_family : AF_UNSPEC };
	struct eph_httplimit_addr *a, *free_entry = NULL;
	unsigned int i;

	if (key.family == AF_INET)
		memcpy(key.addr, &((const struct sockaddr_in *)peer)->sin_addr, 4);
	else if (key.family == AF_INET6)
		memcpy(key.addr, &((const struct sockaddr_in6 *)peer)->sin6_addr, 16);
	for (i = 0; i < hl->nslots; i++) {
		a = &hl->addrs[i];
		if (!a->tracked) {
			if (!free_entry)
				free_entry = a;
		} else if (a->family == key.family && !memcmp(a->addr, key.addr, sizeof(a->addr))) {
			return a;
		}
	}
	*free_entry = key;
	return free_entry;
}

static bool is_open(const struct eph_httplimit_conn *c)
{
	return c->fd >= 0 && !c->shut;
}

static void shut(struct eph_httplimit *hl, struct eph_httplimit_conn *c)
{
	shutdown(c->fd, SHUT_RDWR);
	c->shut = true;
	c->from->open--;
	hl->st.open--;
}

/*
 * Who gives way to c: of c's address only (same), the connection that has waited longest;
 * else, of the addresses with the most open connections, the one that has waited longest.
 * A client with one connection only loses it to a crowd of addresses with one each.
 */
static struct eph_httplimit_conn *victim(struct eph_httplimit *hl,
					 const struct eph_httplimit_conn *c, bool same)
{
	struct eph_httplimit_conn *v = NULL, *p;
	unsigned int i;

	for (i = 0; i < hl->nslots; i++) {
		p = &hl->c[i];
		if (p == c || !is_open(p) || (same && p->from != c->from))
			continue;
		if (!v || p->from->open > v->from->open ||
		    (p->from->open == v->from->open && p->since_ms < v->since_ms))
			v = p;
	}
	return v;
}

struct eph_httplimit_conn *eph_httplimit__add(struct eph_httplimit *hl, int fd,
					      const struct sockaddr *peer, uint64_t now_ms)
{
	struct eph_httplimit_conn *c = NULL, *o;
	unsigned int i;

	pthread_mutex_lock(&hl->lock);
	for (i = 0; i < hl->nslots && !c; i++)
		if (hl->c[i].fd < 0)
			c = &hl->c[i];
	if (!c) {
		hl->st.untracked++;
		goto out_unlock;
	}
	c->fd = fd;
	c->shut = false;
	c->since_ms = now_ms;
	c->from = addr_get(hl, peer);
	c->from->open++;
	c->from->tracked++;
	hl->st.open++;
	if (c->from->open > hl->max_per_addr && (o = victim(hl, c, true))) {
		shut(hl, o);
		hl->st.evicted++;
	}
	if (hl->st.open > hl->max_conns && (o = victim(hl, c, false))) {
		shut(hl, o);
		hl->st.evicted++;
	}
out_unlock:
	pthread_mutex_unlock(&hl->lock);
	return c;
}

void eph_httplimit__answered(struct eph_httplimit *hl, struct eph_httplimit_conn *c,
			     uint64_t now_ms)
{
	pthread_mutex_lock(&hl->lock);
	c->since_ms = now_ms;
	pthread_mutex_unlock(&hl->lock);
}

void eph_httplimit__remove(struct eph_httplimit *hl, struct eph_httplimit_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&hl->lock);
	if (!c->shut) {
		c->from->open--;
		hl->st.open--;
	}
	c->from->tracked--;
	c->fd = -1;
	pthread_mutex_unlock(&hl->lock);
}

unsigned int eph_httplimit__expire(struct eph_httplimit *hl, uint64_t now_ms)
{
	unsigned int i, n = 0;

	pthread_mutex_lock(&hl->lock);
	for (i = 0; i < hl->nslots; i++) {
		/* since_ms may be later than now_ms: answered meanwhile */
		if (is_open(&hl->c[i]) && now_ms >= hl->c[i].since_ms + hl->deadline_ms) {
			shut(hl, &hl->c[i]);
			n++;
		}
	}
	hl->st.expired += n;
	pthread_mutex_unlock(&hl->lock);
	return n;
}

void eph_httplimit__stats(struct eph_httplimit *hl, struct eph_httplimit_stats *st)
{
	pthread_mutex_lock(&hl->lock);
	*st = hl->st;
	pthread_mutex_unlock(&hl->lock);
}
