#!/bin/sh
# Build irqd's Debian package from this checkout with Debian's tools
# (dpkg-buildpackage + debhelper), without the network.
#   usage: packaging/build-deb.sh WHEELHOUSE [OUTDIR]
# WHEELHOUSE: the wheels of packaging/requirements.txt and build-requirements.txt
# (packaging/fetch-wheels.sh WHEELHOUSE fetches them once). OUTDIR (default
# dist/) gets irqd_VERSION_ARCH.deb, .changes, .buildinfo and lintian.txt.
# Needs: apt-get install debhelper dh-python python3-venv man-db groff-base dpkg-dev
# (and lintian to get the lintian report).
set -eu
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $0 WHEELHOUSE [OUTDIR]" >&2; exit 2; }
wheelhouse=$(realpath "$1")
repo=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${2:-$repo/dist}" && cd "${2:-$repo/dist}" && pwd)
[ -d "$wheelhouse" ] || { echo "$0: $wheelhouse: no such directory" >&2; exit 2; }
for tool in dpkg-buildpackage dh dh_python3; do
    command -v "$tool" >/dev/null || { echo "$0: $tool missing: apt-get install debhelper dh-python dpkg-dev" >&2; exit 2; }
done
python3 -c 'import ensurepip' 2>/dev/null || { echo "$0: apt-get install python3-venv" >&2; exit 2; }

version=$(dpkg-parsechangelog -l "$repo/debian/changelog" -S Version)
# dpkg-buildpackage writes next to the source tree: build in a copy holding only
# what the build reads (and the fixture its smoke test plans)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src="$work/irqd-${version%-*}"
mkdir "$src"
(cd "$repo" && tar --exclude=__pycache__ --exclude='*.pyc' --exclude=debian/.build --exclude=.mypy_cache --exclude=.ruff_cache --exclude=.pytest_cache -cf - \
    irqd conf systemd debian packaging README.md pyproject.toml fixtures/sysfs/dev-virtio-2cpu) | tar -xf - -C "$src"

# SOURCE_DATE_EPOCH from the changelog (dpkg-buildpackage sets it): reproducible man page dates
(cd "$src" && IRQD_WHEELHOUSE="$wheelhouse" dpkg-buildpackage -b -us -uc) > "$work/build.log" 2>&1 || {
    tail -40 "$work/build.log" >&2; echo "$0: dpkg-buildpackage failed (log above)" >&2; exit 1; }
for f in "$work"/irqd_*; do
    case $f in *.deb|*.changes|*.buildinfo) cp "$f" "$out/" ;; esac
done
changes=$(ls "$out"/irqd_"$version"_*.changes)
if command -v lintian >/dev/null; then
    # --fail-on error: warnings are listed (and each explained in packaging/README.md)
    lintian --info --fail-on error "$changes" > "$out/lintian.txt" 2>&1 || { cat "$out/lintian.txt" >&2; exit 1; }
    cat "$out/lintian.txt"
fi
ls "$out"/irqd_"$version"_*.deb
