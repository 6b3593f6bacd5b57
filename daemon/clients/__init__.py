"""Clients for the two remote systems, plus their shared HTTP behaviour.

This package is the edge: it maps each API's JSON to ``daemon.core.model`` dataclasses and every
HTTP failure to a ``daemon.errors.RemoteError`` subclass. Nothing outside it sees httpx.
"""

from daemon.clients.fields import BrokenItem
from daemon.clients.http import RetryPolicy
from daemon.clients.ordre import BATCH_MAX, ListingWritten, OrdreClient
from daemon.clients.zedonk import ZedonkClient

__all__ = [
    "BATCH_MAX",
    "BrokenItem",
    "ListingWritten",
    "OrdreClient",
    "RetryPolicy",
    "ZedonkClient",
]
