#!/bin/bash
# Bad usage, table-driven: for every command and every option that takes a value, garbage
# values (negative, huge, non-numeric, empty, unknown, trailing junk, overflow, 0 or a bound
# where not allowed), unknown options and commands, missing values and extra arguments must
# give exactly one line on stderr (no control byte in it), nothing on stdout and exit status 2;
# --help gives the usage on stdout and 0. Values on the bounds must be accepted.
#
#   tests/host/cli.sh [./ephtrace]      (make test-cli)
#
# Usage errors are found before anything is loaded: as root, every bad case runs first as
# nobody (setpriv), where a case that parsed would stop at the privilege check (exit 1) instead
# of loading BPF, and then as root. Accepted values run only as an unprivileged user, where
# the BPF commands stop right after parsing with "permission denied" (exit 1).
set -u
export LC_ALL=C
# shellcheck source=tests/counts.sh
. "$(dirname "$0")/../counts.sh"
EPH=${1:-./ephtrace}
if [ ! -x "$EPH" ]; then
	echo "tests/host/cli.sh: $EPH not built (make ephtrace)" >&2
	exit 1
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out
err=$tmp/err
passed=0
failed=0

if [ "$(id -u)" = 0 ]; then
	users="nobody root"
	unpriv=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all)
else
	users="self"
	unpriv=()
fi

# run USER ARGS...: rc, $out, $err
run() {
	local who=$1

	shift
	case $who in
	nobody) timeout 10 "${unpriv[@]}" "$EPH" "$@" >"$out" 2>"$err" ;;
	*) timeout 10 "$EPH" "$@" >"$out" 2>"$err" ;;
	esac
	rc=$?
}

fail() {
	failed=$((failed + 1))
	echo "FAIL ($1): ephtrace$(printf ' %q' "${@:2}")" >&2
	echo "  exit $rc, stdout $(wc -c <"$out") bytes, stderr:" >&2
	sed 's/^/    /' "$err" | head -n 5 >&2
}

# One line: ends in a newline, has no other, says "ephtrace", has no control byte.
one_line() {
	local s

	IFS= read -r -d '' s <"$1"
	[[ $s == ephtrace*$'\n' ]] || return 1
	s=${s%$'\n'}
	[[ $s != *[[:cntrl:]]* ]]
}

# bad ARGS...: a usage error, for every user
bad() {
	local who

	for who in $users; do
		run "$who" "$@"
		if [ $rc != 2 ] || [ -s "$out" ] || ! one_line "$err"; then
			fail "usage error expected, as $who" "$@"
			return
		fi
	done
	passed=$((passed + 1))
}

# help ARGS...: the usage on stdout, nothing on stderr, 0
help() {
	run "${users##* }" "$@"
	if [ $rc != 0 ] || [ -s "$err" ] || ! grep -q '^Usage: ephtrace' "$out"; then
		fail "usage on stdout expected" "$@"
		return
	fi
	passed=$((passed + 1))
}

# accepted ARGS...: parsing passes. Unprivileged: a BPF command stops at the privilege check.
accepted() {
	local who=${users%% *}

	run "$who" "$@"
	if [ "$1" = status ]; then
		[ $rc = 0 ] && { passed=$((passed + 1)); return; }
	elif [ $rc = 1 ] && [ ! -s "$out" ] && grep -q 'permission denied' "$err"; then
		passed=$((passed + 1))
		return
	fi
	fail "accepted expected, as $who" "$@"
}

# ---- the values, by kind ----
# shellcheck disable=SC2016 # the $ in '$1' is a value, not an expansion
garbage=('' ' ' '-1' '-0' '+1' 'abc' '1x' '1 ' ' 1' '0x10' '1e3' '1,5' '1_000' '1.5.5'
	'18446744073709551615' '18446744073709551616' '99999999999999999999999999'
	'99999999999999999999999x' $'1\n' $'\e[31m1' 'nan' 'inf' '$1' '%s%n')
declare -A kind
kind[pid]='0 4194305 4294967296 1.0'
kind[count]='0 4294967296 1.0'
kind[limit]='1000001 1.0'
kind[netns]='0 4294967296 1.0'
kind[max_ports]='0 16777217 1.0'
kind[max_holds]='0 63 16777217 1.0'
kind[serve_top]='0 100001 1.0'
kind[interval]='0 0.0 0.001 0.009 .5 1. 86400.001 86401 1s 1m'
kind[window]='0 0.099 3600.5 3601 1s'
kind[resync]='0 0.099 86400.001 86401 1s'
kind[duration]='0 0.0 0.0001 .5 1. 31536000.001 31536001 1s 1h'
kind[ringbuf]='0 1 4095 5000 12K 3M 2G 4G 1T 4KB 4k4 K 18446744073709551615K'
kind[backend]='bpf TRACEPOINT auto, kprobe,fentry fentry0 uprobe cgroups cgroup+exact'
kind[comm]='abcdefghijklmnop abcdefghijklmnopqrstuvwxyz'
kind[listen]='127.0.0.1 127.0.0.1: :10099 127.0.0.1:65536 127.0.0.1:-1 127.0.0.1:99999999999999999999
localhost:10099 [::1]10099 ::1:10099 [::1]: []:80 [:80 [127.0.0.1]:80 1.2.3.4.5:80 0x7f.1:80
[::1]:80x 127.0.0.1:80x 127.0.0.1::80 [::1]:80:80'

# every_bad CMD OPT KIND: the common garbage and the values of KIND, as "OPT VALUE" and
# "OPT=VALUE" for a long option; and OPT with no value at the end.
every_bad() {
	local cmd=$1 opt=$2 k=$3 v vals

	for v in "${garbage[@]}"; do
		case $k in
		comm) [ -n "$v" ] && continue ;; # any 1..15 bytes is a name
		btf) [ -n "$v" ] && continue ;;	  # any path; checked when opened
		esac
		bad "$cmd" "$opt" "$v"
	done
	if [ -n "${kind[$k]:-}" ]; then
		while read -r -a vals; do
			for v in "${vals[@]}"; do
				bad "$cmd" "$opt" "$v"
				[ "${opt:0:2}" = -- ] && bad "$cmd" "$opt=$v"
			done
		done <<<"${kind[$k]}"
	fi
	[ "${opt:0:2}" = -- ] && bad "$cmd" "$opt="
	bad "$cmd" "$opt"
}

# ---- the table: command, option, kind of value ----
table='
events -p pid
events --pid pid
events --comm comm
events -d duration
events --duration duration
top -i interval
top --interval interval
top -n count
top --count count
top -l limit
top --limit limit
top --window window
top --resync resync
top --max-ports max_ports
hist -i interval
hist --interval interval
hist -n count
hist --count count
status --netns netns
status -l limit
status --limit limit
status --max-ports max_ports
serve -l listen
serve --listen listen
serve --top serve_top
'
loader_table='
--backend backend
--ringbuf-size ringbuf
--max-holds max_holds
--btf btf
'

while read -r cmd opt k; do
	[ -n "$cmd" ] && every_bad "$cmd" "$opt" "$k"
done <<<"$table"
for cmd in top events hist serve; do
	while read -r opt k; do
		[ -n "$opt" ] && every_bad "$cmd" "$opt" "$k"
	done <<<"$loader_table"
done

# ---- options and words that are wrong whatever their value ----
for cmd in top events hist status serve; do
	bad "$cmd" --bogus
	bad "$cmd" --bogus=1
	bad "$cmd" -x
	bad "$cmd" -Z
	bad "$cmd" -
	bad "$cmd" extra
	bad "$cmd" --json extra
	bad "$cmd" -- extra
	bad "$cmd" $'\e[2J'
	bad "$cmd" $'--a\nb'
	bad "$cmd" --help=1
	bad "$cmd" --h=1
	bad "$cmd" ''
done
for cmd in top hist status serve; do
	bad "$cmd" -4 # events only
	bad "$cmd" --releases
done
for cmd in top hist serve events status; do
	bad "$cmd" --verbose=1
	bad "$cmd" -vx
	bad "$cmd" -xv
done
bad events --json=1
bad events -4 -6
bad events -46
bad events -6 --ipv4
bad events --tcp --udp
bad events --udp --tcp
bad events --failures-only=yes
bad events -p 1 -p
bad events -4p
bad events --ipv # ambiguous: --ipv4 or --ipv6
bad top --max # ambiguous: --max-ports or --max-holds
bad top --json=1
bad top -n 1 -i
bad top --cumulative # hist only
bad hist --cumulative=1
bad hist --limit 5 # top only
bad status --backend tracepoint # status takes no loader option (its iterator is optional)
bad status --ringbuf-size 4K
bad status --exact-errors
bad events --exact-errors=1
bad top --exact-errors 1
bad serve --bpf-stats=1
bad serve --pid-labels=1
bad top --pid-labels # serve only
bad serve --json
bad bogus
bad events2
bad TOP
bad $'a\nb\e[31m'
bad '' --json
bad -x
bad --bogus
bad -i 0 # no command: top's options

# ---- help ----
help --help
help -h
help help
for cmd in top events hist status serve; do
	help "$cmd" --help
	help "$cmd" -h
	help "$cmd" -hx # help first, then the cluster is not read
done
help events -p 1 --json --help
help top -i 2 -h

# ---- values on the bounds, accepted ----
if [ "$users" != self ] || grep -q '^CapEff:[[:space:]]*0*$' /proc/self/status; then
	accepted events -p 1 -d 0.001
	accepted events --pid 4194304 --duration 31536000 --comm abcdefghijklmno
	accepted events -4 --tcp --failures-only --releases --json -v
	accepted events --ringbuf-size 4K --max-holds 64 --backend auto --btf /nonexistent
	accepted events --ringbuf-size 1G --max-holds 16777216 --backend tracepoint
	accepted events --ringbuf-size 4096 --backend=fentry
	accepted events --ringbuf-size=1m --backend=kprobe
	accepted events --backend cgroup --exact-errors
	accepted serve --backend=cgroup --exact-errors -l 127.0.0.1:0
	accepted events -d 0.5 -p 0042
	accepted top -i 0.01 -n 1 -l 0 --window 0.1 --resync 0.1 --max-ports 1
	accepted top -i 86400 -n 4294967295 -l 1000000 --window 3600 --resync 86400 \
		--max-ports 16777216
	accepted -i 5 --json
	accepted hist -i 0.01 -n 1 --cumulative --json
	accepted hist --interval 86400 --count 4294967295
	accepted serve -l 127.0.0.1:0 --top 1
	accepted serve --listen "[::1]:0" --top 100000 --bpf-stats
	accepted serve -l 127.0.0.1:0 --pid-labels
	accepted status -l 0 --max-ports 1 -v
	accepted status --limit 1000000 --max-ports 16777216 --json
else
	echo "cli: SKIP accepted values: this user may load BPF, a valid line would start tracing"
fi

echo "cli: $passed passed, $failed failed (as: $users)"
eph_count "cli cases" "$passed" "$failed"
[ $failed = 0 ]
