#!/usr/bin/python3
"""tests/e2e/ingress_smtp.py — the Python side of the SMTP ingress e2e tests
(tests/e2e/ingress_*_test.sh): test messages, a raw SMTP client for the
conversations smtplib cannot have (pipelined commands, BDAT, bad input,
source addresses), and checks of what `ringmail sink --maildir` received.
Standard library only. Imported by the tests' Python snippets
(sys.path.insert(0, E2E_DIR)), and a command line:

  ingress_smtp.py make FILE MESSAGE_ID [SUBJECT]
      writes a test message (LF line ends, as a user's file would have;
      with NO_FINAL_NEWLINE=1 in the environment, without the last one)
  ingress_smtp.py check MAILDIR HOSTNAME FILE:PROTOCOL:TLS...
      each FILE arrived exactly once, intact: the sink's copy is ringmail's
      Received: header (from/by HOSTNAME/with PROTOCOL, TLS facts when TLS
      is "tls", none when "clear") followed by the file's bytes (CRLF line
      ends), and the python email package reads the same headers and body
"""
import base64
import email
import email.policy
import email.utils
import os
import re
import socket
import ssl
import sys
import time

ENVELOPE_RE = re.compile(rb"^X-Sink-Envelope: from=<([^>]*)> to=(.*?)\r\n")
RECEIVED_RE = re.compile(
    r"^Received: from (\S+) \(\[?(?:IPv6:)?([0-9A-Fa-f:.]+)\]?\) by (\S+) \(ringmail\) with (\S+) id (\S+)"
    r"(?: \(using (TLSv1\.[23]) with cipher (\S+)\))?(?: for <([^>]*)>)? ?; (.+)$")


def message(msgid, subject=None, body=None, extra_headers=()):
    """A test message as CRLF bytes: headers, a body with dot lines (to
    exercise dot-stuffing), Message-ID <msgid>."""
    subject = subject or "ingress test %s" % msgid
    lines = ["From: Alerts <alerts@example.com>", "To: Ops <ops@example.org>", "Subject: " + subject,
             "Date: Tue, 01 Dec 2026 04:00:00 +0000", "Message-ID: <%s>" % msgid, "MIME-Version: 1.0",
             "Content-Type: text/plain; charset=us-ascii"]
    lines += list(extra_headers)
    lines.append("")
    lines += body if body is not None else [
        "Alert %s fired." % msgid, ".a line that starts with a dot", "..two dots", ".", "last line"]
    return ("\r\n".join(lines) + "\r\n").encode()


def data_block(data):
    """|data| (CRLF lines) as sent after DATA's 354: dot-stuffed, then the
    closing ".\r\n"."""
    return re.sub(rb"(?m)^\.", b"..", data) + b".\r\n"


def sample(data):
    """What the sink must hold after ringmail's Received: header for a file
    with DATA bytes: every line end made CRLF, and a final CRLF when the
    file lacks one (what a client adds before the closing dot)."""
    data = re.sub(rb"\r?\n", b"\r\n", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


# --- a raw SMTP client --------------------------------------------------------


class Client:
    """One SMTP connection over a plain socket (TLS optional), for
    conversations byte by byte. reply() returns (code, text)."""

    def __init__(self, port, host="127.0.0.1", source=None, implicit_tls=False, ca=None, timeout=10):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if source:
            self.sock.bind((source, 0))
        self.sock.connect((host, port))
        self.buf = b""
        self.ca = ca
        if implicit_tls:
            self._wrap()

    def _wrap(self):
        ctx = ssl.create_default_context(cafile=self.ca)
        self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by the server")
        self.buf += chunk

    def reply(self):
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                self._fill()
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode("utf-8", "replace"))
            if len(line) < 4 or line[3:4] != b"-":
                break
        return int(lines[-1][:3]), "\n".join(lines)

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def ehlo(self, name="client.ringmail.test"):
        code, text = self.cmd("EHLO " + name)
        assert code == 250, text
        return [l[4:].upper() for l in text.split("\n")[1:]]

    def starttls(self):
        code, text = self.cmd("STARTTLS")
        assert code == 220, text
        self._wrap()

    def auth_plain(self, user, password):
        token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()
        return self.cmd("AUTH PLAIN " + token)

    def closed(self, wait=5.0):
        """True when the server closed the connection within |wait| seconds
        (what it still sent is left in buf)."""
        self.sock.settimeout(wait)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, TimeoutError):
            return False
        except (ConnectionError, ssl.SSLError):
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# --- checks in a test's Python snippet ----------------------------------------

FAILS = 0


def expect(what, ok, detail=""):
    """One PASS/FAIL line (like lib.sh's verify); returns ok."""
    global FAILS
    print(("PASS: %s" if ok else "FAIL: %s") % what + ("" if ok or detail == "" else ": %s" % (detail,)))
    sys.stdout.flush()
    if not ok:
        FAILS += 1
    return ok


def done():
    """Exit status for the snippet: 1 if an expect failed."""
    sys.exit(1 if FAILS else 0)


def try_reply(client):
    """client.reply(), or (0, why) when the connection is gone or silent."""
    try:
        return client.reply()
    except (OSError, ConnectionError, ssl.SSLError) as e:
        return 0, "no reply: %s" % e


# --- what the sink received --------------------------------------------------


def sink_files(maildir):
    """[(path, sender, [recipients], content)] for every message in MAILDIR/new."""
    out = []
    new = os.path.join(maildir, "new")
    for name in sorted(os.listdir(new)) if os.path.isdir(new) else []:
        path = os.path.join(new, name)
        with open(path, "rb") as f:
            data = f.read()
        m = ENVELOPE_RE.match(data)
        if not m:
            out.append((path, None, [], data))
            continue
        rcpts = [r.strip()[1:-1] for r in m.group(2).decode("latin-1").split(",") if r.strip()]
        out.append((path, m.group(1).decode("latin-1"), rcpts, data[m.end():]))
    return out


def by_message_id(maildir):
    """{message-id without <>: [(path, sender, rcpts, content)]}"""
    found = {}
    for entry in sink_files(maildir):
        m = re.search(rb"^Message-ID:\s*<([^>]+)>", entry[3], re.M | re.I)
        if m:
            found.setdefault(m.group(1).decode("latin-1"), []).append(entry)
    return found


def split_received(content):
    """(unfolded first Received: field, the rest) or (None, content)."""
    if not content.startswith(b"Received:"):
        return None, content
    end = 0
    while True:
        end = content.index(b"\r\n", end) + 2
        if content[end:end + 1] not in (b" ", b"\t"):
            break
    field = content[:end].decode("utf-8", "replace")
    return re.sub(r"\r\n[ \t]+", " ", field).rstrip("\r\n"), content[end:]


def expect_received(received, helo, hostname, protocol):
    """PASS/FAIL lines for ringmail's Received: field (unfolded, from
    split_received): first, from |helo|, by |hostname|, with |protocol|,
    with the TLS facts."""
    m = RECEIVED_RE.match(received or "")
    expect("ringmail's Received: header first", m is not None, received)
    if m:
        expect("Received: from the client's HELO %s" % helo, m.group(1) == helo, received)
        expect("Received: by the listener's host name", m.group(3) == hostname, received)
        expect("Received: with %s" % protocol, m.group(4) == protocol, received)
        expect("Received: TLS facts", m.group(6) is not None, received)


def check_one(entry, expected, hostname, protocol, tls):
    """Problems (a list of sentences) with one received message."""
    path, sender, rcpts, content = entry
    problems = []
    received, rest = split_received(content)
    if received is None:
        return ["%s: no Received: header first: %r" % (path, content[:80])]
    m = RECEIVED_RE.match(received)
    if not m:
        return ["%s: Received: header not in the expected shape: %s" % (path, received)]
    helo, ip, by, with_, qid, tls_version, cipher, for_, date = m.groups()
    if by != hostname:
        problems.append("Received: by %s, expected %s" % (by, hostname))
    if ip not in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        problems.append("Received: client address %s" % ip)
    if protocol and with_ != protocol:
        problems.append("Received: with %s, expected %s" % (with_, protocol))
    if tls == "tls" and not tls_version:
        problems.append("Received: no TLS facts (%s)" % received)
    if tls == "clear" and tls_version:
        problems.append("Received: TLS facts on a clear session (%s)" % received)
    if email.utils.parsedate_to_datetime(date) is None:
        problems.append("Received: bad date %r" % date)
    if rest != expected:
        at = next((i for i in range(min(len(rest), len(expected))) if rest[i] != expected[i]),
                  min(len(rest), len(expected)))
        problems.append("content differs from what was sent at byte %d (%d vs %d bytes): %r vs %r" % (
            at, len(rest), len(expected), rest[max(0, at - 20):at + 20], expected[max(0, at - 20):at + 20]))
    got = email.message_from_bytes(content, policy=email.policy.default)
    want = email.message_from_bytes(expected, policy=email.policy.default)
    if [(k, str(v)) for k, v in got.items() if k.lower() != "received"] != [(k, str(v)) for k, v in want.items()]:
        problems.append("the email package reads different headers")
    if got.get_content() != want.get_content():
        problems.append("the email package reads a different body")
    if got.get_all("Received") is None or len(got.get_all("Received")) != 1 + len(want.get_all("Received") or []):
        problems.append("the email package does not see exactly one added Received: header")
    return ["%s: %s" % (path, p) for p in problems]


def check(maildir, hostname, specs):
    """specs: [(file, protocol, tls)]. Prints PASS/FAIL lines; True if all pass."""
    found = by_message_id(maildir)
    ok = True
    for file, protocol, tls in specs:
        with open(file, "rb") as f:
            expected = sample(f.read())
        msgid = re.search(rb"^Message-ID:\s*<([^>]+)>", expected, re.M | re.I).group(1).decode()
        entries = found.get(msgid, [])
        problems = ["%d copies in the Maildir, expected 1" % len(entries)] if len(entries) != 1 else \
            check_one(entries[0], expected, hostname, protocol, tls)
        if problems:
            ok = False
            print("FAIL: %s (%s): %s" % (msgid, os.path.basename(file), "; ".join(problems)))
        else:
            received = split_received(entries[0][3])[0]
            print("PASS: %s arrived intact after %s" % (msgid, received))
    return ok


def main(argv):
    if len(argv) >= 3 and argv[0] == "make":
        data = message(argv[2], argv[3] if len(argv) > 3 else None).replace(b"\r\n", b"\n")
        with open(argv[1], "wb") as f:
            # swaks sends its --data file and then CRLF.CRLF: a file for it ends without a newline.
            f.write(data[:-1] if os.environ.get("NO_FINAL_NEWLINE") == "1" else data)
        return 0
    if len(argv) >= 4 and argv[0] == "check":
        specs = [tuple(s.rsplit(":", 2)) for s in argv[3:]]
        return 0 if check(argv[1], argv[2], specs) else 1
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
