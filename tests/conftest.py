import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from correio_harness import running_server  # noqa: E402


@pytest.fixture
def server():
    """A running server with example.org local and two accounts."""
    yield from running_server("alice@example.org", "bob@example.org")


@pytest.fixture
def tls_only_server():
    """Like server, with [auth] plaintext_on_loopback = no: loopback is
    treated as any other address, so plaintext logins need TLS."""
    yield from running_server("alice@example.org", "bob@example.org",
                              extra_config="[auth]\nplaintext_on_loopback = no\n")
