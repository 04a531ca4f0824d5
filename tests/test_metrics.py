"""The [metrics] listen endpoint, scraped and parsed with the Prometheus
client library's own parser after mail went through and logins were
tried."""

import imaplib
import signal
import poplib
import subprocess
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from correio_harness import BIN, Server, free_port, send_mail


# the harness chooses the port (again, should it be taken at start)
METRICS = "[metrics]\nlisten = 127.0.0.1:{port:metrics}\n"


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    samples = {}
    families = {}
    for fam in text_string_to_metric_families(text):
        families[fam.name] = fam.type
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return families, samples


def value(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


def test_metrics_scrape_after_mail_and_logins():
    with Server(extra_config=METRICS) as s:
        s.add_user("alice@example.org")
        s.start()
        port = s.port("metrics")
        families, samples = scrape(port)
        assert families["correio_messages_received"] == "counter"
        assert families["correio_delivery_latency_seconds"] == "histogram"
        assert families["correio_queue_messages"] == "gauge"
        assert value(samples, "correio_messages_received_total", transport="smtp") == 0

        for i in range(3):
            send_mail(s, "someone@example.net", ["alice@example.org"],
                      f"Subject: m{i}\r\n\r\nhello\r\n")
        # local submission through sendmail counts as local
        r = subprocess.run([BIN, "-c", s.conf, "sendmail", "alice@example.org"],
            input="Subject: local\n\nfrom cron\n", capture_output=True, text=True,
            timeout=30)
        assert r.returncode == 0, r.stderr
        s.wait_messages("alice@example.org", 4)

        m = imaplib.IMAP4("127.0.0.1", s.imap_port)
        m.login("alice@example.org", "secret")
        m.logout()
        m = imaplib.IMAP4("127.0.0.1", s.imap_port)
        try:
            m.login("alice@example.org", "wrong")
        except imaplib.IMAP4.error:
            pass
        m.logout()
        p = poplib.POP3("127.0.0.1", s.pop3_port)
        p.user("alice@example.org")
        p.pass_("secret")
        p.quit()

        deadline = time.time() + 10
        while True:
            families, samples = scrape(port)
            if value(samples, "correio_messages_delivered_total", transport="local") >= 4:
                break
            assert time.time() < deadline, samples
            time.sleep(0.1)
        assert value(samples, "correio_messages_received_total", transport="smtp") == 3
        assert value(samples, "correio_messages_received_total", transport="local") == 1
        assert value(samples, "correio_messages_delivered_total", transport="local") == 4
        assert value(samples, "correio_messages_delivered_total", transport="smtp") == 0
        assert value(samples, "correio_messages_bounced_total", transport="local") == 0
        assert value(samples, "correio_delivery_latency_seconds_count", transport="local") == 4
        assert value(samples, "correio_delivery_latency_seconds_bucket",
                     transport="local", le="+Inf") == 4
        assert value(samples, "correio_logins_total", protocol="imap", result="ok") == 1
        assert value(samples, "correio_logins_total", protocol="imap", result="failed") == 1
        assert value(samples, "correio_logins_total", protocol="pop3", result="ok") == 1
        assert value(samples, "correio_auth_failures_total", reason="password") == 1
        assert value(samples, "correio_connections_total", protocol="smtp") >= 3
        assert value(samples, "correio_connections_total", protocol="imap") == 2
        assert value(samples, "correio_connections_total", protocol="pop3") == 1
        # every accepted message went through a flush of the queue
        assert value(samples, "correio_queue_fsync_group_size_sum") >= 4
        assert value(samples, "correio_queue_fsync_group_size_count") >= 1
        assert value(samples, "correio_queue_messages") == 0
        assert value(samples, "correio_queue_oldest_age_seconds") == 0

        # other paths and methods
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
            assert False, "404 expected"
        except urllib.error.HTTPError as e:
            assert e.code == 404


def test_metrics_queue_and_relay_deferral():
    """A message for a remote domain whose MX refuses connections stays
    in the queue: it shows in the queue gauges and as a deferral."""
    dead = free_port()
    with Server(extra_config=METRICS +
                f"[relay]\nsmarthost = 127.0.0.1:{dead}\ntrusted_networks = 127.0.0.0/8\n"
                "[queue]\nretry_interval = 1h\n") as s:
        s.start()
        port = s.port("metrics")
        send_mail(s, "a@example.org", ["far@example.net"], "Subject: far\r\n\r\nx\r\n")
        deadline = time.time() + 10
        while True:
            families, samples = scrape(port)
            if value(samples, "correio_messages_deferred_total", transport="smtp") >= 1:
                break
            assert time.time() < deadline
            time.sleep(0.1)
        assert value(samples, "correio_queue_messages") == 1
        time.sleep(1.1)
        families, samples = scrape(port)
        assert value(samples, "correio_queue_oldest_age_seconds") >= 1


def test_metrics_off_by_default():
    with Server() as s:
        s.start()
        r = s.cli("check")
        assert "[metrics]" in r.stdout
        assert "metrics: listening" not in s.read_log()


def test_metrics_listen_change_waits_for_restart():
    with Server(extra_config=METRICS) as s:
        s.start()
        port = s.port("metrics")
        scrape(port)
        s.write_config("example.org, localhost", "[metrics]\nlisten = 127.0.0.1:{port:other}\n")
        mark = len(s.read_log())
        s.signal(signal.SIGHUP)
        s.wait_log(r"reload: \[metrics\] listen changed: it takes effect only at restart",
                   start=mark)
        scrape(port)            # still served where it was
