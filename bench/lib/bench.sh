# shellcheck shell=bash disable=SC2034  # variables here are read by the scripts that source it
# Shared parts of the load benchmarks (bench/http, bench/dns). Source it from a bench script after
# setting BENCH_NAME; it reuses the integration tests' namespace harness (client <-> node <->
# server, 198.18.0.0/15 and 2001:db8::/32 only, everything torn down by PID and by name on EXIT).
#   bench_parse_args "$@"        --portcullis PATH, --json FILE, --duration S, --access-log, --floor
#   bench_topology               namespaces plus the sysctls a connection-per-request load needs
#   bench_pc_start CONFIG LOG    portcullis run, pinned to the proxy CPU; sets PC_PID
#   cpu_ticks PID / rss_kib PID  utime+stime (clock ticks) and VmRSS of one process (all threads)
#   us_per_op TICKS OPS          CPU microseconds per operation
#   bench_apply_dry_run CONFIG   portcullis's own IPv4 datapath for CONFIG, for a peer proxy
#   access_log_report FILE LOAD...  records written, and the cost against the run without them
#   metrics_scraper_start / metrics_scraper_stop   GET /metrics once a second during a run
#   observability_report ON OFF FILE LOAD...  modes ON (log + admin) against OFF (both off)
#   perf_start PID NAME / perf_stop NAME   with --perf DIR: a CPU profile of the proxy per run
#   json_row KEY=VALUE...        one JSON object (numbers bare, the rest quoted) appended to ROWS
#   bench_write_json EXTRA       writes {"bench":..., "pinning":..., EXTRA, "rows":[...]} to --json
#   bench_remove_dry_run         removes what the last bench_apply_dry_run installed
#   floor_start ARGS...          bench/floor_relay in the node namespace on the proxy CPU; FLOOR_PID
#   tproxy_packets               packets TPROXY delivered so far in the node (the dry-run's rules)
#   floor_ratio A B              A/B with two decimals, for the floor summary (null if either is)

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench_lib=$repo/bench/lib

# Pinning: the load generator alone on one core, the proxy and the origin together on the other,
# in every mode, so that "direct" and each proxy compete for exactly the same CPU.
CLIENT_CPU=${CLIENT_CPU:-0}
PROXY_CPU=${PROXY_CPU:-1}
DURATION=10
ACCESS_LOG=0
JSON_OUT=
PORTCULLIS_BIN=
PERF_DIR=
FLOOR=0
FLOOR_BIN=

bench_usage() {
  cat <<USAGE
usage: bench/$BENCH_NAME [--portcullis PATH] [--json FILE] [--duration SECONDS] [--access-log] [--perf DIR] [--floor [--floor-relay PATH]]
  --portcullis  the binary to measure (default: build/app/portcullis)
  --json        where to write the results (default: bench/results/$BENCH_NAME.json)
  --duration    seconds per load run (default 10)
  --access-log  also run portcullis with its access log written to a file (bench/dns), and
                (bench/http) portcullis with both the access log (to a file) and the admin
                endpoint on (/metrics scraped every second) against both off: issue 6's target,
                observability costs under 5% of throughput
  --perf DIR    profile each proxy run (perf record -g, 499 Hz) into DIR/MODE-LOAD.data and print
                its top symbols (profiled runs are slower: take figures from a run without it)
  --floor       also run the floor modes (bench/http: haproxy-tcp and floor; bench/dns: floor):
                a bare relay on the same datapath, and the summary of what it leaves reachable
  --floor-relay the floor_relay binary (default: bench/floor_relay next to --portcullis's app/)
Environment: CLIENT_CPU (default 0), PROXY_CPU (default 1). Needs root.
USAGE
}

bench_parse_args() {
  while (($#)); do
    case $1 in
      --portcullis) PORTCULLIS_BIN=$2; shift 2 ;;
      --json) JSON_OUT=$2; shift 2 ;;
      --duration) DURATION=$2; shift 2 ;;
      --access-log) ACCESS_LOG=1; shift ;;
      --perf) PERF_DIR=$2; shift 2 ;;
      --floor) FLOOR=1; shift ;;
      --floor-relay) FLOOR_BIN=$2; shift 2 ;;
      -h|--help) bench_usage; exit 0 ;;
      *) bench_usage >&2; exit 2 ;;
    esac
  done
  PORTCULLIS_BIN=${PORTCULLIS_BIN:-$repo/build/app/portcullis}
  JSON_OUT=${JSON_OUT:-$repo/bench/results/$BENCH_NAME.json}
  [[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 && $DURATION -le 300 ]] ||
    { echo "--duration must be 1..300 seconds" >&2; exit 2; }
  [[ $(id -u) -eq 0 ]] || { echo "bench/$BENCH_NAME needs root (namespaces, iptables)" >&2; exit 2; }
  [[ -x $PORTCULLIS_BIN ]] || { echo "no portcullis binary at $PORTCULLIS_BIN (build it, or --portcullis PATH)" >&2; exit 2; }
  FLOOR_BIN=${FLOOR_BIN:-$(dirname "$(dirname "$PORTCULLIS_BIN")")/bench/floor_relay}
  ((!FLOOR)) || [[ -x $FLOOR_BIN ]] ||
    { echo "no floor_relay at $FLOOR_BIN (cmake --build BUILD --target floor_relay, or --floor-relay PATH)" >&2; exit 2; }
  bash "$repo/scripts/setup.sh" --bench
  if [[ -n $PERF_DIR ]]; then
    command -v perf >/dev/null || { echo "--perf needs perf (package linux-perf)" >&2; exit 2; }
    mkdir -p "$PERF_DIR"
    PERF_DIR=$(cd "$PERF_DIR" && pwd)
  fi
}

# shellcheck source=/dev/null
source "$repo/tests/integration/lib/netns.sh"

bench_check_cpus() {
  local cpu
  for cpu in "$CLIENT_CPU" "$PROXY_CPU"; do
    taskset -c "$cpu" true 2>/dev/null || fail "CPU $cpu is not usable here (set CLIENT_CPU/PROXY_CPU)"
  done
}

bench_topology() {
  netns_topology
  local ns
  # A connection per request opens tens of thousands of connections in 10 s: use the whole port
  # range and let TIME_WAIT ports be reused, alike in every namespace and every mode.
  for ns in "$NS_CLIENT" "$NS_NODE" "$NS_SERVER"; do
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1 \
      net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096
  done
}

pinning_text() {
  echo "pinning: client (load generator) on CPU $CLIENT_CPU; proxy and origin on CPU $PROXY_CPU (taskset -c, set before exec, so every thread and child inherits it)"
}

cpu_ticks() {  # PID: utime + stime of the whole process (all threads), in clock ticks
  sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

rss_kib() {  # PID
  awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

CLK_TCK=$(getconf CLK_TCK)

us_per_op() {  # TICKS OPS
  awk -v t="$1" -v n="$2" -v hz="$CLK_TCK" 'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "null" }'
}

ratio() {  # A B: A/B with two decimals, or null
  awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "null" }'
}

bench_pc_start() {  # CONFIG LOG
  : >"$2"
  netns_spawn "$NS_NODE" "$2" taskset -c "$PROXY_CPU" "$PORTCULLIS_BIN" run --config "$1" --log-level info
  PC_PID=$NETNS_LAST_PID
  wait_until 15 grep -q "running; reconcile every" "$2" || { cat "$2" >&2; fail "portcullis did not start"; }
  [[ $(cat "/proc/$PC_PID/comm") == portcullis ]] || fail "PID $PC_PID is not portcullis"
}

# The first lines of a portcullis config for the benches: proxy limits at their defaults, the
# access log off unless a variant asks for it, the admin endpoint at its default (on, 127.0.0.1:9964)
# unless ADMIN_VALUE says otherwise ("off", or HOST:PORT).
bench_pc_config() {  # DIR ACCESS_LOG_VALUE [ADMIN_VALUE]
  local admin=
  [[ -n ${3:-} && $3 != - ]] && admin="  admin: \"$3\""
  cat >"$1/config.yaml" <<CONFIG
proxy:
  port-range: [20000, 20004]
  access-log: "$2"
${admin}
datapath:
  ipv6: false
  route-table: 2004
  rule-priority: 9
  reconcile-interval: 10s
  iptables: nft
policy-files: [policy.yaml]
CONFIG
}

# Applies the IPv4 datapath that `portcullis run --dry-run` prints for CONFIG (the iptables-restore
# payload, the fwmark rule and the local route), so a peer proxy bound to the same port gets
# exactly portcullis's TPROXY redirection. Prints the HTTP/DNS listener ports: "NAME PORT" lines.
bench_apply_dry_run() {  # CONFIG
  local out=$NETNS_TMP/dry-run.txt
  ip netns exec "$NS_NODE" "$PORTCULLIS_BIN" run --config "$1" --dry-run >"$out" ||
    fail "portcullis run --dry-run failed: $(cat "$out")"
  awk '/^# iptables-restore .*\(IPv4\)/ {on = 1; next} /^# / {on = 0} on' "$out" |
    ip netns exec "$NS_NODE" iptables-restore -w --noflush || fail "applying the dry-run payload failed"
  awk '/^# (rules|routes)/ {on = 1; next} /^# / {on = 0} on && /^ip / {print}' "$out" |
    while read -r line; do
      # shellcheck disable=SC2086  # the dry-run prints plain argv words
      ip netns exec "$NS_NODE" $line || fail "failed: $line"
    done
  sed -n 's/^listener \([^ ]*\) port \([0-9]*\) .*/\1 \2/p' "$out"
}

# Undoes the last bench_apply_dry_run (its iptables jumps and chains, its rule and route), so that
# a mode with an interception of its own (dnsdist's REDIRECT) can follow.
bench_remove_dry_run() {
  local out=$NETNS_TMP/dry-run.txt
  awk '/^# iptables-restore .*\(IPv4\)/ {on = 1; next} /^# / {on = 0} on' "$out" | awk '
    /^\*/ { print; n = 0; next }
    /^:/ { chain[++n] = substr($1, 2); next }
    /^-I / { sub(/^-I /, "-D "); print; next }
    /^COMMIT/ { for (i = 1; i <= n; i++) print "-F " chain[i]; for (i = 1; i <= n; i++) print "-X " chain[i]; print }' |
    ip netns exec "$NS_NODE" iptables-restore -w --noflush || fail "removing the dry-run payload failed"
  awk '/^# (rules|routes)/ {on = 1; next} /^# / {on = 0} on && /^ip / {sub(/ add /, " del "); print}' "$out" |
    while read -r line; do
      # shellcheck disable=SC2086  # the dry-run prints plain argv words
      ip netns exec "$NS_NODE" $line || fail "failed: $line"
    done
}

# The floor (--floor): bench/floor_relay in the node namespace, pinned like every proxy.
floor_start() {  # ARGS... (--tcp PORT, --udp PORT)
  netns_spawn "$NS_NODE" "$NETNS_TMP/floor.log" taskset -c "$PROXY_CPU" "$FLOOR_BIN" "$@"
  FLOOR_PID=$NETNS_LAST_PID
  wait_until 10 grep -q '^ready' "$NETNS_TMP/floor.log" || { cat "$NETNS_TMP/floor.log" >&2; fail "floor_relay did not start"; }
}

# Packets the dry-run's TPROXY rules delivered so far: a relay check that sees it grow knows the
# traffic went through the listener on the redirected port, not straight through the node.
tproxy_packets() {
  ip netns exec "$NS_NODE" iptables -t mangle -L PORTCULLIS_PRE_mangle -v -x -n 2>/dev/null |
    awk '/TPROXY/ {n += $1} END {print n + 0}'
}

floor_ratio() {  # A B
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "null" || b == "null" || a == "" || b == "" || b + 0 == 0) print "null"; else printf "%.2f", a / b }'
}

PERF_PID=
perf_start() {  # PID NAME: samples the process (all its threads) until perf_stop
  PERF_PID=
  [[ -n $PERF_DIR && $1 != - ]] || return 0
  perf record -q -F 499 -g -p "$1" -o "$PERF_DIR/$2.data" >"$PERF_DIR/$2.log" 2>&1 &
  PERF_PID=$!
  NETNS_PIDS+=("$PERF_PID")
}

perf_stop() {  # NAME: ends the recording and prints its top symbols (self time)
  [[ -n $PERF_PID ]] || return 0
  kill -INT "$PERF_PID" 2>/dev/null || true
  wait "$PERF_PID" 2>/dev/null || true
  PERF_PID=
  local report=(perf report -i "$PERF_DIR/$1.data" --stdio --no-children -g none)
  # perf pads its columns to the longest symbol; keep the figures and names only.
  tidy() { grep -E '^ +[0-9.]+%' | sed -e 's/^ *//' -e 's/[ -]*$//' -e 's/  */ /g' | cut -c 1-110; }
  "${report[@]}" --sort dso --percent-limit 2 2>/dev/null | tidy | paste -sd ';' >"$PERF_DIR/$1.top" || true
  "${report[@]}" --sort dso,symbol --percent-limit 1.5 2>/dev/null | tidy | head -n 12 >>"$PERF_DIR/$1.top" || true
  echo "  profile $1, self time ($PERF_DIR/$1.data): by object, then top symbols"
  sed 's/^/    /' "$PERF_DIR/$1.top"
}

# Per "MODE.LOAD": the proxy's CPU microseconds per operation and the operations per second.
declare -A CPU_PER_OP THROUGHPUT

# access_log_report FILE LOAD...: how many records the access log got, and what writing it cost
# against the same run with it off ("portcullis" vs "portcullis+access-log"), per load. Appended to
# TABLE_NOTES and printed.
TABLE_NOTES=()
access_log_report() {
  local file=$1 load lines=0 note
  shift
  [[ -f $file ]] && lines=$(wc -l <"$file")
  note="access log: $lines records"
  ((lines > 0)) || note+=" (this build writes none, so the +access-log rows measure nothing)"
  for load in "$@"; do
    note+="; $load: CPU/op $(change "${CPU_PER_OP[portcullis+access-log.$load]:-0}" "${CPU_PER_OP[portcullis.$load]:-0}")"
    note+=", throughput $(change "${THROUGHPUT[portcullis+access-log.$load]:-0}" "${THROUGHPUT[portcullis.$load]:-0}")"
  done
  TABLE_NOTES+=("$note")
  echo "$note"
}

# A Prometheus stand-in in the node namespace, on the load generator's CPU: GET /metrics once a
# second (Prometheus' default is every 15 s) for at most 600 s, the last answer kept in FILE.
SCRAPER_PID=
metrics_scraper_start() {  # FILE
  netns_spawn "$NS_NODE" "$NETNS_TMP/scraper.log" taskset -c "$CLIENT_CPU" bash -c \
    'for _ in $(seq 600); do curl -sf --max-time 2 -o "$0.tmp" http://127.0.0.1:9964/metrics && mv "$0.tmp" "$0"; sleep 1; done' "$1"
  SCRAPER_PID=$NETNS_LAST_PID
}
metrics_scraper_stop() {
  [[ -n $SCRAPER_PID ]] || return 0
  netns_stop "$SCRAPER_PID" TERM || true
  SCRAPER_PID=
}

# observability_report ON OFF FILE LOAD...: per load, the throughput and the proxy's CPU per
# operation of mode ON (access log written to FILE, admin endpoint on and scraped) against mode
# OFF (both off), from the same run; the target is a throughput ratio of at least 0.95.
observability_report() {
  local on=$1 off=$2 file=$3 load lines=0 note t_on t_off
  shift 3
  [[ -f $file ]] && lines=$(wc -l <"$file")
  note="observability ($on: access log to a file, $lines records, admin on and /metrics scraped every second; $off: both off):"
  for load in "$@"; do
    t_on=${THROUGHPUT[$on.$load]:-0}
    t_off=${THROUGHPUT[$off.$load]:-0}
    note+=" $load: $t_on vs $t_off ops/s, ratio $(ratio "$t_on" "$t_off") ($(change "$t_on" "$t_off"));"
    note+=" CPU/op ${CPU_PER_OP[$on.$load]:-null} vs ${CPU_PER_OP[$off.$load]:-null} us ($(change "${CPU_PER_OP[$on.$load]:-0}" "${CPU_PER_OP[$off.$load]:-0}"));"
    json_row mode=observability load="$load" on_mode="$on" off_mode="$off" on_ops_per_s="$t_on" \
      off_ops_per_s="$t_off" throughput_ratio="$(ratio "$t_on" "$t_off")" \
      on_cpu_us_per_op="${CPU_PER_OP[$on.$load]:-null}" off_cpu_us_per_op="${CPU_PER_OP[$off.$load]:-null}" \
      access_log_records="$lines"
  done
  note+=" target: ratio >= 0.95"
  TABLE_NOTES+=("$note")
  echo "$note"
}

change() {  # NEW OLD: signed percentage
  awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%+.1f%%", (a / b - 1) * 100; else print "n/a" }'
}

ROWS=()
json_row() {  # KEY=VALUE...
  local kv key value out=""
  for kv in "$@"; do
    key=${kv%%=*}
    value=${kv#*=}
    if [[ $value =~ ^-?[0-9]+(\.[0-9]+)?$ || $value == null ]]; then
      out+="\"$key\": $value, "
    else
      out+="\"$key\": \"${value//\"/\\\"}\", "
    fi
  done
  ROWS+=("{${out%, }}")
}

bench_write_json() {  # EXTRA_JSON_MEMBERS (may be empty)
  mkdir -p "$(dirname "$JSON_OUT")"
  local rows
  rows=$(IFS=,; echo "${ROWS[*]}")
  printf '{"bench": "%s", "time": "%s", "host_cpus": %s, "duration_s": %s, "pinning": {"client_cpu": %s, "proxy_and_origin_cpu": %s}%s, "rows": [%s]}\n' \
    "$BENCH_NAME" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(nproc)" "$DURATION" "$CLIENT_CPU" "$PROXY_CPU" \
    "${1:+, $1}" "$rows" >"$JSON_OUT"
  echo "results written to $JSON_OUT"
}
