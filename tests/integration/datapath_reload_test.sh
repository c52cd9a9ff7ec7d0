#!/usr/bin/env bash
# SIGHUP: a valid new policy refills our chains in place (same jumps, rules and routes, same
# listener ports); an invalid one is rejected with its errors logged and the old rules stay.
set -euo pipefail
source "$(dirname "$0")/lib/portcullis.sh" "$1"
netns_require_root

ns=$(netns_new node)
dir=$NETNS_TMP
pc_write_config "$dir"
pc_start "$ns" "$dir/config.yaml" "$dir/run.log"
http=$(pc_listener_port "$dir/run.log" portcullis-http-egress)
pc_state "$ns" >"$dir/first"

cat >>"$dir/policy.yaml" <<'POLICY'
  - name: api-egress
    direction: egress
    selector:
      destination-cidrs: ["198.18.9.0/24"]
      ports: [{port: 8080, protocol: TCP}]
    http: []
POLICY
pc_reload "policy reloaded"
pc_state "$ns" >"$dir/second"
diff "$dir/first" "$dir/second" >"$dir/delta" || true
[[ $(grep -c '^>' "$dir/delta") -eq 1 && $(grep -c '^<' "$dir/delta") -eq 0 ]] ||
  { cat "$dir/delta" >&2; fail "reload should add exactly one rule and remove none"; }
grep -q -- '-d 198.18.9.0/24 -p tcp -m tcp --dport 8080 .*classify egress api-egress' "$dir/second" ||
  fail "new classification missing"
[[ $(pc_listener_port "$dir/run.log" portcullis-http-egress) == "$http" ]] || fail "listener port changed"

echo "rules: [ {name: broken" >"$dir/policy.yaml"
pc_reload "reload rejected"
grep -q "policy.yaml:[0-9]*:[0-9]*: " "$dir/run.log" || fail "the policy error was not logged with FILE:LINE:COLUMN"
pc_state "$ns" | diff -u "$dir/second" - || fail "a rejected reload changed the datapath"

pc_stop
echo "PASS: SIGHUP applies a valid policy in place and keeps the old one when the new is invalid"
