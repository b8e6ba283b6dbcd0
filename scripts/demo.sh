#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (as root), builds stormwatch and replays
# the bundled example: a declared firewall change that blocks the route to
# one User. Prints the alert lines, then the replay's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target stormwatch >/dev/null
echo "== stormwatch replay --changes examples/firewall/changes.yaml examples/firewall/traffic.lp.gz"
./build/stormwatch replay --changes examples/firewall/changes.yaml examples/firewall/traffic.lp.gz
