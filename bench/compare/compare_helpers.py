#!/usr/bin/python3
"""bench/compare/compare_helpers.py — the small pieces of bench/compare/compare.sh
that are easier in Python: the alert messages (the same shape and size as
`ringmail bench` generates), injecting them into Postfix over SMTP, the
one-msmtp-process-per-alert loop, and the side-by-side table.

  compare_helpers.py inject PORT COUNT SIZE      SMTP into 127.0.0.1:PORT
  compare_helpers.py msmtp CONFIG COUNT SIZE     COUNT x `msmtp -C CONFIG`; JSON on stdout
  compare_helpers.py report RINGMAIL_JSON ROWS   the table (ROWS: one JSON object a line)
"""
import json
import resource
import smtplib
import subprocess
import sys
import time

SENDER = "alerts@example.com"
RECIPIENT = "ops@example.org"


def alert(i, size):
    """One alert as tools/bench/bench_spool.cc writes it (CRLF line ends)."""
    head = ("From: Monitoring <alerts@example.com>\r\nTo: ops@example.org\r\n"
            "Subject: [ALERT] host-%d disk usage above 90%%\r\n"
            "Message-Id: <compare-%d@ringmail.test>\r\n\r\n" % (i % 997, i))
    line = "x" * 75 + "\r\n"
    body = line * (max(size - len(head), 0) // len(line) + 1)
    return (head + body)[:max(size, len(head))]


def inject(port, count, size):
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo("compare.ringmail.test")
        for i in range(count):
            smtp.sendmail(SENDER, [RECIPIENT], alert(i, size))


def run_msmtp(config, count, size):
    message = alert(0, size).encode()
    start = time.monotonic()
    for i in range(count):
        done = subprocess.run(["msmtp", "-C", config, "-f", SENDER, RECIPIENT],
                              input=message, capture_output=True, timeout=30)
        if done.returncode != 0:
            sys.exit("msmtp failed on message %d (exit %d): %s" %
                     (i + 1, done.returncode, done.stderr.decode(errors="replace").strip()))
    seconds = time.monotonic() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"seconds": seconds, "cpu_s": usage.ru_utime + usage.ru_stime}))


def report(ringmail_json, rows_file):
    """Prints one table: ringmail's rows (median of its runs) and then the
    others', each with ringmail's msg/s over theirs and their CPU per
    message over ringmail's, at the same level (ringmail at its default
    messages per connection, the last --per-connection given)."""
    bench = json.load(open(ringmail_json))
    rows, best = [], {}
    for group in bench["results"]:
        for level in group["levels"]:
            row = {"level": level["level"], "sender": "ringmail, %d per connection" % group["per_connection"],
                   "messages": level["runs"][0]["messages"], "msgs_per_s": level["msgs_per_s"]["median"],
                   "cpu_us": level["engine_cpu_us_per_msg"], "sink_us": level["sink_cpu_us_per_msg"],
                   "handshakes": "%d+%d" % (level["handshakes_full"], level["handshakes_resumed"])}
            rows.append(row)
            best[level["level"]] = row  # the last group: the default per connection
    rows += [json.loads(line) for line in open(rows_file)]
    for row in rows:
        ours = best.get(row["level"])
        row["ratio_rate"] = ours["msgs_per_s"] / row["msgs_per_s"] if ours else None
        row["ratio_cpu"] = row["cpu_us"] / ours["cpu_us"] if ours else None
    print("%-8s %-44s %7s %9s %11s %10s %11s %13s %13s" %
          ("level", "sender", "msgs", "msg/s", "CPU us/msg", "sink us", "handshakes",
           "ringmail x", "CPU x ringmail"))
    for row in sorted(rows, key=lambda r: list(best).index(r["level"]) if r["level"] in best else 99):
        ratio = lambda v: "%.1f" % v if v is not None else "-"
        print("%-8s %-44s %7d %9.0f %11.1f %10.1f %11s %13s %13s" %
              (row["level"], row["sender"], row["messages"], row["msgs_per_s"], row["cpu_us"],
               row["sink_us"], row["handshakes"], ratio(row["ratio_rate"]), ratio(row["ratio_cpu"])))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "inject":
        inject(int(args[0]), int(args[1]), int(args[2]))
    elif command == "msmtp":
        run_msmtp(args[0], int(args[1]), int(args[2]))
    elif command == "report":
        report(args[0], args[1])
    else:
        sys.exit("unknown command " + command)
