#!/usr/bin/python3
"""tests/e2e/tls_levels_server.py — an SMTP server with TLS that accepts
mail, for tls_levels_test.sh, on Python's ssl module (OpenSSL: a TLS stack
nobody here wrote).

Usage: tls_levels_server.py PORT CERT KEY MODE LOG [CLIENT_CA]
With CLIENT_CA the server requires a client certificate issued by it
(mutual TLS) and logs "client-cert CN" for each one it accepted.
MODE: starttls    EHLO offers STARTTLS
      nostarttls  EHLO does not offer STARTTLS
      refuse      EHLO offers STARTTLS, which is answered 454
      implicit    TLS from the first byte
      garbage     EHLO offers STARTTLS; after the 220, bytes that are not TLS
      inject      the 220 to STARTTLS comes with "250 injected" in the same write
      silent      EHLO offers STARTTLS; after the 220, nothing (a stalled handshake)
Listens on 127.0.0.1:PORT, one thread per connection, prints "ready" once
it listens. Appends to LOG one line per event:
  conn tls=0|1 resumed=0|1          a TLS handshake completed (or not)
  mail tls=0|1 resumed=0|1          a MAIL FROM arrived (in clear: tls=0)
  msg tls=0|1 resumed=0|1 bytes=N   a message was accepted
  clear-bytes N                     bytes of a transaction received in clear
So the test can assert that no message byte crossed in clear, and count
resumed sessions. Test-only: loopback, writes only LOG.
"""
import socket
import ssl
import sys
import threading

LOCK = threading.Lock()


def log(path, line):
    with LOCK:
        with open(path, "a") as f:
            f.write(line + "\n")


def note_client(conn, path):
    cert = conn.getpeercert()
    if cert:
        cn = [v for rdn in cert.get("subject", ()) for (k, v) in rdn if k == "commonName"]
        log(path, "client-cert %s" % (cn[0] if cn else "?"))


def serve(conn, context, mode, path):
    conn.settimeout(15)
    tls = False
    resumed = 0
    try:
        if mode == "implicit":
            conn = context.wrap_socket(conn, server_side=True)
            tls = True
            resumed = int(conn.session_reused)
            log(path, "conn tls=1 resumed=%d" % resumed)
            note_client(conn, path)
        conn.sendall(b"220 tls-levels.ringmail.invalid ESMTP\r\n")
        f = conn.makefile("rb")
        in_data = False
        size = 0
        while True:
            line = f.readline(65536)
            if not line:
                return
            if in_data:
                if line in (b".\r\n", b".\n"):
                    in_data = False
                    log(path, "msg tls=%d resumed=%d bytes=%d" % (tls, resumed, size))
                    conn.sendall(b"250 2.0.0 queued\r\n")
                else:
                    size += len(line)
                    if not tls:
                        log(path, "clear-bytes %d" % len(line))
                continue
            verb = line.strip().split(b" ")[0].upper()
            if verb in (b"EHLO", b"HELO"):
                caps = [b"250-tls-levels.ringmail.invalid", b"250-PIPELINING", b"250-8BITMIME"]
                if not tls and mode in ("starttls", "refuse", "garbage", "inject", "silent"):
                    caps.append(b"250-STARTTLS")
                caps.append(b"250 SIZE 10000000")
                conn.sendall(b"\r\n".join(caps) + b"\r\n")
            elif verb == b"STARTTLS" and not tls and mode == "refuse":
                conn.sendall(b"454 4.7.0 TLS not available now\r\n")
            elif verb == b"STARTTLS" and not tls and mode == "silent":
                conn.sendall(b"220 2.0.0 go ahead\r\n")
                f.readline()  # the ClientHello, never answered
                f.read()  # until the client gives up and closes
                return
            elif verb == b"STARTTLS" and not tls and mode == "garbage":
                conn.sendall(b"220 2.0.0 go ahead\r\n")
                f.readline()  # wait for the ClientHello's first bytes
                conn.sendall(b"this is not TLS at all\r\n")
                return
            elif verb == b"STARTTLS" and not tls:
                conn.sendall(b"220 2.0.0 go ahead\r\n250 injected\r\n" if mode == "inject" else
                             b"220 2.0.0 go ahead\r\n")
                f.close()
                conn = context.wrap_socket(conn, server_side=True)
                tls = True
                resumed = int(conn.session_reused)
                log(path, "conn tls=1 resumed=%d" % resumed)
                note_client(conn, path)
                f = conn.makefile("rb")
            elif verb == b"MAIL":
                log(path, "mail tls=%d resumed=%d" % (tls, resumed))
                size = 0
                conn.sendall(b"250 2.1.0 ok\r\n")
            elif verb == b"RCPT":
                conn.sendall(b"250 2.1.5 ok\r\n")
            elif verb == b"DATA":
                in_data = True
                conn.sendall(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 2.0.0 bye\r\n")
                if tls:
                    try:
                        conn.unwrap()  # expects the client's close_notify
                        log(path, "close_notify")
                    except (OSError, ssl.SSLError):
                        pass
                return
            else:
                conn.sendall(b"250 2.0.0 ok\r\n")
    except (OSError, ssl.SSLError) as e:
        log(path, "error %s" % type(e).__name__)
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main():
    port, cert, key, mode, path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    if len(sys.argv) > 6:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=sys.argv[6])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(16)
    print("ready", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, context, mode, path), daemon=True).start()


if __name__ == "__main__":
    main()
