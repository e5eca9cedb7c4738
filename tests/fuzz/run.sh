#!/bin/sh
# Run libFuzzer targets: tests/fuzz/run.sh SECONDS NAME... (make fuzz, make fuzz-smoke).
# For each NAME, built as $OUTPUT/fuzz/fuzz_NAME:
#   1. replay every file of tests/fuzz/regressions/NAME/ (inputs that once crashed it);
#   2. fuzz for SECONDS with the corpus $OUTPUT/fuzz/corpus-NAME, seeded from
#      tests/fuzz/seeds/NAME/ and kept between runs, and tests/fuzz/NAME.dict if there is one.
# The log of each run is $OUTPUT/fuzz/NAME.log; a crash leaves its input in
# $OUTPUT/fuzz/artifacts-NAME/ (copy it to tests/fuzz/regressions/NAME/ once fixed).
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/counts.sh
. tests/counts.sh
OUTPUT=${OUTPUT:-.output}
if [ $# -lt 2 ]; then
	echo "usage: tests/fuzz/run.sh SECONDS NAME..." >&2
	exit 2
fi
secs=$1
shift
failed=""
passed=0

for name in "$@"; do
	bin=$OUTPUT/fuzz/fuzz_$name
	corpus=$OUTPUT/fuzz/corpus-$name
	artifacts=$OUTPUT/fuzz/artifacts-$name/
	log=$OUTPUT/fuzz/$name.log
	if [ ! -x "$bin" ]; then
		echo "fuzz $name: $bin not built (make fuzz-build)" >&2
		failed="$failed $name"
		continue
	fi
	mkdir -p "$corpus" "$artifacts"
	# 1. regressions, each run once
	regs=$(find "tests/fuzz/regressions/$name" -type f 2>/dev/null | sort)
	nregs=0
	if [ -n "$regs" ]; then
		nregs=$(echo "$regs" | wc -l)
		# shellcheck disable=SC2086 # file names of our own, without spaces
		if ! "$bin" -runs=1 $regs >"$log" 2>&1; then
			echo "fuzz $name: a regression input fails again:" >&2
			tail -n 30 "$log" >&2
			failed="$failed $name"
			continue
		fi
	fi
	# 2. fuzzing
	if [ -d "tests/fuzz/seeds/$name" ]; then
		cp -n "tests/fuzz/seeds/$name"/* "$corpus"/ 2>/dev/null
	fi
	dict=""
	[ -f "tests/fuzz/$name.dict" ] && dict="-dict=tests/fuzz/$name.dict"
	# shellcheck disable=SC2086 # $dict is one word or none
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
		-print_final_stats=1 -artifact_prefix="$artifacts" $dict "$corpus" >>"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1)
	size=$(find "$corpus" -type f | wc -l)
	if [ $rc != 0 ]; then
		echo "fuzz $name: FAILED after ${runs:-?} runs; input in $artifacts, log $log:" >&2
		grep -E '^(fuzz:|==[0-9]+==ERROR|SUMMARY|  bytes|.*runtime error)' "$log" | head -n 20 >&2
		failed="$failed $name"
		continue
	fi
	echo "fuzz $name: ok, ${secs}s, ${runs:-?} runs (${rate:-?}/s), $cov, corpus $size," \
		"$nregs regressions replayed"
	passed=$((passed + 1))
done
# (make test's count, tests/counts.sh: each target, its regressions and its fuzzing)
eph_count "fuzz targets" $passed $(($# - passed))

[ -z "$failed" ] || {
	echo "fuzz: failed:$failed" >&2
	exit 1
}
exit 0
