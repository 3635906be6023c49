#!/bin/sh
# Install R and its surveillance package (Debian's r-base-core, r-cran-surveillance): the independent
# reference the EARS tests compare odgeo.ears with. Used by the README's test command (and .ci/run).
# Does nothing when Rscript can already load surveillance.
set -e
if command -v Rscript >/dev/null 2>&1 && Rscript -e 'library(surveillance)' >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-r: no apt-get on this machine; install R and the surveillance package (the EARS tests need them)" >&2
    exit 0  # the EARS tests then fail and say the same
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
echo "install-r: installing Debian's r-base-core and r-cran-surveillance for the EARS tests..." >&2
if ! $SUDO apt-get install -y -q --no-install-recommends r-base-core r-cran-surveillance >/dev/null 2>&1; then
    $SUDO apt-get update -q >/dev/null
    $SUDO apt-get install -y -q --no-install-recommends r-base-core r-cran-surveillance >/dev/null
fi
