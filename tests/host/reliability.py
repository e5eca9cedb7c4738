#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Reliability tests of ephtrace on this host's kernel (tracepoint backend), as root.

  reliability.py signals [EPHTRACE]  SIGINT/SIGTERM at start-up, mid-burst and idle; SIGKILL
  reliability.py memory  [EPHTRACE]  10 000 processes, 120 000 ports, start-up mid-burst: maps,
                                     calls drained, RSS, exited processes forgotten, overflow;
                                     10 000 containers' cgroups (EPH_CT_CGROUPS): RSS bounded
  reliability.py faults  [EPHTRACE]  netns deleted, two instances, no BTF, not privileged
  (names of test functions after EPHTRACE run only those, e.g. faults ./ephtrace fault_btf)

Every check prints "ok" or "FAIL" with what was expected and what came. Exit status: 0 all
passed, 1 a check failed, 77 cannot run here (SKIP). EPH_SEED=N replays the random delays.

"Nothing left in the kernel" is checked exactly, even with other ephtrace instances running on
the host: while ephtrace runs, a sampler reads /proc/PID/fdinfo every few milliseconds and
collects the ids of every BPF program, map, link and BTF object it holds (and its perf_event
fds); after it exits those ids must be gone from the kernel (bpftool), no program, map or link
with an ephtrace name may be left that no process holds, and tracefs must be mounted exactly
as before.
"""
import glob
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

EPH = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else "./ephtrace")
HERE = os.path.dirname(os.path.abspath(__file__))
# EPH_RELIABILITY_BACKEND=cgroup: the same checks with the cgroup backend (its links to the
# cgroup v2 root must go too)
BACKEND = ["--backend", os.environ.get("EPH_RELIABILITY_BACKEND", "tracepoint")]
# (dump_u64_map: the stats and hists maps' iterator, bpf/mapdump.bpf.c, where the kernel loads it)
PROG_PREFIXES = ("fentry_", "fexit_", "kprobe_", "kretprobe_", "tp_", "cg_", "dump_u64_map")
MAP_NAMES = {"events", "counters", "calls", "holds", "seeds", "stats", "hists"}
TRACEFS = "/sys/kernel/tracing"
SEED = int(os.environ.get("EPH_SEED", str(int(time.time()) % 100000)))
rnd = random.Random(SEED)

WORK = None
CHURN = None
failures = []
live = []   # Popen objects to kill at the end
netnses = []
cgroup_parents = []  # cgroup directories of ours: removed, with what is below, at the end


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
    log("SKIP: reliability: %s" % why)
    sys.exit(77)


def deadline_loop(timeout, step=0.05):
    """Yields until timeout seconds have passed (bounded waits everywhere)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        yield
        time.sleep(step)


# --- the kernel's BPF objects ---------------------------------------------------------------

def bpftool(*args):
    try:
        r = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return None
    if r.returncode:
        return None
    try:
        return json.loads(r.stdout or "null")
    except ValueError:
        return None


def kernel_objects():
    """{kind: {id: object}} for prog, map, link, btf."""
    out = {}
    for kind in ("prog", "map", "link", "btf"):
        out[kind] = {o["id"]: o for o in (bpftool(kind, "show") or [])}
    return out


FDINFO_KEYS = {"prog_id": "prog", "map_id": "map", "link_id": "link", "btf_id": "btf"}


def fd_ids(pid):
    """(set of (kind, id) of the BPF objects pid holds, number of perf_event fds)."""
    ids, perf = set(), 0
    base = "/proc/%s/fd" % pid
    try:
        fds = os.listdir(base)
    except OSError:
        return ids, perf
    for fd in fds:
        try:
            target = os.readlink(os.path.join(base, fd))
        except OSError:
            continue
        if not target.startswith("anon_inode:"):
            continue
        if "perf_event" in target:
            perf += 1
            continue
        try:
            with open("/proc/%s/fdinfo/%s" % (pid, fd)) as f:
                text = f.read()
        except OSError:
            continue
        kind = None
        if "bpf-prog" in target:
            kind = "prog"
        elif "bpf-map" in target:
            kind = "map"
        elif "bpf_link" in target:
            kind = "link"
        elif "btf" in target:
            kind = "btf"
        if kind is None:
            continue
        for line in text.splitlines():
            key, _, val = line.partition(":")
            key = key.strip()
            # a link's fdinfo also names its program: only the object's own id counts
            if FDINFO_KEYS.get(key) == kind:
                ids.add((kind, int(val)))
    return ids, perf


def owned_everywhere():
    """Every (kind, id) that some process holds an fd to."""
    owned = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            owned |= fd_ids(pid)[0]
    return owned


def eph_named(kind, obj):
    name = obj.get("name", "")
    if kind == "prog":
        return name.startswith(PROG_PREFIXES)
    if kind == "map":
        return name in MAP_NAMES or name.endswith(".rodata") and name.startswith(("ephtrac", "mapdump"))
    return False


def orphans():
    """ephtrace-named programs and maps, and links of them, that no process holds (directly,
    or through a program or link it holds). Those are left in the kernel for good."""
    objs = kernel_objects()
    owned = owned_everywhere()
    progs = {i for (k, i) in owned if k == "prog"}
    links = {i for (k, i) in owned if k == "link"}
    progs |= {objs["link"][i].get("prog_id") for i in links if i in objs["link"]}
    maps = {i for (k, i) in owned if k == "map"}
    for i in progs:
        maps |= set(objs["prog"].get(i, {}).get("map_ids", []))
    left = set()
    for i, o in objs["prog"].items():
        if eph_named("prog", o) and i not in progs:
            left.add(("prog", i, o.get("name")))
    for i, o in objs["map"].items():
        if eph_named("map", o) and i not in maps:
            left.add(("map", i, o.get("name")))
    for i, o in objs["link"].items():
        p = objs["prog"].get(o.get("prog_id"), {})
        if eph_named("prog", p) and i not in links:
            left.add(("link", i, p.get("name")))
    return left


def still_present(ids):
    objs = kernel_objects()
    return sorted((k, i) for (k, i) in ids if i in objs[k])


def tracefs_mounts(pid="self"):
    try:
        with open("/proc/%s/mountinfo" % pid) as f:
            return sum(1 for line in f if line.split()[4] == TRACEFS)
    except OSError:
        return -1


# --- processes ------------------------------------------------------------------------------

class IdSampler(threading.Thread):
    """Collects the BPF ids (and the most perf_event fds) a process holds, until stopped."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.ids, self.perf, self.stop = pid, set(), 0, False

    def run(self):
        while not self.stop:
            ids, perf = fd_ids(self.pid)
            self.ids |= ids
            self.perf = max(self.perf, perf)
            time.sleep(0.003)


class Eph:
    """One ephtrace process; stdout and stderr go to files."""
    n = 0

    def __init__(self, args, tag, preexec=None, wrap=(), sample=True):
        Eph.n += 1
        self.tag = "%s-%d" % (tag, Eph.n)
        self.out = os.path.join(WORK, self.tag + ".out")
        self.err = os.path.join(WORK, self.tag + ".err")
        with open(self.out, "wb") as o, open(self.err, "wb") as e:
            self.t0 = time.monotonic()
            self.p = subprocess.Popen([*wrap, EPH, *args], stdout=o, stderr=e,
                                      preexec_fn=preexec, start_new_session=True)
        live.append(self.p)
        self.pid = self.p.pid
        self.sampler = IdSampler(self.pid) if sample else None
        if self.sampler:
            self.sampler.start()
        self.t_signal = self.t_exit = None

    def stderr(self):
        with open(self.err, errors="replace") as f:
            return f.read()

    def stdout(self):
        with open(self.out, "rb") as f:
            return f.read()

    def attached(self, timeout=15):
        for _ in deadline_loop(timeout, 0.01):
            if "using backend" in self.stderr():
                return True
            if self.p.poll() is not None:
                return False
        return False

    def check_attached(self, timeout=15):
        ok = self.attached(timeout)
        return check(ok, "%s: attached" % self.tag, "'using backend'",
                     "exit %s, stderr: %s" % (self.p.poll(), self.stderr().strip()[-300:]))

    def signal(self, sig):
        self.t_signal = time.monotonic()
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def wait(self, timeout=20):
        """Exit status, or None after timeout seconds (then it is killed)."""
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            rc = None
        self.t_exit = time.monotonic()
        if self.sampler:
            self.sampler.stop = True
            self.sampler.join()
        return rc

    def rss_kb(self, field="VmRSS"):
        try:
            with open("/proc/%d/status" % self.pid) as f:
                m = re.search(field + r":\s+(\d+)", f.read())
            return int(m.group(1)) if m else 0
        except OSError:
            return 0

    def ids(self):
        return set(self.sampler.ids) if self.sampler else set()

    def map_ids(self):
        """{name: id} of the maps it holds."""
        objs = kernel_objects()["map"]
        return {objs[i]["name"]: i for (k, i) in self.ids() if k == "map" and i in objs}


class Netns:
    def __init__(self, tag, prange="10000 60999"):
        self.name = "ephrel-%s-%d" % (tag, os.getpid())
        subprocess.run(["ip", "netns", "add", self.name], check=True, timeout=30)
        netnses.append(self)
        self.run("ip", "link", "set", "lo", "up")
        self.run("sh", "-c", "echo '%s' > /proc/sys/net/ipv4/ip_local_port_range" % prange)
        self.inode = os.stat("/run/netns/" + self.name).st_ino

    def argv(self, *argv):
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, *argv):
        subprocess.run(self.argv(*argv), check=True, timeout=30)

    def popen(self, *argv, **kw):
        p = subprocess.Popen(self.argv(*argv), **kw)
        live.append(p)
        return p

    def pids(self):
        r = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True, text=True,
                           timeout=30)
        return [int(x) for x in r.stdout.split()]

    def delete(self):
        for _ in deadline_loop(10, 0.1):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        subprocess.run(["ip", "netns", "del", self.name], timeout=30)
        if self in netnses:
            netnses.remove(self)


def churn(ns, procs, per, conc, hold_ms=0, port=5000):
    """The C workload in ns; returns its Popen (stdout: the result line)."""
    return ns.popen(CHURN, str(port), str(procs), str(per), str(conc), str(hold_ms),
                    stdout=subprocess.PIPE, text=True, start_new_session=True)


def churn_result(p, timeout=300):
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        return None
    m = re.search(r"procs (\d+) connects (\d+) failed (\d+) elapsed_ms (\d+)", out or "")
    return {k: int(v) for k, v in zip(("procs", "connects", "failed", "ms"), m.groups())} \
        if m else None


def stop(p):
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            p.kill()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        pass


TRACEFS_AT_START = None


def cleanup():
    for p in live:
        stop(p)
    for ns in list(netnses):
        ns.delete()
    for parent in list(cgroup_parents):
        remove_cgroups(parent)
    # a failed check may have left tracefs mounted: give the host back as it was
    while TRACEFS_AT_START is not None and tracefs_mounts() > TRACEFS_AT_START:
        log("cleanup: unmounting the tracefs an ephtrace left on %s" % TRACEFS)
        if subprocess.run(["umount", TRACEFS], timeout=30).returncode:
            break
    if WORK:
        shutil.rmtree(WORK, ignore_errors=True)


# --- output checks --------------------------------------------------------------------------

def json_lines(data, what):
    """Parses every line; checks that none is torn. Returns the objects."""
    objs, bad = [], []
    if data and not data.endswith(b"\n"):
        bad.append("no newline at the end: %r" % data[-60:])
    for line in data.split(b"\n"):
        if not line:
            continue
        try:
            o = json.loads(line)
            if not isinstance(o, dict):
                raise ValueError("not an object")
            objs.append(o)
        except ValueError:
            bad.append(line[:80])
    check(not bad, "%s: every line is one JSON object (%d lines)" % (what, len(objs)),
          "no torn line", bad[:2])
    return objs


def check_output(cmd, e, what):
    data = e.stdout()
    objs = json_lines(data, what)
    if cmd == "events":
        sums = [o for o in objs if o.get("event") == "summary"]
        check(len(sums) == 1 and objs and objs[-1].get("event") == "summary" and
              {"processes", "dropped", "backend"} <= set(objs[-1]),
              "%s: the summary is the last line, once" % what, "1 summary, last",
              "%d summaries, last line %s" % (len(sums), (objs[-1] if objs else None)))
    elif cmd == "top":
        check(objs and all("processes" in o and "dropped" in o for o in objs),
              "%s: snapshots present" % what, ">= 1 snapshot with processes and dropped",
              len(objs))
    elif cmd == "hist":
        check(objs and all("histograms" in o for o in objs), "%s: histograms printed" % what,
              ">= 1 object with histograms", len(objs))
    return objs


def check_released(e, what, tracefs_before, orphans_before, killed=False):
    """Nothing of e left in the kernel; tracefs as before."""
    ids = e.ids()
    left = ids
    for _ in deadline_loop(15, 0.2):
        left = still_present(ids)
        if not left:
            break
    nprog = sum(1 for k, _ in ids if k == "prog")
    nmap = sum(1 for k, _ in ids if k == "map")
    nlink = sum(1 for k, _ in ids if k == "link")
    check(not left, "%s: its %d programs, %d maps, %d links, %d perf events are gone from the "
          "kernel%s" % (what, nprog, nmap, nlink, e.sampler.perf,
                        " (the kernel closed them)" if killed else ""), "none left", left[:6])
    new = set()
    for _ in deadline_loop(15, 0.5):
        new = orphans() - orphans_before
        if not new:
            break
    check(not new, "%s: no ephtrace program/map/link left that no process holds" % what,
          "none", sorted(new)[:6])
    now = tracefs_mounts()
    check(now == tracefs_before, "%s: tracefs mounts on %s as before" % (what, TRACEFS),
          tracefs_before, now)


# --- 1. signals -----------------------------------------------------------------------------

CMDS = {
    "events": ["events", "--json"],
    "top": ["top", "--json", "-i", "0.2"],
    "hist": ["hist", "--json", "-i", "0.2"],
}


def sig_caught(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            m = re.search(r"SigCgt:\s+([0-9a-f]+)", f.read())
    except OSError:
        return False
    mask = int(m.group(1), 16) if m else 0
    want = (1 << (signal.SIGINT - 1)) | (1 << (signal.SIGTERM - 1))
    return mask & want == want


def default_signals():
    """The cases' premise: until ephtrace's handlers exist, SIGINT and SIGTERM do their default
    action. A launcher in the background (a non-interactive shell's `cmd &`, as a CI runner may
    start make test) leaves SIGINT ignored, and an ignored signal stays ignored across exec: a
    SIGINT right after exec was then lost, and ephtrace ran on (seen here)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def block_signals():
    default_signals()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def signal_case(cmd, sig, moment, ns, stats):
    what = "%s %s %s" % (cmd, signal.Signals(sig).name, moment)
    log("-- %s" % what)
    tracefs_before = tracefs_mounts()
    orphans_before = orphans()
    wl = None
    preexec = block_signals if moment == "blocked-at-exec" else default_signals
    e = Eph(CMDS[cmd] + BACKEND, cmd, preexec=preexec)
    if moment == "handlers-ready":
        # the earliest moment a handler can exist: poll SigCgt, signal at once
        for _ in deadline_loop(5, 0.0005):
            if sig_caught(e.pid) or e.p.poll() is not None:
                break
    elif moment == "right-after-exec":
        pass  # Popen returns once exec has succeeded: the signal follows at once
    elif moment.startswith("after-"):
        time.sleep(int(moment[6:-2]) / 1000.0)
    elif moment in ("idle", "mid-burst", "tracefs-window"):
        if moment == "tracefs-window":
            # SIGKILL while tracefs is mounted for the attach (it was not mounted before)
            hit = False
            for _ in deadline_loop(5, 0.0005):
                hit = tracefs_mounts(e.pid) > tracefs_before
                if hit or e.p.poll() is not None:
                    break
            log("       %s" % ("killed while tracefs was mounted for its attach" if hit else
                               "tracefs mount not observed: killed at once"))
        elif not e.check_attached():
            e.signal(signal.SIGKILL)
            e.wait()
            return
        if moment == "idle":
            time.sleep(1.0)
        elif moment == "mid-burst":
            wl = churn(ns, 0, 50, 2)
            # events: wait for the stream to be well under way; the others: a while
            for _ in deadline_loop(10, 0.05):
                if cmd != "events" and time.monotonic() - e.t0 > 1.0:
                    break
                if cmd == "events" and e.stdout().count(b"\n") >= 2000:
                    break
    # "blocked-at-exec": the signal is sent at once, and pending until ephtrace unblocks it
    caught = sig_caught(e.pid)
    e.signal(sig)
    rc = e.wait(30)
    if wl:
        stop(wl)
    if sig != signal.SIGKILL and rc == -sig and not caught and moment != "blocked-at-exec":
        # sent before main() installed the handlers (the dynamic loader was still at work):
        # the default action, which no program can prevent; nothing was loaded yet
        check(e.sampler.perf == 0 and not e.ids(),
              "%s: killed before its handlers existed, nothing loaded yet" % what,
              "no BPF object", sorted(e.ids())[:4])
        check_released(e, what, tracefs_before, orphans_before, killed=True)
        return
    if sig == signal.SIGKILL:
        check(rc == -signal.SIGKILL, "%s: died of SIGKILL" % what, -signal.SIGKILL, rc)
        check_released(e, what, tracefs_before, orphans_before, killed=True)
        return
    lat = e.t_exit - e.t_signal
    stats.append((what, lat))
    check(rc == 0, "%s: exit status 0 (exited %.2f s after the signal)" % (what, lat), 0,
          "%s, stderr: %s" % (rc, e.stderr().strip()[-300:]))
    objs = check_output(cmd, e, what)
    if moment == "mid-burst" and cmd == "events":
        n = sum(1 for o in objs if o.get("event") == "assign" and o.get("netns") == ns.inode)
        check(n >= 2000, "%s: the burst was seen (%d assignments)" % (what, n), ">= 2000", n)
    check_released(e, what, tracefs_before, orphans_before)


def test_signals():
    ns = Netns("sig")
    stats = []
    moments = ["right-after-exec", "handlers-ready", "blocked-at-exec"]
    moments += ["after-%dms" % rnd.randint(0, 300) for _ in range(3)]
    moments += ["idle", "mid-burst"]
    for cmd in CMDS:
        for sig in (signal.SIGINT, signal.SIGTERM):
            for m in moments:
                signal_case(cmd, sig, m, ns, stats)
        kills = ["after-%dms" % rnd.randint(0, 300) for _ in range(2)]
        for m in kills + ["tracefs-window", "mid-burst"]:
            if m == "tracefs-window" and tracefs_mounts() > 0:
                log("-- %s SIGKILL tracefs-window: skipped, tracefs is mounted already" % cmd)
                continue
            signal_case(cmd, signal.SIGKILL, m, ns, stats)
    # plain text hist too
    what = "hist (text) SIGINT idle"
    log("-- %s" % what)
    tracefs_before, orphans_before = tracefs_mounts(), orphans()
    e = Eph(["hist", "-i", "0.2"] + BACKEND, "hist-text")
    e.check_attached()
    time.sleep(0.5)
    e.signal(signal.SIGINT)
    rc = e.wait(30)
    check(rc == 0, "%s: exit status 0" % what, 0, rc)
    check_released(e, what, tracefs_before, orphans_before)
    lats = [l for _, l in stats]
    if lats:
        log("exit after SIGINT/SIGTERM: min %.2f s, max %.2f s, mean %.2f s over %d runs"
            % (min(lats), max(lats), sum(lats) / len(lats), len(lats)))


# --- 2. bounded memory ----------------------------------------------------------------------

def map_entries(map_id):
    d = bpftool("map", "dump", "id", str(map_id))
    return d if isinstance(d, list) else []


SYSCALLS_TRACED = {42, 44, 46, 49, 50, 307}  # x86-64 connect sendto sendmsg bind listen sendmmsg


def in_traced_syscall(tid):
    try:
        with open("/proc/%d/syscall" % tid) as f:
            nr = f.read().split()[0]
        return nr.isdigit() and int(nr) in SYSCALLS_TRACED
    except (OSError, IndexError):
        return False


def calls_leaked(map_id):
    """Entries of the calls map whose thread is not in a traced system call now (and was not
    a second ago either): a call exit that was never seen."""
    def suspects():
        out = {}
        for ent in map_entries(map_id):
            key = ent.get("formatted", {}).get("key")
            if key is None:
                key = int.from_bytes(bytes(int(b, 16) for b in ent["key"]), "little")
            tid = (key >> 3) & 0xffffffff
            if not in_traced_syscall(tid):
                out[key] = tid
        return out
    first = suspects()
    if not first:
        return {}
    time.sleep(1.0)
    second = suspects()
    return {k: v for k, v in second.items() if k in first}


class Sampler(threading.Thread):
    """RSS of the ephtrace processes and entries of their calls/holds maps, over time."""

    def __init__(self, ephs):
        super().__init__(daemon=True)
        self.ephs, self.stop = ephs, False
        self.rss = {e.tag: 0 for e in ephs}
        self.anon = {e.tag: 0 for e in ephs}
        self.anon0 = {e.tag: e.rss_kb("RssAnon") for e in ephs}
        self.calls = {e.tag: 0 for e in ephs}
        self.holds = {e.tag: 0 for e in ephs}
        self.maps = {e.tag: e.map_ids() for e in ephs}

    def run(self):
        while not self.stop:
            for e in self.ephs:
                self.rss[e.tag] = max(self.rss[e.tag], e.rss_kb())
                self.anon[e.tag] = max(self.anon[e.tag], e.rss_kb("RssAnon"))
                m = self.maps[e.tag]
                if "calls" in m:
                    self.calls[e.tag] = max(self.calls[e.tag], len(map_entries(m["calls"])))
                if "holds" in m:
                    self.holds[e.tag] = max(self.holds[e.tag], len(map_entries(m["holds"])))
            time.sleep(0.5)


def procs_of(snapshot, comm):
    return [p for p in snapshot.get("processes", []) if p.get("comm") == comm]


def last_snapshot(e):
    lines = [l for l in e.stdout().split(b"\n") if l.strip()]
    for line in reversed(lines):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return {}


def max_entries(map_id):
    m = bpftool("map", "show", "id", str(map_id)) or {}
    return m.get("max_entries")


# Bounds on VmRSS. Idle, both are about 15 MiB, most of it shared and file-backed: the
# libraries, the 4 MiB ring buffer mapped twice once the stream has wrapped it (events and
# top both consume it), and since 2026-12-06 the seeds map's two cookie tables, 2 MiB with the
# default --max-holds (the kernel maps every page of an mmapable array at mmap(); before, the
# same cookies were a hash map of about twice that size in kernel memory, not counted here).
# top's occupancy tables grow with the ports held (--max-ports, 262144); events' summary keeps
# one row (~200 bytes) per process ever seen.
RSS_TOP_KB = 64 * 1024
RSS_EVENTS_KB = 36 * 1024


def test_memory():
    ns = Netns("mem")
    comm = os.path.basename(CHURN)[:15]
    log("-- 10 000 processes x 10 connections (100 000 ports) under top --json and events --json")
    top = Eph(["top", "--json", "-i", "0.5", "--resync", "1", "--window", "1"] + BACKEND, "top")
    ev = Eph(["events", "--json"] + BACKEND, "events")
    if not (top.check_attached() and ev.check_attached()):
        return
    time.sleep(0.5)
    samp = Sampler([top, ev])
    samp.start()
    t0 = time.monotonic()
    r1 = churn_result(churn(ns, 10000, 10, 8))
    t1 = time.monotonic()
    check(r1 is not None and r1["connects"] == 100000,
          "workload: 10 000 processes made 100 000 connections (%.1f s)" % (t1 - t0),
          100000, r1)
    # then processes that hold their ports a while: top must list them, then forget them
    wl = churn(ns, 400, 50, 40, hold_ms=1500)
    seen_max = 0
    for _ in deadline_loop(120, 0.25):
        seen_max = max(seen_max, len(procs_of(last_snapshot(top), comm)))
        if wl.poll() is not None:
            break
    r2 = churn_result(wl)
    check(r2 is not None and r2["connects"] == 20000,
          "workload: 400 processes held 50 connections each for 1.5 s", 20000, r2)
    check(seen_max >= 10, "top listed the holding processes (at most %d at once)" % seen_max,
          ">= 10", seen_max)
    # idle: entries of exited processes go once their ports are released
    left = None
    t_idle = time.monotonic()
    for _ in deadline_loop(20, 0.25):
        left = procs_of(last_snapshot(top), comm)
        if not left:
            break
    check(not left, "top forgot the exited processes (%.1f s after the workload ended)"
          % (time.monotonic() - t_idle), 0, "%d entries, e.g. %s" % (len(left or []),
                                                                     (left or [None])[0]))
    snap = last_snapshot(top)
    nsd = [d for d in snap.get("destinations", []) if d.get("netns") == ns.inode]
    held = sum(d.get("held", 0) for d in nsd)
    check(held <= 1, "top: nothing held towards the workload's server any more", "<= 1", held)
    samp.stop = True
    samp.join()
    for e, bound in ((top, RSS_TOP_KB), (ev, RSS_EVENTS_KB)):
        rss = samp.rss[e.tag]
        check(0 < rss <= bound, "%s: peak RSS %.1f MiB (bound %d MiB; anonymous %.1f MiB at "
              "start, %.1f MiB at peak)" % (e.tag, rss / 1024.0, bound // 1024,
                                             samp.anon0[e.tag] / 1024.0,
                                             samp.anon[e.tag] / 1024.0),
              "<= %d KiB" % bound, rss)
        m = samp.maps[e.tag]
        for name in ("calls", "holds"):
            cap = max_entries(m[name])
            peak = getattr(samp, name)[e.tag]
            check(peak <= cap, "%s: map %s peaked at %d entries (max_entries %d)"
                  % (e.tag, name, peak, cap), "<= %d" % cap, peak)
        leaked = calls_leaked(m["calls"])
        n = len(map_entries(m["calls"]))
        check(not leaked, "%s: calls map drained when idle (%d entries now, %d leaked)"
              % (e.tag, n, len(leaked)), "0 leaked", leaked)
        mine = [x for x in map_entries(m["holds"])
                if x.get("formatted", {}).get("value", {}).get("comm") == comm]
        check(not mine, "%s: holds map has no entry of the exited workload" % e.tag, 0,
              len(mine))
    for e in (top, ev):
        e.signal(signal.SIGINT)
    check(top.wait(30) == 0, "top exit status 0")
    check(ev.wait(30) == 0, "events exit status 0")
    objs = json_lines(ev.stdout(), "events")
    n = sum(1 for o in objs if o.get("event") == "assign" and o.get("op") == "connect" and
            o.get("netns") == ns.inode)
    dropped = objs[-1].get("dropped", 0) if objs else 0
    truth = 120000
    check(n <= truth <= n + dropped, "events: %d connect assignments received, %d dropped, "
          "%d made" % (n, dropped, truth), "received + dropped >= %d" % truth, n + dropped)
    ns.delete()


UDP_EXIT_WL = r'''
import os, socket, sys
for i in range(int(sys.argv[1])):
    pid = os.fork()
    if pid == 0:
        u4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u4.connect(("127.0.0.1", 6000))
        u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        u6.connect(("::1", 6000))
        os._exit(0)  # no close(): the process exit closes them
    os.waitpid(pid, 0)
'''


def udp_exit():
    """UDP ports of processes that exit without close() are released (tracepoint backend:
    no UDP state tracepoint, the file table is walked at sched_process_exit)."""
    n = 200
    ns = Netns("udpexit")
    log("-- %d processes autobind a UDP port (IPv4 and IPv6) and exit without close()" % n)
    ev = Eph(["events", "--json", "--releases", "--udp"] + BACKEND, "events-udp")
    if not ev.check_attached():
        return
    wl = ns.popen("/usr/bin/python3", "-c", UDP_EXIT_WL, str(n))
    wl.wait(timeout=120)
    check(wl.returncode == 0, "workload: %d processes exited" % n, 0, wl.returncode)
    time.sleep(1)
    m = ev.map_ids()
    left = [x for x in map_entries(m["holds"])
            if x.get("formatted", {}).get("value", {}).get("comm") == "python3"]
    check(not left, "holds map: no entry of the exited processes", 0, len(left))
    ev.signal(signal.SIGINT)
    check(ev.wait(30) == 0, "events exit status 0")
    objs = [o for o in json_lines(ev.stdout(), "events") if o.get("netns") == ns.inode]
    assigned = sum(1 for o in objs if o.get("event") == "assign")
    released = sum(1 for o in objs if o.get("event") == "release" and o.get("held_ns") is not None)
    check(assigned == 2 * n, "events: %d UDP autobinds" % assigned, 2 * n, assigned)
    check(released == 2 * n, "events: %d releases with their hold time" % released, 2 * n,
          released)
    ns.delete()


def startup_mid_burst():
    """32 instances started one after the other while short-lived processes make one connect()
    each: a call whose entry was seen before its exit was attached must not stay in the calls
    map (its thread is gone: nothing would ever remove it)."""
    log("-- start-up in the middle of a burst of connect(): no call context left behind")
    ns = Netns("midstart")
    wl = churn(ns, 0, 1, 8)
    time.sleep(0.5)
    ephs = []
    for i in range(32):  # each one slows the others' attach: the window grows
        cmd = ["events", "--json"] if i % 8 == 0 else ["hist", "-i", "60"]
        e = Eph(cmd + BACKEND, "midstart")
        ephs.append(e)
        if not e.check_attached():
            break
        time.sleep(0.05)
    time.sleep(0.3)
    stop(wl)
    time.sleep(0.5)
    total = 0
    for e in ephs:
        m = e.map_ids()
        if not check("calls" in m, "%s: its calls map found" % e.tag):
            continue
        leaked = calls_leaked(m["calls"])
        total += len(leaked)
        check(not leaked, "%s: calls map drained after the burst (%d leaked)"
              % (e.tag, len(leaked)), "0 leaked", sorted(leaked.values())[:8])
    log("       calls entries leaked by %d instances started mid-burst: %d" % (len(ephs), total))
    for e in ephs:
        e.signal(signal.SIGINT)
    for e in ephs:
        check(e.wait(30) == 0, "%s: exit status 0" % e.tag)
    ns.delete()


def overflow_cases():
    ns = Netns("ovf")
    log("-- overflow: events --max-holds 64, top --max-ports 16, top --max-holds 64")
    ev = Eph(["events", "--json", "--max-holds", "64"] + BACKEND, "events-maxholds")
    top1 = Eph(["top", "--json", "-i", "0.3", "--max-ports", "16"] + BACKEND, "top-maxports")
    top2 = Eph(["top", "--json", "-i", "0.3", "--max-holds", "64"] + BACKEND, "top-maxholds")
    for e in (ev, top1, top2):
        if not e.check_attached():
            return
    time.sleep(0.5)
    r = churn_result(churn(ns, 10, 50, 10, hold_ms=1000))
    check(r is not None and r["connects"] == 500, "workload: 10 processes held 50 ports each",
          500, r)
    time.sleep(1.0)
    for e in (ev, top1, top2):
        e.signal(signal.SIGINT)
    for e in (ev, top1, top2):
        check(e.wait(30) == 0, "%s: exit status 0" % e.tag)
    err = ev.stderr()
    m = re.search(r"kernel tables were full: (\d+) assignments not tracked", err)
    check(m and int(m.group(1)) > 0, "events --max-holds 64: the overflow is reported on stderr",
          "'kernel tables were full: N assignments not tracked', N > 0", err.strip()[-200:])
    for e in (top1, top2):
        snaps = json_lines(e.stdout(), e.tag)
        d = max((s.get("dropped", 0) for s in snaps), default=0)
        check(d > 0, "%s: top's \"dropped\" counts the overflow (%d)" % (e.tag, d), "> 0", d)
    ns.delete()


# A process per container: mkdir a cgroup of docker's cgroupfs shape, fork; the child moves
# itself in, autobinds a UDP port (connect() to 127.0.0.1:9), lives HOLD_MS so that ephtrace
# can read its /proc/PID/cgroup, and exits; the parent reaps it and removes the cgroup. CONC at
# a time. Writes "pid id" per child to OUT; prints "done N" every 1000. Run in a private netns
# with nsenter (not ip netns exec: that mounts a sysfs of its own, without the cgroups).
CGROUP_CHURN_WL = r"""
import os, socket, sys, time
parent, first, n, conc, hold, out = sys.argv[1], *map(int, sys.argv[2:6]), sys.argv[6]
docker = os.path.join(parent, "docker")
os.makedirs(docker, exist_ok=True)
live, started, done = {}, 0, 0
with open(out, "a") as f:
    while done < n:
        while started < n and len(live) < conc:
            cid = os.urandom(32).hex()
            d = os.path.join(docker, cid)
            os.mkdir(d)
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    with open(os.path.join(d, "cgroup.procs"), "w") as p:
                        p.write(str(os.getpid()))
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    s.connect(("127.0.0.1", 9))
                    time.sleep(hold / 1000.0)
                    code = 0
                finally:
                    os._exit(code)
            live[pid] = d
            f.write("%d %s\n" % (pid, cid))
            started += 1
        pid, status = os.wait()
        os.rmdir(live.pop(pid))
        if status:
            sys.exit("cgroup churn: child %d failed (status %d)" % (pid, status))
        done += 1
        if (first + done) % 1000 == 0:
            print("done %d" % (first + done), flush=True)
"""

CT_CGROUPS = max(2000, int(os.environ.get("EPH_CT_CGROUPS", "10000")))
CT_RESOLVER_MAX = 4096  # cgroup paths the container resolver caches (EPH_CT_DEFAULT_MAX)
CT_PROCINFO_MAX = 8192  # pids the per-pid cache keeps (EPH_PI_DEFAULT_MAX)
# What those caches may cost at most, per entry: a resolver record with its path
# ("/ephtest-<r>/docker/<64 hex>", 90 bytes), the names and the table's cell, < 512 bytes;
# a pid's record with its struct eph_container (500 bytes) and cgroup path, < 1 KiB. Once
# they are full, RSS stops growing with the number of containers: from the 1 000th container
# to the last it may grow by the caches filling up (4096 x 0.5 KiB + 8192 x 1 KiB = 10 MiB)
# and 4 MiB of allocator slack. events also keeps its summary's row per process ever seen, by
# design (measured: 370 bytes a process with its table cell): 0.5 KiB each is allowed for it.
# Measured here (EPH_CT_CGROUPS=30000): top 17.3 MiB after 1 000, 22.0 after 15 000, 22.1
# after 30 000; events 15.7, 23.4, 28.9 (the summary rows).
CT_GROWTH_KB = 10 * 1024 + 4 * 1024
CT_SUMMARY_ROW_KB = 0.5


def remove_cgroups(parent):
    """rmdir parent and every cgroup below it, deepest first (a cgroup of exited processes
    can stay busy for a moment)."""
    for _ in deadline_loop(10, 0.1):
        for root, dirs, _ in os.walk(parent, topdown=False):
            for d in dirs:
                try:
                    os.rmdir(os.path.join(root, d))
                except OSError:
                    pass
        try:
            os.rmdir(parent)
        except FileNotFoundError:
            pass
        except OSError:
            continue
        if parent in cgroup_parents:
            cgroup_parents.remove(parent)
        return True
    return False


def container_cache():
    """Bounded memory with 10 000 containers' worth of cgroups (docker's cgroupfs shape), each
    with a process that takes a port: the container resolver caches at most 4096 paths."""
    n = CT_CGROUPS
    log("-- %d containers' cgroups, a process in each taking a UDP port, under top --json and "
        "events --json" % n)
    pids_root = "/sys/fs/cgroup/pids"
    parent = os.path.join(pids_root, "ephtest-%d-%d" % (os.getpid(), rnd.randint(0, 99999)))
    try:
        os.mkdir(parent)
    except OSError as e:
        log("  SKIP container cache: cannot create a cgroup in %s: %s" % (pids_root, e))
        return
    cgroup_parents.append(parent)
    ns = Netns("ctcache")
    top = Eph(["top", "--json", "-i", "1", "--window", "1"] + BACKEND, "top-ct")
    ev = Eph(["events", "--json"] + BACKEND, "events-ct")
    if not (top.check_attached() and ev.check_attached()):
        return
    ids_file = os.path.join(WORK, "ct-ids.txt")
    ephs = (top, ev)
    rss = {e.tag: {"start": (e.rss_kb(), e.rss_kb("RssAnon"))} for e in ephs}
    peak = {e.tag: 0 for e in ephs}
    t0 = time.monotonic()
    counts = [1000, n // 2, n]  # RSS after each
    for first, last in zip([0] + counts, counts):
        mark = "%d" % last
        p = subprocess.Popen(["nsenter", "--net=/run/netns/" + ns.name, "/usr/bin/python3", "-c",
                              CGROUP_CHURN_WL, parent, str(first), str(last - first), "48", "100",
                              ids_file], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
        live.append(p)
        while p.poll() is None:
            for e in ephs:
                peak[e.tag] = max(peak[e.tag], e.rss_kb())
            time.sleep(0.2)
        out, err = p.communicate()
        if not check(p.returncode == 0, "cgroup churn to %s containers: exit 0 (%.1f s)"
                     % (mark, time.monotonic() - t0), 0, "%s: %s" % (p.returncode,
                                                                     err.strip()[-300:])):
            return
        time.sleep(1.5)  # ephtrace reads what is left of the stream
        for e in ephs:
            rss[e.tag][mark] = (e.rss_kb(), e.rss_kb("RssAnon"))
            peak[e.tag] = max(peak[e.tag], rss[e.tag][mark][0])
    elapsed = time.monotonic() - t0
    docker = os.path.join(parent, "docker")
    left = [d for d in os.listdir(docker) if os.path.isdir(os.path.join(docker, d))]
    check(not left, "every container's cgroup removed by the workload", 0, len(left))
    log("       %d cgroups made, used and removed in %.1f s (%.1f ms each)"
        % (n, elapsed, 1000.0 * elapsed / n))
    for e in ephs:
        r = rss[e.tag]
        log("       %s: VmRSS (anonymous) at start %.1f (%.1f) MiB, %s; peak %.1f MiB"
            % (e.tag, r["start"][0] / 1024.0, r["start"][1] / 1024.0,
               ", ".join("after %d %.1f (%.1f)" % (c, r["%d" % c][0] / 1024.0,
                                                   r["%d" % c][1] / 1024.0) for c in counts),
               peak[e.tag] / 1024.0))
        growth = r["%d" % n][0] - r["1000"][0]
        bound = CT_GROWTH_KB + (CT_SUMMARY_ROW_KB * n if e is ev else 0)
        check(growth <= bound, "%s: RSS grew %.1f MiB from 1000 to %d containers (%.0f bytes "
              "each; bound %.1f MiB: the caches full, see CT_GROWTH_KB)"
              % (e.tag, growth / 1024.0, n, 1024.0 * growth / max(1, n - 1000), bound / 1024.0),
              "<= %d KiB" % bound, growth)
        limit = RSS_TOP_KB if e is top else RSS_EVENTS_KB
        check(peak[e.tag] <= limit, "%s: peak RSS %.1f MiB (bound %d MiB)"
              % (e.tag, peak[e.tag] / 1024.0, limit // 1024), "<= %d KiB" % limit, peak[e.tag])
    for e in ephs:
        e.signal(signal.SIGINT)
    for e in ephs:
        check(e.wait(30) == 0, "%s: exit status 0" % e.tag)
    # not vacuous: the events name the containers (more than the resolver can hold), and never
    # the wrong one
    want = {}
    with open(ids_file) as f:
        for line in f:
            pid, cid = line.split()
            want[int(pid)] = cid
    right, wrong, unnamed, seen = set(), [], 0, set()
    for o in json_lines(ev.stdout(), "events"):
        if o.get("netns") != ns.inode or o.get("pid") not in want or o.get("event") != "assign":
            continue
        seen.add(o["pid"])
        cid = o.get("container_id")
        if cid is None:
            unnamed += 1
        elif cid == want[o["pid"]] and o.get("container_runtime") == "docker":
            right.add(cid)
        else:
            wrong.append((o["pid"], cid, o.get("container_runtime"), want[o["pid"]][:12]))
    check(len(seen) == n, "events: an assignment of each of the %d processes" % n, n, len(seen))
    check(not wrong, "events: no assignment named after another container", 0,
          "%d, e.g. %s" % (len(wrong), wrong[:2]))
    check(len(right) > CT_RESOLVER_MAX,
          "events: %d containers named (%d processes gone before ephtrace read their cgroup), "
          "more than the resolver caches (%d)" % (len(right), unnamed, CT_RESOLVER_MAX),
          "> %d" % CT_RESOLVER_MAX, len(right))
    ns.delete()
    check(remove_cgroups(parent), "cgroups removed: %s and below" % parent)


# --- 3. faults ------------------------------------------------------------------------------

def netns_in(snapshot, inode):
    return (any(n.get("netns") == inode for n in snapshot.get("netns", [])) or
            any(d.get("netns") == inode for d in snapshot.get("destinations", [])))


def fault_netns_deleted():
    log("-- a network namespace deleted while traced")
    ns = Netns("gone")
    inode = ns.inode
    top = Eph(["top", "--json", "-i", "0.3", "--resync", "1"] + BACKEND, "top-gone")
    ev = Eph(["events", "--json"] + BACKEND, "events-gone")
    if not (top.check_attached() and ev.check_attached()):
        return
    wl = churn(ns, 1, 20, 1, hold_ms=60000)  # holds 20 ports until killed
    seen = False
    for _ in deadline_loop(15, 0.2):
        s = last_snapshot(top)
        if netns_in(s, inode) and sum(d.get("held", 0) for d in s.get("destinations", [])
                                      if d.get("netns") == inode) >= 20:
            seen = True
            break
    check(seen, "top shows the namespace %d and its 20 held ports" % inode)
    ns2 = Netns("after")  # before the deletion: a new namespace may reuse the inode number
    stop(wl)
    ns.delete()
    t0 = time.monotonic()
    gone = False
    for _ in deadline_loop(15, 0.2):
        if not netns_in(last_snapshot(top), inode):
            gone = True
            break
    check(gone, "the deleted namespace left top's output (%.1f s after deletion)"
          % (time.monotonic() - t0))
    check(top.p.poll() is None and ev.p.poll() is None, "top and events still running")
    r = churn_result(churn(ns2, 5, 10, 5))
    time.sleep(1.0)
    top.signal(signal.SIGINT)
    ev.signal(signal.SIGINT)
    check(top.wait(30) == 0, "top exit status 0")
    check(ev.wait(30) == 0, "events exit status 0")
    objs = json_lines(ev.stdout(), "events")
    n = sum(1 for o in objs if o.get("event") == "assign" and o.get("op") == "connect" and
            o.get("netns") == ns2.inode)
    check(r and n == r["connects"], "events still sees a new namespace's connections",
          r and r["connects"], n)
    ns2.delete()


def fault_two_instances():
    log("-- two ephtrace instances at once")
    ns = Netns("two")
    a = Eph(["events", "--json"] + BACKEND, "events-a")
    b = Eph(["events", "--json"] + BACKEND, "events-b")
    t = Eph(["top", "--json", "-i", "0.5"] + BACKEND, "top-c")
    for e in (a, b, t):
        if not e.check_attached():
            return
    r = churn_result(churn(ns, 50, 100, 4))
    time.sleep(0.5)
    for e in (a, b, t):
        e.signal(signal.SIGINT)
    counts = []
    for e in (a, b):
        check(e.wait(30) == 0, "%s: exit status 0" % e.tag)
        objs = json_lines(e.stdout(), e.tag)
        counts.append(sum(1 for o in objs if o.get("event") == "assign" and
                          o.get("op") == "connect" and o.get("netns") == ns.inode))
    check(t.wait(30) == 0, "top: exit status 0")
    check(r and counts[0] == counts[1] == r["connects"],
          "both instances saw every connect() assignment", r and r["connects"], counts)
    ns.delete()


def fault_cgroupns():
    """In a cgroup namespace of its own (a container's on cgroup v2), the cgroup v2 root ephtrace
    sees is its own cgroup: the cgroup backend must refuse (it would see only that subtree) and
    auto go on to the next backend."""
    log("-- cgroup backend in a cgroup namespace of its own")
    mounts = [l.split()[4] for l in open("/proc/self/mountinfo") if " - cgroup2 " in l]
    if not mounts:
        log("   no cgroup2 mount here: the case is fault_no_cgroup2's")
        return
    cg = os.path.join(mounts[0], "ephtest-cgns-%d" % os.getpid())
    os.mkdir(cg)
    wrap = ("sh", "-c", "echo $$ > %s/cgroup.procs && exec unshare -C \"$0\" \"$@\"" % cg)
    try:
        orphans_before = orphans()
        e = Eph(["events", "--backend", "cgroup"], "cgns", wrap=wrap)
        rc = e.wait(30)
        err = e.stderr()
        check(rc == 1 and "cgroup namespace" in err,
              "--backend cgroup in a cgroup namespace: refused with the reason, exit 1",
              "1 + 'cgroup namespace'", "%s: %s" % (rc, err.strip()[-300:]))
        check_released(e, "--backend cgroup in a cgroup namespace", tracefs_mounts(),
                       orphans_before)
        e = Eph(["events", "--backend", "auto"], "cgns-auto", wrap=wrap)
        ok = e.attached()
        check(ok and "using backend tracepoint" in e.stderr(),
              "--backend auto in a cgroup namespace: goes on to tracepoint", "tracepoint",
              e.stderr().strip()[-300:])
        e.signal(signal.SIGINT)
        e.wait(30)
    finally:
        for _ in deadline_loop(10, 0.2):
            try:
                os.rmdir(cg)
                break
            except OSError:
                pass


def churn_seen(e, ns, what, tracefs_before, orphans_before):
    """e (events --json, attached) sees every connect() of a churn in ns, exits 0 on SIGINT and
    leaves nothing behind."""
    r = churn_result(churn(ns, 2, 10, 2))
    time.sleep(0.3)
    e.signal(signal.SIGINT)
    check(e.wait(30) == 0, "%s: exit status 0" % what)
    objs = json_lines(e.stdout(), what)
    n = sum(1 for o in objs if o.get("event") == "assign" and o.get("op") == "connect" and
            o.get("netns") == ns.inode)
    check(r and n == r["connects"], "%s: every assignment seen" % what, r and r["connects"], n)
    check_released(e, what, tracefs_before, orphans_before)


def fault_btf():
    log("-- kernel BTF missing or elsewhere (--btf)")
    for cmd in CMDS:
        orphans_before = orphans()
        e = Eph(CMDS[cmd] + BACKEND + ["--btf", "/nonexistent"], "btf-none")
        rc = e.wait(20)
        err = e.stderr()
        check(rc == 1 and "BTF" in err and "/nonexistent" in err,
              "%s --btf /nonexistent: a clear message, exit 1 (%.2f s)"
              % (cmd, e.t_exit - e.t0), "1 + message naming BTF and the file",
              "%s: %s" % (rc, err.strip()[:300]))
        check_released(e, "%s --btf /nonexistent" % cmd, tracefs_mounts(), orphans_before)
    junk = os.path.join(WORK, "not-btf")
    with open(junk, "wb") as f:
        f.write(os.urandom(4096))
    e = Eph(["events"] + BACKEND + ["--btf", junk], "btf-junk")
    rc = e.wait(20)
    check(rc == 1 and "BTF" in e.stderr(), "events --btf <random bytes>: a clear message, exit 1",
          1, "%s: %s" % (rc, e.stderr().strip()[:300]))
    copy = os.path.join(WORK, "vmlinux.btf")
    shutil.copyfile("/sys/kernel/btf/vmlinux", copy)
    ns = Netns("btf")
    orphans_before, tracefs_before = orphans(), tracefs_mounts()
    e = Eph(["events", "--json", "--btf", copy] + BACKEND, "btf-copy")
    if e.check_attached():
        churn_seen(e, ns, "events --btf <copy>", tracefs_before, orphans_before)
    else:
        e.signal(signal.SIGKILL)
        e.wait()
        log(e.stderr())
    ns.delete()


def fault_unprivileged():
    log("-- not privileged")
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    cases = [
        ("uid 65534, no capabilities", nobody, True),
        ("root without CAP_PERFMON and CAP_SYS_ADMIN",
         ["setpriv", "--bounding-set=-perfmon,-sys_admin", "--inh-caps=-perfmon,-sys_admin"],
         True),
        ("root without CAP_BPF and CAP_SYS_ADMIN",
         ["setpriv", "--bounding-set=-bpf,-sys_admin", "--inh-caps=-bpf,-sys_admin"], True),
        ("uid 65534 with CAP_NET_ADMIN only",
         nobody + ["--inh-caps=+net_admin", "--ambient-caps=+net_admin"], True),
        ("uid 65534 with CAP_BPF and CAP_PERFMON only",
         nobody + ["--inh-caps=+bpf,+perfmon", "--ambient-caps=+bpf,+perfmon"], False),
    ]
    stop_by_itself = {"events": ["-d", "1"], "top": ["-n", "1"], "hist": ["-n", "1"]}
    for what, wrap, denied in cases:
        for cmd in CMDS:
            orphans_before = orphans()
            e = Eph(CMDS[cmd] + BACKEND + stop_by_itself[cmd], "unpriv", wrap=wrap)
            rc = e.wait(20)
            err = e.stderr()
            t = e.t_exit - e.t0
            if denied:
                check(rc == 1 and "CAP_BPF" in err and "CAP_PERFMON" in err,
                      "%s, %s: exit 1 naming CAP_BPF and CAP_PERFMON (%.2f s)" % (what, cmd, t),
                      "1 + message", "%s: %s" % (rc, err.strip()[:300]))
            else:
                # enough to load, not to mount tracefs (CAP_SYS_ADMIN): a clear failure, or it
                # runs when tracefs is mounted already; never a hang or a crash
                ok = rc == 0 or rc == 1 and "CAP_SYS_ADMIN" in err
                check(ok, "%s, %s: exit %s (%.2f s)" % (what, cmd, rc, t),
                      "0, or 1 and a message naming what is missing",
                      "%s: %s" % (rc, err.strip()[:300]))
                log("       its message: %s" % " | ".join(err.strip().splitlines()[:3]))
            check_released(e, "%s, %s" % (what, cmd), tracefs_mounts(), orphans_before)


def cgroup2_mounts():
    with open("/proc/self/mountinfo") as f:
        return sum(1 for l in f if " - cgroup2 " in l)


def fault_no_cgroup2():
    """The cgroup backend where no cgroup2 is mounted (this host has one on
    /sys/fs/cgroup/unified: unmounted in a mount namespace of the test's own): it attaches to
    a cgroup2 mount of its own that is mounted nowhere, and leaves no mount and no directory,
    killed or not."""
    log("-- cgroup backend, no cgroup2 mounted")
    wrap = ("unshare", "-m", "--propagation", "private", "sh", "-c",
            "for m in $(grep ' - cgroup2 ' /proc/self/mountinfo | cut -d' ' -f5); do "
            "umount \"$m\" || exit 97; done; exec \"$0\" \"$@\"")
    dirs = lambda: sorted(glob.glob("/tmp/ephtrace-cgroup2-*"))
    before, dirs_before = cgroup2_mounts(), dirs()
    ns = Netns("nocg")
    orphans_before, tracefs_before = orphans(), tracefs_mounts()
    e = Eph(["events", "--json", "--backend", "cgroup"], "nocg", wrap=wrap)
    if e.check_attached():
        churn_seen(e, ns, "events --backend cgroup, no cgroup2 mount", tracefs_before,
                   orphans_before)
    for delay in (0.0, rnd.uniform(0.01, 0.15)):
        e = Eph(["events", "--backend", "cgroup"], "nocg-kill", wrap=wrap)
        time.sleep(delay)
        e.signal(signal.SIGKILL)
        e.wait(30)
        check_released(e, "no cgroup2 mount, SIGKILL after %.0f ms" % (delay * 1000),
                       tracefs_before, orphans_before, killed=True)
    check(cgroup2_mounts() == before, "no cgroup2 mount left on the host", before,
          cgroup2_mounts())
    check(dirs() == dirs_before, "no /tmp/ephtrace-cgroup2-* directory left", dirs_before,
          dirs())
    ns.delete()


# --- main -----------------------------------------------------------------------------------

def main():
    global WORK, CHURN
    topics = {"signals": [test_signals],
              "memory": [test_memory, udp_exit, startup_mid_burst, overflow_cases,
                         container_cache],
              "faults": [fault_netns_deleted, fault_two_instances, fault_btf,
                         fault_unprivileged, fault_no_cgroup2, fault_cgroupns]}
    if len(sys.argv) < 2 or sys.argv[1] not in topics:
        sys.stderr.write("usage: reliability.py signals|memory|faults [EPHTRACE [CASE...]]\n")
        return 2
    cases = [f for f in topics[sys.argv[1]] if len(sys.argv) < 4 or f.__name__ in sys.argv[3:]]
    if os.geteuid() != 0:
        skip("needs root")
    if not os.access(EPH, os.X_OK):
        skip("no ephtrace binary at %s (make ephtrace)" % EPH)
    for tool in ("bpftool", "ip", "setpriv", "gcc", "nsenter"):
        if not shutil.which(tool):
            skip("no %s" % tool)
    global TRACEFS_AT_START
    TRACEFS_AT_START = tracefs_mounts()
    WORK = tempfile.mkdtemp(prefix="ephtest-rel.")
    os.chmod(WORK, 0o755)
    CHURN = os.path.join(WORK, "ephwl-churn")
    subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-o", CHURN,
                    os.path.join(HERE, "churn.c")], check=True, timeout=120)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    log("reliability %s: %s, seed %d (EPH_SEED)" % (sys.argv[1], EPH, SEED))
    try:
        for f in cases:
            f()
    except KeyboardInterrupt:
        failures.append("interrupted")
    finally:
        cleanup()
    if failures:
        log("reliability %s: %d failed:" % (sys.argv[1], len(failures)))
        for f in failures:
            log("  - %s" % f)
        return 1
    log("reliability %s: all passed" % sys.argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
