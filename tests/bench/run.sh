#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make bench: ephtrace's figures against the targets of issue 6, as one table.
#
# On the host: the aggregation core on a synthetic replay; of the tracepoint and cgroup
# backends side by side, start-up time, overhead against no tracer (and against ephtrace-hooks,
# libbpf-tools tcpconnect and bindsnoop where they attach) on a connect loop, on a bind loop and
# on a getppid() loop (what the backend costs processes that never touch a socket: the
# syscalls:* tracepoints put every system call of the machine on a slow path), and the BPF time
# per connection of each program (bpf_stats); of the tracepoint backend, the highest event rate
# taken without a drop and the RSS of ephtrace top while 100 000 ports are held; and the serve
# soak (tests/host/soak.py: scrape latency, resync time and drops of ephtrace serve over 100
# namespaces, 2 000 processes and 20 000 held connections under 2 000 connect()s a second;
# EPH_BENCH_SOAK=0 leaves it out). Then qemu guests (TCG, tests/vm/lib.sh; /init runs ephbench,
# eph.mode=bench): on Debian's 6.12 kernel start-up and overhead of the fentry and kprobe
# backends side by side with tcpconnect and bindsnoop; on 6.1 the overhead of fentry against
# both again, as bindsnoop does not load on 6.12, and a bind loop (what bindsnoop traces) with
# ephtrace against bindsnoop. Every comparison alternates its conditions within one run;
# medians with min..max.
#
# Usage: tests/bench/run.sh [--no-host] [--no-vm]
# Output: the table on stdout, also $OUTPUT/bench/results.txt and results.json; the raw BENCH
# lines in $OUTPUT/bench/raw.txt, each step's log in $OUTPUT/bench/*.log.
# Environment:
#   OUTPUT               build folder (default .output)
#   EPH_BENCH_DRIVER     ephbench (default $OUTPUT/bench/ephbench); EPH_BENCH_EPHTRACE (./ephtrace)
#   EPH_BENCH_TCPCONNECT, EPH_BENCH_BINDSNOOP   peers (default /usr/sbin/tcpconnect, bindsnoop)
#   EPH_BENCH_HOOKS      ephtrace-hooks, the host's reference (default $OUTPUT/bench/ephtrace-hooks)
#   EPH_BENCH_KERNELS    the guests' kernel series (default "6.12 6.1")
#   EPH_BENCH_WAIT       seconds to wait first for other qemu guests and ephtrace processes to
#                        end (default 900): a TCG guest takes a whole core, another tracer
#                        adds its cost to every condition
#   EPH_BENCH_ROUNDS, EPH_BENCH_VM_ROUNDS   overhead rounds on the host (11) and in the guest (5)
#   EPH_BENCH_SOAK       1 (default) runs the serve soak on the host, 0 does not
#   and those of tests/vm/lib.sh (EPH_VM_CACHE, EPH_VM_MEM, EPH_VM_QEMU)
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/vm/lib.sh
. "$here/../vm/lib.sh"
cd "$REPO" || exit 1

OUTPUT=${OUTPUT:-.output}
bench=${EPH_BENCH_DRIVER:-$OUTPUT/bench/ephbench}
ephtrace=${EPH_BENCH_EPHTRACE:-./ephtrace}
tcpconnect=${EPH_BENCH_TCPCONNECT:-/usr/sbin/tcpconnect}
hooks=${EPH_BENCH_HOOKS:-$OUTPUT/bench/ephtrace-hooks}
bindsnoop=${EPH_BENCH_BINDSNOOP:-/usr/sbin/bindsnoop}
kernels=${EPH_BENCH_KERNELS:-6.12 6.1}
wait_max=${EPH_BENCH_WAIT:-900}
rounds=${EPH_BENCH_ROUNDS:-11}
vm_rounds=${EPH_BENCH_VM_ROUNDS:-5}
soak=${EPH_BENCH_SOAK:-1}
outdir=$OUTPUT/bench
raw=$outdir/raw.txt
host=1 vm=1

while [ $# -gt 0 ]; do
	case "$1" in
	--no-host) host=0 ;;
	--no-vm) vm=0 ;;
	*) echo "Usage: tests/bench/run.sh [--no-host] [--no-vm]" >&2; exit 2 ;;
	esac
	shift
done

say()
{
	echo "ephbench: $*" >&2
}

for f in "$bench" "$ephtrace"; do
	[ -x "$f" ] || { say "missing $f (make bench builds it)"; exit 1; }
done
mkdir -p "$outdir" || exit 1
: >"$raw"
t0=$(date +%s)
# One binary for the whole run, even if ./ephtrace is rebuilt meanwhile.
cp "$ephtrace" "$outdir/ephtrace" || exit 1
ephtrace=$outdir/ephtrace
version=$("$ephtrace" --version 2>/dev/null | awk '{print $NF}')

# Another guest spins a whole core under TCG, and another tracer on the same hooks adds its cost
# to "no tracer": the figures would be noise. Wait for them (not ours: none runs yet).
busy()
{
	pgrep -f "^[^ ]*$(basename "$EPH_VM_QEMU") " >/dev/null && echo "qemu guests" && return 0
	[ "${1:-}" = qemu ] && return 1
	pgrep -x ephtrace >/dev/null && echo "other ephtrace processes" && return 0
	return 1
}

# Wait until busy WHAT says no, at most wait_max seconds in all; waited counts.
waited=0
wait_quiet()
{
	local what

	while what=$(busy "$@"); do
		[ $waited = 0 ] && say "$what running; waiting up to ${wait_max}s for them to end"
		if [ $waited -ge "$wait_max" ]; then
			say "$what still running after ${wait_max}s: measuring anyway (noisy figures)"
			return 0
		fi
		sleep 5
		waited=$((waited + 5))
	done
}
wait_quiet
progs_before=$(bpftool prog list 2>/dev/null |
	grep -cE ': (tracepoint|kprobe|tracing|raw_tracepoint) ')

# One step: ephbench ARGS, BENCH lines to raw.txt, the rest of its output to NAME.log.
step()
{
	local name=$1 s=$SECONDS

	shift
	say "$name..."
	"$bench" "$@" 2>"$outdir/$name.log" >>"$raw"
	say "$name: $((SECONDS - s)) s"
}

# The serve soak: its BENCH line to raw.txt (an n/a one if it made none), the rest to soak.log.
soak_step()
{
	local s=$SECONDS line

	say "soak..."
	EPH_SOAK_BENCH=1 "$here/../host/soak.sh" "$ephtrace" >"$outdir/soak.log" 2>&1
	line=$(grep '^BENCH kind=soak ' "$outdir/soak.log" | tail -n 1)
	[ -n "$line" ] || line="BENCH kind=soak where=host status=na error=\"$(tail -n 1 \
		"$outdir/soak.log" | tr -d '"')\""
	echo "$line" >>"$raw"
	say "soak: $((SECONDS - s)) s"
}

tc=() bs=() hk=()
[ -x "$tcpconnect" ] && tc=(--tcpconnect "$tcpconnect")
[ -x "$bindsnoop" ] && bs=(--bindsnoop "$bindsnoop")
[ -x "$hooks" ] && hk=(--hooks "$hooks")

if [ $host = 1 ]; then
	"$bench" meta >>"$raw"
	step replay replay
	e=(--ephtrace "$ephtrace" --backend tracepoint)
	eb=(--ephtrace "$ephtrace" --backend "tracepoint,cgroup")
	step startup startup "${eb[@]}" --runs 7 ${tc[0]+"${tc[@]}"}
	# bindsnoop only sees bind(), which the connect loop never calls: it is measured on the
	# bind loop. The getppid() loop has no peer and runs events only: top attaches the same
	# programs, and getppid() gives neither anything to do.
	step overhead overhead "${eb[@]}" --rounds "$rounds" --duration 0.5 \
		${tc[0]+"${tc[@]}"} ${hk[0]+"${hk[@]}"}
	step overhead-bind overhead --workload bind "${eb[@]}" --rounds "$rounds" \
		--duration 0.5 ${bs[0]+"${bs[@]}"} ${hk[0]+"${hk[@]}"}
	step overhead-syscall overhead --workload syscall --modes events "${eb[@]}" \
		--rounds "$rounds" --duration 0.5 ${hk[0]+"${hk[@]}"}
	step progcost progcost "${eb[@]}" --duration 2
	step throughput throughput "${e[@]}" --duration 1.5 --clients 8 --steps 4
	step memory memory "${e[@]}" --ports 100000 --dests 4
	[ "$soak" = 1 ] && soak_step
fi

# One guest on kernel series K, one boot: start-up (if asked) then overhead, of the backends B
# (comma list) against the peers, then (if asked) a bind loop against bindsnoop. Its ephbench sees /bin/* (mkinitramfs.sh). Prints why it
# failed, if it did.
vm_run()
{
	local kernel=$1 backends=$2 startup=$3 bind=$4 dir=$outdir/vm-$1 where=vm-$1 s=$SECONDS
	local img initrd token rc splats bins args=() vtc=() vbs=() cbs=()

	mkdir -p "$dir" || return 1
	bins=("$ephtrace" "$bench")
	[ -x "$tcpconnect" ] && bins+=("$tcpconnect") && vtc=(--tcpconnect /bin/tcpconnect)
	[ -x "$bindsnoop" ] && bins+=("$bindsnoop") && vbs=(--bindsnoop /bin/bindsnoop)
	img=$(vm_kernel "$kernel") || { echo "cannot get the $kernel kernel"; return 1; }
	# after the kernel: the initramfs takes its sock_diag modules from the cache
	if ! initrd=$("$VM_DIR/mkinitramfs.sh" "$dir" "${bins[@]}"); then
		echo "cannot build the initramfs"
		return 1
	fi
	args=(meta --where "$where")
	[ "$startup" = 1 ] &&
		args+=(+ startup --where "$where" --ephtrace /bin/ephtrace --backend "$backends"
			--runs 5 --ready-timeout 120 ${vtc[0]+"${vtc[@]}"})
	args+=(+ progcost --where "$where" --ephtrace /bin/ephtrace --backend "$backends"
		--duration 2 --ready-timeout 120)
	# bindsnoop only sees bind(), which the connect loop never calls: with a bind loop, it
	# is measured there instead
	cbs=("${vbs[@]}")
	[ "$bind" = 1 ] && cbs=()
	args+=(+ overhead --where "$where" --ephtrace /bin/ephtrace --backend "$backends"
		--rounds "$vm_rounds" --duration 1 --settle 0.3 --cooldown 1 --ready-timeout 120
		${vtc[0]+"${vtc[@]}"} ${cbs[0]+"${cbs[@]}"})
	[ "$bind" = 1 ] && [ ${#vbs[@]} -gt 0 ] &&
		args+=(+ overhead --where "$where-bind" --workload bind --ephtrace /bin/ephtrace
			--backend "${backends%%,*}" --rounds "$vm_rounds" --duration 1 --settle 0.3
			--cooldown 1 --ready-timeout 120 "${vbs[@]}")
	token=$(vm_token)
	say "VM $kernel: booting (TCG, 1 vCPU; ephtrace $backends inside)..."
	vm_boot "$img" "$initrd" "$dir" 900 eph.mode=bench eph.token="$token" eph.timeout=840 \
		eph.args="$(printf '%s\n' "${args[@]}" | base64 -w0)"
	tr -d '\r' <"$dir/output.log" | grep '^BENCH ' >>"$raw"
	splats=$(vm_splats "$dir")
	say "VM $kernel: $((SECONDS - s)) s"
	if ! rc=$(vm_result_rc "$dir/output.log" "$token"); then
		echo "no result line from the guest (see $dir/console.log)"
		return 1
	fi
	if [ -n "$splats" ]; then
		printf '%s\n' "$splats" >"$dir/splats.txt"
		echo "kernel splat in the guest (see $dir/splats.txt)"
		return 1
	fi
	if [ "$rc" != 0 ]; then
		echo "ephbench exited with status $rc in the guest (see $dir/output.log)"
		return 1
	fi
}

# 6.12: the backends of the issue. 6.1: bindsnoop 0.26 loads only on kernels before 6.6
# (inet_sock.freebind became a bit of inet_flags), so its figure comes from there.
for k in $kernels; do
	[ $vm = 1 ] || break
	wait_quiet qemu # one guest at a time on this machine
	case $k in
	6.12) why=$(vm_run "$k" fentry,kprobe 1 0) ;;
	*) why=$(vm_run "$k" fentry 0 1) ;;
	esac || {
		say "VM $k: $why"
		echo "BENCH kind=vm where=vm-$k status=na error=\"${why//\"/\'}\"" >>"$raw"
	}
done

echo "BENCH kind=meta where=run ephtrace=${version:-?} seconds=$(($(date +%s) - t0))" \
	"waited_s=$waited" \
	"bpf_tracing_progs_at_start=$progs_before" \
	"other_ephtrace_at_end=$(pgrep -x ephtrace | wc -l)" >>"$raw"
"$bench" report --json "$outdir/results.json" "$raw" | tee "$outdir/results.txt"
