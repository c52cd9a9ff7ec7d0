#!/usr/bin/env bash
# The access log (issue 6) end to end: real curl and dig in the client namespace, nginx and
# dnsmasq behind the node. An allowed and a denied HTTP request and DNS query (UDP and TCP,
# IPv4 and IPv6) each produce one JSON line with the fields of the record (time, direction,
# verdict, rule, endpoints, protocol; HTTP method/host/target/status/bytes/duration; DNS
# query/type/rcode/answers/ttl); every line parses as JSON (python3). SIGUSR1 after a rename
# (logrotate) moves the log to a new file; SIGTERM writes what is queued before exiting. TLS:
# an allowed SNI, a denied one and a ClientHello without SNI each produce one record with the SNI,
# verdict, rule and addresses (openssl s_server as the origin, s_client as the client).
set -euo pipefail
here=$(dirname "$0")
source "$here/lib/portcullis.sh" "$1"
source "$here/tools/http_origin.sh"
netns_require_root dnsmasq dig curl python3 openssl

netns_topology
dir=$NETNS_TMP
log=$dir/portcullis-access.log
origin_start "$NS_SERVER" "$dir"
pc_dnsmasq "$NS_SERVER" "$dir" 198.18.2.2,2001:db8:2::2 --local-ttl=300 \
  --address=/allowed.test/198.18.2.10 --address=/denied.test/198.18.2.20

pc_write_config "$dir"
pc_proxy_option "$dir/config.yaml" "access-log: $log"
pc_web_dns_policy "$dir/policy.yaml"
{ pc_rule tls-egress 443 TCP; echo '    tls: [{serverNames: ["api.allowed.test"]}]'; } >>"$dir/policy.yaml"
pc_start "$NS_NODE" "$dir/config.yaml" "$dir/run.log"
grep -q "access log: $log" "$dir/run.log" || fail "access log not announced: $(cat "$dir/run.log")"

# The TLS origin: openssl s_server with a certificate of this run.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=api.allowed.test \
  -keyout "$dir/tls.key" -out "$dir/tls.crt" 2>/dev/null || fail "openssl req failed"
netns_spawn "$NS_SERVER" "$dir/tls.out" openssl s_server -quiet -accept 443 -cert "$dir/tls.crt" \
  -key "$dir/tls.key" -www
tls_hello() {  # NAME (empty: no SNI) [ADDRESS]: a TLS handshake from the client; its exit status
  local sni=(-servername "$1")
  [[ -n $1 ]] || sni=(-noservername)
  client timeout 5 openssl s_client -connect "${2:-198.18.2.2}:443" "${sni[@]}" \
    </dev/null >/dev/null 2>&1
}
wait_until 5 node timeout 2 openssl s_client -connect 198.18.2.2:443 </dev/null ||
  fail "openssl s_server did not start"

tls_hello api.allowed.test || fail "allowed TLS handshake failed"
tls_hello evil.allowed.test && fail "denied SNI completed a handshake"
tls_hello "" "[2001:db8:2::2]" && fail "a ClientHello without SNI completed a handshake"
client curl -sf --max-time 5 -o /dev/null http://198.18.2.2/public/index.html || fail "allowed GET failed"
code=$(client curl -s --max-time 5 -o /dev/null -w '%{http_code}' 'http://[2001:db8:2::2]/private/secret.txt?q="x"') || true
[[ $code == 403 ]] || fail "denied GET answered $code"
[[ $(pc_rcode 198.18.2.2 www.allowed.test) == NOERROR ]] || fail "allowed query"
[[ $(pc_rcode 2001:db8:2::2 www.denied.test) == REFUSED ]] || fail "denied query"
[[ $(pc_rcode 198.18.2.2 tcp.allowed.test +tcp) == NOERROR ]] || fail "allowed TCP query"

lines() { [[ -f $1 ]] && wc -l <"$1" || echo 0; }
at_least() { [[ $(lines "$log") -ge $1 ]]; }  # N: the writer flushes every 100 ms
wait_until 5 at_least 8 || { cat "$log" >&2; fail "expected 8 records, got $(lines "$log")"; }

# Every line is JSON; the five records carry their fields.
python3 - "$log" <<'PY' || { cat "$log" >&2; fail "records do not match"; }
import json, sys, re
records = [json.loads(line) for line in open(sys.argv[1])]
assert len(records) == 8, len(records)
time_re = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
for r in records:
    assert time_re.match(r["time"]), r["time"]
    assert r["direction"] == "egress", r
    for side in ("source", "destination"):
        assert r[side]["ip"] and 0 < r[side]["port"] < 65536, r
def find(pred):
    hits = [r for r in records if pred(r)]
    assert len(hits) == 1, hits
    return hits[0]
ok = find(lambda r: r["protocol"] == "http" and r["verdict"] == "forwarded")
assert ok["rule"] == "web-egress" and ok["listener"] == "portcullis-http-egress", ok
assert ok["source"]["ip"] == "198.18.1.2" and ok["destination"] == {"ip": "198.18.2.2", "port": 80}, ok
h = ok["http"]
assert (h["method"], h["host"], h["target"], h["status"]) == ("GET", "198.18.2.2", "/public/index.html", 200), h
assert h["response_bytes"] > len("hello from origin\n") and h["duration_us"] >= 0, h
no = find(lambda r: r["protocol"] == "http" and r["verdict"] == "denied")
assert no["source"]["ip"] == "2001:db8:1::2" and no["destination"]["ip"] == "2001:db8:2::2", no
assert no["http"]["target"] == '/private/secret.txt?q="x"' and no["http"]["status"] == 403, no
assert no["rule"] == "web-egress", no
dns_ok = find(lambda r: r["protocol"] == "dns" and r["dns"]["query"] == "www.allowed.test.")
d = dns_ok["dns"]
assert dns_ok["verdict"] == "forwarded" and dns_ok["rule"] == "dns-egress", dns_ok
assert (d["type"], d["rcode"], d["answers"], d["ttl"], d["transport"]) == ("A", "NOERROR", ["198.18.2.10"], 300, "udp"), d
assert dns_ok["destination"] == {"ip": "198.18.2.2", "port": 53}, dns_ok
dns_no = find(lambda r: r["protocol"] == "dns" and r["dns"]["query"] == "www.denied.test.")
assert dns_no["verdict"] == "denied" and dns_no["dns"]["rcode"] == "REFUSED" and dns_no["dns"]["answers"] == [], dns_no
assert dns_no["rule"] == "dns-egress", dns_no
tcp = find(lambda r: r["protocol"] == "dns" and r["dns"]["query"] == "tcp.allowed.test.")
assert tcp["dns"]["transport"] == "tcp" and tcp["dns"]["answers"] == ["198.18.2.10"], tcp
tls_ok = find(lambda r: r["protocol"] == "tls" and r["verdict"] == "forwarded")
assert tls_ok["tls"] == {"sni": "api.allowed.test"} and tls_ok["rule"] == "tls-egress", tls_ok
assert tls_ok["listener"] == "portcullis-tls-egress" and "info" not in tls_ok, tls_ok
assert tls_ok["source"]["ip"] == "198.18.1.2" and tls_ok["destination"] == {"ip": "198.18.2.2", "port": 443}, tls_ok
tls_no = find(lambda r: r["protocol"] == "tls" and r["tls"]["sni"] == "evil.allowed.test")
assert tls_no["verdict"] == "denied" and tls_no["rule"] == "tls-egress" and tls_no["info"] == "SNI not allowed", tls_no
no_sni = find(lambda r: r["protocol"] == "tls" and r["tls"]["sni"] == "")
assert no_sni["verdict"] == "denied" and no_sni["info"] == "no SNI", no_sni
assert no_sni["destination"] == {"ip": "2001:db8:2::2", "port": 443}, no_sni
PY

# logrotate: rename, then SIGUSR1; the next records go to a new file at the configured path.
mv "$log" "$log.1"
kill -USR1 "$PC_PID"
wait_until 5 grep -q "access log $log reopened" "$dir/run.log" || fail "SIGUSR1 did not reopen"
client curl -sf --max-time 5 -o /dev/null http://198.18.2.2/public/one.txt || fail "GET after rotation"
wait_until 5 grep -q '"/public/one.txt"' "$log" || fail "no record in the reopened file"
[[ $(lines "$log.1") -eq 8 ]] || fail "the rotated file changed"

# SIGTERM: a record queued just before the signal is still written.
client curl -sf --max-time 5 -o /dev/null http://198.18.2.2/public/two.txt || fail "last GET"
pc_stop
grep -q '"/public/two.txt"' "$log" || fail "the last record was lost at shutdown"
python3 -c 'import json,sys; [json.loads(l) for f in sys.argv[1:] for l in open(f)]' "$log" "$log.1" ||
  fail "a line is not JSON"
echo "PASS: access log records for allowed and denied HTTP, DNS and TLS; SIGUSR1 reopens; SIGTERM flushes"
