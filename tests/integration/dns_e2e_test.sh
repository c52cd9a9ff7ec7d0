#!/usr/bin/env bash
# DNS through portcullis end to end: real dnsmasq in the server namespace, real dig in the client
# namespace, portcullis in the node between them (SPEC.md "Verdicts on the wire", issue 5).
#   allowed name: NOERROR with dnsmasq's answer; denied name: REFUSED (dnsmasq itself answers it);
#   UDP and TCP, IPv4 and IPv6; every answer comes from the server the client asked;
#   a TC answer is passed through; malformed datagrams do not disturb the next valid query.
set -euo pipefail
source "$(dirname "$0")/lib/portcullis.sh" "$1"
netns_require_root dnsmasq dig
tc_server=$(pc_tool dns_tc_server)

netns_topology
dir=$NETNS_TMP
# A second server address for the TC server; dnsmasq binds only the first.
ip -n "$NS_SERVER" addr add 198.18.2.3/24 dev eth0
ip -n "$NS_SERVER" -6 addr add 2001:db8:2::3/64 dev eth0 nodad

pc_dnsmasq "$NS_SERVER" "$dir" 198.18.2.2,2001:db8:2::2 --log-queries --log-facility=- \
  --address=/allowed.test/198.18.2.10 --address=/denied.test/198.18.2.11
netns_spawn "$NS_SERVER" "$dir/tc.log" "$tc_server" 198.18.2.3 53 120
netns_spawn "$NS_SERVER" "$dir/tc6.log" "$tc_server" 2001:db8:2::3 53 120

# Control, before portcullis: the node is not redirected, and dnsmasq answers both names, so a
# REFUSED later can only come from the proxy.
node_dig() { node dig +tries=1 +time=1 "$@"; }
[[ $(node_dig +short @198.18.2.2 www.allowed.test) == 198.18.2.10 ]] || fail "control: dnsmasq should answer allowed.test"
wait_until 5 node_dig @2001:db8:2::2 www.allowed.test || fail "dnsmasq does not answer on IPv6"
[[ $(node_dig +short @198.18.2.2 www.denied.test) == 198.18.2.11 ]] || fail "control: dnsmasq should answer denied.test"

control_lines=$(wc -l <"$dir/dnsmasq.log")
pc_write_config "$dir"
{
  echo "rules:"
  pc_rule dns-egress 53 ANY
  echo '    dns: [{matchName: "allowed.test"}, {matchPattern: "*.allowed.test"}]'
} >"$dir/policy.yaml"
pc_start "$NS_NODE" "$dir/config.yaml" "$dir/run.log"

# query SERVER NAME [dig options...]: runs dig in the client, prints the file holding its output
query() {
  local server=$1 name=$2 out
  shift 2
  out=$(mktemp "$dir/dig.XXXXXX")
  client dig +tries=1 +time=3 "$@" "@$server" "$name" A >"$out" 2>&1 || true
  echo "$out"
}
expect() {  # OUTPUT STATUS SERVER TRANSPORT [ANSWER]: one dig result, asserted
  local out=$1 status=$2 server=$3 transport=$4 answer=${5:-}
  grep -q "status: $status," "$out" || { cat "$out" >&2; fail "expected $status ($server $transport)"; }
  # dig takes a UDP answer only from the address it asked: one from elsewhere is dropped (a
  # timeout here) or reported as coming from an unexpected source.
  grep -q "unexpected source" "$out" && { cat "$out" >&2; fail "an answer came from elsewhere"; }
  grep -q "^;; SERVER: $server#53($server) ($transport)" "$out" ||
    { cat "$out" >&2; fail "answer not from $server#53 over $transport"; }
  if [[ -n $answer ]]; then
    grep -Eq "IN[[:space:]]+A[[:space:]]+$answer\$" "$out" || { cat "$out" >&2; fail "answer $answer missing"; }
  else
    grep -q "ANSWER: 0," "$out" || { cat "$out" >&2; fail "a denied query got records"; }
    grep -q "^;.*IN[[:space:]]*A\$" "$out" || { cat "$out" >&2; fail "the question was not echoed"; }
  fi
}

for server in 198.18.2.2 2001:db8:2::2; do
  expect "$(query "$server" www.allowed.test)" NOERROR "$server" UDP 198.18.2.10
  expect "$(query "$server" allowed.test)" NOERROR "$server" UDP 198.18.2.10
  expect "$(query "$server" www.denied.test)" REFUSED "$server" UDP
  expect "$(query "$server" a.b.allowed.test)" REFUSED "$server" UDP   # '*' never crosses a dot
  expect "$(query "$server" www.allowed.test +tcp)" NOERROR "$server" TCP 198.18.2.10
  expect "$(query "$server" www.denied.test +tcp)" REFUSED "$server" TCP
done
# Several queries on one TCP connection, each answered.
out=$dir/multi
client dig +tries=1 +time=3 +tcp +keepopen @198.18.2.2 \
  www.allowed.test A www.denied.test A api.allowed.test A >"$out" 2>&1 || true
[[ $(grep -c "status: NOERROR," "$out") -eq 2 && $(grep -c "status: REFUSED," "$out") -eq 1 ]] ||
  { cat "$out" >&2; fail "three queries on one TCP connection"; }

# The allowed queries really went through dnsmasq (from the node: the proxy connects from its own
# address), the denied ones never reached it.
tail -n +$((control_lines + 1)) "$dir/dnsmasq.log" >"$dir/dnsmasq.proxied"
grep -q "query\[A\] www.allowed.test from 198.18.2.1\$" "$dir/dnsmasq.proxied" &&
  grep -q "query\[A\] www.allowed.test from 2001:db8:2::1\$" "$dir/dnsmasq.proxied" ||
  { cat "$dir/dnsmasq.log" >&2; fail "dnsmasq never saw the proxy's queries (v4 and v6)"; }
grep -q "from 198.18.1.2\|from 2001:db8:1::2" "$dir/dnsmasq.proxied" && fail "a client query bypassed the proxy"
grep -q "www.denied.test\|a.b.allowed.test" "$dir/dnsmasq.proxied" &&
  { cat "$dir/dnsmasq.proxied" >&2; fail "a denied query reached dnsmasq"; }

# A truncated answer is relayed as it is, so the client can retry over TCP.
for server in 198.18.2.3 2001:db8:2::3; do
  out=$(query "$server" www.allowed.test +ignore)
  grep -q "^;; flags: qr tc rd;" "$out" || { cat "$out" >&2; fail "TC answer from $server not passed through"; }
  grep -q "status: NOERROR," "$out" && grep -q "^;; SERVER: $server#53($server) (UDP)" "$out" ||
    { cat "$out" >&2; fail "TC answer from $server altered"; }
done

# Malformed datagrams (random bytes, a bare header, a header with a cut question) are dropped or
# answered FORMERR; the listener keeps serving.
client bash -c '
  for target in 198.18.2.2 2001:db8:2::2; do
    head -c 200 /dev/urandom >/dev/udp/$target/53
    printf "\x12\x34" >/dev/udp/$target/53
    printf "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" >/dev/udp/$target/53
    printf "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x3fwww" >/dev/udp/$target/53
    printf "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01" >/dev/udp/$target/53
  done' || fail "cannot send the malformed datagrams"
kill -0 "$PC_PID" 2>/dev/null || { cat "$dir/run.log" >&2; fail "portcullis died on malformed datagrams"; }
for server in 198.18.2.2 2001:db8:2::2; do
  expect "$(query "$server" www.allowed.test)" NOERROR "$server" UDP 198.18.2.10
  expect "$(query "$server" www.denied.test)" REFUSED "$server" UDP
done

pc_stop
echo "PASS: DNS allowed/denied over UDP and TCP, IPv4 and IPv6, from the server's address; TC passed through; malformed datagrams dropped"
