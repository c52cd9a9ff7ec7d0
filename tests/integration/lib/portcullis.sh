# Helpers for tests that run the portcullis binary in a namespace. Sources lib/netns.sh, so a
# test sources only this file: `source "$(dirname "$0")/lib/portcullis.sh" "$1"`.
#   pc_write_config DIR [FIRST LAST]             config.yaml + policy.yaml (HTTP egress 80/TCP
#                                                from 198.18.1.0/24, DNS 53/ANY) in DIR
#   pc_proxy_option CONFIG "KEY: VALUE"          adds one line under `proxy:` of CONFIG
#   pc_start NS CONFIG LOG                       runs `portcullis run`, waits for "running";
#                                                sets PC_PID and PC_LOG
#   pc_stop                                      SIGTERM; fails (log tail shown) unless it exits 0
#   pc_reload PATTERN                            SIGHUP; waits until the log says PATTERN after it
#   pc_listener_port LOG NAME                    the port of a listener from its log line
#   pc_require_listener LOG NAME                 the same, and fails unless that line is there
#                                                with a to-proxy mark (0x....0200)
#   pc_metrics                                   the node's /metrics (default admin address)
#   pc_state NS                                  iptables-save, ip6tables-save, ip rule, routes of
#                                                table 2004, without the timestamp comments
#   pc_host_rules NS                             rules of the host's own in mangle and raw, both
#                                                families, that must survive us untouched
#   pc_require_tools TOOL...                     fails naming the first missing tool
#   pc_tool NAME                                 the path of a built test tool (tools/), or fails
#   pc_rule NAME PORT PROTOCOL                   prints the head of an egress rule selecting the
#                                                client's subnets (198.18.1.0/24, 2001:db8:1::/64)
#                                                on PORT; the caller appends its L7 part
#   pc_web_dns_policy FILE                       the policy of the access-log and admin tests:
#                                                GET /public/.* on 80, *.allowed.test on 53
#   pc_dns_policy PATTERN                        prints a policy of one DNS rule (53/ANY from the
#                                                client's subnets) allowing matchPattern PATTERN
#   pc_dnsmasq NS DIR LISTEN [dnsmasq args...]   dnsmasq in NS on the comma-separated LISTEN
#                                                addresses (log DIR/dnsmasq.log); waits until the
#                                                node ($NS_NODE) gets an answer from the first
#   pc_direct_connect PORT URL WHEN              GET URL from the client's PORT, not redirected;
#                                                fails unless 200 and connected within 0.5 s (no
#                                                SYN lost to a TIME_WAIT socket); prints that time
#   pc_local_status URL                          the HTTP status a process of uid 4242 on the
#                                                node gets for URL ("000" without an answer)
#   pc_rcode SERVER NAME [dig options...]        the RCODE the client gets for NAME A from
#                                                SERVER ("none" without an answer)

source "$(dirname "${BASH_SOURCE[0]}")/netns.sh"

PORTCULLIS=${PORTCULLIS:-$1}
[[ -x $PORTCULLIS ]] || fail "usage: $0 /path/to/portcullis"

pc_write_config() {  # DIR [PORT_FIRST PORT_LAST]
  local dir=$1 first=${2:-20000} last=${3:-20004}
  cat >"$dir/config.yaml" <<CONFIG
proxy:
  port-range: [$first, $last]
datapath:
  ipv6: true
  route-table: 2004
  rule-priority: 9
  reconcile-interval: 1s
  iptables: nft
policy-files: [policy.yaml]
CONFIG
  cat >"$dir/policy.yaml" <<'POLICY'
rules:
  - name: web-egress
    direction: egress
    selector:
      interfaces: ["veth+"]
      source-cidrs: ["198.18.1.0/24", "2001:db8:1::/64"]
      ports: [{port: 80, protocol: TCP}]
    http: []
  - name: dns-egress
    direction: egress
    selector:
      source-cidrs: ["198.18.1.0/24", "2001:db8:1::/64"]
      ports: [{port: 53, protocol: ANY}]
    dns:
      - matchPattern: "*"
POLICY
}

pc_start() {  # NS CONFIG LOG
  : >"$3"
  netns_spawn "$1" "$3" "$PORTCULLIS" run --config "$2" --log-level debug
  PC_PID=$NETNS_LAST_PID
  PC_LOG=$3
  wait_until 10 grep -q "running; reconcile every" "$3" || { cat "$3" >&2; fail "portcullis did not start"; }
}

pc_stop() {
  netns_stop "$PC_PID" TERM || { tail -n 30 "$PC_LOG" >&2; fail "portcullis did not exit 0 on SIGTERM"; }
}

pc_reload() {  # PATTERN
  local lines
  lines=$(wc -l <"$PC_LOG")
  kill -HUP "$PC_PID"
  wait_until 10 pc_logged_after "$lines" "$1" || { cat "$PC_LOG" >&2; fail "no '$1' after SIGHUP"; }
}

pc_logged_after() {  # LINES PATTERN: PATTERN in the log after its first LINES lines
  tail -n +"$(($1 + 1))" "$PC_LOG" | grep -q -- "$2"
}

pc_proxy_option() {  # CONFIG "KEY: VALUE"
  sed -i "s|^proxy:\$|proxy:\n  $2|" "$1"
  grep -qF -- "  $2" "$1" || fail "could not set $2 in $1"
}

pc_listener_port() {  # LOG NAME
  sed -n "s/.* listener $2 port \([0-9]*\) mark .*/\1/p" "$1" | tail -n 1
}

pc_require_listener() {  # LOG NAME
  grep -Eq " listener $2 port [0-9]+ mark 0x[0-9a-f]+0200" "$1" || { cat "$1" >&2; fail "no $2 listener logged"; }
  pc_listener_port "$1" "$2"
}

pc_metrics() {
  node curl -sS --max-time 5 http://127.0.0.1:9964/metrics || fail "no /metrics"
}

pc_state() {  # NS
  # A table that never held a route does not exist: that prints nothing here.
  ip netns exec "$1" sh -c 'iptables-save; ip6tables-save; ip rule; ip -6 rule;
    ip route show table 2004 2>/dev/null; ip -6 route show table 2004 2>/dev/null; true' | grep -v '^#'
}

pc_host_rules() {  # NS
  local t
  for t in iptables ip6tables; do
    ip netns exec "$1" "$t" -t mangle -A PREROUTING -i eth1 -j MARK --set-mark 0x4000
    ip netns exec "$1" "$t" -t raw -A PREROUTING -p udp --dport 9 -j CT --notrack
  done
}

pc_require_tools() {  # TOOL...
  netns_require_tools "$@"
}

pc_tool() {  # NAME
  local path=${PORTCULLIS_TOOLS:-$(dirname "$PORTCULLIS")/../tests/integration/tools}/$1
  [[ -x $path ]] || fail "missing $path (build target $1)"
  echo "$path"
}

pc_rule() {  # NAME PORT PROTOCOL
  cat <<RULE
  - name: $1
    direction: egress
    selector:
      source-cidrs: ["198.18.1.0/24", "2001:db8:1::/64"]
      ports: [{port: $2, protocol: $3}]
RULE
}

pc_web_dns_policy() {  # FILE
  {
    echo "rules:"
    pc_rule web-egress 80 TCP
    echo '    http:'
    echo '      - {method: GET, path: "/public/.*"}'
    pc_rule dns-egress 53 ANY
    echo '    dns:'
    echo '      - matchPattern: "*.allowed.test"'
  } >"$1"
}

pc_dns_policy() {  # PATTERN
  echo "rules:"
  pc_rule dns-egress 53 ANY
  echo "    dns: [{matchPattern: \"$1\"}]"
}

pc_dnsmasq() {  # NS DIR LISTEN [dnsmasq args...]
  local ns=$1 dir=$2 listen=$3
  shift 3
  netns_spawn "$ns" "$dir/dnsmasq.log" dnsmasq --keep-in-foreground --no-resolv --no-hosts \
    --conf-file=/dev/null --pid-file="$dir/dnsmasq.pid" --bind-interfaces \
    --listen-address="$listen" "$@"
  # Any answer will do (REFUSED too): dnsmasq is up.
  wait_until 10 ip netns exec "$NS_NODE" dig +tries=1 +time=1 "@${listen%%,*}" probe.invalid ||
    { cat "$dir/dnsmasq.log" >&2; fail "dnsmasq did not start"; }
}

pc_direct_connect() {  # PORT URL WHEN
  local out
  out=$(client curl -s -o /dev/null --max-time 5 --local-port "$1" -w '%{http_code} %{time_connect}' "$2") ||
    fail "direct connection $3 from port $1 to $2 failed ($out)"
  [[ ${out%% *} == 200 ]] || fail "direct request $3 from port $1 to $2: $out"
  awk -v t="${out##* }" 'BEGIN { exit !(t < 0.5) }' ||
    fail "direct connect $3 from port $1 to $2 took ${out##* } s (a SYN lost to TIME_WAIT)"
  echo "${out##* }"
}

pc_local_status() {  # URL
  node setpriv --reuid=4242 --regid=4242 --clear-groups curl -s --max-time 5 -o /dev/null \
    -w '%{http_code}' "$1" || true
}

pc_rcode() {  # SERVER NAME [dig options...]
  local server=$1 name=$2
  shift 2
  client dig +tries=1 +time=3 "$@" "@$server" "$name" A 2>&1 |
    sed -n 's/.*status: \([A-Z]*\),.*/\1/p' | grep . || echo none
}
