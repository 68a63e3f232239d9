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
sudo=""
need_root() {
  [[ $(id -u) -eq 0 || -n "$sudo" ]] && return 0
  command -v sudo >/dev/null || { echo "deps: need root (or sudo) to $1" >&2; exit 1; }
  sudo=sudo
}
# Firefox ESR: the browser tests drive it over WebDriver BiDi with system access (its chrome scope), which
# the ESR in bookworm's main suite (140) lacks and the one in bookworm-security has. An installed Debian 12
# lists the security suite in its sources (the installer and the official images write it); a root made by
# debootstrap does not, so it gets the installer's stanza here and Firefox comes from there.
if [[ " ${want[*]} " == *" firefox-esr "* ]] &&
  ! grep -rqs -- 'bookworm-security' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  need_root "add the Debian security suite to apt's sources"
  echo "deps: apt lists no bookworm-security; adding /etc/apt/sources.list.d/debian-security.sources" >&2
  printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian-security' 'Suites: bookworm-security' \
    'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' |
    $sudo tee /etc/apt/sources.list.d/debian-security.sources >/dev/null
  [[ " ${missing[*]} " == *" firefox-esr "* ]] || missing+=(firefox-esr) # an installed one is upgraded from there
fi
((${#missing[@]} == 0)) && exit 0
need_root "install: ${missing[*]}"
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
