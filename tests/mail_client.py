"""Helpers for the `correio mail` tests: an accounts file for a server the
test started, and a runner for the client with the password in its
environment (never on the command line)."""

import binascii
import imaplib
import os
import ssl
import subprocess

BIN = os.environ.get("CORREIO_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "build", "correio")


class MailClient:
    """One account of `correio mail`.  server: a correio_harness.Server
    (IMAP with STARTTLS, submission with STARTTLS, the self-signed
    certificate pinned), or settings given directly."""

    def __init__(self, workdir, name, user, password, server=None, **settings):
        self.dir = os.path.join(workdir, "client-" + name)
        os.makedirs(self.dir, exist_ok=True)
        self.conf = os.path.join(self.dir, "mail.conf")
        self.name = name
        self.password = password
        self.cache = os.path.join(self.dir, "cache")
        s = {"user": user, "cache_dir": self.cache}
        if server is not None:
            s.update(host="127.0.0.1", port=server.imap_port, tls="starttls",
                     smtp_host="127.0.0.1", smtp_port=server.submission_port,
                     smtp_tls="starttls",
                     tls_pin=os.path.join(server.data, "tls", "selfsigned.pem"))
        s.update(settings)
        self.settings = s
        self.write()

    def write(self):
        with open(self.conf, "w") as f:
            f.write(f"[{self.name}]\n")
            for k, v in self.settings.items():
                f.write(f"{k} = {v}\n")

    def run(self, *args, stdin="", check=True, env=None, timeout=60, cwd=None):
        e = dict(os.environ, CORREIO_MAIL_PASSWORD=self.password, LANG="C.UTF-8",
                 LC_ALL="C.UTF-8", HOME=self.dir)
        if env:
            e.update(env)
        r = subprocess.run([BIN, "mail", "-c", self.conf, *args], input=stdin,
                           capture_output=True, env=e, timeout=timeout, cwd=cwd,
                           text=isinstance(stdin, str))
        if check and r.returncode != 0:
            raise AssertionError(f"correio mail {' '.join(args)}: exit {r.returncode}\n"
                                 f"stdout: {r.stdout}\nstderr: {r.stderr}")
        return r


def imap_login(server, user, password):
    """An imaplib session over STARTTLS (the server wants TLS for LOGIN)."""
    c = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=10)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c.starttls(ctx)
    c.login(user, password)
    return c


def uuencode(name, data, mode="644"):
    """A uuencoded block as uuencode(1) writes it."""
    lines = [f"begin {mode} {name}\n".encode()]
    for i in range(0, len(data), 45):
        lines.append(binascii.b2a_uu(data[i:i + 45]))
    lines.append(b"`\nend\n")
    return b"".join(lines)
