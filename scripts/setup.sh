#!/usr/bin/env bash
# Installs what stormwatch needs to build and test on Debian 12, as root.
# Safe to run again: apt-get skips what is already installed.
set -euo pipefail

packages=(
  build-essential cmake pkg-config   # toolchain
  libzmq3-dev                        # ZeroMQ: live ingest and alert PUB
  libcurl4-openssl-dev               # Alertmanager API client
  libmicrohttpd-dev                  # HTTP API: /metrics, /healthz, changes
  libjansson-dev                     # JSON of the change API
  librdkafka-dev                     # Kafka ingest and alerts (its mock cluster for the tests)
  prometheus-alertmanager            # a real Alertmanager for the sink's tests
  prometheus                         # promtool checks our /metrics in the tests
  curl                               # the HTTP API's tests and examples
  chromium                           # renders the HTML report in its browser test
  libjemalloc-dev                    # allocator, and its stats for our metrics
  libyaml-dev                        # config file and change register
  libcmocka-dev                      # unit tests
  clang libclang-rt-14-dev           # libFuzzer targets (scripts/fuzz.sh)
  zlib1g-dev                         # gzip recordings
  python3                            # scores ../shared/scenarios when present
  python3-zmq                        # a hostile ZeroMQ producer in the fault tests
  man-db systemd dpkg-dev            # the install test: man pages, systemd-analyze verify, the .deb
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
