#!/usr/bin/env bash
# Install everything the test suite needs, then run the whole suite.
# Usage: bash scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
# torch pinned exactly: an unpinned torch pulls a multi-GB CUDA build (2.13.0 is what the
# CPU build installed here satisfies, so pip leaves it alone).
python -m pip install --disable-pip-version-check -q -e ".[test]" "torch==2.13.0"
exec python -m pytest "$@"
