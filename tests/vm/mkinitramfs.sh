#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the guest initramfs: busybox-static with its applet links, the given binaries in /bin
# with the shared libraries ldd reports for them (and the dynamic loader), and tests/vm/init as
# /init. The archive is named by a hash of everything that goes into it, so it is rebuilt only
# when one of those files changes; archives in OUTDIR unused for an hour are removed.
#
# The sock_diag modules of TCP and UDP of every kernel in the cache (ephtrace status and top
# read sockets with sock_diag; Debian builds it as modules and the guest has no modprobe tree)
# go to lib/modules/<release>/, decompressed; /init loads those of the running kernel.
#
# Usage: mkinitramfs.sh OUTDIR [BINARY...]      Prints the path of the archive.
# Environment: EPH_VM_CACHE (tests/vm/lib.sh) for the modules; EPH_VM_BUSYBOX; EPH_VM_ARCH
# (x86_64, the default, or arm64: then the binaries' libraries are found from their ELF headers
# in /usr/lib/aarch64-linux-gnu, as ldd cannot run them, the modules are the arm64 kernels',
# with virtio_mmio and virtio_console for the guest's result channels, and the applet links
# are those of the host's busybox-static, the same Debian package built for the host).
set -euo pipefail

die()
{
	echo "mkinitramfs: $*" >&2
	exit 1
}

[ $# -ge 1 ] || die "usage: mkinitramfs.sh OUTDIR [BINARY...]"
outdir=$1
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
init=$here/init
busybox=${EPH_VM_BUSYBOX:-/bin/busybox}
arch=${EPH_VM_ARCH:-x86_64}
case "$arch" in
x86_64 | arm64) ;;
*) die "unknown EPH_VM_ARCH '$arch' (have: x86_64 arm64)" ;;
esac

[ -f "$init" ] || die "missing $init"
if [ ! -x "$busybox" ] || ldd "$busybox" >/dev/null 2>&1 ||
	readelf -lW "$busybox" 2>/dev/null | grep -q 'program interpreter'; then
	die "$busybox is not a static busybox (install busybox-static)"
fi

# arm64: print the shared libraries BIN needs (DT_NEEDED, recursively) and its dynamic loader,
# as ldd would, from the ELF headers.
ARM64_LIBDIRS="/lib/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu"
elf_libs()
{
	local todo=("$1") seen=" " f lib d found

	readelf -lW "$1" | sed -n 's/^.*program interpreter: \(\/[^]]*\)]$/\1/p'
	while [ ${#todo[@]} -gt 0 ]; do
		f=${todo[0]}
		todo=("${todo[@]:1}")
		for lib in $(readelf -dW "$f" | sed -n 's/^.*(NEEDED).*\[\(.*\)\]$/\1/p'); do
			case "$seen" in *" $lib "*) continue ;; esac
			seen="$seen$lib "
			found=
			for d in $ARM64_LIBDIRS; do
				[ -f "$d/$lib" ] && { found=$d/$lib; break; }
			done
			[ -n "$found" ] || die "$1: $lib not found in $ARM64_LIBDIRS (make deps ARCH=arm64)"
			echo "$found"
			todo+=("$found")
		done
	done
}

# Every file of the image: "SOURCE DEST" per line, DEST relative to the image root.
list=$(mktemp)
mods=$(mktemp -d)
stage=
cleanup()
{
	rm -f "$list"
	rm -rf "$mods"
	[ -z "$stage" ] || rm -rf "$stage"
}
trap cleanup EXIT

echo "$busybox bin/busybox" >>"$list"
echo "$init init" >>"$list"
for bin in "$@"; do
	if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
		die "missing executable $bin"
	fi
	echo "$(realpath "$bin") bin/$(basename "$bin")" >>"$list"
	if [ "$arch" = arm64 ]; then
		libs=$(elf_libs "$bin") || exit 1
		for lib in $libs; do
			echo "$lib ${lib#/}"
		done >>"$list"
		continue
	fi
	# "libfoo.so => /path (0x...)", "/lib64/ld-linux-x86-64.so.2 (0x...)"; vdso has no path.
	if ldd_out=$(ldd "$bin" 2>&1); then
		printf '%s\n' "$ldd_out" | grep -q 'not found' && die "$bin: unresolved libraries:
$ldd_out"
		printf '%s\n' "$ldd_out" | sed -n -e 's/^.*=> \(\/[^ ]*\) (0x[0-9a-f]*)$/\1/p' \
			-e 's/^[[:space:]]*\(\/[^ ]*\) (0x[0-9a-f]*)$/\1/p' |
			while read -r lib; do
				echo "$lib ${lib#/}"
			done >>"$list"
	fi
done
cache=${EPH_VM_CACHE:-/var/cache/ephtrace-vm}
kos=("$cache"/kernels/*/lib/modules/*/kernel/net/ipv4/{inet,tcp,udp}_diag.ko{,.xz})
[ "$arch" = arm64 ] && kos+=("$cache"/kernels/*/lib/modules/*/kernel/drivers/{virtio/virtio_mmio,char/virtio_console}.ko{,.xz})
for ko in "${kos[@]}"; do
	[ -f "$ko" ] || continue
	rel=${ko#"$cache"/kernels/*/lib/modules/}
	rel=${rel%%/*}
	# each architecture's kernels only (Debian's releases end in -arm64 or -amd64)
	case "$arch:$rel" in
	arm64:*-arm64 | x86_64:*-amd64) ;;
	*) continue ;;
	esac
	name=$(basename "${ko%.xz}")
	mkdir -p "$mods/$rel"
	case "$ko" in
	*.xz) xz -dc "$ko" >"$mods/$rel/$name" || die "cannot decompress $ko" ;;
	*) cp "$ko" "$mods/$rel/$name" ;;
	esac
	echo "$mods/$rel/$name lib/modules/$rel/$name" >>"$list"
done
sort -u -k2,2 -o "$list" "$list"

# Key: this script, and the path and content of every file.
key=$( {
	sha256sum "${BASH_SOURCE[0]}"
	while read -r src dest; do
		echo "$dest $(sha256sum <"$src")"
	done <"$list"
} | sha256sum | cut -c1-16)
out=$outdir/initramfs-$key.cpio.gz
if [ -s "$out" ]; then
	touch "$out"
	echo "$out"
	exit 0
fi

mkdir -p "$outdir"
stage=$(mktemp -d)
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,root,mnt}
chmod 1777 "$stage/tmp"
# The kernel opens /dev/console for init before anything is mounted.
mknod -m 600 "$stage/dev/console" c 5 1
mknod -m 666 "$stage/dev/null" c 1 3
while read -r src dest; do
	mkdir -p "$stage/$(dirname "$dest")"
	cp -L "$src" "$stage/$dest"
done <"$list"
chmod 755 "$stage/init"
# Applet links at the places busybox would install them.
applets=$busybox
[ "$arch" = x86_64 ] || applets=/bin/busybox
"$applets" --list-full | while read -r applet; do
	[ -e "$stage/$applet" ] || [ -L "$stage/$applet" ] || ln -s /bin/busybox "$stage/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$stage/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$stage/etc/group"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$stage/etc/hosts"

tmp=$(mktemp "$outdir/.initramfs.XXXXXX")
if ! (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
	gzip -1 >"$tmp"; then
	rm -f "$tmp"
	die "cpio/gzip failed"
fi
chmod 644 "$tmp"
mv "$tmp" "$out"
# Older archives, unless used in the last hour (another run may be booting one).
find "$outdir" -maxdepth 1 -name 'initramfs-*.cpio.gz' ! -name "$(basename "$out")" -mmin +60 \
	-delete
echo "$out"
