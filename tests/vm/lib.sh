# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Helpers shared by the VM scripts (run.sh, capture.sh): fetch Debian's kernels into a cache
# outside the repo, build the initramfs, boot one guest under qemu/TCG, read what it reported.
#
# Environment:
#   EPH_VM_CACHE    kernel and BTF cache (default /var/cache/ephtrace-vm)
#   EPH_VM_MEM      guest memory (default 1G)
#   EPH_VM_QEMU     qemu binary (default qemu-system-x86_64)

EPH_VM_CACHE=${EPH_VM_CACHE:-/var/cache/ephtrace-vm}
EPH_VM_MEM=${EPH_VM_MEM:-1G}
EPH_VM_QEMU=${EPH_VM_QEMU:-qemu-system-x86_64}
VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034 # used by the scripts that source this file
REPO=$(cd "$VM_DIR/../.." && pwd)

# Kernel console lines that mean the kernel itself went wrong (extended regular expression).
VM_SPLAT_RE='BUG:|WARNING:|Oops|general protection|Call Trace|Kernel panic|RCU stall|self-detected stall|detected stalls|soft lockup|hard LOCKUP|blocked for more than|UBSAN:|KASAN:'

vm_err()
{
	echo "ephtrace-vm: $*" >&2
}

# Kernel names the harness knows: a series, optionally with one of Debian's other x86 flavours
# (cloud: fewer drivers and modules; rt: PREEMPT_RT), and 5.10, Debian 11's.
VM_KERNELS="5.10 6.1 6.12 6.1-cloud 6.1-rt 6.12-cloud 6.12-rt"

# The Debian meta package that follows one kernel (series[-flavour]), "@SUITE" when it is
# another Debian release's than this machine's (5.10: Debian 11's, whose BPF lacks bpf_loop,
# bpf_task_pt_regs and bpf_get_current_task_btf).
vm_meta_pkg()
{
	[ "${VM_ARCH:-x86_64}" = arm64 ] && { vm_meta_pkg_arm64 "$1"; return; }

	case "$1" in
	5.10) echo linux-image-amd64@bullseye ;;
	6.1) echo linux-image-amd64 ;;
	6.1-cloud | 6.1-rt) echo "linux-image-${1#6.1-}-amd64" ;;
	6.12) echo linux-image-6.12-amd64 ;;
	6.12-cloud | 6.12-rt) echo "linux-image-6.12-${1#6.12-}-amd64" ;;
	*) return 1 ;;
	esac
}

# apt's options for META's suite: none for this machine's own, else a private sources list and
# package lists under $EPH_VM_CACHE/apt/SUITE (the machine's apt is left alone). One per line.
vm_apt_opts()
{
	local suite dir

	case "$1" in
	*@*) suite=${1#*@} ;;
	*) return 0 ;;
	esac
	dir=$EPH_VM_CACHE/apt/$suite
	mkdir -p "$dir/lists/partial" "$dir/archives/partial" || return 1
	[ -s "$dir/sources.list" ] ||
		echo "deb http://deb.debian.org/debian $suite main" >"$dir/sources.list" || return 1
	printf '%s\n' -o "Dir::Etc::SourceList=$dir/sources.list" -o "Dir::Etc::SourceParts=-" \
		-o "Dir::State::Lists=$dir/lists" -o "Dir::Cache::Archives=$dir/archives" \
		-o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
}

# The same for Debian's arm64 kernels (run.sh --arch arm64; apt-get download fetches the
# foreign-architecture package after `dpkg --add-architecture arm64`, tests/deps.sh).
vm_meta_pkg_arm64()
{
	case "$1" in
	6.1) echo linux-image-arm64 ;;
	6.12) echo linux-image-6.12-arm64 ;;
	*) return 1 ;;
	esac
}

# Print "PACKAGE VERSION" of the image package META depends on (candidate version of META).
vm_image_pkg_query()
{
	local opts

	mapfile -t opts < <(vm_apt_opts "$1")
	apt-cache "${opts[@]}" show --no-all-versions "${1%@*}" 2>/dev/null |
		sed -n 's/^Depends: .*\(linux-image-[^ ,|]*\) (= \([^)]*\)).*$/\1 \2/p' | head -n 1
}

vm_image_pkg()
{
	local meta=$1 res opts

	res=$(vm_image_pkg_query "$meta")
	if [ -z "$res" ]; then
		vm_err "apt-cache cannot resolve $meta; running apt-get update"
		mapfile -t opts < <(vm_apt_opts "$meta")
		apt-get "${opts[@]}" update -qq >&2 || vm_err "apt-get update failed"
		res=$(vm_image_pkg_query "$meta")
	fi
	[ -n "$res" ] || { vm_err "cannot find the image package that $meta depends on"; return 1; }
	echo "$res"
}

# Print the path of the vmlinuz of kernel K (one of $VM_KERNELS), downloading and unpacking the
# Debian package into $EPH_VM_CACHE/kernels/<package>_<version>/ the first time.
vm_kernel()
{
	local k=$1 meta pkgver pkg ver dir tmp deb img opts

	meta=$(vm_meta_pkg "$k") || { vm_err "unknown kernel '$k' (have: $VM_KERNELS)"; return 1; }
	pkgver=$(vm_image_pkg "$meta") || return 1
	pkg=${pkgver% *}
	ver=${pkgver#* }
	dir=$EPH_VM_CACHE/kernels/${pkg}_$ver
	img=$(vm_kernel_image "$dir")
	if [ -n "$img" ]; then
		echo "$img"
		return 0
	fi
	mkdir -p "$EPH_VM_CACHE/kernels" || return 1
	(
		flock 9
		# Another run may have unpacked it while we waited.
		[ -n "$(vm_kernel_image "$dir")" ] && exit 0
		tmp=$(mktemp -d "$EPH_VM_CACHE/kernels/.tmp.XXXXXX") || exit 1
		trap 'rm -rf "$tmp"' EXIT
		vm_err "downloading $pkg=$ver (for $meta)"
		mapfile -t opts < <(vm_apt_opts "$meta")
		if ! (cd "$tmp" && apt-get "${opts[@]}" download -q -o APT::Sandbox::User=root \
			"$pkg=$ver" >&2); then
			vm_err "could not download kernel package $pkg=$ver (needed by $meta) with apt-get download"
			exit 1
		fi
		deb=$(find "$tmp" -maxdepth 1 -name '*.deb' | head -n 1)
		[ -n "$deb" ] || { vm_err "apt-get download of $pkg=$ver left no .deb"; exit 1; }
		dpkg -x "$deb" "$tmp/root" || { vm_err "dpkg -x $deb failed"; exit 1; }
		rm -rf "$dir"
		mv "$tmp/root" "$dir"
	) 9>"$EPH_VM_CACHE/kernels/.lock" || return 1
	img=$(vm_kernel_image "$dir")
	[ -n "$img" ] || { vm_err "no boot/vmlinuz-* in $pkg=$ver"; return 1; }
	echo "$img"
}

vm_kernel_image()
{
	local f

	for f in "$1"/boot/vmlinuz-*; do
		[ -f "$f" ] && { echo "$f"; return 0; }
	done
	return 0
}

# Boot one guest. Usage: vm_boot VMLINUZ INITRD DIR TIMEOUT CMDLINE...
# Writes DIR/console.log (ttyS0: kernel console and init), DIR/output.log (ttyS1: what the guest
# reports), DIR/dmesg.log (ttyS2: the whole kernel log, dumped by init at the end),
# DIR/qemu.log (qemu's own stderr). Returns qemu's exit status (124: timeout).
# no_timer_check: x86's check_timer() counts timer interrupts in a few ms of busy-waiting; a TCG
# guest on a host busy enough sees none and panics at boot ("IO-APIC + timer doesn't work!": a
# 6.1 kprobe cell of a make test with four guests on two cores). The check is for broken boards.
vm_boot()
{
	local img=$1 initrd=$2 dir=$3 timeout=$4

	[ "${VM_ARCH:-x86_64}" = arm64 ] && { vm_boot_arm64 "$@"; return; }
	shift 4
	rm -f "$dir/console.log" "$dir/output.log" "$dir/dmesg.log" "$dir/qemu.log"
	timeout -k 10 "$timeout" "$EPH_VM_QEMU" \
		-accel tcg -cpu max -smp 1 -m "$EPH_VM_MEM" \
		-nodefaults -nographic -monitor none -no-reboot \
		-kernel "$img" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 quiet no_timer_check $*" \
		-serial "file:$dir/console.log" \
		-serial "file:$dir/output.log" \
		-serial "file:$dir/dmesg.log" \
		</dev/null >"$dir/qemu.log" 2>&1
}

# Print the rc of the result line carrying TOKEN in FILE; fail if there is none.
vm_result_rc()
{
	sed -n "s/^EPH-RESULT $2 rc=\([0-9][0-9]*\)\r\{0,1\}\$/\1/p" "$1" 2>/dev/null | tail -n 1 |
		grep .
}

# Print the kernel splats found in DIR (nothing when clean). The dmesg dump is complete when
# init got to the end; the console is what we have when it did not.
vm_splats()
{
	local dir=$1 f

	for f in "$dir/dmesg.log" "$dir/console.log"; do
		[ -s "$f" ] || continue
		if grep -Eq "$VM_SPLAT_RE" "$f"; then
			grep -E -A 40 "$VM_SPLAT_RE" "$f" | tr -d '\r' | head -n 120
			return 0
		fi
	done
	return 0
}

# Print the guest's uptime (seconds) when /init started, from the console.
vm_boot_seconds()
{
	sed -n 's/^.*EPH-INIT uptime=\([0-9.]*\).*/\1/p' "$1/console.log" 2>/dev/null | head -n 1
}

# Hold an exclusive lock on DIR/.lock (through fd 8) until the shell exits: one run at a time
# per log folder.
vm_lock()
{
	exec 8>"$1/.lock" || return 1
	if ! flock -n 8; then
		vm_err "another VM run uses $1; waiting for it"
		flock 8 || return 1
	fi
}

vm_token()
{
	od -An -N8 -tx1 /dev/urandom | tr -d ' \n'
}

# arm64 guests (run.sh --arch arm64): Debian's arm64 kernels on qemu's virt machine, under TCG.
# The virt machine has one UART (ttyAMA0: console); the result and kernel-log channels are
# virtio consoles (hvc0, hvc1, on virtio-mmio; /init loads virtio_mmio and virtio_console where
# the kernel has them as modules, 6.1) and /init is told their names (eph.out, eph.klog).
# pauth-impdef: pointer authentication (which Debian's arm64 kernels use) with qemu's cheap
# algorithm instead of the architected QARMA one, several times faster under TCG.
EPH_VM_QEMU_ARM64=${EPH_VM_QEMU_ARM64:-qemu-system-aarch64}

vm_boot_arm64()
{
	local img=$1 initrd=$2 dir=$3 timeout=$4

	shift 4
	rm -f "$dir/console.log" "$dir/output.log" "$dir/dmesg.log" "$dir/qemu.log"
	timeout -k 10 "$timeout" "$EPH_VM_QEMU_ARM64" \
		-M virt -accel tcg -cpu max,pauth-impdef=on -smp 1 -m "$EPH_VM_MEM" \
		-nodefaults -nographic -monitor none -no-reboot \
		-kernel "$img" -initrd "$initrd" \
		-append "console=ttyAMA0 panic=-1 quiet eph.out=hvc0 eph.klog=hvc1 $*" \
		-serial "file:$dir/console.log" \
		-device virtio-serial-device \
		-chardev "file,id=out,path=$dir/output.log" -device virtconsole,chardev=out \
		-chardev "file,id=klog,path=$dir/dmesg.log" -device virtconsole,chardev=klog \
		</dev/null >"$dir/qemu.log" 2>&1
}

# Print the path of Debian's busybox-static for arm64 (it cannot be installed beside the host's
# busybox-static), downloaded and unpacked into $EPH_VM_CACHE/busybox/ the first time.
vm_busybox_arm64()
{
	local dir=$EPH_VM_CACHE/busybox/arm64 tmp deb

	[ -x "$dir/bin/busybox" ] && { echo "$dir/bin/busybox"; return 0; }
	mkdir -p "$EPH_VM_CACHE/busybox" || return 1
	(
		flock 9
		[ -x "$dir/bin/busybox" ] && exit 0
		tmp=$(mktemp -d "$EPH_VM_CACHE/busybox/.tmp.XXXXXX") || exit 1
		trap 'rm -rf "$tmp"' EXIT
		vm_err "downloading busybox-static:arm64"
		(cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root busybox-static:arm64 >&2) ||
			{ vm_err "could not download busybox-static:arm64 (make deps ARCH=arm64)"; exit 1; }
		deb=$(find "$tmp" -maxdepth 1 -name '*.deb' | head -n 1)
		[ -n "$deb" ] && dpkg -x "$deb" "$tmp/root" || { vm_err "cannot unpack busybox-static:arm64"; exit 1; }
		rm -rf "$dir"
		mv "$tmp/root" "$dir"
	) 9>"$EPH_VM_CACHE/busybox/.lock" || return 1
	[ -x "$dir/bin/busybox" ] || { vm_err "no bin/busybox in busybox-static:arm64"; return 1; }
	echo "$dir/bin/busybox"
}
