# shellcheck shell=bash disable=SC2034,SC2153,SC2317  # variables here are read by the scripts that source it
# The DNS benches' shared parts (bench/dns, bench/dns_counts), after bench/lib/bench.sh and
# bench_topology:
#   dns_origin_start DIR       dnsmasq in the server namespace, answering bench.test and
#                              *.bench.test (198.18.2.10) and denied.test locally, pinned to
#                              PROXY_CPU; DIR/queries.txt: the eleven names of every load
#   dns_policy DIR             DIR/policy.yaml: matchName bench.test, matchPattern *.bench.test
#   dns_dnsdist_start DIR      dnsdist 1.7 with the same rules on 198.18.1.1:5300, the client
#                              subnet's queries REDIRECTed to it; sets DNSDIST_PID
#   check_verdicts MODE        allowed and denied names, UDP and TCP, answered from the server

DNS_SERVER=198.18.2.2

dns_origin_start() {  # DIR
  local dir=$1
  # bench.test and denied.test (so that a REFUSED can only come from a proxy) answered locally,
  # without forwarding or logging.
  netns_spawn "$NS_SERVER" "$dir/dnsmasq.log" taskset -c "$PROXY_CPU" dnsmasq --keep-in-foreground \
    --no-resolv --no-hosts --conf-file=/dev/null --pid-file="$dir/dnsmasq.pid" --bind-interfaces \
    --listen-address=$DNS_SERVER --address=/bench.test/198.18.2.10 \
    --address=/denied.test/198.18.2.11 --log-facility=-
  DNSMASQ_PID=$NETNS_LAST_PID
  node_dig() { ip netns exec "$NS_NODE" dig +tries=1 +time=1 "$@"; }
  wait_until 10 node_dig @$DNS_SERVER www.bench.test ||
    { cat "$dir/dnsmasq.log" >&2; fail "dnsmasq did not start"; }
  {
    echo "bench.test A"
    for label in www api mail cdn img static auth login shop news; do echo "$label.bench.test A"; done
  } >"$dir/queries.txt"
}

dns_policy() {  # DIR
  cat >"$1/policy.yaml" <<'POLICY'
rules:
  - name: dns-egress
    direction: egress
    selector:
      source-cidrs: ["198.18.1.0/24"]
      ports: [{port: 53, protocol: ANY}]
    dns:
      - matchName: "bench.test"
      - matchPattern: "*.bench.test"
POLICY
}

# One UDP listener, one TCP worker thread, one backend; REDIRECT from the client subnet, because
# dnsdist cannot open the IP_TRANSPARENT sockets TPROXY delivers to.
dns_dnsdist_start() {  # DIR
  local dir=$1 port=5300 proto
  cat >"$dir/dnsdist.conf" <<CONF
setLocal("198.18.1.1:$port")
setACL({"198.18.0.0/15"})
setMaxTCPClientThreads(1)
newServer({address="$DNS_SERVER:53"})
local names = newSuffixMatchNode()
names:add("bench.test")
-- matchName bench.test, or matchPattern *.bench.test: under bench.test with exactly 3 labels
-- (QNameLabelsCountRule matches names OUTSIDE its range, hence the NotRule)
allowed = OrRule({QNameRule("bench.test"), AndRule({SuffixMatchNodeRule(names, true), NotRule(QNameLabelsCountRule(3, 3))})})
addAction(NotRule(allowed), RCodeAction(DNSRCode.REFUSED))
CONF
  for proto in udp tcp; do
    ip netns exec "$NS_NODE" iptables -t nat -A PREROUTING -s 198.18.1.0/24 -d $DNS_SERVER -p $proto \
      --dport 53 -j REDIRECT --to-ports $port
  done
  netns_spawn "$NS_NODE" "$dir/dnsdist.log" taskset -c "$PROXY_CPU" dnsdist --supervised \
    --disable-syslog -C "$dir/dnsdist.conf"
  DNSDIST_PID=$NETNS_LAST_PID
  client_dig() { ip netns exec "$NS_CLIENT" dig +tries=1 +time=1 "$@"; }
  wait_until 10 client_dig @$DNS_SERVER www.bench.test ||
    { cat "$dir/dnsdist.log" >&2; fail "dnsdist does not answer"; }
}

# Every proxy must enforce the same policy before it is measured: allowed and denied names over
# UDP and TCP, answered from the server's address.
check_verdicts() {  # MODE
  local transport name want out
  for transport in +notcp +tcp; do
    for name in www.bench.test:NOERROR bench.test:NOERROR www.denied.test:REFUSED a.b.bench.test:REFUSED; do
      want=${name#*:}
      out=$(ip netns exec "$NS_CLIENT" dig +tries=1 +time=2 "$transport" @$DNS_SERVER "${name%%:*}" A 2>&1) || true
      grep -q "status: $want," <<<"$out" || fail "$1: ${name%%:*} ($transport) was not $want: $out"
      grep -q "^;; SERVER: $DNS_SERVER#53" <<<"$out" || fail "$1: answer not from $DNS_SERVER#53: $out"
    done
  done
}
