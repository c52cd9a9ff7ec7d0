#!/usr/bin/env bash
# No TIME_WAIT trap once redirection ends. A client that sent `Connection: close` is closed by
# the proxy first, which leaves a TIME_WAIT socket in the node whose local address is the
# original destination (transparent accept). Once that flow is no longer redirected (a SIGHUP
# that drops its selector, or exit), a direct SYN reusing the 4-tuple would be dropped by early
# demux for up to 60 s. Both cases, IPv4 and IPv6 (and DNS over TCP, closed by the proxy when
# its server closed, at exit): the direct reconnect must connect at once. And the proxy's origin
# connections left idle by keep-alive clients that end leave no TIME_WAIT socket either.
set -euo pipefail
here=$(dirname "$0")
source "$here/lib/portcullis.sh" "$1"
source "$here/tools/http_origin.sh"
netns_require_root curl ss python3

netns_topology
dir=$NETNS_TMP
pc_write_config "$dir"
write_policy() {  # PORT
  {
    echo "rules:"
    pc_rule web-egress "$1" TCP
    echo '    http: [{method: GET, path: "/public/.*"}]'
    pc_rule dns-egress 53 TCP
    echo '    dns: [{matchPattern: "*"}]'
  } >"$dir/policy.yaml"
}
write_policy 80
origin_start "$NS_SERVER" "$dir"
# A DNS-over-TCP server that answers one query per connection (an empty NOERROR answer) and
# closes: the proxy then closes its client first.
cat >"$dir/dns_tcp.py" <<'PY'
import socket, struct, sys, time
mode, address, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
def read_message(s):
    head = b""
    while len(head) < 2 and (c := s.recv(2 - len(head))):
        head += c
    if len(head) < 2:
        return None
    body = b""
    while len(body) < struct.unpack("!H", head)[0] and (c := s.recv(4096)):
        body += c
    return body
if mode == "server":
    listener = socket.create_server((address, port))
    while True:
        conn, _ = listener.accept()
        query = read_message(conn)
        if query:
            answer = query[:2] + bytes([query[2] | 0x80, 0]) + query[4:]
            conn.sendall(struct.pack("!H", len(answer)) + answer)
        conn.close()
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("", int(sys.argv[4])))
started = time.monotonic()
s.connect((address, port))
connect_seconds = time.monotonic() - started
query = bytes.fromhex("abcd0100000100000000000007657861" "6d706c65047465737400000100 01".replace(" ", ""))
s.sendall(struct.pack("!H", len(query)) + query)
answer = read_message(s)
if mode == "client-wait-close":
    while s.recv(4096):
        pass
s.close()
ok = answer and answer[:2] == query[:2] and answer[2] & 0x80
print(f"answered {connect_seconds:.6f}" if ok else "no answer")
PY
netns_spawn "$NS_SERVER" "$dir/dns_tcp.log" timeout 120 python3 "$dir/dns_tcp.py" server 198.18.2.2 53
listed() { [[ -n $("$@") ]]; }  # cmd...: prints something
wait_until 5 listed server ss -Hltn 'sport = :53' || fail "the DNS-over-TCP server did not start"
pc_start "$NS_NODE" "$dir/config.yaml" "$dir/run.log"

# Through the proxy with Connection: close from PORT, reading until the proxy's FIN (curl
# would close as soon as the body is complete, racing the proxy): the proxy closes first.
proxied_close() {  # PORT ADDRESS
  local code
  code=$(client timeout 10 python3 - "$1" "$2" <<'PY'
import socket, sys
port, address = int(sys.argv[1]), sys.argv[2]
family = socket.AF_INET6 if ":" in address else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.bind(("", port))
s.connect((address, 80))
s.sendall(b"GET /public/one.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
reply = b""
while chunk := s.recv(4096):
    reply += chunk
s.close()
print(reply.split(b" ")[1].decode() if reply else "none")
PY
  ) || true
  [[ $code == 200 ]] || fail "proxied request from port $1 to $2: $code"
  wait_until 2 listed node ss -Htn state time-wait "sport = :80 and dport = :$1" ||
    fail "no TIME_WAIT socket in the node for port $1 (the proxy did not close first?)"
}
# The same 4-tuple directly: connects at once.
direct_reuse() { pc_direct_connect "$1" "http://$2/private/secret.txt" "$3"; }  # PORT HOST WHEN

# Keep-alive clients that leave between requests (curl closes first at exit): their idle origin
# connections are reset, not closed with a FIN, so the node keeps no TIME_WAIT socket toward
# the origin (one per client connection before, 200 of 200 in a run of bench/lib/idle_conns.py).
for i in 1 2 3; do
  for host in 198.18.2.2 "[2001:db8:2::2]"; do
    code=$(client curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://$host/public/one.txt") || true
    [[ $code == 200 ]] || fail "keep-alive GET to $host: $code"
  done
done
sleep 0.5  # a FIN exchange would be over by now
left=$(node ss -Htn state time-wait 'dport = :80' || true)
[[ -z $left ]] || fail "TIME_WAIT sockets of the proxy toward the origin after its clients left: $left"

# A reload that stops redirecting port 80.
proxied_close 41001 198.18.2.2
proxied_close 41002 2001:db8:2::2
write_policy 8080
pc_reload "policy reloaded"
grep -q "destroyed [1-9][0-9]* TIME_WAIT" "$dir/run.log" || { cat "$dir/run.log" >&2; fail "no sweep logged after the reload"; }
t_reload4=$(direct_reuse 41001 198.18.2.2 "after the reload")
t_reload6=$(direct_reuse 41002 "[2001:db8:2::2]" "after the reload")

# Redirected again, then exit.
write_policy 80
pc_reload "policy reloaded"
proxied_close 41003 198.18.2.2
proxied_close 41004 2001:db8:2::2
dns=$(client timeout 10 python3 "$dir/dns_tcp.py" client-wait-close 198.18.2.2 53 41005) || true
[[ $dns == answered* ]] || fail "proxied DNS over TCP from port 41005: $dns"
wait_until 2 listed node ss -Htn state time-wait 'sport = :53 and dport = :41005' ||
  fail "no TIME_WAIT socket in the node for DNS over TCP from port 41005"
pc_stop
grep -q "destroyed [1-9][0-9]* TIME_WAIT sockets of the proxy at exit" "$dir/run.log" ||
  { cat "$dir/run.log" >&2; fail "no sweep logged at exit"; }
t_exit4=$(direct_reuse 41003 198.18.2.2 "after exit")
t_exit6=$(direct_reuse 41004 "[2001:db8:2::2]" "after exit")
dns=$(client timeout 10 python3 "$dir/dns_tcp.py" client 198.18.2.2 53 41005) || true
t_dns=${dns##* }
[[ $dns == answered* ]] || fail "direct DNS over TCP after exit from port 41005: $dns"
awk -v t="$t_dns" 'BEGIN { exit !(t < 0.5) }' || fail "direct DNS over TCP after exit took $t_dns s (a SYN lost to TIME_WAIT)"
left=$(node ss -Htn state time-wait 'sport = :80 or sport = :53' || true)
[[ -z $left ]] || fail "TIME_WAIT sockets on ports 80 and 53 left in the node after exit: $left"
echo "PASS: no TIME_WAIT trap (direct reconnect after reload ${t_reload4}/${t_reload6} s, after exit ${t_exit4}/${t_exit6} s, DNS over TCP ${t_dns} s)"
