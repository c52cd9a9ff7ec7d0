# The HTTPS origin of the TLS integration tests and the certificates they make with the openssl
# CLI. Needs lib/netns.sh first.
#   tls_make_ca DIR NAME                   a self-signed CA: DIR/NAME.crt, DIR/NAME.key (0600)
#   https_origin_certs DIR NAME...         DIR/origin-ca.{crt,key} and DIR/origin.{crt,key}, the
#                                          origin's certificate for every NAME (the first is its
#                                          CN), signed by that CA: clients trust origin-ca.crt
#   https_origin_start NS DIR BODY [PORT...]
#                                          nginx in NS with DIR/origin.{crt,key} on
#                                          198.18.2.2:443 and [2001:db8:2::2]:443 (and on
#                                          198.18.2.2:PORT for each extra PORT); every path
#                                          answers 200 with BODY (nginx variables allowed, e.g.
#                                          $request_uri); waits until it answers the first NAME
# The origin's access log, DIR/access.log, has one line per request: "SNI URI STATUS"; it is
# empty when https_origin_start returns (the readiness probe is not the test's).

source "$(dirname "${BASH_SOURCE[0]}")/nginx.sh"

tls_make_ca() {  # DIR NAME
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$1/$2.key" -out "$1/$2.crt" 2>/dev/null || fail "openssl: CA $2"
  chmod 600 "$1/$2.key"
}

https_origin_certs() {  # DIR NAME...
  local dir=$1 san="" name
  shift
  HTTPS_ORIGIN_NAME=$1
  for name in "$@"; do san+="${san:+,}DNS:$name"; done
  tls_make_ca "$dir" origin-ca
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
    -keyout "$dir/origin.key" -out "$dir/origin.csr" 2>/dev/null || fail "openssl: origin CSR"
  printf 'subjectAltName=%s\n' "$san" >"$dir/origin.ext"
  openssl x509 -req -in "$dir/origin.csr" -CA "$dir/origin-ca.crt" -CAkey "$dir/origin-ca.key" \
    -CAcreateserial -days 1 -extfile "$dir/origin.ext" -out "$dir/origin.crt" 2>/dev/null ||
    fail "openssl: origin certificate"
  chmod 644 "$dir/origin.key"  # nginx reads it as root before dropping privileges; test only
}

https_origin_start() {  # NS DIR BODY [PORT...]
  local ns=$1 dir=$2 body=$3 port listen=""
  shift 3
  for port in "$@"; do listen+="    listen 198.18.2.2:$port ssl;"$'\n'; done
  {
    nginx_conf_head "$dir" 64
    cat <<CONF
  log_format sni '\$ssl_server_name \$request_uri \$status';
  access_log $dir/access.log sni;
  server {
    listen 198.18.2.2:443 ssl;
    listen [2001:db8:2::2]:443 ssl;
$listen    ssl_certificate $dir/origin.crt;
    ssl_certificate_key $dir/origin.key;
    location / { return 200 "$body"; }
  }
}
CONF
  } >"$dir/nginx.conf"
  : >"$dir/access.log"
  netns_spawn "$ns" "$dir/nginx.out" nginx -c "$dir/nginx.conf"
  wait_until 5 ip netns exec "$ns" curl -sf -o /dev/null --cacert "$dir/origin-ca.crt" \
    --resolve "$HTTPS_ORIGIN_NAME:443:198.18.2.2" "https://$HTTPS_ORIGIN_NAME/" ||
    { cat "$dir/nginx.out" "$dir/nginx-error.log" >&2; fail "nginx (HTTPS) did not start"; }
  : >"$dir/access.log"
}
