#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make test's VM matrix, and README's table from it.
#
# Usage: tests/vm/matrix.sh run
#            the x86_64 cells ($EPH_VM_CELLS, run.sh --cell, $EPH_VM_JOBS (3) at a time), then
#            the arm64 cells ($EPH_VM_CELLS_ARM64, run.sh --arch arm64 --cell, cross-built
#            beforehand by make; $EPH_VM_JOBS_ARM64 (2) at a time). One after the other: run
#            beside each other (4 guests on 2 cores) the x86 fentry cells' occupancy-live took
#            its snapshot before ephtrace had read the last TIME_WAIT moves. Fails if either
#            failed.
#        tests/vm/matrix.sh table
#            the Markdown table of the last runs' cells ($OUTPUT/vm/matrix.tsv and
#            $OUTPUT/arm64/vm/matrix.tsv), for README
#        tests/vm/matrix.sh readme [README]
#            replaces README's table between its "vm-matrix" markers with it
# Environment: OUTPUT (default .output), EPH_VM_CELLS, EPH_VM_CELLS_ARM64, EPH_VM_JOBS,
# EPH_VM_JOBS_ARM64.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
OUTPUT=${OUTPUT:-.output}

run()
{
	local rc_x rc_a

	# shellcheck disable=SC2086,SC2046 # lists of cells, words
	EPH_VM_JOBS=${EPH_VM_JOBS:-3} OUTPUT=$OUTPUT tests/vm/run.sh \
		$(printf -- '--cell %s ' ${EPH_VM_CELLS:-})
	rc_x=$?
	echo "==== arm64 ===="
	# shellcheck disable=SC2086,SC2046
	OUTPUT=$OUTPUT/arm64 tests/vm/run.sh --arch arm64 -j "${EPH_VM_JOBS_ARM64:-2}" \
		$(printf -- '--cell %s ' ${EPH_VM_CELLS_ARM64:-})
	rc_a=$?
	[ $rc_x = 0 ] && [ $rc_a = 0 ]
}

# One row per kernel, one column per backend; a cell: PASS 44/46 (2 SKIP), or "core 17/18 ..."
table()
{
	local f

	for f in "$OUTPUT/vm/matrix.tsv" "$OUTPUT/arm64/vm/matrix.tsv"; do
		[ -s "$f" ] && cat "$f"
	done | awk -F'\t' '
	function add(row, col, text) {
		if (!(row in seen)) { seen[row] = 1; rows[++nr] = row }
		if (!((row, col) in cell)) cell[row, col] = text
		else cell[row, col] = cell[row, col] "; " text
	}
	{
		arch = $1; kernel = $2; release = $3; backend = $4; set = $5
		row = (arch == "arm64" ? "arm64 " : "") kernel " (" release ")"
		col = backend; sub(/ \(refused\)/, "", col)
		what = $6 " " $7 "/" $8 ($9 > 0 ? " (" $9 " SKIP)" : "")
		if ($4 ~ /refused/) what = $6 ": refused, as it must be"
		if (set == "core") what = "core: " what
		if (set == "perfbuf") what = "core, perf buffer forced: " what
		if (set == "nested") what = "core, the twins doing the work: " what
		add(row, col, what " " int($10 + 0.5) " s")
	}
	END {
		ncol = split("fentry kprobe tracepoint cgroup auto", cols, " ")
		printf "| kernel |"
		for (c = 1; c <= ncol; c++) printf " %s |", cols[c]
		printf "\n| --- |"
		for (c = 1; c <= ncol; c++) printf " --- |"
		printf "\n"
		for (r = 1; r <= nr; r++) {
			printf "| %s |", rows[r]
			for (c = 1; c <= ncol; c++)
				printf " %s |", ((rows[r], cols[c]) in cell) ? cell[rows[r], cols[c]] : ""
			printf "\n"
		}
	}'
}

readme()
{
	local file=${1:-README.md} tmp

	if ! grep -q '^<!-- vm-matrix -->$' "$file" || ! grep -q '^<!-- /vm-matrix -->$' "$file"; then
		echo "matrix.sh: no vm-matrix markers in $file" >&2
		return 1
	fi
	tmp=$(mktemp) || return 1
	table >"$tmp.table" || return 1
	[ -s "$tmp.table" ] || { echo "matrix.sh: no matrix.tsv from a run" >&2; return 1; }
	awk -v t="$tmp.table" '
		/^<!-- \/vm-matrix -->$/ { while ((getline l < t) > 0) print l; skip = 0 }
		!skip { print }
		/^<!-- vm-matrix -->$/ { skip = 1 }' "$file" >"$tmp" && cat "$tmp" >"$file"
	rm -f "$tmp" "$tmp.table"
}

case "${1:-}" in
run) run ;;
table) table ;;
readme) shift; readme "$@" ;;
*) sed -n 's/^# \{0,1\}//; 3,18p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
esac
