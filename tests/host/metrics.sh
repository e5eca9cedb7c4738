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
#   ephtrace_process_port_failures_total (by its comm, ephwl-client; no pid label) must be
#   exactly its count; so must the destination's ephtrace_destination_port_failures_total,
#   with ports_held 16, ports_left 0, utilization 1, while a new destination would still get all
#   16 (connect()'s ports are reused towards other destinations; the headroom scenarios count
#   that against the kernel);
# - bind scopes, in a second netns with an 8-port range (40000-40007): a workload fills the TCP
#   bind(0) scope on 0.0.0.0 until EADDRINUSE, the UDP one with sendto() from unbound sockets
#   until EAGAIN, then tries UDP bind(0) (EADDRINUSE). ephtrace_bind_scope_ports_held must be
#   the ports the kernel gave, ports_left 0 and utilization 1 (the kernel refused the next
#   ones), and ephtrace_bind_scope_port_failures_total{error} the workload's own errno counts;
#   no new destination gets a port there (bind()'s ports are lost to every connect());
# - the alert rules of deploy/prometheus, loaded by that Prometheus: the EADDRNOTAVAIL, UDP
#   EAGAIN and bind(0) EADDRINUSE alerts fire for those series, the exhaustion ones (for: 1m)
#   are pending;
# - per-process series by identity: a second client of the same name (64 failures) adds to the
#   same one series (48 + 64, still no pid label); both exit, and after serve's prune of exited
#   pids (every 10 s) the series is still 112 and Prometheus saw no reset; a second serve with
#   --pid-labels showed one series per pid (48 and 64), which went with the pids;
# - the summary of `ephtrace events` (tracepoint backend), in a third netns where TIME_WAIT
#   sockets cannot be made (tcp_max_tw_buckets 0: an active close frees the port at once, with
#   no event for it): a client connects 40 times, closes 30 first and keeps 10. Its HELD must
#   be the sockets the kernel lists for it (ss), not the 40 a running sum would say.
# Exit 0 on success, 1 on a failure (expected vs got printed), 77 (SKIP) when it cannot run.
#
# Usage: tests/host/metrics.sh [path/to/ephtrace]    (as root, from the top of the tree)
set -eu

EPHTRACE=${1:-./ephtrace}
PY=/usr/bin/python3 # Debian's python, with python3-prometheus-client
NS=ephtest-metrics-$$
NS2=ephtest-metrics-bind-$$
NS3=ephtest-metrics-tw-$$
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

ns_pids() {
	for n in "$NS" "$NS2" "$NS3"; do
		ip netns pids "$n" 2>/dev/null
	done
}

cleanup() {
	for p in $PIDS $(ns_pids); do
		kill "$p" 2>/dev/null || true
	done
	for p in $PIDS; do
		wait "$p" 2>/dev/null || true
	done
	i=0
	while [ -n "$(ns_pids)" ] && [ $i -lt 50 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	for n in "$NS" "$NS2" "$NS3"; do
		ip netns del "$n" 2>/dev/null || true
	done
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
ip netns add "$NS2" 2>/dev/null || skip "cannot create a second network namespace"
ip netns exec "$NS2" ip link set lo up
ip netns exec "$NS2" sh -c 'echo "40000 40007" > /proc/sys/net/ipv4/ip_local_port_range'
NETNS2=$(stat -L -c %i "/run/netns/$NS2")
ip netns add "$NS3" 2>/dev/null || skip "cannot create a third network namespace"
ip netns exec "$NS3" ip link set lo up
ip netns exec "$NS3" sh -c 'echo "40000 40063" > /proc/sys/net/ipv4/ip_local_port_range &&
	echo 0 > /proc/sys/net/ipv4/tcp_max_tw_buckets' ||
	skip "cannot set tcp_max_tw_buckets in a network namespace"

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
# and one with the pid labels of old (--pid-labels), scraped by curl only
"$EPHTRACE" serve --backend tracepoint --listen 127.0.0.1:0 --top 1000 --pid-labels \
	2>"$WORK/serve2.err" &
SERVE2_PID=$!
PIDS="$PIDS $SERVE2_PID"
wait_for 300 grep -q 'listening on http://' "$WORK/serve2.err" ||
	die "ephtrace serve --pid-labels did not start listening"
URL2="http://127.0.0.1:$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/metrics.*|\1|p' \
	"$WORK/serve2.err")"

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

# --- the workload (metrics_wl.py): a listener, and a client that exhausts the range 4 times over
WL=$(dirname "$0")/metrics_wl.py

# ip netns exec execs the command: $! is the workload's own pid
ip netns exec "$NS" "$PY" "$WL" server "$WORK" &
PIDS="$PIDS $!"
wait_for 100 test -s "$WORK/server.json" || die "the listener did not start"

# --- Prometheus, scraping ephtrace every second
PROM_PORT=$(free_port)
cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $(pwd)/deploy/prometheus/ephtrace.rules.yml
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

ip netns exec "$NS" "$PY" "$WL" client "$WORK" &
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

# --- the binder fills the bind scopes of 0.0.0.0 in the second namespace
ip netns exec "$NS2" "$PY" "$WL" binder "$WORK" &
PIDS="$PIDS $!"
wait_for 300 test -s "$WORK/binder-filled.json" || die "the binder did not fill its scopes"
# the full scopes in Prometheus, their failure counters at 0, before the failures: the alert
# on EADDRINUSE (increase()) sees the first one (a scope filled and refused within one scrape
# shows first with its failures: see the rule's comment)
T="netns=\"$NETNS2\",proto=\"tcp\",family=\"ipv4\",addr=\"0.0.0.0\""
U="netns=\"$NETNS2\",proto=\"udp\",family=\"ipv4\",addr=\"0.0.0.0\""
scopes_at_0() {
	[ "$(query "ephtrace_bind_scope_port_failures_total{$T,error=\"EADDRINUSE\"}")" = 0 ] &&
		[ "$(query "ephtrace_bind_scope_port_failures_total{$U,error=\"EAGAIN\"}")" = 0 ]
}
wait_for 300 scopes_at_0 || fail "prometheus: the binder's full scopes not scraped with 0 failures"
touch "$WORK/binder-go"
wait_for 300 test -s "$WORK/binder.json" || die "the binder did not finish"
eval "$("$PY" -c '
import json, sys
c = json.load(open(sys.argv[1]))
print("B_TCP_OK=%d B_TCP_INUSE=%d B_UDP_OK=%d B_UDP_AGAIN=%d B_UDP_INUSE=%d B_OTHER=%d" % (
    c["tcp_ok"], c["tcp_EADDRINUSE"], c["udp_ok"], c["udp_EAGAIN"], c["udp_EADDRINUSE"],
    c["other"]))
' "$WORK/binder.json")"
check_http "binder: TCP bind(0) granted (8-port range)" 8 "$B_TCP_OK"
check_http "binder: TCP bind(0) EADDRINUSE" 5 "$B_TCP_INUSE"
check_http "binder: UDP implicit binds granted" 8 "$B_UDP_OK"
check_http "binder: UDP sendto() EAGAIN" 4 "$B_UDP_AGAIN"
check_http "binder: UDP bind(0) EADDRINUSE" 3 "$B_UDP_INUSE"
check_http "binder: other errors" 0 "$B_OTHER"

# --- the exposition itself, after the workload. ephtrace reads its events asynchronously (the
# kernel batches ring-buffer wakeups; serve drains every 100 ms): wait, bounded, until the
# workload's failures are in, then check that very exposition.
WL_SERIES='ephtrace_process_port_failures_total{comm="ephwl-client",error="EADDRNOTAVAIL"}'
wl_failures_in() {
	curl -sf "$URL/metrics" | grep -qxF "$WL_SERIES $WL_FAIL"
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

"$PY" - "$WORK/metrics.prom" "$WORK/metrics.om" "ephwl-client" "$WL_FAIL" <<'EOF' || FAILED=1
import collections, math, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_parse
from prometheus_client.parser import text_string_to_metric_families as text_parse

text_path, om_path, comm, want = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
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

# the workload's failures, by process name, in this very scrape; no pid label anywhere
got = [s[4] for s in om if s[2] == "ephtrace_process_port_failures_total"
       and dict(s[3]).get("comm") == comm and dict(s[3]).get("error") == "EADDRNOTAVAIL"]
if got != [want]:
    fails.append(f"/metrics: workload {comm} EADDRNOTAVAIL: expected [{want}], got {got}")
with_pid = [s for s in om if "pid" in dict(s[3])]
if with_pid:
    fails.append(f"/metrics: pid labels without --pid-labels: {with_pid[:3]}")
for f in fails:
    print("FAIL:", f)
sys.exit(1 if fails else 0)
EOF

# --- what Prometheus stored: exactly the workload's count
HOST='sum(ephtrace_port_failures_total{error="EADDRNOTAVAIL"})'
MINE="sum(ephtrace_process_port_failures_total{error=\"EADDRNOTAVAIL\",comm=\"ephwl-client\"})"
OTHERS="sum(ephtrace_process_port_failures_total{error=\"EADDRNOTAVAIL\",comm!=\"ephwl-client\"}) or vector(0)"
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

# --- destinations and bind scopes: each series equals what the kernel told the workloads
D="netns=\"$NETNS\",proto=\"tcp\",saddr=\"127.0.0.1\",daddr=\"127.0.0.1\",dport=\"5000\""
A="alertstate=\"firing\""
P="alertstate=\"pending\""
cat >"$WORK/expect" <<EOF
ephtrace_destination_port_failures_total{$D}	$WL_FAIL
ephtrace_destination_ports_held{$D}	$WL_OK
ephtrace_destination_ports_left{$D}	0
ephtrace_destination_port_utilization_ratio{$D}	1
ephtrace_new_destination_ports_left{netns="$NETNS"}	16
ephtrace_new_destination_ports_left{netns="$NETNS2"}	$((8 - B_TCP_OK))
ephtrace_bind_scope_ports_held{$T}	$B_TCP_OK
ephtrace_bind_scope_ports_left{$T}	0
ephtrace_bind_scope_port_utilization_ratio{$T}	1
ephtrace_bind_scope_port_failures_total{$T,error="EADDRINUSE"}	$B_TCP_INUSE
ephtrace_bind_scope_port_failures_total{$T,error="EAGAIN"}	none
ephtrace_bind_scope_ports_held{$U}	$B_UDP_OK
ephtrace_bind_scope_ports_left{$U}	0
ephtrace_bind_scope_port_utilization_ratio{$U}	1
ephtrace_bind_scope_port_failures_total{$U,error="EAGAIN"}	$B_UDP_AGAIN
ephtrace_bind_scope_port_failures_total{$U,error="EADDRINUSE"}	$B_UDP_INUSE
count(ALERTS{alertname="EphemeralPortAllocationFailed",$A,op="connect",proto="tcp",family="ipv4"})	1
count(ALERTS{alertname="EphemeralUdpPortAllocationFailed",$A,op="sendmsg",proto="udp",family="ipv4"})	1
count(ALERTS{alertname="EphemeralBindPortAllocationFailed",$A,$T})	1
count(ALERTS{alertname="EphemeralBindPortAllocationFailed",$A,$U})	1
count(ALERTS{alertname="EphemeralPortsExhausted",$P,$D})	1
count(ALERTS{alertname="EphemeralBindPortsExhausted",$P,$T})	1
count(ALERTS{alertname="EphemeralBindPortsExhausted",$P,$U})	1
EOF
all_expected() { # every query of $WORK/expect gives its value (mismatches in $WORK/mismatch)
	: >"$WORK/mismatch"
	while IFS="$(printf '\t')" read -r q want; do
		got=$(query "$q")
		[ "$got" = "$want" ] || printf '%s: expected %s, got %s\n' "$q" "$want" "$got" \
			>>"$WORK/mismatch"
	done <"$WORK/expect"
	[ ! -s "$WORK/mismatch" ]
}
if wait_for 300 all_expected; then
	echo "prometheus: destination and bind scope series = the workloads' kernel results" \
		"(EADDRNOTAVAIL $WL_FAIL, TCP bind(0) EADDRINUSE $B_TCP_INUSE, UDP EAGAIN" \
		"$B_UDP_AGAIN, UDP bind(0) EADDRINUSE $B_UDP_INUSE); the failure alerts fire," \
		"the exhaustion ones are pending ($(wc -l <"$WORK/expect") queries)"
else
	while read -r line; do fail "prometheus: $line"; done <"$WORK/mismatch"
fi
CUT=$(query 'sum(ephtrace_series_truncated)')
check_http "prometheus: series cut by --top" 0 "$CUT"
[ "$CUT" = 0 ] || echo "  (by table: $(curl -s "$PROM/api/v1/query" \
	--data-urlencode 'query=ephtrace_series_truncated > 0' | "$PY" -c '
import json, sys
print(", ".join("%s %s" % (r["metric"]["table"], r["value"][1])
                for r in json.load(sys.stdin)["data"]["result"]))'); a busy host has more rows)"
range_is_16() { [ "$(query "ephtrace_port_range_usable{netns=\"$NETNS\"}")" = 16 ]; }
wait_for 150 range_is_16 ||
	fail "prometheus: ephtrace_port_range_usable{netns=\"$NETNS\"}: expected 16," \
		"got $(query "ephtrace_port_range_usable{netns=\"$NETNS\"}")"
check_http "prometheus: build_info (an OpenMetrics info metric)" 1 \
	"$(query 'ephtrace_build_info{backend="tracepoint"}')"

# --- per-process series by identity: a second client of the same name, then both exit
# the --pid-labels serve: one series per pid, labelled so
check_http "serve --pid-labels: the client's own series" "$WL_FAIL" \
	"$(curl -sf "$URL2/metrics" | sed -n "s/^ephtrace_process_port_failures_total{pid=\"$WL_PID\",comm=\"ephwl-client\",error=\"EADDRNOTAVAIL\"} //p")"
ip netns exec "$NS" "$PY" "$WL" client "$WORK" client2 &
PIDS="$PIDS $!"
wait_for 300 test -s "$WORK/client2.json" || die "the second client did not finish"
eval "$("$PY" -c '
import json, sys
c = json.load(open(sys.argv[1]))
print("WL2_PID=%d WL2_FAIL=%d" % (c["pid"], c["EADDRNOTAVAIL"]))
' "$WORK/client2.json")"
PIDS="$PIDS $WL2_PID"
check_http "second client: EADDRNOTAVAIL (the range is full)" 64 "$WL2_FAIL"
WL_BOTH=$((WL_FAIL + WL2_FAIL))
both_in() { # one series, the sum, on serve; two on serve --pid-labels
	[ "$(curl -sf "$URL/metrics" | grep -c '^ephtrace_process_port_failures_total{comm="ephwl-client",')" = 1 ] &&
		curl -sf "$URL/metrics" | grep -qxF "$WL_SERIES $WL_BOTH" &&
		curl -sf "$URL2/metrics" | grep -qxF "ephtrace_process_port_failures_total{pid=\"$WL2_PID\",comm=\"ephwl-client\",error=\"EADDRNOTAVAIL\"} $WL2_FAIL"
}
if wait_for 50 both_in; then
	echo "two pids of ephwl-client: one series, $WL_FAIL + $WL2_FAIL = $WL_BOTH" \
		"(--pid-labels: $WL_FAIL and $WL2_FAIL)"
else
	fail "two pids of ephwl-client: expected one series = $WL_BOTH, got:" \
		"$(curl -sf "$URL/metrics" | grep 'comm="ephwl-client"' | tr '\n' ' ')"
fi
kill "$WL_PID" "$WL2_PID" 2>/dev/null || true
wait "$WL_PID" "$WL2_PID" 2>/dev/null || true # reaped: no zombie that kill(pid, 0) finds
# serve notes exited pids within a second or two (the tracker's check, then its prune): watch for 12 s
i=0
while [ $i -lt 24 ]; do
	got=$(curl -sf "$URL/metrics" | sed -n "s/^ephtrace_process_port_failures_total{comm=\"ephwl-client\",error=\"EADDRNOTAVAIL\"} //p")
	[ "$got" = "$WL_BOTH" ] || { fail "after the clients exited: $WL_SERIES = '$got', expected $WL_BOTH"; break; }
	i=$((i + 1))
	sleep 0.5
done
pid_series=$(curl -sf "$URL2/metrics" | grep -c "^ephtrace_process_port_failures_total{pid=\"\($WL_PID\|$WL2_PID\)\"" || true)
check_http "serve --pid-labels: the exited pids' series gone" 0 "$pid_series"
no_reset() {
	[ "$(query "$WL_SERIES")" = "$WL_BOTH" ] &&
		[ "$(query "resets($WL_SERIES[10m])")" = 0 ]
}
if wait_for 30 no_reset; then
	echo "clients exited: $WL_SERIES still $WL_BOTH after serve's prune, no reset in Prometheus"
else
	fail "prometheus after the clients exited: $WL_SERIES = $(query "$WL_SERIES")," \
		"resets = $(query "resets($WL_SERIES[10m])")"
fi

# --- the events summary's HELD: the kernel's count, not a running sum (third namespace)
ip netns exec "$NS3" "$PY" "$WL" twserver "$WORK" &
PIDS="$PIDS $!"
wait_for 100 test -s "$WORK/twserver.json" || die "the TIME_WAIT-less server did not start"
"$EPHTRACE" events --backend tracepoint --json -d 300 >"$WORK/events.json" \
	2>"$WORK/events.err" &
EV_PID=$!
PIDS="$PIDS $EV_PID"
wait_for 300 grep -q 'using backend tracepoint' "$WORK/events.err" ||
	die "ephtrace events did not start: $(cat "$WORK/events.err")"
ip netns exec "$NS3" "$PY" "$WL" twclient "$WORK" &
PIDS="$PIDS $!"
wait_for 300 test -s "$WORK/twclient.json" || die "the TIME_WAIT-less client did not finish"
eval "$("$PY" -c '
import json, sys
c = json.load(open(sys.argv[1]))
print("TW_PID=%d TW_ASSIGNED=%d TW_OPEN=%d" % (c["pid"], c["assigned"], c["open"]))
' "$WORK/twclient.json")"
K_HELD=$(ip netns exec "$NS3" ss -Htnp | grep -c "pid=$TW_PID," || true)
K_TW=$(ip netns exec "$NS3" ss -Htn state time-wait | wc -l)
check_http "kernel: TIME_WAIT sockets with tcp_max_tw_buckets 0" 0 "$K_TW"
check_http "kernel: the client's sockets (ss)" "$TW_OPEN" "$K_HELD"
kill -INT "$EV_PID" 2>/dev/null || true
wait "$EV_PID" 2>/dev/null && rc=0 || rc=$?
check_http "ephtrace events exit status on SIGINT" 0 "$rc"
SUMMARY=$("$PY" -c '
import json, sys
s = json.loads(open(sys.argv[1]).read().strip().split("\n")[-1])
p = [p for p in s.get("processes", []) if p["pid"] == int(sys.argv[2])]
print("%s %s" % (p[0]["held"], p[0]["assigned"]) if p else "none none")
' "$WORK/events.json" "$TW_PID")
check_http "events summary: the client's HELD (= ss)" "$K_HELD" "${SUMMARY% *}"
check_http "events summary: the client's ASSIGNED" "$TW_ASSIGNED" "${SUMMARY#* }"
[ "${SUMMARY% *}" = "$K_HELD" ] &&
	echo "events summary: HELD $K_HELD (= ss) after $TW_ASSIGNED assigned, 30 closed with no TIME_WAIT"

kill "$SERVE_PID" "$SERVE2_PID" 2>/dev/null || true
wait "$SERVE_PID" 2>/dev/null && rc=0 || rc=$?
check_http "ephtrace serve exit status on SIGTERM" 0 "$rc"
wait "$SERVE2_PID" 2>/dev/null && rc=0 || rc=$?
check_http "ephtrace serve --pid-labels exit status on SIGTERM" 0 "$rc"
if [ $FAILED = 0 ]; then
	echo "PASS: metrics.sh"
	exit 0
fi
echo "--- serve.err"
cat "$WORK/serve.err"
exit 1
