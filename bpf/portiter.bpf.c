// SPDX-License-Identifier: GPL-2.0
/*
 * The port iterator: for every TCP socket of the reader's network namespace (listening,
 * connected, TIME_WAIT), who made the bind bucket of its port. connect() (__inet_hash_connect)
 * skips every port whose bucket bind() or listen() made (tb->fastreuse >= 0 ||
 * tb->fastreuseport >= 0), for every destination; sock_diag cannot tell such a port from one
 * connect() chose, this can. Sockets only bound (no connect, no listen) are in no table the
 * iterator walks: sock_diag lists those itself (TCP_BOUND_INACTIVE, 6.5+). Each full socket's
 * IP_LOCAL_PORT_RANGE comes with it (sock_diag has no attribute for it).
 *
 * Helpers, all in tracing programs since 5.12 at the latest (ephtrace needs 6.1):
 * bpf_skc_to_tcp_sock / bpf_skc_to_tcp_timewait_sock (5.9), bpf_get_socket_cookie on a
 * BTF socket pointer (5.12, commit c5dbb89fc2ac), bpf_seq_write (5.9).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "core_fixes.bpf.h"
#include "ephtrace.h"

char LICENSE[] SEC("license") = "GPL";

/* Who made the bucket: bind()/listen() set fastreuse or fastreuseport to 0 or 1, connect()
 * leaves both at -1 (inet_bind_bucket_create, inet_csk_update_fastreuse). */
static __always_inline __u8 bucket_kind(const struct inet_bind_bucket *tb)
{
	__s8 fastreuse, fastreuseport;

	if (!tb)
		return EPH_PORTITER_NO_BUCKET;
	fastreuse = tb->fastreuse;
	fastreuseport = tb->fastreuseport;
	return fastreuse >= 0 || fastreuseport >= 0 ? EPH_PORTITER_BIND : EPH_PORTITER_CONNECT;
}

/* The bucket of a full socket (icsk_bind_hash) or of a TIME_WAIT one (tw_tb), and the state
 * sock_diag shows: a TIME_WAIT socket's substate (TIME_WAIT, or FIN_WAIT2 when it was closed
 * in FIN_WAIT2). A full socket's IP_LOCAL_PORT_RANGE too; a TIME_WAIT one keeps none. */
static __always_inline void fill_bucket(struct sock_common *skc, struct eph_portiter_rec *rec)
{
	struct tcp_timewait_sock *tw;
	struct tcp_sock *tp;

	tp = bpf_skc_to_tcp_sock(skc);
	if (tp) {
		rec->bucket = bucket_kind(tp->inet_conn.icsk_bind_hash);
		inet_sk_port_range(&tp->inet_conn.icsk_inet, &rec->range_lo, &rec->range_hi);
		return;
	}
	tw = bpf_skc_to_tcp_timewait_sock(skc);
	if (tw) {
		rec->bucket = bucket_kind(tw->tw_sk.tw_tb);
		rec->state = tw->tw_sk.tw_substate;
	}
}

SEC("iter/tcp")
int portiter_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct eph_portiter_rec rec = {};

	if (!skc)
		return 0;
	rec.state = skc->skc_state;
	/* a request socket's port is its listener's, which is listed */
	if (rec.state == TCP_NEW_SYN_RECV)
		return 0;
	rec.cookie = bpf_get_socket_cookie(skc);
	rec.sport = skc->skc_num;
	rec.family = skc->skc_family;
	fill_bucket(skc, &rec);
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}
