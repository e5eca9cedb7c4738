#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check-layout: user/core/ is what ARCHITECTURE.md says it is, and the layout holds.
#   1. user/ has only its three folders, and no two files share a name (objects are flat in
#      $(OUTPUT)).
#   2. No file of user/core/ includes a kernel- or library-facing header (<bpf/...>,
#      <linux/bpf.h>, libmnl, libmicrohttpd, json-c, netlink, a BPF skeleton, ...), neither
#      itself (grep, with the line) nor through what it includes (the compiler's -M list).
#   3. The core objects call no system-call wrapper and nothing that writes to a descriptor:
#      `nm -u` of each against a denylist (fortified names, __open_2 or __fprintf_chk, count as
#      open and fprintf), and no function of libbpf, libmnl, libmicrohttpd or json-c.
#   4. What the core calls outside itself is in the C library (libc, libm, libgcc): no node or
#      command function reached through a hand-written declaration.
# Usage: CC=cc CORE_CPPFLAGS='-Iinclude -Iuser/core ...' tests/check_layout.sh CORE_OBJECT...
# Prints what it checked; exits 1 naming each offending file and header or symbol.
set -u
read -ra cc <<<"${CC:-cc}"
read -ra cppflags <<<"${CORE_CPPFLAGS:--Iinclude -Iuser/core -std=gnu11 -D_GNU_SOURCE}"
me=check-layout
failed=0
check=0	      # the check running now, 1 to 4
bad_checks="" # the checks that failed, each once
skipped=0
fail() {
	echo "$me: FAIL $*"
	failed=1
	case " $bad_checks " in
	*" $check "*) ;;
	*) bad_checks="$bad_checks $check" ;;
	esac
}

[ $# -gt 0 ] || { echo "$me: no core objects given" >&2; exit 2; }
cd "$(dirname "$0")/.." || exit 2
# shellcheck source=tests/counts.sh
. tests/counts.sh

# ---- 1. the folders ---------------------------------------------------------------------------
check=1
for f in user/*; do
	case $f in
	user/core | user/node | user/cmd) ;;
	*) fail "$f: user/ holds core/, node/ and cmd/ only" ;;
	esac
done
for d in core node cmd; do
	printf '%s: user/%-5s %2d .c, %2d .h\n' $me "$d/" \
		"$(find user/$d -name '*.c' | wc -l)" "$(find user/$d -name '*.h' | wc -l)"
done
for n in $(find user -type f -printf '%f\n' | sort | uniq -d); do
	fail "two files named $n: $(find user -name "$n" | paste -sd ' ')"
done

# ---- 2. the core's headers --------------------------------------------------------------------
check=2
# a header's name, or the end of its path, that the core must not see
deny_hdr='(^|/)(bpf/[^/]+|linux/bpf\.h|libmnl/[^/]+|microhttpd\.h|json-c/[^/]+|[^/]+\.skel\.h|linux/netlink\.h|linux/rtnetlink\.h|linux/inet_diag\.h|linux/sock_diag\.h|sys/syscall\.h|sys/mount\.h)$'
echo "$me: headers the core may not include: <bpf/*> <linux/bpf.h> <libmnl/*> <microhttpd.h>" \
	"<json-c/*> *.skel.h <linux/{netlink,rtnetlink,inet_diag,sock_diag}.h> <sys/syscall.h>" \
	"<sys/mount.h>"
nsrc=0
hits=$(for f in user/core/*.[ch]; do
	grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]' "$f" |
		sed -E 's/^([0-9]+):[^<"]*[<"]([^>"]+)[>"].*/\1 \2/' |
		while read -r line hdr; do
			echo "$hdr" | grep -qE "$deny_hdr" && echo "$f:$line: includes $hdr"
		done
done)
[ -z "$hits" ] || while read -r l; do fail "$l"; done <<<"$hits"
nsrc=$(find user/core -name '*.[ch]' | wc -l)
nhdr=0
for f in user/core/*.c; do
	# every file the compiler opens for it, system headers included
	deps=$("${cc[@]}" "${cppflags[@]}" -M "$f" 2>&1) || { fail "$f: ${cc[*]} -M: $deps"; continue; }
	# "x.o: x.c a.h \" lines into one file a line
	deps=$(echo "$deps" | awk '{ for (i = 1; i <= NF; i++) if ($i !~ /:$/ && $i != "\\") print $i }')
	nhdr=$((nhdr + $(echo "$deps" | grep -c '\.h$')))
	for h in $(echo "$deps" | grep -E "$deny_hdr"); do
		fail "$f: includes $h (through its headers)"
	done
done
echo "$me: $nsrc files of user/core/ read, $nhdr headers the compiler opens for its .c files in all" \
	"(${cc[*]} -M ${cppflags[*]})"

# ---- 3. and 4. the core's calls ---------------------------------------------------------------
check=3
deny_sym=(socket socketpair bind connect listen accept accept4 shutdown send sendto sendmsg
sendmmsg recv recvfrom recvmsg recvmmsg getsockopt setsockopt getsockname getpeername
open openat openat2 creat close close_range read write pread pwrite preadv pwritev readv writev
lseek fcntl ioctl dup dup2 dup3 pipe pipe2 stat fstat lstat fstatat statx statfs fstatfs access
faccessat readlink readlinkat unlink unlinkat rename renameat mkdir mkdirat rmdir mkdtemp mkstemp
chdir fchdir chroot truncate ftruncate fsync sync opendir fdopendir readdir closedir scandir dirfd
fork vfork clone clone3 execve execv execvp execl system popen pclose kill tgkill tkill setns unshare
mount umount umount2 fsopen fsmount fsconfig move_mount pivot_root name_to_handle_at
open_by_handle_at prctl ptrace capget capset setuid setgid seteuid setegid setrlimit getrlimit
prlimit getpid getppid gettid getuid geteuid uname sysconf sysinfo
signal sigaction sigprocmask pthread_sigmask
clock_gettime clock_nanosleep gettimeofday time nanosleep usleep sleep
mmap munmap mremap mprotect madvise brk sbrk
poll ppoll select pselect epoll_create epoll_create1 epoll_ctl epoll_wait epoll_pwait eventfd
timerfd_create timerfd_settime signalfd inotify_init inotify_init1 inotify_add_watch
fopen fdopen freopen fclose fread fwrite fgets fgetc getc getchar fputs fputc putc putchar puts
printf fprintf vprintf vfprintf dprintf vdprintf perror getline getdelim fflush fscanf scanf
vfscanf
pthread_create pthread_join pthread_detach pthread_kill exit _exit _Exit
syscall bpf perf_event_open)
deny_prefix=(bpf_ btf_ libbpf_ ring_buffer__ perf_buffer__ user_ring_buffer__ mnl_ MHD_ json_)
echo "$me: calls the core may not make: ${#deny_sym[@]} system-call wrappers and" \
	"stdio-to-descriptor functions (socket bind connect open openat read write ioctl setns" \
	"mount syscall bpf fprintf ...), and the functions of libbpf, libmnl, libmicrohttpd and" \
	"json-c: ${deny_prefix[*]/%/*}"

deny=" ${deny_sym[*]} "
defined=$(nm -g --defined-only "$@" | awk 'NF == 3 { print $3 }' | sort -u)
# each object's undefined symbols, "object symbol" a line
calls=$(for o in "$@"; do nm -u "$o" | awk -v o="$o" '{ print o, $NF }'; done)
while read -r o s; do
	[ -n "$s" ] || continue
	# fortified and versioned names: __open64_2 -> open, __fprintf_chk -> fprintf,
	# __isoc99_fscanf -> fscanf
	n=${s#__isoc99_}
	n=${n#__isoc23_}
	n=${n#__}
	n=${n%_chk}
	n=${n%_2}
	n=${n%64}
	hit=""
	[[ $deny == *" $n "* ]] && hit=1
	for p in "${deny_prefix[@]}"; do [[ $s == "$p"* ]] && hit=1; done
	if [ -n "$hit" ]; then
		src=user/core/$(basename "$o" .o).c
		[ -f "$src" ] || src="$o (no source in user/core/)"
		fail "$src: calls $s (nm -u $o)"
	fi
done <<<"$calls"
external=$(comm -23 <(echo "$calls" | awk '{ print $2 }' | sort -u) <(echo "$defined"))

# what the C library and the compiler's runtime define
check=4
libs=""
for l in libc.so.6 libm.so.6; do
	p=$("${cc[@]}" -print-file-name=$l)
	[ -f "$p" ] && libs="$libs
$(nm -D --defined-only "$p" | awk '{ sub(/@.*/, "", $NF); print $NF }')"
done
p=$("${cc[@]}" -print-libgcc-file-name)
[ -f "$p" ] && libs="$libs
$(nm -g --defined-only "$p" 2>/dev/null | awk 'NF == 3 { print $3 }')"
if [ -z "$libs" ]; then
	echo "$me: (no libc.so.6 found through ${cc[*]} -print-file-name: check 4 skipped)"
	skipped=1
else
	for s in $(comm -23 <(echo "$external" | grep -vx _GLOBAL_OFFSET_TABLE_) \
		<(echo "$libs" | grep . | sort -u)); do
		fail "the core calls $s, which neither the core nor the C library defines" \
			"(in: $(echo "$calls" | awk -v s="$s" '$2 == s { print $1 }' | paste -sd ' '))"
	done
fi
echo "$me: $# core objects (nm -u); what they call outside the core:" \
	"$(echo "$external" | paste -sd ' ')"

# for make test's count (tests/counts.sh): the four checks
nbad=$(wc -w <<<"$bad_checks")
eph_count "layout checks" $((4 - nbad - skipped)) "$nbad" $skipped

if [ $failed = 0 ]; then
	echo "$me: passed"
else
	echo "$me: failed"
fi
exit $failed
