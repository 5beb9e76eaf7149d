#!/bin/sh
# The one step of the Debian build that needs the network (PyPI): download the
# wheels pinned in packaging/requirements.txt and build-requirements.txt into
# WHEELHOUSE, for the Python that will run them (Debian 12's python3, 3.11).
# Pip's own cache answers repeated runs. build-deb.sh then needs no network.
#   usage: packaging/fetch-wheels.sh WHEELHOUSE
set -eu
[ $# -eq 1 ] || { echo "usage: $0 WHEELHOUSE" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
# --no-deps: exactly the pinned set; the build's --no-index install then fails
# loudly if a dependency is missing from the pins
exec python3 -m pip --disable-pip-version-check download --only-binary=:all: --no-deps \
    --dest "$1" -r "$here/requirements.txt" -r "$here/build-requirements.txt"
