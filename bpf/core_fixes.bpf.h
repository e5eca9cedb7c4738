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
 * Whether connect() bound a socket's port (__inet_hash_connect()), on a kernel whose bind buckets
 * go back to connect()'s once only such sockets own them: commit "tcp: Update bind bucket state
 * on port release" (6.18; Debian's 6.1 and 6.12 do not have it) marks them SOCK_CONNECT_BIND in
 * sk_userlocks (tw_connect_bind in TIME_WAIT) and gave struct inet_bind2_bucket a fastreuse of
 * its own, which is how a kernel that has it is known (a stable kernel that took it too).
 * -1 on a kernel without it.
 */
#define EPH_SOCK_CONNECT_BIND 16 /* include/net/sock.h */

struct inet_bind2_bucket___reset {
	signed char fastreuse;
} __attribute__((preserve_access_index));

struct inet_timewait_sock___reset {
	unsigned int tw_connect_bind : 1;
} __attribute__((preserve_access_index));

static __always_inline int connect_bound(const struct sock *sk, const struct inet_timewait_sock *tw)
{
	const struct inet_timewait_sock___reset *t = (const void *)tw;

	if (!bpf_core_field_exists(struct inet_bind2_bucket___reset, fastreuse))
		return -1;
	if (tw)
		return BPF_CORE_READ_BITFIELD_PROBED(t, tw_connect_bind);
	return !!(sk_userlocks(sk) & EPH_SOCK_CONNECT_BIND);
}

/*
 * A FIN_WAIT1, FIN_WAIT2 or CLOSING socket going to CLOSE without a TIME_WAIT socket taking its
 * port: a reset came (tcp_reset() -> tcp_done_with_error() sets sk_err before tcp_done()), a
 * timeout ended it (tcp_write_err(), the same), or an abortive close (SO_LINGER 0: __tcp_close()
 * -> tcp_disconnect() changes the state, then sends the RST). Two ends stay ambiguous: an orphan
 * whose FIN_WAIT2 time ran out (tcp_keepalive_timer()) and tcp_linger2 < 0, both resets with no
 * sk_err. enum sock_flags' SOCK_LINGER by CO-RE.
 */
static __always_inline bool tcp_close_aborted(const struct sock *sk)
{
	unsigned long flags = BPF_CORE_READ(sk, __sk_common.skc_flags);
	int linger = bpf_core_enum_value(enum sock_flags, SOCK_LINGER);

	if (BPF_CORE_READ(sk, sk_err))
		return true;
	return ((flags >> (linger & 63)) & 1) && !BPF_CORE_READ(sk, sk_lingertime);
}

/*
 * Whether f's reference is its last one (its close frees it): struct file counted references in
 * f_count until 6.12; 6.13 made it f_ref, a file_ref_t holding the count minus one
 * (include/linux/file_ref.h, FILE_REF_ONEREF 0).
 */
struct file_ref___new {
	atomic_long_t refcnt;
} __attribute__((preserve_access_index));

struct file___new {
	struct file_ref___new f_ref;
} __attribute__((preserve_access_index));

struct file___old {
	atomic_long_t f_count;
} __attribute__((preserve_access_index));

static __always_inline bool file_last_ref(const struct file *f)
{
	const struct file___new *fnew = (const void *)f;
	const struct file___old *fold = (const void *)f;

	if (bpf_core_field_exists(fnew->f_ref))
		return BPF_CORE_READ(fnew, f_ref.refcnt.counter) == 0;
	return BPF_CORE_READ(fold, f_count.counter) == 1;
}

/*
 * IP_LOCAL_PORT_RANGE, as the socket set it (setsockopt(IPPROTO_IP, IP_LOCAL_PORT_RANGE,
 * hi << 16 | lo)): struct inet_sock's local_port_range was a struct { __u16 lo; __u16 hi; }
 * from commit 91d0b78c5177 ("inet: Add IP_LOCAL_PORT_RANGE socket option", 6.3, backported to
 * 6.1.y) until commit d9f28735af87 ("Use READ/WRITE_ONCE() for IP local_port_range.", David
 * Laight, net-next Dec 2023, 6.8) made it one u32, hi << 16 | lo. vmlinux.h is 6.1's, so both
 * shapes are named by a flavour here. A kernel without the option has neither: 0, 0.
 */
struct inet_sock___old {
	struct {
		__u16 lo;
		__u16 hi;
	} local_port_range;
} __attribute__((preserve_access_index));

struct inet_sock___new {
	__u32 local_port_range; /* high << 16 | low */
} __attribute__((preserve_access_index));

static __always_inline void inet_sk_port_range(const struct inet_sock *inet, __u16 *lo, __u16 *hi)
{
	const struct inet_sock___old *o = (const void *)inet;
	const struct inet_sock___new *n = (const void *)inet;
	__u32 range = 0;

	/* .lo exists only where local_port_range is the struct; a u32 has no member */
	if (bpf_core_field_exists(o->local_port_range.lo)) {
		*lo = BPF_CORE_READ(o, local_port_range.lo);
		*hi = BPF_CORE_READ(o, local_port_range.hi);
		return;
	}
	if (bpf_core_field_exists(n->local_port_range))
		range = BPF_CORE_READ(n, local_port_range);
	*lo = range & 0xffff;
	*hi = range >> 16;
}

/*
 * IP_BIND_ADDRESS_NO_PORT was the bitfield inet_sock.bind_address_no_port (vmlinux.h, 6.1) until
 * commit ca571e2eb7eb ("inet: move inet->bind_address_no_port to inet->inet_flags", 6.6) made it
 * bit INET_FLAGS_BIND_ADDRESS_NO_PORT of inet_sock.inet_flags. That enum is anonymous in
 * include/net/inet_sock.h, and CO-RE finds an enum value's candidates by the enum's name:
 * bpf_core_enum_value() cannot relocate it. The bit is 18 from 6.6 to at least 7.2.
 */
struct inet_sock___flags {
	unsigned long inet_flags;
} __attribute__((preserve_access_index));

#define INET_FLAGS_BIND_ADDRESS_NO_PORT___x 18

static __always_inline bool inet_sk_bind_no_port(const struct sock *sk)
{
	const struct inet_sock *inet = (const void *)sk;
	const struct inet_sock___flags *f = (const void *)sk;

	if (bpf_core_field_exists(inet->bind_address_no_port))
		return BPF_CORE_READ_BITFIELD_PROBED(inet, bind_address_no_port);
	if (bpf_core_field_exists(f->inet_flags))
		return (BPF_CORE_READ(f, inet_flags) >> INET_FLAGS_BIND_ADDRESS_NO_PORT___x) & 1;
	return false;
}

/*
 * The sockets of a bind bucket (struct inet_bind_bucket, the bhash entry of a port): its
 * owners list, sockets and TIME_WAIT sockets linked by skc_bind_node, until commit
 * b2cb9f9ef240 ("tcp: Unlink sk from bhash.", 6.8) kept them in the bhash2 buckets only. The
 * flavour names the list so that the code builds whatever kernel vmlinux.h comes from.
 */
struct inet_bind_bucket___owners {
	struct hlist_head owners;
} __attribute__((preserve_access_index));

static __always_inline bool tb_has_owners(void)
{
	return bpf_core_field_exists(struct inet_bind_bucket___owners, owners);
}

/* The first owner of tb, NULL where bind buckets have no owners list. */
static __always_inline const struct hlist_node *tb_owners(const struct inet_bind_bucket *tb)
{
	const struct inet_bind_bucket___owners *o = (const void *)tb;

	if (!bpf_core_field_exists(o->owners))
		return NULL;
	return BPF_CORE_READ(o, owners.first);
}

#endif
