#!/usr/bin/env bash
# Install everything the test suite needs, then run the whole suite.
# Usage: bash scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
# torch pinned exactly: an unpinned torch pulls a multi-GB CUDA build (2.13.0 is what the
# CPU build installed here satisfies, so pip leaves it alone).
python -m pip install --disable-pip-version-check -q -e ".[test]" "torch==2.13.0"
# The web UI's browser tests drive Debian's Chromium through the playwright package
# (never `playwright install`: no browser download).
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = "0" ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    elif command -v sudo >/dev/null 2>&1; then
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "scripts/test.sh: chromium is missing and cannot be installed without root;" \
             "install Debian's chromium package (the browser tests fail without it)" >&2
    fi
fi
exec python -m pytest "$@"
