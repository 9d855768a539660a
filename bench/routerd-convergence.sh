#!/usr/bin/env bash
# routerd convergence: the median (of 5) time from a health change to the
# route change seen by a BGP peer, for a failure (health target turns 503)
# and for a drain (`routerd drain`), with real BIRD 2 in network namespaces.
# Needs root and bird2 (scripts/lib/ensure.sh installs it).
#
#   bench/routerd-convergence.sh              # the lab timing: interval 300 ms, fast 100 ms
#   bench/routerd-convergence.sh 1000 250     # the shipped defaults: interval 1 s, fast 250 ms
set -euo pipefail
cd "$(dirname "$0")/.."
export ROUTERD_BENCH_INTERVAL_MS=${1:-300}
export ROUTERD_BENCH_FAST_MS=${2:-100}
cargo test -p anysip-routerd --test bird_lab -- --ignored --nocapture --exact convergence_medians 2>&1 \
  | sed -n '/^convergence (/,/drain .*route gone/p'
