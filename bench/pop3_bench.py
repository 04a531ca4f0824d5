#!/usr/bin/env python3
"""POP3 benchmark: U accounts, each pre-filled with M messages of about S
bytes (files written straight into the Maildir's new/, as the delivery
agent leaves them, LF line ends, a few lines starting with "."); then N
concurrent clients (bench/pop3_load.c) log in as the U users, one session
per user, and LIST + RETR every message, checking each size.  A run ends
when every user's maildrop has been read once.

Each run uses a fresh server and fresh maildrops, so that every run
includes what picking new mail up costs (the server indexes it and moves
it from new/ to cur/).  Every account has logged in once before its mail
is written, as on a running server; --new-accounts leaves that out, so
the run also pays for each account's first login ever (its default
folders are created then).  --warm adds that many runs against the same
server afterwards (index built, files in the page cache).  The median rate of the
runs is reported in messages/s with the server's peak RSS (VmHWM) and its
RSS before the load."""

import argparse
import os
import random
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from correio_harness import Server  # noqa: E402

DOMAIN = "example.org"
PASSWORD = "bench-password"


def proc_status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def make_message(rnd, user, i, size):
    head = (f"Return-Path: <sender{i % 7}@example.net>\n"
            f"Received: from client.example.net (unknown [192.0.2.{i % 250 + 1}])\n"
            f"\tby mx.example.org (correio) with ESMTP id BENCH{i:08X}\n"
            f"\tfor <{user}>; Thu, 26 Nov 2026 10:00:00 +0000\n"
            f"From: Sender {i % 7} <sender{i % 7}@example.net>\n"
            f"To: <{user}>\n"
            f"Subject: benchmark message {i}\n"
            f"Date: Thu, 26 Nov 2026 10:00:00 +0000\n"
            f"Message-ID: <bench.{i}.{user}>\n"
            f"MIME-Version: 1.0\n"
            f"Content-Type: text/plain; charset=us-ascii\n\n").encode()
    lines = [head]
    n = len(head)
    words = [b"lorem", b"ipsum", b"dolor", b"sit", b"amet", b"consectetur",
             b"adipiscing", b"elit", b"sed", b"do", b"eiusmod", b"tempor"]
    while n < size:
        line = b" ".join(rnd.choice(words) for _ in range(11))[:72]
        if rnd.random() < 0.02:
            line = b"." + line          # dot-stuffed on the wire
        lines.append(line + b"\n")
        n += len(line) + 1
    return b"".join(lines)


def fill(server, users, messages, size, seed=1):
    """Create the Maildirs and write the messages; returns the bytes
    written.  The server runs as another user: the files are given to it."""
    st = os.stat(server.data)
    rnd = random.Random(seed)
    bodies = [make_message(rnd, "x", i, size) for i in range(64)]   # reused
    total = 0
    t = int(time.time()) - 3600
    for u in range(users):
        address = f"bench{u}@{DOMAIN}"
        md = server.maildir(address)
        for d in (os.path.dirname(os.path.dirname(md)), os.path.dirname(md), md,
                  md + "/tmp", md + "/new", md + "/cur"):
            if not os.path.isdir(d):
                os.mkdir(d, 0o700)
                os.chown(d, st.st_uid, st.st_gid)
        for i in range(messages):
            data = bodies[(u + i) % len(bodies)].replace(b"<x>", f"<{address}>".encode())
            crlf_size = len(data) + data.count(b"\n")
            name = f"{t + i}.M{u:04d}{i:05d}P{os.getpid()}.bench,S={len(data)},W={crlf_size}"
            path = os.path.join(md, "new", name)
            with open(path, "wb") as f:
                f.write(data)
            os.chown(path, st.st_uid, st.st_gid)
            total += len(data)
    return total


def load(args, server):
    r = subprocess.run([args.load, "127.0.0.1", str(server.pop3_port), str(args.clients),
                        str(args.users), f"bench%d@{DOMAIN}", PASSWORD, str(args.depth)],
                       capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise SystemExit("pop3-load failed: " + r.stdout + r.stderr + server.read_log()[-3000:])
    f = r.stdout.split()
    out = dict(zip(f[0::2], f[1::2]))
    if int(out["messages"]) != args.users * args.messages:
        raise SystemExit("pop3-load: retrieved %s messages, wanted %d" %
                         (out["messages"], args.users * args.messages))
    return (float(out["rate"]), float(out["login_ms"]), int(out["bytes"]), float(out["seconds"]),
            float(out["retr_rate"]))


def log_in_once(args, server):
    """Every user logs in to an empty maildrop (untimed)."""
    r = subprocess.run([args.load, "127.0.0.1", str(server.pop3_port), str(args.clients),
                        str(args.users), f"bench%d@{DOMAIN}", PASSWORD, "1"],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise SystemExit("pop3-load failed: " + r.stdout + r.stderr + server.read_log()[-3000:])


def server_config(args):
    return (f"connections_per_client = 1000\n"
            f"[auth]\nplaintext_on_loopback = yes\nthreads = {args.auth_threads}\n")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bin")
    p.add_argument("--load", default="build/pop3-load")
    p.add_argument("-n", "--clients", type=int, default=10)
    p.add_argument("-u", "--users", type=int, default=100)
    p.add_argument("-m", "--messages", type=int, default=50, help="messages per user")
    p.add_argument("-s", "--size", type=int, default=8192)
    p.add_argument("-d", "--depth", type=int, default=1, help="RETRs in flight per session")
    p.add_argument("-r", "--runs", type=int, default=5)
    p.add_argument("-w", "--warm", type=int, default=3,
                   help="runs against the last server after the fresh runs")
    p.add_argument("--auth-threads", type=int, default=2, help="[auth] threads")
    p.add_argument("--new-accounts", action="store_true",
                   help="no login before the mail is written: time first logins ever")
    args = p.parse_args()
    if args.bin:
        os.environ["CORREIO_BIN"] = os.path.abspath(args.bin)
        import correio_harness  # noqa: E402  (it read the variable at import)
        correio_harness.BIN = os.environ["CORREIO_BIN"]

    users_made = None
    rates, rsss = [], []
    warm_rates, retr_rates, warm_retr = [], [], []
    for run in range(args.runs):
        s = Server(extra_config=server_config(args))
        try:
            t0 = time.monotonic()
            for u in range(args.users):
                s.add_user(f"bench{u}@{DOMAIN}", PASSWORD)
            users_made = time.monotonic() - t0
            s.start()
            if not args.new_accounts:
                log_in_once(args, s)
            t0 = time.monotonic()
            size = fill(s, args.users, args.messages, args.size)
            filled = time.monotonic() - t0
            time.sleep(0.2)
            idle_rss = proc_status_kib(s.pid, "VmRSS")
            rate, login_ms, got, secs, retr_rate = load(args, s)
            rss = proc_status_kib(s.pid, "VmHWM")
            rates.append(rate)
            retr_rates.append(retr_rate)
            rsss.append(rss)
            print(f"run {run + 1}: {rate:.0f} messages/s ({got / secs / 2**20:.1f} MiB/s, "
                  f"{secs:.2f} s; mean login {login_ms:.1f} ms; {retr_rate:.0f} messages/s "
                  f"between logins), peak RSS {rss / 1024:.1f} MiB "
                  f"(idle {idle_rss / 1024:.1f} MiB); set-up: {args.users} users in "
                  f"{users_made:.1f} s, {size / 2**20:.0f} MiB written in {filled:.1f} s",
                  flush=True)
            if run == args.runs - 1:
                for w in range(args.warm):
                    rate, login_ms, got, secs, retr_rate = load(args, s)
                    warm_rates.append(rate)
                    warm_retr.append(retr_rate)
                    print(f"warm {w + 1}: {rate:.0f} messages/s ({secs:.2f} s; mean login "
                          f"{login_ms:.1f} ms; {retr_rate:.0f} messages/s between logins), "
                          f"peak RSS "
                          f"{proc_status_kib(s.pid, 'VmHWM') / 1024:.1f} MiB", flush=True)
                if args.warm:
                    rsss.append(proc_status_kib(s.pid, "VmHWM"))
        finally:
            s.cleanup()
    print(f"N={args.clients} U={args.users} M={args.messages} S={args.size} depth={args.depth}: "
          f"median {statistics.median(rates):.0f} messages/s on fresh maildrops"
          f"{' of new accounts' if args.new_accounts else ''} "
          f"({statistics.median(retr_rates):.0f} between logins)"
          + (f", {statistics.median(warm_rates):.0f} messages/s warm "
             f"({statistics.median(warm_retr):.0f} between logins)" if warm_rates else "")
          + f"; peak RSS max {max(rsss) / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
