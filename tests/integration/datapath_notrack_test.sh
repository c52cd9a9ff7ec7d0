#!/usr/bin/env bash
# Proxied flows are not connection-tracked on the node, and still pass a hardened host firewall.
# The node drops what conntrack calls INVALID (`-m conntrack --ctstate INVALID -j DROP` in INPUT
# and OUTPUT, iptables and ip6tables), as hardened hosts and kube-proxy do. Through portcullis:
# HTTP (nginx) and DNS over UDP and TCP (dnsmasq) work, IPv4 and IPv6; after 200 HTTP
# connections, 60 UDP and 20 TCP DNS queries the node's conntrack table
# (nf_conntrack_count, per namespace) has not grown with them; the raw NOTRACK to-proxy and
# from-proxy rules counted packets, and the INVALID drops counted none.
set -euo pipefail
here=$(dirname "$0")
source "$here/lib/netns.sh"
source "$here/lib/portcullis.sh" "$1"
source "$here/tools/http_origin.sh"
netns_require_root
pc_require_tools dnsmasq dig curl

netns_topology
dir=$NETNS_TMP
node() { ip netns exec "$NS_NODE" "$@"; }
client() { ip netns exec "$NS_CLIENT" "$@"; }

for tool in iptables ip6tables; do
  for chain in INPUT OUTPUT; do
    node "$tool" -A "$chain" -m conntrack --ctstate INVALID -m comment --comment "test: hardened" -j DROP
  done
done
count_file=/proc/sys/net/netfilter/nf_conntrack_count
node test -r "$count_file" || fail "no $count_file in the node namespace (nf_conntrack not loaded?)"
conntrack_count() { node cat "$count_file"; }

origin_start "$NS_SERVER" "$dir"
pc_dnsmasq "$NS_SERVER" "$dir" 198.18.2.2,2001:db8:2::2 --address=/allowed.test/198.18.2.10
pc_write_config "$dir"
pc_web_dns_policy "$dir/policy.yaml"
pc_start "$NS_NODE" "$dir/config.yaml" "$dir/run.log"

# Each family, each protocol, once: they work with the hardened firewall.
for server in 198.18.2.2 "[2001:db8:2::2]"; do
  body=$(client curl -s --max-time 5 "http://$server/public/index.html") || true
  [[ $body == "hello from origin" ]] || fail "HTTP to $server through the proxy: '$body'"
  code=$(client curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://$server/private/secret.txt") || true
  [[ $code == 403 ]] || fail "denied HTTP to $server answered '$code'"
  for transport in +notcp +tcp; do
    client dig +tries=1 +time=3 "$transport" "@${server//[\[\]]/}" www.allowed.test A | grep -q "status: NOERROR" ||
      fail "DNS ($transport) to $server through the proxy"
  done
done

# Counters of the first rule in CHAIN of TABLE whose comment contains TEXT (both families).
packets() {  # TOOL TABLE CHAIN TEXT
  node "$1" -t "$2" -L "$3" -v -x -n | awk -v t="$4" 'index($0, t) {print $1; exit}'
}

# N proxied connections must not leave N conntrack entries. The client hop used to be tracked
# (classification ran after raw), so each connection left one entry (TIME_WAIT/CLOSE, kept for
# seconds to minutes after it ended).
for server in 198.18.2.2 "[2001:db8:2::2]"; do
  for i in $(seq 100); do printf 'url = "http://%s/public/index.html?%d"\noutput = /dev/null\n' "$server" "$i"; done
done >"$dir/urls"
before=$(conntrack_count)
client curl -sf --max-time 60 -H 'Connection: close' -K "$dir/urls" || fail "200 HTTP connections"
for server in 198.18.2.2 2001:db8:2::2; do
  names=()
  for i in $(seq 30); do names+=("q$i.allowed.test"); done
  client dig +tries=1 +time=3 "@$server" "${names[@]}" | grep -c "status: NOERROR" | grep -qx 30 ||
    fail "30 UDP queries to $server"
  client dig +tries=1 +time=3 +tcp "@$server" "${names[@]:0:10}" | grep -c "status: NOERROR" | grep -qx 10 ||
    fail "10 TCP queries to $server"
done
connections=$(awk '{print $1}' "$dir/access.log" | sort -u | wc -l)
[[ $connections -ge 200 ]] || fail "the origin saw $connections connections, not 200"
after=$(conntrack_count)
echo "conntrack entries on the node: $before before, $after after 200 connections and 80 queries"
[[ $((after - before)) -le 10 ]] || { node cat /proc/net/nf_conntrack 2>/dev/null | head -n 20 >&2;
  fail "the node's conntrack table grew from $before to $after"; }

for tool in iptables ip6tables; do
  to=$(packets "$tool" raw PORTCULLIS_PRE_raw "notrack to-proxy")
  from=$(packets "$tool" raw PORTCULLIS_OUTPUT_raw "notrack from-proxy")
  echo "$tool: notrack to-proxy $to packets, from-proxy (OUTPUT) $from packets"
  [[ ${to:-0} -gt 0 ]] || fail "$tool: the NOTRACK to-proxy rule never matched"
  [[ ${from:-0} -gt 0 ]] || fail "$tool: the NOTRACK from-proxy rule never matched"
  for chain in INPUT OUTPUT; do
    dropped=$(packets "$tool" filter "$chain" "test: hardened")
    [[ $dropped == 0 ]] || fail "$tool $chain dropped $dropped INVALID packets"
  done
done

netns_stop "$PC_PID" TERM || fail "portcullis did not exit cleanly"
echo "PASS: proxied flows are untracked on the node and pass a hardened firewall (IPv4, IPv6)"
