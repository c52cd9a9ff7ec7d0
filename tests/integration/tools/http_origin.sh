# The origin of the HTTP integration tests: nginx (package nginx-light) in a namespace, every
# path in a folder of the test's temp dir. Needs lib/netns.sh first.
#   origin_start NS DIR [ADDR4 ADDR6]   writes DIR/nginx.conf and DIR/www, runs nginx on ADDR4:80
#                          and [ADDR6]:80 (default 198.18.2.2, 2001:db8:2::2), waits until it
#                          answers
#   origin_requests DIR    how many requests reached the origin (lines of its access log)
# Files: /public/index.html ("hello from origin"), /public/one.txt, /public/two.txt,
# /public/big.bin (8 MiB random), /private/secret.txt, /host/a.txt, /team/a.txt; PUT under
# /upload/ stores the body as DIR/www/upload/NAME (WebDAV). The access log has one line per
# request: "CONNECTION_SERIAL METHOD URI STATUS".

source "$(dirname "${BASH_SOURCE[0]}")/../lib/nginx.sh"

origin_start() {  # NS DIR [ADDR4 ADDR6]
  local ns=$1 dir=$2 www=$2/www v4=${3:-198.18.2.2} v6=${4:-2001:db8:2::2}
  mkdir -p "$www/public" "$www/private" "$www/host" "$www/team" "$www/upload"
  echo "hello from origin" >"$www/public/index.html"
  echo "one" >"$www/public/one.txt"
  echo "two" >"$www/public/two.txt"
  echo "secret" >"$www/private/secret.txt"
  echo "host only" >"$www/host/a.txt"
  echo "blue team" >"$www/team/a.txt"
  head -c $((8 << 20)) /dev/urandom >"$www/public/big.bin"
  chmod 777 "$www/upload"  # PUT stores files as nginx's worker user
  {
    nginx_conf_head "$dir" 256
    cat <<CONF
  log_format serial '\$connection \$request_method \$request_uri \$status';
  access_log $dir/access.log serial;
  keepalive_requests 1000;
  server {
    listen $v4:80;
    listen [$v6]:80;
    root $www;
    client_max_body_size 16m;
    location /upload/ {
      dav_methods PUT;
      create_full_put_path on;
      dav_access user:rw group:rw all:rw;
    }
    # The source address the origin sees (preserve-source).
    location = /whoami { return 200 "\$remote_addr"; }
  }
}
CONF
  } >"$dir/nginx.conf"
  : >"$dir/access.log"
  netns_spawn "$ns" "$dir/nginx.out" nginx -c "$dir/nginx.conf"
  ORIGIN_PID=$NETNS_LAST_PID
  wait_until 5 ip netns exec "$ns" curl -sf -o /dev/null "http://$v4/public/index.html" ||
    { cat "$dir/nginx.out" "$dir/nginx-error.log" >&2; fail "nginx did not start"; }
  wait_until 5 ip netns exec "$ns" curl -sf -o /dev/null "http://[$v6]/public/index.html" ||
    fail "nginx does not answer on IPv6"
  # The readiness probes are not the test's requests.
  : >"$dir/access.log"
}

origin_requests() {  # DIR
  wc -l <"$1/access.log"
}
