#!/usr/bin/env bash
# The HTTP daemon's lifecycle: SIGHUP with a changed policy takes effect, also on a keep-alive
# connection at its next request; a reload that needs a new listener (the first DNS rule) opens
# it; SIGHUP with a broken file keeps the old policy; SIGTERM during an idle connection and a
# download in flight lets the download finish, exits 0, leaves no rule or route, and the client's next direct connection, even on the same 4-tuple,
# connects at once (no SYN lost to a TIME_WAIT socket of the proxy).
set -euo pipefail
here=$(dirname "$0")
source "$here/lib/portcullis.sh" "$1"
source "$here/tools/http_origin.sh"
netns_require_root

netns_topology
dir=$NETNS_TMP
pc_write_config "$dir"
write_policy() {  # PATH-REGEX
  { echo "rules:"; pc_rule web-egress 80 TCP; echo "    http: [{method: GET, path: \"$1\"}]"; } >"$dir/policy.yaml"
}
write_policy "/public/.*"
origin_start "$NS_SERVER" "$dir"
pc_start "$NS_NODE" "$dir/config.yaml" "$dir/run.log"
grep -q "listener portcullis-dns" "$dir/run.log" && fail "a DNS listener without a DNS rule"

status() { client curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true; }

# A keep-alive connection held open across the reload (fd 3 of a coprocess in the client).
coproc KEEP { client timeout 30 bash -c '
  exec 3<>/dev/tcp/198.18.2.2/80
  while read -r path; do
    printf "GET %s HTTP/1.1\r\nHost: a\r\n\r\n" "$path" >&3
    IFS= read -r -t 5 status <&3 || { echo "no answer"; continue; }
    length=0
    while IFS= read -r -t 5 line <&3 && [[ $line != $'"'"'\r'"'"' ]]; do
      [[ ${line,,} =~ ^content-length:\ ([0-9]+) ]] && length=${BASH_REMATCH[1]}
    done
    head -c "$length" <&3 >/dev/null
    echo "${status%$'"'"'\r'"'"'}"
  done'; }
NETNS_PIDS+=("$KEEP_PID")
keep() {  # PATH: the status line of that request on the kept connection
  echo "$1" >&"${KEEP[1]}"
  local line
  IFS= read -r -t 10 line <&"${KEEP[0]}" || fail "kept connection: no answer for $1"
  echo "$line"
}
[[ $(keep /public/one.txt) == "HTTP/1.1 200 OK" ]] || fail "kept connection: first request"
[[ $(keep /private/secret.txt) == "HTTP/1.1 403 Forbidden" ]] || fail "kept connection: denied before reload"
[[ $(status http://198.18.2.2/private/secret.txt) == 403 ]] || fail "denied before reload"

# A valid change takes effect for new and kept connections.
write_policy "/(public|private)/.*"
pc_reload "policy reloaded"
[[ $(status http://198.18.2.2/private/secret.txt) == 200 ]] || fail "reloaded policy not in force"
[[ $(status "http://[2001:db8:2::2]/private/secret.txt") == 200 ]] || fail "reloaded policy not in force (IPv6)"
[[ $(keep /private/secret.txt) == "HTTP/1.1 200 OK" ]] || fail "kept connection did not pick up the reload"

# A reload whose policy adds the first DNS rule opens the DNS listener (UDP and TCP) first.
{ pc_rule dns-egress 53 ANY; echo '    dns: [{matchName: "example.test"}]'; } >>"$dir/policy.yaml"
pc_reload "policy reloaded: 2 rules"
dns=$(pc_require_listener "$dir/run.log" portcullis-dns-egress)
[[ -n $(node ss -Hlun "sport = :$dns") ]] || fail "no UDP socket on DNS port $dns"
[[ -n $(node ss -Hltn "sport = :$dns") ]] || fail "no TCP socket on DNS port $dns"
pc_state "$NS_NODE" >"$dir/state.dns"
grep -q -- "--on-port $dns" "$dir/state.dns" || fail "no TPROXY rule for the new DNS listener"

# A broken file: errors logged with FILE:LINE:COLUMN, the previous policy stays.
echo "rules: [ {name: broken" >"$dir/policy.yaml"
pc_reload "reload rejected"
grep -q "policy.yaml:[0-9]*:[0-9]*: " "$dir/run.log" || fail "no FILE:LINE:COLUMN error logged"
[[ $(status http://198.18.2.2/private/secret.txt) == 200 ]] || fail "a rejected reload changed the policy"
[[ $(status http://198.18.2.2/other/x) == 403 ]] || fail "a rejected reload opened the policy"

# SIGTERM while the kept connection is open: its 4-tuple is reused right after exit.
port=$(client ss -Htn state established "dst 198.18.2.2:80" | awk '{print $3}' | sed 's/.*://' | head -n 1)
[[ -n $port ]] || fail "cannot find the kept connection's port"
# ... and with a download in flight (8 MiB at 16 MiB/s), which finishes within the grace.
ip netns exec "$NS_CLIENT" curl -sf --max-time 10 --limit-rate 16M -o "$dir/inflight.bin" \
  http://198.18.2.2/public/big.bin &
inflight=$!
NETNS_PIDS+=("$inflight")
wait_until 5 test -s "$dir/inflight.bin" || fail "the in-flight download did not start"
pc_stop
wait "$inflight" || fail "the download in flight at SIGTERM failed"
cmp -s "$dir/inflight.bin" "$dir/www/public/big.bin" || fail "the download in flight at SIGTERM is corrupt"
keep_in=${KEEP[1]}
exec {keep_in}>&-  # the coprocess ends; its socket was reset by the proxy
wait "$KEEP_PID" 2>/dev/null || true
connect=$(pc_direct_connect "$port" http://198.18.2.2/private/secret.txt "after exit")
tail -n 1 "$dir/access.log" | grep -q "GET /private/secret.txt 200" || fail "the origin did not serve the direct request"
left=$(pc_state "$NS_NODE" | grep -Ei 'portcullis|lookup 2004|^local ' || true)
[[ -z $left ]] || fail "rules or routes left after exit: $left"
echo "PASS: SIGHUP applies and rejects policies in place (new listener included); SIGTERM leaves nothing (direct reconnect from port $port: $connect s)"
