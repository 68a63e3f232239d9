#!/usr/bin/env bash
# The main job on a Debian 12 machine: installs what is missing, builds, and brings up the whole system on
# this machine (PostgreSQL, migrations, workmonitor-server, a demo company, the agent signed in and
# tracking) — see scripts/stack.sh. `bash scripts/run.sh --local-only` runs just the agent, with no
# server and no network, in the foreground.
set -euo pipefail
cd "$(dirname "$0")/.."
local_only=0
[[ ${1:-} == --local-only ]] && { local_only=1; shift; }
if ((local_only)); then bash scripts/deps.sh core gui; else bash scripts/deps.sh core gui server; fi
mkdir -p build
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DWM_BUILD_TESTS=OFF -DWM_BUILD_BENCH=OFF \
  >build/release.configure.log 2>&1 || { cat build/release.configure.log; exit 1; }
echo "building (log: build/release.build.log)"
cmake --build build/release -j "$(nproc)" >build/release.build.log 2>&1 ||
  { tail -n 150 build/release.build.log; echo "build failed (whole log: build/release.build.log)" >&2; exit 1; }
((local_only)) || exec bash scripts/stack.sh "$@"

agent=$PWD/build/release/agent/workmonitor-agent
cat <<TXT
WorkMonitor agent, local-only: records stay in this machine's SQLite outbox; nothing is sent anywhere.
In another terminal:
  $agent status            what it is doing now
  $agent start --note demo start the timer      ($agent stop to stop it)
  $agent report            today's tracked time, apps, idle and breaks
  $agent doctor            what works on this machine (X display, state dir, outbox)
Ctrl-C stops the agent; open spans are closed at that moment.
TXT
exec "$agent" run --local-only "$@"
