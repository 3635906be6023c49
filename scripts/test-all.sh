#!/bin/sh
# The whole test suite, twice: against the newest releases pyproject.toml allows (what a fresh
# `pip install` brings today), then against the oldest it allows (requirements/minimum.txt),
# so a release at either end of a range that breaks odgeo fails here, not on a user's machine.
set -eu
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q -e '.[test]'
sh scripts/install-chromium.sh
sh scripts/install-r.sh
sh scripts/install-postgis.sh
echo "== newest releases allowed =="
.venv/bin/python -m pytest
python3 -m venv .venv-oldest
.venv-oldest/bin/pip install -q --prefer-binary -c requirements/minimum.txt -e '.[test]'
echo "== oldest releases allowed (requirements/minimum.txt) =="
.venv-oldest/bin/python -m pytest -p no:cacheprovider
