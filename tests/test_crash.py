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


# ---- pipelining, BDAT, big texts and several recipients ----

BOB = "bob@example.org"
MIXED_THREADS = 10
BIG_LINE = b"y" * 998 + b"\r\n"


class MixedSender(threading.Thread):
    """One raw SMTP session sending, in turn: a pipelined DATA transaction
    to alice and bob, a BDAT one in several chunks (the last sent with
    the command), and a text larger than the queue's write buffer.  A
    token counts as acknowledged only once its final 250 was read."""

    def __init__(self, port, name):
        super().__init__(daemon=True)
        self.port = port
        self.prefix = name
        self.acked = []
        self.attempted = []
        self.buf = b""

    def reply(self, sock):
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                line, self.buf = self.buf[:end], self.buf[end + 2:]
                if line[3:4] != b"-":
                    return line
                continue
            data = sock.recv(65536)
            if not data:
                raise OSError("closed")
            self.buf += data

    def text(self, token, big):
        body = BIG_LINE * 200 if big else b"short body\r\n"
        return (f"Subject: token {token}\r\nFrom: load@example.net\r\n\r\n".encode()
                + body)

    def run(self):
        import socket
        n = 0
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), 5)
            sock.settimeout(5)
            assert self.reply(sock).startswith(b"220")
            sock.sendall(b"EHLO crash.test\r\n")
            assert self.reply(sock).startswith(b"250")
            while True:
                token = f"{self.prefix}-{n}"
                kind = n % 3
                n += 1
                self.attempted.append(token)
                text = self.text(token, kind == 2)
                head = b"MAIL FROM:<load@example.net>\r\n" \
                       b"RCPT TO:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\n"
                if kind == 1:
                    cut = len(text) // 2
                    sock.sendall(head + b"BDAT %d\r\n" % cut + text[:cut])
                    for _ in range(4):
                        assert self.reply(sock).startswith(b"250")
                    sock.sendall(b"BDAT %d LAST\r\n" % (len(text) - cut) + text[cut:])
                    final = self.reply(sock)
                else:
                    sock.sendall(head + b"DATA\r\n")
                    for _ in range(3):
                        assert self.reply(sock).startswith(b"250")
                    assert self.reply(sock).startswith(b"354")
                    sock.sendall(text + b".\r\n")
                    final = self.reply(sock)
                assert final.startswith(b"250"), final
                self.acked.append(token)
        except (OSError, AssertionError):
            return      # the server is gone


def test_kill_9_pipelining_bdat_big_two_rcpts(server):
    """kill -9 at random moments while many sessions pipeline, chunk and
    send big texts to two local recipients: after the restart each
    acknowledged message is in both Maildirs exactly once, nothing
    half-written is delivered, and the spool ends empty."""
    import random
    rng = random.Random(4242)
    acked, attempted = set(), set()
    for cycle in range(CYCLES):
        senders = [MixedSender(server.smtp_port, f"m{cycle}t{i}")
                   for i in range(MIXED_THREADS)]
        for s in senders:
            s.start()
        time.sleep(0.4 + rng.random() * 1.2)
        assert server.kill() == -9
        for s in senders:
            s.join(10)
            assert not s.is_alive()
            acked.update(s.acked)
            attempted.update(s.attempted)
        # what a crash leaves: at most files of receptions under way
        server.start()
        server.wait_queue_empty(timeout=30)
        for rcpt in (ALICE, BOB):
            count = collections.Counter()
            for path in server.messages(rcpt):
                data, _ = check_maildir_file(path)
                m = TOKEN_RE.findall(data)
                assert len(m) == 1, (path, data[:300])
                token = m[0].decode()
                count[token] += 1
                if token.split("-")[1].isdigit() and int(token.split("-")[1]) % 3 == 2:
                    assert data.count(BIG_LINE) == 200, (path, len(data))
            missing = sorted(acked - set(count))
            assert not missing, f"cycle {cycle} {rcpt}: acknowledged but lost: {missing[:20]}"
            dups = sorted(t for t, k in count.items() if k > 1)
            assert not dups, f"cycle {cycle} {rcpt}: delivered more than once: {dups[:20]}"
            assert not set(count) - attempted
            assert os.listdir(os.path.join(server.maildir(rcpt), "tmp")) == []
    assert len(acked) >= CYCLES * MIXED_THREADS, f"too little load: {len(acked)}"


# ---- kill -9 inside the commit's windows, held open with strace ----

def traced_with_delay(server, syscall):
    """Restart `server` under strace, every `syscall` of it held 4 s
    before it runs; returns (strace's Popen, the server's pid)."""
    import socket
    import subprocess
    import correio_harness
    from test_durable_trace import serve_child

    strace = correio_harness.strace_path()
    server.stop()
    log = open(server.log_path, "ab")
    env = correio_harness.env_under_ptrace()
    st = subprocess.Popen([strace, "-f", "-o", "/dev/null", "-e", f"trace={syscall}",
                           "-e", f"inject={syscall}:delay_enter=4000000",
                           "--", correio_harness.BIN, "-c", server.conf, "serve"],
                          stdout=log, stderr=log, env=env)
    log.close()
    deadline = time.time() + 20
    pid = None
    while True:
        assert st.poll() is None, server.read_log()
        assert time.time() < deadline, "server did not start"
        if pid is None:
            pid = serve_child(st.pid)
        if pid is not None and os.path.exists(os.path.join(server.data, "control.sock")):
            try:
                socket.create_connection(("127.0.0.1", server.smtp_port), 0.5).close()
                return st, pid
            except OSError:
                pass
        time.sleep(0.05)


def send_until_commit(server, token, rcpts):
    """A message whose text is sent in full; returns the open socket and
    its reader, the final reply not read."""
    import socket
    c = socket.create_connection(("127.0.0.1", server.smtp_port), 10)
    c.settimeout(10)
    f = c.makefile("rb")
    assert f.readline().startswith(b"220")
    c.sendall(b"EHLO window.test\r\n")
    while not f.readline().startswith(b"250 "):
        pass
    c.sendall(b"MAIL FROM:<load@example.net>\r\n" +
              b"".join(b"RCPT TO:<%s>\r\n" % r.encode() for r in rcpts) + b"DATA\r\n")
    for _ in range(len(rcpts) + 2):
        assert f.readline()[:1] in (b"2", b"3")
    c.sendall(f"Subject: token {token}\r\n\r\nbody\r\n.\r\n".encode())
    return c, f


def kill_in_window(server, syscall, token):
    import signal
    st, pid = traced_with_delay(server, syscall)
    try:
        c, f = send_until_commit(server, token, [ALICE, BOB])
        time.sleep(1.5)             # the commit now waits in the held call
        c.settimeout(0.2)
        try:
            early = f.readline()
        except OSError:
            early = b""
        assert early == b"", f"answered before the {syscall}: {early!r}"
        names = os.listdir(os.path.join(server.data, "queue"))
        os.kill(pid, signal.SIGKILL)
        st.wait(20)
        c.close()
    finally:
        if st.poll() is None:
            st.kill()
            st.wait()
    return names


def test_kill_9_between_flush_and_rename(server):
    """Killed after the text and envelope were flushed, before the
    envelope's rename: the client had no 250, nothing is delivered, and
    the next start removes both files."""
    names = kill_in_window(server, "renameat", "win-rename")
    assert any(n.endswith(".env.new") for n in names), names
    assert not any(n.endswith(".env") for n in names), names
    server.start()
    server.wait_queue_empty(timeout=10)
    time.sleep(0.5)
    assert server.messages(ALICE) == [] and server.messages(BOB) == []


def test_kill_9_between_rename_and_directory_flush(server):
    """Killed after the envelope's rename, before the spool directory's
    flush (and so before the 250): after the next start the message,
    whose envelope is in place, is delivered to each recipient once."""
    names = kill_in_window(server, "fsync", "win-fsync")
    assert any(n.endswith(".env") for n in names), names
    server.start()
    server.wait_queue_empty(timeout=10)
    for rcpt in (ALICE, BOB):
        files = server.wait_messages(rcpt, 1)
        assert len(files) == 1
        data, _ = check_maildir_file(files[0])
        assert TOKEN_RE.findall(data) == [b"win-fsync"]


# ---- local and remote recipients; kill -9 again during the recovery ----

QUEUED_RE = re.compile(r"queued as (\S+)")


class LocalRemoteSender(Sender):
    """smtplib sessions to alice and to a remote address that cannot be
    reached (its relay is deferred): the queue ids of the 250s are kept."""

    def __init__(self, port, name):
        super().__init__(port, name)
        self.ids = {}

    def run(self):
        n = 0
        try:
            with smtplib.SMTP("127.0.0.1", self.port, local_hostname="crash.test",
                              timeout=5) as s:
                s.login(ALICE, "secret")    # submission: may relay
                while True:
                    token = f"{self.prefix}-{n}"
                    n += 1
                    self.attempted.append(token)
                    s.mail(ALICE)
                    assert s.rcpt(ALICE)[0] == 250
                    assert s.rcpt("far@remote.test")[0] == 250
                    code, text = s.data(f"Subject: token {token}\r\n\r\nbody\r\n")
                    if code != 250:
                        return
                    self.ids[token] = QUEUED_RE.search(text.decode()).group(1)
                    self.acked.append(token)
        except (OSError, smtplib.SMTPException, AssertionError):
            return


def test_kill_9_local_and_remote_rcpts_and_during_recovery():
    """Messages to a local and a remote recipient: after kill -9 (and kill
    -9 again while the restarted server recovers and delivers), alice has
    each acknowledged message once, and the spool holds, for the remote
    recipient still deferred, every acknowledged message and no other
    than those whose 250 the kill cut off; no partial file is left."""
    import random
    from correio_harness import Server, free_port
    rng = random.Random(5)
    s = Server(extra_config=f"\n[dns]\nservers = 127.0.0.1:{free_port()}\n"
                            "\n[queue]\nretry_interval = 1h\n")
    try:
        s.add_user(ALICE)
        s.start()
        acked, attempted, ids = set(), set(), {}
        for cycle in range(2):
            senders = [LocalRemoteSender(s.submission_port, f"r{cycle}t{i}")
                       for i in range(THREADS)]
            for x in senders:
                x.start()
            time.sleep(0.8 + rng.random())
            assert s.kill() == -9
            for x in senders:
                x.join(10)
                acked.update(x.acked)
                attempted.update(x.attempted)
                ids.update(x.ids)
            # killed again and again while recovering and delivering
            for _ in range(4):
                s.start()
                time.sleep(rng.random() * 0.3)
                assert s.kill() == -9
            s.start()
            deadline = time.time() + 20
            while time.time() < deadline and not acked <= set(tokens_in_maildir(s)):
                time.sleep(0.1)
            count = tokens_in_maildir(s)
            missing = sorted(acked - set(count))
            assert not missing, f"cycle {cycle}: acknowledged but lost: {missing[:20]}"
            dups = sorted(t for t, k in count.items() if k > 1)
            assert not dups, f"cycle {cycle}: delivered more than once: {dups[:20]}"
            assert not set(count) - attempted
            # the live server rewrites an envelope (the remote recipient's
            # deferral) as <id>.env.new and renames it: look between two
            files = s.queue_files()
            for _ in range(100):
                if not [f for f in files if f.endswith(".new")]:
                    break
                time.sleep(0.05)
                files = s.queue_files()
            envs = {f[:-4] for f in files if f.endswith(".env")}
            texts = {f[:-4] for f in files if f.endswith(".msg")}
            others = [f for f in files if not f.endswith((".env", ".msg"))]
            assert not others, others
            assert envs == texts, (envs ^ texts)
            assert set(ids.values()) <= envs, sorted(set(ids.values()) - envs)[:10]
            # unacknowledged survivors: at most one per session per kill
            assert len(envs - set(ids.values())) <= THREADS * (cycle + 1)
        assert len(acked) >= THREADS
    finally:
        s.cleanup()


def test_sigterm_while_the_commit_is_held(server):
    """SIGTERM while the message's flush is held (strace delays every
    fdatasync 4 s): the server waits for the commit, answers 250 and
    421, exits with status 0, and the message is delivered once."""
    import signal
    st, pid = traced_with_delay(server, "fdatasync")
    try:
        c, f = send_until_commit(server, "held-term", [ALICE, BOB])
        time.sleep(1.0)
        os.kill(pid, signal.SIGTERM)
        assert f.readline().startswith(b"250 2.0.0 Ok: queued as ")
        assert f.readline().startswith(b"421 ")
        assert st.wait(30) == 0
        c.close()
    finally:
        if st.poll() is None:
            st.kill()
            st.wait()
    server.start()
    server.wait_queue_empty(timeout=20)
    for rcpt in (ALICE, BOB):
        files = server.wait_messages(rcpt, 1)
        assert len(files) == 1
        data, _ = check_maildir_file(files[0])
        assert TOKEN_RE.findall(data) == [b"held-term"]


def test_client_gone_then_sigterm_while_the_commit_is_held(server):
    """The client leaves while its message's flush is held, then SIGTERM:
    the server still finishes the commit, exits with status 0 soon after
    the flush, and the message (durable, though nobody heard the 250) is
    delivered once after the restart."""
    import signal
    st, pid = traced_with_delay(server, "fdatasync")
    try:
        c, f = send_until_commit(server, "held-gone", [ALICE])
        time.sleep(0.5)
        c.close()
        time.sleep(0.3)
        os.kill(pid, signal.SIGTERM)
        t0 = time.monotonic()
        assert st.wait(30) == 0
        assert time.monotonic() - t0 < 15
    finally:
        if st.poll() is None:
            st.kill()
            st.wait()
    server.start()
    server.wait_queue_empty(timeout=20)
    files = server.wait_messages(ALICE, 1)
    assert len(files) == 1


def test_kill_9_while_authentication_results_are_written():
    """With [auth_checks] on, a text larger than the queue's write buffer
    is rewritten on disk (<id>.msg.new renamed over <id>.msg) to put the
    Authentication-Results: field in: kill -9 at random moments of that,
    then every acknowledged message is delivered once with one such field
    and its whole body, and no .msg.new is left in the spool."""
    import random
    from correio_harness import Server, free_port
    rng = random.Random(17)
    line = "w" * 900 + "\r\n"
    s = Server(auth_checks=True, extra_config=f"\n[dns]\nservers = 127.0.0.1:{free_port()}\n")

    class BigSender(Sender):
        def run(self):
            n = 0
            try:
                with smtplib.SMTP("127.0.0.1", self.port, local_hostname="crash.test",
                                  timeout=5) as c:
                    while True:
                        token = f"{self.prefix}-{n}"
                        n += 1
                        self.attempted.append(token)
                        c.sendmail("load@example.net", [ALICE],
                                   f"Subject: token {token}\r\n\r\n" + line * 100)
                        self.acked.append(token)
            except (OSError, smtplib.SMTPException):
                return
    try:
        s.add_user(ALICE)
        s.start()
        acked, attempted = set(), set()
        for cycle in range(3):
            senders = [BigSender(s.smtp_port, f"b{cycle}t{i}") for i in range(THREADS)]
            for x in senders:
                x.start()
            time.sleep(0.3 + rng.random())
            assert s.kill() == -9
            for x in senders:
                x.join(10)
                acked.update(x.acked)
                attempted.update(x.attempted)
            s.start()
            s.wait_queue_empty(timeout=20)
            count = collections.Counter()
            for path in s.messages(ALICE):
                data, _ = check_maildir_file(path)
                m = TOKEN_RE.findall(data)
                assert len(m) == 1, (path, data[:300])
                assert data.count(b"Authentication-Results:") == 1, (path, data[:600])
                assert data.count(b"w" * 900) == 100, (path, len(data))
                count[m[0].decode()] += 1
            missing = sorted(acked - set(count))
            assert not missing, f"cycle {cycle}: acknowledged but lost: {missing[:20]}"
            assert all(k == 1 for k in count.values()), count.most_common(3)
            assert not set(count) - attempted
        assert len(acked) >= THREADS
    finally:
        s.cleanup()


def test_grace_period_ends_during_a_held_commit(server):
    """SIGTERM, then the grace period (30 s) runs out while one session is
    still sending its text and another's commit is held (strace delays
    fdatasync 4 s): both sessions are closed, the server waits for the
    commit, exits with status 0 without a memory error, and the committed
    message is delivered once after the restart."""
    import signal
    st, pid = traced_with_delay(server, "fdatasync")
    try:
        slow, slow_f = send_until_commit(server, "unused", [ALICE])
        # `slow` sent its whole text already: use a second session that
        # stays in the middle of its text instead
        import socket
        mid = socket.create_connection(("127.0.0.1", server.smtp_port), 10)
        mid.settimeout(60)
        mf = mid.makefile("rb")
        mf.readline()
        mid.sendall(b"EHLO mid.test\r\nMAIL FROM:<a@example.net>\r\n"
                    b"RCPT TO:<alice@example.org>\r\nDATA\r\n")
        while not mf.readline().startswith(b"354"):
            pass
        mid.sendall(b"Subject: token never-ends\r\n\r\nfirst line\r\n")
        late = socket.create_connection(("127.0.0.1", server.smtp_port), 10)
        late.settimeout(60)
        lf = late.makefile("rb")
        lf.readline()
        late.sendall(b"EHLO late.test\r\nMAIL FROM:<a@example.net>\r\n"
                     b"RCPT TO:<alice@example.org>\r\nDATA\r\n")
        while not lf.readline().startswith(b"354"):
            pass
        late.sendall(b"Subject: token grace-late\r\n\r\nbody\r\n")
        assert slow_f.readline().startswith(b"250 ")   # its commit is done
        os.kill(pid, signal.SIGTERM)
        time.sleep(27.5)
        late.sendall(b".\r\n")          # its commit is held past the 30 s
        assert st.wait(40) == 0, server.read_log()[-8000:]
        for c in (slow, mid, late):
            c.close()
    finally:
        if st.poll() is None:
            st.kill()
            st.wait()
    log = server.read_log()
    assert "AddressSanitizer" not in log and "runtime error:" not in log, log[-4000:]
    assert "still open after" in log
    server.start()
    server.wait_queue_empty(timeout=20)
    count = tokens_in_maildir(server)
    assert count["unused"] == 1 and count["never-ends"] == 0, count
    assert count["grace-late"] <= 1, count
