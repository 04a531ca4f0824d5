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
