#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""The workloads of tests/host/metrics.sh, one role per run, each in the network namespace
metrics.sh gives it: python3 metrics_wl.py ROLE WORKDIR [NAME]. Each writes its pid and what
the kernel told it as JSON into WORKDIR (server.json, twserver.json, twclient.json;
binder-filled.json then binder.json; NAME.json for a client, client.json by default), then
holds its sockets until killed.
  server    a listener on 127.0.0.1:5000, accepting and keeping every connection;
  client    64 connect()s to it from a process named ephwl-client (16 ports: 48 EADDRNOTAVAIL);
  binder    fills the bind scopes of 0.0.0.0 (TCP bind(0), UDP sendto() from unbound sockets),
            waits for WORKDIR/binder-go, then counts the EADDRINUSE and EAGAIN that follow;
  twserver  a listener that closes each connection once its client did;
  twclient  40 connect()s, 30 closed first (no TIME_WAIT in its namespace), 10 kept.
"""
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
elif role == "binder":
    # fill the bind scopes of 0.0.0.0: TCP bind(0) until EADDRINUSE, UDP sendto() from unbound
    # sockets (implicit bind) until EAGAIN, then UDP bind(0) (EADDRINUSE); keep every socket
    keep, c = [], {"tcp_ok": 0, "tcp_EADDRINUSE": 0, "udp_ok": 0, "udp_EAGAIN": 0,
                   "udp_EADDRINUSE": 0, "other": 0}
    def attempt(ok, err, sock, call):
        try:
            call(sock)
            keep.append(sock)
            c[ok] += 1
        except OSError as e:
            sock.close()
            c[err if e.errno == getattr(errno, err.split("_")[1]) else "other"] += 1
    def tcp_bind0():
        attempt("tcp_ok", "tcp_EADDRINUSE", socket.socket(), lambda s: s.bind(("0.0.0.0", 0)))
    def udp_send():
        attempt("udp_ok", "udp_EAGAIN", socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
                lambda s: s.sendto(b"x", ("127.0.0.1", 9)))
    for _ in range(8):  # the whole 8-port range, as a scope fills over time...
        tcp_bind0()
        udp_send()
    publish("binder-filled.json", dict(c))
    while not os.path.exists(os.path.join(work, "binder-go")):  # ...seen full by a scrape
        time.sleep(0.05)
    for _ in range(5):
        tcp_bind0()
    for _ in range(4):
        udp_send()
    for _ in range(3):
        attempt("udp_ok", "udp_EADDRINUSE", socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
                lambda s: s.bind(("0.0.0.0", 0)))
    c["pid"] = os.getpid()
    publish("binder.json", c)
    time.sleep(3600)
elif role == "twserver":
    import threading
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", 5000))
    l.listen(256)
    def drain(s):  # close once the client did: its FIN comes first (its side would be TIME_WAIT)
        while s.recv(100):
            pass
        s.close()
    publish("twserver.json", {"pid": os.getpid()})
    while True:
        threading.Thread(target=drain, args=(l.accept()[0],), daemon=True).start()
elif role == "twclient":
    keep, closed = [], 0
    for i in range(40):
        s = socket.socket()
        s.connect(("127.0.0.1", 5000))
        if i < 30:
            s.close()
            closed += 1
        else:
            keep.append(s)
    time.sleep(1)  # the server's FINs: the closed ones leave FIN_WAIT2 (no TIME_WAIT)
    publish("twclient.json", {"pid": os.getpid(), "assigned": 40, "closed": closed,
                              "open": len(keep)})
    time.sleep(3600)
else:
    import ctypes
    # PR_SET_NAME on the main thread: the process's name (pcomm), its series' comm label
    ctypes.CDLL(None).prctl(15, b"ephwl-client", 0, 0, 0)
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
    publish((sys.argv[3] if len(sys.argv) > 3 else "client") + ".json", counts)
    time.sleep(3600)  # hold every port (and stay alive) until the test ends
