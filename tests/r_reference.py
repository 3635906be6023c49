"""R's surveillance::earsC as the independent reference for odgeo.alerts.ears (R is installed by .ci/run)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

R_SCRIPT = r"""
suppressPackageStartupMessages(library(surveillance))
args <- commandArgs(trailingOnly = TRUE)
y <- as.matrix(read.csv(args[1], header = FALSE))
s <- sts(observed = y, start = c(2020, 1), frequency = 365)
r <- earsC(s, control = list(method = args[2], alpha = 1 - pnorm(as.numeric(args[3])),
                             minSigma = as.numeric(args[4])))
write.table(upperbound(r), args[5], sep = ",", row.names = FALSE, col.names = FALSE)
write.table(alarms(r) * 1, args[6], sep = ",", row.names = FALSE, col.names = FALSE)
cat(sprintf("%.17g", qnorm(1 - (1 - pnorm(as.numeric(args[3]))))), file = args[7])
"""


def rscript() -> str:
    """The Rscript program; a loud failure when R or surveillance is missing (CI installs both)."""
    path = shutil.which("Rscript")
    if path is None:
        raise AssertionError("Rscript not found: install r-base-core and r-cran-surveillance "
                             "(scripts/test-all.sh does)")
    return path


def r_earsc(counts: np.ndarray, method: str, z: float, min_sd: float,
            work: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """earsC's upper bounds and alarms over its default range (the days it can score), and its z.

    earsC takes ``alpha``, not z: ``alpha = 1 - pnorm(z)`` round-trips to a z a few ulps
    off (2.9999999999999996 for 3), which decides counts lying exactly on the bound;
    the caller compares with odgeo run at that same z.
    """
    counts = np.asarray(counts, dtype=float).reshape(len(counts), -1)
    data, upper, alarm, script, z_used = (work / n for n in ("y.csv", "upper.csv", "alarm.csv", "ears.R", "z.txt"))
    np.savetxt(data, counts, delimiter=",", fmt="%d")
    script.write_text(R_SCRIPT, encoding="utf-8")
    done = subprocess.run([rscript(), str(script), str(data), method.upper(), repr(float(z)), repr(float(min_sd)),
                           str(upper), str(alarm), str(z_used)], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise AssertionError(f"Rscript failed: {done.stderr}")
    shape = (-1, counts.shape[1])
    return (np.loadtxt(upper, delimiter=",", ndmin=2).reshape(shape),
            np.loadtxt(alarm, delimiter=",", ndmin=2).reshape(shape).astype(bool), float(z_used.read_text()))


def r_numbers(code: str, work: Path) -> np.ndarray:
    """Run R ``code`` that ends by printing numbers (``cat(sprintf("%.17g", x), sep = "\\n")``); those numbers.

    ``Inf`` and ``NaN`` come back as numpy's.
    """
    script = work / "numbers.R"
    script.write_text(code, encoding="utf-8")
    done = subprocess.run([rscript(), str(script)], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise AssertionError(f"Rscript failed: {done.stderr}")
    return np.array([float(v) for v in done.stdout.split()])
