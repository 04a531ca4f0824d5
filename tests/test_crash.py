"""Crash safety: kill -9 under load, restart, and check that every message
the server acknowledged with 250 is in the Maildir exactly once."""

import collections
import os
import re
import smtplib
import threading
import time

from correio_harness import check_maildir_file

ALICE = "alice@example.org"
THREADS = 8
RUN_SECONDS = 1.5
CYCLES = 3
TOKEN_RE = re.compile(rb"^Subject: token (\S+)$", re.M)


class Sender(threading.Thread):
    """Sends messages to alice one after another until the server dies."""

    def __init__(self, port, name):
        super().__init__(daemon=True)
        self.port = port
        self.prefix = name
        self.acked = []        # tokens whose DATA got 250
        self.attempted = []    # tokens that were (or may have been) sent

    def run(self):
        n = 0
        try:
            with smtplib.SMTP("127.0.0.1", self.port, local_hostname="crash.test",
                              timeout=5) as s:
                while True:
                    token = f"{self.prefix}-{n}"
                    n += 1
                    self.attempted.append(token)
                    s.sendmail("load@example.net", [ALICE],
                               f"Subject: token {token}\r\n\r\nbody of {token}\r\n")
                    self.acked.append(token)
        except (OSError, smtplib.SMTPException):
            return      # the server is gone


def tokens_in_maildir(server):
    count = collections.Counter()
    for path in server.messages(ALICE):
        data, _ = check_maildir_file(path)
        m = TOKEN_RE.findall(data)
        assert len(m) == 1, (path, data[:300])
        count[m[0].decode()] += 1
    return count


def test_kill_9_under_load(server):
    acked, attempted = set(), set()
    for cycle in range(CYCLES):
        senders = [Sender(server.smtp_port, f"c{cycle}t{i}") for i in range(THREADS)]
        for s in senders:
            s.start()
        time.sleep(RUN_SECONDS)
        assert server.kill() == -9
        for s in senders:
            s.join(10)
            assert not s.is_alive()
            acked.update(s.acked)
            attempted.update(s.attempted)

        server.start()
        server.wait_queue_empty(timeout=20)
        count = tokens_in_maildir(server)

        missing = sorted(acked - set(count))
        assert not missing, f"cycle {cycle}: acknowledged but lost: {missing[:20]}"
        dups = sorted(t for t, n in count.items() if n > 1)
        assert not dups, f"cycle {cycle}: delivered more than once: {dups[:20]}"
        strangers = sorted(set(count) - attempted)
        assert not strangers, strangers

    assert len(acked) >= CYCLES * THREADS, f"too little load: {len(acked)} acknowledged"
    # nothing half-written left anywhere
    d = server.maildir(ALICE)
    assert os.listdir(os.path.join(d, "tmp")) == []
