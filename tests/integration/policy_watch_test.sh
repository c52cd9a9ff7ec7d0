#!/usr/bin/env bash
# policy-watch: true (issue 6). With no SIGHUP at all: an edited policy file (written in place,
# then saved by rename as editors do) changes the verdicts; a broken save is rejected with
# FILE:LINE:COLUMN and the old policy stays; a Kubernetes ConfigMap-style update (the `..data`
# symlink swapped to a new directory) is picked up too.
set -euo pipefail
source "$(dirname "$0")/lib/portcullis.sh" "$1"
netns_require_root dnsmasq dig

netns_topology
dir=$NETNS_TMP
pc_dnsmasq "$NS_SERVER" "$dir" 198.18.2.2 --address=/first.test/198.18.2.10 \
  --address=/second.test/198.18.2.20

policy() { pc_dns_policy "*.$1"; }  # ALLOWED_DOMAIN
status() { pc_rcode 198.18.2.2 "$1"; }  # NAME: the rcode the client sees
# The verdict changes within a bound (debounce 200 ms, then the reload).
is() { [[ $(status "$2") == "$1" ]]; }  # EXPECTED NAME
expect_soon() {  # EXPECTED NAME
  wait_until 5 is "$1" "$2" ||
    { tail -n 20 "$dir/run.log" >&2; fail "$2: expected $1, got $(status "$2")"; }
}
reloads() { grep -c "policy-watch: reloading policy" "$dir/run.log" || true; }

# --- a plain file, edited in place and by rename-on-save
pc_write_config "$dir"
echo "policy-watch: true" >>"$dir/config.yaml"
policy first.test >"$dir/policy.yaml"
pc_start "$NS_NODE" "$dir/config.yaml" "$dir/run.log"
grep -q "policy-watch: watching 1 policy file" "$dir/run.log" || fail "watch not started: $(cat "$dir/run.log")"
[[ $(status www.first.test) == NOERROR && $(status www.second.test) == REFUSED ]] || fail "initial verdicts"

policy second.test >"$dir/policy.yaml"  # in place (IN_CLOSE_WRITE)
expect_soon NOERROR www.second.test
expect_soon REFUSED www.first.test
[[ $(reloads) -eq 1 ]] || fail "expected one reload for one save, saw $(reloads)"

policy first.test >"$dir/.policy.yaml.swp"   # an editor: temporary, then rename over the file
mv "$dir/.policy.yaml.swp" "$dir/policy.yaml"
expect_soon NOERROR www.first.test
expect_soon REFUSED www.second.test

touch "$dir/policy.yaml" "$dir/unrelated.txt"  # no change in content: no reload
sleep 0.6
[[ $(reloads) -eq 2 ]] || fail "a touch reloaded ($(reloads) reloads)"

echo "rules: [ {name: broken" >"$dir/policy.yaml"
wait_until 5 grep -q "reload rejected" "$dir/run.log" || fail "broken policy not rejected"
grep -q "policy.yaml:[0-9]*:[0-9]*: " "$dir/run.log" || fail "no FILE:LINE:COLUMN for the broken policy"
[[ $(status www.first.test) == NOERROR ]] || fail "the old policy did not stay after a broken save"
pc_stop

# --- a ConfigMap volume: policy.yaml -> ..data/policy.yaml, ..data -> ..<timestamp>
cm=$dir/configmap
mkdir -p "$cm/..v1" "$cm/..v2"
policy first.test >"$cm/..v1/policy.yaml"
policy second.test >"$cm/..v2/policy.yaml"
ln -s ..v1 "$cm/..data"
ln -s ..data/policy.yaml "$cm/policy.yaml"
sed -i "s|^policy-files: .*|policy-files: [$cm/policy.yaml]|" "$dir/config.yaml"
pc_start "$NS_NODE" "$dir/config.yaml" "$dir/run.log"
[[ $(status www.first.test) == NOERROR ]] || fail "ConfigMap: initial verdict"
ln -s ..v2 "$cm/..data_tmp"       # kubelet's atomic writer: new link, renamed over ..data
mv -T "$cm/..data_tmp" "$cm/..data"
rm -rf "$cm/..v1"
expect_soon NOERROR www.second.test
expect_soon REFUSED www.first.test
pc_stop
echo "PASS: policy-watch reloads on in-place writes, rename-on-save and a ConfigMap symlink swap; a touch does not reload; a broken save keeps the old policy"
