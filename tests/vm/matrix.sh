#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make test's VM matrix, and README's table from it.
#
# Usage: tests/vm/matrix.sh run
#            the x86_64 cells ($EPH_VM_CELLS, run.sh --cell) and the arm64 ones
#            ($EPH_VM_CELLS_ARM64, run.sh --arch arm64 --cell, cross-built beforehand by make),
#            $EPH_VM_JOBS (4) guests at a time between them (run.sh's EPH_VM_SLOTS: a guest
#            keeps a host core busy about half of its time, measured): the arm64 cells start
#            once every x86_64 one has, and take the slots the last x86_64 cells leave (one
#            after the other, the arm64 ones three at a time, the tail of each left cores idle).
#            Not more: with 8 guests on 2 cores (4 arm64 cells beside 4 x86 ones)
#            occupancy-live's snapshot came before ephtrace had read the last TIME_WAIT moves
#            (arm64 6.12, 2026-12-04). Each run's log is printed whole when both ended. Fails if
#            either failed. A cell's time limit: 1200 s on x86_64 too (run.sh's default is 900;
#            a full cell took up to 625 s four at a time alone): make test runs this beside the
#            host part (tests/parts.sh), which slows the guests while it lasts.
#        tests/vm/matrix.sh table
#            the Markdown table of the last runs' cells ($OUTPUT/vm/matrix.tsv and
#            $OUTPUT/arm64/vm/matrix.tsv), for README
#        tests/vm/matrix.sh kernels
#            per test cell of the last runs, what its kernel gave the backend ($OUTPUT/vm/
#            kernels.tsv, $OUTPUT/arm64/vm/kernels.tsv): the one used, each hook's style, the
#            records' buffer, what it goes without (make check-kernels)
#        tests/vm/matrix.sh readme [README]
#            replaces README's tables between its "vm-matrix" and "vm-kernels" markers
# Environment: OUTPUT (default .output), EPH_VM_CELLS, EPH_VM_CELLS_ARM64, EPH_VM_JOBS.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
OUTPUT=${OUTPUT:-.output}

run()
{
	local rc_x rc_a pid_x pid_a slots n started
	local jobs=${EPH_VM_JOBS:-4}

	slots=$(mktemp -d) || return 1
	mkdir -p "$OUTPUT/vm" "$OUTPUT/arm64/vm" || return 1
	# shellcheck disable=SC2086,SC2046 # lists of cells, words
	EPH_VM_SLOTS=$slots:$jobs EPH_VM_JOBS=$jobs OUTPUT=$OUTPUT tests/vm/run.sh \
		--timeout "${EPH_VM_TIMEOUT:-1200}" $(printf -- '--cell %s ' ${EPH_VM_CELLS:-}) \
		>"$OUTPUT/vm/run.log" 2>&1 &
	pid_x=$!
	echo "matrix: x86_64 cells started ($jobs guests at a time with the arm64 ones), their log in $OUTPUT/vm/run.log, printed when both runs ended"
	# the arm64 cells once every x86_64 one has started: they take the slots the last x86_64
	# cells leave
	# shellcheck disable=SC2086
	n=$(set -- ${EPH_VM_CELLS:-}; echo $#)
	for ((;;)); do
		started=$(grep -c '^ephtrace-vm: start ' "$OUTPUT/vm/run.log" 2>/dev/null)
		[ "${started:-0}" -ge "$n" ] && break
		kill -0 $pid_x 2>/dev/null || break
		sleep 2
	done
	# shellcheck disable=SC2086,SC2046
	EPH_VM_SLOTS=$slots:$jobs OUTPUT=$OUTPUT/arm64 tests/vm/run.sh --arch arm64 -j "$jobs" \
		$(printf -- '--cell %s ' ${EPH_VM_CELLS_ARM64:-}) >"$OUTPUT/arm64/vm/run.log" 2>&1 &
	pid_a=$!
	echo "matrix: arm64 cells started, their log in $OUTPUT/arm64/vm/run.log"
	wait $pid_x
	rc_x=$?
	wait $pid_a
	rc_a=$?
	rm -rf "$slots"
	cat "$OUTPUT/vm/run.log"
	echo "==== arm64 ===="
	cat "$OUTPUT/arm64/vm/run.log"
	echo "==== what each kernel gave its backend (make check-kernels) ===="
	kernels
	# the cells not as expected once more, last, so that a log's tail says which and why
	if [ $rc_x != 0 ] || [ $rc_a != 0 ]; then
		echo "==== not as expected ===="
		cat "$OUTPUT/vm/failures" "$OUTPUT/arm64/vm/failures" 2>/dev/null | grep . ||
			echo "no cell listed: tests/vm/run.sh stopped before its results (above)"
	fi
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
		if (set ~ /(^|\+)core($|\+)/) what = "core: " what
		if (set ~ /perfbuf/) what = "perf buffer forced: " what
		if (set ~ /nested/) what = "the twins doing the work: " what
		if (set ~ /standin/) what = "tracepoint stand-ins for 3 hook groups: " what
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

# One row per test cell of the last run: what the kernel gave the backend, from ephtrace -v's
# lines at the cell's start (kernels.tsv, tests/vm/run.sh): the backend it used, the style of
# each kernel-function hook (fentry/kprobe), the records' buffer, and what it goes without.
kernels()
{
	local f

	for f in "$OUTPUT/vm/kernels.tsv" "$OUTPUT/arm64/vm/kernels.tsv"; do
		[ -s "$f" ] && cat "$f"
	done | awk -F'\t' '
	# the text of s without its parenthesized parts (the reasons, which nest)
	function bare(s,    out, d, i, ch) {
		out = ""; d = 0
		for (i = 1; i <= length(s); i++) {
			ch = substr(s, i, 1)
			if (ch == "(") d++
			else if (ch == ")") d--
			else if (!d) out = out ch
		}
		return out
	}
	# "a fentry, b fentry, c kprobe" -> "fentry 9, kprobe 1 (c)"; left-out hooks named; a
	# the hooks of a tracepoint stand-in too
	function hooks(s,    n, parts, i, w, fn, st, cnt, names, out, k, order) {
		n = split(bare(s), parts, ", ")
		split("fentry kprobe tracepoint", order, " ")
		for (i = 1; i <= n; i++) {
			sub(/^ +/, "", parts[i]); sub(/ +$/, "", parts[i])
			fn = parts[i]; sub(/ .*/, "", fn)
			st = parts[i]; sub(/^[^ ]+ /, "", st)
			if (st != "fentry" && st != "kprobe" && st != "tracepoint") st = "left out"
			cnt[st]++
			names[st] = names[st] (names[st] == "" ? "" : ", ") fn
		}
		out = ""
		for (k = 1; k <= 3; k++)
			if (cnt[order[k]])
				out = out (out == "" ? "" : ", ") order[k] " " cnt[order[k]] \
				      (cnt[order[k]] < n - cnt["left out"] ? " (" names[order[k]] ")" : "")
		if (cnt["left out"])
			out = out ", not in this kernel: " names["left out"]
		return out
	}
	{
		row = ($1 == "arm64" ? "arm64 " : "") $2 " (" $3 ")"
		uses = ""; hk = "-"; buf = "-"; lacks = ""; load = "-"
		for (i = 6; i <= NF; i++) {
			l = $i
			if (l ~ /^using backend /) {
				uses = l; sub(/^using backend /, "", uses); sub(/ .*/, "", uses)
			} else if (l ~ /^hooks: /) {
				sub(/^hooks: /, "", l); hk = hooks(l)
			} else if (l ~ /^events: /) {
				sub(/^events: /, "", l); sub(/,.*/, "", l); buf = bare(l)
				sub(/ +$/, "", buf)
				if ($i ~ /forced/) buf = buf " (forced)"
			} else if (l ~ /^without /) {
				sub(/:.*/, "", l)
				lacks = lacks (lacks == "" ? "" : "; ") l
			} else if (l ~ /loaded in [0-9.]+ ms/) {
				# "loaded in 1180.5 ms (CO-RE, verifier: 43550 instructions walked, ..."
				ms = l; sub(/.*loaded in /, "", ms); sub(/ ms.*/, "", ms)
				ins = ""
				if (l ~ /[0-9]+ instructions walked/) {
					ins = l; sub(/ instructions walked.*/, "", ins); sub(/.* /, "", ins)
					ins = ins " instructions, "
				}
				load = sprintf("%s%.1f s", ins, ms / 1000)
			} else if (l ~ /does not report/) {
				lacks = lacks (lacks == "" ? "" : "; ") "kprobe misses not reported (6.7)"
			}
		}
		if (uses == "") uses = "did not start"
		set = ($5 == "full" || $5 == "") ? "" : " (" $5 ")"
		printf "| %s | %s%s | %s | %s | %s | %s | %s |\n", row, $4, set, uses, hk, buf, \
		       lacks == "" ? "nothing" : lacks, load
	}' | {
		echo "| kernel | asked (set) | used | hooks by style | records | goes without | events -v: verifier, load |"
		echo "| --- | --- | --- | --- | --- | --- | --- |"
		cat
	}
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
	kernels >"$tmp.kernels" || return 1
	awk -v t="$tmp.table" -v k="$tmp.kernels" '
		/^<!-- \/vm-matrix -->$/ { while ((getline l < t) > 0) print l; skip = 0 }
		/^<!-- \/vm-kernels -->$/ { while ((getline l < k) > 0) print l; skip = 0 }
		!skip { print }
		/^<!-- vm-matrix -->$/ || /^<!-- vm-kernels -->$/ { skip = 1 }' "$file" >"$tmp" &&
		cat "$tmp" >"$file"
	rm -f "$tmp" "$tmp.table" "$tmp.kernels"
}

case "${1:-}" in
run) run ;;
table) table ;;
kernels) kernels ;;
readme) shift; readme "$@" ;;
*) sed -n 's/^# \{0,1\}//; 3,22p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
esac
