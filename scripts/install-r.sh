#!/bin/sh
# Install R and its surveillance package (Debian's r-base-core, r-cran-surveillance): the independent
# reference the EARS tests compare odgeo.ears with. Used by the README's test command (and .ci/run).
# Does nothing when Rscript can already load surveillance.
set -e
if command -v Rscript >/dev/null 2>&1 && Rscript -e 'library(surveillance)' >/dev/null 2>&1; then
    exit 0
fi
sh "$(dirname "$0")/apt-install.sh" "the EARS tests" r-base-core r-cran-surveillance
