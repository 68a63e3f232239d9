#!/usr/bin/env bash
# The whole system on one machine, from a built tree (scripts/run.sh builds, then runs this):
# a private PostgreSQL 15 cluster (loopback/Unix socket only) in .stack/, the migrations, workmonitor-server
# on 127.0.0.1, a demo company and users, and the agent signed in as the demo employee, tracking; with a
# display (DISPLAY or WAYLAND_DISPLAY set), the tray icon as the employee's face (it asks for consent).
# Ctrl-C stops everything cleanly; running it again reuses the same data.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${WM_BUILD_DIR:-$root/build/release}
stack=${WM_STACK_DIR:-$root/.stack}
port=${WM_SERVER_PORT:-8001}
pgport=${WM_PG_PORT:-54329}
server_bin=$build/server/workmonitor-server
agent_bin=$build/agent/workmonitor-agent
tray_bin=$build/ui/workmonitor-tray
pgbin=/usr/lib/postgresql/15/bin
[[ -x $server_bin && -x $agent_bin ]] || { echo "stack: build first (bash scripts/run.sh)" >&2; exit 1; }

mkdir -p "$stack"
chmod 0700 "$stack"
# PostgreSQL refuses to run as root: as root the cluster belongs to a system user of its own.
pg_user=$(id -un)
as_pg() { "$@"; }
if [[ $(id -u) -eq 0 ]]; then
  pg_user=workmonitor-pg
  id "$pg_user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$pg_user"
  as_pg() { runuser -u "$pg_user" -- "$@"; }
  chmod 0711 "$stack"  # the cluster user must reach its own folders inside; nothing else is readable
fi
# Everything PostgreSQL writes lives in one folder its user owns.
pgroot=$stack/pg
pgdata=$pgroot/data
pgsock=$pgroot/sock
mkdir -p "$pgroot"
[[ $(id -u) -eq 0 ]] && chown "$pg_user" "$pgroot"
chmod 0700 "$pgroot"
as_pg mkdir -p "$pgsock"

# GET /readyz with bash alone (no curl needed): true when the server answers 200.
ready() {
  local reply
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  printf 'GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
  read -r -t 2 reply <&3 || true
  exec 3<&- 3>&-
  [[ $reply == *" 200 "* ]]
}

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "stack: stopping"
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  as_pg "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1 || true
  echo "stack: stopped (data kept in $stack)"
}
trap cleanup INT TERM EXIT

if [[ ! -f $pgdata/PG_VERSION ]]; then
  echo "stack: creating the PostgreSQL cluster in $pgdata"
  as_pg "$pgbin/initdb" -D "$pgdata" -U postgres -A peer --auth-local=trust -E UTF8 --locale=C.UTF-8 \
    >"$stack/initdb.log" 2>&1 || { cat "$stack/initdb.log"; exit 1; }
fi
as_pg "$pgbin/pg_ctl" -D "$pgdata" -l "$pgroot/postgres.log" -w \
  -o "-c listen_addresses='' -c port=$pgport -c unix_socket_directories='$pgsock'" start >/dev/null
superuser="host=$pgsock port=$pgport user=postgres dbname=postgres"
psql -q "$superuser" -tAc "select 1 from pg_database where datname='workmonitor'" | grep -q 1 ||
  psql -q "$superuser" -c "create database workmonitor" >/dev/null
admin_db="host=$pgsock port=$pgport user=postgres dbname=workmonitor"
"$server_bin" --db "$admin_db" migrate --dir "$root/migrations"
# The server connects as the runtime role: no superuser, no BYPASSRLS, owns nothing.
app_db="host=$pgsock port=$pgport user=workmonitor_app dbname=workmonitor"

umask 077
secret_file=$stack/jwt_secret
[[ -s $secret_file ]] || head -c 48 /dev/urandom | base64 | tr -d '\n=' >"$secret_file"
creds=$stack/demo-credentials
if [[ ! -s $creds ]]; then
  company=$("$server_bin" --db "$admin_db" admin create-company "Demo Company")
  admin_pw=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
  emp_pw=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
  echo "$admin_pw" | "$server_bin" --db "$admin_db" admin create-user --company "$company" \
    --email admin@demo.example --role admin --full-name "Demo Admin" --password-stdin >/dev/null
  echo "$emp_pw" | "$server_bin" --db "$admin_db" admin create-user --company "$company" \
    --email employee@demo.example --role employee --full-name "Demo Employee" --password-stdin >/dev/null
  printf 'company=%s\nadmin=admin@demo.example %s\nemployee=employee@demo.example %s\n' \
    "$company" "$admin_pw" "$emp_pw" >"$creds"
fi
emp_pw=$(sed -n 's/^employee=[^ ]* //p' "$creds")

mkdir -p "$stack/screenshots"
DATABASE_URL=$app_db JWT_SECRET=$(cat "$secret_file") JWT_ALGORITHM=HS256 BACKEND_URL="http://127.0.0.1:$port" \
  "$server_bin" serve --listen "127.0.0.1:$port" --screenshot-dir "$stack/screenshots" \
  --migrations-dir "$root/migrations" >>"$stack/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  ready "$port" && break
  kill -0 "${pids[-1]}" 2>/dev/null || { tail -n 30 "$stack/server.log"; exit 1; }
  sleep 0.1
done

agent=("$agent_bin" --state-dir "$stack/agent" --socket "$stack/run/agent.sock" --config "$stack/agent.json")
"${agent[@]}" run --server "http://127.0.0.1:$port" --quiet &
pids+=($!)
for _ in $(seq 100); do
  "${agent[@]}" version >/dev/null 2>&1 && [[ -S $stack/run/agent.sock ]] && break
  sleep 0.1
done
if ! "${agent[@]}" status --json 2>/dev/null | grep -q '"auth": "signed_in"'; then
  echo "$emp_pw" | "${agent[@]}" login --email employee@demo.example >/dev/null
fi
"${agent[@]}" status --json | grep -q '"state": "tracking"' || "${agent[@]}" start --note "demo" >/dev/null
"${agent[@]}" sync >/dev/null || true

# The tray, when there is a desktop to show it on. --no-autostart: this demo must not add itself to the
# person's login session. Without a system tray the tray says so in its log and the agent runs on.
tray_line="tray            not started: no display (DISPLAY unset); the agent runs headless"
if [[ -n ${DISPLAY:-}${WAYLAND_DISPLAY:-} && -x $tray_bin ]]; then
  "$tray_bin" --no-autostart --no-start-agent --socket "$stack/run/agent.sock" --state-dir "$stack/agent" \
    --config "$stack/agent.json" >>"$stack/tray.log" 2>&1 &
  pids+=($!)
  tray_line="tray            on ${DISPLAY:-$WAYLAND_DISPLAY} (log: $stack/tray.log)"
elif [[ ! -x $tray_bin ]]; then
  tray_line="tray            not built (Qt 6 missing?); the agent runs headless"
fi

cat <<TXT

WorkMonitor is running on this machine:
  PostgreSQL 15   $pgsock (port $pgport, no TCP), data in $pgdata
  server          http://127.0.0.1:$port   (log: $stack/server.log)
  agent           signed in as employee@demo.example, timer running (log: $stack/agent/logs/agent.log)
  $tray_line
Demo sign-ins (also in $creds):
$(sed -n 's/^\(admin\|employee\)=/  /p' "$creds")
Only the timer runs until the employee agrees to what is monitored (the tray asks; or, in another terminal):
  ${agent[*]} consent            # what the company's settings collect
  ${agent[*]} consent --grant
Try, in another terminal:
  ${agent[*]} status
  ${agent[*]} sync
  ${agent[*]} report
  psql "$admin_db" -c 'select user_id, start_time, end_time from time_entries'
Ctrl-C stops everything.
TXT
wait "${pids[@]}"
