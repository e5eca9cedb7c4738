#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The serve soak (soak.py, with its load in soak.c): 100 private network namespaces, 2 000
# processes holding 20 000 loopback connections, 2 000 connect()s a second churning for 60 s
# over 10 destinations, ephtrace serve scraped every 0.5 s and /healthz polled every 0.5 s:
# /healthz only 200, the longest scrape under 1 s, no ring-buffer drop, series bounded, no
# counter going down. About 90 s. Exit 0 passed, 1 failed, 77 cannot run here.
#
# Usage: tests/host/soak.sh [path/to/ephtrace]   (as root; EPH_SOAK_* in soak.py)
PY=/usr/bin/python3
if [ ! -x "$PY" ]; then
	echo "SKIP: soak.sh: no $PY"
	exit 77
fi
exec "$PY" "$(dirname "$0")/soak.py" "$@"
