#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Reliability of ephtrace on this host's kernel (tracepoint backend), as root, one topic a run:
#   signals  SIGINT/SIGTERM at start-up, mid-burst and idle (exit 0, summary, no torn line,
#            nothing left in the kernel, tracefs as before); SIGKILL: the kernel drops it all
#   memory   10 000 processes and 120 000 ports: map entries, calls drained, RSS bounds, exited
#            processes forgotten, overflow counted (--max-holds, --max-ports); 10 000 cgroups
#            of docker's shape, a process taking a port in each: RSS bounded (the container
#            resolver caches 4096 paths), every container named right
#   faults   a netns deleted while traced, two instances at once, --btf missing/garbage/copy,
#            not privileged (no or some capabilities)
# The checks are in reliability.py (Debian's python), the workload in churn.c (built with gcc).
# Exit 0 passed, 1 failed (expected vs got printed), 77 cannot run here.
#
# Usage: tests/host/reliability.sh signals|memory|faults [path/to/ephtrace [CASE...]]
PY=/usr/bin/python3
if [ ! -x "$PY" ]; then
	echo "SKIP: reliability.sh: no $PY"
	exit 77
fi
exec "$PY" "$(dirname "$0")/reliability.py" "$@"
