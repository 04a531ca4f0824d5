#!/usr/bin/env python3
"""SMTP-to-Maildir benchmark: N connections send M messages of S bytes to one
local account; the clock stops when all M are files in the Maildir.  Each run
uses a fresh server; the median of the runs is reported with the server's
peak RSS (VmHWM).  Postfix can be measured with the same load generator by
pointing smtp-load at it."""

import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from correio_harness import Server  # noqa: E402


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def one_run(args):
    with Server(extra_config="connections_per_client = 1000\n") as s:
        s.add_user("bench@example.org")
        s.start()
        new = os.path.join(s.maildir("bench@example.org"), "new")
        t0 = time.monotonic()
        load = subprocess.run([args.load, "127.0.0.1", str(s.smtp_port),
                               str(args.connections), str(args.messages),
                               str(args.size), "bench@example.org"],
                              capture_output=True, text=True)
        if load.returncode != 0:
            raise SystemExit("load failed: " + load.stdout + load.stderr)
        while True:
            try:
                n = len(os.listdir(new))
            except FileNotFoundError:
                n = 0
            if n >= args.messages:
                break
            if time.monotonic() - t0 > 600:
                raise SystemExit(f"only {n} messages delivered")
            time.sleep(0.01)
        elapsed = time.monotonic() - t0
        rss = vm_hwm_kib(s.proc.pid)
        return args.messages / elapsed, rss, load.stdout.strip()


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bin")
    p.add_argument("--load", default="build/smtp-load")
    p.add_argument("-n", "--connections", type=int, default=20)
    p.add_argument("-m", "--messages", type=int, default=5000)
    p.add_argument("-s", "--size", type=int, default=4096)
    p.add_argument("-r", "--runs", type=int, default=5)
    args = p.parse_args()
    if args.bin:
        os.environ["CORREIO_BIN"] = os.path.abspath(args.bin)
        import correio_harness  # noqa: E402  (it read the variable at import)
        correio_harness.BIN = os.environ["CORREIO_BIN"]
    rates, rsss = [], []
    for i in range(args.runs):
        rate, rss, line = one_run(args)
        rates.append(rate)
        rsss.append(rss)
        print(f"run {i + 1}: {rate:.0f} messages/s into the Maildir, "
              f"peak RSS {rss / 1024:.1f} MiB ({line})", flush=True)
    print(f"N={args.connections} M={args.messages} S={args.size}: median "
          f"{statistics.median(rates):.0f} messages/s, peak RSS max "
          f"{max(rsss) / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
