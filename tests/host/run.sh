#!/bin/bash
# Host integration tests, on this machine's own kernel, as root:
#   1. ephtest: every scenario with --backend tracepoint and --backend cgroup (the backends this
#      host's kernel allows), comparing ephtrace's JSON with what the kernel returned to the
#      workload; cgroup then with --exact-errors: the scenarios it skipped or was partly blind
#      in without it (--then-exact), and the core ones (--core: each attach path; the mode
#      changes only where bind(), listen() and UDP are reported from);
#   2. ephtest with --backend auto: it must choose cgroup here (EPH_HOST_AUTO_EXPECT);
#   3. status.sh: ephtrace status against ss in a private namespace;
#   4. metrics.sh: ephtrace serve checked by promtool, a strict OpenMetrics parser and a real
#      Prometheus; httpabuse.py: its HTTP endpoint under slowloris, huge headers, floods and
#      garbage while a normal scraper must get every answer; deploy.sh: the alert rules
#      (promtool) and the systemd unit;
#   5. reliability.sh: signals (tracepoint and cgroup backends), bounded memory and faults
#      (netns gone, two instances, BTF, privileges), each with nothing left in the kernel;
#   6. docker.sh: containers of a Docker daemon of its own (Debian's docker.io) named in events,
#      status, top and /metrics, --container; pods.sh: Kubernetes pods (cgroups and the node's
#      files under --node-root) named in events and status, --pod;
#   7. soak.sh: ephtrace serve over 100 namespaces, 2 000 processes holding 20 000 connections
#      and 2 000 connect()s a second for 60 s, scraped and /healthz polled every 0.5 s.
# Run from anywhere after `make ephtrace .output/tests/ephtest` (`make test-host` does both).
# Extra arguments go to the first ephtest run (e.g. --scenario v4-connect -v).
# EPH_HOST_STEPS=busy: only the steps that keep the CPU busy for long (http-abuse's floods,
# reliability's signals and memory, soak); =rest: the others. For tests/parts.sh's background
# mode (busy ones before the VM part, the rest beside it: the guests, at nice 19, get next to no
# CPU while a busy step runs): make test (Makefile, TEST_PARTS).
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/counts.sh
. tests/counts.sh
OUTPUT=${OUTPUT:-.output}
EPHTEST="$OUTPUT/tests/ephtest"
AUTO_EXPECT=${EPH_HOST_AUTO_EXPECT:-cgroup}
if [ ! -x "$EPHTEST" ]; then
	echo "tests/host/run.sh: $EPHTEST not built (make $EPHTEST)" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "tests/host/run.sh: must run as root (BPF and network namespaces)" >&2
	exit 1
fi
case "${EPH_HOST_STEPS:-all}" in
all | busy | rest) ;;
*)
	echo "tests/host/run.sh: EPH_HOST_STEPS is all, busy or rest" >&2
	exit 2
	;;
esac

passed=0
failed=0
failed_names=""
logs=$(mktemp -d /tmp/ephtrace-host.XXXXXX) || exit 1
trap 'rm -rf "$logs"' EXIT
# Each step's output goes through as it comes and into a log; a failed step's failure lines
# are shown again at the end, so that the last lines of a long log say what went wrong.
busy_steps=" http-abuse reliability-signals reliability-signals-cgroup reliability-memory soak "
step() {
	name=$1
	shift
	case "${EPH_HOST_STEPS:-all}:$busy_steps" in
	all:*) ;;
	busy:*" $name "*) ;;
	rest:*" $name "*) return 0 ;;
	rest:*) ;;
	*) return 0 ;;
	esac
	echo "== host: $name"
	t0=$(date +%s)
	# (not a pipe: a process a step left behind would hold it open and hang the run)
	mkfifo "$logs/$name.fifo" || exit 1
	tee "$logs/$name.log" <"$logs/$name.fifo" &
	tee_pid=$!
	"$@" >"$logs/$name.fifo" 2>&1
	rc=$?
	for _ in $(seq 50); do # tee's last lines, before the next step's
		kill -0 "$tee_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "host: $name $([ $rc = 0 ] && echo passed || echo FAILED) in $(($(date +%s) - t0)) s"
	count_step "$name" $rc "$logs/$name.log"
	if [ $rc = 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failed_names="$failed_names $name"
	fi
}
# For make test's count (tests/counts.sh): an ephtest step's scenarios (its RESULT lines), any
# other step as one.
count_step() {
	case $1 in
	ephtest-*) eph_count_results "host scenarios" "$3" "$2" ;;
	*) eph_count "host steps" $(($2 == 0)) $(($2 != 0)) ;;
	esac
}
digest() {
	for name in $failed_names; do
		echo "host: $name failed:"
		grep -E '^RESULT [^ ]+ FAIL|^ *(FAIL|not ok)\b|^  expected ' "$logs/$name.log" |
			cut -c1-400 | head -n 6 | sed 's/^ */    /'
	done
}

step ephtest-tracepoint "$EPHTEST" --backend tracepoint --ephtrace ./ephtrace "$@"
step ephtest-cgroup "$EPHTEST" --backend cgroup --then-exact --ephtrace ./ephtrace "$@"
step ephtest-cgroup-exact "$EPHTEST" --backend cgroup --exact-errors --core --ephtrace ./ephtrace \
	"$@"
step ephtest-auto "$EPHTEST" --backend auto --expect-backend "$AUTO_EXPECT" \
	--ephtrace ./ephtrace --scenario v4-connect --scenario bind-connect
step status ./tests/host/status.sh ./ephtrace
step metrics ./tests/host/metrics.sh ./ephtrace
step http-abuse ./tests/host/httpabuse.py ./ephtrace
step deploy ./tests/host/deploy.sh
step reliability-signals ./tests/host/reliability.sh signals ./ephtrace
step reliability-signals-cgroup env EPH_RELIABILITY_BACKEND=cgroup \
	./tests/host/reliability.sh signals ./ephtrace
step reliability-memory ./tests/host/reliability.sh memory ./ephtrace
step reliability-faults ./tests/host/reliability.sh faults ./ephtrace
step docker ./tests/host/docker.sh ./ephtrace
step pods ./tests/host/pods.sh ./ephtrace
step soak ./tests/host/soak.sh ./ephtrace

[ $failed = 0 ] || digest
echo "host: $passed passed, $failed failed"
[ $failed = 0 ]
