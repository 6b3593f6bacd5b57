"""The read cache as a file (``daemon.store.readcache``): a real SQLite file in a temporary
folder. Damage found halfway through a pass, a pipe where the file goes, and items asked for
as of a point the cache no longer holds never fail a pass: what the cache cannot give is read
whole."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

import pytest

from daemon.store.readcache import CACHE_FILE, ReadCache

ORIGINS = {"zedonk": "http://127.0.0.1:1/api/v1", "ordre": "http://127.0.0.1:2/api/v1"}
PAGE = 4096  # SQLite's default page size


def kept(folder: Path, token: str = "t1", count: int = 300) -> None:
    """A cache holding ``count`` products of about 500 bytes each, as of ``token``."""
    items = {f"P{i:04d}": json.dumps({"id": f"P{i:04d}", "text": "x" * 500}) for i in range(count)}
    with ReadCache(folder, ORIGINS) as cache:
        cache.replace("zedonk", "products", token, items)
        cache.mark_full_read(1.0)


def test_a_cache_damaged_inside_starts_over_when_the_damage_is_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kept(tmp_path)
    path = tmp_path / CACHE_FILE
    assert path.stat().st_size > 20 * PAGE
    with path.open("r+b") as file:  # the items' pages; the header and the first tables intact
        file.seek(10 * PAGE)
        file.write(b"\xff" * 5 * PAGE)
    with caplog.at_level(logging.WARNING), ReadCache(tmp_path, ORIGINS) as cache:
        assert "discarding" not in caplog.text  # opening reads only the first pages
        assert cache.token("zedonk", "products") == "t1"
        assert cache.items("zedonk", "products", "t1") is None  # the damage is read here
        assert "it is damaged (database disk image is malformed)" in caplog.text
        # It starts over, empty, and keeps what it is given again.
        assert cache.token("zedonk", "products") is None
        assert cache.full_read_at() is None
        cache.replace("zedonk", "products", "t2", {"P0001": '{"id": "P0001"}'})
    with ReadCache(tmp_path, ORIGINS) as cache:
        assert cache.items("zedonk", "products", "t2") == {"P0001": {"id": "P0001"}}


def test_items_are_given_only_as_of_the_point_their_changes_were_asked_from(
    tmp_path: Path,
) -> None:
    """Another pass sharing the folder moved the list on, or forgot it: the changes asked for
    since the old point cannot be laid on what the cache holds now."""
    kept(tmp_path, token="t1", count=3)
    with ReadCache(tmp_path, ORIGINS) as cache:
        assert cache.items("zedonk", "products", "t0") is None
        assert cache.items("ordre", "listings", "t1") is None  # never kept
        found = cache.items("zedonk", "products", "t1")
        assert found is not None and sorted(found) == ["P0000", "P0001", "P0002"]
        cache.forget("zedonk", "products")
        assert cache.items("zedonk", "products", "t1") is None


def test_a_pipe_where_the_cache_file_goes_is_refused_rather_than_waited_on(
    tmp_path: Path,
) -> None:
    os.mkfifo(tmp_path / CACHE_FILE)
    failed: list[Exception] = []

    def open_it() -> None:
        try:
            ReadCache(tmp_path, ORIGINS).close()
        except Exception as exc:  # what it raised is the result
            failed.append(exc)

    opening = threading.Thread(target=open_it, daemon=True)
    opening.start()
    opening.join(timeout=10)
    assert not opening.is_alive(), "opening a pipe as the cache waits for a writer"
    assert len(failed) == 1 and isinstance(failed[0], OSError)
    assert "is not a file" in str(failed[0])
