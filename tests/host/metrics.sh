#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ephtrace serve against real parsers and a real Prometheus:
# - /metrics as text 0.0.4 passes `promtool check metrics`; as OpenMetrics (Accept header) it
#   passes the strict parser of Debian's python3-prometheus-client; both hold the same samples,
#   no series twice, every histogram cumulative with _count equal to its +Inf bucket;
# - HTTP: GET and HEAD only (405 otherwise), 404 elsewhere, /healthz, content negotiation;
# - Debian's prometheus (loopback, its own config and data dir, 1 s scrapes) scrapes ephtrace
#   while a workload in a private netns with a 16-port range (40000-40015) makes 64 connect()s
#   to one listener and holds every socket: 16 succeed, 48 fail with EADDRNOTAVAIL. The query
#   API must then return exactly the workload's count: ephtrace_port_failures_total (which has
#   no netns or pid label: it counts the whole host) minus the EADDRNOTAVAIL failures other
#   processes had meanwhile, by ephtrace's own per-process series, and the workload's
#   ephtrace_process_port_failures_total must be exactly its count.
# Exit 0 on success, 1 on a failure (expected vs got printed), 77 (SKIP) when it cannot run.
#
# Usage: tests/host/metrics.sh [path/to/ephtrace]    (as root, from the top of the tree)
set -eu

EPHTRACE=${1:-./ephtrace}
PY=/usr/bin/python3 # Debian's python, with python3-prometheus-client
NS=ephtest-metrics-$$
WORK=$(mktemp -d /tmp/ephtest-metrics.XXXXXX)
PIDS=""
FAILED=0

skip() {
	echo "SKIP: metrics.sh: $*"
	exit 77
}

fail() {
	echo "FAIL: metrics.sh: $*"
	FAILED=1
}

die() {
	fail "$*"
	for f in serve.err prometheus.log; do
		[ -s "$WORK/$f" ] && { echo "--- $f"; tail -20 "$WORK/$f"; }
	done
	exit 1
}

cleanup() {
	for p in $PIDS $(ip netns pids "$NS" 2>/dev/null); do
		kill "$p" 2>/dev/null || true
	done
	for p in $PIDS; do
		wait "$p" 2>/dev/null || true
	done
	i=0
	while [ -n "$(ip netns pids "$NS" 2>/dev/null)" ] && [ $i -lt 50 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

[ "$(id -u)" = 0 ] || skip "needs root (BPF, network namespaces)"
[ -x "$EPHTRACE" ] || skip "no ephtrace binary at $EPHTRACE (make ephtrace)"
for tool in promtool prometheus curl ip; do
	command -v $tool >/dev/null || skip "no $tool (tests/deps.sh installs it)"
done
"$PY" -c 'import prometheus_client.openmetrics.parser' 2>/dev/null ||
	skip "no python3-prometheus-client for $PY"

# The namespace exists before ephtrace starts, so that its first range scan sees it.
ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace"
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" sh -c 'echo "40000 40015" > /proc/sys/net/ipv4/ip_local_port_range'
NETNS=$(stat -L -c %i "/run/netns/$NS")

free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() { # tries (0.1 s apart), command...
	n=$1
	shift
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt "$n" ] || return 1
		sleep 0.1
	done
}

# --- ephtrace serve on a port the kernel picks
"$EPHTRACE" serve --backend tracepoint --listen 127.0.0.1:0 --top 1000 2>"$WORK/serve.err" &
SERVE_PID=$!
PIDS="$PIDS $SERVE_PID"
wait_for 300 grep -q 'listening on http://' "$WORK/serve.err" ||
	die "ephtrace serve did not start listening"
grep -q 'using backend tracepoint' "$WORK/serve.err" || die "no 'using backend' line"
PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/metrics.*|\1|p' "$WORK/serve.err")
URL="http://127.0.0.1:$PORT"

# --- HTTP behaviour
check_http() { # what, expected, got
	if [ "$2" != "$3" ]; then fail "$1: expected '$2', got '$3'"; fi
}
code() {
	curl -s -o /dev/null -w '%{http_code}' "$@"
}
check_http "GET /healthz" 200 "$(code "$URL/healthz")"
check_http "GET /nope" 404 "$(code "$URL/nope")"
check_http "POST /metrics" 405 "$(code -X POST -d x=1 "$URL/metrics")"
check_http "DELETE /metrics" 405 "$(code -X DELETE "$URL/metrics")"
check_http "Allow header" "Allow: GET, HEAD" \
	"$(curl -s -D - -o /dev/null -X PUT "$URL/metrics" | tr -d '\r' | grep -i '^allow:' || true)"
check_http "HEAD /metrics" 200 "$(code -I "$URL/metrics")"
check_http "HEAD /metrics body" 0 "$(curl -s -I "$URL/metrics" -o /dev/null -w '%{size_download}')"
check_http "default Content-Type" "text/plain; version=0.0.4; charset=utf-8" \
	"$(curl -s -o /dev/null -w '%{content_type}' "$URL/metrics")"
check_http "OpenMetrics Content-Type" "application/openmetrics-text; version=1.0.0; charset=utf-8" \
	"$(curl -s -o /dev/null -w '%{content_type}' \
		-H 'Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1' \
		"$URL/metrics")"
check_http "text preferred by q" "text/plain; version=0.0.4; charset=utf-8" \
	"$(curl -s -o /dev/null -w '%{content_type}' \
		-H 'Accept: application/openmetrics-text;q=0.3,text/plain' "$URL/metrics")"
check_http "oversized header" 431 \
	"$(code -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)" "$URL/metrics")"

[ $FAILED = 0 ] && echo "HTTP: GET/HEAD, 404, 405 + Allow, 431, /healthz, content negotiation: ok"

# --- the workload: a listener, and a client that exhausts the range 4 times over
cat >"$WORK/workload.py" <<'EOF'
import errno, json, os, socket, sys, time

role, work = sys.argv[1], sys.argv[2]

def publish(name, obj):
    with open(os.path.join(work, name + ".tmp"), "w") as f:
        json.dump(obj, f)
    os.rename(os.path.join(work, name + ".tmp"), os.path.join(work, name))

if role == "server":
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", 5000))
    l.listen(256)
    publish("server.json", {"pid": os.getpid()})
    keep = []
    while True:
        keep.append(l.accept()[0])
else:
    held, counts = [], {"ok": 0, "EADDRNOTAVAIL": 0, "other": 0}
    for _ in range(64):
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", 5000))
            held.append(s)
            counts["ok"] += 1
        except OSError as e:
            s.close()
            counts["EADDRNOTAVAIL" if e.errno == errno.EADDRNOTAVAIL else "other"] += 1
    counts["pid"] = os.getpid()
    publish("client.json", counts)
    time.sleep(3600)  # hold every port (and stay alive) until the test ends
EOF

# ip netns exec execs the command: $! is the workload's own pid
ip netns exec "$NS" "$PY" "$WORK/workload.py" server "$WORK" &
PIDS="$PIDS $!"
wait_for 100 test -s "$WORK/server.json" || die "the listener did not start"

# --- Prometheus, scraping ephtrace every second
PROM_PORT=$(free_port)
cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: ephtrace
    static_configs:
      - targets: ["127.0.0.1:$PORT"]
EOF
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/data" \
	--web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn \
	>"$WORK/prometheus.log" 2>&1 &
PIDS="$PIDS $!"
PROM="http://127.0.0.1:$PROM_PORT"
wait_for 300 curl -sf "$PROM/-/ready" || die "prometheus did not become ready"

# query EXPR: the value of a one-element vector result, "none" when empty
query() {
	curl -s "$PROM/api/v1/query" --data-urlencode "query=$1" | "$PY" -c '
import json, sys
r = json.load(sys.stdin)
if r.get("status") != "success":
    print("error:" + r.get("error", "?")); sys.exit()
v = r["data"]["result"]
print("none" if not v else v[0]["value"][1] if len(v) == 1 else "many")'
}
up_is_1() { [ "$(query 'up{job="ephtrace"}')" = 1 ]; }
wait_for 300 up_is_1 || die "prometheus could not scrape ephtrace: up = $(query 'up{job="ephtrace"}')"

ip netns exec "$NS" "$PY" "$WORK/workload.py" client "$WORK" &
PIDS="$PIDS $!"
wait_for 300 test -s "$WORK/client.json" || die "the workload did not finish"
eval "$("$PY" -c '
import json, sys
c = json.load(open(sys.argv[1]))
print("WL_PID=%d WL_OK=%d WL_FAIL=%d WL_OTHER=%d" % (c["pid"], c["ok"], c["EADDRNOTAVAIL"], c["other"]))
' "$WORK/client.json")"
check_http "workload: connects that succeeded" 16 "$WL_OK"
check_http "workload: EADDRNOTAVAIL" 48 "$WL_FAIL"
check_http "workload: other errors" 0 "$WL_OTHER"
PIDS="$PIDS $WL_PID"

# --- the exposition itself, after the workload. ephtrace reads its events asynchronously (the
# kernel batches ring-buffer wakeups; serve drains every 100 ms): wait, bounded, until the
# workload's failures are in, then check that very exposition.
wl_failures_in() {
	curl -sf "$URL/metrics" | grep -q "^ephtrace_process_port_failures_total{pid=\"$WL_PID\".*error=\"EADDRNOTAVAIL\"} $WL_FAIL\$"
}
wait_for 50 wl_failures_in || echo "metrics.sh: the workload's failures did not show within 5 s"
curl -sf "$URL/metrics" -o "$WORK/metrics.prom" || die "GET /metrics failed"
curl -sf -H 'Accept: application/openmetrics-text; version=1.0.0' "$URL/metrics" \
	-o "$WORK/metrics.om" || die "GET /metrics (OpenMetrics) failed"
if promtool check metrics <"$WORK/metrics.prom" >"$WORK/promtool.out" 2>&1; then
	echo "promtool check metrics: clean ($(grep -vc '^#' "$WORK/metrics.prom") samples)"
else
	fail "promtool check metrics:"
	cat "$WORK/promtool.out"
fi
for golden in tests/golden/metrics.prom; do
	[ -f "$golden" ] || continue
	promtool check metrics <"$golden" >"$WORK/promtool.out" 2>&1 ||
		{ fail "promtool check metrics $golden:"; cat "$WORK/promtool.out"; }
done

"$PY" - "$WORK/metrics.prom" "$WORK/metrics.om" "$WL_PID" "$WL_FAIL" <<'EOF' || FAILED=1
import collections, math, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_parse
from prometheus_client.parser import text_string_to_metric_families as text_parse

text_path, om_path, pid, want = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
fails = []

def read(path):
    return open(path, "rb").read().decode("utf-8")  # strict: raises on invalid UTF-8

def raw_series(text):
    """name{labels} of every sample line, exactly as written: a duplicate is a bug."""
    return [line.rsplit(" ", 1)[0] for line in text.split("\n") if line and line[0] != "#"]

def samples(families):
    out = []
    for f in families:
        for s in f.samples:
            out.append((f.name, f.type, s.name, tuple(sorted(s.labels.items())), s.value))
    return out

try:
    om = samples(om_parse(read(om_path)))  # strict OpenMetrics parser
except Exception as e:
    print(f"FAIL: OpenMetrics parse: {e}")
    sys.exit(1)
print(f"OpenMetrics parser (python3-prometheus-client): {len(om)} samples, ok")
text = samples(text_parse(read(text_path)))
for path in (text_path, om_path):
    dup = [k for k, n in collections.Counter(raw_series(read(path))).items() if n > 1]
    if dup:
        fails.append(f"{path}: series written twice: {dup[:5]}")
for name, ss in (("text", text), ("openmetrics", om)):
    keys = collections.Counter((s[2], s[3]) for s in ss)
    dup = [k for k, n in keys.items() if n > 1]
    if dup:
        fails.append(f"{name}: duplicate series {dup[:5]}")
# both formats carry the same metrics (two live scrapes: values and curl's own row differ;
# the golden-file unit test compares them sample for sample)
tn, on = {s[2] for s in text}, {s[2] for s in om}
if tn != on:
    fails.append(f"text and OpenMetrics scrapes differ in metric names: {tn ^ on}")

# every histogram: buckets ascending by le and cumulative, +Inf present, _count == +Inf
hists = collections.defaultdict(lambda: {"buckets": [], "count": None, "sum": None})
for fam, typ, name, labels, value in om:
    if typ != "histogram":
        continue
    rest = tuple(l for l in labels if l[0] != "le")
    h = hists[(fam, rest)]
    if name == fam + "_bucket":
        h["buckets"].append((float(dict(labels)["le"]), value))
    elif name == fam + "_count":
        h["count"] = value
    elif name == fam + "_sum":
        h["sum"] = value
for key, h in hists.items():
    b = h["buckets"]
    les = [le for le, _ in b]
    if les != sorted(les) or not b or not math.isinf(les[-1]):
        fails.append(f"{key}: buckets out of order or no +Inf: {les}")
    if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
        fails.append(f"{key}: not cumulative: {b}")
    if not b or h["count"] != b[-1][1]:
        fails.append(f"{key}: _count {h['count']} != +Inf bucket {b[-1][1] if b else None}")
    if h["sum"] is None:
        fails.append(f"{key}: no _sum")
print(f"histograms checked: {len(hists)} series, cumulative, _count == +Inf")

# the workload's failures, by process, in this very scrape
got = [s[4] for s in om if s[2] == "ephtrace_process_port_failures_total"
       and dict(s[3]).get("pid") == pid and dict(s[3]).get("error") == "EADDRNOTAVAIL"]
if got != [want]:
    fails.append(f"/metrics: workload pid {pid} EADDRNOTAVAIL: expected [{want}], got {got}")
for f in fails:
    print("FAIL:", f)
sys.exit(1 if fails else 0)
EOF

# --- what Prometheus stored: exactly the workload's count
HOST='sum(ephtrace_port_failures_total{error="EADDRNOTAVAIL"})'
MINE="sum(ephtrace_process_port_failures_total{error=\"EADDRNOTAVAIL\",pid=\"$WL_PID\"})"
OTHERS="sum(ephtrace_process_port_failures_total{error=\"EADDRNOTAVAIL\",pid!=\"$WL_PID\"}) or vector(0)"
WORKLOAD="$HOST - ($OTHERS)"
settled() {
	[ "$(query "$MINE")" = "$WL_FAIL" ] && [ "$(query "$WORKLOAD")" = "$WL_FAIL" ]
}
if wait_for 300 settled; then
	echo "prometheus: $WORKLOAD = $(query "$WORKLOAD") (expected $WL_FAIL)"
	echo "prometheus: $HOST = $(query "$HOST"), other processes: $(query "$OTHERS")"
	echo "prometheus: $MINE = $(query "$MINE") (expected $WL_FAIL)"
else
	fail "prometheus: $WORKLOAD: expected $WL_FAIL, got $(query "$WORKLOAD")"
	fail "prometheus: $MINE: expected $WL_FAIL, got $(query "$MINE")"
	echo "  (host-wide $HOST = $(query "$HOST"), dropped events:" \
		"$(query 'ephtrace_events_dropped_total'))"
fi
check_http "prometheus: events dropped" 0 "$(query 'ephtrace_events_dropped_total')"
check_http "prometheus: series cut by --top" 0 "$(query 'sum(ephtrace_series_truncated)')"
range_is_16() { [ "$(query "ephtrace_port_range_usable{netns=\"$NETNS\"}")" = 16 ]; }
wait_for 150 range_is_16 ||
	fail "prometheus: ephtrace_port_range_usable{netns=\"$NETNS\"}: expected 16," \
		"got $(query "ephtrace_port_range_usable{netns=\"$NETNS\"}")"
check_http "prometheus: build_info (an OpenMetrics info metric)" 1 \
	"$(query 'ephtrace_build_info{backend="tracepoint"}')"

kill "$SERVE_PID" 2>/dev/null || true
wait "$SERVE_PID" 2>/dev/null && rc=0 || rc=$?
check_http "ephtrace serve exit status on SIGTERM" 0 "$rc"
if [ $FAILED = 0 ]; then
	echo "PASS: metrics.sh"
	exit 0
fi
echo "--- serve.err"
cat "$WORK/serve.err"
exit 1
