"""Addresses RFC 5321 requires (issue 10 item 5): RCPT TO:<Postmaster>
without a domain, in any case, goes to the configured postmaster address
([server] postmaster, default postmaster@<first local domain>);
postmaster@<any local domain> goes there when nobody has that address;
a quoted local part that needs no quotes ("alice") is the same mailbox;
`correio check` says where the postmaster's mail goes and warns when that
address names nobody."""

import pytest

from correio_harness import Server, send_mail

ALICE = "alice@example.org"
ADMIN = "admin@example.org"


def server(extra="", domains="example.org, example.net"):
    s = Server(extra_config=extra, domains=domains)
    s.add_user(ALICE)
    s.add_user(ADMIN)
    return s


def with_postmaster(address):
    """A [server] postmaster line (the harness writes [server] first, so it
    goes in a second [server] section)."""
    return f"[server]\npostmaster = {address}\n"


def test_bare_postmaster_goes_to_the_configured_address():
    with server(with_postmaster(ADMIN)) as s:
        s.start()
        for i, form in enumerate(["postmaster", "Postmaster", "POSTMASTER"]):
            send_mail(s, "someone@example.net", [form],
                      f"Subject: to the postmaster {i}\r\n\r\nhello\r\n")
            s.wait_messages(ADMIN, i + 1)
        assert s.messages(ALICE) == []
        # the check prints the key and where the mail goes, with no warning
        out = s.cli("check").stdout
        assert f"postmaster = {ADMIN}\n" in out
        assert f"goes to <{ADMIN}>" in out and "warning: postmaster" not in out


def test_postmaster_of_any_local_domain_goes_to_the_postmaster():
    with server(with_postmaster(ADMIN)) as s:
        s.start()
        send_mail(s, "someone@example.net", ["postmaster@example.net"],
                  "Subject: second domain\r\n\r\nhello\r\n")
        send_mail(s, "someone@example.net", ["PostMaster@example.org"],
                  "Subject: first domain\r\n\r\nhello\r\n")
        s.wait_messages(ADMIN, 2)


def test_default_postmaster_is_postmaster_of_the_first_domain():
    with server() as s:
        s.alias_add("postmaster@example.org", ALICE)
        s.start()
        send_mail(s, "someone@example.net", ["postmaster"], "Subject: a\r\n\r\nx\r\n")
        # the second domain has no postmaster of its own: the first's takes it
        send_mail(s, "someone@example.net", ["postmaster@example.net"],
                  "Subject: b\r\n\r\nx\r\n")
        s.wait_messages(ALICE, 2)


def test_an_own_postmaster_account_keeps_its_mail():
    with server(with_postmaster(ADMIN)) as s:
        s.add_user("postmaster@example.net")
        s.start()
        send_mail(s, "someone@example.net", ["postmaster@example.net"],
                  "Subject: mine\r\n\r\nx\r\n")
        s.wait_messages("postmaster@example.net", 1)
        assert s.messages(ADMIN) == []


def test_no_postmaster_anywhere_is_refused_with_guidance():
    with server() as s:
        out = s.cli("check").stdout
        assert "warning: postmaster: <postmaster@example.org> names no account or alias" in out
        assert "correio alias add postmaster@example.org" in out
        s.start()
        with s.ehlo_client() as c:
            assert c.cmd("MAIL FROM:<someone@example.net>").startswith("250")
            r = c.cmd("RCPT TO:<postmaster>")
            assert r.startswith("550 5.1.1 <postmaster>:") and "no postmaster" in r, r
            r = c.cmd("RCPT TO:<postmaster@example.net>")
            assert r.startswith("550 5.1.1") and "no postmaster" in r, r
        s.wait_log(r"set \[server\] postmaster")


def test_remote_postmaster_is_reached_without_relay_rights():
    with server(with_postmaster("root@elsewhere.test")) as s:
        s.start()
        with s.ehlo_client() as c:
            assert c.cmd("MAIL FROM:<someone@example.net>").startswith("250")
            assert c.cmd("RCPT TO:<postmaster>").startswith("250")
            # other remote addresses stay closed
            assert c.cmd("RCPT TO:<root@elsewhere.test>").startswith("554 5.7.1")
            c.cmd("RSET")


def test_bad_postmaster_setting_is_reported():
    s = Server(extra_config=with_postmaster("not an address"))
    try:
        r = s.cli("check", check=False)
        assert r.returncode != 0 and "postmaster = not an address" in r.stderr, r.stderr
    finally:
        s.cleanup()


@pytest.mark.parametrize("rcpt", ['"alice"@example.org', '"Alice"@Example.ORG',
                                  '"alice+tag"@example.org'])
def test_quoted_local_part_that_needs_no_quotes(rcpt):
    with server() as s:
        s.start()
        # a raw client: smtplib would take the quotes away itself
        send_mail(s, "someone@example.net", [rcpt], "Subject: quoted\r\n\r\nhello\r\n")
        s.wait_messages(ALICE, 1)


def test_quoted_local_part_that_needs_quotes_is_another_mailbox():
    with server() as s:
        s.start()
        with s.ehlo_client() as c:
            assert c.cmd("MAIL FROM:<someone@example.net>").startswith("250")
            r = c.cmd('RCPT TO:<"alice smith"@example.org>')
            assert r.startswith("550 5.1.1"), r
