"""Which gate a run opens: the audience, its smallest published count and its ledger, checked and recorded.

The one place that asks which audience a run works for; everything after it asks the gate.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .. import defaults
from ..errors import ParameterError
from ..runrecord import RunRecord
from ..vocabulary import AUDIENCES
from .gate import Gate
from .geomask import DonutMask
from .ledger import Ledger
from .privacy import DEFAULT_MIN_COUNT, MIN_COUNT_SOURCE, check_min_count
from .restricted import gate_for

__all__ = ["DEFAULT_AUDIENCE", "check_audience_options", "open_gate", "pick_audience"]

log = logging.getLogger(__name__)

PUBLIC, RESTRICTED = AUDIENCES
#: The audience of a run that names none: public products are what is shared by default.
DEFAULT_AUDIENCE = defaults.AUDIENCE.value


def pick_audience(record: RunRecord, given: str | None) -> str:
    """The audience given, or "public" (recorded in the run record).

    Parameters
    ----------
    record
        The run record.
    given
        The audience asked for (None: the default, "public").

    Returns
    -------
    str
        "public" or "restricted".

    Raises
    ------
    ParameterError
        For another word.
    """
    audience = record.pick("audience", given, defaults.AUDIENCE)
    if audience not in AUDIENCES:
        raise ParameterError(f"`audience` must be one of {', '.join(AUDIENCES)}, not {audience!r}")
    return audience


def check_audience_options(audience: str | None, *, min_count=None, mask_points=None,
                           writes_points: str | None = None) -> None:
    """Refuse option mixes that cannot mean anything for ``audience`` (None: the default), before any work.

    Parameters
    ----------
    audience
        "public", "restricted" or None (public).
    min_count
        The smallest count published, when given (checked: a whole number of at least 1).
    mask_points
        The restricted map's point displacement, when given (public products carry no points).
    writes_points
        What a product that carries every incident's location is, when one is asked for
        (refused for the public).
    """
    public = (audience or DEFAULT_AUDIENCE) == PUBLIC
    if public and mask_points:
        raise ParameterError("`mask_points` applies to `audience` restricted: "
                             "public products carry no points to displace")
    if public and writes_points:
        raise ParameterError(f"{writes_points}: give `audience` restricted")
    if min_count is not None:
        check_min_count(min_count)


def open_gate(record: RunRecord, audience: str, *, min_count: int | None = None, ledger: str | None = None,
              ledger_settings: dict | None = None, mask: DonutMask | None = None,
              k_anonymity: np.ndarray | None = None, daily: bool = False) -> Gate:
    """The publishing gate for ``audience``, with its smallest count and its ledger resolved and recorded.

    Parameters
    ----------
    record
        The run record (``min_count`` and ``ledger`` are recorded in it).
    audience
        "public" or "restricted" (from :func:`pick_audience`).
    min_count
        The smallest count a public product shows (None: the default, 10).
    ledger
        The release ledger's path, for a public series (None: a single release).
    ledger_settings
        The settings every release sharing a ledger must keep (None: this command takes no ledger).
    mask, k_anonymity
        The restricted map's displaced points and their k-anonymity.
    daily
        True for a command run every morning (``alerts``, ``scan``): its public products carry
        no incident totals (:meth:`odgeo.publish.gate.Gate.daily_series`).

    Returns
    -------
    Gate
        A ``RestrictedGate`` or a ``PublicGate``.
    """
    if audience == RESTRICTED:
        if min_count is not None:
            log.info("`min_count` applies to the public audience; restricted products keep exact counts")
        if ledger:
            raise ParameterError("`ledger` applies to `audience` public: restricted products are not released")
        return gate_for(RESTRICTED, mask=mask, k_anonymity=k_anonymity)  # exact: a daily series too
    if min_count is None:
        limit = record.param("min_count", DEFAULT_MIN_COUNT, "default", MIN_COUNT_SOURCE)
    else:
        limit = record.param("min_count", check_min_count(min_count), "given")
    opened = None
    if ledger:
        if ledger_settings is None:
            raise ParameterError(f"`ledger` applies to odgeo hotspots; {record.command} releases are not "
                                 "held back yet: publish them once, or use `audience` restricted")
        opened = Ledger.open(ledger, min_count=limit, settings=ledger_settings)
        record.param("ledger", Path(ledger).name, "given",
                     f"release {len(opened.releases) + 1}; earlier areas kept, changes under {limit} held back")
    elif not daily and ledger_settings is not None and ledger_settings.get("command") == record.command:
        log.warning("public release without `ledger`: it is safe alone, but two releases of the same data "
                    "(a week apart, or with one record removed) can be differenced to find single incidents; "
                    "give `ledger` FILE to every release of a series")
    elif not daily:
        log.warning(f"public release: it is safe alone, but two releases of the same data (a week apart, or with "
                    f"one record removed) can be differenced to find single incidents, and {record.command} keeps "
                    "no ledger yet; publish one release of a period, or use `audience` restricted for a series")
    gate = gate_for(PUBLIC, min_count=limit, ledger=opened)
    if daily:
        gate.daily_series()
    return gate
