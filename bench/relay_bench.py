#!/usr/bin/env python3
"""Relay benchmark: N SMTP connections send M messages of S bytes to
recipients spread over D remote domains (MX records served by dnsmasq, all
pointing at one discarding sink on 127.0.0.2); the clock stops when the sink
has accepted all M.  Each run uses a fresh server; the median is reported
with the server's peak RSS."""

import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from correio_harness import Server, free_port  # noqa: E402

from smtp_bench import vm_hwm_kib  # noqa: E402


def one_run(args):
    dns_port, sink_port = free_port(), free_port()
    domains = [f"d{i}.test" for i in range(args.domains)]
    dns = subprocess.Popen(
        ["dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", f"--port={dns_port}",
         "--listen-address=127.0.0.1", "--bind-interfaces", "--local=/test/",
         "--host-record=mx.sink.test,127.0.0.2"] +
        [f"--mx-host={d},mx.sink.test,10" for d in domains],
        stderr=subprocess.DEVNULL)
    sink = subprocess.Popen([args.sink, "127.0.0.2", str(sink_port)],
                            stdout=subprocess.PIPE, text=True)
    extra = (f"connections_per_client = 1000\n[relay]\ntrusted_networks = 127.0.0.0/8\n"
             f"port = {sink_port}\ndestination_concurrency = {args.concurrency}\n"
             f"[dns]\nservers = 127.0.0.1:{dns_port}\n")
    try:
        with Server(extra_config=extra) as s:
            s.start()
            time.sleep(0.2)
            t0 = time.monotonic()
            procs = []
            per = args.messages // len(domains)
            for d in domains:
                procs.append(subprocess.Popen(
                    [args.load, "127.0.0.1", str(s.smtp_port),
                     str(max(1, args.connections // len(domains))), str(per),
                     str(args.size), f"user@{d}"], stdout=subprocess.PIPE, text=True))
            for p in procs:
                p.wait()
            want = per * len(domains)
            got = 0
            while got < want:
                line = sink.stdout.readline()
                if not line:
                    break
                got = int(line)
                if time.monotonic() - t0 > 600:
                    break
            elapsed = time.monotonic() - t0
            if got < want:
                raise SystemExit(f"the sink accepted {got} of {want} messages\n" +
                                 s.read_log()[-3000:])
            rss = vm_hwm_kib(s.proc.pid)
            return want / elapsed, rss
    finally:
        sink.terminate()
        dns.terminate()
        sink.wait()
        dns.wait()


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bin")
    p.add_argument("--load", default="build/smtp-load")
    p.add_argument("--sink", default="build/smtp-sink")
    p.add_argument("-n", "--connections", type=int, default=20)
    p.add_argument("-m", "--messages", type=int, default=5000)
    p.add_argument("-s", "--size", type=int, default=4096)
    p.add_argument("-d", "--domains", type=int, default=10)
    p.add_argument("-c", "--concurrency", type=int, default=5)
    p.add_argument("-r", "--runs", type=int, default=3)
    args = p.parse_args()
    if args.bin:
        os.environ["CORREIO_BIN"] = os.path.abspath(args.bin)
        import correio_harness  # noqa: E402  (it read the variable at import)
        correio_harness.BIN = os.environ["CORREIO_BIN"]
    rates, rsss = [], []
    for i in range(args.runs):
        rate, rss = one_run(args)
        rates.append(rate)
        rsss.append(rss)
        print(f"run {i + 1}: {rate:.0f} messages/s relayed, peak RSS {rss / 1024:.1f} MiB",
              flush=True)
    print(f"N={args.connections} M={args.messages} S={args.size} D={args.domains}: median "
          f"{statistics.median(rates):.0f} messages/s relayed, peak RSS max "
          f"{max(rsss) / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
