#!/usr/bin/env bash
# Crash recovery: after kill -9 the rules stay; a new `run` adopts the leftover listener ports,
# replaces the leftovers without duplicating a jump, and `cleanup` after another kill -9 leaves
# the namespace as it was before (and says so, idempotently).
set -euo pipefail
source "$(dirname "$0")/lib/portcullis.sh" "$1"
netns_require_root

ns=$(netns_new node)
dir=$NETNS_TMP
pc_write_config "$dir" 20000 20100
# The host holds rules in raw and mangle already (iptables-nft keeps a table it created even
# when its last rule goes, so a bare namespace would gain two empty tables).
pc_host_rules "$ns"
pc_state "$ns" >"$dir/before"

pc_start "$ns" "$dir/config.yaml" "$dir/first.log"
http=$(pc_listener_port "$dir/first.log" portcullis-http-egress)
dns=$(pc_listener_port "$dir/first.log" portcullis-dns-egress)
pc_state "$ns" >"$dir/first"
netns_stop "$PC_PID" KILL || true
pc_state "$ns" | diff -u "$dir/first" - || fail "kill -9 changed the state (it cannot tear down)"

pc_start "$ns" "$dir/config.yaml" "$dir/second.log"
grep -q "leftover listener portcullis-http-egress port $http" "$dir/second.log" || fail "leftover port not found"
[[ $(pc_listener_port "$dir/second.log" portcullis-http-egress) == "$http" ]] || fail "http port not adopted"
[[ $(pc_listener_port "$dir/second.log" portcullis-dns-egress) == "$dns" ]] || fail "dns port not adopted"
pc_state "$ns" >"$dir/second"
diff -u "$dir/first" "$dir/second" || fail "the restarted state differs from the first run's"
for t in iptables-save ip6tables-save; do
  jumps=$(ip netns exec "$ns" "$t" | grep -c -- '-j PORTCULLIS_')
  [[ $jumps -eq 4 ]] || fail "$t shows $jumps jumps, expected 4"
done
[[ $(ip -n "$ns" rule | grep -c fwmark) -eq 1 ]] || fail "duplicate ip rule"

netns_stop "$PC_PID" KILL || true
ip netns exec "$ns" "$PORTCULLIS" cleanup --config "$dir/config.yaml" >"$dir/cleanup.out" 2>&1 ||
  { cat "$dir/cleanup.out" >&2; fail "cleanup failed"; }
grep -q "removed .* leftover objects" "$dir/cleanup.out" || fail "cleanup did not report removals"
pc_state "$ns" | diff -u "$dir/before" - || fail "cleanup left something behind"
ip netns exec "$ns" "$PORTCULLIS" cleanup >"$dir/cleanup2.out" 2>&1 || fail "second cleanup failed"
grep -qx "nothing to clean up" "$dir/cleanup2.out" || fail "second cleanup was not a no-op: $(cat "$dir/cleanup2.out")"
echo "PASS: kill -9 recovery adopts ports without duplicates; cleanup removes everything, idempotently"
