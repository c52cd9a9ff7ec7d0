#!/usr/bin/env bash
# The README's first command: installs what is missing, builds portcullis, and shows it at work in
# three network namespaces of its own (addresses from 198.18.0.0/15 and 2001:db8::/32 only):
#
#   client 198.18.1.2 ── node (portcullis) ── server 198.18.2.2 (nginx on :80, dnsmasq on :53)
#
# It makes an allowed and a denied HTTP request and DNS query, shows what portcullis logged,
# reloads a changed policy with SIGHUP, stops portcullis and shows that nothing is left behind.
# Every verdict is checked: the exit status is 0 only when all were as expected.
#
# usage: scripts/demo.sh                  (as root) setup + build into build/, then the demo
#        scripts/demo.sh --binary PATH    the demo only, with an already built portcullis
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
if [[ $(id -u) -ne 0 ]]; then
  echo "demo: run as root (it creates network namespaces and iptables rules inside them)" >&2
  exit 1
fi
binary=
if [[ ${1:-} == --binary ]]; then
  binary=$(realpath "${2:?--binary needs a path}")
else
  echo "== installing packages (scripts/setup.sh) and building portcullis into build/"
  bash "$repo/scripts/setup.sh"
  cmake -S "$repo" -B "$repo/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$repo/build" -j "$(nproc)" --target portcullis
  binary=$repo/build/app/portcullis
fi
[[ -x $binary ]] || { echo "demo: no portcullis binary at $binary" >&2; exit 1; }

# The namespace harness of the integration tests: unique names, and on exit (also on Ctrl-C) it
# stops every process it started, by PID, and deletes the namespaces it made.
source "$repo/tests/integration/lib/netns.sh"

if [[ -t 1 ]]; then bold=$'\e[1m' green=$'\e[32m' red=$'\e[31m' dim=$'\e[2m' off=$'\e[0m'
else bold= green= red= dim= off=; fi
unexpected=0
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
note() { printf '%s%s%s\n' "$dim" "$*" "$off"; }
verdict() {  # GOT WANTED: says whether a result is the expected one, and counts surprises
  if [[ $1 == "$2" ]]; then
    printf '   %s-> %s, as expected%s\n' "$green" "$1" "$off"
  else
    printf '   %s-> %s, but %s was expected%s\n' "$red" "$1" "$2" "$off"
    unexpected=$((unexpected + 1))
  fi
}
indent() { sed 's/^/   /'; }
unstamp() { sed 's/^[^ ]* [a-z]* *//'; }  # a log line without its time and level
trap 'echo "demo: stopped by a failure at line $LINENO" >&2' ERR

dir=$NETNS_TMP
chmod 755 "$dir"  # nginx's workers run unprivileged and read the web root below

step "1. Three network namespaces: client -> node -> server"
netns_topology
note "client $NS_CLIENT  198.18.1.2  2001:db8:1::2   (default route via the node)"
note "node   $NS_NODE    198.18.1.1 | 198.18.2.1    (forwards; portcullis runs here)"
note "server $NS_SERVER  198.18.2.2  2001:db8:2::2"

step "2. Servers in the server namespace: nginx (HTTP :80) and dnsmasq (DNS :53)"
mkdir -p "$dir/www/public" "$dir/www/private" "$dir/nginx-tmp"
echo "hello from the public area" >"$dir/www/public/hello.txt"
echo "the private report" >"$dir/www/private/report.txt"
chmod -R a+rX "$dir/www"
cat >"$dir/nginx.conf" <<NGINX
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log;
events { worker_connections 64; }
http {
  access_log $dir/nginx-access.log;
  client_body_temp_path $dir/nginx-tmp;
  default_type text/plain;
  server {
    listen 198.18.2.2:80;
    listen [2001:db8:2::2]:80;
    root $dir/www;
  }
}
NGINX
netns_spawn "$NS_SERVER" "$dir/nginx.out" nginx -e "$dir/nginx-error.log" -c "$dir/nginx.conf" -g "daemon off;"
netns_spawn "$NS_SERVER" "$dir/dnsmasq.log" dnsmasq --keep-in-foreground --no-resolv --no-hosts \
  --conf-file=/dev/null --pid-file="$dir/dnsmasq.pid" --bind-interfaces \
  --listen-address=198.18.2.2,2001:db8:2::2 --log-queries --log-facility=- \
  --address=/example.test/198.18.2.10 --address=/partner.test/198.18.2.20
wait_until 10 ip netns exec "$NS_NODE" curl -sf --max-time 1 http://198.18.2.2/public/hello.txt ||
  { cat "$dir/nginx.out" "$dir/nginx-error.log" >&2; fail "nginx did not start"; }
wait_until 10 ip netns exec "$NS_NODE" dig +tries=1 +time=1 @198.18.2.2 www.example.test ||
  { cat "$dir/dnsmasq.log" >&2; fail "dnsmasq did not start"; }
note "nginx serves /public/hello.txt and /private/report.txt"
note "dnsmasq answers *.example.test -> 198.18.2.10 and *.partner.test -> 198.18.2.20"

step "3. portcullis in the node namespace, policy configs/demo-policy.yaml"
cp "$repo/configs/demo.yaml" "$repo/configs/demo-policy.yaml" "$dir/"
sed -n '/^rules:/,$p' "$dir/demo-policy.yaml" | grep -v '^ *#' | indent
note "\$ portcullis run --config demo.yaml --log-level debug   (copies of configs/demo*.yaml in $dir)"
ip netns exec "$NS_NODE" "$binary" run --config "$dir/demo.yaml" --log-level debug \
  >"$dir/access.log" 2>"$dir/run.log" &
pc_pid=$!
NETNS_PIDS+=("$pc_pid")
wait_until 10 grep -q "running; reconcile every" "$dir/run.log" ||
  { cat "$dir/run.log" >&2; fail "portcullis did not start"; }
grep -E "listener |running" "$dir/run.log" | unstamp | indent
rules=$(ip netns exec "$NS_NODE" sh -c 'iptables-save; ip6tables-save' | grep -c "portcullis:" || true)
note "it installed $rules iptables rules (IPv4 + IPv6, each commented 'portcullis: ...') and this routing rule:"
ip netns exec "$NS_NODE" ip rule | grep fwmark | indent
note "so the client's packets to ports 80 and 53 now reach these listeners (TPROXY), not the server"

http() {  # WANTED_STATUS PATH
  local out code
  printf '%sclient$ curl http://198.18.2.2%s%s\n' "$bold" "$2" "$off"
  out=$(ip netns exec "$NS_CLIENT" curl -sS -i --max-time 5 "http://198.18.2.2$2" 2>&1 || true)
  { echo "$out" | head -n 1; echo "$out" | sed '1,/^\r\?$/d'; } | tr -d '\r' | indent
  code=$(echo "$out" | sed -n '1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p')
  verdict "${code:-no answer}" "$1"
}
dns() {  # WANTED_RCODE NAME
  local out rcode
  printf '%sclient$ dig @198.18.2.2 %s%s\n' "$bold" "$2" "$off"
  out=$(ip netns exec "$NS_CLIENT" dig +tries=1 +time=2 @198.18.2.2 "$2" A 2>&1 || true)
  rcode=$(echo "$out" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')
  { echo "status: ${rcode:-no answer}"; echo "$out" | grep -v '^;' | grep . | sed 's/^/answer: /' || true; } | indent
  verdict "${rcode:-no answer}" "$1"
}
# The verdict of the last access-log record of one request ("target":"/x") or query
# ("query":"name."); an empty or missing record counts as a surprise.
last_record() {  # PROTOCOL KEY VALUE
  grep -F "\"$2\":\"$3\"" "$dir/access.log" | grep -F "\"protocol\":\"$1\"" | tail -n 1
}
last_record_is() { [[ $(last_record "$2" "$3" "$4") == *"\"verdict\":\"$1\""* ]]; }
record() {  # WANTED_VERDICT PROTOCOL KEY VALUE
  local line got
  # Records are written every 100 ms, and after the reload an older record of the same request
  # is already there: wait (bounded) for the newest one to carry the verdict, then report it.
  wait_until 3 last_record_is "$@" || true
  line=$(last_record "$2" "$3" "$4")
  got=$(sed -n 's/.*"verdict":"\([a-z]*\)".*/\1/p' <<<"$line")
  printf '   access log: %s %s\n' "$2" "$4"
  verdict "${got:-no record}" "$1"
}
logged() {  # LINES_BEFORE: what portcullis wrote since then
  local since=$1
  note "access log (stdout, JSON lines):"
  indent <"$dir/access.log"
  note "portcullis's log (stderr), verdict lines:"
  tail -n +$((since + 1)) "$dir/run.log" | grep -E "403|dns|SIGHUP|policy" | unstamp | indent || true
}

step "4. HTTP: GET /public/ is allowed, GET /private/ is denied with 403"
before=$(wc -l <"$dir/run.log")
http 200 /public/hello.txt
http 403 /private/report.txt

step "5. DNS: *.example.test resolves, other names get REFUSED"
queries_before=$(wc -l <"$dir/dnsmasq.log")
dns NOERROR www.example.test
dns REFUSED www.partner.test

step "6. What portcullis logged about them"
record forwarded http target /public/hello.txt
record denied http target /private/report.txt
record forwarded dns query www.example.test.
record denied dns query www.partner.test.
logged "$before"
note "dnsmasq's log: only the allowed query reached it, sent by the proxy from the node's address:"
tail -n +$((queries_before + 1)) "$dir/dnsmasq.log" | grep -o "query\[.*" | indent || true

step "7. Reload: swap in configs/demo-policy-reloaded.yaml and send SIGHUP"
diff -u "$repo/configs/demo-policy.yaml" "$repo/configs/demo-policy-reloaded.yaml" |
  tail -n +3 | grep '^[-+]' | grep -v '^[-+] *#' | indent || true
cp "$repo/configs/demo-policy-reloaded.yaml" "$dir/demo-policy.yaml"
before=$(wc -l <"$dir/run.log")
kill -HUP "$pc_pid"
wait_until 5 grep -q "policy reloaded\|reload rejected" "$dir/run.log" || fail "portcullis did not log the reload"
tail -n +$((before + 1)) "$dir/run.log" | grep -E "SIGHUP|reload" | unstamp | indent
http 200 /private/report.txt
dns NOERROR www.partner.test
http 403 /admin/
dns REFUSED www.elsewhere.test
record forwarded http target /private/report.txt
record forwarded dns query www.partner.test.
record denied http target /admin/

step "8. Stop portcullis (SIGTERM): it removes everything it installed"
kill -TERM "$pc_pid"
status=0
for _ in $(seq 100); do kill -0 "$pc_pid" 2>/dev/null || break; sleep 0.1; done
wait "$pc_pid" || status=$?
tail -n 3 "$dir/run.log" | unstamp | indent
verdict "exit status $status" "exit status 0"
left=$(ip netns exec "$NS_NODE" sh -c 'iptables-save; ip6tables-save' | grep -c PORTCULLIS || true)
printf '%snode$ (iptables-save; ip6tables-save) | grep -c PORTCULLIS%s\n' "$bold" "$off"
echo "$left" | indent
verdict "$left rules left" "0 rules left"
printf '%snode$ ip rule; ip -6 rule%s\n' "$bold" "$off"
ip netns exec "$NS_NODE" sh -c 'ip rule; ip -6 rule' | indent
fwmark=$(ip netns exec "$NS_NODE" sh -c 'ip rule; ip -6 rule' | grep -c fwmark || true)
verdict "$fwmark fwmark rules left" "0 fwmark rules left"
routes=$(ip netns exec "$NS_NODE" sh -c 'ip route show table 2004; ip -6 route show table 2004' 2>/dev/null | grep -c . || true)
verdict "$routes routes left in table 2004" "0 routes left in table 2004"

step "Done"
if ((unexpected)); then
  printf '%s%d result(s) were not as expected; logs were in %s (removed now)%s\n' "$red" "$unexpected" "$dir" "$off"
  exit 1
fi
printf '%sEvery verdict was as expected. The namespaces and servers are being removed.%s\n' "$green" "$off"
