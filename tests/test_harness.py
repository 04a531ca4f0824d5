"""The harness itself: a message file moved from new/ to cur/ (and renamed
there) while a test reads it is still found, a file renamed while a test
walks a live directory is left out; a listener port taken by another
program before the server binds it is chosen again, the harness's own
and those of an extra config alike."""

import http.client
import os
import socket
import ssl

from correio_harness import Server


def test_read_message_follows_a_move_to_cur(tmp_path):
    for sub in ("new", "cur", "tmp"):
        os.makedirs(tmp_path / sub)
    listed = str(tmp_path / "new" / "1796554558.Q1F4F44AF70F259E4.mx.example.org,S=5,W=5")
    with open(listed, "wb") as f:
        f.write(b"Hello")
    # a session takes it to cur/ and names it with its UID and flags
    os.rename(listed, str(tmp_path / "cur" /
                          "1796554558.Q1F4F44AF70F259E4.mx.example.org,S=5,W=5,U=7:2,S"))
    # another message whose name starts the same is not taken for it
    with open(str(tmp_path / "cur" / "1796554558.Q1F4F44AF70F259E4.mx.example.org2,S=3:2,"),
              "wb") as f:
        f.write(b"Bye")
    assert Server.read_message(None, listed) == b"Hello"


def test_taken_https_port_is_chosen_again():
    s = Server(https=True)
    taken = s.https_port
    squatter = socket.socket()
    try:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        s.add_user("alice@example.org")
        s.start()
        assert s.https_port != taken
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c = http.client.HTTPSConnection("127.0.0.1", s.https_port, timeout=10, context=ctx)
        c.request("GET", "/.well-known/jmap")
        assert c.getresponse().status == 401
    finally:
        squatter.close()
        s.cleanup()


def test_ports_are_chosen_below_the_ephemeral_range():
    """Outgoing connections take ports from the ephemeral range; a port
    chosen there could be taken before the server binds it."""
    from correio_harness import ephemeral_range, free_ports
    low, _ = ephemeral_range()
    ports = free_ports(50)
    assert len(set(ports)) == 50
    if low > 11000:
        assert all(10000 <= p < low for p in ports)


def test_taken_extra_config_port_is_chosen_again():
    """A listener of the extra config ([metrics] listen here) written as
    "{port:NAME}" is chosen again, like the harness's own, when another
    program took its port before the server bound it."""
    from test_metrics import scrape
    s = Server(extra_config="[metrics]\nlisten = 127.0.0.1:{port:metrics}\n")
    taken = s.port("metrics")
    squatter = socket.socket()
    try:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        s.start()
        assert s.port("metrics") != taken
        families, _ = scrape(s.port("metrics"))
        assert families["correio_messages_received"] == "counter"
    finally:
        squatter.close()
        s.cleanup()


def test_file_stats_leaves_out_a_file_renamed_meanwhile(tmp_path, monkeypatch):
    """The live server renames its index's .tmp file between the listing
    of a Maildir and the look at each entry: that entry is left out."""
    from correio_harness import file_stats
    (tmp_path / "kept").write_bytes(b"x")
    real_walk = os.walk

    def walk(root):
        for d, dirs, names in real_walk(root):
            yield d, dirs, names + ["correio-index.log.tmp"]
    monkeypatch.setattr(os, "walk", walk)
    assert list(file_stats(str(tmp_path))) == [str(tmp_path / "kept")]
