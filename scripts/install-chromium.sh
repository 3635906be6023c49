#!/bin/sh
# Install Debian's Chromium for odgeo's browser tests, and poppler-utils (pdftoppm, pdftotext) to look
# at the pages of the report's PDF, when they are missing.
# Used by the README's test command (and so by .ci/run). Does nothing if both are there
# (a Chromium on PATH or ODGEO_CHROMIUM pointing at one).
set -e
has_chromium() { [ -n "$ODGEO_CHROMIUM" ] || command -v chromium >/dev/null 2>&1; }
if has_chromium && command -v pdftoppm >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium: no apt-get on this machine; install Chromium and poppler-utils, and set" >&2
    echo "  ODGEO_CHROMIUM=/path/to/chromium (or set ODGEO_SKIP_BROWSER=1 to skip the browser tests)" >&2
    exit 0  # the browser tests then fail and say the same
fi
packages="poppler-utils"
has_chromium || packages="chromium $packages"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
echo "install-chromium: installing Debian's $packages for the browser and report tests..." >&2
# shellcheck disable=SC2086
if ! $SUDO apt-get install -y -q $packages >/dev/null 2>&1; then
    $SUDO apt-get update -q >/dev/null
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -q $packages >/dev/null
fi
