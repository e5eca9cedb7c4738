#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# What `make test` ran, counted: each part writes "KIND<tab>PASSED<tab>FAILED<tab>SKIPPED" lines
# to the file $EPH_TEST_COUNTS (set by `make test` only: a part run alone counts nothing), and
# the last line of `make test` adds them up by kind:
#   make test: N passed, M failed[, K skipped] (U unit tests, B bpf checks, ...)
#
# Sourced by the parts' scripts (POSIX sh, for tests/fuzz/run.sh too), for:
#   eph_count KIND PASSED FAILED [SKIPPED]   one line to $EPH_TEST_COUNTS, if it is set
#   eph_count_cmocka KIND LOG RC             a cmocka program's output: its summaries
#   eph_count_results KIND LOG RC            "RESULT <name> PASS|FAIL|SKIP" lines (tests/bpf/,
#                                            ephtest): one per check or scenario
# (a program that exited with RC other than 0 or 77 and whose output counts no failure, say one
# that crashed before its summary, counts one failure more)
# Run as a command:
#   tests/counts.sh run KIND cmocka|results PROGRAM [ARGS...]
#       runs the program, its output (stderr into stdout) also to a temporary log, which is then
#       counted; exits with the program's status. Without $EPH_TEST_COUNTS, just runs it.
#   tests/counts.sh part PART RC FILE
#       after a part of `make test`: a part that failed with no failure counted (a build error)
#       counts as one failed part; one that passed and counted nothing, as one uncounted part
#   tests/counts.sh sum FILE...
#       the closing line, from the files that exist
#   tests/counts.sh selftest
#       the parsers and the sum over sample outputs

# eph_count KIND PASSED FAILED [SKIPPED]
eph_count()
{
	[ -n "${EPH_TEST_COUNTS:-}" ] || return 0
	printf '%s\t%d\t%d\t%d\n' "$1" "$2" "$3" "${4:-0}" >>"$EPH_TEST_COUNTS"
}

# A program's failures as counted, or 1 when it failed (rc other than 0 and 77) and none was
eph__failed_at_least_one()
{
	if [ "$1" = 0 ] && [ "$2" != 0 ] && [ "$2" != 77 ]; then
		echo 1
	else
		echo "$1"
	fi
}

# eph_count_cmocka KIND LOG RC: cmocka 1.1's summary of each group (stderr, after the
# "[==========] N test(s) run." of stdout): "[  PASSED  ] P test(s).", "[  SKIPPED ] S test(s),
# listed below:"; what ran and neither passed nor was skipped failed (assertions, errors of a
# setup). A group that never printed its summary (a crash): its "[       OK ]" lines passed.
eph_count_cmocka()
{
	set -- "$1" "$(awk '
		/^\[==========\] [0-9]+ test\(s\) run\./ { run += $2; groups++; ok_since = 0; next }
		/^\[  PASSED  \] [0-9]+ test\(s\)\./ { passed += $4; next }
		/^\[  SKIPPED \] [0-9]+ test\(s\), listed below:/ { skipped += $4; next }
		/^\[       OK \] / { ok_since++ }
		END {
			failed = run - passed - skipped
			if (failed < 0) failed = 0
			print passed + ok_since, failed + 0, skipped + 0
		}' "$2")" "$3"
	# shellcheck disable=SC2086 # three numbers
	set -- "$1" $2 "$3"
	eph_count "$1" "$2" "$(eph__failed_at_least_one "$3" "$5")" "$4"
}

# eph_count_results KIND LOG RC
eph_count_results()
{
	set -- "$1" "$(tr -d '\r' <"$2" | awk '
		$1 == "RESULT" && $3 == "PASS" { p++ }
		$1 == "RESULT" && $3 == "FAIL" { f++ }
		$1 == "RESULT" && $3 == "SKIP" { s++ }
		END { print p + 0, f + 0, s + 0 }')" "$3"
	# shellcheck disable=SC2086 # three numbers
	set -- "$1" $2 "$3"
	eph_count "$1" "$2" "$(eph__failed_at_least_one "$3" "$5")" "$4"
}

# The closing line from count files (missing ones are skipped): totals, then each kind's number
# of things run, in the order the kinds first came.
eph__sum()
{
	for f in "$@"; do
		[ -f "$f" ] && cat "$f"
	done | awk -F '\t' '
		NF == 4 {
			if (!($1 in n)) order[k++] = $1
			n[$1] += $2 + $3 + $4
			p += $2; f += $3; s += $4
		}
		END {
			line = sprintf("make test: %d passed, %d failed", p, f)
			if (s) line = line sprintf(", %d skipped", s)
			for (i = 0; i < k; i++)
				what = what (i ? ", " : "") n[order[i]] " " order[i]
			if (k) line = line " (" what ")"
			else line = line " (nothing counted)"
			print line
		}'
}

# part PART RC FILE
eph__part()
{
	[ -f "$3" ] || : >"$3"
	counted=$(awk -F '\t' 'NF == 4 { n += $2 + $3 + $4; f += $3 } END { print n + 0, f + 0 }' \
		"$3")
	case "$2:$counted" in
	0:"0 "*) EPH_TEST_COUNTS=$3 eph_count "uncounted parts ($1)" 1 0 ;;
	0:*) ;;
	*:*" 0") EPH_TEST_COUNTS=$3 eph_count "failed parts ($1)" 0 1 ;;
	esac
}

eph__run()
{
	kind=$1 format=$2
	shift 2
	[ -n "${EPH_TEST_COUNTS:-}" ] || exec "$@"
	log=$(mktemp) || exit 1
	rcf=$(mktemp) || exit 1
	{
		"$@" 2>&1
		echo $? >"$rcf"
	} | tee "$log"
	rc=$(cat "$rcf")
	case $format in
	cmocka) eph_count_cmocka "$kind" "$log" "$rc" ;;
	results) eph_count_results "$kind" "$log" "$rc" ;;
	*) echo "tests/counts.sh: unknown format '$format'" >&2 ;;
	esac
	rm -f "$log" "$rcf"
	return "$rc"
}

# The parsers and the sum over sample outputs (cmocka 1.1's, tests/bpf/'s, ephtest's, a crash).
eph__selftest()
{
	d=$(mktemp -d) || exit 1
	bad=0
	export EPH_TEST_COUNTS="$d/counts"
	# name, what eph_count wrote, what it should have
	check()
	{
		if [ "$2" = "$3" ]; then
			echo "counts selftest: $1: ok ($2)"
		else
			echo "counts selftest: $1: FAIL: got '$2' expected '$3'"
			bad=1
		fi
	}
	last() { tail -n 1 "$EPH_TEST_COUNTS" | tr '\t' ' '; }

	printf '%s\n' '[==========] Running 4 test(s).' '[ RUN      ] ok' '[       OK ] ok' \
		'[ RUN      ] bad' '[  ERROR   ] --- 0x1 != 0x2' '[  FAILED  ] bad' \
		'[ RUN      ] sk' '[  SKIPPED ] sk' '[ RUN      ] ok2' '[       OK ] ok2' \
		'[==========] 4 test(s) run.' '[  PASSED  ] 2 test(s).' \
		'[  SKIPPED ] 1 test(s), listed below:' '[  SKIPPED ] sk' '' ' 1 SKIPPED TEST(S)' \
		'[  FAILED  ] 1 test(s), listed below:' '[  FAILED  ] bad' '' ' 1 FAILED TEST(S)' \
		>"$d/cm1"
	eph_count_cmocka "unit tests" "$d/cm1" 1
	check "cmocka, a failure and a skip" "$(last)" "unit tests 2 1 1"
	printf '%s\n' '[==========] Running 9 test(s).' '[==========] 9 test(s) run.' \
		'[  PASSED  ] 9 test(s).' >"$d/cm2"
	eph_count_cmocka "unit tests" "$d/cm2" 0
	check "cmocka, all passed" "$(last)" "unit tests 9 0 0"
	printf '%s\n' '[==========] Running 5 test(s).' '[ RUN      ] a' '[       OK ] a' \
		'[ RUN      ] b' '==123==ERROR: AddressSanitizer: heap-use-after-free' >"$d/cm3"
	eph_count_cmocka "unit tests" "$d/cm3" 1
	check "cmocka, a crash before the summary" "$(last)" "unit tests 1 1 0"

	printf '%s\r\n' 'RESULT tracepoint-connect PASS (4 records, every field)' \
		'FAIL cgroup-bind: flags: expected 0x4c got 0x48' 'RESULT cgroup-bind FAIL' \
		'SKIP: fentry-udp: no BTF' 'RESULT fentry-udp SKIP' 'RESULT v4-range-set PASS' \
		'== v4-connect: 20 TCP connects' 'RESULTS are not a RESULT line' >"$d/res"
	eph_count_results "bpf checks" "$d/res" 1
	check "RESULT lines (CRLF too)" "$(last)" "bpf checks 2 1 1"
	printf '%s\n' 'ephtest: cannot run ./ephtrace' >"$d/res2"
	eph_count_results "host scenarios" "$d/res2" 1
	check "no RESULT line, exit 1" "$(last)" "host scenarios 0 1 0"
	eph_count_results "bpf checks" "$d/res2" 77
	check "no RESULT line, exit 77" "$(last)" "bpf checks 0 0 0"

	: >"$d/p1"
	eph__part test-unit 2 "$d/p1"
	check "a part failed uncounted" "$(tr '\t' ' ' <"$d/p1")" "failed parts (test-unit) 0 1 0"
	printf 'cli cases\t10\t1\t0\n' >"$d/p2"
	eph__part test-cli 1 "$d/p2"
	check "a part failed counted" "$(wc -l <"$d/p2" | tr -d ' ')" "1"
	: >"$d/p3"
	eph__part check-layout 0 "$d/p3"
	check "a part passed uncounted" "$(tr '\t' ' ' <"$d/p3")" "uncounted parts (check-layout) 1 0 0"

	printf 'unit tests\t9\t0\t0\nbpf checks\t40\t0\t2\n' >"$d/s1"
	printf 'unit tests\t5\t1\t0\nVM cells\t10\t0\t0\n' >"$d/s2"
	check "sum" "$(eph__sum "$d/s1" "$d/missing" "$d/s2")" \
		"make test: 64 passed, 1 failed, 2 skipped (15 unit tests, 42 bpf checks, 10 VM cells)"
	check "sum of nothing" "$(eph__sum "$d/missing")" \
		"make test: 0 passed, 0 failed (nothing counted)"
	rm -rf "$d"
	return $bad
}

case ${0##*/} in
counts.sh)
	case ${1:-} in
	run) shift; eph__run "$@" ;;
	part) shift; eph__part "$@" ;;
	sum) shift; eph__sum "$@" ;;
	selftest) eph__selftest ;;
	*)
		sed -n 's/^# \{0,1\}//; 3,25p' "$0" >&2
		exit 2
		;;
	esac
	;;
esac
