import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from correio_harness import Server  # noqa: E402


@pytest.fixture
def server():
    """A running server with example.org local and two accounts."""
    s = Server()
    try:
        s.add_user("alice@example.org")
        s.add_user("bob@example.org")
        s.start()
        yield s
    finally:
        s.cleanup()


@pytest.fixture
def tls_only_server():
    """Like server, with [auth] plaintext_on_loopback = no: loopback is
    treated as any other address, so plaintext logins need TLS."""
    s = Server(extra_config="[auth]\nplaintext_on_loopback = no\n")
    try:
        s.add_user("alice@example.org")
        s.add_user("bob@example.org")
        s.start()
        yield s
    finally:
        s.cleanup()
