#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make test's parts (Makefile, TEST_PARTS), one after another, but for one in the background:
#
#   tests/parts.sh COUNTS_DIR PART... bg:PART PART...
#
# bg:PART starts there and runs beside the parts after it, its processes at the lowest CPU priority;
# meant for the VM matrix (make test: bg:test-vm, Makefile TEST_PARTS). Why: the VM part is
# CPU-bound (TCG, four VMs on two cores) and most of the host part waits (its scenarios sleep
# through their intervals, timeouts and forecasts): one after the other they took 47 minutes here
# (host 900 s, VM 1 792 s), over make test's 40. At nice 19 the VMs take the CPU the host part
# leaves and give it back as soon as it wants it, so the host part's timing checks see what they saw
# alone; but while a part keeps the CPU busy for long the guests get next to none, and a scenario
# there timed out waiting for ephtrace to start (60 s): such parts go before bg:PART
# (test-host-busy: floods, signals under load, memory bounds, the soak). One that keeps one core
# busy (unit tests, fuzzing) leaves the guests the other.
# Nothing else is shared: the guests have no network and write to their own files; every build and
# package the parts need is made before this runs (Makefile, test-build), so no two makes build the
# same file.
#
# Each part prints "make test: PART passed in N s" (the background one: from its start, its
# log printed whole when it ends, after the others); the first failure stops the background
# part (its whole process group: make, run.sh, qemu) and the run; tests/counts.sh adds up what
# ran, also when a part failed. Exit: the first failed part's status.
set -u

counts=$1
shift
start=$(date +%s)
make_=${MAKE:-make}
bg='' bgpid='' ran=()

start_bg()
{
	bg=$1
	# A session and process group of its own (setsid), so that a stop reaches qemu too; its
	# shell writes the group's id (its pid) first; -w: setsid waits when it forks. A new
	# session is a new autogroup where the kernel has them (CONFIG_SCHED_AUTOGROUP, on here):
	# the scheduler shares the CPU between autogroups first and nice counts only inside one,
	# so the autogroup gets nice 19 too (without it the unit tests took 134 s beside the VMs,
	# 40 alone).
	# shellcheck disable=SC2016 # expanded by the inner shell
	setsid -w bash -c 'echo $$ >"$1/$2.pgid"
		[ -w /proc/self/autogroup ] && echo 19 >/proc/self/autogroup
		t0=$(date +%s)
		EPH_TEST_COUNTS="$1/$2" nice -n 19 "$3" --no-print-directory "$2" >"$4" 2>&1
		rc=$?
		echo "$rc $(($(date +%s) - t0))" >"$1/$2.done"' parts-bg "$counts" "$bg" "$make_" \
		"$counts/$bg.log" &
	bgpid=$!
	echo "make test: $bg started in the background (nice 19), its log when it ends ($counts/$bg.log)"
}

stop_bg()
{
	local pgid

	[ -n "$bgpid" ] || return 0
	read -r pgid <"$counts/$bg.pgid" 2>/dev/null || pgid=
	if [ -n "$pgid" ]; then
		kill -TERM -- "-$pgid" 2>/dev/null
		sleep 2 # what outlived the TERM (a cell still cleaning up)
		kill -KILL -- "-$pgid" 2>/dev/null
	fi
	wait "$bgpid" 2>/dev/null
}
trap 'stop_bg; exit 130' INT TERM

for p in "$@"; do
	case $p in
	bg:*)
		start_bg "${p#bg:}"
		continue
		;;
	esac
	t0=$(date +%s) rc=0
	EPH_TEST_COUNTS=$counts/$p "$make_" --no-print-directory "$p" || rc=$?
	./tests/counts.sh part "$p" "$rc" "$counts/$p"
	ran+=("$counts/$p")
	if [ "$rc" != 0 ]; then
		echo "make test: $p FAILED after $(($(date +%s) - t0)) s"
		if [ -n "$bgpid" ]; then
			echo "make test: $bg stopped; its log so far: $counts/$bg.log"
			stop_bg
		fi
		./tests/counts.sh sum "${ran[@]}"
		exit "$rc"
	fi
	echo "make test: $p passed in $(($(date +%s) - t0)) s"
done

rc=0
if [ -n "$bgpid" ]; then
	echo "make test: waiting for $bg ($(($(date +%s) - start)) s since the start)"
	wait "$bgpid"
	trap - INT TERM
	cat "$counts/$bg.log"
	read -r rc bgsecs <"$counts/$bg.done" 2>/dev/null || rc=1 bgsecs='?'
	./tests/counts.sh part "$bg" "$rc" "$counts/$bg"
	ran+=("$counts/$bg")
	if [ "$rc" != 0 ]; then
		echo "make test: $bg FAILED after $bgsecs s (in the background)"
	else
		echo "make test: $bg passed in $bgsecs s (in the background)"
	fi
fi
[ "$rc" != 0 ] || echo "make test: all parts in $(($(date +%s) - start)) s"
./tests/counts.sh sum "${ran[@]}"
exit "$rc"
