"""What a command is doing, on stderr, when a step takes long enough to wonder.

- ``-v``: every step as a line, when it starts.
- by default, on a terminal: a step still running after :data:`DELAY_S` shows as one line
  that counts its seconds and is wiped when the step ends;
- by default, into a file or a pipe (cron): a step still running after :data:`DELAY_S`
  is written once as a line, so a log shows where a slow run spent its time;
- ``-q``: nothing.

A step that is known to be slow (its compiled code is built on a first run) is shown at once.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

import click

from odgeo.engine.compiled import COMPILING_NOTE

__all__ = ["DELAY_S", "ClearsProgress", "Progress", "stderr_is_terminal"]

#: Seconds a step runs before it is shown (quick steps stay silent).
DELAY_S = 2.0


class Progress:
    """Called with a few words before each step (``progress(step)``); :meth:`close` when the command ends."""

    def __init__(self, *, every_step: bool, live: bool):
        self.every_step = every_step
        self.live = live
        self._lock = threading.Lock()
        self._step = ""
        self._started = 0.0
        self._shown = False
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None

    def __call__(self, step: str) -> None:
        """A new step begins (the one before ends)."""
        self.close()
        with self._lock:
            self._step, self._started, self._shown = step, time.monotonic(), False
        if self.every_step or COMPILING_NOTE in step:
            self._show()
        if not self.every_step:
            self._stop = threading.Event()
            self._timer = threading.Thread(target=self._watch, args=(self._stop,), daemon=True)
            self._timer.start()

    def _watch(self, stop: threading.Event) -> None:
        if stop.wait(DELAY_S):
            return
        self._show()
        while self.live and not stop.wait(1.0):
            self._show()

    def _show(self) -> None:
        with self._lock:
            if not self._step:
                return
            if self.live and not self.every_step:
                seconds = time.monotonic() - self._started
                _write_live(f"\r\033[Kodgeo: {self._step}... {seconds:.0f} s")
            elif not self._shown:
                click.echo(f"odgeo: {self._step}...", err=True)
            self._shown = True

    def clear_line(self) -> None:
        """Wipe a live line, so that a warning printed now starts at the left margin."""
        with self._lock:
            if self.live and self._shown and not self.every_step:
                _write_live("\r\033[K")
                self._shown = False

    def close(self) -> None:
        """End the current step: stop its timer and wipe its live line."""
        self._stop.set()
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.join()
        self._timer = None
        self.clear_line()
        with self._lock:
            self._step = ""


class ClearsProgress(logging.Filter):
    """A filter for the stderr log handler: a live progress line is wiped before a message is printed."""

    def __init__(self) -> None:
        super().__init__()
        self.progress: Progress | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        """Let every message through, after wiping the live line."""
        if self.progress is not None:
            self.progress.clear_line()
        return True


def _write_live(text: str) -> None:
    """Terminal control as it is (click.echo would strip it where it takes stderr for no terminal)."""
    sys.stderr.write(text)
    sys.stderr.flush()


def stderr_is_terminal() -> bool:
    """Whether a person watches stderr (a live line), or a file or a pipe takes it (plain lines)."""
    return sys.stderr.isatty()
