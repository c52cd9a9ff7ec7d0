#!/usr/bin/env bash
# terminatingTLS certificate and key files across start and reloads (issue 7), end to end:
# `run` refuses to start with a CA key file wider than 0600 (exit 1, nothing installed); with
# CA 1 the client gets a leaf minted for its SNI, signed by CA 1; SIGHUP after CA 2's files were
# copied over CA 1's serves leaves signed by CA 2; SIGHUP with a key file made 0644 and the
# certificate missing is rejected (each file logged with its reason, counted as one failed
# reload) and CA 2's leaves are still served;
# SIGTERM exits 0. The origin is nginx with a certificate from a third CA that only the proxy
# trusts (originatingTLS ca-bundle).
set -euo pipefail
here=$(dirname "$0")
source "$here/lib/portcullis.sh" "$1"
source "$here/lib/https_origin.sh"
netns_require_root nginx openssl curl

netns_topology
dir=$NETNS_TMP
chmod 755 "$dir"
pc_write_config "$dir"

tls_make_ca "$dir" reload-ca-1
tls_make_ca "$dir" reload-ca-2
https_origin_certs "$dir" origin.test

use_ca() {  # NAME MODE: copies that CA's files over the ones the policy names
  cp "$dir/$1.crt" "$dir/ca.crt"
  cp "$dir/$1.key" "$dir/ca.key"
  chmod "$2" "$dir/ca.key"
}
{ echo "rules:"; pc_rule tls-inspect 443 TCP; } >"$dir/policy.yaml"
cat >>"$dir/policy.yaml" <<POLICY
    terminatingTLS: {ca-certificate: $dir/ca.crt, ca-key: $dir/ca.key}
    originatingTLS: {ca-bundle: $dir/origin-ca.crt}
    http: []
POLICY

https_origin_start "$NS_SERVER" "$dir" 'hello from the origin\n'

# A key file readable by others: no start, nothing installed.
use_ca reload-ca-1 644
status=0
node timeout 10 "$PORTCULLIS" run --config "$dir/config.yaml" >"$dir/refused.log" 2>&1 ||
  status=$?
[[ $status == 1 ]] || fail "run with a 0644 key exited $status, expected 1: $(cat "$dir/refused.log")"
grep -q "rule 'tls-inspect' terminatingTLS: $dir/ca.key: private key file mode is wider than 0600: mode 0644" \
  "$dir/refused.log" || fail "the refusal does not name the file and reason: $(cat "$dir/refused.log")"
if pc_state "$NS_NODE" | grep -qi portcullis; then fail "a refused start installed rules"; fi

use_ca reload-ca-1 600
pc_start "$NS_NODE" "$dir/config.yaml" "$dir/run.log"

# The HTTP status through the proxy for a client trusting CA NAME (000: the handshake failed).
status_trusting() {  # NAME
  client curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$dir/$1.crt" \
    --resolve origin.test:443:198.18.2.2 https://origin.test/ || true
}
issuer() {  # the issuer of the leaf the client is shown
  client curl -sv -o /dev/null --max-time 5 -k --resolve origin.test:443:198.18.2.2 \
    https://origin.test/ 2>&1 | sed -n 's/^\*  *issuer: //p' | head -n 1
}

[[ $(status_trusting reload-ca-1) == 200 ]] || { cat "$dir/run.log" >&2; fail "CA 1: not 200 through the interception"; }
[[ $(issuer) == *"reload-ca-1"* ]] || fail "CA 1: the leaf's issuer is '$(issuer)'"

# Rotation: new files at the same paths, picked up by SIGHUP (the policy text did not change).
use_ca reload-ca-2 600
pc_reload "policy reloaded"
[[ $(status_trusting reload-ca-2) == 200 ]] || fail "CA 2: not 200 after the reload"
[[ $(issuer) == *"reload-ca-2"* ]] || fail "CA 2: the leaf's issuer is '$(issuer)'"
[[ $(status_trusting reload-ca-1) == 000 ]] || fail "CA 1 still trusted after the rotation"

# A key file too open and a missing certificate reject the reload, each reported with the
# rule's FILE:LINE:COLUMN; the previous certificates stay.
use_ca reload-ca-1 644
mv "$dir/ca.crt" "$dir/ca.crt.away"
pc_reload "reload rejected"
mv "$dir/ca.crt.away" "$dir/ca.crt"
grep -Eq "policy.yaml:[0-9]+:[0-9]+: rule 'tls-inspect' terminatingTLS: $dir/ca.key: private key file mode is wider than 0600" \
  "$dir/run.log" || fail "the rejected reload does not name the key file and reason"
grep -Eq "policy.yaml:[0-9]+:[0-9]+: rule 'tls-inspect' terminatingTLS: $dir/ca.crt: cannot read the file" \
  "$dir/run.log" || fail "the rejected reload does not name the missing certificate too"
[[ $(status_trusting reload-ca-2) == 200 ]] || fail "CA 2 no longer served after a rejected reload"
[[ $(issuer) == *"reload-ca-2"* ]] || fail "the rejected reload changed the leaf's issuer"
metrics=$(pc_metrics)
grep -q '^portcullis_policy_reloads_total{result="failed"} 1$' <<<"$metrics" ||
  fail "the rejected reload was not counted: $(grep reloads <<<"$metrics")"
grep -q '^portcullis_policy_reloads_total{result="ok"} 1$' <<<"$metrics" ||
  fail "the applied reload was not counted: $(grep reloads <<<"$metrics")"

pc_stop
echo "PASS"
