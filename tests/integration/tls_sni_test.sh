#!/usr/bin/env bash
# TLS SNI passthrough through `portcullis run` (issue 7), end to end: nginx serves HTTPS with a
# certificate this test makes; curl in the client namespace reaches it by name (--resolve).
# An allowed SNI (exact and wildcard, IPv4 and IPv6) gets the origin's page under the origin's
# own certificate (nothing is intercepted); a denied SNI and a ClientHello without SNI are
# reset and never reach the origin; plain HTTP on 443 is reset; SIGTERM exits 0.
set -euo pipefail
here=$(dirname "$0")
source "$here/lib/portcullis.sh" "$1"
source "$here/lib/https_origin.sh"
netns_require_root nginx openssl curl

netns_topology
dir=$NETNS_TMP
pc_write_config "$dir"
{
  echo "rules:"
  pc_rule tls-egress 443 TCP
  echo '    tls: [{serverNames: ["api.example.test", "*.cdn.example.test"]}]'
} >"$dir/policy.yaml"

# The origin's certificate is valid for every name the test uses (denied ones too, so a failure
# can only come from the proxy).
https_origin_certs "$dir" api.example.test img.cdn.example.test evil.example.test a.b.cdn.example.test
https_origin_start "$NS_SERVER" "$dir" 'hello over tls\n'

pc_start "$NS_NODE" "$dir/config.yaml" "$dir/run.log"
pc_require_listener "$dir/run.log" portcullis-tls-egress >/dev/null

https() {  # NAME ADDRESS [curl args]: GET https://NAME/ with NAME resolved to ADDRESS
  local name=$1 address=$2
  shift 2
  client curl -sS --max-time 5 --cacert "$dir/origin-ca.crt" --resolve "$name:443:$address" \
    "$@" "https://$name/"
}

# Allowed, both families, exact name and wildcard; the certificate is the origin's own: curl
# trusts only the origin's CA, and the leaf's fingerprint is the one openssl saw through the proxy.
for address in 198.18.2.2 "[2001:db8:2::2]"; do
  for name in api.example.test img.cdn.example.test; do
    body=$(https "$name" "$address" 2>"$dir/curl.err") ||
      fail "allowed $name at $address: $(cat "$dir/curl.err")"
    [[ $body == "hello over tls" ]] || fail "allowed $name at $address: body '$body'"
  done
done
want=$(openssl x509 -in "$dir/origin.crt" -noout -fingerprint -sha256)
seen=$(client openssl s_client -connect 198.18.2.2:443 -servername api.example.test </dev/null 2>/dev/null |
  openssl x509 -noout -fingerprint -sha256) || fail "openssl s_client through the proxy failed"
[[ $seen == "$want" ]] || fail "the client saw another certificate: $seen (origin: $want)"
[[ $(grep -c "^api.example.test / 200" "$dir/access.log") -eq 2 ]] ||
  fail "origin log: $(cat "$dir/access.log")"

# Denied: a name outside the list, one label too deep for the wildcard, and no SNI at all
# (curl sends none for an IP address). Each is reset after the ClientHello.
for name in evil.example.test a.b.cdn.example.test; do
  if https "$name" 198.18.2.2 -o /dev/null 2>"$dir/curl.err"; then fail "denied $name passed"; fi
  grep -qi "reset" "$dir/curl.err" || fail "denied $name: not a reset: $(cat "$dir/curl.err")"
  grep -q "deny .* sni=$name: SNI not allowed" "$dir/run.log" || fail "no deny log line for $name"
done
if client curl -sS --max-time 5 -k -o /dev/null https://198.18.2.2/ 2>"$dir/curl.err"; then
  fail "a ClientHello without SNI passed"
fi
grep -qi "reset" "$dir/curl.err" || fail "no SNI: not a reset: $(cat "$dir/curl.err")"
grep -q "deny .* sni=-: no SNI" "$dir/run.log" || fail "no deny log line for the missing SNI"
# Plain HTTP to port 443 is not a ClientHello.
if client curl -sS --max-time 5 -o /dev/null http://198.18.2.2:443/ 2>"$dir/curl.err"; then
  fail "plain HTTP on 443 passed"
fi
grep -q "malformed ClientHello" "$dir/run.log" || fail "no deny log line for plain HTTP"
grep -Eq "^(evil|a\.b\.cdn|-) " "$dir/access.log" && fail "a denied connection reached the origin"

pc_stop
echo "PASS: tls_sni_test"
