"""Installing and packaging correio: `make install` lays out the binary,
both man pages, the example configuration and the systemd unit under
DESTDIR (and leaves /usr/sbin/sendmail alone); the example configuration
and correio.conf(5) name every setting of the configuration table (as
`correio check` prints it) with its default, so neither can drift; the
unit passes `systemd-analyze verify`; `make deb` builds a package whose
contents, control fields and maintainer scripts are what a Debian
administrator expects, and lintian finds no error in it; `correio
--version` tells the Makefile's version.  Nothing is installed on this
machine: every install goes to a temporary directory."""

import gzip
import pwd
import time
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from correio_harness import BIN

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MACHINE_DEPENDENT = {("server", "hostname")} | {
    ("listen", k) for k in ("smtp", "submission", "submissions", "pop3", "pop3s",
                            "imap", "imaps")}


def makefile_version():
    with open(os.path.join(TOP, "Makefile")) as f:
        return re.search(r"^VERSION\s*:=\s*(\S+)", f.read(), re.M).group(1)


def build_dir():
    """The BUILD directory of the binary under test, so make reuses it."""
    d = os.path.dirname(os.path.abspath(BIN))
    return os.path.relpath(d, TOP) if d.startswith(TOP + os.sep) else "build"


def make(*args, timeout=600):
    r = subprocess.run(["make", "--no-print-directory", "-C", TOP, f"BUILD={build_dir()}",
                        *args], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def table():
    """The configuration table as `correio check` prints it on defaults:
    {(section, key): default}."""
    r = subprocess.run([BIN, "-c", "/dev/null", "check"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    settings, section = {}, None
    for line in r.stdout.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        m = re.fullmatch(r"\[(\w+)\]", line)
        if m:
            section = m.group(1)
            continue
        key, value = line.split(" = ", 1) if " = " in line else (line.rstrip(" ="), "")
        settings[(section, key)] = value
    assert len(settings) > 40, r.stdout
    return settings


@pytest.fixture(scope="module")
def staged():
    d = tempfile.mkdtemp(prefix="correio-install-")
    make("install", f"DESTDIR={d}")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_make_install_lays_out_the_files(staged):
    expect = {
        "usr/local/sbin/correio": 0o755,
        "usr/local/share/man/man8/correio.8": 0o644,
        "usr/local/share/man/man5/correio.conf.5": 0o644,
        "usr/local/lib/systemd/system/correio.service": 0o644,
        "etc/correio/correio.conf": 0o644,
        "etc/logrotate.d/correio": 0o644,
    }
    # the webmail's files
    for name in sorted(os.listdir(os.path.join(TOP, "web"))):
        expect["usr/local/share/correio/web/" + name] = 0o644
    found = sorted(os.path.relpath(os.path.join(root, f), staged)
                   for root, _, files in os.walk(staged) for f in files)
    assert found == sorted(expect), found
    for path, mode in expect.items():
        assert os.stat(os.path.join(staged, path)).st_mode & 0o777 == mode, path
    r = subprocess.run([os.path.join(staged, "usr/local/sbin/correio"), "--version"],
                       capture_output=True, text=True, timeout=30)
    assert r.stdout.startswith("correio " + makefile_version()), r.stdout
    with open(os.path.join(staged, "usr/local/lib/systemd/system/correio.service")) as f:
        unit = f.read()
    assert "ExecStart=/usr/local/sbin/correio -c /etc/correio/correio.conf serve\n" in unit
    assert "@" not in unit.replace("$MAINPID", "")


def test_make_install_keeps_an_existing_configuration(staged):
    conf = os.path.join(staged, "etc/correio/correio.conf")
    with open(conf, "w") as f:
        f.write("[server]\nhostname = mail.example.org\n")
    r = make("install", f"DESTDIR={staged}")
    assert "keeping" in r.stdout
    with open(conf) as f:
        assert f.read() == "[server]\nhostname = mail.example.org\n"


def test_make_install_links_offers_and_never_forces():
    """`make install-links`: sendmail, mailq and newaliases link to the
    binary, which answers to each name; a name already taken is kept."""
    d = tempfile.mkdtemp(prefix="correio-links-")
    try:
        os.makedirs(os.path.join(d, "usr/sbin"))
        with open(os.path.join(d, "usr/sbin/sendmail"), "w") as f:
            f.write("another mail server's sendmail\n")
        r = make("install-links", f"DESTDIR={d}", "SBINDIR=/usr/local/sbin")
        assert "keeping" in r.stdout and "/usr/sbin/sendmail" in r.stdout
        with open(os.path.join(d, "usr/sbin/sendmail")) as f:
            assert f.read() == "another mail server's sendmail\n"
        for name in ("usr/bin/mailq", "usr/bin/newaliases"):
            assert os.readlink(os.path.join(d, name)) == "/usr/local/sbin/correio", name
        # argv[0] chooses the command
        os.symlink(os.path.abspath(BIN), os.path.join(d, "mailq"))
        r = subprocess.run([os.path.join(d, "mailq"), "--help"], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0 and "mailq" in r.stdout, r
        make("install-links", f"DESTDIR={d}", "SBINDIR=/usr/local/sbin")   # again: kept
        assert os.readlink(os.path.join(d, "usr/bin/mailq")) == "/usr/local/sbin/correio"
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_make_install_honours_prefix():
    d = tempfile.mkdtemp(prefix="correio-install-")
    try:
        make("install", f"DESTDIR={d}", "PREFIX=/opt/correio")
        assert os.path.isfile(os.path.join(d, "opt/correio/sbin/correio"))
        assert os.path.isfile(os.path.join(d, "opt/correio/share/man/man5/correio.conf.5"))
        with open(os.path.join(d, "opt/correio/lib/systemd/system/correio.service")) as f:
            assert "ExecStart=/opt/correio/sbin/correio " in f.read()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def read_unit(path):
    """The unit as {section: [(key, value)]}, every line checked."""
    sections, cur = {}, None
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = re.fullmatch(r"\[(\w+)\]", line)
            if m:
                cur = sections.setdefault(m.group(1), [])
                continue
            m = re.fullmatch(r"([A-Z][A-Za-z]+)=(.*)", line)
            assert m and cur is not None, f"{path}:{n}: {line}"
            cur.append((m.group(1), m.group(2)))
    return sections


def test_logrotate_configuration_is_valid(staged):
    """logrotate -d reads it (and does nothing): rotation makes the new file
    for correio and tells the server to reopen."""
    assert shutil.which("logrotate"), "logrotate is missing (scripts/deps.sh installs it)"
    conf = os.path.join(staged, "etc/logrotate.d/correio")
    with tempfile.NamedTemporaryFile() as state:
        r = subprocess.run(["logrotate", "-d", "-s", state.name, conf], capture_output=True,
                           text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "error" not in (r.stdout + r.stderr).lower(), r.stdout + r.stderr
    with open(conf) as f:
        text = f.read()
    assert "create 0640 correio adm" in text and "SIGUSR1" in text


def test_systemd_unit_is_hardened(staged):
    unit = read_unit(os.path.join(staged, "usr/local/lib/systemd/system/correio.service"))
    assert set(unit) == {"Unit", "Service", "Install"}
    service = dict(unit["Service"])
    assert service["Type"] == "simple"
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert ("ReadWritePaths", "/var/lib/correio") in unit["Service"]
    assert service["ProtectHome"] == "yes" and service["PrivateTmp"] == "yes"
    caps = set(service["CapabilityBoundingSet"].split())
    assert {"CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID", "CAP_CHOWN"} <= caps
    assert "CAP_SYS_ADMIN" not in caps
    assert "User" not in service, "correio switches user itself after binding ports"
    assert dict(unit["Install"])["WantedBy"] == "multi-user.target"


def test_systemd_analyze_verifies_the_unit():
    """Installed under a temporary PREFIX (not DESTDIR) so that the unit's
    ExecStart names a binary that exists."""
    assert shutil.which("systemd-analyze"), "systemd-analyze (package systemd) is missing"
    d = tempfile.mkdtemp(prefix="correio-unit-")
    try:
        make("install", f"PREFIX={d}/usr", f"SYSCONFDIR={d}/etc")
        unit = os.path.join(d, "usr/lib/systemd/system/correio.service")
        r = subprocess.run(["systemd-analyze", "verify", "--man=no", unit],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and r.stderr.strip() == "", r.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)


def example_settings():
    """The example correio.conf: {(section, key): (value, commented)}."""
    settings, section = {}, None
    with open(os.path.join(TOP, "etc/correio.conf")) as f:
        for line in f:
            line = line.rstrip("\n")
            m = re.fullmatch(r"\[(\w+)\]", line)
            if m:
                section = m.group(1)
                continue
            m = re.fullmatch(r"(#?)(\w+) =(?: (.*))?", line)
            if m:
                settings[(section, m.group(2))] = (m.group(3) or "", m.group(1) == "#")
    return settings


def test_example_configuration_has_every_key_with_its_default():
    defaults, example = table(), example_settings()
    assert set(example) == set(defaults), (set(defaults) ^ set(example))
    set_here = {k for k, (_, commented) in example.items() if not commented}
    assert set_here == {("server", "data_dir")}, set_here
    assert example[("server", "data_dir")][0] == "/var/lib/correio"
    root = os.geteuid() == 0   # the listen defaults shown are root's (ports < 1024)
    for key, (value, commented) in example.items():
        if not commented or key == ("server", "hostname"):
            continue
        if key in MACHINE_DEPENDENT and not root:
            continue
        assert value == defaults[key], (key, value, defaults[key])
    # and it is a valid configuration
    r = subprocess.run([BIN, "-c", os.path.join(TOP, "etc/correio.conf"), "check"],
                       capture_output=True, text=True, timeout=30)
    assert not re.search(r"correio\.conf:\d+:", r.stderr), r.stderr


def man_settings():
    """correio.conf(5): {(section, key): default text}."""
    with open(os.path.join(TOP, "doc/correio.conf.5")) as f:
        lines = f.read().splitlines()
    settings, section = {}, None
    for i, line in enumerate(lines):
        m = re.fullmatch(r"\.SS \[(\w+)\]", line)
        if m:
            section = m.group(1)
        elif line == ".TP" and section and lines[i + 1].startswith(".B "):
            key = lines[i + 1][3:]
            m = re.match(r"Default: (?:\\fB(.*?)\\fR|(empty)|(.*))", lines[i + 2])
            assert m, (key, lines[i + 2])
            # None: said in words (the system's host name)
            settings[(section, key)] = m.group(1) if m.group(1) is not None else \
                "" if m.group(2) else None
        elif line.startswith(".SH") and line != ".SH SETTINGS":
            section = None
    return settings


def test_man_page_documents_every_key_with_its_default():
    defaults, man = table(), man_settings()
    assert set(man) == set(defaults), set(defaults) ^ set(man)
    for key, value in man.items():
        if key in MACHINE_DEPENDENT:
            continue
        assert value == defaults[key], (key, value, defaults[key])


def test_version():
    r = subprocess.run([BIN, "--version"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    assert re.fullmatch(r"correio (\S+)( \(git [0-9a-f]{7,}\S*\))?\n", r.stdout), r.stdout
    assert r.stdout.split()[1] == makefile_version()
    assert "--version" in subprocess.run([BIN, "--help"], capture_output=True,
                                         text=True).stdout


# ---- the Debian package ----

@pytest.fixture(scope="module")
def deb():
    make("deb", timeout=900)
    make("deb", timeout=900)    # again over the staged tree of the first
    path = os.path.join(TOP, "build-deb",
                        f"correio_{makefile_version()}_"
                        f"{subprocess.check_output(['dpkg', '--print-architecture'], text=True).strip()}"
                        ".deb")
    assert os.path.isfile(path)
    return path


def test_deb_contents(deb):
    out = subprocess.run(["dpkg-deb", "--contents", deb], capture_output=True, text=True,
                         check=True).stdout
    files = {line.split()[-1].lstrip("."): line.split()[0] for line in out.splitlines()}
    for path, mode in {
        "/usr/sbin/correio": "-rwxr-xr-x",
        "/usr/share/man/man8/correio.8.gz": "-rw-r--r--",
        "/usr/share/man/man5/correio.conf.5.gz": "-rw-r--r--",
        "/etc/correio/correio.conf": "-rw-r--r--",
        "/etc/logrotate.d/correio": "-rw-r--r--",
        "/lib/systemd/system/correio.service": "-rw-r--r--",
        "/usr/share/doc/correio/copyright": "-rw-r--r--",
        "/usr/share/doc/correio/changelog.gz": "-rw-r--r--",
        "/usr/share/correio/web/index.html": "-rw-r--r--",
        "/usr/share/correio/web/app.js": "-rw-r--r--",
    }.items():
        assert files.get(path) == mode, (path, out)
    assert not any("sendmail" in p for p in files), "sendmail comes from alternatives"
    assert all(" root/root " in line for line in out.splitlines())


def test_deb_control_fields(deb):
    def field(name):
        return subprocess.run(["dpkg-deb", "--field", deb, name], capture_output=True,
                              text=True, check=True).stdout.strip()

    assert field("Package") == "correio"
    assert field("Version") == makefile_version()
    assert field("Section") == "mail"
    assert "adduser" in field("Depends") and "libc6" in field("Depends")
    assert "libevent" in field("Depends") and "libssl" in field("Depends")
    info = subprocess.run(["dpkg-deb", "--info", deb], capture_output=True, text=True,
                          check=True).stdout
    for script in ("postinst", "prerm", "postrm", "conffiles", "md5sums", "control"):
        assert re.search(rf"\b{script}\b", info), info


def control_file(deb, name):
    d = tempfile.mkdtemp(prefix="correio-deb-")
    try:
        subprocess.run(["dpkg-deb", "--control", deb, d], check=True)
        with open(os.path.join(d, name)) as f:
            return f.read()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_deb_maintainer_scripts(deb):
    assert control_file(deb, "conffiles").split() == ["/etc/correio/correio.conf",
                                                      "/etc/logrotate.d/correio"]
    postinst = control_file(deb, "postinst")
    assert re.search(r"adduser --system .*correio", postinst.replace("\\\n", " "))
    assert "/var/lib/correio" in postinst
    # offered, never forced, below the other mail servers
    m = re.search(r"update-alternatives --install /usr/sbin/sendmail sendmail\s*\\?\s*"
                  r"/usr/sbin/correio (\d+)", postinst)
    assert m and int(m.group(1)) < 20, postinst
    assert "--force" not in postinst
    # mailq and newaliases come and go with the sendmail alternative
    install = postinst.replace("\\\n", " ")
    for name in ("mailq", "newaliases"):
        assert re.search(rf"update-alternatives --install /usr/sbin/sendmail sendmail .*"
                         rf"--slave /usr/bin/{name} {name} /usr/sbin/correio", install), postinst
    assert "update-alternatives --remove sendmail /usr/sbin/correio" in \
        control_file(deb, "prerm")
    for script in ("postinst", "prerm", "postrm"):
        d = tempfile.mkdtemp()
        try:
            subprocess.run(["dpkg-deb", "--control", deb, d], check=True)
            r = subprocess.run(["sh", "-n", os.path.join(d, script)], capture_output=True,
                               text=True)
            assert r.returncode == 0, (script, r.stderr)
        finally:
            shutil.rmtree(d, ignore_errors=True)


def test_deb_binary_runs_and_man_pages_read(deb):
    pkg = os.path.join(TOP, "build-deb", "pkg")
    r = subprocess.run([os.path.join(pkg, "usr/sbin/correio"), "--version"],
                       capture_output=True, text=True, timeout=30)
    assert r.stdout.startswith("correio " + makefile_version())
    with gzip.open(os.path.join(pkg, "usr/share/man/man5/correio.conf.5.gz"), "rt") as f:
        assert f.read().startswith(".TH CORREIO.CONF 5")


def test_lintian_finds_no_error(deb):
    assert shutil.which("lintian"), "lintian is missing (scripts/deps.sh installs it)"
    r = subprocess.run(["lintian", "--fail-on", "error,warning", "--tag-display-limit", "0",
                        deb], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not re.search(r"^[EW]: ", r.stdout, re.M), r.stdout


def free_low_port():
    """A free TCP port below 1024 on 127.0.0.1 (only root can bind one)."""
    import socket
    for port in range(980, 900, -1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise AssertionError("no free port below 1024")


@pytest.mark.skipif(os.geteuid() != 0, reason="starting as root is what the unit does")
def test_unit_capabilities_are_enough_to_start(staged):
    """Started as root with only the unit's CapabilityBoundingSet and
    NoNewPrivileges (setpriv does what systemd would), correio binds a
    port below 1024, takes its data directory, writes its log file and
    switches to the correio user; and again on a second start, when the
    data directory already belongs to that user."""
    unit = read_unit(os.path.join(staged, "usr/local/lib/systemd/system/correio.service"))
    caps = dict(unit["Service"])["CapabilityBoundingSet"].split()
    bounding = "-all," + ",".join("+" + c.lower().removeprefix("cap_") for c in caps)
    d = tempfile.mkdtemp(prefix="correio-caps-")
    os.chmod(d, 0o755)
    try:
        port = free_low_port()
        conf = os.path.join(d, "correio.conf")
        os.mkdir(os.path.join(d, "log"))
        with open(conf, "w") as f:
            f.write(f"[server]\nhostname = mx.example.org\ndata_dir = {d}/data\n"
                    f"log = {d}/log/mail.log\n[listen]\nsmtp = 127.0.0.1:{port}\n"
                    "submission =\nsubmissions =\npop3 =\npop3s =\nimap =\nimaps =\n"
                    "managesieve =\n")
        for start in (1, 2):
            p = subprocess.Popen(["setpriv", "--no-new-privs", "--inh-caps=-all",
                                  "--bounding-set", bounding, BIN, "-c", conf, "serve"],
                                 stderr=subprocess.PIPE, text=True)
            try:
                deadline = time.time() + 10
                while read_text(f"{d}/log/mail.log").count("start: correio on") < start:
                    assert p.poll() is None, p.stderr.read() + read_text(f"{d}/log/mail.log")
                    assert time.time() < deadline, read_text(f"{d}/log/mail.log")
                    time.sleep(0.05)
                with open(f"/proc/{p.pid}/status") as f:
                    uid = re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1)
                assert int(uid) == pwd.getpwnam("correio").pw_uid
                import smtplib
                with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
                    assert c.noop()[0] == 250
            finally:
                p.terminate()
                p.wait(30)
            assert p.returncode == 0, (start, p.stderr.read())
    finally:
        shutil.rmtree(d, ignore_errors=True)


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""
