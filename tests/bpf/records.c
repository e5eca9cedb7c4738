// SPDX-License-Identifier: GPL-2.0
/*
 * ephtrace's ring-buffer records against the kernel (root), in the shape of the kernel
 * selftests' prog_tests/sock_destroy.c: the BPF side loaded through the loader (user/node/loader.c)
 * with one backend at a time, real sockets in a private network namespace per case, and each
 * record checked field by field against what the socket and the system call said.
 *
 * Cases, each on the tracepoint and the cgroup backend (argv: only the backends named), each in
 * a new network namespace with lo up and ip_local_port_range RANGE_LO-RANGE_HI:
 *   connect  a TCP connect() to a listener on 127.0.0.1 (bound to LPORT, outside the range);
 *   exhaust  connect() to that listener until the range is used up: the next one's
 *            EADDRNOTAVAIL, and the ten assignments before it;
 *   bind     bind(127.0.0.1:0) of a TCP socket;
 *   bind6    bind([::]:0) of two TCP sockets, one with IPV6_V6ONLY (each of its records has
 *            EPH_F_V6ONLY), one without (none has);
 *   udp      sendto() on an unbound UDP socket (autobind);
 *   udp-move UDP sockets bound to 0.0.0.0 that connect() to 127.0.0.1, which moves them there
 *            (the tracepoint backend's EPH_CONNECT records), one of them (its port given)
 *            back to 0.0.0.0 with connect(AF_UNSPEC).
 * Every socket is closed with SO_LINGER 0 and its release is expected. The records of the
 * case's namespace must be exactly those expected, matched by socket cookie (SO_COOKIE taken
 * at socket()) and type; of each: op, proto, family, backend, err, sport (getsockname()), dport
 * and daddr (getpeername(), or the sendto() address), saddr, req_port, flags (exact), pid, tid,
 * comm, pcomm, cgroup_id, netns, cookie, ts_ns inside the call, search_ns and held_ns inside
 * their windows, sock_id (a release's that of its assignment). Each case runs in a thread of
 * its own, named CASE_COMM: a record that swapped pid and tid, or comm (the thread's) and pcomm
 * (the process's), would show it.
 *
 * One "RESULT <backend>-<case> PASS|FAIL|SKIP" line per case, a "FAIL <backend>-<case>: ..."
 * line per wrong field before it. Exit 0: all passed; 1: something failed; 77: a case could
 * not run here (not root, no network namespace, no cgroup v2 root for the cgroup backend).
 *
 * The cases and what each expects are in records_cases.h, the comparisons and the sockets'
 * helpers in records.h.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/utsname.h>

#include "loader.h"
#include "mounts.h"
#include "records.h"
#include "records_cases.h"

#define WAIT_MS 3000 /* for the expected records */
#define EXTRA_MS 100 /* then for any unexpected one */
#define CASE_COMM "eph-case"

static struct {
	uint32_t pid;
	char comm[EPH_COMM_LEN]; /* the process's (main thread's): each record's pcomm */
	uint64_t cgroup_id;	 /* 0: unknown, not checked (said once) */
} proc;
static bool any_failed, any_skipped;
static uint64_t all_recs[EPH_CONNECT + 1]; /* the loader's records of every netns, by type */
static const char *via = ""; /* ", through the perf buffer" when the records came that way */

/* Every record of the case's namespace; the others (the whole host's) are dropped. */
static int on_record(void *ctx, const void *data, size_t size)
{
	struct collector *c = ctx;
	struct eph_rec r;
	uint32_t netns;

	if (size < offsetof(struct eph_event, netns) + sizeof(netns))
		return 0;
	memcpy(&netns, (const char *)data + offsetof(struct eph_event, netns), sizeof(netns));
	if (size >= sizeof(struct eph_event) &&
	    ((const struct eph_event *)data)->type <= EPH_CONNECT)
		all_recs[((const struct eph_event *)data)->type]++;
	if (!c->netns || netns != c->netns)
		return 0;
	if (eph_decode(data, size, 0, &r))
		c->undecodable++;
	else if (c->n == MAX_RECS)
		c->overflow++;
	else
		c->ev[c->n++] = r.ev;
	return 0;
}

/* The records come batched (the loader asks for a wakeup only when a quarter of the ring is
 * full): poll with short timeouts until as many as expected came, then a while longer. */
static void collect(struct eph_loader *l, struct collector *col, int nwant)
{
	uint64_t end = now_ns() + WAIT_MS * 1000000ull;

	while (col->n < nwant && now_ns() < end)
		eph_loader__poll(l, 20);
	end = now_ns() + EXTRA_MS * 1000000ull;
	while (now_ns() < end)
		eph_loader__poll(l, 20);
}

/* --- the check ----------------------------------------------------------------------------- */

static void check_fields(struct tcase *t, const struct want *w)
{
	const struct eph_event *e = w->rec;
	const struct want *a = w->assign >= 0 ? &t->want[w->assign] : NULL;

	eq(t, w, "op", w->op, e->op);
	eq(t, w, "proto", w->proto, e->proto);
	eq(t, w, "family", w->family ? w->family : AF_INET, e->family);
	eq(t, w, "backend", t->backend, e->backend);
	eq(t, w, "err", w->err, e->err);
	eq(t, w, "sport", w->sport, e->sport);
	eq(t, w, "dport", w->dport, e->dport);
	eq(t, w, "req_port", w->req_port, e->req_port);
	eq_flags(t, w, e->flags);
	eq_addr(t, w, "saddr", w->saddr, e->saddr);
	eq_addr(t, w, "daddr", w->daddr, e->daddr);
	eq(t, w, "pid", proc.pid, e->pid);
	eq(t, w, "tid", t->tid, e->tid);
	eq(t, w, "netns", t->netns, e->netns);
	if (proc.cgroup_id)
		eq(t, w, "cgroup_id", proc.cgroup_id, e->cgroup_id);
	eq_str(t, w, "comm", CASE_COMM, e->comm);
	eq_str(t, w, "pcomm", proc.comm, e->pcomm);
	eq(t, w, "cookie", w->cookie, e->cookie);
	eq(t, w, "__pad", 0, e->__pad[0] | e->__pad[1] | e->__pad[2]);
	in_range(t, w, "ts_ns", w->t0 - TS_SLACK_NS, w->t1 + TS_SLACK_NS, e->ts_ns);
	if (w->flags & EPH_F_SEARCH)
		in_range(t, w, "search_ns", 1, w->t1 - w->t0 + TS_SLACK_NS, e->search_ns);
	else
		eq(t, w, "search_ns", 0, e->search_ns);
	/* held from the assignment (its hold is taken just before its record) to now */
	if (a && a->rec)
		in_range(t, w, "held_ns", e->ts_ns - a->rec->ts_ns,
			 e->ts_ns - (a->t0 - TS_SLACK_NS), e->held_ns);
	else if (w->type != EPH_RELEASE)
		eq(t, w, "held_ns", 0, e->held_ns);
	if (a && a->rec)
		eq(t, w, "sock_id", a->rec->sock_id, e->sock_id);
	else if (!e->sock_id)
		eq(t, w, "sock_id (non-zero)", 1, 0);
}

/*
 * Each expected record is found by its socket's cookie and its type; one that has none is
 * looked for by type, op and port, so that a wrong cookie shows as a wrong field. Whatever
 * else came from the namespace is unexpected.
 */
static void check_case(struct tcase *t, struct collector *col)
{
	int i, j, pass;

	if (col->undecodable)
		tfail(t, "%d records of this namespace refused by eph_decode()", col->undecodable);
	if (col->overflow)
		tfail(t, "more than %d records from this namespace", MAX_RECS);
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < t->nwant; i++) {
			struct want *w = &t->want[i];

			for (j = 0; !w->rec && j < col->n; j++) {
				const struct eph_event *e = &col->ev[j];

				if (col->used[j] || e->type != w->type)
					continue;
				if (pass ? e->op == w->op && e->sport == w->sport :
					   e->cookie == w->cookie) {
					col->used[j] = true;
					w->rec = e;
				}
			}
		}
	}
	for (i = 0; i < t->nwant; i++) {
		char b[64];

		if (t->want[i].rec)
			check_fields(t, &t->want[i]);
		else
			tfail(t, "%s: no record (cookie %llu, port %u)",
			      want_str(&t->want[i], b, sizeof(b)),
			      (unsigned long long)t->want[i].cookie, t->want[i].sport);
	}
	for (j = 0; j < col->n; j++) {
		const struct eph_event *e = &col->ev[j];

		if (!col->used[j])
			tfail(t, "unexpected record: %s/%s proto %u sport %u err %d cookie %llu",
			      eph_type_name(e->type), e->op ? eph_op_name(e->op) : "none", e->proto,
			      e->sport, e->err, (unsigned long long)e->cookie);
	}
}

/* --- running ------------------------------------------------------------------------------- */

static void result(const char *name, bool failed, const char *skip, int nrecs)
{
	if (skip) {
		printf("SKIP: %s: %s\nRESULT %s SKIP\n", name, skip, name);
		any_skipped = true;
	} else if (failed) {
		printf("RESULT %s FAIL\n", name);
		any_failed = true;
	} else if (nrecs < 0) { /* a check of counters, not of records */
		printf("RESULT %s PASS\n", name);
	} else {
		printf("RESULT %s PASS (%d records, every field%s)\n", name, nrecs, via);
	}
	fflush(stdout);
}

struct case_run {
	struct tcase *t;
	size_t k;
	int err; /* netns_enter()'s */
};

/* The case's thread: a network namespace of its own (unshare() moves this thread only), whose
 * fd stays open in the process (see netns_enter()). */
static void *case_thread(void *arg)
{
	struct case_run *r = arg;
	int nsfd;

	prctl(PR_SET_NAME, CASE_COMM);
	r->t->tid = gettid();
	r->err = netns_enter(RANGE, &nsfd, &r->t->netns);
	if (!r->err)
		cases[r->k].run(r->t);
	return NULL;
}

/* The records stay in the ring buffer while the case runs: read once its thread is done. */
static void run_case(struct eph_loader *l, struct collector *col, int backend, size_t k)
{
	static struct tcase t;
	struct case_run r = { .t = &t, .k = k };
	char why[160];
	pthread_t th;
	int err;

	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "%s-%s", eph_backend_name(backend), cases[k].name);
	t.backend = backend;
	col->netns = 0;
	eph_loader__poll(l, 0); /* what came before is no case's */
	err = pthread_create(&th, NULL, case_thread, &r);
	if (!err)
		pthread_join(th, NULL);
	else
		r.err = -err;
	if (r.err) {
		snprintf(why, sizeof(why),
			 "no thread in a private network namespace with lo up "
			 "and ip_local_port_range set: %s",
			 strerror(-r.err));
		result(t.name, false, why, 0);
		return;
	}
	memset(col, 0, sizeof(*col));
	col->netns = t.netns;
	collect(l, col, t.nwant);
	col->netns = 0;
	check_case(&t, col);
	result(t.name, t.failed, NULL, col->n);
}

/* No run of a program lost, and with EPH_TEST_NESTED=1 the twins took the state changes and
 * socket destructions (bpf/tracepoint.bpf.h): their count is the loader's. */
static void check_twins(const struct eph_loader *l, int backend)
{
	uint64_t cnt[EPH_CNT_MAX];
	char name[48];
	bool nested = getenv("EPH_TEST_NESTED") != NULL, bad;

	snprintf(name, sizeof(name), "%s-%s", eph_backend_name(backend),
		 nested ? "nested-twins" : "no-run-missed");
	eph_loader__counters(l, cnt);
	bad = cnt[EPH_CNT_MISSED] || (nested && !cnt[EPH_CNT_NESTED_RUNS]);
	printf("%s%s: %llu runs missed, %llu taken by the twins\n", bad ? "FAIL " : "", name,
	       (unsigned long long)cnt[EPH_CNT_MISSED],
	       (unsigned long long)cnt[EPH_CNT_NESTED_RUNS]);
	result(name, bad, NULL, -1);
}

/*
 * What loading costs, as the verifier counts it (instructions walked, summed over the programs):
 * at most about 1.25 times the most this check saw when written (the perf buffer's build), on
 * this host's kernel. The VMs' TCG kernels pay ten to twenty times the host's time per
 * instruction, at every start of ephtrace: a pointer plus a variable counter index (count())
 * and a 16-probe loop inlined into the release handlers doubled fentry's count on 6.1 (42 209
 * to 76 024) and made make test's VM part 1.4 times slower. This host loads only tracepoint
 * and cgroup programs, which that grew less (5 %); the VM matrix's kernel table shows every
 * cell's count (tests/vm/matrix.sh). The tracepoint backend's six system call exits became one
 * program (tp_exit_sock) at six tracepoints: 100 086 to 40 646 for `top -v` here, 33 453 for
 * this check's most. Other kernels walk other counts: there it only says.
 */
static void check_verifier(struct eph_loader *l, int backend)
{
	static const struct {
		const char *kernel;
		int backend;
		uint64_t max;
	} ceiling[] = { { "6.18.", EPH_BACKEND_TRACEPOINT, 42000 },
			{ "6.18.", EPH_BACKEND_CGROUP, 23000 } };
	uint64_t n = eph_loader__verified_insns(l);
	struct utsname u;
	char name[48];
	size_t k;

	snprintf(name, sizeof(name), "%s-verifier", eph_backend_name(backend));
	uname(&u);
	for (k = 0; k < sizeof(ceiling) / sizeof(ceiling[0]); k++)
		if (ceiling[k].backend == backend &&
		    !strncmp(u.release, ceiling[k].kernel, strlen(ceiling[k].kernel)))
			break;
	if (!n || k == sizeof(ceiling) / sizeof(ceiling[0])) {
		printf("%s: %llu instructions walked on %s\n", name, (unsigned long long)n,
		       u.release);
		result(name, false,
		       n ? "no ceiling known for this kernel" :
			   "the kernel does not count them (5.16)",
		       -1);
		return;
	}
	printf("%s%s: %llu instructions walked on %s (at most %llu)\n",
	       n > ceiling[k].max ? "FAIL " : "", name, (unsigned long long)n, u.release,
	       (unsigned long long)ceiling[k].max);
	result(name, n > ceiling[k].max, NULL, -1);
}

/* The counters, read from memory (loader_read.c), against the records of the whole run: each
 * assignment, failure, release and TIME_WAIT move counted is a record that came or a drop of
 * its type. Read once the ring is drained and the counts stand still (the host's own sockets
 * go on meanwhile). */
static void check_counters(struct eph_loader *l, int backend)
{
	static const struct {
		int cnt, type;
		const char *what;
	} kinds[] = { { EPH_CNT_ASSIGN, EPH_ASSIGN, "assignments" },
		      { EPH_CNT_FAIL, EPH_FAIL, "failures" },
		      { EPH_CNT_RELEASE, EPH_RELEASE, "releases" },
		      { EPH_CNT_TIME_WAIT, EPH_TIME_WAIT, "TIME_WAIT moves" } };
	uint64_t cnt[EPH_CNT_MAX], again[EPH_CNT_MAX], seen;
	char name[48];
	bool bad = false;
	size_t k;
	int tries;

	snprintf(name, sizeof(name), "%s-counters", eph_backend_name(backend));
	for (tries = 0; tries < 50; tries++) {
		while (eph_loader__poll(l, 20) > 0)
			;
		eph_loader__counters(l, cnt);
		while (eph_loader__poll(l, 20) > 0)
			;
		eph_loader__counters(l, again);
		if (!memcmp(cnt, again, sizeof(cnt)))
			break;
	}
	if (tries == 50) {
		result(name, false, "the host's sockets never stood still for 40 ms", -1);
		return;
	}
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		seen = all_recs[kinds[k].type] + cnt[EPH_CNT_DROP_BASE + kinds[k].type - 1];
		if (cnt[kinds[k].cnt] == seen)
			continue;
		printf("FAIL %s: %llu %s counted, %llu came as records or counted drops\n", name,
		       (unsigned long long)cnt[kinds[k].cnt], kinds[k].what,
		       (unsigned long long)seen);
		bad = true;
	}
	if (!bad)
		printf("%s: %llu assignments, %llu failures, %llu releases, %llu TIME_WAIT moves: "
		       "as the records\n",
		       name, (unsigned long long)cnt[EPH_CNT_ASSIGN],
		       (unsigned long long)cnt[EPH_CNT_FAIL],
		       (unsigned long long)cnt[EPH_CNT_RELEASE],
		       (unsigned long long)cnt[EPH_CNT_TIME_WAIT]);
	result(name, bad, NULL, -1);
}

static void run_backend(int backend, bool have_cgroup2, const char *cg_why)
{
	static struct collector col;
	struct eph_loader_opts o = { .backend = backend,
				     .ringbuf_size = EPH_DEFAULT_RINGBUF,
				     .max_holds = EPH_DEFAULT_MAX_HOLDS,
				     .verbose = getenv("EPH_VERBOSE") != NULL };
	struct eph_loader *l;
	char name[48], why[200];
	size_t k;
	int err;

	if (backend == EPH_BACKEND_CGROUP && !have_cgroup2) {
		snprintf(why, sizeof(why), "no cgroup v2 root to attach to: %s", cg_why);
		for (k = 0; k < NCASES; k++) {
			snprintf(name, sizeof(name), "cgroup-%s", cases[k].name);
			result(name, false, why, 0);
		}
		return;
	}
	/* the loader says why on stderr; what the environment lacks was checked above, so
	 * this is the BPF side's failure (the verifier's, an attach's) */
	memset(all_recs, 0, sizeof(all_recs));
	err = eph_loader__open(&o, on_record, &col, &l);
	for (k = 0; err && k < NCASES; k++) {
		snprintf(name, sizeof(name), "%s-%s", eph_backend_name(backend), cases[k].name);
		printf("FAIL %s: the loader: %s\n", name, strerror(-err));
		result(name, true, NULL, 0);
	}
	if (err)
		return;
	via = eph_loader__perfbuf(l) ? ", through the perf buffer" : "";
	if (getenv("EPH_TEST_PERFBUF") && !eph_loader__perfbuf(l)) {
		for (k = 0; k < NCASES; k++) {
			snprintf(name, sizeof(name), "%s-%s", eph_backend_name(backend),
				 cases[k].name);
			printf("FAIL %s: EPH_TEST_PERFBUF is set, the records came through the ring "
			       "buffer\n",
			       name);
			result(name, true, NULL, 0);
		}
		eph_loader__free(l);
		return;
	}
	if (getenv("EPH_TEST_NESTED"))
		via = ", the *_nested twins doing their hooks' work";
	for (k = 0; k < NCASES; k++)
		run_case(l, &col, backend, k);
	check_twins(l, backend);
	check_counters(l, backend);
	check_verifier(l, backend);
	eph_loader__free(l);
}

/* The cgroup v2 id of this process's cgroup (what bpf_get_current_cgroup_id() gives): its
 * path in /proc/self/cgroup ("0::/path") under the cgroup v2 root the loader would use. */
static uint64_t own_cgroup_id(bool *have_root, char *why, size_t len)
{
	struct eph_mnt m = EPH_MNT_INIT;
	char line[512], path[512] = "";
	uint64_t root_id, id = 0;
	FILE *f = fopen("/proc/self/cgroup", "re");
	int root, fd;

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::/", 4))
			sscanf(line + 4, "%511[^\n]", path);
	if (f)
		fclose(f);
	root = eph_cgroup2_root(&m, &root_id);
	eph_mnt_undo(&m);
	*have_root = root >= 0;
	if (root < 0) {
		snprintf(why, len, "%s",
			 root == -EXDEV ? "in a cgroup namespace of its own" : strerror(-root));
		return 0;
	}
	fd = openat(root, path[0] ? path : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		id = eph_cgroup_fd_id(fd);
	if (!id)
		snprintf(why, len, "cannot read the id of cgroup /%s", path);
	close(fd);
	close(root);
	return id;
}

int main(int argc, char **argv)
{
	int backends[2] = { EPH_BACKEND_TRACEPOINT, EPH_BACKEND_CGROUP }, nb = 2, i;
	char cg_why[200] = "";
	bool have_cgroup2;

	if (argc > 1) {
		for (nb = 0; nb < argc - 1 && nb < 2; nb++) {
			backends[nb] = eph_backend_parse(argv[nb + 1]);
			if (backends[nb] != EPH_BACKEND_TRACEPOINT &&
			    backends[nb] != EPH_BACKEND_CGROUP) {
				fprintf(stderr, "usage: %s [tracepoint|cgroup]...\n", argv[0]);
				return 2;
			}
		}
	}
	if (!eph_privileged()) {
		printf("SKIP: not root (loading BPF needs CAP_SYS_ADMIN, or CAP_BPF and "
		       "CAP_PERFMON)\nRESULT records SKIP\n");
		return 77;
	}
	proc.pid = getpid();
	prctl(PR_GET_NAME, proc.comm);
	proc.cgroup_id = own_cgroup_id(&have_cgroup2, cg_why, sizeof(cg_why));
	if (!proc.cgroup_id)
		printf("note: cgroup_id not checked: %s\n", cg_why);
	for (i = 0; i < nb; i++)
		run_backend(backends[i], have_cgroup2, cg_why);
	return any_failed ? 1 : any_skipped ? 77 : 0;
}
