#!/usr/bin/env bash
# Installs every Debian package that portcullis's build, tests, benchmarks and demo need.
# The single source of truth for what a machine must have; idempotent and quiet.
#   --bench   also the peers the load benchmarks compare against (bench/http, bench/dns); not
#             part of the CI install
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang-14 libclang-rt-14-dev
  libtsan2  # GCC's ThreadSanitizer runtime (scripts/test.sh --tsan)
  # libraries
  libboost-dev libre2-dev libyaml-cpp-dev node-llhttp libc-ares-dev
  libnl-3-dev libnl-route-3-dev libssl-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # run time and integration tests
  iptables iproute2 curl bind9-dnsutils procps
  python3   # the integration tests check JSON and Prometheus output with it
  # integration-test peers and benchmark load generators
  nginx-light dnsmasq-base wrk dnsperf
)
if [[ ${1:-} == --bench ]]; then
  packages+=(haproxy dnsdist)
  packages+=(tcpdump)  # TCPDUMP=DIR bench/dns: packet traces of its TCP runs
  packages+=(nghttp2-client)  # h2load: bench/http's fixed-rate loads (--rps, per-request log)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "setup: installed ${missing[*]}"
fi
