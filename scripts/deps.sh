#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/packages/<set>.txt that are missing.
# Idempotent and quiet when nothing is missing. Usage: scripts/deps.sh core [test ...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
want=()
for set in "$@"; do
  while read -r pkg cond _; do
    [[ -z "$pkg" || "$pkg" == \#* ]] && continue
    # "pkg unless-command=CMD": not needed where CMD already exists (npm ships inside NodeSource's nodejs,
    # whose packages then conflict with Debian's npm).
    [[ "$cond" == unless-command=* ]] && command -v "${cond#unless-command=}" >/dev/null && continue
    want+=("$pkg")
  done <"$here/packages/$set.txt"
done
missing=()
for pkg in "${want[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
# Run as root, the tests and the main job start PostgreSQL as an unprivileged user, which must be able to
# reach its programs under /. A root directory closed to others (0700: seen in chroots made with mktemp -d,
# never on an installed system) stops it with "permission denied"; open it for traversal only (o+x).
if [[ $(id -u) -eq 0 ]] && (( (8#$(stat -c %a /) & 1) == 0 )); then
  echo "deps: / is not searchable by other users ($(stat -c %A /)); adding o+x so PostgreSQL can run" >&2
  chmod o+x /
fi
((${#missing[@]} == 0)) && exit 0
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
