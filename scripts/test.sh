#!/usr/bin/env bash
# Install everything the test suite needs, then run the whole suite.
# Usage: bash scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --disable-pip-version-check -q -e ".[test]"
exec python -m pytest "$@"
