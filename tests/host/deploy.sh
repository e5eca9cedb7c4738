#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The deploy/ files: Prometheus alert rules (promtool check rules + promtool test rules), the
# systemd unit (systemd-analyze verify, with ExecStart pointed at this tree's binary, and its
# exposure score), the Kubernetes DaemonSet (YAML structure and cross-references: no API server
# here to validate against). Needs no root. Exit 0 on success, 1 on a failure, 77 (SKIP) when
# promtool is missing. Parts whose tool is missing say SKIP and why.
#
# Usage: tests/host/deploy.sh [path/to/ephtrace]    (from the top of the tree)
set -eu

EPHTRACE=${1:-./ephtrace}
PY=/usr/bin/python3
FAILED=0
WORK=$(mktemp -d /tmp/ephtest-deploy.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

command -v promtool >/dev/null || { echo "SKIP: deploy.sh: no promtool (Debian prometheus)"; exit 77; }

run() { # what, command...
	what=$1
	shift
	if "$@" >"$WORK/out" 2>&1; then
		echo "ok: $what"
	else
		echo "FAIL: deploy.sh: $what:"
		cat "$WORK/out"
		FAILED=1
	fi
}

run "promtool check rules" promtool check rules deploy/prometheus/ephtrace.rules.yml
run "promtool test rules" promtool test rules deploy/prometheus/ephtrace.rules.test.yml

if command -v systemd-analyze >/dev/null && [ -x "$EPHTRACE" ]; then
	# verify checks that ExecStart's binary exists: use this tree's
	sed "s|/usr/local/bin/ephtrace|$(realpath "$EPHTRACE")|" deploy/ephtrace.service \
		>"$WORK/ephtrace.service"
	run "systemd-analyze verify ephtrace.service" systemd-analyze verify "$WORK/ephtrace.service"
	if systemd-analyze security --offline=true "$WORK/ephtrace.service" >"$WORK/sec" 2>&1; then
		score=$(sed -n 's/.*Overall exposure level for ephtrace.service: \([0-9.]*\).*/\1/p' "$WORK/sec")
		echo "systemd-analyze security: exposure $score (0 = locked down, 10 = unprotected)"
		# root with CAP_SYS_ADMIN scores about 3; above 5 means the hardening was lost
		awk -v s="$score" 'BEGIN { exit !(s != "" && s + 0 <= 5.0) }' ||
			{ echo "FAIL: deploy.sh: exposure $score above 5.0"; FAILED=1; }
	fi
else
	echo "SKIP: systemd-analyze verify (no systemd-analyze, or no $EPHTRACE: make ephtrace)"
fi

if "$PY" -c 'import yaml' 2>/dev/null; then
	run "kubernetes/daemonset.yaml structure" "$PY" - deploy/kubernetes/daemonset.yaml <<'PYEOF'
import sys, yaml

docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = {d["kind"]: d for d in docs}
ds = kinds["DaemonSet"]
fails = []

def check(what, want, got):
    if want != got:
        fails.append(f"{what}: expected {want!r}, got {got!r}")

check("DaemonSet apiVersion", "apps/v1", ds["apiVersion"])
check("namespace exists", ds["metadata"]["namespace"], kinds["Namespace"]["metadata"]["name"])
spec = ds["spec"]["template"]["spec"]
labels = ds["spec"]["template"]["metadata"]["labels"]
for k, v in ds["spec"]["selector"]["matchLabels"].items():
    check(f"selector {k} matches the pod labels", v, labels.get(k))
check("hostPID", True, spec.get("hostPID"))
check("hostNetwork", True, spec.get("hostNetwork"))
(c,) = spec["containers"]
sc = c["securityContext"]
check("privileged", False, sc.get("privileged"))
check("allowPrivilegeEscalation", False, sc.get("allowPrivilegeEscalation"))
check("capabilities dropped", ["ALL"], sc["capabilities"]["drop"])
check("capabilities added", ["BPF", "PERFMON", "SYS_ADMIN", "SYS_PTRACE"],
      sc["capabilities"]["add"])
check("command", "serve", c["args"][0])
listen = c["args"][c["args"].index("--listen") + 1]
env = {e["name"] for e in c.get("env", [])}
if listen.startswith("$("):
    check("--listen variable defined", True, listen[2:listen.index(")")] in env)
port = int(listen.rsplit(":", 1)[1])
ann = ds["spec"]["template"]["metadata"]["annotations"]
check("prometheus.io/port", str(port), ann["prometheus.io/port"])
check("containerPort", port, c["ports"][0]["containerPort"])
for probe in ("livenessProbe", "readinessProbe"):
    check(f"{probe} path", "/healthz", c[probe]["httpGet"]["path"])
    check(f"{probe} port", port, c[probe]["httpGet"]["port"])
volumes = {v["name"] for v in spec["volumes"]}
for m in c["volumeMounts"]:
    check(f"volume {m['name']} exists", True, m["name"] in volumes)
    check(f"mount {m['mountPath']} read-only", True, m.get("readOnly"))
for f in fails:
    print(f)
sys.exit(1 if fails else 0)
PYEOF
else
	echo "SKIP: daemonset.yaml structure (no python3-yaml for $PY)"
fi

[ $FAILED = 0 ] && echo "PASS: deploy.sh"
exit $FAILED
