#!/usr/bin/env bash
# Builds the Linux packages from this tree into dist/: scripts/package.sh deb
#   workmonitor-agent, workmonitor-tray, workmonitor-server (.deb; their -dbgsym packages in dist/debug/),
#   then runs lintian on them (errors fail the build; warnings are listed in installer/deb/README.md).
# The version is the one in the top-level CMakeLists.txt; WM_DEB_VERSION overrides it (the upgrade test builds
# an "earlier" version that way). Installs what is missing first, like the README's other commands.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
[[ ${1:-} == deb ]] || { echo "usage: scripts/package.sh deb" >&2; exit 2; }
bash scripts/deps.sh core gui server package

version=${WM_DEB_VERSION:-$(sed -n 's/^project(WorkMonitor VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)}
[[ -n $version ]] || { echo "package.sh: no version in CMakeLists.txt" >&2; exit 1; }

# dpkg-buildpackage wants debian/ at the top of the source: stage the tree's files (tracked and new, not
# ignored) with installer/deb/debian as debian/, at a fixed path so the compiler cache is reused.
stage=$top/build/package
src=$stage/workmonitor
rm -rf "$stage" && mkdir -p "$src"
if [[ -n ${WM_PACKAGE_REF:-} ]]; then  # a commit rather than the work tree (e.g. HEAD while edits are under way)
  git archive --format=tar "$WM_PACKAGE_REF" | tar -C "$src" -xf -
  rm -rf "$src/installer/deb/debian"
elif command -v git >/dev/null && git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard | grep -zv '^installer/deb/debian/' |
    xargs -0 tar -cf - --no-recursion | tar -C "$src" -xf -
else  # an exported tree (a release tarball, `git archive`): everything but what .gitignore names
  tar -cf - --exclude='./build*' --exclude=./dist --exclude=./.cache --exclude=./.stack --exclude=./.git \
    --exclude=./compile_commands.json --exclude=./installer/deb/debian . | tar -C "$src" -xf -
fi
cp -r installer/deb/debian "$src/debian"  # the work tree's packaging, always
cat >"$src/debian/changelog" <<CHANGELOG
workmonitor ($version) unstable; urgency=medium

  * Built from the WorkMonitor tree (commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)).

 -- WorkMonitor developers <packaging@workmonitor.example.org>  $(date -R -d @"${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")
CHANGELOG

# debhelper points HOME at a temporary folder while it builds: keep the real compiler cache.
export CCACHE_DIR=${CCACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ccache} CCACHE_BASEDIR=$src CCACHE_NOHASHDIR=true
export DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}"
echo "package.sh: building workmonitor $version (log: $stage/build.log)"
(cd "$src" && dpkg-buildpackage -b -uc -us --no-sign) >"$stage/build.log" 2>&1 ||
  { tail -n 80 "$stage/build.log"; echo "package.sh: the package build failed (log: $stage/build.log)" >&2; exit 1; }

mkdir -p dist/debug
rm -f dist/*.deb dist/debug/*.deb dist/*.changes dist/*.buildinfo
for f in "$stage"/*.deb "$stage"/*.ddeb; do
  [[ -e $f ]] || continue
  case $f in *-dbgsym_*) mv "$f" dist/debug/ ;; *) mv "$f" dist/ ;; esac
done
mv "$stage"/*.changes "$stage"/*.buildinfo dist/ 2>/dev/null || true

# lintian: errors fail; every warning must be one installer/deb/README.md lists and justifies.
lintian --tag-display-limit 0 --no-tag-display-limit -i dist/*.deb >"$stage/lintian.log" 2>&1 || true
grep -E '^(E|W): ' "$stage/lintian.log" | sort -u >"$stage/lintian.tags" || true
if grep -q '^E: ' "$stage/lintian.tags"; then
  cat "$stage/lintian.tags"; echo "package.sh: lintian reports errors" >&2; exit 1
fi
unjustified=0
while read -r line; do
  tag=$(awk '{print $3}' <<<"$line")
  grep -q -- "\`$tag\`" installer/deb/README.md || { echo "lintian warning not justified in installer/deb/README.md: $line" >&2; unjustified=1; }
done < <(grep '^W: ' "$stage/lintian.tags" || true)
((unjustified == 0)) || exit 1
echo "package.sh: lintian: $(grep -c '^W: ' "$stage/lintian.tags" || true) warning(s), all justified; no errors"
for f in dist/*.deb; do printf '  %s  %s\n' "$(du -h "$f" | cut -f1)" "$f"; done
