"""The same scan as SaTScan input files, so an analyst can check odgeo against SaTScan.

Writes ``odgeo.cas`` (case file: location id, number of cases, date),
``odgeo.geo`` (coordinates file: location id, latitude, longitude, as SaTScan
reads lat/long) and ``odgeo.prm`` (a parameter file with the matching
settings: space-time permutation model, prospective or retrospective
space-time analysis, days, the study window, the largest circle in km as well
as SaTScan's 50% of cases, the longest cluster in days, the fewest cases,
the replications, no geographical overlap of secondary clusters). Open the
.prm in SaTScan (File > Open Session) or run ``satscan odgeo.prm``. Every
setting's mapping is in docs/scan.md.

The files hold every case's location and day: they are restricted data.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import OutputError
from ..incidents.dates import calendar_day
from ..io.outputs import atomic_write_bytes, write_error
from .statistic import MAX_SHARE, ScanSettings

if TYPE_CHECKING:
    from .cases import ScanCases

__all__ = ["SATSCAN_FILES", "satscan_parameters", "write_satscan_input"]

SATSCAN_FILES = ("odgeo.cas", "odgeo.geo", "odgeo.prm")


def location_ids(n: int) -> list[str]:
    """SaTScan location ids of odgeo's locations (their order in the scan)."""
    width = max(4, len(str(n)))
    return [f"L{i + 1:0{width}d}" for i in range(n)]


def satscan_parameters(first_day: pd.Timestamp, n_days: int, options: ScanSettings) -> str:
    """The .prm text matching ``options`` (SaTScan 9.x/10.x parameter names)."""
    last_day = calendar_day(first_day, n_days - 1)

    def date(d: pd.Timestamp) -> str:
        return f"{d:%Y/%m/%d}"

    sections: dict[str, dict[str, object]] = {
        "Input": {"CaseFile": "odgeo.cas", "PrecisionCaseTimes": 3, "StartDate": date(first_day),
                  "EndDate": date(last_day), "CoordinatesFile": "odgeo.geo", "UseGridFile": "n",
                  "CoordinatesType": 1},
        "Analysis": {"AnalysisType": 3 if options.retrospective else 4, "ModelType": 2, "ScanAreas": 1,
                     "TimeAggregationUnits": 3, "TimeAggregationLength": 1},
        "Output": {"ResultsFile": "odgeo.satscan.txt"},
        "Spatial Window": {"MaxSpatialSizeInPopulationAtRisk": int(MAX_SHARE * 100),
                           "UseMaxCirclePopulationFileOption": "n", "UseDistanceFromCenterOption": "y",
                           "MaxSpatialSizeInDistanceFromCenter": round(options.max_radius_m / 1000, 6),
                           "IncludePurelyTemporal": "n", "SpatialWindowShapeType": 0},
        "Temporal Window": {"MinimumTemporalClusterSize": 1, "MaxTemporalSizeInterpretation": 1,
                            "MaxTemporalSize": options.max_days, "IncludePurelySpatial": "n"},
        "Cluster Restrictions": {"MinimumCasesInHighRateClusters": options.min_cases},
        "Inference": {"PValueReportType": 1, "MonteCarloReps": options.permutations,
                      "AdjustForEarlierAnalyses": "n", "ProspectiveStartDate": date(last_day)},
        "Spatial Output": {"CriteriaForReportingSecondaryClusters": 0},
        "System": {"Version": "9.6.0"},
    }
    lines = ["; odgeo's scan settings for SaTScan (docs/scan.md maps each one).",
             "; SaTScan draws its own permutations: its p-values match odgeo's to Monte Carlo error, not exactly."]
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{key}={value}" for key, value in values.items() if value is not None]
    return "\n".join(lines) + "\n"


def write_satscan_input(folder, cases: ScanCases, first_day: pd.Timestamp, options: ScanSettings) -> dict:
    """Write the .cas, .geo and .prm files for SaTScan into ``folder``.

    Parameters
    ----------
    folder
        The folder to write into (created; restricted: it holds every case's location and day).
    cases
        From :func:`~odgeo.scan.cases.scan_cases`.
    first_day
        The study window's first day.
    options
        The scan's settings, written as SaTScan's parameters.

    Returns
    -------
    dict
        What run.json says of the files.
    """
    out = Path(folder)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"`export_satscan` {folder}: cannot create the folder ({err.strerror})") from err
    ids = np.array(location_ids(len(cases.lon)))
    pairs, counts = np.unique(np.column_stack([cases.location, cases.day]), axis=0, return_counts=True)
    dates = [f"{calendar_day(first_day, int(d)):%Y/%m/%d}" for d in pairs[:, 1]]
    case_lines = [f"{ids[loc]} {n} {d}" for (loc, _), n, d in zip(pairs, counts, dates)]
    geo_lines = [f"{i} {lat:.7f} {lon:.7f}" for i, lat, lon in zip(ids, cases.lat, cases.lon)]
    texts = {"odgeo.cas": "\n".join(case_lines) + "\n", "odgeo.geo": "\n".join(geo_lines) + "\n",
             "odgeo.prm": satscan_parameters(first_day, options.window_days, options)}
    for name, text in texts.items():
        try:
            atomic_write_bytes(out / name, text.encode("ascii"))
        except OSError as err:  # the earlier export's file stays whole, no partial file beside it
            raise write_error(err, out / name, "`export_satscan`") from err
    return {"folder": str(out), "files": list(SATSCAN_FILES), "n_locations": len(ids), "restricted": True,
            "note": "odgeo measures circles as SaTScan does for lat/long input (chord distances on a "
                    "6,367 km sphere): the same locations in every circle"}
