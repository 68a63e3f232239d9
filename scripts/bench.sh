#!/usr/bin/env bash
# Runs every benchmark (CTest label `bench`) on an optimised build and prints their figures.
# `bash scripts/bench.sh outbox` runs only the benchmarks whose name matches.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh core gui test $(ls scripts/packages | sed -n 's/^\(server\|extra-[a-z]*\)\.txt$/\1/p')
mkdir -p build
cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DWM_BUILD_BENCH=ON -DWM_BUILD_TRAY=ON \
  >build/bench.configure.log 2>&1 ||
  { cat build/bench.configure.log; exit 1; }
cmake --build build/bench -j "$(nproc)" >build/bench.build.log 2>&1 ||
  { tail -n 150 build/bench.build.log; exit 1; }
# The browser benchmark's npm packages (tests/browser/package-lock.json).
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
ctest --test-dir build/bench -L '^bench$' ${1:+-R "$1"} --verbose --timeout 3600
