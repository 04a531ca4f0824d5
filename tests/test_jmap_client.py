"""JMAP through a third-party client library: jmap-jam (npm, installed in
tests/js by scripts/deps.sh with `npm ci`) run by Node against a real
`correio serve`.  The Node script (tests/js/jmap_client.mjs) asks this
driver to deliver by SMTP and to STORE by IMAP at the right moments, and
reports what the library saw."""
import imaplib
import json
import os
import shutil
import subprocess

from correio_harness import Server
from test_jmap import deliver, stopped

HERE = os.path.dirname(os.path.abspath(__file__))
JS = os.path.join(HERE, "js")
USER, PASSWORD = "alice@example.org", "alice-pw"
BOB, BOB_PW = "bob@example.org", "bob-pw"


def test_jmap_jam_session_queries_changes_submission_and_push():
    node = shutil.which("node")
    assert node, "node is missing: scripts/deps.sh installs Debian's nodejs"
    assert os.path.isdir(os.path.join(JS, "node_modules", "jmap-jam")), \
        "jmap-jam is missing: scripts/deps.sh runs npm ci in tests/js"
    s = Server(http=True)
    s.add_user(USER, PASSWORD)
    s.add_user(BOB, BOB_PW)
    s.start()
    try:
        deliver(s, "first one")
        p = subprocess.Popen([node, os.path.join(JS, "jmap_client.mjs"),
                              f"http://127.0.0.1:{s.http_port}", USER, PASSWORD, BOB, BOB_PW],
                             cwd=JS, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        result = None
        try:
            for line in p.stdout:
                line = line.rstrip("\n")
                if line == "ask deliver":
                    deliver(s, "second one")
                elif line == "ask store":
                    m = imaplib.IMAP4("127.0.0.1", s.imap_port)
                    m.login(USER, PASSWORD)
                    m.select("INBOX")
                    m.store("2", "+FLAGS", "(\\Flagged)")	# "second one"
                    m.logout()
                elif line == "ask wait-bob":
                    s.wait_messages(BOB, 1)
                elif line.startswith("result "):
                    result = json.loads(line[7:])
                    continue
                else:
                    continue
                p.stdin.write("ok\n")
                p.stdin.flush()
            code = p.wait(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        err = p.stderr.read()
        assert code == 0 and result is not None, err + s.read_log()[-3000:]
    finally:
        stopped(s)
    assert "urn:ietf:params:jmap:submission" in result["capabilities"]
    assert {"inbox", "sent", "drafts", "trash"} <= set(result["roles"])
    assert result["subjects"] == ["first one"]
    assert result["pushedAfterDelivery"]
    assert result["createdAfterDelivery"] == ["second one"]
    assert result["updatedAfterStore"] == [["$flagged"]] and result["storeCreated"] == 0
    assert result["submission"]["id"].startswith("S")
    assert result["inSent"] == 1
    assert result["attachmentName"] == "numbers.bin" and result["attachmentSame"] is True
