"""The output folder of a run: checked before any work, locked, written aside and swapped in whole.

A run writes into a temporary folder beside ``--out`` and renames it into place
only when every product is written, so a kill, a full disk or a failed step never
leaves a folder that mixes products of two runs, or a ``run.json`` describing
files that are not there. ``--overwrite`` replaces the folder as a whole (files of
an earlier run that this run does not write, such as ``areas.geojson``, go too).
A lock file beside the folder keeps two runs from writing it at once.

A run is one unit across its stores: the output folder, the state files it staged
(a ledger, an alert history) and a database copy. Everything is written aside
first; a journal beside ``--out`` then lists what goes where; the database copy is
committed; the files are renamed into place; the journal is removed. A run killed
after the journal was written is finished by the next run into the same folder
(rolled forward when the database holds the run or there is no database, rolled
back when it does not), so the stores never disagree for longer than that.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import OdgeoError, OutputError, OutputExistsError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from .postgis import PostgisDestination

__all__ = ["FileLock", "OutputFolder", "atomic_write_bytes", "write_error"]

log = logging.getLogger(__name__)

_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


class OutputFolder:
    """``--out`` for one run: ``path(name)`` is where to write, :meth:`commit` puts it in place.

    Use as a context manager: an exception inside it removes the temporary folder,
    leaves ``--out`` as it was, and turns a write that fails for want of space or
    permission into one :class:`~odgeo.errors.OutputError` naming the folder.
    """

    def __init__(self, out_dir: str | Path, *, overwrite: bool = False):
        self.final = Path(out_dir)
        self.overwrite = overwrite
        #: Where the products are also copied once written (a PostGIS schema, :mod:`odgeo.io.postgis`), or None.
        self.destination: PostgisDestination | None = None
        #: The files to copy into the destination at commit, and the command that wrote them.
        self.to_publish: tuple[list[Path], str] | None = None
        self._staged: list[tuple[Path, Path]] = []
        self._journaled = False  # past the journal: what is written belongs to the next run's recovery
        self._check_final()
        parent = self.final.absolute().parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise OutputError(f"cannot create the folder for `out_dir` {self.final}: {err.strerror or err}") from err
        self._lock = FileLock(self.final, "`out_dir`").take()
        self.journal = parent / f".{self.final.name}.odgeo-journal"
        try:
            finish_interrupted_run(self.journal)
        except BaseException:
            self._release()
            raise
        self._remove_leftovers(parent)
        self.tmp = parent / f".{self.final.name}.odgeo-tmp-{uuid.uuid4().hex[:12]}"
        try:
            self.tmp.mkdir()
        except OSError as err:
            self._release()
            raise OutputError(f"cannot write into {parent} for `out_dir` {self.final}: {err.strerror or err}") from err
        self.committed = False

    def _check_final(self) -> None:
        out = self.final
        if out.exists() and not out.is_dir():
            raise OutputExistsError(f"{out} is a file; give a folder for `out_dir`")
        for parent in out.absolute().parents:
            if parent.exists():
                if not parent.is_dir():
                    raise OutputError(f"cannot create `out_dir` {out}: {parent} is a file, not a folder")
                break
        if out.exists() and any(out.iterdir()) and not self.overwrite:
            raise OutputExistsError(f"{out} is not empty; choose another folder or add `overwrite`")

    def _remove_leftovers(self, parent: Path) -> None:
        """Folders a killed run left beside --out (only runs holding the lock write them).

        A run killed between the two renames of :meth:`commit` left ``--out`` moved
        aside: it is put back first.
        """
        moved = sorted(parent.glob(f".{self.final.name}.odgeo-old-*"))
        if moved and not self.final.exists():
            moved[0].rename(self.final)
        for pattern in (f".{self.final.name}.odgeo-tmp-*", f".{self.final.name}.odgeo-old-*"):
            for leftover in parent.glob(pattern):
                shutil.rmtree(leftover, ignore_errors=True)

    def _release(self) -> None:
        self._lock.release()

    def path(self, name: str) -> Path:
        """Where to write product ``name`` during the run."""
        return self.tmp / name

    def final_path(self, written: Path) -> Path:
        """Where a file written at ``path(name)`` is after :meth:`commit`."""
        return self.final / Path(written).name

    def stage(self, target: Path, write: Callable[[Path], None]) -> None:
        """Write a state file's next content beside it (``write(path)``), put in place with the products.

        The caller holds ``target``'s :class:`FileLock`; staged files a killed run left are removed first.
        """
        target = Path(target).absolute()
        for leftover in target.parent.glob(f".{target.name}.odgeo-staged-*"):
            leftover.unlink(missing_ok=True)
        staged = target.with_name(f".{target.name}.odgeo-staged-{uuid.uuid4().hex[:12]}")
        try:
            write(staged)
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
        self._staged.append((staged, target))

    def commit(self) -> None:
        """Put everything in place: the journal, the database copy, the staged files, the folder."""
        database = self.destination.as_journal() if self.destination is not None else None
        plan = {"format": JOURNAL_FORMAT, "folder": [str(self.tmp.absolute()), str(self.final.absolute())],
                "files": [[str(s), str(t)] for s, t in self._staged], "database": database}
        atomic_write_bytes(self.journal, json.dumps(plan).encode())
        if self.destination is not None and self.to_publish is not None:
            try:
                self.destination.publish(*self.to_publish)
            except BaseException:
                self.journal.unlink(missing_ok=True)  # the database holds nothing of this run: roll back
                raise
        self._journaled = True
        _roll_forward(plan)
        self.committed = True
        self.journal.unlink(missing_ok=True)
        self._release()

    def abort(self) -> None:
        """Remove what was written and staged, and release the lock; every store stays as it was.

        Past the journal (the database holds the run, a rename failed) nothing is removed:
        the next run into ``--out`` puts the rest in place (:func:`finish_interrupted_run`).
        """
        if self._journaled:
            log.warning(f"{self.final}: the run stopped while putting its files in place; the next run into it "
                        "finishes that first")
            self._release()
            return
        shutil.rmtree(self.tmp, ignore_errors=True)
        for staged, _ in self._staged:
            staged.unlink(missing_ok=True)
        self._release()

    def __enter__(self) -> OutputFolder:
        return self

    def __exit__(self, kind, err, tb) -> None:
        if err is None and not self.committed:
            try:
                self.commit()
            except BaseException as failure:  # cleaned up (or left for recovery), then raised as below
                self._stopped(failure)
                raise
        elif err is not None:
            self._stopped(err)

    def _stopped(self, err: BaseException) -> None:
        """After a failure: abort, and a write that failed for want of space or permission is one line."""
        self.abort()
        if isinstance(err, OSError) and not isinstance(err, OutputError) and err.errno is not None:
            raise _write_error(err, self.tmp, self.final) from err


#: What a commit journal says it is.
JOURNAL_FORMAT = "odgeo-commit-journal-1"


def finish_interrupted_run(journal: Path) -> None:
    """Finish a run that was killed while committing (its journal is still there), before anything else.

    Rolled forward when it has no database copy or the database holds the run (its
    transaction committed), else rolled back: either way every store then agrees.
    """
    if not journal.exists():
        return
    try:
        plan = json.loads(journal.read_text(encoding="utf-8"))
        valid = isinstance(plan, dict) and plan.get("format") == JOURNAL_FORMAT
    except (OSError, ValueError):
        valid = False
    if not valid:
        raise OutputError(f"{journal} is damaged: the last run into its folder was interrupted while "
                          "committing; check the folder, its `history`, `ledger` and database, then delete it")
    done = True
    if plan.get("database"):
        from .postgis import PostgisDestination

        try:
            done = PostgisDestination(**plan["database"]).holds_run()
        except OdgeoError as err:
            raise OutputError(f"the last run into {plan['folder'][1]} was interrupted while committing and its "
                              f"database cannot tell whether it completed ({err}); run again once it can be "
                              "reached") from err
    if done:
        _roll_forward(plan)
    else:
        shutil.rmtree(plan["folder"][0], ignore_errors=True)
        for staged, _ in plan["files"]:
            Path(staged).unlink(missing_ok=True)
    journal.unlink()
    log.warning(f"the last run into {plan['folder'][1]} was interrupted while committing; its products and state "
                f"files were {'put in place' if done else 'discarded (its database copy had not committed)'}")


def _roll_forward(plan: dict) -> None:
    """Rename the staged state files over their targets, then swap the folder in (each step idempotent)."""
    for staged, target in plan["files"]:
        if Path(staged).exists():
            os.replace(staged, target)
    tmp, final = Path(plan["folder"][0]), Path(plan["folder"][1])
    if not tmp.exists():
        return  # swapped in before the interruption
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.odgeo-old-{uuid.uuid4().hex[:12]}")
        final.rename(old)
    tmp.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


class FileLock:
    """The lock file ``.NAME.odgeo-lock`` beside ``target``: one odgeo run at a time writes ``target``.

    A run takes it before any work and keeps it to the end, so two runs sharing an
    output folder, a ledger or a history never interleave their read and write (the
    second is refused in one line naming the holder). The lock is the operating
    system's (``flock``): it ends with its process, so a killed run's lock file is
    simply taken. The file says who holds it. Where ``flock`` is missing (Windows) the
    file's existence is the lock and a file whose pid no longer runs is taken over.
    """

    def __init__(self, target: str | Path, option: str):
        self.target = Path(target)
        self.option = option
        self.path = self.target.absolute().parent / f".{self.target.name}.odgeo-lock"
        self._fd: int | None = None

    def take(self) -> FileLock:
        """Hold the lock (an :class:`~odgeo.errors.OutputError` naming the holder when another run has it)."""
        me = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                         "started": time.strftime("%Y-%m-%d %H:%M:%S")}).encode()
        for _ in range(5):
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)  # a first run's state folder, as for `out_dir`
                fd = self._acquire()
            except OutputError:
                raise
            except OSError as err:
                raise OutputError(f"cannot write into {self.path.parent} for {self.option} {self.target}: "
                                  f"{err.strerror or err}") from err
            if fd is None:
                continue
            self._fd = fd
            try:
                os.ftruncate(fd, 0)
                os.write(fd, me)
            except OSError as err:  # a full disk: the holder's name does not fit
                self.release()
                raise write_error(err, self.target, self.option, self.path.name) from err
            return self
        raise OutputError(f"cannot take the lock {self.path} for {self.option} {self.target}; try again")

    def _acquire(self) -> int | None:
        """The locked file's descriptor, None to try again (the file was replaced meanwhile)."""
        if fcntl is None:
            return self._acquire_by_existence()
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise self._held_error(self._holder()) from None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(self.path))
        except FileNotFoundError:
            same = False  # its holder released it (and removed it) between our open and our lock
        if not same:
            os.close(fd)
            return None
        return fd

    def _acquire_by_existence(self) -> int | None:
        try:
            return os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
        except FileExistsError:
            holder = _read_lock(self.path)
            if holder is None or _alive(holder):
                raise self._held_error(holder) from None
            self.path.unlink(missing_ok=True)  # a run that was killed left it
            return None

    def _holder(self) -> dict | None:
        """Who holds the lock, as its file says (it writes that just after locking: wait a moment for it)."""
        for _ in range(20):
            holder = _read_lock(self.path)
            if holder:
                return holder
            time.sleep(0.025)
        return None

    def _held_error(self, holder: dict | None) -> OutputError:
        who = (f" (pid {holder.get('pid')} on {holder.get('host')}, since {holder.get('started')})"
               if holder else "")
        return OutputError(f"{self.option} {self.target} is being written by another odgeo run{who}; wait for it "
                           f"to finish, or delete {self.path} if that run is gone")

    def release(self) -> None:
        """Let the next run in (the file goes first, so a run arriving now makes a new one)."""
        if self._fd is None:
            return
        if fcntl is None:
            os.close(self._fd)
        self.path.unlink(missing_ok=True)
        if fcntl is not None:
            os.close(self._fd)  # closing ends the flock
        self._fd = None

    def __enter__(self) -> FileLock:
        return self.take()

    def __exit__(self, *exc) -> None:
        self.release()


def _write_error(err: OSError, tmp: Path, final: Path) -> OutputError:
    name = Path(err.filename).name if err.filename else "a product"
    return write_error(err, final, "`out_dir`", name)


def write_error(err: OSError, target: Path, option: str, name: str | None = None) -> OutputError:
    """One line for a write that failed: a full disk named by the folder it holds, else the OS's reason.

    ``target`` is the file or folder the run was replacing (it is as it was: every write
    goes through a temporary file or folder), ``option`` the setting that named it.
    """
    name = name or Path(target).name
    if err.errno in _FULL:
        return OutputError(f"the disk holding {Path(target).absolute().parent} is full (no space left while "
                           f"writing {name}); free some space and run again; {target} is as it was")
    return OutputError(f"cannot write {name} for {option} {target}: {err.strerror or err}; {target} is as it was")


def _read_lock(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _alive(holder: dict) -> bool:
    """Whether the run holding a lock still runs (a lock from another host is taken as alive)."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, KeyError, ValueError, TypeError):
        return True
    return True


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a uniquely named temporary file renamed into place.

    Parameters
    ----------
    path
        The file to write; readers see the old file or the new one, never a part.
    data
        Its new content.

    Returns
    -------
    None
    """
    with atomic_file(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto it when the block completes, removed otherwise.

    Parameters
    ----------
    path
        The file to write; readers see the old file or the new one, never a part.

    Returns
    -------
    contextlib.AbstractContextManager
        Yields the temporary path to write (it keeps ``path``'s suffix, which writers read).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:12]}.tmp{path.suffix}")
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def check_writable_file(target: Path, option: str) -> None:
    """Refuse, before any work, an output file whose folder cannot take it (read-only, /proc, a file).

    Missing folders are created, as for ``out_dir``; a probe file is written and removed.

    Parameters
    ----------
    target
        The output file.
    option
        The setting that named it, in backticks.

    Raises
    ------
    OutputError
        In one line naming the folder and the system's reason.
    """
    folder = Path(target).absolute().parent
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        raise OutputError(f"cannot write {option} {target}: {existing} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".{Path(target).name}.{uuid.uuid4().hex[:12]}.probe"
        probe.open("xb").close()
        probe.unlink()
    except OSError as err:
        if err.errno in _FULL:
            raise write_error(err, Path(target), option) from err
        raise OutputError(f"cannot write {option} {target}: the folder {folder} does not take new files "
                          f"({err.strerror or err}); choose another place") from err
