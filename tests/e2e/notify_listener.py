#!/usr/bin/python3
# tests/e2e/notify_listener.py — stands in for systemd's notify socket: binds
# an AF_UNIX datagram socket (a path, or "@name" in the abstract namespace,
# as $NOTIFY_SOCKET names it) and appends every datagram it receives to
# --out, one line per assignment, each datagram followed by "--". Prints
# "listening on NAME" once bound. Ends after --seconds (bounded) or SIGTERM.
import argparse
import os
import signal
import socket
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--socket", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--seconds", type=float, default=120)
args = parser.parse_args()

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
name = args.socket
sock.bind("\0" + name[1:] if name.startswith("@") else name)
print("listening on", name, flush=True)
deadline = time.monotonic() + args.seconds
with open(args.out, "a") as out:
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        out.write(data.decode("utf-8", "replace") + "\n--\n")
        out.flush()
if not name.startswith("@"):
    os.unlink(name)
