"""Which engine reads the input, and the Dask cluster it runs on (``--engine``, ``--scheduler``, ``--workers``).

``memory`` reads in this process (the default); ``dask`` reads on a Dask cluster,
part by part (:mod:`odgeo.engine.dask_read`): a ``LocalCluster`` of worker processes on
127.0.0.1 unless a scheduler address is given; ``auto`` takes Dask when the input
is a folder or a glob, or when reading it in memory would need more than
:data:`AUTO_SHARE` of the memory free, and says so. Nothing listens beyond the
loopback unless a scheduler is given.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import ClusterError, OdgeoError, ParameterError
from ..incidents.source import InputSource
from ..incidents.tables import _MEMORY_PER_BYTE, available_memory
from ..vocabulary import ENGINES

__all__ = ["AUTO_SHARE", "ENGINES", "EngineChoice", "choose_engine", "dask_client", "parse_memory"]

log = logging.getLogger(__name__)

#: ``--engine auto`` reads on Dask when an in-memory read would need more than this share of the free memory.
AUTO_SHARE = 0.5


@dataclass(frozen=True)
class EngineChoice:
    """The engine a run uses, and why (for the run record)."""

    engine: str
    reason: str


def choose_engine(engine: str | None, source: InputSource | str | Path, *, free: int | None = None) -> EngineChoice:
    """The engine for ``source``: the one given, or (``auto``) Dask for folders, globs and files too big for memory.

    Parameters
    ----------
    engine
        "memory", "dask", "auto" or None (memory).
    source
        The input: a file, a folder, a glob or a database URL.
    free
        Free memory in bytes (None: measured).

    Returns
    -------
    EngineChoice
        The engine and why it was chosen.
    """
    engine = engine or "memory"
    if engine not in ENGINES:
        raise ParameterError(f"`engine` must be one of {', '.join(ENGINES)}, not {engine!r}")
    source = InputSource.of(source)
    if source.kind == "database":
        if engine == "dask":
            raise ParameterError("`engine` dask reads files; a database source is read by the database")
        return EngineChoice("memory", "given" if engine == "memory" else "auto: the database reads its rows")
    if engine == "memory" and source.kind == "parts":
        raise ParameterError(f"{source}: a folder or a glob of files is read with `engine` dask (or auto)")
    if engine != "auto":
        return EngineChoice(engine, "given")
    if source.kind == "parts":
        return EngineChoice("dask", "auto: the input is a folder or a glob of files")
    path = Path(source.location)
    if not path.is_file():
        return EngineChoice("memory", "auto: not a file Dask reads in parts")
    free = available_memory() if free is None else free
    need = path.stat().st_size * _MEMORY_PER_BYTE
    if free is not None and need > AUTO_SHARE * free:
        return EngineChoice("dask", f"auto: reading it here would need about {need / 1e9:.1f} GB, more than "
                                    f"{AUTO_SHARE:.0%} of the {free / 1e9:.1f} GB free")
    return EngineChoice("memory", f"auto: the file fits in memory ({need / 1e9:.2f} GB of "
                                  f"{(free or 0) / 1e9:.1f} GB free)")


def parse_memory(text: str | None) -> int | None:
    """``--worker-memory`` ("4GB", "512MiB", "2e9") in bytes; None: Dask's share of the machine."""
    if text is None:
        return None
    from dask.utils import parse_bytes

    try:
        value = int(parse_bytes(str(text)))
    except (ValueError, TypeError) as err:
        raise ParameterError(f"`worker_memory` must be an amount such as 4GB or 512MiB, not {text!r}") from err
    if value < 256 * 2**20:  # below what a worker holds once started, older Dask restarts it forever
        raise ParameterError(f"`worker_memory` must be at least 256 MiB, not {text!r}")
    return value


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None,
                worker_memory: str | None = None) -> Iterator[tuple[object, dict]]:
    """A ``distributed.Client``: of the scheduler at ``scheduler``, else of a new LocalCluster on 127.0.0.1.

    The local cluster has ``workers`` processes (default: one per core) of one thread
    each, each limited to ``worker_memory``.

    Parameters
    ----------
    scheduler
        The address of a running scheduler (None: start a local cluster).
    workers
        Local worker processes (None: one per core).
    worker_memory
        Each local worker's memory limit ("4GB"; None: Dask's default share).

    Returns
    -------
    contextlib.AbstractContextManager
        Yields the client and what the run record says of the cluster; closes them on exit.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:
        raise OdgeoError("`engine` dask needs Dask: pip install 'odgeo[dask]'") from err
    if workers is not None and workers < 1:
        raise ParameterError(f"`workers` must be at least 1, not {workers}")
    if scheduler is not None:
        if workers is not None or worker_memory is not None:
            raise ParameterError("`workers` and `worker_memory` start a local cluster; a `scheduler` has its own")
        with _connected(Client, scheduler) as client:
            yield client, {"scheduler": scheduler, "workers": len(client.scheduler_info().get("workers", {}))}
        return
    limit = parse_memory(worker_memory)
    # Every server on the loopback, their HTTP ones too: older Dask bound those to all interfaces.
    # A failed part reaches the user as odgeo's one line; the workers' own log of it
    # (a traceback excerpt at ERROR) is silenced, as are their other messages below CRITICAL.
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0", worker_dashboard_address="127.0.0.1:0",
                      memory_limit=limit if limit is not None else "auto",
                      silence_logs=logging.CRITICAL) as cluster, Client(cluster) as client:
        n = len(cluster.workers)
        yield client, {"scheduler": "local", "workers": n,
                       "worker_memory_bytes": limit if limit is not None else "auto"}


@contextlib.contextmanager
def _connected(client_type, address: str):
    try:
        client = client_type(address, timeout="10s")
    except (OSError, TimeoutError) as err:
        raise ClusterError(f"`scheduler` {address}: cannot reach a Dask scheduler there ({err}); "
                             "check the address and that the scheduler runs") from err
    try:
        yield client
    finally:
        client.close()
