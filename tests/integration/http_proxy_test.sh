#!/usr/bin/env bash
# HTTP through `portcullis run`, end to end: real curl in the client namespace, nginx behind the
# node, the policy of SPEC.md enforced on every request (IPv4 and IPv6): allowed GET 200 with
# the origin's body; 403 `Access denied` for a denied path, method, host and header; three
# requests on one keep-alive connection (200, 403, 200) over one TCP connection; pipelined
# requests answered in order; 8 MiB down and up intact; CL+TE smuggling rejected with 400 and
# nothing reaching the origin; a WebSocket upgrade allowed and one denied; SIGTERM exits 0.
set -euo pipefail
here=$(dirname "$0")
source "$here/lib/portcullis.sh" "$1"
source "$here/tools/http_origin.sh"
netns_require_root
upgrade_echo=$(pc_tool upgrade_echo)

netns_topology
dir=$NETNS_TMP
pc_write_config "$dir"
{
  echo "rules:"
  pc_rule web-egress 80 TCP
  cat <<'HTTP'
    http:
      - {method: "GET|HEAD", path: "/public/.*"}
      - {method: PUT, path: "/upload/.*"}
      - {method: GET, path: "/host/.*", host: "origin\\.test"}
      - {method: GET, path: "/team/.*", headers: ["X-Team: blue"]}
HTTP
  pc_rule ws-egress 8080 TCP
  echo '    http: [{method: GET, path: "/chat", headers: ["Upgrade: websocket"]}]'
} >"$dir/policy.yaml"
origin_start "$NS_SERVER" "$dir"
netns_spawn "$NS_SERVER" "$dir/ws.out" "$upgrade_echo" 198.18.2.2 8080 60
wait_until 5 grep -qx ready "$dir/ws.out" || fail "upgrade_echo did not start"
pc_start "$NS_NODE" "$dir/config.yaml" "$dir/run.log"
pc_require_listener "$dir/run.log" portcullis-http-egress >/dev/null

status() {  # URL [curl args]: the status code
  client curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"
}
expect() {  # CODE URL [curl args]
  local code=$1 got
  shift
  got=$(status "$@") || true
  [[ $got == "$code" ]] || fail "$* -> $got, expected $code"
}

# Allowed GET, body from the origin; denials per field; both families.
for base in http://198.18.2.2 "http://[2001:db8:2::2]"; do
  body=$(client curl -sf --max-time 5 "$base/public/index.html") || fail "GET $base/public/index.html failed"
  [[ $body == "hello from origin" ]] || fail "unexpected body from $base: $body"
  denied=$(client curl -s --max-time 5 -D "$dir/denied.head" "$base/private/secret.txt")
  [[ $denied == $'Access denied\r' ]] || fail "denied path body: $(printf %q "$denied")"
  head -n 1 "$dir/denied.head" | grep -q '^HTTP/1.1 403' || fail "denied path: $(head -n 1 "$dir/denied.head")"
  expect 403 -X DELETE "$base/public/index.html"                       # method
  expect 403 "$base/host/a.txt"                                        # host (the address)
  expect 403 -H "Host: evil.test" "$base/host/a.txt"
  expect 200 -H "Host: origin.test" "$base/host/a.txt"
  expect 403 "$base/team/a.txt"                                        # header absent
  expect 403 -H "X-Team: red" "$base/team/a.txt"                       # wrong value
  expect 200 -H "X-Team: blue" "$base/team/a.txt"
done
grep -q "secret" "$dir/access.log" && fail "a denied request reached the origin"

# Keep-alive: 200, 403, 200 on one connection, one TCP connect.
codes=$(client curl -s --max-time 10 -w '%{http_code} %{num_connects}\n' \
  -o /dev/null http://198.18.2.2/public/one.txt -o /dev/null http://198.18.2.2/private/secret.txt \
  -o /dev/null http://198.18.2.2/public/two.txt | tr '\n' ' ')
[[ $codes == "200 1 403 0 200 0 " ]] || fail "keep-alive: codes and connects were '$codes'"
wait_until 2 grep -q "two.txt" "$dir/access.log" || fail "origin did not log two.txt"
[[ $(grep -E 'GET /public/(one|two).txt 200' "$dir/access.log" | cut -d' ' -f1 | sort -u | wc -l) -eq 1 ]] ||
  fail "the proxy used several upstream connections for one keep-alive client: $(cat "$dir/access.log")"

# Pipelining: three requests in one write; responses strictly in order.
client timeout 10 bash -c 'exec 3<>/dev/tcp/198.18.2.2/80
  printf "GET /public/one.txt HTTP/1.1\r\nHost: a\r\n\r\nGET /private/secret.txt HTTP/1.1\r\nHost: a\r\n\r\nGET /public/two.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" >&3
  cat <&3' >"$dir/pipelined" || fail "pipelined exchange failed: $(cat "$dir/pipelined")"
order=$(grep -aE '^(HTTP/1.1 [0-9]+|one|two|Access denied)' "$dir/pipelined" | tr -d '\r' | tr '\n' '|')
[[ $order == "HTTP/1.1 200 OK|one|HTTP/1.1 403 Forbidden|Access denied|HTTP/1.1 200 OK|two|" ]] ||
  fail "pipelined responses out of order: $order"

# 8 MiB down and up, byte for byte.
want=$(sha256sum <"$dir/www/public/big.bin")
got=$(client curl -sf --max-time 20 http://198.18.2.2/public/big.bin | sha256sum)
[[ $got == "$want" ]] || fail "8 MiB download corrupted"
got6=$(client curl -sf --max-time 20 "http://[2001:db8:2::2]/public/big.bin" | sha256sum)
[[ $got6 == "$want" ]] || fail "8 MiB IPv6 download corrupted"
client curl -sf --max-time 20 -T "$dir/www/public/big.bin" http://198.18.2.2/upload/big.bin >/dev/null ||
  fail "8 MiB upload failed"
[[ $(sha256sum <"$dir/www/upload/big.bin") == "$want" ]] || fail "8 MiB upload corrupted"
client curl -sf --max-time 20 -H "Transfer-Encoding: chunked" -T "$dir/www/public/big.bin" \
  http://198.18.2.2/upload/chunked.bin >/dev/null || fail "8 MiB chunked upload failed"
[[ $(sha256sum <"$dir/www/upload/chunked.bin") == "$want" ]] || fail "8 MiB chunked upload corrupted"

# CL+TE smuggling: 400, and not a byte reaches the origin.
before=$(origin_requests "$dir")
client timeout 5 bash -c 'exec 3<>/dev/tcp/198.18.2.2/80
  printf "POST /upload/smuggled HTTP/1.1\r\nHost: a\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /private/secret.txt HTTP/1.1\r\nHost: a\r\n\r\n" >&3
  cat <&3' >"$dir/smuggled" || true
head -n 1 "$dir/smuggled" | grep -q '^HTTP/1.1 400' || fail "CL+TE not rejected: $(head -n 1 "$dir/smuggled")"
[[ $(grep -c '^HTTP/1.1' "$dir/smuggled") -eq 1 ]] || fail "a smuggled request was answered"
sleep 0.5  # nginx logs a request as it completes; give a forwarded one the time to appear
[[ $(origin_requests "$dir") -eq $before ]] || fail "the smuggling attempt reached the origin: $(tail -n 2 "$dir/access.log")"
[[ -e $dir/www/upload/smuggled ]] && fail "the smuggled body was stored"

# WebSocket: the allowed upgrade tunnels bytes both ways; a denied one never reaches the origin.
echoed=$(client timeout 5 bash -c 'exec 3<>/dev/tcp/198.18.2.2/8080
  printf "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n" >&3
  read -r status <&3; echo "$status"
  while IFS= read -r line <&3 && [[ $line != $'"'"'\r'"'"' ]]; do :; done
  echo "ping through the tunnel" >&3
  read -r line <&3; echo "$line"') || fail "upgrade exchange failed: $echoed"
[[ $echoed == $'HTTP/1.1 101 Switching Protocols\r\nping through the tunnel' ]] ||
  fail "allowed upgrade: $(printf %q "$echoed")"
expect 403 -H "Connection: Upgrade" -H "Upgrade: websocket" http://198.18.2.2:8080/admin
expect 403 -H "Connection: Upgrade" -H "Upgrade: h2c" http://198.18.2.2:8080/chat
grep -q "upgrade GET /chat" "$dir/ws.out" || fail "origin did not see the allowed upgrade"
[[ $(grep -c "GET" "$dir/ws.out") -eq 1 ]] || fail "a denied upgrade reached the origin: $(cat "$dir/ws.out")"

pc_stop
echo "PASS: HTTP policy enforced end to end (verdicts, keep-alive, pipelining, 8 MiB, smuggling, upgrades; IPv4, IPv6)"
