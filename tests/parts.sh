#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make test's parts (Makefile, TEST_PARTS): the VM matrix (test-vm) in the background from the
# start, its qemu processes at the lowest CPU priority, while the others run one after another.
#
#   tests/parts.sh COUNTS_DIR BACKGROUND_PART PART...
#
# Why: the VM part is CPU-bound (TCG, four VMs on two cores) and the host part mostly waits (its
# scenarios sleep through their intervals, timeouts and forecasts): one after the other they
# took 47 minutes here (host 900 s, VM 1412 + arm64 cells), over make test's 40. At nice 19 the
# VMs take the CPU the host part leaves and give it back as soon as it wants it, so the host
# part's timing checks see what they saw alone; the VM cells, whose checks already allow for
# sharing a core, run slower while it lasts. Nothing else is shared: the guests have no network
# and write to their own files; every build and package the VM part needs is made before it
# starts (the caller's job), so no two makes build the same file.
#
# Each part prints "make test: PART passed in N s" (the background part: from the start, its
# log printed whole when it ends, after the others), the first failure of a foreground part
# stops the background one (its whole process group: make, run.sh, qemu) and the run, and
# tests/counts.sh adds up what ran, also when a part failed. Exit: the first failed part's rc.
set -u

counts=$1 bg=$2
shift 2
start=$(date +%s)
bglog=$counts/$bg.log
make_=${MAKE:-make}

# the background part, a session and process group of its own (setsid) so that a stop reaches
# qemu too; its shell writes that group's id (its pid) first. -w: setsid waits when it forks.
# A new session is a new autogroup where the kernel has them (CONFIG_SCHED_AUTOGROUP, on here):
# the scheduler shares the CPU between autogroups first, and nice counts only inside one, so
# the autogroup gets nice 19 too (without it the unit tests took 134 s beside the VMs, 40 alone).
# shellcheck disable=SC2016 # expanded by the inner shell
setsid -w bash -c 'echo $$ >"$1/$2.pgid"
	[ -w /proc/self/autogroup ] && echo 19 >/proc/self/autogroup
	t0=$(date +%s)
	EPH_TEST_COUNTS="$1/$2" nice -n 19 "$3" --no-print-directory "$2" >"$4" 2>&1
	rc=$?
	echo "$rc $(($(date +%s) - t0))" >"$1/$2.done"' parts-bg "$counts" "$bg" "$make_" "$bglog" &
bgpid=$!
echo "make test: $bg started in the background (nice 19), its log when it ends ($bglog)"

stop_bg()
{
	local pgid

	read -r pgid <"$counts/$bg.pgid" 2>/dev/null || pgid=
	if [ -n "$pgid" ]; then
		kill -TERM -- "-$pgid" 2>/dev/null
		# what outlived the TERM (a cell still cleaning up)
		sleep 2
		kill -KILL -- "-$pgid" 2>/dev/null
	fi
	wait "$bgpid" 2>/dev/null
}
trap 'stop_bg; exit 130' INT TERM

rc=0 ran=()
for p in "$@"; do
	t0=$(date +%s)
	EPH_TEST_COUNTS=$counts/$p "$make_" --no-print-directory "$p" || rc=$?
	./tests/counts.sh part "$p" "$rc" "$counts/$p"
	ran+=("$counts/$p")
	if [ "$rc" != 0 ]; then
		echo "make test: $p FAILED after $(($(date +%s) - t0)) s"
		echo "make test: $bg stopped (it ran $(($(date +%s) - start)) s); its log so far: $bglog"
		stop_bg
		./tests/counts.sh sum "${ran[@]}"
		exit "$rc"
	fi
	echo "make test: $p passed in $(($(date +%s) - t0)) s"
done

echo "make test: waiting for $bg ($(($(date +%s) - start)) s since the start)"
wait "$bgpid"
trap - INT TERM
cat "$bglog"
read -r bgrc bgsecs <"$counts/$bg.done" 2>/dev/null || { bgrc=1 bgsecs=$(($(date +%s) - start)); }
./tests/counts.sh part "$bg" "$bgrc" "$counts/$bg"
ran+=("$counts/$bg")
if [ "$bgrc" != 0 ]; then
	echo "make test: $bg FAILED after $bgsecs s (in the background since the start)"
	rc=$bgrc
else
	echo "make test: $bg passed in $bgsecs s (in the background since the start)"
	echo "make test: all parts in $(($(date +%s) - start)) s"
fi
./tests/counts.sh sum "${ran[@]}"
exit "$rc"
