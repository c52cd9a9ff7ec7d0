#!/usr/bin/env bash
# Proxied flows are not connection-tracked on the node, and still pass a hardened host firewall.
# The node drops what conntrack calls INVALID (`-m conntrack --ctstate INVALID -j DROP` in INPUT
# and OUTPUT, iptables and ip6tables), as hardened hosts do. Through portcullis:
# HTTP (nginx) and DNS over UDP and TCP (dnsmasq) work, IPv4 and IPv6, from the client namespace
# and (HTTP) from a local process of the node (OUTPUT path, uid selector); after 200 HTTP
# connections, 60 UDP and 20 TCP DNS queries the node's conntrack table
# (nf_conntrack_count, per namespace) has not grown with them; the raw NOTRACK to-proxy and
# from-proxy rules counted packets, and the INVALID drops counted nothing but a few resets of the
# local process's connections after it closed them (README: "Not covered").
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
  # Counts (before dropping them) INVALID packets in OUTPUT: resets sent for the local process's
  # connections once it has closed them (no longer sent by a full socket, they escape the owner
  # match of the raw OUTPUT NOTRACK rule, so conntrack sees them, and INVALID; none without the
  # local part), and the others, which must be none. Two counters of one chain, so that no
  # packet counted between two readings can make them disagree.
  node "$tool" -N pc-invalid
  node "$tool" -A pc-invalid -p tcp --tcp-flags RST RST -m comment --comment "test: stray reset" -j RETURN
  node "$tool" -A pc-invalid -m comment --comment "test: invalid, not a reset"
  node "$tool" -A OUTPUT -m conntrack --ctstate INVALID -j pc-invalid
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
# Local processes of uid 4242 take the OUTPUT path (marked in mangle OUTPUT, back in through lo).
cat >>"$dir/policy.yaml" <<'POLICY'
  - name: local-egress
    direction: egress
    selector: {uids: [4242], ports: [{port: 80, protocol: TCP}]}
    http: [{method: GET, path: "/public/.*"}]
POLICY
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

# A local process through the proxy: the 403 shows the request was proxied, not routed.
for server in 198.18.2.2 "[2001:db8:2::2]"; do
  code=$(pc_local_status "http://$server/public/index.html")
  [[ $code == 200 ]] || fail "a local process's allowed GET to $server answered '$code'"
  code=$(pc_local_status "http://$server/private/secret.txt")
  [[ $code == 403 ]] || fail "a local process's denied GET to $server answered '$code'"
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
  dropped=$(packets "$tool" filter INPUT "test: hardened")
  [[ $dropped == 0 ]] || fail "$tool INPUT dropped $dropped INVALID packets"
  # Nothing of a proxied flow is INVALID in OUTPUT but those resets (a few per local connection:
  # the proxy's side retransmits what they answer until it gives up).
  dropped=$(packets "$tool" filter OUTPUT "test: hardened")
  resets=$(packets "$tool" filter pc-invalid "test: stray reset")
  others=$(packets "$tool" filter pc-invalid "test: invalid, not a reset")
  echo "$tool: INVALID dropped in OUTPUT: $dropped (socketless resets: $resets, others: $others)"
  [[ $others == 0 ]] || fail "$tool OUTPUT dropped $others INVALID packets that are not resets"
done

netns_stop "$PC_PID" TERM || fail "portcullis did not exit cleanly"
echo "PASS: proxied flows are untracked on the node and pass a hardened firewall (IPv4, IPv6)"
