#!/usr/bin/env bash
# An origin on the node itself, through portcullis, on a hardened host. The node runs nginx and
# dnsmasq on its own address (198.18.1.1, 2001:db8:1::1, the client's gateway): an ingress rule
# proxies HTTP to it, an egress rule DNS over UDP and TCP (a node-local DNS cache). The proxy's
# upstream hop then ends on the node, answered by sockets that are not the proxy's. Two host
# firewalls: `-m conntrack --ctstate INVALID -j DROP` in INPUT and OUTPUT (hardened hosts), and
# in INPUT only (ufw's default). Each, IPv4 and IPv6, from the client namespace and (HTTP) from a
# local process: allowed -> 200 / NOERROR, denied -> 403 / REFUSED; no packet INVALID in INPUT or
# OUTPUT (counting rules before the drops); after 200 HTTP connections, 60 UDP and 20 TCP
# queries the node's conntrack table grew by no more than the upstream hops to the node, whose
# entries are closing once their connections are done (none picked up mid-stream and kept open
# for minutes). Then with preserve-source, the source address each origin sees (nginx's
# /whoami): the client's for an origin in the server namespace, the node's own for the node's.
set -euo pipefail
here=$(dirname "$0")
source "$here/lib/portcullis.sh" "$1"
source "$here/tools/http_origin.sh"
netns_require_root dnsmasq dig curl

netns_topology
dir=$NETNS_TMP
count_file=/proc/sys/net/netfilter/nf_conntrack_count
conntrack_count() { node cat "$count_file"; }
# /proc/net/nf_conntrack: "ipv4 2 tcp 6 TIMEOUT STATE src=...".
tcp_states() { node awk '$3 == "tcp" {print $6}' /proc/net/nf_conntrack | sort | uniq -c | xargs; }
open_tcp_entries() {
  node awk '$3 == "tcp" && $6 != "TIME_WAIT" && $6 != "CLOSE"' /proc/net/nf_conntrack | wc -l
}
open_tcp_entries_at_most() { [[ $(open_tcp_entries) -le $1 ]]; }

origin_start "$NS_NODE" "$dir" 198.18.1.1 2001:db8:1::1
origin_start "$NS_SERVER" "$dir/remote"  # 198.18.2.2, 2001:db8:2::2: for preserve-source
pc_dnsmasq "$NS_NODE" "$dir" 198.18.1.1,2001:db8:1::1 --address=/allowed.test/198.18.2.10
pc_write_config "$dir"
node_rule() {  # NAME DIRECTION PORT PROTOCOL: the client's traffic to the node's own address
  cat <<RULE
  - name: $1
    direction: $2
    selector:
      source-cidrs: ["198.18.1.0/24", "2001:db8:1::/64"]
      destination-cidrs: ["198.18.1.1/32", "2001:db8:1::1/128"]
      ports: [{port: $3, protocol: $4}]
RULE
}
{
  echo "rules:"
  node_rule web-ingress ingress 80 TCP
  echo '    http: [{method: GET, path: "/(public/.*|whoami)"}]'
  echo '  - name: web-egress'
  echo '    direction: egress'
  echo '    selector:'
  echo '      source-cidrs: ["198.18.1.0/24", "2001:db8:1::/64"]'
  echo '      destination-cidrs: ["198.18.2.0/24", "2001:db8:2::/64"]'
  echo '      ports: [{port: 80, protocol: TCP}]'
  echo '    http: [{method: GET, path: /whoami}]'
  node_rule dns-egress egress 53 ANY
  echo '    dns: [{matchPattern: "*.allowed.test"}]'
  # Processes of uid 4242 on the node itself (the OUTPUT path): both hops on the node.
  echo '  - name: local-egress'
  echo '    direction: egress'
  echo '    selector: {uids: [4242], ports: [{port: 80, protocol: TCP}]}'
  echo '    http: [{method: GET, path: "/public/.*"}]'
} >"$dir/policy.yaml"

# Counters of the first rule in CHAIN of TABLE whose comment contains TEXT.
packets() {  # TOOL TABLE CHAIN TEXT
  node "$1" -t "$2" -L "$3" -v -x -n | awk -v t="$4" 'index($0, t) {print $1; exit}'
}

harden() {  # CHAIN...: INVALID counted in INPUT and OUTPUT, dropped in each CHAIN
  local tool chain
  for tool in iptables ip6tables; do
    for chain in INPUT OUTPUT; do
      node "$tool" -A "$chain" -m conntrack --ctstate INVALID -m comment --comment "test: invalid"
    done
    for chain in "$@"; do
      node "$tool" -A "$chain" -m conntrack --ctstate INVALID -m comment --comment "test: hardened" -j DROP
    done
  done
}
unharden() {
  local tool
  for tool in iptables ip6tables; do node "$tool" -F INPUT && node "$tool" -F OUTPUT; done
}

# A local process as the client: the proxy's answers to it stay untracked, as its own packets
# are, while the upstream hop to the same node is tracked. After the conntrack checks: what the
# kernel sends for its connection once it closed it escapes the owner match and is tracked
# (README: "Not covered").
local_checks() {
  local url want code
  for url in 198.18.1.1/public/index.html:200 [2001:db8:1::1]/public/index.html:200 \
    198.18.1.1/private/secret.txt:403 [2001:db8:1::1]/private/secret.txt:403; do
    want=${url##*:}
    url=http://${url%:*}
    code=$(pc_local_status "$url")
    [[ $code == "$want" ]] || problem "a local process's GET $url answered '$code', not $want"
  done
}

problems=()
problem() { echo "  problem: $*" >&2; problems+=("$*"); }

# Each family, each protocol, allowed and denied, once. Returns 1 when anything failed.
single_checks() {
  local server host code body rcode transport failed=0
  for server in 198.18.1.1 2001:db8:1::1; do
    host=$server
    [[ $server == *:* ]] && host="[$server]"
    body=$(client curl -s --max-time 5 "http://$host/public/index.html") || true
    [[ $body == "hello from origin" ]] || { problem "HTTP to $server: '$body'"; failed=1; }
    code=$(client curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://$host/private/secret.txt") || true
    [[ $code == 403 ]] || { problem "denied HTTP to $server answered '$code'"; failed=1; }
    for transport in +notcp +tcp; do
      rcode=$(pc_rcode "$server" www.allowed.test "$transport")
      [[ $rcode == NOERROR ]] || { problem "DNS ($transport) to $server: $rcode"; failed=1; }
      rcode=$(pc_rcode "$server" www.denied.test "$transport")
      [[ $rcode == REFUSED ]] || { problem "denied DNS ($transport) to $server: $rcode"; failed=1; }
    done
  done
  return "$failed"
}

bulk() {  # 200 HTTP connections, 60 UDP and 20 TCP queries
  local server i names=()
  for server in 198.18.1.1 "[2001:db8:1::1]"; do
    for i in $(seq 100); do printf 'url = "http://%s/public/index.html?%d"\noutput = /dev/null\n' "$server" "$i"; done
  done >"$dir/urls"
  client curl -sf --max-time 10 -H 'Connection: close' -K "$dir/urls" || problem "200 HTTP connections"
  for i in $(seq 30); do names+=("q$i.allowed.test"); done
  for server in 198.18.1.1 2001:db8:1::1; do
    client dig +tries=1 +time=3 "@$server" "${names[@]}" | grep -c "status: NOERROR" | grep -qx 30 ||
      problem "30 UDP queries to $server"
    client dig +tries=1 +time=3 +tcp "@$server" "${names[@]:0:10}" | grep -c "status: NOERROR" | grep -qx 10 ||
      problem "10 TCP queries to $server"
  done
}

variant() {  # NAME CHAIN...: one run of portcullis on a node that drops INVALID in CHAIN...
  local name=$1 tool invalid dropped chain before after open
  shift
  echo "== $name"
  harden "$@"
  node test -r "$count_file" || fail "no $count_file in the node namespace (nf_conntrack not loaded?)"
  pc_start "$NS_NODE" "$dir/config.yaml" "$dir/run-$name.log"
  before=$(conntrack_count)
  open=$(open_tcp_entries)
  if single_checks; then
    bulk
    after=$(conntrack_count)
    echo "  conntrack entries: $before before, $after after 200 connections and 80 queries"
    # The upstream hop to the node may be tracked, one entry per connection at most.
    [[ $((after - before)) -le 240 ]] || problem "conntrack grew from $before to $after"
    # Those entries end with their connections (closing states, seconds to 2 minutes, as for
    # any local connection), rather than open ones picked up mid-stream and kept for minutes.
    wait_until 10 open_tcp_entries_at_most "$open" ||
      problem "$(open_tcp_entries) open TCP entries 10 s after the last connection ($open before)"
    echo "  tcp entries by state: $(tcp_states)"
  else
    echo "  (no bulk run: a single exchange failed)"
  fi
  local_checks
  for tool in iptables ip6tables; do
    for chain in INPUT OUTPUT; do
      invalid=$(packets "$tool" filter "$chain" "test: invalid")
      dropped=$(packets "$tool" filter "$chain" "test: hardened")
      echo "  $tool $chain: ${invalid:-0} INVALID packets, ${dropped:-none} dropped"
      [[ ${invalid:-0} == 0 ]] || problem "$tool $chain saw $invalid INVALID packets"
    done
  done
  pc_stop
  unharden
}

variant input-output INPUT OUTPUT
variant input-only INPUT

# preserve-source: an origin elsewhere sees the client's address; the origin on the node sees the
# node's own, since its answers to the client's address would be routed out to the client
# (README: datapath). Both answer.
echo "== preserve-source"
pc_proxy_option "$dir/config.yaml" "preserve-source: true"
pc_start "$NS_NODE" "$dir/config.yaml" "$dir/run-preserve-source.log"
for check in 198.18.2.2=198.18.1.2 "[2001:db8:2::2]=2001:db8:1::2" \
  198.18.1.1=198.18.1.1 "[2001:db8:1::1]=2001:db8:1::1"; do
  url=http://${check%%=*}/whoami
  seen=$(client curl -s --max-time 5 "$url") || true
  echo "  $url: the origin saw $seen"
  [[ $seen == "${check#*=}" ]] || problem "preserve-source: $url saw '$seen', not ${check#*=}"
done
pc_stop

[[ ${#problems[@]} -eq 0 ]] || fail "${#problems[@]} problems: $(printf '%s; ' "${problems[@]}")"
echo "PASS: HTTP and DNS (UDP, TCP) to the node's own addresses through the proxy on hardened hosts, and with preserve-source (IPv4, IPv6)"
