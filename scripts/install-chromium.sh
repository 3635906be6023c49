#!/bin/sh
# Install Debian's Chromium for odgeo's browser tests, when it is missing.
# Used by the README's test command (and so by .ci/run). Does nothing if a
# Chromium is already there or ODGEO_CHROMIUM points at one.
set -e
if [ -n "$ODGEO_CHROMIUM" ] || command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium: no apt-get on this machine; install Chromium and set ODGEO_CHROMIUM=/path/to/chromium" >&2
    echo "  (or set ODGEO_SKIP_BROWSER=1 to skip the browser tests)" >&2
    exit 0  # the browser tests then fail and say the same
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
echo "install-chromium: installing Debian's chromium for the browser tests..." >&2
if ! $SUDO apt-get install -y -q chromium >/dev/null 2>&1; then
    $SUDO apt-get update -q >/dev/null
    $SUDO apt-get install -y -q chromium >/dev/null
fi
