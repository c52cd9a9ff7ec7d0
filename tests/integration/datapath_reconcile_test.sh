#!/usr/bin/env bash
# Drift repair: with a 1 s reconcile interval, a deleted TPROXY rule, a modified rule, a foreign
# rule inserted into our chain, a deleted jump, a deleted ip rule (IPv4 and IPv6) and a deleted
# route are each put back within one interval (polled for at most 3 s), and each repair is
# logged. On nft the checks compare the kernel's rule dump first: traffic moving the rule
# counters must not look like drift to it.
set -euo pipefail
source "$(dirname "$0")/lib/portcullis.sh" "$1"
netns_require_root

ns=$(netns_new node)
dir=$NETNS_TMP
pc_write_config "$dir"
pc_start "$ns" "$dir/config.yaml" "$dir/run.log"
pc_state "$ns" >"$dir/installed"
http=$(pc_listener_port "$dir/run.log" portcullis-http-egress)

restored() { pc_state "$ns" | diff -q "$dir/installed" - >/dev/null; }
expect_repair() {  # WHAT: the state must differ now and come back within the interval
  ! restored || fail "$1: the deletion did not take"
  wait_until 3 restored || { pc_state "$ns" | diff -u "$dir/installed" - >&2; fail "$1 not repaired"; }
  echo "ok: $1 repaired"
}

# `iptables -S CHAIN` prints "-N CHAIN" first, so line L is rule number L-1.
line=$(ip netns exec "$ns" iptables -t mangle -S PORTCULLIS_PRE_mangle | grep -n -- "--on-port $http " | cut -d: -f1)
[[ -n $line ]] || fail "no TPROXY rule for port $http"
ip netns exec "$ns" iptables -t mangle -D PORTCULLIS_PRE_mangle $((line - 1))
expect_repair "deleted TPROXY rule"

# The same TPROXY rule rewritten in place with another port (iptables -R).
rule=$(ip netns exec "$ns" iptables -t mangle -S PORTCULLIS_PRE_mangle | sed -n "${line}p")
[[ $rule == *"--on-port $http "* ]] || fail "rule $line is not the TPROXY rule: $rule"
rule=${rule/--on-port $http /--on-port 9 }
eval "ip netns exec \"\$ns\" iptables -t mangle ${rule/-A PORTCULLIS_PRE_mangle/-R PORTCULLIS_PRE_mangle $((line - 1))}"
expect_repair "modified TPROXY rule"

ip netns exec "$ns" iptables -t mangle -I PORTCULLIS_PRE_mangle 1 -s 198.18.9.9/32 -j ACCEPT
expect_repair "foreign rule in our chain"

ip netns exec "$ns" iptables -t mangle -D PREROUTING -m comment --comment "portcullis: jump" -j PORTCULLIS_PRE_mangle
expect_repair "deleted jump"

ip netns exec "$ns" ip6tables -t raw -D OUTPUT -m comment --comment "portcullis: jump" -j PORTCULLIS_OUTPUT_raw
expect_repair "deleted IPv6 jump"

ip -n "$ns" rule del fwmark 0x200/0xf00 lookup 2004 pref 9
expect_repair "deleted ip rule"

ip -n "$ns" -6 rule del fwmark 0x200/0xf00 lookup 2004 pref 9
expect_repair "deleted IPv6 ip rule"

ip -n "$ns" route del local 0.0.0.0/0 dev lo table 2004
expect_repair "deleted route"

# Traffic through our jumps moves their counters; the checks after it must still find the
# kernel's dump equal to the learned one (no iptables-save, nothing learned again).
for _ in 1 2 3; do ip netns exec "$ns" bash -c 'echo x >/dev/udp/127.0.0.1/9' || fail "cannot send on lo"; done
packets=$(ip netns exec "$ns" iptables -t raw -L OUTPUT -v -n -x | awk '/PORTCULLIS_OUTPUT_raw/ {print $1}')
[[ ${packets:-0} -gt 0 ]] || fail "the datagrams did not pass the raw OUTPUT jump"
ip netns exec "$ns" iptables -t raw -I PORTCULLIS_PRE_raw 1 -s 198.18.9.9/32 -j ACCEPT
expect_repair "foreign rule in our raw chain after traffic"
sleep 2.5  # two more checks, which must not see drift where there is none
grep -q "nf_tables dump unavailable" "$dir/run.log" && fail "the checks did not use the nf_tables dump"
grep -q "dump changed without drift" "$dir/run.log" && { cat "$dir/run.log" >&2; fail "counters looked like drift"; }
echo "ok: traffic is not drift"

repairs=$(grep -c "repaired" "$dir/run.log")
[[ $repairs -ge 9 ]] || { cat "$dir/run.log" >&2; fail "expected 9 logged repairs, got $repairs"; }
pc_stop
echo "PASS: every deletion was repaired within one interval"
