"""JMAP (RFC 8620 core, RFC 8621 mail) over the HTTP listener, driven with
raw HTTP (http.client) against a real `correio serve`, with SMTP delivery
and IMAP changes on the same store."""
import base64
import http.client
import imaplib
import json
import os
import smtplib
import socket
import time

import pytest

from correio_harness import Server

CORE = "urn:ietf:params:jmap:core"
MAIL = "urn:ietf:params:jmap:mail"
USER, PASSWORD = "alice@example.org", "alice-pw"


def basic(user=USER, password=PASSWORD):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Jmap:
    """A JMAP client over one keep-alive HTTP connection."""

    def __init__(self, srv, user=USER, password=PASSWORD):
        self.srv = srv
        self.auth = basic(user, password)
        self.conn = http.client.HTTPConnection("127.0.0.1", srv.http_port, timeout=20)
        status, _, body = self.http("GET", "/.well-known/jmap")
        assert status == 200, body
        self.session = json.loads(body)
        self.account = self.session["primaryAccounts"][MAIL]

    def http(self, method, path, body=None, headers=None):
        h = {"Authorization": self.auth}
        h.update(headers or {})
        self.conn.request(method, path, body=body, headers=h)
        r = self.conn.getresponse()
        return r.status, r.headers, r.read()

    def request(self, calls, using=(CORE, MAIL)):
        status, _, body = self.http("POST", "/jmap/api",
                                    json.dumps({"using": list(using), "methodCalls": calls}),
                                    {"Content-Type": "application/json"})
        assert status == 200, body
        return json.loads(body)["methodResponses"]

    def call(self, name, args):
        args = dict(args)
        args.setdefault("accountId", self.account)
        (resp,) = self.request([[name, args, "c"]])
        assert resp[0] == name, resp
        return resp[1]

    def mailboxes(self):
        return {m["role"] or m["name"]: m for m in self.call("Mailbox/get", {"ids": None})["list"]}


@pytest.fixture
def srv():
    s = Server(http=True)
    s.add_user(USER, PASSWORD)
    s.add_user("bob@example.org", "bob-pw")
    s.start()
    yield s
    stopped(s)


def stopped(s):
    """Stop s; it must exit cleanly (under the sanitizers too: no report)."""
    code = s.stop()
    log = s.read_log()
    assert code == 0 and "Sanitizer" not in log and "runtime error" not in log, log[-4000:]
    # every HTTP connection was given back: the stop did not wait for one
    assert "still open after" not in log, log[-4000:]


def deliver(srv, subject, body="Hello.\n", sender="carol@example.net", extra="",
            to=USER):
    msg = (f"From: Carol Example <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
           f"Date: Sat, 05 Dec 2026 10:00:00 +0100\r\nMessage-ID: <{subject.replace(' ', '.')}@ex>\r\n"
           f"{extra}")
    if "Content-Type" not in extra:
        msg += "\r\n" + body.replace("\n", "\r\n")
    else:
        msg += body
    n = len(srv.messages(to))
    with smtplib.SMTP("127.0.0.1", srv.smtp_port) as s:
        s.sendmail(sender, [to], msg.encode("latin-1"))
    srv.wait_messages(to, n + 1)


def raw(srv, data):
    """Send raw bytes, read the whole reply (the server closes or we time out)."""
    with socket.create_connection(("127.0.0.1", srv.http_port), 10) as s:
        s.sendall(data)
        s.settimeout(5)
        out = b""
        try:
            while b"\r\n\r\n" not in out or len(out) < 20:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            pass
        return out


# ---- step 1: the listener, logins, limits ----

def test_http_listener_is_off_by_default():
    s = Server()
    s.add_user(USER, PASSWORD)
    s.start()
    try:
        assert "http: listening" not in s.read_log()
        r = s.cli("check")
        assert "http = \n" in r.stdout or "http =\n" in r.stdout, r.stdout
    finally:
        stopped(s)


def test_session_needs_login(srv):
    c = http.client.HTTPConnection("127.0.0.1", srv.http_port, timeout=10)
    c.request("GET", "/.well-known/jmap")
    r = c.getresponse()
    r.read()
    assert r.status == 401
    assert r.headers["WWW-Authenticate"].startswith("Basic ")
    c.request("GET", "/.well-known/jmap", headers={"Authorization": basic(password="wrong")})
    r = c.getresponse()
    r.read()
    assert r.status == 401
    c.request("GET", "/.well-known/jmap", headers={"Authorization": "Basic !!!"})
    r = c.getresponse()
    r.read()
    assert r.status == 401


def test_session_resource(srv):
    j = Jmap(srv)
    status, headers, _ = j.http("GET", "/.well-known/jmap")
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in headers["Cache-Control"]
    s = j.session
    assert s["username"] == USER
    core = s["capabilities"][CORE]
    for k in ("maxSizeUpload", "maxConcurrentUpload", "maxSizeRequest",
              "maxConcurrentRequests", "maxCallsInRequest", "maxObjectsInGet",
              "maxObjectsInSet", "collationAlgorithms"):
        assert k in core
    assert MAIL in s["capabilities"]
    acct = s["accounts"][j.account]
    assert acct["name"] == USER and acct["isPersonal"] and not acct["isReadOnly"]
    assert MAIL in acct["accountCapabilities"]
    base = f"http://127.0.0.1:{srv.http_port}"
    assert s["apiUrl"] == base + "/jmap/api"
    assert s["downloadUrl"] == base + "/jmap/download/{accountId}/{blobId}/{name}?accept={type}"
    assert s["uploadUrl"] == base + "/jmap/upload/{accountId}/"
    assert s["eventSourceUrl"].startswith(base + "/jmap/eventsource?")
    assert s["state"]
    # a second user sees another account
    other = Jmap(srv, "bob@example.org", "bob-pw")
    assert other.account != j.account


def test_login_throttled_like_imap():
    s = Server(http=True, extra_config="[auth]\nmax_failures = 2\nlockout = 60s\n")
    s.add_user(USER, PASSWORD)
    s.start()
    try:
        c = http.client.HTTPConnection("127.0.0.1", s.http_port, timeout=10)
        statuses = []
        for _ in range(3):
            c.request("GET", "/.well-known/jmap", headers={"Authorization": basic(password="bad")})
            r = c.getresponse()
            r.read()
            statuses.append(r.status)
        # the right password from this address is refused for a while
        c.request("GET", "/.well-known/jmap", headers={"Authorization": basic()})
        r = c.getresponse()
        r.read()
        assert statuses[:2] == [401, 401]
        assert r.status == 429
        assert r.headers["Retry-After"]
    finally:
        stopped(s)


def test_plaintext_refused_when_loopback_not_allowed():
    s = Server(http=True, extra_config="[auth]\nplaintext_on_loopback = no\n")
    s.add_user(USER, PASSWORD)
    s.start()
    try:
        c = http.client.HTTPConnection("127.0.0.1", s.http_port, timeout=10)
        c.request("GET", "/.well-known/jmap", headers={"Authorization": basic()})
        r = c.getresponse()
        r.read()
        assert r.status == 403
        assert "login ok" not in s.read_log()
    finally:
        stopped(s)


def test_https_listener_serves_jmap():
    import ssl
    s = Server(http=True, https=True)
    s.add_user(USER, PASSWORD)
    s.start()
    https_port = s.https_port
    try:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c = http.client.HTTPSConnection("127.0.0.1", https_port, timeout=10, context=ctx)
        for _ in range(2):  # keep-alive over TLS
            c.request("GET", "/.well-known/jmap", headers={"Authorization": basic()})
            r = c.getresponse()
            body = json.loads(r.read())
            assert r.status == 200
            assert body["apiUrl"] == f"https://127.0.0.1:{https_port}/jmap/api"
    finally:
        stopped(s)


def test_connections_counted_with_other_protocols():
    s = Server(http=True, extra_config="connections_per_client = 2\n")
    s.add_user(USER, PASSWORD)
    s.start()
    try:
        # the start-up probes of the listeners count until the server has
        # seen them close, which a loaded machine may take a moment to do
        deadline = time.time() + 10
        while True:
            try:
                imap = imaplib.IMAP4("127.0.0.1", s.imap_port)
                break
            except imaplib.IMAP4.error:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        a = Jmap(s)
        c = http.client.HTTPConnection("127.0.0.1", s.http_port, timeout=10)
        c.request("GET", "/.well-known/jmap", headers={"Authorization": basic()})
        r = c.getresponse()
        r.read()
        assert r.status == 503
        imap.logout()
        # the IMAP slot is free once the server has seen the close (not
        # always within a fixed 0.3 s on a loaded machine)
        deadline = time.time() + 10
        while True:
            c = http.client.HTTPConnection("127.0.0.1", s.http_port, timeout=10)
            c.request("GET", "/.well-known/jmap", headers={"Authorization": basic()})
            r = c.getresponse()
            r.read()
            c.close()
            if r.status != 503 or time.time() > deadline:
                break
            time.sleep(0.1)
        assert r.status == 200
        a.conn.close()
    finally:
        stopped(s)


def test_oversize_bodies_refused(srv):
    j = Jmap(srv)
    core = j.session["capabilities"][CORE]
    big = max(core["maxSizeUpload"], core["maxSizeRequest"]) + 1
    for path in (f"/jmap/upload/{j.account}/", "/jmap/api"):
        # the length alone is refused, before any of the body is read
        out = raw(srv, f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {basic()}\r\n"
                       f"Content-Length: {big}\r\n\r\n".encode())
        assert out.startswith(b"HTTP/1.1 413"), out
    # chunked, without a length: cut when the bytes pass the cap
    chunk = b"x" * 65536
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(big // len(chunk) + 1))
    out = raw(srv, f"POST /jmap/upload/{j.account}/ HTTP/1.1\r\nHost: x\r\n"
                   f"Authorization: {basic()}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
              + body + b"0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 413"), out[:200]
    # within the cap a request still works on a fresh connection
    assert Jmap(srv).request([["Core/echo", {"a": 1}, "0"]])[0][1] == {"a": 1}
    # a header block past the cap
    out = raw(srv, b"GET /.well-known/jmap HTTP/1.1\r\nHost: x\r\nX-Big: " +
              b"a" * 70000 + b"\r\n\r\n")
    assert out == b"" or out.startswith(b"HTTP/1.1 4"), out[:200]
    # nothing of the refused uploads was stored
    assert not os.path.exists(os.path.join(srv.data, "jmap", j.account))


def test_unknown_route_and_method(srv):
    j = Jmap(srv)
    assert j.http("GET", "/nothing/here")[0] == 404
    assert j.http("GET", "/jmap/api")[0] == 405


# ---- step 2: core ----

def problem(j, body):
    status, headers, out = j.http("POST", "/jmap/api", body, {"Content-Type": "application/json"})
    assert status == 400, out
    assert headers["Content-Type"] == "application/problem+json"
    p = json.loads(out)
    assert p["status"] == 400
    return p["type"]


def test_request_level_errors(srv):
    j = Jmap(srv)
    assert problem(j, b"{not json") == "urn:ietf:params:jmap:error:notJSON"
    assert problem(j, b'{"using": []}') == "urn:ietf:params:jmap:error:notRequest"
    assert problem(j, b'{"using": [], "methodCalls": [["a", {}]]}') == \
        "urn:ietf:params:jmap:error:notRequest"
    assert problem(j, json.dumps({"using": ["urn:example:nope"], "methodCalls": []})) == \
        "urn:ietf:params:jmap:error:unknownCapability"
    max_calls = j.session["capabilities"][CORE]["maxCallsInRequest"]
    calls = [["Core/echo", {}, str(i)] for i in range(max_calls + 1)]
    status, _, out = j.http("POST", "/jmap/api", json.dumps({"using": [CORE], "methodCalls": calls}),
                            {"Content-Type": "application/json; charset=utf-8"})
    assert status == 400
    p = json.loads(out)
    assert p["type"] == "urn:ietf:params:jmap:error:limit"
    assert p["limit"] == "maxCallsInRequest"


def test_api_needs_json_content_type(srv):
    """A form of another web site (text/plain, urlencoded, multipart) cannot
    run method calls with the Basic login a browser remembers."""
    deliver(srv, "keep me")
    j = Jmap(srv)
    (eid,) = j.call("Email/query", {})["ids"]
    body = json.dumps({"using": [CORE, MAIL], "methodCalls": [
        ["Email/set", {"accountId": j.account, "destroy": [eid]}, "0"]]})
    for ctype in ("text/plain", "application/x-www-form-urlencoded",
                  "multipart/form-data; boundary=x", "application/jsonx", None):
        status, headers, out = j.http("POST", "/jmap/api", body,
                                      {"Content-Type": ctype} if ctype else {})
        assert status == 400, (ctype, out)
        assert json.loads(out)["type"] == "urn:ietf:params:jmap:error:notJSON"
    assert j.call("Email/query", {})["ids"] == [eid]


def test_core_echo_and_method_errors(srv):
    j = Jmap(srv)
    r = j.request([
        ["Core/echo", {"hello": True, "n": [1, 2]}, "a"],
        ["Nope/get", {}, "b"],
        ["Mailbox/get", {"accountId": "nobody"}, "c"],
        ["Email/get", {"accountId": j.account, "ids": "x"}, "d"],
    ])
    assert r[0] == ["Core/echo", {"hello": True, "n": [1, 2]}, "a"]
    assert r[1] == ["error", {"type": "unknownMethod"}, "b"]
    assert r[2][0] == "error" and r[2][1]["type"] == "accountNotFound"
    assert r[3][0] == "error" and r[3][1]["type"] == "invalidArguments"
    # a mail method without the mail capability in "using"
    r = j.request([["Mailbox/get", {"accountId": j.account}, "a"]], using=[CORE])
    assert r[0][1]["type"] == "unknownMethod"


def test_back_references(srv):
    deliver(srv, "first one")
    deliver(srv, "second one")
    j = Jmap(srv)
    r = j.request([
        ["Email/query", {"accountId": j.account}, "q"],
        ["Email/get", {"accountId": j.account, "properties": ["subject", "mailboxIds"],
                       "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}}, "g"],
        ["Core/echo", {"subjects": 1, "#x": {"resultOf": "g", "name": "Email/get",
                                             "path": "/list/*/subject"}}, "e"],
        ["Core/echo", {"#x": {"resultOf": "g", "name": "Email/get",
                              "path": "/list/*/mailboxIds"}}, "m"],
        ["Core/echo", {"#x": {"resultOf": "zz", "name": "Email/get", "path": "/ids"}}, "bad1"],
        ["Core/echo", {"#x": {"resultOf": "q", "name": "Email/get", "path": "/ids"}}, "bad2"],
        ["Core/echo", {"#x": {"resultOf": "q", "name": "Email/query", "path": "/nope/0"}}, "bad3"],
        ["Core/echo", {"x": 1, "#x": {"resultOf": "q", "name": "Email/query", "path": "/ids"}}, "bad4"],
        ["Core/echo", {"#x": {"resultOf": "q", "name": "Email/query", "path": "/ids/1"}}, "one"],
    ])
    ids = r[0][1]["ids"]
    assert len(ids) == 2
    assert [e["id"] for e in r[1][1]["list"]] == ids
    assert r[2][1]["x"] == ["second one", "first one"]
    assert isinstance(r[3][1]["x"], list) and len(r[3][1]["x"]) == 2
    for k in (4, 5, 6):
        assert r[k] [0] == "error" and r[k][1]["type"] == "invalidResultReference", r[k]
    assert r[7][1]["type"] == "invalidArguments"
    assert r[8][1] == {"x": ids[1]}


def test_upload_download_byte_exact(srv):
    j = Jmap(srv)
    data = bytes(range(256)) * 300 + b"\r\n\x00end"
    status, _, body = j.http("POST", f"/jmap/upload/{j.account}/", data,
                             {"Content-Type": "image/png"})
    assert status == 201, body
    up = json.loads(body)
    assert up["accountId"] == j.account and up["size"] == len(data) and up["type"] == "image/png"
    url = f"/jmap/download/{j.account}/{up['blobId']}/pic%20one.png?accept=image/png"
    status, headers, got = j.http("GET", url)
    assert status == 200
    assert got == data
    assert headers["Content-Type"] == "image/png"
    assert headers["Content-Disposition"] == 'attachment; filename="pic one.png"'
    assert headers["X-Content-Type-Options"] == "nosniff"
    # an active type is never sent as such
    status, headers, got = j.http("GET", f"/jmap/download/{j.account}/{up['blobId']}/x.html"
                                  "?accept=text/html")
    assert status == 200 and headers["Content-Type"] == "application/octet-stream"
    # another account's download path, an unknown blob
    assert j.http("GET", f"/jmap/download/aother/{up['blobId']}/x")[0] == 404
    assert j.http("GET", f"/jmap/download/{j.account}/u{'0' * 32}/x")[0] == 404
    assert j.http("GET", f"/jmap/download/{j.account}/..%2F..%2Fx/x")[0] == 404
    # an upload a day old is swept by the next one
    path = os.path.join(srv.data, "jmap", j.account, up["blobId"])
    assert os.path.exists(path)
    os.utime(path, (time.time() - 90000, time.time() - 90000))
    status, _, body = j.http("POST", f"/jmap/upload/{j.account}/", b"new",
                             {"Content-Type": "text/plain"})
    assert status == 201
    assert not os.path.exists(path)
    assert j.http("GET", f"/jmap/download/{j.account}/{up['blobId']}/x")[0] == 404
    up = json.loads(body)
    # bob cannot read alice's blob
    bob = Jmap(srv, "bob@example.org", "bob-pw")
    assert bob.http("GET", f"/jmap/download/{bob.account}/{up['blobId']}/x")[0] == 404


# ---- step 3: mail ----

MULTIPART = (
    "MIME-Version: 1.0\r\n"
    'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n'
    "--outer\r\n"
    'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n'
    "--alt\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    "Ol=E1, caf=E9 com p=E3o.\r\n"
    "--alt\r\n"
    "Content-Type: text/html; charset=utf-8\r\n\r\n"
    "<p>Ol\xc3\xa1</p>\r\n"
    "--alt--\r\n"
    "--outer\r\n"
    'Content-Type: application/octet-stream; name="data.bin"\r\n'
    'Content-Disposition: attachment; filename="data.bin"\r\n'
    "Content-Transfer-Encoding: base64\r\n\r\n"
    + base64.b64encode(b"\x00\x01\x02binary\xff").decode() + "\r\n"
    "--outer--\r\n")


def test_mailbox_get_roles_and_counts(srv):
    deliver(srv, "count me")
    j = Jmap(srv)
    boxes = j.mailboxes()
    for role in ("inbox", "sent", "drafts", "trash", "junk", "archive"):
        assert role in boxes
    inbox = boxes["inbox"]
    assert inbox["totalEmails"] == 1 and inbox["unreadEmails"] == 1
    assert inbox["myRights"]["mayReadItems"]
    r = j.call("Mailbox/get", {"ids": [inbox["id"], "fnothere"], "properties": ["name"]})
    assert r["list"] == [{"id": inbox["id"], "name": "Inbox"}]
    assert r["notFound"] == ["fnothere"]


def test_imap_folder_changes_seen_on_a_kept_connection(srv):
    j = Jmap(srv)
    state = j.call("Mailbox/get", {"ids": None})["state"]
    m = imap_login(srv)
    m.create("Projects")
    boxes = j.mailboxes()
    pid = boxes["Projects"]["id"]
    ch = j.call("Mailbox/changes", {"sinceState": state})
    assert ch["created"] == [pid] and ch["destroyed"] == []
    state = ch["newState"]
    m.rename("Projects", "Work")
    boxes = j.mailboxes()
    assert "Projects" not in boxes and boxes["Work"]["id"] == pid
    ch = j.call("Mailbox/changes", {"sinceState": state})
    assert ch["updated"] == [pid] and ch["created"] == ch["destroyed"] == []
    state = ch["newState"]
    m.delete("Work")
    assert "Work" not in j.mailboxes()
    ch = j.call("Mailbox/changes", {"sinceState": state})
    assert ch["destroyed"] == [pid]
    m.logout()


def test_email_get_body_values_of_smtp_delivery(srv):
    deliver(srv, "multi part", body=MULTIPART,
            extra='MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="outer"\r\n')
    j = Jmap(srv)
    (eid,) = j.call("Email/query", {})["ids"]
    e = j.call("Email/get", {"ids": [eid], "fetchTextBodyValues": True,
                             "fetchHTMLBodyValues": True,
                             "properties": ["id", "blobId", "threadId", "mailboxIds", "keywords",
                                            "size", "receivedAt", "from", "to", "subject",
                                            "sentAt", "preview", "bodyStructure", "textBody",
                                            "htmlBody", "attachments", "bodyValues",
                                            "hasAttachment", "messageId"]})["list"][0]
    assert e["id"] == eid
    assert e["from"] == [{"name": "Carol Example", "email": "carol@example.net"}]
    assert e["to"] == [{"name": None, "email": USER}]
    assert e["subject"] == "multi part"
    assert e["sentAt"] == "2026-12-05T10:00:00+01:00"
    assert e["messageId"] == ["multi.part@ex"]
    assert e["keywords"] == {}
    assert list(e["mailboxIds"]) == [j.mailboxes()["inbox"]["id"]]
    assert e["hasAttachment"] is True
    assert [p["type"] for p in e["textBody"]] == ["text/plain"]
    assert [p["type"] for p in e["htmlBody"]] == ["text/html"]
    assert [p["name"] for p in e["attachments"]] == ["data.bin"]
    text_id = e["textBody"][0]["partId"]
    html_id = e["htmlBody"][0]["partId"]
    # the line break before a boundary belongs to the boundary (RFC 2046)
    assert e["bodyValues"][text_id]["value"] == "Ol\u00e1, caf\u00e9 com p\u00e3o."
    assert e["bodyValues"][html_id]["value"] == "<p>Ol\u00e1</p>"
    assert e["bodyValues"][text_id]["isTruncated"] is False
    assert e["preview"] == "Ol\u00e1, caf\u00e9 com p\u00e3o."
    bs = e["bodyStructure"]
    assert bs["type"] == "multipart/mixed" and len(bs["subParts"]) == 2
    # the attachment downloads decoded, the message as it is
    att = e["attachments"][0]
    status, headers, data = j.http("GET", f"/jmap/download/{j.account}/{att['blobId']}/data.bin")
    assert status == 200 and data == b"\x00\x01\x02binary\xff"
    status, _, data = j.http("GET", f"/jmap/download/{j.account}/{e['blobId']}/m.eml"
                                    "?accept=message/rfc822")
    assert status == 200 and b"Subject: multi part\r\n" in data and data.endswith(b"--outer--\r\n")
    assert e["size"] == len(data)
    # truncated body values
    e = j.call("Email/get", {"ids": [eid], "fetchTextBodyValues": True,
                             "maxBodyValueBytes": 4, "properties": ["bodyValues"]})["list"][0]
    v = e["bodyValues"][text_id]
    assert v["isTruncated"] is True and v["value"] == "Ol\u00e1"


def test_thread_get_by_back_reference(srv):
    deliver(srv, "threaded")
    j = Jmap(srv)
    r = j.request([
        ["Email/query", {"accountId": j.account}, "q"],
        ["Email/get", {"accountId": j.account, "properties": ["threadId"],
                       "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}}, "g"],
        ["Thread/get", {"accountId": j.account,
                        "#ids": {"resultOf": "g", "name": "Email/get", "path": "/list/*/threadId"}}, "t"],
        ["Thread/get", {"accountId": j.account, "ids": ["tnothere", "x"]}, "n"],
    ])
    (eid,) = r[0][1]["ids"]
    tid = r[1][1]["list"][0]["threadId"]
    assert r[2][1]["list"] == [{"id": tid, "emailIds": [eid]}]
    assert r[3][1]["notFound"] == ["tnothere", "x"]


def send_raw(srv, headers, to=USER):
    """Deliver a message with exactly these header fields over SMTP."""
    msg = "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\nHello.\r\n"
    n = len(srv.messages(to))
    with smtplib.SMTP("127.0.0.1", srv.smtp_port) as s:
        s.sendmail("carol@example.net", [to], msg.encode())
    srv.wait_messages(to, n + 1)


def test_threads_are_conversations_across_mailboxes(srv):
    """RFC 8621 §3: a message, its reply (In-Reply-To), the reply to that
    (References only) and one of them filed in Sent share a threadId; a
    message of the same subject that references none of them does not
    (correio joins by Message-ID references only).  Thread/get lists the
    emails by receivedAt; collapseThreads keeps one email per thread."""
    base = [("From", "carol@example.net"), ("To", USER)]
    send_raw(srv, base + [("Subject", "Lunch"), ("Message-ID", "<p1@ex>")])
    time.sleep(1.1)
    send_raw(srv, base + [("Subject", "Re: Lunch"), ("Message-ID", "<p2@ex>"),
                          ("In-Reply-To", "<p1@ex>")])
    time.sleep(1.1)
    send_raw(srv, base + [("Subject", "Lunch"), ("Message-ID", "<other@ex>")])
    # the reply to the reply, filed in Sent by the user's client
    m = imap_login(srv)
    sent = ("From: " + USER + "\r\nTo: carol@example.net\r\nSubject: Re: Lunch\r\n"
            "Message-ID: <p3@ex>\r\nReferences: <p1@ex>\r\n <p2@ex>\r\n\r\nSure.\r\n")
    typ, _ = m.append("Sent", None, imaplib.Time2Internaldate(time.time() + 3600),
                      sent.encode())
    assert typ == "OK"
    m.logout()
    j = Jmap(srv)
    boxes = j.mailboxes()
    got = j.call("Email/get", {"ids": None, "properties": ["messageId", "threadId",
                                                            "receivedAt", "mailboxIds"]})
    by_mid = {e["messageId"][0]: e for e in got["list"]}
    assert set(by_mid) == {"p1@ex", "p2@ex", "p3@ex", "other@ex"}
    assert boxes["sent"]["id"] in by_mid["p3@ex"]["mailboxIds"]
    tid = by_mid["p1@ex"]["threadId"]
    assert by_mid["p2@ex"]["threadId"] == tid and by_mid["p3@ex"]["threadId"] == tid
    other = by_mid["other@ex"]["threadId"]
    assert other != tid
    r = j.call("Thread/get", {"ids": [tid, other]})
    assert r["list"] == [{"id": tid, "emailIds": [by_mid[k]["id"] for k in
                                                  ("p1@ex", "p2@ex", "p3@ex")]},
                         {"id": other, "emailIds": [by_mid["other@ex"]["id"]]}]
    # collapseThreads: the newest of each thread, per the sort
    q = j.call("Email/query", {"collapseThreads": True, "calculateTotal": True})
    assert q["ids"] == [by_mid["p3@ex"]["id"], by_mid["other@ex"]["id"]]
    assert q["total"] == 2
    q = j.call("Email/query", {"collapseThreads": True,
                               "sort": [{"property": "receivedAt", "isAscending": True}]})
    assert q["ids"] == [by_mid["p1@ex"]["id"], by_mid["other@ex"]["id"]]
    q = j.call("Email/query", {"collapseThreads": True,
                               "filter": {"inMailbox": boxes["inbox"]["id"]}})
    assert q["ids"] == [by_mid["other@ex"]["id"], by_mid["p2@ex"]["id"]]
    assert len(j.call("Email/query", {})["ids"]) == 4
    # a message that arrives later and is the parent of a known one joins
    # too, and the ids stay the same across a restart
    state = j.call("Thread/get", {"ids": []})["state"]
    send_raw(srv, base + [("Subject", "Re: Lunch"), ("Message-ID", "<p4@ex>"),
                          ("References", "<p3@ex>")])
    ch = j.call("Thread/changes", {"sinceState": state})
    assert ch["created"] == [] and ch["updated"] == [tid] and ch["destroyed"] == []
    # a new conversation is created, one whose only email goes is destroyed
    state = ch["newState"]
    send_raw(srv, base + [("Subject", "Dinner"), ("Message-ID", "<d1@ex>")])
    r = j.request([["Email/query", {"accountId": j.account,
                                    "filter": {"subject": "Dinner"}}, "q"],
                   ["Email/get", {"accountId": j.account, "properties": ["threadId"],
                                  "#ids": {"resultOf": "q", "name": "Email/query",
                                           "path": "/ids"}}, "g"],
                   ["Email/set", {"accountId": j.account,
                                  "destroy": [by_mid["other@ex"]["id"]]}, "s"],
                   ["Thread/changes", {"accountId": j.account, "sinceState": state}, "c"]])
    dinner = r[1][1]["list"][0]["threadId"]
    assert r[2][1]["destroyed"] == [by_mid["other@ex"]["id"]]
    ch = r[3][1]
    assert (ch["created"], ch["updated"], ch["destroyed"]) == ([dinner], [], [other])
    assert j.call("Thread/get", {"ids": [other]})["notFound"] == [other]
    srv.stop()
    srv.start()
    j = Jmap(srv)
    got = j.call("Email/get", {"ids": None, "properties": ["messageId", "threadId"]})
    assert {e["messageId"][0]: e["threadId"] for e in got["list"]} == {
        "p1@ex": tid, "p2@ex": tid, "p3@ex": tid, "p4@ex": tid, "d1@ex": dinner}
    assert len(j.call("Thread/get", {"ids": [tid]})["list"][0]["emailIds"]) == 4
    # a line a crash cut short is stepped over and the lines after it
    # count: a reply seen before its parent keeps its thread, and the
    # parent, arriving after a restart, joins it
    srv.stop()
    with open(os.path.join(srv.data, "jmap", j.account, "threads"), "a") as f:
        f.write('{"e":"m0000')
    srv.start()
    send_raw(srv, base + [("Subject", "Re: Tea"), ("Message-ID", "<c2@ex>"),
                          ("In-Reply-To", "<c1@ex>")])
    j = Jmap(srv)
    (c2,) = j.call("Email/query", {"filter": {"subject": "Re: Tea"}})["ids"]
    tea = j.call("Email/get", {"ids": [c2], "properties": ["threadId"]})["list"][0]["threadId"]
    srv.stop()
    srv.start()
    send_raw(srv, base + [("Subject", "Tea"), ("Message-ID", "<c1@ex>")])
    j = Jmap(srv)
    ids = j.call("Email/query", {"filter": {"subject": "Tea"}})["ids"]
    (c1,) = [i for i in ids if i != c2]
    got = j.call("Email/get", {"ids": [c1], "properties": ["threadId"]})
    assert got["list"][0]["threadId"] == tea
    assert j.call("Thread/get", {"ids": [tea]})["list"][0]["emailIds"] == [c2, c1]


def test_email_query_filters_sort_and_paging(srv):
    deliver(srv, "alpha report", sender="x1@example.net")
    deliver(srv, "beta news", body="the secret word is pineapple\n", sender="x2@example.net")
    deliver(srv, "gamma report", sender="x3@example.net")
    j = Jmap(srv)
    inbox = j.mailboxes()["inbox"]["id"]
    all_ids = j.call("Email/query", {"calculateTotal": True})
    assert all_ids["total"] == 3
    ids = all_ids["ids"]
    subjects = [e["subject"] for e in j.call("Email/get", {"ids": ids, "properties": ["subject"]})["list"]]
    assert subjects == ["gamma report", "beta news", "alpha report"]  # newest first
    asc = j.call("Email/query", {"sort": [{"property": "receivedAt", "isAscending": True}]})["ids"]
    assert asc == ids[::-1]

    def q(flt, **kw):
        return j.call("Email/query", dict(filter=flt, **kw))["ids"]

    assert q({"subject": "report"}) == [ids[0], ids[2]]
    assert q({"from": "x2@example.net"}) == [ids[1]]
    assert q({"to": USER}) == ids
    assert q({"text": "pineapple"}) == [ids[1]]
    assert q({"inMailbox": inbox}) == ids
    assert q({"inMailbox": j.mailboxes()["trash"]["id"]}) == []
    assert q({"operator": "NOT", "conditions": [{"subject": "report"}]}) == [ids[1]]
    assert q({"operator": "OR", "conditions": [{"from": "x1@"}, {"from": "x3@"}]}) == [ids[0], ids[2]]
    assert q({"before": "2000-01-01T00:00:00Z"}) == []
    assert q({"after": "2000-01-01T00:00:00Z"}) == ids
    r = j.call("Email/query", {"position": 1, "limit": 1})
    assert r["ids"] == [ids[1]] and r["position"] == 1
    assert q(None, position=-1) == [ids[2]]
    j.call("Email/set", {"update": {ids[2]: {"keywords/$flagged": True}}})
    assert q({"hasKeyword": "$flagged"}) == [ids[2]]
    assert q({"notKeyword": "$flagged"}) == [ids[0], ids[1]]
    r = j.call("Email/query", {"anchor": ids[1], "limit": 5})
    assert r["ids"] == ids[1:] and r["position"] == 1
    r = j.call("Email/query", {"anchor": ids[2], "anchorOffset": -1, "limit": 1})
    assert r["ids"] == [ids[1]] and r["position"] == 1
    (resp,) = j.request([["Email/query", {"accountId": j.account, "anchor": "mnothere00000001"}, "x"]])
    assert resp[1]["type"] == "anchorNotFound"
    # ids null: every email; an unknown property is refused
    got = j.call("Email/get", {"ids": None, "properties": ["subject"]})
    assert sorted(e["id"] for e in got["list"]) == sorted(ids) and got["notFound"] == []
    (resp,) = j.request([["Email/get", {"accountId": j.account, "ids": ids,
                                        "properties": ["subject", "header:X-Spam:asText"]}, "x"]])
    assert resp[1]["type"] == "invalidArguments"
    (resp,) = j.request([["Email/query", {"accountId": j.account, "filter": {"nope": 1}}, "x"]])
    assert resp[1]["type"] == "unsupportedFilter"
    (resp,) = j.request([["Email/query", {"accountId": j.account,
                                          "sort": [{"property": "subject"}]}, "x"]])
    assert resp[1]["type"] == "unsupportedSort"


def imap_login(srv):
    m = imaplib.IMAP4("127.0.0.1", srv.imap_port)
    m.login(USER, PASSWORD)
    return m


def test_changes_after_smtp_delivery(srv):
    deliver(srv, "before")
    j = Jmap(srv)
    (old,) = j.call("Email/query", {})["ids"]
    state = j.call("Email/get", {"ids": []})["state"]
    mstate = j.call("Mailbox/get", {"ids": None})["state"]
    r = j.call("Email/changes", {"sinceState": state})
    assert r["created"] == r["updated"] == r["destroyed"] == [] and r["newState"] == state
    deliver(srv, "after")
    r = j.call("Email/changes", {"sinceState": state})
    assert r["oldState"] == state and r["newState"] != state
    assert len(r["created"]) == 1 and r["updated"] == [] and r["destroyed"] == []
    assert r["created"][0] != old
    got = j.call("Email/get", {"ids": r["created"], "properties": ["subject"]})["list"]
    assert got[0]["subject"] == "after"
    m = j.call("Mailbox/changes", {"sinceState": mstate})
    assert m["updated"] == [j.mailboxes()["inbox"]["id"]]
    assert m["created"] == [] and m["destroyed"] == []
    (resp,) = j.request([["Email/changes", {"accountId": j.account, "sinceState": "sbogus"}, "x"]])
    assert resp[1]["type"] == "cannotCalculateChanges"


def test_states_remembered_per_account(srv):
    """The states kept for /changes are bounded per account: a busy account
    forgets its own oldest states, not another account's."""
    deliver(srv, "busy")
    deliver(srv, "quiet", to="bob@example.org")
    bob = Jmap(srv, "bob@example.org", "bob-pw")
    bob_state = bob.call("Email/get", {"ids": []})["state"]
    deliver(srv, "news for bob", to="bob@example.org")
    j = Jmap(srv)
    (eid,) = j.call("Email/query", {})["ids"]
    first = j.call("Email/get", {"ids": []})["state"]
    for i in range(70):
        j.call("Email/set", {"update": {eid: {"keywords/$flagged": True if i % 2 == 0 else None}}})
    (resp,) = j.request([["Email/changes", {"accountId": j.account, "sinceState": first}, "x"]])
    assert resp[1]["type"] == "cannotCalculateChanges"
    r = bob.call("Email/changes", {"sinceState": bob_state})
    assert len(r["created"]) == 1 and r["updated"] == r["destroyed"] == []


def test_changes_after_imap_store_and_expunge(srv):
    deliver(srv, "one")
    deliver(srv, "two")
    j = Jmap(srv)
    ids = j.call("Email/query", {"sort": [{"property": "receivedAt", "isAscending": True}]})["ids"]
    state = j.call("Email/get", {"ids": []})["state"]
    m = imap_login(srv)
    m.select("INBOX")
    m.uid("STORE", "1", "+FLAGS", r"(\Flagged $Forwarded)")
    r = j.call("Email/changes", {"sinceState": state})
    assert r["updated"] == [ids[0]] and r["created"] == [] and r["destroyed"] == []
    e = j.call("Email/get", {"ids": [ids[0]], "properties": ["keywords"]})["list"][0]
    assert e["keywords"] == {"$flagged": True, "$forwarded": True}
    state2 = r["newState"]
    m.uid("STORE", "2", "+FLAGS", r"(\Deleted)")
    m.expunge()
    r = j.call("Email/changes", {"sinceState": state2})
    assert r["destroyed"] == [ids[1]] and r["created"] == []
    # from the first state: one updated, one destroyed
    r = j.call("Email/changes", {"sinceState": state})
    assert r["updated"] == [ids[0]] and r["destroyed"] == [ids[1]]
    m.logout()


def test_email_set_seen_visible_to_imap(srv):
    deliver(srv, "read me")
    deliver(srv, "delete me")
    j = Jmap(srv)
    ids = j.call("Email/query", {"sort": [{"property": "receivedAt", "isAscending": True}]})["ids"]
    r = j.call("Email/set", {"update": {ids[0]: {"keywords": {"$seen": True, "custom": True}},
                                        "mnothere00000001": {"keywords/$seen": True}},
                             "destroy": [ids[1]]})
    assert r["updated"] == {ids[0]: None}
    assert r["notUpdated"]["mnothere00000001"]["type"] == "notFound"
    assert r["destroyed"] == [ids[1]]
    assert r["oldState"] != r["newState"]
    m = imap_login(srv)
    m.select("INBOX")
    typ, data = m.uid("FETCH", "1:*", "(FLAGS)")
    flat = b" ".join(d if isinstance(d, bytes) else d[0] for d in data)
    assert b"\\Seen" in flat and b"custom" in flat
    assert len([d for d in data if d]) == 1  # the destroyed one is gone
    m.logout()
    assert j.mailboxes()["inbox"]["unreadEmails"] == 0
    r = j.call("Email/set", {"update": {ids[0]: {"keywords/$seen": None}}})
    assert r["updated"] == {ids[0]: None}
    assert j.mailboxes()["inbox"]["unreadEmails"] == 1
    r = j.call("Email/set", {"update": {ids[0]: {"subject": "x"}}})
    assert r["notUpdated"][ids[0]]["type"] == "invalidProperties"
    (resp,) = j.request([["Email/set", {"accountId": j.account, "ifInState": "sold",
                                        "update": {}}, "x"]])
    assert resp[1]["type"] == "stateMismatch"


def test_email_move_by_mailbox_ids(srv):
    deliver(srv, "move me")
    j = Jmap(srv)
    boxes = j.mailboxes()
    (eid,) = j.call("Email/query", {})["ids"]
    state = j.call("Email/get", {"ids": []})["state"]
    r = j.call("Email/set", {"update": {eid: {"mailboxIds": {boxes["archive"]["id"]: True}}}})
    assert r["updated"] == {eid: None}
    assert j.call("Email/query", {"filter": {"inMailbox": boxes["inbox"]["id"]}})["ids"] == []
    (moved,) = j.call("Email/query", {"filter": {"inMailbox": boxes["archive"]["id"]}})["ids"]
    ch = j.call("Email/changes", {"sinceState": state})
    assert ch["destroyed"] == [eid] and ch["created"] == [moved]
    m = imap_login(srv)
    typ, data = m.select("Archive")
    assert data == [b"1"]
    m.logout()
    r = j.call("Email/set", {"update": {moved: {"mailboxIds": {}}}})
    assert r["notUpdated"][moved]["type"] == "invalidProperties"


# ---- submission, identities, import ----

SUB = "urn:ietf:params:jmap:submission"

DRAFT = ("From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\n"
         "Bcc: alice@example.org\r\nSubject: with a file\r\n"
         "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
         "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the file.\r\n"
         "--b1\r\nContent-Type: application/octet-stream\r\n"
         "Content-Disposition: attachment; filename=\"data.bin\"\r\n"
         "Content-Transfer-Encoding: base64\r\n\r\n"
         + base64.encodebytes(bytes(range(256))).decode().replace("\n", "\r\n") +
         "--b1--\r\n")


def upload(j, data):
    status, _, body = j.http("POST", f"/jmap/upload/{j.account}/", data,
                             {"Content-Type": "message/rfc822"})
    assert status in (200, 201), body
    return json.loads(body)["blobId"]


def identity_of(j, email):
    (r,) = j.request([["Identity/get", {"accountId": j.account}, "i"]], (CORE, MAIL, SUB))
    return next(i for i in r[1]["list"] if i["email"] == email)


def test_email_submission_sends_and_files_the_draft():
    """Upload, Email/import into Drafts, EmailSubmission/set with
    onSuccessUpdateEmail in one request: the message is queued like an
    authenticated SMTP submission (DKIM-signed, Bcc: removed), reaches bob
    and the Bcc recipient, and the draft moves to Sent without $draft."""
    s = Server(http=True)
    s.cli("domain", "dkim", "example.org", "rotate")
    s.add_user(USER, PASSWORD)
    s.add_user("bob@example.org", "bob-pw")
    s.start()
    try:
        j = Jmap(s)
        assert SUB in j.session["capabilities"]
        assert j.session["primaryAccounts"][SUB] == j.account
        boxes = j.mailboxes()
        drafts, sent = boxes["drafts"]["id"], boxes["sent"]["id"]
        blob = upload(j, DRAFT.encode())
        ident = identity_of(j, USER)
        resp = j.request([
            ["Email/import", {"accountId": j.account, "emails": {"d1": {
                "blobId": blob, "mailboxIds": {drafts: True},
                "keywords": {"$draft": True, "$seen": True}}}}, "0"],
            ["EmailSubmission/set", {"accountId": j.account, "create": {"k1": {
                "identityId": ident["id"], "emailId": "#d1"}},
                "onSuccessUpdateEmail": {"#k1": {
                    f"mailboxIds/{drafts}": None, f"mailboxIds/{sent}": True,
                    "keywords/$draft": None}}}, "1"],
        ], (CORE, MAIL, SUB))
        assert [r[0] for r in resp] == ["Email/import", "EmailSubmission/set", "Email/set"], resp
        draft_id = resp[0][1]["created"]["d1"]["id"]
        sub = resp[1][1]["created"]["k1"]
        assert sub["id"].startswith("S") and sub["undoStatus"] == "final"
        assert sub["emailId"] == draft_id
        assert sub["envelope"]["mailFrom"]["email"] == USER
        assert sorted(r["email"] for r in sub["envelope"]["rcptTo"]) == [USER, "bob@example.org"]
        assert resp[2][2] == "1" and resp[2][1]["updated"] == {draft_id: None}, resp[2]
        [path] = s.wait_messages("bob@example.org", 1)
        text = s.read_message(path)
        header = text.split(b"\n\n", 1)[0]
        assert b"DKIM-Signature:" in header
        assert b"\nBcc:" not in header and b"Bcc:" not in text.split(b"\n")[0]
        assert b"Message-ID:" in header and b"Date:" in header
        assert base64.encodebytes(bytes(range(256))).split(b"\n")[0] in text
        s.wait_messages(USER, 1)	# the Bcc copy, in alice's INBOX
        assert j.call("Email/query", {"filter": {"inMailbox": drafts}})["ids"] == []
        (filed,) = j.call("Email/query", {"filter": {"inMailbox": sent}})["ids"]
        (e,) = j.call("Email/get", {"ids": [filed], "properties": ["keywords"]})["list"]
        assert e["keywords"] == {"$seen": True}
        # the submission is kept: get, query, changes
        (r,) = j.request([["EmailSubmission/get", {"accountId": j.account}, "g"]],
                         (CORE, MAIL, SUB))
        assert [x["id"] for x in r[1]["list"]] == [sub["id"]]
        state = r[1]["state"]
        (r,) = j.request([["EmailSubmission/query", {"accountId": j.account,
                                                     "filter": {"undoStatus": "final"},
                                                     "calculateTotal": True}, "q"]],
                         (CORE, MAIL, SUB))
        assert r[1]["ids"] == [sub["id"]] and r[1]["total"] == 1
        (r,) = j.request([["EmailSubmission/changes", {"accountId": j.account,
                                                       "sinceState": "e0"}, "c"]],
                         (CORE, MAIL, SUB))
        assert r[1]["created"] == [sub["id"]] and r[1]["newState"] == state
        # cannot be undone
        (r,) = j.request([["EmailSubmission/set", {"accountId": j.account, "update": {
            sub["id"]: {"undoStatus": "canceled"}}}, "u"]], (CORE, MAIL, SUB))
        assert r[1]["notUpdated"][sub["id"]]["type"] == "cannotUnsend"
    finally:
        stopped(s)
    # the log survives a restart: exact changes, the record still there
    s.start()
    try:
        j = Jmap(s)
        (r,) = j.request([["EmailSubmission/changes", {"accountId": j.account,
                                                       "sinceState": state}, "c"],
                          ], (CORE, MAIL, SUB))
        assert r[1]["created"] == [] and r[1]["newState"] == state
        (r,) = j.request([["EmailSubmission/set", {"accountId": j.account,
                                                   "destroy": [sub["id"]]}, "d"]],
                         (CORE, MAIL, SUB))
        assert r[1]["destroyed"] == [sub["id"]]
        (r,) = j.request([["EmailSubmission/changes", {"accountId": j.account,
                                                       "sinceState": state}, "c"]],
                         (CORE, MAIL, SUB))
        assert r[1]["destroyed"] == [sub["id"]]
    finally:
        stopped(s)


def submit_draft(j, text, envelope=None):
    drafts = j.mailboxes()["drafts"]["id"]
    blob = upload(j, text.encode())
    create = {"identityId": identity_of(j, USER)["id"], "emailId": "#d"}
    if envelope is not None:
        create["envelope"] = envelope
    resp = j.request([
        ["Email/import", {"accountId": j.account, "emails": {"d": {
            "blobId": blob, "mailboxIds": {drafts: True}}}}, "0"],
        ["EmailSubmission/set", {"accountId": j.account, "create": {"k": create}}, "1"],
    ], (CORE, MAIL, SUB))
    return resp[1][1]


def test_email_set_create_and_send(srv):
    """Email/set create builds the MIME message from JMAP properties (text
    and HTML alternatives, an uploaded attachment, encoded words for UTF-8,
    no header injection) in Drafts; it is sent in the same request."""
    j = Jmap(srv)
    boxes = j.mailboxes()
    data = bytes(range(256)) * 20
    status, _, body = j.http("POST", f"/jmap/upload/{j.account}/", data,
                             {"Content-Type": "application/octet-stream"})
    blob = json.loads(body)["blobId"]
    draft = {
        "mailboxIds": {boxes["drafts"]["id"]: True}, "keywords": {"$draft": True},
        "from": [{"name": "Alice Ünicode", "email": USER}],
        "to": [{"name": "Bob \"the\" Builder", "email": "bob@example.org"}],
        "subject": "Olá, relatório\r\nBcc: evil@example.net",
        "inReplyTo": ["orig@example.net"], "references": ["orig@example.net"],
        "sentAt": "2026-12-06T10:00:00+01:00",
        "textBody": [{"partId": "t", "type": "text/plain"}],
        "htmlBody": [{"partId": "h", "type": "text/html"}],
        "bodyValues": {"t": {"value": "Segue o relatório.\n"},
                       "h": {"value": "<p>Segue o <b>relatório</b>.</p>"}},
        "attachments": [{"blobId": blob, "type": "application/pdf", "name": "relatório.pdf"}],
    }
    resp = j.request([
        ["Email/set", {"accountId": j.account, "create": {"d": draft}}, "0"],
        ["EmailSubmission/set", {"accountId": j.account, "create": {"k": {
            "identityId": identity_of(j, USER)["id"], "emailId": "#d"}},
            "onSuccessUpdateEmail": {"#k": {"mailboxIds": {boxes["sent"]["id"]: True},
                                            "keywords": {"$seen": True}}}}, "1"],
    ], (CORE, MAIL, SUB))
    assert "d" in resp[0][1]["created"], resp[0]
    assert "k" in resp[1][1]["created"], resp[1]
    [path] = srv.wait_messages("bob@example.org", 1)
    text = srv.read_message(path)
    header = text.split(b"\n\n", 1)[0]
    assert b"\nBcc:" not in header and b"evil" not in header.replace(b"=?UTF-8?B?", b"")
    e = j.call("Email/parse", {"blobIds": [json.loads(j.http(
        "POST", f"/jmap/upload/{j.account}/", text, {"Content-Type": "message/rfc822"})[2])
        ["blobId"]], "fetchAllBodyValues": True})
    (got,) = e["parsed"].values()
    # the line end stays inside an encoded word: text, not a header field
    assert got["subject"] == "Olá, relatório\r\nBcc: evil@example.net"
    assert got["from"] == [{"name": "Alice Ünicode", "email": USER}]
    assert got["to"] == [{"name": "Bob \"the\" Builder", "email": "bob@example.org"}]
    assert got["inReplyTo"] == ["orig@example.net"]
    assert got["sentAt"] == "2026-12-06T10:00:00+01:00"
    assert b"Date: Sun, 06 Dec 2026 10:00:00 +0100\n" in header
    values = [v["value"] for v in got["bodyValues"].values()]
    assert "Segue o relatório.\n" in values and "<p>Segue o <b>relatório</b>.</p>" in values
    (att,) = got["attachments"]
    assert att["name"] == "relatório.pdf" and att["type"] == "application/pdf"
    status, _, body = j.http("GET", f"/jmap/download/{j.account}/{att['blobId']}/x")
    assert status == 200 and body == data
    # the draft went to Sent with the keywords asked for
    (sent,) = j.call("Email/query", {"filter": {"inMailbox": boxes["sent"]["id"]}})["ids"]
    assert j.call("Email/get", {"ids": [sent], "properties": ["keywords"]})["list"][0][
        "keywords"] == {"$seen": True}
    # a creation id names the email in later calls of the request
    resp = j.request([
        ["Email/set", {"accountId": j.account, "create": {"e": {
            "mailboxIds": {boxes["drafts"]["id"]: True}, "subject": "scratch",
            "textBody": [{"partId": "1"}], "bodyValues": {"1": {"value": "x"}}}}}, "0"],
        ["Email/set", {"accountId": j.account, "update": {"#e": {"keywords/$flagged": True}}},
         "1"],
        ["Email/set", {"accountId": j.account, "destroy": ["#e"]}, "2"]])
    eid = resp[0][1]["created"]["e"]["id"]
    assert resp[1][1]["updated"] == {eid: None} and resp[2][1]["destroyed"] == [eid]
    # what cannot be made is refused
    r = j.call("Email/set", {"create": {
        "a": {"mailboxIds": {boxes["drafts"]["id"]: True}, "bodyStructure": {}},
        "b": {"mailboxIds": {boxes["drafts"]["id"]: True},
              "to": [{"email": "bob@example.org>\r\nBcc: x@y"}]},
        "c": {"mailboxIds": {boxes["drafts"]["id"]: True}, "messageId": ["a b"]}}})
    assert {k: v["type"] for k, v in r["notCreated"].items()} == {
        "a": "invalidProperties", "b": "invalidProperties", "c": "invalidProperties"}


def test_email_submission_restrict_sender(srv):
    """[submission] restrict_sender as for SMTP AUTH: the envelope sender
    and the From: addresses must be the user's own or an alias of it."""
    srv.alias_add("sales@example.org", USER)
    j = Jmap(srv)
    r = submit_draft(j, "From: mallory@example.net\r\nTo: bob@example.org\r\n\r\nhi\r\n")
    assert r["notCreated"]["k"]["type"] == "forbiddenFrom", r
    r = submit_draft(j, "From: alice@example.org\r\nTo: bob@example.org\r\n\r\nhi\r\n",
                     {"mailFrom": {"email": "bob@example.org"},
                      "rcptTo": [{"email": "bob@example.org"}]})
    assert r["notCreated"]["k"]["type"] == "forbiddenMailFrom", r
    r = submit_draft(j, "From: alice@example.org\r\n\r\nno one\r\n")
    assert r["notCreated"]["k"]["type"] == "noRecipients", r
    assert srv.messages("bob@example.org") == []
    # an alias of the user may be used, with an explicit envelope
    r = submit_draft(j, "From: Sales <sales@example.org>\r\nTo: bob@example.org\r\n"
                        "Subject: offer\r\n\r\nbuy\r\n",
                     {"mailFrom": {"email": "sales@example.org"},
                      "rcptTo": [{"email": "bob@example.org"}]})
    assert "k" in r["created"], r
    [path] = srv.wait_messages("bob@example.org", 1)
    assert srv.read_message(path).startswith(b"Return-Path: <sales@example.org>")


def test_email_submission_from_cannot_hide_another_address(srv):
    """restrict_sender holds for every address a From: or Sender: field
    shows, however it is written: an address after a bracketed one, one
    behind an encoded word, a second From: field, a Sender: of someone
    else.  The user's own address in a display name stays allowed."""
    srv.add_user("ceo@example.org", "ceo-pw")
    j = Jmap(srv)
    env = {"mailFrom": {"email": USER}, "rcptTo": [{"email": "bob@example.org"}]}
    for fields in ["From: <alice@example.org> ceo@example.org",
                   "From: =?utf-8?q?<alice@example.org>?= <ceo@example.org>",
                   "From: alice@example.org\r\nFrom: ceo@example.org",
                   "From: alice@example.org\r\nSender: ceo@example.org",
                   "From: \"=?utf-8?q?ceo=40example.org?=\" <alice@example.org>"]:
        r = submit_draft(j, fields + "\r\nTo: bob@example.org\r\nSubject: t\r\n\r\nhi\r\n",
                         env)
        assert r["notCreated"]["k"]["type"] in ("forbiddenFrom", "invalidEmail"), (fields, r)
    r = submit_draft(j, "From: \"Alice (alice@example.org)\" <alice@example.org>\r\n"
                        "To: bob@example.org\r\nSubject: t\r\n\r\nhi\r\n")
    assert "k" in r["created"], r
    [path] = srv.wait_messages("bob@example.org", 1)
    assert b"Alice (alice@example.org)" in srv.read_message(path)


def test_email_submission_recipient_limit():
    """[limits] recipients holds for EmailSubmission as for RCPT: an
    envelope or To:/Cc:/Bcc: fields with more recipients are refused with
    tooManyRecipients and maxRecipients, at once even for a huge To:."""
    s = Server(http=True, extra_config="[limits]\nrecipients = 5\n")
    s.add_user(USER, PASSWORD)
    s.start()
    try:
        j = Jmap(s)
        text = "From: alice@example.org\r\nTo: bob@example.net\r\n\r\nhi\r\n"
        rcpts = [{"email": f"u{i}@example.net"} for i in range(6)]
        r = submit_draft(j, text, {"mailFrom": {"email": USER}, "rcptTo": rcpts})
        err = r["notCreated"]["k"]
        assert err["type"] == "tooManyRecipients" and err["maxRecipients"] == 5, r
        r = submit_draft(j, text, {"mailFrom": {"email": USER}, "rcptTo": rcpts[:5]})
        assert "k" in r["created"], r
        to = ",\r\n ".join(f"u{i}@example.net" for i in range(2000))
        start = time.monotonic()
        r = submit_draft(j, f"From: alice@example.org\r\nTo: {to}\r\n\r\nhi\r\n")
        assert r["notCreated"]["k"]["type"] == "tooManyRecipients", r
        assert time.monotonic() - start < 10
    finally:
        stopped(s)


def test_email_submission_long_to_is_not_dropped(srv):
    """Recipients derived from a To: field longer than 64 KiB are not
    silently left out (the message going only to Cc:): the submission is
    refused, and nobody gets the message."""
    j = Jmap(srv)
    to = ",\r\n ".join(f"recipient-number-{i}@example.net" for i in range(3000))
    r = submit_draft(j, f"From: alice@example.org\r\nTo: {to}\r\n"
                        "Cc: bob@example.org\r\nSubject: many\r\n\r\nhi\r\n")
    assert r["notCreated"]["k"]["type"] in ("invalidEmail", "tooManyRecipients"), \
        str(r)[:500]
    time.sleep(0.5)
    assert srv.messages("bob@example.org") == []


def test_email_submission_client_gone_while_queued(srv):
    """Clients that hang up right after sending a submission (before or
    while it waits for the queue): the messages still go out, the server
    carries on and stops cleanly (the fixture checks the sanitizers'
    silence)."""
    j = Jmap(srv)
    drafts = j.mailboxes()["drafts"]["id"]
    ident = identity_of(j, USER)["id"]
    for n in range(5):
        blob = upload(j, f"From: alice@example.org\r\nTo: bob@example.org\r\n"
                         f"Subject: gone {n}\r\n\r\nhi\r\n".encode())
        body = json.dumps({"using": [CORE, MAIL, SUB], "methodCalls": [
            ["Email/import", {"accountId": j.account, "emails": {"d": {
                "blobId": blob, "mailboxIds": {drafts: True}}}}, "0"],
            ["EmailSubmission/set", {"accountId": j.account, "create": {"k": {
                "identityId": ident, "emailId": "#d"}},
                "onSuccessDestroyEmail": ["#k"]}, "1"]]}).encode()
        with socket.create_connection(("127.0.0.1", srv.http_port), 10) as s:
            s.sendall(b"POST /jmap/api HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Authorization: " + basic().encode() +
                      b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    srv.wait_messages("bob@example.org", 5)
    assert j.call("Mailbox/get", {"ids": [drafts]})["list"][0]["totalEmails"] >= 0


def test_identities_are_the_address_and_its_aliases(srv):
    srv.alias_add("sales@example.org", USER)
    srv.alias_add("team@example.org", USER, "bob@example.org")
    srv.alias_add("bobby@example.org", "bob@example.org")
    j = Jmap(srv)
    (r,) = j.request([["Identity/get", {"accountId": j.account}, "i"]], (CORE, MAIL, SUB))
    emails = [i["email"] for i in r[1]["list"]]
    assert emails[0] == USER and sorted(emails[1:]) == ["sales@example.org", "team@example.org"]
    assert all(not i["mayDelete"] for i in r[1]["list"])
    old = r[1]["state"]
    ident = identity_of(j, "sales@example.org")
    (r,) = j.request([["Identity/set", {"accountId": j.account, "update": {ident["id"]: {
        "name": "Sales Team", "replyTo": [{"name": None, "email": "sales@example.org"}],
        "textSignature": "-- \nSales"}}}, "s"]], (CORE, MAIL, SUB))
    assert r[1]["updated"] == {ident["id"]: None} and r[1]["newState"] != old
    (r,) = j.request([["Identity/set", {"accountId": j.account,
                                        "update": {ident["id"]: {"email": "x@example.org"}},
                                        "create": {"n": {"email": "bob@example.org"}}}, "s"]],
                     (CORE, MAIL, SUB))
    assert r[1]["notUpdated"][ident["id"]]["type"] == "invalidProperties"
    assert r[1]["notCreated"]["n"]["type"] == "forbidden"
    (r,) = j.request([["Identity/changes", {"accountId": j.account, "sinceState": old}, "c"]],
                     (CORE, MAIL, SUB))
    assert r[1]["type"] == "cannotCalculateChanges"
    stopped(srv)
    srv.start()
    j = Jmap(srv)
    got = identity_of(j, "sales@example.org")
    assert got["name"] == "Sales Team" and got["textSignature"] == "-- \nSales"
    assert identity_of(j, USER)["name"] == ""


def test_email_import_keywords_and_errors(srv):
    j = Jmap(srv)
    boxes = j.mailboxes()
    blob = upload(j, b"From: x@example.net\r\nSubject: imported\r\n\r\nbody\r\n")
    r = j.call("Email/import", {"emails": {
        "a": {"blobId": blob, "mailboxIds": {boxes["archive"]["id"]: True},
              "keywords": {"$flagged": True, "work": True},
              "receivedAt": "2026-01-02T03:04:05Z"},
        "b": {"blobId": "u" + "0" * 32, "mailboxIds": {boxes["inbox"]["id"]: True}},
        "c": {"blobId": blob, "mailboxIds": {}}}})
    eid = r["created"]["a"]["id"]
    assert r["notCreated"]["b"]["type"] == "blobNotFound"
    assert r["notCreated"]["c"]["type"] == "invalidProperties"
    (e,) = j.call("Email/get", {"ids": [eid], "properties": ["keywords", "receivedAt",
                                                             "subject", "mailboxIds"]})["list"]
    assert e["keywords"] == {"$flagged": True, "work": True}
    assert e["receivedAt"] == "2026-01-02T03:04:05Z" and e["subject"] == "imported"
    assert e["mailboxIds"] == {boxes["archive"]["id"]: True}
    m = imap_login(srv)
    m.select("Archive")
    typ, data = m.fetch("1", "(FLAGS)")
    assert b"\\Flagged" in data[0] and b"work" in data[0]
    m.logout()


def test_mailbox_set_create_rename_destroy(srv):
    """Mailbox/set as IMAP CREATE, RENAME, SUBSCRIBE and DELETE: seen by
    IMAP; roles for the SPECIAL-USE ones; destroy refused with children or
    emails unless onDestroyRemoveEmails."""
    j = Jmap(srv)
    assert j.session["accounts"][j.account]["accountCapabilities"][MAIL][
        "mayCreateTopLevelMailbox"] is True
    state = j.call("Mailbox/get", {"ids": []})["state"]
    r = j.call("Mailbox/set", {"create": {
        "p": {"name": "Projects", "isSubscribed": True},
        "c": {"name": "Correio", "parentId": "#p"},
        "r": {"name": "Receipts", "role": "archive"},
        "x": {"name": "a/b"},
        "w": {"name": " "},
        "i": {"name": "inbox"}}})
    assert set(r["created"]) == {"p", "c"}, r
    assert r["notCreated"]["r"]["type"] == "invalidProperties"  # Archive has the role
    assert r["notCreated"]["x"]["type"] == "invalidProperties"
    assert r["notCreated"]["w"]["type"] == "invalidProperties"  # only spaces
    assert r["notCreated"]["i"]["type"] == "invalidProperties"
    p, c = r["created"]["p"]["id"], r["created"]["c"]["id"]
    assert r["created"]["c"]["parentId"] == p
    ch = j.call("Mailbox/changes", {"sinceState": state})
    assert sorted(ch["created"]) == sorted([p, c])
    m = imap_login(srv)
    names = b"\n".join(m.list()[1])
    assert b'"Projects"' in names and b'"Projects/Correio"' in names
    assert b"Projects" in b"\n".join(m.lsub()[1])
    deliver(srv, "for the project")
    m.select("INBOX")
    m.copy("1", "Projects/Correio")
    # rename and move under INBOX's level: ids stay (same UIDVALIDITY)
    r = j.call("Mailbox/set", {"update": {c: {"name": "Mail server", "parentId": None},
                                          j.mailboxes()["inbox"]["id"]: {"name": "x"}}})
    assert r["updated"] == {c: None}, r
    assert r["notUpdated"][j.mailboxes()["inbox"]["id"]]["type"] == "forbidden"
    assert j.call("Mailbox/get", {"ids": [c]})["list"][0]["name"] == "Mail server"
    assert b'"Mail server"' in b"\n".join(m.list()[1])
    r = j.call("Mailbox/set", {"update": {c: {"role": "trash"}}})
    assert r["notUpdated"][c]["type"] == "invalidProperties"
    # destroy: emails keep it unless asked
    r = j.call("Mailbox/set", {"destroy": [c]})
    assert r["notDestroyed"][c]["type"] == "mailboxHasEmail"
    r = j.call("Mailbox/set", {"destroy": [c], "onDestroyRemoveEmails": True})
    assert r["destroyed"] == [c]
    q = j.call("Mailbox/set", {"create": {"k": {"name": "Kid", "parentId": p}}})
    r = j.call("Mailbox/set", {"destroy": [p]})
    assert r["notDestroyed"][p]["type"] == "mailboxHasChild"
    r = j.call("Mailbox/set", {"destroy": [q["created"]["k"]["id"], p]})
    assert sorted(r["destroyed"]) == sorted([q["created"]["k"]["id"], p]), r
    names = b"\n".join(m.list()[1])
    assert b"Projects" not in names and b"Mail server" not in names
    m.logout()
    # Mailbox/query: filters and sorts
    q = j.call("Mailbox/query", {"filter": {"hasAnyRole": True}, "sort": [{"property": "name"}]})
    names = [x["name"] for x in j.call("Mailbox/get", {"ids": q["ids"]})["list"]]
    assert sorted(names) == names and "Inbox" in names
    q = j.call("Mailbox/query", {"filter": {"role": "sent"}})
    assert q["ids"] == [j.mailboxes()["sent"]["id"]]
    r = j.call("Mailbox/queryChanges", {"sinceQueryState": q["queryState"]})
    assert r["added"] == [] and r["removed"] == []


def test_search_snippets_mark_and_escape(srv):
    deliver(srv, "Invoice <2026> & more", body="Dear Carol,\n\nyour invoice is attached; "
            "the INVOICE total is <b>42</b>.\n" + "filler words here. " * 30 + "\n")
    deliver(srv, "Nothing to see", body="No match in this one.\n")
    j = Jmap(srv)
    flt = {"operator": "OR", "conditions": [{"text": "invoice"}, {"subject": "more"}]}
    ids = j.call("Email/query", {"filter": flt})["ids"]
    (other,) = [i for i in j.call("Email/query", {})["ids"] if i not in ids]
    r = j.call("SearchSnippet/get", {"filter": flt, "emailIds": ids + [other, "mffffffff00000001"]})
    assert r["notFound"] == ["mffffffff00000001"]
    got = {x["emailId"]: x for x in r["list"]}
    (mine,) = ids
    assert got[mine]["subject"] == "<mark>Invoice</mark> &lt;2026&gt; &amp; <mark>more</mark>"
    assert got[mine]["preview"].startswith("Dear Carol, your <mark>invoice</mark> is attached;")
    assert "the <mark>INVOICE</mark> total is &lt;b&gt;42&lt;/b&gt;." in got[mine]["preview"]
    assert len(got[mine]["preview"]) < 400
    assert got[other]["subject"] is None and got[other]["preview"] is None


def test_email_query_changes(srv):
    deliver(srv, "one")
    deliver(srv, "two")
    j = Jmap(srv)
    inbox = j.mailboxes()["inbox"]["id"]
    args = {"filter": {"inMailbox": inbox, "notKeyword": "$seen"},
            "sort": [{"property": "receivedAt", "isAscending": False}]}
    q = j.call("Email/query", args)
    assert q["canCalculateChanges"] is True
    old_ids = q["ids"]
    deliver(srv, "three")
    m = imap_login(srv)
    m.select("INBOX")
    m.store("1", "+FLAGS", "(\\Seen)")	# "one" leaves the results
    m.logout()
    r = j.call("Email/queryChanges", dict(args, sinceQueryState=q["queryState"],
                                          calculateTotal=True))
    new_ids = j.call("Email/query", args)["ids"]
    assert r["newQueryState"] == j.call("Email/query", args)["queryState"]
    # the client's list, patched as RFC 8620 §5.6 says, is the new one
    ids = [i for i in old_ids if i not in r["removed"]]
    for a in sorted(r["added"], key=lambda a: a["index"]):
        ids.insert(a["index"], a["id"])
    assert ids == new_ids and r["total"] == len(new_ids) == 2
    assert old_ids[-1] in r["removed"]
    (r,) = j.request([["Email/queryChanges", dict(args, accountId=j.account,
                                                  sinceQueryState="s0000000000000000"), "c"]])
    assert r[1]["type"] == "cannotCalculateChanges"


def test_email_parse_of_an_upload_and_a_message(srv):
    deliver(srv, "stored one")
    j = Jmap(srv)
    blob = upload(j, DRAFT.encode())
    (eid,) = j.call("Email/query", {})["ids"]
    stored_blob = j.call("Email/get", {"ids": [eid], "properties": ["blobId"]})["list"][0]["blobId"]
    r = j.call("Email/parse", {"blobIds": [blob, stored_blob, "u" + "1" * 32, "x!"],
                               "fetchTextBodyValues": True})
    assert sorted(r["notFound"]) == sorted(["u" + "1" * 32, "x!"])
    e = r["parsed"][blob]
    assert e["id"] is None and e["mailboxIds"] is None and e["blobId"] == blob
    assert e["subject"] == "with a file" and e["bcc"] == [{"name": None, "email": USER}]
    assert e["from"] == [{"name": "Alice", "email": USER}]
    (att,) = e["attachments"]
    assert att["name"] == "data.bin"
    text_part = e["textBody"][0]["partId"]
    assert e["bodyValues"][text_part]["value"].startswith("See the file.")
    assert r["parsed"][stored_blob]["subject"] == "stored one"
    # a part of the upload downloads byte for byte
    status, _, body = j.http("GET", f"/jmap/download/{j.account}/{att['blobId']}/data.bin")
    assert status == 200 and body == bytes(range(256))


def test_upload_sweep_keeps_the_account_files(srv):
    """Uploads older than a day are swept at the next upload; the
    submission log, identity settings and thread map beside them stay."""
    j = Jmap(srv)
    ident = identity_of(j, USER)
    (r,) = j.request([["Identity/set", {"accountId": j.account,
                                        "update": {ident["id"]: {"name": "Alice"}}}, "s"]],
                     (CORE, MAIL, SUB))
    assert r[1]["updated"]
    r = submit_draft(j, "From: alice@example.org\r\nTo: bob@example.org\r\n\r\nhi\r\n")
    assert "k" in r["created"], r
    d = os.path.join(srv.data, "jmap", j.account)
    old = time.time() - 3 * 86400
    for name in os.listdir(d):
        try:
            os.utime(os.path.join(d, name), (old, old))
        except FileNotFoundError:
            continue        # a ".tmp-NAME" the server renamed meanwhile
    upload(j, b"Subject: x\r\n\r\ny\r\n")
    assert sorted(n for n in os.listdir(d) if not n.startswith("u")) == \
        ["identities", "submissions", "threads"]
    assert len([n for n in os.listdir(d) if n.startswith("u")]) == 1
    assert identity_of(j, USER)["name"] == "Alice"


VAC = "urn:ietf:params:jmap:vacationresponse"


def vacation(j, name, args):
    (r,) = j.request([[name, dict(args, accountId=j.account), "v"]], (CORE, MAIL, VAC))
    return r[1]


def test_vacation_response_is_a_sieve_vacation(srv):
    """VacationResponse/set writes and activates a Sieve vacation script:
    delivery then answers bob once; turning it off deactivates it; another
    active script is not replaced."""
    j = Jmap(srv)
    assert j.session["primaryAccounts"][VAC] == j.account
    (v,) = vacation(j, "VacationResponse/get", {})["list"]
    assert v == {"id": "singleton", "isEnabled": False, "fromDate": None, "toDate": None,
                 "subject": None, "textBody": None, "htmlBody": None}
    for bad in ("2026-12-24", "2026-12-24T00:00:00+01:00", 20261224):
        r = vacation(j, "VacationResponse/set", {"update": {"singleton": {"fromDate": bad}}})
        assert r["notUpdated"]["singleton"]["type"] == "invalidProperties"
    r = vacation(j, "VacationResponse/set", {"update": {"singleton": {
        "isEnabled": True, "subject": "Away \"for now\"",
        "textBody": "I am away until Monday.\nBack soon \\o/"}}})
    assert r["updated"] == {"singleton": None}, r
    (v,) = vacation(j, "VacationResponse/get", {"ids": ["singleton"]})["list"]
    assert v["isEnabled"] is True and v["subject"] == "Away \"for now\""
    assert "jmap-vacation" in srv.cli("user", "sieve", USER, "list").stdout
    deliver(srv, "are you there", sender="bob@example.org")
    [reply] = srv.wait_messages("bob@example.org", 1)
    text = srv.read_message(reply)
    assert b"Subject: Away \"for now\"" in text and b"I am away until Monday." in text
    assert b"Back soon \\o/" in text
    deliver(srv, "still there?", sender="bob@example.org")
    time.sleep(0.5)
    assert len(srv.messages("bob@example.org")) == 1	# once per period
    r = vacation(j, "VacationResponse/set", {"update": {"singleton": {"isEnabled": False}}})
    assert r["updated"] == {"singleton": None}
    assert vacation(j, "VacationResponse/get", {})["list"][0]["isEnabled"] is False
    # another active script is left alone
    path = os.path.join(srv.data, "mine.sieve")
    with open(path, "w") as f:
        f.write('require "fileinto";\nif header :contains "subject" "x" { fileinto "Junk"; }\n')
    srv.cli("user", "sieve", USER, "put", "mine", path)
    srv.cli("user", "sieve", USER, "activate", "mine")
    r = vacation(j, "VacationResponse/set", {"update": {"singleton": {"isEnabled": True}}})
    assert r["notUpdated"]["singleton"]["type"] == "forbidden"
    assert vacation(j, "VacationResponse/get", {})["list"][0]["isEnabled"] is False


def test_vacation_response_dates(srv):
    """fromDate and toDate bound the replies: none before fromDate, none
    from toDate on, one in between (a Sieve currentdate test, RFC 5260);
    an mbox account has a vacation too."""
    j = Jmap(srv)
    for user in ("dave@example.org", "erin@example.org"):
        srv.add_user(user, "pw")

    def enable(**dates):
        r = vacation(j, "VacationResponse/set", {"update": {"singleton": dict(
            {"isEnabled": True, "textBody": "Away.", "fromDate": None, "toDate": None},
            **dates)}})
        assert r["updated"] == {"singleton": None}, r

    enable(fromDate="2999-01-01T00:00:00Z")
    (v,) = vacation(j, "VacationResponse/get", {})["list"]
    assert v["fromDate"] == "2999-01-01T00:00:00Z" and v["toDate"] is None
    deliver(srv, "too early", sender="bob@example.org")
    enable(fromDate="2000-01-01T00:00:00Z", toDate="2001-01-01T00:00:00Z")
    deliver(srv, "too late", sender="erin@example.org")
    enable(fromDate="2000-01-01T00:00:00Z", toDate="2999-01-01T00:00:00Z")
    deliver(srv, "just right", sender="dave@example.org")
    [reply] = srv.wait_messages("dave@example.org", 1)
    assert b"Away." in srv.read_message(reply)
    assert srv.messages("bob@example.org") == [] and srv.messages("erin@example.org") == []
    # an mbox account: the script goes where its delivery runs Sieve
    srv.add_user("mo@example.org", "mo-pw", "--mbox")
    m = Jmap(srv, user="mo@example.org", password="mo-pw")
    r = vacation(m, "VacationResponse/set", {"update": {"singleton": {
        "isEnabled": True, "textBody": "Mo is away."}}})
    assert r["updated"] == {"singleton": None}, r
    assert "jmap-vacation" in srv.cli("user", "sieve", "mo@example.org", "list").stdout


def test_changes_exact_across_a_restart(srv):
    """States handed out before a clean stop still give exact /changes
    after the restart; after a crash (no saved states) the answer is
    cannotCalculateChanges, never a wrong list."""
    deliver(srv, "keep")
    deliver(srv, "flag me")
    deliver(srv, "expunge me")
    j = Jmap(srv)
    ids = {e["subject"]: e["id"] for e in j.call("Email/get", {"ids": None,
                                                               "properties": ["subject"]})["list"]}
    state = j.call("Email/get", {"ids": []})["state"]
    args = {"sort": [{"property": "receivedAt"}]}
    q = j.call("Email/query", args)
    stopped(srv)
    srv.start()
    deliver(srv, "after restart")
    m = imap_login(srv)
    m.select("INBOX")
    m.store("2", "+FLAGS", "(\\Flagged)")
    m.store("3", "+FLAGS", "(\\Deleted)")
    m.expunge()
    m.logout()
    j = Jmap(srv)
    ch = j.call("Email/changes", {"sinceState": state})
    (new,) = ch["created"]
    assert ch["updated"] == [ids["flag me"]] and ch["destroyed"] == [ids["expunge me"]]
    mb = j.call("Mailbox/changes", {"sinceState": state})
    assert mb["updated"] == [j.mailboxes()["inbox"]["id"]] and mb["created"] == []
    r = j.call("Email/queryChanges", dict(args, sinceQueryState=q["queryState"]))
    patched = [i for i in q["ids"] if i not in r["removed"]]
    for a in sorted(r["added"], key=lambda a: a["index"]):
        patched.insert(a["index"], a["id"])
    assert patched == j.call("Email/query", args)["ids"]
    # a crash: the states handed out since the restart are lost
    later = j.call("Email/get", {"ids": []})["state"]
    assert later != state
    srv.kill()
    srv.start()
    deliver(srv, "after crash")
    j = Jmap(srv)
    (r,) = j.request([["Email/changes", {"accountId": j.account, "sinceState": later}, "c"]])
    assert r[1]["type"] == "cannotCalculateChanges"
    # the state from before the clean stop is still known, and exact
    ch = j.call("Email/changes", {"sinceState": state})
    assert len(ch["created"]) == 2 and ch["destroyed"] == [ids["expunge me"]]


# ---- step 4: push ----

class EventStream:
    """GET eventSourceUrl, read text/event-stream events as they come."""

    def __init__(self, srv, query):
        self.conn = http.client.HTTPConnection("127.0.0.1", srv.http_port, timeout=15)
        self.conn.request("GET", "/jmap/eventsource?" + query, headers={"Authorization": basic()})
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200
        assert self.resp.headers["Content-Type"] == "text/event-stream"
        self.buf = b""

    def next(self, skip_pings=True):
        """The next event as (type, data), or None at the end of the stream."""
        while True:
            while b"\n\n" not in self.buf:
                chunk = self.resp.read1(65536)
                if not chunk:
                    return None
                self.buf += chunk
            block, self.buf = self.buf.split(b"\n\n", 1)
            fields = dict(line.split(b": ", 1) for line in block.split(b"\n"))
            ev = fields[b"event"].decode(), json.loads(fields[b"data"])
            if ev[0] != "ping" or not skip_pings:
                return ev


def test_push_state_change_after_delivery_and_imap_store(srv):
    j = Jmap(srv)
    es = EventStream(srv, "types=*&closeafter=no&ping=1")
    kind, first = es.next()
    assert kind == "state" and first["@type"] == "StateChange"
    s0 = first["changed"][j.account]["Email"]
    assert first["changed"][j.account]["Mailbox"] == s0
    assert es.next(skip_pings=False) == ("ping", {"interval": 1})
    deliver(srv, "pushed")
    kind, ev = es.next()
    s1 = ev["changed"][j.account]["Email"]
    assert kind == "state" and s1 != s0
    ch = j.call("Email/changes", {"sinceState": s0})
    assert len(ch["created"]) == 1
    m = imap_login(srv)
    m.select("INBOX")
    m.uid("STORE", "1", "+FLAGS", r"(\Seen)")
    kind, ev = es.next()
    s2 = ev["changed"][j.account]["Email"]
    assert s2 != s1
    assert j.call("Email/changes", {"sinceState": s1})["updated"] == ch["created"]
    m.logout()
    # a JMAP change by another client is pushed too
    j.call("Email/set", {"update": {ch["created"][0]: {"keywords/$flagged": True}}})
    kind, ev = es.next()
    assert ev["changed"][j.account]["Email"] != s2
    es.conn.close()


def test_push_closeafter_state_and_types(srv):
    j = Jmap(srv)
    es = EventStream(srv, "types=Mailbox&closeafter=state&ping=0")
    deliver(srv, "long poll")
    kind, ev = es.next()
    assert kind == "state" and list(ev["changed"][j.account]) == ["Mailbox"]
    assert es.next() is None  # the response ended
    # the stream is gone from the server's connection count once closed
    es.conn.close()
    bad = http.client.HTTPConnection("127.0.0.1", srv.http_port, timeout=10)
    bad.request("GET", "/jmap/eventsource?closeafter=maybe", headers={"Authorization": basic()})
    r = bad.getresponse()
    r.read()
    assert r.status == 400


def test_stop_with_open_streams_and_pending_logins():
    s = Server(http=True)
    s.add_user(USER, PASSWORD)
    s.start()
    es = EventStream(s, "types=*&closeafter=no&ping=0")
    assert es.next()[0] == "state"
    started = time.time()
    stopped(s)
    assert time.time() - started < 10
    log = s.read_log()
    assert "stop: done" in log
    assert "still open after" not in log


def hold_slots(s, n, timeout=15):
    """Open n keep-alive JMAP connections, retrying while the server has
    not yet noticed earlier connections closing (a password check to
    finish, a dropped stream at its next ping)."""
    deadline = time.time() + timeout
    while True:
        conns = []
        try:
            for _ in range(n):
                conns.append(Jmap(s))
            return conns
        except AssertionError:
            for j in conns:
                j.conn.close()
            assert time.time() < deadline, s.read_log()[-3000:]
            time.sleep(0.2)


def test_closed_connections_give_their_slot_back():
    """Connections that end every way (idle keep-alive closed by the client,
    closed while the password is checked, an event stream dropped, a
    Connection: close reply, a bad request) leave the per-client count."""
    s = Server(http=True, extra_config="connections_per_client = 3\n")
    s.add_user(USER, PASSWORD)
    s.start()
    try:
        for _ in range(3):
            j = Jmap(s)
            j.conn.close()
        for j in hold_slots(s, 3):
            j.conn.close()
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", s.http_port), 5) as c:
                c.sendall(b"GET /.well-known/jmap HTTP/1.1\r\nHost: x\r\n"
                          b"Authorization: " + basic().encode() + b"\r\n\r\n")
        for j in hold_slots(s, 3):
            j.conn.close()
        for _ in range(3):
            es = EventStream(s, "types=*&closeafter=no&ping=1")
            assert es.next()[0] == "state"
            es.conn.close()
        for j in hold_slots(s, 3):
            j.conn.close()
        for _ in range(3):
            raw(s, b"GET /.well-known/jmap HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                   b"Authorization: " + basic().encode() + b"\r\n\r\n")
            raw(s, b"BAD\r\n\r\n")
        conns = hold_slots(s, 3)
        c = http.client.HTTPConnection("127.0.0.1", s.http_port, timeout=10)
        c.request("GET", "/.well-known/jmap", headers={"Authorization": basic()})
        r = c.getresponse()
        r.read()
        assert r.status == 503
        for j in conns:
            j.conn.close()
    finally:
        stopped(s)


def test_jmap_connections_and_logins_in_metrics():
    from test_metrics import METRICS, scrape, value
    s = Server(http=True, extra_config=METRICS)
    s.add_user(USER, PASSWORD)
    s.start()
    port = s.port("metrics")
    try:
        Jmap(s).call("Core/echo", {})
        c = http.client.HTTPConnection("127.0.0.1", s.http_port, timeout=10)
        c.request("GET", "/.well-known/jmap", headers={"Authorization": basic(password="no")})
        c.getresponse().read()
        _, samples = scrape(port)
        assert value(samples, "correio_connections_total", protocol="http") == 2
        assert value(samples, "correio_logins_total", protocol="http", result="ok") == 1
        assert value(samples, "correio_logins_total", protocol="http", result="failed") == 1
    finally:
        stopped(s)
