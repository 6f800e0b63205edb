#!/usr/bin/python3
"""tests/e2e/make_spool.py — write synthetic alert messages into a ringmail
spool the way a producer must: into incoming/tmp, then rename into
incoming/new. Used by the e2e tests to queue thousands of messages fast.

usage: make_spool.py SPOOL COUNT SIZE [RCPT ...]
Each message gets an explicit envelope preamble (X-Ringmail-From/-To), a
Subject "alert N" and a Message-Id <alert-N@ringmail.test>, LF line endings,
a body of about SIZE bytes with a line starting with '.', so the client's
dot-stuffing and LF -> CRLF conversion are exercised.
"""
import os
import sys


def main():
    spool, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rcpts = sys.argv[4:] or ["ops@example.org"]
    for d in ("incoming/tmp", "incoming/new"):
        os.makedirs(os.path.join(spool, d), exist_ok=True)
    line = "x" * 75 + "\n"
    body = ".leading dot line\n" + line * max(1, (size - 300) // 76)
    pre = "X-Ringmail-From: <alerts@example.com>\n" + "".join("X-Ringmail-To: <%s>\n" % r for r in rcpts)
    for i in range(count):
        name = "e2e%08d" % i
        tmp = os.path.join(spool, "incoming/tmp", name)
        with open(tmp, "w") as f:
            f.write(pre)
            f.write("From: alerts@example.com\nTo: %s\nSubject: alert %d\nMessage-Id: <alert-%d@ringmail.test>\n\n"
                    % (", ".join(rcpts), i, i))
            f.write(body)
        os.rename(tmp, os.path.join(spool, "incoming/new", name))


if __name__ == "__main__":
    main()
