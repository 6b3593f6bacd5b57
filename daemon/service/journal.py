"""The daemon's log lines: journald-friendly under systemd, timestamped when run by hand.

Under systemd (``JOURNAL_STREAM`` or ``INVOCATION_ID`` set) each line carries an sd-daemon(3)
``<N>`` priority prefix and no timestamp, since journald adds its own; by hand each line
starts with the time. The child processes that run the passes set up their logging here too.
"""

from __future__ import annotations

import logging
import os
import sys

from daemon import redact

# sd-daemon(3) priority prefixes: journald reads them as the message's level.
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3}


class JournalFormatter(logging.Formatter):
    """No timestamp (journald adds its own), a ``<N>`` priority prefix, the level in words."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{_PRIORITY.get(record.levelno, 2)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


def setup_logging(*, debug: bool) -> None:
    """Journald-friendly logs under systemd; timestamped ones when run by hand."""
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID"):
        handler.setFormatter(JournalFormatter("%(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%d %H:%M:%S"
            )
        )
    level = logging.DEBUG if debug else logging.INFO
    logging.basicConfig(level=level, handlers=[handler], force=True)
    redact.secure_logging()  # no secret in any record; httpx's and watchdog's chatter quiet
