"""The webmail: its sign-in endpoints, session cookie, CSRF rules and
security headers over raw HTTP, and the whole client in a real browser
(Debian's chromium, headless, driven by playwright-core from tests/js):
sign in, read, push, flags, save an attachment byte-exact, search,
compose with an attachment and send, receive it in the other account,
delete; hostile HTML mail that must run and fetch nothing."""
import email
import email.policy
import hashlib
import http.client
import http.server
import imaplib
import json
import os
import smtplib
import subprocess
import threading
import time

import pytest

from correio_harness import Server

HERE = os.path.dirname(os.path.abspath(__file__))
JS = os.path.join(HERE, "js")
ALICE = ("alice@example.org", "alice-pw")
BOB = ("bob@example.org", "bob-pw")
FIGURES = bytes(range(256)) * 40 + b"\r\n\x00end"


def deliver(srv, to, subject, body="Hello.\r\n", content_type=None):
    msg = (f"From: Carol Example <carol@example.net>\r\nTo: {to}\r\nSubject: {subject}\r\n"
           f"Date: Sat, 05 Dec 2026 10:00:00 +0100\r\n"
           f"Message-ID: <{subject.replace(' ', '.')}.{time.time_ns()}@example.net>\r\n"
           "MIME-Version: 1.0\r\n")
    msg += (content_type or "Content-Type: text/plain; charset=utf-8") + "\r\n\r\n" + body
    n = len(srv.messages(to))
    with smtplib.SMTP("127.0.0.1", srv.smtp_port) as s:
        s.sendmail("carol@example.net", [to], msg.encode())
    srv.wait_messages(to, n + 1)


def png(width, height):
    """A small opaque PNG image."""
    import struct
    import zlib

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data)))
    rows = b"".join(b"\x00" + b"\x20\x40\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


class Attacker(http.server.BaseHTTPRequestHandler):
    """A web server on loopback that records every request it gets: the
    hostile mail points all its resources here."""
    hits = []

    def do_GET(self):
        Attacker.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/gif")
        self.end_headers()
        self.wfile.write(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")

    do_POST = do_GET

    def log_message(self, *args):
        pass


def hostile_html(base):
    return f"""<html><head>
<style>body {{ background: url({base}/css-exfil) }} @import url({base}/css-import);
input[value^="a"] {{ background-image: url({base}/css-attr) }}</style>
<meta http-equiv="refresh" content="0;url={base}/meta-refresh">
<link rel="stylesheet" href="{base}/link-css">
<base href="{base}/base/">
</head><body onload="console.log('HOSTILE-BODY-ONLOAD')">
<script>console.log("HOSTILE-SCRIPT"); fetch("{base}/script-fetch");
parent.document.title = "pwned"; top.location = "{base}/top-nav";</script>
<img src="x" onerror="console.log('HOSTILE-ONERROR'); fetch('{base}/onerror')">
<img src="{base}/remote-image.gif" alt="tracker">
<a href="javascript:console.log('HOSTILE-JSLINK');fetch('{base}/jslink')">click me</a>
<a href="  JaVaScRiPt:alert(1)">second link</a>
<div style="background-image: url('{base}/inline-style')">styled</div>
<svg onload="console.log('HOSTILE-SVG')"><image href="{base}/svg-image"/></svg>
<iframe src="{base}/iframe"></iframe>
<object data="{base}/object"></object>
<form action="{base}/form"><input name="q" value="a"><button>go</button></form>
<video poster="{base}/poster"></video>
<p>Hostile body text</p>
</body></html>
"""


@pytest.fixture(scope="module")
def browser_run(tmp_path_factory):
    """One browser session for the module: the scenario of tests/js/webmail.mjs
    against a private correio, with this process answering its requests."""
    tmp = tmp_path_factory.mktemp("webmail")
    assert os.path.exists("/usr/bin/chromium"), "chromium missing: run scripts/deps.sh"
    assert os.path.isdir(os.path.join(JS, "node_modules", "playwright-core")), \
        "playwright-core missing: run scripts/deps.sh (npm ci in tests/js)"
    Attacker.hits = []
    attacker = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    abase = f"http://127.0.0.1:{attacker.server_address[1]}"
    srv = Server(http=True)
    srv.add_user(*ALICE)
    srv.add_user(*BOB)
    srv.start()
    try:
        deliver(srv, ALICE[0], "Welcome aboard", "Your account is ready.\r\n<b>not bold</b>\r\n")
        deliver(srv, ALICE[0], "Hostile offer", hostile_html(abase).replace("\n", "\r\n"),
                "Content-Type: text/html; charset=utf-8")
        deliver(srv, ALICE[0], "Delete me")
        att = "\r\n".join(__import__("base64").encodebytes(FIGURES).decode().splitlines())
        deliver(srv, ALICE[0], "Quarterly figures",
                "--b1\r\nContent-Type: text/plain\r\n\r\nFigures attached.\r\n"
                "--b1\r\nContent-Type: application/octet-stream\r\n"
                "Content-Disposition: attachment; filename=\"figures.bin\"\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n" + att + "\r\n--b1--\r\n",
                'Content-Type: multipart/mixed; boundary="b1"')
        logo = "\r\n".join(__import__("base64").encodebytes(png(3, 2)).decode().splitlines())
        deliver(srv, ALICE[0], "Logo inside",
                "--r1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
                '<p>Our logo: <img src="cid:logo@example.net" alt="logo"></p>\r\n'
                "--r1\r\nContent-Type: image/png\r\nContent-ID: <logo@example.net>\r\n"
                "Content-Disposition: inline; filename=\"logo.png\"\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n" + logo + "\r\n--r1--\r\n",
                'Content-Type: multipart/related; boundary="r1"; type="text/html"')
        # bob's inbox gets more than a page (50) before the report arrives
        with smtplib.SMTP("127.0.0.1", srv.smtp_port) as s:
            for i in range(52):
                s.sendmail("carol@example.net", [BOB[0]],
                           f"From: carol@example.net\r\nTo: {BOB[0]}\r\n"
                           f"Subject: Filler {i:02d}\r\n"
                           f"Message-ID: <filler.{i}@example.net>\r\n\r\nFiller.\r\n")
        srv.wait_messages(BOB[0], 52)
        cfg = {"base": f"http://127.0.0.1:{srv.http_port}", "tmp": str(tmp),
               "alice": list(ALICE), "bob": list(BOB), "attacker": abase}
        t0 = time.time()
        proc = subprocess.Popen(["node", os.path.join(JS, "webmail.mjs"), json.dumps(cfg)],
                                cwd=JS, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True)
        result = None
        try:
            for line in proc.stdout:
                if line.startswith("@@RESULT "):
                    result = json.loads(line[9:])
                    proc.stdin.close()
                elif line.startswith("@@ "):
                    reply = answer(srv, json.loads(line[3:]))
                    proc.stdin.write(json.dumps(reply) + "\n")
                    proc.stdin.flush()
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert result is not None, "the browser script gave no result"
        result["seconds"] = time.time() - t0
        result["tmp"] = str(tmp)
        result["attacker_hits"] = list(Attacker.hits)
        result["log"] = srv.read_log()
        yield result
    finally:
        attacker.shutdown()
        stopped(srv)


def stopped(s):
    """Stop s; it must exit cleanly (under the sanitizers too: no report)."""
    code = s.stop()
    log = s.read_log()
    assert code == 0 and "Sanitizer" not in log and "runtime error" not in log, log[-4000:]


def imap_find(srv, user, folder, subject, criteria="ALL"):
    password = dict([ALICE, BOB])[user]
    with imaplib.IMAP4("127.0.0.1", srv.imap_port) as m:
        m.login(user, password)
        m.select(folder, readonly=True)
        _, data = m.search(None, criteria, "SUBJECT", f'"{subject}"')
        return len(data[0].split())


def answer(srv, op):
    if op["op"] == "deliver":
        deliver(srv, op["to"], op["subject"])
        return {"ok": True}
    if op["op"] == "hits":
        return {"hits": list(Attacker.hits)}
    if op["op"] == "flags":
        return {"flagged": imap_find(srv, op["user"], "INBOX", op["subject"], "FLAGGED")}
    if op["op"] == "where":
        return {f.lower(): imap_find(srv, op["user"], f, op["subject"], op.get("criteria", "ALL"))
                for f in op.get("folders", ["INBOX", "Trash"])}
    if op["op"] == "delivered":
        deadline = time.time() + 10
        while time.time() < deadline:
            for path in srv.messages(op["to"]):
                msg = email.message_from_bytes(srv.read_message(path), policy=email.policy.default)
                if msg["Subject"] == op["subject"]:
                    parts = [p for p in msg.iter_attachments()]
                    return {"found": True, "from": str(msg["From"]),
                            "in_reply_to": str(msg["In-Reply-To"] or ""),
                            "message_id": str(msg["Message-ID"] or ""),
                            "text": (msg.get_body(("plain",)) or msg).get_content(),
                            "attachments": [(p.get_filename(),
                                             hashlib.sha256(p.get_content()).hexdigest())
                                            for p in parts]}
            time.sleep(0.1)
        return {"found": False}
    raise AssertionError(f"unknown request {op}")


def step(run, name):
    s = run["steps"].get(name)
    assert s is not None, f"step {name} did not run: {run['steps']}"
    assert s["ok"], f"step {name}: {s.get('error')}\nconsole: {run['console']}"
    return s["detail"]


# ---- in the browser ----

def test_browser_sign_in_sets_a_strict_cookie(browser_run):
    d = step(browser_run, "signin")
    c = d["cookie"]
    assert c["httpOnly"] and c["sameSite"] == "Strict" and c["path"] == "/"
    assert len(c["value"]) == 64
    assert d["unread"] == "5"


def test_browser_reads_a_delivered_message(browser_run):
    d = step(browser_run, "read")
    # plain text shown as text: the markup is not interpreted
    assert "Your account is ready." in d["body"] and "<b>not bold</b>" in d["body"]
    assert d["unread"] == "4"


def test_browser_inbox_screenshot(browser_run):
    d = step(browser_run, "screenshot")
    with open(d["path"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert d["path"].startswith(browser_run["tmp"])


def test_browser_hostile_html_runs_and_fetches_nothing(browser_run):
    d = step(browser_run, "hostile")
    assert d["hits"] == [], d["hits"]
    assert d["sandbox"] is not None and "allow-scripts" not in d["sandbox"]
    assert "allow-same-origin" not in d["sandbox"]
    assert d["scripts"] == 0 and d["handlers"] == 0 and d["jsLinks"] == 0
    assert d["titleAfter"] == d["titleBefore"]
    assert d["remoteBar"], "remote images were not reported as blocked"
    attacker = browser_run["steps"]["hostile"]  # noqa: F841 (kept for the message)
    port = json.loads(json.dumps(browser_run["attacker_hits"]))  # noqa: F841
    for line in browser_run["console"]:
        assert "HOSTILE" not in line, browser_run["console"]
    assert browser_run["dialogs"] == []
    assert browser_run["pageErrors"] == [], browser_run["pageErrors"]


def test_browser_sanitizer_corpus(browser_run):
    d = step(browser_run, "sanitizer_corpus")
    assert d["count"] > 30
    assert d["problems"] == [], "\n".join(map(str, d["problems"]))


def test_browser_remote_images_load_only_when_asked(browser_run):
    before = step(browser_run, "hostile")["hits"]
    after = step(browser_run, "show_images")["hits"]
    assert before == []
    assert "/remote-image.gif" in after
    # still nothing that runs: no script, handler or javascript: link fetched
    for path in after:
        assert path not in ("/script-fetch", "/onerror", "/jslink", "/top-nav", "/iframe",
                            "/object", "/form", "/meta-refresh", "/link-css"), after


def test_browser_shows_inline_images(browser_run):
    d = step(browser_run, "inline_image")
    assert d["src"] == "data:image/png;base64,"
    assert d["width"] == 3


def test_browser_new_mail_appears_without_reload(browser_run):
    step(browser_run, "push")


def test_browser_flag_is_stored(browser_run):
    d = step(browser_run, "flag")
    assert d["imap"]["flagged"] == 1


def test_browser_saves_attachment_byte_exact(browser_run):
    d = step(browser_run, "save_attachment")
    assert d["name"] == "figures.bin"
    assert d["sha256"] == hashlib.sha256(FIGURES).hexdigest()


def test_browser_search(browser_run):
    d = step(browser_run, "search")
    assert d["subjects"] == ["Quarterly figures"]


def test_browser_compose_with_attachment_and_send(browser_run):
    d = step(browser_run, "send")
    assert d["delivered"]["found"], d
    assert ALICE[0] in d["delivered"]["from"]
    (name, digest), = d["delivered"]["attachments"]
    assert name == "report.bin"


def test_browser_other_account_receives_and_saves_attachment(browser_run):
    d = step(browser_run, "receive")
    assert "the report is attached." in d["body"]
    assert d["sha256"] == d["sent"]


def test_browser_reply_quotes_and_threads(browser_run):
    sent = step(browser_run, "send")["delivered"]
    d = step(browser_run, "reply")
    assert d["to"] == ALICE[0] and d["subject"] == "Re: Report with attachment"
    assert "> Hello Bob," in d["quoted"]
    got = d["delivered"]
    assert got["found"] and got["in_reply_to"] == sent["message_id"]
    assert got["text"].startswith("Thanks, got it.") and "> the report is attached." in got["text"]


def test_browser_forward_keeps_the_attachment(browser_run):
    sent = step(browser_run, "send")["delivered"]
    d = step(browser_run, "forward")
    assert d["subject"] == "Fwd: Report with attachment"
    got = d["delivered"]
    assert got["found"] and BOB[0] in got["from"]
    assert got["attachments"] == sent["attachments"]
    assert "Forwarded message" in got["text"]


def test_browser_groups_conversations(browser_run):
    """The list has one row per thread with its size; opening it lists
    the thread's messages across mailboxes, and each opens."""
    step(browser_run, "reply")
    d = step(browser_run, "thread")
    assert d["count"] == "2" and d["rows"] == 1
    assert sorted(f.lower() for f in d["folders"]) == ["inbox", "sent"]
    assert d["opened"] == "Re: Report with attachment"
    assert d["selected"].lower() == "sent"


def test_browser_pages_through_a_long_list(browser_run):
    d = step(browser_run, "paging")
    assert d["first"] == "1–50 of 53" and d["rows"] == 50
    assert d["second"] == "51–53 of 53" and d["rows2"] == 3
    assert d["oldest"].startswith("Filler ")


def test_browser_delete_moves_to_trash(browser_run):
    d = step(browser_run, "delete")
    assert d["imap"] == {"inbox": 0, "trash": 1}


def test_browser_move_and_mark_unread(browser_run):
    d = step(browser_run, "move_and_unread")
    assert d["imap"] == {"inbox": 0, "archive": 1}


def test_browser_run_is_fast(browser_run):
    assert browser_run["seconds"] < 60, browser_run["seconds"]


# ---- raw HTTP: the sign-in endpoints and their rules ----

@pytest.fixture
def srv():
    s = Server(http=True)
    s.add_user(*ALICE)
    s.start()
    yield s
    stopped(s)


def request(srv, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", srv.http_port, timeout=10)
    h = {"Host": f"127.0.0.1:{srv.http_port}"}
    h.update(headers or {})
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.headers, data


def login(srv, user=ALICE[0], password=ALICE[1], headers=None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return request(srv, "POST", "/login", json.dumps({"username": user, "password": password}), h)


def session(srv):
    status, headers, body = login(srv)
    assert status == 200, body
    cookie = headers["Set-Cookie"].split(";")[0]
    return cookie, json.loads(body)["csrf"]


ECHO = json.dumps({"using": ["urn:ietf:params:jmap:core"],
                   "methodCalls": [["Core/echo", {"x": 1}, "0"]]})


def test_security_headers_on_every_response(srv):
    cookie, csrf = session(srv)
    for method, path, body, h in [
            ("GET", "/", None, {}), ("GET", "/app.js", None, {}),
            ("GET", "/nothing.js", None, {}), ("GET", "/.well-known/jmap", None, {}),
            ("POST", "/jmap/api", ECHO, {"Cookie": cookie, "X-Correio-CSRF": csrf,
                                         "Content-Type": "application/json"}),
            ("GET", "/login", None, {})]:
        status, headers, _ = request(srv, method, path, body, h)
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, (path, csp)
        assert "unsafe-eval" not in csp and "script-src 'self' 'unsafe-inline'" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "no-referrer", path
    status, headers, body = request(srv, "GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"<script" not in body.replace(b'<script type="module" src="app.js"></script>', b"")
    status, headers, _ = request(srv, "GET", "/app.js")
    assert headers["Content-Type"].startswith("text/javascript")


def test_static_files_stay_in_the_web_root(srv):
    for path in ("/../correio.conf", "/..%2fcorreio.conf", "/.hidden.js", "/web/app.js",
                 "/app.js/", "/correio.conf"):
        status, _, _ = request(srv, "GET", path)
        assert status in (401, 404), (path, status)


def test_login_sets_cookie_and_token(srv):
    status, headers, body = login(srv)
    assert status == 200
    cookie = headers["Set-Cookie"]
    assert cookie.startswith("correio_session=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie      # plain http on loopback
    value = cookie.split(";")[0].split("=", 1)[1]
    assert len(value) == 64 and int(value, 16) >= 0
    info = json.loads(body)
    assert info["username"] == ALICE[0] and len(info["csrf"]) == 64
    # GET /login gives the session back to a reloaded page
    status, _, body = request(srv, "GET", "/login", headers={"Cookie": cookie.split(";")[0]})
    assert status == 200 and json.loads(body)["csrf"] == info["csrf"]


def test_login_wrong_password_and_throttle():
    s = Server(http=True, extra_config="[auth]\nmax_failures = 3\n")
    s.add_user(*ALICE)
    s.start()
    try:
        status, headers, _ = login(s, password="wrong")
        assert status == 401 and "Set-Cookie" not in headers
        assert "WWW-Authenticate" not in headers   # no browser password dialog
        for _ in range(3):
            status, headers, _ = login(s, password="wrong")
        assert status == 429 and headers["Retry-After"]
        status, _, _ = login(s)
        assert status == 429                       # the right password waits too
    finally:
        stopped(s)


def test_cookie_requests_need_the_csrf_token(srv):
    cookie, csrf = session(srv)
    json_type = {"Content-Type": "application/json"}
    status, _, _ = request(srv, "POST", "/jmap/api", ECHO, {"Cookie": cookie, **json_type})
    assert status == 403
    status, _, _ = request(srv, "POST", "/jmap/api", ECHO,
                           {"Cookie": cookie, "X-Correio-CSRF": "0" * 64, **json_type})
    assert status == 403
    status, _, body = request(srv, "POST", "/jmap/api", ECHO,
                              {"Cookie": cookie, "X-Correio-CSRF": csrf, **json_type})
    assert status == 200 and json.loads(body)["methodResponses"][0][1] == {"x": 1}
    # an upload is a state change too
    status, _, _ = request(srv, "POST", "/jmap/upload/x/", b"data", {"Cookie": cookie})
    assert status == 403
    # reading needs no token (downloads, EventSource cannot send one)
    status, _, _ = request(srv, "GET", "/.well-known/jmap", headers={"Cookie": cookie})
    assert status == 200


def test_cookie_requests_from_other_origins_are_refused(srv):
    cookie, csrf = session(srv)
    h = {"Cookie": cookie, "X-Correio-CSRF": csrf, "Content-Type": "application/json"}
    for bad in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                {"Origin": f"https://127.0.0.1:{srv.http_port}"}):
        status, _, _ = request(srv, "POST", "/jmap/api", ECHO, {**h, **bad})
        assert status == 403, bad
        status, _, _ = request(srv, "GET", "/.well-known/jmap", headers={**h, **bad})
        assert status == 403, bad
    status, _, _ = request(srv, "POST", "/jmap/api", ECHO,
                           {**h, "Origin": f"http://127.0.0.1:{srv.http_port}",
                            "Sec-Fetch-Site": "same-origin"})
    assert status == 200
    # sign-in from another site, or by a form, is refused
    status, _, _ = login(srv, headers={"Origin": "http://evil.example"})
    assert status == 403
    status, _, _ = request(srv, "POST", "/login", "username=a&password=b",
                           {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 415


def test_logout_ends_the_session(srv):
    cookie, csrf = session(srv)
    status, _, _ = request(srv, "POST", "/logout", headers={"Cookie": cookie})
    assert status == 403                      # no token: a forged sign-out
    status, headers, _ = request(srv, "POST", "/logout",
                                 headers={"Cookie": cookie, "X-Correio-CSRF": csrf})
    assert status == 200 and "Max-Age=0" in headers["Set-Cookie"]
    status, headers, _ = request(srv, "GET", "/.well-known/jmap", headers={"Cookie": cookie})
    assert status == 401 and "WWW-Authenticate" not in headers
    status, _, _ = request(srv, "GET", "/login", headers={"Cookie": cookie})
    assert status == 401


def test_unknown_cookie_is_refused(srv):
    status, headers, _ = request(srv, "GET", "/.well-known/jmap",
                                 headers={"Cookie": "correio_session=" + "a" * 64})
    assert status == 401 and "WWW-Authenticate" not in headers
    # Basic still works and still asks
    status, headers, _ = request(srv, "GET", "/.well-known/jmap")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")


def test_cookie_set_by_another_site_does_not_hide_the_session(srv):
    """Cookies are not kept apart by port or scheme: another server on
    this host (or a sibling domain) can set a correio_session cookie with
    a longer Path, which the browser sends before the real one.  The
    session is found among every value sent, so such a cookie neither
    signs the user out nor is taken instead."""
    cookie, csrf = session(srv)
    value = cookie.split("=", 1)[1]
    for tossed in ("correio_session=" + "b" * 64, "correio_session=x",
                   "correio_session=" + "c" * 300, "correio_session="):
        both = f"{tossed}; {cookie}"
        status, _, body = request(srv, "GET", "/login", headers={"Cookie": both})
        assert status == 200 and json.loads(body)["csrf"] == csrf, tossed
        status, _, _ = request(srv, "POST", "/jmap/api", ECHO,
                               {"Cookie": both, "X-Correio-CSRF": csrf,
                                "Content-Type": "application/json"})
        assert status == 200, tossed
    status, _, _ = request(srv, "GET", "/login",
                           headers={"Cookie": "correio_session=" + "b" * 64})
    assert status == 401
    assert len(value) == 64


def test_https_cookie_has_the_host_prefix():
    """Over https the cookie is __Host-correio_session: a browser takes
    that name only from a secure page of this very host (Path=/, no
    Domain), so neither plain http on the same name nor a sibling domain
    can plant one; a correio_session cookie is not read over https."""
    import ssl
    s = Server(https=True)
    s.add_user(*ALICE)
    s.start()
    port = s.https_port
    try:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx)
        c.request("POST", "/login", json.dumps({"username": ALICE[0], "password": ALICE[1]}),
                  {"Content-Type": "application/json", "Origin": f"https://127.0.0.1:{port}"})
        r = c.getresponse()
        r.read()
        assert r.status == 200
        cookie = r.headers["Set-Cookie"]
        assert cookie.startswith("__Host-correio_session="), cookie
        assert "; Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie
        value = cookie.split(";")[0].split("=", 1)[1]
        c.request("GET", "/.well-known/jmap",
                  headers={"Cookie": "__Host-correio_session=" + value})
        r = c.getresponse()
        r.read()
        assert r.status == 200
        c.request("GET", "/.well-known/jmap", headers={"Cookie": "correio_session=" + value})
        r = c.getresponse()
        r.read()
        # no WWW-Authenticate: the browser would ask for a password itself
        assert r.status == 401 and r.headers["WWW-Authenticate"] is None
        c.close()
    finally:
        stopped(s)


def test_basic_login_from_another_site_is_refused(srv):
    """A browser that remembers a Basic login sends it with another site's
    form too (a text/plain POST needs no CORS preflight): such a request,
    with an Origin or Sec-Fetch-Site of another site, is refused like a
    cookie's, so a page elsewhere cannot upload into the account."""
    import base64
    basic = {"Authorization": "Basic " + base64.b64encode(
        f"{ALICE[0]}:{ALICE[1]}".encode()).decode()}
    status, _, body = request(srv, "GET", "/.well-known/jmap", headers=basic)
    assert status == 200
    account = json.loads(body)["primaryAccounts"]["urn:ietf:params:jmap:core"]
    form = {**basic, "Content-Type": "text/plain"}
    for bad in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                {"Origin": "null"}):
        status, _, _ = request(srv, "POST", f"/jmap/upload/{account}/", b"junk", {**form, **bad})
        assert status == 403, bad
        status, _, _ = request(srv, "GET", "/.well-known/jmap", headers={**basic, **bad})
        assert status == 403, bad
    # the same origin, and clients that are not browsers, go on
    status, _, _ = request(srv, "POST", f"/jmap/upload/{account}/", b"data",
                           {**form, "Origin": f"http://127.0.0.1:{srv.http_port}"})
    assert status == 201
    status, _, _ = request(srv, "POST", f"/jmap/upload/{account}/", b"data", form)
    assert status == 201


def test_sign_in_refused_off_loopback_without_tls():
    s = Server(http=True, extra_config="[auth]\nplaintext_on_loopback = no\n")
    s.add_user(*ALICE)
    s.start()
    try:
        status, _, body = login(s)
        assert status == 403 and b"https" in body
    finally:
        stopped(s)


def test_sessions_are_bounded_per_user(srv):
    first, _ = session(srv)
    for _ in range(16):
        session(srv)
    status, _, _ = request(srv, "GET", "/login", headers={"Cookie": first})
    assert status == 401                      # the oldest went


def test_https_cookie_is_secure():
    import ssl
    s = Server(https=True)
    s.add_user(*ALICE)
    s.start()
    port = s.https_port
    try:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx)
        c.request("POST", "/login", json.dumps({"username": ALICE[0], "password": ALICE[1]}),
                  {"Content-Type": "application/json", "Origin": f"https://127.0.0.1:{port}"})
        r = c.getresponse()
        r.read()
        assert r.status == 200
        cookie = r.headers["Set-Cookie"]
        assert "; Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        # the http origin of the same host is another origin
        c.request("GET", "/.well-known/jmap", headers={"Cookie": cookie.split(";")[0],
                                                      "Origin": f"http://127.0.0.1:{port}"})
        r = c.getresponse()
        r.read()
        assert r.status == 403
        c.request("GET", "/.well-known/jmap", headers={"Cookie": cookie.split(";")[0]})
        r = c.getresponse()
        r.read()
        assert r.status == 200
        c.close()
    finally:
        stopped(s)


def test_built_in_defaults_serve_the_webmail(tmp_path):
    """`make run` (no configuration file): http on 127.0.0.1:8080, and the
    web root found in the source tree."""
    from correio_harness import BIN
    env = {k: v for k, v in os.environ.items() if k != "CORREIO_CONFIG"}
    cmd = [BIN, "check"]
    if os.path.exists("/etc/correio"):
        # a system configuration would be read first: hide it in a private
        # mount namespace (the test runs as root, as CI does)
        cmd = ["unshare", "-m", "sh", "-c",
               'mount -t tmpfs none /etc/correio && exec "$@"', "sh"] + cmd
    r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=60)
    assert "http = 127.0.0.1:8080" in r.stdout, r.stdout + r.stderr


def test_sign_in_input_is_capped_and_checked(srv):
    big = json.dumps({"username": ALICE[0], "password": "x" * 5000})
    status, _, _ = request(srv, "POST", "/login", big, {"Content-Type": "application/json"})
    assert status == 413
    for body in ("{", "[]", '{"username": 1, "password": "p"}', '{"username": ""}',
                 json.dumps({"username": "a" * 400, "password": "p"}),
                 '{"username": "a@b", "username": "c@d", "password": "p"}'):
        status, headers, _ = request(srv, "POST", "/login", body,
                                     {"Content-Type": "application/json"})
        assert status == 400 and "Set-Cookie" not in headers, body
    status, _, _ = request(srv, "PUT", "/login", "{}", {"Content-Type": "application/json"})
    assert status in (405, 501)


def test_deleting_the_account_ends_its_sessions(srv):
    cookie, csrf = session(srv)
    status, _, _ = request(srv, "GET", "/.well-known/jmap", headers={"Cookie": cookie})
    assert status == 200
    srv.cli("user", "del", ALICE[0])
    for method, path, body, h in [("GET", "/.well-known/jmap", None, {}),
                                  ("GET", "/login", None, {}),
                                  ("POST", "/jmap/api", ECHO, {"X-Correio-CSRF": csrf,
                                                               "Content-Type": "application/json"})]:
        status, _, _ = request(srv, method, path, body, {"Cookie": cookie, **h})
        assert status == 401, (path, status)


def test_logout_closes_the_sessions_event_streams(srv):
    import socket
    cookie, csrf = session(srv)
    other, _ = session(srv)
    streams = []
    for c in (cookie, other):
        s = socket.create_connection(("127.0.0.1", srv.http_port), 10)
        s.sendall(f"GET /jmap/eventsource?types=*&closeafter=no&ping=0 HTTP/1.1\r\n"
                  f"Host: 127.0.0.1:{srv.http_port}\r\nCookie: {c}\r\n\r\n".encode())
        data = b""
        while b"event: state" not in data:
            chunk = s.recv(4096)
            assert chunk, data
            data += chunk
        assert data.startswith(b"HTTP/1.1 200"), data
        streams.append(s)
    status, _, _ = request(srv, "POST", "/logout",
                           headers={"Cookie": cookie, "X-Correio-CSRF": csrf})
    assert status == 200
    streams[0].settimeout(5)
    rest = b""
    while True:
        chunk = streams[0].recv(4096)
        if not chunk:
            break
        rest += chunk
    assert b"event: state" not in rest
    # the other session's stream stays open
    streams[1].settimeout(0.5)
    with pytest.raises(socket.timeout):
        streams[1].recv(4096)
    for s in streams:
        s.close()
