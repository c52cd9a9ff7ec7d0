# A reusable network-namespace harness for integration tests. Source it, then:
#   netns_require_root [TOOL...]       exit 77 (ctest: skipped) unless root; fails naming the
#                                      first missing tool (ip and iptables-save always)
#   netns_require_tools TOOL...        fails naming the first missing tool
#   netns_topology                     client <-> node <-> server, see below
#   netns_new NAME                     one more namespace; prints its real name
#   netns_spawn NS LOG cmd...          runs cmd in NS in the background, output to LOG; sets NETNS_LAST_PID
#   netns_stop PID [SIGNAL]            signals a spawned process and waits for it (bounded)
#   wait_until SECONDS cmd...          polls cmd every 0.1 s until it succeeds; fails after SECONDS
#   fail "message"                     prints and exits 1
#   node cmd... / client cmd... / server cmd...
#                                      runs cmd in that namespace of netns_topology
# Everything it creates has a name unique to this run, and is removed on EXIT/INT/TERM: the
# processes it spawned (by PID), then the namespaces it made (and nothing else).
#
# Topology (only 198.18.0.0/15 and 2001:db8::/32):
#   $NS_CLIENT  eth0 198.18.1.2/24 2001:db8:1::2/64  (default via the node)
#   $NS_NODE    veth0 198.18.1.1/24 2001:db8:1::1/64 | eth1 198.18.2.1/24 2001:db8:2::1/64, forwarding on
#   $NS_SERVER  eth0 198.18.2.2/24 2001:db8:2::2/64  (default via the node)

# Once per shell: lib/portcullis.sh sources this file too.
[[ -z ${NETNS_RUN_ID:-} ]] || return 0
NETNS_RUN_ID="pc$$_${RANDOM}"
NETNS_CREATED=()
NETNS_PIDS=()
NETNS_TMP=$(mktemp -d /tmp/portcullis-it.XXXXXX)

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

netns_require_root() {  # [TOOL...]
  if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: integration tests need root (network namespaces, iptables)" >&2
    exit 77
  fi
  netns_require_tools ip iptables-save ip6tables-save "$@"
}

netns_require_tools() {  # TOOL...
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || fail "missing $tool (scripts/setup.sh installs it)"
  done
}

netns_cleanup() {
  local pid ns
  for pid in "${NETNS_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${NETNS_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  # By this run's unique prefix: netns_new usually runs in a command substitution (a subshell),
  # so what it appends to NETNS_CREATED never reaches this shell.
  for ns in "${NETNS_CREATED[@]}" $(ip netns list | awk -v p="${NETNS_RUN_ID}_" 'index($1, p) == 1 {print $1}'); do
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$NETNS_TMP"
}
trap netns_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

netns_new() {
  local ns="${NETNS_RUN_ID}_$1"
  ip netns add "$ns" || fail "cannot create namespace $ns"
  NETNS_CREATED+=("$ns")
  ip -n "$ns" link set lo up
  echo "$ns"
}

# A veth pair between two namespaces, created inside them so no name is ever taken in the
# host's namespace.
netns_link() {  # NS_A IF_A NS_B IF_B
  ip -n "$1" link add "$2" type veth peer name "$4" netns "$3" || fail "cannot create veth $2/$4"
  ip -n "$1" link set "$2" up
  ip -n "$3" link set "$4" up
}

netns_addr() {  # NS IF ADDR4/LEN ADDR6/LEN
  ip -n "$1" addr add "$3" dev "$2"
  ip -n "$1" -6 addr add "$4" dev "$2" nodad
}

netns_topology() {
  NS_CLIENT=$(netns_new client)
  NS_NODE=$(netns_new node)
  NS_SERVER=$(netns_new server)
  netns_link "$NS_CLIENT" eth0 "$NS_NODE" veth0
  netns_link "$NS_NODE" eth1 "$NS_SERVER" eth0
  netns_addr "$NS_CLIENT" eth0 198.18.1.2/24 2001:db8:1::2/64
  netns_addr "$NS_NODE" veth0 198.18.1.1/24 2001:db8:1::1/64
  netns_addr "$NS_NODE" eth1 198.18.2.1/24 2001:db8:2::1/64
  netns_addr "$NS_SERVER" eth0 198.18.2.2/24 2001:db8:2::2/64
  ip -n "$NS_CLIENT" route add default via 198.18.1.1
  ip -n "$NS_CLIENT" -6 route add default via 2001:db8:1::1
  ip -n "$NS_SERVER" route add default via 198.18.2.1
  ip -n "$NS_SERVER" -6 route add default via 2001:db8:2::1
  ip netns exec "$NS_NODE" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
}

node() { ip netns exec "$NS_NODE" "$@"; }
client() { ip netns exec "$NS_CLIENT" "$@"; }
server() { ip netns exec "$NS_SERVER" "$@"; }

netns_spawn() {  # NS LOG cmd...
  local ns=$1 log=$2
  shift 2
  ip netns exec "$ns" "$@" >"$log" 2>&1 &
  NETNS_LAST_PID=$!
  NETNS_PIDS+=("$NETNS_LAST_PID")
}

netns_stop() {  # PID [SIGNAL]: returns the process's exit status
  local pid=$1 sig=${2:-TERM} status=0
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid"; fail "process $pid ignored SIG$sig for 10 s"; }
  wait "$pid" || status=$?
  return "$status"
}

wait_until() {  # SECONDS cmd...
  local seconds=$1
  shift
  local tries=$((seconds * 10))
  for _ in $(seq "$tries"); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}
