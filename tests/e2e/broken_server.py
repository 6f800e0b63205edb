#!/usr/bin/python3
"""tests/e2e/broken_server.py — a scripted SMTP server that lies or breaks in
one chosen way, for tests/e2e/broken_server_test.sh and shutdown_test.sh
(no_greeting: a relay that never answers).

usage: broken_server.py --port PORT --scenario NAME --log FILE [--save-dir DIR]

It listens on 127.0.0.1:PORT (standard library only: socketserver, one
thread per connection), prints "listening on 127.0.0.1:PORT" on stdout once
it accepts connections, and appends every connection's transcript to FILE
("[conn N] S: '...'" / "C: '...'" lines, flushed at once). A message is saved
to DIR only when this server answers its final "." with 250 (as a real relay
commits it): file "NNNNNN.eml" whose first line is
"X-Envelope: from=<S> to=<R1>,<R2>" followed by the dot-unstuffed data. So a
message the server never acknowledged is never counted as delivered.

Scenarios (real-world failure modes; see SCENARIOS below):
  ok                   a correct ESMTP relay (PIPELINING, SIZE, 8BITMIME)
  greeting_554         554 banner
  greeting_garbage     "SSH-2.0-OpenSSH" instead of a banner
  ehlo_then_close      closes the socket right after the EHLO reply
  data_250             answers DATA with 250 instead of 354
  mismatched_multiline EHLO answered "250-a" then "251 b"
  reply_split_bytes    correct, but every reply sent one byte per send
  unsolicited_reply    an extra "250 ok" right after the EHLO reply
  close_after_dot      reads the whole body, then closes without a reply
  slow_reply           sleeps --slow-s before the end-of-data reply (then 451)
  huge_reply           answers MAIL with one 100 KB reply line
  rcpt_452             452 for every recipient after the 2nd of a transaction
  mail_421             421 to MAIL, then closes
  dataend_421          reads the whole body, answers 421 (shutting down), closes
  no_greeting          accepts the connection and never sends a byte (no 220
                       banner): reads and discards until the peer closes

It must never save a message it did not acknowledge with 250, never listen
on anything but loopback, and never block for ever: every socket read has a
timeout (--idle-s) and every connection thread is a daemon.
"""
import argparse
import os
import socket
import socketserver
import sys
import threading
import time

SCENARIOS = (
    "ok", "greeting_554", "greeting_garbage", "ehlo_then_close", "data_250",
    "mismatched_multiline", "reply_split_bytes", "unsolicited_reply",
    "close_after_dot", "slow_reply", "huge_reply", "rcpt_452", "mail_421",
    "dataend_421", "no_greeting",
)

EHLO_REPLY = (b"250-broken.test Hello\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n"
              b"250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n")
MAX_LINE = 4096  # longest command line accepted (RFC 5321 says 512 + extensions)


class Closed(Exception):
    """The connection is over (peer closed, timed out, or the script ended it)."""


class Log:
    """Log appends transcript lines to one file, whole lines, from any thread."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.file = open(path, "a", buffering=1, encoding="utf-8")

    def write(self, conn, direction, data):
        text = repr(data[:300]) + (" ... (%d bytes)" % len(data) if len(data) > 300 else "")
        with self.lock:
            self.file.write("[conn %d] %s %s\n" % (conn, direction, text))
            self.file.flush()


class Session:
    """Session speaks one connection's side of SMTP as its scenario says."""

    def __init__(self, server, sock, conn_id):
        self.server, self.sock, self.id = server, sock, conn_id
        self.scenario = server.scenario
        self.buf = b""
        self.mail_from = None
        self.rcpts = []

    # --- I/O -------------------------------------------------------------
    def log(self, direction, data):
        self.server.log.write(self.id, direction, data)

    def send(self, data):
        self.log("S:", data)
        if self.scenario == "reply_split_bytes":
            for i in range(len(data)):
                self.sock.sendall(data[i:i + 1])
                time.sleep(0.001)
        else:
            self.sock.sendall(data)

    def readline(self):
        while b"\n" not in self.buf:
            if len(self.buf) > MAX_LINE and not self.in_data:
                raise Closed("line too long")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed("peer closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def close_gracefully(self):
        """Sends FIN, then reads until the peer closes (so pipelined bytes we
        never read cannot turn our close into a RST that hides the reply)."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
            self.sock.settimeout(2.0)
            while self.sock.recv(65536):
                pass
        except OSError:
            pass
        raise Closed("closed by the scenario")

    # --- protocol --------------------------------------------------------
    def run(self):
        self.in_data = False
        s = self.scenario
        if s == "no_greeting":
            while True:  # silent: no banner, no reply, ever
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise Closed("peer closed (never greeted)")
                self.log("C:", chunk)
        if s == "greeting_554":
            self.send(b"554 5.3.2 broken.test no SMTP service here\r\n")
        elif s == "greeting_garbage":
            self.send(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
        else:
            self.send(b"220 broken.test ESMTP ready\r\n")
        while True:
            line = self.readline()
            self.log("C:", line)
            verb = line.split(b" ", 1)[0].split(b":", 1)[0].strip().upper()
            self.command(verb, line)

    def command(self, verb, line):
        s = self.scenario
        if verb == b"QUIT":
            self.send(b"221 2.0.0 Bye\r\n")
            self.close_gracefully()
        if s in ("greeting_554", "greeting_garbage"):
            self.send(b"503 5.5.1 not talking to you\r\n")
            return
        if verb == b"EHLO":
            if s == "mismatched_multiline":
                self.send(b"250-a\r\n251 b\r\n")
                return
            self.send(EHLO_REPLY)
            if s == "ehlo_then_close":
                self.sock.close()  # a plain close, as a crashing server does
                raise Closed("closed after EHLO")
            if s == "unsolicited_reply":
                self.send(b"250 ok\r\n")
            return
        if verb == b"HELO":
            self.send(b"250 broken.test\r\n")
            return
        if verb == b"MAIL":
            if s == "mail_421":
                self.send(b"421 4.7.0 broken.test too busy, closing connection\r\n")
                self.close_gracefully()
            if s == "huge_reply":
                self.send(b"250 " + b"x" * 100_000 + b"\r\n")
                return
            self.mail_from = line[line.find(b"<"):line.find(b">") + 1].decode("latin-1")
            self.rcpts = []
            self.send(b"250 2.1.0 Ok\r\n")
            return
        if verb == b"RCPT":
            if self.mail_from is None:
                self.send(b"503 5.5.1 need MAIL first\r\n")
                return
            if s == "rcpt_452" and len(self.rcpts) >= 2:
                self.send(b"452 4.5.3 Too many recipients\r\n")
                return
            self.rcpts.append(line[line.find(b"<"):line.find(b">") + 1].decode("latin-1"))
            self.send(b"250 2.1.5 Ok\r\n")
            return
        if verb == b"DATA":
            if not self.rcpts:
                self.send(b"554 5.5.1 no valid recipients\r\n")
                return
            if s == "data_250":
                self.send(b"250 2.0.0 Ok\r\n")
                return
            self.send(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            self.receive_data()
            return
        if verb == b"RSET":
            self.mail_from, self.rcpts = None, []
            self.send(b"250 2.0.0 Ok\r\n")
            return
        if verb == b"NOOP":
            self.send(b"250 2.0.0 Ok\r\n")
            return
        self.send(b"502 5.5.2 command not recognized\r\n")

    def receive_data(self):
        self.in_data = True
        lines, size = [], 0
        while True:
            line = self.readline()
            size += len(line)
            if line in (b".\r\n", b".\n"):
                break
            lines.append(line[1:] if line.startswith(b".") else line)
        self.in_data = False
        self.log("C:", b"<%d bytes of data, ended by '.'>" % size)
        s = self.scenario
        if s == "close_after_dot":
            self.sock.close()
            raise Closed("closed after the final dot")
        if s == "dataend_421":
            self.send(b"421 4.3.2 broken.test shutting down, message not accepted\r\n")
            self.close_gracefully()
        if s == "slow_reply":
            time.sleep(self.server.slow_s)
            self.send(b"451 4.3.0 too slow, try again\r\n")  # never accepted
            self.mail_from, self.rcpts = None, []
            return
        self.server.save(self.mail_from, self.rcpts, b"".join(lines))
        self.mail_from, self.rcpts = None, []
        self.send(b"250 2.0.0 Ok: queued\r\n")


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        server = self.server
        with server.lock:
            server.connections += 1
            conn_id = server.connections
        sock = self.request
        sock.settimeout(server.idle_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        server.log.write(conn_id, "--", b"connected")
        try:
            Session(server, sock, conn_id).run()
        except Closed as why:
            server.log.write(conn_id, "--", str(why).encode())
        except OSError as why:
            server.log.write(conn_id, "--", ("socket error: %s" % why).encode())


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, args):
        super().__init__(("127.0.0.1", args.port), Handler)
        self.scenario = args.scenario
        self.slow_s = args.slow_s
        self.idle_s = args.idle_s
        self.save_dir = args.save_dir
        self.log = Log(args.log)
        self.lock = threading.Lock()
        self.connections = 0
        self.saved = 0

    def save(self, mail_from, rcpts, data):
        if not self.save_dir:
            return
        with self.lock:
            self.saved += 1
            n = self.saved
        name = os.path.join(self.save_dir, "%s-%06d.eml" % (self.scenario, n))
        with open(name + ".tmp", "wb") as f:
            f.write(("X-Envelope: from=%s to=%s\r\n" % (mail_from, ",".join(rcpts))).encode("latin-1"))
            f.write(data)
        os.rename(name + ".tmp", name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--scenario", choices=SCENARIOS, required=True)
    parser.add_argument("--log", required=True, help="transcript file (appended)")
    parser.add_argument("--save-dir", help="where acknowledged messages are written")
    parser.add_argument("--slow-s", type=float, default=4.0, help="slow_reply's delay before the final reply")
    parser.add_argument("--idle-s", type=float, default=30.0, help="socket read timeout")
    args = parser.parse_args()
    if args.save_dir:
        os.makedirs(args.save_dir, exist_ok=True)
    server = Server(args)
    print("listening on 127.0.0.1:%d scenario %s" % (args.port, args.scenario), flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
