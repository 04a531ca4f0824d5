#!/usr/bin/env python3
"""JMAP benchmarks.

  newest  one API request of Email/query (INBOX, receivedAt descending,
          limit 50) and Email/get of those 50 by back-reference (subject,
          from, receivedAt, keywords, preview) on a 10,000-message INBOX,
          over one keep-alive connection after the login; median of R
          warm runs (a first request takes the Maildir into the index).
  threads the conversation view on the same INBOX, every 10th message a
          reply to the one before it: the first Email/query with
          collapseThreads (which gives every message its thread, reading
          each header once), then its median over R warm runs, and a
          Thread/get of the 50 threads listed.
  push    memory per idle EventSource connection: server RSS before and
          after opening C streams (types=*, ping=0) that stay open.

Messages are written straight into the Maildir as the delivery agent does.
"""

import argparse
import base64
import http.client
import json
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
sys.path.insert(0, os.path.dirname(__file__))
import correio_harness  # noqa: E402
from correio_harness import Server  # noqa: E402
from imap_bench import fill, rss_kib  # noqa: E402

AUTH = {"Authorization": "Basic " + base64.b64encode(b"bench@example.org:secret").decode()}
USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"]


def api(conn, calls):
    conn.request("POST", "/jmap/api", json.dumps({"using": USING, "methodCalls": calls}),
                 dict(AUTH, **{"Content-Type": "application/json"}))
    r = conn.getresponse()
    body = r.read()
    assert r.status == 200, body
    return json.loads(body)["methodResponses"]


def bench_newest(args):
    extra = "[limits]\nconnections_per_client = 1000\n"
    with Server(extra_config=extra, http=True) as s:
        s.add_user("bench@example.org")
        fill(s, "bench@example.org", args.messages, 4096)
        s.start()
        conn = http.client.HTTPConnection("127.0.0.1", s.http_port, timeout=300)
        conn.request("GET", "/.well-known/jmap", headers=AUTH)
        r = conn.getresponse()
        acct = json.loads(r.read())["primaryAccounts"][USING[1]]
        inbox = [m["id"] for m in api(conn, [["Mailbox/get", {"accountId": acct}, "m"]])[0][1]["list"]
                 if m["role"] == "inbox"][0]
        calls = [
            ["Email/query", {"accountId": acct, "filter": {"inMailbox": inbox},
                             "sort": [{"property": "receivedAt", "isAscending": False}],
                             "limit": 50}, "q"],
            ["Email/get", {"accountId": acct, "#ids": {"resultOf": "q", "name": "Email/query",
                                                       "path": "/ids"},
                           "properties": ["subject", "from", "receivedAt", "keywords", "preview"]},
             "g"],
        ]
        times = []
        for run in range(args.runs + 1):
            t0 = time.monotonic()
            out = api(conn, calls)
            elapsed = time.monotonic() - t0
            assert len(out[1][1]["list"]) == 50
            if run > 0:
                times.append(elapsed)
        print(f"newest: Email/query + Email/get of the 50 newest in a {args.messages}-message "
              f"INBOX: median {statistics.median(times) * 1000:.1f} ms over {args.runs} warm runs")


def bench_threads(args):
    extra = "[limits]\nconnections_per_client = 1000\n"
    with Server(extra_config=extra, http=True) as s:
        s.add_user("bench@example.org")
        fill(s, "bench@example.org", args.messages, 4096)
        new = os.path.join(s.maildir("bench@example.org"), "new")
        for name in sorted(os.listdir(new)):
            i = int(name.split(".B")[1].split(".")[0])
            if i % 10 == 9:
                path = os.path.join(new, name)
                with open(path) as f:
                    text = f.read()
                with open(path, "w") as f:
                    f.write(text.replace("\n\n", f"\nIn-Reply-To: <{i - 1}@bench>\n\n", 1))
        s.start()
        conn = http.client.HTTPConnection("127.0.0.1", s.http_port, timeout=300)
        conn.request("GET", "/.well-known/jmap", headers=AUTH)
        r = conn.getresponse()
        acct = json.loads(r.read())["primaryAccounts"][USING[1]]
        # the folder indexed first, so that the cold run is the threads alone
        api(conn, [["Email/query", {"accountId": acct, "limit": 1}, "q"]])
        calls = [
            ["Email/query", {"accountId": acct, "collapseThreads": True, "limit": 50,
                             "calculateTotal": True}, "q"],
            ["Email/get", {"accountId": acct, "#ids": {"resultOf": "q", "name": "Email/query",
                                                       "path": "/ids"},
                           "properties": ["threadId", "subject"]}, "g"],
            ["Thread/get", {"accountId": acct, "#ids": {"resultOf": "g", "name": "Email/get",
                                                        "path": "/list/*/threadId"}}, "t"],
        ]
        t0 = time.monotonic()
        out = api(conn, calls)
        cold = time.monotonic() - t0
        assert out[0][1]["total"] == args.messages - args.messages // 10, out[0][1]["total"]
        times = []
        for _ in range(args.runs):
            t0 = time.monotonic()
            api(conn, calls)
            times.append(time.monotonic() - t0)
        print(f"threads: collapseThreads query + Email/get + Thread/get of 50 in a "
              f"{args.messages}-message INBOX: first {cold * 1000:.0f} ms (every thread given), "
              f"then median {statistics.median(times) * 1000:.1f} ms over {args.runs} runs")


def bench_push(args):
    extra = "[limits]\nconnections = 20000\nconnections_per_client = 20000\n"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with Server(extra_config=extra, http=True) as s:
        s.add_user("bench@example.org")
        s.start()

        def stream():
            c = http.client.HTTPConnection("127.0.0.1", s.http_port, timeout=60)
            c.request("GET", "/jmap/eventsource?types=*&closeafter=no&ping=0", headers=AUTH)
            r = c.getresponse()
            assert r.status == 200
            r.read1(4096)  # the first state event
            return c, r

        warm = [stream() for _ in range(10)]
        time.sleep(0.3)
        before = rss_kib(s.proc.pid)
        streams = [stream() for _ in range(args.streams)]
        time.sleep(0.5)
        after = rss_kib(s.proc.pid)
        per = (after - before) * 1024 / args.streams
        print(f"push: {args.streams} idle EventSource connections: server RSS "
              f"{before / 1024:.1f} -> {after / 1024:.1f} MiB, {per / 1024:.1f} KiB per connection")
        for c, _ in warm + streams:
            c.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", help="correio binary (else $CORREIO_BIN)")
    p.add_argument("--messages", type=int, default=10000)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--streams", type=int, default=500)
    p.add_argument("--only", choices=["newest", "threads", "push"], help="one benchmark")
    args = p.parse_args()
    if args.bin:
        os.environ["CORREIO_BIN"] = correio_harness.BIN = os.path.abspath(args.bin)
    for name, fn in (("newest", bench_newest), ("threads", bench_threads), ("push", bench_push)):
        if args.only in (None, name):
            fn(args)


if __name__ == "__main__":
    main()
