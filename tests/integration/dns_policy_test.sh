#!/usr/bin/env bash
# DNS verdicts that follow the configuration: SIGHUP with a changed policy changes which names
# resolve (on the same listener), and `proxy.dns.reject: nxdomain` answers a denied query with
# NXDOMAIN instead of REFUSED. Real dnsmasq on the server side, real dig on the client side.
set -euo pipefail
source "$(dirname "$0")/lib/portcullis.sh" "$1"
netns_require_root dnsmasq dig

netns_topology
dir=$NETNS_TMP
pc_dnsmasq "$NS_SERVER" "$dir" 198.18.2.2,2001:db8:2::2 \
  --address=/first.test/198.18.2.10 --address=/second.test/198.18.2.20

expect() {  # EXPECTED SERVER NAME [dig options...]
  local expected=$1 got
  shift
  got=$(pc_rcode "$@")
  [[ $got == "$expected" ]] || { tail -n 30 "$dir/run.log" >&2; fail "$*: expected $expected, got $got"; }
}

pc_write_config "$dir"
pc_dns_policy "*.first.test" >"$dir/policy.yaml"
pc_start "$NS_NODE" "$dir/config.yaml" "$dir/run.log"
port=$(pc_require_listener "$dir/run.log" portcullis-dns-egress)
for server in 198.18.2.2 2001:db8:2::2; do
  expect NOERROR "$server" www.first.test
  expect REFUSED "$server" www.second.test
  expect REFUSED "$server" www.second.test +tcp
done

# Reload: second.test is allowed, first.test no longer.
pc_dns_policy "*.second.test" >"$dir/policy.yaml"
pc_reload "policy reloaded"
for server in 198.18.2.2 2001:db8:2::2; do
  expect NOERROR "$server" www.second.test
  expect NOERROR "$server" www.second.test +tcp
  expect REFUSED "$server" www.first.test
done
[[ $(pc_listener_port "$dir/run.log" portcullis-dns-egress) == "$port" ]] || fail "the reload moved the DNS listener"
pc_stop

# The same policy with reject: nxdomain.
pc_proxy_option "$dir/config.yaml" "dns: {reject: nxdomain}"
pc_start "$NS_NODE" "$dir/config.yaml" "$dir/run.log"
for server in 198.18.2.2 2001:db8:2::2; do
  expect NXDOMAIN "$server" www.first.test
  expect NXDOMAIN "$server" www.first.test +tcp
  expect NOERROR "$server" www.second.test
done
pc_stop
pc_state "$NS_NODE" | grep -q PORTCULLIS && fail "rules left after exit"
echo "PASS: SIGHUP changes the DNS verdicts in place; reject: nxdomain answers NXDOMAIN"
