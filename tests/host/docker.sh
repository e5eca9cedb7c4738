#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ephtrace and real Docker containers: which container took which port.
#
# A Docker daemon of its own (Debian's docker.io: /usr/sbin/dockerd, /usr/bin/docker) with its
# data-root, exec-root, pidfile and socket in a temporary directory, no bridge, no iptables, no
# IP forwarding: the host's links and firewall are not touched. An image FROM scratch holds a
# static test client (tests/docker/client.c), built here; no registry. Two containers run it
# as PID 1 with --network none (a namespace of their own, loopback only) and small ranges,
# 40000-40019 and 41000-41029: each listens on 127.0.0.1:5000, connect()s to it until
# EADDRNOTAVAIL, tries twice more, prints every port (getsockname) and failure, holds its
# sockets until SIGTERM (docker stop), then resets them all and exits 0.
#
# Started before the containers: `ephtrace events --json`, `events --json --container <first
# 12 digits of the first container's id>`, `top --json --container <second's prefix>` and
# `serve`. While the clients hold their ports, `ephtrace status --json` and /metrics are taken.
# Checked exactly, per container (its id = docker inspect {{.Id}}, its pid = {{.State.Pid}},
# its netns = /proc/PID/ns/net):
#   events   connect assignments with its container_id: as many as the client made, the same
#            ports; EADDRNOTAVAIL failures: as many as the client had; container_runtime
#            "docker", pod fields null, pid and process_comm the client's; every event in its
#            netns carries its id (none null, none the other's); --container PREFIX: only its
#            events, all of them
#   status   its process: its container_id, held = its count; its netns row: its container_id
#   top      --container PREFIX: only that container's processes; held = its count
#   metrics  series labelled container_id="<id>"; the destination's and the process's held
#            gauges = its count, the process's (comm and container, no pid label) failure
#            counter = its failures; the host's netns has no container label
# Then the daemon goes (containerd and shims with it), and nothing may be left: no process
# started from the temporary directory or in the containers' cgroups, no mount under it, not
# the directory itself, the containers' cgroups or the shims' sockets (all removed here when
# the daemon could not do it). The time each stage took is printed as it goes.
#
# Exit 0 passed, 1 failed (expected vs got printed). When the daemon cannot start here, it
# prints "SKIP docker: <why>" and exits 0; in no other case does it pass without checking.
#
# Usage: tests/host/docker.sh [path/to/ephtrace]    (as root, from the top of the tree)
set -eu

EPHTRACE=$(realpath "${1:-./ephtrace}")
HERE=$(dirname "$(realpath "$0")")
PY=/usr/bin/python3
DOCKERD=/usr/sbin/dockerd
DOCKER_CLI=/usr/bin/docker # not /usr/local/bin/docker: another client
T0=$(date +%s.%N)
T=""
DAEMON_PID=""
EPH_PIDS=""
C1="-" C2="-" # the containers' ids
CGROUPS_BEFORE=""

say() {
	echo "docker.sh: $*"
}

SAID=0 # a FAIL or SKIP line was printed

die() {
	echo "FAIL: docker.sh: $*"
	SAID=1
	exit 1
}

skip() {
	echo "SKIP docker: $*"
	SKIPPED=1
	SAID=1
	exit 0
}
SKIPPED=0

elapsed() {
	echo "$(date +%s.%N) $T0" | awk '{ printf "%.1f", $1 - $2 }'
}

docker() {
	timeout 60 "$DOCKER_CLI" -H "unix://$T/docker.sock" "$@"
}

# Processes whose command line names the temporary directory: dockerd, containerd, the shims.
ours() {
	for p in /proc/[0-9]*; do
		{ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF "$T/" && echo "${p#/proc/}"
	done
	true
}

# The processes in the containers' cgroups (their pids as the host sees them), zombies aside.
containers_left() {
	for d in $(cgroups_left); do
		cat "$d/cgroup.procs" 2>/dev/null
	done | sort -u | while read -r p; do
		[ "$(cut -d')' -f2 "/proc/$p/stat" 2>/dev/null | cut -d' ' -f2)" = Z ] || echo "$p"
	done
}

# The containers' cgroups, in every hierarchy (runc removes them; not when the daemon died).
cgroups_left() {
	for d in /sys/fs/cgroup/*/docker/"$C1" /sys/fs/cgroup/*/docker/"$C2"; do
		[ -d "$d" ] && echo "$d"
	done
	true
}

# The shims' sockets (containerd 1.6: /run/containerd/s/<sha256 of containerd's socket,
# namespace and id>): a shim removes its own, unless it was killed.
shim_sockets() {
	for id in $C1 $C2; do
		s=$(printf '%s' "$T/exec/containerd/containerd.sock/moby/$id" | sha256sum | cut -d' ' -f1)
		[ -S "/run/containerd/s/$s" ] && echo "/run/containerd/s/$s"
	done
	true
}

mounts_under() {
	awk -v d="$T/" 'index($5, d) == 1 || $5 == substr(d, 1, length(d) - 1) { print $5 }' \
		/proc/self/mountinfo | awk '{ print length($0), $0 }' | sort -rn | cut -d' ' -f2-
}

stop_pid() { # pid, seconds: SIGTERM, then SIGKILL
	kill "$1" 2>/dev/null || return 0
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt $(($2 * 10)) ]; do
		i=$((i + 1))
		sleep 0.1
	done
	kill -9 "$1" 2>/dev/null || true
}

cleanup() {
	rc=$?
	set +e
	if [ $rc != 0 ] && [ $SAID = 0 ]; then # set -e, or a signal
		echo "FAIL: docker.sh: stopped by an error or a signal (exit status $rc), see above"
	fi
	for p in $EPH_PIDS; do
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ -z "$T" ] && exit $rc
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		docker rm -f c1 c2 >/dev/null 2>&1
		stop_pid "$DAEMON_PID" 20 # it stops its containerd, which stops the shims
		wait "$DAEMON_PID" 2>/dev/null
	fi
	for p in $(ours); do
		cmd=$({ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | cut -c1-120)
		say "cleanup: killing $p left by the daemon: $cmd"
		kill -9 "$p" 2>/dev/null
	done
	for p in $(containers_left); do
		say "cleanup: killing the client $p left in its container"
		kill -9 "$p" 2>/dev/null
	done
	i=0
	while [ -n "$(ours)$(containers_left)" ] && [ $i -lt 50 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	for d in $(cgroups_left); do
		rmdir "$d" 2>/dev/null || say "cleanup: cannot remove the cgroup $d"
	done
	for s in $(shim_sockets); do
		say "cleanup: removing the socket $s of a shim that was killed"
		rm -f "$s"
	done
	for m in $(mounts_under); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null ||
			say "cleanup: cannot unmount $m"
	done
	# docker leaves its parent cgroup (/docker in every v1 hierarchy): gone if it was not there
	for d in /sys/fs/cgroup/*/docker /sys/fs/cgroup/docker; do
		case " $CGROUPS_BEFORE " in *" $d "*) continue ;; esac
		[ -d "$d" ] && rmdir "$d" 2>/dev/null
	done
	left=""
	[ -n "$(ours)$(containers_left)" ] &&
		left="$left processes: $(ours | tr '\n' ' ')$(containers_left | tr '\n' ' ')"
	[ -n "$(cgroups_left)$(shim_sockets)" ] &&
		left="$left cgroups or sockets: $(cgroups_left | tr '\n' ' ')$(shim_sockets | tr '\n' ' ')"
	if [ -n "$(mounts_under)" ]; then # then the directory stays: rm -rf would go into them
		left="$left mounts: $(mounts_under | tr '\n' ' ')"
	else
		rm -rf "$T"
		[ -e "$T" ] && left="$left directory $T"
	fi
	if [ -n "$left" ]; then
		echo "FAIL: docker.sh: cleanup left$left"
		rc=1
	elif [ "$SKIPPED" = 0 ]; then
		say "cleanup: daemon, containerd, shims, mounts and $T gone ($(elapsed) s in all)"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

[ "$(id -u)" = 0 ] || die "needs root (BPF, a Docker daemon)"
[ -x "$EPHTRACE" ] || die "no ephtrace binary at $EPHTRACE (make ephtrace)"
for tool in "$PY" gcc curl timeout; do
	command -v "$tool" >/dev/null || die "no $tool (tests/deps.sh installs it)"
done
[ -x "$DOCKERD" ] || skip "no $DOCKERD (the docker.io package: tests/deps.sh installs it)"
[ -x "$DOCKER_CLI" ] || skip "no $DOCKER_CLI (the docker.io package)"
for d in /sys/fs/cgroup/*/docker /sys/fs/cgroup/docker; do
	[ -d "$d" ] && CGROUPS_BEFORE="$CGROUPS_BEFORE $d"
done

# /tmp: short enough for the daemon's unix sockets (108 bytes)
T=$(mktemp -d /tmp/ephtest-docker.XXXXXX)
export DOCKER_CONFIG="$T/cli" DOCKER_BUILDKIT=0
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH

# --- the client and its image
mkdir "$T/image"
gcc -static -O2 -Wall -Wextra -Werror -o "$T/image/client" "$HERE/../docker/client.c" ||
	die "cannot build tests/docker/client.c static (libc6-dev's libc.a)"
printf 'FROM scratch\nCOPY client /client\nENTRYPOINT ["/client"]\n' >"$T/image/Dockerfile"

# --- the daemon
# its own config (not /etc/docker/daemon.json), and its key there too (not /etc/docker/key.json)
printf '{"deprecated-key-path": "%s/key.json"}\n' "$T" >"$T/daemon.json"
"$DOCKERD" --config-file "$T/daemon.json" --data-root "$T/root" --exec-root "$T/exec" \
	--pidfile "$T/docker.pid" -H "unix://$T/docker.sock" --bridge=none --iptables=false \
	--ip6tables=false --ip-forward=false --ip-masq=false >"$T/dockerd.log" 2>&1 &
DAEMON_PID=$!
i=0
until docker info >/dev/null 2>&1; do
	i=$((i + 1))
	if ! kill -0 "$DAEMON_PID" 2>/dev/null || [ $i -ge 300 ]; then
		why=$(grep -iE 'level=(fatal|error)|failed' "$T/dockerd.log" | tail -n 1)
		[ -n "$why" ] || why=$(tail -n 1 "$T/dockerd.log")
		skip "the daemon did not start within 30 s: $(echo "$why" | cut -c1-200)"
	fi
	sleep 0.1
done
info=$(docker info -f 'storage {{.Driver}}, cgroup driver {{.CgroupDriver}}, v{{.CgroupVersion}}')
say "daemon up in $(elapsed) s: $info"

IMAGE=ephtest-client:$$
docker build -q -t "$IMAGE" "$T/image" >/dev/null || die "docker build of the client image failed"
docker create --name c1 --network none --sysctl net.ipv4.ip_local_port_range="40000 40019" \
	"$IMAGE" >"$T/c1.id" || die "docker create c1 failed"
docker create --name c2 --network none --sysctl net.ipv4.ip_local_port_range="41000 41029" \
	"$IMAGE" >"$T/c2.id" || die "docker create c2 failed"
C1=$(cat "$T/c1.id")
C2=$(cat "$T/c2.id")
C1_12=$(echo "$C1" | cut -c1-12) # a prefix, as docker accepts it
C2_12=$(echo "$C2" | cut -c1-12)
say "image and containers c1 $C1_12, c2 $C2_12 created ($(elapsed) s)"

# --- ephtrace, before the containers start
eph() { # tag, args...
	tag=$1
	shift
	"$EPHTRACE" "$@" >"$T/$tag.out" 2>"$T/$tag.err" &
	EPH_PIDS="$EPH_PIDS $!"
	echo $! >"$T/$tag.pid"
}
eph events events --json
eph events-c1 events --json --container "$C1_12"
eph top-c2 top --json -i 0.5 --container "$C2_12"
eph serve serve --listen 127.0.0.1:0 --top 1000
for tag in events events-c1 top-c2 serve; do
	i=0
	until grep -q 'using backend' "$T/$tag.err"; do
		i=$((i + 1))
		if ! kill -0 "$(cat "$T/$tag.pid")" 2>/dev/null || [ $i -ge 300 ]; then
			die "ephtrace $tag did not start: $(tail -c 400 "$T/$tag.err")"
		fi
		sleep 0.1
	done
done
i=0
until grep -q 'listening on http://' "$T/serve.err"; do
	i=$((i + 1))
	[ $i -lt 100 ] || die "ephtrace serve did not start listening: $(tail -c 400 "$T/serve.err")"
	sleep 0.1
done
URL=$(sed -n 's|.*listening on \(http://127\.0\.0\.1:[0-9]*/metrics\).*|\1|p' "$T/serve.err")
say "ephtrace events, events --container, top --container and serve ready ($(elapsed) s)"

# --- the containers: exhaust their ranges, hold
docker start c1 c2 >/dev/null || die "docker start failed: $(tail -n 5 "$T/dockerd.log")"
for c in c1 c2; do
	pid=$(docker inspect -f '{{.State.Pid}}' $c) || die "docker inspect $c failed"
	echo "$pid" >"$T/$c.pid"
	readlink "/proc/$pid/ns/net" | tr -dc 0-9 >"$T/$c.netns"
	i=0
	until docker logs $c 2>&1 | grep -q '^done '; do
		i=$((i + 1))
		kill -0 "$DAEMON_PID" 2>/dev/null || die "the daemon died: $(tail -n 2 "$T/dockerd.log")"
		[ $i -lt 200 ] ||
			die "$c: no 'done' from the client within 20 s: $(docker logs $c 2>&1 | tail -n 3)"
		sleep 0.1
	done
	docker logs $c >"$T/$c.log" 2>&1 || die "docker logs $c failed: $(tail -n 2 "$T/$c.log")"
	say "$c (pid $pid, netns $(cat "$T/$c.netns")): $(grep '^done' "$T/$c.log")"
done

# while they hold: status, and /metrics once serve shows both destinations full (10 s at most)
"$EPHTRACE" status --json >"$T/status.json" 2>"$T/status.err" ||
	die "ephtrace status --json failed: $(tail -c 400 "$T/status.err")"
# (a namespace made after serve started has its range series from serve's next scan of the
# namespaces: every --resync, 5 s)
want() { # container: its destination's held gauge, its range and its process's failures
	printf 'ephtrace_destination_ports_held{netns="%s",.*dport="5000".*} %s\n' \
		"$(cat "$T/$1.netns")" "$(grep -c '^port ' "$T/$1.log")"
	printf 'ephtrace_port_range_usable{netns="%s".*} %s\n' \
		"$(cat "$T/$1.netns")" "$(grep -c '^port ' "$T/$1.log")"
	printf 'ephtrace_process_port_failures_total{.*container_id="%s".*} %s\n' \
		"$(cat "$T/$1.id")" "$(grep -c '^fail ' "$T/$1.log")"
}
want c1 >"$T/want.txt"
want c2 >>"$T/want.txt"
i=0
while :; do
	curl -sf -o "$T/metrics.prom" "$URL" || die "GET $URL failed"
	[ "$(grep -c -f "$T/want.txt" "$T/metrics.prom")" = 6 ] && break
	i=$((i + 1))
	[ $i -lt 30 ] || break # the checks below say what is wrong
	sleep 0.5
done
say "/metrics as expected after $i retries"
sleep 1 # top's next snapshot
say "status and /metrics taken while the clients hold ($(elapsed) s)"

# --- SIGTERM: the clients reset their sockets and exit 0
date -u +%Y-%m-%dT%H:%M:%S.%NZ >"$T/stop.time" # as ephtrace writes "time"
docker stop -t 10 c1 c2 >/dev/null || die "docker stop failed"
for c in c1 c2; do
	docker inspect -f '{{.State.ExitCode}}' $c >"$T/$c.exit" || die "docker inspect $c failed"
	docker logs $c >"$T/$c.log" 2>&1 || die "docker logs $c failed: $(tail -n 2 "$T/$c.log")"
done
for tag in events events-c1 top-c2 serve; do
	kill -INT "$(cat "$T/$tag.pid")" 2>/dev/null || true
done
for tag in events events-c1 top-c2 serve; do
	rc=0
	wait "$(cat "$T/$tag.pid")" || rc=$?
	echo $rc >"$T/$tag.rc"
done
EPH_PIDS=""
say "containers stopped, ephtrace stopped ($(elapsed) s)"

SAID=1 # the checker prints what passed or failed
"$PY" - "$T" "$C1" "$C2" <<'EOF'
import json, os, re, sys

work, ids = sys.argv[1], {"c1": sys.argv[2], "c2": sys.argv[3]}
fails = []
CT_FIELDS = ("container_id", "container_runtime", "pod", "pod_namespace", "pod_uid", "container")


def check(what, expected, got):
    if expected != got:
        fails.append(f"{what}: expected {expected!r}, got {got!r}")


def read(name):
    with open(f"{work}/{name}") as f:
        return f.read()


def json_lines(tag):
    objs = []
    for n, line in enumerate(read(f"{tag}.out").splitlines()):
        try:
            objs.append(json.loads(line))
        except ValueError:
            fails.append(f"{tag}: line {n + 1} is not JSON: {line[:120]!r}")
    return objs


def ct_fields(obj):
    return {k: obj.get(k, "<absent>") for k in CT_FIELDS}


def docker_ct(c):
    return {"container_id": ids[c], "container_runtime": "docker", "pod": None,
            "pod_namespace": None, "pod_uid": None, "container": None}


# what each client did, as the kernel told it
ct = {}
for c in ids:
    log = read(f"{c}.log").splitlines()
    ports = sorted(int(l.split()[1]) for l in log if l.startswith("port "))
    fails_ = [l.split()[2] for l in log if l.startswith("fail ")]
    ct[c] = {"id": ids[c], "pid": int(read(f"{c}.pid")), "netns": int(read(f"{c}.netns")),
             "ports": ports, "failed": len(fails_)}
    check(f"{c}: client failures all EADDRNOTAVAIL", ["EADDRNOTAVAIL"] * 3, fails_)
    check(f"{c}: client 'closed' line after SIGTERM (every socket and its accepted end)",
          [f"closed {2 * len(ports)}"], [l for l in log if l.startswith("closed ")])
    check(f"{c}: client exit code", "0", read(f"{c}.exit").strip())
check("c1: ports taken (range 40000-40019)", list(range(40000, 40020)), ct["c1"]["ports"])
check("c2: ports taken (range 41000-41029)", list(range(41000, 41030)), ct["c2"]["ports"])
for tag in ("events", "events-c1", "top-c2", "serve"):
    check(f"ephtrace {tag}: exit status after SIGINT", "0", read(f"{tag}.rc").strip())

# --- events
events = [e for e in json_lines("events") if e.get("event") != "summary"]
for c, x in ct.items():
    mine = [e for e in events if e.get("container_id") == x["id"]]
    conn = [e for e in mine if e.get("event") == "assign" and e.get("op") == "connect"]
    check(f"events {c}: connect assignments with its container_id", len(x["ports"]), len(conn))
    check(f"events {c}: their ports (= getsockname)", x["ports"],
          sorted(e.get("sport") for e in conn))
    nfail = sum(1 for e in mine if e.get("event") == "fail" and e.get("op") == "connect" and
                e.get("error") == "EADDRNOTAVAIL")
    check(f"events {c}: EADDRNOTAVAIL failures with its container_id", x["failed"], nfail)
    in_ns = [e for e in events if e.get("netns") == x["netns"]]
    check(f"events {c}: events in its netns {x['netns']} (connects, failures, the listener)",
          len(x["ports"]) + x["failed"] + 1, len(in_ns))
    bad = [ct_fields(e) for e in in_ns if ct_fields(e) != docker_ct(c)]
    check(f"events {c}: every event in its netns attributed to it and only it", [], bad[:3])
    bad = [(e.get("pid"), e.get("process_comm")) for e in in_ns
           if (e.get("pid"), e.get("process_comm")) != (x["pid"], "client")]
    check(f"events {c}: pid (host's) and process_comm of every event", [], bad[:3])
    check(f"events {c}: events with its id outside its netns", [],
          [e.get("netns") for e in mine if e.get("netns") != x["netns"]][:3])
check("events: every event has the container fields",
      [], [e.get("event") for e in events if not set(CT_FIELDS) <= set(e)][:3])

# --container <c1's first 12 digits>: c1's events, all of them, and only those
ev1 = [e for e in json_lines("events-c1") if e.get("event") != "summary"]
check("events --container c1: events of another container or of the host", [],
      [(e.get("container_id"), e.get("comm"), e.get("netns")) for e in ev1
       if e.get("container_id") != ct["c1"]["id"]][:3])
check("events --container c1: its connect assignments", ct["c1"]["ports"],
      sorted(e.get("sport") for e in ev1
             if e.get("event") == "assign" and e.get("op") == "connect"))
check("events --container c1: its failures", ct["c1"]["failed"],
      sum(1 for e in ev1 if e.get("event") == "fail"))

# --- status, taken while the clients held their ports
try:
    snap = json.loads(read("status.json"))
except ValueError as e:
    snap = {}
    fails.append(f"status --json: not JSON: {e}")
procs = {p.get("pid"): p for p in snap.get("processes", [])}
netns = {n.get("netns"): n for n in snap.get("netns", [])}
for c, x in ct.items():
    p = procs.get(x["pid"], {})
    check(f"status {c}: its process {x['pid']}: container fields", docker_ct(c), ct_fields(p))
    check(f"status {c}: its process: held", len(x["ports"]), p.get("held"))
    n = netns.get(x["netns"], {})
    check(f"status {c}: netns row {x['netns']}: container fields", docker_ct(c), ct_fields(n))
    check(f"status {c}: netns row: range", (len(x["ports"]), len(x["ports"])),
          (n.get("usable"), n.get("taken")))
# the host's own processes (pid null: TIME_WAIT, no owner; /docker/: some other container)
host = [p for p in snap.get("processes", []) if p.get("pid") is not None
        and p.get("pid") not in (ct["c1"]["pid"], ct["c2"]["pid"])
        and "/docker/" not in str(p.get("cgroup"))]
check("status: host processes' container fields (all null)", [],
      [(p.get("pid"), p.get("comm"), ct_fields(p)) for p in host
       if ct_fields(p) != dict.fromkeys(CT_FIELDS)][:3])

# --- top --container <c2's prefix>: the last snapshot taken while c2 held its ports
stop_time = read("stop.time").strip()
snaps = [s for s in json_lines("top-c2") if str(s.get("time")) < stop_time and
         any(p.get("pid") == ct["c2"]["pid"] for p in s.get("processes", []))]
check("top --container c2: snapshots with c2's process before docker stop", True, len(snaps) > 0)
if snaps:
    s = snaps[-1]
    check("top --container c2: only c2's processes", [ct["c2"]["pid"]],
          [p.get("pid") for p in s.get("processes", [])])
    p = s["processes"][0]
    check("top --container c2: its process's container fields", docker_ct("c2"), ct_fields(p))
    check("top --container c2: held", len(ct["c2"]["ports"]), p.get("held"))

# --- /metrics
series = []
for line in read("metrics.prom").splitlines():
    m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
    if m:
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        series.append((m.group(1), labels, float(m.group(3))))
host_netns = os.stat("/proc/self/ns/net").st_ino  # this test runs in the host's
for c, x in ct.items():
    labelled = [s for s in series if s[1].get("container_id") == x["id"]]
    check(f"metrics {c}: series with container_id=\"{x['id'][:12]}...\"", True, len(labelled) > 0)
    d = [s for s in series if s[0] == "ephtrace_destination_ports_held" and
         s[1].get("netns") == str(x["netns"]) and s[1].get("dport") == "5000"]
    check(f"metrics {c}: ephtrace_destination_ports_held of 127.0.0.1:5000 in its netns",
          [(x["id"], len(x["ports"]))], [(s[1].get("container_id"), s[2]) for s in d])
    # a process is its comm and container (no pid label): the container's one client
    p = [s for s in series if s[0] == "ephtrace_process_ports_held" and
         s[1].get("container_id") == x["id"]]
    check(f"metrics {c}: ephtrace_process_ports_held of its process (pid {x['pid']})",
          [(x["id"], len(x["ports"]), False)],
          [(s[1].get("container_id"), s[2], "pid" in s[1]) for s in p])
    # its failures, in the series of its container (not the host's, not waiting)
    p = [s for s in series if s[0] == "ephtrace_process_port_failures_total" and
         s[1].get("container_id") == x["id"]]
    check(f"metrics {c}: ephtrace_process_port_failures_total of its process",
          [(x["id"], "EADDRNOTAVAIL", x["failed"])],
          [(s[1].get("container_id"), s[1].get("error"), s[2]) for s in p])
    r = [s for s in series if s[0] == "ephtrace_port_range_usable" and
         s[1].get("netns") == str(x["netns"])]
    check(f"metrics {c}: ephtrace_port_range_usable of its netns",
          [(x["id"], len(x["ports"]))], [(s[1].get("container_id"), s[2]) for s in r])
    check(f"metrics {c}: no pod labels on a container outside Kubernetes", [],
          sorted({k for s in labelled for k in ("pod", "namespace", "container") if k in s[1]}))
r = [s[1] for s in series
     if s[0] == "ephtrace_port_range_usable" and s[1].get("netns") == str(host_netns)]
check("metrics: the host's netns has no container label", [{"netns": str(host_netns)}], r)

if fails:
    print("FAIL: docker.sh")
    for f in fails:
        print("  FAIL " + f)
    c1 = [e for e in events if e.get("netns") == ct["c1"]["netns"]][:1]
    print("--- an event of c1:", json.dumps(c1[0]) if c1 else None)
    print("--- /metrics series of c1's netns or pid:")
    for s in series:
        if s[1].get("netns") == str(ct["c1"]["netns"]) or s[1].get("pid") == str(ct["c1"]["pid"]):
            print("   ", s[0], s[1], s[2])
    sys.exit(1)
print("PASS: docker.sh (c1 %d ports + %d EADDRNOTAVAIL, c2 %d + %d, in events, status, top, "
      "metrics)" % (len(ct["c1"]["ports"]), ct["c1"]["failed"], len(ct["c2"]["ports"]),
                    ct["c2"]["failed"]))
EOF
