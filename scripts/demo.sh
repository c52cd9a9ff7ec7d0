#!/usr/bin/env bash
# The README's first command: installs what is missing, builds portcullis, and shows it at work.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target portcullis
echo "== portcullis check --config configs/portcullis.yaml"
build/app/portcullis check --config configs/portcullis.yaml
