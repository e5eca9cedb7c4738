#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run ephtrace's kernel tests in qemu (TCG) on Debian's own kernels: 6.1 and 6.12 (generic,
# cloud, rt) and 5.10 (Debian 11's), amd64 (the default) or arm64 (--arch arm64: ephtrace and the
# driver cross-built, make ARCH=arm64).
#
# Each cell (kernel x backend) boots a guest whose /init runs
#     ephtest --ephtrace /bin/ephtrace --backend BACKEND [DRIVER-ARGS]
# and reports its output and exit status over a serial port. A cell passes when the driver's
# result line arrived, said rc=0, reported at least one scenario and no failed one, and the
# kernel log has no splat (BUG, WARNING, Oops, stall, lockup, ...).
#
# Usage: tests/vm/run.sh [--arch x86_64|arm64] [--kernel K]... [--backend B]... [--cell SPEC]...
#                        [-j JOBS] [--timeout SECONDS] [--smoke] [-- DRIVER-ARGS...]
#   --arch arm64         Debian's arm64 kernels on qemu-system-aarch64 -M virt; cells log to
#                        $OUTPUT/vm/arm64-<kernel>-<backend>/; default backends all but cgroup.
#                        A backend the kernel cannot have (fentry on arm64 6.1: no ftrace
#                        direct calls before 6.4) is a "refuse" cell: it passes when ephtrace
#                        refuses it, exits non-zero and says why
#   --kernel, --backend  may repeat or take a comma list; default: 6.1 and 6.12 x every backend
#                        (kernels: 5.10, 6.1, 6.12, 6.1-cloud, 6.1-rt, 6.12-cloud, 6.12-rt;
#                        backends: fentry, kprobe, tracepoint, cgroup, auto)
#   --cell SPEC          instead of --kernel x --backend, the cells named: KERNEL:BACKEND[:SET]
#                        (repeat or comma list), SET full (every scenario, the default), core
#                        (ephtest --core), perfbuf (every scenario with the perf buffer forced),
#                        nested (every scenario, the *_nested twins doing the work: ephtest
#                        --nested) or standin (every scenario, three hook groups unattachable
#                        in both fentry and kprobe, their tracepoint stand-ins doing the work:
#                        ephtest --stand-in $STANDIN_HOOKS; with auto), or several joined by +
#                        (standin+core); logs in <kernel>-<backend>[-<set>]/; the result is a
#                        list, not a grid
#   -j JOBS              cells run at the same time (default: CPUs + 1; each VM is one TCG
#                        vCPU and idles part of the time: on 2 cores, 6 cells took 205 s with
#                        -j1, 113 s with -j2, 84 s with -j3, 76 s with -j6)
#   --timeout SECONDS    per cell, boot included (default 900, arm64 1200: a full x86_64 cell
#                        took up to 590 s with three others running on a busy host)
#   --smoke              check the harness itself instead of running the driver: per kernel, a
#                        guest that runs the given binaries' --help and looks at kallsyms, BTF,
#                        tracefs (must pass), one that never prints its result line and one
#                        that logs a fake "WARNING:" splat (both must be reported as failures)
# Environment:
#   OUTPUT             build folder (default .output, arm64: .output/arm64); logs go to
#                      $OUTPUT/vm/<kernel>-<backend>/
#   EPH_VM_EPHTRACE    ephtrace binary (default ./ephtrace, arm64: $OUTPUT/ephtrace)
#   EPH_VM_EPHTEST     test driver (default $OUTPUT/tests/ephtest)
#   EPH_VM_EXTRA_BINS  more binaries to put in the guest's /bin (space separated), e.g. bpftool
#   EPH_VM_APPEND      more kernel command line, e.g. preempt=full
#   EPH_VM_AUTO_EXPECT the backend --backend auto must choose ("" = any; default kprobe on the
#                      -rt kernels, fentry on the others)
#   EPH_VM_SLOTS       DIR:N: each cell first takes one of N slots (flock on DIR/slot.I) that
#                      runs naming the same DIR share, so that two runs (make test's x86_64 and
#                      arm64 cells, tests/vm/matrix.sh) keep N guests at most between them
#   EPH_VM_TIMEOUT, EPH_VM_JOBS, and those of tests/vm/lib.sh (EPH_VM_CACHE, EPH_VM_MEM)
set -uo pipefail

# shellcheck source=tests/vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO" || exit 1
# shellcheck source=tests/counts.sh
. tests/counts.sh

ALL_KERNELS="6.1 6.12" # the default list; any of $VM_KERNELS (lib.sh) can be named
# The standin set's hooks: the TCP connects, the UDP ports and the TCP releases go to their
# tracepoint stand-ins; the TCP binds and the UDP releases stay with fentry (or kprobe)
STANDIN_HOOKS=inet_hash_connect,udp_lib_get_port,inet_put_port
ALL_BACKENDS="fentry kprobe tracepoint cgroup auto"
arch=x86_64
timeout_s=${EPH_VM_TIMEOUT:-}
jobs=${EPH_VM_JOBS:-$(($(nproc) + 1))}
kernels=
backends=
cellspecs=()
smoke=0

usage()
{
	sed -n 's/^# \{0,1\}//; 13,41p' "${BASH_SOURCE[0]}" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--arch) [ $# -ge 2 ] || usage; arch=$2; shift ;;
	--kernel) [ $# -ge 2 ] || usage; kernels="$kernels ${2//,/ }"; shift ;;
	--backend) [ $# -ge 2 ] || usage; backends="$backends ${2//,/ }"; shift ;;
	--cell) [ $# -ge 2 ] || usage; IFS=, read -ra more <<<"$2"; cellspecs+=("${more[@]}"); shift ;;
	-j) [ $# -ge 2 ] || usage; jobs=$2; shift ;;
	--timeout) [ $# -ge 2 ] || usage; timeout_s=$2; shift ;;
	--smoke) smoke=1 ;;
	-h | --help) usage ;;
	--) shift; break ;;
	*) vm_err "unknown argument '$1'"; usage ;;
	esac
	shift
done
driver_args=("$@")
case "$arch" in
x86_64 | x86) arch=x86_64 ;;
arm64 | aarch64)
	arch=arm64
	ALL_BACKENDS_DEFAULT="fentry kprobe tracepoint auto"
	EPH_VM_QEMU=$EPH_VM_QEMU_ARM64
	# a cell takes 6 to 8 minutes under TCG with another running (x86_64: 3 to 6)
	timeout_s=${timeout_s:-1200}
	;;
*) vm_err "unknown --arch '$arch' (have: x86_64 arm64)"; exit 2 ;;
esac
VM_ARCH=$arch
timeout_s=${timeout_s:-900}
cellprefix=
[ "$arch" = x86_64 ] || cellprefix=$arch-
if [ "$arch" = x86_64 ]; then
	OUTPUT=${OUTPUT:-.output}
else
	OUTPUT=${OUTPUT:-.output/$arch}
fi
# --cell KERNEL:BACKEND[:SET]: the kernels and backends it names (checked below)
for spec in "${cellspecs[@]}"; do
	IFS=: read -r k b set <<<"$spec"
	for s1 in ${set//+/ }; do
		case "$s1" in full | core | perfbuf | nested | standin) ;; *) vm_err "bad set in --cell '$spec'"; exit 2 ;; esac
	done
	case " $kernels " in *" $k "*) ;; *) kernels="$kernels $k" ;; esac
	case " $backends " in *" $b "*) ;; *) backends="$backends $b" ;; esac
done
[ ${#cellspecs[@]} -gt 0 ] && [ $smoke = 1 ] && { vm_err "--cell and --smoke do not go together"; exit 2; }
kernels=${kernels:-$ALL_KERNELS}
backends=${backends:-${ALL_BACKENDS_DEFAULT:-$ALL_BACKENDS}}
for k in $kernels; do
	vm_meta_pkg "$k" >/dev/null || { vm_err "unknown kernel '$k' (have: $VM_KERNELS)"; exit 2; }
done
for b in $backends; do
	case " $ALL_BACKENDS " in
	*" $b "*) ;;
	*) vm_err "unknown backend '$b' (have: $ALL_BACKENDS)"; exit 2 ;;
	esac
done
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { vm_err "bad -j '$jobs'"; exit 2; }
[[ "$timeout_s" =~ ^[1-9][0-9]*$ ]] || { vm_err "bad --timeout '$timeout_s'"; exit 2; }
command -v "$EPH_VM_QEMU" >/dev/null || { vm_err "$EPH_VM_QEMU not found (make deps)"; exit 1; }

# The guest's binaries.
if [ "$arch" = x86_64 ]; then
	ephtrace=${EPH_VM_EPHTRACE:-$REPO/ephtrace}
else
	ephtrace=${EPH_VM_EPHTRACE:-$OUTPUT/ephtrace}
fi
# the guest runs /bin/ephtrace, and the initramfs keeps each binary's own name
[ "$(basename "$ephtrace")" = ephtrace ] ||
	{ vm_err "EPH_VM_EPHTRACE must be a file named ephtrace (got $ephtrace)"; exit 2; }
ephtest=${EPH_VM_EPHTEST:-$OUTPUT/tests/ephtest}
bins=()
if [ $smoke = 1 ]; then
	for b in "$ephtrace" "$ephtest"; do
		[ -x "$b" ] && bins+=("$b")
	done
else
	for b in "$ephtrace" "$ephtest"; do
		[ -x "$b" ] || { vm_err "missing $b (build it first: make ephtrace, and the test driver; arm64: make ARCH=arm64)"; exit 1; }
	done
	bins=("$ephtrace" "$ephtest")
fi
# shellcheck disable=SC2206
bins+=(${EPH_VM_EXTRA_BINS:-})

vmdir=$OUTPUT/vm
mkdir -p "$vmdir" || exit 1
vm_lock "$vmdir" || exit 1
rm -f "$vmdir/failures"
declare -A image
for k in $kernels; do
	image[$k]=$(vm_kernel "$k") || exit 1
done
if [ "$arch" = arm64 ]; then
	EPH_VM_BUSYBOX=$(vm_busybox_arm64) || exit 1
	export EPH_VM_BUSYBOX
fi
# after the kernels: it takes their sock_diag modules from the cache
initrd=$(EPH_VM_ARCH=$arch "$VM_DIR/mkinitramfs.sh" "$vmdir" "${bins[@]}") ||
	{ vm_err "cannot build the initramfs"; exit 1; }

# For a backend that kernel K of $arch cannot have, print a word ephtrace's refusal must say.
refused()
{
	case "$arch $1 $2" in
	# arm64 has ftrace direct calls (BPF trampolines on kernel functions) from 6.4: attaching
	# fentry fails with ENOTSUPP (524) before
	"arm64 6.1 fentry") echo CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS ;;
	esac
}

# What --backend auto must choose on kernel K ("" = anything; EPH_VM_AUTO_EXPECT overrides):
# fentry where the kernel allows it (Debian's kernels do, but arm64 before 6.4) and does not
# preempt programs (the -rt ones do), else kprobe.
auto_expect()
{
	if [ -n "${EPH_VM_AUTO_EXPECT+set}" ]; then
		echo "$EPH_VM_AUTO_EXPECT"
	elif [ -n "$(refused "$1" fentry)" ]; then
		echo kprobe
	elif [[ "$1" = *-rt ]]; then
		# PREEMPT_RT preempts fentry programs (the kernel then skips runs): auto tries kprobe
		# first there (user/node/preempt.c)
		echo kprobe
	else
		echo fentry
	fi
}

# Cells: "KERNEL BACKEND MODE SET", MODE being the guest's eph.mode, SET the scenarios.
cells=()
cell_mode()
{
	if [ -n "$(refused "$1" "$2")" ]; then echo refuse; else echo test; fi
}
if [ ${#cellspecs[@]} -gt 0 ]; then
	for spec in "${cellspecs[@]}"; do
		IFS=: read -r k b set <<<"$spec"
		cells+=("$k $b $(cell_mode "$k" "$b") ${set:-full}")
	done
elif [ $smoke = 1 ]; then
	for k in $kernels; do
		for m in smoke smoke-noresult smoke-splat; do
			cells+=("$k auto $m")
		done
	done
else
	for k in $kernels; do
		for b in $backends; do
			cells+=("$k $b $(cell_mode "$k" "$b") full")
		done
	done
fi

# The driver's arguments of a cell of set SET, base64-encoded for the kernel command line.
cell_args64()
{
	local a=("${driver_args[@]}") s

	for s in ${1//+/ }; do
		case "$s" in
		core) a+=(--core) ;;
		perfbuf) a+=(--perfbuf) ;;
		nested) a+=(--nested) ;;
		standin) a+=(--stand-in "$STANDIN_HOOKS") ;;
		esac
	done
	[ ${#a[@]} -gt 0 ] && printf '%s\n' "${a[@]}" | base64 -w0
}

cell_dir()
{
	local set=

	[ -n "${4:-}" ] && [ "$4" != full ] && set=-$4
	if [ "$3" = test ] || [ "$3" = refuse ]; then
		echo "$vmdir/$cellprefix$1-$2$set"
	else
		echo "$vmdir/$cellprefix$1-$3"
	fi
}

# Boot one cell and write its verdict to DIR/status:
# "PASS|FAIL PASSED TOTAL SKIPPED WALL BOOT REASON...".
run_cell()
{
	local k=$1 b=$2 mode=$3 set=${4:-full} dir token start qrc rc wall boot passed total skipped
	local failed expect args64 verdict=PASS reason=ok splats

	dir=$(cell_dir "$k" "$b" "$mode" "$set")
	args64=$(cell_args64 "$set")
	mkdir -p "$dir"
	rm -f "$dir/status" "$dir/splats.txt"
	token=$(vm_token)
	start=$(date +%s.%N)
	expect=
	[ "$b" = auto ] && expect=$(auto_expect "$k")
	[ "$mode" = refuse ] && expect=$(refused "$k" "$b")
	# shellcheck disable=SC2086 # EPH_VM_APPEND: several words
	vm_boot "${image[$k]}" "$initrd" "$dir" "$timeout_s" eph.mode="$mode" eph.backend="$b" \
		${expect:+eph.expect=$expect} \
		eph.token="$token" eph.timeout=$((timeout_s > 60 ? timeout_s - 30 : timeout_s)) \
		${args64:+eph.args=$args64} ${EPH_VM_APPEND:-}
	qrc=$?
	wall=$(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)")
	boot=$(vm_boot_seconds "$dir")
	passed=$(grep -cE '^RESULT [^ ]+ PASS( |$)' "$dir/output.log" 2>/dev/null)
	failed=$(grep -cE '^RESULT [^ ]+ FAIL( |$)' "$dir/output.log" 2>/dev/null)
	skipped=$(grep -cE '^RESULT [^ ]+ SKIP( |$)' "$dir/output.log" 2>/dev/null)
	total=$((passed + failed + skipped))
	splats=$(vm_splats "$dir")
	if ! rc=$(vm_result_rc "$dir/output.log" "$token"); then
		verdict=FAIL
		if [ $qrc = 124 ] || [ $qrc = 137 ]; then
			reason="no result line: timed out after ${timeout_s}s"
		else
			reason="no result line (qemu exit status $qrc)"
		fi
	elif [ "$rc" != 0 ]; then
		verdict=FAIL reason="driver exit status $rc"
	elif [ "$failed" -gt 0 ]; then
		verdict=FAIL reason="$failed scenarios failed:$(grep -E '^RESULT [^ ]+ FAIL( |$)' \
			"$dir/output.log" | cut -d' ' -f2 | tr '\n' ' ' | sed 's/^/ /; s/ $//')"
	elif [ "$total" = 0 ]; then
		verdict=FAIL reason="driver reported no scenario"
	fi
	if [ -n "$splats" ]; then
		printf '%s\n' "$splats" >"$dir/splats.txt"
		if [ $verdict = PASS ]; then
			verdict=FAIL reason="kernel splat"
		else
			reason="$reason; kernel splat"
		fi
	fi
	echo "$verdict $passed $total $skipped $wall ${boot:--} $reason" >"$dir/status"
}

print_failure()
{
	local dir=$1 status=$2

	echo "==== $(basename "$dir"): ${status#* * * * * * }"
	if [ -s "$dir/splats.txt" ]; then
		echo "---- kernel splat ($dir/dmesg.log, $dir/console.log):"
		cat "$dir/splats.txt"
	fi
	echo "---- driver output ($dir/output.log):"
	tr -d '\r' <"$dir/output.log" 2>/dev/null
	if ! grep -q '^EPH-RESULT ' "$dir/output.log" 2>/dev/null && [ ! -s "$dir/splats.txt" ]; then
		echo "---- end of the console ($dir/console.log):"
		tr -d '\r' <"$dir/console.log" 2>/dev/null | tail -n 30
		[ -s "$dir/qemu.log" ] && { echo "---- qemu:"; cat "$dir/qemu.log"; }
	fi
	echo "===="
}

# run_cell, in one of the slots of EPH_VM_SLOTS (DIR:N) when set: the first free one, looked for
# every second; held (its descriptor open) while the cell runs.
slot_run()
{
	local dir n i fd

	if [ -z "${EPH_VM_SLOTS:-}" ]; then
		run_cell "$@"
		return
	fi
	dir=${EPH_VM_SLOTS%:*} n=${EPH_VM_SLOTS##*:}
	for ((;;)); do
		for ((i = 0; i < n; i++)); do
			exec {fd}>"$dir/slot.$i" || return 1
			if flock -n "$fd"; then
				run_cell "$@"
				exec {fd}>&-
				return
			fi
			exec {fd}>&-
		done
		sleep 1
	done
}

if [ -n "${EPH_VM_SLOTS:-}" ]; then
	[[ "$EPH_VM_SLOTS" =~ ^.+:[1-9][0-9]*$ ]] && [ -d "${EPH_VM_SLOTS%:*}" ] ||
		{ vm_err "EPH_VM_SLOTS must be DIR:N with DIR a directory (got '$EPH_VM_SLOTS')"; exit 2; }
fi
echo "ephtrace-vm: ${#cells[@]} cell(s), $jobs at a time${EPH_VM_SLOTS:+ (slots ${EPH_VM_SLOTS##*:}, shared in ${EPH_VM_SLOTS%:*})}, timeout ${timeout_s}s, initramfs $initrd"
t0=$(date +%s)
running=0
for c in "${cells[@]}"; do
	# shellcheck disable=SC2086
	set -- $c
	if [ $running -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
	echo "ephtrace-vm: start $(basename "$(cell_dir "$1" "$2" "$3" "$4")")"
	slot_run "$1" "$2" "$3" "$4" &
	running=$((running + 1))
done
wait
total_wall=$(($(date +%s) - t0))

# Results: failing cells in full, then the matrix.
failures=0
declare -A cellstat
for c in "${cells[@]}"; do
	# shellcheck disable=SC2086
	set -- $c
	dir=$(cell_dir "$1" "$2" "$3" "$4")
	st=$(cat "$dir/status" 2>/dev/null || echo "FAIL 0 0 0 - - harness error")
	cellstat[$c]=$st
	if [ "$3" = test ] || [ "$3" = refuse ] || [ "$3" = smoke ]; then
		expect=PASS
	else
		expect=FAIL
	fi
	if [ "${st%% *}" != "$expect" ]; then
		failures=$((failures + 1))
		print_failure "$dir" "$st"
	fi
done

echo
if [ $smoke = 1 ]; then
	printf '%-10s %-16s %-6s %-8s %-7s %-7s %s\n' kernel check got expected wall boot reason
	for c in "${cells[@]}"; do
		# shellcheck disable=SC2086
		set -- $c
		read -r v _ _ _ wall boot reason <<<"${cellstat[$c]}"
		exp=FAIL
		[ "$3" = smoke ] && exp=PASS
		printf '%-10s %-16s %-6s %-8s %-7s %-7s %s\n' "$cellprefix$1" "$3" "$v" "$exp" "${wall}s" \
			"${boot}s" "$reason"
	done
elif [ ${#cellspecs[@]} -gt 0 ]; then
	for c in "${cells[@]}"; do
		# shellcheck disable=SC2086
		set -- $c
		read -r v p t s wall boot _ <<<"${cellstat[$c]}"
		cell="$v $p/$t"
		[ "$3" = refuse ] && cell="$cell refused"
		[ "$s" != 0 ] && cell="$cell ${s}skip"
		printf '%-32s %s\n' "$(basename "$(cell_dir "$1" "$2" "$3" "$4")")" \
			"$cell ${wall}s (boot ${boot}s)"
	done
else
	kw=$((10 + ${#cellprefix}))
	printf '%-*s' $kw kernel
	for b in $backends; do
		printf ' | %-34s' "$b"
	done
	echo
	for k in $kernels; do
		printf '%-*s' $kw "$cellprefix$k"
		for b in $backends; do
			m='test'
			[ -n "${cellstat[$k $b refuse full]:-}" ] && m=refuse
			read -r v p t s wall boot _ <<<"${cellstat[$k $b $m full]}"
			cell="$v $p/$t"
			[ $m = refuse ] && cell="$cell refused"
			[ "$s" != 0 ] && cell="$cell ${s}skip"
			printf ' | %-34s' "$cell ${wall}s (boot ${boot}s)"
		done
		echo
	done
fi
# For README's matrix (tests/vm/matrix.sh): one line per test cell of this run, tab-separated:
# arch, kernel (and its package's version), backend, set, verdict, passed, total, skipped, wall.
if [ $smoke = 0 ]; then
	for c in "${cells[@]}"; do
		# shellcheck disable=SC2086
		set -- $c
		read -r v p t sk wall _ <<<"${cellstat[$c]}"
		img=$(basename "${image[$1]}")
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$arch" "$1" "${img#vmlinuz-}" \
			"$2$([ "$3" = refuse ] && echo ' (refused)')" "$4" "$v" "$p" "$t" "$sk" "$wall"
	done >"$vmdir/matrix.tsv"
	# and what each test cell's kernel gave its backend (tests/vm/matrix.sh kernels): arch,
	# kernel, release, backend, set, then ephtrace -v's EPH-INFO lines (tests/vm/init), one a
	# field
	for c in "${cells[@]}"; do
		# shellcheck disable=SC2086
		set -- $c
		[ "$3" = test ] || continue
		img=$(basename "${image[$1]}")
		printf '%s\t%s\t%s\t%s\t%s\t' "$arch" "$1" "${img#vmlinuz-}" "$2" "$4"
		tr -d '\r' <"$(cell_dir "$1" "$2" "$3" "$4")/output.log" 2>/dev/null |
			sed -n 's/^EPH-INFO //p' | tr '\t\n' ' \t'
		echo
	done >"$vmdir/kernels.tsv"
fi
# Again, in short, so that the last lines of a long log say what went wrong (also in
# $vmdir/failures, which tests/vm/matrix.sh prints last).
for c in "${cells[@]}"; do
	# shellcheck disable=SC2086
	set -- $c
	case "$3" in test | refuse) ;; *) continue ;; esac
	[ "${cellstat[$c]%% *}" = FAIL ] || continue
	dir=$(cell_dir "$1" "$2" "$3" "$4")
	echo "ephtrace-vm: $(basename "$dir"): ${cellstat[$c]#* * * * * * }"
	tr -d '\r' <"$dir/output.log" 2>/dev/null | grep -E '^RESULT [^ ]+ FAIL( |$)' | cut -c1-400 |
		head -n 5 | sed 's/^/    /'
done | tee "$vmdir/failures"
echo "ephtrace-vm: ${#cells[@]} cell(s) in ${total_wall}s, $failures not as expected; logs in $vmdir/"
# make test's count (tests/counts.sh): the cells, each passed when as expected
if [ $smoke = 1 ]; then
	eph_count "VM harness checks" $((${#cells[@]} - failures)) "$failures"
else
	eph_count "VM cells" $((${#cells[@]} - failures)) "$failures"
fi
[ $failures = 0 ]
