#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ephtrace on a Kubernetes node without Kubernetes: pods made of real cgroups and the node's
# files, read under --node-root.
#
# Under a temporary node root, as the kubelet and containerd lay them out:
#   pod A "web-6d4b75cb6d-x7k2p" in namespace "shop" (its names from the kubelet's logs only):
#     var/log/pods/shop_web-6d4b75cb6d-x7k2p_<uidA>/{web,sidecar}/0.log
#     var/log/containers/web-6d4b75cb6d-x7k2p_shop_{web-<idA>,sidecar-<other>}.log ->
#       /var/log/pods/.../0.log (absolute links, as the kubelet makes them: read, not followed)
#   pod B "api-0" in namespace "payments" (its names from containerd's bundle only):
#     run/containerd/io.containerd.runtime.v2.task/k8s.io/<idB>/config.json with the
#     io.kubernetes.cri.* annotations
# and the cgroups, below a parent of this run's own (the parser matches the components):
#   A: cgroupfs driver, in cgroup v1's pids hierarchy (else cgroup v2):
#      /ephtest-pods-R/kubepods/besteffort/pod<uidA>/<idA>
#   B: systemd driver, on the cgroup2 mount (/sys/fs/cgroup/unified on a hybrid host like this
#      one, else /sys/fs/cgroup; without one, the cgroupfs shape in the pids hierarchy):
#      /ephtest-pods-R/kubepods.slice/kubepods-burstable.slice/
#      kubepods-burstable-pod<uidB_with_underscores>.slice/cri-containerd-<idB>.scope
# A process per pod moves itself into its container's cgroup (a shell writing cgroup.procs),
# then execs the test client (tests/docker/client.c) in a network namespace of its own: 3
# connect()s to its own listener, held until SIGTERM. A third, on the host, does the same.
#
# `ephtrace events --json --node-root R`, `events ... --pod <pod A>`, `events ... --pod
# payments/api-0` and, while they hold, `ephtrace status --json --node-root R` must give each
# process's events and its process entry exactly: container_id, pod, pod_namespace, pod_uid,
# container (and for B container_runtime "containerd"); the host process: all null; --pod:
# only that pod's events, all of them.
#
# Exit 0 passed, 1 failed (expected vs got printed). When the cgroups cannot be created here
# it prints "SKIP pods: <why>" and exits 0; in no other case does it pass without checking.
#
# Usage: tests/host/pods.sh [path/to/ephtrace]    (as root, from the top of the tree)
set -eu

EPHTRACE=$(realpath "${1:-./ephtrace}")
HERE=$(dirname "$(realpath "$0")")
PY=/usr/bin/python3
T0=$(date +%s.%N)
T=""
PIDS=""
EPH_PIDS=""
CGROUPS="" # created, outermost first
SKIPPED=0

say() {
	echo "pods.sh: $*"
}

SAID=0 # a FAIL or SKIP line was printed

die() {
	echo "FAIL: pods.sh: $*"
	SAID=1
	exit 1
}

skip() {
	echo "SKIP pods: $*"
	SKIPPED=1
	SAID=1
	exit 0
}

elapsed() {
	echo "$(date +%s.%N) $T0" | awk '{ printf "%.1f", $1 - $2 }'
}

cleanup() {
	rc=$?
	set +e
	if [ $rc != 0 ] && [ $SAID = 0 ]; then # set -e, or a signal
		echo "FAIL: pods.sh: stopped by an error or a signal (exit status $rc), see above"
	fi
	for p in $EPH_PIDS $PIDS; do
		kill -9 "$p" 2>/dev/null
	done
	for p in $EPH_PIDS $PIDS; do
		wait "$p" 2>/dev/null
	done
	left=""
	# deepest first; a cgroup empties once its process is reaped
	for cg in $(echo "$CGROUPS" | tr ' ' '\n' | awk 'NF { print length($0), $0 }' | sort -rn |
		cut -d' ' -f2-); do
		i=0
		while [ -d "$cg" ] && ! rmdir "$cg" 2>/dev/null && [ $i -lt 50 ]; do
			i=$((i + 1))
			sleep 0.1
		done
		[ -d "$cg" ] && left="$left $cg"
	done
	[ -n "$T" ] && rm -rf "$T"
	if [ -n "$left" ]; then
		echo "FAIL: pods.sh: cleanup left cgroups:$left"
		rc=1
	elif [ "$SKIPPED" = 0 ] && [ -n "$T" ]; then
		say "cleanup: processes, cgroups and $T gone ($(elapsed) s in all)"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

[ "$(id -u)" = 0 ] || die "needs root (BPF, cgroups)"
[ -x "$EPHTRACE" ] || die "no ephtrace binary at $EPHTRACE (make ephtrace)"
for tool in "$PY" gcc unshare; do
	command -v "$tool" >/dev/null || die "no $tool (tests/deps.sh installs it)"
done

T=$(mktemp -d /tmp/ephtest-pods.XXXXXX)
NODE=$T/node
R=ephtest-pods-$(basename "$T" | cut -d. -f2)
gcc -O2 -Wall -Wextra -Werror -o "$T/client" "$HERE/../docker/client.c" ||
	die "cannot build tests/docker/client.c"

hex64() {
	od -An -tx1 -N32 /dev/urandom | tr -d ' \n'
}
ID_A=$(hex64)
ID_SIDECAR=$(hex64)
ID_B=$(hex64)
UID_A=$(cat /proc/sys/kernel/random/uuid)
UID_B=$(cat /proc/sys/kernel/random/uuid)
POD_A=web-6d4b75cb6d-x7k2p NS_A=shop CT_A=web
POD_B=api-0 NS_B=payments CT_B=server

# --- the cgroups (a SKIP only here)
mkcg() { # path: created with its parents, each remembered for the cleanup
	parent=${1%/*}
	[ -d "$parent" ] || mkcg "$parent" || return 1
	[ -d "$1" ] && return 0
	mkdir "$1" 2>"$T/mkdir.err" || return 1
	CGROUPS="$CGROUPS $1"
}
is_fs() { # directory, type
	[ -d "$1" ] && [ "$(stat -f -c %T "$1")" = "$2" ]
}
V1=/sys/fs/cgroup/pids # cgroup v1's pids hierarchy, or ""
is_fs "$V1" cgroupfs || V1=""
V2=/sys/fs/cgroup/unified # cgroup v2: hybrid, unified, or ""
is_fs "$V2" cgroup2fs || V2=/sys/fs/cgroup
is_fs "$V2" cgroup2fs || V2=""
[ -n "$V1$V2" ] || skip "neither a cgroup v1 pids hierarchy nor a cgroup2 mount"
UID_B_=$(echo "$UID_B" | tr - _)
CG_A=${V1:-$V2}/$R/kubepods/besteffort/pod$UID_A/$ID_A
mkcg "$CG_A" || skip "cannot create $CG_A: $(cat "$T/mkdir.err")"
if [ -n "$V2" ]; then
	CG_B=$V2/$R/kubepods.slice/kubepods-burstable.slice
	CG_B=$CG_B/kubepods-burstable-pod$UID_B_.slice/cri-containerd-$ID_B.scope
	RUNTIME_B=containerd
else
	say "no cgroup2 mount: pod B in the pids hierarchy, cgroupfs driver"
	CG_B=$V1/$R/kubepods/burstable/pod$UID_B/$ID_B
	RUNTIME_B="" # the path does not say; the bundle may
fi
mkcg "$CG_B" || skip "cannot create $CG_B: $(cat "$T/mkdir.err")"
say "cgroups: $CG_A, $CG_B"

# --- the node's files
LOGS=$NODE/var/log
for c in "$CT_A" sidecar; do
	mkdir -p "$LOGS/pods/${NS_A}_${POD_A}_$UID_A/$c"
	echo '2026-12-03T00:00:00.000000000Z stdout F started' \
		>"$LOGS/pods/${NS_A}_${POD_A}_$UID_A/$c/0.log"
done
mkdir -p "$LOGS/containers"
ln -s "/var/log/pods/${NS_A}_${POD_A}_$UID_A/$CT_A/0.log" \
	"$LOGS/containers/${POD_A}_${NS_A}_$CT_A-$ID_A.log"
ln -s "/var/log/pods/${NS_A}_${POD_A}_$UID_A/sidecar/0.log" \
	"$LOGS/containers/${POD_A}_${NS_A}_sidecar-$ID_SIDECAR.log"
BUNDLE=$NODE/run/containerd/io.containerd.runtime.v2.task/k8s.io/$ID_B
mkdir -p "$BUNDLE/rootfs"
cat >"$BUNDLE/config.json" <<EOF
{"ociVersion":"1.1.0","process":{"args":["/server"],"cwd":"/"},"root":{"path":"rootfs"},
 "annotations":{"io.kubernetes.cri.container-type":"container",
  "io.kubernetes.cri.container-name":"$CT_B",
  "io.kubernetes.cri.image-name":"registry.example/api:1.0",
  "io.kubernetes.cri.sandbox-id":"$(hex64)",
  "io.kubernetes.cri.sandbox-name":"$POD_B",
  "io.kubernetes.cri.sandbox-namespace":"$NS_B",
  "io.kubernetes.cri.sandbox-uid":"$UID_B"},
 "linux":{"cgroupsPath":"kubepods-burstable-pod$UID_B_.slice:cri-containerd:$ID_B"}}
EOF

# --- ephtrace, before the workloads
eph() { # tag, args...
	tag=$1
	shift
	"$EPHTRACE" "$@" >"$T/$tag.out" 2>"$T/$tag.err" &
	EPH_PIDS="$EPH_PIDS $!"
	echo $! >"$T/$tag.pid"
}
eph events events --json --node-root "$NODE"
eph events-pod events --json --node-root "$NODE" --pod "$POD_A"
eph events-nspod events --json --node-root "$NODE" --pod "$NS_B/$POD_B"
for tag in events events-pod events-nspod; do
	i=0
	until grep -q 'using backend' "$T/$tag.err"; do
		i=$((i + 1))
		if ! kill -0 "$(cat "$T/$tag.pid")" 2>/dev/null || [ $i -ge 300 ]; then
			die "ephtrace $tag did not start: $(tail -c 400 "$T/$tag.err")"
		fi
		sleep 0.1
	done
done
say "ephtrace events and events --pod (NAME, NAMESPACE/NAME) ready ($(elapsed) s)"

# --- the workloads: into the cgroup, then the client in a private netns (its pid stays $!)
run() { # name, cgroup directory or ""
	sh -c 'if [ -n "$1" ]; then echo $$ >"$1/cgroup.procs" || exit 1; fi
		exec unshare -n "$2" -l -n 3' sh "$2" "$T/client" >"$T/$1.log" 2>&1 &
	PIDS="$PIDS $!"
	echo $! >"$T/$1.pid"
}
run a "$CG_A"
run b "$CG_B"
run host ""
for w in a b host; do
	i=0
	until grep -q '^done ' "$T/$w.log" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || die "workload $w: no 'done' within 10 s: $(tail -n 3 "$T/$w.log")"
		sleep 0.1
	done
	pid=$(cat "$T/$w.pid")
	cg=$(grep -E 'pids|^0::' "/proc/$pid/cgroup" | tr '\n' ' ')
	say "workload $w (pid $pid, $(grep '^done' "$T/$w.log")): $cg"
done
"$EPHTRACE" status --json --node-root "$NODE" >"$T/status.json" 2>"$T/status.err" ||
	die "ephtrace status --json --node-root failed: $(tail -c 400 "$T/status.err")"
for w in a b host; do
	kill -TERM "$(cat "$T/$w.pid")"
	wait "$(cat "$T/$w.pid")" || die "workload $w: exit status $? after SIGTERM"
done
PIDS=""
for tag in events events-pod events-nspod; do
	kill -INT "$(cat "$T/$tag.pid")"
	rc=0
	wait "$(cat "$T/$tag.pid")" || rc=$?
	echo $rc >"$T/$tag.rc"
done
EPH_PIDS=""
say "workloads and ephtrace stopped ($(elapsed) s)"

SAID=1 # the checker prints what passed or failed
ID_A=$ID_A ID_B=$ID_B UID_A=$UID_A UID_B=$UID_B POD_A=$POD_A POD_B=$POD_B NS_A=$NS_A \
	NS_B=$NS_B CT_A=$CT_A CT_B=$CT_B RUNTIME_B=$RUNTIME_B "$PY" - "$T" <<'EOF'
import json, os, sys

work, env = sys.argv[1], os.environ
CT_FIELDS = ("container_id", "pod", "pod_namespace", "pod_uid", "container")
want = {w: {"container_id": env["ID_" + k], "pod": env["POD_" + k],
            "pod_namespace": env["NS_" + k], "pod_uid": env["UID_" + k],
            "container": env["CT_" + k]} for w, k in (("a", "A"), ("b", "B"))}
want["host"] = dict.fromkeys(CT_FIELDS)
fails = []


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
    return [o for o in objs if o.get("event") != "summary"]


def fields(obj, keys=CT_FIELDS):
    return {k: obj.get(k, "<absent>") for k in keys}


wl = {}
for w in want:
    log = read(f"{w}.log").splitlines()
    wl[w] = {"pid": int(read(f"{w}.pid")),
             "ports": sorted(int(l.split()[1]) for l in log if l.startswith("port "))}
    check(f"workload {w}: 3 connections", 3, len(wl[w]["ports"]))
for tag in ("events", "events-pod", "events-nspod"):
    check(f"ephtrace {tag}: exit status after SIGINT", "0", read(f"{tag}.rc").strip())

events = json_lines("events")
for w, x in wl.items():
    mine = [e for e in events if e.get("pid") == x["pid"]]
    conn = [e for e in mine if e.get("event") == "assign" and e.get("op") == "connect"]
    check(f"events {w}: connect assignments of pid {x['pid']} (= getsockname)", x["ports"],
          sorted(e.get("sport") for e in conn))
    check(f"events {w}: its listener's bind and its connects", 1 + len(x["ports"]), len(mine))
    bad = [fields(e) for e in mine if fields(e) != want[w]]
    check(f"events {w}: pod fields of every event", [], bad[:2])
    if w == "b" and env["RUNTIME_B"]:
        check("events b: container_runtime (cri-containerd-<id>.scope)", [env["RUNTIME_B"]],
              sorted({e.get("container_runtime", "<absent>") for e in mine}))
    if w == "host":
        check("events host: container_runtime", [None],
              sorted({e.get("container_runtime", "<absent>") for e in mine}, key=str))
    else:
        print("pods.sh: events %s: container_runtime %s" % (
            w, sorted({str(e.get("container_runtime", "<absent>")) for e in mine})))

evp = json_lines("events-pod")
check("events --pod A: events of other pods or the host", [],
      [(e.get("pid"), e.get("pod")) for e in evp if e.get("pod") != want["a"]["pod"]][:3])
check("events --pod A: its connect assignments", wl["a"]["ports"],
      sorted(e.get("sport") for e in evp
             if e.get("event") == "assign" and e.get("op") == "connect"))
evp = json_lines("events-nspod")
check("events --pod NS_B/B: events of other pods or the host", [],
      [(e.get("pid"), e.get("pod_namespace"), e.get("pod")) for e in evp
       if (e.get("pod_namespace"), e.get("pod")) !=
       (want["b"]["pod_namespace"], want["b"]["pod"])][:3])
check("events --pod NS_B/B: its connect assignments", wl["b"]["ports"],
      sorted(e.get("sport") for e in evp
             if e.get("event") == "assign" and e.get("op") == "connect"))

try:
    snap = json.loads(read("status.json"))
except ValueError as e:
    snap = {}
    fails.append(f"status --json: not JSON: {e}")
procs = {p.get("pid"): p for p in snap.get("processes", [])}
for w, x in wl.items():
    p = procs.get(x["pid"], {})
    check(f"status {w}: process {x['pid']}: pod fields", want[w], fields(p))
    check(f"status {w}: held", len(x["ports"]), p.get("held"))

if fails:
    print("FAIL: pods.sh")
    for f in fails:
        print("  FAIL " + f)
    ev = [e for e in events if e.get("pid") == wl["a"]["pid"]][:1]
    print("--- an event of pod A:", json.dumps(ev[0]) if ev else None)
    sys.exit(1)
print("PASS: pods.sh (pod A by the kubelet's logs, pod B by containerd's bundle, a host "
      "process: events, events --pod NAME and NAMESPACE/NAME, status)")
EOF
