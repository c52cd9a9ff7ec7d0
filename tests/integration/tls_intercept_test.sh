#!/usr/bin/env bash
# TLS interception through `portcullis run` (issue 7), end to end. The test makes two CAs with
# the openssl CLI: the proxy's (terminatingTLS mints a leaf per SNI with it; curl trusts only
# it) and the origin's (nginx's certificate; originatingTLS trusts only it). Checked: an allowed
# path gets the origin's page inside TLS and the origin saw the request (IPv4 and IPv6); a denied
# path is answered 403 inside TLS and never reaches the origin; an origin whose certificate does
# not carry the name asked is refused (503); a tls-only rule on another port still passes
# through untouched with the origin's own certificate; the requests inside TLS are counted on
# /metrics (intercepted="true"); SIGTERM exits 0.
set -euo pipefail
here=$(dirname "$0")
source "$here/lib/portcullis.sh" "$1"
source "$here/lib/https_origin.sh"
netns_require_root nginx openssl curl

netns_topology
dir=$NETNS_TMP
pc_write_config "$dir"
pclog=$dir/portcullis-access.jsonl
pc_proxy_option "$dir/config.yaml" "access-log: $pclog"

tls_make_ca "$dir" proxy-ca
# The origin's certificate (from origin-ca) names api.example.test and pass.example.test, not
# mismatch.example.test: asked for that name, the origin answers with a certificate that does
# not carry it.
https_origin_certs "$dir" api.example.test pass.example.test

cat >"$dir/policy.yaml" <<POLICY
rules:
  - name: tls-inspect
    direction: egress
    selector:
      source-cidrs: ["198.18.1.0/24", "2001:db8:1::/64"]
      destination-cidrs: ["198.18.2.0/24", "2001:db8:2::/64"]
      ports: [{port: 443, protocol: TCP}]
    terminatingTLS: {ca-certificate: $dir/proxy-ca.crt, ca-key: $dir/proxy-ca.key}
    originatingTLS: {ca-bundle: $dir/origin-ca.crt}
    http:
      - method: GET
        path: "/v1/.*"
POLICY
{ pc_rule tls-pass 8443 TCP; echo '    tls: [{serverNames: ["pass.example.test"]}]'; } >>"$dir/policy.yaml"

https_origin_start "$NS_SERVER" "$dir" 'origin says $request_uri\n' 8443

pc_start "$NS_NODE" "$dir/config.yaml" "$dir/run.log"
pc_require_listener "$dir/run.log" portcullis-tls-egress >/dev/null

https() {  # NAME ADDRESS PORT PATH CA [curl args]: prints "STATUS BODY"
  local name=$1 address=$2 port=$3 path=$4 ca=$5
  shift 5
  client curl -sS --max-time 10 --cacert "$dir/$ca.crt" --resolve "$name:$port:$address" \
    -w ' %{http_code}' "$@" "https://$name:$port$path"
}

# Allowed inside TLS, both families: curl trusts only the proxy's CA, so it verified a leaf minted
# for the name; the origin saw the request with the SNI (the proxy verified nginx's certificate
# against the origin CA).
for address in 198.18.2.2 "[2001:db8:2::2]"; do
  out=$(https api.example.test "$address" 443 /v1/items proxy-ca 2>"$dir/curl.err") ||
    fail "allowed at $address: $(cat "$dir/curl.err"; tail -5 "$dir/run.log")"
  [[ $out == "origin says /v1/items
 200" ]] || fail "allowed at $address: '$out'"
done
[[ $(grep -c "^api.example.test /v1/items 200" "$dir/access.log") -eq 2 ]] ||
  fail "origin log: $(cat "$dir/access.log")"
issuer=$(client openssl s_client -connect 198.18.2.2:443 -servername api.example.test </dev/null \
  2>/dev/null | openssl x509 -noout -issuer) || fail "openssl s_client through the proxy failed"
[[ $issuer == *"CN = proxy-ca"* ]] || fail "not a minted leaf: $issuer"

# Denied path: 403 inside TLS; never at the origin. Then an allowed one on the same connection.
out=$(https api.example.test 198.18.2.2 443 /admin proxy-ca 2>"$dir/curl.err") ||
  fail "denied: $(cat "$dir/curl.err")"
[[ $out == "Access denied"*" 403" ]] || fail "denied: '$out'"
out=$(client curl -sS --max-time 10 --cacert "$dir/proxy-ca.crt" \
  --resolve api.example.test:443:198.18.2.2 -w ' %{http_code} %{num_connects}\n' \
  https://api.example.test/admin https://api.example.test/v1/again 2>"$dir/curl.err") ||
  fail "keep-alive: $(cat "$dir/curl.err")"
[[ $(grep -c " 403 1$" <<<"$out") -eq 1 && $(grep -c " 200 0$" <<<"$out") -eq 1 ]] ||
  fail "403 then 200 on one connection: '$out'"
grep -q " /admin " "$dir/access.log" && fail "a denied request reached the origin"
# The requests inside TLS are in portcullis's access log like port-80 ones.
denied_record() { grep '"protocol":"http"' "$pclog" | grep '"verdict":"denied"' | grep -q '"/admin"'; }
wait_until 5 denied_record || fail "no access-log record for the 403 inside TLS: $(cat "$pclog")"
allowed_record() {
  grep '"protocol":"http"' "$pclog" | grep '"verdict":"forwarded"' | grep -q '"/v1/again"'
}
wait_until 5 allowed_record ||
  fail "no access-log record for the allowed request inside TLS: $(cat "$pclog")"

# The origin's certificate does not carry the name asked: refused, 503, reason logged.
out=$(https mismatch.example.test 198.18.2.2 443 /v1/x proxy-ca 2>"$dir/curl.err") ||
  fail "mismatch: $(cat "$dir/curl.err")"
[[ $out == *" 503" ]] || fail "mismatch: '$out'"
grep -q "503 for .*: TLS to 198.18.2.2:443: certificate verify failed" "$dir/run.log" ||
  fail "no log line for the refused origin: $(grep -i tls "$dir/run.log" | tail -5)"
grep -q "^mismatch" "$dir/access.log" && fail "the refused origin was sent the request"

# A tls-only rule still passes through: curl trusts only the origin CA here.
out=$(https pass.example.test 198.18.2.2 8443 /anything origin-ca 2>"$dir/curl.err") ||
  fail "passthrough: $(cat "$dir/curl.err")"
[[ $out == "origin says /anything
 200" ]] || fail "passthrough: '$out'"
grep -q "^pass.example.test /anything 200" "$dir/access.log" || fail "passthrough not at origin"

# The requests inside TLS on /metrics: the HTTP series labelled intercepted="true" (4 allowed:
# /v1/items twice, /v1/again, /v1/x whose origin was refused; 2 denied: /admin twice). No plain
# HTTP listener runs here, so no series without the label may count them.
metrics=$(pc_metrics)
inside='direction="egress",protocol="http",intercepted="true"'
for want in "portcullis_requests_total{$inside,verdict=\"allowed\"} 4" \
  "portcullis_requests_total{$inside,verdict=\"denied\"} 2" \
  "portcullis_upstream_failures_total{$inside,reason=\"unreachable\"} 1" \
  "portcullis_upstream_latency_seconds_count{$inside} 3"; do
  grep -qxF "$want" <<<"$metrics" || fail "/metrics lacks '$want': $(grep 'protocol="http"' <<<"$metrics")"
done
grep -q '^portcullis_requests_total{direction="egress",protocol="http",verdict=' <<<"$metrics" &&
  fail "intercepted requests counted as a plain HTTP listener's"

pc_stop
echo "PASS: tls_intercept_test"
