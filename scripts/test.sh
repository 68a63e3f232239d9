#!/usr/bin/env bash
# Runs every test on a Debian 12 machine: installs what is missing, builds twice (ASan+UBSan for the unit
# tests; optimised for platform, integration and e2e tests, which start real Xvfb, PostgreSQL and the
# server), runs them and prints one closing line with the totals.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh core gui test package $(ls scripts/packages | sed -n 's/^\(server\|extra-[a-z]*\)\.txt$/\1/p')

jobs=$(nproc)
build() {  # build DIR TARGET [cmake args...]
  local dir=$1 target=$2
  shift 2
  cmake -S . -B "$dir" -G Ninja -DWM_WERROR=ON "$@" >"$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; exit 1; }
  echo "building $dir ($target)"
  cmake --build "$dir" --target "$target" -j "$jobs" >"$dir.build.log" 2>&1 ||
    { tail -n 150 "$dir.build.log"; echo "build of $dir failed (whole log: $dir.build.log)" >&2; exit 1; }
}
mkdir -p build
# The sanitizer build compiles only what the unit tests run (the system tests use the optimised build).
build build/test-asan wm_unit_tests -DCMAKE_BUILD_TYPE=Debug -DWM_SANITIZE=ON -DWM_BUILD_BENCH=OFF
build build/test all -DCMAKE_BUILD_TYPE=RelWithDebInfo

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
ctest --test-dir build/test-asan -L '^unit$' -j "$jobs" --output-on-failure 2>&1 | tee build/unit.log || status=1
# The browser tests' npm packages (playwright-core for Chromium, puppeteer-core for Firefox ESR; pinned by
# tests/browser/package-lock.json).
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error) 2>&1 | tee build/npm.log || status=1
ctest --test-dir build/test -L '^(platform|integration|e2e|gui)$' -j "$jobs" --output-on-failure 2>&1 |
  tee build/system.log || status=1

# The Debian packages: built from the tree and checked by lintian (scripts/package.sh), then installed, upgraded,
# removed and purged in a brand-new Debian 12 root (tests/package/deb_lifecycle_test.sh; needs root).
{ bash scripts/package.sh deb && bash tests/package/deb_lifecycle_test.sh dist; } 2>&1 | tee build/package.log ||
  status=1
grep -q '^deb lifecycle: ' build/package.log || echo "deb lifecycle: 0 passed, 1 failed" >>build/package.log

total() {  # "failed all" per suite: ctest's closing line, and the package test's "N passed, M failed"
  sed -n -e 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1 \2/p' \
    -e 's/^deb lifecycle: \([0-9]*\) passed, \([0-9]*\) failed$/\2 \1 \2/p' "$@" |
    awk 'NF == 3 {print $1, $2 + $3; next} {print}'
}
read -r failed all < <(total build/unit.log build/system.log build/package.log | awk '{f+=$1; a+=$2} END {print f+0, a+0}')
echo "all suites: $((all - failed)) passed, $failed failed"
[[ $all -gt 0 ]] || { echo "no test ran" >&2; exit 1; }
exit $status
