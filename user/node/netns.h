/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Network namespaces: finding every one (/proc/PID/ns/net, /run/netns/NAME) and reading the
 * port range in force in each (ip_local_port_range, ip_local_reserved_ports, and the TIME_WAIT
 * reuse settings tcp_tw_reuse, tcp_timestamps, tcp_tw_reuse_delay). /proc/sys is
 * resolved in the network namespace of the thread that opens it, so another namespace's
 * sysctls are read from a short-lived thread that setns() into it. No libbpf.
 */
#ifndef EPH_NETNS_H
#define EPH_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EPH_PORT_BITMAP_BYTES 8192 /* one bit per port: bit p % 8 of byte p / 8 */

struct eph_netns {
	uint32_t inode; /* the namespace's nsfs inode, as in /proc/PID/ns/net */
	int fd;		/* open on it, for setns(); -1 for our own namespace */
	char path[64];	/* where it was found first */
};

struct eph_netns_list {
	struct eph_netns *ns; /* ascending by inode, no duplicates */
	size_t n;
	size_t cap;
	uint32_t self; /* inode of the namespace this process is in */
};

/* Every namespace that a process is in or that is bind-mounted in /run/netns or
 * /var/run/netns, and ours. Namespaces we may not look at (permissions) are left out.
 * Returns NULL with errno set when even our own cannot be found. */
struct eph_netns_list *eph_netns_list__new(void);
void eph_netns_list__free(struct eph_netns_list *l); /* NULL-safe */
const struct eph_netns *eph_netns_list__find(const struct eph_netns_list *l, uint32_t inode);

/*
 * Run fn(ctx) inside ns: directly for our own namespace, else on a new thread that setns()
 * into it and ends after fn (the calling thread never changes namespace). Returns what fn
 * returned, or -errno when the thread or setns() failed (-EPERM without CAP_SYS_ADMIN).
 */
int eph_netns__run(const struct eph_netns_list *l, const struct eph_netns *ns, int (*fn)(void *ctx),
		   void *ctx);

struct eph_port_range {
	uint16_t low;
	uint16_t high;
	uint32_t nreserved;			 /* reserved ports inside [low, high] */
	uint8_t reserved[EPH_PORT_BITMAP_BYTES]; /* every reserved port */
	/* whether connect() may take over a TIME_WAIT 4-tuple (tcp_twsk_unique) */
	uint8_t tw_reuse;	    /* net.ipv4.tcp_tw_reuse: 0 off, 1 on, 2 loopback only */
	uint8_t timestamps;	    /* net.ipv4.tcp_timestamps: 0 off, 1 or 2 on */
	uint32_t tw_reuse_delay_ms; /* net.ipv4.tcp_tw_reuse_delay; 0: no such sysctl (6.1, 6.12) */
};

/* The range and the TIME_WAIT settings of the namespace of the calling thread (from
 * /proc/sys). 0 or -errno. */
int eph_port_range_read(struct eph_port_range *r);
/* The range of ns (eph_netns__run + eph_port_range_read). */
int eph_netns__read_range(const struct eph_netns_list *l, const struct eph_netns *ns,
			  struct eph_port_range *r);

/* Parsers, exported for the tests. Each returns 0 or -EINVAL. */
/* ip_local_port_range: "32768\t60999\n" (two ports, low <= high, low >= 1). */
int eph_parse_port_range(const char *s, uint16_t *low, uint16_t *high);
/* ip_local_reserved_ports: "" or "40100-40199,40500\n" into a zeroed bitmap. */
int eph_parse_reserved_ports(const char *s, uint8_t bitmap[EPH_PORT_BITMAP_BYTES]);
/* A numeric sysctl: "2\n", "1000\n" (decimal, at most max). */
int eph_parse_sysctl_u32(const char *s, uint32_t max, uint32_t *out);
/* Set bits of bitmap in [low, high]. */
uint32_t eph_port_bitmap_count(const uint8_t *bitmap, uint16_t low, uint16_t high);

#endif
