#!/usr/bin/env bash
# The node's addresses change while portcullis runs: with preserve-source, a connection to an
# address the node gained after the proxy started must still leave from the node's own address
# (the origin's answers to the client's address would be routed out to the client: the
# connection hangs). After the start, the node gets a new interface (a veth pair, as a
# container's) with 198.18.7.1 and 2001:db8:7::1; nginx runs there; the client's GET /whoami
# through the proxy answers 200 and the origin saw the node's own address, IPv4 and IPv6. The
# log names the addresses added, then removed once they are deleted, and a remote origin still
# sees the client's address.
set -euo pipefail
here=$(dirname "$0")
source "$here/lib/portcullis.sh" "$1"
source "$here/tools/http_origin.sh"
netns_require_root curl

netns_topology
dir=$NETNS_TMP
chmod 755 "$dir"  # the origins' folders are below it: nginx's workers run as nobody
origin_start "$NS_SERVER" "$dir/remote"  # 198.18.2.2, 2001:db8:2::2
pc_write_config "$dir"
pc_proxy_option "$dir/config.yaml" "preserve-source: true"
whoami_rule() {  # NAME DIRECTION DESTINATION-CIDRS: GET /whoami on 80 from the client's subnets
  printf '  - name: %s\n    direction: %s\n    selector:\n' "$1" "$2"
  echo '      source-cidrs: ["198.18.1.0/24", "2001:db8:1::/64"]'
  echo "      destination-cidrs: $3"
  echo '      ports: [{port: 80, protocol: TCP}]'
  echo '    http: [{method: GET, path: /whoami}]'
}
{
  echo "rules:"
  whoami_rule new-address ingress '["198.18.7.1/32", "2001:db8:7::1/128"]'
  whoami_rule remote egress '["198.18.2.0/24", "2001:db8:2::/64"]'
} >"$dir/policy.yaml"

problems=()
problem() { echo "  problem: $*" >&2; problems+=("$*"); }

whoami_is() {  # URL EXPECTED
  local seen
  seen=$(client curl -s --max-time 5 "$1") || true
  echo "  $1: the origin saw '$seen'"
  [[ $seen == "$2" ]] || problem "$1 saw '$seen', not $2"
}

pc_start "$NS_NODE" "$dir/config.yaml" "$dir/run.log"
whoami_is http://198.18.2.2/whoami 198.18.1.2

echo "== addresses added after the start"
node ip link add vx0 type veth peer name vx1
node ip link set vx1 up
node ip link set vx0 up
node ip addr add 198.18.7.1/24 dev vx0
node ip -6 addr add 2001:db8:7::1/64 dev vx0 nodad
origin_start "$NS_NODE" "$dir/new" 198.18.7.1 2001:db8:7::1
wait_until 5 grep -q "node addresses: added.* 198.18.7.1" "$PC_LOG" ||
  problem "no log line for the added 198.18.7.1"
wait_until 5 grep -q "node addresses: added.* 2001:db8:7::1" "$PC_LOG" ||
  problem "no log line for the added 2001:db8:7::1"
whoami_is http://198.18.7.1/whoami 198.18.7.1
whoami_is "http://[2001:db8:7::1]/whoami" 2001:db8:7::1
whoami_is "http://[2001:db8:2::2]/whoami" 2001:db8:1::2

echo "== addresses removed"
node ip addr del 198.18.7.1/24 dev vx0
node ip -6 addr del 2001:db8:7::1/64 dev vx0
wait_until 5 grep -q "node addresses: removed.* 198.18.7.1" "$PC_LOG" ||
  problem "no log line for the removed 198.18.7.1"
wait_until 5 grep -q "node addresses: removed.* 2001:db8:7::1" "$PC_LOG" ||
  problem "no log line for the removed 2001:db8:7::1"
whoami_is http://198.18.2.2/whoami 198.18.1.2
pc_stop
grep "node addresses:" "$PC_LOG" | sed 's/^/  log: /'

[[ ${#problems[@]} -eq 0 ]] || fail "${#problems[@]} problems: $(printf '%s; ' "${problems[@]}")"
echo "PASS: preserve-source toward addresses the node gained after the start (IPv4, IPv6); their removal noticed"
