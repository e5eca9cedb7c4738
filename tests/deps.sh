#!/bin/sh
# Install the Debian packages ephtrace needs to build and test, if any is missing.
# Safe to run again: it does nothing when everything is there.
set -eu
PKGS="make gcc clang libclang-rt-14-dev llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config libcmocka-dev
libmicrohttpd-dev iproute2 qemu-system-x86 busybox-static cpio gzip zstd prometheus
python3 python3-prometheus-client python3-yaml curl libbpf-tools procps libjson-c-dev libmnl-dev
docker.io"
# ARCH=arm64 (make deps ARCH=arm64) on another host: the cross compiler, the :arm64 libraries
# the link needs, and qemu-system-aarch64. The guest's busybox-static:arm64 cannot be installed
# beside the host's busybox-static: tests/vm/lib.sh downloads and unpacks it into its cache.
foreign=""
case "${ARCH:-}" in
arm64 | aarch64)
	if [ "$(dpkg --print-architecture)" != arm64 ]; then
		foreign=arm64
		PKGS="$PKGS gcc-aarch64-linux-gnu qemu-system-arm libbpf-dev:arm64 libelf-dev:arm64
zlib1g-dev:arm64 libmicrohttpd-dev:arm64 libmnl-dev:arm64 libjson-c-dev:arm64"
	fi
	;;
esac
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "ephtrace: missing Debian packages:$missing; run as root (or: apt-get install$missing)" >&2
	exit 1
fi
echo "ephtrace: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
if [ -n "$foreign" ] && ! dpkg --print-foreign-architectures | grep -qx "$foreign"; then
	echo "ephtrace: dpkg --add-architecture $foreign" >&2
	dpkg --add-architecture "$foreign"
fi
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
