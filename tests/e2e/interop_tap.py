#!/usr/bin/python3
"""tests/e2e/interop_tap.py — a wire tap for the interop tests: a TCP
forwarder between ringmail and a server nobody here wrote (Postfix,
aiosmtpd) that records every byte each way, and a checker that proves from
those bytes that nothing crossed in clear when it should not.

usage: interop_tap.py listen LISTEN_PORT TARGET_PORT DIR
       interop_tap.py check DIR MODE [--secret TEXT]... [--visible TEXT]...

listen: accepts on 127.0.0.1:LISTEN_PORT, connects each client to
127.0.0.1:TARGET_PORT and copies bytes both ways, appending them to
DIR/NNN.c2s (client to server) and DIR/NNN.s2c. Prints "tap: listening on"
(flushed) when ready; SIGTERM stops it.

check: reads every recorded connection and exits 0 when all of them match
MODE, else prints why and exits 1:
  starttls  the client sent only EHLO/HELO lines and STARTTLS in clear, and
            from the byte after "STARTTLS\\r\\n" on, every byte each way is a
            well-formed TLS record (so no MAIL, RCPT, AUTH or message byte
            was sent in clear, nor any reply read in clear after the 220);
  implicit  every byte each way is a TLS record, from the first one;
  clear     plain SMTP: the client never sent STARTTLS.
Each --secret TEXT (a message's unique line, a password, its base64
forms) must not occur in the raw bytes of any connection; each --visible
TEXT must occur in them (the control cases in clear prove that the check
can see what it looks for). Prints one summary line. Talks only to
loopback; writes only under DIR.
"""
import asyncio
import os
import signal
import sys

TLS_CONTENT_TYPES = {20, 21, 22, 23}  # change_cipher_spec, alert, handshake, application_data
MAX_RECORD = (1 << 14) + 2048


def tls_records_error(data):
    """Returns None when DATA is a sequence of TLS records (the last may be
    cut off by the close), else a sentence naming the first bad offset."""
    at = 0
    while at + 5 <= len(data):
        kind, major, length = data[at], data[at + 1], int.from_bytes(data[at + 3:at + 5], "big")
        if kind not in TLS_CONTENT_TYPES or major != 3 or length > MAX_RECORD:
            return "byte %d is not a TLS record header: %r" % (at, bytes(data[at:at + 24]))
        at += 5 + length
    return None


def check_connection(name, c2s, s2c, mode):
    """Returns a list of problems with one recorded connection."""
    if mode == "implicit":
        return ["%s %s" % (name, e) for e in (tls_records_error(c2s), tls_records_error(s2c)) if e]
    lines = c2s.split(b"\r\n")
    if mode == "clear":
        return [] if not any(l.upper() == b"STARTTLS" for l in lines) else ["%s: STARTTLS in a clear case" % name]
    end = c2s.upper().find(b"\r\nSTARTTLS\r\n")
    if end < 0:
        return ["%s: the client never sent STARTTLS" % name]
    clear_part, tls_part = c2s[:end + 2], c2s[end + len(b"\r\nSTARTTLS\r\n"):]
    problems = []
    for line in clear_part.split(b"\r\n"):
        if line and not line.upper().startswith((b"EHLO ", b"HELO ")):
            problems.append("%s: the client sent %r in clear" % (name, line[:60]))
    if tls_records_error(tls_part):
        problems.append("%s: after STARTTLS: %s" % (name, tls_records_error(tls_part)))
    # The server's side: after the reply to STARTTLS (the first 220 line
    # after the EHLO reply), only TLS records.
    ehlo_reply = s2c.find(b"\r\n250")
    ready = s2c.find(b"\r\n220", ehlo_reply)
    if ready < 0:
        problems.append("%s: no 220 reply to STARTTLS" % name)
    else:
        after = s2c[s2c.find(b"\r\n", ready + 2) + 2:]
        if tls_records_error(after):
            problems.append("%s: server after its 220 to STARTTLS: %s" % (name, tls_records_error(after)))
    return problems


def check(directory, mode, secrets, visible):
    names = sorted(n[:-4] for n in os.listdir(directory) if n.endswith(".c2s"))
    if not names:
        print("tap: no connection was recorded")
        return 1
    problems, seen = [], set()
    for name in names:
        c2s = open(os.path.join(directory, name + ".c2s"), "rb").read()
        s2c = open(os.path.join(directory, name + ".s2c"), "rb").read()
        problems += check_connection(name, c2s, s2c, mode)
        for text in secrets + visible:
            if text.encode() in c2s or text.encode() in s2c:
                seen.add(text)
    problems += ["%r crossed the wire in clear" % s for s in secrets if s in seen]
    problems += ["%r is not on the wire in clear" % s for s in visible if s not in seen]
    total = sum(os.path.getsize(os.path.join(directory, n + ".c2s")) for n in names)
    if problems:
        print("tap: %d connection(s), %d bytes from the client; %s" % (len(names), total, "; ".join(problems[:5])))
        return 1
    print("tap: %d connection(s), %d bytes from the client, all %s; %d secret(s) never in clear, %d text(s) seen" % (
        len(names), total, mode, len(secrets), len(visible)))
    return 0


async def pump(reader, writer, path):
    with open(path, "ab", buffering=0) as log:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                log.write(data)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                writer.write_eof()
            except (OSError, RuntimeError):
                writer.close()


async def listen(listen_port, target_port, directory):
    count = 0

    async def on_client(client_reader, client_writer):
        nonlocal count
        count += 1
        base = os.path.join(directory, "%03d" % count)
        for suffix in (".c2s", ".s2c"):
            open(base + suffix, "wb").close()
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pump(client_reader, server_writer, base + ".c2s"),
                             pump(server_reader, client_writer, base + ".s2c"))
        client_writer.close()
        server_writer.close()

    server = await asyncio.start_server(on_client, "127.0.0.1", listen_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("tap: listening on 127.0.0.1:%d for 127.0.0.1:%d" % (listen_port, target_port), flush=True)
    async with server:
        await stop.wait()


def main():
    args = sys.argv[1:]
    if len(args) == 4 and args[0] == "listen":
        os.makedirs(args[3], exist_ok=True)
        asyncio.run(listen(int(args[1]), int(args[2]), args[3]))
        return 0
    if len(args) >= 3 and args[0] == "check" and args[2] in ("starttls", "implicit", "clear"):
        rest, texts = args[3:], {"--secret": [], "--visible": []}
        while len(rest) >= 2 and rest[0] in texts:
            texts[rest[0]].append(rest[1])
            rest = rest[2:]
        if not rest:
            return check(args[1], args[2], texts["--secret"], texts["--visible"])
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
