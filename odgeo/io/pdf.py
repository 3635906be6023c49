"""HTML pages to PDF through a headless Chromium, the browser a health department's machines already have.

WeasyPrint would add Pango and its fonts to every install and lays out pages its own way;
Chromium prints exactly what the analyst sees on screen, and the tests already drive it.
Without one the PDF is not made and the run says so (the HTML prints from any browser).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import OutputError

__all__ = ["CHROMIUM_NAMES", "find_chromium", "pdf_text", "print_pdf"]

#: Program names of a Chromium or Chrome, tried in order after ``ODGEO_CHROMIUM``.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
_TIMEOUT_S = 180


def find_chromium() -> str | None:
    """The Chromium to print with: ``ODGEO_CHROMIUM`` if set, else the first of :data:`CHROMIUM_NAMES` on PATH."""
    given = os.environ.get("ODGEO_CHROMIUM")
    if given:
        return given
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def print_pdf(page: Path, pdf: Path, *, chromium: str) -> None:
    """Print the HTML file ``page`` to ``pdf`` with headless Chromium (no header or footer, the page's own size).

    Raises
    ------
    OutputError
        When Chromium fails or writes nothing, with the first line it printed.
    """
    with tempfile.TemporaryDirectory() as profile:  # a profile of its own: a running browser's is locked
        command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                   "--disable-background-networking", "--disable-component-update", "--no-first-run",
                   f"--user-data-dir={profile}", f"--print-to-pdf={pdf}", page.resolve().as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise OutputError(f"{pdf.name}: {chromium} could not print the report ({err}); open report.html in a "
                              "browser and print it, or set ODGEO_CHROMIUM to another Chromium") from err
    if done.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
        said = next((line for line in done.stderr.splitlines() if "ERROR" not in line or "pdf" in line.lower()),
                    done.stderr.strip()[:200])
        raise OutputError(f"{pdf.name}: {chromium} did not print the report (exit {done.returncode}: {said}); "
                          "open report.html in a browser and print it, or set ODGEO_CHROMIUM to another Chromium")


def pdf_text(path: Path) -> str:
    """A PDF's words, by poppler's pdftotext (a PDF's text is compressed; odgeo report's is printed from its HTML).

    Raises
    ------
    OSError
        Without pdftotext (poppler-utils), so a PDF is never passed unread.
    ValueError
        When pdftotext cannot read the file.
    """
    program = shutil.which("pdftotext")
    if program is None:
        raise OSError(f"cannot read {path.name}'s text without pdftotext: install poppler-utils")
    done = subprocess.run([program, "-layout", str(path), "-"], capture_output=True, text=True, timeout=_TIMEOUT_S)
    if done.returncode != 0:
        raise ValueError(f"pdftotext: {done.stderr.strip()[:200]}")
    return done.stdout
