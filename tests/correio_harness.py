"""Start a real `correio serve` on free loopback ports in a temporary data
directory, and give tests the paths and helpers they need to check what
arrived on disk."""

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

BIN = os.environ.get("CORREIO_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "build", "correio")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One correio instance.  Use as a context manager or call stop()."""

    def __init__(self, extra_config="", domains="example.org, localhost"):
        self.dir = tempfile.mkdtemp(prefix="correio-test-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.smtp_port = free_port()
        self.conf = os.path.join(self.dir, "correio.conf")
        self.log_path = os.path.join(self.dir, "server.log")
        self.write_config(domains, extra_config)
        self.proc = None

    def write_config(self, domains, extra=""):
        with open(self.conf, "w") as f:
            f.write(f"""[server]
hostname = mx.example.org
data_dir = {self.data}
local_domains = {domains}

[listen]
smtp = 127.0.0.1:{self.smtp_port}

[limits]
message_size = 1M
errors = 50
{extra}
""")

    def cli(self, *args, stdin=None, check=True):
        r = subprocess.run([BIN, "-c", self.conf, *args], input=stdin,
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"correio {' '.join(args)}: {r.returncode}\n{r.stderr}")
        return r

    def add_user(self, address, password="secret", *flags):
        self.cli("user", "add", address, "--password-stdin", *flags,
                 stdin=password + "\n")

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([BIN, "-c", self.conf, "serve"],
                                     stdout=self.log, stderr=self.log)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("server exited:\n" + self.read_log())
            try:
                socket.create_connection(("127.0.0.1", self.smtp_port), 0.2).close()
                return self
            except OSError:
                time.sleep(0.02)
        raise AssertionError("server did not start:\n" + self.read_log())

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.proc = None
        self.log.close()
        return code

    def kill(self):
        return self.stop(signal.SIGKILL)

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    # ---- what arrived ----

    def maildir(self, address):
        local, domain = address.lower().rsplit("@", 1)
        return os.path.join(self.data, "mail", domain, local)

    def messages(self, address):
        """Files in the account's Maildir new/ and cur/, oldest first."""
        d = self.maildir(address)
        files = glob.glob(os.path.join(d, "new", "*")) + glob.glob(os.path.join(d, "cur", "*"))
        return sorted(files, key=lambda p: (os.stat(p).st_mtime, p))

    def wait_messages(self, address, count, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            files = self.messages(address)
            if len(files) >= count:
                return files
            time.sleep(0.02)
        raise AssertionError(f"{address}: {len(self.messages(address))} messages, "
                             f"wanted {count}\n" + self.read_log()[-4000:])

    def read_message(self, path):
        with open(path, "rb") as f:
            return f.read()

    def queue_files(self):
        return sorted(os.listdir(os.path.join(self.data, "queue")))

    def wait_queue_empty(self, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.queue_files():
                return
            time.sleep(0.02)
        raise AssertionError("queue not empty: %r" % self.queue_files())
