#!/bin/sh
# Host integration test: ephtest drives workloads in private network namespaces and compares
# ephtrace's JSON (tracepoint backend: the only one this host's kernel allows) with what the
# kernel returned. Run from the top of the tree as root, after `make ephtrace .output/tests/ephtest`
# (`make test-host` does both). Extra arguments go to ephtest (e.g. --scenario v4-connect -v).
set -u
cd "$(dirname "$0")/../.." || exit 1
OUTPUT=${OUTPUT:-.output}
EPHTEST="$OUTPUT/tests/ephtest"
if [ ! -x "$EPHTEST" ]; then
	echo "tests/host/run.sh: $EPHTEST not built (make $EPHTEST)" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "tests/host/run.sh: must run as root (BPF and network namespaces)" >&2
	exit 1
fi
"$EPHTEST" --backend tracepoint --ephtrace ./ephtrace "$@"
exit $?
