#!/usr/bin/env bash
# No TIME_WAIT trap once redirection ends. A client that sent `Connection: close` is closed by
# the proxy first, which leaves a TIME_WAIT socket in the node whose local address is the
# original destination (transparent accept). Once that flow is no longer redirected (a SIGHUP
# that drops its selector, or exit), a direct SYN reusing the 4-tuple would be dropped by early
# demux for up to 60 s. Both cases, IPv4 and IPv6: the direct reconnect must connect at once.
set -euo pipefail
here=$(dirname "$0")
source "$here/lib/netns.sh"
source "$here/lib/portcullis.sh" "$1"
source "$here/tools/http_origin.sh"
netns_require_root
pc_require_tools curl ss python3

netns_topology
dir=$NETNS_TMP
pc_write_config "$dir"
write_policy() {  # PORT
  cat >"$dir/policy.yaml" <<POLICY
rules:
  - name: web-egress
    direction: egress
    selector:
      source-cidrs: ["198.18.1.0/24", "2001:db8:1::/64"]
      ports: [{port: $1, protocol: TCP}]
    http:
      - {method: GET, path: "/public/.*"}
POLICY
}
write_policy 80
origin_start "$NS_SERVER" "$dir"
pc_start "$NS_NODE" "$dir/config.yaml" "$dir/run.log"

client() { ip netns exec "$NS_CLIENT" "$@"; }
reload() {  # LOG-PATTERN
  local n
  n=$(grep -c "SIGHUP" "$dir/run.log" || true)
  kill -HUP "$PC_PID"
  wait_until 5 bash -c "[[ \$(grep -c SIGHUP '$dir/run.log') -gt $n ]] && grep -q '$1' '$dir/run.log'" ||
    { cat "$dir/run.log" >&2; fail "reload: no '$1' in the log"; }
}
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
  wait_until 2 bash -c "[[ -n \$(ip netns exec '$NS_NODE' ss -Htn state time-wait 'sport = :80 and dport = :$1') ]]" ||
    fail "no TIME_WAIT socket in the node for port $1 (the proxy did not close first?)"
}
# The same 4-tuple directly: connects at once.
direct_reuse() {  # PORT URL-HOST WHEN
  local out
  out=$(client curl -s -o /dev/null --max-time 5 --local-port "$1" -w '%{http_code} %{time_connect}' \
    "http://$2/private/secret.txt") || fail "direct connection $3 from port $1 to $2 failed ($out)"
  [[ ${out%% *} == 200 ]] || fail "direct request $3 from port $1 to $2: $out"
  awk -v t="${out##* }" 'BEGIN { exit !(t < 0.5) }' ||
    fail "direct connect $3 from port $1 to $2 took ${out##* } s (a SYN lost to TIME_WAIT)"
  echo "${out##* }"
}

# A reload that stops redirecting port 80.
proxied_close 41001 198.18.2.2
proxied_close 41002 2001:db8:2::2
write_policy 8080
reload "policy reloaded"
grep -q "destroyed [1-9][0-9]* TIME_WAIT" "$dir/run.log" || { cat "$dir/run.log" >&2; fail "no sweep logged after the reload"; }
t_reload4=$(direct_reuse 41001 198.18.2.2 "after the reload")
t_reload6=$(direct_reuse 41002 "[2001:db8:2::2]" "after the reload")

# Redirected again, then exit.
write_policy 80
reload "policy reloaded"
proxied_close 41003 198.18.2.2
proxied_close 41004 2001:db8:2::2
netns_stop "$PC_PID" TERM || { cat "$dir/run.log" >&2; fail "portcullis did not exit 0 on SIGTERM"; }
grep -q "destroyed [1-9][0-9]* TIME_WAIT sockets of the proxy at exit" "$dir/run.log" ||
  { cat "$dir/run.log" >&2; fail "no sweep logged at exit"; }
t_exit4=$(direct_reuse 41003 198.18.2.2 "after exit")
t_exit6=$(direct_reuse 41004 "[2001:db8:2::2]" "after exit")
left=$(ip netns exec "$NS_NODE" ss -Htn state time-wait 'sport = :80' || true)
[[ -z $left ]] || fail "TIME_WAIT sockets on port 80 left in the node after exit: $left"
echo "PASS: no TIME_WAIT trap (direct reconnect after reload ${t_reload4}/${t_reload6} s, after exit ${t_exit4}/${t_exit6} s)"
