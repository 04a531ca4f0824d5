"""`correio check` shows what the administrator wrote and warns before it
hurts: sizes and durations as written (25M, 90m; defaults in the largest
whole unit, never bytes or seconds), a hostname that is not a fully
qualified domain name, and --strict turning warnings into a failure."""

import re
import subprocess

from correio_harness import BIN, Server


def check(conf, *args):
    return subprocess.run([BIN, "-c", conf, "check", *args], capture_output=True,
                          text=True, timeout=60)


def value(out, key):
    m = re.search(rf"^{key} = (.*)$", out, re.M)
    assert m, out
    return m.group(1)


def test_sizes_and_durations_as_written():
    extra = ("[limits]\nidle_timeout = 300s\ndisk_reserve = 2048k\n"
             "[queue]\nretry_interval = 90m\nwarn_after = 1d\n")
    with Server(extra_config=extra) as s:
        r = check(s.conf)
        assert r.returncode == 0, r.stderr
        out = r.stdout
        # written in the file: shown exactly so
        assert value(out, "message_size") == "1M"
        assert value(out, "idle_timeout") == "300s"
        assert value(out, "disk_reserve") == "2048k"
        assert value(out, "retry_interval") == "90m"
        assert value(out, "warn_after") == "1d"
        assert value(out, "failure_delay") == "0"
        # defaults: the largest whole unit
        assert value(out, "command_timeout") == "10m"
        assert value(out, "max_retry_interval") == "4h"
        assert value(out, "give_up") == "5d"
        assert value(out, "lockout") == "15m"
        # plain counts stay numbers
        assert value(out, "errors") == "50"


def test_check_output_reads_back_the_same():
    """What check prints is a configuration file meaning the same."""
    with Server(extra_config="[queue]\nretry_interval = 90m\n") as s:
        first = check(s.conf).stdout
        with open(s.conf, "w") as f:
            f.write(first)
        second = check(s.conf)
        assert second.returncode == 0, second.stderr
        assert second.stdout.split("\n", 1)[1] == first.split("\n", 1)[1]


def test_hostname_not_fully_qualified_warns():
    with Server(extra_config="[server]\npostmaster = admin@elsewhere.example\n") as s:
        with open(s.conf) as f:
            conf = f.read()
        with open(s.conf, "w") as f:
            f.write(conf.replace("hostname = mx.example.org", "hostname = mailhost"))
        r = check(s.conf)
        assert r.returncode == 0, r.stderr
        assert re.search(r"^# warning: hostname mailhost is not a fully qualified domain name",
                         r.stdout, re.M), r.stdout
        r = check(s.conf, "--strict")
        assert r.returncode == 1, r.stdout
        assert "# --strict: 1 warning" in r.stdout


def test_fully_qualified_hostname_is_quiet_and_strict_passes():
    with Server(extra_config="[server]\npostmaster = admin@elsewhere.example\n") as s:
        r = check(s.conf, "--strict")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "warning" not in r.stdout
