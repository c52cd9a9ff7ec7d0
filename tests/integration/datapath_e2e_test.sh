#!/usr/bin/env bash
# End to end through the kernel and the real proxies: TCP connections and UDP datagrams from the
# client namespace to a server address behind the node are redirected by the installed datapath
# to portcullis's IP_TRANSPARENT listeners, which forward them to the client's original
# destination: stand-in servers there (tools/tproxy_listener on the server's own addresses)
# print each flow that reaches them. HTTP over TCP, DNS over UDP and TCP; IPv4 and IPv6.
set -euo pipefail
source "$(dirname "$0")/lib/portcullis.sh" "$1"
netns_require_root dig
listener=$(pc_tool tproxy_listener)

netns_topology
dir=$NETNS_TMP
pc_write_config "$dir"
pc_start "$NS_NODE" "$dir/config.yaml" "$dir/run.log"
http=$(pc_require_listener "$dir/run.log" portcullis-http-egress)
dns=$(pc_require_listener "$dir/run.log" portcullis-dns-egress)
# The proxies, not anything else, hold the ports the TPROXY rules point at.
for p in "$http" "$dns"; do
  node ss -Hltnp "sport = :$p" | grep -q "portcullis" || fail "portcullis does not listen on $p"
done
node ss -Hlunp "sport = :$dns" | grep -q "portcullis" || fail "no DNS UDP socket on $dns"

start_server() {  # NAME BIND PORT COUNT
  netns_spawn "$NS_SERVER" "$dir/$1.out" "$listener" "$2" "$3" "$4" 20
  eval "pid_$1=$NETNS_LAST_PID"
  wait_until 5 grep -qx ready "$dir/$1.out" || fail "server $1 did not start: $(cat "$dir/$1.out")"
}
start_server http4 198.18.2.2 80 1
start_server dns4 198.18.2.2 53 2
start_server http6 2001:db8:2::2 80 1
start_server dns6 2001:db8:2::2 53 2

client() { ip netns exec "$NS_CLIENT" timeout 5 "$@"; }
# The stand-ins answer no HTTP or DNS: only their logs matter, not the client's outcome.
client curl -s -o /dev/null http://198.18.2.2/ || true
client curl -s -o /dev/null "http://[2001:db8:2::2]/" || true
for server in 198.18.2.2 2001:db8:2::2; do
  client dig +tries=1 +timeout=1 "@$server" example.test >/dev/null || true
  client dig +tcp +tries=1 +timeout=1 "@$server" example.test >/dev/null || true
done

for name in http4 dns4 http6 dns6; do
  pid_var=pid_$name
  netns_stop "${!pid_var}" CONT || { cat "$dir/$name.out" >&2; fail "server $name missed flows"; }
done
# The node's address is the source (no preserve-source); the destination is the original one.
grep -Eq '^tcp 198\.18\.2\.1:[0-9]+ -> 198\.18\.2\.2:80$' "$dir/http4.out" || fail "IPv4 HTTP: $(cat "$dir/http4.out")"
grep -Eq '^udp 198\.18\.2\.1:[0-9]+ -> 198\.18\.2\.2:53$' "$dir/dns4.out" || fail "IPv4 DNS UDP: $(cat "$dir/dns4.out")"
grep -Eq '^tcp 198\.18\.2\.1:[0-9]+ -> 198\.18\.2\.2:53$' "$dir/dns4.out" || fail "IPv4 DNS TCP: $(cat "$dir/dns4.out")"
grep -Eq '^tcp \[2001:db8:2::1\]:[0-9]+ -> \[2001:db8:2::2\]:80$' "$dir/http6.out" || fail "IPv6 HTTP: $(cat "$dir/http6.out")"
grep -Eq '^udp \[2001:db8:2::1\]:[0-9]+ -> \[2001:db8:2::2\]:53$' "$dir/dns6.out" || fail "IPv6 DNS UDP: $(cat "$dir/dns6.out")"
grep -Eq '^tcp \[2001:db8:2::1\]:[0-9]+ -> \[2001:db8:2::2\]:53$' "$dir/dns6.out" || fail "IPv6 DNS TCP: $(cat "$dir/dns6.out")"

# Traffic no selector matches is forwarded untouched: the server sees the client itself.
start_server plain 198.18.2.2 8080 1
client bash -c 'exec 3<>/dev/tcp/198.18.2.2/8080 && head -n 1 <&3' >"$dir/plain.reply" || fail "unredirected TCP to :8080 failed"
grep -Eq '^tcp 198\.18\.1\.2:[0-9]+ -> 198\.18\.2\.2:8080$' "$dir/plain.reply" || fail "unredirected: $(cat "$dir/plain.reply")"
netns_stop "$pid_plain" CONT || fail "the server did not get the unredirected connection"

pc_stop
echo "PASS: TCP and UDP flows pass the proxies to their original destination (IPv4, IPv6)"
