#!/usr/bin/env bash
# The README's demo as a test: scripts/demo.sh checks every verdict it shows and exits non-zero
# when one is unexpected, so keeping the quick start true is part of CI.
set -euo pipefail
[[ $(id -u) -eq 0 ]] || { echo "SKIP: the demo needs root" >&2; exit 77; }
exec bash "$(dirname "$0")/../../scripts/demo.sh" --binary "${1:?usage: demo_test.sh PORTCULLIS}"
