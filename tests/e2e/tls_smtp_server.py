#!/usr/bin/python3
"""tests/e2e/tls_smtp_server.py — a small TLS SMTP server for check-tls tests,
on Python's ssl module (OpenSSL: a TLS stack nobody here wrote).

Usage: tls_smtp_server.py PORT CERT KEY MODE
MODE: starttls   EHLO offers STARTTLS; 220, then TLS
      implicit   TLS from the first byte (SMTPS)
      nostarttls EHLO does not offer STARTTLS
      inject     the 220 to STARTTLS comes with an extra "250" line in the
                 same write (the CVE-2011-0411 class)
Listens on 127.0.0.1:PORT, serves connections one at a time until killed,
prints "ready" on stdout once it listens. Accepts no mail: EHLO, STARTTLS,
NOOP, QUIT only. Test-only.
"""
import socket
import ssl
import sys


def reply_loop(conn, tls_done, mode):
    f = conn.makefile("rb")
    while True:
        line = f.readline(1024)
        if not line:
            return None
        verb = line.strip().split(b" ")[0].upper()
        if verb in (b"EHLO", b"HELO"):
            caps = [b"250-test.ringmail.invalid", b"250-PIPELINING"]
            if not tls_done and mode in ("starttls", "inject"):
                caps.append(b"250-STARTTLS")
            caps.append(b"250 8BITMIME")
            conn.sendall(b"\r\n".join(caps) + b"\r\n")
        elif verb == b"STARTTLS" and not tls_done:
            if mode == "inject":
                conn.sendall(b"220 2.0.0 go ahead\r\n250 injected\r\n")
            else:
                conn.sendall(b"220 2.0.0 go ahead\r\n")
            return "starttls"
        elif verb == b"QUIT":
            conn.sendall(b"221 2.0.0 bye\r\n")
            return None
        else:
            conn.sendall(b"250 2.0.0 ok\r\n")


def serve(conn, context, mode):
    conn.settimeout(10)
    try:
        if mode == "implicit":
            tls = context.wrap_socket(conn, server_side=True)
            tls.sendall(b"220 test.ringmail.invalid ESMTP\r\n")
            reply_loop(tls, True, mode)
            return
        conn.sendall(b"220 test.ringmail.invalid ESMTP\r\n")
        if reply_loop(conn, False, mode) == "starttls":
            tls = context.wrap_socket(conn, server_side=True)
            reply_loop(tls, True, mode)
    except (OSError, ssl.SSLError):
        pass  # the client refused the certificate or went away: expected
    finally:
        conn.close()


def main():
    port, cert, key, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(8)
    print("ready", flush=True)
    while True:
        conn, _ = listener.accept()
        serve(conn, context, mode)


if __name__ == "__main__":
    main()
