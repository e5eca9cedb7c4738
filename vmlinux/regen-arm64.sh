#!/bin/sh
# Regenerate vmlinux/arm64/vmlinux.h from the BTF of a Debian arm64 kernel package.
#
# Usage: vmlinux/regen-arm64.sh [PACKAGE]
#   PACKAGE defaults to what Debian's linux-image-arm64 meta package depends on
#   (e.g. linux-image-6.1.0-56-arm64 on Debian 12).
#
# Works on any host architecture: apt runs with a private state directory (own sources list,
# package lists and cache under a temporary directory), so the host's dpkg architectures and
# package lists are left untouched. Needs apt-get, dpkg-deb, bpftool and /usr/bin/python3.
#
# arm64 kernels are shipped as a raw Image (or gzip / EFI zboot compressed); there is no ELF
# vmlinux, so the .BTF section is found by scanning the Image for a valid BTF header.
set -eu

SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=${SECURITY:-http://deb.debian.org/debian-security}
KEYRING=${KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
PYTHON=${PYTHON:-/usr/bin/python3}
BPFTOOL=${BPFTOOL:-bpftool}

here=$(cd "$(dirname "$0")" && pwd)
out="$here/arm64/vmlinux.h"
tmp=$(mktemp -d /tmp/ephtrace-vmlinux-arm64.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM

mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/deb"
cat >"$tmp/sources.list" <<EOF
deb [arch=arm64 signed-by=$KEYRING] $MIRROR $SUITE main
deb [arch=arm64 signed-by=$KEYRING] $MIRROR $SUITE-updates main
deb [arch=arm64 signed-by=$KEYRING] $SECURITY $SUITE-security main
EOF

apt_private() {
	cmd=$1
	shift
	"$cmd" -o APT::Architecture=arm64 -o APT::Architectures::=arm64 \
		-o Dir::Etc::SourceList="$tmp/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
		-o Dir::State::Lists="$tmp/lists" -o Dir::Cache="$tmp/cache" \
		-o Dir::State::status=/dev/null -o APT::Sandbox::User=root "$@"
}

apt_private apt-get -q update >&2

pkg=${1:-}
if [ -z "$pkg" ]; then
	pkg=$(apt_private apt-cache depends linux-image-arm64 |
		sed -n 's/^ *Depends: \(linux-image-[0-9].*-arm64\)$/\1/p' | head -n 1)
	[ -n "$pkg" ] || { echo "regen-arm64: cannot resolve linux-image-arm64" >&2; exit 1; }
fi

(cd "$tmp/deb" && apt_private apt-get -q download "$pkg:arm64") >&2
deb=$(ls "$tmp"/deb/*.deb)
version=$(dpkg-deb -f "$deb" Version)
dpkg-deb -x "$deb" "$tmp/root"
image=$(ls "$tmp"/root/boot/vmlinuz-*)
echo "regen-arm64: $pkg $version: $(basename "$image")" >&2

grep -q '^CONFIG_DEBUG_INFO_BTF=y' "$tmp"/root/boot/config-* ||
	{ echo "regen-arm64: $pkg is built without CONFIG_DEBUG_INFO_BTF" >&2; exit 1; }

"$PYTHON" - "$image" "$tmp/vmlinux.btf" <<'EOF'
import gzip, lzma, struct, sys

def unpack(data):
	"""Return the raw arm64 Image from a raw, gzip or EFI zboot (gzip/xz) kernel."""
	if data[:2] == b"\x1f\x8b":
		return gzip.decompress(data)
	if data[:2] == b"MZ" and data[4:8] == b"zimg":
		off, size = struct.unpack_from("<II", data, 8)
		comp = data[24:32].rstrip(b"\0").decode()
		payload = data[off:off + size]
		if comp == "gzip":
			return gzip.decompress(payload)
		if comp in ("xz", "lzma"):
			return lzma.decompress(payload)
		sys.exit(f"regen-arm64: unsupported zboot compression {comp}")
	if data[0x38:0x3c] == b"ARM\x64":
		return data
	sys.exit("regen-arm64: not an arm64 Image, gzip or EFI zboot kernel")

def btf_at(img, pos):
	"""Length of a plausible BTF blob at pos, or 0."""
	if pos + 24 > len(img):
		return 0
	magic, ver, _flags, hdr_len, type_off, type_len, str_off, str_len = \
		struct.unpack_from("<HBBIIIII", img, pos)
	if magic != 0xeb9f or ver != 1 or hdr_len < 24 or hdr_len > 256:
		return 0
	if type_off != 0 or str_off < type_len or type_len == 0 or str_len == 0:
		return 0
	total = hdr_len + str_off + str_len
	if pos + total > len(img):
		return 0
	strs = img[pos + hdr_len + str_off:pos + total]
	if strs[0] != 0 or strs[-1] != 0:
		return 0
	return total

img = unpack(open(sys.argv[1], "rb").read())
best = (0, 0)
pos = img.find(b"\x9f\xeb\x01\x00")
while pos >= 0:
	best = max(best, (btf_at(img, pos), pos))
	pos = img.find(b"\x9f\xeb\x01\x00", pos + 1)
if best[0] == 0:
	sys.exit("regen-arm64: no BTF blob found in the kernel image")
open(sys.argv[2], "wb").write(img[best[1]:best[1] + best[0]])
print(f"regen-arm64: BTF at image offset {best[1]:#x}, {best[0]} bytes", file=sys.stderr)
EOF

"$BPFTOOL" btf dump file "$tmp/vmlinux.btf" format c >"$tmp/vmlinux.h"
for t in sock inet_timewait_sock trace_event_raw_inet_sock_set_state user_pt_regs; do
	grep -q "^struct $t {" "$tmp/vmlinux.h" ||
		{ echo "regen-arm64: struct $t missing from the dumped BTF" >&2; exit 1; }
done
mkdir -p "$here/arm64"
mv "$tmp/vmlinux.h" "$out"
echo "regen-arm64: wrote $out from $pkg $version ($("$BPFTOOL" version | head -n 1))" >&2
