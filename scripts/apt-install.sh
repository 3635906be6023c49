#!/bin/sh
# Install Debian packages for the tests: apt-install.sh WHAT PACKAGE...  (WHAT says which tests need them).
# Shared by install-chromium.sh, install-r.sh and install-postgis.sh. Without apt-get it says what to
# install and exits 0: the tests that need the packages then fail and say the same.
set -e
what="$1"; shift
if ! command -v apt-get >/dev/null 2>&1; then
    echo "no apt-get on this machine; install $* by hand ($what need them)" >&2
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
echo "installing Debian's $* for $what..." >&2
if ! $SUDO apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1; then
    $SUDO apt-get update -q >/dev/null
    $SUDO apt-get install -y -q --no-install-recommends "$@" >/dev/null
fi
