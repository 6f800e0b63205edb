#!/usr/bin/python3
"""tests/e2e/put_message.py — write one message file, given as Python
bytes escapes, into a ringmail spool the way a producer must (incoming/tmp,
then a rename into incoming/new). Used by protocol_extensions_test.sh for
messages with exact bytes: bare CRs, UTF-8 addresses, 8-bit bodies, huge
lines.

usage: put_message.py SPOOL NAME TEXT [REPEAT_MARKER COUNT]
TEXT is decoded with Python's "unicode_escape" then encoded as UTF-8 (so
"\\r", "\\n" and "\\u00fc" work). With REPEAT_MARKER and COUNT, the marker
in TEXT is replaced by COUNT copies of the letter 'x' (big messages
without a big command line).
"""
import os
import sys


def main():
    spool, name, text = sys.argv[1], sys.argv[2], sys.argv[3]
    data = text.encode("latin-1").decode("unicode_escape").encode("utf-8")
    if len(sys.argv) > 5:
        data = data.replace(sys.argv[4].encode(), b"x" * int(sys.argv[5]))
    for d in ("incoming/tmp", "incoming/new"):
        os.makedirs(os.path.join(spool, d), exist_ok=True)
    tmp = os.path.join(spool, "incoming/tmp", name)
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, os.path.join(spool, "incoming/new", name))


if __name__ == "__main__":
    main()
