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

#endif
