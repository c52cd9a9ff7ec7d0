# Helpers for tests that run the portcullis binary in a namespace. Needs lib/netns.sh first.
#   pc_write_config DIR [extra datapath lines]   config.yaml + policy.yaml (HTTP egress 80/TCP
#                                                from 198.18.1.0/24, DNS 53/ANY) in DIR
#   pc_start NS CONFIG LOG                       runs `portcullis run`, waits for "running"
#   pc_listener_port LOG NAME                    the port of a listener from its log line
#   pc_state NS                                  iptables-save, ip6tables-save, ip rule, routes of
#                                                table 2004, without the timestamp comments
#   pc_require_tools TOOL...                     fails naming the first missing tool
#   pc_rule NAME PORT PROTOCOL                   prints the head of an egress rule selecting the
#                                                client's subnets (198.18.1.0/24, 2001:db8:1::/64)
#                                                on PORT; the caller appends its L7 part
#   pc_web_dns_policy FILE                       the policy of the access-log and admin tests:
#                                                GET /public/.* on 80, *.allowed.test on 53
#   pc_dnsmasq NS DIR LISTEN [dnsmasq args...]   dnsmasq in NS on the comma-separated LISTEN
#                                                addresses (log DIR/dnsmasq.log); waits until the
#                                                node ($NS_NODE) gets an answer from the first

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
  wait_until 10 grep -q "running; reconcile every" "$3" || { cat "$3" >&2; fail "portcullis did not start"; }
}

pc_listener_port() {  # LOG NAME
  sed -n "s/.* listener $2 port \([0-9]*\) mark .*/\1/p" "$1" | tail -n 1
}

pc_state() {  # NS
  # A table that never held a route does not exist: that prints nothing here.
  ip netns exec "$1" sh -c 'iptables-save; ip6tables-save; ip rule; ip -6 rule;
    ip route show table 2004 2>/dev/null; ip -6 route show table 2004 2>/dev/null; true' | grep -v '^#'
}

pc_require_tools() {  # TOOL...
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || fail "missing $tool (scripts/setup.sh installs it)"
  done
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
