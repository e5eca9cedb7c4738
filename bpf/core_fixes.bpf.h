/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel differences ephtrace meets between 6.1 and 6.18, handled with CO-RE only (no version
 * checks). Each flavour names the change that made it necessary.
 */
#ifndef EPH_CORE_FIXES_BPF_H
#define EPH_CORE_FIXES_BPF_H

#include <bpf/bpf_core_read.h>

/*
 * sk_userlocks was a 4-bit bitfield of struct sock until commit 4c1e34c0dbff ("net: annotate
 * data-races around sk->sk_userlocks") era reworks made it a plain u8 (6.2+). The PROBED bitfield
 * read handles both shapes.
 */
static __always_inline __u8 sk_userlocks(const struct sock *sk)
{
	return BPF_CORE_READ_BITFIELD_PROBED(sk, sk_userlocks);
}

/*
 * struct net's ip_local_ports: 6.1 keeps "int range[2]" behind a seqlock; commit d9f28735af89
 * ("inet: lockless access to ip_local_ports") made it "u32 range" = high << 16 | low (6.3+).
 */
struct local_ports___old {
	int range[2];
} __attribute__((preserve_access_index));

struct local_ports___new {
	u32 range;
} __attribute__((preserve_access_index));

static __always_inline void net_local_port_range(const struct net *net, __u16 *low, __u16 *high)
{
	const void *lp = &net->ipv4.ip_local_ports;

	if (bpf_core_type_matches(struct local_ports___new) &&
	    bpf_core_field_size(((struct local_ports___new *)0)->range) == 4) {
		__u32 r = BPF_CORE_READ((struct local_ports___new *)lp, range);

		*low = r & 0xffff;
		*high = r >> 16;
	} else {
		int r[2] = {};

		bpf_core_read(&r, sizeof(r), &((struct local_ports___old *)lp)->range);
		*low = r[0];
		*high = r[1];
	}
}

#endif
