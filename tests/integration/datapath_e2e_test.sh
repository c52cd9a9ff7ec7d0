#!/usr/bin/env bash
# End to end through the kernel: TCP connections and UDP datagrams from the client namespace to
# a server address behind the node are redirected by the installed datapath to IP_TRANSPARENT
# listeners on the node (tools/tproxy_listener, standing in for the proxy), which see the
# client's original destination. IPv4 and IPv6.
set -euo pipefail
here=$(dirname "$0")
source "$here/lib/netns.sh"
source "$here/lib/portcullis.sh" "$1"
netns_require_root
tools=${PORTCULLIS_TOOLS:-$(dirname "$PORTCULLIS")/../tests/integration/tools}
listener=$tools/tproxy_listener
[[ -x $listener ]] || fail "missing $listener (build target tproxy_listener)"

netns_topology
dir=$NETNS_TMP
pc_write_config "$dir"
pc_start "$NS_NODE" "$dir/config.yaml" "$dir/run.log"
http=$(pc_listener_port "$dir/run.log" portcullis-http-egress)
dns=$(pc_listener_port "$dir/run.log" portcullis-dns-egress)

# The TPROXY rules send to 127.0.0.1 / ::1 on the listener ports. HTTP gets one TCP flow per
# family; DNS one UDP datagram and one TCP connection per family.
start_listener() {  # NAME BIND PORT COUNT
  netns_spawn "$NS_NODE" "$dir/$1.out" "$listener" "$2" "$3" "$4" 20
  eval "pid_$1=$NETNS_LAST_PID"
  wait_until 5 grep -qx ready "$dir/$1.out" || fail "listener $1 did not start: $(cat "$dir/$1.out")"
}
start_listener http4 127.0.0.1 "$http" 1
start_listener dns4 127.0.0.1 "$dns" 2
start_listener http6 ::1 "$http" 1
start_listener dns6 ::1 "$dns" 2

client() { ip netns exec "$NS_CLIENT" timeout 5 bash -c "$1"; }
tcp_line() {  # HOST PORT: the line the listener echoes back
  client "exec 3<>/dev/tcp/$1/$2 && head -n 1 <&3"
}
udp_send() { client "echo query >/dev/udp/$1/$2"; }

reply=$(tcp_line 198.18.2.2 80) || fail "IPv4 TCP connection to 198.18.2.2:80 failed"
[[ $reply =~ ^tcp\ 198\.18\.1\.2:[0-9]+\ -\>\ 198\.18\.2\.2:80$ ]] || fail "unexpected IPv4 TCP reply: $reply"
udp_send 198.18.2.2 53
tcp_line 198.18.2.2 53 >/dev/null || fail "IPv4 TCP to port 53 failed"
reply6=$(tcp_line 2001:db8:2::2 80) || fail "IPv6 TCP connection to [2001:db8:2::2]:80 failed"
[[ $reply6 =~ ^tcp\ \[2001:db8:1::2\]:[0-9]+\ -\>\ \[2001:db8:2::2\]:80$ ]] || fail "unexpected IPv6 TCP reply: $reply6"
udp_send 2001:db8:2::2 53
tcp_line 2001:db8:2::2 53 >/dev/null || fail "IPv6 TCP to port 53 failed"

for name in http4 dns4 http6 dns6; do
  pid_var=pid_$name
  netns_stop "${!pid_var}" CONT || { cat "$dir/$name.out" >&2; fail "listener $name missed flows"; }
done
grep -Eq '^udp 198\.18\.1\.2:[0-9]+ -> 198\.18\.2\.2:53$' "$dir/dns4.out" || fail "IPv4 UDP: $(cat "$dir/dns4.out")"
grep -Eq '^tcp 198\.18\.1\.2:[0-9]+ -> 198\.18\.2\.2:53$' "$dir/dns4.out" || fail "IPv4 DNS TCP: $(cat "$dir/dns4.out")"
grep -Eq '^udp \[2001:db8:1::2\]:[0-9]+ -> \[2001:db8:2::2\]:53$' "$dir/dns6.out" || fail "IPv6 UDP: $(cat "$dir/dns6.out")"

# Traffic no selector matches is forwarded untouched: the server sees it, not a listener.
netns_spawn "$NS_SERVER" "$dir/server.out" "$listener" 198.18.2.2 8080 1 10
server_pid=$NETNS_LAST_PID
wait_until 5 grep -qx ready "$dir/server.out" || fail "server did not start"
tcp_line 198.18.2.2 8080 >/dev/null || fail "unredirected TCP to :8080 failed"
netns_stop "$server_pid" CONT || fail "the server did not get the unredirected connection"

netns_stop "$PC_PID" TERM || fail "portcullis did not exit cleanly"
echo "PASS: TCP and UDP reach the transparent listeners with their original destination (IPv4, IPv6)"
