// SPDX-License-Identifier: GPL-2.0
/*
 * The port iterator: for every TCP socket of the reader's network namespace (listening,
 * connected, TIME_WAIT), who made the bind bucket of its port. connect() (__inet_hash_connect)
 * skips every port whose bucket bind() or listen() made (tb->fastreuse >= 0 ||
 * tb->fastreuseport >= 0), for every destination; sock_diag cannot tell such a port from one
 * connect() chose, this can. Each full socket's IP_LOCAL_PORT_RANGE comes with it (sock_diag
 * has no attribute for it).
 *
 * Sockets only bound (no connect, no listen) are in no table the iterator walks. sock_diag lists
 * those itself from 6.8 (TCP_BOUND_INACTIVE, commit 91051f003948). Before, with walk_bind_hash
 * set, the program walks the bind hash when the iterator calls it with no socket (once, at the
 * end: bpf_iter_tcp_seq_stop) and writes bound-only sockets to a ring buffer, then a WALKED
 * record: the stop call's output to the seq file would have to fit in what is left of its
 * 32 KiB buffer (about 680 records), a ring buffer holds many more. Which ones, user space says
 * before each read (walk_scope): none, the reader's namespace's, or every namespace's (the bind
 * hash is one for all of them: one walk serves a whole snapshot).
 *
 * Helpers, all in tracing programs since 5.17 at the latest: bpf_skc_to_tcp_sock /
 * bpf_skc_to_tcp_timewait_sock (5.9), bpf_get_socket_cookie on a BTF socket pointer (5.12,
 * commit c5dbb89fc2ac), bpf_seq_write (5.9), bpf_ringbuf_output (5.8), bpf_loop (5.17).
 * portiter_tcp_nowalk needs only the 5.9 ones: kernels from 5.9 without bpf_loop get the
 * buckets of the listed sockets, and no bound-only ones.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "core_fixes.bpf.h"
#include "ephtrace.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET6 10

/* The ABI this object was built with: user/node/portiter.c refuses another (include/ephtrace.h).
 * Read, never written, by user space before the load. */
const volatile __u32 eph_abi_version = EPH_ABI_VERSION;

/* Set by user space where sock_diag lists no bound-only TCP socket (before 6.8). */
const volatile bool walk_bind_hash = false;

/* Which bound-only sockets the next read's walk writes: EPH_PORTITER_WALK_* (include/ephtrace.h),
 * set by user space before it creates the iterator (one reader at a time). */
__u32 walk_scope = EPH_PORTITER_WALK_NETNS;

/* BOUND and WALKED records; user space sizes it (one page when there is no walk). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} bound_socks SEC(".maps");

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

/*
 * The bucket of a full socket (icsk_bind_hash) or of a TIME_WAIT one (tw_tb), and the state
 * sock_diag shows: a TIME_WAIT socket's substate (TIME_WAIT, or FIN_WAIT2 when it was closed
 * in FIN_WAIT2). A full socket's IP_LOCAL_PORT_RANGE too; a TIME_WAIT one keeps none.
 *
 * Where buckets go back to connect()'s once only sockets connect() bound own them
 * (connect_bound() >= 0: 6.18), such a socket says CONNECT even while a bind() socket on
 * another address shares its port and makes the bucket bind()'s: the bucket is bind()'s exactly
 * while a socket that connect() did not bind owns it, and that socket's record says BIND, so
 * user space, which sees it leave, knows the bucket without another read. Before, the bucket
 * stays bind()'s until its last owner leaves, and every record says what it is now.
 */
static __always_inline void fill_bucket(struct sock_common *skc, struct eph_portiter_rec *rec)
{
	struct tcp_timewait_sock *tw;
	struct tcp_sock *tp;

	tp = bpf_skc_to_tcp_sock(skc);
	if (tp) {
		rec->bucket = bucket_kind(tp->inet_conn.icsk_bind_hash);
		if (rec->bucket == EPH_PORTITER_BIND && connect_bound((struct sock *)tp, NULL) == 1)
			rec->bucket = EPH_PORTITER_CONNECT;
		inet_sk_port_range(&tp->inet_conn.icsk_inet, &rec->range_lo, &rec->range_hi);
		return;
	}
	tw = bpf_skc_to_tcp_timewait_sock(skc);
	if (tw) {
		rec->bucket = bucket_kind(tw->tw_sk.tw_tb);
		if (rec->bucket == EPH_PORTITER_BIND && connect_bound(NULL, &tw->tw_sk) == 1)
			rec->bucket = EPH_PORTITER_CONNECT;
		rec->state = tw->tw_sk.tw_substate;
	}
}

/* ---- the bind hash (before 6.8) --------------------------------------------------------- */

/*
 * One bpf_loop() step per hash bucket, bind bucket and owner visited: a walk of 65536 empty
 * buckets is 65536 steps. BPF_MAX_LOOPS (8M) bounds it; a walk cut there writes no WALKED
 * record. The hash is read without its locks, as a snapshot: a bind bucket freed meanwhile
 * (kmem_cache_free, no RCU) may end its chain early, never fault (bpf_probe_read_kernel).
 *
 * The walk's state is a map value, not the caller's stack: verifiers before commit
 * ab5cfac139ab ("bpf: verify callbacks as if they are called unknown number of times", 6.7)
 * check a bpf_loop() callback once, with the stack as it is before the first call, and drop
 * as dead the branches only later steps take (here: every bind bucket and owner). They track
 * no value stored in a map. Per CPU: iterator programs run with migration disabled, and one
 * ephtrace reads one iterator at a time.
 */
#define WALK_MAX_STEPS (1 << 23)

struct bind_walk {
	const void *bhash;		   /* struct inet_bind_hashbucket[size] */
	const struct net *net;		   /* the reader's network namespace; NULL: every one */
	const struct inet_bind_bucket *tb; /* the bind bucket whose owners are walked */
	const struct hlist_node *tb_node;  /* the next bind bucket of the chain (its node) */
	const struct hlist_node *owner;	   /* the next owner of tb (its skc_bind_node) */
	__u32 bucket, size;		   /* the next hash bucket, and how many there are */
	__u32 written, lost;		   /* BOUND records written, and refused (ring full) */
	__u32 done;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bind_walk);
} walks SEC(".maps");

static __always_inline struct bind_walk *walk_state(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&walks, &zero);
}

static __always_inline __u8 bucket_kind_read(const struct inet_bind_bucket *tb)
{
	__s8 fastreuse = BPF_CORE_READ(tb, fastreuse);
	__s8 fastreuseport = BPF_CORE_READ(tb, fastreuseport);

	return fastreuse >= 0 || fastreuseport >= 0 ? EPH_PORTITER_BIND : EPH_PORTITER_CONNECT;
}

/* The inode of a socket's struct socket (sock_i_ino: what sock_diag and /proc/PID/fd show). */
static __always_inline __u64 sk_inode(const struct sock *sk)
{
	const struct socket *so = BPF_CORE_READ(sk, sk_socket);
	const struct socket_alloc *sa;

	if (!so)
		return 0;
	sa = (const void *)so - bpf_core_field_offset(struct socket_alloc, socket);
	return BPF_CORE_READ(sa, vfs_inode.i_ino);
}

/* One owner of the bind bucket: a record when it is only bound. TIME_WAIT sockets and those
 * listening or connected (in the tables the iterator walked) are not. */
static __always_inline void visit_owner(struct bind_walk *w)
{
	const struct inet_bind_bucket *tb;
	const struct sock_common *skc;
	struct eph_portiter_rec rec = {};

	skc = (const void *)w->owner - bpf_core_field_offset(struct sock_common, skc_bind_node);
	w->owner = BPF_CORE_READ(skc, skc_bind_node.next);
	if (BPF_CORE_READ(skc, skc_state) != TCP_CLOSE)
		return;
	rec.sport = BPF_CORE_READ(skc, skc_num);
	if (!rec.sport)
		return;
	rec.kind = EPH_PORTITER_REC_BOUND;
	rec.state = TCP_CLOSE;
	rec.family = BPF_CORE_READ(skc, skc_family);
	rec.bucket = bucket_kind_read(w->tb);
	rec.cookie = BPF_CORE_READ(skc, skc_cookie.counter);
	rec.inode = sk_inode((const struct sock *)skc);
	tb = w->tb; /* (w's type is ours: no CO-RE relocation of its fields) */
	rec.netns = BPF_CORE_READ(tb, ib_net.net, ns.inum);
	if (rec.family == AF_INET6) {
		bpf_core_read(rec.addr, sizeof(rec.addr), &skc->skc_v6_rcv_saddr);
		rec.v6only = BPF_CORE_READ_BITFIELD_PROBED(skc, skc_ipv6only);
	} else {
		bpf_core_read(rec.addr, 4, &skc->skc_rcv_saddr);
	}
	if (bpf_ringbuf_output(&bound_socks, &rec, sizeof(rec), 0))
		w->lost++;
	else
		w->written++;
}

/* The next bind bucket of the chain: its owners are walked when it is of the namespace walked
 * (any, when the walk is of every namespace). */
static __always_inline void next_tb(struct bind_walk *w)
{
	const struct inet_bind_bucket *tb;

	tb = (const void *)w->tb_node - bpf_core_field_offset(struct inet_bind_bucket, node);
	w->tb_node = BPF_CORE_READ(tb, node.next);
	if (w->net && BPF_CORE_READ(tb, ib_net.net) != w->net)
		return;
	w->tb = tb;
	w->owner = tb_owners(tb);
}

static long walk_step(__u32 i, void *ctx)
{
	struct bind_walk *w = walk_state();
	const struct inet_bind_hashbucket *head;

	if (!w)
		return 1;
	if (w->owner) {
		visit_owner(w);
		return 0;
	}
	if (w->tb_node) {
		next_tb(w);
		return 0;
	}
	if (w->bucket >= w->size) {
		w->done = 1;
		return 1;
	}
	head = w->bhash + (__u64)w->bucket * bpf_core_type_size(struct inet_bind_hashbucket);
	w->tb_node = BPF_CORE_READ(head, chain.first);
	w->bucket++;
	return 0;
}

/*
 * The bound-only sockets of the namespace the iterator reads (its seq file's: seq_file_net(),
 * the struct seq_net_private that begins the iterator's private state), or of every namespace
 * (walk_scope), from the bind hash its TCP uses (net->ipv4.tcp_death_row.hashinfo; every
 * namespace's hashinfo shares tcp_hashinfo's bhash, inet_pernet_hashinfo_alloc() in 6.1, and
 * the bind bucket's ib_net tells them apart), then a WALKED record if nothing was missed.
 * Kernels whose bind buckets have no owners list (commit b2cb9f9ef240, "tcp: Unlink sk from
 * bhash.", 6.8, with sock_diag listing them already) skip it.
 */
static __always_inline void walk_bound(struct seq_file *seq)
{
	struct eph_portiter_rec end = { .kind = EPH_PORTITER_REC_WALKED };
	const struct seq_net_private *priv;
	const struct inet_hashinfo *hinfo;
	const struct net *net;
	struct bind_walk *w;

	if (!walk_bind_hash || !tb_has_owners() || walk_scope == EPH_PORTITER_WALK_NONE)
		return;
	w = walk_state();
	if (!w)
		return;
	priv = BPF_CORE_READ(seq, private);
	net = BPF_CORE_READ(priv, net);
	hinfo = BPF_CORE_READ(net, ipv4.tcp_death_row.hashinfo);
	if (!net || !hinfo)
		return;
	__builtin_memset(w, 0, sizeof(*w));
	w->net = walk_scope == EPH_PORTITER_WALK_ALL ? NULL : net;
	w->bhash = BPF_CORE_READ(hinfo, bhash);
	w->size = BPF_CORE_READ(hinfo, bhash_size);
	bpf_loop(WALK_MAX_STEPS, walk_step, NULL, 0);
	if (!w->done || w->lost)
		return;
	end.count = w->written;
	bpf_ringbuf_output(&bound_socks, &end, sizeof(end), 0);
}

/* A socket's record, cookie aside; false for a request socket (its port is its listener's,
 * which is listed). */
static __always_inline bool sock_rec(struct sock_common *skc, struct eph_portiter_rec *rec)
{
	rec->state = skc->skc_state;
	if (rec->state == TCP_NEW_SYN_RECV)
		return false;
	rec->sport = skc->skc_num;
	rec->family = skc->skc_family;
	/* sock_diag says IPV6_V6ONLY of listening and closed sockets only: bind() to a specific
	 * IPv6 address sets it (__inet6_bind()), and a connected socket keeps it */
	if (rec->family == AF_INET6)
		rec->v6only = BPF_CORE_READ_BITFIELD(skc, skc_ipv6only);
	fill_bucket(skc, rec);
	return true;
}

SEC("iter/tcp")
int portiter_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct eph_portiter_rec rec = { .kind = EPH_PORTITER_REC_SOCK };

	if (!skc) {
		walk_bound(ctx->meta->seq);
		return 0;
	}
	if (!sock_rec(skc, &rec))
		return 0;
	rec.cookie = bpf_get_socket_cookie(skc);
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}

/*
 * The same without the walk and without bpf_get_socket_cookie(), for kernels before 5.17 (no
 * bpf_loop; before 5.12 the helper takes no BTF socket either): the cookie as sock_gen_cookie()
 * stored it (sk_cookie), which every socket sock_diag listed has, as user space reads sock_diag
 * first (0 for one it did not: matched by family, port and state then). Loaded instead of
 * portiter_tcp by user/node/portiter.c.
 */
SEC("iter/tcp")
int portiter_tcp_nowalk(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct eph_portiter_rec rec = { .kind = EPH_PORTITER_REC_SOCK };

	if (!skc || !sock_rec(skc, &rec))
		return 0;
	rec.cookie = BPF_CORE_READ(skc, skc_cookie.counter);
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}
