#!/usr/bin/python3
"""tests/e2e/compare_maildir.py — checks what `ringmail sink --maildir DIR`
wrote against copies of the spool files that were queued. Called by
tests/e2e/delivery_test.sh (and usable by any e2e test); reads only, never
writes or deletes anything.

usage: compare_maildir.py MAILDIR EXPECTED_COUNT SAMPLE_FILE...

* MAILDIR/new must hold exactly EXPECTED_COUNT files and MAILDIR/tmp none.
* Every Maildir file must start with the sink's envelope line
  "X-Sink-Envelope: from=<S> to=<A>,<B>\r\n"; no two files may hold the same
  message (same envelope and bytes): a clean run delivers each message once.
* For every SAMPLE_FILE (a copy of a spool file taken before delivery) the
  Maildir must hold exactly one file whose envelope is the sample's
  (X-Ringmail-From / X-Ringmail-To preamble, in order) and whose content is
  the sample minus its X-Ringmail-* preamble with every line ending (LF, CR
  or CRLF) made CRLF and a final CRLF added if the file lacks one — what
  the engine sends after dot-stuffing, which the sink undoes.
Prints one PASS line, or FAIL lines (with the first differing offset) and
exits 1.
"""
import collections
import hashlib
import os
import re
import sys

ENVELOPE_RE = re.compile(rb"^X-Sink-Envelope: from=<([^>]*)> to=(.*)\r\n")
PREAMBLE_RE = re.compile(rb"X-Ringmail-([A-Za-z0-9-]+):[ \t]*(.*?)\r?\n", re.IGNORECASE)


def expected_from_spool(data):
    """Returns (sender, [recipients], wire bytes) for one spool file."""
    sender, rcpts, pos = None, [], 0
    while True:
        m = PREAMBLE_RE.match(data, pos)
        if not m:
            break
        name, value = m.group(1).lower(), m.group(2).strip()
        addr = value[1:-1] if value.startswith(b"<") and value.endswith(b">") else value
        if name == b"from":
            sender = addr
        elif name == b"to":
            rcpts.append(addr)
        pos = m.end()
    body = re.sub(rb"\r\n|\r|\n", b"\r\n", data[pos:])
    if body and not body.endswith(b"\r\n"):
        body += b"\r\n"
    return sender, rcpts, body


def envelope_line(sender, rcpts):
    return b"from=<%s> to=%s" % (sender, b",".join(b"<%s>" % r for r in rcpts))


def first_difference(a, b):
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def main():
    if len(sys.argv) < 3:
        print("usage: compare_maildir.py MAILDIR EXPECTED_COUNT SAMPLE_FILE...", file=sys.stderr)
        return 2
    maildir, expected_count, samples = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    failures = []
    new_dir, tmp_dir = os.path.join(maildir, "new"), os.path.join(maildir, "tmp")
    names = sorted(os.listdir(new_dir)) if os.path.isdir(new_dir) else []
    if len(names) != expected_count:
        failures.append("%s holds %d messages, expected %d" % (new_dir, len(names), expected_count))
    if os.path.isdir(tmp_dir) and os.listdir(tmp_dir):
        failures.append("%s is not empty: %d files" % (tmp_dir, len(os.listdir(tmp_dir))))

    # Index every delivered message by (envelope, sha256(content)).
    by_key = collections.defaultdict(list)
    by_subject = {}
    for name in names:
        with open(os.path.join(new_dir, name), "rb") as f:
            data = f.read()
        m = ENVELOPE_RE.match(data)
        if not m:
            failures.append("%s: no X-Sink-Envelope first line: %r" % (name, data[:80]))
            continue
        envelope = b"from=<%s> to=%s" % (m.group(1), m.group(2))
        content = data[m.end():]
        by_key[(envelope, hashlib.sha256(content).digest())].append(name)
        s = re.search(rb"^Subject: (.*)\r$", content, re.MULTILINE)
        if s:
            by_subject.setdefault(s.group(1), (name, envelope, content))
    duplicates = [v for v in by_key.values() if len(v) > 1]
    if duplicates:
        failures.append("%d messages delivered more than once, e.g. %s" % (len(duplicates), duplicates[0]))

    for sample in samples:
        with open(sample, "rb") as f:
            sender, rcpts, body = expected_from_spool(f.read())
        if sender is None or not rcpts:
            failures.append("%s: sample has no X-Ringmail-From/-To preamble" % sample)
            continue
        envelope = envelope_line(sender, rcpts)
        found = by_key.get((envelope, hashlib.sha256(body).digest()), [])
        if len(found) == 1:
            continue
        if len(found) > 1:
            failures.append("%s delivered %d times: %s" % (sample, len(found), found))
            continue
        # Not found: explain using the message with the same Subject.
        s = re.search(rb"^Subject: (.*)\r$", body, re.MULTILINE)
        near = by_subject.get(s.group(1)) if s else None
        if near is None:
            failures.append("%s: not delivered (no message with its Subject)" % sample)
            continue
        name, got_env, got = near
        if got_env != envelope:
            failures.append("%s: envelope %r, expected %r (%s)" % (sample, got_env, envelope, name))
        if got != body:
            at = first_difference(got, body)
            failures.append("%s: content differs from %s at byte %d (got %d bytes, expected %d): "
                            "got %r expected %r" % (sample, name, at, len(got), len(body),
                                                    got[max(0, at - 20):at + 20], body[max(0, at - 20):at + 20]))

    if failures:
        for line in failures[:20]:
            print("FAIL: compare_maildir: " + line)
        if len(failures) > 20:
            print("FAIL: compare_maildir: ... and %d more" % (len(failures) - 20))
        return 1
    print("PASS: compare_maildir: %d messages, %d samples byte-identical with their envelopes"
          % (len(names), len(samples)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
