#!/bin/bash
# tests/e2e/hash_password_test.sh — `ringmail hash-password`: a password on
# stdin becomes a yescrypt hash that libcrypt (via Python's crypt module)
# verifies; --user prints the users_file line; empty/no input is refused
# with 64; on a terminal (a pty) it asks twice and echoes nothing.
# Needs no config file and no server.
source "$(dirname "$0")/lib.sh"

hash=$(printf 'correct horse\n' | "$RINGMAIL" hash-password)
case "$hash" in '$y$'*) ;; *) fail "not a yescrypt hash: $hash" ;; esac
verify() { /usr/bin/python3 -W ignore -c 'import crypt,sys; sys.exit(0 if crypt.crypt(sys.argv[1], sys.argv[2]) == sys.argv[2] else 1)' "$@"; }
verify 'correct horse' "$hash" || fail "the hash does not verify"
! verify 'correct horse ' "$hash" || fail "a wrong password verifies"
pass "stdin line -> yescrypt hash that verifies"

line=$(printf 'pw\r\n' | "$RINGMAIL" hash-password --user alertmanager)
case "$line" in 'alertmanager:$y$'*) ;; *) fail "--user line: $line" ;; esac
verify pw "${line#alertmanager:}" || fail "CRLF not stripped"
pass "--user prints USER:HASH; CRLF stripped"

for input in '' '\n'; do
  rc=0
  printf "$input" | "$RINGMAIL" hash-password >"$WORK/out" 2>"$WORK/err" || rc=$?
  [ "$rc" = 64 ] || fail "input '$input': exit $rc, want 64"
  [ ! -s "$WORK/out" ] || fail "input '$input' printed something"
done
rc=0; "$RINGMAIL" hash-password --user 'a:b' </dev/null >/dev/null 2>&1 || rc=$?
[ "$rc" = 64 ] || fail "--user a:b: exit $rc"
pass "no password, an empty one or a bad --user: 64, nothing printed"

# A terminal: prompts on it, asks twice, never echoes the password.
/usr/bin/python3 - "$RINGMAIL" <<'PY' || fail "terminal dialogue"
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "hash-password"])
out = b""
def read_until(token, limit=10):
    global out
    end = time.time() + limit
    while token not in out and time.time() < end:
        try:
            out += os.read(fd, 1024)
        except OSError:
            break
    return token in out
assert read_until(b"Password: "), out
os.write(fd, b"tty-secret\n")
assert read_until(b"Again: "), out
os.write(fd, b"tty-secret\n")
assert read_until(b"$y$"), out
read_until(b"\r\n", 5)  # the end of the hash line
_, status = os.waitpid(pid, 0)
assert os.WEXITSTATUS(status) == 0, status
assert b"tty-secret" not in out, out
PY
pass "terminal: asked twice, no echo"
