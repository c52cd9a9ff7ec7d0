#!/usr/bin/env bash
# Install and teardown on a real kernel: after `run` starts, iptables-save, ip6tables-save,
# `ip rule` and table 2004 show exactly the expected state; the host's own rules in mangle, raw
# and filter are untouched; after SIGTERM the namespace is byte-identical to before.
set -euo pipefail
source "$(dirname "$0")/lib/portcullis.sh" "$1"
netns_require_root

netns_topology
ns=$NS_NODE
dir=$NETNS_TMP
pc_write_config "$dir"

# The host's own rules, which must survive untouched.
pc_host_rules "$ns"
for t in iptables ip6tables; do
  ip netns exec "$ns" "$t" -t filter -A INPUT -p tcp --dport 22 -j ACCEPT
done
pc_state "$ns" >"$dir/before"

pc_start "$ns" "$dir/config.yaml" "$dir/run.log"
http=$(pc_require_listener "$dir/run.log" portcullis-http-egress)
dns=$(pc_require_listener "$dir/run.log" portcullis-dns-egress)
[[ $http != "$dns" ]] || fail "two listeners on port $http"
mark() { printf '0x%x' $(( ((($1 & 0xff) << 8 | $1 >> 8) << 16) | 0x200 )); }
http_mark=$(mark "$http")
dns_mark=$(mark "$dns")
grep -q "listener portcullis-http-egress port $http mark $http_mark" "$dir/run.log" || fail "mark of $http is not $http_mark"

# The exact state, as the kernel prints it.
expected_family() {  # SOURCE ON_IP
  cat <<STATE
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:PORTCULLIS_OUTPUT_mangle - [0:0]
:PORTCULLIS_PRE_mangle - [0:0]
-A PREROUTING -m comment --comment "portcullis: jump" -j PORTCULLIS_PRE_mangle
-A PREROUTING -i eth1 -j MARK --set-xmark 0x4000/0xffffffff
-A OUTPUT -m comment --comment "portcullis: jump" -j PORTCULLIS_OUTPUT_mangle
-A PORTCULLIS_PRE_mangle -p tcp -m socket --transparent -m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN -m comment --comment "portcullis: transparent socket tcp" -j MARK --set-xmark 0x200/0xffffffff
-A PORTCULLIS_PRE_mangle -p tcp -m mark --mark $http_mark -m comment --comment "portcullis: tproxy portcullis-http-egress" -j TPROXY --on-port $http --on-ip $2 --tproxy-mark 0x200/0xffffffff
-A PORTCULLIS_PRE_mangle -p tcp -m mark --mark $dns_mark -m comment --comment "portcullis: tproxy portcullis-dns-egress" -j TPROXY --on-port $dns --on-ip $2 --tproxy-mark 0x200/0xffffffff
-A PORTCULLIS_PRE_mangle -p udp -m mark --mark $dns_mark -m comment --comment "portcullis: tproxy portcullis-dns-egress" -j TPROXY --on-port $dns --on-ip $2 --tproxy-mark 0x200/0xffffffff
-A PORTCULLIS_PRE_mangle -p udp -m socket --transparent -m comment --comment "portcullis: transparent socket udp" -j MARK --set-xmark 0x200/0xffffffff
COMMIT
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:PORTCULLIS_OUTPUT_raw - [0:0]
:PORTCULLIS_PRE_raw - [0:0]
-A PREROUTING -m comment --comment "portcullis: jump" -j PORTCULLIS_PRE_raw
-A PREROUTING -p udp -m udp --dport 9 -j CT --notrack
-A OUTPUT -m comment --comment "portcullis: jump" -j PORTCULLIS_OUTPUT_raw
-A PORTCULLIS_OUTPUT_raw -o lo -m mark --mark 0xa00 -m addrtype --dst-type LOCAL -m comment --comment "portcullis: track upstream to local" -j RETURN
-A PORTCULLIS_OUTPUT_raw -m mark --mark 0xa00/0xfffffeff -m comment --comment "portcullis: notrack from-proxy" -j CT --notrack
-A PORTCULLIS_PRE_raw -s $1 -i veth+ -p tcp -m tcp --dport 80 -m mark --mark 0x0/0xf00 -m comment --comment "portcullis: classify egress web-egress" -j MARK --set-xmark $http_mark/0xffffffff
-A PORTCULLIS_PRE_raw -s $1 -p tcp -m tcp --dport 53 -m mark --mark 0x0/0xf00 -m comment --comment "portcullis: classify egress dns-egress" -j MARK --set-xmark $dns_mark/0xffffffff
-A PORTCULLIS_PRE_raw -s $1 -p udp -m udp --dport 53 -m mark --mark 0x0/0xf00 -m comment --comment "portcullis: classify egress dns-egress" -j MARK --set-xmark $dns_mark/0xffffffff
-A PORTCULLIS_PRE_raw -m mark --mark 0x200/0xf00 -m comment --comment "portcullis: notrack to-proxy" -j CT --notrack
-A PORTCULLIS_PRE_raw -m mark --mark 0x0 -m socket --restore-skmark -m mark ! --mark 0xa00/0xfffffeff -m comment --comment "portcullis: proxy socket mark" -j MARK --set-xmark 0x0/0xffffffff
-A PORTCULLIS_PRE_raw -m mark --mark 0xa00/0xfffffeff -m comment --comment "portcullis: notrack from-proxy" -j CT --notrack
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
COMMIT
STATE
}
{
  expected_family 198.18.1.0/24 127.0.0.1
  expected_family 2001:db8:1::/64 ::1
  cat <<'RULES'
0:	from all lookup local
9:	from all fwmark 0x200/0xf00 lookup 2004
32766:	from all lookup main
32767:	from all lookup default
0:	from all lookup local
9:	from all fwmark 0x200/0xf00 lookup 2004
32766:	from all lookup main
local default dev lo scope host 
local default dev lo metric 1024 pref medium
RULES
} >"$dir/expected"
pc_state "$ns" >"$dir/installed"
diff -u "$dir/expected" "$dir/installed" || fail "installed state differs from the expected one"

# The host's rules: the same lines, in the same order, as before.
grep -v portcullis "$dir/installed" | grep -v -e '^:PORTCULLIS' -e fwmark -e '^local' >"$dir/foreign"
grep -v -e '^local' "$dir/before" | diff -u - "$dir/foreign" || fail "the host's own rules changed"

status=0
netns_stop "$PC_PID" TERM || status=$?
[[ $status -eq 0 ]] || { cat "$dir/run.log" >&2; fail "portcullis exited $status after SIGTERM"; }
pc_state "$ns" >"$dir/after"
diff -u "$dir/before" "$dir/after" || fail "teardown left the namespace different from before"
echo "PASS: install shows exactly the expected state; teardown restores the namespace byte for byte"
