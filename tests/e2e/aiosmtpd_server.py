#!/usr/bin/python3
"""tests/e2e/aiosmtpd_server.py — a third-party SMTP server for the interop
test: Debian's python3-aiosmtpd (a server nobody on this project wrote),
run with /usr/bin/python3. Called by tests/e2e/interop_aiosmtpd_test.sh and
interop_aiosmtpd_tls_test.sh.

usage: aiosmtpd_server.py PORT DIR [--tls-cert PEM --tls-key PEM] [--auth USER:PASSWORD]

Listens on 127.0.0.1:PORT (aiosmtpd's Controller with its default options;
aiosmtpd 1.4 answers EHLO with SIZE 33554432, 8BITMIME, SMTPUTF8 and HELP —
no PIPELINING — and refuses DATA lines over 1000 bytes with 500).
--tls-cert/--tls-key: STARTTLS is offered and required (aiosmtpd's
tls_context and require_starttls: every command but EHLO, NOOP, QUIT and
STARTTLS gets 530 before TLS). --auth: AUTH PLAIN and LOGIN are offered
and required (auth_required; auth_require_tls stays on, so AUTH before TLS
gets 538); a wrong password gets aiosmtpd's own 535 5.7.8. For each
message it writes DIR/new/NNNNNN (tmp file, then
rename, so readers never see half a file) holding one line
"X-Sink-Envelope: from=<MAIL_FROM> to=<R1>,<R2>\r\n" — the same layout as
`ringmail sink --maildir`, so compare_maildir.py reads both — followed by
envelope.content exactly as aiosmtpd presents it (bytes: CRLF line ends
kept, dot-stuffing removed, the final ".\r\n" not included). It also appends
one JSON line per message to DIR/envelopes.jsonl (mail_from as aiosmtpd
gives it — "<>" for the null sender —, rcpt_tos, mail_options,
rcpt_options, size of content, "tls": the TLS version and cipher of
session.ssl or null when the message came in clear, "auth": the user
name that authenticated or null). Each AUTH attempt is also logged as
a JSON line {"auth_attempt": USER, "mechanism": M, "ok": BOOL,
"tls": BOOL} (never the password).

Prints "aiosmtpd: listening on 127.0.0.1:PORT" (flushed) when ready;
SIGTERM or SIGINT stops it (exit 0). It writes only under DIR and listens
only on loopback.
"""
import argparse
import json
import os
import signal
import ssl
import sys
import threading

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword
except ImportError:
    print("aiosmtpd: python3-aiosmtpd is not installed", file=sys.stderr)
    sys.exit(3)


class SaveHandler:
    """Saves every message; accepts every recipient."""

    def __init__(self, directory):
        self.directory = directory
        self.count = 0
        os.makedirs(os.path.join(directory, "tmp"), exist_ok=True)
        os.makedirs(os.path.join(directory, "new"), exist_ok=True)
        self.log = open(os.path.join(directory, "envelopes.jsonl"), "a")

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = "%06d" % self.count
        content = envelope.content  # bytes: decode_data is False
        # aiosmtpd keeps the null sender as the string "<>"; the sink writes from=<>.
        sender = "" if envelope.mail_from == "<>" else envelope.mail_from
        line = "X-Sink-Envelope: from=<%s> to=%s\r\n" % (
            sender, ",".join("<%s>" % r for r in envelope.rcpt_tos))
        tmp = os.path.join(self.directory, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(line.encode("utf-8", "surrogateescape"))
            f.write(content)
        os.rename(tmp, os.path.join(self.directory, "new", name))
        self.log.write(json.dumps({
            "name": name, "mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
            "mail_options": envelope.mail_options, "rcpt_options": envelope.rcpt_options,
            "content_bytes": len(content), "tls": tls_facts(session),
            "auth": session.auth_data.login.decode() if session.authenticated else None}) + "\n")
        self.log.flush()
        return "250 2.0.0 Ok: queued as %s" % name


def tls_facts(session):
    """Returns "TLSv1.3 TLS_AES_256_GCM_SHA384" for a session over TLS, else None."""
    if not session.ssl:
        return None
    ssl_object = session.ssl.get("ssl_object")
    return "%s %s" % (ssl_object.version(), ssl_object.cipher()[0])


class PasswordCheck:
    """aiosmtpd authenticator: accepts USER with PASSWORD only (PLAIN, LOGIN)."""

    def __init__(self, user, password, log):
        self.user, self.password, self.log = user.encode(), password.encode(), log

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == self.user
              and auth_data.password == self.password)
        login = auth_data.login.decode("utf-8", "replace") if isinstance(auth_data, LoginPassword) else None
        self.log.write(json.dumps({"auth_attempt": login, "mechanism": mechanism, "ok": ok,
                                   "tls": session.ssl is not None}) + "\n")
        self.log.flush()
        return AuthResult(success=ok, handled=False, auth_data=auth_data)


def main():
    parser = argparse.ArgumentParser(description="aiosmtpd for the ringmail interop tests")
    parser.add_argument("port", type=int)
    parser.add_argument("directory")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--auth", metavar="USER:PASSWORD")
    args = parser.parse_args()
    port, directory = args.port, args.directory
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    handler = SaveHandler(directory)
    options = {}
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        options.update(tls_context=context, require_starttls=True)
    if args.auth:
        user, password = args.auth.split(":", 1)
        options.update(authenticator=PasswordCheck(user, password, handler.log), auth_required=True,
                       auth_require_tls=True)
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=15,
                            server_hostname="localhost", **options)
    controller.start()
    print("aiosmtpd: listening on 127.0.0.1:%d" % port, flush=True)
    while not stop.wait(0.2):
        pass
    controller.stop()
    print("aiosmtpd: stopped after %d messages" % handler.count, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
