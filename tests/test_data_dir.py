"""One `correio serve` per data directory: a second one refuses to start
with a message that says why, and a stopping server leaves alone a control
socket that is not its own."""

import os
import re
import socket
import subprocess

from correio_harness import BIN, Server, free_ports, send_mail

ALICE = "alice@example.org"


def second_config(server, same_ports):
    """A configuration for the same data directory as server's, on the
    same listeners or on other free ones."""
    with open(server.conf) as f:
        text = f.read()
    if not same_ports:
        for old, new in zip(re.findall(r"127\.0\.0\.1:(\d+)", text), free_ports(7)):
            text = text.replace(f"127.0.0.1:{old}\n", f"127.0.0.1:{new}\n")
    path = os.path.join(server.dir, f"second-{same_ports}.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def test_second_server_on_same_data_dir_refused(server):
    for same_ports in (False, True):
        conf = second_config(server, same_ports)
        try:
            r = subprocess.run([BIN, "-c", conf, "serve"], capture_output=True,
                               text=True, timeout=10)
        except subprocess.TimeoutExpired:
            raise AssertionError("a second server started on the same data directory")
        assert r.returncode != 0
        assert (f"another correio serve (pid {server.pid}) is running on data "
                f"directory {server.data}") in r.stderr, r.stderr
    # the first one goes on as before, its control socket included
    assert os.path.exists(os.path.join(server.data, "control.sock"))
    assert server.cli("queue", "list").returncode == 0
    send_mail(server, "a@example.net", [ALICE], "Subject: still here\r\n\r\nx\r\n")
    server.wait_messages(ALICE, 1)


def test_next_server_starts_after_stop(server):
    assert server.stop() == 0
    server.start()
    send_mail(server, "a@example.net", [ALICE], "Subject: again\r\n\r\nx\r\n")
    server.wait_messages(ALICE, 1)


def test_stopping_server_keeps_successors_socket(server):
    path = os.path.join(server.data, "control.sock")
    os.rename(path, path + ".old")
    successor = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        successor.bind(path)
        successor.listen(1)
        ino = os.stat(path).st_ino
        assert server.stop() == 0
        assert os.path.exists(path), "the stopping server removed a socket not its own"
        assert os.stat(path).st_ino == ino
    finally:
        successor.close()


def test_stopping_server_removes_its_socket(server):
    path = os.path.join(server.data, "control.sock")
    assert os.path.exists(path)
    assert server.stop() == 0
    assert not os.path.exists(path)


def test_stale_lock_file_does_not_block(tmp_path):
    """A lock file left by a server that was killed holds no lock."""
    with Server() as s:
        s.add_user(ALICE)
        s.start()
        s.kill()
        assert os.path.exists(os.path.join(s.data, "serve.lock"))
        s.start()
        send_mail(s, "a@example.net", [ALICE], "Subject: after kill\r\n\r\nx\r\n")
        s.wait_messages(ALICE, 1)
