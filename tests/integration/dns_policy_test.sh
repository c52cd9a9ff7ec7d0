#!/usr/bin/env bash
# DNS verdicts that follow the configuration: SIGHUP with a changed policy changes which names
# resolve (on the same listener), and `proxy.dns.reject: nxdomain` answers a denied query with
# NXDOMAIN instead of REFUSED. Real dnsmasq on the server side, real dig on the client side.
set -euo pipefail
here=$(dirname "$0")
source "$here/lib/netns.sh"
source "$here/lib/portcullis.sh" "$1"
netns_require_root
pc_require_tools dnsmasq dig

netns_topology
dir=$NETNS_TMP
pc_dnsmasq "$NS_SERVER" "$dir" 198.18.2.2,2001:db8:2::2 \
  --address=/first.test/198.18.2.10 --address=/second.test/198.18.2.20

write_policy() {  # ALLOWED_DOMAIN
  { echo "rules:"; pc_rule dns-egress 53 ANY; echo "    dns: [{matchPattern: \"*.$1\"}]"; } >"$dir/policy.yaml"
}
status() {  # SERVER NAME [dig options...]: the rcode the client sees, or "none"
  local server=$1 name=$2
  shift 2
  ip netns exec "$NS_CLIENT" dig +tries=1 +time=3 "$@" "@$server" "$name" A 2>&1 |
    sed -n 's/.*status: \([A-Z]*\),.*/\1/p' | grep . || echo none
}
expect() {  # EXPECTED SERVER NAME [dig options...]
  local expected=$1 got
  shift
  got=$(status "$@")
  [[ $got == "$expected" ]] || { tail -n 30 "$dir/run.log" >&2; fail "$*: expected $expected, got $got"; }
}

pc_write_config "$dir"
write_policy first.test
pc_start "$NS_NODE" "$dir/config.yaml" "$dir/run.log"
port=$(pc_listener_port "$dir/run.log" portcullis-dns-egress)
[[ -n $port ]] || fail "no dns-egress listener logged"
for server in 198.18.2.2 2001:db8:2::2; do
  expect NOERROR "$server" www.first.test
  expect REFUSED "$server" www.second.test
  expect REFUSED "$server" www.second.test +tcp
done

# Reload: second.test is allowed, first.test no longer.
write_policy second.test
kill -HUP "$PC_PID"
wait_until 5 grep -q "policy reloaded" "$dir/run.log" || { cat "$dir/run.log" >&2; fail "reload not logged"; }
for server in 198.18.2.2 2001:db8:2::2; do
  expect NOERROR "$server" www.second.test
  expect NOERROR "$server" www.second.test +tcp
  expect REFUSED "$server" www.first.test
done
[[ $(pc_listener_port "$dir/run.log" portcullis-dns-egress) == "$port" ]] || fail "the reload moved the DNS listener"
netns_stop "$PC_PID" TERM || { cat "$dir/run.log" >&2; fail "portcullis did not exit cleanly"; }

# The same policy with reject: nxdomain.
sed -i 's/^proxy:$/proxy:\n  dns: {reject: nxdomain}/' "$dir/config.yaml"
grep -q "reject: nxdomain" "$dir/config.yaml" || fail "could not set reject: nxdomain"
pc_start "$NS_NODE" "$dir/config.yaml" "$dir/run.log"
for server in 198.18.2.2 2001:db8:2::2; do
  expect NXDOMAIN "$server" www.first.test
  expect NXDOMAIN "$server" www.first.test +tcp
  expect NOERROR "$server" www.second.test
done
netns_stop "$PC_PID" TERM || { cat "$dir/run.log" >&2; fail "portcullis did not exit cleanly"; }
pc_state "$NS_NODE" | grep -q PORTCULLIS && fail "rules left after exit"
echo "PASS: SIGHUP changes the DNS verdicts in place; reject: nxdomain answers NXDOMAIN"
