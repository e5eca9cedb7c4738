#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""The serve soak: ephtrace serve on a node's worth of pods, scraped as Prometheus would.

A load (soak.c, built here with gcc) makes 100 private network namespaces with 20 processes
each, every process holding 10 loopback connections (2 000 processes, 20 000 connections);
then ephtrace serve starts (it seeds from all of it), and for 60 s the load churns 2 000
connect()s a second over 10 destinations, by processes that live one second each, while
/metrics is scraped every 0.5 s and /healthz polled every 0.5 s, each from its own thread.
Checked:
  - /healthz never answers anything but 200;
  - the longest scrape is reported, and is under EPH_SOAK_MAX_SCRAPE_S (1 s);
  - the ring buffer drops nothing (ephtrace_events_dropped_total stays 0);
  - the number of series stays bounded: never above EPH_SOAK_MAX_SERIES, and the last third
    of the run has no more than the first third plus a quarter;
  - every counter series (and histogram bucket, count and sum) present in two scrapes never
    decreased between them;
  - the load itself: every connection made, the churn on schedule.
Figures (scrape latency p50/p99/max, resync time from serve -v, drops) are printed as one
"SOAK" line, and as a BENCH line for tests/bench/report.c with EPH_SOAK_BENCH=1.

Exit status: 0 passed, 1 failed (expected vs got printed), 77 cannot run here (SKIP).
Usage: tests/host/soak.py [path/to/ephtrace]   (as root)
Environment: EPH_SOAK_NS, EPH_SOAK_PROCS (per namespace), EPH_SOAK_CONNS (per process),
EPH_SOAK_RATE, EPH_SOAK_SECS, EPH_SOAK_DESTS, EPH_SOAK_WORKERS, EPH_SOAK_TW_EVERY (every Nth
churned socket is closed normally: TIME_WAIT), EPH_SOAK_BACKEND (tracepoint),
EPH_SOAK_MAX_SCRAPE_S, EPH_SOAK_MAX_SERIES, EPH_SOAK_BENCH.
"""
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

EPH = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "./ephtrace")
HERE = os.path.dirname(os.path.abspath(__file__))


def env(name, default):
    return type(default)(os.environ.get("EPH_SOAK_" + name, default))


NS = env("NS", 100)
PROCS = env("PROCS", 20)
CONNS = env("CONNS", 10)
RATE = env("RATE", 2000)
SECS = env("SECS", 60)
DESTS = env("DESTS", 10)
WORKERS = env("WORKERS", 4)
TW_EVERY = env("TW_EVERY", 10)
BACKEND = env("BACKEND", "tracepoint")
MAX_SCRAPE_S = env("MAX_SCRAPE_S", 1.0)
MAX_SERIES = env("MAX_SERIES", 5000)
BENCH = env("BENCH", 0)
PERIOD = 0.5
TAIL_S = 6  # scraped after the churn: one more resync

failures = []
procs = []


def log(msg):
    print(msg, flush=True)


def check(ok, what, expected=None, got=None):
    if ok:
        log("  ok   %s" % what)
    else:
        failures.append(what)
        extra = "" if expected is None else ": expected %s, got %s" % (expected, got)
        log("  FAIL %s%s" % (what, extra))
    return ok


def skip(why):
    log("SKIP: soak: %s" % why)
    sys.exit(77)


def quantile(v, q):
    if not v:
        return float("nan")
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))]


def wait_line(f, pattern, timeout):
    """The first line of file f (being written) matching pattern, or None."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with open(f, errors="replace") as fh:
            for line in fh:
                m = re.search(pattern, line)
                if m:
                    return m
        time.sleep(0.1)
    return None


# --- the Prometheus side ----------------------------------------------------------------------

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)")


def parse(text):
    """({series: value}, {name: type})"""
    types, samples = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(None, 3)
            types[name] = kind.strip()
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if m:
            samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return samples, types


def monotonic_name(name, types):
    if types.get(name) == "counter":
        return True
    for suffix in ("_bucket", "_count", "_sum"):
        if name.endswith(suffix) and types.get(name[: -len(suffix)]) == "histogram":
            return True
    return False


class Scraper(threading.Thread):
    def __init__(self, port, path):
        super().__init__(daemon=True)
        self.port, self.path = port, path
        self.stop = threading.Event()
        self.lat, self.status, self.errors = [], {}, []
        self.series, self.last, self.decreases, self.decreased = [], {}, 0, []
        self.dropped = []
        self.missed = []  # of the dropped, the programs' runs the kernel skipped

    def get(self):
        t = time.monotonic()
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            c.request("GET", self.path)
            r = c.getresponse()
            body = r.read().decode(errors="replace")
            return r.status, body, time.monotonic() - t
        finally:
            c.close()

    def take(self, body):
        samples, types = parse(body)
        self.series.append(len(samples))
        for key, v in samples.items():
            name = key.split("{", 1)[0]
            if name == "ephtrace_events_dropped_total":
                self.dropped.append(v)
            if name == "ephtrace_bpf_program_runs_missed_total":
                self.missed.append(v)
            if not monotonic_name(name, types):
                continue
            old = self.last.get(key)
            if old is not None and v < old:
                self.decreases += 1
                if len(self.decreased) < 5:
                    self.decreased.append("%s %g -> %g" % (key, old, v))
            self.last[key] = v

    def run(self):
        nxt = time.monotonic()
        while not self.stop.is_set():
            try:
                status, body, lat = self.get()
                self.lat.append(lat)
                self.status[status] = self.status.get(status, 0) + 1
                if self.path == "/metrics" and status == 200:
                    self.take(body)
            except (OSError, http.client.HTTPException) as e:
                self.errors.append(str(e))
            nxt += PERIOD
            self.stop.wait(max(0, nxt - time.monotonic()))


# --- the run ----------------------------------------------------------------------------------

def resync_figures(err_file):
    """(collect ms list, apply ms list, sockets) from serve -v's resync lines."""
    collect, apply, socks = [], [], 0
    with open(err_file, errors="replace") as f:
        for line in f:
            m = re.search(r"resync: .*?(\d+) sockets.* collected in (\d+) ms.*applied in "
                          r"([\d.]+) ms", line)
            if m:
                socks = int(m.group(1))
                collect.append(int(m.group(2)))
                apply.append(float(m.group(3)))
    return collect, apply, socks


def stop_all():
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                p.kill()
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            pass


def main():
    if os.geteuid():
        skip("needs root (BPF, network namespaces)")
    if not os.access(EPH, os.X_OK):
        skip("no ephtrace binary at %s (make ephtrace)" % EPH)
    if not shutil.which("gcc"):
        skip("no gcc (tests/deps.sh installs it)")
    work = tempfile.mkdtemp(prefix="ephtrace-soak.")
    try:
        return run(work)
    finally:
        stop_all()
        shutil.rmtree(work, ignore_errors=True)


def run(work):
    load_bin = os.path.join(work, "soak")
    subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-o", load_bin,
                    os.path.join(HERE, "soak.c")], check=True, timeout=120)
    t0 = time.monotonic()
    load = subprocess.Popen([load_bin] + [str(x) for x in (NS, PROCS, CONNS, RATE, SECS, DESTS,
                                                            WORKERS, TW_EVERY)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    procs.append(load)
    ready = load.stdout.readline()
    m = re.match(r"ready ns (\d+) procs (\d+) held (\d+) accepted (\d+) ms (\d+)", ready)
    if not m:
        skip("the load could not be set up (%r)" % ready)
    log("load: %d namespaces, %d processes, %d connections held (%d accepted) in %s ms" %
        tuple(int(x) for x in m.groups()))
    check(int(m.group(3)) == NS * PROCS * CONNS and int(m.group(4)) == NS * PROCS * CONNS,
          "the load holds every connection", NS * PROCS * CONNS, m.group(3))

    err_file = os.path.join(work, "serve.err")
    with open(err_file, "w") as err:
        serve = subprocess.Popen([EPH, "serve", "-l", "127.0.0.1:0", "--backend", BACKEND, "-v"],
                                 stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    procs.append(serve)
    t_serve = time.monotonic()
    m = wait_line(err_file, r"listening on http://127\.0\.0\.1:(\d+)/metrics", 120)
    if not m:
        with open(err_file, errors="replace") as f:
            log("".join(f.readlines()[-20:]))
        check(False, "serve starts")
        return 1
    port = int(m.group(1))
    b = wait_line(err_file, r"using backend (\w+)", 5)
    backend = b.group(1) if b else BACKEND
    log("serve: backend %s, listening after %.1f s (seeded from every namespace)" %
        (backend, time.monotonic() - t_serve))

    metrics, health = Scraper(port, "/metrics"), Scraper(port, "/healthz")
    metrics.start()
    health.start()
    time.sleep(1)
    load.stdin.write("churn\n")
    load.stdin.flush()
    churn = load.stdout.readline()
    time.sleep(TAIL_S)
    metrics.stop.set()
    health.stop.set()
    metrics.join(40)
    health.join(40)
    serve.send_signal(signal.SIGTERM)
    try:
        rc = serve.wait(30)
    except subprocess.TimeoutExpired:
        rc = None
    check(rc == 0, "serve exits 0 on SIGTERM", 0, rc)

    m = re.match(r"churn connects (\d+) failed (\d+) procs (\d+) elapsed_ms (\d+) late_ms (-?\d+)",
                 churn)
    check(m is not None, "the churn ran", "a result line", repr(churn))
    if m:
        c = {k: int(v) for k, v in zip(("connects", "failed", "procs", "ms", "late"), m.groups())}
        log("churn: %(connects)d connects (%(failed)d failed) by %(procs)d processes in "
            "%(ms)d ms, the slowest worker %(late)d ms late" % c)
        check(c["failed"] == 0 and c["connects"] == RATE // WORKERS * WORKERS * SECS,
              "every churned connect() made", RATE // WORKERS * WORKERS * SECS, c["connects"])
        check(c["late"] < 1000, "the churn kept its schedule (each worker within 1 s)",
              "< 1000 ms late", c["late"])

    lat = metrics.lat
    collect, apply, socks = resync_figures(err_file)
    fig = {
        "scrapes": len(lat),
        "p50_ms": quantile(lat, 0.5) * 1000, "p99_ms": quantile(lat, 0.99) * 1000,
        "max_ms": max(lat, default=float("nan")) * 1000,
        "healthz": len(health.lat), "healthz_max_ms": max(health.lat, default=0) * 1000,
        "non200": sum(n for s, n in health.status.items() if s != 200),
        "drops": metrics.dropped[-1] if metrics.dropped else float("nan"),
        "missed": metrics.missed[-1] if metrics.missed else float("nan"),
        "series_min": min(metrics.series, default=0), "series_max": max(metrics.series, default=0),
        "resyncs": len(collect),
        "resync_p50_ms": quantile(collect, 0.5), "resync_max_ms": max(collect, default=float("nan")),
        "apply_max_ms": max(apply, default=float("nan")), "resync_sockets": socks,
    }
    log("SOAK scrapes %(scrapes)d p50 %(p50_ms).0f ms p99 %(p99_ms).0f ms max %(max_ms).0f ms; "
        "healthz %(healthz)d polls, %(non200)d not 200, slowest %(healthz_max_ms).0f ms; "
        "dropped %(drops).0f (runs missed %(missed).0f); series %(series_min)d..%(series_max)d; resyncs %(resyncs)d "
        "(%(resync_sockets)d sockets): collected in %(resync_p50_ms).0f ms median, "
        "%(resync_max_ms).0f max, applied in %(apply_max_ms).1f ms max" % fig)
    check(not health.errors and not metrics.errors, "every request answered",
          "no error", (health.errors + metrics.errors)[:3])
    check(fig["non200"] == 0 and health.lat, "/healthz answers only 200",
          "200 only", health.status)
    check(len(lat) >= SECS, "/metrics scraped all along", ">= %d scrapes" % SECS, len(lat))
    check(fig["max_ms"] < MAX_SCRAPE_S * 1000, "the longest scrape is under %g s" % MAX_SCRAPE_S,
          "< %g ms" % (MAX_SCRAPE_S * 1000), "%.0f ms" % fig["max_ms"])
    check(metrics.dropped and metrics.dropped[-1] == 0, "the ring buffer dropped nothing",
          0, "%.0f (of which programs' runs skipped by the kernel: %.0f)"
          % (fig["drops"], fig["missed"]))
    third = max(1, len(metrics.series) // 3)
    first, last = max(metrics.series[:third], default=0), max(metrics.series[-third:], default=0)
    check(fig["series_max"] <= MAX_SERIES and last <= first * 1.25,
          "the series stay bounded (<= %d; last third <= first third + 25 %%)" % MAX_SERIES,
          "<= %d and <= %.0f" % (MAX_SERIES, first * 1.25), "%d, last third %d" %
          (fig["series_max"], last))
    check(metrics.decreases == 0, "no counter series went down between two scrapes", 0,
          "%d: %s" % (metrics.decreases, "; ".join(metrics.decreased)))
    # a resync every 5 s, or after a rest as long as its collect (+ the 1 s tick)
    cycle = max(5, 2 * (fig["resync_max_ms"] if collect else 0) / 1000) + 1
    check(fig["resyncs"] >= int(SECS / cycle) - 1, "serve resynced all along",
          ">= %d" % (int(SECS / cycle) - 1), fig["resyncs"])
    if BENCH:
        log("BENCH kind=soak where=host status=ok backend=%s ns=%d procs=%d held=%d rate=%d "
            "secs=%d dests=%d scrapes=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f healthz=%d "
            "non200=%d drops=%.0f series_max=%d resyncs=%d resync_p50_ms=%.0f "
            "resync_max_ms=%.0f apply_max_ms=%.1f decreases=%d checks_failed=%d" %
            (backend, NS, NS * PROCS, NS * PROCS * CONNS, RATE, SECS, DESTS, fig["scrapes"],
             fig["p50_ms"], fig["p99_ms"], fig["max_ms"], fig["healthz"], fig["non200"],
             fig["drops"], fig["series_max"], fig["resyncs"], fig["resync_p50_ms"],
             fig["resync_max_ms"], fig["apply_max_ms"], metrics.decreases, len(failures)))
    log("soak: %.0f s in all" % (time.monotonic() - t0))
    if failures:
        log("soak: %d check(s) failed: %s" % (len(failures), "; ".join(failures)))
        return 1
    log("soak: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
