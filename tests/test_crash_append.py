"""kill -9 while IMAP clients APPEND in parallel: after the restart every
APPEND that got its OK is in the folder exactly once, and the UID its
APPENDUID named still names it (or the folder's UIDVALIDITY changed);
no two messages share a UID."""

import imaplib
import random
import re
import threading
import time

ALICE = "alice@example.org"


class Appender(threading.Thread):
    def __init__(self, port, name, folder):
        super().__init__(daemon=True)
        self.port, self.prefix, self.folder = port, name, folder
        self.acked = {}         # token -> (uidvalidity, uid)
        self.attempted = []

    def run(self):
        try:
            c = imaplib.IMAP4("127.0.0.1", self.port, timeout=5)
            c.login(ALICE, "secret")
            n = 0
            while True:
                token = f"{self.prefix}-{n}"
                n += 1
                self.attempted.append(token)
                typ, data = c.append(self.folder, None, None,
                                     f"Subject: token {token}\r\n\r\nbody\r\n".encode())
                if typ != "OK":
                    return
                v, u = re.search(rb"APPENDUID (\d+) (\d+)", data[0]).groups()
                self.acked[token] = (int(v), int(u))
        except (OSError, imaplib.IMAP4.error, EOFError):
            return


def folder_state(server, folder):
    c = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=10)
    c.login(ALICE, "secret")
    typ, data = c.select(folder, readonly=True)
    assert typ == "OK", data
    validity = int(c.response("UIDVALIDITY")[1][0])
    uids = {}
    if int(data[0]) > 0:
        typ, data = c.uid("FETCH", "1:*", "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        for part in data:
            if isinstance(part, tuple):
                uid = int(re.search(rb"UID (\d+)", part[0]).group(1))
                token = re.search(rb"Subject: token (\S+)", part[1]).group(1).decode()
                assert uid not in uids, (uid, token, uids[uid])
                uids[uid] = token
    c.logout()
    return validity, uids


def test_kill_9_during_parallel_appends(server):
    rng = random.Random(99)
    c = imaplib.IMAP4("127.0.0.1", server.imap_port)
    c.login(ALICE, "secret")
    c.create("Target")
    c.logout()
    acked, attempted = {}, set()
    for cycle in range(3):
        apps = [Appender(server.imap_port, f"a{cycle}t{i}", "INBOX" if i % 2 else "Target")
                for i in range(6)]
        for a in apps:
            a.start()
        time.sleep(0.5 + rng.random())
        assert server.kill() == -9
        for a in apps:
            a.join(10)
            assert not a.is_alive()
            for token, vu in a.acked.items():
                acked[token] = (a.folder, vu)
            attempted.update(a.attempted)
        server.start()
        for folder in ("INBOX", "Target"):
            validity, uids = folder_state(server, folder)
            tokens = list(uids.values())
            dups = {t for t in tokens if tokens.count(t) > 1}
            assert not dups, (cycle, folder, sorted(dups)[:10])
            assert not set(tokens) - attempted
            mine = {t: vu for t, (f, vu) in acked.items() if f == folder}
            missing = sorted(set(mine) - set(tokens))
            assert not missing, (cycle, folder, "acknowledged but lost", missing[:10])
            for token, (v, u) in mine.items():
                if v == validity:
                    assert uids.get(u) == token, \
                        (cycle, folder, token, "APPENDUID", u, "now", uids.get(u))
    assert len(acked) >= 12


def test_sigterm_during_parallel_appends_and_copies(server):
    """SIGTERM while sessions APPEND and COPY: the server exits within
    seconds with status 0, and what was acknowledged is there after the
    next start under the UIDs given."""
    import signal
    c = imaplib.IMAP4("127.0.0.1", server.imap_port)
    c.login(ALICE, "secret")
    c.create("Target")
    for i in range(20):
        c.append("INBOX", None, None, f"Subject: token seed-{i}\r\n\r\nx\r\n".encode())
    c.select("INBOX")
    stop = threading.Event()

    def copier():
        try:
            while not stop.is_set():
                c.copy("1:*", "Target")
        except (OSError, imaplib.IMAP4.error, EOFError):
            return
    apps = [Appender(server.imap_port, f"s{i}", "INBOX" if i % 2 else "Target")
            for i in range(6)]
    for a in apps:
        a.start()
    t = threading.Thread(target=copier, daemon=True)
    t.start()
    time.sleep(1.0)
    server.proc.send_signal(signal.SIGTERM)
    t0 = time.monotonic()
    code = server.proc.wait(30)
    took = time.monotonic() - t0
    stop.set()
    server.stop()
    assert code == 0, server.read_log()[-3000:]
    assert took < 10, took
    for a in apps:
        a.join(10)
    t.join(10)
    server.start()
    for folder in ("INBOX", "Target"):
        validity, uids = folder_state(server, folder)
        tokens = set(uids.values())
        for a in apps:
            if a.folder != folder:
                continue
            for token, (v, u) in a.acked.items():
                assert token in tokens, (folder, token)
                if v == validity:
                    assert uids.get(u) == token, (folder, token, u, uids.get(u))
