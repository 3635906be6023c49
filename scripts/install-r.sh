#!/bin/sh
# Install R with the packages the tests compare odgeo with: surveillance (earsC, for the EARS tests)
# and epitools (ageadjust.direct, for the report's rates); Debian's r-base-core, r-cran-surveillance
# and r-cran-epitools. Used by the README's test command (and .ci/run). Does nothing when Rscript
# can already load both.
set -e
if command -v Rscript >/dev/null 2>&1 && Rscript -e 'library(surveillance); library(epitools)' >/dev/null 2>&1; then
    exit 0
fi
sh "$(dirname "$0")/apt-install.sh" "the EARS and report tests" r-base-core r-cran-surveillance r-cran-epitools
