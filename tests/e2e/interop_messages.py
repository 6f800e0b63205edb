#!/usr/bin/python3
"""tests/e2e/interop_messages.py — the messages of the TLS interop tests
(interop_postfix_test.sh, interop_aiosmtpd_tls_test.sh) and the check that
they arrived intact through a server nobody here wrote.

usage: interop_messages.py write SPOOL SAMPLES PREFIX
       interop_messages.py check MAILDIR SAMPLES PREFIX [--received-with WORD]

write: queues three messages into SPOOL (incoming/tmp, then rename into
incoming/new, as a producer does) and keeps a copy of each in SAMPLES:
PREFIX-0 with dot lines and CRLF line ends, PREFIX-1 with 8-bit UTF-8
headers and body, PREFIX-2 of about 100 KB (more than one read chunk and
many TLS records). Each has Message-Id <PREFIX-N@ringmail.test> and the
line "secret PREFIX-N" in its body, the text the wire tap
(interop_tap.py) must never see in clear.

check: MAILDIR is a `ringmail sink --maildir` (downstream of Postfix) or
aiosmtpd_server.py directory: for each sample, exactly one file with its
Message-Id must be there, with the sample's envelope, and its content must
be the sample as sent (compare_maildir.expected_from_spool: preamble
removed, CRLF line ends). With --received-with WORD (Postfix) the content
must start with one Received: header that Postfix added, saying
"with WORD id" (ESMTP, ESMTPS, ESMTPSA, or UTF8SMTP, UTF8SMTPS, ... for a
message sent with SMTPUTF8), followed by the exact sample;
for ESMTPS/ESMTPSA it must also name the TLS version and cipher ("using
TLSv1.3 with cipher ..."), which the summary line prints. Exit 0 or 1.
"""
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_maildir import ENVELOPE_RE, envelope_line, expected_from_spool  # noqa: E402


def messages(prefix):
    """Returns [(name, bytes)] for the three messages of one case."""
    pre = b"X-Ringmail-From: <alerts@example.com>\nX-Ringmail-To: <ops@example.org>\n"
    out = []
    for n in range(3):
        head = ("From: alerts@example.com\nTo: ops@example.org\nSubject: %s %d\n"
                "Message-Id: <%s-%d@ringmail.test>\n" % (prefix, n, prefix, n)).encode()
        secret = ("secret %s-%d\n" % (prefix, n)).encode()
        if n == 0:
            body = secret + b".\n..\n.leading dot\nplain line\n. \n"
            data = (pre + head + b"\n" + body).replace(b"\n", b"\r\n")
        elif n == 1:
            head = head.replace(b"Subject: ", "Subject: Störung ".encode())
            body = secret + "Grüße aus Köln — Störung behoben ✓ 日本語\n.ünïcode dot line\n".encode()
            data = pre + head + b"\n" + body
        else:
            lines = b"".join(b"line %06d of a long alert: %s\n" % (i, b"x" * 60) for i in range(1100))
            data = pre + head + b"\n" + secret + lines + b".\nthe end\n"
        out.append(("%s%d" % (prefix, n), data))
    return out


def write(spool, samples, prefix):
    for d in (os.path.join(spool, "incoming/tmp"), os.path.join(spool, "incoming/new"), samples):
        os.makedirs(d, exist_ok=True)
    for name, data in messages(prefix):
        with open(os.path.join(samples, name), "wb") as f:
            f.write(data)
        tmp = os.path.join(spool, "incoming/tmp", name)
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(spool, "incoming/new", name))
    return 0


def split_received(content):
    """Returns (the first header field if it is Received:, the rest)."""
    m = re.match(rb"Received:[^\r]*\r\n(?:[ \t][^\r]*\r\n)*", content)
    return (m.group(0), content[m.end():]) if m else (None, content)


def check(maildir, samples, prefix, received_with):
    new = os.path.join(maildir, "new")
    found = {}
    for name in os.listdir(new) if os.path.isdir(new) else []:
        data = open(os.path.join(new, name), "rb").read()
        m = re.search(rb"^Message-Id: <(%s-\d+)@ringmail\.test>" % re.escape(prefix.encode()), data, re.M)
        if m:
            found.setdefault(m.group(1).decode(), []).append(data)
    problems, tls_facts = [], set()
    for name, _ in messages(prefix):
        msgid = "%s-%s" % (prefix, name[len(prefix):])
        sender, rcpts, want = expected_from_spool(open(os.path.join(samples, name), "rb").read())
        copies = found.get(msgid, [])
        if len(copies) != 1:
            problems.append("%s arrived %d times" % (msgid, len(copies)))
            continue
        env = ENVELOPE_RE.match(copies[0])
        if not env or env.group(0)[len(b"X-Sink-Envelope: "):-2] != envelope_line(sender, rcpts):
            problems.append("%s: envelope %r" % (msgid, copies[0][:120]))
            continue
        content = copies[0][env.end():]
        if received_with:
            received, content = split_received(content)
            # RFC 3848 / 6531 names: ESMTP, ESMTPS, ESMTPSA; UTF8SMTP, UTF8SMTPS, ...
            # when the message was sent with SMTPUTF8.
            suffix = received_with[len("ESMTP"):].encode()
            if received is None or not re.search(rb" with (?:ESMTP|UTF8SMTP)%s id " % suffix, received):
                problems.append("%s: no Received: header saying with %s: %r" % (msgid, received_with, (received or content)[:300]))
                continue
            if received_with.startswith("ESMTPS"):
                using = re.search(rb"\(using (TLSv1\.[23]) with cipher (\S+)", received)
                if not using:
                    problems.append("%s: the Received: header names no TLS version and cipher" % msgid)
                    continue
                tls_facts.add(b"%s %s" % (using.group(1), using.group(2)))
        if content != want:
            at = next((i for i in range(min(len(content), len(want))) if content[i] != want[i]), min(len(content), len(want)))
            problems.append("%s: content differs at byte %d of %d (got %r, want %r)" % (
                msgid, at, len(want), content[at:at + 40], want[at:at + 40]))
    if problems:
        print("FAIL: %s: %s" % (prefix, "; ".join(problems)))
        return 1
    print("%s: 3 of 3 intact%s" % (prefix, " (received with %s%s)" % (
        received_with, ", using " + ", ".join(sorted(f.decode() for f in tls_facts)) if tls_facts else "")
        if received_with else ""))
    return 0


def main():
    args = sys.argv[1:]
    if len(args) == 4 and args[0] == "write":
        return write(*args[1:])
    if len(args) in (4, 6) and args[0] == "check" and (len(args) == 4 or args[4] == "--received-with"):
        return check(args[1], args[2], args[3], args[5] if len(args) == 6 else None)
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
