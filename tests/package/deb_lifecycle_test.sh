#!/usr/bin/env bash
# The Debian packages' whole life in a brand-new Debian 12 root (debootstrap, minbase): install with apt pulling
# the dependencies, the programs run, systemd accepts every unit, an upgrade from the previous version keeps a
# person's outbox with pending records intact, remove stops the agent, purge leaves nothing of the packages'
# in /etc and /var and never touches a person's home. Run as root (chroot). Usage: deb_lifecycle_test.sh DIST_DIR
# Prints "deb lifecycle: N passed, M failed" and exits non-zero on a failure.
#
# "The previous version" is the same build relabelled one version lower (its control files rewritten): no
# earlier release exists yet. It exercises the maintainer scripts' upgrade path and the outbox's survival; when
# a release is published, point PREV_DIST at its packages instead.
set -uo pipefail
dist=$(cd "${1:?usage: deb_lifecycle_test.sh DIST_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
tmp=${TMPDIR:-/var/tmp}
work=$(mktemp -d "$tmp/wm-deb-test.XXXX")
root=$work/root
passed=0 failed=0
ok() { echo "PASS: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
in_root() { chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 bash -c "$*"; }
cleanup() {
  for m in "$root/proc" "$root/dev/pts" "$root/dev" "$root/tmp"; do umount -l "$m" 2>/dev/null; done
  grep -q " $root/" /proc/mounts || rm -rf "$work"
}
trap cleanup EXIT

# --- the previous version: the same debs relabelled lower -------------------------------------------------
mkdir -p "$work/new" "$work/prev"
cp "$dist"/*.deb "$work/new/"
new_version=$(dpkg-deb -f "$(ls "$work"/new/workmonitor-agent_*.deb)" Version)
prev_version="${PREV_VERSION:-${new_version}~prev1}"
if [[ -n ${PREV_DIST:-} ]]; then
  cp "$PREV_DIST"/*.deb "$work/prev/"
else
  for deb in "$work"/new/*.deb; do
    x=$work/x.$$; rm -rf "$x"; dpkg-deb -R "$deb" "$x"
    sed -i "s/^Version: .*/Version: $prev_version/; s/(= $new_version)/(= $prev_version)/g" "$x/DEBIAN/control"
    dpkg-deb --root-owner-group -Zxz -b "$x" "$work/prev/" >/dev/null
    rm -rf "$x"
  done
fi

# --- a brand-new Debian 12 root ------------------------------------------------------------------------------
base=$tmp/wm-deb-test-base-$(date +%Y%m).tar  # minbase, rebuilt monthly
mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
if [[ ! -f $base ]]; then
  echo "debootstrap: a minimal bookworm root (cached in $base)"
  d=$work/mk; debootstrap --variant=minbase bookworm "$d" ${mirror:+"$mirror"} >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log"; echo "debootstrap failed"; exit 1; }
  tar -C "$d" -cf "$base.tmp" . && mv "$base.tmp" "$base" && rm -rf "$d"
fi
mkdir -p "$root" && chmod 755 "$root" && tar -C "$root" -xf "$base"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
mount -t proc proc "$root/proc" && mount --bind /dev "$root/dev" && mount -t tmpfs tmpfs "$root/tmp"
chmod 1777 "$root/tmp"
mkdir -p "$root/debs" && cp -r "$work/new" "$work/prev" "$root/debs/"
in_root 'apt-get update -qq' >/dev/null 2>&1 || { echo "apt-get update failed in the fresh root"; exit 1; }

# --- install the previous version: apt resolves every dependency -------------------------------------------
t0=$(date +%s)
if in_root 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /debs/prev/*.deb' \
  >"$work/install.log" 2>&1; then ok "apt-get install of the previous version ($prev_version) pulls every dependency"
else tail -30 "$work/install.log"; bad "apt-get install of the previous version"; exit 1; fi
echo "install time in the fresh root: $(( $(date +%s) - t0 )) s (downloads included)"
check "workmonitor-agent version runs" in_root "workmonitor-agent version | grep -q '${new_version%%~*}'"
check "workmonitor-server --help runs" in_root 'workmonitor-server --help | grep -qi migrate'
check "workmonitor-tray is installed with its autostart entry and icons" in_root \
  'test -x /usr/bin/workmonitor-tray && test -f /etc/xdg/autostart/workmonitor-tray.desktop &&
   test -f /usr/share/icons/hicolor/scalable/apps/workmonitor.svg && test -f /usr/share/icons/hicolor/48x48/apps/workmonitor.png'
check "the browser extension's host and its Chromium and Firefox manifests are installed, and browser-host status accepts them" \
  in_root 'test -x /usr/lib/workmonitor/workmonitor-nmhost &&
   test "$(workmonitor-agent browser-host status --system --browser chromium --browser firefox --json | grep -c "\"installed\": true")" = 2'
check "the extension's source and the managed-policy examples are installed" in_root \
  'test -f /usr/share/workmonitor/browser-extension/manifest.json && test -f /usr/share/workmonitor/browser-extension/src/background.js &&
   test -f /usr/share/doc/workmonitor-agent/examples/chromium-workmonitor.json.example &&
   test -f /usr/share/doc/workmonitor-agent/examples/firefox-policies.json.example'
check "the server's user exists and its settings file is 0640 root:workmonitor-server with a generated secret" in_root \
  'id workmonitor-server >/dev/null && test "$(stat -c %a:%U:%G /etc/workmonitor/server.env)" = 640:root:workmonitor-server &&
   grep -Eq "^JWT_SECRET=.{40,}$" /etc/workmonitor/server.env'
check "installing enables and starts nothing (no unit enabled for anyone)" in_root \
  '! ls /etc/systemd/user/*/workmonitor-agent.service /etc/systemd/system/*/workmonitor-server.service 2>/dev/null | grep -q .'

# --- systemd accepts every unit ----------------------------------------------------------------------------
in_root 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd sqlite3 procps' >/dev/null 2>&1
check "systemd-analyze verify accepts workmonitor-server.service" in_root \
  'systemd-analyze verify /lib/systemd/system/workmonitor-server.service'
check "systemd-analyze verify accepts the user unit workmonitor-agent.service" in_root \
  'systemd-analyze verify /usr/lib/systemd/user/workmonitor-agent.service'

# --- the server on a fresh PostgreSQL 15, as installer/deb/README.md tells the admin ------------------------
t1=$(date +%s)
in_root 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 curl' \
  >"$work/pg-install.log" 2>&1 || { tail -20 "$work/pg-install.log"; bad "apt-get install postgresql-15"; }
in_root 'pg_ctlcluster 15 main start' >/dev/null 2>&1 || true
echo "PostgreSQL 15 installed and started in $(( $(date +%s) - t1 )) s"
in_root 'head -c 24 /dev/urandom | base64 > /root/app-password && cd / &&
         runuser -u postgres -- workmonitor-server --db dbname=workmonitor setup </root/app-password' \
  >"$work/setup.out" 2>"$work/setup.err"
check "workmonitor-server setup readies the fresh cluster from the installed migrations" \
  grep -q '^DATABASE_URL=postgresql://workmonitor_app:' "$work/setup.out"
url_line=$(grep '^DATABASE_URL=' "$work/setup.out" | head -1)
in_root "sed -i 's|^DATABASE_URL=.*|$url_line|' /etc/workmonitor/server.env"
in_root 'cd /var/lib/workmonitor-server && set -a && . /etc/workmonitor/server.env && set +a &&
         setsid runuser -u workmonitor-server -- workmonitor-server serve --listen "$LISTEN" \
           --screenshot-dir /var/lib/workmonitor-server/screenshots </dev/null >/tmp/server.out 2>&1 &'
ready=""
for _ in $(seq 50); do
  ready=$(in_root 'curl -s -o /dev/null -w "%{http_code}" http://127.0.0.1:8001/readyz' 2>/dev/null) && [[ $ready == 200 ]] && break
  sleep 0.2
done
check "the server, as its own user with the package's settings file, answers /readyz 200 (got ${ready:-nothing})" \
  test "$ready" = 200
check "setup run again changes nothing" in_root \
  'cd / && runuser -u postgres -- workmonitor-server --db dbname=workmonitor setup </root/app-password 2>&1 | grep -q "Nothing changed"'
in_root 'pkill -TERM -f "^workmonitor-server serve"; pg_ctlcluster 15 main stop' >/dev/null 2>&1 || true
[[ $ready == 200 ]] || { echo "--- setup:"; cat "$work/setup.err"; echo "--- server:"; cat "$root/tmp/server.out"; }

# --- a person's outbox with pending records ----------------------------------------------------------------
in_root 'useradd -m -s /bin/bash alice && install -d -m 0700 -o alice -g alice /run/user/1000' >/dev/null 2>&1
as_alice() { in_root "runuser -u alice -- env HOME=/home/alice XDG_RUNTIME_DIR=/run/user/1000 $*"; }
as_alice 'setsid workmonitor-agent run </dev/null >/tmp/agent.out 2>&1 &'
for _ in $(seq 50); do as_alice 'workmonitor-agent status' >/dev/null 2>&1 && break; sleep 0.2; done
as_alice 'workmonitor-agent start --note "before the upgrade" && sleep 1 && workmonitor-agent break start && sleep 1 &&
          workmonitor-agent break end && workmonitor-agent stop' >"$work/agent-use.log" 2>&1
as_alice "pkill -TERM -u alice -f '^workmonitor-agent run'"; sleep 2
db=/home/alice/.local/state/workmonitor/outbox.db
dump() { in_root "sqlite3 $db 'select * from records order by 1' | sha256sum"; }
pending() { in_root "sqlite3 $db \"select count(*) from records where revision > sent_revision\""; }
before=$(dump 2>/dev/null); pending_before=$(pending 2>/dev/null || echo 0)
check "the person's outbox holds pending records before the upgrade ($pending_before)" test "${pending_before:-0}" -gt 0
check "the outbox's rows were read before the upgrade" test "$before" != "$(printf '' | sha256sum)"

# --- upgrade ------------------------------------------------------------------------------------------------
if in_root 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /debs/new/*.deb' \
  >"$work/upgrade.log" 2>&1; then ok "upgrade $prev_version -> $new_version"
else tail -30 "$work/upgrade.log"; bad "upgrade"; fi
check "upgraded: dpkg shows $new_version" in_root "dpkg-query -W -f='\${Version}' workmonitor-agent | grep -qx '$new_version'"
check "the upgrade kept the outbox's rows exactly" test "$(dump)" = "$before"
check "the outbox passes integrity_check after the upgrade" in_root "sqlite3 $db 'pragma integrity_check' | grep -qx ok"
check "the generated JWT_SECRET survived the upgrade" in_root 'grep -Eq "^JWT_SECRET=.{40,}$" /etc/workmonitor/server.env'
as_alice 'setsid workmonitor-agent run </dev/null >/tmp/agent2.out 2>&1 &'
for _ in $(seq 50); do as_alice 'workmonitor-agent status' >/dev/null 2>&1 && break; sleep 0.2; done
check "the upgraded agent opens the kept outbox with its records pending" \
  bash -c "$(declare -f in_root as_alice); root='$root'; as_alice 'workmonitor-agent status' | grep -Eq 'Outbox: [1-9][0-9]* records, [1-9][0-9]* not uploaded'"

# Service mode, as README.md tells the administrator to turn it on for every user.
in_root 'systemctl --global enable workmonitor-agent.service' >"$work/enable.log" 2>&1
check "systemctl --global enable turns service mode on for every user" in_root \
  'test -L /etc/systemd/user/graphical-session.target.wants/workmonitor-agent.service &&
   systemctl --global is-enabled workmonitor-agent.service | grep -qx enabled'
check "the upgraded agent runs before the remove" in_root "pgrep -f '^workmonitor-agent run' >/dev/null"

# --- remove: the running agent is stopped, the person's data stays -------------------------------------------
in_root 'DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq workmonitor-tray workmonitor-agent workmonitor-server' \
  >"$work/remove.log" 2>&1 || { tail -20 "$work/remove.log"; bad "apt-get remove"; }
sleep 1
check "remove stopped the running agent" in_root "! pgrep -f '^workmonitor-agent run' >/dev/null"
check "remove left the person's outbox" in_root "test -f $db"
check "remove kept the server's settings (until purge)" in_root 'test -f /etc/workmonitor/server.env'
check "remove kept service mode on (a reinstall keeps it)" in_root \
  'test -L /etc/systemd/user/graphical-session.target.wants/workmonitor-agent.service'

# --- purge: nothing of the packages' in /etc and /var ----------------------------------------------------------
in_root 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq workmonitor-tray workmonitor-agent workmonitor-server' \
  >"$work/purge.log" 2>&1 || { tail -20 "$work/purge.log"; bad "apt-get purge"; }
left=$(in_root 'find /etc /var -path /var/cache/apt -prune -o -path /var/lib/apt -prune -o -path /var/log -prune -o
                 -path /var/lib/dpkg/info -prune -o -iname "*workmonitor*" -print' 2>/dev/null)
check "purge leaves nothing named workmonitor in /etc and /var${left:+ (left: $left)}" test -z "$left"
check "purge never touches a person's home" in_root "test -f $db && sqlite3 $db 'pragma integrity_check' | grep -qx ok"

# --- purge keeps the server's stored screenshots unless asked -------------------------------------------------
in_root 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /debs/new/workmonitor-server_*.deb' \
  >/dev/null 2>&1
in_root 'install -d -o workmonitor-server /var/lib/workmonitor-server/screenshots/sha256/ab && echo x >/var/lib/workmonitor-server/screenshots/sha256/ab/shot'
in_root 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq workmonitor-server' >"$work/purge2.log" 2>&1
check "purge keeps stored screenshots and says so" bash -c \
  "test -f '$root/var/lib/workmonitor-server/screenshots/sha256/ab/shot' && grep -q 'kept /var/lib/workmonitor-server' '$work/purge2.log'"
check "purge removed the server's settings even so" test ! -e "$root/etc/workmonitor/server.env"

echo "deb lifecycle: $passed passed, $failed failed"
((failed == 0))
