"""Sending summary.html by e-mail (``odgeo alerts --notify smtp://HOST:PORT --to ADDRESS``).

Nothing leaves the machine unless --notify is given: then the page (the public
or restricted summary, as the run made it) goes to that SMTP server only.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import OutputError, ParameterError

__all__ = ["send_summary", "smtp_address"]


def smtp_address(url: str) -> tuple[str, int]:
    """(host, port) of smtp://HOST[:PORT]; a ParameterError for anything else."""
    parts = urlsplit(url)
    try:
        port = parts.port or 25
    except ValueError:
        port = 0
    if parts.scheme != "smtp" or not parts.hostname or not port:
        raise ParameterError(f"--notify {url!r} is not smtp://HOST:PORT (for example smtp://mail.example.org:25)")
    return parts.hostname, port


def send_summary(url: str, recipients: list[str], page: Path, *, subject: str, sender: str) -> None:
    """Send ``page`` as an HTML e-mail (with a plain-text pointer) to ``recipients``.

    Parameters
    ----------
    url
        The SMTP server, ``smtp://host[:port]``.
    recipients
        E-mail addresses.
    page
        summary.html, sent as the message body.
    subject, sender
        The message's subject line and From address.

    Returns
    -------
    None

    Raises
    ------
    OutputError
        If the server cannot be reached or refuses the message (the products stay written).
    """
    host, port = smtp_address(url)
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = subject, sender, ", ".join(recipients)
    message.set_content(f"{subject}. Open the HTML part (or {page.name}) to read the alerts.")
    message.add_alternative(page.read_text(encoding="utf-8"), subtype="html")
    try:
        with smtplib.SMTP(host, port, timeout=30) as server:
            server.send_message(message)
    except (OSError, smtplib.SMTPException) as err:
        raise OutputError(f"--notify {url}: could not send the summary ({err}); the products are written in "
                          f"{page.parent}") from err
