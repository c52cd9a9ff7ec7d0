#!/usr/bin/env bash
# The admin endpoint of `portcullis run` (issue 6), end to end in namespaces: /healthz is 200 once
# running; /metrics parses as Prometheus text 0.0.4 (every sample line matches the grammar, every
# family has a TYPE, histograms are cumulative) and its counters move with real HTTP and DNS
# traffic (HTTP, DNS and TLS); `portcullis status` (table and --json) shows the real listener
# ports and marks, the same ones the installed TPROXY rules carry; a SIGHUP reload is counted; an
# unreachable daemon makes `status` exit 3; with `proxy.admin: off` nothing listens.
set -euo pipefail
here=$(dirname "$0")
source "$here/lib/portcullis.sh" "$1"
source "$here/tools/http_origin.sh"
netns_require_root dnsmasq dig curl python3 openssl

netns_topology
dir=$NETNS_TMP
pc_write_config "$dir"
pc_web_dns_policy "$dir/policy.yaml"
# No TLS origin: an allowed SNI is counted, then its connection fails upstream (unreachable).
{ pc_rule tls-egress 443 TCP; echo '    tls: [{serverNames: ["api.allowed.test"]}]'; } >>"$dir/policy.yaml"
origin_start "$NS_SERVER" "$dir"
pc_dnsmasq "$NS_SERVER" "$dir" 198.18.2.2 --log-facility=- --address=/allowed.test/198.18.2.10
pc_start "$NS_NODE" "$dir/config.yaml" "$dir/run.log"
grep -q "admin endpoint on 127.0.0.1:9964" "$dir/run.log" || fail "no admin endpoint: $(cat "$dir/run.log")"

admin() { node curl -sS --max-time 5 "$@"; }

# /healthz
[[ $(admin -o /dev/null -w '%{http_code}' http://127.0.0.1:9964/healthz) == 200 ]] || fail "/healthz not 200"
[[ $(admin http://127.0.0.1:9964/healthz) == ok ]] || fail "/healthz body"
[[ $(admin -o /dev/null -w '%{http_code}' http://127.0.0.1:9964/nope) == 404 ]] || fail "unknown path not 404"
[[ $(admin -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:9964/metrics) == 405 ]] || fail "POST not 405"

# check_metrics FILE: the 0.0.4 grammar, TYPE per family, cumulative buckets; prints
# "name{labels} value" lines for the caller to read values from.
check_metrics() {
  python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
assert text.endswith("\n"), "no final line feed"
name_re = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
label_re = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
sample = re.compile(rf"^({name_re})(\{{{label_re}(?:,{label_re})*\}})? (-?[0-9.eE+-]+|[+-]Inf|NaN)( -?[0-9]+)?$")
types, helps, current, seen_families = {}, set(), None, []
buckets = {}
for n, line in enumerate(text.splitlines(), 1):
    if line.startswith("# HELP "):
        helps.add(line.split()[2]); continue
    if line.startswith("# TYPE "):
        _, _, fam, typ = line.split(" ", 3)
        assert typ in ("counter", "gauge", "histogram", "summary", "untyped"), line
        assert fam not in types, f"TYPE twice for {fam}"
        types[fam] = typ; current = fam; continue
    assert not line.startswith("#") and line.strip(), f"line {n}: stray {line!r}"
    m = sample.match(line)
    assert m, f"line {n} does not match the grammar: {line!r}"
    name = m.group(1)
    fam = name
    for suffix in ("_bucket", "_sum", "_count"):
        if types.get(current) == "histogram" and name == current + suffix: fam = current
    assert fam == current, f"line {n}: {name} outside its family {current} (no TYPE?)"
    float(m.group(3))
    if name.endswith("_bucket"):
        labels = re.sub(r',?le="[^"]*"', "", m.group(2))
        buckets.setdefault((name, labels), []).append(float(m.group(3)))
    print(line)
for fam in types: assert fam in helps, f"no HELP for {fam}"
for key, values in buckets.items():
    assert values == sorted(values), f"{key} buckets not cumulative: {values}"
print(f"# ok: {len(types)} families", file=sys.stderr)
PY
}
metric() {  # FILE SERIES: the value of one series ("name{labels}") in a checked dump
  awk -v s="$2" '$1 == s {print $2}' "$1"
}

pc_metrics >"$dir/m0.txt"
check_metrics "$dir/m0.txt" >"$dir/m0.samples" || fail "/metrics before traffic is not valid Prometheus text"
allowed='portcullis_requests_total{direction="egress",protocol="http",verdict="allowed"}'
denied='portcullis_requests_total{direction="egress",protocol="http",verdict="denied"}'
dns_allowed='portcullis_requests_total{direction="egress",protocol="dns",verdict="allowed"}'
dns_denied='portcullis_requests_total{direction="egress",protocol="dns",verdict="denied"}'
latency='portcullis_upstream_latency_seconds_count{direction="egress",protocol="http"}'
tls_allowed='portcullis_requests_total{direction="egress",protocol="tls",verdict="allowed"}'
tls_denied='portcullis_requests_total{direction="egress",protocol="tls",verdict="denied"}'
tls_unreachable='portcullis_upstream_failures_total{direction="egress",protocol="tls",reason="unreachable"}'
for s in "$allowed" "$denied" "$dns_allowed" "$dns_denied" "$latency" "$tls_allowed" "$tls_denied"; do
  [[ $(metric "$dir/m0.samples" "$s") == 0 ]] || fail "$s is not 0 before traffic"
done

# Traffic: 3 allowed and 2 denied HTTP requests, 2 allowed and 1 denied DNS queries.
for i in 1 2 3; do
  client curl -sf --max-time 5 -o /dev/null http://198.18.2.2/public/index.html || fail "allowed GET $i failed"
done
for i in 1 2; do
  [[ $(client curl -s --max-time 5 -o /dev/null -w '%{http_code}' http://198.18.2.2/private/secret.txt) == 403 ]] ||
    fail "denied GET $i not 403"
done
client dig +tries=1 +time=3 +short @198.18.2.2 www.allowed.test | grep -qx 198.18.2.10 || fail "allowed query"
client dig +tries=1 +time=3 +short +tcp @198.18.2.2 a.allowed.test | grep -qx 198.18.2.10 || fail "allowed TCP query"
[[ $(pc_rcode 198.18.2.2 denied.test) == REFUSED ]] || fail "denied query"
tls_hello() { client timeout 5 openssl s_client -connect 198.18.2.2:443 "$@" </dev/null >/dev/null 2>&1; }
tls_hello -servername api.allowed.test && fail "a TLS handshake completed without an origin"
tls_hello -servername evil.test && fail "a denied SNI completed a handshake"
tls_hello -noservername && fail "a ClientHello without SNI completed a handshake"

pc_metrics >"$dir/m1.txt"
check_metrics "$dir/m1.txt" >"$dir/m1.samples" || fail "/metrics after traffic is not valid Prometheus text"
[[ $(metric "$dir/m1.samples" "$allowed") == 3 ]] || fail "http allowed: $(metric "$dir/m1.samples" "$allowed"), expected 3"
[[ $(metric "$dir/m1.samples" "$denied") == 2 ]] || fail "http denied: $(metric "$dir/m1.samples" "$denied"), expected 2"
[[ $(metric "$dir/m1.samples" "$dns_allowed") == 2 ]] || fail "dns allowed: $(metric "$dir/m1.samples" "$dns_allowed"), expected 2"
[[ $(metric "$dir/m1.samples" "$dns_denied") == 1 ]] || fail "dns denied: $(metric "$dir/m1.samples" "$dns_denied"), expected 1"
[[ $(metric "$dir/m1.samples" "$latency") == 3 ]] || fail "http latency count: $(metric "$dir/m1.samples" "$latency"), expected 3"
dns_latency='portcullis_upstream_latency_seconds_count{direction="egress",protocol="dns"}'
[[ $(metric "$dir/m1.samples" "$dns_latency") == 2 ]] || fail "dns latency count: $(metric "$dir/m1.samples" "$dns_latency"), expected 2"
[[ $(metric "$dir/m1.samples" portcullis_datapath_installed) == 1 ]] || fail "datapath_installed not 1"
[[ $(metric "$dir/m1.samples" "$tls_allowed") == 1 ]] || fail "tls allowed: $(metric "$dir/m1.samples" "$tls_allowed"), expected 1"
[[ $(metric "$dir/m1.samples" "$tls_denied") == 2 ]] || fail "tls denied: $(metric "$dir/m1.samples" "$tls_denied"), expected 2"
[[ $(metric "$dir/m1.samples" "$tls_unreachable") == 1 ]] || fail "tls unreachable: $(metric "$dir/m1.samples" "$tls_unreachable"), expected 1"
[[ $(metric "$dir/m1.samples" 'portcullis_tls_no_sni_total{direction="egress",protocol="tls"}') == 1 ]] || fail "tls no SNI not 1"

# status: the ports and marks of the installed TPROXY rules.
node "$PORTCULLIS" status --json >"$dir/status.json" || fail "status --json failed"
node "$PORTCULLIS" status >"$dir/status.txt" || fail "status failed"
cat "$dir/status.txt"
python3 - "$dir/status.json" <<'PY' >"$dir/listeners.txt" || fail "status JSON: $(cat "$dir/status.json")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["healthy"] is True and s["datapath"]["installed"] is True, s
assert s["policy"]["generation"] >= 1 and len(s["policy"]["files"]) == 1, s["policy"]
assert len(s["policy"]["files"][0]["sha256"]) == 64, s["policy"]["files"]
for l in s["listeners"]:
    print(l["name"], l["port"], l["mark"])
tls = [l for l in s["listeners"] if l["protocol"] == "tls"]
assert len(tls) == 1 and tls[0]["open"] is True, s["listeners"]
c = tls[0]["counters"]
assert (c["allowed"], c["denied"], c["upstream_failures"]) == (1, 2, 1), c
http = [l for l in s["listeners"] if l["protocol"] == "http"][0]["counters"]
assert (http["allowed"], http["denied"]) == (3, 2), http
PY
[[ $(wc -l <"$dir/listeners.txt") == 3 ]] || fail "expected 3 listeners: $(cat "$dir/listeners.txt")"
[[ $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["policy"]["files"][0]["sha256"])' "$dir/status.json") == \
   $(sha256sum "$dir/policy.yaml" | cut -d' ' -f1) ]] || fail "policy digest differs from sha256sum"
node iptables-save -t mangle >"$dir/mangle.save"
while read -r name port mark; do
  [[ $port == "$(pc_listener_port "$dir/run.log" "$name")" ]] || fail "$name: status port $port, log says otherwise"
  grep -- "--mark $mark" "$dir/mangle.save" | grep -- "--on-port $port " | grep -q "$name" ||
    fail "$name: no TPROXY rule with mark $mark to port $port: $(grep TPROXY "$dir/mangle.save")"
  grep -Eq "^$name .* $port $mark +yes " "$dir/status.txt" || fail "$name $port $mark missing in the status table"
done <"$dir/listeners.txt"

# A reload is counted; the generation moves.
pc_reload "policy reloaded"
pc_metrics >"$dir/m2.txt"
check_metrics "$dir/m2.txt" >"$dir/m2.samples" || fail "/metrics after reload"
[[ $(metric "$dir/m2.samples" 'portcullis_policy_reloads_total{result="ok"}') == 1 ]] || fail "reload not counted"

# Stopped: status cannot reach it and says so with exit 3.
pc_stop
set +e
node "$PORTCULLIS" status 2>"$dir/status.err"
code=$?
set -e
[[ $code == 3 ]] || fail "status against a stopped daemon exited $code, expected 3"
grep -q "cannot reach the daemon's admin endpoint at 127.0.0.1:9964" "$dir/status.err" || fail "status error: $(cat "$dir/status.err")"

# proxy.admin: off: no endpoint at all, and the proxy works as before.
pc_proxy_option "$dir/config.yaml" "admin: off"
pc_start "$NS_NODE" "$dir/config.yaml" "$dir/run.log"
grep -q "admin endpoint off" "$dir/run.log" || fail "admin off not logged: $(cat "$dir/run.log")"
client curl -sf --max-time 5 -o /dev/null http://198.18.2.2/public/index.html || fail "GET with admin off"
if admin -o /dev/null http://127.0.0.1:9964/metrics 2>/dev/null; then fail "something answers on 9964 with admin off"; fi
pc_stop
echo "PASS admin_test"
