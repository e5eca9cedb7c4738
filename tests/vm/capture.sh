#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boot Debian's 6.1 and 6.12 kernels and save, from inside each guest, what the BPF side is
# built and checked against:
#   $EPH_VM_CACHE/btf-K        /sys/kernel/btf/vmlinux (for bpftool btf dump ... format c)
#   $EPH_VM_CACHE/kallsyms-K   /proc/kallsyms
#   $EPH_VM_CACHE/ftrace-K     /sys/kernel/tracing/available_filter_functions
# then print, per hook symbol, its kallsyms type (T global, t local, - absent), whether ftrace
# can patch it (F) and whether BTF describes it as a function (B): fentry needs all of T/t, F, B;
# kprobes need the symbol.
#
# Usage: tests/vm/capture.sh [--kernel 6.1|6.12]... [SYMBOL...]
set -uo pipefail

# shellcheck source=tests/vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO" || exit 1

OUTPUT=${OUTPUT:-.output}
SYMBOLS="tcp_connect tcp_v4_connect tcp_v6_connect inet_hash_connect inet6_hash_connect
__inet_hash_connect __inet_check_established inet_csk_get_port inet_put_port __inet_bind
__inet6_bind udp_lib_get_port udp_v4_get_port udp_v6_get_port udp_lib_unhash inet_autobind
inet_dgram_connect inet_sk_get_local_port_range tcp_twsk_unique inet_twsk_kill
inet_twsk_bind_unhash inet_twsk_deschedule_put inet_bind_bucket_destroy tcp_set_state tcp_done
inet_twsk_hashdance inet_twsk_hashdance_schedule inet_bind_sk inet_get_local_port_range
inet_csk_find_open_port __inet_put_port"
kernels=

while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) [ $# -ge 2 ] || exit 2; kernels="$kernels ${2//,/ }"; shift ;;
	-h | --help) sed -n 's/^# \{0,1\}//; 3,13p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
	*) break ;;
	esac
	shift
done
[ $# -gt 0 ] && SYMBOLS="$*"
kernels=${kernels:-6.1 6.12}
command -v bpftool >/dev/null || { vm_err "bpftool not found (make deps)"; exit 1; }

vmdir=$OUTPUT/vm
mkdir -p "$vmdir" "$EPH_VM_CACHE" || exit 1
vm_lock "$vmdir" || exit 1
initrd=$("$VM_DIR/mkinitramfs.sh" "$vmdir") || { vm_err "cannot build the initramfs"; exit 1; }

# Print section NAME of FILE, without its markers.
section()
{
	tr -d '\r' <"$1" | sed -n "/^EPH-BEGIN $2\$/,/^EPH-END $2\$/{/^EPH-/d;p}"
}

capture()
{
	local k=$1 img dir token rc sum

	img=$(vm_kernel "$k") || return 1
	dir=$vmdir/$k-capture
	mkdir -p "$dir"
	token=$(vm_token)
	vm_boot "$img" "$initrd" "$dir" 300 eph.mode=capture eph.token="$token"
	rc=$(vm_result_rc "$dir/output.log" "$token") || { vm_err "$k: no result line, see $dir/"; return 1; }
	[ "$rc" = 0 ] || { vm_err "$k: capture failed (rc=$rc), see $dir/output.log"; return 1; }
	if ! section "$dir/output.log" btf | base64 -d >"$EPH_VM_CACHE/btf-$k.tmp" ||
		! section "$dir/output.log" kallsyms.gz | base64 -d | gunzip >"$EPH_VM_CACHE/kallsyms-$k" ||
		! section "$dir/output.log" ftrace.gz | base64 -d | gunzip >"$EPH_VM_CACHE/ftrace-$k"; then
		vm_err "$k: cannot decode the capture in $dir/output.log"
		return 1
	fi
	sum=$(section "$dir/output.log" sha256 | cut -d' ' -f1)
	if [ "$(sha256sum <"$EPH_VM_CACHE/btf-$k.tmp" | cut -d' ' -f1)" != "$sum" ]; then
		vm_err "$k: BTF arrived damaged (sha256 differs from the guest's)"
		return 1
	fi
	mv "$EPH_VM_CACHE/btf-$k.tmp" "$EPH_VM_CACHE/btf-$k"
	bpftool btf dump file "$EPH_VM_CACHE/btf-$k" | sed -n "s/^\[[0-9]*\] FUNC '\([^']*\)'.*/\1/p" |
		sort -u >"$dir/btf-funcs"
	echo "$k: $(tr -d '\r' <"$dir/output.log" | sed -n 's/^EPH-KERNEL //p')" \
		"BTF $(stat -c %s "$EPH_VM_CACHE/btf-$k") bytes -> $EPH_VM_CACHE/btf-$k"
}

for k in $kernels; do
	capture "$k" || exit 1
done

# The symbol table.
printf '%-30s' symbol
for k in $kernels; do
	printf ' %-8s' "$k"
done
echo
for s in $SYMBOLS; do
	printf '%-30s' "$s"
	for k in $kernels; do
		t=$(awk -v s="$s" '$3 == s && NF == 3 { printf "%s", $2 }' "$EPH_VM_CACHE/kallsyms-$k")
		f=$(grep -qx "$s" "$EPH_VM_CACHE/ftrace-$k" && echo F)
		b=$(grep -qx "$s" "$vmdir/$k-capture/btf-funcs" && echo B)
		printf ' %-8s' "${t:--}${f}${b}"
	done
	echo
done
