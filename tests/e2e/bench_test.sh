#!/usr/bin/env bash
# tests/e2e/bench_test.sh — `ringmail bench` itself (issue 8's proof), and
# CI's smoke run of it: a small N at two levels. Checks that the table and
# the JSON carry every level asked for, that each ratio to `none` comes from
# the `none` run of the same run number, that the SVG is well-formed with one
# series (and one bar) per level, that --tls LEVEL is --levels LEVEL, and
# that a run where messages do not arrive (the sink refuses every recipient)
# makes the bench exit non-zero with the reason and no rate.
# usage: bench_test.sh /path/to/ringmail
source "$(dirname "$0")/lib.sh"

# 1. The smoke run: two levels, two interleaved runs each, JSON and SVG.
"$RINGMAIL" bench -n 300 --levels none,verify --runs 2 --spool-base "$WORK" \
  --json "$WORK/bench.json" --svg "$WORK/bench.svg" > "$WORK/out" 2> "$WORK/err" ||
  fail "bench exited $? ($(tail -3 "$WORK/err"))"
cat "$WORK/out"
for level in none verify; do
  grep -qE "^$level +[0-9,]+ +\(" "$WORK/out" || fail "the table has no row for $level"
done
# Not a terminal: plain lines, one per run, in interleaved order.
grep -q '^run 1/4: none, 100 per connection, 2 KiB, run 1:' "$WORK/out" || fail "no plain progress line for run 1"
grep -q '^run 2/4: verify, 100 per connection, 2 KiB, run 1:' "$WORK/out" || fail "runs are not interleaved"
grep -qE '^spool: .* on [a-z0-9]+ \((in memory|a disk)\)$' "$WORK/out" || fail "the header does not say where the spool was"
grep -q '^crypto floor' "$WORK/out" || fail "no crypto floor line"
/usr/bin/python3 - "$WORK/bench.json" <<'PY' || fail "the JSON is wrong"
import json, sys
d = json.load(open(sys.argv[1]))
group = d["results"][0]
levels = {l["level"]: l for l in group["levels"]}
assert list(levels) == ["none", "verify"], levels.keys()
none, verify = levels["none"], levels["verify"]
assert len(none["runs"]) == 2 and len(verify["runs"]) == 2
for run in verify["runs"]:
    base = [r for r in none["runs"] if r["run"] == run["run"]][0]
    want = run["msgs_per_s"] / base["msgs_per_s"]
    assert abs(run["throughput_ratio_to_none"] - want) < 1e-3 * want, (run, base)
    want = run["engine_cpu_us_per_msg"] / base["engine_cpu_us_per_msg"]
    assert abs(run["engine_cpu_ratio_to_none"] - want) < 2e-3 * want, (run, base)
    assert run["messages_tls"] == 300 and run["tls_handshakes"] >= 3, run
    assert run["bytes_in"] > 300 * 2048, run
for run in none["runs"]:
    assert run["messages_tls"] == 0 and run["throughput_ratio_to_none"] == 1.0, run
ratios = sorted(r["throughput_ratio_to_none"] for r in verify["runs"])
assert abs(verify["throughput_ratio_to_none"]["median"] - sum(ratios) / 2) < 1e-3, verify
assert d["machine"]["spool_fs"] and d["crypto_floor"]["full"]["client_us"] > 0
print("json ok")
PY
/usr/bin/python3 - "$WORK/bench.svg" <<'PY' || fail "the SVG is wrong"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg", root.tag
series = [g.get("data-level") for g in root.iter(ns + "g") if g.get("class") == "series"]
bars = [g.get("data-level") for g in root.iter(ns + "g") if g.get("class") == "bar"]
assert series == ["none", "verify"], series
assert bars == ["none", "verify"], bars
print("svg ok")
PY
pass "smoke run: table, JSON, SVG for none and verify"

# 2. --tls LEVEL is --levels LEVEL.
"$RINGMAIL" bench -n 100 --tls implicit --runs 1 --spool-base "$WORK" --json "$WORK/one.json" > "$WORK/out" 2>&1 ||
  fail "bench --tls implicit exited $?: $(tail -3 "$WORK/out")"
/usr/bin/python3 -c 'import json,sys; l=[x["level"] for x in json.load(open(sys.argv[1]))["results"][0]["levels"]]; assert l == ["implicit"], l' \
  "$WORK/one.json" || fail "--tls implicit did not run exactly the implicit level"
pass "--tls implicit"

# 3. A sink that refuses every recipient: the bench fails loudly, no rate.
status=0
"$RINGMAIL" bench -n 50 --levels none --runs 1 --spool-base "$WORK" \
  --sink-option=--rcpt-reply=ops@example.org=550 > "$WORK/out" 2> "$WORK/err" || status=$?
[ "$status" = 70 ] || fail "a failed delivery gave exit status $status, not 70"
grep -q 'FAILED: none, 100 per connection, 2 KiB, run 1: the sink received 0 of 50 messages' "$WORK/err" ||
  fail "no reason printed: $(cat "$WORK/err")"
grep -q 'failed' "$WORK/err" || fail "the engine's failures are not named"
grep -qE '^none +[0-9]' "$WORK/out" && fail "a rate was reported for a failed run"
pass "a refused delivery exits 70 with the reason"

# 4. Usage errors.
status=0
"$RINGMAIL" bench --levels none,strict > /dev/null 2> "$WORK/err" || status=$?
[ "$status" = 64 ] && grep -q "unknown TLS level 'strict'" "$WORK/err" || fail "bad level: status $status"
pass "usage errors"
